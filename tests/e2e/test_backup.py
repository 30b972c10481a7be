#!/usr/bin/python3
"""Backups and restores (docs/operations.md): `tellonce backup` taken while
pushes run gives a store and an audit log that verify and that a gateway
starts on; `tellonce audit export` copies the log of one node alike; an audit directory restored from an older copy is refused at
start, with the way out in the message, instead of signing a fork of the
published log."""
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import TELLONCE, Gateway, check, eq, free_port, run, test  # noqa: E402
from pushstack import ENV, PushStack, address  # noqa: E402

SUBJECTS = 20
CLIENTS = 4

S = None


def st():
    global S
    if S is None:
        S = PushStack("backup", caf_basis="public_task")
        S.link_subjects(["b%02d" % i for i in range(SUBJECTS)], "Backup")
    return S


def tellonce(*args):
    return subprocess.run([TELLONCE] + list(args), capture_output=True, text=True,
                          timeout=120)


class Pusher(threading.Thread):
    """Pushes new versions of its subjects until told to stop."""

    def __init__(self, port, subjects):
        super().__init__(daemon=True)
        self.port, self.subjects = port, subjects
        self.accepted = 0
        self.error = None
        self.halt = threading.Event()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        v = 0
        try:
            while not self.halt.is_set():
                v += 1
                for subj in self.subjects:
                    conn.request("POST", "/v1/records", json.dumps({
                        "subject": "m-" + subj, "dataset": "address",
                        "record": address(subj, "%05d" % v, "v%05d" % v)}), {
                        "Authorization": "Bearer " + ENV["MAIRIE_KEY"],
                        "Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 202:
                        raise AssertionError("push: %d" % resp.status)
                    self.accepted += 1
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            conn.close()


def vkey(s):
    r = s.call(None, "GET", "/.well-known/tellonce/audit-vkey")
    eq(r.status, 200, "vkey: %r" % r)
    return r.raw.splitlines()[0]


def restored_config(s, where, port):
    """The stack's configuration pointed at a copy: its store and audit
    directory, another port."""
    text = open(s.gw.config).read()
    text = re.sub(r"listen: 127\.0\.0\.1:\d+", "listen: 127.0.0.1:%d" % port, text, count=1)
    text = text.replace("store: sqlite:%s/tellonce.db" % s.workdir,
                        "store: sqlite:%s/tellonce.db" % where)
    return text.replace("dir: %s/audit" % s.workdir, "dir: %s/audit" % where)


def records(db):
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM records").fetchone()[0]
    finally:
        con.close()


def aside(s, name):
    """A directory of its own for another gateway's config and log."""
    path = os.path.join(s.workdir, name)
    os.makedirs(path, exist_ok=True)
    return path


def refused(workdir, text):
    """Starts a gateway on text expecting it to refuse; its log."""
    gw = Gateway(workdir, text, ENV)
    open(gw.logfile, "w").close()
    gw.start(free_port(), wait=False)
    eq(gw.proc.wait(30), 1, "exit status of a refused start")
    return gw.read_log()


@test
def a_backup_taken_under_load_verifies_and_restores():
    s = st()
    subjects = ["b%02d" % i for i in range(SUBJECTS)]
    pushers = [Pusher(s.gw.port, subjects[i::CLIENTS]) for i in range(CLIENTS)]
    for p in pushers:
        p.start()
    time.sleep(1)
    before = sum(p.accepted for p in pushers)
    dest = os.path.join(s.workdir, "backup")
    r = tellonce("backup", "-c", s.gw.config, dest)
    during = sum(p.accepted for p in pushers) - before
    time.sleep(0.5)
    for p in pushers:
        p.halt.set()
    for p in pushers:
        p.join(30)
        check(p.error is None, "pusher: %s" % p.error)
    eq(r.returncode, 0, "backup: " + r.stdout + r.stderr)
    check(during > 0, "pushes were accepted while the backup ran")
    check("audit log copied and verified" in r.stdout, r.stdout)
    eq(os.stat(dest).st_mode & 0o777, 0o700, "the copy is private")
    eq(os.stat(os.path.join(dest, "tellonce.db")).st_mode & 0o777, 0o600, "store copy mode")
    eq(os.stat(os.path.join(dest, "tellonce.db.access")).st_mode & 0o777, 0o600,
       "access index copy mode")

    # The copy verifies, with the key and independently.
    key = vkey(s)
    v = tellonce("audit", "verify", os.path.join(dest, "audit"), "--key", key)
    eq(v.returncode, 0, "audit verify of the copy: " + v.stderr)
    size = int(re.search(r"ok, (\d+) entries", v.stdout).group(1))
    eq(av.verify(os.path.join(dest, "audit"), key)[0], size, "python verifier")
    check(size > SUBJECTS * 4, "the copy holds the links and pushes: %d" % size)
    # The store copy names no entry the log copy lacks: its deliveries'
    # entries are all in it.
    con = sqlite3.connect(os.path.join(dest, "tellonce.db"))
    try:
        top = con.execute("SELECT max(audit_index) FROM deliveries").fetchone()[0]
        check(top is not None and top < size,
              "delivery entries within the copy: %r < %d" % (top, size))
        remembered = con.execute("SELECT size FROM audit_heads").fetchone()[0]
        # The access index, in its own file, is copied too, and names no
        # entry the log copy lacks either.
        con.execute("ATTACH ? AS access", (os.path.join(dest, "tellonce.db.access"),))
        indexed, last = con.execute("SELECT count(*), max(audit_index) "
                                    "FROM access.access_index").fetchone()
    finally:
        con.close()
    check(indexed > 0 and last < size, "the access index copy: %d rows, last %r < %d"
          % (indexed, last, size))
    check(0 < remembered <= size, "the store copy remembers a checkpoint the log "
          "copy has: %d <= %d" % (remembered, size))
    stored = records(os.path.join(dest, "tellonce.db"))
    check(stored >= before, "the store copy holds the pushes before it: %d" % stored)

    # A gateway starts on the copy, from where the copy ends.
    port = free_port()
    restored = Gateway(dest, restored_config(s, dest, port), ENV)
    try:
        restored.start(port)
        eq(restored.call("GET", "/readyz").status, 200, "ready on the restored copy")
        check("audit: %d entries in %s/audit" % (size, dest) in restored.read_log(),
              restored.read_log()[-2000:])
        r = restored.call("POST", "/v1/records", {
            "subject": "m-b00", "dataset": "address",
            "record": address("after the restore", "00000", "Brest")},
            key=ENV["MAIRIE_KEY"])
        eq(r.status, 202, "a push on the restored gateway: %r" % r)
    finally:
        eq(restored.stop(), 0, "restored gateway exit status")
    v = tellonce("audit", "verify", os.path.join(dest, "audit"), "--key", key)
    eq(v.returncode, 0, "the restored log verifies after new entries: " + v.stderr)

    r = tellonce("backup", "-c", s.gw.config, dest)
    eq(r.returncode, 1, "backup into an existing directory")
    check("give a new directory" in r.stderr, r.stderr)


@test
def audit_export_of_one_node_copies_its_directory_live():
    s = st()
    key = vkey(s)
    out = os.path.join(s.workdir, "export")
    r = tellonce("audit", "export", "-c", s.gw.config, out)
    eq(r.returncode, 0, "audit export: " + r.stdout + r.stderr)
    check("audit log copied and verified" in r.stdout, r.stdout)
    v = tellonce("audit", "verify", out, "--key", key)
    eq(v.returncode, 0, "audit verify: " + v.stdout + v.stderr)
    size = av.verify(out, key, nproofs=4)[0]
    check(("%d entries" % size) in v.stdout, v.stdout)
    again = tellonce("audit", "export", "-c", s.gw.config, out)
    eq(again.returncode, 1, "export into an existing directory")
    check("give a new directory" in again.stderr, again.stderr)


def user_version(db, set_to=None):
    con = sqlite3.connect(db)
    try:
        if set_to is not None:
            con.execute("PRAGMA user_version = %d" % set_to)
        return con.execute("PRAGMA user_version").fetchone()[0]
    finally:
        con.close()


@test
def a_backup_by_another_program_than_the_stores_migrates_nothing():
    # A newer program installed before the backup must not migrate the
    # store under the gateway that serves it: the store of an older
    # program (its schema version one step behind) is refused as it is.
    s = st()
    db = os.path.join(s.workdir, "tellonce.db")
    current = user_version(db)
    try:
        user_version(db, current - 1)
        out = os.path.join(s.workdir, "backup-older")
        r = tellonce("backup", "-c", s.gw.config, out)
        eq(r.returncode, 1, "a backup of an older store: " + r.stdout + r.stderr)
        check("schema version %d, not this program's (%d)" % (current - 1, current)
              in r.stderr, r.stderr)
        eq(user_version(db), current - 1, "the store's schema after the refusal")
        check(not os.path.exists(os.path.join(out, "tellonce.db")), "no copy made")
    finally:
        user_version(db, current)


@test
def a_rewound_audit_directory_is_refused_with_the_way_out():
    s = st()
    old = os.path.join(s.workdir, "audit.old")
    s.gw.stop()
    # A stopped gateway backs up too (its log is not held: the backup
    # holds it meanwhile), and the copy is the whole log.
    offline = os.path.join(s.workdir, "backup-offline")
    r = tellonce("backup", "-c", s.gw.config, offline)
    eq(r.returncode, 0, "backup of a stopped gateway: " + r.stdout + r.stderr)
    whole = tellonce("audit", "verify", os.path.join(s.workdir, "audit"))
    copy = tellonce("audit", "verify", os.path.join(offline, "audit"))
    eq(copy.stdout.split(": ", 1)[1], whole.stdout.split(": ", 1)[1],
       "the copy's size and root are the log's")
    shutil.copytree(os.path.join(s.workdir, "audit"), old)
    s.gw.start(s.gw.port)
    for i in range(3):
        r = s.push("m-b01", address("rewind %d" % i, "29000", "Quimper"))
        eq(r.status, 202, "push: %r" % r)
    s.gw.stop()
    current = os.path.join(s.workdir, "audit.current")
    os.rename(os.path.join(s.workdir, "audit"), current)
    os.rename(old, os.path.join(s.workdir, "audit"))

    log = refused(aside(s, "rewound"), open(s.gw.config).read())
    check("is an older copy" in log and "would sign a fork" in log, log[-2000:])
    check("tellonce backup" in log and "new audit.dir and audit.origin" in log,
          "the way out: " + log[-2000:])
    check("docs/operations.md" in log, log[-2000:])
    # Nothing was signed: the old copy is as it was.
    r = tellonce("audit", "verify", os.path.join(s.workdir, "audit"))
    eq(r.returncode, 0, "the old copy still verifies: " + r.stderr)

    # The way out the message gives: a new log (new origin and directory)...
    text = open(s.gw.config).read()
    fresh = text.replace("dir: %s/audit" % s.workdir, "dir: %s/audit.new" % s.workdir) \
                .replace("origin: audit.tellonce.test/log", "origin: audit.tellonce.test/log2")
    gw = Gateway(aside(s, "fresh"), fresh, ENV)
    gw.start(s.gw.port)
    eq(gw.stop(), 0, "a new log starts")
    # ... or the directory that goes with the store.
    shutil.rmtree(os.path.join(s.workdir, "audit"))
    os.rename(current, os.path.join(s.workdir, "audit"))
    s.gw.start(s.gw.port)


def teardown():
    if S is not None:
        S.stop()


if __name__ == "__main__":
    run(teardown=teardown)
