#!/usr/bin/env python3
"""test_debian.py — debian/ in step with the tree it packages:

- the upstream version of debian/changelog's top entry is VERSION's, so a
  release that forgets the changelog fails here, not in a package named
  after the previous release;
- debian/control's Build-Depends are the library -dev packages and
  pkg-config of the Makefile's DEB_PKGS, no more, no fewer: a library the
  build gains must be a build dependency of the package too.

make test-deb (root) builds, installs and purges the package itself.

    python3 tests/static/test_debian.py   # from the repository top
"""
import os
import re
import sys

TOP = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def read(path):
    with open(os.path.join(TOP, path)) as f:
        return f.read()


def changelog_version():
    """(upstream, debian revision) of the top entry."""
    m = re.match(r"tellonce \(([^)]+)\)", read("debian/changelog"))
    upstream, _, revision = m.group(1).rpartition("-")
    return upstream, revision


def makefile_build_packages():
    """The packages of DEB_PKGS that the build itself needs: the -dev
    libraries (libc6-dev is build-essential) and pkg-config."""
    m = re.search(r"^DEB_PKGS = ((?:.*\\\n)*.*)$", read("Makefile"), re.M)
    pkgs = m.group(1).replace("\\\n", " ").split()
    return {p for p in pkgs if (p.endswith("-dev") and p != "libc6-dev") or p == "pkg-config"}


def control_build_depends():
    m = re.search(r"^Build-Depends:((?:.*\n)(?:[ \t].*\n)*)", read("debian/control"), re.M)
    names = (d.split("(")[0].strip() for d in m.group(1).split(","))
    return {n for n in names if n and n != "debhelper-compat"}


def main():
    failed = 0
    upstream, revision = changelog_version()
    version = read("VERSION").strip()
    if upstream != version or not revision:
        print("FAIL debian/changelog's top entry is %s-%s, VERSION is %s"
              % (upstream, revision, version))
        failed += 1
    else:
        print("ok debian/changelog's top entry is VERSION %s" % version)
    want, got = makefile_build_packages(), control_build_depends()
    if want != got:
        print("FAIL debian/control Build-Depends: missing %s, not in the Makefile's DEB_PKGS %s"
              % (sorted(want - got), sorted(got - want)))
        failed += 1
    else:
        print("ok debian/control builds with the Makefile's %d build packages" % len(want))
    print("test_debian: %d passed, %d failed" % (2 - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
