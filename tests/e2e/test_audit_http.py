#!/usr/bin/python3
"""The audit log over HTTP: tlog-tiles files with their caching headers,
proofs, the access log of a subject, and the independent verifier reading
the live gateway; `tellonce audit verify` on the directory after a stop."""
import base64
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import (ALICE_PIVOT, BOB_PIVOT, TELLONCE, Stack, check, eq,  # noqa: E402
                     run, test, wait_for)

S = None
VKEY = None
# What the access log adds to each entry (docs/audit.md).
ADDED = ("audit_index", "inclusion_proof", "consumer_name", "provider_name")
FETCHES = 300


def st():
    """A gateway with 300+ entries: links, then fetches denied for lack of
    consent (each one audited), so that full tiles exist."""
    global S, VKEY
    if S is None:
        S = Stack("audit-http")
        S.link("caf", "caf-alice", ALICE_PIVOT)
        S.link("caf", "caf-bob", BOB_PIVOT)
        S.link("portal", "p-alice", ALICE_PIVOT)
        for i in range(FETCHES):
            subject = "caf-alice" if i % 3 == 0 else "caf-bob"
            r = S.call("caf", "POST", "/v1/fetch", {"subject": subject, "dataset": "address",
                                                    "purpose": "benefit-eligibility",
                                                    "attributes": ["street"]})
            eq(r.status, 403, "denied fetch %d: %r" % (i, r))
        m = re.search(r"verifier key (\S+)", S.gw.read_log())
        check(m is not None, "the gateway logs its verifier key")
        VKEY = m.group(1)
        wait_for(lambda: checkpoint_size() >= FETCHES + 3, what="a checkpoint of everything")
    return S


def checkpoint_size():
    return int(S.call(None, "GET", "/audit/checkpoint").raw.split("\n")[1])


def base_url():
    return "http://127.0.0.1:%d/audit" % st().gw.port


@test
def the_independent_verifier_reads_the_live_log():
    url = base_url()
    size, root, tree, note = av.verify(url, VKEY, nproofs=16)
    check(size >= FETCHES + 3, "size %d" % size)
    eq(av.parse_checkpoint(av.open_note(note, VKEY))[0], "audit.tellonce.test/log", "origin")


@test
def tiles_and_checkpoint_carry_the_right_headers():
    s = st()
    r = s.call(None, "GET", "/audit/checkpoint")
    eq(r.status, 200, "checkpoint")
    eq(r.headers.get("content-type"), "text/plain; charset=utf-8", "checkpoint type")
    eq(r.headers.get("cache-control"), "no-cache", "checkpoint caching")
    size = int(r.raw.split("\n")[1])
    r = s.call(None, "GET", "/audit/tile/0/000")
    eq(r.status, 200, "full tile")
    eq(r.headers.get("content-type"), "application/octet-stream", "tile type")
    eq(r.headers.get("cache-control"), "public, max-age=31536000, immutable", "full tile")
    eq(int(r.headers.get("content-length")), 8192, "full tile length")
    if size % 256:
        r = s.call(None, "GET", "/audit/tile/entries/001.p/%d" % (size % 256))
        eq(r.status, 200, "partial bundle")
        eq(r.headers.get("cache-control"), "no-cache", "partial bundle caching")
    for bad in ("/audit/tile/../checkpoint", "/audit/tile/0/%2e%2e/000",
                "/audit/tile/0/x000/000", "/audit/tile/0/000.p/0", "/audit/tile/0/0",
                "/audit/tile/0/000%00", "/audit/tile/0/000%00.p/3"):
        eq(s.call(None, "GET", bad).status, 400, bad)
    eq(s.call(None, "GET", "/audit/tile/0/x001/000").status, 404, "a tile not yet there")


@test
def proofs_verify_against_the_checkpoint():
    s = st()
    size, root, tree, _ = av.verify(base_url(), VKEY, nproofs=0)
    for index in (0, 1, 255, 256, size - 1):
        r = s.call(None, "GET", "/v1/audit/proof/inclusion?index=%d&size=%d" % (index, size))
        eq(r.status, 200, "inclusion %d: %r" % (index, r))
        eq(base64.b64decode(r.json["root"]), root, "root")
        proof = [base64.b64decode(h) for h in r.json["hashes"]]
        av.verify_inclusion(index, size, tree.levels[0][index], proof, root)
        check(r.json["checkpoint"].startswith("audit.tellonce.test/log\n"), "checkpoint text")
    for m in (1, 7, 256, size - 1, size):
        r = s.call(None, "GET", "/v1/audit/proof/consistency?from=%d&to=%d" % (m, size))
        eq(r.status, 200, "consistency %d: %r" % (m, r))
        eq(base64.b64decode(r.json["from_root"]), tree.root(m), "from_root")
        proof = [base64.b64decode(h) for h in r.json["hashes"]]
        av.verify_consistency(m, size, proof, tree.root(m), root)
    current = 10 ** 9
    for q in ("index=%d&size=%d" % (size, size), "index=0&size=%d" % current,
              "index=0", "size=3", "index=-1&size=3", "index=a&size=3",
              "index=1&size=18446744073709551616"):
        eq(s.call(None, "GET", "/v1/audit/proof/inclusion?" + q).status, 400, q)
    for q in ("from=5&to=4", "from=0&to=%d" % current, "to=3"):
        eq(s.call(None, "GET", "/v1/audit/proof/consistency?" + q).status, 400, q)


@test
def the_access_log_shows_a_subject_what_was_asked():
    s = st()
    size, root, tree, _ = av.verify(base_url(), VKEY, nproofs=0)
    r = s.call("portal", "GET", "/v1/access-log?subject=p-alice&limit=500")
    eq(r.status, 200, "access log: %r" % r)
    entries = r.json["entries"]
    # Alice's link by caf, by the portal, and one fetch in three.
    eq(len(entries), 2 + (FETCHES + 2) // 3, "entries about alice")
    eq(r.json["next"], None, "one page")
    indexes = [e["audit_index"] for e in entries]
    eq(indexes, sorted(indexes, reverse=True), "newest first")
    cp = av.parse_checkpoint(av.open_note(r.json["checkpoint"], VKEY))
    view_key = base64.b64decode(r.json["view_key"])
    eq(len(view_key), 32, "the view key")
    for e in entries:
        nonce = base64.b64decode(e["nonce"])
        eq(e["subject"], av.commitment(view_key, "subject", nonce), "about alice")
        entry = {k: v for k, v in e.items() if k not in ADDED}
        eq(av.leaf_hash(json.dumps(entry, sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode()),
           tree.levels[0][e["audit_index"]], "the entry as logged")
        if e["type"] == "fetch":
            eq((e["consumer"], e["decision"], e["reason"]), ("caf", "deny", "no_consent"),
               "fetch entry")
        p = e["inclusion_proof"]
        eq(p["size"], cp[1], "proof against the checkpoint sent")
        av.verify_inclusion(e["audit_index"], cp[1], tree.levels[0][e["audit_index"]],
                            [base64.b64decode(h) for h in p["hashes"]], cp[2])

    pages, after = [], None
    while True:
        q = "/v1/access-log?subject=p-alice&limit=7" + ("&after=" + after if after else "")
        page = s.call("portal", "GET", q).json
        pages += [e["audit_index"] for e in page["entries"]]
        after = page["next"]
        if after is None:
            break
    eq(pages, indexes, "paging walks the same list")

    eq(s.call("caf", "GET", "/v1/access-log?subject=caf-alice").status, 403, "no role")
    r = s.call("portal", "GET", "/v1/access-log?subject=p-nobody")
    eq((r.status, r.json.get("reason")), (404, "subject_not_linked"), "unlinked")
    for q in ("limit=0", "limit=501", "limit=x", "before=-2", "after=7"):
        eq(s.call("portal", "GET", "/v1/access-log?subject=p-alice&" + q).status, 400, q)
    eq(s.call("portal", "GET", "/v1/access-log").status, 400, "no subject")


@test
def audit_verify_accepts_the_log_after_a_stop():
    s = st()
    logdir = os.path.join(s.workdir, "audit")
    eq(s.gw.stop(), 0, "gateway exit code")
    r = subprocess.run([TELLONCE, "audit", "verify", logdir, "--key", VKEY],
                       capture_output=True, text=True)
    eq(r.returncode, 0, "audit verify: " + r.stderr)
    m = re.match(r"^%s: ok, (\d+) entries, root \S+$" % re.escape(logdir), r.stdout.strip())
    check(m is not None, r.stdout)
    check(int(m.group(1)) >= FETCHES + 3, "every entry signed at shutdown")
    s.stop()


if __name__ == "__main__":
    run()
