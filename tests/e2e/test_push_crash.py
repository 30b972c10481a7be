"""Crash safety of the push outbox: 10,000 records pushed while the gateway
is killed with SIGKILL at random moments and restarted. In the end every
subscriber holds every subject's latest version, applied in order, every
push carried an Idempotency-Key (duplicates allowed, applied once), every
record answered 202 is in the changes feed, and every push a subscriber
received has its `deliver` entry in the audit log."""
import base64
import json
import os
import random
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import check, eq, run, test, wait_for  # noqa: E402
from pushstack import VERSION_OF, PushStack, Pusher, applied  # noqa: E402

SUBJECTS = 200
VERSIONS = 50        # SUBJECTS * VERSIONS records in all
CLIENTS = 32
KILLS = 4

S = None


def st():
    global S
    if S is None:
        S = PushStack("push-crash", caf_basis="public_task")
        S.link_subjects(["p%03d" % i for i in range(SUBJECTS)], "Crash")
    return S


@test
def ten_thousand_pushes_survive_sigkill_and_restarts():
    s = st()
    subjects = ["p%03d" % i for i in range(SUBJECTS)]
    pushers = [Pusher(s.gw.port, subjects[i::CLIENTS], VERSIONS)
                for i in range(CLIENTS)]
    t0 = time.monotonic()
    for p in pushers:
        p.start()
    rng = random.Random(4)
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.5, 2.5))
        s.gw.stop(signal.SIGKILL)
        s.gw.start(s.gw.port)
    deadline = time.monotonic() + 400
    for p in pushers:
        p.join(max(0, deadline - time.monotonic()))
        check(not p.is_alive(), "pushers finish")
        check(p.error is None, "pusher: %s" % p.error)
    print("  pushed in %.1fs" % (time.monotonic() - t0))
    accepted = {}
    for p in pushers:
        accepted.update(p.accepted)
    eq(len(accepted), SUBJECTS * VERSIONS, "every push answered 202 once, with its own id")

    prefixes = {"caf": "c-", "ccas": "s-", "impots": "i-"}

    def complete(name):
        got, _ = applied(s, name)
        return all(got.get(prefixes[name] + subj, [0])[-1] == VERSIONS for subj in subjects)

    for name in prefixes:
        wait_for(lambda: complete(name), 60, "%s to hold every latest version" % name)
        got, raw = applied(s, name)
        for subj in subjects:
            versions = got[prefixes[name] + subj]
            eq(versions, sorted(set(versions)), "%s %s: applied in order, once each" %
               (name, subj))
        keys = [p["idempotency_key"] for p in raw["received"]]
        check(all(keys), "every push had an Idempotency-Key")
        eq(len(set(keys)), len([p for p in raw["received"] if not p["duplicate"]]),
           "%s: a key is applied once" % name)
        print("  %.1fs %s: %d applied, %d duplicates" % (time.monotonic() - t0, name, len(set(keys)),
                                                   raw["duplicates"]))

    fed, after = set(), None
    while True:
        q = "/v1/changes?dataset=address&limit=1000" + ("&after=" + after if after else "")
        r = s.call("caf", "GET", q)
        eq(r.status, 200, "feed")
        if not r.json["changes"]:
            break
        fed.update(c["id"] for c in r.json["changes"])
        after = r.json["next"]
    missing = set(accepted) - fed
    eq(len(missing), 0, "records answered 202 but missing from the store")


@test
def the_gateway_drains_and_stops_cleanly():
    # Under SAN=1, stop() also fails on any sanitizer report in the log.
    eq(st().gw.stop(), 0, "exit status after SIGTERM")


def store_rows(s, sql):
    db = sqlite3.connect(os.path.join(s.workdir, "tellonce.db"))
    try:
        db.execute("ATTACH ? AS access", (os.path.join(s.workdir, "tellonce.db.access"),))
        return db.execute(sql).fetchall()
    finally:
        db.close()


@test
def every_push_a_subscriber_received_has_its_deliver_entry():
    """Entries name no delivery id and commit to their subject and payload
    under the subject's view key: the join goes through the store (local
    id -> subject -> view key, subject -> its entries' indexes) to an
    allowing `deliver` entry of that subscriber whose payload commitment
    is the body the partner received, byte for byte."""
    s = st()
    audit = os.path.join(s.workdir, "audit")
    with open(os.path.join(audit, "checkpoint")) as f:
        size = int(f.read().split("\n")[1])   # signed at the clean stop
    entries = av.read_entries(av.Source(audit), size)
    subject_of = {(svc, lid): subj for svc, lid, subj in
                  store_rows(s, "SELECT service, local_id, subject FROM links")}
    key_of = {subj: bytes(key) for subj, key in
              store_rows(s, "SELECT subject, key FROM view_keys")}
    indexes_of = {}
    for subj, index in store_rows(s, "SELECT subject, audit_index FROM access.access_index"):
        indexes_of.setdefault(subj, []).append(index)
    for name in VERSION_OF:
        bodies = {}
        for p in s.partners[name].control("GET", "received")["received"]:
            bodies.setdefault(p["local_id"], set()).add(p["body"].encode())
        unaudited = 0
        for local_id, received in bodies.items():
            subject = subject_of[(name, local_id)]
            key = key_of[subject]
            mine = [json.loads(entries[i]) for i in indexes_of.get(subject, []) if i < size]
            mine = [(base64.b64decode(e["nonce"]), e["payload"]) for e in mine
                    if e["type"] == "deliver" and e["consumer"] == name and
                    e["decision"] == "allow"]
            for body in received:
                if not any(av.commitment(key, "payload", nonce, body) == payload
                           for nonce, payload in mine):
                    unaudited += 1
        eq(unaudited, 0, "%s: bodies received with no deliver entry committing to "
           "them (of %d)" % (name, sum(len(b) for b in bodies.values())))


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
