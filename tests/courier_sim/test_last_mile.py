"""The simulator plays section 6 of the contract: COD and old-card items, pickup at the post office, fees paid or
refused, old cards surrendered and reported, weekly COD settlements with deliberate differences.

One run against a stub of our webhook that reads every body with the contract's own parser
(app.courier.tracking.parse_body and semantic_error) and answers as our side does; the truth the settlements are
checked against is computed from the events that stub received.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from test_simulator import START, make_item, post_manifest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.courier.s10 import tracking_number
from app.courier.tracking import ANNOTATIONS, SchemaError, Status, parse_body, semantic_error
from courier_sim import DIFFERENCE_KINDS, CourierSimulator
from courier_sim.cli import courier_sim_command, parse_differences
from courier_sim.plan import PICKUP_DAYS
from courier_sim.webhook import generate_secret

ROOT = Path(__file__).resolve().parents[2]
OFFICES = {"17510": ("KPC Tambun", "TAMBUN SELATAN", (-6.2671, 107.0291)),
           "17520": ("KPC Cibitung", "CIBITUNG", (-6.2512, 107.0893))}
SERIALS = {"17510": range(1, 251), "17520": range(251, 401)}
OUTCOMES = {"delivered": 0.55, "delivered_after_failures": 0.3, "returned": 0.15,
            "return_reasons": {"UNCLAIMED": 0.6, "CLOSED_COMPLEX": 0.2, "MOVED": 0.2}}
SHARES = {"pickup_share": 0.6, "cod_refusal_share": 0.1, "old_card_refusal_share": 0.1,
          "old_card_received_share": 0.8}


def fee(serial: int) -> int | None:
    """Every other item is COD, 15,000 to 25,000 rupiah."""
    return None if serial % 2 else 15_000 + 5_000 * (serial % 3)


def old_card(serial: int) -> bool:
    """COD items give up the old card; so do a few others (allowed without COD)."""
    return fee(serial) is not None or serial % 5 == 1


def office_manifest(code: str, serials: range, *, number: str | None = None) -> dict[str, Any]:
    name, kecamatan, (lat, lng) = OFFICES[code]
    items = []
    for serial in serials:
        item = make_item(serial)
        item["address"].update(kode_pos=code, kecamatan=kecamatan, lat=lat, lng=lng)
        if fee(serial) is not None:
            item["cod"] = {"amount": fee(serial), "currency": "IDR"}
        if old_card(serial):
            item["collect_old_card"] = True
        items.append(item)
    return {"manifest_number": number or f"MNF-3216-{code}-0001",
            "origin": {"office": "Disdukcapil Kabupaten Bekasi", "kode_wilayah": "32.16"},
            "destination_post_office": {"code": code, "name": name},
            "created_at": "2026-11-23T09:00:00+07:00", "items": items}


class StubAntar:
    """Our webhook in miniature: verifies the signature, parses with the contract's parser, answers as our side does
    (an annotation for an item not delivered is rejected; a settlement is recorded once, then "duplicate")."""

    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret)
        self.events: list[dict[str, Any]] = []  # first arrival of every event, in order
        self.duplicates = 0
        self.problems: list[Any] = []
        self.bad_signatures = 0
        self.delivered: set[str] = set()
        self.settlements: dict[str, str] = {}  # settlement_id -> the data as first recorded
        self.settlement_messages: list[tuple[str, dict[str, Any], str]] = []  # (webhook-id, data, our answer)
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/api/v1/courier/events"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @Request.application
    def _app(self, request: Request) -> Response:
        body = request.get_data()
        try:
            payload = self.webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            with self._lock:
                self.bad_signatures += 1
            return Response("bad signature", 401)
        with self._lock:
            if payload.get("type") == "tracking.events":
                return self._events(payload)
            if payload.get("type") == "cod.settlement":
                return self._settlement(request.headers["webhook-id"], payload["data"])
            self.problems.append(("unknown type", payload.get("type")))
            return Response("unknown type", 400)

    def _events(self, payload: dict[str, Any]) -> Response:
        try:
            parsed = parse_body(payload)
        except SchemaError as exc:
            self.problems.append(("schema", str(exc)))
            return Response(str(exc), 400)
        results = []
        for wire, event in zip(payload["data"]["events"], parsed, strict=True):
            if event.event_id in self._seen:
                self.duplicates += 1
                results.append({"event_id": event.event_id, "result": "duplicate"})
                continue
            problem = semantic_error(event)
            if problem is None and event.status in ANNOTATIONS and event.tracking_number not in self.delivered:
                problem = "annotation for an item not delivered"
            if problem is not None:
                self.problems.append((wire, problem))
                results.append({"event_id": event.event_id, "result": "rejected", "message": problem})
                continue
            self._seen.add(event.event_id)
            self.events.append(wire)
            if event.status == Status.DELIVERED:
                self.delivered.add(event.tracking_number)
            results.append({"event_id": event.event_id, "result": "applied"})
        return Response(json.dumps({"results": results}), 200, mimetype="application/json")

    def _settlement(self, webhook_id: str, data: dict[str, Any]) -> Response:
        text = json.dumps(data, sort_keys=True)
        known = self.settlements.setdefault(data["settlement_id"], text)
        if known != text:
            self.problems.append(("settlement changed", data["settlement_id"]))
            return Response("conflict", 409)
        result = "duplicate" if any(d["settlement_id"] == data["settlement_id"]
                                    for _, d, _ in self.settlement_messages) else "recorded"
        self.settlement_messages.append((webhook_id, data, result))
        return Response(json.dumps({"settlement_id": data["settlement_id"], "result": result}), 200,
                        mimetype="application/json")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class Run:
    sim: CourierSimulator
    antar: StubAntar
    office_of: dict[str, str] = field(default_factory=dict)  # tracking number -> post office
    fee_of: dict[str, int] = field(default_factory=dict)
    old_card_items: set[str] = field(default_factory=set)

    def by_item(self) -> dict[str, list[dict[str, Any]]]:
        """The received events of each item in the order they happened."""
        events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for e in self.antar.events:
            events[e["tracking_number"]].append(e)
        for plan in events.values():
            plan.sort(key=lambda e: (datetime.fromisoformat(e["occurred_at"]), e["status"] in ANNOTATIONS))
        return events


@pytest.fixture(scope="module")
def run() -> Any:
    secret = generate_secret()
    antar = StubAntar(secret)
    try:
        with CourierSimulator(start=START, seed=11, webhook_url=antar.url, webhook_secret=secret, outcomes=OUTCOMES,
                              duplicate_share=0.05, late_share=0.1, retry_delays=(0.05,), **SHARES) as sim:
            result = Run(sim, antar)
            for code, serials in SERIALS.items():
                assert post_manifest(sim, office_manifest(code, serials)).status_code == 201
                for serial in serials:
                    number = tracking_number("RB", serial)
                    result.office_of[number] = code
                    if fee(serial) is not None:
                        result.fee_of[number] = fee(serial)
                    if old_card(serial):
                        result.old_card_items.add(number)
            sim.play_all()
            yield result
    finally:
        antar.stop()


def day_of(event: dict[str, Any]) -> date:
    return datetime.fromisoformat(event["occurred_at"]).date()


# -- items (contract 6.1) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    (lambda i: i.update(cod={"amount": 0, "currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"amount": -20000, "currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"amount": "20000", "currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"amount": 20000.5, "currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"amount": True, "currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"amount": 10**9, "currency": "IDR"}), "items[0].cod.amount"),
    (lambda i: i.update(cod={"amount": 20000, "currency": "USD"}), "items[0].cod.currency"),
    (lambda i: i.update(cod={"amount": 20000}), "items[0].cod.currency"),
    (lambda i: i.update(cod=20000), "items[0].cod"),
    (lambda i: i.update(collect_old_card="Y"), "items[0].collect_old_card"),
])
def test_cod_and_old_card_fields_are_checked(change: Any, field: str) -> None:
    body = office_manifest("17510", range(1, 4))
    change(body["items"][0])
    with CourierSimulator(start=START) as sim:
        r = post_manifest(sim, body)
        assert r.status_code == 422
        errors = r.json()["errors"]
        assert [e["tracking_number"] for e in errors] == [tracking_number("RB", 1)]
        assert errors[0]["message"].startswith(field + ":"), errors
        assert sim.manifests == {}


def test_cod_and_old_card_items_are_accepted() -> None:
    body = office_manifest("17510", range(1, 7))
    body["items"][1]["cod"] = None  # the same as absent
    body["items"][3]["collect_old_card"] = False
    with CourierSimulator(start=START) as sim:
        assert post_manifest(sim, body).status_code == 201
        assert sim.state()["cod"]["items"] == 2  # serials 4 and 6 (serial 2's cod is null)
        assert sim.state()["old_cards"]["items"] == 3  # serials 1, 2 and 6 (4 said false)


# -- the run: every event valid --------------------------------------------------------------------------------


def test_every_message_is_signed_and_every_event_valid(run: Run) -> None:
    antar, sim = run.antar, run.sim
    assert antar.bad_signatures == 0
    assert antar.problems == []  # no schema error, no semantic error, no annotation before its delivery
    assert not sim.failed_messages
    planned = {e["event_id"] for tn in run.office_of for e in sim.plan_of(tn)}
    assert {e["event_id"] for e in antar.events} == planned
    assert antar.duplicates > 0
    statuses = Counter(e["status"] for e in antar.events)
    for status in (Status.AVAILABLE_FOR_PICKUP, Status.OLD_CARD_RECEIVED, Status.COD_REMITTED):
        assert statuses[status] > 0, statuses
    for e in antar.events:  # the section 6 fields appear only where they belong
        assert ("pickup" in e) == (e["status"] == Status.AVAILABLE_FOR_PICKUP)
        assert ("old_card" in e) == (e["status"] == Status.OLD_CARD_RECEIVED)
        assert ("settlement_id" in e) == (e["status"] == Status.COD_REMITTED)
        assert "cod_collected" not in e or e["status"] == Status.DELIVERED
        if e["status"] in ANNOTATIONS:
            assert e["reason_code"] is None and e["recipient"] is None and e["proof"] is None


def test_states_are_final_and_annotations_never_change_them(run: Run) -> None:
    for number, events in run.by_item().items():
        steps = [e["status"] for e in events if e["status"] not in ANNOTATIONS]
        assert steps[-1] in (Status.DELIVERED, Status.RETURN_RECEIVED)
        assert run.sim.item_state(number) == steps[-1]
        if any(e["status"] in ANNOTATIONS for e in events):
            first = next(i for i, e in enumerate(events) if e["status"] in ANNOTATIONS)
            assert Status.DELIVERED in [e["status"] for e in events[:first]]


# -- pickup at the post office -----------------------------------------------------------------------------------


def test_pickup_then_collected_at_the_counter_or_returned_unclaimed(run: Run) -> None:
    collected = unclaimed = 0
    for number, events in run.by_item().items():
        steps = [e for e in events if e["status"] not in ANNOTATIONS]
        waits = [i for i, e in enumerate(steps) if e["status"] == Status.AVAILABLE_FOR_PICKUP]
        if not waits:
            continue
        assert len(waits) == 1
        i = waits[0]
        wait = steps[i]
        assert steps[i - 1]["status"] == Status.DELIVERY_FAILED  # only after failed attempts
        code = run.office_of[number]
        pickup = wait["pickup"]
        assert pickup["post_office"] == code == wait["location"]["post_office"]
        assert pickup["name"] == OFFICES[code][0]
        assert pickup["address"].startswith("Jl. ") and code in pickup["address"]
        until = date.fromisoformat(pickup["until"])
        assert until == day_of(wait) + timedelta(days=PICKUP_DAYS)
        after = steps[i + 1]
        if after["status"] == Status.DELIVERED:
            collected += 1
            assert after["location"]["post_office"] == code
            assert after["recipient"]["relationship"] == "SELF"
            assert day_of(after) <= until
            assert len(steps) == i + 2
        else:
            unclaimed += 1
            assert (after["status"], after["reason_code"]) == (Status.RETURNED, "UNCLAIMED")
            assert day_of(after) > until
            assert [e["status"] for e in steps[i + 2:]] == [Status.RETURN_RECEIVED]
    assert collected > 10 and unclaimed > 5
    assert run.sim.state()["pickups"] == {"waiting": 0, "collected": collected, "unclaimed": unclaimed}


# -- fees and old cards --------------------------------------------------------------------------------------------


def test_fees_collected_or_refused(run: Run) -> None:
    paid = refused = 0
    for number, events in run.by_item().items():
        delivered = [e for e in events if e["status"] == Status.DELIVERED]
        reasons = {e["reason_code"] for e in events if e["reason_code"]}
        if number in run.fee_of:
            if delivered:
                paid += 1
                assert delivered[0]["cod_collected"] == run.fee_of[number]
                assert "COD_NOT_PAID" not in reasons
            elif "COD_NOT_PAID" in reasons:
                refused += 1
                returned = [e for e in events if e["status"] == Status.RETURNED]
                assert [e["reason_code"] for e in returned] == ["COD_NOT_PAID"]
                failed = [e for e in events if e["status"] == Status.DELIVERY_FAILED]
                assert failed and {e["reason_code"] for e in failed} == {"COD_NOT_PAID"}
        else:
            assert all("cod_collected" not in e for e in delivered)
            assert "COD_NOT_PAID" not in reasons
    assert paid > 50 and refused > 3
    state = run.sim.state()["cod"]
    assert (state["items"], state["paid"], state["refused"]) == (len(run.fee_of), paid, refused)
    assert state["collected"] == sum(run.fee_of[n] for n, ev in run.by_item().items()
                                     if n in run.fee_of and any(e["status"] == Status.DELIVERED for e in ev))


def test_old_cards_surrendered_or_kept_and_mostly_reported(run: Run) -> None:
    surrendered = kept = reported = 0
    for number, events in run.by_item().items():
        delivered = [e for e in events if e["status"] == Status.DELIVERED]
        reasons = {e["reason_code"] for e in events if e["reason_code"]}
        received = [e for e in events if e["status"] == Status.OLD_CARD_RECEIVED]
        if number not in run.old_card_items:
            assert all("old_card_collected" not in e for e in delivered)
            assert not received and "OLD_CARD_NOT_SURRENDERED" not in reasons
            continue
        if delivered:
            surrendered += 1
            assert delivered[0]["old_card_collected"] is True
            if received:
                reported += 1
                assert len(received) == 1 and received[0]["old_card"]["received_by"]
                assert 2 <= (day_of(received[0]) - day_of(delivered[0])).days <= 7
        elif "OLD_CARD_NOT_SURRENDERED" in reasons:
            kept += 1
            assert not received
            assert [e["reason_code"] for e in events if e["status"] == Status.RETURNED] == ["OLD_CARD_NOT_SURRENDERED"]
    assert kept > 3
    assert 0.6 * surrendered < reported < surrendered  # most, not all: the office records the rest by hand
    state = run.sim.state()["old_cards"]
    assert state == {"items": len(run.old_card_items), "surrendered": surrendered, "not_surrendered": kept,
                     "received_reported": reported, "never_reported": surrendered - reported}


# -- settlements (contract 6.3) ----------------------------------------------------------------------------------


def _truth(run: Run) -> dict[tuple[str, date], dict[str, int]]:
    """The fees collected per post office and week (Monday), from the DELIVERED events received."""
    weeks: dict[tuple[str, date], dict[str, int]] = defaultdict(dict)
    for e in run.antar.events:
        if e["status"] == Status.DELIVERED and "cod_collected" in e:
            day = day_of(e)
            weeks[(run.office_of[e["tracking_number"]], day - timedelta(days=day.weekday()))][e["tracking_number"]] = \
                e["cod_collected"]
    return weeks


def test_settlements_are_weekly_per_post_office_and_carry_each_deliberate_difference(run: Run) -> None:
    antar, sim = run.antar, run.sim
    truth = _truth(run)
    delivered_cod = {tn for lines in truth.values() for tn in lines}
    first = {}
    for webhook_id, data, answer in antar.settlement_messages:
        first.setdefault(data["settlement_id"], (webhook_id, data, answer))
    assert len(first) == len(truth) >= 4  # every office's every week with fees, once
    found: list[dict[str, Any]] = []
    for settlement_id, (_, data, answer) in first.items():
        assert answer == "recorded"
        period_from, period_to = (date.fromisoformat(data["period"][k]) for k in ("from", "to"))
        assert period_from.weekday() == 0 and period_to == period_from + timedelta(days=6)
        remitted = datetime.fromisoformat(data["remitted_at"])
        assert remitted.utcoffset() == timedelta(hours=7) and remitted.hour == 10
        assert remitted.date() == period_to + timedelta(days=1)
        code = settlement_id.split("-")[1]
        assert settlement_id == f"STL-{code}-{remitted:%Y%m%d}"
        assert data["currency"] == "IDR"
        lines = {i["tracking_number"]: i["amount"] for i in data["items"]}
        assert len(lines) == len(data["items"])
        expected = truth[(code, period_from)]
        for tn in expected.keys() - lines.keys():
            found.append({"kind": "missing", "settlement_id": settlement_id, "tracking_number": tn})
        for tn in lines.keys() - expected.keys():
            assert tn not in delivered_cod  # never delivered as COD, in any week
            found.append({"kind": "extra", "settlement_id": settlement_id, "tracking_number": tn})
        for tn in lines.keys() & expected.keys():
            if lines[tn] != expected[tn]:
                found.append({"kind": "wrong_amount", "settlement_id": settlement_id, "tracking_number": tn})
        if data["total"] != sum(lines.values()):
            found.append({"kind": "total_mismatch", "settlement_id": settlement_id})
        # COD_REMITTED: for every item it really settles (not the extra one), at the remittance
        remitted_items = {e["tracking_number"] for e in antar.events
                          if e["status"] == Status.COD_REMITTED and e["settlement_id"] == settlement_id}
        assert remitted_items == lines.keys() & expected.keys()
        assert all(e["occurred_at"] == data["remitted_at"] for e in antar.events
                   if e.get("settlement_id") == settlement_id)
    sent_twice = Counter(data["settlement_id"] for _, data, _ in antar.settlement_messages)
    for settlement_id, count in sent_twice.items():
        if count > 1:
            assert count == 2
            (id1, d1, a1), (id2, d2, a2) = [m for m in antar.settlement_messages if m[1]["settlement_id"] ==
                                            settlement_id]
            assert (d1, a1, a2) == (d2, "recorded", "duplicate") and id1 != id2
            found.append({"kind": "duplicate", "settlement_id": settlement_id})

    made = sim.differences
    assert sorted(d["kind"] for d in made) == sorted(DIFFERENCE_KINDS)
    key = ("kind", "settlement_id", "tracking_number")
    assert sorted(tuple(d.get(k) for k in key) for d in found) == sorted(tuple(d.get(k) for k in key) for d in made)
    assert len({d["settlement_id"] for d in made}) >= 3  # spread over the settlements
    wrong = next(d for d in made if d["kind"] == "wrong_amount")
    assert first[wrong["settlement_id"]][1]["items"] and wrong["amount"] != wrong["expected"] == \
        run.fee_of[wrong["tracking_number"]]
    duplicate = next(d for d in made if d["kind"] == "duplicate")
    assert duplicate["answers"] == ["recorded", "duplicate"]
    missing = next(d for d in made if d["kind"] == "missing")
    assert all(missing["tracking_number"] not in {i["tracking_number"] for i in data["items"]}
               for _, data, _ in antar.settlement_messages)
    # the missing item was delivered early enough for our 14-day rule to find it within the run
    assert datetime.fromisoformat(missing["delivered_at"]) + timedelta(days=14) <= sim.clock


def test_state_over_http_shows_what_the_run_did(run: Run) -> None:
    state = requests.get(run.sim.url + "_sim/state", timeout=10).json()
    assert state["options"] == {**SHARES, "settlement_differences": list(DIFFERENCE_KINDS)}
    assert state["differences"] == run.sim.differences
    settlements = state["settlements"]
    messages = run.antar.settlement_messages
    assert settlements["sent"] == len({d["settlement_id"] for _, d, _ in messages})
    assert settlements["resent"] == 1
    assert settlements["answers"] == dict(Counter(a for _, _, a in messages))
    assert settlements["differences_made"] == list(DIFFERENCE_KINDS) and settlements["differences_not_made"] == []
    assert settlements["remitted_items"] == sum(1 for e in run.antar.events if e["status"] == Status.COD_REMITTED)
    assert settlements["total"] == sum(d["total"] for _, d, a in messages if a == "recorded")
    assert state["items_in_play"] == 0 and state["events_held"] == 0
    for section in ("pickups", "cod", "old_cards"):
        assert state[section] == run.sim.state()[section]


# -- options ---------------------------------------------------------------------------------------------------


def _quiet_run(seed: int, **options: Any) -> CourierSimulator:
    sim = CourierSimulator(start=START, seed=seed, outcomes=OUTCOMES, **{**SHARES, **options}).start()
    for code, serials in SERIALS.items():
        assert post_manifest(sim, office_manifest(code, serials)).status_code == 201
    sim.play_all()
    sim.stop()
    return sim


def _everything(sim: CourierSimulator) -> tuple[Any, ...]:
    plans = [sim.plan_of(tracking_number("RB", s)) for serials in SERIALS.values() for s in serials]
    return plans, sim.events_sent, [s.data() for s in sim.settlements], sim.differences


def test_same_seed_same_run_other_seed_other_run() -> None:
    first, again, other = (_everything(_quiet_run(seed)) for seed in (21, 21, 22))
    assert first == again
    assert first[0] != other[0] and first[2] != other[2]


def test_honest_settlements_and_a_chosen_difference() -> None:
    honest = _quiet_run(23, settlement_differences=())
    assert honest.differences == [] and honest.state()["settlements"]["differences_not_made"] == []
    for s in honest.settlements:
        assert s.total == sum(s.lines.values()) and not s.resend
        assert set(s.lines) == {b.item.tracking_number for b in s.settles}
        assert all(s.lines[b.item.tracking_number] == b.amount for b in s.settles)
    only = _quiet_run(23, settlement_differences=("total_mismatch",))
    assert [d["kind"] for d in only.differences] == ["total_mismatch"]
    assert [s.data()["items"] for s in only.settlements] == [s.data()["items"] for s in honest.settlements]


def test_a_single_settlement_carries_every_difference() -> None:
    """Too few settlements to spread them: what is left goes on the last one expected."""
    with CourierSimulator(start=START, seed=3, outcomes={"delivered": 1, "delivered_after_failures": 0,
                                                          "returned": 0}) as sim:
        body = office_manifest("17510", range(2, 13, 2))  # six COD items, delivered in the first week
        body["items"].append(make_item(1))  # one without COD: the extra number
        assert post_manifest(sim, body).status_code == 201
        sim.play_all()
        assert len(sim.settlements) == 1
        assert [d["kind"] for d in sim.differences] == list(DIFFERENCE_KINDS)
        extra = next(d for d in sim.differences if d["kind"] == "extra")
        assert extra["tracking_number"] == tracking_number("RB", 1)


def test_without_section_6_shares_nothing_of_it_happens() -> None:
    sim = _quiet_run(5, pickup_share=0, cod_refusal_share=0, old_card_refusal_share=0, old_card_received_share=0)
    state = sim.state()
    assert state["pickups"] == {"waiting": 0, "collected": 0, "unclaimed": 0}
    assert state["cod"]["refused"] == 0 and state["old_cards"]["not_surrendered"] == 0
    assert state["old_cards"]["received_reported"] == 0 and state["old_cards"]["never_reported"] > 0


@pytest.mark.parametrize("options", [{"pickup_share": 1.5}, {"cod_refusal_share": -0.1},
                                     {"old_card_received_share": "most"}, {"settlement_differences": ("typo",)}])
def test_options_are_checked(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CourierSimulator(start=START, **options)


def test_defaults_show_every_case_in_a_big_run() -> None:
    """The defaults (Bekasi's outcomes, the section 6 shares, every difference) on 3,000 items of three post offices,
    a third COD: every case occurs."""
    offices = {"17510": range(1, 1201), "17520": range(1201, 2101), "17530": range(2101, 3001)}
    with CourierSimulator(start=START, seed=8, keep_history=False) as sim:
        for code, serials in offices.items():
            OFFICES.setdefault(code, ("KPC Cikarang", "CIKARANG BARAT", (-6.30, 107.14)))
            body = office_manifest(code, serials)
            for item, serial in zip(body["items"], serials, strict=True):
                if serial % 3:
                    item.pop("cod", None)
            assert post_manifest(sim, body).status_code == 201
        sim.play_all()
        state = sim.state()
    assert state["items_in_play"] == 0
    assert min(state["pickups"]["collected"], state["pickups"]["unclaimed"]) > 0, state["pickups"]
    assert min(state["cod"]["paid"], state["cod"]["refused"]) > 0, state["cod"]
    old = state["old_cards"]
    assert min(old["surrendered"], old["not_surrendered"], old["received_reported"], old["never_reported"]) > 0, old
    assert [d["kind"] for d in state["differences"]] == list(DIFFERENCE_KINDS)
    assert len({d["settlement_id"] for d in state["differences"]}) == len(DIFFERENCE_KINDS)


# -- the command -------------------------------------------------------------------------------------------------


def test_parse_differences() -> None:
    assert parse_differences("all") == DIFFERENCE_KINDS
    assert parse_differences("none") == ()
    assert parse_differences(" extra, duplicate ") == ("extra", "duplicate")


@pytest.mark.parametrize(("args", "message"), [(["--differences", "extra,typo"], "typo"),
                                               (["--pickup-share", "2"], "--pickup-share")])
def test_the_command_refuses_bad_options(args: list[str], message: str) -> None:
    result = CliRunner().invoke(courier_sim_command, args)
    assert result.exit_code == 2 and message in result.output


def test_the_command_passes_its_options_to_the_simulator(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    antar = Path(sys.executable).with_name("antar")
    proc = subprocess.Popen([str(antar), "courier-sim", "--port", str(port), "--seed", "1", "--seconds-per-day",
                             "86400", "--pickup-share", "0.7", "--cod-refusal-share", "0", "--old-card-received-share",
                             "1", "--differences", "extra,duplicate"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            # the project's source first, whatever the installed entry point maps; the temporary
                            # working directory keeps a developer's .env out of it
                            env={**os.environ, "ANTAR_COURIER_WEBHOOK_SECRETS": "", "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                state = requests.get(f"http://127.0.0.1:{port}/_sim/state", timeout=2).json()
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode()
                time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert state["options"] == {"pickup_share": 0.7, "cod_refusal_share": 0.0, "old_card_refusal_share": 0.04,
                                "old_card_received_share": 1.0, "settlement_differences": ["extra", "duplicate"]}
