"""HTTPS and mTLS end to end: protocol floor, client certificates checked at
the handshake (none, untrusted, expired, valid), certificates mapped to
services alone or with an API key, a client certificate renewed in two
reloads, server certificate renewal on SIGHUP, and the
admin listener that serves operators without a client certificate."""
import datetime
import hashlib
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import sys
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, KEYS, Failure, Gateway, Partner, check, eq,  # noqa: E402
                     free_port, gateway_config, http_request, make_signing_key,
                     make_workdir, run, test, wait_for)

warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1, refused on purpose
NOW = datetime.datetime.now(datetime.timezone.utc)


class Pki:
    """A CA, its server certificate for 127.0.0.1, and client certificates,
    written as PEM files in workdir (keys mode 0600)."""

    def __init__(self, workdir, name="ca"):
        self.workdir = workdir
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tellonce test " + name)])
        self.name = subject
        self.cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(NOW - datetime.timedelta(days=1))
                     .not_valid_after(NOW + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = self.write(name + ".pem", self.cert.public_bytes(serialization.Encoding.PEM))

    def write(self, name, data, private=False):
        path = os.path.join(self.workdir, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o600 if private else 0o644)
        return path

    def issue(self, name, server=False, not_after=None, not_before=None):
        """Returns (cert_path, key_path, sha256 hex of the DER)."""
        key = ec.generate_private_key(ec.SECP256R1())
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .issuer_name(self.name).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(not_before or NOW - datetime.timedelta(days=1))
             .not_valid_after(not_after or NOW + datetime.timedelta(days=30)))
        if server:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        cert = b.sign(self.key, hashes.SHA256())
        der = cert.public_bytes(serialization.Encoding.DER)
        cert_path = self.write(name + ".crt", cert.public_bytes(serialization.Encoding.PEM))
        key_path = self.write(name + ".key", key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()), private=True)
        return cert_path, key_path, hashlib.sha256(der).hexdigest()


class TlsStack:
    """A gateway on the standard config with gateway.tls (and client_ca),
    where caf authenticates by certificate only and ccas by certificate and
    API key."""

    def __init__(self):
        self.workdir = make_workdir("tls")
        make_signing_key(self.workdir)
        self.pki = Pki(self.workdir)
        self.other = Pki(self.workdir, "other-ca")
        self.server = self.pki.issue("server", server=True)
        self.caf = self.pki.issue("caf")
        self.ccas = self.pki.issue("ccas")
        self.mairie = self.pki.issue("mairie")
        self.nobody = self.pki.issue("nobody")
        self.expired = self.pki.issue("expired", not_before=NOW - datetime.timedelta(days=10),
                                      not_after=NOW - datetime.timedelta(days=1))
        self.untrusted = self.other.issue("untrusted")
        self.partner = Partner(self.workdir, "mairie")
        port = free_port()
        self.admin_port = free_port()
        cfg = gateway_config(port, self.partner.url, self.partner.url, self.workdir)
        cfg = cfg.replace("  listen: 127.0.0.1:%d\n" % port,
                          "  listen: 127.0.0.1:%d\n  admin_listen: 127.0.0.1:%d\n"
                          "  tls: {cert: file:%s, key: file:%s, client_ca: file:%s}\n"
                          % (port, self.admin_port, self.server[0], self.server[1],
                             self.pki.cert_path))
        cfg = cfg.replace("auth: {api_key: env:CAF_KEY}",
                          "auth: {client_cert_sha256: \"%s\"}" % self.caf[2])
        cfg = cfg.replace("auth: {api_key: env:CCAS_KEY}",
                          "auth: {api_key: env:CCAS_KEY, client_cert_sha256: %s}" % self.ccas[2])
        cfg = cfg.replace("auth: {api_key: env:MAIRIE_KEY}",
                          "auth: {api_key: env:MAIRIE_KEY, client_cert_sha256: %s}"
                          % self.mairie[2])
        self.gw = Gateway(self.workdir, cfg, KEYS, tls=self.context(self.nobody))
        self.gw.start(port)

    def context(self, client=None, maximum=None):
        ctx = ssl.create_default_context(cafile=self.pki.cert_path)
        if client is not None:
            ctx.load_cert_chain(client[0], client[1])
        if maximum is not None:
            ctx.maximum_version = maximum
        return ctx

    def call(self, client, method, path, body=None, key=None, **kw):
        return self.gw.call(method, path, body, key=key, tls=self.context(client), **kw)

    def stop(self):
        self.gw.stop()
        self.partner.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


S = None


def st():
    global S
    if S is None:
        S = TlsStack()
    return S


def refused(client, what):
    """The handshake (or the first read, under TLS 1.3) must fail."""
    try:
        r = st().call(client, "GET", "/healthz", timeout=5)
    except (ssl.SSLError, ConnectionError) as e:
        return e
    raise Failure("%s: expected the handshake to fail, got %r" % (what, r))


def handshake(ctx):
    with socket.create_connection(("127.0.0.1", st().gw.port), timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            return tls.version(), tls.cipher()[0], tls.getpeercert(binary_form=True)


@test
def tls_12_and_13_only_with_forward_secret_aead():
    s = st()
    version, _, _ = handshake(s.context(s.nobody))
    eq(version, "TLSv1.3", "default version")
    version, cipher, _ = handshake(s.context(s.nobody, maximum=ssl.TLSVersion.TLSv1_2))
    eq(version, "TLSv1.2", "TLS 1.2 still accepted")
    check(cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher),
          "TLS 1.2 cipher %s is ECDHE + AEAD" % cipher)
    ctx = s.context(s.nobody, maximum=ssl.TLSVersion.TLSv1_1)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    try:
        handshake(ctx)
        raise Failure("a TLS 1.1 handshake succeeded")
    except ssl.SSLError:
        pass


@test
def plain_http_is_not_served():
    s = st()
    with socket.create_connection(("127.0.0.1", s.gw.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            data = sock.recv(4096)
        except ConnectionError:
            data = b""
    check(not data.startswith(b"HTTP/1.1 200"), "clear text answered: %r" % data[:80])


@test
def mtls_refuses_no_untrusted_and_expired_certificates():
    s = st()
    refused(None, "no client certificate")
    refused(s.untrusted, "a certificate from another CA")
    refused(s.expired, "an expired certificate")
    eq(s.call(s.nobody, "GET", "/healthz").status, 200, "a valid certificate")


@test
def a_certificate_mapped_to_a_service_authenticates_it():
    s = st()
    r = s.call(s.caf, "POST", "/v1/links", {"local_id": "caf-alice", "pivot": ALICE_PIVOT})
    eq(r.status, 201, "caf by certificate alone: %r" % r)


@test
def a_certificate_mapped_to_no_service_is_not_a_caller():
    s = st()
    r = s.call(s.nobody, "POST", "/v1/links", {"local_id": "x-1", "pivot": ALICE_PIVOT})
    eq(r.status, 401, "valid certificate, no service")
    eq(r.json["detail"], "the credentials are not valid", "detail")
    r = s.call(s.nobody, "POST", "/v1/links", {"local_id": "x-1", "pivot": ALICE_PIVOT},
               key=KEYS["PORTAL_KEY"])
    eq(r.status, 201, "an unmapped certificate with a key-only service's key")


@test
def certificate_and_key_are_both_required_when_both_are_configured():
    s = st()
    body = {"local_id": "ccas-alice", "pivot": ALICE_PIVOT}
    eq(s.call(s.nobody, "POST", "/v1/links", body, key=KEYS["CCAS_KEY"]).status, 401,
       "ccas key without ccas certificate")
    eq(s.call(s.ccas, "POST", "/v1/links", body).status, 401,
       "ccas certificate without ccas key")
    eq(s.call(s.ccas, "POST", "/v1/links", body, key=KEYS["CCAS_KEY"]).status, 201,
       "both")
    eq(s.call(s.ccas, "POST", "/v1/links", body, key=KEYS["PORTAL_KEY"]).status, 401,
       "ccas certificate with portal's key")
    eq(s.call(s.caf, "POST", "/v1/links", body, key=KEYS["PORTAL_KEY"]).status, 401,
       "caf certificate with portal's key names two services")


def admin(method, path, body=None, key=None):
    return http_request(st().admin_port, method, path, body, key)


@test
def the_admin_listener_serves_operators_without_a_client_certificate():
    s = st()
    refused(None, "the main listener still wants a certificate")
    eq(admin("GET", "/healthz").status, 200, "healthz")
    r = admin("GET", "/readyz")
    eq((r.status, r.json["status"]), (200, "ready"), "readyz: %r" % r)
    m = admin("GET", "/metrics")
    eq(m.status, 200, "metrics")
    check("tellonce_http_request_duration_seconds_count" in m.raw, "metrics text")
    got = [ln for ln in m.raw.splitlines()
           if ln.startswith("tellonce_tls_certificate_expiry_timestamp_seconds ")]
    eq(len(got), 1, "the certificate's expiry under TLS")
    # Pki.issue's default notAfter: NOW + 30 days, in whole seconds.
    want = (NOW + datetime.timedelta(days=30)).timestamp()
    check(abs(float(got[0].split()[1]) - want) < 2, "notAfter: %s, want %d" % (got[0], want))
    eq(admin("GET", "/v1/deliveries?status=dead").status, 401, "admin endpoints need the token")
    eq(admin("GET", "/v1/deliveries?status=dead", key=KEYS["TELLONCE_ADMIN_TOKEN"]).status,
       200, "and answer with it")


@test
def the_admin_listener_serves_nothing_a_service_calls():
    for method, path, body in (("POST", "/v1/links", {"local_id": "caf-x", "pivot": ALICE_PIVOT}),
                               ("POST", "/v1/fetch", {"subject": "caf-x"}),
                               ("GET", "/v1/consents?subject=caf-x", None),
                               ("GET", "/v1/access-log?subject=caf-x", None),
                               ("GET", "/audit/checkpoint", None)):
        r = admin(method, path, body, key=KEYS["CCAS_KEY"])
        eq(r.status, 404, "%s %s on the admin listener: %r" % (method, path, r))


def reload_config(s, text):
    done = s.gw.read_log().count("configuration reloaded")
    with open(s.gw.config, "w") as f:
        f.write(text)
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: s.gw.read_log().count("configuration reloaded") > done,
             what="the reload")


@test
def a_client_certificate_renews_in_two_reloads_without_refusing_either():
    s = st()
    renewed = s.pki.issue("caf-renewed")
    text = open(s.gw.config).read()
    line = "auth: {client_cert_sha256: \"%s\"}" % s.caf[2]

    def taken(client):
        r = s.call(client, "POST", "/v1/links", {"local_id": "caf-alice", "pivot": ALICE_PIVOT})
        check(r.status in (200, 201, 401), "link: %r" % r)
        return r.status != 401

    eq((taken(s.caf), taken(renewed)), (True, False), "the old certificate alone")
    reload_config(s, text.replace(line, "auth: {client_cert_sha256: %s, "
                                  "previous_client_cert_sha256: %s}" % (renewed[2], s.caf[2])))
    eq((taken(s.caf), taken(renewed)), (True, True), "both during the renewal")
    reload_config(s, text.replace(line, "auth: {client_cert_sha256: %s}" % renewed[2]))
    eq((taken(s.caf), taken(renewed)), (False, True), "the new certificate alone after it")
    reload_config(s, text)


@test
def sighup_renews_the_server_certificate():
    s = st()
    _, _, before = handshake(s.context(s.nobody))
    renewed = s.pki.issue("server2", server=True)
    text = open(s.gw.config).read()
    with open(s.gw.config, "w") as f:
        f.write(text.replace(s.server[0], renewed[0]).replace(s.server[1], renewed[1]))
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: handshake(s.context(s.nobody))[2] != before, what="renewed certificate")
    eq(hashlib.sha256(handshake(s.context(s.nobody))[2]).hexdigest(), renewed[2],
       "the new certificate is served")
    # A key that does not match its certificate is refused; the old pair serves.
    with open(s.gw.config, "w") as f:
        f.write(text.replace(s.server[0], renewed[0]))
    s.gw.kill(signal.SIGHUP)
    wait_for(lambda: "reload refused" in s.gw.read_log(), what="refused reload")
    check("reload refused: tls.key: " in s.gw.read_log(), "the reason is logged")
    eq(hashlib.sha256(handshake(s.context(s.nobody))[2]).hexdigest(), renewed[2],
       "still the renewed certificate")
    eq(s.call(s.nobody, "GET", "/healthz").status, 200, "still serving")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
