#!/usr/bin/env python3
"""test_architecture_doc.py — docs/architecture.md's module table matches
the tree.

Every .c file of gateway/ and connectors/ must be named in the table under
"## Modules" (a connector's folder, `connectors/NAME/`, names the files in
it), and every file or folder the table names must exist. A new file with
no row, or a row for a file that is gone, fails here.

    python3 tests/static/test_architecture_doc.py   # from the repository top
"""
import os
import re
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", ".."))
DOC = os.path.join(TOP, "docs", "architecture.md")
NAMED = re.compile(r"`((?:gateway|connectors)/[A-Za-z0-9_./{},*-]*)`")


def module_table(text):
    """The lines of the table that follows the "## Modules" heading."""
    m = re.search(r"^## Modules\s*$(.*?)(?=^## )", text, re.M | re.S)
    if not m:
        return []
    return [l for l in m.group(1).splitlines() if l.startswith("|")]


def expand(name):
    """`gateway/store_{sqlite,pg}.c` -> both paths; others as they are."""
    m = re.match(r"(.*)\{([^}]*)\}(.*)", name)
    if not m:
        return [name]
    return [m.group(1) + part + m.group(3) for part in m.group(2).split(",")]


def sources():
    out = []
    for root in ("gateway", "connectors"):
        for dirpath, _, files in os.walk(os.path.join(TOP, root)):
            for f in files:
                if f.endswith(".c"):
                    out.append(os.path.relpath(os.path.join(dirpath, f), TOP))
    return sorted(out)


def main():
    rows = module_table(open(DOC, encoding="utf-8").read())
    named = set()
    for row in rows:
        for n in NAMED.findall(row):
            named.update(expand(n))
    failures = []
    if not rows:
        failures.append("docs/architecture.md has no table under ## Modules")
    for src in sources():
        folder = os.path.dirname(src) + "/"
        if src not in named and folder not in named:
            failures.append("%s is not in docs/architecture.md's module table" % src)
    for n in sorted(named):
        if not os.path.exists(os.path.join(TOP, n)):
            failures.append("docs/architecture.md names %s, which does not exist" % n)
    for f in failures:
        print("FAIL " + f)
    if not failures:
        print("ok %d source files, each in the module table" % len(sources()))
    print("test_architecture_doc: %d passed, %d failed"
          % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
