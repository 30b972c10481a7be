"""README.md's walk-through, run as written against `make run`'s demo.

The section "Five minutes with curl" is read from README.md itself: its first
sh block sets the variables, every later sh block is run in bash with them,
and the json or text block that follows it is the documented answer. The
answers are compared value by value ("..." stands for a value that differs
from run to run), so the README and the gateway cannot drift apart.

The demo is config/demo.sh, started as `make run` starts it but on ports and
in a directory of its own (DEMO, DEMO_CONFIG, DEMO_PORTS), so the suite can
run beside a demo on the standard ports. The script's signal handling is
tested here too: Ctrl-C or SIGTERM stops everything it started.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (BUILD, ROOT, TELLONCE, Failure, check, eq, free_port,  # noqa: E402
                     http_request, make_workdir, run, test, wait_for)

README = os.path.join(ROOT, "README.md")
DEMO_SH = os.path.join(ROOT, "config", "demo.sh")
DEMO_YAML = os.path.join(ROOT, "config", "demo.yaml")


def replace_once_or_more(text, old, new, what):
    check(old in text, "%s: %r not found (README or demo config drifted)" % (what, old))
    return text.replace(old, new)


def sigint_default():
    """SIGINT as a terminal's session has it. A suite started from a shell
    without job control (`.ci/run &` in a script) inherits it ignored, and
    bash can neither trap nor reset a signal ignored when it started: the
    Ctrl-C tests would then test that environment, not the demo."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Demo:
    """config/demo.sh in a session of its own, on free ports."""

    def __init__(self, workdir=None):
        self.workdir = workdir or make_workdir("readme")
        self.ports = [free_port(), free_port(), free_port()]
        text = open(DEMO_YAML).read()
        for std, port in zip((8080, 9001, 9002), self.ports):
            text = replace_once_or_more(text, "127.0.0.1:%d" % std,
                                        "127.0.0.1:%d" % port, "demo.yaml")
        text = replace_once_or_more(text, "../build/demo", self.workdir, "demo.yaml")
        self.config = os.path.join(self.workdir, "demo.yaml")
        with open(self.config, "w") as f:
            f.write(text)
        self.url = "http://127.0.0.1:%d" % self.ports[0]
        self.proc = None

    def start(self, wrapper=None):
        """wrapper: argv that runs the script, as another script would."""
        self.out = open(os.path.join(self.workdir, "demo.out"), "w")
        env = dict(os.environ, BUILD=BUILD, DEMO=self.workdir, DEMO_CONFIG=self.config,
                   DEMO_PORTS=" ".join(map(str, self.ports)))
        argv = (wrapper or []) + [DEMO_SH]
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     env=env, cwd=ROOT, start_new_session=True,
                                     preexec_fn=sigint_default)
        wait_for(self.up, timeout=30, what="the demo to start")
        return self

    def up(self):
        if self.proc.poll() is not None:
            raise Failure("demo.sh exited with %d:\n%s" % (self.proc.returncode,
                                                          self.log()[-3000:]))
        return "demo is up" in self.log()

    def log(self):
        with open(os.path.join(self.workdir, "demo.out"), errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, group=False):
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        rc = self.proc.wait(30)
        self.out.close()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            check(marker not in self.log(), "sanitizer report:\n" + self.log()[-3000:])
        return rc

    def remove(self):
        shutil.rmtree(self.workdir, ignore_errors=True)


def children_of(parent):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == parent:
            pids.append(int(entry))
    return pids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# ---- the walk-through ------------------------------------------------------

def walkthrough_blocks():
    """[(lang, text)] of the fenced blocks of "Five minutes with curl"."""
    text = open(README).read()
    start = text.index("## Five minutes with curl")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```(\w+)\n(.*?)```", text[start:end], re.S)


def walkthrough_steps():
    """(setup, [(command block, answer lang, answer text)])."""
    blocks = walkthrough_blocks()
    check(blocks and blocks[0][0] == "sh", "the walk-through starts with an sh block")
    steps = []
    for i in range(1, len(blocks)):
        lang, body = blocks[i]
        if lang != "sh":
            continue
        check(i + 1 < len(blocks) and blocks[i + 1][0] in ("json", "text"),
              "README: the sh block %r is not followed by its answer" % body[:60])
        steps.append((body, blocks[i + 1][0], blocks[i + 1][1]))
    return blocks[0][1], steps


def same(doc, got):
    """Whether the documented JSON value doc describes got ("..." = any)."""
    if doc == "...":
        return True
    if isinstance(doc, dict):
        return (isinstance(got, dict) and doc.keys() == got.keys() and
                all(same(doc[k], got[k]) for k in doc))
    if isinstance(doc, list):
        return (isinstance(got, list) and len(doc) == len(got) and
                all(same(a, b) for a, b in zip(doc, got)))
    return type(doc) is type(got) and doc == got


def json_values(text):
    values, dec, i = [], json.JSONDecoder(), 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return values
        value, i = dec.raw_decode(text, i)
        values.append(value)


def compare(lang, answer, out, command):
    if lang == "json":
        try:
            got = json_values(out)
        except ValueError:
            raise Failure("%s\nanswered %r, not JSON" % (command, out))
        doc = json_values(answer)
        eq(len(got), len(doc), "%s\nanswers (got %r)" % (command, got))
        for d, g in zip(doc, got):
            check(same(d, g), "%s\nanswered\n  %s\nthe README says\n  %s" % (
                command, json.dumps(g, ensure_ascii=False), json.dumps(d, ensure_ascii=False)))
        return got
    pattern = "[^\n]+".join(re.escape(part) for part in answer.strip().split("..."))
    check(re.fullmatch(pattern, out.strip()),
          "%s\nanswered\n%s\nthe README says\n%s" % (command, out, answer))
    return []


def checkpoint_size(demo):
    r = http_request(demo.ports[0], "GET", "/audit/checkpoint")
    eq(r.status, 200, "checkpoint")
    return int(r.raw.split("\n")[1])


def checkpoint_settled(demo):
    """The log signs a checkpoint every second: waits until one covers
    everything written (the size holds still across an interval)."""
    last = [None]

    def settled():
        size = checkpoint_size(demo)
        same_size = size == last[0]
        last[0] = size
        time.sleep(1.2)
        return same_size
    wait_for(settled, timeout=30, what="the checkpoint to settle")


def run_walkthrough(demo):
    setup, steps = walkthrough_steps()
    check(len(steps) >= 6, "README walk-through has %d steps" % len(steps))
    consent_id = None
    for command, lang, answer in steps:
        script = setup + command
        script = replace_once_or_more(script, "http://127.0.0.1:8080", demo.url, "README G")
        for old, new in (("build/release/tellonce", TELLONCE), ("build/demo", demo.workdir)):
            script = script.replace(old, new)
            answer = answer.replace(old, new)
        if "CONSENT_ID" in script:
            check(consent_id is not None, "README: CONSENT_ID used before a consent")
            script = script.replace("CONSENT_ID", consent_id)
        if lang == "text":
            checkpoint_settled(demo)
        r = subprocess.run(["bash", "-euc", script], capture_output=True, text=True,
                           cwd=ROOT, timeout=60)
        eq(r.returncode, 0, "%s\nexit (stderr %r)" % (command, r.stderr))
        for value in compare(lang, answer, r.stdout, command):
            if isinstance(value, dict) and "receipt" in value:
                consent_id = value["id"]
    check(consent_id is not None, "the walk-through gives a consent")


@test
def walkthrough_answers_as_documented():
    demo = Demo().start()
    try:
        run_walkthrough(demo)
    finally:
        demo.stop()
        demo.remove()


@test
def second_run_starts_from_a_clean_state():
    """Same directory, second start: the answers are those of the first."""
    demo = Demo().start()
    try:
        run_walkthrough(demo)
        eq(demo.stop(), 143, "demo.sh exit on SIGTERM")
        demo.start()
        run_walkthrough(demo)
    finally:
        demo.stop()
        demo.remove()


@test
def walkthrough_commands_are_the_readme_s():
    """The parser finds the documented steps: a README reshaped so that it
    finds none must fail here, not pass with nothing run."""
    _, steps = walkthrough_steps()
    commands = "".join(c for c, _, _ in steps)
    for want in ("/v1/links", "/v1/fetch", "/v1/consents", "-X DELETE",
                 "/audit/checkpoint", "audit verify", "/v1/mandates"):
        check(want in commands, "walk-through runs %s" % want)
    lang = [lang for _, lang, _ in steps]
    check("json" in lang and "text" in lang, "answers of both kinds: %r" % lang)


# ---- stopping --------------------------------------------------------------

def demo_children(script_pid):
    """The partners and the gateway. The `cat` that printed "demo is up"
    may not have exited yet when the test reads that line: wait it out."""
    children = []

    def three():
        children[:] = children_of(script_pid)
        return len(children) == 3
    try:
        wait_for(three, timeout=5, what="three demo children")
    except Failure:
        raise Failure("demo children (two partners, one gateway): %r" % children)
    return children


def check_all_stopped(demo, children):
    wait_for(lambda: not any(alive(p) for p in children), timeout=15,
             what="every process the demo started to stop")
    for port in demo.ports:
        try:
            http_request(port, "GET", "/healthz", timeout=1)
            raise Failure("port %d still answers" % port)
        except OSError:
            pass


@test
def ctrl_c_stops_everything():
    """Ctrl-C goes to the terminal's whole foreground group."""
    demo = Demo().start()
    children = demo_children(demo.proc.pid)
    try:
        eq(demo.stop(signal.SIGINT, group=True), 130, "demo.sh exit on Ctrl-C")
        check_all_stopped(demo, children)
    finally:
        demo.remove()


@test
def ctrl_c_stops_everything_under_a_script():
    """`make run` inside a script: the script's shell has no job control,
    so the demo's children ignore SIGINT and only the traps can stop them."""
    demo = Demo()
    demo.start(wrapper=["bash", "-c", '"$0"; echo "demo.sh exited $?"'])
    scripts = children_of(demo.proc.pid)
    eq(len(scripts), 1, "the wrapper runs demo.sh")
    children = demo_children(scripts[0])
    try:
        os.killpg(demo.proc.pid, signal.SIGINT)
        demo.proc.wait(30)
        demo.out.close()
        check_all_stopped(demo, children)
        check("demo.sh exited 130" in demo.log(), "demo.sh exit:\n" + demo.log()[-500:])
    finally:
        demo.remove()


@test
def sigterm_to_the_script_alone_stops_everything():
    """What `make` does to its recipe when it is terminated."""
    demo = Demo().start()
    children = demo_children(demo.proc.pid)
    try:
        eq(demo.stop(signal.SIGTERM), 143, "demo.sh exit on SIGTERM")
        check_all_stopped(demo, children)
    finally:
        demo.remove()


if __name__ == "__main__":
    run()
