"""gateway.log: debug lines exist, a reload applies a new level and a new
format, debug lines name routes, services, connectors and deliveries but
never a personal value (a pivot, a local id, a record), and JSON lines carry
the request id of the request they are about."""
import json
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_ADDRESS, ALICE_PIVOT, Stack, check, eq, run, test,  # noqa: E402
                     wait_for)

# In the provider's own names, as it posts its records.
RECORD = {"adresse": {"voie": "7 venelle du Pain Cuit", "cp": "29000",
                      "commune": "Quimper", "pays": "FR"}}


def set_level(s, level, fmt="text"):
    """Rewrites gateway.log and reloads; waits for the reload."""
    text = open(s.gw.config).read()
    text = re.sub(r"  log: .*\n", "", text)
    text = text.replace("  workers: 2\n", "  workers: 2\n  log: {format: %s, level: %s}\n"
                        % (fmt, level), 1)
    with open(s.gw.config, "w") as f:
        f.write(text)
    before = s.gw.read_log().count("configuration reloaded")
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: s.gw.read_log().count("configuration reloaded") > before,
             what="the reload")


def pivot_of(suffix):
    """One citizen per exchange: a link is made once."""
    return dict(ALICE_PIVOT, birthdate="1984-03-1" + suffix[-1])


def exchange(s, suffix):
    """Link, consent, fetch through the provider's connector, and a record
    pushed to the subscriber: every kind of debug line."""
    pivot = pivot_of(suffix)
    s.mairie.seed("m-alice" + suffix, "address", ALICE_ADDRESS)
    s.link("mairie", "m-alice" + suffix, pivot)
    s.link("caf", "caf-alice" + suffix, pivot)
    r = s.call("caf", "POST", "/v1/consents", {
        "subject": "caf-alice" + suffix, "provider": "mairie", "dataset": "address",
        "attributes": ["street", "postal_code", "city"],
        "purpose": "benefit-eligibility"})
    eq(r.status, 201, "consent: %r" % r)
    r = s.call("caf", "POST", "/v1/fetch", {
        "subject": "caf-alice" + suffix, "dataset": "address",
        "purpose": "benefit-eligibility"})
    eq(r.status, 200, "fetch: %r" % r)
    r = s.call("mairie", "POST", "/v1/records", {
        "subject": "m-alice" + suffix, "dataset": "address", "record": RECORD,
        "idempotency_key": "debug-log" + suffix})
    eq(r.status, 202, "record: %r" % r)
    wait_for(lambda: len(s.caf.control("GET", "received")["received"]) > 0,
             what="the delivery")
    s.caf.control("POST", "reset")


def debug_lines(log):
    return [line for line in log.splitlines() if " debug: " in line]


@test
def debug_lines_after_a_reload_and_no_personal_value():
    s = Stack("debuglog")
    try:
        exchange(s, "-1")
        eq(debug_lines(s.gw.read_log()), [], "no debug line at the default level")
        # Each request is answered with an info line naming its trace, as
        # a web server's access log: a trace id is logged at any level
        # but warn and error (contract section 10).
        check(re.search(r" info: request [0-9a-f-]{36} trace [0-9a-f]{32}: "
                        r"POST /v1/fetch answered 200 in \d+ ms", s.gw.read_log()),
              "the fetch's answer at info:\n%s" % s.gw.read_log())
        set_level(s, "debug")
        start = len(s.gw.read_log())
        exchange(s, "-2")
        wait_for(lambda: "delivery" in s.gw.read_log()[start:] and
                 "answered ok" in s.gw.read_log()[start:], what="the delivery's lines")
        text = s.gw.read_log()[start:]
        for want in (r"request [0-9a-f-]{36} trace [0-9a-f]{32}: POST /v1/fetch received from caf",
                     r"request [0-9a-f-]{36} trace [0-9a-f]{32}: POST /v1/fetch answered 200 in \d+ ms",
                     r"request [0-9a-f-]{36} trace [0-9a-f]{32}: POST /v1/links answered 201 in \d+ ms",
                     r"calling provider mairie \(http connector\) for address",
                     r"provider mairie answered ok \(HTTP 200\)",
                     r"delivery \S+ trace [0-9a-f]{32}: pushing address to caf \(http connector\), attempt 1",
                     r"delivery \S+: caf answered ok \(HTTP 204\) at attempt 1"):
            check(re.search(want, text), "a line like %r in:\n%s" % (want, text))
        personal = [v for n in "123" for v in pivot_of(n).values() if len(v) > 1]
        personal += list(ALICE_ADDRESS["adresse"].values()) + list(RECORD["adresse"].values())
        personal += ["m-alice", "caf-alice"]
        log = s.gw.read_log()
        # As a token: a short value such as "FR" may occur by chance inside a
        # base64url pseudonym, which is allowed in the log.
        for value in personal:
            check(not re.search(r"(?<![A-Za-z0-9_-])%s(?![A-Za-z0-9_-])" % re.escape(value), log),
                  "personal value %r in the log" % value)
        # And back: a reload to info stops them.
        set_level(s, "info")
        start = len(s.gw.read_log())
        exchange(s, "-3")
        eq(debug_lines(s.gw.read_log()[start:]), [], "no debug line after info again")
    finally:
        s.stop()


@test
def json_lines_carry_the_request_id():
    s = Stack("jsonlog")
    try:
        set_level(s, "debug", "json")
        start = len(s.gw.read_log())
        exchange(s, "-4")
        r = s.call("caf", "POST", "/v1/fetch", {
            "subject": "caf-alice-4", "dataset": "address",
            "purpose": "benefit-eligibility"})
        eq(r.status, 200, "fetch: %r" % r)
        rid = r.headers.get("x-request-id")
        wait_for(lambda: re.search(r"answered 200[^\n]*" + rid, s.gw.read_log()[start:]),
                 what="the fetch's last line")
        lines = [json.loads(line) for line in s.gw.read_log()[start:].splitlines()]
        for line in lines:
            check(set(line) <= {"ts", "level", "msg", "request_id", "trace_id"} and
                  {"ts", "level", "msg"} <= set(line), "members of %r" % line)
            check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["ts"]),
                  "ts of %r" % line)
            m = re.match(r"request (\S+) trace ([0-9a-f]{32}):", line["msg"])
            if m:
                eq(line.get("request_id"), m.group(1), "request_id of %r" % line)
                eq(line.get("trace_id"), m.group(2), "trace_id of %r" % line)
        mine = [line["msg"] for line in lines if line.get("request_id") == rid]
        for want in ("POST /v1/fetch received from caf", "calling provider mairie",
                     "provider mairie answered ok", "POST /v1/fetch answered 200"):
            check(any(want in m for m in mine), "a line %r of %s in %r" % (want, rid, mine))
        # A delivery's lines are about the delivery (its id is the
        # subscriber's X-Request-Id) and the trace of the push.
        deliveries = [line for line in lines if line["msg"].startswith("delivery ")]
        check(deliveries, "the delivery's lines")
        push_trace = [line["trace_id"] for line in lines
                      if "POST /v1/records answered 202" in line["msg"]][0]
        for line in deliveries:
            delivery = line["msg"].split()[1].rstrip(":")
            eq((line.get("request_id"), line.get("trace_id")), (delivery, push_trace),
               "request_id and trace_id of %r" % line)
        # A reload applies the format: text again.
        set_level(s, "info", "text")
        start = len(s.gw.read_log())
        set_level(s, "info", "text")
        tail = s.gw.read_log()[start:]
        check(" info: configuration reloaded" in tail and not tail.startswith("{"),
              "text lines after the reload: %r" % tail)
    finally:
        s.stop()


if __name__ == "__main__":
    run()
