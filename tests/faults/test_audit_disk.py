"""Faults of the audit log's disk (make test-faults: root, loop-mounted ext4
file systems, fsfreeze). The audit directory of a push stack is a small
file system of its own that the tests fill up or freeze:

- full: the log stops, no delivery goes out meanwhile (nor in a loop), the
  log writes again once there is room, the deliveries then go out each
  with its entry, and a push answered 503 then retried with its key gets
  its `push` entry, and an objection answered 503 then asked again is
  the one stored;
- frozen during a SIGTERM under load, for longer than the drain: every
  request waiting on the log is answered, and the stop waits for the thaw
  and is clean (under SAN=1, no use of a freed worker loop)."""
import base64
import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "e2e"))
import audit_verifier as av  # noqa: E402
from harness import check, eq, run, test, wait_for  # noqa: E402
from pushstack import ENV, PushStack, address, pivot  # noqa: E402

check(os.geteuid() == 0, "the fault tests mount file systems: run them as root")


class Disk:
    """A loop-mounted ext4 file system of `mb` MiB at workdir/name."""

    def __init__(self, workdir, name, mb):
        self.image = os.path.join(workdir, name + ".img")
        self.path = os.path.join(workdir, name)
        self.frozen = False
        with open(self.image, "wb") as f:
            f.truncate(mb << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.image], check=True)
        os.mkdir(self.path, 0o700)
        subprocess.run(["mount", "-o", "loop", self.image, self.path], check=True)

    def fill(self):
        """Takes every free block (root's reserve too: the gateway is root)."""
        subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(self.path, "filler"),
                        "bs=64k"], capture_output=True)

    def free(self):
        os.unlink(os.path.join(self.path, "filler"))

    def freeze(self, on):
        subprocess.run(["fsfreeze", "-f" if on else "-u", self.path], check=True)
        self.frozen = on

    def remove(self):
        if self.frozen:
            self.freeze(False)
        subprocess.run(["umount", "-l", self.path])


def stack(name):
    disks = []
    s = PushStack(name, caf_basis="public_task",
                  prepare=lambda wd: disks.append(Disk(wd, "audit", 16)))
    s.disk = disks[0]
    return s


def teardown(s):
    s.gw.stop(signal.SIGKILL)
    s.disk.remove()
    s.stop()


def ready(s):
    r = s.gw.call("GET", "/readyz")
    return r.json is not None and r.json["audit"]


def unaudited_bodies(s, name, local_id):
    """The bodies a subscriber received for local_id that no allowing
    `deliver` entry of it commits to (under the subject's view key)."""
    key = s.view_key(name, local_id)
    mine = [e for e in s.entries_about(key) if e["type"] == "deliver" and
            e["consumer"] == name and e["decision"] == "allow"]
    return [p["body"] for p in s.received(name, local_id)
            if not any(av.commitment(key, "payload", base64.b64decode(e["nonce"]),
                                     p["body"].encode()) == e["payload"] for e in mine)]


@test
def a_full_audit_disk_stops_deliveries_and_the_log_recovers_with_room():
    s = stack("faults-full")
    try:
        s.link_all("ana", pivot("Kerleroux", "Ana", "1990-02-02"))
        s.link_all("bo", pivot("Kerleroux", "Bo", "1991-03-03"))
        r = s.push("m-ana", address("1 rue Haute", "29000", "Quimper"), key="ana-1")
        eq(r.status, 202, "a push before the fault")
        wait_for(lambda: all(s.received(n, p + "-ana") for n, p in
                             (("caf", "c"), ("ccas", "s"), ("impots", "i"))), 10,
                 "the first version delivered")
        s.disk.fill()
        # The next checkpoint cannot write its tiles: the log stops.
        s.push("m-ana", address("2 rue Haute", "29000", "Quimper"), key="ana-2")
        wait_for(lambda: not ready(s), 10, "/readyz to say the audit log is down")
        time.sleep(0.5)             # a push whose entry made it may be on its way
        sent = {n: len(s.received(n)) for n in s.SUBSCRIBERS}
        r = s.push("m-ana", address("3 rue Haute", "29000", "Quimper"), key="ana-3")
        eq(r.status, 503, "a push while the log is down: %r" % r)
        # Acts whose handlers hold memory until their entry is written: each
        # is refused, and that memory is freed (LeakSanitizer at the stop).
        r = s.call("caf", "POST", "/v1/objections", {
            "subject": "c-bo", "dataset": "address", "purpose": "benefit-eligibility"})
        eq(r.status, 503, "an objection while the log is down: %r" % r)
        r = s.call("caf", "POST", "/v1/erasures", {"subject": "c-bo"})
        eq(r.status, 503, "an erasure while the log is down: %r" % r)
        log_at = len(s.gw.read_log())
        time.sleep(2)
        eq({n: len(s.received(n)) for n in s.SUBSCRIBERS}, sent,
           "nothing sent while the audit log cannot write")
        lines = s.gw.read_log()[log_at:].count("\n")
        check(lines < 40, "no loop while the log is down: %d log lines in 2 s" % lines)

        s.disk.free()
        wait_for(lambda: ready(s), 10, "the audit log to write again once there is room")
        # Only caf sees the street; the others see a new delivery.
        wait_for(lambda: s.received("caf", "c-ana")[-1]["record"]["street"] ==
                 "3 rue Haute" and all(len(s.received(n)) > sent[n]
                                       for n in ("ccas", "impots")), 15,
                 "the version pushed during the fault delivered")
        for name, prefix in (("caf", "c"), ("ccas", "s"), ("impots", "i")):
            eq(unaudited_bodies(s, name, prefix + "-ana"), [],
               "%s: pushes received with no deliver entry" % name)

        # The 503 push was stored, its entry never written: its replay is
        # answered from the stored answer, audited now, and only once.
        body = {"subject": "m-ana", "dataset": "address", "idempotency_key": "ana-3",
                "record": address("3 rue Haute", "29000", "Quimper")}
        rids = []
        for _ in range(2):
            r = s.call("mairie", "POST", "/v1/records", body)
            eq(r.status, 202, "the replay: %r" % r)
            rids.append(r.headers.get("x-request-id"))
        pushes = [e["request_id"] for e in s.audit_entries() if e["type"] == "push"]
        eq([p for p in pushes if p in rids], rids[:1],
           "the replay has the push entry the first attempt never had, once")

        # The objection answered 503 was stored before its entry failed: asked
        # again, it is that one objection, not a second.
        ids = set()
        for _ in range(2):
            r = s.call("caf", "POST", "/v1/objections", {
                "subject": "c-bo", "dataset": "address", "purpose": "benefit-eligibility"})
            eq(r.status, 201, "the objection asked again: %r" % r)
            ids.add(r.json["id"])
        db = sqlite3.connect(os.path.join(s.workdir, "tellonce.db"))
        stored = [row[0] for row in db.execute("SELECT id FROM objections")]
        db.close()
        eq(stored, list(ids), "one objection stored, the one the retries name")
        eq(s.gw.stop(), 0, "a clean stop after the fault")
    finally:
        teardown(s)


class Linker(threading.Thread):
    """Links subjects one request at a time (each audited) until told to stop;
    records how each request ended."""

    def __init__(self, s, n):
        super().__init__(daemon=True)
        self.s, self.n = s, n
        self.stop = threading.Event()
        self.outcomes = []

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            body = {"local_id": "c-l%d-%d" % (self.n, i),
                    "pivot": pivot("Gourvennec", "L%d %d" % (self.n, i), "1980-01-01")}
            try:
                r = self.s.call("caf", "POST", "/v1/links", body, timeout=60)
                self.outcomes.append(r.status)
            except ConnectionRefusedError:
                break          # the gateway no longer listens
            except (OSError, http.client.HTTPException) as e:
                self.outcomes.append(type(e).__name__)


@test
def a_sigterm_while_the_audit_disk_is_frozen_answers_every_request():
    s = stack("faults-frozen")
    try:
        linkers = [Linker(s, n) for n in range(8)]
        for t in linkers:
            t.start()
        wait_for(lambda: all(t.outcomes for t in linkers), 10, "links under way")
        s.disk.freeze(True)
        time.sleep(0.5)             # every linker now waits on the log
        s.gw.kill(signal.SIGTERM)
        for t in linkers:
            t.stop.set()
        # Past the drain deadline (10 s: the waiting requests are answered
        # 503) and the grace after it (10 s more: a worker used to free its
        # loop then, and the thaw below made the sequencer post to it).
        time.sleep(21)
        check(s.gw.proc.poll() is None, "the gateway waits for the audit log")
        s.disk.freeze(False)
        eq(s.gw.proc.wait(30), 0, "exit status once the disk thaws")
        s.gw.check_sanitizers()
        for t in linkers:
            t.join(30)
            lost = [o for o in t.outcomes if not isinstance(o, int)]
            eq(lost, [], "requests that got no answer")
            check(set(t.outcomes) <= {200, 201, 503}, "answers: %r" % set(t.outcomes))
    finally:
        teardown(s)


if __name__ == "__main__":
    run()
