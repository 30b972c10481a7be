"""`tellonce serve` under a service manager: the sd_notify protocol seen from
the manager's side. The test binds the NOTIFY_SOCKET datagram socket itself
(as systemd does) and reads what the gateway says: READY=1 once listening,
STATUS= lines, WATCHDOG=1 at half of WATCHDOG_USEC and only while healthy,
RELOADING=1 (with MONOTONIC_USEC=) then READY=1 around a SIGHUP, STOPPING=1
on SIGTERM."""
import os
import shutil
import signal
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, KEYS, Failure, Gateway, Partner, check, eq,  # noqa: E402
                     free_port, gateway_config, http_request, make_signing_key,
                     make_workdir, preamble, run, test)

WATCHDOG_USEC = 400000   # the gateway should pet every 200ms


class Manager:
    """The service manager's end of NOTIFY_SOCKET: "@name" binds in the
    abstract namespace, anything else is a path."""

    def __init__(self, address):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.messages = []   # (monotonic time received, {key: value})

    def receive(self, timeout):
        """The next message, or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        self.messages.append((time.monotonic(), fields))
        return fields

    def wait(self, key, timeout=30.0, skip=("WATCHDOG",)):
        """The first message holding key, skipping keep-alives; fails on
        any other message in between."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.receive(deadline - time.monotonic())
            if m is None:
                break
            if key in m:
                return m
            if not set(m) <= set(skip):
                raise Failure("waiting for %s, got %r" % (key, m))
        raise Failure("no %s= from the gateway within %.0fs" % (key, timeout))

    def pets_during(self, seconds):
        """The times of the WATCHDOG=1 received in the next `seconds`."""
        times = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = self.receive(max(0.01, end - time.monotonic()))
            if m is not None and m.get("WATCHDOG") == "1":
                times.append(time.monotonic())
        return times

    def close(self):
        self.sock.close()
        if not self.address.startswith("@"):
            os.unlink(self.address)


def start(workdir, config_text, env, port):
    gw = Gateway(workdir, config_text, dict(KEYS, **env))
    return gw.start(port, wait=False)


STATE = {}


def standard():
    """A gateway on the standard config under an abstract-namespace socket
    with a watchdog, shared by the tests that follow."""
    if not STATE:
        w = make_workdir("systemd")
        make_signing_key(w)
        mgr = Manager("@tellonce-test-%d-%d" % (os.getpid(), free_port()))
        # The gateway's port once the partners hold theirs: a partner's
        # bind(0) was once given the very port free_port() had returned.
        mairie = Partner(w, "mairie")
        caf = Partner(w, "caf")
        port = free_port()
        gw = start(w, gateway_config(port, mairie.url, caf.url, w),
                   {"NOTIFY_SOCKET": mgr.address, "WATCHDOG_USEC": str(WATCHDOG_USEC)},
                   port)
        STATE.update(workdir=w, mgr=mgr, gw=gw, port=port, partners=(mairie, caf))
    return STATE


@test
def ready_is_sent_once_listening_with_a_status():
    s = standard()
    m = s["mgr"].wait("READY")
    eq(m["READY"], "1", "READY")
    # The manager starts dependent units on READY=1: the port must answer now.
    eq(http_request(s["port"], "GET", "/healthz", timeout=5).status, 200,
       "healthz right after READY=1")
    eq(m.get("STATUS"), "serving on 127.0.0.1:%d" % s["port"], "STATUS with READY")


@test
def watchdog_is_fed_at_half_its_interval():
    pets = standard()["mgr"].pets_during(2.0)
    # 2s at one pet per 200ms: about 10. Fewer than 3 means no timer at the
    # half interval (a pet per WATCHDOG_USEC would give 5 at most).
    check(len(pets) >= 3, "WATCHDOG=1 pets in 2s: %d" % len(pets))


@test
def sighup_is_reloading_then_ready():
    s = standard()
    gw, mgr = s["gw"], s["mgr"]
    before = time.monotonic_ns() // 1000
    gw.kill(signal.SIGHUP)
    m = mgr.wait("RELOADING")
    eq(m["RELOADING"], "1", "RELOADING")
    usec = int(m.get("MONOTONIC_USEC", "0"))
    # CLOCK_MONOTONIC, the clock systemd compares it with: the same as ours.
    check(before <= usec <= time.monotonic_ns() // 1000,
          "MONOTONIC_USEC=%d is CLOCK_MONOTONIC at the reload" % usec)
    m = mgr.wait("READY")
    check("reloaded" in m.get("STATUS", ""), "STATUS after a good reload: %r" % m)


@test
def refused_reload_is_still_ready_again():
    s = standard()
    gw, mgr = s["gw"], s["mgr"]
    good = open(gw.config).read()
    with open(gw.config, "w") as f:
        f.write(good.replace("datasets:", "datasets:\n  broken: [", 1))
    try:
        gw.kill(signal.SIGHUP)
        mgr.wait("RELOADING")
        m = mgr.wait("READY")
        check("refused" in m.get("STATUS", ""), "STATUS says refused: %r" % m)
    finally:
        with open(gw.config, "w") as f:
            f.write(good)
    eq(gw.call("GET", "/healthz").status, 200, "still serving")


@test
def sigterm_is_stopping():
    s = standard()
    s["gw"].kill(signal.SIGTERM)
    m = s["mgr"].wait("STOPPING")
    eq(m["STOPPING"], "1", "STOPPING")
    eq(s["gw"].stop(), 0, "exit status")
    s["mgr"].close()
    for p in s["partners"]:
        p.stop()
    shutil.rmtree(s["workdir"], ignore_errors=True)


def wedge_config(port, workdir):
    """One worker, and a provider read through SQLite with a 4s lock wait:
    a fetch while the test holds the table's lock keeps that worker's loop
    busy for 4s."""
    return preamble(port, workdir).replace("workers: 2", "workers: 1") + """\
services:
  town:
    name: Town
    auth: {api_key: env:MAIRIE_KEY}
    connector:
      type: sql
      driver: sqlite
      path: town.db
      table: habitants
      key_column: id
      columns: [cp]
      timeout: 4s
      map: {postal_code: cp}
  caf:
    name: Caf
    auth: {api_key: env:CAF_KEY}
policies:
  - id: caf-town
    consumer: caf
    provider: town
    dataset: address
    attributes: [postal_code]
    purpose: benefit-eligibility
    basis: public_task
    legal_reference: "CRPA L114-8"
"""


@test
def a_wedged_worker_is_not_reported_alive():
    w = make_workdir("systemd-wedge")
    make_signing_key(w)
    db = sqlite3.connect(os.path.join(w, "town.db"), isolation_level=None)
    db.execute("CREATE TABLE habitants (id TEXT PRIMARY KEY, cp TEXT)")
    db.execute("INSERT INTO habitants VALUES ('t-alice', '29000')")
    mgr = Manager(os.path.join(w, "notify.sock"))   # a path, this time
    port = free_port()
    gw = start(w, wedge_config(port, w), {"NOTIFY_SOCKET": mgr.address,
                                          "WATCHDOG_USEC": str(WATCHDOG_USEC)}, port)
    try:
        mgr.wait("READY")
        for svc, lid in (("MAIRIE", "t-alice"), ("CAF", "c-alice")):
            r = gw.call("POST", "/v1/links", {"local_id": lid, "pivot": ALICE_PIVOT},
                        key=KEYS[svc + "_KEY"])
            eq(r.status, 201, "link %s: %r" % (lid, r))
        check(len(mgr.pets_during(1.0)) >= 2, "pets before the wedge")
        db.execute("BEGIN EXCLUSIVE")
        answer = {}

        def fetch():
            answer["r"] = gw.call("POST", "/v1/fetch", {
                "subject": "c-alice", "dataset": "address", "provider": "town",
                "purpose": "benefit-eligibility"}, key=KEYS["CAF_KEY"])

        t = threading.Thread(target=fetch)
        t0 = time.monotonic()
        t.start()
        pets = [t0] + mgr.pets_during(3.0) + [time.monotonic()]
        db.execute("ROLLBACK")
        t.join(30)
        check("r" in answer, "the fetch was answered")
        # The only worker waits on the lock for 4s once the fetch reaches
        # it, while pets come every 200ms when its loop turns: a silence of
        # well over a second is the watchdog noticing.
        gap = max(b - a for a, b in zip(pets, pets[1:]))
        check(gap >= 1.5, "longest silence while wedged: %.2fs" % gap)
        check("not healthy" in gw.read_log(), "the starved watchdog is logged")
        check(len(mgr.pets_during(1.5)) >= 2, "pets resume once the loop turns again")
        gw.kill(signal.SIGTERM)
        mgr.wait("STOPPING")
        eq(gw.stop(), 0, "exit status")
    finally:
        gw.stop()
        db.close()
        mgr.close()
        shutil.rmtree(w, ignore_errors=True)


@test
def no_watchdog_for_another_pid():
    w = make_workdir("systemd-pid")
    make_signing_key(w)
    mgr = Manager(os.path.join(w, "notify.sock"))
    port = free_port()
    # WATCHDOG_PID names the process the watchdog is meant for (pid 1 is
    # never the gateway): a child that inherited it must not feed it.
    gw = start(w, preamble(port, w), {"NOTIFY_SOCKET": mgr.address,
                                      "WATCHDOG_USEC": str(WATCHDOG_USEC),
                                      "WATCHDOG_PID": "1"}, port)
    try:
        mgr.wait("READY")
        eq(mgr.pets_during(1.0), [], "WATCHDOG=1 meant for another pid")
        eq(gw.stop(), 0, "exit status")
        check(any("STOPPING" in m for _, m in mgr.messages) or
              mgr.wait("STOPPING", timeout=5), "STOPPING")
    finally:
        gw.stop()
        mgr.close()
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    run()
