"""Push fan-out end to end: POST /v1/records, the durable outbox, delivery to
three real subscribers with different policies, ordering, retries, dead
letters and their replay, consent revoked in between, the changes feed."""
import datetime
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, BOB_PIVOT, KEYS, Gateway, Partner, check, eq,  # noqa: E402
                     free_port, make_signing_key, make_workdir, run, test, wait_for)

ENV = dict(KEYS, IMPOTS_KEY="impots-secret-key")
ADMIN = KEYS["TELLONCE_ADMIN_TOKEN"]


def push_config(port, workdir, urls, extra=""):
    """mairie provides address (pushing in its own nested field names); caf
    (consent: street, postal_code, city; or public task: postal_code), ccas
    (legal obligation: city, as commune.nom) and impots (public task:
    postal_code and country, as cp and pays) subscribe to it."""
    return """\
gateway:
  listen: 127.0.0.1:%(port)d
  workers: 2
  store: sqlite:%(workdir)s/tellonce.db
  pseudonym_key: env:TELLONCE_PSEUDONYM_KEY
  admin_token: env:TELLONCE_ADMIN_TOKEN
  audit:
    dir: %(workdir)s/audit
    origin: audit.tellonce.test/log
    signing_key: file:%(workdir)s/audit.key
    checkpoint_interval: 200ms

datasets:
  address:
    attributes: {street: string, postal_code: string, city: string, country: string}

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
    delivery: {base: 50ms, cap: 400ms, max_attempts: 100, circuit_threshold: 3, circuit_cooldown: 300ms}
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
    delivery: {base: 50ms, cap: 400ms}
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
    delivery: {base: 50ms, cap: 400ms, max_attempts: 3}
  portal:
    name: Citizen portal
    auth: {api_key: env:PORTAL_KEY}

policies:
  - id: caf-address
    consumer: caf
    provider: mairie
    dataset: address
    attributes: [street, postal_code, city]
    purpose: benefit-eligibility
    basis: consent
  - id: caf-address-public-task
    consumer: caf
    provider: mairie
    dataset: address
    attributes: [postal_code]
    purpose: benefit-eligibility
    basis: public_task
    legal_reference: "CRPA L114-8"
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
%(extra)s""" % dict(port=port, workdir=workdir, extra=extra, **urls)


class PushStack:
    """mairie (provider) and three subscriber partners behind a gateway."""

    SUBSCRIBERS = ("caf", "ccas", "impots")

    def __init__(self, name):
        self.workdir = make_workdir(name)
        make_signing_key(self.workdir)
        self.partners = {n: Partner(self.workdir, n) for n in ("mairie",) + self.SUBSCRIBERS}
        port = free_port()
        urls = {n: p.url for n, p in self.partners.items()}
        self.gw = Gateway(self.workdir, push_config(port, self.workdir, urls), ENV)
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

    def push(self, subject, record, key=None, dataset="address"):
        body = {"subject": subject, "dataset": dataset, "record": record}
        if key is not None:
            body["idempotency_key"] = key
        return self.call("mairie", "POST", "/v1/records", body)

    def received(self, name):
        return self.partners[name].control("GET", "received")

    def stop(self):
        self.gw.stop()
        for p in self.partners.values():
            p.stop()
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


def wait_received(s, name, count, timeout=15):
    wait_for(lambda: len(s.received(name)["received"]) >= count, timeout,
             "%d pushes at %s" % (count, name))
    return s.received(name)["received"]


S = None


def st():
    global S
    if S is None:
        S = PushStack("push")
        S.link_all("alice", ALICE_PIVOT)
        S.link_all("bob", BOB_PIVOT)
    return S


@test
def fan_out_gives_each_subscriber_its_own_view():
    s = st()
    grant(s, "c-alice")
    r = s.push("m-alice", address("12 rue Kéréon", "29000", "Quimper"), key="fan-1")
    eq(r.status, 202, "accepted: %r" % r)
    eq(r.json["deliveries"], 3, "one delivery per subscriber")
    check(len(r.json["id"]) == 32, "record id")
    caf = wait_received(s, "caf", 1)
    ccas = wait_received(s, "ccas", 1)
    impots = wait_received(s, "impots", 1)
    eq([(p["local_id"], p["record"]) for p in caf],
       [("c-alice", {"street": "12 rue Kéréon", "postal_code": "29000", "city": "Quimper"})],
       "caf: what the consent permits, in attribute names, for its own id")
    eq([(p["local_id"], p["record"]) for p in ccas],
       [("s-alice", {"commune": {"nom": "Quimper"}})], "ccas: city only, as commune.nom")
    eq([(p["local_id"], p["record"]) for p in impots],
       [("i-alice", {"cp": "29000", "pays": "FR"})],
       "impots: postal code and country (its map has no street)")
    keys = {p["idempotency_key"] for p in caf + ccas + impots}
    eq(len(keys), 3, "one Idempotency-Key per delivery")


if __name__ == "__main__":
    try:
        run()
    finally:
        if S is not None:
            S.stop()
