"""Limits end to end: per-service rate limits (429 with Retry-After and
RateLimit-* headers, other services unaffected), slow clients cut by the
request deadline, the connection cap, oversized bodies and headers -- and
through all of it the gateway keeps serving well-behaved clients. Also
gateway.user: the daemon drops root for good."""
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (KEYS, TELLONCE, Gateway, Partner, check, closed_by_server, eq,  # noqa: E402
                     free_port, gateway_config,
                     make_signing_key, make_workdir, run, test, wait_for)

LIMITS = """\
  limits:
    max_body: 64k
    max_headers: 8k
    request_timeout: 2s
    max_connections: 24
"""

S = None


class Stack:
    def __init__(self, limits=LIMITS):
        self.workdir = make_workdir("limits")
        make_signing_key(self.workdir)
        self.mairie = Partner(self.workdir, "mairie")
        self.port = free_port()
        cfg = gateway_config(self.port, self.mairie.url, self.mairie.url, self.workdir)
        cfg = cfg.replace("  limits:\n    max_body: 64k\n", limits)
        cfg = cfg.replace("    auth: {api_key: env:CAF_KEY}\n",
                          "    auth: {api_key: env:CAF_KEY}\n"
                          "    rate_limit: {rate: 2/s, burst: 4}\n")
        self.gw = Gateway(self.workdir, cfg, KEYS)
        self.gw.start(self.port)

    def call(self, service, method, path, body=None, **kw):
        key = KEYS[service.upper() + "_KEY"] if service else None
        return self.gw.call(method, path, body, key=key, **kw)

    def healthy(self):
        t0 = time.monotonic()
        eq(self.call(None, "GET", "/healthz", timeout=5).status, 200, "healthz")
        return time.monotonic() - t0

    def stop(self):
        self.gw.stop()
        self.mairie.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def st():
    global S
    if S is None:
        S = Stack()
    return S


def connect(stack=None):
    return socket.create_connection(("127.0.0.1", (stack or st()).port), timeout=10)


@test
def a_burst_over_the_rate_limit_gets_429_with_retry_after():
    s = st()
    got = [s.call("caf", "GET", "/v1/consents?subject=caf-x") for _ in range(8)]
    statuses = [r.status for r in got]
    eq(statuses[:4], [404] * 4, "the burst of 4 goes through (to subject_not_linked)")
    check(statuses.count(429) >= 3, "most of the rest is refused: %r" % statuses)
    first = got[statuses.index(429)]
    eq(first.headers.get("content-type"), "application/problem+json", "problem")
    eq(first.json["reason"], "rate_limited", "reason")
    retry = int(first.headers["retry-after"])
    check(1 <= retry <= 1, "Retry-After of one token at 2/s: %d" % retry)
    eq(first.headers["ratelimit-limit"], "4", "RateLimit-Limit is the burst")
    eq(first.headers["ratelimit-remaining"], "0", "RateLimit-Remaining")
    check(1 <= int(first.headers["ratelimit-reset"]) <= 2, "RateLimit-Reset: seconds to full")
    eq(got[0].headers["ratelimit-remaining"], "3", "the first request leaves 3")
    # Another service has its own bucket (and mairie has no limit at all).
    for _ in range(10):
        r = s.call("mairie", "GET", "/v1/consents?subject=m-x")
        eq(r.status, 404, "mairie is not limited")
        check("ratelimit-limit" not in r.headers, "no RateLimit headers without a limit")
    time.sleep(retry)
    eq(s.call("caf", "GET", "/v1/consents?subject=caf-x").status, 404,
       "served again after Retry-After")


@test
def a_slow_header_trickle_is_cut_and_others_are_served():
    s = st()
    slow = connect()
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    t0 = time.monotonic()
    cut = False
    while time.monotonic() - t0 < 6:
        try:
            slow.sendall(b"X")      # one header byte every 200 ms
        except OSError:
            cut = True
            break
        check(s.healthy() < 1, "others are served while the trickle goes on")
        if closed_by_server(slow, 0.2):
            cut = True
            break
    elapsed = time.monotonic() - t0
    slow.close()
    check(cut, "the trickling connection was never closed")
    check(1.5 < elapsed < 4, "cut at the 2 s request deadline, not %.1f s" % elapsed)


@test
def a_slow_body_is_cut_too():
    s = st()
    slow = connect()
    slow.sendall(b"POST /v1/links HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                 b"Authorization: Bearer " + KEYS["CAF_KEY"].encode() + b"\r\n\r\n{")
    t0 = time.monotonic()
    cut = False
    while time.monotonic() - t0 < 6 and not cut:
        try:
            slow.sendall(b" ")
        except OSError:
            break
        cut = closed_by_server(slow, 0.2)
    slow.close()
    check(time.monotonic() - t0 < 4, "a body that never ends is cut at the deadline")
    s.healthy()


def served(stack):
    try:
        return stack.call(None, "GET", "/healthz", timeout=2).status == 200
    except ConnectionError:
        return False


def hold(stack, n):
    """n connections, each served once and kept alive; None if one was
    closed (a connection from before had not been released yet)."""
    held = [connect(stack) for _ in range(n)]
    for c in held:
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        if not c.recv(4096).startswith(b"HTTP/1.1 200"):
            for d in held:
                d.close()
            return None
    return held


@test
def connections_beyond_max_connections_are_closed():
    # A long deadline, so that the connections held stay open however
    # slowly this machine runs the test.
    s = Stack(LIMITS.replace("request_timeout: 2s", "request_timeout: 60s"))
    try:
        held = None
        for _ in range(50):
            held = hold(s, 24)
            if held is not None:
                break
            time.sleep(0.1)
        check(held is not None, "24 connections are served")
        extra = connect(s)
        check(closed_by_server(extra, 5), "the 25th connection is closed at once")
        extra.close()
        for c in held:
            c.close()
        wait_for(lambda: served(s), what="service once connections are released")
    finally:
        s.stop()


@test
def oversized_bodies_and_headers_are_refused_and_service_goes_on():
    s = st()
    r = s.call("caf", "POST", "/v1/links", raw=b"{" + b" " * (70 * 1024) + b"}",
               headers={"Content-Type": "application/json"})
    eq(r.status, 413, "a body over max_body")
    try:
        r = s.call(None, "GET", "/healthz", headers={"X-Big": "a" * (9 * 1024)})
        check(r.status in (400, 413, 431), "headers over max_headers: %r" % r)
    except ConnectionError:
        pass                         # closed without an answer is fine too
    eq(s.call(None, "GET", "/healthz").status, 200, "still serving")
    log = s.gw.read_log()
    check("AddressSanitizer" not in log and "runtime error" not in log, "no sanitizer report")


TITLES = {400: "Bad Request", 413: "Content Too Large",
          417: "Expectation Failed", 501: "Not Implemented"}


def a_problem(status, headers, body, what):
    """Checks a problem document (contract §4) with its X-Request-Id."""
    check(headers.get("x-request-id"), "X-Request-Id on %s" % what)
    eq(headers.get("content-type"), "application/problem+json", "content type of " + what)
    problem = json.loads(body)
    eq(problem.get("status"), status, "status member of " + what)
    eq(problem.get("title"), TITLES[status], "title of " + what)
    for k in ("type", "detail"):
        check(k in problem, "%s: problem member %s missing: %r" % (what, k, problem))


def raw_answer(data):
    """Sends data on a connection of its own; the status, the headers
    (lower-case names) and the body of the answer."""
    sock = connect()
    got = b""
    try:
        sock.sendall(data)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    head, _, body = got.decode("latin-1").partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@test
def what_libevent_refuses_is_a_problem_with_a_request_id():
    """libevent answers some requests before the gateway sees them: a body
    over max_body, headers it cannot read, a method it does not serve.
    Those answers too are problem documents with an X-Request-Id."""
    s = st()
    r = s.call("caf", "POST", "/v1/links", raw=b"{" + b" " * (70 * 1024) + b"}",
               headers={"Content-Type": "application/json"})
    eq(r.status, 413, "a body over max_body")
    a_problem(413, r.headers, r.raw, "a body over max_body")
    # Far more than the socket buffers hold: the client is still sending
    # when the gateway knows its answer, and must get to read it.
    r = s.call("caf", "POST", "/v1/links", raw=b" " * (16 << 20),
               headers={"Content-Type": "application/json"})
    eq(r.status, 413, "a body far over max_body")
    a_problem(413, r.headers, r.raw, "a body far over max_body")
    for what, data, want in (
            ("headers over max_headers",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (9 * 1024) + b"\r\n\r\n",
             400),
            ("a request line that is not HTTP", b"GARBAGE\r\n\r\n", 400),
            ("a method HTTP does not have", b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
             501),
            ("an expectation other than 100-continue",
             b"POST /v1/links HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             b"Expect: 200-ok\r\n\r\n{}", 417)):
        status, headers, body = raw_answer(data)
        eq(status, want, what)
        a_problem(want, headers, body, what)
    s.healthy()


@test
def gateway_user_drops_root_for_good():
    if os.geteuid() != 0:
        print("  (not root: nothing to drop)")
        return
    user = pwd.getpwnam("nobody")
    workdir = make_workdir("user")
    os.chmod(workdir, 0o755)
    make_signing_key(workdir)      # 0600, owned by root: read before the drop
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    os.chown(data, user.pw_uid, user.pw_gid)
    port = free_port()
    cfg = gateway_config(port, "http://127.0.0.1:9", "http://127.0.0.1:9", data)
    cfg = cfg.replace("  workers: 2\n", "  workers: 2\n  user: nobody\n")
    cfg = cfg.replace("file:%s/audit.key" % data, "file:%s/audit.key" % workdir)
    gw = Gateway(workdir, cfg, KEYS)
    try:
        gw.start(port)
        with open("/proc/%d/status" % gw.proc.pid) as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        eq(status["Uid"].split(), [str(user.pw_uid)] * 4, "real, effective, saved, fs uid")
        eq(status["Gid"].split(), [str(user.pw_gid)] * 4, "gids")
        eq(status["Groups"].split(), [str(user.pw_gid)], "supplementary groups")
        eq(status["NoNewPrivs"].strip(), "1", "no_new_privs")
        r = gw.call("POST", "/v1/links", {"local_id": "c-1", "pivot": {
            "family_name": "A", "given_names": "B", "birthdate": "2000-01-01",
            "birthplace": "C", "gender": "F"}}, key=KEYS["CAF_KEY"])
        eq(r.status, 201, "store and audit log work as nobody")
        for name in ("tellonce.db", "tellonce.db.access"):
            eq(os.stat(os.path.join(data, name)).st_uid, user.pw_uid,
               "%s is created as nobody" % name)
        check("running as nobody" in gw.read_log(), "the switch is logged")
    finally:
        gw.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@test
def an_unknown_user_stops_the_start():
    if os.geteuid() != 0:
        return
    workdir = make_workdir("user")
    make_signing_key(workdir)
    port = free_port()
    cfg = gateway_config(port, "http://127.0.0.1:9", "http://127.0.0.1:9", workdir)
    cfg = cfg.replace("  workers: 2\n", "  workers: 2\n  user: no-such-user-here\n")
    gw = Gateway(workdir, cfg, KEYS)
    try:
        rc = subprocess.run([TELLONCE, "serve", "-c", gw.config], env=gw.env,
                            capture_output=True, timeout=20)
        eq(rc.returncode, 1, "serve fails")
        check(b"gateway.user: no user no-such-user-here" in rc.stderr, "says why")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
