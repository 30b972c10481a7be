"""The record of processing activities (contract §7): `tellonce register` on
config/example.yaml in its three formats, `tellonce check` refusing what
cannot make a complete row, and GET /v1/register for the admin only."""
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (KEYS, ROOT, TELLONCE, Gateway, check, eq, free_port,  # noqa: E402
                     gateway_config, make_signing_key, make_workdir, run, test)

EXAMPLE_ENV = dict(KEYS, MAIRIE_UPSTREAM_AUTH="Bearer upstream-token")
FIELDS = ["activity", "kind", "controller", "controller_contact", "dpo", "purpose",
          "legal_basis", "legal_reference", "data_subjects", "personal_data",
          "recipients", "source", "transfers_outside_eu", "retention",
          "security_measures"]


def tellonce(*args, env=EXAMPLE_ENV):
    return subprocess.run([TELLONCE] + list(args), capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=30)


def example():
    """config/example.yaml in a workdir, with the key file it names."""
    w = make_workdir("register")
    shutil.copy(os.path.join(ROOT, "config", "example.yaml"), w)
    make_signing_key(w)
    return w, os.path.join(w, "example.yaml")


def expected_rows(path):
    """Policy ids and subscriptions, read from the YAML text."""
    text = open(path).read()
    policies = re.findall(r"^  - id: (\S+)", text, re.M)
    subs = re.findall(r"^\s+- \{dataset: (\w+), from: (\w+)\}", text, re.M)
    return policies, subs


@test
def every_policy_and_subscription_has_a_complete_row_in_every_format():
    w, path = example()
    policies, subs = expected_rows(path)
    check(len(policies) >= 2 and len(subs) >= 1, "the example has policies and subscriptions")
    r = tellonce("register", "-c", path, "--format", "csv")
    eq(r.returncode, 0, "register csv: %s" % r.stderr)
    rows = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
    eq(len(rows), len(policies) + len(subs), "one row per policy and subscription")
    eq(list(rows[0].keys()), FIELDS, "the CNIL template's fields")
    for row in rows:
        for k, v in row.items():
            check(v.strip() != "", "%s of %s is filled" % (k, row["activity"]))
    eq([x["activity"] for x in rows if x["kind"] == "policy"], policies, "policy rows")
    eq(len([x for x in rows if x["kind"] == "subscription"]), len(subs), "subscription rows")
    caf = rows[0]
    check("consent" in caf["legal_basis"] and "6(1)(a)" in caf["legal_basis"], "basis")
    eq(caf["personal_data"], "street; postal_code; city", "attributes")
    eq(caf["transfers_outside_eu"], "none", "no transfer in the example")
    check("30d" in caf["retention"], "the dataset's retention")
    check("CRPA L114-8" in rows[1]["legal_reference"], "the policy's legal reference")

    r = tellonce("register", "-c", path, "--format", "json")
    eq(r.returncode, 0, "register json")
    doc = json.loads(r.stdout)
    eq([x["activity"] for x in doc["rows"]], [x["activity"] for x in rows], "json = csv")
    eq(doc["rows"][0]["personal_data"], ["street", "postal_code", "city"], "a list in json")
    r = tellonce("register", "-c", path)
    eq(r.returncode, 0, "register md")
    eq(r.stdout.count("\n## "), len(rows), "one section per row in Markdown")
    check("(not set)" not in r.stdout, "nothing left unset")
    eq(tellonce("register", "-c", path, "--format", "xml").returncode, 2, "unknown format")
    shutil.rmtree(w)


@test
def register_reads_the_configuration_alone_not_its_secrets():
    # A DPO prints the register where the gateway's keys are not: no
    # variable set, no signing key file.
    w, path = example()
    with_secrets = tellonce("register", "-c", path, "--format", "json")
    eq(with_secrets.returncode, 0, "register: %s" % with_secrets.stderr)
    os.remove(os.path.join(w, "audit.key"))
    bare = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
    r = subprocess.run([TELLONCE, "register", "-c", path, "--format", "json"],
                       capture_output=True, text=True, env=bare, timeout=30)
    eq(r.returncode, 0, "register without the secrets: %s" % r.stderr)
    eq(r.stdout, with_secrets.stdout, "the same register")
    shutil.rmtree(w)


@test
def a_recipient_outside_the_eea_is_a_transfer_and_unset_contacts_show():
    w, path = example()
    text = open(path).read()
    text = text.replace("    dpo: dpo@caf29.example\n", "    country: US\n")
    text = text.replace("  dpo: dpo@numerique29.example\n", "")
    open(path, "w").write(text)
    r = tellonce("register", "-c", path, "--format", "json")
    eq(r.returncode, 0, "register: %s" % r.stderr)
    row = json.loads(r.stdout)["rows"][0]
    eq(row["transfers_outside_eu"], "US (Caisse d'allocations familiales)", "transfer")
    eq(row["dpo"], None, "no dpo anywhere")
    r = tellonce("register", "-c", path)
    check("| Data protection officer | (not set) |" in r.stdout, "shown as not set")
    shutil.rmtree(w)


def error_at(out, path, text, needle, msg):
    """out has PATH:LINE:COL: ...msg... at the first `needle` of text."""
    at = text.index(needle)
    line = text.count("\n", 0, at) + 1
    col = at - (text.rfind("\n", 0, at) + 1) + 1
    want = "%s:%d:%d: " % (path, line, col)
    check(any(l.startswith(want) and msg in l for l in out.splitlines()),
          "want %s...%s in:\n%s" % (want, msg, out))


@test
def check_refuses_what_cannot_make_a_complete_row():
    w, path = example()
    base = open(path).read()
    # A policy without its purpose.
    text = base.replace("    purpose: benefit-eligibility\n    basis: public_task",
                        "    basis: public_task", 1)
    open(path, "w").write(text)
    r = tellonce("check", "-c", path)
    eq(r.returncode, 1, "check fails")
    error_at(r.stdout, path, text, "id: caf-address-public-task",
             "policies[1]: missing required key 'purpose'")
    eq(tellonce("register", "-c", path).returncode, 1, "register refuses it too")
    # A public-task policy without its legal reference.
    text = base.replace('    legal_reference: "CRPA L114-8"\n', "")
    open(path, "w").write(text)
    r = tellonce("check", "-c", path)
    eq(r.returncode, 1, "check fails")
    error_at(r.stdout, path, text, "public_task", "needs a legal_reference")
    # A subscription that no policy covers has no purpose.
    text = base.replace("      - {dataset: address, from: mairie}",
                        "      - {dataset: household, from: mairie}")
    open(path, "w").write(text)
    r = tellonce("check", "-c", path)
    eq(r.returncode, 1, "check fails")
    error_at(r.stdout, path, text, "{dataset: household", "no policy lets caf obtain "
             "dataset 'household' from 'mairie'")
    shutil.rmtree(w)


@test
def get_register_is_the_admins_and_says_what_the_command_prints():
    w = make_workdir("register-http")
    make_signing_key(w)
    port = free_port()
    cfg = gateway_config(port, "http://127.0.0.1:1", "http://127.0.0.1:2", w)
    gw = Gateway(w, cfg, KEYS)
    gw.start(port)
    try:
        r = gw.call("GET", "/v1/register", key=KEYS["TELLONCE_ADMIN_TOKEN"])
        eq(r.status, 200, "admin: %r" % r)
        eq(r.headers.get("content-type"), "application/json", "JSON")
        for key in (None, "not-a-key", KEYS["CAF_KEY"]):
            eq(gw.call("GET", "/v1/register", key=key).status, 401, "not the admin")
        printed = tellonce("register", "-c", gw.config, "--format", "json", env=KEYS)
        eq(printed.returncode, 0, "register: %s" % printed.stderr)
        eq(r.json, json.loads(printed.stdout), "the same register")
        eq(len(r.json["rows"]), 4, "three policies and one subscription")
    finally:
        gw.stop()
    shutil.rmtree(w)


if __name__ == "__main__":
    run()
