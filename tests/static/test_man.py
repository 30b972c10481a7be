#!/usr/bin/env python3
"""test_man.py — the man pages render cleanly and say what the code does.

- docs/man/tellonce.8 and docs/man/tellonce.yaml.5 pass `mandoc -T lint`
  and `groff -man -ww -z` without a single message;
- tellonce.yaml(5) lists exactly the configuration keys that
  docs/configuration.md documents, and, per connector type, those of
  docs/connectors.md;
- tellonce(8) has a subsection for every command of gateway/cmd.h, names
  every option the commands parse, every signal `serve` waits for and every
  exit code;
- both pages carry the version in VERSION.

    python3 tests/static/test_man.py   # from the repository top
"""
import os
import re
import shutil
import subprocess
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))
MAN8 = os.path.join(TOP, "docs", "man", "tellonce.8")
MAN5 = os.path.join(TOP, "docs", "man", "tellonce.yaml.5")
ROOTS = ("gateway", "datasets", "services", "policies", "mandates", "include")


def read(*path):
    with open(os.path.join(TOP, *path), encoding="utf-8") as f:
        return f.read()


# ---- markdown: key tables under headings that say where the keys live ----

def heading_scope(title):
    """(prefix, connector type) of the keys in tables under a heading, or
    None for a heading whose tables hold no keys. "4. gateway" ->
    ("gateway.", None); "gateway.tls" -> ("gateway.tls.", None);
    "type: http" and "The `http` connector" -> ("services.ID.connector.",
    "http"); "3. The file at a glance" -> ("", None)."""
    t = re.sub(r"^\d+\.\s*", "", title.strip()).replace("`", "")
    bare = {"gateway": "gateway.", "datasets": "datasets.NAME.",
            "services": "services.ID.", "connector": "services.ID.connector.",
            "policies": "policies[].", "mandates": "mandates.",
            "The file at a glance": ""}
    if t in bare:
        return bare[t], None
    if re.fullmatch(r"(gateway|services\.ID)(\.[a-z_]+)+", t):
        return t + ".", None
    m = re.fullmatch(r"type: ([a-z]+)|The ([a-z]+) connector", t)
    if m:
        return "services.ID.connector.", m.group(1) or m.group(2)
    return None


def markdown_keys(name, failures):
    """{(type or None, full key)} of every table whose first column is
    "key", in the scope of the heading above it."""
    keys = set()
    scope = None
    in_key_table = False
    for line in read("docs", name).splitlines():
        m = re.match(r"(#{2,4}) (.*)", line)
        if m:
            sub = heading_scope(m.group(2))
            # A subsection with no scope of its own ("### Keys") stays in
            # its section's; a new section resets it.
            if sub is not None or len(m.group(1)) == 2:
                scope = sub
            continue
        if not line.startswith("|"):
            in_key_table = False
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "key":
            in_key_table = True
            if scope is None:
                failures.append("docs/%s: a key table under a heading the test "
                                "cannot place (line %r): teach heading_scope()"
                                % (name, line))
            continue
        if not in_key_table or scope is None or set(cells[0]) <= set("-: "):
            continue
        for key in re.findall(r"`([a-z][a-z0-9_]*)`", cells[0]):
            keys.add((scope[1], scope[0] + key))
    return keys


# ---- roff ----

def roff_text(s):
    """Roff source to the words it shows."""
    s = re.sub(r"\\f[BIRP]", "", s)
    return (s.replace("\\-", "-").replace("\\(dq", '"').replace("\\e", "\\")
            .replace('"', ""))


def roff_sections(path):
    """{.SH title: [lines]} of a page."""
    out, cur = {}, None
    for line in open(path, encoding="utf-8").read().splitlines():
        m = re.match(r"\.SH\s+(.*)", line)
        if m:
            cur = roff_text(m.group(1)).strip()
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def man_keys():
    """{(type or None, key)} of the .TP tags of tellonce.yaml(5) that are
    key paths; under .SS "Connector type T" the type is T."""
    keys = set()
    kind = None
    lines = open(MAN5, encoding="utf-8").read().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            kind = None
        m = re.match(r'\.SS\s+"?Connector type ([a-z]+)', line)
        if m:
            kind = m.group(1)
        if line == ".TP" and i + 1 < len(lines) and lines[i + 1].startswith(".B "):
            tag = roff_text(lines[i + 1][3:]).strip()
            if re.match(r"(%s)(\.|\[|$)" % "|".join(ROOTS), tag):
                keys.add((kind, tag))
    return keys


def show(keys):
    return ", ".join("%s%s" % (k, " (type %s)" % t if t else "") for t, k in sorted(
        keys, key=lambda x: (x[0] or "", x[1])))


# ---- the checks ----

def check_lint(failures):
    for page in (MAN8, MAN5):
        rel = os.path.relpath(page, TOP)
        for cmd in (["mandoc", "-T", "lint", page], ["groff", "-man", "-ww", "-z", page]):
            if shutil.which(cmd[0]) is None:
                failures.append("%s is not installed (make test installs TEST_PKGS)"
                                % cmd[0])
                continue
            r = subprocess.run(cmd, capture_output=True, text=True)
            said = (r.stdout + r.stderr).strip()
            if r.returncode != 0 or said:
                failures.append("%s on %s: exit %d: %s" % (cmd[0], rel, r.returncode,
                                                           said))


def check_keys(failures):
    conf = markdown_keys("configuration.md", failures)
    conn = {k for k in markdown_keys("connectors.md", failures) if k[0] is not None}
    man = man_keys()
    if len(conf) < 40 or len(conn) < 10:
        failures.append("too few keys found (configuration.md %d, connectors.md %d): "
                        "has the layout changed?" % (len(conf), len(conn)))
    for what, doc in (("docs/configuration.md", conf), ("docs/connectors.md", conn)):
        missing = doc - man
        if missing:
            failures.append("in %s, not in tellonce.yaml(5): %s" % (what, show(missing)))
    extra = man - conf - conn
    if extra:
        failures.append("in tellonce.yaml(5), in neither docs/configuration.md nor "
                        "docs/connectors.md: %s" % show(extra))
    # A type both pages describe must have the same keys in both.
    for kind in {t for t, _ in conf if t} & {t for t, _ in conn}:
        a = {k for t, k in conf if t == kind}
        b = {k for t, k in conn if t == kind}
        if a != b:
            failures.append("type %s: configuration.md and connectors.md differ: %s"
                            % (kind, show({(kind, k) for k in a ^ b})))
    return len(man)


def commands():
    """The commands of cmd_table in gateway/cmd.c, the table main.c
    dispatches on: `{ "audit verify", ...` is "audit verify"."""
    table = re.search(r"cmd_table\[\] = \{(.*?)\n\};", read("gateway", "cmd.c"), re.S)
    return re.findall(r'^\t\{ "([a-z][a-z ]*)",', table.group(1), re.M) if table else []


def options():
    """The options the commands compare their arguments with."""
    out = set()
    for f in sorted(os.listdir(os.path.join(TOP, "gateway"))):
        if f == "main.c" or re.fullmatch(r"cmd(_[a-z_]+)?\.c", f):
            out.update(re.findall(r'strcmp\([^,()]+,\s*"(-{1,2}[a-z][a-z-]*)"\)',
                                  read("gateway", f)))
    return out


def check_version(failures):
    """Both pages' .TH name the version the Makefile builds (VERSION)."""
    version = read("VERSION").strip()
    for page in (MAN8, MAN5):
        th = re.search(r"^\.TH .*", open(page, encoding="utf-8").read(), re.M)
        if not th or '"tellonce %s"' % version not in th.group(0):
            failures.append("%s: .TH does not say \"tellonce %s\" (VERSION)"
                            % (os.path.relpath(page, TOP), version))


def check_man8(failures):
    secs = roff_sections(MAN8)
    subsections = [roff_text(re.sub(r"^\.SS\s+", "", l)).strip()
                   for l in secs.get("COMMANDS", []) if l.startswith(".SS")]
    cmds = commands()
    if len(cmds) < 5:
        failures.append("only %d commands found in gateway/cmd.c's cmd_table" % len(cmds))
    for c in cmds:
        if not any(s == c or s.startswith(c + " ") for s in subsections):
            failures.append("tellonce(8) has no COMMANDS subsection for '%s'" % c)
    opts_text = roff_text("\n".join(secs.get("OPTIONS", [])))
    for o in sorted(options()):
        if not re.search(r"(^|[\s,])%s\b" % re.escape(o), opts_text):
            failures.append("tellonce(8) OPTIONS does not name %s" % o)
    sigs = re.findall(r"sigaddset\([^,]+,\s*(SIG[A-Z]+)\)", read("gateway", "cmd_serve.c"))
    sig_text = roff_text("\n".join(secs.get("SIGNALS", [])))
    for s in sigs:
        if s not in sig_text:
            failures.append("tellonce(8) SIGNALS does not name %s" % s)
    codes = re.findall(r"#define CMD_(?:OK|FAIL|USAGE) (\d+)", read("gateway", "cmd.h"))
    exit_text = "\n".join(secs.get("EXIT STATUS", []))
    for c in codes:
        if not re.search(r"^\.B %s$" % c, exit_text, re.M):
            failures.append("tellonce(8) EXIT STATUS does not describe %s" % c)
    return len(cmds), len(sigs), len(codes)


def main():
    results = []
    for name, fn in (("lint", check_lint), ("keys", check_keys), ("man8", check_man8),
                     ("version", check_version)):
        failures = []
        info = fn(failures)
        for f in failures:
            print("FAIL %s: %s" % (name, f))
        if not failures:
            print("ok %s%s" % (name, "" if info is None else " %r" % (info,)))
        results.append(not failures)
    passed = sum(results)
    print("test_man: %d passed, %d failed" % (passed, len(results) - passed))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
