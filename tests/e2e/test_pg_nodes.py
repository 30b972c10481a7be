"""Contract §9: three gateway processes on one PostgreSQL database are one
deployment. A link made on node A serves a fetch on node B, and a consent
revoked on C denies the next fetch on A. Pushes spread over the three are
each delivered once per idempotency key, in order per subject, never two
deliveries of one stream in flight at once (the subscribers see no
duplicate). The three append to one audit log, and every node serves the
same checkpoint, tiles, entries, proofs and access log. Then the node that signs the
log is killed with SIGKILL while sixteen clients push: every 202 is
delivered, the deliveries it had leased and its signer role are taken
over by the others, and the times that took are printed
(docs/deployment.md quotes them); every checkpoint served before and
after is consistent with the last (consistency proofs from each node,
checked by the independent verifier), and `tellonce audit export` writes
out a log that `tellonce audit verify`, the verifier and Go's sumdb/tlog
accept."""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import (ALICE_ADDRESS, ALICE_PIVOT, TELLONCE, Gateway, Partner,  # noqa: E402
                     check, eq, free_port, make_signing_key, make_workdir, run, test,
                     tlog_check, wait_for)
from pgstack import PG_ENV, PgServer  # noqa: E402
from pushstack import (ENV, SUBSCRIBER_PREFIXES as PREFIXES, Pusher, pivot,  # noqa: E402
                       push_config, wait_delivered_in_order)

PURPOSE = "benefit-eligibility"
S = None
TAKES_OVER = "audit: integrating the shared log"


class Nodes:
    """mairie and three subscribers, and gateways A, B and C on one
    PostgreSQL database, with one configuration but for the port (the
    same audit origin and signing key: one log)."""

    def __init__(self):
        self.pg = PgServer()
        self.shared = make_workdir("pg-nodes")
        self.partners = {n: Partner(self.shared, n)
                         for n in ("mairie",) + tuple(PREFIXES)}
        urls = {n: p.url for n, p in self.partners.items()}
        self.nodes = []
        make_signing_key(self.shared)
        for name in "abc":
            workdir = make_workdir("pg-node-" + name)
            port = free_port()
            text = self.pg.store_config(push_config(port, self.shared, urls))
            gw = Gateway(workdir, text, dict(ENV, **PG_ENV))
            gw.start(port)
            self.nodes.append(gw)
        self.vkey = re.search(r"verifier key (\S+)", self.nodes[0].read_log()).group(1)
        self.victim = None

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


def checkpoint(gw):
    r = gw.call("GET", "/audit/checkpoint")
    eq(r.status, 200, "checkpoint of node %d" % gw.port)
    return r.raw


def signed(s, note):
    """(size, root) of a checkpoint note whose signature verifies."""
    _, size, root = av.parse_checkpoint(av.open_note(note, s.vkey))
    return size, root


def one_log(s, nodes, timeout=30):
    """Waits until every entry sequenced is in the stored checkpoint and
    every node in nodes serves that checkpoint; returns it."""
    def same():
        if s.pg.psql("SELECT next_idx = size FROM audit_state") != "t":
            return False
        return len({checkpoint(gw) for gw in nodes}) == 1
    wait_for(same, timeout, "one checkpoint of every entry on every node")
    return checkpoint(nodes[0])


def signers(s):
    return [gw for gw in s.nodes if TAKES_OVER in gw.read_log()]


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


@test
def every_node_serves_the_same_log():
    s = st()
    before, _ = signed(s, one_log(s, s.nodes))
    # Alice's entries came from all three nodes (the first test); the
    # portal's link to her is one more, on C.
    r = s.call("c", "portal", "POST", "/v1/links", {"local_id": "p-alice",
                                                    "pivot": ALICE_PIVOT})
    check(r.status in (200, 201), "portal link: %r" % r)
    note = one_log(s, s.nodes)
    size, root = signed(s, note)
    check(before > 300, "the links, consents, pushes and deliveries: %d entries" % before)
    # The checkpoint that extended `before` dropped the rows its full
    # bundles hold: the entries are served from the bundles below.
    dropped = s.pg.audit_rows_from()
    check(before - before % 256 <= dropped <= size - size % 256 and dropped % 256 == 0,
          "rows from %d, checkpoints of %d then %d entries" % (dropped, before, size))
    eq(len(signers(s)), 1, "one node took the integrator's role")
    for gw in s.nodes:
        got = av.verify("http://127.0.0.1:%d/audit" % gw.port, s.vkey, nproofs=8)
        eq(got[:2], (size, root), "the log node %d serves" % gw.port)
    for path in ("tile/0/000", "tile/entries/000", "tile/1/000.p/%d" % (size // 256)):
        eq(len({gw.call("GET", "/audit/" + path).raw for gw in s.nodes}), 1,
           "%s alike on every node" % path)
    for index in (0, size // 2, dropped - 1, dropped, size - 1):
        answers = [gw.call("GET", "/v1/audit/entry?index=%d" % index) for gw in s.nodes]
        eq({a.status for a in answers}, {200}, "entry %d on every node" % index)
        eq(len({a.raw for a in answers}), 1, "entry %d alike on every node" % index)
    logs = [s.call(name, "portal", "GET", "/v1/access-log?subject=p-alice")
            for name in "abc"]
    eq([a.status for a in logs], [200] * 3, "the access log on every node")
    eq(len({json.dumps(a.json, sort_keys=True) for a in logs}), 1,
       "the access log alike on every node")
    entries = logs[0].json["entries"]
    check({"link", "consent.grant", "consent.revoke", "fetch"} <=
          {e["type"] for e in entries}, "alice's entries from A, B and C")
    check(all(e["inclusion_proof"] for e in entries), "each proven in the checkpoint")
    pushes = sum(e["type"] == "push" for e in s.pg.audit_entries())
    check(pushes >= 300, "the three nodes' push entries, %d, in the one log" % pushes)


def consistent(s, nodes, notes, final):
    """Each earlier checkpoint note is a prefix of final: a consistency
    proof from every node, checked by the independent verifier."""
    size2, root2 = signed(s, final)
    for note in notes:
        size1, root1 = signed(s, note)
        for gw in nodes:
            r = gw.call("GET", "/v1/audit/proof/consistency?from=%d&to=%d" % (size1, size2))
            eq(r.status, 200, "consistency proof %d -> %d: %r" % (size1, size2, r))
            proof = [base64.b64decode(h) for h in r.json["hashes"]]
            av.verify_consistency(size1, size2, proof, root1, root2)


def leased_by(s, gw):
    return int(s.pg.psql("SELECT count(*) FROM deliveries WHERE state = 1 AND "
                         "claimed_by LIKE '%%/127.0.0.1:%d'" % gw.port))


@test
def a_node_killed_mid_traffic_loses_nothing_and_its_leases_move():
    s = st()
    subjects = s.subjects("k", int(os.environ.get("PG_NODES_SUBJECTS", 50)))
    versions = int(os.environ.get("PG_NODES_VERSIONS", 20))
    # The node that signs the log dies: its leases and its role must move.
    eq(len(signers(s)), 1, "one signer")
    b = s.victim = signers(s)[0]
    others = [gw for gw in s.nodes if gw is not b]
    # Slow subscribers keep deliveries in flight, so that B dies holding some.
    for name in PREFIXES:
        s.partners[name].behave("slow_ms", ms=200)
    ports = [gw.port for gw in s.nodes]
    pushers = [Pusher(ports, subjects[i::16], versions) for i in range(16)]
    t0 = time.monotonic()
    for p in pushers:
        p.start()
    wait_for(lambda: leased_by(s, b) > 0, 30, "the signer sending deliveries")
    notes = [checkpoint(gw) for gw in s.nodes]
    b.stop(signal.SIGKILL)
    killed = time.monotonic()
    held = leased_by(s, b)
    size_at_kill = int(s.pg.psql("SELECT size FROM audit_state"))
    wait_for(lambda: signers(s) != [b], 15, "another node signing")
    signer_moved = time.monotonic() - killed
    wait_for(lambda: int(s.pg.psql("SELECT size FROM audit_state")) > size_at_kill, 15,
             "a checkpoint by the new signer")
    signed_again = time.monotonic() - killed
    notes += [checkpoint(gw) for gw in others]
    wait_for(lambda: leased_by(s, b) == 0, 30, "the signer's leases taken over")
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
    print("  %d pushes over 3 nodes, the signer killed holding %d deliveries: taken "
          "over in %.1fs; its signer role in %.2fs (next checkpoint %.2fs after the "
          "kill); all delivered %.1fs after the start; duplicates %r" %
          (len(accepted), held, moved, signer_moved, signed_again,
           time.monotonic() - t0, dups))
    check(moved < 12, "the deliveries moved within a lease and a reclaim: %.1fs" % moved)
    check(signer_moved < 10, "the signer role moved within 10 s: %.1fs" % signer_moved)
    final = one_log(s, others)
    consistent(s, others, notes, final)
    eq(signed(s, final)[0], int(s.pg.psql("SELECT next_idx FROM audit_state")),
       "every entry sequenced, the dead node's too, in the last checkpoint")


@test
def the_exported_log_verifies():
    s = st()
    survivor = [gw for gw in s.nodes if gw is not s.victim][0]
    final = one_log(s, [survivor])
    out = os.path.join(s.shared, "export")
    r = subprocess.run([TELLONCE, "audit", "export", "-c", survivor.config, out],
                       capture_output=True, text=True, env=survivor.env, timeout=60)
    eq(r.returncode, 0, "audit export: %s%s" % (r.stdout, r.stderr))
    r = subprocess.run([TELLONCE, "audit", "verify", out, "--key", s.vkey],
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "audit verify: %s%s" % (r.stdout, r.stderr))
    size, root = signed(s, final)
    check(("%d entries" % size) in r.stdout, "verify: %s" % r.stdout)
    eq(av.verify(out, s.vkey, nproofs=8)[:2], (size, root), "the independent verifier")
    eq(tlog_check(out, s.vkey), (0, "ok %d %s" % (size, base64.b64encode(root).decode())),
       "Go's sumdb/tlog")


@test
def the_other_nodes_drain_and_stop_cleanly():
    # Under SAN=1, stop() also fails on any sanitizer report in the log.
    for gw in st().nodes:
        if gw is not S.victim:
            eq(gw.stop(), 0, "node %d: exit status after SIGTERM" % gw.port)
    eq(S.pg.psql("SELECT count(*) FROM audit_heads"), "0", "no node's own log")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
