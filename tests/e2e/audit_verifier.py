#!/usr/bin/python3
"""An independent verifier of a tellonce audit log, sharing no code with the
gateway: C2SP tlog-tiles read from a directory or an HTTP base URL, a C2SP
signed-note checkpoint checked with Ed25519, RFC 6962 hashes and proofs.

    audit_verifier.py SOURCE VKEY [--proofs N]

SOURCE is an audit directory or a URL such as http://127.0.0.1:8080/audit.
Prints "ok SIZE ROOT" and exits 0, or prints the problem and exits 1.
Standard library and python3-cryptography only.
"""
import base64
import hashlib
import hmac
import os
import struct
import sys
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EM_DASH = "\u2014 "


class VerifyError(Exception):
    pass


def leaf_hash(entry):
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def commitment(view_key, what, nonce, value=b""):
    """An entry's commitment (contract §5): base64(HMAC-SHA256(V,
    "tellonce/<what>\\n" || nonce || value)), what in subject, consent,
    payload."""
    mac = hmac.new(view_key, b"tellonce/" + what.encode() + b"\n" + nonce + value,
                   hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def tile_path(level, index, width=0):
    """tile/<L>/<N>[.p/<W>], N as x001/x234/067; level "entries" too."""
    groups = []
    while True:
        groups.append("%03d" % (index % 1000))
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    n = "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])
    path = "tile/%s/%s" % (level, n)
    return path + (".p/%d" % width if width else "")


def get_tile(src, level, index, width):
    """A tile or bundle (width 0: full). A log may drop a partial tile once
    the full one exists (tlog-tiles): returns the data and whether it is
    that full tile, of which only the first `width` items count."""
    try:
        return src.get(tile_path(level, index, width)), False
    except VerifyError as missing:
        if not width:
            raise
        try:
            return src.get(tile_path(level, index)), True
        except VerifyError:
            raise missing


class Source:
    """Reads log files from a directory or over HTTP."""

    def __init__(self, where):
        self.where = where.rstrip("/")
        self.http = where.startswith("http://") or where.startswith("https://")

    def get(self, path):
        if self.http:
            try:
                with urllib.request.urlopen(self.where + "/" + path, timeout=30) as r:
                    return r.read()
            except urllib.error.HTTPError as e:
                raise VerifyError("%s: HTTP %d" % (path, e.code))
        try:
            with open(os.path.join(self.where, path), "rb") as f:
                return f.read()
        except OSError as e:
            raise VerifyError("%s: %s" % (path, e.strerror))


def parse_vkey(vkey):
    name, keyhash, key = vkey.split("+", 2)
    raw = base64.b64decode(key, validate=True)
    if len(raw) != 33 or raw[0] != 0x01:
        raise VerifyError("not an Ed25519 verifier key")
    want = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if want.hex() != keyhash:
        raise VerifyError("verifier key hash mismatch")
    return name, want, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_note(note, vkey):
    """Returns the note's text once a signature by vkey verifies."""
    name, keyhash, pub = parse_vkey(vkey)
    text, sep, sigs = note.partition("\n\n")
    if not sep or not note.endswith("\n"):
        raise VerifyError("checkpoint: not a signed note")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith(EM_DASH):
            raise VerifyError("checkpoint: bad signature line")
        who, _, b64 = line[len(EM_DASH):].rpartition(" ")
        blob = base64.b64decode(b64, validate=True)
        if who != name or blob[:4] != keyhash:
            continue
        try:
            pub.verify(blob[4:], text.encode())
            return text
        except InvalidSignature:
            raise VerifyError("checkpoint: bad signature by " + name)
    raise VerifyError("checkpoint: no signature by " + name)


def parse_checkpoint(text):
    lines = text.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise VerifyError("checkpoint: bad body")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise VerifyError("checkpoint: bad root")
    return lines[0], int(lines[1]), root


def read_entries(src, size):
    entries = []
    for n in range((size + 255) // 256):
        width = 256 if (n + 1) * 256 <= size else size % 256
        path = tile_path("entries", n, 0 if width == 256 else width)
        data, prefix = get_tile(src, "entries", n, 0 if width == 256 else width)
        off = 0
        for i in range(width):
            if off + 2 > len(data):
                raise VerifyError("entry %d: missing from %s" % (n * 256 + i, path))
            (length,) = struct.unpack(">H", data[off:off + 2])
            if off + 2 + length > len(data):
                raise VerifyError("entry %d: cut short in %s" % (n * 256 + i, path))
            entries.append(data[off + 2:off + 2 + length])
            off += 2 + length
        if off != len(data) and not prefix:
            raise VerifyError("%s: bytes after entry %d" % (path, n * 256 + width - 1))
    return entries


class Tree:
    """Every complete node, level by level: levels[h][i] covers the leaves
    [i * 2**h, (i + 1) * 2**h)."""

    def __init__(self, leaves):
        self.size = len(leaves)
        self.levels = [leaves]
        while len(self.levels[-1]) > 1:
            lower = self.levels[-1]
            self.levels.append([node_hash(lower[i], lower[i + 1])
                                for i in range(0, len(lower) - 1, 2)])

    def mth(self, lo, hi):
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            return self.levels[n.bit_length() - 1][lo // n]
        k = 1 << ((n - 1).bit_length() - 1)
        return node_hash(self.mth(lo, lo + k), self.mth(lo + k, hi))

    def root(self, size=None):
        size = self.size if size is None else size
        if size == 0:
            return hashlib.sha256(b"").digest()
        return self.mth(0, size)

    def inclusion(self, index, size, lo=0):
        """RFC 6962 PATH(m, D[lo:lo+size]), leaf side first."""
        if size == 1:
            return []
        k = 1 << ((size - 1).bit_length() - 1)
        if index < k:
            return self.inclusion(index, k, lo) + [self.mth(lo + k, lo + size)]
        return self.inclusion(index - k, size - k, lo + k) + [self.mth(lo, lo + k)]


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        raise VerifyError("inclusion: index beyond size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerifyError("inclusion: proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise VerifyError("inclusion proof of %d in %d does not verify" % (index, size))


def verify_consistency(first, second, proof, root1, root2):
    """RFC 9162 section 2.1.4.2."""
    if first == second:
        if proof or root1 != root2:
            raise VerifyError("consistency: equal sizes, different roots")
        return
    if first == 0 or not proof:
        raise VerifyError("consistency: nothing to check")
    if first & (first - 1) == 0:
        proof = [root1] + list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerifyError("consistency: proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != root1 or sr != root2:
        raise VerifyError("consistency proof %d -> %d does not verify" % (first, second))


def check_tiles(src, tree):
    """Every hash tile the checkpoint's size needs matches the entries."""
    level = 0
    while tree.size >> (8 * level) > 0:
        hashes = tree.levels[8 * level] if 8 * level < len(tree.levels) else []
        count = tree.size >> (8 * level)
        for n in range((count + 255) // 256):
            width = min(256, count - n * 256)
            path = tile_path(level, n, 0 if width == 256 else width)
            data, prefix = get_tile(src, level, n, 0 if width == 256 else width)
            want = b"".join(hashes[n * 256:n * 256 + width])
            if (data[:len(want)] if prefix and len(data) == 8192 else data) != want:
                raise VerifyError("%s does not match the entries" % path)
        level += 1


def verify(where, vkey, nproofs=8):
    """Returns (size, root, tree, checkpoint text) or raises VerifyError."""
    src = Source(where)
    note = src.get("checkpoint").decode()
    text = open_note(note, vkey)
    origin, size, root = parse_checkpoint(text)
    if origin != parse_vkey(vkey)[0]:
        raise VerifyError("checkpoint origin is not the key's name")
    tree = Tree([leaf_hash(e) for e in read_entries(src, size)])
    if tree.root() != root:
        raise VerifyError("the entries do not hash to the checkpoint's root")
    check_tiles(src, tree)
    for i in range(nproofs):
        index = (size - 1) * i // max(1, nproofs - 1) if size else None
        if index is not None:
            verify_inclusion(index, size, tree.levels[0][index],
                             tree.inclusion(index, size), root)
    return size, root, tree, note


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[3].strip(), file=sys.stderr)
        return 2
    nproofs = int(argv[4]) if len(argv) > 4 and argv[3] == "--proofs" else 8
    try:
        size, root, _, _ = verify(argv[1], argv[2], nproofs)
    except VerifyError as e:
        print("verification failed: %s" % e)
        return 1
    print("ok %d %s" % (size, base64.b64encode(root).decode()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
