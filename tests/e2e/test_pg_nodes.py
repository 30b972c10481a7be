"""Contract §9: three gateway processes on one PostgreSQL database are one
deployment. A link made on node A serves a fetch on node B, and a consent
revoked on C denies the next fetch on A. Pushes spread over the three are
each delivered once per idempotency key, in order per subject, never two
deliveries of one stream in flight at once (the subscribers see no
duplicate). Then node B is killed with SIGKILL while sixteen clients push:
every 202 is delivered, the deliveries B had leased are taken over by the
others, and the time that took is printed (docs/deployment.md quotes it).
Each node keeps its own audit log under its own origin (issue 14 item 3,
one log for the deployment, is not built yet), whose last signed head the
shared store keeps per origin."""
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_ADDRESS, ALICE_PIVOT, Gateway, Partner, check, eq,  # noqa: E402
                     free_port, make_signing_key, make_workdir, run, test, wait_for)
from pgstack import PG_ENV, PgServer  # noqa: E402
from pushstack import (ENV, SUBSCRIBER_PREFIXES as PREFIXES, Pusher, pivot,  # noqa: E402
                       push_config, wait_delivered_in_order)

PURPOSE = "benefit-eligibility"
S = None


class Nodes:
    """mairie and three subscribers, and gateways A, B and C on one
    PostgreSQL database, each with its own directory (audit log, key)."""

    def __init__(self):
        self.pg = PgServer()
        self.shared = make_workdir("pg-nodes")
        self.partners = {n: Partner(self.shared, n)
                         for n in ("mairie",) + tuple(PREFIXES)}
        urls = {n: p.url for n, p in self.partners.items()}
        self.nodes = []
        for name in "abc":
            workdir = make_workdir("pg-node-" + name)
            make_signing_key(workdir)
            port = free_port()
            # Each node's own audit log, under its own origin: the store
            # keeps the last head signed per origin (docs/deployment.md).
            text = self.pg.store_config(push_config(port, workdir, urls)).replace(
                "origin: audit.tellonce.test/log", "origin: audit.tellonce.test/log-" + name)
            gw = Gateway(workdir, text, dict(ENV, **PG_ENV))
            gw.start(port)
            self.nodes.append(gw)

    def node(self, name):
        return self.nodes["abc".index(name)]

    def call(self, name, service, method, path, body=None):
        key = ENV[service.upper() + "_KEY"] if service else None
        return self.node(name).call(method, path, body, key=key)

    def link_all(self, name, suffix, who):
        for svc, prefix in (("mairie", "m-"),) + tuple(PREFIXES.items()):
            r = self.call(name, svc, "POST", "/v1/links", {"local_id": prefix + suffix,
                                                          "pivot": who})
            check(r.status in (200, 201), "link %s%s: %r" % (prefix, suffix, r))

    def subjects(self, prefix, n):
        """n subjects linked at every service, and caf's consent for
        each, made on the nodes in turn."""
        subjects = ["%s%03d" % (prefix, i) for i in range(n)]
        for i, subj in enumerate(subjects):
            name = "abc"[i % 3]
            self.link_all(name, subj, pivot("Nodes", "Subject " + subj, "1970-01-01"))
            r = self.call(name, "caf", "POST", "/v1/consents", {
                "subject": "c-" + subj, "provider": "mairie", "dataset": "address",
                "attributes": ["street", "postal_code", "city"], "purpose": PURPOSE})
            eq(r.status, 201, "consent: %r" % r)
        return subjects

    def stop(self):
        for gw in self.nodes:
            if gw.proc is not None and gw.proc.poll() is None:
                gw.stop()
        for p in self.partners.values():
            p.stop()
        self.pg.stop()
        for path in [self.shared] + [gw.workdir for gw in self.nodes]:
            shutil.rmtree(path, ignore_errors=True)


def st():
    global S
    if S is None:
        S = Nodes()
    return S


def fetch(s, name):
    return s.call(name, "caf", "POST", "/v1/fetch", {
        "subject": "c-alice", "dataset": "address", "purpose": PURPOSE,
        "attributes": ["street", "city"]})


@test
def a_link_on_a_serves_b_and_a_revocation_on_c_denies_a():
    s = st()
    s.partners["mairie"].seed("m-alice", "address", ALICE_ADDRESS)
    s.link_all("a", "alice", ALICE_PIVOT)
    eq(fetch(s, "b").json.get("reason"), "no_consent", "B knows the link, not a consent")
    r = s.call("b", "caf", "POST", "/v1/consents", {
        "subject": "c-alice", "provider": "mairie", "dataset": "address",
        "attributes": ["street", "postal_code", "city"], "purpose": PURPOSE})
    eq(r.status, 201, "consent on B: %r" % r)
    consent = r.json["id"]
    r = fetch(s, "a")
    eq(r.status, 200, "fetch on A under B's consent: %r" % r)
    eq(r.json["record"], {"street": "12 rue Kéréon", "city": "Quimper"}, "record")
    eq(s.call("c", "caf", "DELETE", "/v1/consents/" + consent).status, 204,
       "revoked on C")
    r = fetch(s, "a")
    eq((r.status, r.json.get("reason")), (403, "consent_revoked"), "the next fetch on A")


@test
def pushes_over_three_nodes_are_delivered_once_each_in_order():
    s = st()
    subjects = s.subjects("n", 30)
    ports = [gw.port for gw in s.nodes]
    pushers = [Pusher(ports, subjects[i::6], 10) for i in range(6)]
    for p in pushers:
        p.start()
    for p in pushers:
        p.join(300)
        check(not p.is_alive() and p.error is None, "pusher: %s" % p.error)
    eq(sum(len(p.accepted) for p in pushers), 300, "every push answered 202 once")
    dups = wait_delivered_in_order(s, subjects, 10)
    # No crash, so no delivery was ever sent twice: no two nodes held one.
    eq(dups, {n: 0 for n in PREFIXES}, "duplicates received")
    wait_for(lambda: s.pg.psql("SELECT count(*) FROM deliveries WHERE state IN (0, 1) "
                               "OR claimed_by IS NOT NULL") == "0", 10,
             "every outcome stored, no lease left")


def leased_by(s, gw):
    return int(s.pg.psql("SELECT count(*) FROM deliveries WHERE state = 1 AND "
                         "claimed_by LIKE '%%/127.0.0.1:%d'" % gw.port))


@test
def a_node_killed_mid_traffic_loses_nothing_and_its_leases_move():
    s = st()
    subjects = s.subjects("k", int(os.environ.get("PG_NODES_SUBJECTS", 50)))
    versions = int(os.environ.get("PG_NODES_VERSIONS", 20))
    b = s.node("b")
    # Slow subscribers keep deliveries in flight, so that B dies holding some.
    for name in PREFIXES:
        s.partners[name].behave("slow_ms", ms=200)
    ports = [gw.port for gw in s.nodes]
    pushers = [Pusher(ports, subjects[i::16], versions) for i in range(16)]
    t0 = time.monotonic()
    for p in pushers:
        p.start()
    wait_for(lambda: leased_by(s, b) > 0, 30, "B sending deliveries")
    b.stop(signal.SIGKILL)
    killed = time.monotonic()
    held = leased_by(s, b)
    wait_for(lambda: leased_by(s, b) == 0, 30, "B's leases taken over")
    moved = time.monotonic() - killed
    for name in PREFIXES:
        s.partners[name].behave("normal")
    for p in pushers:
        p.join(max(0, t0 + 600 - time.monotonic()))
        check(not p.is_alive() and p.error is None, "pusher: %s" % p.error)
    accepted = {}
    for p in pushers:
        accepted.update(p.accepted)
    eq(len(accepted), len(subjects) * versions, "every push answered 202 once")
    stored = set(s.pg.psql("SELECT id FROM records").split())
    eq(len(set(accepted) - stored), 0, "records answered 202 but missing from the store")
    dups = wait_delivered_in_order(s, subjects, versions)
    print("  %d pushes over 3 nodes, B killed holding %d deliveries: taken over in "
          "%.1fs; all delivered %.1fs after the start; duplicates %r" %
          (len(accepted), held, moved, time.monotonic() - t0, dups))
    check(moved < 12, "B's deliveries moved within a lease and a reclaim: %.1fs" % moved)


@test
def the_other_nodes_drain_and_stop_cleanly():
    # Under SAN=1, stop() also fails on any sanitizer report in the log.
    for name in "ac":
        eq(st().node(name).stop(), 0, "node %s: exit status after SIGTERM" % name)
    eq(S.pg.psql("SELECT string_agg(origin, ' ' ORDER BY origin) FROM audit_heads"),
       " ".join("audit.tellonce.test/log-" + n for n in "abc"),
       "each node's last signed head, under its own origin")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
