"""The command line as an admin meets it: check, usage errors, version."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, KEYS, TELLONCE, Gateway, check, eq,  # noqa: E402
                     free_port, gateway_config, make_signing_key, make_workdir,
                     run, test)


def tellonce(*args, env=None):
    return subprocess.run([TELLONCE] + list(args), capture_output=True, text=True,
                          env=dict(os.environ, **(env or KEYS)), timeout=30)


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


@test
def version_and_help():
    r = tellonce("--version")
    eq(r.returncode, 0, "--version exit")
    check(re.match(r"tellonce \d+\.\d+\.\d+", r.stdout), "version line: %r" % r.stdout)
    r = tellonce("--help")
    eq(r.returncode, 0, "--help exit")
    for cmd in ("serve", "check", "keygen", "audit verify", "connector test"):
        check(cmd in r.stdout, "help lists %s" % cmd)


@test
def usage_errors_exit_2():
    eq(tellonce().returncode, 2, "no command")
    eq(tellonce("frobnicate").returncode, 2, "unknown command")
    eq(tellonce("check").returncode, 2, "check without -c")
    eq(tellonce("serve").returncode, 2, "serve without -c")


def commands():
    """The commands `tellonce --help` lists: the dispatch table, each line
    "  WORDS ARGS" followed by its summary."""
    r = tellonce("--help")
    names = []
    for line in r.stdout.splitlines():
        m = re.match(r"^  ([a-z]+(?: [a-z]+)?) (?:-|[A-Z])", line)
        if m:
            names.append(m.group(1))
    return names


@test
def every_command_has_help():
    names = commands()
    for want in ("serve", "check", "keygen", "audit verify", "connector test"):
        check(want in names, "the usage lists %s: %r" % (want, names))
    for name in names:
        for flag in ("--help", "-h"):
            r = tellonce(*name.split(), flag)
            eq(r.returncode, 0, "%s %s exit (stderr %r)" % (name, flag, r.stderr))
            check(r.stdout.startswith("usage: tellonce %s " % name),
                  "%s %s: usage on stdout: %r" % (name, flag, r.stdout[:200]))
            eq(r.stderr, "", "%s %s stderr" % (name, flag))
        # --help wins over anything else on the line, even a bad option.
        r = tellonce(*name.split(), "--bogus", "--help")
        eq(r.returncode, 0, "%s --bogus --help exit" % name)
        r = tellonce(*name.split(), "--bogus")
        eq(r.returncode, 2, "%s --bogus: usage error exit" % name)
        eq(r.stdout, "", "%s --bogus: nothing on stdout" % name)
        check("usage: tellonce %s" % name in r.stderr,
              "%s --bogus: its usage on stderr: %r" % (name, r.stderr))
    # A group word alone: its commands, on stdout when asked for.
    r = tellonce("audit", "--help")
    eq(r.returncode, 0, "audit --help exit")
    check("usage: tellonce audit verify" in r.stdout, "audit --help: %r" % r.stdout)
    r = tellonce("audit")
    eq(r.returncode, 2, "audit alone exit")
    check("usage: tellonce audit verify" in r.stderr, "audit alone: %r" % r.stderr)


@test
def unknown_command_suggests_the_nearest():
    r = tellonce("chekc")
    eq(r.returncode, 2, "exit")
    check("unknown command 'chekc' (did you mean 'check'?)" in r.stderr, r.stderr)
    r = tellonce("conector", "test")
    check("did you mean 'connector'?" in r.stderr, r.stderr)
    r = tellonce("frobnicate")
    check("did you mean" not in r.stderr, r.stderr)


def check_without_secrets(*args):
    """`tellonce check ARGS` with none of the config's variables set."""
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    return subprocess.run([TELLONCE, "check"] + list(args), capture_output=True,
                          text=True, env=env, timeout=30)


@test
def check_offline_reads_no_secret():
    w = make_workdir("cli")
    text = gateway_config(free_port(), "http://127.0.0.1:1", "http://127.0.0.1:2", w)
    path = write(w, "ci.yaml", text)
    # No key file, no environment: check fails, check --offline passes.
    r = check_without_secrets("-c", path)
    eq(r.returncode, 1, "check without secrets: %s" % r.stdout)
    check("audit.key" in r.stdout, "names the missing key file: %r" % r.stdout)
    check("CAF_KEY is not set" in r.stdout, "names the unset variable: %r" % r.stdout)
    r = check_without_secrets("--offline", "-c", path)
    eq(r.returncode, 0, "check --offline: %s%s" % (r.stdout, r.stderr))
    eq(r.stdout.strip(), path + ": ok (offline: secrets not read)", "offline output")
    # Shapes are still checked, and problems that need no secret still count.
    bad = text.replace("env:CAF_KEY", "env:CAF KEY").replace("timeout: 1s", "timeout: 1 s", 1)
    path = write(w, "bad.yaml", bad)
    r = check_without_secrets("--offline", "-c", path)
    eq(r.returncode, 1, "bad offline exit")
    eq(len(r.stdout.strip().splitlines()), 2, "two problems: %r" % r.stdout)
    check("a variable name holds only letters" in r.stdout, r.stdout)
    check("is not a duration" in r.stdout, r.stdout)


@test
def check_accepts_a_valid_config():
    w = make_workdir("cli")
    make_signing_key(w)
    path = write(w, "ok.yaml", gateway_config(free_port(), "http://127.0.0.1:1",
                                               "http://127.0.0.1:2", w))
    r = tellonce("check", "-c", path)
    eq(r.returncode, 0, "check ok: %s" % r.stdout + r.stderr)
    eq(r.stdout.strip(), path + ": ok", "check output")


@test
def check_reports_file_line_col():
    w = make_workdir("cli")
    make_signing_key(w)
    text = gateway_config(free_port(), "http://127.0.0.1:1", "http://127.0.0.1:2", w)
    text = text.replace("      timeout: 1s\n", "      timeout: 1s\n      colour: blue\n")
    text = text.replace("timeout: 1s", "timeout: 2 seconds")
    text = text.replace("    legal_reference: \"CRPA L114-8\"\n", "")
    path = write(w, "bad.yaml", text)
    r = tellonce("check", "-c", path)
    eq(r.returncode, 1, "check fails")
    lines = r.stdout.strip().splitlines()
    check(len(lines) >= 3, "every problem is reported: %r" % lines)
    for line in lines:
        check(re.match(re.escape(path) + r":\d+:\d+: .+", line), "FILE:LINE:COL: %r" % line)
    lineno = text.splitlines().index("      colour: blue") + 1
    check(any(l.startswith("%s:%d:7: " % (path, lineno)) for l in lines),
          "unknown key at its line and column: %r" % lines)
    check(any("legal_reference" in l for l in lines), "missing legal_reference")
    check(any("duration" in l for l in lines), "bad duration")


@test
def serve_refuses_an_invalid_config():
    w = make_workdir("cli")
    path = write(w, "bad.yaml", "gateway: {listen: 1}\nnonsense: true\n")
    r = tellonce("serve", "-c", path)
    eq(r.returncode, 1, "serve exits 1")
    check(path + ":" in r.stderr, "serve says which file and where: %r" % r.stderr)


@test
def serve_names_a_store_it_cannot_open_once():
    w = make_workdir("cli")
    make_signing_key(w)
    text = gateway_config(free_port(), "http://127.0.0.1:1", "http://127.0.0.1:2", w)
    text = text.replace("store: sqlite:%s/tellonce.db" % w,
                        "store: sqlite:%s/missing/tellonce.db" % w)
    check("/missing/tellonce.db" in text, "the config names the missing store")
    r = tellonce("serve", "-c", write(w, "gw.yaml", text))
    eq(r.returncode, 1, "serve exits 1: %s" % r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if "missing/tellonce.db" in ln]
    check(lines and all("store: store:" not in ln for ln in lines),
          "the store's error, prefixed once: %r" % r.stderr)
    shutil.rmtree(w)


@test
def the_key_keygen_printed_verifies_the_log_it_signed():
    # Contract §2 as written: `keygen -o FILE` (no origin given), serve with
    # that key, `audit verify DIR --key` with what keygen printed.
    w = make_workdir("cli")
    r = tellonce("keygen", "-o", os.path.join(w, "audit.key"))
    eq(r.returncode, 0, "keygen: %s" % r.stderr)
    vkey = r.stdout.strip()
    port = free_port()
    gw = Gateway(w, gateway_config(port, "http://127.0.0.1:1", "http://127.0.0.1:2", w),
                 KEYS)
    gw.start(port)
    try:
        eq(gw.call("POST", "/v1/links", {"local_id": "caf-alice", "pivot": ALICE_PIVOT},
                   key=KEYS["CAF_KEY"]).status, 201, "link")
    finally:
        eq(gw.stop(), 0, "stop")
    logdir = os.path.join(w, "audit")
    r = tellonce("audit", "verify", logdir, "--key", vkey)
    eq(r.returncode, 0, "verify with keygen's key: %s%s" % (r.stdout, r.stderr))
    eq(r.stdout.strip().split(", root ")[0], logdir + ": ok, 1 entries", "the verdict")
    check("audit.tellonce.test/log" in r.stderr and "named tellonce" in r.stderr,
          "says the key is named otherwise than the log: %r" % r.stderr)
    other = tellonce("keygen", "-o", os.path.join(w, "other.key")).stdout.strip()
    r = tellonce("audit", "verify", logdir, "--key", other)
    eq(r.returncode, 1, "another key, whatever its name: %s" % r.stdout)
    shutil.rmtree(w)


@test
def keygen_refuses_an_origin_no_verifier_key_can_name():
    # A signed-note key name holds no '+' or space, and a checkpoint's origin
    # line is at most 255 bytes: the verifier key printed would be refused by
    # `audit verify --key` (and by Go's note package).
    w = make_workdir("cli")
    for origin in ("audit+eu.example/log", "audit example/log", "a" * 256):
        key = os.path.join(w, "audit.key")
        r = tellonce("keygen", "-o", key, "--origin", origin)
        eq(r.returncode, 1, "keygen --origin %r: %s%s" % (origin, r.stdout, r.stderr))
        check("--origin" in r.stderr and r.stdout == "", "says why: %r" % r.stderr)
        check(not os.path.exists(key), "no key written for %r" % origin)
    shutil.rmtree(w)


@test
def inline_secret_is_refused():
    w = make_workdir("cli")
    make_signing_key(w)
    text = gateway_config(free_port(), "http://127.0.0.1:1", "http://127.0.0.1:2", w)
    text = text.replace("api_key: env:CAF_KEY", "api_key: caf-secret-key")
    r = tellonce("check", "-c", write(w, "inline.yaml", text))
    eq(r.returncode, 1, "inline secret refused")
    check("caf-secret-key" not in r.stdout + r.stderr, "the secret is not echoed")


if __name__ == "__main__":
    run()
