"""What an administrator installs: `make install` into a DESTDIR (exactly
these files, nothing outside it, `make uninstall` takes them back), the
example configuration it installs, the systemd unit's sandbox as
`systemd-analyze security` scores it, and connector plugins loading under
the unit's MemoryDenyWriteExecute=."""
import ctypes
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, TELLONCE, check, eq, make_signing_key,  # noqa: E402
                     make_workdir, preamble, run, test)

UNIT = os.path.join(ROOT, "dist", "tellonce.service")
# The installed api.md links to openapi.yaml, so the API's description is
# installed with the pages.
DOCS = sorted(["README.md", "openapi.yaml"] + [
    f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md")])


def make(*args):
    """`make -s ARGS` at the top, on the build the suite runs (SAN)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "-s", "-C", ROOT, "SAN=" + os.environ.get("SAN", "0")]
                       + list(args), capture_output=True, text=True, env=env,
                       timeout=600)
    eq(r.returncode, 0, "make %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def tree(top):
    """{relative path: mode} of every file and symlink under top."""
    out = {}
    for dirpath, _, files in os.walk(top):
        for f in files:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, top)] = os.lstat(p).st_mode & 0o7777
    return out


def expected(prefix, sysconfdir):
    p, e = prefix.lstrip("/"), sysconfdir.lstrip("/")
    files = {p + "/bin/tellonce": 0o755,
             p + "/lib/systemd/system/tellonce.service": 0o644,
             p + "/lib/sysusers.d/tellonce.conf": 0o644,
             p + "/share/man/man8/tellonce.8": 0o644,
             p + "/share/man/man5/tellonce.yaml.5": 0o644,
             e + "/tellonce/tellonce.yaml.example": 0o644}
    files.update({p + "/share/doc/tellonce/" + d: 0o644 for d in DOCS})
    return files


def diff(got, want):
    return "missing %r, unexpected %r, modes %r" % (
        sorted(set(want) - set(got)), sorted(set(got) - set(want)),
        {k: (oct(got[k]), oct(want[k])) for k in got if k in want and got[k] != want[k]})


@test
def install_writes_exactly_its_files_under_destdir():
    w = make_workdir("dist")
    # A prefix that does not exist and that nothing may create: a write
    # that forgot DESTDIR would make it appear.
    prefix = os.path.join(w, "never-created", "opt")
    dest = os.path.join(w, "dest")
    try:
        make("install", "PREFIX=" + prefix, "DESTDIR=" + dest)
        got = tree(dest)
        want = expected(prefix, prefix + "/etc")
        eq(got, want, "installed files: " + diff(got, want))
        check(not os.path.exists(os.path.join(w, "never-created")),
              "something was written to PREFIX itself, outside DESTDIR")
        unit = open(os.path.join(dest, prefix.lstrip("/"),
                                 "lib/systemd/system/tellonce.service")).read()
        check("ExecStart=%s/bin/tellonce serve -c %s/etc/tellonce/tellonce.yaml\n"
              % (prefix, prefix) in unit, "the unit runs the installed binary")
        check("/usr/bin/" not in unit and "/etc/tellonce" not in unit.replace(
            prefix + "/etc/tellonce", ""), "no path of another prefix in the unit")
        r = subprocess.run([os.path.join(dest, prefix.lstrip("/"), "bin/tellonce"),
                            "--version"], capture_output=True, text=True)
        eq(r.returncode, 0, "installed binary runs")
    finally:
        shutil.rmtree(w, ignore_errors=True)


def untouched_targets():
    """What a forgotten DESTDIR would change on this machine, by path:
    (exists, mtime)."""
    paths = ["/usr/bin/tellonce", "/etc/tellonce", "/usr/lib/systemd/system/tellonce.service",
             "/usr/lib/sysusers.d/tellonce.conf", "/usr/share/man/man8/tellonce.8",
             "/usr/share/doc/tellonce", "/usr/bin", "/etc", "/usr/share/doc"]
    return {p: os.stat(p).st_mtime_ns if os.path.exists(p) else None for p in paths}


@test
def prefix_usr_puts_the_configuration_in_etc_and_uninstall_takes_it_back():
    w = make_workdir("dist")
    dest = os.path.join(w, "dest")
    before = untouched_targets()
    try:
        make("install", "PREFIX=/usr", "DESTDIR=" + dest)
        got = tree(dest)
        want = expected("/usr", "/etc")
        eq(got, want, "installed files: " + diff(got, want))
        eq(untouched_targets(), before, "paths outside DESTDIR")
        # The admin's own configuration survives an uninstall.
        mine = os.path.join(dest, "etc/tellonce/tellonce.yaml")
        with open(mine, "w") as f:
            f.write("gateway: {}\n")
        make("uninstall", "PREFIX=/usr", "DESTDIR=" + dest)
        eq(sorted(tree(dest)), ["etc/tellonce/tellonce.yaml"], "left after uninstall")
        check(not os.path.exists(os.path.join(dest, "usr/share/doc/tellonce")),
              "the doc directory is removed")
        eq(untouched_targets(), before, "paths outside DESTDIR")
    finally:
        shutil.rmtree(w, ignore_errors=True)


@test
def the_installed_example_fits_the_unit_and_passes_check():
    w = make_workdir("dist")
    dest = os.path.join(w, "dest")
    try:
        make("install", "PREFIX=/usr", "DESTDIR=" + dest)
        etc = os.path.join(dest, "etc/tellonce")
        text = open(os.path.join(etc, "tellonce.yaml.example")).read()
        # ProtectSystem=strict: only the StateDirectory is writable.
        check("  store: sqlite:/var/lib/tellonce/tellonce.db\n" in text, "store in /var/lib")
        check("    dir: /var/lib/tellonce/audit\n" in text, "audit log in /var/lib")
        make_signing_key(etc)
        env = dict(os.environ, TELLONCE_PSEUDONYM_KEY="k" * 64, TELLONCE_ADMIN_TOKEN="t",
                   MAIRIE_KEY="m", CAF_KEY="c", PORTAL_KEY="p",
                   MAIRIE_UPSTREAM_AUTH="Bearer u")
        r = subprocess.run([os.path.join(dest, "usr/bin/tellonce"), "check", "-c",
                            os.path.join(etc, "tellonce.yaml.example")],
                           capture_output=True, text=True, env=env)
        eq(r.returncode, 0, "check: %s%s" % (r.stdout, r.stderr))
    finally:
        shutil.rmtree(w, ignore_errors=True)


@test
def the_unit_is_sandboxed_ok_or_better():
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", UNIT],
                       capture_output=True, text=True)
    m = re.search(r"Overall exposure level for tellonce.service: (\d+\.\d) (\w+)", r.stdout)
    check(m, "systemd-analyze security: %s%s" % (r.stdout[-500:], r.stderr))
    check(m.group(2) in ("OK", "SAFE", "PERFECT"), "exposure %s %s" % m.groups())
    ops = open(os.path.join(ROOT, "docs", "operations.md")).read()
    check("%s %s" % m.groups() in ops,
          "docs/operations.md gives the score systemd-analyze finds: %s %s" % m.groups())


PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1


def deny_write_execute():
    """What MemoryDenyWriteExecute= does to the service, through the
    kernel's own switch (Linux 6.3+, which systemd 253+ also uses)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        os._exit(97)


@test
def plugins_load_under_memory_deny_write_execute():
    # The switch is in force: a writable executable mapping is refused.
    probe = subprocess.run([sys.executable, "-c",
                            "import mmap; mmap.mmap(-1, 4096, prot=7)"],
                           preexec_fn=deny_write_execute, capture_output=True, text=True)
    if probe.returncode == 97:
        print("  notice: this kernel has no PR_SET_MDWE; plugin load under it not tested")
        return
    check(probe.returncode != 0 and "PermissionError" in probe.stderr,
          "W+X mapping refused under MDWE: %r" % probe.stderr[-300:])
    w = make_workdir("dist")
    try:
        make_signing_key(w)
        cfg = os.path.join(w, "tellonce.yaml")
        with open(cfg, "w") as f:
            f.write(preamble(1, w) + """\
services:
  town:
    name: Town
    auth: {api_key: env:MAIRIE_KEY}
    connector:
      type: plugin
      path: %s
      records:
        t-alice: '{"cp": "29000"}'
      map: {postal_code: cp}
""" % os.path.join(ROOT, BUILD, "connectors", "example.so"))
        env = dict(os.environ, TELLONCE_PSEUDONYM_KEY="k" * 48, TELLONCE_ADMIN_TOKEN="t",
                   MAIRIE_KEY="m")
        r = subprocess.run([TELLONCE, "connector", "test", "-c", cfg, "town",
                            "--subject", "t-alice"], preexec_fn=deny_write_execute,
                           capture_output=True, text=True, env=env, timeout=60)
        eq(r.returncode, 0, "connector test under MDWE: %s%s" % (r.stdout, r.stderr))
        check('"postal_code": "29000"' in r.stdout or '"postal_code":"29000"' in r.stdout,
              "mapped record: %r" % r.stdout)
    finally:
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    run()
