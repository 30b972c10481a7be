"""The gateway on a PostgreSQL store end to end: a server of the test's own
(tests/tools/pgserver.sh, on a unix socket, named in the store URL as
`postgresql:///tellonce?host=DIR`), real partners, and the whole path: link,
consent, fetch, push and delivery. Then what PostgreSQL adds: the data is in
the server (and survives a restart of the gateway), and a server that goes
away costs 503s, never a hang, and is found again without a restart. Last,
contract §6 on PostgreSQL: an erasure deletes the subject's rows and view
key, and the retention purge erases a delivered version once past it."""
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_ADDRESS, ALICE_PIVOT, KEYS, Gateway,  # noqa: E402
                     Partner, check, eq, free_port, gateway_config, make_signing_key,
                     make_workdir, run, test, wait_for)
from pgstack import PG_ENV, PgServer  # noqa: E402

PURPOSE = "benefit-eligibility"
S = None


class PgStack:
    """mairie and caf partners, a PostgreSQL server and a gateway on it."""

    def __init__(self):
        self.workdir = make_workdir("store-pg")
        self.pg = PgServer()
        make_signing_key(self.workdir)
        self.mairie = Partner(self.workdir, "mairie")
        self.caf = Partner(self.workdir, "caf")
        self.mairie.seed("m-alice", "address", ALICE_ADDRESS)
        port = free_port()
        text = gateway_config(port, self.mairie.url, self.caf.url, self.workdir)
        self.gw = Gateway(self.workdir, self.pg.store_config(text), dict(KEYS, **PG_ENV))
        self.gw.start(port)

    def call(self, service, method, path, body=None):
        key = KEYS[service.upper() + "_KEY"] if service else None
        return self.gw.call(method, path, body, key=key)

    def psql(self, sql):
        return self.pg.psql(sql)

    def stop(self):
        self.gw.stop()
        self.mairie.stop()
        self.caf.stop()
        self.pg.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def st():
    global S
    if S is None:
        S = PgStack()
    return S


def fetch(s):
    return s.call("caf", "POST", "/v1/fetch", {
        "subject": "c-alice", "dataset": "address", "purpose": PURPOSE,
        "attributes": ["street", "city"]})


@test
def link_consent_fetch_push_and_delivery():
    s = st()
    for service, local_id in (("mairie", "m-alice"), ("caf", "c-alice")):
        r = s.call(service, "POST", "/v1/links", {"local_id": local_id,
                                                  "pivot": ALICE_PIVOT})
        eq(r.status, 201, "link %s: %r" % (service, r))
    eq(fetch(s).json.get("reason"), "no_consent", "no consent yet")
    r = s.call("caf", "POST", "/v1/consents", {
        "subject": "c-alice", "provider": "mairie", "dataset": "address",
        "attributes": ["street", "postal_code", "city"], "purpose": PURPOSE})
    eq(r.status, 201, "consent: %r" % r)
    r = fetch(s)
    eq(r.status, 200, "fetch: %r" % r)
    eq(r.json["record"], {"street": "12 rue Kéréon", "city": "Quimper"}, "record")

    r = s.call("mairie", "POST", "/v1/records", {
        "subject": "m-alice", "dataset": "address", "idempotency_key": "move-1",
        "record": {"adresse": {"voie": "1 quai de l'Odet", "cp": "29000",
                               "commune": "Quimper", "pays": "FR"}}})
    eq((r.status, r.json.get("deliveries")), (202, 1), "push: %r" % r)
    again = s.call("mairie", "POST", "/v1/records", {
        "subject": "m-alice", "dataset": "address", "idempotency_key": "move-1",
        "record": {"adresse": {"voie": "1 quai de l'Odet", "cp": "29000",
                               "commune": "Quimper", "pays": "FR"}}})
    eq((again.status, again.json), (202, r.json), "a replay gets the first answer")
    wait_for(lambda: s.caf.control("GET", "received")["received"], 15,
             "the delivery to caf")
    got = s.caf.control("GET", "received")["received"]
    eq([(p["local_id"], p["record"]) for p in got],
       [("c-alice", {"street": "1 quai de l'Odet", "postal_code": "29000",
                     "city": "Quimper"})], "what caf received")
    wait_for(lambda: s.psql("SELECT count(*) FROM deliveries WHERE state = 2") == "1",
             10, "the delivery stored as delivered")


@test
def the_data_lives_in_postgresql():
    s = st()
    eq(s.psql("SELECT version FROM tellonce_schema"), "16", "schema version")
    eq(s.psql("SELECT count(*) FROM links"), "2", "links")
    eq(s.psql("SELECT count(*) FROM consents"), "1", "consents")
    eq(s.psql("SELECT count(*) FROM records"), "1", "records")
    eq(s.psql("SELECT count(*) FROM push_keys"), "1", "idempotency keys")
    # What the audit log covers is marked on the rows it covers.
    eq(s.psql("SELECT count(*) FROM push_keys WHERE audit_index IS NOT NULL"),
       "1", "the key's push entry")
    eq(s.psql("SELECT count(*) FROM deliveries WHERE audit_index IS NOT NULL "
              "AND length(audit_sha256) = 64"), "1", "the delivery's deliver entry")
    check(not os.path.exists(os.path.join(s.workdir, "tellonce.db")), "no SQLite file")
    # The audit log too: its entries, and a checkpoint served as stored.
    check(not os.path.exists(os.path.join(s.workdir, "audit")), "no audit directory")
    check({"link", "push", "deliver"} <= {e["type"] for e in s.pg.audit_entries()},
          "the entries in the store")
    wait_for(lambda: s.call(None, "GET", "/audit/checkpoint").raw.encode() ==
             bytes.fromhex(s.psql("SELECT encode(checkpoint, 'hex') FROM audit_state")),
             10, "the checkpoint served is the one stored")
    # A new process finds all of it: links, consents, the record's version.
    s.gw.stop()
    s.gw.start(s.gw.port)
    eq(fetch(s).status, 200, "fetch after a restart of the gateway")


@test
def postgresql_away_is_503_and_back_without_a_restart():
    s = st()
    eq(s.call(None, "GET", "/readyz").status, 200, "ready")
    s.pg.ctl("halt")
    try:
        r = s.call("caf", "POST", "/v1/links", {"local_id": "c-bob",
                                                "pivot": dict(ALICE_PIVOT, family_name="Prigent")})
        eq(r.status, 503, "link while the store is away: %r" % r)
        eq(fetch(s).status, 503, "fetch while the store is away")
        # Readiness is probed at most once a second (STORE_PING_EVERY_MS).
        wait_for(lambda: s.call(None, "GET", "/readyz").status == 503, 5, "not ready")
    finally:
        s.pg.ctl("restart")
    wait_for(lambda: s.call(None, "GET", "/readyz").status == 200, 15, "ready again")
    # Each connection finds the server again on its next call past its
    # half-second wait between tries (PG_RECONNECT_MS), and every try that
    # failed did so before the server answered readiness; a connection in
    # that wait still answers 503 at once. Past it, none may.
    time.sleep(0.5)
    for _ in range(8):
        eq(fetch(s).status, 200, "fetch after PostgreSQL came back")
    check(s.gw.proc.poll() is None, "the same gateway process")
    log = s.gw.read_log()
    check("store: postgresql: reconnected" in log, "the reconnection is logged")
    for value in ("Kéréon", "Odet", "c-alice", "m-alice", "Prigent"):
        check(value not in log, "no personal value in the log: " + value)


def values_stored(s, value):
    """The stored record versions that mention value."""
    return int(s.psql("SELECT count(*) FROM records WHERE strpos(record, '%s') > 0"
                      % value))


@test
def an_erasure_deletes_the_subjects_rows_and_view_key():
    s = st()
    check(values_stored(s, "Odet") == 1, "the pushed version is stored")
    key = s.psql("SELECT encode(key, 'hex') FROM view_keys")
    eq(len(key), 64, "alice's view key, drawn at her first entry")
    check(int(s.psql("SELECT count(*) FROM access_index")) > 0, "her access index")
    r = s.call("caf", "POST", "/v1/erasures", {"subject": "c-alice"})
    eq(r.status, 200, "erasure: %r" % r)
    eq(r.json["erased"], 2, "the version and its delivery: %r" % r.json)
    eq(values_stored(s, "Odet"), 0, "no row holds the value")
    for table in ("records", "deliveries", "push_keys", "view_keys", "access_index"):
        eq(s.psql("SELECT count(*) FROM %s" % table), "0", "%s emptied" % table)
    eq(s.psql("SELECT count(*) FROM links"), "2", "the links stay")
    check(any(e.get("type") == "erasure" for e in s.pg.audit_entries()), "audited")
    r = s.call("caf", "POST", "/v1/erasures", {"subject": "c-alice"})
    eq((r.status, r.json["erased"]), (200, 0), "again: nothing left")
    # Still linked and consented: the next fetch draws a new view key.
    eq(fetch(s).status, 200, "fetch after the erasure")
    new = s.psql("SELECT encode(key, 'hex') FROM view_keys")
    check(len(new) == 64 and new != key, "a new view key, not the erased one")
    r = s.gw.call("GET", "/v1/register", key=KEYS["TELLONCE_ADMIN_TOKEN"])
    eq(r.status, 200, "register: %r" % r)
    check("by deletion in PostgreSQL" in r.raw and "secure_delete" not in r.raw,
          "the register says how PostgreSQL erases")


def metric(s, name):
    m = re.search(r"^%s (\d+)$" % name, s.call(None, "GET", "/metrics").raw, re.M)
    check(m is not None, "metric %s in /metrics" % name)
    return int(m.group(1))


@test
def the_purge_erases_a_delivered_version_past_its_retention():
    s = st()
    cfg = open(s.gw.config).read()
    line = "    attributes: {street: string, postal_code: string, city: string, country: string}\n"
    check(line in cfg, "the address dataset")
    with open(s.gw.config, "w") as f:
        f.write(cfg.replace(line, line + "    retention: 2s\n", 1))
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in s.gw.read_log(), 5, "the reload")
    before = metric(s, "tellonce_erased_rows_total")
    r = s.call("mairie", "POST", "/v1/records", {
        "subject": "m-alice", "dataset": "address", "idempotency_key": "move-2",
        "record": {"adresse": {"voie": "3 rue du Steir-Retenu", "cp": "29000",
                               "commune": "Quimper", "pays": "FR"}}})
    eq(r.status, 202, "push: %r" % r)
    wait_for(lambda: s.psql("SELECT count(*) FROM deliveries WHERE state = 2") == "1",
             10, "delivered")
    eq(values_stored(s, "Steir-Retenu"), 1, "the version is stored")
    eq(s.psql("SELECT count(*) FROM push_keys"), "1", "with its idempotency key")
    wait_for(lambda: values_stored(s, "Steir-Retenu") == 0, 10, "erased past 2s")
    eq(s.psql("SELECT count(*) FROM deliveries"), "0", "its delivery went with it")
    eq(s.psql("SELECT count(*) FROM push_keys"), "0", "and its idempotency key")
    check(metric(s, "tellonce_erased_rows_total") >= before + 2, "counted")
    wait_for(lambda: metric(s, "tellonce_erasure_backlog_rows") == 0, 3,
             "nothing awaits erasure")
    eq(s.call(None, "GET", "/readyz").status, 200, "ready")


@test
def the_gateway_drains_and_stops_cleanly():
    # Under SAN=1, stop() also fails on any sanitizer report in the log.
    eq(st().gw.stop(), 0, "exit status after SIGTERM")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
