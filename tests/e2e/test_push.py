"""Push fan-out end to end: POST /v1/records, the durable outbox, delivery to
three real subscribers with different policies, ordering, retries, dead
letters and their replay, consent revoked in between, the changes feed."""
import base64
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (ALICE_PIVOT, BOB_PIVOT, check, eq, http_request, run, test,  # noqa: E402
                     wait_for)
import audit_verifier as av  # noqa: E402
from pushstack import (PushStack, address, dead_letters, grant, pivot,  # noqa: E402
                       wait_received)

S = None


def st():
    global S
    if S is None:
        S = PushStack("push")
        S.link_all("alice", ALICE_PIVOT)
        S.link_all("bob", BOB_PIVOT)
    return S


@test
def fan_out_gives_each_subscriber_its_own_view():
    s = st()
    grant(s, "c-alice")
    r = s.push("m-alice", address("12 rue Kéréon", "29000", "Quimper"), key="fan-1")
    eq(r.status, 202, "accepted: %r" % r)
    eq(r.json["deliveries"], 3, "one delivery per subscriber")
    check(len(r.json["id"]) == 32, "record id")
    caf = wait_received(s, "caf", "c-alice")
    ccas = wait_received(s, "ccas", "s-alice")
    impots = wait_received(s, "impots", "i-alice")
    eq([(p["local_id"], p["record"]) for p in caf],
       [("c-alice", {"street": "12 rue Kéréon", "postal_code": "29000", "city": "Quimper"})],
       "caf: what the consent permits, in attribute names, for its own id")
    eq([(p["local_id"], p["record"]) for p in ccas],
       [("s-alice", {"commune": {"nom": "Quimper"}})], "ccas: city only, as commune.nom")
    eq([(p["local_id"], p["record"]) for p in impots],
       [("i-alice", {"cp": "29000", "pays": "FR"})],
       "impots: postal code and country (its map has no street)")
    keys = {p["idempotency_key"] for p in caf + ccas + impots}
    eq(len(keys), 3, "one Idempotency-Key per delivery")
    # A delivery is audited once its subscriber has answered: after the
    # subscriber has it.
    wait_for(lambda: sum(e["type"] == "deliver" for e in s.audit_entries()) >= 3, 10,
             "the three deliveries audited")
    entries = s.audit_entries()
    pushes = [e for e in entries if e["type"] == "push" and e["provider"] == "mairie"]
    eq(len(pushes), 1, "one push entry")
    eq(sorted(pushes[0]["attributes"]), ["city", "country", "postal_code", "street"],
       "pushed names")
    check(len(base64.b64decode(pushes[0]["payload"])) == 32, "payload commitment")
    delivered = sorted(e["consumer"] for e in entries
                       if e["type"] == "deliver" and e["decision"] == "allow")
    eq(delivered, ["caf", "ccas", "impots"], "one deliver entry per delivery")
    sent = {e["consumer"]: sorted(e["attributes"]) for e in entries
            if e["type"] == "deliver" and e["decision"] == "allow"}
    eq(sent, {"caf": ["city", "postal_code", "street"], "ccas": ["city"],
              "impots": ["country", "postal_code", "street"]},
       "each deliver entry names the attributes its policy granted of the record")
    # The delivery ids are the Idempotency-Keys the subscribers saw: never
    # in an entry. Each entry commits instead to the very body sent.
    eq({e["request_id"] for e in entries if e["type"] == "deliver"}, {None},
       "no delivery id in deliver entries")
    text = json.dumps(entries)
    check(not any(k in text for k in keys), "no Idempotency-Key in the log")
    about = s.entries_about(s.view_key("caf", "c-alice"), entries)
    for p in caf + ccas + impots:
        body = json.dumps(p["record"], sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
        check(any(e["type"] == "deliver" and e["payload"] == av.commitment(
            s.view_key("caf", "c-alice"), "payload", base64.b64decode(e["nonce"]), body)
            for e in about), "a deliver entry commits to the body %s got" % p["local_id"])
    text = json.dumps(entries, ensure_ascii=False)
    for value in ("Kéréon", "Quimper", "c-alice", "m-alice"):
        check(value not in text, "no personal value in the audit log: " + value)


@test
def bad_pushes_are_refused_clearly_and_replays_create_nothing():
    s = st()
    r = s.push("m-bob", address("3 place Saint-Corentin", "29100", "Douarnenez"),
               dataset="passport")
    eq((r.status, r.json["detail"]), (400, '"dataset" names no dataset of this gateway'),
       "unknown dataset, named by its member, its value not quoted")
    r = s.call("mairie", "POST", "/v1/records", {"subject": "m-bob", "dataset": "address",
                                                 "record": "Douarnenez"})
    eq(r.status, 400, "record not an object")
    r = s.push("m-bob", {"adresse": {"cp": 29100}})
    eq(r.status, 422, "wrong type")
    check("postal_code" in r.json["detail"] and "adresse.cp" in r.json["detail"],
          "names attribute and field: %r" % r.json)
    r = s.push("m-bob", {"adresse": {"cp": "29100", "etage": "3"}})
    eq(r.status, 422, "field outside the schema")
    check("adresse.etage" in r.json["detail"], "names the field: %r" % r.json)
    r = s.push("m-bob", {"nom": "x"})
    eq(r.status, 422, "no attribute at all")
    r = s.push("m-nobody", address("1 rue", "29000", "Quimper"))
    eq((r.status, r.json["reason"]), (404, "subject_not_linked"), "unlinked subject")
    r = s.call("caf", "POST", "/v1/records", {"subject": "c-bob", "dataset": "address",
                                              "record": {"street": "x"}})
    eq((r.status, r.json["reason"]), (403, "no_policy"), "caf provides nothing")

    before = {n: len(s.received(n)) for n in PushStack.SUBSCRIBERS}
    first = s.push("m-bob", address("3 place Saint-Corentin", "29100", "Douarnenez"),
                   key="bob-once")
    eq(first.status, 202, "first: %r" % first)
    eq(first.json["deliveries"], 2, "ccas and impots; caf has no consent for bob")
    again = s.push("m-bob", address("3 place Saint-Corentin", "29100", "Douarnenez"),
                   key="bob-once")
    eq((again.status, again.json), (202, first.json), "a replay gets the first answer")
    other = s.push("m-bob", address("4 place Saint-Corentin", "29100", "Douarnenez"),
                   key="bob-once")
    eq(other.status, 409, "the key reused for another record")
    wait_for(lambda: len(s.received("impots")) > before["impots"], 10, "the delivery")
    time.sleep(0.3)
    after = {n: len(s.received(n)) for n in PushStack.SUBSCRIBERS}
    eq(after, dict(before, ccas=before["ccas"] + 1, impots=before["impots"] + 1),
       "exactly one delivery each from the three requests")
    denials = [e for e in s.audit_entries() if e["type"] == "deliver" and
               e["consumer"] == "caf" and e["decision"] == "deny"]
    check(any(e["reason"] == "no_consent" for e in denials),
          "the left-out subscriber is audited: %r" % denials)


@test
def order_is_kept_while_the_subscriber_fails_every_other_request():
    s = st()
    s.impots.behave("fail_every_other")
    try:
        for v in range(1, 51):
            r = s.push("m-bob", address("3 place Saint-Corentin", "%05d" % v, "Douarnenez"))
            eq(r.status, 202, "version %d: %r" % (v, r))
        wait_for(lambda: any(p["record"]["cp"] == "00050"
                             for p in s.received("impots", "i-bob")), 20, "version 50")
    finally:
        s.impots.behave("normal")
    got = [int(p["record"]["cp"]) for p in s.received("impots", "i-bob")
           if p["record"]["cp"].startswith("000")]
    eq(got, sorted(got), "never an older version after a newer one")
    eq(got[-1], 50, "ends with version 50")
    r = http_request(s.impots.port, "GET", "/citizens/i-bob/address")
    eq(r.json, {"cp": "00050", "pays": "FR"}, "the subscriber holds version 50")


@test
def a_subscriber_that_is_down_gets_it_when_it_returns_and_others_do_not_wait():
    s = st()
    s.link_all("dora", pivot("Le Bihan", "Dora", "1999-09-09"))
    dora = s.view_key("ccas", "s-dora")

    def audited():
        return [(e["decision"], e["reason"]) for e in s.entries_about(dora)
                if e["type"] == "deliver" and e["consumer"] == "ccas"]
    s.ccas.behave("error503")
    try:
        r = s.push("m-dora", address("5 quai de l'Odet", "29000", "Quimper"))
        eq(r.status, 202, "accepted")
        wait_received(s, "impots", "i-dora", timeout=3)
        wait_for(lambda: len(s.requests("ccas", "s-dora")) >= 3, 10, "retries")
        eq(s.received("ccas", "s-dora"), [], "nothing applied while it is down")
        # The entry is durable before the first byte goes out, and the
        # retries of the same payload need no other.
        eq(audited(), [("allow", None)], "one entry for the payload, before its "
           "first try")
    finally:
        s.ccas.behave("normal")
    got = wait_received(s, "ccas", "s-dora")
    eq(got[0]["record"], {"commune": {"nom": "Quimper"}}, "delivered once back")
    eq(audited(), [("allow", None)], "the successful try added no entry")


@test
def a_4xx_goes_to_the_dead_letters_at_once_and_a_replay_delivers_it():
    s = st()
    s.link_all("erin", pivot("Morvan", "Erin", "2001-01-01"))
    s.impots.behave("error400")
    try:
        r = s.push("m-erin", address("7 rue du Frout", "29000", "Quimper"))
        eq(r.status, 202, "accepted")
        wait_for(lambda: any(d["subscriber"] == "impots" for d in dead_letters(s)), 10,
                 "a dead letter")
        wait_received(s, "ccas", "s-erin", timeout=3)
    finally:
        s.impots.behave("normal")
    dead = [d for d in dead_letters(s) if d["subscriber"] == "impots"]
    eq(len(dead), 1, "one dead letter")
    eq((dead[0]["attempts"], dead[0]["dataset"], dead[0]["provider"]),
       (1, "address", "mairie"), "dead after one attempt")
    check("400" in dead[0]["last_error"], "says why: %r" % dead[0])
    check("erin" not in json.dumps(dead), "no local id in the listing")
    eq(s.call("impots", "POST", "/v1/deliveries/%s/retry" % dead[0]["id"]).status, 401,
       "services may not replay")
    r = s.admin("POST", "/v1/deliveries/%s/retry" % dead[0]["id"])
    eq(r.status, 202, "replay: %r" % r)
    got = wait_received(s, "impots", "i-erin")
    eq(got[0]["idempotency_key"], dead[0]["id"], "the same Idempotency-Key")
    eq(got[0]["record"], {"cp": "29000", "pays": "FR"}, "the record")
    eq(s.admin("POST", "/v1/deliveries/%s/retry" % dead[0]["id"]).status, 404,
       "no longer dead")
    eq(s.admin("POST", "/v1/deliveries/%s/retry" % ("0" * 32)).status, 404, "unknown id")
    eq(s.admin("GET", "/v1/deliveries?status=pending").status, 400, "only dead ones")
    replays = [e for e in s.audit_entries() if e["type"] == "admin" and
               e["reason"] == "delivery_retry"]
    eq(len(replays), 1, "the replay is audited")
    # The payload went out (and was refused) under the entry written
    # before the first try; the replay sends the same payload under it.
    erin = s.view_key("impots", "i-erin")
    sent = [(e["decision"], e["reason"]) for e in s.entries_about(erin)
            if e["type"] == "deliver" and e["consumer"] == "impots"]
    eq(sent, [("allow", None)],
       "one entry for the payload, through the dead letter and its replay")


@test
def a_429_is_a_4xx_like_the_others_dead_at_once():
    """Contract §4: 2xx or 409 is delivered, any other 4xx dead at once."""
    s = st()
    s.link_all("yuna", pivot("Morvan", "Yuna", "2002-02-02"))
    s.impots.behave("error429", local_id="i-yuna")
    try:
        r = s.push("m-yuna", address("8 rue du Frout", "29000", "Quimper"))
        eq(r.status, 202, "accepted")
        wait_for(lambda: any(d["record_id"] == r.json["id"] and d["subscriber"] == "impots"
                             for d in dead_letters(s)), 10, "a dead letter")
    finally:
        s.impots.behave("normal")
    dead = [d for d in dead_letters(s) if d["record_id"] == r.json["id"]]
    eq([(d["subscriber"], d["attempts"]) for d in dead], [("impots", 1)],
       "dead after one attempt")
    check("429" in dead[0]["last_error"], "says why: %r" % dead[0])
    eq(len(s.requests("impots", "i-yuna")), 1, "never retried")


@test
def a_consent_revoked_after_acceptance_stops_the_delivery():
    s = st()
    s.link_all("fanch", pivot("Cornic", "Fanch", "1988-08-08"))
    consent = grant(s, "c-fanch")
    s.caf.behave("error503")
    try:
        r = s.push("m-fanch", address("9 rue Obscure", "29000", "Quimper"))
        eq((r.status, r.json["deliveries"]), (202, 3), "accepted for all three")
        wait_for(lambda: len(s.requests("caf", "c-fanch")) >= 1, 10, "a first attempt")
        eq(s.call("caf", "DELETE", "/v1/consents/" + consent).status, 204, "revoked")
    finally:
        s.caf.behave("normal")
    wait_received(s, "ccas", "s-fanch")
    wait_for(lambda: any(e["type"] == "deliver" and e["consumer"] == "caf" and
                         e["reason"] == "consent_revoked" and e["decision"] == "deny"
                         for e in s.audit_entries()), 10, "the denial in the audit log")
    eq(s.received("caf", "c-fanch"), [], "not delivered")


@test
def the_changes_feed_holds_the_pushes_in_order_across_pages():
    s = st()
    s.link_all("gwen", pivot("Tanguy", "Gwen", "1977-07-07"))
    grant(s, "c-gwen")
    for v in range(1, 6):
        eq(s.push("m-gwen", address("%d rue Neuve" % v, "29000", "Quimper")).status, 202,
           "push %d" % v)
        wait_received(s, "caf", "c-gwen", v)
    pushed = [p["record"] for p in s.received("caf", "c-gwen")]

    def feed(service, limit):
        items, after, pages = [], None, 0
        while True:
            q = "/v1/changes?dataset=address&limit=%d" % limit
            if after:
                q += "&after=" + after
            r = s.call(service, "GET", q)
            eq(r.status, 200, "feed: %r" % r)
            pages += 1
            items += r.json["changes"]
            if not r.json["changes"]:
                return items, pages, after
            after = r.json["next"]

    items, pages, last = feed("caf", 2)
    check(pages > 3, "several pages: %d, %r" % (pages, items))
    gwen = [c for c in items if c["subject"] == "c-gwen"]
    eq([c["record"] for c in gwen], pushed, "the same records, in order")
    eq([c["version"] for c in gwen], [1, 2, 3, 4, 5], "versions")
    check(all(set(c) == {"id", "subject", "dataset", "record", "version", "ts"}
              for c in items), "item members")
    check(not any(c["subject"].startswith("c-bob") for c in items),
          "records caf may not see are left out")
    r = s.call("caf", "GET", "/v1/changes?dataset=address&after=" + last)
    eq(r.json["changes"], [], "nothing after the end")
    eq(r.json["next"], last, "the cursor stays")
    ccas, _, _ = feed("ccas", 50)
    eq([c["record"] for c in ccas if c["subject"] == "s-gwen"],
       [{"commune": {"nom": "Quimper"}}] * 5, "ccas sees its own view")
    eq(s.call("portal", "GET", "/v1/changes?dataset=address").json["reason"], "no_policy",
       "a service that does not subscribe")
    eq(s.call("caf", "GET", "/v1/changes?dataset=address&after=zz!").status, 400,
       "a bad cursor")


@test
def a_subscriber_without_a_link_is_skipped_and_audited():
    s = st()
    hana = pivot("Riou", "Hana", "1995-05-05")
    s.link("mairie", "m-hana", hana)
    s.link("ccas", "s-hana", hana)
    r = s.push("m-hana", address("2 rue Vis", "29000", "Quimper"))
    eq((r.status, r.json["deliveries"]), (202, 1), "only ccas has linked her")
    wait_received(s, "ccas", "s-hana")
    skipped = [e for e in s.audit_entries() if e["type"] == "deliver" and
               e["decision"] == "deny" and e["consumer"] == "impots" and
               e["reason"] == "subject_not_linked"]
    eq(len(skipped), 1, "impots skipped, audited")


@test
def a_reload_reaches_the_delivery_worker():
    s = st()
    s.link_all("ines", pivot("Guillou", "Ines", "1993-03-03"))
    grant(s, "c-ines")
    s.caf.behave("error503")
    try:
        r = s.push("m-ines", address("8 rue Royale", "29000", "Quimper"))
        eq((r.status, r.json["deliveries"]), (202, 3), "accepted")
        wait_for(lambda: len(s.requests("caf", "c-ines")) >= 1, 10, "a first attempt")
        with open(s.gw.config) as f:
            text = f.read()
        cut, end = text.index("  caf:"), text.index("  ccas:")
        caf = text[cut:end].replace("    subscribes: [{dataset: address, from: mairie}]\n", "")
        with open(s.gw.config, "w") as f:
            f.write(text[:cut] + caf + text[end:])
        s.gw.kill(signal.SIGHUP)
        wait_for(lambda: any(e["type"] == "deliver" and e["consumer"] == "caf" and
                             e["decision"] == "deny" and e["reason"] == "no_policy"
                             for e in s.audit_entries()), 10, "the denial after the reload")
    finally:
        s.caf.behave("normal")
    r = s.push("m-ines", address("9 rue Royale", "29000", "Quimper"))
    eq(r.json["deliveries"], 2, "caf no longer subscribes")
    wait_received(s, "ccas", "s-ines", 2)
    eq(s.received("caf", "c-ines"), [], "nothing reached caf")


@test
def a_provider_map_with_concat_still_accepts_its_fields():
    """A concat cannot be written back; its parts are still the provider's
    own fields, not fields the dataset has no place for."""
    s = st()
    s.link_all("noe", pivot("Le Bihan", "Noe", "1988-08-08"))
    grant(s, "c-noe")
    with open(s.gw.config) as f:
        text = f.read()
    concat = text.replace(
        "map: {street: adresse.voie, postal_code",
        "map: {street: {transform: [{concat: {paths: [adresse.numero, adresse.voie],"
        " sep: \" \"}}]}, postal_code", 1)
    if "subscribes" not in concat[concat.index("  caf:"):concat.index("  ccas:")]:
        # An earlier test ended caf's subscription.
        concat = concat.replace("  ccas:\n", "    subscribes: [{dataset: address, from: mairie}]\n"
                                "  ccas:\n", 1)
    with open(s.gw.config, "w") as f:
        f.write(concat)
    reloads = s.gw.read_log().count("configuration reloaded")
    s.gw.kill(signal.SIGHUP)
    wait_for_reload(s, reloads + 1)
    try:
        record = address("rue Royale", "29000", "Quimper")
        record["adresse"]["numero"] = "8"
        r = s.push("m-noe", record)
        eq(r.status, 202, "accepted: %r" % r)
        record["adresse"]["couleur"] = "bleu"
        r = s.push("m-noe", record)
        eq(r.status, 422, "a field that no map entry reads is still refused")
        check("adresse.couleur" in r.json["detail"], "the field is named")
        got = wait_received(s, "caf", "c-noe")
        eq(got[-1]["record"]["street"], "8 rue Royale", "the concat reached caf")
    finally:
        with open(s.gw.config, "w") as f:
            f.write(text)
        s.gw.kill(signal.SIGHUP)
        wait_for_reload(s, reloads + 2)


def wait_for_reload(s, count):
    from harness import wait_for
    wait_for(lambda: s.gw.read_log().count("configuration reloaded") >= count, 10,
             "the reload")


@test
def the_gateway_drains_and_stops_cleanly():
    # Under SAN=1, stop() also fails on any sanitizer report in the log.
    eq(st().gw.stop(), 0, "exit status after SIGTERM")


if __name__ == "__main__":
    run(teardown=lambda: S and S.stop())
