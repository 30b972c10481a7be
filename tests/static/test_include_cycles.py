#!/usr/bin/env python3
"""test_include_cycles.py — no include cycle among the modules of gateway/
and connectors/.

A module is a header and the source file of the same name (config.h and
config.c). Module A depends on module B when a file of A includes B's
header. A cycle (A needs B, B needs A, possibly through others) means the
two are one concept in two rooms, or the dependency order is upside down:
this test names every cycle found.

    python3 tests/static/test_include_cycles.py   # from the repository top
"""
import os
import re
import sys

ROOTS = ("gateway", "connectors")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules(top):
    """Maps module name -> list of its files (relative paths)."""
    mods = {}
    for root in ROOTS:
        for dirpath, _, files in os.walk(os.path.join(top, root)):
            for f in files:
                if f.endswith((".c", ".h")):
                    path = os.path.relpath(os.path.join(dirpath, f), top)
                    mods.setdefault(module_of(path), []).append(path)
    return mods


def module_of(path):
    return os.path.splitext(path)[0]


def header_module(include, including_file, top, known):
    """The module of an included project header, or None for a system one."""
    here = os.path.dirname(including_file)
    candidates = [os.path.join(here, include)]
    candidates += [os.path.join(r, include) for r in ROOTS]
    for c in candidates:
        m = module_of(os.path.normpath(c))
        if m in known and os.path.exists(os.path.join(top, c)):
            return m
    return None


def graph(top):
    mods = modules(top)
    edges = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            text = open(os.path.join(top, f), encoding="utf-8").read()
            for inc in INCLUDE.findall(text):
                dep = header_module(inc, f, top, mods)
                if dep and dep != m:
                    edges[m].add(dep)
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def main():
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    edges = graph(os.path.normpath(top))
    found = cycles(edges)
    for comp in found:
        path = " -> ".join(comp)
        print("FAIL include cycle among: %s" % path)
        for m in comp:
            inner = sorted(d for d in edges[m] if d in comp)
            print("  %s includes %s" % (m, ", ".join(inner)))
    if not found:
        print("ok no include cycle among %d modules" % len(edges))
    print("test_include_cycles: %d passed, %d failed"
          % (0 if found else 1, 1 if found else 0))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
