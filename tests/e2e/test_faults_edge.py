"""What a fault campaign broke at the gateway's edge (issue 15), end to end:
requests a proxy would read another way, error details that quoted the
caller's input, an oversized consent, readiness while the store cannot
write, a request left without an answer at shutdown, trickling clients
from one address, and a descriptor flood that broke the audit log until a
restart."""
import http.client
import json
import os
import resource
import signal
import shutil
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_ADDRESS, ALICE_PIVOT, BOB_PIVOT, KEYS, TELLONCE, Gateway,  # noqa: E402
                     Partner, Stack, check, closed_by_server, eq,
                     free_port, gateway_config, make_signing_key, make_workdir, run, test, wait_for)

S = None


class EdgeStack(Stack):
    """The standard stack with room for the campaign's 7,300-attribute
    consent (max_body 256k) and `limits` added to the gateway section."""

    def __init__(self, limits="", timeout="1s", nofile=None):
        self.workdir = make_workdir("edge")
        make_signing_key(self.workdir)
        self.mairie = Partner(self.workdir, "mairie")
        self.caf = Partner(self.workdir, "caf")
        port = free_port()
        cfg = gateway_config(port, self.mairie.url, self.caf.url, self.workdir, timeout)
        cfg = cfg.replace("    max_body: 64k\n", "    max_body: 256k\n" + limits)
        preexec = None
        if nofile is not None:
            def preexec():
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.gw = Gateway(self.workdir, cfg, KEYS, preexec_fn=preexec)
        self.gw.start(port)


def st():
    global S
    if S is None:
        S = EdgeStack()
    return S


def raw_exchange(port, data, wait=3.0):
    """Sends data on one connection and reads until the server closes it or
    `wait` seconds pass; returns (bytes read, closed by the server)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    sock.sendall(data)
    got, closed = b"", False
    deadline = time.monotonic() + wait
    try:
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            got += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        sock.close()
    return got, closed


@test
def two_different_content_lengths_are_refused_and_the_connection_closed():
    s = st()
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    head = (b"POST /v1/consents HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + KEYS["CAF_KEY"].encode() + b"\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: 2\r\nContent-Length: %d\r\n\r\n{}" % (2 + len(smuggled)))
    got, closed = raw_exchange(s.gw.port, head + smuggled)
    check(got.startswith(b"HTTP/1.1 400"), "400 first: %r" % got[:200])
    check(b"Content-Length headers disagree" in got, "the detail says why: %r" % got)
    eq(got.count(b"HTTP/1.1 "), 1, "the request hidden in the body is never answered")
    check(closed, "the connection is closed after the 400")
    # The same value twice is one length: served as usual.
    got, _ = raw_exchange(s.gw.port, b"POST /v1/consents HTTP/1.1\r\nHost: x\r\n"
                          b"Authorization: Bearer " + KEYS["CAF_KEY"].encode() + b"\r\n"
                          b"Connection: close\r\n"
                          b"Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
    check(got.startswith(b"HTTP/1.1 400") and b'\\"subject\\" is required' in got,
          "an agreeing pair reaches the handler: %r" % got[:300])


@test
def a_head_answer_has_no_body_so_the_next_answer_reads_right():
    """RFC 9110 9.3.2: an answer to HEAD has no content. Bytes after its
    headers would be read as the start of the next answer on the
    connection."""
    s = st()
    got, _ = raw_exchange(s.gw.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                          b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, rest = got.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 405") and b"X-Request-Id" in head,
          "HEAD answered with its headers: %r" % got[:300])
    check(rest.startswith(b"HTTP/1.1 200"), "the GET answer follows at once: %r" % rest[:300])


@test
def bad_input_details_name_the_member_never_the_value():
    s = st()
    s.link("caf", "caf-alice", ALICE_PIVOT)
    value = "Le Goff"
    raws = [b'{"subject": "caf-alice", "pivot": {"family_name": "Le Goff" "x"}}',
            b'{"subject": "Le Goff',
            b'{"subject": Le Goff}',
            b'{"subject": "Le Goff", "subject": "Le Goff"}',
            b'{"subject": "caf-alice"} "Le Goff"',
            b'{"Le Goff": 1e999999}']
    for raw in raws:
        for path in ("/v1/fetch", "/v1/links", "/v1/consents"):
            r = s.call("caf", "POST", path, raw=raw,
                       headers={"Content-Type": "application/json"})
            eq(r.status, 400, "%s %r" % (path, raw))
            check(r.json["detail"].startswith("malformed JSON at line 1 column "),
                  "the position is given: %r" % r.json["detail"])
            check(value not in r.raw, "%s %r: the value is quoted back: %s" % (path, raw, r.raw))
    bodies = [("/v1/fetch", {"subject": "caf-alice", "dataset": value, "purpose": "x"}),
              ("/v1/fetch", {"subject": "caf-alice", "dataset": "address", "purpose": "x",
                             "provider": value}),
              ("/v1/consents", {"subject": "caf-alice", "provider": value, "dataset": "address",
                                "purpose": "x", "attributes": ["city"]}),
              ("/v1/consents", {"subject": "caf-alice", "provider": "mairie", "dataset": value,
                                "purpose": "x", "attributes": ["city"]}),
              ("/v1/links", {"local_id": "caf-x", "pivot": dict(ALICE_PIVOT, gender=value)}),
              ("/v1/links", {"local_id": "caf-x", "pivot": dict(ALICE_PIVOT, birthdate=value)})]
    for path, body in bodies:
        r = s.call("caf", "POST", path, body)
        eq(r.status, 400, "%s %r" % (path, body))
        check(value not in r.raw, "%s: the value is quoted back: %s" % (path, r.raw))
    r = s.call("caf", "GET", "/v1/changes?dataset=Le%20Goff")
    check(r.status in (400, 403), "changes of an unknown dataset: %r" % r)
    check(value not in r.raw, "changes: the value is quoted back: %s" % r.raw)


@test
def a_consent_with_thousands_of_attributes_is_refused_with_400_not_503():
    s = st()
    s.link("caf", "caf-bob", BOB_PIVOT)
    consent = {"subject": "caf-bob", "provider": "mairie", "dataset": "address",
               "purpose": "benefit-eligibility"}
    for attrs, why in ((["street"] * 7300, "more names than the dataset"),
                       (["street", "city", "street"], "names an attribute twice"),
                       (["a%d" % i for i in range(5)], "more names than the dataset"),
                       (["x" * 300], "too long")):
        r = s.call("caf", "POST", "/v1/consents", dict(consent, attributes=attrs))
        eq(r.status, 400, "%d attributes: %r" % (len(attrs), r))
        check(why in r.json["detail"], "the detail says why: %r" % r.json["detail"])
        r = s.call("caf", "POST", "/v1/fetch", {"subject": "caf-bob", "dataset": "address",
                                                 "purpose": "benefit-eligibility",
                                                 "attributes": attrs})
        eq(r.status, 400, "a fetch asking %d attributes: %r" % (len(attrs), r))
    r = s.call("caf", "POST", "/v1/consents", dict(consent, attributes=["street", "city"]))
    eq(r.status, 201, "a consent with distinct attributes: %r" % r)
    eq(s.call(None, "GET", "/readyz").status, 200, "the audit log is fine")


def ready(s):
    """/readyz's status and body, without the config digest (which
    test_observability checks)."""
    r = s.gw.call("GET", "/readyz")
    r.json.pop("config_sha256", None)
    return r.status, r.json


@test
def readyz_says_not_ready_while_every_store_write_fails():
    s = st()
    eq(ready(s), (200, {"status": "ready", "store": True, "audit": True}), "ready at first")
    # A file-size limit of 0 fails every write with EFBIG, as a full disk
    # fails them with ENOSPC; taking the write lock still succeeds.
    pid = s.gw.proc.pid
    hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))
    try:
        r = s.call("caf", "POST", "/v1/links", {"local_id": "caf-full",
                                                  "pivot": dict(ALICE_PIVOT, given_names="Full")})
        eq(r.status, 503, "a write fails: %r" % r)
        time.sleep(1.2)     # each worker's connection probes once a second
        for _ in range(4):  # whichever worker answers
            status, body = ready(s)
            # The limit reaches the audit log's files too, if it writes.
            eq((status, body["status"], body["store"]), (503, "not ready", False),
               "not ready, because of the store: %r" % body)
    finally:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))
    wait_for(lambda: ready(s)[0] == 200, timeout=5, what="/readyz to say ready again")
    r = s.call("caf", "POST", "/v1/links", {"local_id": "caf-full",
                                                  "pivot": dict(ALICE_PIVOT, given_names="Full")})
    check(r.status in (200, 201), "writes work again: %r" % r)


@test
def a_fetch_waiting_on_a_hanging_provider_is_answered_at_the_drain_deadline():
    # The provider's timeout (14 s) outlasts the 10 s drain of a stop.
    s = EdgeStack(timeout="14s")
    try:
        s.link("caf", "caf-alice", ALICE_PIVOT)
        s.link("mairie", "m-alice", ALICE_PIVOT)
        s.mairie.seed("m-alice", "address", ALICE_ADDRESS)
        s.mairie.behave("hang")
        got = {}

        def fetch():
            t0 = time.monotonic()
            try:
                got["r"] = s.call("caf", "POST", "/v1/fetch", {
                    "subject": "caf-alice", "dataset": "address",
                    "purpose": "benefit-eligibility", "attributes": ["postal_code"]},
                    timeout=30)
            except OSError as e:
                got["r"] = e
            got["after"] = time.monotonic() - t0

        t = threading.Thread(target=fetch)
        t.start()
        wait_for(lambda: any(q["path"] == "/citizens/m-alice/address"
                             for q in s.mairie.control("GET", "requests")),
                 what="the fetch to reach the provider")
        t0 = time.monotonic()
        s.gw.kill(signal.SIGTERM)
        t.join(40)
        r = got.get("r")
        check(not isinstance(r, Exception), "an answer, not %r" % r)
        eq(r.status, 503, "answer at the drain deadline: %r" % r)
        check("stopping" in r.json["detail"], "the detail says why: %r" % r.json)
        check(9 < time.monotonic() - t0 < 13, "at the 10 s deadline: %.1f s" % got["after"])
        eq(s.gw.stop(timeout=30), 0, "the gateway then stops cleanly")
        check("answered 503" in s.gw.read_log(), "the log says so")
    finally:
        s.stop()


def connect_from(port, source, timeout=10):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def served_from(s, source):
    """A /healthz from `source` answered 200 within 3 s."""
    try:
        sock = connect_from(s.gw.port, source, timeout=3)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        sock.settimeout(3)
        data = sock.recv(4096)
        sock.close()
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


SLOW_LIMITS = """\
    header_timeout: 1s
    request_timeout: 30s
    max_connections: 40
    max_connections_per_address: 8
"""


@test
def headers_trickled_byte_by_byte_are_cut_at_the_header_deadline():
    s = EdgeStack(limits=SLOW_LIMITS)
    try:
        slow = connect_from(s.gw.port, "127.0.0.1")
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0, cut = time.monotonic(), False
        while not cut and time.monotonic() - t0 < 8:
            try:
                slow.sendall(b"X")
            except OSError:
                cut = True
                break
            cut = closed_by_server(slow, 0.2)
        elapsed = time.monotonic() - t0
        slow.close()
        check(cut and elapsed < 2.5,
              "cut at the 1 s header deadline, not the 30 s request deadline: %.1f s" % elapsed)
        # Complete headers, then a body taking 2 s: the request deadline applies.
        body = json.dumps({"local_id": "caf-slow", "pivot": ALICE_PIVOT}).encode()
        sock = connect_from(s.gw.port, "127.0.0.1")
        sock.sendall(b"POST /v1/links HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Authorization: Bearer " + KEYS["CAF_KEY"].encode() + b"\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        for i in range(0, len(body), len(body) // 8 + 1):
            time.sleep(0.25)
            sock.sendall(body[i:i + len(body) // 8 + 1])
        sock.settimeout(5)
        got = sock.recv(4096)
        sock.close()
        check(got.startswith(b"HTTP/1.1 201"), "a slow body is not cut by the header deadline: %r"
              % got[:200])
    finally:
        s.stop()


@test
def trickling_connections_from_one_address_do_not_lock_a_partner_out():
    s = EdgeStack(limits=SLOW_LIMITS)
    held = []
    try:
        # More trickling connections than max_connections, all from one address.
        for _ in range(50):
            try:
                c = connect_from(s.gw.port, "127.0.0.1", timeout=2)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                held.append(c)
            except OSError:
                pass
        time.sleep(0.3)
        alive = [c for c in held if not closed_by_server(c, 0.05)]
        check(len(alive) <= 8, "one address holds at most 8 connections, not %d" % len(alive))
        for _ in range(5):
            check(served_from(s, "127.0.0.2"), "the partner at 127.0.0.2 is served")
        check("max_connections_per_address is 8" in s.gw.read_log(), "the refusals are logged")
    finally:
        for c in held:
            c.close()
        s.stop()


def link_request(local_id, given_names):
    body = json.dumps({"local_id": local_id,
                       "pivot": dict(ALICE_PIVOT, given_names=given_names)}).encode()
    return (b"POST /v1/links HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + KEYS["CAF_KEY"].encode() + b"\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def refused_requests_run(s, source, n=6):
    """Sends a link request on n connections from `source` while the
    gateway is stopped, so that each request is queued before the gateway
    accepts its connection; returns the answers they got."""
    socks = []
    s.gw.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(n):
            c = connect_from(s.gw.port, source, timeout=5)
            c.sendall(link_request("caf-refused-%d" % i, "Refused%d" % i))
            socks.append(c)
    finally:
        s.gw.proc.send_signal(signal.SIGCONT)
    answers = []
    for c in socks:
        try:
            answers.append(c.recv(64))
        except OSError as e:
            answers.append(type(e).__name__)
        c.close()
    return answers


def links_made(s, n=6):
    """How many of refused_requests_run's links exist (made again, a link
    answers "created": false)."""
    made = 0
    for i in range(n):
        got, _ = raw_exchange(s.gw.port, link_request("caf-refused-%d" % i, "Refused%d" % i))
        check(got.startswith(b"HTTP/1.1 201"), "the link request is served: %r" % got[:40])
        made += b'"created":false' in got
    return made


@test
def a_request_sent_before_its_connection_is_refused_is_not_run():
    # Linux still reads out what arrived before a shutdown(): a refused
    # connection's first request used to run (a link made, a fetch
    # audited as disclosed) with its answer lost. A client that opens
    # connections and writes at once, as load tools and pools do, hit it
    # on every connection beyond the limit.
    for limits, source in (("    max_connections_per_address: 2\n", "127.0.0.1"),
                           ("    max_connections: 2\n", "127.0.0.3")):
        s = EdgeStack(limits=limits)
        held = []
        try:
            for _ in range(2):
                held.append(connect_from(s.gw.port, "127.0.0.1"))
                held[-1].sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                check(held[-1].recv(64).startswith(b"HTTP/1.1 200"), "held and served")
            answers = refused_requests_run(s, source)
            check(all(a in (b"", "ConnectionResetError") for a in answers),
                  "%s: refused connections get no answer: %r" % (limits.strip(), answers))
            for c in held:
                c.close()
            wait_for(lambda: served_from(s, "127.0.0.1"), what="the held connections gone")
            eq(links_made(s), 0, "%s: links made through refused connections" % limits.strip())
        finally:
            for c in held:
                c.close()
            s.stop()


def flood(port, n, held):
    """Opens up to n connections from 127.0.0.1 without waiting on any."""
    for _ in range(n):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.bind(("127.0.0.1", 0))
            c.connect_ex(("127.0.0.1", port))
            held.append(c)
        except OSError:
            c.close()


@test
def a_descriptor_flood_under_a_low_ulimit_leaves_the_audit_log_working():
    # 555 descriptors: 64 client connections fit beside the 485 this
    # configuration needs (2 workers, 2 connectors, the reserve).
    s = EdgeStack(limits="    max_connections: 64\n    max_connections_per_address: 64\n",
                  nofile=555)
    s.mairie.seed("m-alice", "address", ALICE_ADDRESS)
    s.link("mairie", "m-alice", ALICE_PIVOT)
    held = []
    try:
        partner = http.client.HTTPConnection("127.0.0.1", s.gw.port, timeout=10,
                                             source_address=("127.0.0.2", 0))
        statuses = []

        def link(i):
            body = json.dumps({"local_id": "caf-%d" % i, "pivot": dict(
                ALICE_PIVOT, given_names="Flood %d" % i)})
            partner.request("POST", "/v1/links", body=body, headers={
                "Authorization": "Bearer " + KEYS["CAF_KEY"]})
            r = partner.getresponse()
            r.read()
            return r.status

        statuses.append(link(0))
        for i in range(1, 16):
            flood(s.gw.port, 60, held)
            statuses.append(link(i))
            time.sleep(0.1)
        check(len(held) >= 600, "the flood opened %d connections" % len(held))
        eq(statuses, [201] * 16, "audited requests on an open connection, during the flood")
        time.sleep(0.5)  # a checkpoint or two written during the flood
        for c in held:
            c.close()
        held = []
        partner.close()
        time.sleep(0.5)
        for i in range(3):
            r = s.call("caf", "POST", "/v1/links", {"local_id": "caf-after-%d" % i,
                                                     "pivot": dict(ALICE_PIVOT,
                                                                   given_names="After %d" % i)})
            eq(r.status, 201, "an audited request after the flood: %r" % r)
        r = s.call("caf", "POST", "/v1/fetch", {"subject": "caf-0", "dataset": "address",
                                                 "purpose": "benefit-eligibility",
                                                 "attributes": ["postal_code"]})
        check(r.status in (200, 403, 404), "a fetch is audited and answered: %r" % r)
        eq(ready(s)[0], 200, "ready")
        log = s.gw.read_log()
        check("Too many open files" not in log.split("listening on")[-1],
              "no descriptor ran out:\n" + log[-2000:])
    finally:
        for c in held:
            c.close()
        s.stop()


@test
def a_max_connections_that_cannot_fit_is_refused_by_check_and_serve():
    s = EdgeStack()
    try:
        cfg = open(s.gw.config).read().replace("    max_body: 256k\n",
                                               "    max_body: 256k\n    max_connections: 1024\n")
        path = os.path.join(s.workdir, "big.yaml")
        with open(path, "w") as f:
            f.write(cfg)

        def low():
            resource.setrlimit(resource.RLIMIT_NOFILE, (544, 544))

        for cmd in ("check", "serve"):
            p = subprocess.run([TELLONCE, cmd, "-c", path], capture_output=True, text=True,
                               env=s.gw.env, preexec_fn=low, timeout=20)
            out = p.stdout + p.stderr
            check(p.returncode != 0, "%s refuses: %s" % (cmd, out))
            check("gateway.limits.max_connections: 1024 client connections" in out and
                  "descriptor limit (RLIMIT_NOFILE, hard) of 544" in out and
                  "lower max_connections to 59" in out, "%s says why: %s" % (cmd, out))
        p = subprocess.run([TELLONCE, "check", "-c", path], capture_output=True, text=True,
                           env=s.gw.env, timeout=20)
        eq(p.returncode, 0, "check passes where the limit allows it: %s" % p.stdout)
    finally:
        s.stop()


@test
def the_audit_log_recovers_once_descriptors_are_back():
    s = EdgeStack()
    try:
        pid = s.gw.proc.pid
        partner = http.client.HTTPConnection("127.0.0.1", s.gw.port, timeout=10)
        n = [0]

        def link():
            n[0] += 1
            body = json.dumps({"local_id": "caf-r%d" % n[0], "pivot": dict(
                ALICE_PIVOT, given_names="Retry %d" % n[0])})
            partner.request("POST", "/v1/links", body=body, headers={
                "Authorization": "Bearer " + KEYS["CAF_KEY"]})
            r = partner.getresponse()
            r.read()
            return r.status

        eq(link(), 201, "a link before the fault")
        soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
        # No descriptor left (a limit below those open): the journal, open,
        # takes entries, but the next checkpoint cannot open its files.
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (8, hard))
        try:
            wait_for(lambda: link() == 503, timeout=10, what="the audit log to fail")
            partner.request("GET", "/readyz")
            r = partner.getresponse()
            eq((r.status, json.loads(r.read())["audit"]), (503, False),
               "readyz says the audit log is down")
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        wait_for(lambda: link() == 201, timeout=10, what="audited requests to work again")
        eq(ready(s), (200, {"status": "ready", "store": True, "audit": True}), "ready again")
        partner.close()
        check("audit: recovered with" in s.gw.read_log(), "the recovery is logged")
        eq(s.gw.stop(), 0, "stops cleanly")
        vkey = s.gw.read_log().split("verifier key ")[1].split()[0]
        p = subprocess.run([TELLONCE, "audit", "verify", os.path.join(s.workdir, "audit"),
                            "--key", vkey], capture_output=True, text=True, timeout=60)
        eq(p.returncode, 0, "the log verifies: %s%s" % (p.stdout, p.stderr))
    finally:
        s.stop()


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
