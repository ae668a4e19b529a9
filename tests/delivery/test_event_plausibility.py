"""Courier events that cannot corrupt state: a clock in the future, an event_id reused for another event, and
malformed values are refused with the field named (400) or `rejected` with the reason, never a 500; events for an
item the courier has not received yet are held until the handover, or rejected if it never comes."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from helpers import card_row, cli, write_csv
from sqlalchemy import select, update
from tracking import TOKEN, event, handed_over, post_events, signed_headers

from app.cards import Actor, Card, CardHistory, CardState
from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Office
from courier_sim.server import CourierSimulator
from delivery.models import RejectedEvent, TrackingEvent
from manifests import handover
from manifests.handover import HandoverResult
from manifests.models import Manifest, ManifestItem

URL = "/api/v1/courier/events"


@pytest.fixture
def numbers(webhook_app, runner, tmp_path) -> list[str]:
    return handed_over(webhook_app, runner, tmp_path)


def _event(number: str, status: str, at: dt.datetime, event_id: str, **extra) -> dict:
    return event(number, status, at, event_id, **extra)


def test_an_event_dated_in_the_future_is_rejected_and_real_events_still_apply(webhook_app, client, numbers):
    now = dt.datetime.now(dt.UTC)
    r = post_events(client, [_event(numbers[0], "DELIVERED", dt.datetime(2099, 1, 1, tzinfo=dt.UTC), "future-1")])
    assert r.status_code == 200 and r.json["results"][0]["result"] == "rejected"
    assert "10 menit" in r.json["results"][0]["message"]
    r = post_events(client, [_event(numbers[0], "OUT_FOR_DELIVERY", now - dt.timedelta(hours=2), "real-1"),
                             _event(numbers[0], "RETURNED", now - dt.timedelta(hours=1), "real-2",
                                    reason_code="MOVED")], msg_id="m2")
    assert [x["result"] for x in r.json["results"]] == ["applied", "applied"]
    with webhook_app.app_context(), unit_of_work() as s:
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == numbers[0]))
        assert item.tracking_status == "RETURNED" and not item.final
        assert s.scalar(select(RejectedEvent.event_id).where(RejectedEvent.event_id == "future-1")) == "future-1"


def test_a_reused_event_id_with_another_payload_is_a_listed_conflict(webhook_app, client, staff, numbers):
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    assert post_events(client, [_event(numbers[0], "ACCEPTED", at, "same-id")]).json["results"][0]["result"] \
        == "applied"
    again = post_events(client, [_event(numbers[0], "ACCEPTED", at, "same-id")], msg_id="m2")
    assert again.json["results"][0]["result"] == "duplicate"  # the very same event: an honest retry
    other = post_events(client, [_event(numbers[1], "DELIVERED", at, "same-id")], msg_id="m3")
    # The contract's `duplicate`: "that event_id was applied before: nothing changes"
    assert other.json["results"] == [{"event_id": "same-id", "result": "duplicate"}]
    with webhook_app.app_context(), unit_of_work() as s:
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == numbers[1]))
        assert item.tracking_status is None  # nothing applied to the other item
    problems = staff.get("/api/v1/tracking/problems").json
    assert "same-id" in json.dumps(problems)


@pytest.mark.parametrize(("change", "field"), [
    ({"occurred_at": "9999-12-31T23:59:59-14:00"}, "occurred_at"),
    ({"attempt": 10**30}, "attempt"),
    ({"event_id": "ev\u0000nul"}, "event_id"),
    ({"courier_id": "x\u0007y"}, "courier_id"),
])
def test_malformed_values_are_400_naming_the_field(webhook_app, client, numbers, change, field):
    e = _event(numbers[0], "ACCEPTED", dt.datetime.now(dt.UTC), "bad-1")
    e.update(change)
    r = post_events(client, [e])
    assert r.status_code == 400 and field in r.json["error"]["message"], r.json


def test_json_nested_a_thousand_deep_is_400(webhook_app, client):
    body = '{"type": "tracking.events", "data": ' + "[" * 100_000 + "]" * 100_000 + "}"
    r = client.post(URL, data=body, headers=signed_headers(body))
    assert r.status_code == 400 and "dalam" in r.json["error"]["message"]


# --- events for items the courier has not received yet ---------------------------------------------------------
# A manifest that is only finalized (or whose handover failed) is not the courier's yet: its events are stored and
# held, never move the item or the card, count from the handover as if they arrived then, and are rejected (listed
# for staff) if the items leave the manifest first.

T1 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=6)


def _finalized(app, runner, tmp_path, n: int = 3) -> list[str]:
    """Cards imported, a manifest built and finalized, not handed over; its tracking numbers in round order."""
    path = write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, n + 1)])
    assert cli(runner, "import", str(path)).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with app.app_context(), unit_of_work() as s:
        return list(s.scalars(select(ManifestItem.tracking_number).order_by(ManifestItem.seq)))


def _hand_over(app, sim: CourierSimulator, token: str = TOKEN) -> HandoverResult:
    with app.app_context():
        with unit_of_work() as s:
            mid, code = s.scalar(select(Manifest.id)), s.scalar(select(Office.code))
        return handover.hand_over(code, mid, Actor("staf"), CourierClient(sim.url, token))


def _state(app, number: str) -> tuple[ManifestItem, Card, list[tuple[str, str]]]:
    with app.app_context(), unit_of_work() as s:
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))
        card = s.get(Card, item.card_id)
        s.expunge_all()
        return item, card, [(str(h.from_state), str(h.to_state)) for h in s.scalars(
            select(CardHistory).where(CardHistory.card_id == card.id).order_by(CardHistory.id))]


def _results(app) -> dict[str, str]:
    with app.app_context(), unit_of_work() as s:
        return dict(s.execute(select(TrackingEvent.event_id, TrackingEvent.result)).all())


@pytest.fixture
def sim():
    with CourierSimulator(api_token=TOKEN) as s:
        yield s


@pytest.fixture
def finalized(webhook_app, runner, tmp_path) -> list[str]:
    return _finalized(webhook_app, runner, tmp_path)


def test_a_delivery_before_the_handover_is_held_then_applied_by_the_handover(webhook_app, staff, sim, finalized):
    a, b = finalized[0], finalized[1]
    r = post_events(staff, [
        _event(a, "ACCEPTED", T1, "a1"),
        _event(a, "DELIVERED", T1 + dt.timedelta(hours=3), "a3", recipient={"name": "X", "relationship": "SELF"}),
        _event(a, "OUT_FOR_DELIVERY", T1 + dt.timedelta(hours=2), "a2"),  # late, out of order
        _event(b, "DELIVERY_FAILED", T1 + dt.timedelta(hours=1), "b1", reason_code="NOBODY_HOME"),
    ])
    assert r.status_code == 200  # stored: the courier must not retry
    assert [(x["result"], x["held"]) for x in r.json["results"]] == [("applied", True)] * 4  # the contract's word
    assert "belum diserahkan" in r.json["results"][0]["message"]
    again = post_events(staff, [_event(a, "ACCEPTED", T1, "a1")], msg_id="m2")
    assert again.json["results"][0]["result"] == "duplicate"
    item, card, _ = _state(webhook_app, a)
    assert card.state is CardState.ON_MANIFEST  # nothing moved before the handover
    assert (item.tracking_status, item.final, item.delivered_at) == (None, False, None)
    assert _state(webhook_app, b)[0].attempts == 0
    # visible: in the item's timeline and in the problems view, counted as held
    timeline = staff.get(f"/api/v1/tracking/{a}").json
    assert [e["result"] for e in timeline["events"]] == ["held"] * 3
    assert "ditahan" in staff.get(f"/lacak/{a}").get_data(as_text=True)
    problems = staff.get("/api/v1/tracking/problems").json
    assert problems["held"]["count"] == 4 and problems["rejected"]["count"] == 0
    assert {row["event_id"] for row in problems["held"]["rows"]} == {"a1", "a2", "a3", "b1"}
    page = staff.get("/masalah").get_data(as_text=True)
    assert "Kabar kurir ditahan" in page and "a3" in page
    assert "a2" in staff.get("/masalah/ditahan").get_data(as_text=True)

    assert _hand_over(webhook_app, sim).answer.ok
    assert _results(webhook_app) == {"a1": "applied", "a2": "applied", "a3": "applied", "b1": "applied"}
    item, card, history = _state(webhook_app, a)
    assert card.state is CardState.DELIVERED and item.tracking_status == "DELIVERED" and item.final
    assert item.recipient_name == "X" and item.delivered_at is not None
    assert history == [("None", "READY"), ("READY", "ON_MANIFEST"), ("ON_MANIFEST", "WITH_COURIER"),
                       ("WITH_COURIER", "DELIVERED")]
    b_item, b_card, _ = _state(webhook_app, b)
    assert b_item.attempts == 1 and b_card.state is CardState.IN_TRANSIT
    assert staff.get("/api/v1/tracking/problems").json["held"]["count"] == 0
    # the ordering rules still hold: an earlier-dated event arriving now is stale, the delivery stays
    late = post_events(staff, [_event(a, "RETURNED", T1 + dt.timedelta(hours=1), "a-late", reason_code="MOVED")],
                       msg_id="m3")
    assert late.json["results"][0]["result"] == "stale"
    assert _state(webhook_app, a)[1].state is CardState.DELIVERED


def test_held_events_count_as_if_they_arrived_at_the_handover(webhook_app, staff, sim, finalized):
    """A held final event decides, and a later-arriving earlier-dated event after the handover is stale; a held
    event that an applied one already outdates is stale too."""
    a = finalized[0]
    post_events(staff, [_event(a, "DELIVERED", T1 + dt.timedelta(hours=2), "d")])
    assert _hand_over(webhook_app, sim).answer.ok
    r = post_events(staff, [_event(a, "OUT_FOR_DELIVERY", T1 + dt.timedelta(hours=1), "o")], msg_id="m2")
    assert r.json["results"][0]["result"] == "stale"
    assert _results(webhook_app) == {"d": "applied", "o": "stale"}
    assert _state(webhook_app, a)[1].state is CardState.DELIVERED


def test_every_item_delivered_while_held_closes_the_manifest_at_handover(webhook_app, staff, sim, finalized):
    post_events(staff, [_event(n, "DELIVERED", T1, f"d{i}") for i, n in enumerate(finalized)])
    assert _hand_over(webhook_app, sim).answer.ok
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(Manifest.status)) == "CLOSED"


def test_a_failed_handover_keeps_events_held_until_a_handover_succeeds(webhook_app, staff, sim, finalized):
    a = finalized[0]
    post_events(staff, [_event(a, "DELIVERED", T1, "d")])
    failed = _hand_over(webhook_app, sim, token="wrong-token")
    assert not failed.answer.ok and failed.status == "HANDOVER_FAILED"
    more = post_events(staff, [_event(a, "ACCEPTED", T1 - dt.timedelta(hours=1), "acc")], msg_id="m2")
    assert more.status_code == 200 and more.json["results"][0] == {**more.json["results"][0], "result": "applied",
                                                                   "held": True}
    assert _results(webhook_app) == {"d": "held", "acc": "held"}
    assert _state(webhook_app, a)[1].state is CardState.ON_MANIFEST
    held = staff.get("/api/v1/tracking/problems").json["held"]
    assert held["count"] == 2 and "gagal" in held["rows"][0]["manifest_status_label"].lower()
    assert _hand_over(webhook_app, sim).answer.ok
    assert _results(webhook_app) == {"d": "applied", "acc": "applied"}
    assert _state(webhook_app, a)[1].state is CardState.DELIVERED


def test_cancelling_the_manifest_rejects_its_held_events_and_lists_them(webhook_app, staff, runner, finalized):
    a = finalized[0]
    post_events(staff, [_event(a, "DELIVERED", T1, "d")])
    with webhook_app.app_context(), unit_of_work() as s:
        number = s.scalar(select(Manifest.number))
    assert cli(runner, "manifests", "cancel", number, "--reason", "salah susun").exit_code == 0
    assert _results(webhook_app) == {"d": "rejected"}
    assert _state(webhook_app, a)[1].state is CardState.READY  # the cancel's own move, nothing from the event
    problems = staff.get("/api/v1/tracking/problems").json
    assert problems["held"]["count"] == 0
    [row] = problems["rejected"]["rows"]
    assert row["event_id"] == "d" and row["known"]
    assert "tidak pernah menerima" in row["message"] and number in row["message"] and "dibatalkan" in row["message"]
    with webhook_app.app_context(), unit_of_work() as s:
        raw = json.loads(s.scalar(select(RejectedEvent.raw).where(RejectedEvent.event_id == "d")))
        assert raw["status"] == "DELIVERED" and raw["tracking_number"] == a
    assert "ditolak" in staff.get(f"/lacak/{a}").get_data(as_text=True)
    # an event for that item arriving after the cancel is rejected at once, and still answered with a 200
    late = post_events(staff, [_event(a, "ACCEPTED", T1, "late")], msg_id="m2")
    assert late.status_code == 200 and late.json["results"][0]["result"] == "rejected"
    assert "tidak pernah menerima" in late.json["results"][0]["message"]


def test_withdrawing_the_area_rejects_held_events_of_the_cards_taken_off(webhook_app, staff, runner, finalized):
    post_events(staff, [_event(finalized[0], "ACCEPTED", T1, "acc")])
    assert cli(runner, "sorting", "withdraw", "--kelurahan", "32.16.06.1001", "--reason", "proyek LRT").exit_code == 0
    assert _results(webhook_app) == {"acc": "rejected"}
    assert _state(webhook_app, finalized[0])[1].state is CardState.WITHDRAWN
    [row] = staff.get("/api/v1/tracking/problems").json["rejected"]["rows"]
    assert "wilayahnya ditarik" in row["message"]


def test_held_events_left_by_a_failing_hook_count_with_the_next_event(webhook_app, staff, sim, finalized,
                                                                      monkeypatch):
    """The handover stands even if applying the held events fails after it; the next event of the item folds
    them first (they arrived first)."""
    from app import handover_hooks

    def broken(session, manifest_id):
        raise RuntimeError("database went away")

    monkeypatch.setitem(handover_hooks._HANDED_OVER, "delivery.held_events", broken)
    a = finalized[0]
    post_events(staff, [_event(a, "OUT_FOR_DELIVERY", T1, "o"), _event(a, "DELIVERED", T1 + dt.timedelta(hours=1),
                                                                       "d")])
    assert _hand_over(webhook_app, sim).answer.ok
    assert _results(webhook_app) == {"o": "held", "d": "held"}
    assert _state(webhook_app, a)[1].state is CardState.WITH_COURIER
    r = post_events(staff, [_event(a, "ACCEPTED", T1 - dt.timedelta(hours=1), "acc")], msg_id="m2")
    assert r.json["results"][0]["result"] == "stale"  # the held DELIVERED (final) came first
    assert _results(webhook_app) == {"o": "applied", "d": "applied", "acc": "stale"}
    assert _state(webhook_app, a)[1].state is CardState.DELIVERED


def test_a_batch_that_read_the_manifest_before_its_handover_committed_applies_its_own_held_events(
        webhook_app, finalized):
    """The race: the batch read 'finalized', the handover committed before the batch did. The batch looks again
    at the end and counts the events itself (the hook after the handover waits for its locks otherwise)."""
    from app.courier.tracking import parse_body
    from delivery import service as delivery

    a = finalized[0]
    body = {"type": "tracking.events", "data": {"events": [_event(a, "DELIVERED", T1, "d")]}}
    real_lock = delivery._lock_items

    def lock_then_hand_over(session, numbers):
        items = real_lock(session, numbers)  # read as "finalized"
        session.execute(update(Manifest).values(status="HANDED_OVER", handed_over_at=dt.datetime.now(dt.UTC)))
        session.execute(update(Card).values(state="WITH_COURIER"))
        return items

    with webhook_app.app_context(), unit_of_work() as s:
        delivery._lock_items = lock_then_hand_over
        try:
            results = delivery.apply_batch(s, "{}", "t", parse_body(body), delivery.Settings())
        finally:
            delivery._lock_items = real_lock
    assert (results[0]["result"], results[0]["held"]) == ("applied", True)  # what the courier was told: stored
    assert _results(webhook_app) == {"d": "applied"}
    assert _state(webhook_app, a)[1].state is CardState.DELIVERED


def test_held_and_applied_through_the_real_webhook_route(webhook_app, live_url, sim, finalized):
    """Over real HTTP with Standard Webhooks signatures: held (200), then applied by the handover."""
    a = finalized[0]
    body = json.dumps({"type": "tracking.events", "data": {"events": [
        _event(a, "DELIVERED", T1, "live-d", recipient={"name": "SITI", "relationship": "FAMILY"})]}})
    r = requests.post(live_url + "api/v1/courier/events", data=body, headers=signed_headers(body, msg_id="live-1"),
                      timeout=10)
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "applied" and r.json()["results"][0]["held"]
    unsigned = requests.post(live_url + "api/v1/courier/events", data=body,
                             headers={"Content-Type": "application/json"}, timeout=10)
    assert unsigned.status_code == 401
    assert _state(webhook_app, a)[1].state is CardState.ON_MANIFEST
    assert _hand_over(webhook_app, sim).answer.ok
    item, card, _ = _state(webhook_app, a)
    assert card.state is CardState.DELIVERED and item.recipient_relationship == "FAMILY"
    again = requests.post(live_url + "api/v1/courier/events", data=body,
                          headers=signed_headers(body, msg_id="live-1"), timeout=10)
    assert again.status_code == 200 and again.json()["results"][0]["result"] == "duplicate"
