"""The authorization matrix: every endpoint called by every kind of caller,
with the status of every cell checked, and every answer checked for what a
service must never learn (other services' local ids, subject pseudonyms).
Then injection through local ids, which must never change the URL a
provider is called on.

To cover a new endpoint, add one row to MATRIX: its method, a path and a
body builder (both get the calling role), and the status each caller must
get. Callers are the columns of CALLERS."""
import itertools
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (wait_for, ALICE_ADDRESS, ALICE_PIVOT, BOB_PIVOT, KEYS, Failure, Gateway,  # noqa: E402
                     Partner, check, eq, free_port, gateway_config, make_signing_key,
                     make_workdir, run, test)

# Columns: who calls. "none" sends no credentials, "wrong" an unknown key,
# "admin" the admin token; the others are services, each in one role:
# caf consumes (consent and public task), mairie provides, relais subscribes
# to mairie's address changes, portal has the transparency role, tiers is
# registered but party to nothing.
CALLERS = ["none", "wrong", "caf", "mairie", "relais", "portal", "tiers", "admin"]
SERVICES = ["caf", "mairie", "relais", "portal", "tiers"]
LOCAL = {s: s + "-alice" for s in SERVICES}
LOCAL_BOB = {s: s + "-bob" for s in SERVICES}
KEYS = dict(KEYS, RELAIS_KEY="relais-secret-key", TIERS_KEY="tiers-secret-key")
CREDENTIALS = {"none": None, "wrong": "not-a-key", "admin": KEYS["TELLONCE_ADMIN_TOKEN"]}
CREDENTIALS.update({s: KEYS[s.upper() + "_KEY"] for s in SERVICES})

EXTRA_SERVICES = """\
  relais:
    name: Relais petite enfance
    auth: {api_key: env:RELAIS_KEY}
    subscribes: [{dataset: address, from: mairie}]
  tiers:
    name: Unrelated service
    auth: {api_key: env:TIERS_KEY}
"""
EXTRA_POLICIES = """\
  - id: relais-address
    consumer: relais
    provider: mairie
    dataset: address
    attributes: [postal_code, city]
    purpose: childcare
    basis: public_task
    legal_reference: "CASF L214-2"
"""

S = None
KEYS_USED = itertools.count()


class Stack:
    def __init__(self):
        self.workdir = make_workdir("authz")
        make_signing_key(self.workdir)
        self.mairie = Partner(self.workdir, "mairie")
        self.mairie.seed(LOCAL["mairie"], "address", ALICE_ADDRESS)
        port = free_port()
        cfg = gateway_config(port, self.mairie.url, self.mairie.url, self.workdir,
                             extra=EXTRA_POLICIES)
        cfg = cfg.replace("  portal:\n", EXTRA_SERVICES + "  portal:\n")
        self.gw = Gateway(self.workdir, cfg, KEYS)
        self.gw.start(port)
        for s in SERVICES:
            self.call(s, "POST", "/v1/links", {"local_id": LOCAL[s], "pivot": ALICE_PIVOT})
            self.call(s, "POST", "/v1/links", {"local_id": LOCAL_BOB[s], "pivot": BOB_PIVOT})

    def call(self, caller, method, path, body=None, **kw):
        return self.gw.call(method, path, body, key=CREDENTIALS[caller], **kw)

    def stop(self):
        self.gw.stop()
        self.mairie.stop()


def st():
    global S
    if S is None:
        S = Stack()
    return S


def own(caller, table=LOCAL):
    """The caller's local id of the subject (a service's own, else caf's)."""
    return table.get(caller, table["caf"])


def new_consent():
    r = st().call("caf", "POST", "/v1/consents", {
        "subject": LOCAL["caf"], "provider": "mairie", "dataset": "address",
        "attributes": ["street"], "purpose": "benefit-eligibility"})
    eq(r.status, 201, "consent for the DELETE row: %r" % r)
    return r.json["id"]


def tile_path(caller, level="0"):
    """The tile of the latest checkpoint (its size is line 2)."""
    def size_now():
        return int(st().call(caller, "GET", "/audit/checkpoint").raw.split("\n")[1])
    # Checkpoints are signed every checkpoint_interval: wait for the first
    # one that covers the setup's entries.
    wait_for(lambda: size_now() > 0, what="a checkpoint with entries")
    size = size_now()
    check(0 < size < 256, "a log of one partial tile, not %d entries" % size)
    return "/audit/tile/%s/000.p/%d" % (level, size)


def bundle_path(caller="none"):
    return tile_path(caller, "entries")


# One row per endpoint: (method, path(caller), body(caller) or None,
# {caller: status}); callers left out of the dict get `rest`.
def row(method, path, body, rest, **cells):
    return (method, path, body, dict({c: rest for c in CALLERS}, **cells))


ANYONE = {c: 200 for c in CALLERS}
SERVICE_ONLY = dict(none=401, wrong=401, admin=401)

MATRIX = [
    row("GET", lambda c: "/healthz", None, 200),
    row("GET", lambda c: "/readyz", None, 200),
    row("GET", lambda c: "/metrics", None, 200),
    row("POST", lambda c: "/v1/links",
        lambda c: {"local_id": own(c, LOCAL_BOB), "pivot": BOB_PIVOT},
        201, **SERVICE_ONLY),
    row("POST", lambda c: "/v1/consents",
        lambda c: {"subject": own(c), "provider": "mairie", "dataset": "address",
                   "attributes": ["street"], "purpose": "benefit-eligibility"},
        403, caf=201, **SERVICE_ONLY),
    row("GET", lambda c: "/v1/consents?subject=" + own(c), None, 200, **SERVICE_ONLY),
    row("DELETE", lambda c: "/v1/consents/" + new_consent(), None,
        404, caf=204, mairie=204, **SERVICE_ONLY),
    row("POST", lambda c: "/v1/objections",
        lambda c: {"subject": own(c, LOCAL_BOB), "dataset": "address",
                   "purpose": "benefit-eligibility"},
        201, **SERVICE_ONLY),
    # No caller here has the mediator role: mandates are refused to all.
    row("POST", lambda c: "/v1/mandates",
        lambda c: {"subject": own(c), "helper": "agent-1",
                   "scope": {"datasets": ["address"], "actions": ["consent"]},
                   "expires_at": "2099-01-01T00:00:00Z"},
        403, **SERVICE_ONLY),
    row("GET", lambda c: "/v1/mandates?subject=" + own(c), None, 403, **SERVICE_ONLY),
    row("DELETE", lambda c: "/v1/mandates/no-such-mandate", None, 403, **SERVICE_ONLY),
    row("POST", lambda c: "/v1/fetch",
        lambda c: {"subject": own(c), "dataset": "address", "purpose":
                   "childcare" if c == "relais" else "benefit-eligibility",
                   "attributes": ["postal_code"]},
        403, caf=200, relais=200, **SERVICE_ONLY),
    row("GET", lambda c: "/v1/access-log?subject=" + own(c), None,
        403, portal=200, **SERVICE_ONLY),
    row("POST", lambda c: "/v1/records",
        lambda c: {"subject": own(c), "dataset": "address",
                   "record": {"adresse": {"cp": "29000"}},
                   "idempotency_key": "authz-%s-%d" % (c, next(KEYS_USED))},
        403, mairie=202, **SERVICE_ONLY),
    row("GET", lambda c: "/v1/changes?dataset=address", None,
        403, caf=200, relais=200, **SERVICE_ONLY),
    row("GET", lambda c: "/v1/deliveries?status=dead", None, 401, admin=200),
    row("POST", lambda c: "/v1/deliveries/no-such-delivery/retry", lambda c: {},
        401, admin=404),
    row("GET", lambda c: "/v1/register", None, 401, admin=200),
    row("POST", lambda c: "/v1/erasures",
        lambda c: {"pivot": BOB_PIVOT} if c == "admin" else {"subject": own(c, LOCAL_BOB)},
        200, none=401, wrong=401),
    row("DELETE", lambda c: "/v1/links/" + own(c) + "-never-linked", None,
        404, **SERVICE_ONLY),
    row("GET", lambda c: "/audit/checkpoint", None, 200),
    row("GET", tile_path, None, 200),
    row("GET", bundle_path, None, 200),
    row("GET", lambda c: "/v1/audit/proof/inclusion?index=0&size=2", None, 200),
    row("GET", lambda c: "/v1/audit/proof/consistency?from=1&to=2", None, 200),
    row("GET", lambda c: "/v1/audit/entry?index=0", None, 200),
    row("GET", lambda c: "/.well-known/tellonce/audit-vkey", None, 200),
    row("GET", lambda c: "/.well-known/jwks.json", None, 200),
]

def pseudonyms():
    """Every subject pseudonym, read from the store's links: no answer,
    the public audit log's included (contract §5), may show one."""
    db = sqlite3.connect(os.path.join(st().workdir, "tellonce.db"))
    try:
        return {row[0] for row in db.execute("SELECT DISTINCT subject FROM links")}
    finally:
        db.close()


@test
def every_endpoint_answers_every_caller_as_the_matrix_says():
    s = st()
    wrong, answers = [], []
    for method, path, body, cells in MATRIX:
        for caller in CALLERS:
            p = path(caller)
            r = s.call(caller, method, p, body(caller) if body else None)
            answers.append((caller, p, r))
            if r.status != cells[caller]:
                wrong.append("%s %s as %s: %d, want %d (%s)" % (
                    method, p, caller, r.status, cells[caller], r.raw[:120]))
            check("x-request-id" in r.headers, "X-Request-Id on %s %s" % (method, p))
    if wrong:
        raise Failure("%d cells differ:\n    " % len(wrong) + "\n    ".join(wrong))
    leaks = []
    subjects = pseudonyms()
    check(len(subjects) >= 2, "the store links alice's and bob's pseudonyms")
    for caller, p, r in answers:
        others = [LOCAL[o] for o in SERVICES if o != caller] + \
                 [LOCAL_BOB[o] for o in SERVICES if o != caller]
        if caller not in SERVICES:
            others = [v for v in others if v not in (LOCAL["caf"], LOCAL_BOB["caf"])]
        for v in others:
            if v in r.raw:
                leaks.append("%s %s shows %s" % (caller, p, v))
        for subj in subjects:
            if subj in r.raw:
                leaks.append("%s %s shows a pseudonym" % (caller, p))
    if leaks:
        raise Failure("\n    ".join(leaks))


@test
def unknown_paths_and_methods_do_not_reveal_anything():
    s = st()
    eq(s.call("none", "GET", "/v1/nothing").status, 404, "unknown path")
    eq(s.call("none", "PUT", "/v1/fetch").status, 405, "known path, wrong method")
    r = s.call("none", "GET", "/v1/consents/../../etc/passwd")
    check(r.status in (404, 405), "dot segments are not a path: %r" % r)


# Local ids a hostile or careless service might register, and what the
# gateway must do with each: link it (and then keep it one path segment)
# or refuse it.
INJECTIONS = [
    ("dots", "../../admin", 201),
    ("encoded-dots", "%2e%2e%2f%2e%2e%2fadmin", 201),
    ("slash-query", "a/b?c=d#e", 201),
    ("crlf", "m\r\nX-Injected: 1", 400),
    ("nul", "m\u0000x", 400),
    ("long", "m" * 300, 400),
]


@test
def local_id_injection_cannot_change_the_provider_url():
    s = st()
    for name, local_id, status in INJECTIONS:
        pivot = dict(ALICE_PIVOT, given_names="Injection " + name.replace("-", " "))
        r = s.call("mairie", "POST", "/v1/links", {"local_id": local_id, "pivot": pivot})
        eq(r.status, status, "mairie links %s: %r" % (name, r))
        if status != 201:
            continue
        s.mairie.seed(local_id, "address", ALICE_ADDRESS)
        s.call("caf", "POST", "/v1/links", {"local_id": "caf-" + name, "pivot": pivot})
        s.mairie.control("POST", "reset")
        s.mairie.seed(local_id, "address", ALICE_ADDRESS)
        r = s.call("caf", "POST", "/v1/fetch", {
            "subject": "caf-" + name, "dataset": "address",
            "purpose": "benefit-eligibility", "attributes": ["postal_code"]})
        eq(r.status, 200, "fetch through %s: %r" % (name, r))
        eq(r.json["record"], {"postal_code": "29000"}, "record through " + name)
        check(local_id not in r.raw, "the provider's local id is not shown to caf")
        seen = s.mairie.control("GET", "requests")
        eq(len(seen), 1, "one request to the partner")
        path = seen[0]["path"]
        parts = path.split("/")
        eq(len(parts), 4, "path %s keeps its segments" % path)
        eq(parts[1], "citizens", "first segment of " + path)
        eq(parts[3], "address", "last segment of " + path)
        check(all(c not in path for c in "?#\r\n"), "no query, fragment or CRLF in " + path)
        check("/../" not in path and "/./" not in path, "no dot segment in " + path)
    # A fetch naming someone else's local id finds nobody.
    r = s.call("caf", "POST", "/v1/fetch", {"subject": LOCAL["mairie"], "dataset": "address",
                                            "purpose": "benefit-eligibility"})
    eq(r.status, 404, "another service's local id is not the caller's")
    eq(r.json["reason"], "subject_not_linked", "reason")
    check(LOCAL["mairie"] not in r.json["detail"], "the detail does not echo it")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
