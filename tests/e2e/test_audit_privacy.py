#!/usr/bin/python3
"""The public audit log is unlinkable (contract §5): two citizens, each
linked, consenting, fetched and pushed several times. From the public
tiles alone no two entries share a nonce or a commitment, nothing a
service saw is anywhere in the audit directory, and a dictionary of every
five-digit code finds no field of a fetch's entry. With the view key of
the access log, an independent implementation (Python's hmac) recomputes
every commitment of that citizen's entries, and the other citizen's key
matches none. `tellonce audit verify-subject` passes on a real answer and
fails on tampered ones."""
import base64
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import TELLONCE, check, eq, holds_token, run, test, wait_for  # noqa: E402
from pushstack import PushStack, address, pivot, wait_received  # noqa: E402

S = None
CITIZENS = {
    "alice": {"pivot": pivot("Kerjean", "Alice", "1980-02-01"),
              "codes": ("29101", "29102", "29103")},
    "bob": {"pivot": pivot("Le Goff", "Bob", "1975-06-30"),
            "codes": ("35201", "35202", "35203")},
}
FETCHES = 3
COMMITTED = ("nonce", "subject", "consent", "payload")


def jcs(value):
    """RFC 8785 for what the tests exchange (strings and objects only)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode()


class World:
    """What every service saw, and the entries it left."""

    def __init__(self):
        self.s = PushStack("privacy")
        self.seen = set()          # every value a service saw
        self.fetches = {}          # citizen -> [(audit_index, record)]
        self.consents = {}         # citizen -> consent id
        self.pushed = {}           # citizen -> [JCS of the record as sent]
        for name, c in CITIZENS.items():
            self.citizen(name, c)
        m = re.search(r"verifier key (\S+)", self.s.gw.read_log())
        check(m is not None, "the gateway logs its verifier key")
        self.vkey = m.group(1)
        total = len(self.s.audit_entries())
        wait_for(lambda: self.checkpoint_size() >= total, 10,
                 "a checkpoint of every entry")

    def checkpoint_size(self):
        return int(self.s.call(None, "GET", "/audit/checkpoint").raw.split("\n")[1])

    def saw(self, *values):
        self.seen.update(v for v in values if v)

    def citizen(self, name, c):
        s = self.s
        s.link_all(name, c["pivot"])
        s.link("portal", "p-" + name, c["pivot"])
        self.saw(*("%s-%s" % (p, name) for p in "mcsip"))
        r = s.call("caf", "POST", "/v1/consents", {
            "subject": "c-" + name, "provider": "mairie", "dataset": "address",
            "attributes": ["street", "postal_code", "city"],
            "purpose": "benefit-eligibility"})
        eq(r.status, 201, "consent: %r" % r)
        self.consents[name] = r.json["id"]
        self.saw(r.json["id"], r.json["receipt"], *r.json["receipt"].split("."))
        self.fetches[name], self.pushed[name] = [], []
        for i, code in enumerate(c["codes"]):
            record = address("%d rue %s" % (i + 1, name.title()), code, "Ville-" + name,
                             "Pays-" + name)
            s.mairie.seed("m-" + name, "address", record)
            for _ in range(FETCHES):
                r = s.call("caf", "POST", "/v1/fetch", {
                    "subject": "c-" + name, "dataset": "address",
                    "purpose": "benefit-eligibility"})
                eq(r.status, 200, "fetch: %r" % r)
                self.fetches[name].append((r.json["audit_index"], r.json["record"]))
                self.saw(*r.json["record"].values())
            r = s.push("m-" + name, record, key="%s-%d" % (name, i))
            eq(r.status, 202, "push: %r" % r)
            self.saw(r.json["id"], "%s-%d" % (name, i), code)
            self.pushed[name].append(jcs(record))
            wait_received(s, "caf", "c-" + name, count=i + 1)
            wait_received(s, "impots", "i-" + name, count=i + 1)
            wait_received(s, "ccas", "s-" + name, count=i + 1)
        for sub in ("caf", "ccas", "impots"):
            for p in s.received(sub):
                self.saw(p["idempotency_key"], *self.values(p["record"]))

    def values(self, v):
        if isinstance(v, dict):
            return [x for y in v.values() for x in self.values(y)]
        return [v]

    def access_log(self, name):
        r = self.s.call("portal", "GET", "/v1/access-log?subject=p-%s&limit=500" % name)
        eq(r.status, 200, "access log: %r" % r)
        return r

    def public_entries(self):
        """The entries as anyone reads them: the tiles over HTTP."""
        base = "http://127.0.0.1:%d/audit" % self.s.gw.port
        size, _, _, _ = av.verify(base, self.vkey, nproofs=0)
        return [json.loads(e) for e in av.read_entries(av.Source(base), size)]


def world():
    global S
    if S is None:
        S = World()
    return S


@test
def no_two_public_entries_share_a_nonce_or_a_commitment():
    w = world()
    entries = w.public_entries()
    about = [e for e in entries if e["nonce"] is not None]
    check(len(about) > 40, "entries about the two citizens: %d" % len(about))
    values = [e[k] for e in about for k in COMMITTED if e[k] is not None]
    eq(len(values), len(set(values)), "every nonce and commitment is unique")
    for e in entries:
        check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["ts"]), "ts to the second")
        for k in COMMITTED:
            if e[k] is not None:
                eq(len(base64.b64decode(e[k])), 16 if k == "nonce" else 32, k)
    for e in entries:
        if e["nonce"] is None:
            check(all(e[k] is None for k in COMMITTED), "no subject, no commitment")


@test
def nothing_a_service_saw_is_in_the_audit_directory():
    w = world()
    check(len(w.seen) > 40, "values collected: %d" % len(w.seen))
    root = os.path.join(w.s.workdir, "audit")
    blobs = []
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                blobs.append((os.path.relpath(os.path.join(d, f), root), fh.read()))
    check(len(blobs) > 3, "the audit files")
    found = ["%s in %s" % (v, path) for v in w.seen for path, data in blobs
             if holds_token(data, str(v))]
    eq(found, [], "values a service saw, found in the audit directory")


@test
def a_dictionary_of_every_five_digit_code_finds_no_fetch_field():
    w = world()
    entries = w.public_entries()
    fetched = [entries[i] for recs in w.fetches.values() for i, _ in recs]
    check(len(fetched) == 2 * 3 * FETCHES, "the fetch entries")
    fields = set()
    for e in fetched:
        for v in e.values():
            for x in (v if isinstance(v, list) else [v]):
                if isinstance(x, str):
                    fields.add(x)
                    fields.add(x.lower())
    # One record as fetched, with its postal code as the unknown.
    _, sample = w.fetches["alice"][0]

    def attack(targets):
        hits = []
        for n in range(100000):
            code = "%05d" % n
            for text in (code.encode(), jcs({"postal_code": code}),
                         jcs(dict(sample, postal_code=code))):
                d = hashlib.sha256(text).digest()
                if d.hex() in targets or base64.b64encode(d).decode() in targets:
                    hits.append(code)
        return hits

    # The attack does find a plain hash of the record, as the entries of
    # contract version 1 had it.
    eq(attack({hashlib.sha256(jcs(sample)).hexdigest()}), [sample["postal_code"]],
       "the dictionary reverses a plain SHA-256")
    eq(attack(fields), [], "codes whose hash is a field of a fetch entry")


@test
def the_view_key_opens_every_commitment_of_its_citizen_and_no_other():
    w = world()
    entries = w.public_entries()
    keys = {n: base64.b64decode(w.access_log(n).json["view_key"]) for n in CITIZENS}
    eq(len(set(keys.values())), 2, "one view key per citizen")
    for name, key in keys.items():
        other = keys["bob" if name == "alice" else "alice"]
        log = w.access_log(name).json["entries"]
        check(len(log) >= 3 * (FETCHES + 1) + 5, "%s's access log" % name)
        mine = set()
        for e in log:
            nonce = base64.b64decode(e["nonce"])
            eq(e["subject"], av.commitment(key, "subject", nonce), "subject")
            check(e["subject"] != av.commitment(other, "subject", nonce),
                  "the other key does not open it")
            mine.add(e["audit_index"])
        # Every public entry about this citizen is in its access log, and
        # the other key opens none of them.
        for i, e in enumerate(entries):
            if e["nonce"] is None:
                continue
            nonce = base64.b64decode(e["nonce"])
            if e["subject"] == av.commitment(key, "subject", nonce):
                check(i in mine, "entry %d is in %s's access log" % (i, name))
                check(e["subject"] != av.commitment(other, "subject", nonce), "one owner")
        cid = w.consents[name].encode()
        for index, record in w.fetches[name]:
            e = entries[index]
            nonce = base64.b64decode(e["nonce"])
            eq(e["payload"], av.commitment(key, "payload", nonce, jcs(record)),
               "fetch %d commits to the record answered" % index)
            eq(e["consent"], av.commitment(key, "consent", nonce, cid),
               "fetch %d commits to the consent" % index)
        pushes = [entries[i] for i in mine if entries[i]["type"] == "push"]
        eq(len(pushes), len(w.pushed[name]), "one push entry per push")
        for e in pushes:
            nonce = base64.b64decode(e["nonce"])
            check(any(e["payload"] == av.commitment(key, "payload", nonce, body)
                      for body in w.pushed[name]),
                  "a push entry commits to a record as the provider sent it")
        delivered = [entries[i] for i in mine if entries[i]["type"] == "deliver"
                     and entries[i]["consumer"] == "caf"]
        bodies = [jcs(p["record"]) for p in w.s.received("caf", "c-" + name)]
        for e in delivered:
            nonce = base64.b64decode(e["nonce"])
            check(len(delivered) >= 3, "deliveries to caf")
        for e in delivered:
            nonce = base64.b64decode(e["nonce"])
            check(any(e["payload"] == av.commitment(key, "payload", nonce, b)
                      for b in bodies), "a deliver entry commits to a body caf got")


def verify_subject(answer, vkey):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(answer, f)
    try:
        return subprocess.run([TELLONCE, "audit", "verify-subject", f.name, "--key", vkey],
                              capture_output=True, text=True, timeout=30)
    finally:
        os.unlink(f.name)


@test
def verify_subject_passes_on_a_real_answer_and_fails_on_tampered_ones():
    w = world()
    answer = w.access_log("alice").json
    r = verify_subject(answer, w.vkey)
    eq(r.returncode, 0, "verify-subject: " + r.stderr)
    check("ok, %d entries" % len(answer["entries"]) in r.stdout, r.stdout)

    def tampered(change):
        a = json.loads(json.dumps(answer))
        change(a)
        return verify_subject(a, w.vkey)

    cases = {
        "an entry's purpose": lambda a: a["entries"][0].update(purpose="other"),
        "an entry's payload": lambda a: a["entries"][0].update(
            payload=base64.b64encode(b"\0" * 32).decode()),
        "another's view key": lambda a: a.update(
            view_key=w.access_log("bob").json["view_key"]),
        "bob's entry slipped in": lambda a: a["entries"].append(
            w.access_log("bob").json["entries"][0]),
        "the checkpoint": lambda a: a.update(checkpoint=a["checkpoint"].replace(
            "\n%d\n" % w.checkpoint_size(), "\n%d\n" % (w.checkpoint_size() + 1), 1)),
        "an audit index": lambda a: a["entries"][0].update(
            audit_index=a["entries"][0]["audit_index"] + 1),
    }
    for what, change in cases.items():
        r = tampered(change)
        eq(r.returncode, 1, "tampered %s: %s" % (what, r.stdout))
        check("verification failed" in r.stderr, r.stderr)
    other = w.vkey.split("+")
    r = verify_subject(answer, "%s+%s+%s" % (other[0], "00000000", other[2]))
    check(r.returncode != 0, "a wrong verifier key")


@test
def a_log_kept_for_auditors_serves_its_tiles_only_with_the_admin_token():
    w = world()
    s = w.s
    size = w.checkpoint_size()
    paths = ("/audit/checkpoint", "/audit/tile/0/000.p/%d" % size if size < 256
             else "/audit/tile/0/000", "/v1/audit/proof/inclusion?index=0&size=2",
             "/v1/audit/proof/consistency?from=1&to=2", "/v1/audit/entry?index=1")
    for p in paths:
        eq(s.call(None, "GET", p).status, 200, "public: " + p)
    with open(s.gw.config) as f:
        text = f.read()
    with open(s.gw.config, "w") as f:
        f.write(text.replace("    checkpoint_interval:", "    public: false\n"
                             "    checkpoint_interval:", 1))
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: s.call(None, "GET", "/audit/checkpoint").status == 401, 10,
             "the reload to public: false")
    for p in paths:
        eq(s.call(None, "GET", p).status, 401, "anyone: " + p)
        eq(s.call("caf", "GET", p).status, 401, "a service: " + p)
        eq(s.admin("GET", p).status, 200, "the admin token: " + p)


@test
def a_callers_request_id_links_nothing():
    # A service that sends one X-Request-Id for a citizen's case (here her
    # local id) would link her entries in the public tiles if the gateway
    # kept it: each request gets an id of the gateway's own, which is the
    # one the entry and the answer carry.
    w = world()
    indexes = []
    for _ in range(2):
        r = w.s.call("caf", "POST", "/v1/fetch", {
            "subject": "c-alice", "dataset": "address",
            "purpose": "benefit-eligibility"}, headers={"X-Request-Id": "c-alice"})
        eq(r.status, 200, "fetch: %r" % r)
        check(r.headers.get("x-request-id") != "c-alice", "the caller's id is not kept")
        indexes.append((r.json["audit_index"], r.headers.get("x-request-id")))
    ids = [w.s.admin("GET", "/v1/audit/entry?index=%d" % i).json["entry"]["request_id"]
           for i, _ in indexes]
    eq(ids, [rid for _, rid in indexes], "the entry's request_id is the answer's")
    eq(len(set(ids)), 2, "two requests, two ids")


@test
def a_callers_free_text_is_in_no_entry():
    # A purpose or an attribute name that no policy or dataset has is a
    # caller's free text (a case number, a name): a denial must not publish
    # it, nor an objection, whose purpose nothing checks.
    w = world()
    texts = ["c-alice-case-%d" % n for n in range(4)]
    before = len(w.s.audit_entries())
    r = w.s.call("caf", "POST", "/v1/fetch", {
        "subject": "c-alice", "dataset": "address", "purpose": texts[0]})
    eq(r.json.get("reason"), "purpose_mismatch", "fetch: %r" % r)
    r = w.s.call("caf", "POST", "/v1/fetch", {
        "subject": "c-alice", "dataset": "address", "purpose": "benefit-eligibility",
        "attributes": ["street", texts[1]]})
    eq(r.json.get("reason"), "attribute_not_permitted", "fetch: %r" % r)
    r = w.s.call("caf", "POST", "/v1/consents", {
        "subject": "c-alice", "provider": "mairie", "dataset": "address",
        "attributes": ["street"], "purpose": texts[2]})
    eq(r.status, 403, "consent: %r" % r)
    r = w.s.call("caf", "POST", "/v1/objections", {
        "subject": "c-alice", "dataset": "address", "purpose": texts[3]})
    eq(r.status, 201, "objection: %r" % r)
    entries = w.s.audit_entries()
    eq(len(entries), before + 4, "each of them audited")
    found = [t for t in texts for e in entries if t in json.dumps(e)]
    eq(found, [], "a caller's free text in an entry")
    asked = [e for e in entries if e["type"] == "fetch" and e["attributes"] == ["street"]
             and e["reason"] == "attribute_not_permitted"]
    eq(len(asked), 1, "the denied fetch names the dataset's attributes it asked for")


@test
def cleanup():
    if S is not None:
        S.s.stop()


if __name__ == "__main__":
    run()
