#!/usr/bin/python3
"""The audit log as an outsider sees it: a log written by the C code (through
tests/tools/audit_tool) is checked by audit_verifier.py and by Go's
sumdb/note and sumdb/tlog (tests/tools/tlog_check.go), which share no code
with it, and by `audit verify`; each tampering is caught by all three."""
import base64
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import (BUILD, ROOT, check, eq, make_workdir, run, test,  # noqa: E402
                     tlog_check)

TOOL = os.path.join(ROOT, BUILD, "tests", "tools", "audit_tool")
ORIGIN = "audit.verify.test/log"
COUNT = 3000


def tool(*args, **kw):
    return subprocess.run([TOOL] + list(args), capture_output=True, text=True, **kw)


class Log:
    """A log of COUNT entries written by 8 threads, and its verifier key."""

    def __init__(self):
        self.workdir = make_workdir("audit-verify")
        self.key = os.path.join(self.workdir, "audit.key")
        self.dir = os.path.join(self.workdir, "audit")
        r = tool("keygen", "-o", self.key, "--origin", ORIGIN)
        eq(r.returncode, 0, "keygen: " + r.stderr)
        self.vkey = r.stdout.strip()
        r = tool("append", self.dir, self.key, ORIGIN, str(COUNT), "8")
        eq(r.returncode, 0, "append: " + r.stderr[-2000:])
        eq(len(r.stdout.split()), COUNT, "indexes printed")

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def c_verify(self):
        return tool("verify", self.dir, "--key", self.vkey)


LOG = None


def log():
    global LOG
    if LOG is None:
        LOG = Log()
    return LOG


def py_error(where, vkey):
    try:
        av.verify(where, vkey)
    except av.VerifyError as e:
        return str(e)
    return None


@test
def keygen_prints_a_verifier_key_and_writes_a_private_file():
    lg = log()
    eq(os.stat(lg.key).st_mode & 0o777, 0o600, "key file mode")
    name, keyhash, raw = lg.vkey.split("+", 2)
    eq(name, ORIGIN, "key name")
    eq(len(keyhash), 8, "key hash")
    eq(len(base64.b64decode(raw)), 33, "type byte and public key")
    r = tool("keygen", "-o", lg.key)
    eq(r.returncode, 1, "keygen over an existing file")
    check("File exists" in r.stderr, r.stderr)
    eq(tool("keygen").returncode, 2, "keygen without -o")


@test
def independent_verifier_agrees_with_audit_verify():
    lg = log()
    size, root, _, note = av.verify(lg.dir, lg.vkey, nproofs=32)
    eq(size, COUNT, "size")
    r = lg.c_verify()
    eq(r.returncode, 0, "audit verify: " + r.stderr)
    eq(r.stdout.strip(), "%s: ok, %d entries, root %s" %
       (lg.dir, COUNT, base64.b64encode(root).decode()), "audit verify output")
    check(note.startswith(ORIGIN + "\n%d\n" % COUNT), note)
    eq(tlog_check(lg.dir, lg.vkey), (0, "ok %d %s" % (COUNT, base64.b64encode(root).decode())),
       "Go's sumdb/tlog")
    entries = av.read_entries(av.Source(lg.dir), size)
    first = json.loads(entries[0])
    eq(sorted(first), ["attributes", "basis", "consent", "consumer", "dataset",
                       "decision", "nonce", "payload", "policy", "provider", "purpose",
                       "reason", "request_id", "subject", "ts", "type"], "entry fields")
    eq(entries[0], json.dumps(first, sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode(), "canonical JSON")


@test
def proofs_from_the_c_code_verify_independently():
    lg = log()
    _, _, tree, _ = av.verify(lg.dir, lg.vkey, nproofs=0)
    for index, size in [(0, 1), (0, COUNT), (255, 256), (256, 257), (1234, 2000),
                        (COUNT - 1, COUNT), (700, 1024)]:
        r = tool("proof", lg.dir, lg.key, ORIGIN, str(index), str(size))
        eq(r.returncode, 0, "proof %d %d: %s" % (index, size, r.stderr))
        out = json.loads(r.stdout)
        proof = [base64.b64decode(h) for h in out["hashes"]]
        eq(base64.b64decode(out["root"]), tree.root(size), "root at %d" % size)
        eq(proof, tree.inclusion(index, size), "proof of %d in %d" % (index, size))
        av.verify_inclusion(index, size, tree.levels[0][index], proof, tree.root(size))
    eq(tool("proof", lg.dir, lg.key, ORIGIN, str(COUNT), str(COUNT)).returncode, 1,
       "a proof beyond the log")


def tampered(rel, change, want_c, want_py):
    """Applies change(bytes) -> bytes to a file, runs both verifiers, restores."""
    lg = log()
    path = lg.path(rel)
    with open(path, "rb") as f:
        orig = f.read()
    try:
        with open(path, "wb") as f:
            f.write(change(orig))
        r = lg.c_verify()
        eq(r.returncode, 1, "audit verify exit code for %s" % rel)
        check(want_c in r.stderr, "audit verify said %r, want %r" % (r.stderr, want_c))
        err = py_error(lg.dir, lg.vkey)
        check(err is not None and want_py in err, "verifier said %r, want %r" % (err, want_py))
        go = tlog_check(lg.dir, lg.vkey)
        check(go[0] == 1 and go[1].startswith("tlog_check: "), "Go's sumdb/tlog said %r" % (go,))
    finally:
        with open(path, "wb") as f:
            f.write(orig)
    eq(lg.c_verify().returncode, 0, "restored log verifies")


def flip(at):
    return lambda b: b[:at] + bytes([b[at] ^ 1]) + b[at + 1:]


def entry_offset(data, i):
    off = 0
    for _ in range(i):
        off += 2 + int.from_bytes(data[off:off + 2], "big")
    return off + 2


@test
def a_changed_entry_is_found():
    data = open(log().path("tile/entries/003"), "rb").read()
    tampered("tile/entries/003", flip(entry_offset(data, 17) + 30),
             "entry 785: does not match the checkpoint", "do not hash to")


@test
def a_changed_hash_tile_is_found():
    tampered("tile/0/002", flip(32 * 9), "tile/0/002: hash 9 does not match",
             "tile/0/002 does not match")
    tampered("tile/1/000.p/11", flip(32 * 10 + 5), "tile/1/000.p/11: hash 10",
             "tile/1/000.p/11 does not match")


@test
def a_changed_checkpoint_is_found():
    tampered("checkpoint", lambda b: b.replace(b"\n%d\n" % COUNT, b"\n%d\n" % (COUNT - 1)),
             "checkpoint: bad signature", "bad signature")


@test
def a_truncated_log_is_found():
    tampered("tile/entries/011.p/184", lambda b: b[:len(b) // 2],
             "missing or cut short in tile/entries/011.p/184", "entry 2")


@test
def a_forged_entry_is_found():
    forged = b'{"forged":true}'
    tampered("tile/entries/011.p/184",
             lambda b: b + len(forged).to_bytes(2, "big") + forged,
             "entry 3000: tile/entries/011.p/184 holds more entries", "bytes after")


@test
def a_log_signed_by_another_key_is_refused():
    lg = log()
    other = os.path.join(lg.workdir, "other.key")
    vkey = tool("keygen", "-o", other, "--origin", ORIGIN).stdout.strip()
    r = tool("verify", lg.dir, "--key", vkey)
    eq(r.returncode, 1, "exit code")
    check("no signature by " + ORIGIN in r.stderr, r.stderr)
    check("no signature by" in (py_error(lg.dir, vkey) or ""), "python verifier")
    eq(tool("verify").returncode, 2, "usage")
    os.unlink(other)


@test
def cleanup():
    if LOG is not None:
        shutil.rmtree(LOG.workdir, ignore_errors=True)


if __name__ == "__main__":
    run()
