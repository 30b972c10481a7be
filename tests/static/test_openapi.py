#!/usr/bin/env python3
"""test_openapi.py — docs/openapi.yaml says what the server serves.

- every route of gateway/server.c's route table is an operation of the
  document, and every operation of the document a route of the table (a
  prefix route "/v1/links/" stands for the templated paths under it); the
  operations marked `x-admin-listener: true` are the admin listener's
  table;
- the document's version is VERSION's;
- the response validator the end-to-end suite runs on every answer
  (tests/e2e/openapi_validator.py) refuses what it must: a test of the
  validator against made-up answers;
- `redocly lint` (a pinned @redocly/cli, through npx) accepts the document,
  when npx is there and the npm registry answers; otherwise the test says
  it skipped and why.

    python3 tests/static/test_openapi.py   # from the repository top
"""
import json
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from openapi_validator import Document, Invalid, operations  # noqa: E402

REDOCLY = "@redocly/cli@2.77.0"


def read(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as f:
        return f.read()


def server_routes(name="server_route_table"):
    """{(METHOD, path)} of a route table in gateway/server.c, its macros
    of routes (#define SERVER_..._ROUTES) expanded."""
    text = read("gateway", "server.c")
    macros = dict(re.findall(r"#define (SERVER_\w+_ROUTES) \\\n((?:.*\\\n)*.*\n)", text))
    table = re.search(r"%s\[\] = \{(.*?)\n\};" % name, text, re.S)
    if table is None:
        raise SystemExit("gateway/server.c: %s not found" % name)
    body = table.group(1)
    for name, routes in macros.items():
        body = re.sub(r"\b%s\b" % name, lambda m: routes, body)
    return set(re.findall(r'\{\s*EVHTTP_REQ_([A-Z]+),\s*"([^"]+)"', body))


def route_of(method, template, routes):
    """The route serving a documented operation: the same path, or the
    prefix route whose prefix the template starts with, then a parameter."""
    for m, path in routes:
        if m != method:
            continue
        if path == template:
            return (m, path)
        if path.endswith("/") and template.startswith(path + "{"):
            return (m, path)
    return None


def check_routes(failures):
    routes = server_routes()
    ops = operations(Document().doc)
    served = {route_of(m, t, routes) for m, t in ops}
    for m, t in sorted(ops):
        if route_of(m, t, routes) is None:
            failures.append("docs/openapi.yaml: %s %s is not in gateway/server.c's route table"
                            % (m, t))
    for m, path in sorted(routes - served):
        failures.append("gateway/server.c: route %s %s is not in docs/openapi.yaml%s"
                        % (m, path, " (as %s{param}...)" % path if path.endswith("/") else ""))
    admin = server_routes("server_admin_route_table")
    marked = {route_of(m, t, admin) or (m, t) for m, t, op in doc_operations()
              if op.get("x-admin-listener")}
    if marked != admin:
        failures.append("the operations marked x-admin-listener (%s) are not the admin "
                        "listener's routes (%s)" % (sorted(marked), sorted(admin)))
    return "%d routes, %d operations, %d on the admin listener" % (len(routes), len(ops),
                                                                   len(admin))


def doc_operations():
    """(METHOD, template, operation) of the document."""
    doc = Document().doc
    return [(m.upper(), t, op) for t, item in doc["paths"].items()
            for m, op in item.items() if m.upper() in ("GET", "POST", "PUT", "DELETE", "PATCH")]


def check_version(failures):
    version = read("VERSION").strip()
    got = Document().doc["info"]["version"]
    if got != version:
        failures.append("docs/openapi.yaml: info.version is %s, VERSION says %s" % (got, version))


# ---- the validator ----

PROBLEM = {"type": "about:blank", "title": "Not Found", "status": 404,
           "detail": "no such endpoint", "request_id": "r-1"}
CONSENT = {"id": "c1", "subject": "caf-1", "consumer": "caf", "provider": "mairie",
           "dataset": "address", "attributes": ["city"], "purpose": "p",
           "created_at": "2026-01-02T03:04:05.678Z", "expires_at": None,
           "revoked_at": None, "status": "active"}


def answer(method, path, status, body, ctype="application/json", admin=False):
    text = body if isinstance(body, str) else json.dumps(body)
    return (method, path, status, ctype, text, admin)


def with_(base, **changes):
    d = dict(base)
    for k, v in changes.items():
        if v is Ellipsis:
            d.pop(k)
        else:
            d[k] = v
    return d


# Answers the document describes.
GOOD = [
    answer("GET", "/healthz", 200, {"status": "ok"}),
    answer("GET", "/readyz", 503, {"status": "not ready", "store": True, "audit": False,
                                   "config_sha256": "ab" * 32}),
    answer("GET", "/metrics", 200, "x_total 1\n", "text/plain; version=0.0.4"),
    answer("GET", "/v1/consents?subject=caf-1", 200, {"consents": [CONSENT]}),
    answer("POST", "/v1/consents", 201, with_(CONSENT, receipt="a.b.c", audit_index=3)),
    answer("DELETE", "/v1/consents/c1", 204, ""),
    answer("POST", "/v1/fetch", 403, with_(PROBLEM, status=403, reason="no_consent"),
           "application/problem+json"),
    answer("POST", "/v1/fetch", 200, {"provider": "mairie", "dataset": "address",
                                      "record": {"city": "Quimper"}, "audit_index": 0}),
    answer("GET", "/audit/tile/0/x001/234.p/5", 200, "\x00", "application/octet-stream"),
    answer("POST", "/v1/deliveries/d1/retry", 202, {"id": "d1", "state": "pending",
                                                    "audit_index": 9}),
    answer("GET", "/no/such/thing", 404, PROBLEM, "application/problem+json"),
    answer("PUT", "/v1/fetch", 405, with_(PROBLEM, status=405), "application/problem+json"),
    answer("POST", "/v1/objections", 201, {"id": "o", "subject": "s", "dataset": "d",
                                           "purpose": "p", "consumer": None,
                                           "audit_index": 1}),
    answer("GET", "/healthz", 200, {"status": "ok"}, admin=True),
    answer("POST", "/v1/links", 404, PROBLEM, "application/problem+json", admin=True),
]

# Answers it does not, each with why.
BAD = [
    ("an undocumented status", answer("GET", "/healthz", 201, {"status": "ok"})),
    ("a member the schema does not have",
     answer("GET", "/healthz", 200, {"status": "ok", "uptime": 3})),
    ("a value outside the enum", answer("GET", "/healthz", 200, {"status": "fine"})),
    ("a required member missing",
     answer("GET", "/readyz", 200, {"status": "ready", "store": True})),
    ("a boolean where an integer goes",
     answer("POST", "/v1/fetch", 200, {"provider": "m", "dataset": "d", "record": {},
                                       "audit_index": True})),
    ("another content type", answer("GET", "/healthz", 200, {"status": "ok"}, "text/plain")),
    ("not JSON", answer("GET", "/healthz", 200, "ok")),
    ("a body on a 204", answer("DELETE", "/v1/consents/c1", 204, "{}")),
    ("a null that is not nullable",
     answer("GET", "/v1/consents", 200, {"consents": [with_(CONSENT, created_at=None)]})),
    ("not a date-time",
     answer("GET", "/v1/consents", 200, {"consents": [with_(CONSENT, created_at="yesterday")]})),
    ("an item of the wrong type",
     answer("GET", "/v1/consents", 200, {"consents": [with_(CONSENT, attributes=["a", 1])]})),
    ("a member beyond allOf's (unevaluatedProperties)",
     answer("GET", "/v1/consents", 200, {"consents": [with_(CONSENT, receipt="x")]})),
    ("a member missing from an allOf branch",
     answer("POST", "/v1/consents", 201, with_(CONSENT, receipt="a.b.c"))),
    ("a reason outside the enum",
     answer("POST", "/v1/fetch", 403, with_(PROBLEM, status=403, reason="because"),
            "application/problem+json")),
    ("a problem without request_id",
     answer("POST", "/v1/fetch", 403, with_(PROBLEM, status=403, request_id=...),
            "application/problem+json")),
    ("a nested value of a type additionalProperties refuses",
     answer("POST", "/v1/fetch", 200, {"provider": "m", "dataset": "d",
                                       "record": {"city": {"n": 1}}, "audit_index": 0})),
    ("a oneOf matched by neither branch",
     answer("GET", "/v1/access-log?subject=s", 200, {"entries": [{
         "ts": "2026-01-02T03:04:05Z", "type": "fetch", "consumer": None, "provider": None,
         "dataset": None, "attributes": None, "purpose": None, "basis": None, "policy": None,
         "consent": None, "decision": "allow", "reason": None, "request_id": None,
         "payload_sha256": None, "audit_index": 1, "inclusion_proof": {"size": 2}}],
         "next": None})),
    ("an unknown path answered 200", answer("GET", "/no/such/thing", 200, {"status": "ok"})),
    ("an undocumented method answered 200", answer("PUT", "/healthz", 200, {"status": "ok"})),
    ("a service's operation answered on the admin listener",
     answer("GET", "/v1/consents?subject=caf-1", 200, {"consents": []}, admin=True)),
]


def check_validator(failures):
    doc = Document()
    for a in GOOD:
        try:
            doc.check_response(*a)
        except Invalid as e:
            failures.append("validator: refused a documented answer %s %s %d: %s"
                            % (a[0], a[1], a[2], e))
    for why, a in BAD:
        try:
            doc.check_response(*a)
            failures.append("validator: accepted %s (%s %s %d)" % (why, a[0], a[1], a[2]))
        except Invalid:
            pass
    try:
        doc.validate(1, {"type": "integer", "multipleOf": 2})
        failures.append("validator: a keyword outside its subset went unnoticed")
    except Invalid:
        pass
    return "%d answers accepted, %d refused" % (len(GOOD), len(BAD))


def check_lint(failures):
    """redocly lint, or a notice saying why it did not run."""
    if shutil.which("npx") is None:
        return "SKIPPED: npx is not installed, so redocly lint did not run"
    try:
        reach = subprocess.run(["npm", "view", REDOCLY, "version"], capture_output=True,
                               text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "SKIPPED: the npm registry did not answer (%s), so redocly lint did not run" % e
    if reach.returncode != 0:
        return ("SKIPPED: the npm registry did not answer for %s, so redocly lint did not "
                "run: %s" % (REDOCLY, (reach.stderr.strip().splitlines() or ["?"])[-1]))
    r = subprocess.run(["npx", "--yes", REDOCLY, "lint", "--config",
                        os.path.join("docs", "redocly.yaml"), os.path.join("docs", "openapi.yaml")],
                       capture_output=True, text=True, cwd=TOP, timeout=600)
    said = r.stdout + r.stderr
    if r.returncode != 0 or "warning" in said.lower().replace("deprecation warning", ""):
        failures.append("redocly lint (%s) on docs/openapi.yaml: exit %d:\n%s"
                        % (REDOCLY, r.returncode, said))
    last = [line for line in said.splitlines() if line.strip()]
    return "%s: %s" % (REDOCLY, last[-1].strip() if last else "no output")


def main():
    passed = failed = 0
    for name, fn in (("routes", check_routes), ("version", check_version),
                     ("validator", check_validator), ("lint", check_lint)):
        failures = []
        note = fn(failures)
        if failures:
            failed += 1
            print("FAIL %s" % name)
            for f in failures:
                print("  " + f)
        else:
            passed += 1
            print("ok %s%s" % (name, " (%s)" % note if note else ""))
    print("test_openapi: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
