"""Operating it, end to end: W3C trace context from a client to a provider
and from a push to its subscribers, the trace id in the log, and the
Prometheus metrics (promtool-clean, per route and per connector, outbox,
circuit breakers, audit log, reloads) that dist/grafana-tellonce.json
queries."""
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, ROOT, check, eq, run, test, wait_for)  # noqa: E402
from pushstack import PushStack, address, pivot, wait_received  # noqa: E402

S = None
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
CLIENT_TP = "00-%s-%s-01" % (CLIENT_TRACE, CLIENT_SPAN)
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def st():
    global S
    if S is None:
        S = PushStack("observability")
        S.link_all("alice", ALICE_PIVOT)
        S.mairie.seed("m-alice", "address", address("12 rue Kéréon", "29000", "Quimper"))
    return S


def fetch(traceparent=None):
    headers = {"traceparent": traceparent} if traceparent is not None else None
    return st().call("impots", "POST", "/v1/fetch", {
        "subject": "i-alice", "dataset": "address", "purpose": "tax-assessment"},
        headers=headers)


def parsed(tp):
    m = TRACEPARENT.match(tp or "")
    check(m, "a valid version-00 traceparent: %r" % tp)
    return m.group(1), m.group(2), m.group(3)


def last_provider_traceparent():
    reqs = [q for q in st().mairie.control("GET", "requests")
            if q["path"].startswith("/citizens/m-alice/")]
    check(reqs, "the provider was called")
    return reqs[-1]["traceparent"]


@test
def a_fetch_passes_the_callers_trace_to_the_provider_as_a_child():
    r = fetch(CLIENT_TP)
    eq(r.status, 200, "fetch: %r" % r)
    trace, span, flags = parsed(last_provider_traceparent())
    eq(trace, CLIENT_TRACE, "the provider sees the client's trace id")
    check(span != CLIENT_SPAN, "a span id of the gateway's, not the client's")
    eq(flags, "01", "the sampled flag is passed on")


@test
def a_malformed_or_missing_traceparent_starts_a_new_trace():
    seen = set()
    for bad in ("00-%s-%s-01" % (CLIENT_TRACE.upper(), CLIENT_SPAN),
                "00-%s-%s-01" % ("0" * 32, CLIENT_SPAN),
                CLIENT_TP + "-x", "garbage", None):
        eq(fetch(bad).status, 200, "fetch with %r" % bad)
        trace, _, _ = parsed(last_provider_traceparent())
        check(trace != CLIENT_TRACE.lower() and trace != "0" * 32,
              "%r started a trace of its own" % bad)
        seen.add(trace)
    eq(len(seen), 5, "a new trace each time")


@test
def the_request_log_line_carries_the_trace_id():
    s = st()
    s.mairie.behave("error500")
    try:
        eq(fetch(CLIENT_TP).status, 502, "the provider fails")
    finally:
        s.mairie.behave("normal")
    lines = [ln for ln in s.gw.read_log().splitlines() if "provider mairie failed" in ln]
    check(lines, "the failure is logged")
    check("trace %s" % CLIENT_TRACE in lines[-1], "with the trace id: %r" % lines[-1])


@test
def a_delivery_carries_the_trace_of_the_push_that_created_it():
    s = st()
    s.link_all("trace", pivot("Le Gall", "Anna", "1990-01-01"))
    tp = "00-%s-%s-01" % ("a" * 31 + "1", "b" * 15 + "2")
    r = s.call("mairie", "POST", "/v1/records", {
        "subject": "m-trace", "dataset": "address",
        "record": address("1 rue Neuve", "29000", "Quimper")},
        headers={"traceparent": tp})
    eq(r.status, 202, "push: %r" % r)
    impots = wait_received(s, "impots", "i-trace")[0]["traceparent"]
    ccas = wait_received(s, "ccas", "s-trace")[0]["traceparent"]
    spans = set()
    for got in (impots, ccas):
        trace, span, _ = parsed(got)
        eq(trace, "a" * 31 + "1", "the subscriber sees the push's trace id")
        spans.add(span)
    check("b" * 15 + "2" not in spans and len(spans) == 2,
          "each delivery is a span of its own: %r" % spans)


@test
def every_thread_says_what_it_is_in_top_and_perf():
    s = st()
    m = re.search(r"listening on \S+ with (\d+) workers", s.gw.read_log())
    check(m is not None, "the log says how many workers")
    task = "/proc/%d/task" % s.gw.proc.pid
    names = sorted(open(os.path.join(task, t, "comm")).read().strip()
                   for t in os.listdir(task))
    want = ["worker/%d" % i for i in range(int(m.group(1)))] + \
        ["audit", "checkpointer", "delivery", "tellonce"]
    for name in want:
        check(name in names, "a thread named %r among %r" % (name, names))
    unnamed = [n for n in names if n == "tellonce"]
    eq(len(unnamed), 1, "only the main thread keeps the program's name: %r" % names)


def scrape():
    r = st().call(None, "GET", "/metrics")
    eq(r.status, 200, "metrics")
    return r.raw


def sample(text, name, **labels):
    """The value of the one series name{labels...}, or None."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if m is None or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def families(text):
    """{name: type} of the # TYPE lines."""
    return dict(re.findall(r"^# TYPE (\w+) (\w+)$", text, re.M))


@test
def latency_histograms_per_route_and_per_connector():
    text = scrape()
    eq(families(text).get("tellonce_http_request_duration_seconds"), "histogram", "type")
    n = sample(text, "tellonce_http_request_duration_seconds_count",
               route="/v1/fetch", code="2xx")
    check(n is not None and n >= 6, "fetches counted under their route: %r" % n)
    check(sample(text, "tellonce_http_request_duration_seconds_count",
                 route="/v1/fetch", code="5xx") >= 1, "the 502 under 5xx")
    inf = sample(text, "tellonce_http_request_duration_seconds_bucket",
                 route="/v1/fetch", code="2xx", le="+Inf")
    eq(inf, n, "+Inf bucket equals the count")
    check(sample(text, "tellonce_http_request_duration_seconds_sum",
                 route="/v1/fetch", code="2xx") > 0, "a sum in seconds")
    check(sample(text, "tellonce_connector_call_duration_seconds_count",
                 service="mairie", operation="fetch") >= 7, "provider fetches timed")
    check(sample(text, "tellonce_connector_call_duration_seconds_count",
                 service="impots", operation="push") >= 1, "deliveries timed")
    eq(sample(text, "tellonce_connector_calls_total", service="mairie",
              operation="fetch", result="retry"), 1.0, "the 500 was a retry outcome")


@test
def no_label_holds_a_pseudonym_a_local_id_or_a_raw_path():
    text = scrape()
    labels = re.findall(r'(\w+)="([^"]*)"', text)
    check(labels, "labels found")
    for k, v in labels:
        # The config's digest is 64 hex digits too, under its own name.
        check(k == "sha256" or not re.fullmatch(r"[0-9a-f]{64}", v),
              "a pseudonym in a label: %s" % v)
        check(not re.search(r"(^|[-/])(alice|trace)$|^[mis]-", v), "a local id in a label: %s" % v)
        check("?" not in v and "/citizens/" not in v, "a raw path in a label: %s" % v)


@test
def outbox_dead_letters_and_circuit_breakers_per_subscriber():
    s = st()
    text = scrape()
    for sub in ("caf", "ccas", "impots"):
        check(sample(text, "tellonce_outbox_depth", subscriber=sub) is not None,
              "outbox depth of %s" % sub)
        eq(sample(text, "tellonce_delivery_circuit_state", subscriber=sub), 0.0,
           "%s's circuit closed" % sub)
    eq(sample(text, "tellonce_outbox_dead_letters", subscriber="impots"), 0.0, "no dead letter")
    s.link_all("dead", pivot("Morvan", "Loïc", "1980-05-05"))
    s.impots.behave("error400")
    s.ccas.behave("error503")
    try:
        eq(s.push("m-dead", address("2 rue Neuve", "29000", "Quimper")).status, 202, "push")
        wait_for(lambda: sample(scrape(), "tellonce_outbox_dead_letters",
                                subscriber="impots") == 1.0, 10, "impots' dead letter")
        wait_for(lambda: sample(scrape(), "tellonce_delivery_circuit_state",
                                subscriber="ccas") in (1.0, 2.0), 15, "ccas' circuit open")
        check(sample(scrape(), "tellonce_outbox_depth", subscriber="ccas") >= 1,
              "ccas' delivery waits in the outbox")
    finally:
        s.impots.behave("normal")
        s.ccas.behave("normal")
    wait_for(lambda: sample(scrape(), "tellonce_delivery_circuit_state",
                            subscriber="ccas") == 0.0, 15, "ccas' circuit closed again")
    wait_for(lambda: sample(scrape(), "tellonce_outbox_depth", subscriber="ccas") == 0.0,
             10, "ccas' outbox drained")


@test
def audit_size_checkpoint_age_and_reloads():
    s = st()
    text = scrape()
    check(sample(text, "tellonce_audit_entries") >= 10, "audit entries")
    wait_for(lambda: sample(scrape(), "tellonce_audit_checkpoint_entries") ==
             sample(scrape(), "tellonce_audit_entries"), 5, "a checkpoint covers the log")
    age = sample(scrape(), "tellonce_audit_checkpoint_age_seconds")
    check(age is not None and 0 <= age < 60, "checkpoint age %r" % age)
    loaded = sample(text, "tellonce_config_last_reload_success_timestamp_seconds")
    check(loaded > 1.7e9, "the start's load time: %r" % loaded)
    eq(sample(text, "tellonce_config_reloads_total", result="ok"), 0.0, "no reload yet")
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: sample(scrape(), "tellonce_config_reloads_total", result="ok") == 1.0,
             10, "a reload counted")
    check(sample(scrape(), "tellonce_config_last_reload_success_timestamp_seconds") >= loaded,
          "its time kept")
    good = open(s.gw.config).read()
    try:
        with open(s.gw.config, "w") as f:
            f.write(good.replace("datasets:", "datasets: [oops"))
        s.gw.kill(signal.SIGHUP)
        wait_for(lambda: sample(scrape(), "tellonce_config_reloads_total",
                                result="refused") == 1.0, 10, "a refused reload counted")
        eq(sample(scrape(), "tellonce_config_last_reload_successful"), 0.0, "last one refused")
    finally:
        with open(s.gw.config, "w") as f:
            f.write(good)
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: sample(scrape(), "tellonce_config_last_reload_successful") == 1.0,
             10, "taken again")


def config_digests(s):
    """The config SHA-256 that /readyz and the metric show."""
    ready = s.call(None, "GET", "/readyz").json["config_sha256"]
    m = re.search(r'^tellonce_config_info\{sha256="([0-9a-f]{64})"\} 1$', scrape(), re.M)
    check(m is not None, "tellonce_config_info has a sample")
    return ready, m.group(1)


@test
def the_config_digest_follows_the_config_in_force():
    """Nodes on one configuration compare it: sha256sum of the file, kept
    by a refused reload (the old config is still in force), changed by a
    taken one."""
    s = st()
    good = open(s.gw.config, "rb").read()
    first = hashlib.sha256(good).hexdigest()
    eq(config_digests(s), (first, first), "the file's SHA-256 on /readyz and the metric")
    changed = good + b"# rolled out on Tuesday\n"
    try:
        with open(s.gw.config, "wb") as f:
            f.write(good.replace(b"datasets:", b"datasets: [oops"))
        s.gw.kill(signal.SIGHUP)
        wait_for(lambda: sample(scrape(), "tellonce_config_last_reload_successful") == 0.0,
                 10, "the broken file refused")
        eq(config_digests(s), (first, first), "a refused reload keeps the digest")
        with open(s.gw.config, "wb") as f:
            f.write(changed)
        s.gw.kill(signal.SIGHUP)
        want = hashlib.sha256(changed).hexdigest()
        wait_for(lambda: config_digests(s) == (want, want), 10, "the new digest")
    finally:
        with open(s.gw.config, "wb") as f:
            f.write(good)
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: config_digests(s) == (first, first), 10, "the first digest again")


@test
def promtool_finds_nothing_to_say():
    text = scrape()
    promtool = shutil.which("promtool")
    if promtool is None:
        print("  notice: promtool not found (Debian package prometheus); "
              "the lint is skipped", flush=True)
        return
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode(errors="replace").strip()
    eq((p.returncode, out), (0, ""), "promtool check metrics")


@test
def the_grafana_dashboard_queries_only_metrics_that_exist():
    with open(os.path.join(ROOT, "dist", "grafana-tellonce.json")) as f:
        dash = json.load(f)
    exprs = []

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("expr", "definition") and isinstance(v, str):
                    exprs.append(v)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(dash)
    names = {n for e in exprs for n in re.findall(r"\btellonce_[a-z0-9_]+", e)}
    check(len(names) >= 12, "the dashboard queries the gateway's metrics: %r" % names)
    kinds = families(scrape())
    exposed = set(kinds)
    for name, kind in kinds.items():
        if kind == "histogram":
            exposed |= {name + "_bucket", name + "_sum", name + "_count"}
    missing = sorted(names - exposed)
    eq(missing, [], "dashboard metrics that /metrics does not expose")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
