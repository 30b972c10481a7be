#!/usr/bin/python3
"""kill -9 in the middle of appends at full speed, several times over: every
append that returned is in the reopened log, the log verifies, and its new
checkpoint is consistent with the last one signed before the crash. Once
with checkpoints at the usual pace, once with one every 5 ms, so that most
kills land while a checkpoint is being synced off the sequencer."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import audit_verifier as av  # noqa: E402
from harness import BUILD, ROOT, check, eq, make_workdir, run, test  # noqa: E402

TOOL = os.path.join(ROOT, BUILD, "tests", "tools", "audit_tool")
ORIGIN = "audit.crash.test/log"


def acknowledged(path):
    """Indexes whose append returned; a line cut by the kill does not count."""
    with open(path) as f:
        text = f.read()
    lines = text.split("\n")
    return [int(x) for x in lines[:-1] if x]


def crash_once(workdir, key, logdir, round_no, interval_ms, after_s):
    out = os.path.join(workdir, "acked.%d" % round_no)
    with open(out, "w") as f:
        p = subprocess.Popen([TOOL, "append", logdir, key, ORIGIN, "100000000", "32",
                              str(interval_ms)], stdout=f, stderr=subprocess.DEVNULL)
    time.sleep(after_s)
    p.send_signal(signal.SIGKILL)
    p.wait()
    with open(os.path.join(logdir, "checkpoint")) as f:
        before = f.read()
    return acknowledged(out), before


def crash_rounds(name, rounds, interval_ms, first_s, step_s):
    """Appends at full speed with a checkpoint every interval_ms, killed
    after first_s + round * step_s, `rounds` times over one log."""
    workdir = make_workdir(name)
    key = os.path.join(workdir, "audit.key")
    logdir = os.path.join(workdir, "audit")
    vkey = subprocess.run([TOOL, "keygen", "-o", key, "--origin", ORIGIN],
                          capture_output=True, text=True, check=True).stdout.strip()
    try:
        for round_no in range(rounds):
            acked, before = crash_once(workdir, key, logdir, round_no, interval_ms,
                                       first_s + step_s * round_no)
            check(len(acked) > 1000, "round %d: only %d appends before the kill" %
                  (round_no, len(acked)))
            eq(len(set(acked)), len(acked), "indexes are unique")
            old_size, old_root = av.parse_checkpoint(av.open_note(before, vkey))[1:]

            # Reopening recovers the log and signs a new checkpoint.
            r = subprocess.run([TOOL, "append", logdir, key, ORIGIN, "0", "1"],
                               capture_output=True, text=True)
            eq(r.returncode, 0, "reopen: " + r.stderr[-2000:])
            size, root, tree, _ = av.verify(logdir, vkey, nproofs=16)
            check(max(acked) < size, "round %d: acknowledged entry %d beyond size %d" %
                  (round_no, max(acked), size))
            check(old_size <= size, "the log shrank")
            eq(tree.root(old_size), old_root, "the tree at the old checkpoint's size")
            if 0 < old_size < size:
                proof = consistency(tree, old_size, size)
                av.verify_consistency(old_size, size, proof, old_root, root)
            r = subprocess.run([TOOL, "verify", logdir, "--key", vkey],
                               capture_output=True, text=True)
            eq(r.returncode, 0, "audit verify: " + r.stderr)
            print("  round %d: %d acknowledged, %d in the log, checkpoint %d -> %d" %
                  (round_no, len(acked), size, old_size, size), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@test
def acknowledged_appends_survive_kill_9():
    crash_rounds("audit-crash", 3, 100, 1.0, 0.4)


@test
def kill_9_while_a_checkpoint_syncs():
    # A checkpoint every 5 ms keeps the syncer busy most of the time: the
    # kills land while the tiles sync, between the checkpoint's rename and
    # the journal's restart, or just after a restart that carried the
    # entries appended during the sync into the new journal.
    crash_rounds("audit-crash-sync", 8, 5, 0.6, 0.1)


def consistency(tree, m, n, lo=0, complete=True):
    """RFC 6962 SUBPROOF(m, D[lo:lo+n], complete), from the verifier's tree."""
    if m == n:
        return [] if complete else [tree.mth(lo, lo + n)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return consistency(tree, m, k, lo, complete) + [tree.mth(lo + k, lo + n)]
    return consistency(tree, m - k, n - k, lo + k, False) + [tree.mth(lo, lo + k)]


if __name__ == "__main__":
    run()
