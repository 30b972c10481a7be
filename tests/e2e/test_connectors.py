"""The same scenarios end to end whichever connector a service uses: http (a
real partner), sql on SQLite, sql on a PostgreSQL server of the test's own,
file, and the example plugin loaded with dlopen. Each town service keeps the
same citizen in its own shape (French field names, a padded town name) and
its map, with transforms, brings it to the address dataset.

- fetch: caf fetches the address from each town through the gateway;
- push: etat_civil pushes a move (POST /v1/records), the delivery worker
  writes it to every town through its connector, and a fetch from each town
  gives the new address back (the plugin keeps pushes in the delivery
  worker's own instance, so for it the deliver entry of the subject's
  access log is the proof);
- `tellonce connector test` on every type, and broken plugins as config
  errors."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, BUILD, KEYS, ROOT, TELLONCE, Gateway,  # noqa: E402
                     Partner, check, eq, free_port, make_signing_key, make_workdir,
                     preamble, run, test, wait_for)

PGSERVER = os.path.join(ROOT, "tests", "tools", "pgserver.sh")
EXAMPLE = os.path.join(ROOT, BUILD, "connectors", "example.so")
WRONG_ABI = os.path.join(ROOT, BUILD, "tests", "plugins", "wrong_abi.so")
PROVIDERS = ("town_http", "town_sqlite", "town_pg", "town_file", "town_plugin")
KEYS = dict(KEYS, ETAT_CIVIL_KEY="etat-civil-secret-key",
            **{p.upper() + "_KEY": p + "-secret-key" for p in PROVIDERS})
ADDRESS = {"street": "12 rue Kéréon", "postal_code": "29000", "city": "Quimper",
           "country": "FR"}
MOVED = {"street": "3 place Saint-Corentin", "postal_code": "29100", "city": "Douarnenez",
         "country": "FR"}
# Alice as each provider stores her: its own names, its own quirks.
RAW = {"voie": "12 rue Kéréon", "cp": "29000", "ville": "  Quimper ", "naissance": "12/03/1984"}
SQL_SCHEMA = ("CREATE TABLE habitants (id TEXT PRIMARY KEY, voie TEXT, cp TEXT, "
              "ville TEXT, naissance TEXT, seq BIGINT)")
SQL_SEED = ("INSERT INTO habitants VALUES ('m-alice', '12 rue Kéréon', '29000', "
            "'  Quimper ', '12/03/1984', 1)")
MAP = """\
      map:
        street: voie
        postal_code: cp
        city: {path: ville, transform: [trim]}
        country: {transform: [{constant: FR}]}
"""

S = None


def service(sid, connector):
    return """\
  %s:
    name: %s
    auth: {api_key: env:%s_KEY}
    subscribes: [{dataset: address, from: etat_civil}]
    delivery: {base: 50ms, cap: 200ms, max_attempts: 5}
    connector:
%s%s""" % (sid, sid, sid.upper(), connector, MAP)


def policies(town):
    return """\
  - id: caf-%(town)s
    consumer: caf
    provider: %(town)s
    dataset: address
    attributes: [street, postal_code, city, country]
    purpose: benefit-eligibility
    basis: public_task
    legal_reference: "CRPA L114-8"
  - id: %(town)s-moves
    consumer: %(town)s
    provider: etat_civil
    dataset: address
    attributes: [street, postal_code, city, country]
    purpose: address-update
    basis: public_task
    legal_reference: "CRPA L114-8"
""" % dict(town=town)


def config(port, workdir, partner_url):
    connectors = {
        "town_http": """\
      type: http
      base_url: %s
      fetch: {method: GET, path: "/citizens/{local_id}/address"}
      push: {method: PUT, path: "/citizens/{local_id}/address"}
""" % partner_url,
        "town_sqlite": """\
      type: sql
      driver: sqlite
      path: town.db
      table: habitants
      key_column: id
      columns: [voie, cp, ville, naissance]
""",
        "town_pg": """\
      type: sql
      driver: postgresql
      dsn: env:TOWN_PG_DSN
      table: habitants
      key_column: id
      columns: [voie, cp, ville, naissance]
      cursor_column: seq
""",
        "town_file": """\
      type: file
      dir: exchange
""",
        "town_plugin": """\
      type: plugin
      path: %s
      records:
        m-alice: '%s'
""" % (EXAMPLE, json.dumps(RAW, ensure_ascii=False)),
    }
    return preamble(port, workdir) + """\
services:
  caf:
    name: Caisse d'allocations familiales
    auth: {api_key: env:CAF_KEY}
  etat_civil:
    name: Etat civil
    auth: {api_key: env:ETAT_CIVIL_KEY}
  portal:
    name: Citizen portal
    auth: {api_key: env:PORTAL_KEY}
    roles: [transparency]
%(services)s
policies:
%(policies)s""" % dict(port=port, workdir=workdir,
                       services="".join(service(p, connectors[p]) for p in PROVIDERS),
                       policies="".join(policies(p) for p in PROVIDERS))


class World:
    """Five providers holding Alice, and a gateway in front of them."""

    def __init__(self):
        self.workdir = make_workdir("connectors")
        make_signing_key(self.workdir)
        self.pgdir = make_workdir("pg")
        self.partner = None
        self.gw = None
        # Half a world is stopped here: the module's teardown sees only
        # a world that was made whole.
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        dsn = subprocess.run([PGSERVER, "start", self.pgdir], check=True,
                             capture_output=True, text=True).stdout.strip()
        self.env = dict(KEYS, TOWN_PG_DSN=dsn)
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", dsn, "-c", SQL_SCHEMA,
                        "-c", SQL_SEED], check=True, capture_output=True)
        db = sqlite3.connect(os.path.join(self.workdir, "town.db"))
        db.execute(SQL_SCHEMA)
        db.execute(SQL_SEED)
        db.commit()
        db.close()
        os.mkdir(os.path.join(self.workdir, "exchange"))
        with open(os.path.join(self.workdir, "exchange", "m-alice.json"), "w") as f:
            json.dump(RAW, f, ensure_ascii=False)
        self.partner = Partner(self.workdir, "town_http")
        self.partner.seed("m-alice", "address", RAW)
        port = free_port()
        self.gw = Gateway(self.workdir, config(port, self.workdir, self.partner.url),
                          self.env)
        self.gw.start(port)

    def call(self, service, method, path, body=None):
        return self.gw.call(method, path, body, key=KEYS[service.upper() + "_KEY"])

    def stop(self):
        if self.gw:
            self.gw.stop()
        if self.partner:
            self.partner.stop()
        subprocess.run([PGSERVER, "stop", self.pgdir], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)


def world():
    global S
    if S is None:
        S = World()
        for svc, local_id in (("caf", "caf-alice"), ("etat_civil", "e-alice"),
                              ("portal", "p-alice")):
            r = S.call(svc, "POST", "/v1/links", {"local_id": local_id, "pivot": ALICE_PIVOT})
            eq(r.status, 201, "link %s: %r" % (local_id, r))
        for p in PROVIDERS:
            r = S.call(p, "POST", "/v1/links", {"local_id": "m-alice", "pivot": ALICE_PIVOT})
            eq(r.status, 201, "link %s/m-alice: %r" % (p, r))
    return S


def tellonce(*args):
    return subprocess.run([TELLONCE] + list(args), capture_output=True, text=True,
                          env=dict(os.environ, **world().env), timeout=60,
                          cwd=world().workdir)


def fetch(provider):
    r = world().call("caf", "POST", "/v1/fetch", {
        "subject": "caf-alice", "dataset": "address", "provider": provider,
        "purpose": "benefit-eligibility"})
    eq(r.status, 200, "fetch through %s: %r" % (provider, r))
    return r.json["record"]


def delivered_to(town):
    r = world().call("portal", "GET", "/v1/access-log?subject=p-alice&limit=500")
    eq(r.status, 200, "access log: %r" % r)
    return any(e["type"] == "deliver" and e["consumer"] == town and e["decision"] == "allow"
               for e in r.json["entries"])


@test
def fetch_is_the_same_whichever_connector():
    for p in PROVIDERS:
        eq(fetch(p), ADDRESS, "record through %s" % p)


@test
def connector_test_prints_raw_and_mapped_for_every_type():
    cfg = world().gw.config
    for p in PROVIDERS:
        r = tellonce("connector", "test", "-c", cfg, p, "--subject", "m-alice")
        eq(r.returncode, 0, "connector test %s: %s%s" % (p, r.stdout, r.stderr))
        lines = r.stdout.splitlines()
        check(lines[0] in ("status: ok", "status: ok (HTTP 200)"), "%s status: %r" % (p, lines))
        raw = [line for line in lines if line.startswith("raw: ")]
        eq(len(raw), 1, "%s raw line" % p)
        eq(json.loads(raw[0][5:])["ville"], "  Quimper ", "%s raw is the service's own" % p)
        check("mapped address: " + json.dumps(ADDRESS, sort_keys=True, separators=(",", ":"),
                                              ensure_ascii=False) in lines,
              "%s mapped line in %r" % (p, lines))
        r = tellonce("connector", "test", "-c", cfg, p)
        eq(r.returncode, 0, "%s health: %r" % (p, r.stdout))
        check(r.stdout.startswith("status: ok"), "%s health: %r" % (p, r.stdout))
        r = tellonce("connector", "test", "-c", cfg, p, "--subject", "m-nobody")
        eq(r.returncode, 1, "%s unknown subject: %r" % (p, r.stdout))
        want = ("status: not_found (HTTP 404)\ndetail: service answered HTTP 404\n"
                if p == "town_http" else "status: not_found\n")
        eq(r.stdout, want, "%s unknown subject" % p)


@test
def broken_plugins_are_config_errors():
    cfg = world().gw.config
    with open(cfg) as f:
        text = f.read()
    bad = os.path.join(world().workdir, "bad.yaml")
    for path, want in ((WRONG_ABI, "it was built for connector ABI version 3; this "
                                   "gateway speaks versions 1 to 2"),
                       ("plugins/missing.so", "cannot load it: ")):
        with open(bad, "w") as f:
            f.write(text.replace("path: " + EXAMPLE, "path: " + path))
        line = text[:text.index("path: " + EXAMPLE)].count("\n") + 1
        r = tellonce("check", "-c", bad)
        eq(r.returncode, 1, "check exit for %s" % path)
        check(("%s:%d:13: services.town_plugin.connector.path: " % (bad, line)) in r.stdout
              and want in r.stdout, "error for %s: %r" % (path, r.stdout))


@test
def push_reaches_every_connector_type():
    r = world().call("etat_civil", "POST", "/v1/records", {
        "subject": "e-alice", "dataset": "address", "record": MOVED,
        "idempotency_key": "move-1"})
    eq(r.status, 202, "push: %r" % r)
    eq(r.json["deliveries"], len(PROVIDERS), "one delivery per town")
    # The deliver entry is written before the push goes out: it says a
    # delivery was released, and the fetch back says it arrived.
    for p in PROVIDERS:
        wait_for(lambda: delivered_to(p), 15, "the delivery to %s audited" % p)
    for p in PROVIDERS:
        if p != "town_plugin":
            wait_for(lambda: fetch(p) == MOVED, 15,
                     "the new address, fetched back from %s" % p)

    def written():
        try:
            with open(os.path.join(world().workdir, "exchange", "m-alice.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    wait_for(lambda: written() == {"voie": "3 place Saint-Corentin", "cp": "29100",
                                   "ville": "Douarnenez"}, 15,
             "the file written: the service's own names, no country (a constant)")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
