"""Polling sources end to end: a provider that cannot push drops change files
in its folder (the file connector's inbox); the gateway polls them, accepts
the records like pushes, delivers them to a subscriber, stores the cursor
only with the records it covers, and accepts nothing twice after a
restart."""
import json
import os
import re
import shutil
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (KEYS, Gateway, Partner, check, eq, free_port, make_signing_key, preamble,  # noqa: E402
                     make_workdir, run, test, wait_for)
from pushstack import pivot  # noqa: E402

ENV = dict(KEYS, REGISTRE_KEY="registre-secret-key")


def poll_config(port, workdir, ccas_url):
    return preamble(port, workdir, "  log: {format: json}\n") + """\
services:
  registre:
    name: Registre sans API
    auth: {api_key: env:REGISTRE_KEY}
    connector:
      type: file
      dir: %(workdir)s/registre
      poll: {dataset: address, interval: 100ms}
  ccas:
    name: Centre communal d'action sociale
    auth: {api_key: env:CCAS_KEY}
    connector:
      type: http
      base_url: %(ccas)s
      push: {method: PUT, path: "/citizens/{local_id}/address"}
      map: {city: commune.nom}
    subscribes: [{dataset: address, from: registre}]
    delivery: {base: 50ms, cap: 400ms}

policies:
  - id: ccas-address-legal
    consumer: ccas
    provider: registre
    dataset: address
    attributes: [city]
    purpose: social-aid
    basis: legal_obligation
    legal_reference: "CASF L123-5"
""" % dict(port=port, workdir=workdir, ccas=ccas_url)


class PollStack:
    def __init__(self):
        self.workdir = make_workdir("poll")
        make_signing_key(self.workdir)
        self.folder = os.path.join(self.workdir, "registre")
        os.makedirs(os.path.join(self.folder, "inbox"))
        self.ccas = Partner(self.workdir, "ccas")
        port = free_port()
        self.gw = Gateway(self.workdir, poll_config(port, self.workdir, self.ccas.url), ENV)
        self.gw.start(port)

    def call(self, service, method, path, body=None):
        return self.gw.call(method, path, body, key=ENV[service.upper() + "_KEY"])

    def link(self, service, local_id, who):
        r = self.call(service, "POST", "/v1/links", {"local_id": local_id, "pivot": who})
        check(r.status in (200, 201), "link: %r" % r)

    def drop(self, name, changes):
        """Writes a JSONL change file and renames it into the inbox whole."""
        tmp = os.path.join(self.folder, "inbox", "." + name)
        with open(tmp, "w") as f:
            for local_id, record in changes:
                f.write(json.dumps({"local_id": local_id, "record": record}) + "\n")
        os.rename(tmp, os.path.join(self.folder, "inbox", name))

    def received(self, local_id):
        got = self.ccas.control("GET", "received")["received"]
        return [p["record"] for p in got if p["local_id"] == local_id]

    def feed(self):
        r = self.call("ccas", "GET", "/v1/changes?dataset=address&limit=1000")
        eq(r.status, 200, "feed")
        return r.json["changes"]

    def stop(self):
        self.gw.stop()
        self.ccas.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


S = None


def st():
    global S
    if S is None:
        S = PollStack()
        for i, who in enumerate(("Ana", "Brieuc")):
            p = pivot("Poll", who, "1980-01-0%d" % (i + 1))
            S.link("registre", "r-" + who.lower(), p)
            S.link("ccas", "s-" + who.lower(), p)
    return S


def city(name):
    return {"street": "1 rue", "postal_code": "29000", "city": name, "country": "FR"}


@test
def polled_changes_are_delivered_and_the_file_acknowledged():
    s = st()
    s.drop("001.jsonl", [("r-ana", city("Brest")), ("r-brieuc", city("Morlaix")),
                         ("r-nobody", city("Quimper")), ("r-ana", city("Vannes"))])
    wait_for(lambda: s.received("s-ana")[-1:] == [{"commune": {"nom": "Vannes"}}], 10,
             "the latest version at ccas")
    wait_for(lambda: s.received("s-brieuc") == [{"commune": {"nom": "Morlaix"}}], 10,
             "brieuc's record")
    wait_for(lambda: os.listdir(os.path.join(s.folder, "inbox")) == [], 10,
             "the file acknowledged once its records were stored")
    eq(os.listdir(os.path.join(s.folder, "done")), ["001.jsonl"], "moved to done/")
    eq([c["record"]["commune"]["nom"] for c in s.feed()], ["Brest", "Morlaix", "Vannes"],
       "accepted once each, in file order; the unlinked subject skipped")


@test
def a_poll_is_a_trace_that_its_log_lines_and_deliveries_carry():
    s = st()
    lines = [json.loads(line) for line in s.gw.read_log().splitlines()]
    accepted = [line for line in lines if "changes accepted" in line["msg"]]
    check(accepted, "the poll's line")
    trace = accepted[0].get("trace_id")
    check(trace is not None and re.fullmatch(r"[0-9a-f]{32}", trace),
          "the trace_id of %r" % accepted[0])
    got = [r["traceparent"].split("-")[1]
           for r in s.ccas.control("GET", "received")["received"]]
    check(trace in got, "a delivery of the poll in its trace %s: %r" % (trace, got))


@test
def nothing_is_accepted_twice_after_a_restart():
    s = st()
    s.drop("002.jsonl", [("r-brieuc", city("Lorient"))])
    wait_for(lambda: len(s.feed()) == 4, 10, "the second file accepted")
    s.gw.stop(signal.SIGKILL)
    s.gw.start(s.gw.port)
    s.drop("003.jsonl", [("r-ana", city("Quimperlé"))])
    wait_for(lambda: len(s.feed()) == 5, 10, "the third file accepted")
    eq([c["record"]["commune"]["nom"] for c in s.feed()],
       ["Brest", "Morlaix", "Vannes", "Lorient", "Quimperlé"], "each change once")
    wait_for(lambda: s.received("s-ana")[-1:] == [{"commune": {"nom": "Quimperlé"}}], 10,
             "delivered after the restart")


@test
def the_gateway_drains_and_stops_cleanly():
    eq(st().gw.stop(), 0, "exit status after SIGTERM")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
