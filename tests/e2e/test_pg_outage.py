"""Contract §9 when PostgreSQL goes away: the server of a gateway's store is
stopped for five seconds while eight clients push. Every push is answered,
202 or 503 and nothing else, and none waits out the client's timeout;
/readyz fails while the server is away; the same gateway process takes
pushes again once it is back, without a restart; and nothing answered 202
is lost: every subscriber gets every subject's latest version, in order,
each key applied once, and every record is in the store. The figures
(503s, the slowest answer, the time to the first 202 after the server is
back) are printed for docs/deployment.md. The audit log, which is in the
same database, holds the entry of every push answered 202 and verifies.
A gateway started while the server is away waits for it and then serves."""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import Gateway, check, eq, run, test, wait_for  # noqa: E402
from pgstack import PG_ENV, PgServer  # noqa: E402
from pushstack import PushStack, Pusher, wait_delivered_in_order  # noqa: E402

SUBJECTS = 40
VERSIONS = 15        # SUBJECTS * VERSIONS records in all
CLIENTS = 8
OUTAGE_S = 5.0
PG = None
S = None


def st():
    global PG, S
    if S is None:
        PG = PgServer()
        S = PushStack("pg-outage", caf_basis="public_task", edit=PG.store_config,
                      env=PG_ENV)
        S.link_subjects(["o%03d" % i for i in range(SUBJECTS)], "Outage")
    return S


class ReadyProbe(threading.Thread):
    """GET /readyz every 100 ms: (monotonic time, status) until stopped."""

    def __init__(self, s):
        super().__init__(daemon=True)
        self.s = s
        self.seen = []
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            r = self.s.call(None, "GET", "/readyz", timeout=10)
            self.seen.append((time.monotonic(), r.status))
            self.done.wait(0.1)


@test
def postgresql_stopped_for_five_seconds_costs_503s_and_loses_nothing():
    s = st()
    subjects = ["o%03d" % i for i in range(SUBJECTS)]
    pushers = [Pusher(s.gw.port, subjects[i::CLIENTS], VERSIONS) for i in range(CLIENTS)]
    probe = ReadyProbe(s)
    probe.start()
    for p in pushers:
        p.start()
    # A quarter in: the rest is pushed through the outage and after it.
    wait_for(lambda: sum(len(p.accepted) for p in pushers) >= SUBJECTS * VERSIONS // 4,
             30, "a quarter of the pushes accepted")
    down = time.monotonic()
    PG.ctl("halt")
    time.sleep(OUTAGE_S)
    PG.ctl("restart")
    up = time.monotonic()
    for p in pushers:
        p.join(max(0, up + 300 - time.monotonic()))
        check(not p.is_alive(), "pushers finish")
        check(p.error is None, "pusher: %s" % p.error)
    wait_for(lambda: probe.seen[-1][1] == 200, 10, "ready again")
    probe.done.set()
    probe.join()

    answers = [a for p in pushers for a in p.answers]
    statuses = {a[0] for a in answers}
    eq(statuses, {202, 503}, "every push answered 202 or 503 (None: no answer)")
    refused = [a for a in answers if a[0] == 503]
    slowest = max(a[1] for a in answers)
    check(slowest < 10, "no push waits out the client's timeout: %.1fs" % slowest)
    after = [a[2] for a in answers if a[0] == 202 and a[2] > up]
    check(after, "pushes accepted after the server came back")
    print("  %d pushes, %d answered 503 while PostgreSQL was away; slowest answer "
          "%.2fs (slowest 503 %.2fs); first 202 %.2fs after the server was back" %
          (len(answers), len(refused), slowest, max(a[1] for a in refused),
           min(after) - up))
    check(refused, "the outage cost 503s")
    check(any(down < t < up and code == 503 for t, code in probe.seen), "/readyz "
          "failed while the server was away")
    ready_again = min(t for t, code in probe.seen if t > up and code == 200)
    print("  /readyz 200 again %.2fs after the server was back" % (ready_again - up))
    check(s.gw.proc.poll() is None, "the same gateway process")

    accepted = {}
    for p in pushers:
        accepted.update(p.accepted)
    eq(len(accepted), SUBJECTS * VERSIONS, "every push answered 202 once, with its own id")
    stored = set(PG.psql("SELECT id FROM records").split())
    eq(len(set(accepted) - stored), 0, "records answered 202 but missing from the store")
    wait_delivered_in_order(s, subjects, VERSIONS, timeout=60)
    # Each 202 came after its push entry was committed; entries of pushes
    # answered 503 may be there too (the store failed after the entry).
    pushes = sum(e["type"] == "push" for e in PG.audit_entries())
    check(pushes >= len(accepted), "push entries %d, pushes accepted %d" %
          (pushes, len(accepted)))
    wait_for(lambda: PG.psql("SELECT next_idx = size FROM audit_state") == "t", 10,
             "every entry in a checkpoint")
    vkey = re.search(r"verifier key (\S+)", s.gw.read_log()).group(1)
    size = av.verify("http://127.0.0.1:%d/audit" % s.gw.port, vkey, nproofs=4)[0]
    eq(str(size), PG.psql("SELECT next_idx FROM audit_state"), "the log verifies whole")


@test
def the_gateway_drains_and_stops_cleanly():
    # Under SAN=1, stop() also fails on any sanitizer report in the log.
    eq(st().gw.stop(), 0, "exit status after SIGTERM")
    log = S.gw.read_log()
    check("store: postgresql: reconnected" in log, "the reconnection is logged")


@test
def a_gateway_started_while_postgresql_is_away_waits_for_it():
    """Exiting instead would leave a node down for good once the service
    manager's restart limit is hit; it waits, its port closed, and serves
    once the server is back."""
    s = st()
    eq(s.gw.stop(), 0, "the first gateway stopped")
    PG.ctl("halt")
    gw = Gateway(s.workdir, open(s.gw.config).read(), s.gw.env)
    gw.logfile = os.path.join(s.workdir, "gateway-2.log")
    gw.start(s.gw.port, wait=False)
    try:
        wait_for(lambda: "waiting for it" in gw.read_log(), 10, "the wait logged")
        time.sleep(1)
        check(gw.proc.poll() is None, "still running while PostgreSQL is away:\n%s"
              % gw.read_log()[-2000:])
        PG.ctl("restart")
        wait_for(lambda: "serving (pid %d)" % gw.proc.pid in gw.read_log(), 30,
                 "serving once PostgreSQL is back")
        eq(gw.call("GET", "/readyz").status, 200, "ready")
        r = s.call("mairie", "POST", "/v1/records", {
            "subject": "m-o000", "dataset": "address",
            "record": {"adresse": {"voie": "1 rue du Retour", "cp": "29000",
                                   "commune": "Quimper", "pays": "FR"}},
            "idempotency_key": "after-the-wait"})
        eq(r.status, 202, "a push once the server is back: %r" % r)
    finally:
        eq(gw.stop(), 0, "exit status after SIGTERM")


def teardown():
    if S is not None:
        S.stop()
    if PG is not None:
        PG.stop()


if __name__ == "__main__":
    run(teardown=teardown)
