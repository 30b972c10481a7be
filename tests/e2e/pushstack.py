"""Shared by the push tests: a gateway with one provider (mairie) and
three subscriber partners (caf, ccas, impots) with different policies and
field names, and helpers to push, inspect what partners received and read
the audit log from disk."""
import base64
import datetime
import glob
import http.client
import json
import os
import shutil
import sqlite3
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import (KEYS, Gateway, Partner, check, eq, free_port, preamble,  # noqa: E402
                     make_signing_key, make_workdir, wait_for)

ENV = dict(KEYS, IMPOTS_KEY="impots-secret-key")
ADMIN = KEYS["TELLONCE_ADMIN_TOKEN"]


def push_config(port, workdir, urls, caf_basis="consent"):
    """mairie provides address (pushing in its own nested field names); caf
    (consent only: street, postal_code, city), ccas
    (legal obligation: city, as commune.nom) and impots (public task:
    postal_code and country, as cp and pays) subscribe to it."""
    return preamble(port, workdir) + """\
services:
  mairie:
    name: Mairie de Quimper
    auth: {api_key: env:MAIRIE_KEY}
    connector:
      type: http
      base_url: %(mairie)s
      fetch: {method: GET, path: "/citizens/{local_id}/address"}
      map: {street: adresse.voie, postal_code: adresse.cp, city: adresse.commune, country: adresse.pays}
  caf:
    name: Caisse d'allocations familiales
    auth: {api_key: env:CAF_KEY}
    connector:
      type: http
      base_url: %(caf)s
      timeout: 1s
      push: {method: PUT, path: "/citizens/{local_id}/address"}
    subscribes: [{dataset: address, from: mairie}]
    delivery: {base: 50ms, cap: 400ms, max_attempts: 100, concurrency: 8,
               circuit_threshold: 3, circuit_cooldown: 300ms}
  ccas:
    name: Centre communal d'action sociale
    auth: {api_key: env:CCAS_KEY}
    connector:
      type: http
      base_url: %(ccas)s
      timeout: 1s
      push: {method: POST, path: "/citizens/{local_id}/address"}
      map: {city: commune.nom}
    subscribes: [{dataset: address, from: mairie}]
    delivery: {base: 50ms, cap: 400ms, concurrency: 8, circuit_cooldown: 500ms}
  impots:
    name: Finances publiques
    auth: {api_key: env:IMPOTS_KEY}
    connector:
      type: http
      base_url: %(impots)s
      timeout: 1s
      push: {method: PUT, path: "/citizens/{local_id}/address"}
      map: {postal_code: cp, country: pays}
    subscribes: [{dataset: address, from: mairie}]
    delivery: {base: 50ms, cap: 400ms, max_attempts: 3, concurrency: 8, circuit_cooldown: 500ms}
  portal:
    name: Citizen portal
    auth: {api_key: env:PORTAL_KEY}
    roles: [transparency]

policies:
  - id: caf-address
    consumer: caf
    provider: mairie
    dataset: address
    attributes: [street, postal_code, city]
    purpose: benefit-eligibility
    basis: %(caf_basis)s
    legal_reference: "CSS L114-19"
  - id: ccas-address-legal
    consumer: ccas
    provider: mairie
    dataset: address
    attributes: [city]
    purpose: social-aid
    basis: legal_obligation
    legal_reference: "CASF L123-5"
  - id: impots-address
    consumer: impots
    provider: mairie
    dataset: address
    attributes: [street, postal_code, country]
    purpose: tax-assessment
    basis: public_task
    legal_reference: "LPF L81"
""" % dict(port=port, workdir=workdir, caf_basis=caf_basis, **urls)


def audit_entries(workdir):
    """Every audit entry on disk (bundles and the journal), parsed."""
    root = os.path.join(workdir, "audit")
    seen, out = set(), []
    files = glob.glob(os.path.join(root, "tile", "entries", "**", "*"), recursive=True)
    for path in files + [os.path.join(root, "journal")]:
        if not os.path.isfile(path):
            continue
        data = open(path, "rb").read()
        at = 8 if path.endswith("journal") else 0
        while at + 2 <= len(data):
            (n,) = struct.unpack(">H", data[at:at + 2])
            if n == 0:  # the journal's zeroed space past its last entry
                break
            raw = data[at + 2:at + 2 + n]
            at += 2 + n
            if raw not in seen and len(raw) == n:
                seen.add(raw)
                out.append(json.loads(raw))
    return out


class PushStack:
    """mairie (provider) and three subscriber partners behind a gateway."""

    SUBSCRIBERS = ("caf", "ccas", "impots")

    def __init__(self, name, caf_basis="consent", edit=lambda text: text,
                 prepare=None, env=None):
        """edit: changes the config text before the gateway starts;
        prepare(workdir), when given, runs before it starts too
        (tests/faults mounts file systems there); env: more variables for
        the gateway."""
        self.workdir = make_workdir(name)
        if prepare is not None:
            prepare(self.workdir)
        make_signing_key(self.workdir)
        self.partners = {n: Partner(self.workdir, n) for n in ("mairie",) + self.SUBSCRIBERS}
        port = free_port()
        urls = {n: p.url for n, p in self.partners.items()}
        text = edit(push_config(port, self.workdir, urls, caf_basis))
        self.gw = Gateway(self.workdir, text, dict(ENV, **(env or {})))
        self.gw.start(port)

    def __getattr__(self, name):
        if name in ("mairie",) + self.SUBSCRIBERS:
            return self.partners[name]
        raise AttributeError(name)

    def call(self, service, method, path, body=None, **kw):
        key = ENV[service.upper() + "_KEY"] if service else None
        return self.gw.call(method, path, body, key=key, **kw)

    def admin(self, method, path, body=None):
        return self.gw.call(method, path, body, key=ADMIN)

    def link(self, service, local_id, pivot):
        r = self.call(service, "POST", "/v1/links", {"local_id": local_id, "pivot": pivot})
        check(r.status in (200, 201), "link %s/%s: %r" % (service, local_id, r))

    def link_all(self, suffix, pivot):
        for svc, prefix in (("mairie", "m"), ("caf", "c"), ("ccas", "s"), ("impots", "i")):
            self.link(svc, "%s-%s" % (prefix, suffix), pivot)

    def link_subjects(self, suffixes, family):
        """Links one citizen per suffix at every service, the nth named
        (family, "Subject n")."""
        for n, suffix in enumerate(suffixes):
            self.link_all(suffix, pivot(family, "Subject %d" % n, "1970-01-01"))

    def push(self, subject, record, key=None, dataset="address"):
        body = {"subject": subject, "dataset": dataset, "record": record}
        if key is not None:
            body["idempotency_key"] = key
        return self.call("mairie", "POST", "/v1/records", body)

    def received(self, name, local_id=None):
        got = self.partners[name].control("GET", "received")["received"]
        return [p for p in got if local_id is None or p["local_id"] == local_id]

    def requests(self, name, local_id):
        return [q for q in self.partners[name].control("GET", "requests")
                if q["path"].startswith("/citizens/%s/" % local_id)]

    def audit_entries(self):
        """Every audit entry on disk (bundles and the journal), parsed."""
        return audit_entries(self.workdir)

    def view_key(self, service, local_id):
        """The view key of the subject behind a service's local id, read
        from the store: what the access log answers a portal."""
        db = sqlite3.connect(os.path.join(self.workdir, "tellonce.db"))
        try:
            row = db.execute("SELECT v.key FROM links l JOIN view_keys v "
                             "ON v.subject = l.subject WHERE l.service = ? "
                             "AND l.local_id = ?", (service, local_id)).fetchone()
        finally:
            db.close()
        check(row is not None, "a view key for %s/%s" % (service, local_id))
        return bytes(row[0])

    def entries_about(self, view_key, entries=None):
        """The entries whose subject commitment is the one of view_key."""
        if entries is None:
            entries = self.audit_entries()
        return [e for e in entries if e["nonce"] is not None and e["subject"] ==
                av.commitment(view_key, "subject", base64.b64decode(e["nonce"]))]

    def stop(self):
        self.gw.stop()
        for p in self.partners.values():
            p.stop()
        if not os.environ.get("KEEP_WORKDIR"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def address(street, cp, city, country="FR"):
    return {"adresse": {"voie": street, "cp": cp, "commune": city, "pays": country}}


def iso_in(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def grant(s, subject, attributes=("street", "postal_code", "city")):
    r = s.call("caf", "POST", "/v1/consents", {
        "subject": subject, "provider": "mairie", "dataset": "address",
        "attributes": list(attributes), "purpose": "benefit-eligibility",
        "expires_at": iso_in(3600)})
    eq(r.status, 201, "consent: %r" % r)
    return r.json["id"]


def wait_received(s, name, local_id, count=1, timeout=15):
    wait_for(lambda: len(s.received(name, local_id)) >= count, timeout,
             "%d pushes for %s at %s" % (count, local_id, name))
    return s.received(name, local_id)


def pivot(family, given, birthdate):
    return {"family_name": family, "given_names": given, "birthdate": birthdate,
            "birthplace": "Brest", "gender": "F"}


def dead_letters(s):
    r = s.admin("GET", "/v1/deliveries?status=dead")
    eq(r.status, 200, "dead letters: %r" % r)
    return r.json["deliveries"]


class Pusher(threading.Thread):
    """Pushes versions 1..versions of its subjects in order, each one until
    it is answered 202 (the same idempotency key on every try). With
    several ports (the nodes of one deployment), each try goes to the next
    one. Every answer's status and how long it took are kept."""

    def __init__(self, ports, subjects, versions):
        super().__init__(daemon=True)
        self.ports = ports if isinstance(ports, list) else [ports]
        self.subjects = subjects
        self.versions = versions
        self.accepted = {}       # record id -> (subject, version)
        self.answers = []        # (status or None, seconds, monotonic end)
        self.conns = {}
        self.tries = 0
        self.error = None

    def post(self, body):
        port = self.ports[self.tries % len(self.ports)]
        self.tries += 1
        if port not in self.conns:
            self.conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        t0 = time.monotonic()
        try:
            self.conns[port].request("POST", "/v1/records", json.dumps(body), {
                "Authorization": "Bearer " + ENV["MAIRIE_KEY"],
                "Content-Type": "application/json"})
            resp = self.conns[port].getresponse()
            status, data = resp.status, resp.read()
        except (OSError, http.client.HTTPException):
            self.conns.pop(port).close()
            status, data = None, None
        self.answers.append((status, time.monotonic() - t0, time.monotonic()))
        return status, data

    def run(self):
        try:
            for v in range(1, self.versions + 1):
                for subj in self.subjects:
                    body = {"subject": "m-" + subj, "dataset": "address",
                            "idempotency_key": "%s-%d" % (subj, v),
                            "record": address(subj, "%05d" % v, "v%05d" % v)}
                    while True:
                        status, data = self.post(body)
                        if status == 202:
                            self.accepted[json.loads(data)["id"]] = (subj, v)
                            break
                        if status is not None and status != 503:
                            raise AssertionError("push %s: %d %r" % (body["idempotency_key"],
                                                                     status, data))
                        time.sleep(0.05)
        except Exception as e:  # reported by the test
            self.error = e


# Where each subscriber finds the version in its own view of the record.
VERSION_OF = {
    "caf": lambda r: int(r["postal_code"]),
    "ccas": lambda r: int(r["commune"]["nom"][1:]),
    "impots": lambda r: int(r["cp"]),
}


def applied(s, name):
    """{local_id: [versions applied, in order]} and the whole received list."""
    got = s.partners[name].control("GET", "received")
    out = {}
    for p in got["received"]:
        if not p["duplicate"]:
            out.setdefault(p["local_id"], []).append(VERSION_OF[name](p["record"]))
    return out, got


SUBSCRIBER_PREFIXES = {"caf": "c-", "ccas": "s-", "impots": "i-"}


def wait_delivered_in_order(s, subjects, versions, timeout=90):
    """Waits until every subscriber holds each subject's last version, then
    checks they got them in order, each key applied once; returns the
    duplicates each received. s has .partners (a PushStack or alike)."""
    dups = {}
    for name, prefix in SUBSCRIBER_PREFIXES.items():
        wait_for(lambda: all(applied(s, name)[0].get(prefix + subj, [0])[-1] == versions
                             for subj in subjects), timeout,
                 "%s to hold every latest version" % name)
        got, raw = applied(s, name)
        for subj in subjects:
            seen = got[prefix + subj]
            eq(seen, sorted(set(seen)), "%s %s: applied in order, once each" % (name, subj))
        keys = [p["idempotency_key"] for p in raw["received"]]
        eq(len(set(keys)), len([p for p in raw["received"] if not p["duplicate"]]),
           "%s: a key is applied once" % name)
        dups[name] = raw["duplicates"]
    return dups
