"""Collection at the post office (courier contract 6.2, AVAILABLE_FOR_PICKUP): the card waits there, is collected at
the counter or returned unclaimed; the pickup's details are required, shown to staff and to the citizen, and an item
still waiting past its day is listed for staff."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import card_row, cli, make_nik, report
from sqlalchemy import select
from tracking import TOKEN, WIB, event, handed_over, post_events

from app.cards import Card, CardHistory, CardState
from app.courier.client import CourierClient
from app.db import unit_of_work, utcnow
from app.migrate import hash_clear_family_numbers
from app.models import Office
from courier_sim.server import CourierSimulator
from delivery.models import RejectedEvent, TrackingEvent
from manifests import handover
from manifests.models import Manifest, ManifestItem

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)
KPC = {"post_office": "17510", "name": "KPC Tambun", "address": "Jl. Sultan Hasanudin No. 1, Tambun",
       "until": "2026-12-01"}
KK = "3216060101080001"


def pickup(number: str, at: dt.datetime, event_id: str, **details) -> dict:
    return event(number, "AVAILABLE_FOR_PICKUP", at, event_id, pickup={**KPC, **details})


def state(app, number: str) -> tuple[ManifestItem, Card, list[tuple[str, str, str]]]:
    with app.app_context(), unit_of_work() as s:
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))
        card = s.get(Card, item.card_id)
        history = [(str(h.from_state), str(h.to_state), h.reason) for h in s.scalars(
            select(CardHistory).where(CardHistory.card_id == card.id).order_by(CardHistory.id))]
        s.expunge_all()
        return item, card, history


def results(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [r["result"] for r in response.json["results"]]


@pytest.fixture
def numbers(webhook_app, runner, tmp_path) -> list[str]:
    rows = [card_row(1, no_kk=KK)] + [card_row(i) for i in range(2, 6)]
    n = handed_over(webhook_app, runner, tmp_path, rows=rows)
    hash_clear_family_numbers(webhook_app.extensions["antar.engine"], webhook_app.config["ANTAR_KK_KEY"])
    return n


def failed_twice(number: str) -> list[dict]:
    return [event(number, "ACCEPTED", T0, f"{number}-a"),
            *[event(number, "DELIVERY_FAILED", T0 + dt.timedelta(days=d), f"{number}-f{d}", attempt=d,
                    reason_code="NOBODY_HOME") for d in (1, 2)]]


def test_waiting_at_the_post_office_then_collected_at_the_counter(webhook_app, staff, numbers):
    n = numbers[0]
    at = T0 + dt.timedelta(days=3)
    assert results(post_events(staff, [*failed_twice(n), pickup(n, at, "p1")])) == ["applied"] * 4
    item, card, history = state(webhook_app, n)
    assert card.state is CardState.AT_POST_OFFICE and item.tracking_status == "AVAILABLE_FOR_PICKUP"
    assert (item.pickup_post_office, item.pickup_name, item.pickup_address, item.pickup_until) == (
        "17510", "KPC Tambun", KPC["address"], dt.date(2026, 12, 1))
    assert not item.final and item.attempts == 2
    assert history[-1][:2] == ("WITH_COURIER", "AT_POST_OFFICE")  # one batch: one move, to where it ends
    assert "Menunggu diambil di kantor pos" in history[-1][2] and "sampai 1 Desember 2026" in history[-1][2]

    counter = event(n, "DELIVERED", at + dt.timedelta(days=2), "d1", location={"post_office": "17510"},
                    recipient={"name": "WARGA NOMOR 1", "relationship": "SELF"})
    assert results(post_events(staff, [counter], msg_id="m2")) == ["applied"]
    item, card, history = state(webhook_app, n)
    assert card.state is CardState.DELIVERED and item.final and item.recipient_relationship == "SELF"
    assert history[-1][:2] == ("AT_POST_OFFICE", "DELIVERED")
    assert item.pickup_name == "KPC Tambun"  # where it was collected stays on the item

    # Staff see where it waited and until when, in the timeline and its JSON.
    page = staff.get(f"/lacak/{n}").get_data(as_text=True)
    assert "KPC Tambun" in page and "01 Desember 2026" in page and KPC["address"] in page
    timeline = staff.get(f"/api/v1/tracking/{n}").json
    assert timeline["item"]["pickup"] == {**KPC, "until": "2026-12-01"}
    [waiting] = [e for e in timeline["events"] if e["status"] == "AVAILABLE_FOR_PICKUP"]
    assert waiting["pickup"]["until"] == "2026-12-01" and waiting["status_label"] == "Menunggu diambil di kantor pos"


def test_waiting_then_returned_unclaimed(webhook_app, staff, numbers):
    n = numbers[1]
    at = T0 + dt.timedelta(days=3)
    returned = event(n, "RETURNED", dt.datetime(2026, 12, 2, 8, 0, tzinfo=WIB), "r1", reason_code="UNCLAIMED")
    back = event(n, "RETURN_RECEIVED", dt.datetime(2026, 12, 2, 15, 0, tzinfo=WIB), "rr1")
    # Out of order, one batch: the events' dates decide (the earlier ones are recorded as stale, attempts counted).
    assert results(post_events(staff, [returned, pickup(n, at, "p1"), *failed_twice(n)])) == [
        "applied", "stale", "stale", "stale", "stale"]
    item, card, history = state(webhook_app, n)
    assert card.state is CardState.RETURNING and card.return_reason == "UNCLAIMED" and item.attempts == 2
    assert item.pickup_until is None  # an outdated pickup does not say where the item waits
    assert history[-1][:2] == ("WITH_COURIER", "RETURNING")  # one batch: the card moves once, to where it ends
    assert results(post_events(staff, [back], msg_id="m2")) == ["applied"]
    item, card, _ = state(webhook_app, n)
    assert card.state is CardState.RETURNED and item.final and item.return_reason == "UNCLAIMED"


def test_the_card_follows_the_courier_to_the_post_office_and_back(webhook_app, staff, numbers):
    """Event by event, each in its own message: every step in the card's history."""
    n = numbers[1]
    for i, e in enumerate([*failed_twice(n), pickup(n, T0 + dt.timedelta(days=3), "p1"),
                           event(n, "RETURNED", dt.datetime(2026, 12, 2, 8, 0, tzinfo=WIB), "r1",
                                 reason_code="UNCLAIMED")]):
        assert results(post_events(staff, [e], msg_id=f"m{i}")) == ["applied"]
    _, card, history = state(webhook_app, n)
    assert [h[1] for h in history[-3:]] == ["IN_TRANSIT", "AT_POST_OFFICE", "RETURNING"]
    assert "tidak ada penghuni / tidak diambil" in history[-1][2]
    assert card.return_reason == "UNCLAIMED"


@pytest.mark.parametrize(("details", "words"), [
    ({"pickup": None}, "pickup.until wajib"),
    ({"pickup": {"post_office": "17510", "name": "KPC Tambun", "address": "x"}}, "pickup.until wajib"),
    ({"pickup": {**KPC, "until": "05-12-2026"}}, "pickup.until '05-12-2026' bukan tanggal YYYY-MM-DD"),
    ({"pickup": {**KPC, "until": "2026-02-30"}}, "bukan tanggal"),
    ({"pickup": {**KPC, "until": "2026-11-20"}}, "pickup.until 2026-11-20 sebelum tanggal kejadian"),
    ({"pickup": {**KPC, "name": " "}}, "pickup.name wajib"),
    ({"pickup": {**KPC, "post_office": None}}, "pickup.post_office wajib"),
    ({"pickup": {**KPC}, "reason_code": "NOBODY_HOME"}, "tidak memakai reason_code"),
])
def test_a_pickup_without_a_valid_until_is_rejected_naming_the_field(webhook_app, staff, numbers, details, words):
    n = numbers[2]
    bad = event(n, "AVAILABLE_FOR_PICKUP", T0 + dt.timedelta(days=1), "p-bad")
    bad.update(details)
    response = post_events(staff, [event(n, "ACCEPTED", T0, "a"), bad])
    assert results(response) == ["applied", "rejected"]
    assert words in response.json["results"][1]["message"], response.json
    item, card, _ = state(webhook_app, n)
    assert card.state is CardState.IN_TRANSIT and item.pickup_until is None
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(RejectedEvent.message).where(RejectedEvent.event_id == "p-bad")) == \
            response.json["results"][1]["message"]
    problems = staff.get("/api/v1/tracking/problems").json
    assert [r["event_id"] for r in problems["rejected"]["rows"]] == ["p-bad"]


def test_a_pickup_with_a_malformed_field_type_is_a_400_naming_it(webhook_app, staff, numbers):
    bad = pickup(numbers[0], T0, "p", until=20261205)
    response = post_events(staff, [bad])
    assert response.status_code == 400 and "pickup" in response.json["error"]["message"]


def test_the_citizen_sees_where_and_until_when_and_nothing_personal(webhook_app, staff, numbers):
    webhook_app.config["ANTAR_PUBLIC_RATE_LIMIT"] = "1000 per minute"
    n = numbers[0]
    with webhook_app.app_context(), unit_of_work() as s:
        s.execute(ManifestItem.__table__.update().where(ManifestItem.tracking_number == n).values(cod_amount=20000))
    assert results(post_events(staff, [*failed_twice(n), pickup(n, T0 + dt.timedelta(days=3), "p1")])) == [
        "applied"] * 4
    citizen = webhook_app.test_client()
    answer = citizen.post("/api/v1/public/status", json={"nik": make_nik(1), "no_kk": KK}).json
    assert answer["status"] == "AT_POST_OFFICE" and answer["date"] == "2026-11-27"
    assert answer["pickup"] == {**KPC, "until": "2026-12-01"}
    message = answer["message"]
    for words in ("menunggu diambil di kantor pos", "sejak 27 November 2026", "KPC Tambun", KPC["address"],
                  "kode kantor pos 17510", "paling lambat 1 Desember 2026", "Rp 20.000"):
        assert words in message, (words, message)
    page = citizen.post("/cek-status", data={"nik": make_nik(1), "no_kk": KK}).get_data(as_text=True)
    assert "KPC Tambun" in page and "01 Desember 2026" in page and "Batas pengambilan" in page
    for text in (message, page):
        for secret in ("WARGA", "JATIMULYA", "JL. RAYA", "BLK000", n, make_nik(1), KK):
            assert secret not in text.upper(), secret
    # A card somewhere else says nothing of a post office.
    other = citizen.post("/api/v1/public/status", json={"nik": make_nik(2), "nomor_resi": numbers[1]}).json
    assert other["status"] == "IN_DELIVERY" and "pickup" not in other


def test_waiting_past_the_day_is_listed_until_the_courier_returns_it(webhook_app, staff, numbers):
    now = utcnow()
    today = now.astimezone(WIB).date()
    late, waiting, collected = numbers[0], numbers[1], numbers[2]
    start = now - dt.timedelta(days=12)
    events = []
    for number in (late, waiting, collected):
        events += [event(number, "ACCEPTED", start, f"{number}-a"),
                   *[event(number, "DELIVERY_FAILED", start + dt.timedelta(days=d), f"{number}-f{d}", attempt=d,
                           reason_code="NOBODY_HOME") for d in (1, 2, 3)]]
    there = start + dt.timedelta(days=4)
    events += [pickup(late, there, "p-late", until=(today - dt.timedelta(days=1)).isoformat()),
               pickup(waiting, there, "p-wait", until=today.isoformat()),
               pickup(collected, there, "p-coll", until=(today - dt.timedelta(days=3)).isoformat()),
               event(collected, "DELIVERED", start + dt.timedelta(days=6), "d-coll")]
    assert set(results(post_events(staff, events))) == {"applied"}

    problems = staff.get("/api/v1/tracking/problems").json
    overdue = problems["pickup_overdue"]
    assert overdue["count"] == 1 and [r["tracking_number"] for r in overdue["rows"]] == [late]
    assert overdue["rows"][0]["pickup_until"] == (today - dt.timedelta(days=1)).isoformat()
    assert overdue["rows"][0]["pickup_name"] == "KPC Tambun"
    # Waiting at a post office is neither silence nor a delivery about to fail.
    assert late not in [r["tracking_number"] for r in problems["silent"]["rows"] + problems["failing"]["rows"]]
    assert waiting not in [r["tracking_number"] for r in problems["silent"]["rows"] + problems["failing"]["rows"]]

    page = staff.get("/masalah").get_data(as_text=True)
    assert "Lewat batas ambil di kantor pos" in page and 'href="#ambil-lewat"' in page
    assert f'href="/lacak/{late}"' in page and f'href="/lacak/{waiting}"' not in page
    own = staff.get("/masalah/ambil-lewat")
    assert own.status_code == 200 and f'href="/lacak/{late}"' in own.get_data(as_text=True)

    returned = event(late, "RETURNED", now - dt.timedelta(hours=1), "r-late", reason_code="UNCLAIMED")
    assert results(post_events(staff, [returned], msg_id="m2")) == ["applied"]
    assert staff.get("/api/v1/tracking/problems").json["pickup_overdue"]["count"] == 0


def test_a_pickup_before_the_handover_is_held_with_its_details(webhook_app, staff, runner, tmp_path):
    from helpers import write_csv

    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", [card_row(1)]))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with webhook_app.app_context(), unit_of_work() as s:
        [n] = s.scalars(select(ManifestItem.tracking_number))
    answer = post_events(staff, [pickup(n, T0 + dt.timedelta(days=3), "p1")]).json["results"]
    assert [(r["result"], r["held"]) for r in answer] == [("applied", True)]
    assert state(webhook_app, n)[0].pickup_until is None
    with CourierSimulator(api_token=TOKEN) as sim, webhook_app.app_context():
        with unit_of_work() as s:
            mid, code = s.scalar(select(Manifest.id)), s.scalar(select(Office.code))
        assert handover.hand_over(code, mid, handover.Actor("t"), CourierClient(sim.url, TOKEN)).answer.ok
    item, card, _ = state(webhook_app, n)
    assert card.state is CardState.AT_POST_OFFICE and item.pickup_until == dt.date(2026, 12, 1)
    assert item.pickup_address == KPC["address"]
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(TrackingEvent.result).where(TrackingEvent.event_id == "p1")) == "applied"


def test_a_pickup_ranks_between_a_failed_attempt_and_a_return(webhook_app, staff, numbers):
    """At the same moment, a failed attempt comes before the pickup and the return after it."""
    n = numbers[3]
    at = T0 + dt.timedelta(days=2)
    assert results(post_events(staff, [
        event(n, "RETURNED", at, "r", reason_code="UNCLAIMED"), pickup(n, at, "p"),
        event(n, "DELIVERY_FAILED", at, "f", reason_code="NOBODY_HOME")])) == ["applied", "stale", "stale"]
    assert state(webhook_app, n)[0].tracking_status == "RETURNED"
    m = numbers[4]
    assert results(post_events(staff, [
        event(m, "DELIVERY_FAILED", at, "f2", reason_code="NOBODY_HOME"), pickup(m, at, "p2")],
        msg_id="m2")) == ["applied", "applied"]
    assert state(webhook_app, m)[1].state is CardState.AT_POST_OFFICE


def test_the_reconciliation_counts_cards_at_the_post_office(webhook_app, staff, runner, numbers):
    assert results(post_events(staff, [pickup(numbers[0], T0, "p1")])) == ["applied"]
    data = report(runner)
    assert data["by_state"]["AT_POST_OFFICE"] == 1 and data["balanced"]
    assert sum(data["by_state"].values()) == data["printed"] == 5
    text = cli(runner, "report").output
    assert "Menunggu diambil di kantor pos" in text


def test_collected_at_the_counter_is_not_flagged_as_far_from_the_address(webhook_app, staff, numbers):
    """The post office is kilometres from many addresses: a card collected at its counter is not a far delivery (the
    distance is kept), while a delivery at the door as far away is flagged."""
    from sqlalchemy import update

    counter_n, door_n = numbers[0], numbers[1]
    with webhook_app.app_context(), unit_of_work() as s:
        ids = s.scalars(select(ManifestItem.card_id).where(ManifestItem.tracking_number.in_([counter_n, door_n])))
        s.execute(update(Card).where(Card.id.in_(list(ids))).values(lat=-6.2668, lng=107.0295))
    kpc = {"post_office": "17510", "lat": -6.2668, "lng": 107.0295 + 6 / 110.6}  # about 6 km east
    at = T0 + dt.timedelta(days=3)
    assert results(post_events(staff, [*failed_twice(counter_n), pickup(counter_n, at, "p-far")])) == ["applied"] * 4
    collected = event(counter_n, "DELIVERED", at + dt.timedelta(days=1), "d-counter", location=kpc,
                      recipient={"name": "WARGA NOMOR 1", "relationship": "SELF"})
    at_door = event(door_n, "DELIVERED", at + dt.timedelta(days=1), "d-door", location=kpc,
                    recipient={"name": "WARGA NOMOR 2", "relationship": "SELF"})
    assert results(post_events(staff, [collected, at_door], msg_id="m-far")) == ["applied", "applied"]
    counter_item, counter_card, _ = state(webhook_app, counter_n)
    door_item, _, _ = state(webhook_app, door_n)
    assert counter_card.state is CardState.DELIVERED
    assert counter_item.flagged is None and counter_item.delivered_far_km == pytest.approx(6, abs=0.3)
    assert "km dari alamat" in door_item.flagged
    far = staff.get("/api/v1/tracking/problems").json["far"]
    assert [r["tracking_number"] for r in far["rows"]] == [door_n]
