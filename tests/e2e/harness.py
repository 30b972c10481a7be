"""End-to-end harness: real gateway and partner processes on loopback.

Each test script builds a config with `gateway_config()`, starts partners and
a gateway, and registers tests with `@test`. `run()` runs them in order and
prints "SCRIPT: N passed, N failed" last. Standard library, and PyYAML to
read docs/openapi.yaml: every response `http_request()` gets from a gateway
(any port but a test partner's) must be one that document describes
(openapi_validator.py), or the test fails.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from openapi_validator import Document, Invalid  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", "build/release")
TELLONCE = os.path.join(ROOT, BUILD, "tellonce")
# Go's golang.org/x/mod/sumdb/note and sumdb/tlog (tests/tools/tlog_check.go):
# a verifier of the audit log's format that shares no code with ours.
TLOG_CHECK = os.path.join(ROOT, BUILD, "tests", "tools", "tlog_check")
PARTNER = os.path.join(ROOT, "tests", "partners", "partner.py")
PYTHON = "/usr/bin/python3"

_tests = []


def test(fn):
    _tests.append(fn)
    return fn


class Failure(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Failure(msg)


def eq(got, want, what="value"):
    if got != want:
        raise Failure("%s: got %r, want %r" % (what, got, want))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise Failure("timed out waiting for " + what)


# Ports of the running test partners: their answers are not the gateway's.
PARTNER_PORTS = set()
# Ports of gateways' admin listeners, which serve fewer operations.
ADMIN_PORTS = set()
# Every partner and gateway process started, so that run() kills those a
# half-made stack left behind when its teardown could not see them.
_CHILDREN = []
_document = None


def check_documented(port, method, path, resp):
    """Fails unless docs/openapi.yaml describes resp (a gateway's answer)."""
    global _document
    if port in PARTNER_PORTS:
        return
    if _document is None:
        _document = Document()
    try:
        _document.check_response(method, path, resp.status, resp.headers.get("content-type"),
                                 resp.raw, admin=port in ADMIN_PORTS)
    except Invalid as e:
        raise Failure("the gateway answered what docs/openapi.yaml does not describe: %s" % e)
def closed_by_server(sock, within):
    """True if the server closes sock (EOF or reset) within `within` s."""
    sock.settimeout(within)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


def http_request(port, method, path, body=None, key=None, headers=None, raw=None,
                 timeout=30, tls=None):
    """tls: an ssl.SSLContext to speak https with (client certificate and
    all), else plain http."""
    h = {"Connection": "close"}
    if key is not None:
        h["Authorization"] = "Bearer " + key
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if headers:
        h.update(headers)
    if tls is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=tls)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        r = Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                     payload.decode("utf-8", "replace"))
    finally:
        conn.close()
    check_documented(port, method, path, r)
    return r


class Partner:
    """A tests/partners/partner.py process: a real HTTP service."""

    def __init__(self, workdir, name, data=None):
        self.name = name
        port_file = os.path.join(workdir, name + ".port")
        args = [PYTHON, PARTNER, "--port", "0", "--name", name, "--port-file", port_file]
        if data is not None:
            data_file = os.path.join(workdir, name + ".json")
            with open(data_file, "w") as f:
                json.dump(data, f)
            args += ["--data", data_file]
        self.log = open(os.path.join(workdir, name + ".log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        _CHILDREN.append(self.proc)
        wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                 what="partner " + name)
        self.port = int(open(port_file).read().strip())
        PARTNER_PORTS.add(self.port)
        self.url = "http://127.0.0.1:%d" % self.port

    def control(self, method, path, body=None):
        r = http_request(self.port, method, "/_control/" + path, body)
        check(200 <= r.status < 300, "partner control %s: %r" % (path, r))
        return r.json

    def seed(self, local_id, dataset, record):
        self.control("POST", "records", {"local_id": local_id, "dataset": dataset,
                                         "record": record})

    def behave(self, mode, **kw):
        self.control("POST", "behaviour", dict(mode=mode, **kw))

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()
        PARTNER_PORTS.discard(self.port)


class Gateway:
    """A `tellonce serve` process with its own store, audit dir and keys."""

    def __init__(self, workdir, config_text, env, tls=None, preexec_fn=None):
        """preexec_fn runs in the child before exec (e.g. to set limits)."""
        self.workdir = workdir
        self.tls = tls
        self.preexec_fn = preexec_fn
        self.config = os.path.join(workdir, "tellonce.yaml")
        self.env = dict(os.environ, **env)
        self.logfile = os.path.join(workdir, "gateway.log")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.port = None
        self.proc = None

    def start(self, port, wait=True):
        """wait=False returns at once, for tests that watch the start."""
        self.port = port
        admin = re.search(r"^  admin_listen: [^\n]*:(\d+)$", open(self.config).read(), re.M)
        if admin:
            ADMIN_PORTS.add(int(admin.group(1)))
        self.log = open(self.logfile, "a")
        self.proc = subprocess.Popen([TELLONCE, "serve", "-c", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.workdir,
                                     preexec_fn=self.preexec_fn)
        _CHILDREN.append(self.proc)
        if not wait:
            return self

        def up():
            if self.proc.poll() is not None:
                raise Failure("gateway exited with %d:\n%s" % (self.proc.returncode,
                                                              self.read_log()[-3000:]))
            try:
                return http_request(self.port, "GET", "/healthz", timeout=1,
                                    tls=self.tls).status == 200
            except OSError:
                return False

        wait_for(up, what="gateway to listen")
        # The first worker answers while the next ones still open their
        # store connections: all of them are up once it says it serves.
        wait_for(lambda: "serving (pid %d)" % self.proc.pid in self.read_log(),
                 what="gateway to serve")
        return self

    def read_log(self):
        with open(self.logfile, errors="replace") as f:
            return f.read()

    def call(self, method, path, body=None, key=None, **kw):
        kw.setdefault("tls", self.tls)
        return http_request(self.port, method, path, body, key, **kw)

    def kill(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Under `make test SAN=1` the daemon runs with ASan and UBSan: any
        report in its log fails the test that stopped it."""
        log = self.read_log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:"):
            if marker in log:
                at = log.index(marker)
                raise Failure("sanitizer report in the gateway log:\n" +
                              log[max(0, at - 200):at + 3000])


def holds_token(data, value):
    """Whether bytes `data` hold `value` as a token, not inside a longer
    run of base64 or digits: the audit files are full of base64 nonces and
    commitments, where a four-letter name or a postal code occurs by chance
    (a run of test_core found "Yann" in an entry bundle's commitments)."""
    return re.search(rb"(?<![A-Za-z0-9_+/=-])%s(?![A-Za-z0-9_+/=-])"
                     % re.escape(value.encode()), data) is not None


def make_workdir(name):
    """The scratch-directory helper of the Python tests (tests/unit/tmpdir.h
    is the C one): a new private directory; its user removes it with
    shutil.rmtree."""
    return tempfile.mkdtemp(prefix="tellonce-%s-" % name)


def make_signing_key(workdir):
    path = os.path.join(workdir, "audit.key")
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", path],
                   check=True, capture_output=True)
    os.chmod(path, 0o600)
    return path


# The test citizens. Their values must never appear in logs or the audit log.
ALICE_PIVOT = {"family_name": "Le Goff", "given_names": "Maëlle Anne",
               "birthdate": "1984-03-12", "birthplace": "Quimper", "gender": "F"}
ALICE_ADDRESS = {"adresse": {"voie": "12 rue Kéréon", "cp": "29000",
                             "commune": "Quimper", "pays": "FR"}}
BOB_PIVOT = {"family_name": "Prigent", "given_names": "Yann",
             "birthdate": "1971-11-02", "birthplace": "Brest", "gender": "M"}
BOB_ADDRESS = {"adresse": {"voie": "3 place Saint-Corentin", "cp": "29100",
                           "commune": "Douarnenez", "pays": "FR"}}

KEYS = {
    "TELLONCE_PSEUDONYM_KEY": "k" * 48,
    "TELLONCE_ADMIN_TOKEN": "admin-token-for-tests",
    "MAIRIE_KEY": "mairie-secret-key",
    "CAF_KEY": "caf-secret-key",
    "PORTAL_KEY": "portal-secret-key",
    "CCAS_KEY": "ccas-secret-key",
}


def preamble(port, workdir, limits=""):
    """The gateway section (store, keys and audit log in workdir) and the
    address dataset that every end-to-end config starts with."""
    return """\
gateway:
  listen: 127.0.0.1:%(port)d
  workers: 2
  store: sqlite:%(workdir)s/tellonce.db
  pseudonym_key: env:TELLONCE_PSEUDONYM_KEY
  admin_token: env:TELLONCE_ADMIN_TOKEN
%(limits)s  audit:
    dir: %(workdir)s/audit
    origin: audit.tellonce.test/log
    signing_key: file:%(workdir)s/audit.key
    checkpoint_interval: 200ms

datasets:
  address:
    attributes: {street: string, postal_code: string, city: string, country: string}

""" % dict(port=port, workdir=workdir, limits=limits)


def gateway_config(port, mairie_url, caf_url, workdir, timeout="1s", extra="", log=""):
    """The suite's standard config: mairie provides address, caf consumes it
    under consent (street, postal_code, city) or public task (postal_code),
    ccas has a legal-obligation policy, portal has the transparency role.
    log: gateway keys such as "  log: {format: json, level: debug}\\n"."""
    return preamble(port, workdir, "  limits:\n    max_body: 64k\n" + log) + """\
services:
  mairie:
    name: Mairie de Quimper
    auth: {api_key: env:MAIRIE_KEY}
    connector:
      type: http
      base_url: %(mairie)s
      timeout: %(timeout)s
      fetch: {method: GET, path: "/citizens/{local_id}/address"}
      push: {method: PUT, path: "/citizens/{local_id}/address"}
      map: {street: adresse.voie, postal_code: adresse.cp, city: adresse.commune, country: adresse.pays}
  caf:
    name: Caisse d'allocations familiales
    auth: {api_key: env:CAF_KEY}
    connector:
      type: http
      base_url: %(caf)s
      fetch: {method: GET, path: "/citizens/{local_id}/address"}
      push: {method: PUT, path: "/citizens/{local_id}/address"}
    subscribes: [{dataset: address, from: mairie}]
  ccas:
    name: Centre communal d'action sociale
    auth: {api_key: env:CCAS_KEY}
  portal:
    name: Citizen portal
    auth: {api_key: env:PORTAL_KEY}
    roles: [transparency]

policies:
  - id: caf-address
    consumer: caf
    provider: mairie
    dataset: address
    attributes: [street, postal_code, city]
    purpose: benefit-eligibility
    basis: consent
  - id: caf-address-public-task
    consumer: caf
    provider: mairie
    dataset: address
    attributes: [postal_code]
    purpose: benefit-eligibility
    basis: public_task
    legal_reference: "CRPA L114-8"
  - id: ccas-address-legal
    consumer: ccas
    provider: mairie
    dataset: address
    attributes: [city]
    purpose: social-aid
    basis: legal_obligation
    legal_reference: "CASF L123-5"
%(extra)s""" % dict(port=port, mairie=mairie_url, caf=caf_url, workdir=workdir,
                     timeout=timeout, extra=extra)


class Stack:
    """Partners mairie and caf plus a gateway on the standard config."""

    def __init__(self, name, timeout="1s", log=""):
        self.workdir = make_workdir(name)
        make_signing_key(self.workdir)
        self.mairie = Partner(self.workdir, "mairie")
        self.caf = Partner(self.workdir, "caf")
        port = free_port()
        self.gw = Gateway(self.workdir, gateway_config(port, self.mairie.url, self.caf.url,
                                                       self.workdir, timeout, log=log), KEYS)
        self.gw.start(port)

    def as_(self, service):
        return KEYS[service.upper() + "_KEY"]

    def call(self, service, method, path, body=None, **kw):
        return self.gw.call(method, path, body, key=self.as_(service) if service else None,
                            **kw)

    def link(self, service, local_id, pivot):
        r = self.call(service, "POST", "/v1/links", {"local_id": local_id, "pivot": pivot})
        eq(r.status, 201, "link %s/%s: %r" % (service, local_id, r))
        return r

    def stop(self, keep=False):
        self.gw.stop()
        self.mairie.stop()
        self.caf.stop()
        if not keep:
            shutil.rmtree(self.workdir, ignore_errors=True)


def tlog_check(where, vkey):
    """Go's verdict on a tlog-tiles directory: its exit status and what it
    printed ("ok SIZE ROOT", or why not)."""
    r = subprocess.run([TLOG_CHECK, where, vkey], capture_output=True, text=True,
                       timeout=300)
    return r.returncode, (r.stdout + r.stderr).strip()


def run(teardown=None):
    """Runs the module's tests in order and prints the summary line; then
    teardown(), when given, stops what the tests shared (a module's stack
    of processes), whatever happened."""
    try:
        _run_tests()
    finally:
        try:
            if teardown is not None:
                teardown()
        finally:
            _kill_children()


def _kill_children():
    for proc in _CHILDREN:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _run_tests():
    name = os.path.basename(sys.argv[0])
    passed = failed = 0
    only = os.environ.get("TEST_ONLY")
    for fn in _tests:
        if only and only not in fn.__name__:
            continue
        t0 = time.monotonic()
        try:
            fn()
            passed += 1
            print("ok %s (%.2fs)" % (fn.__name__, time.monotonic() - t0), flush=True)
        except Exception as e:  # a test failure of any kind is reported, not raised
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e), flush=True)
            for line in traceback.format_exc().splitlines()[-6:]:
                print("  " + line, flush=True)
    print("%s: %d passed, %d failed" % (name, passed, failed), flush=True)
    sys.exit(1 if failed else 0)
