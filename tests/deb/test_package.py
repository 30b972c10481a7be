"""The Debian package as an administrator meets it (make test-deb: root; it
installs into this system, so it is not part of make test). PID 1 is not
systemd here, which is also what this checks: the maintainer scripts must
not fail without it. In order:

- `dpkg -i` of the .deb that `make deb` built: the system user, the state
  directory, the conffile, the unit (installed, not enabled), a binary
  built with dpkg-buildflags' hardening;
- the keys made as docs/operations.md's "Debian package" section says,
  `tellonce check` as the service's user, then `tellonce serve` as that
  user on the installed configuration, answering /healthz;
- a reinstall keeps the administrator's edits and the state; `dpkg -r`
  keeps the configuration and the state; `dpkg --purge` leaves no file
  behind (the system user stays, as Debian does)."""
import glob
import grp
import os
import pwd
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "e2e"))
from harness import (ROOT, Failure, check, eq, free_port, http_request, run,  # noqa: E402
                     test, wait_for)

check(os.geteuid() == 0, "the package test installs into the system: run it as root")

DEBS = glob.glob(os.path.join(ROOT, "build", "deb", "tellonce_*.deb"))
check(len(DEBS) == 1, "one package in build/deb (make deb): %r" % DEBS)
DEB = DEBS[0]
CONF = "/etc/tellonce/tellonce.yaml"
ENV_FILE = "/etc/tellonce/tellonce.env"
KEY_FILE = "/etc/tellonce/audit.key"
STATE = "/var/lib/tellonce"
# Where a package leaves files; /tmp and the like hold other runs' scratch.
TREES = ["/etc", "/usr", "/var", "/opt", "/srv"]
SECRETS = {
    "TELLONCE_PSEUDONYM_KEY": os.urandom(32).hex(),
    "TELLONCE_ADMIN_TOKEN": os.urandom(24).hex(),
    "MAIRIE_KEY": os.urandom(24).hex(),
    "CAF_KEY": os.urandom(24).hex(),
    "PORTAL_KEY": os.urandom(24).hex(),
    "MAIRIE_UPSTREAM_AUTH": "Bearer " + os.urandom(24).hex(),
}
state = {"proc": None}


def sh(*args, ok=True, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kw)
    if ok:
        eq(r.returncode, 0, "%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def installed():
    r = sh("dpkg-query", "-W", "-f=${db:Status-Status}", "tellonce", ok=False)
    return r.returncode == 0 and r.stdout not in ("", "not-installed")


def files_named_tellonce():
    out = set()
    for top in TREES:
        for dirpath, dirs, files in os.walk(top):
            out.update(os.path.join(dirpath, n) for n in dirs + files if "tellonce" in n)
    return out


def as_tellonce(*args, **kw):
    """The program run as the service runs it: its user, its environment."""
    return subprocess.Popen(["/usr/bin/tellonce"] + list(args), user="tellonce",
                            group="tellonce", extra_groups=[], cwd="/",
                            env=dict(os.environ, **SECRETS), text=True, **kw)


check(not installed(), "tellonce is installed already: this test would replace it "
      "(dpkg --purge tellonce first)")
BEFORE = files_named_tellonce()


@test
def installs_without_systemd_running():
    r = sh("dpkg", "-i", DEB)
    check("error" not in (r.stdout + r.stderr).lower(), "dpkg -i: " + r.stdout + r.stderr)
    eq(sh("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "tellonce").stdout.strip(), "ii",
       "package state")


@test
def system_user_and_state_directory():
    u = pwd.getpwnam("tellonce")
    check(u.pw_uid < 1000, "a system uid: %d" % u.pw_uid)
    eq(grp.getgrgid(u.pw_gid).gr_name, "tellonce", "primary group")
    eq(u.pw_dir, STATE, "home")
    check(u.pw_shell.endswith("nologin"), "no login shell: " + u.pw_shell)
    st = os.stat(STATE)
    eq((st.st_uid, st.st_gid, st.st_mode & 0o7777), (u.pw_uid, u.pw_gid, 0o700),
       STATE + " owner, group, mode")


@test
def conffile_unit_and_man_pages():
    conffiles = sh("dpkg-query", "-W", "-f=${Conffiles}", "tellonce").stdout.split()
    check(CONF in conffiles, "conffiles: %r" % conffiles)
    text = open(CONF).read()
    check("store: sqlite:/var/lib/tellonce/tellonce.db" in text, "the store in " + STATE)
    check("dir: /var/lib/tellonce/audit" in text, "the audit log in " + STATE)
    unit = open("/lib/systemd/system/tellonce.service").read()
    check("ExecStart=/usr/bin/tellonce serve -c /etc/tellonce/tellonce.yaml\n" in unit,
          "the unit runs the installed binary on the conffile")
    check("User=tellonce\n" in unit, "the unit runs as tellonce")
    check(not glob.glob("/etc/systemd/system/*.wants/tellonce.service"),
          "not enabled before the keys exist")
    for page in ("man8/tellonce.8.gz", "man5/tellonce.yaml.5.gz"):
        check(os.path.exists("/usr/share/man/" + page), "man page " + page)
    check(os.path.exists("/usr/lib/sysusers.d/tellonce.conf"), "the sysusers file")


@test
def binary_built_with_debian_hardening():
    dyn = sh("readelf", "-d", "-W", "/usr/bin/tellonce").stdout
    check(re.search(r"FLAGS.*BIND_NOW", dyn), "-z now (bindnow)")
    check("GNU_RELRO" in sh("readelf", "-l", "-W", "/usr/bin/tellonce").stdout, "-z relro")
    check("Type:                              DYN" in
          sh("readelf", "-h", "/usr/bin/tellonce").stdout, "a PIE")
    syms = sh("readelf", "--dyn-syms", "-W", "/usr/bin/tellonce").stdout
    check("__stack_chk_fail" in syms, "-fstack-protector-strong")
    check(re.search(r"__\w+_chk\b", syms), "-D_FORTIFY_SOURCE=2")


@test
def keys_made_as_the_docs_say_pass_check():
    at = {"cwd": "/etc/tellonce"}
    r = sh("tellonce", "keygen", "-c", "tellonce.yaml", "-o", "audit.key", **at)
    check(r.stdout.startswith("audit.tellonce.example/log+"), "verifier key: " + r.stdout)
    sh("chown", "tellonce:", "audit.key", **at)
    sh("install", "-m", "0600", "-o", "root", "/dev/null", "tellonce.env", **at)
    with open(ENV_FILE, "w") as f:
        f.writelines('%s="%s"\n' % kv for kv in SECRETS.items())
    p = as_tellonce("check", "-c", CONF, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.communicate(timeout=60)[0]
    eq(p.returncode, 0, "tellonce check as tellonce: " + out)
    eq(out.strip(), CONF + ": ok", "check output")


@test
def serves_as_tellonce_on_the_installed_configuration():
    # The administrator's edit: the example's 8080 may be taken on this host.
    port = free_port()
    text = open(CONF).read()
    check("listen: 127.0.0.1:8080" in text, "the example listens on 8080")
    with open(CONF, "w") as f:
        f.write(text.replace("listen: 127.0.0.1:8080", "listen: 127.0.0.1:%d" % port))
    log = open(os.path.join(ROOT, "build", "deb", "serve.log"), "w")
    proc = state["proc"] = as_tellonce("serve", "-c", CONF, stdout=log,
                                       stderr=subprocess.STDOUT)

    def up():
        if proc.poll() is not None:
            raise Failure("tellonce serve exited with %d: %s" % (
                proc.returncode, open(log.name).read()[-2000:]))
        try:
            return http_request(port, "GET", "/healthz", timeout=1).status == 200
        except OSError:
            return False

    wait_for(up, timeout=20, what="/healthz")
    eq(http_request(port, "GET", "/readyz").status, 200, "/readyz")
    uid = pwd.getpwnam("tellonce").pw_uid
    for path in (STATE + "/tellonce.db", STATE + "/audit"):
        check(os.path.exists(path), path + " created")
        eq(os.stat(path).st_uid, uid, path + " owner")
    proc.send_signal(signal.SIGTERM)
    eq(proc.wait(timeout=30), 0, "exit status after SIGTERM")
    log.close()


@test
def reinstall_keeps_edits_and_state():
    edited = open(CONF).read()
    # No answer on stdin: a conffile question would fail here, not hang.
    r = sh("dpkg", "-i", DEB, stdin=subprocess.DEVNULL)
    check("error" not in (r.stdout + r.stderr).lower(), "dpkg -i again: " + r.stdout + r.stderr)
    eq(open(CONF).read(), edited, "the administrator's configuration")
    check(os.path.exists(STATE + "/tellonce.db") and os.path.exists(KEY_FILE),
          "store and key kept")


@test
def remove_keeps_configuration_and_state():
    sh("dpkg", "-r", "tellonce")
    check(not os.path.exists("/usr/bin/tellonce"), "binary removed")
    for path in (CONF, ENV_FILE, KEY_FILE, STATE + "/tellonce.db"):
        check(os.path.exists(path), path + " kept by dpkg -r")


@test
def purge_leaves_nothing_behind():
    sh("dpkg", "--purge", "tellonce")
    check(not installed(), "package gone from dpkg's database")
    left = sorted(files_named_tellonce() - BEFORE)
    eq(left, [], "files left after the purge")
    check(not os.path.exists(STATE), STATE + " removed")
    pwd.getpwnam("tellonce")  # kept: files it owns may survive elsewhere


def teardown():
    proc = state["proc"]
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    if installed():
        subprocess.run(["dpkg", "--purge", "tellonce"], capture_output=True)


if __name__ == "__main__":
    run(teardown=teardown)
