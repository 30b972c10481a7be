"""Contract §9, a node cut off from PostgreSQL (make test-faults: root,
iptables). Two gateways on one server reached over TCP; the packets
between the audit signer's sessions and the server are dropped and the
signer is stopped (SIGSTOP: it opens no new session), as when its machine
loses power: the server hears no FIN, no reset. The server must drop the signer's idle session (and the advisory
lock that makes it the signer) by itself, within seconds, so that the
other node signs on; without its own keepalives PostgreSQL keeps such a
session for the kernel's two hours, and no checkpoint is signed
meanwhile."""
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "e2e"))
from harness import (ALICE_PIVOT, Gateway, Partner, check, eq, free_port,  # noqa: E402
                     make_signing_key, make_workdir, run, test, wait_for)
from pgstack import PG_ENV, PgServer  # noqa: E402
from pushstack import ENV, SUBSCRIBER_PREFIXES, push_config  # noqa: E402

check(os.geteuid() == 0, "the fault tests drop packets with iptables: run them as root")
check(shutil.which("iptables") is not None, "iptables is needed (make test-faults installs it)")

SIGNS_ON = "audit: integrating the shared log"
PG = None
SHARED = None
PARTNERS = {}
NODES = []
RULES = []
STOPPED = []


def start():
    global PG, SHARED
    PG = PgServer(tcp_port=free_port())
    SHARED = make_workdir("pg-cut")
    for name in ("mairie",) + tuple(SUBSCRIBER_PREFIXES):
        PARTNERS[name] = Partner(SHARED, name)
    urls = {n: p.url for n, p in PARTNERS.items()}
    make_signing_key(SHARED)
    for name in "ab":
        port = free_port()
        gw = Gateway(make_workdir("pg-cut-" + name),
                     PG.store_config(push_config(port, SHARED, urls)), dict(ENV, **PG_ENV))
        gw.start(port)
        NODES.append(gw)


def checkpoint_size(gw):
    r = gw.call("GET", "/audit/checkpoint")
    eq(r.status, 200, "checkpoint of node %d" % gw.port)
    return int(r.raw.split("\n")[1])


def sessions_to_server(gw):
    """The local ports of gw's TCP connections to the server."""
    out = subprocess.run(["ss", "-tnpH", "dport = :%d" % PG.tcp_port], check=True,
                         capture_output=True, text=True).stdout
    return [re.search(r"127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:%d" % PG.tcp_port, line).group(1)
            for line in out.splitlines() if "pid=%d," % gw.proc.pid in line]


def drop(port):
    for rule in (["--sport", str(PG.tcp_port), "--dport", port],
                 ["--sport", port, "--dport", str(PG.tcp_port)]):
        rule = ["INPUT", "-p", "tcp"] + rule + ["-j", "DROP"]
        subprocess.run(["iptables", "-I"] + rule, check=True)
        RULES.append(rule)


@test
def a_signer_cut_off_from_postgresql_is_replaced_within_seconds():
    start()
    wait_for(lambda: any(SIGNS_ON in gw.read_log() for gw in NODES), 10, "a signer")
    signer = [gw for gw in NODES if SIGNS_ON in gw.read_log()][0]
    other = [gw for gw in NODES if gw is not signer][0]
    ports = sessions_to_server(signer)
    check(ports, "the signer's sessions found")
    for port in ports:
        drop(port)
    os.kill(signer.proc.pid, signal.SIGSTOP)
    STOPPED.append(signer)
    cut = time.time()
    r = other.call("POST", "/v1/links", {"local_id": "m-cut", "pivot": ALICE_PIVOT},
                   key=ENV["MAIRIE_KEY"])
    eq(r.status, 201, "a link on the other node while the signer is cut off: %r" % r)
    size = checkpoint_size(other)
    wait_for(lambda: SIGNS_ON in other.read_log(), 15,
             "the other node signs on while the signer is cut off")
    wait_for(lambda: checkpoint_size(other) > size, 5, "a new checkpoint")
    print("signer replaced %.1f s after the cut" % (time.time() - cut))


def push(gw, subject, key, timeout):
    return gw.call("POST", "/v1/records", {
        "subject": subject, "dataset": "address", "idempotency_key": key,
        "record": {"adresse": {"voie": key, "cp": "29000", "commune": "Quimper",
                               "pays": "FR"}}}, key=ENV["MAIRIE_KEY"], timeout=timeout)


@test
def a_node_cut_off_mid_write_holds_up_the_others_for_seconds_only():
    """A node that is not the signer is cut while its sessions are in the
    middle of pushes: a backend whose answer is never acknowledged
    retransmits it for a quarter of an hour unless the server's
    tcp_user_timeout ends it, and meanwhile holds the locks that every
    other node's pushes wait for."""
    victim = STOPPED.pop()
    os.kill(victim.proc.pid, signal.SIGCONT)
    while RULES:
        subprocess.run(["iptables", "-D"] + RULES.pop(), check=True)
    other = [gw for gw in NODES if gw is not victim][0]
    subjects = ["m-cut%d" % i for i in range(8)]
    for i, subj in enumerate(subjects):
        r = other.call("POST", "/v1/links", {"local_id": subj, "pivot": dict(
            ALICE_PIVOT, family_name="Cut%d" % i)}, key=ENV["MAIRIE_KEY"])
        check(r.status in (200, 201), "link %s: %r" % (subj, r))
    wait_for(lambda: victim.call("GET", "/readyz").status == 200, 15, "the victim ready again")
    busy = threading.Event()

    def load(i):
        n = 0
        while not busy.is_set():
            n += 1
            try:
                push(victim, subjects[i], "cut-v-%d-%d" % (i, n), 2)
            except OSError:
                pass

    loaders = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
    for t in loaders:
        t.start()
    time.sleep(3)
    for port in sessions_to_server(victim):
        drop(port)
    os.kill(victim.proc.pid, signal.SIGSTOP)
    STOPPED.append(victim)
    busy.set()
    cut = time.time()
    answers = []
    n = 0
    while time.time() - cut < 14:
        n += 1
        t = time.time()
        r = push(other, subjects[4 + n % 4], "cut-o-%d" % n, 20)
        answers.append((t - cut, r.status))
    late = [status for at, status in answers if at > 8]
    check(late and all(status == 202 for status in late),
          "the other node takes pushes 8 s after the cut: %r" % answers[-5:])
    print("%d pushes on the other node in the 14 s after the cut, %d answered 202"
          % (len(answers), sum(1 for _, status in answers if status == 202)))


def teardown():
    for rule in RULES:
        subprocess.run(["iptables", "-D"] + rule)
    for gw in STOPPED:
        os.kill(gw.proc.pid, signal.SIGCONT)
    for gw in NODES:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.stop()
    for p in PARTNERS.values():
        p.stop()
    if PG is not None:
        PG.stop()
    for path in [SHARED] + [gw.workdir for gw in NODES]:
        if path:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    run(teardown=teardown)
