#!/usr/bin/python3
"""Keys over their life. The audit signing key: `keygen -c` prints the
verifier key the log is checked with (docs/security.md's recipe, run as
written), and a rotation across restarts the C2SP way (docs/operations.md):
the old key, then old and new signing each checkpoint, then the new one
alone with the old one's verifier key in verifier_keys, and an immediate
switch (the compromise procedure) refused until verifier_keys accepts the
history. Every checkpoint is checked by `audit verify` and by
audit_verifier.py. A service's API key: rotated in two reloads, both keys
taken in between."""
import base64
import os
import re
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import (KEYS, ROOT, TELLONCE, Gateway, check, eq, free_port,  # noqa: E402
                     gateway_config, make_workdir, run, test, wait_for)

ORIGIN = "audit.tellonce.test/log"   # the origin of harness.preamble
NOWHERE = "http://127.0.0.1:9"       # partners the tests never call
EM_DASH = "\u2014 "

WORKDIRS = []


def workdir(name):
    w = make_workdir(name)
    WORKDIRS.append(w)
    return w


def tellonce(*args):
    return subprocess.run([TELLONCE] + list(args), capture_output=True, text=True,
                          timeout=60)


class Log:
    """A gateway on the suite's config whose audit keys each phase sets."""

    def __init__(self, name):
        self.workdir = workdir(name)
        self.dir = os.path.join(self.workdir, "audit")
        self.links = 0

    @classmethod
    def with_keys(cls, name, *keys):
        """A log and, for each name, a new key: (file:PATH, its verifier key)."""
        lg = cls(name)
        lg.write_config(signing="file:/nonexistent")
        return [lg] + [lg.keygen(k) for k in keys]

    def keygen(self, name):
        path = os.path.join(self.workdir, name + ".key")
        r = tellonce("keygen", "-c", self.config_path(), "-o", path)
        eq(r.returncode, 0, "keygen: " + r.stderr)
        return "file:" + path, r.stdout.strip()

    def config_path(self):
        return os.path.join(self.workdir, "tellonce.yaml")

    def config(self, signing, additional=(), verifiers=()):
        text = gateway_config(self.port, NOWHERE, NOWHERE, self.workdir)
        audit = "    signing_key: %s\n" % signing
        if additional:
            audit += "    additional_signing_keys: [%s]\n" % ", ".join(additional)
        if verifiers:
            audit += "    verifier_keys:\n" + "".join(
                "      - \"%s\"\n" % v for v in verifiers)
        return re.sub(r"    signing_key: [^\n]*\n", lambda m: audit, text, count=1)

    def write_config(self, **kw):
        self.port = free_port()
        with open(self.config_path(), "w") as f:
            f.write(self.config(**kw))

    def start(self, **kw):
        self.port = free_port()
        self.gw = Gateway(self.workdir, self.config(**kw), KEYS)
        return self.gw.start(self.port)

    def start_refused(self, **kw):
        """Starts expecting a refusal; the log's text."""
        self.port = free_port()
        gw = Gateway(self.workdir, self.config(**kw), KEYS)
        open(gw.logfile, "w").close()
        gw.start(self.port, wait=False)
        rc = gw.proc.wait(30)
        check(rc != 0, "the gateway started:\n" + gw.read_log()[-2000:])
        return gw.read_log()

    def link(self):
        """One more entry in the log."""
        self.links += 1
        r = self.gw.call("POST", "/v1/links", {
            "local_id": "m-%d" % self.links,
            "pivot": {"family_name": "Rotation", "given_names": "Test %d" % self.links,
                      "birthdate": "1980-01-01", "birthplace": "Brest", "gender": "F"}},
            key=KEYS["MAIRIE_KEY"])
        eq(r.status, 201, "link: %r" % r)

    def published(self):
        r = self.gw.call("GET", "/.well-known/tellonce/audit-vkey")
        eq(r.status, 200, "audit-vkey: %r" % r)
        check(r.raw.endswith("\n"), "one key a line")
        j = self.gw.call("GET", "/.well-known/jwks.json")
        eq(j.status, 200, "jwks: %r" % j)
        return r.raw.splitlines(), [k["kid"] for k in j.json["keys"]]

    def stop(self):
        eq(self.gw.stop(), 0, "gateway exit status")

    def signers(self):
        """The key IDs of the checkpoint's signature lines, in order."""
        note = open(os.path.join(self.dir, "checkpoint")).read()
        lines = note.partition("\n\n")[2].splitlines()
        check(all(line.startswith(EM_DASH + ORIGIN + " ") for line in lines), note)
        return [base64.b64decode(line.rsplit(" ", 1)[1])[:4].hex() for line in lines]

    def verify(self, *vkeys):
        """`audit verify` with these keys: its result, and the independent
        verifier's with each key alone (None when it accepts)."""
        args = ["audit", "verify", self.dir]
        for v in vkeys:
            args += ["--key", v]
        r = tellonce(*args)
        py = []
        for v in vkeys:
            try:
                av.verify(self.dir, v)
                py.append(None)
            except av.VerifyError as e:
                py.append(str(e))
        return r, py


def key_id(vkey):
    return vkey.split("+")[1]


def recipe_lines(marker):
    """The lines of docs/security.md's recipe that start with marker."""
    text = open(os.path.join(ROOT, "docs", "security.md")).read()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(marker)]
    check(lines, "docs/security.md has a line starting %r" % marker)
    return lines


@test
def keygen_c_prints_the_verifier_key_of_the_logs_origin():
    lg = Log("keygen-c")
    lg.write_config(signing="file:" + os.path.join(lg.workdir, "audit.key"))
    # docs/security.md's recipe, with this test's paths for the
    # installed ones: the key it writes is the configuration's own.
    keygen = recipe_lines("tellonce keygen")[0].split("#")[0]
    keygen = keygen.replace("/etc/tellonce/tellonce.yaml", lg.config_path()) \
                   .replace("/etc/tellonce/audit.key", os.path.join(lg.workdir, "audit.key"))
    r = subprocess.run(["bash", "-c", keygen.replace("tellonce ", TELLONCE + " ", 1)],
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "the recipe's keygen: " + r.stderr)
    vkey = r.stdout.strip()
    eq(vkey.split("+")[0], ORIGIN, "the key names the configuration's origin")
    eq(os.stat(os.path.join(lg.workdir, "audit.key")).st_mode & 0o777, 0o600, "mode")
    lg.start(signing="file:" + os.path.join(lg.workdir, "audit.key"))
    lg.link()
    lines, _ = lg.published()
    eq(lines, [vkey], "the gateway publishes the key keygen printed")
    lg.stop()
    verify = recipe_lines("tellonce audit verify")[0].split("#")[0]
    verify = verify.replace("/var/lib/tellonce/audit", lg.dir).replace("VKEY", vkey)
    r = subprocess.run(["bash", "-c", verify.replace("tellonce ", TELLONCE + " ", 1)],
                       capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, "the recipe's audit verify: " + r.stdout + r.stderr)
    check("ok, 1 entries" in r.stdout, r.stdout)
    # Another key pair's verifier key fails, whatever origin it names.
    r = tellonce("keygen", "-o", os.path.join(lg.workdir, "other.key"))
    r = tellonce("audit", "verify", lg.dir, "--key", r.stdout.strip())
    eq(r.returncode, 1, "another key")
    r = tellonce("keygen", "-c", lg.config_path(), "--origin", "x", "-o",
                 os.path.join(lg.workdir, "x.key"))
    eq(r.returncode, 2, "-c and --origin together")
    check(not os.path.exists(os.path.join(lg.workdir, "x.key")), "no key written")


@test
def a_rotation_signs_with_both_keys_then_the_new_one():
    lg, (key_a, vkey_a), (key_b, vkey_b) = Log.with_keys("rotation", "a", "b")

    # 1. The old key alone.
    lg.start(signing=key_a)
    lg.link()
    eq(lg.published(), ([vkey_a], [key_id(vkey_a)]), "published, key A alone")
    lg.stop()
    eq(lg.signers(), [key_id(vkey_a)], "signed by A")

    # 2. The rotation period: A still signs, B signs too, every checkpoint.
    lg.start(signing=key_a, additional=[key_b])
    lg.link()
    eq(lg.published(), ([vkey_a, vkey_b], [key_id(vkey_a), key_id(vkey_b)]),
       "published during the rotation")
    lg.stop()
    eq(lg.signers(), [key_id(vkey_a), key_id(vkey_b)], "signed by A then B")
    for v in (vkey_a, vkey_b):
        r, py = lg.verify(v)
        eq((r.returncode, py), (0, [None]), "either key verifies: " + r.stderr)

    # 3. B alone; A's verifier key stays published for the checkpoints it
    # signed, which auditors hold.
    lg.start(signing=key_b, verifiers=[vkey_a])
    lg.link()
    eq(lg.published(), ([vkey_b, vkey_a], [key_id(vkey_b), key_id(vkey_a)]),
       "published after the rotation")
    lg.stop()
    eq(lg.signers(), [key_id(vkey_b)], "signed by B alone")
    r, py = lg.verify(vkey_a)
    eq(r.returncode, 1, "A no longer signs")
    check("no signature by " + ORIGIN in r.stderr, r.stderr)
    check("no signature by" in py[0], "python verifier")
    r, py = lg.verify(vkey_a, vkey_b)
    eq((r.returncode, py[1]), (0, None), "any of the keys: " + r.stderr)
    check("ok, 3 entries" in r.stdout, r.stdout)


@test
def an_immediate_switch_needs_the_old_verifier_key():
    """The compromise procedure: the old key stops signing at once, so the
    checkpoint on disk has no signature by the new one."""
    lg, (key_a, vkey_a), (key_c, vkey_c) = Log.with_keys("switch", "a", "c")
    lg.start(signing=key_a)
    lg.link()
    lg.stop()

    log = lg.start_refused(signing=key_c)
    check("no signature by " + ORIGIN in log, log[-2000:])
    check("verifier_keys" in log, "the message names the way out: " + log[-2000:])

    lg.start(signing=key_c, verifiers=[vkey_a])
    lg.link()
    lg.stop()
    eq(lg.signers(), [key_id(vkey_c)], "signed by the new key alone")
    r, py = lg.verify(vkey_c)
    eq((r.returncode, py), (0, [None]), "the new key: " + r.stderr)
    check("ok, 2 entries" in r.stdout, r.stdout)


@test
def bad_rotation_settings_are_refused_by_check():
    lg, (key_a, _) = Log.with_keys("rotation-check", "a")
    other = Log("rotation-other")
    r = tellonce("keygen", "--origin", "elsewhere.example/log", "-o",
                 os.path.join(other.workdir, "x.key"))
    for verifiers, want in (([r.stdout.strip()], 'is a key of "elsewhere.example/log"'),
                            (["audit.tellonce.test/log+00000000+AAAA"], "not a verifier key")):
        with open(lg.config_path(), "w") as f:
            f.write(lg.config(signing=key_a, verifiers=verifiers))
        c = tellonce("check", "-c", lg.config_path())
        eq(c.returncode, 1, "check: " + c.stdout)
        check(want in c.stdout, c.stdout)
    log = lg.start_refused(signing=key_a, additional=[key_a])
    check("the signing key twice" in log, log[-2000:])


class Rotation:
    """A gateway whose credentials a test rotates by rewriting one line of
    its config (`line`, as the suite writes it) and reloading (SIGHUP).
    The credentials are files of mode 0600: name -> file:PATH."""

    def __init__(self, name, line, keys):
        self.lg, (self.signing, _) = Log.with_keys(name, "audit")
        self.line = line
        self.files = {}
        for key in keys:
            path = os.path.join(self.lg.workdir, key + ".key")
            with open(path, "w") as f:
                f.write(key + "\n")
            os.chmod(path, 0o600)
            self.files[key] = "file:" + path
        self.lg.port = free_port()

    def config(self, text):
        return self.lg.config(signing=self.signing).replace(self.line, text % self.files, 1)

    def start(self, text):
        self.lg.gw = Gateway(self.lg.workdir, self.config(text), KEYS)
        self.lg.gw.start(self.lg.port)
        return self.lg.gw

    def reload(self, text):
        gw = self.lg.gw
        with open(self.lg.config_path(), "w") as f:
            f.write(self.config(text))
        done = gw.read_log().count("configuration reloaded")
        gw.kill(signal.SIGHUP)
        wait_for(lambda: gw.read_log().count("configuration reloaded") > done,
                 what="the reload")

    def rotate(self, taken, old, new, both_text, new_text):
        """Checks that only `old` is taken before, both during (`both_text`)
        and only `new` after the rotation (`new_text`)."""
        eq((taken(old), taken(new)), (True, False), "%s alone before the rotation" % old)
        self.reload(both_text)
        eq((taken(old), taken(new)), (True, True), "both during the rotation")
        self.reload(new_text)
        eq((taken(old), taken(new)), (False, True), "%s alone after it" % new)
        self.lg.stop()


@test
def an_api_key_rotates_in_two_reloads_without_refusing_either_key():
    rot = Rotation("api-key", "auth: {api_key: env:MAIRIE_KEY}",
                   ("mairie-old-key", "mairie-new-key"))
    gw = rot.start("auth: {api_key: %(mairie-old-key)s}")

    def taken(key):
        """Whether the gateway takes the key (a link, made again each time)."""
        status = gw.call("POST", "/v1/links", {
            "local_id": "m-rot", "pivot": {"family_name": "Rotation", "given_names": "Key",
                                           "birthdate": "1980-01-01", "birthplace": "Brest",
                                           "gender": "F"}}, key=key).status
        check(status in (200, 201, 401), "link: %d" % status)
        return status != 401

    rot.rotate(taken, "mairie-old-key", "mairie-new-key",
               "auth: {api_key: %(mairie-new-key)s, previous_api_key: %(mairie-old-key)s}",
               "auth: {api_key: %(mairie-new-key)s}")


@test
def the_admin_token_rotates_in_two_reloads_without_refusing_either_token():
    rot = Rotation("admin-token", "admin_token: env:TELLONCE_ADMIN_TOKEN",
                   ("admin-old-token", "admin-new-token"))
    gw = rot.start("admin_token: %(admin-old-token)s")

    def taken(token):
        """Whether the gateway takes the token (the dead letters, an admin read)."""
        status = gw.call("GET", "/v1/deliveries?status=dead", key=token).status
        check(status in (200, 401), "deliveries: %d" % status)
        return status == 200

    rot.rotate(taken, "admin-old-token", "admin-new-token",
               "admin_token: %(admin-new-token)s\n  previous_admin_token: %(admin-old-token)s",
               "admin_token: %(admin-new-token)s")


def teardown():
    for w in WORKDIRS:
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    run(teardown=teardown)
