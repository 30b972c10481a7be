#!/usr/bin/python3
"""The partner developer's path (issue 16): a wrong link corrected by
unlinking, one audit entry with its proof checked by the independent
verifier, the verifier keys at well-known paths (a real consent receipt
checked with the JWKS), one opaque cursor on every listing, Allow on 405,
problem types under gateway.problem_base, and names in the access log."""
import base64
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402
from harness import (ALICE_ADDRESS, ALICE_PIVOT, KEYS, TELLONCE, Stack, check,  # noqa: E402
                     eq, run, test, wait_for)

S = None
ADMIN = KEYS["TELLONCE_ADMIN_TOKEN"]
CURSOR = re.compile(r"[A-Za-z0-9_-]{11}")


def st():
    global S
    if S is None:
        S = Stack("partner")
        S.mairie.seed("m-alice", "address", ALICE_ADDRESS)
        S.link("mairie", "m-alice", ALICE_PIVOT)
    return S


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fetch_postal_code(local_id):
    return st().call("caf", "POST", "/v1/fetch", {
        "subject": local_id, "dataset": "address", "purpose": "benefit-eligibility",
        "attributes": ["postal_code"]})


def vkey():
    r = st().call(None, "GET", "/.well-known/tellonce/audit-vkey")
    eq(r.status, 200, "vkey: %r" % r)
    eq(r.headers.get("content-type"), "text/plain; charset=utf-8", "vkey type")
    return r.raw.strip()


def checkpoint_size():
    return int(st().call(None, "GET", "/audit/checkpoint").raw.split("\n")[1])


@test
def a_link_made_with_a_wrong_pivot_is_corrected_by_unlinking():
    s = st()
    wrong = dict(ALICE_PIVOT, birthdate="1984-12-03")
    r = s.call("caf", "POST", "/v1/links", {"local_id": "c-alice", "pivot": wrong})
    eq((r.status, r.json["created"]), (201, True), "linked, to the wrong subject")
    r = fetch_postal_code("c-alice")
    eq((r.status, r.json.get("reason")), (404, "subject_not_linked"),
       "the town hall knows no such person: %r" % r)
    r = s.call("caf", "POST", "/v1/links", {"local_id": "c-alice", "pivot": ALICE_PIVOT})
    eq(r.status, 409, "the right pivot, while linked to the wrong one")
    eq(s.call("caf", "DELETE", "/v1/links/c-alice").status, 204, "unlinked")
    r = s.call("caf", "POST", "/v1/links", {"local_id": "c-alice", "pivot": ALICE_PIVOT})
    eq((r.status, r.json["created"]), (201, True), "linked again, rightly: %r" % r)
    r = fetch_postal_code("c-alice")
    eq((r.status, r.json.get("record")), (200, {"postal_code": "29000"}),
       "the town hall's record now: %r" % r)
    r = s.call("caf", "POST", "/v1/links", {"local_id": "c-alice", "pivot": wrong})
    eq(r.status, 409, "the wrong pivot is now the conflict")


@test
def the_verifier_key_and_the_log_agree():
    s = st()
    key = vkey()
    m = re.search(r"verifier key (\S+)", s.gw.read_log())
    eq(key, m.group(1) if m else None, "the key the gateway logs at start")
    check(key.startswith("audit.tellonce.test/log+"), "named after the origin: " + key)
    wait_for(lambda: checkpoint_size() > 0, what="a checkpoint")
    size, _, _, _ = av.verify("http://127.0.0.1:%d/audit" % s.gw.port, key, nproofs=4)
    check(size > 0, "the live log verifies with the served key")


@test
def one_entry_comes_with_its_proof():
    s = st()
    r = fetch_postal_code("c-alice")
    eq(r.status, 200, "an exchange: %r" % r)
    index = r.json["audit_index"]
    wait_for(lambda: checkpoint_size() > index, what="a checkpoint covering it")
    r = s.call(None, "GET", "/v1/audit/entry?index=%d" % index)
    eq(r.status, 200, "entry: %r" % r)
    body = r.json
    eq(body["index"], index, "index")
    eq(body["entry"], json.loads(body["entry_text"]), "parsed and as stored agree")
    eq((body["entry"]["type"], body["entry"]["consumer"], body["entry"]["provider"]),
       ("fetch", "caf", "mairie"), "the exchange's entry")
    stored = body["entry_text"].encode()
    eq(base64.b64decode(body["leaf_hash"]), av.leaf_hash(stored), "leaf hash")
    # The text is the one in the public tiles.
    tiles = av.read_entries(av.Source("http://127.0.0.1:%d/audit" % s.gw.port), index + 1)
    eq(tiles[index], stored, "the entry as the tiles hold it")
    # The proof is against the signed checkpoint sent along.
    origin, size, root = av.parse_checkpoint(av.open_note(body["checkpoint"], vkey()))
    proof = body["inclusion_proof"]
    eq((proof["size"], base64.b64decode(proof["root"])), (size, root),
       "proof against the checkpoint")
    av.verify_inclusion(index, size, av.leaf_hash(stored),
                        [base64.b64decode(h) for h in proof["hashes"]], root)
    bad = stored.replace(b'"fetch"', b'"push"')
    try:
        av.verify_inclusion(index, size, av.leaf_hash(bad),
                            [base64.b64decode(h) for h in proof["hashes"]], root)
        check(False, "a changed entry must not verify")
    except av.VerifyError:
        pass
    eq(s.call(None, "GET", "/v1/audit/entry?index=%d" % 10 ** 9).status, 404, "beyond")
    for q in ("", "?index=", "?index=-1", "?index=x"):
        eq(s.call(None, "GET", "/v1/audit/entry" + q).status, 400, "bad index " + q)


@test
def a_consent_receipt_verifies_with_the_jwks():
    s = st()
    r = s.call("caf", "POST", "/v1/consents", {
        "subject": "c-alice", "provider": "mairie", "dataset": "address",
        "attributes": ["street", "city"], "purpose": "benefit-eligibility"})
    eq(r.status, 201, "consent: %r" % r)
    consent, receipt = r.json["id"], r.json["receipt"]
    j = s.call(None, "GET", "/.well-known/jwks.json")
    eq(j.status, 200, "jwks: %r" % j)
    eq(j.headers.get("content-type"), "application/jwk-set+json", "jwks type")
    head, payload, sig = receipt.split(".")
    kid = json.loads(b64url(head))["kid"]
    keys = [k for k in j.json["keys"] if k["kid"] == kid]
    eq(len(keys), 1, "the receipt's kid is in the set")
    eq((keys[0]["kty"], keys[0]["crv"], keys[0]["alg"]), ("OKP", "Ed25519", "EdDSA"),
       "an Ed25519 key")
    pub = Ed25519PublicKey.from_public_bytes(b64url(keys[0]["x"]))
    pub.verify(b64url(sig), (head + "." + payload).encode())
    claims = json.loads(b64url(payload))
    eq((claims["jti"], claims["sub"], claims["attributes"]),
       (consent, "c-alice", ["street", "city"]), "claims")
    try:
        pub.verify(b64url(sig), (head + "." + payload[:-2] + "xx").encode())
        check(False, "a changed receipt must not verify")
    except Exception as e:  # cryptography's InvalidSignature
        eq(type(e).__name__, "InvalidSignature", "refused")
    # The same key signs checkpoints: the vkey holds it too.
    eq(base64.b64decode(vkey().split("+", 2)[2])[1:], b64url(keys[0]["x"]), "one key")


@test
def the_access_log_names_services_and_pages_with_a_cursor():
    s = st()
    s.link("portal", "p-alice", ALICE_PIVOT)
    for _ in range(3):
        eq(fetch_postal_code("c-alice").status, 200, "a fetch")
    r = s.call("portal", "GET", "/v1/access-log?subject=p-alice&limit=500")
    eq(r.status, 200, "access log: %r" % r)
    everything = [e["audit_index"] for e in r.json["entries"]]
    fetches = [e for e in r.json["entries"] if e["type"] == "fetch"]
    check(fetches, "fetches listed")
    eq({(e["consumer"], e["consumer_name"], e["provider"], e["provider_name"])
        for e in fetches},
       {("caf", "Caisse d'allocations familiales", "mairie", "Mairie de Quimper")},
       "ids and names")
    links = [e for e in r.json["entries"] if e["type"] == "link"]
    check(all(e["provider"] is None and e["provider_name"] is None for e in links),
          "no provider, no name")
    seen, after, pages = [], None, 0
    while True:
        q = "/v1/access-log?subject=p-alice&limit=2" + ("&after=" + after if after else "")
        page = s.call("portal", "GET", q).json
        seen += [e["audit_index"] for e in page["entries"]]
        pages += 1
        if page["next"] is None:
            break
        check(CURSOR.fullmatch(page["next"]), "an opaque string: %r" % page["next"])
        after = page["next"]
    eq(seen, everything, "the pages, newest first")
    check(pages >= 3, "several pages")
    # Version 0.1's integer cursor still works, for one version.
    legacy = s.call("portal", "GET", "/v1/access-log?subject=p-alice&limit=2&before=%d"
                    % everything[1]).json["entries"]
    eq([e["audit_index"] for e in legacy], everything[2:4], "before=INDEX")
    for bad in ("after=12", "after=!!", "after=AAAA"):
        eq(s.call("portal", "GET", "/v1/access-log?subject=p-alice&" + bad).status, 400, bad)


@test
def dead_letters_page_with_the_same_kind_of_cursor():
    s = st()
    s.caf.behave("error400")
    try:
        for i in range(3):
            pivot = dict(ALICE_PIVOT, given_names="Yann%d" % i)
            s.link("caf", "c-dead%d" % i, pivot)
            s.link("mairie", "m-dead%d" % i, pivot)
            r = s.call("mairie", "POST", "/v1/records", {
                "subject": "m-dead%d" % i, "dataset": "address",
                "idempotency_key": "dead-%d" % i, "record": {"adresse": {"cp": "29000"}}})
            eq(r.status, 202, "push: %r" % r)
        wait_for(lambda: len(s.gw.call("GET", "/v1/deliveries?status=dead",
                                       key=ADMIN).json["deliveries"]) >= 3,
                 what="three dead letters")
    finally:
        s.caf.behave("normal")

    def admin(q):
        r = s.gw.call("GET", "/v1/deliveries?status=dead" + q, key=ADMIN)
        eq(r.status, 200, "deliveries%s: %r" % (q, r))
        return r.json

    everything = [d["id"] for d in admin("")["deliveries"]]
    seen, after = [], None
    while True:
        page = admin("&limit=1" + ("&after=" + after if after else ""))
        check(CURSOR.fullmatch(page["next"]), "an opaque string: %r" % page["next"])
        if not page["deliveries"]:
            eq(page["next"], after, "the end keeps the cursor")
            break
        seen += [d["id"] for d in page["deliveries"]]
        after = page["next"]
    eq(seen, everything, "the pages")
    eq([d["id"] for d in admin("&after=0")["deliveries"]], everything,
       "version 0.1's integer cursor, for one version")
    r = s.gw.call("GET", "/v1/deliveries?status=dead&after=zz!", key=ADMIN)
    eq(r.status, 400, "not a cursor")


@test
def a_wrong_method_is_told_the_right_ones():
    s = st()
    for method, path, allow in (("PUT", "/v1/consents", "POST, GET"),
                                ("GET", "/v1/fetch", "POST"),
                                ("POST", "/v1/consents/abc", "DELETE"),
                                ("DELETE", "/.well-known/jwks.json", "GET"),
                                ("POST", "/v1/audit/entry", "GET")):
        r = s.call("caf", method, path, {} if method != "GET" else None)
        eq((r.status, r.headers.get("allow")), (405, allow), "%s %s" % (method, path))
    eq("allow" in s.call("caf", "GET", "/v1/nothing").headers, False, "404: no Allow")


@test
def a_method_no_path_has_is_a_405_problem_too():
    # PATCH, OPTIONS and TRACE were evhttp's 501 in HTML, without
    # X-Request-Id: what an API tester sends to find undocumented methods.
    s = st()
    for method in ("PATCH", "OPTIONS", "TRACE"):
        r = s.call("caf", method, "/v1/consents")
        eq((r.status, r.headers.get("allow"), r.headers.get("content-type")),
           (405, "POST, GET", "application/problem+json"), method)
        check(r.headers.get("x-request-id"), "%s answered with X-Request-Id" % method)
        eq(s.call("caf", method, "/v1/nothing").status, 404, "%s on no path" % method)


@test
def problem_types_follow_gateway_problem_base():
    s = st()
    r = s.call("caf", "POST", "/v1/fetch", {"subject": "c-alice", "dataset": "address",
                                           "purpose": "benefit-eligibility",
                                           "attributes": ["country"]})
    eq((r.status, r.json["type"], r.json["reason"]),
       (403, "about:blank", "attribute_not_permitted"), "no base: about:blank")
    cfg = open(s.gw.config).read()
    base = "https://docs.example.org/tellonce/problems/"
    with open(s.gw.config, "w") as f:
        f.write(cfg.replace("gateway:\n", "gateway:\n  problem_base: %s\n" % base, 1))
    s.gw.kill(signal.SIGHUP)

    def typed():
        r = s.call("caf", "POST", "/v1/fetch", {"subject": "c-alice", "dataset": "address",
                                               "purpose": "benefit-eligibility",
                                               "attributes": ["country"]})
        return r.json["type"]
    wait_for(lambda: typed() != "about:blank", what="the reload")
    eq(typed(), base + "attribute_not_permitted", "base + reason")
    eq(s.call("caf", "GET", "/v1/nothing").json["type"], "about:blank",
       "a problem without a reason")
    for bad in ("not a uri", "/relative/path/", "1http://x/", "https://x/\"y"):
        with open(s.gw.config + ".bad", "w") as f:
            f.write(cfg.replace("gateway:\n", "gateway:\n  problem_base: '%s'\n" % bad, 1))
        p = subprocess.run([TELLONCE, "check", "-c", s.gw.config + ".bad"],
                           capture_output=True, text=True, env=s.gw.env)
        eq(p.returncode, 1, "check refuses %r: %s" % (bad, p.stdout))
        check("gateway.problem_base: expected an absolute URI" in p.stdout + p.stderr,
              "the message: %s" % (p.stdout + p.stderr))


@test
def the_gateway_stops_cleanly():
    eq(st().gw.stop(), 0, "exit status after SIGTERM")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
