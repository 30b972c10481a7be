"""A PostgreSQL server of the test's own (tests/tools/pgserver.sh, on a unix
socket in a scratch directory) for the gateways of an end-to-end test, and
the config edit that puts a gateway's store on it."""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, check, eq, make_workdir  # noqa: E402

PGSERVER = os.path.join(ROOT, "tests", "tools", "pgserver.sh")
# trust authentication ignores the password; it is given all the same, to
# go the way an operator's does (env: to libpq).
PG_ENV = {"TELLONCE_STORE_PASSWORD": "not-needed-under-trust"}


def bundle_index(path):
    """N of a tlog-tiles entry bundle path, tile/entries/x001/234: 1234."""
    return int("".join(p.lstrip("x") for p in path.split("/")[2:]))


class PgServer:
    def __init__(self, tcp_port=None):
        """tcp_port: the gateways reach the server on 127.0.0.1:tcp_port
        instead of its unix socket (for the tests that cut TCP sessions)."""
        self.dir = make_workdir("pg")
        self.tcp_port = tcp_port
        # As root the server runs as postgres, which must reach its socket.
        os.chmod(self.dir, 0o711)
        self.dsn = subprocess.run([PGSERVER, "start", self.dir] +
                                  ([str(tcp_port)] if tcp_port else []), check=True,
                                  capture_output=True, text=True).stdout.strip()

    def store_config(self, text):
        """text with its SQLite store replaced by this server's database,
        which holds the audit log too: no audit directory."""
        lines = text.splitlines()
        sqlite = [line for line in lines if line.strip().startswith("store: sqlite:")]
        audit_dir = [line for line in lines if line.startswith("    dir: ")]
        check(len(sqlite) == 1 and len(audit_dir) == 1,
              "the config names one SQLite store and one audit directory")
        return text.replace(audit_dir[0] + "\n", "").replace(
            sqlite[0], "  store: postgresql:///tellonce?host=%s"
            "&user=tellonce&sslmode=disable\n"
            "  store_password: env:TELLONCE_STORE_PASSWORD"
            % (self.dir if self.tcp_port is None else "127.0.0.1&port=%d" % self.tcp_port))

    def psql(self, sql):
        out = subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", self.dsn,
                              "-c", sql], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def audit_entries(self):
        """Every entry of the nodes' audit log, parsed, in index order: those
        of the full entry bundles (C2SP tlog-tiles: each entry a big-endian
        16-bit length and its bytes), then the rows not dropped yet after
        them."""
        entries = []
        bundles = self.psql("SELECT path, encode(data, 'hex') FROM audit_tiles "
                            "WHERE path LIKE 'tile/entries/%' AND path NOT LIKE '%.p/%'")
        for line in sorted(bundles.split(), key=lambda l: bundle_index(l.split("|")[0])):
            path, data = line.split("|")
            eq(bundle_index(path), len(entries) // 256, "bundle %s follows" % path)
            data = bytes.fromhex(data)
            while data:
                n = int.from_bytes(data[:2], "big")
                entries.append(json.loads(data[2:2 + n]))
                data = data[2 + n:]
        rows = self.psql("SELECT idx, encode(entry, 'hex') FROM audit_entries "
                         "WHERE idx >= %d ORDER BY idx" % len(entries))
        for row in rows.split():
            idx, entry = row.split("|")
            eq(int(idx), len(entries), "entry %s follows" % idx)
            entries.append(json.loads(bytes.fromhex(entry)))
        return entries

    def audit_rows_from(self):
        """The first index whose entry is still a row of audit_entries."""
        return int(self.psql("SELECT coalesce(min(idx), -1) FROM audit_entries"))

    def ctl(self, what):
        """restart, or halt (stopped, its data kept)."""
        subprocess.run([PGSERVER, what, self.dir], check=True, capture_output=True)

    def stop(self):
        subprocess.run([PGSERVER, "stop", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
