"""Digital mediators (contract §8), end to end against real partner
processes: a France services office (role mediator) records a citizen's
mandate, gives consent on the citizen's behalf, objects, reads the access
log; every denial reason; expiry and revocation; no mandate or helper id in
clear in the audit directory; bad input changes nothing."""
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_ADDRESS, ALICE_PIVOT, BOB_ADDRESS, BOB_PIVOT, KEYS,  # noqa: E402
                     TELLONCE, Gateway, Partner, check, eq, free_port, gateway_config,
                     make_signing_key, make_workdir, run, test)

KEYS = dict(KEYS, FS_KEY="franceservices-secret-key")
PURPOSE = "benefit-eligibility"
# Distinctive so that a leak into the audit directory cannot hide.
HELPER = "agent-5c1e7b"
MEDIATOR = """\
  franceservices:
    name: France services Quimper
    auth: {api_key: env:FS_KEY}
    roles: [mediator]
"""
EXTRA = """\
mandates:
  categories:
    logement: [address]
    social: [household]
"""
HOUSEHOLD = """\
  household:
    attributes: {size: integer}
"""

S = None


class Stack:
    def __init__(self):
        self.workdir = make_workdir("mandates")
        make_signing_key(self.workdir)
        self.mairie = Partner(self.workdir, "mairie")
        self.caf = Partner(self.workdir, "caf")
        for who, address in (("alice", ALICE_ADDRESS), ("bob", BOB_ADDRESS),
                             ("carol", ALICE_ADDRESS), ("dan", BOB_ADDRESS)):
            self.mairie.seed("m-" + who, "address", address)
        port = free_port()
        cfg = gateway_config(port, self.mairie.url, self.caf.url, self.workdir,
                             extra=EXTRA)
        cfg = cfg.replace("  portal:\n", MEDIATOR + "  portal:\n")
        cfg = cfg.replace("\nservices:\n", HOUSEHOLD + "\nservices:\n", 1)
        self.gw = Gateway(self.workdir, cfg, KEYS)
        self.gw.start(port)
        self.helpers = set()
        self.mandates = []

    def call(self, service, method, path, body=None):
        key = KEYS["FS_KEY"] if service == "fs" else KEYS[service.upper() + "_KEY"]
        return self.gw.call(method, path, body, key=key)

    def link(self, who, pivot):
        for service, prefix in (("mairie", "m-"), ("caf", "c-"), ("fs", "f-"),
                                ("portal", "p-")):
            r = self.call(service, "POST", "/v1/links",
                          {"local_id": prefix + who, "pivot": pivot})
            eq(r.status, 201, "link %s %s: %r" % (service, who, r))

    def stop(self):
        self.gw.stop()
        self.mairie.stop()
        self.caf.stop()


def st():
    global S
    if S is None:
        S = Stack()
        S.link("alice", ALICE_PIVOT)
        S.link("bob", BOB_PIVOT)
        S.link("carol", dict(ALICE_PIVOT, given_names="Carole"))
        S.link("dan", dict(BOB_PIVOT, given_names="Daniel"))
    return S


def at(seconds):
    """RFC 3339 time `seconds` from now, to the millisecond."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def mandate(who, datasets=("address",), actions=("consent",), seconds=3600,
            helper=HELPER, categories=None):
    scope = {"actions": list(actions)}
    if datasets is not None:
        scope["datasets"] = list(datasets)
    if categories is not None:
        scope["categories"] = list(categories)
    r = st().call("fs", "POST", "/v1/mandates", {
        "subject": "f-" + who, "helper": helper, "scope": scope,
        "expires_at": at(seconds)})
    eq(r.status, 201, "mandate: %r" % r)
    st().helpers.add(helper)
    st().mandates.append(r.json["id"])
    return r.json


def consent(who, mandate_id=None, helper=HELPER, attributes=("street", "city")):
    body = {"subject": "f-" + who, "consumer": "caf", "provider": "mairie",
            "dataset": "address", "attributes": list(attributes),
            "purpose": PURPOSE, "helper": helper}
    if mandate_id is not None:
        body["mandate"] = mandate_id
    return st().call("fs", "POST", "/v1/consents", body)


def fetch(who, attributes=("street",)):
    return st().call("caf", "POST", "/v1/fetch", {
        "subject": "c-" + who, "dataset": "address",
        "attributes": list(attributes), "purpose": PURPOSE})


def claims(jws):
    parts = jws.split(".")
    eq(len(parts), 3, "a compact JWS")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def denied(r, reason):
    eq(r.status, 403, "status of %r" % r)
    eq(r.headers.get("content-type"), "application/problem+json")
    eq(r.json.get("reason"), reason, "reason of %r" % r)


def caf_consents(who):
    r = st().call("caf", "GET", "/v1/consents?subject=c-" + who)
    eq(r.status, 200)
    return r.json["consents"]


@test
def test_lifecycle():
    m = mandate("alice", actions=("consent", "access_log"))
    check(m["receipt"].count(".") == 2, "receipt is a compact JWS")
    c = claims(m["receipt"])
    eq(c["jti"], m["id"])
    eq(c["sub"], "f-alice", "the receipt names the mediator's own local id")
    eq(c["mediator"], "franceservices")
    eq(c["helper"], HELPER)
    eq(c["scope"], {"datasets": ["address"], "actions": ["consent", "access_log"]})
    check(c["exp"] > time.time() + 3000, "exp is the expiry")
    eq(m["status"], "active")
    eq(m["subject"], "f-alice")

    r = st().call("fs", "GET", "/v1/mandates?subject=f-alice")
    eq(r.status, 200)
    check(m["id"] in [x["id"] for x in r.json["mandates"]], "listed")

    # Another mediator of the same gateway would not see it; a consumer
    # cannot touch it at all.
    eq(st().call("caf", "DELETE", "/v1/mandates/" + m["id"]).status, 403)
    eq(st().call("fs", "DELETE", "/v1/mandates/nosuchmandate").status, 404)
    eq(st().call("fs", "DELETE", "/v1/mandates/" + m["id"]).status, 204)
    eq(st().call("fs", "DELETE", "/v1/mandates/" + m["id"]).status, 204)
    r = st().call("fs", "GET", "/v1/mandates?subject=f-alice")
    listed = {x["id"]: x for x in r.json["mandates"]}
    eq(listed[m["id"]]["status"], "revoked")
    check(listed[m["id"]]["revoked_at"] is not None, "revoked_at set")


@test
def test_consent_on_behalf_then_fetch():
    denied(fetch("bob"), "no_consent")
    m = mandate("bob")
    st().bob_mandate = m["id"]
    r = consent("bob", m["id"])
    eq(r.status, 201, "consent on behalf: %r" % r)
    eq(r.json["subject"], "f-bob")
    eq(r.json["consumer"], "caf")
    eq(r.json["mandate"], True)
    given_id = r.json["id"]
    c = claims(r.json["receipt"])
    eq(c["mandate"], m["id"], "the receipt names the mandate")
    eq(c["helper"], HELPER, "the receipt names the helper")
    eq(c["mediator"], "franceservices")
    eq(c["sub"], "f-bob")
    r = fetch("bob", ("street", "city"))
    eq(r.status, 200, "fetch after consent on behalf: %r" % r)
    eq(r.json["record"], {"street": BOB_ADDRESS["adresse"]["voie"],
                          "city": BOB_ADDRESS["adresse"]["commune"]})
    # The consumer sees the consent, given through a mediator.
    given = [x for x in caf_consents("bob") if x["id"] == given_id]
    eq(len(given), 1)
    eq(given[0]["mandate"], True)
    eq(given[0]["mediator"], "franceservices")
    # Without naming it, the live mandate covering the act is found (the
    # same one: bob has no other).
    eq(consent("bob", None, attributes=("city",)).status, 201)


@test
def test_every_denial_reason():
    # no_mandate: none at all, and an id that is not the citizen's.
    denied(consent("carol"), "no_mandate")
    other = mandate("dan")
    denied(consent("carol", other["id"]), "no_mandate")
    # mandate_scope: the action, then the dataset.
    logonly = mandate("carol", actions=("access_log",))
    denied(consent("carol", logonly["id"]), "mandate_scope")
    social = mandate("carol", datasets=None, categories=("social",))
    eq(claims(social["receipt"])["scope"]["datasets"], ["household"])
    denied(consent("carol", social["id"]), "mandate_scope")
    # mandate_revoked.
    eq(st().call("fs", "DELETE", "/v1/mandates/" + social["id"]).status, 204)
    denied(consent("carol", social["id"]), "mandate_scope")
    revoked = mandate("carol")
    eq(st().call("fs", "DELETE", "/v1/mandates/" + revoked["id"]).status, 204)
    denied(consent("carol", revoked["id"]), "mandate_revoked")
    # Any: the most useful reason among carol's mandates is the revocation
    # of the one that covered the act.
    denied(consent("carol"), "mandate_revoked")
    # mandate_expired.
    short = mandate("carol", seconds=1)
    time.sleep(1.2)
    denied(consent("carol", short["id"]), "mandate_expired")
    # Nothing was given: the consumer sees no consent for carol.
    eq(caf_consents("carol"), [])
    denied(fetch("carol"), "no_consent")
    # A service that is no mediator holds no mandate.
    r = st().call("caf", "POST", "/v1/objections", {
        "subject": "c-carol", "dataset": "address", "purpose": PURPOSE,
        "mandate": revoked["id"], "helper": HELPER})
    eq(r.status, 201, "a consumer's own objection is not an act under a mandate")


@test
def test_expiry():
    m = mandate("dan", seconds=2)
    eq(consent("dan", m["id"]).status, 201)
    time.sleep(2.2)
    denied(consent("dan", m["id"]), "mandate_expired")
    r = fetch("dan")
    eq(r.status, 200, "the consent given under it stays: %r" % r)


@test
def test_revocation_at_once():
    m = mandate("alice")
    eq(consent("alice", m["id"]).status, 201)
    eq(st().call("fs", "DELETE", "/v1/mandates/" + m["id"]).status, 204)
    denied(consent("alice", m["id"]), "mandate_revoked")
    eq(fetch("alice").status, 200, "consents given under it stay")


@test
def test_objection_on_behalf():
    # caf-address-public-task lets caf have postal_code without consent.
    r = st().call("caf", "POST", "/v1/fetch", {
        "subject": "c-dan", "dataset": "address", "attributes": ["postal_code"],
        "purpose": PURPOSE, "provider": "mairie"})
    eq(r.status, 200)
    body = {"subject": "f-dan", "dataset": "address", "purpose": PURPOSE,
            "helper": HELPER}
    # dan's mandates (test_expiry) cover consent only.
    denied(st().call("fs", "POST", "/v1/objections", body), "mandate_scope")
    m = mandate("dan", actions=("objection",))
    r = st().call("fs", "POST", "/v1/objections", dict(body, mandate=m["id"]))
    eq(r.status, 201, "objection on behalf: %r" % r)
    eq(r.json["subject"], "f-dan")
    r = st().call("caf", "POST", "/v1/fetch", {
        "subject": "c-dan", "dataset": "address", "attributes": ["postal_code"],
        "purpose": PURPOSE, "provider": "mairie"})
    denied(r, "objection")


@test
def test_access_log_through_the_mediator():
    m = mandate("bob", actions=("access_log",))
    r = st().call("fs", "GET", "/v1/access-log?subject=f-bob&helper=" + HELPER +
                  "&mandate=" + m["id"])
    eq(r.status, 200, "access log by the mediator: %r" % r)
    entries = r.json["entries"]
    grants = [e for e in entries if e["type"] == "consent.grant"]
    check(grants, "the consent given on bob's behalf is in his access log")
    for e in grants:
        eq(e["mandate"], True)
        eq(e["mediator"], "franceservices")
        eq(e["helper"], HELPER)
    fetches = [e for e in entries if e["type"] == "fetch"]
    check(fetches, "caf's fetches are in it")
    check(all("mandate" not in e for e in fetches), "a fetch is no act under a mandate")
    # Each act under a mandate commits to the mandate and its helper under
    # bob's view key (docs/audit.md): the citizen's portal can check it.
    v = base64.b64decode(r.json["view_key"])
    for e in grants:
        nonce = base64.b64decode(e["nonce"])
        want = hmac.new(v, b"tellonce/mandate\n" + nonce + st().bob_mandate.encode() +
                        b"\n" + HELPER.encode(), hashlib.sha256).digest()
        eq(e["on_behalf"], base64.b64encode(want).decode(), "on_behalf commitment")
    check(all("on_behalf" not in e for e in fetches), "no on_behalf on a fetch")
    reads = [e for e in entries if e["type"] == "access_log.read"]
    check(reads and reads[0]["mandate"] is True, "the read itself is audited")
    # The portal (transparency) sees the same marks.
    r = st().call("portal", "GET", "/v1/access-log?subject=p-bob")
    eq(r.status, 200)
    marked = [e for e in r.json["entries"] if e["type"] == "mandate.grant"]
    check(marked and all(e["mandate"] and e["helper"] == HELPER for e in marked),
          "mandate.grant entries are marked")
    # The portal's answer, annotations and all, passes the offline check
    # a citizen's portal runs (once a checkpoint covers every entry).
    time.sleep(0.5)
    r = st().call("portal", "GET", "/v1/access-log?subject=p-bob")
    vkey = re.search(r"verifier key (\S+)", st().gw.read_log()).group(1)
    path = os.path.join(st().workdir, "bob-access-log.json")
    with open(path, "w") as f:
        f.write(r.raw)
    done = subprocess.run([TELLONCE, "audit", "verify-subject", path, "--key", vkey],
                          capture_output=True, text=True)
    eq(done.returncode, 0, "verify-subject: " + done.stderr)
    # Without the access_log action: mandate_scope; without any, for carol
    # (whose mandates are all lapsed or out of scope).
    consent_only = mandate("alice")
    r = st().call("fs", "GET", "/v1/access-log?subject=f-alice&mandate=" +
                  consent_only["id"])
    denied(r, "mandate_scope")
    denied(st().call("fs", "GET", "/v1/access-log?subject=f-dan&mandate=nope"),
           "no_mandate")


@test
def test_no_mandate_or_helper_id_in_the_audit_directory():
    # Every mandate and helper id of this run, against every byte written.
    check(st().mandates and st().helpers, "the tests above made some")
    wait_s = 0.5   # a checkpoint_interval of 200ms: the tiles are current
    time.sleep(wait_s)
    audit = os.path.join(st().workdir, "audit")
    seen = 0
    for root, _, files in os.walk(audit):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                data = f.read()
            seen += len(data)
            for secret in list(st().mandates) + list(st().helpers):
                check(secret.encode() not in data,
                      "%s in clear in %s" % (secret, os.path.join(root, name)))
    check(seen > 0, "the audit directory holds entries")
    log = st().gw.read_log()
    for secret in st().helpers:
        check(secret not in log, "helper id in the gateway log")


@test
def test_only_mediators_create_mandates():
    body = {"subject": "c-alice", "helper": HELPER,
            "scope": {"datasets": ["address"], "actions": ["consent"]},
            "expires_at": at(3600)}
    r = st().call("caf", "POST", "/v1/mandates", body)
    eq(r.status, 403)
    eq(r.headers.get("content-type"), "application/problem+json")
    eq(st().call("caf", "GET", "/v1/mandates?subject=c-alice").status, 403)
    eq(st().call("portal", "POST", "/v1/mandates", dict(body, subject="p-alice")).status,
       403)


@test
def test_bad_input_changes_nothing():
    def listed():
        r = st().call("fs", "GET", "/v1/mandates?subject=f-alice")
        eq(r.status, 200)
        return sorted(x["id"] for x in r.json["mandates"])

    before = listed()
    good = {"subject": "f-alice", "helper": HELPER,
            "scope": {"datasets": ["address"], "actions": ["consent"]},
            "expires_at": at(3600)}
    cases = [
        ({k: v for k, v in good.items() if k != "subject"}, "subject"),
        ({k: v for k, v in good.items() if k != "helper"}, "helper"),
        ({k: v for k, v in good.items() if k != "scope"}, "scope"),
        ({k: v for k, v in good.items() if k != "expires_at"}, "expires_at"),
        (dict(good, expires_at=at(366 * 86400)), "max_duration"),
        (dict(good, expires_at=at(-60)), "past"),
        (dict(good, expires_at="next tuesday"), "RFC 3339"),
        (dict(good, scope={"datasets": ["passport"], "actions": ["consent"]}),
         "passport"),
        (dict(good, scope={"datasets": ["address"], "actions": ["vote"]}), "vote"),
        (dict(good, scope={"datasets": ["address"], "actions": []}), "actions"),
        (dict(good, scope={"actions": ["consent"]}), "dataset"),
        (dict(good, scope={"categories": ["papiers"], "actions": ["consent"]}),
         "papiers"),
        (dict(good, scope={"datasets": ["address", "address"], "actions": ["consent"]}),
         "twice"),
        (dict(good, scope={"datasets": ["address"], "actions": ["consent"],
                           "attributes": ["street"]}), "attributes"),
        (dict(good, scope=["address"]), "object"),
        (dict(good, helper="x" * 200), "helper"),
    ]
    for body, word in cases:
        r = st().call("fs", "POST", "/v1/mandates", body)
        eq(r.status, 400, "%s: %r" % (word, r))
        eq(r.headers.get("content-type"), "application/problem+json", word)
        check(word in r.json["detail"], "%r names %s" % (r.json["detail"], word))
    r = st().call("fs", "POST", "/v1/mandates", dict(good, subject="f-nobody"))
    eq(r.status, 404)
    eq(r.json["reason"], "subject_not_linked")
    eq(listed(), before, "no mandate was recorded")
    # An act without its helper is refused before anything is decided.
    r = st().call("fs", "POST", "/v1/consents", {
        "subject": "f-alice", "consumer": "caf", "provider": "mairie",
        "dataset": "address", "attributes": ["city"], "purpose": PURPOSE})
    eq(r.status, 400)
    check("helper" in r.json["detail"], r.json["detail"])


@test
def test_zz_stop_clean():
    eq(st().gw.stop(), 0, "exit status after SIGTERM")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
