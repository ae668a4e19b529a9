"""Cash on delivery and the old card in the courier's events (contract 6.2): what a DELIVERED reports is stored and a
delivery short of it is flagged; the new reason codes; the annotations OLD_CARD_RECEIVED and COD_REMITTED, which
only speak of delivered items and never change them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update
from tracking import WIB, event, handed_over, post_events

from app.cards import Card, CardState
from app.courier.tracking import Status
from app.db import unit_of_work
from app.models import Office
from delivery import lookup
from delivery.models import RejectedEvent, TrackingEvent
from manifests.models import ManifestItem

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)
DELIVERED_AT = T0 + dt.timedelta(days=1)
FEE = 20000


def results(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [r["result"] for r in response.json["results"]]


def item_and_card(app, number: str) -> tuple[ManifestItem, Card]:
    with app.app_context(), unit_of_work() as s:
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))
        card = s.get(Card, item.card_id)
        s.expunge_all()
        return item, card


def delivered(number: str, event_id: str, **extra) -> dict:
    return event(number, "DELIVERED", DELIVERED_AT, event_id,
                 recipient={"name": "WARGA", "relationship": "SELF"}, **extra)


@pytest.fixture
def numbers(webhook_app, runner, tmp_path) -> list[str]:
    """Five handed-over items: 0-2 COD with the old card to collect, 3 COD only, 4 neither."""
    n = handed_over(webhook_app, runner, tmp_path)
    with webhook_app.app_context(), unit_of_work() as s:
        for i, number in enumerate(n[:4]):
            values = {"cod_amount": FEE, "collect_old_card": i < 3}
            s.execute(update(ManifestItem).where(ManifestItem.tracking_number == number).values(**values))
            card_id = s.scalar(select(ManifestItem.card_id).where(ManifestItem.tracking_number == number))
            s.execute(update(Card).where(Card.id == card_id).values(**values))
    return n


def test_a_cod_delivery_stores_the_fee_and_the_old_card(webhook_app, staff, numbers):
    n = numbers[0]
    assert results(post_events(staff, [delivered(n, "d", cod_collected=FEE, old_card_collected=True)])) == [
        "applied"]
    item, card = item_and_card(webhook_app, n)
    assert (item.cod_collected, item.old_card_collected, item.flagged) == (FEE, True, None)
    assert card.state is CardState.DELIVERED
    timeline = staff.get(f"/api/v1/tracking/{n}").json
    assert (timeline["item"]["cod_amount"], timeline["item"]["cod_collected"]) == (FEE, FEE)
    assert timeline["item"]["collect_old_card"] is True and timeline["item"]["old_card_collected"] is True
    assert timeline["events"][0]["cod_collected"] == FEE and timeline["events"][0]["old_card_collected"] is True
    page = staff.get(f"/lacak/{n}").get_data(as_text=True)
    assert "COD Rp 20.000" in page and "tertagih Rp 20.000" in page and "diserahkan warga" in page
    assert staff.get("/api/v1/tracking/problems").json["far"]["count"] == 0


@pytest.mark.parametrize(("number", "extra", "flag"), [
    (0, {"old_card_collected": True}, "COD Rp 20.000: biaya tertagih tidak dilaporkan"),
    (0, {"cod_collected": 15000, "old_card_collected": True}, "COD tertagih Rp 15.000, seharusnya Rp 20.000"),
    (0, {"cod_collected": FEE}, "KTP lama tidak dilaporkan diserahkan"),
    (0, {"cod_collected": FEE, "old_card_collected": False}, "KTP lama tidak dilaporkan diserahkan"),
    (3, {}, "COD Rp 20.000: biaya tertagih tidak dilaporkan"),
    (4, {"cod_collected": 5000}, "Rp 5.000 tertagih untuk kiriman tanpa COD"),
])
def test_a_delivery_short_of_the_fee_or_the_old_card_stands_but_is_flagged(webhook_app, staff, numbers, number,
                                                                         extra, flag):
    n = numbers[number]
    assert results(post_events(staff, [delivered(n, "d", **extra)])) == ["applied"]
    item, card = item_and_card(webhook_app, n)
    assert card.state is CardState.DELIVERED and item.final  # the courier delivered: that stands
    assert item.flagged == flag and item.cod_collected == extra.get("cod_collected")
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(TrackingEvent.flag).where(TrackingEvent.event_id == "d")) == flag
    [row] = staff.get("/api/v1/tracking/problems").json["far"]["rows"]
    assert row["tracking_number"] == n and row["flagged"] == flag
    page = staff.get("/masalah").get_data(as_text=True)
    assert flag in page and "Terkirim, perlu diperiksa" in page
    assert flag in staff.get(f"/lacak/{n}").get_data(as_text=True)


def test_a_flag_for_the_fee_joins_a_far_delivery_flag(webhook_app, staff, numbers):
    n = numbers[3]
    with webhook_app.app_context(), unit_of_work() as s:
        card_id = s.scalar(select(ManifestItem.card_id).where(ManifestItem.tracking_number == n))
        s.execute(update(Card).where(Card.id == card_id).values(lat=-6.2668, lng=107.0295))
    far = delivered(n, "d", location={"post_office": "17510", "lat": -6.2668, "lng": 107.0295 + 5 / 110.6})
    assert results(post_events(staff, [far])) == ["applied"]
    flagged = item_and_card(webhook_app, n)[0].flagged
    assert "km dari alamat" in flagged and "biaya tertagih tidak dilaporkan" in flagged


def test_the_new_reason_codes(webhook_app, staff, numbers):
    a, b, c = numbers[0], numbers[1], numbers[3]
    response = post_events(staff, [
        event(a, "DELIVERY_FAILED", T0, "fa", reason_code="OLD_CARD_NOT_SURRENDERED"),
        event(b, "DELIVERY_FAILED", T0, "fb", reason_code="COD_NOT_PAID"),
        event(b, "RETURNED", T0 + dt.timedelta(days=2), "rb", reason_code="COD_NOT_PAID"),
        event(c, "RETURNED", T0 + dt.timedelta(days=2), "rc", reason_code="OLD_CARD_NOT_SURRENDERED"),
        event(numbers[4], "RETURNED", T0, "bad", reason_code="COD_UNPAID"),
    ])
    assert results(response) == ["applied"] * 4 + ["rejected"]
    assert "COD_NOT_PAID" in response.json["results"][4]["message"]  # the allowed codes are listed
    item, card = item_and_card(webhook_app, a)
    assert card.state is CardState.IN_TRANSIT and item.attempts == 1
    item, card = item_and_card(webhook_app, b)
    assert card.state is CardState.RETURNING and card.return_reason == "COD_NOT_PAID" and item.attempts == 1
    assert item.return_reason == "COD_NOT_PAID"
    item, card = item_and_card(webhook_app, c)
    assert card.return_reason == item.return_reason == "OLD_CARD_NOT_SURRENDERED"
    timeline = staff.get(f"/api/v1/tracking/{b}").json
    assert timeline["card"]["return_reason_label"] == "biaya antar tidak dibayar"
    assert staff.get(f"/api/v1/tracking/{c}").json["card"]["return_reason_label"] == "kartu lama tidak diserahkan"
    page = staff.get(f"/lacak/{a}").get_data(as_text=True)
    assert "kartu lama tidak diserahkan" in page
    back = post_events(staff, [event(b, "RETURN_RECEIVED", T0 + dt.timedelta(days=4), "rrb")], msg_id="m2")
    assert results(back) == ["applied"]
    assert item_and_card(webhook_app, b)[1].state is CardState.RETURNED


def received(number: str, event_id: str, by: str = "Budi (loket Disdukcapil)", **extra) -> dict:
    return event(number, "OLD_CARD_RECEIVED", DELIVERED_AT + dt.timedelta(days=3), event_id,
                 old_card={"received_by": by}, **extra)


def remitted(number: str, event_id: str, settlement: str = "STL-17510-20261201") -> dict:
    return event(number, "COD_REMITTED", DELIVERED_AT + dt.timedelta(days=6), event_id, settlement_id=settlement)


def snapshot(app, number: str) -> tuple:
    item, card = item_and_card(app, number)
    return (item.tracking_status, item.status_event_id, item.final, item.last_event_at, item.last_received_at,
            item.attempts, item.flagged, card.state, card.state_changed_at)


def test_annotations_are_recorded_for_delivered_items_only_and_change_nothing(webhook_app, staff, numbers):
    a, b, c = numbers[0], numbers[1], numbers[2]
    assert results(post_events(staff, [
        delivered(a, "da", cod_collected=FEE, old_card_collected=True),
        event(b, "OUT_FOR_DELIVERY", T0, "ob"),
    ])) == ["applied", "applied"]
    before = snapshot(webhook_app, a), snapshot(webhook_app, b)

    response = post_events(staff, [
        received(a, "oa"), remitted(a, "ca"),
        received(b, "ob-old"), remitted(b, "cb"),  # out for delivery: not delivered
        received(numbers[4], "oe"),  # no news at all
    ], msg_id="m2")
    assert results(response) == ["applied", "applied", "rejected", "rejected", "rejected"]
    assert "OLD_CARD_RECEIVED hanya untuk item yang sudah terkirim (status item: Dibawa pengantar)" == \
        response.json["results"][2]["message"]
    assert "belum ada kabar kurir" in response.json["results"][4]["message"]
    assert (snapshot(webhook_app, a), snapshot(webhook_app, b)) == before  # the item and the card as they were

    # Idempotent by event_id; a repeated one is a duplicate, also in a later message.
    again = post_events(staff, [received(a, "oa"), remitted(a, "ca")], msg_id="m3")
    assert results(again) == ["duplicate", "duplicate"]
    with webhook_app.app_context(), unit_of_work() as s:
        stored = s.execute(select(TrackingEvent.event_id, TrackingEvent.result, TrackingEvent.received_by,
                                  TrackingEvent.settlement_id)
                           .where(TrackingEvent.status.in_(["OLD_CARD_RECEIVED", "COD_REMITTED"]))
                           .order_by(TrackingEvent.id)).all()
        assert [tuple(r) for r in stored] == [("oa", "applied", "Budi (loket Disdukcapil)", None),
                                              ("ca", "applied", None, "STL-17510-20261201")]
        assert s.scalar(select(func.count()).select_from(RejectedEvent)) == 3
    # Rejected ones are listed for staff like any rejected event.
    rejected = staff.get("/api/v1/tracking/problems").json["rejected"]
    assert {r["event_id"] for r in rejected["rows"]} == {"ob-old", "cb", "oe"}

    # Delivered later: the annotation sent again (a new event_id, as the courier retries with) is applied.
    assert results(post_events(staff, [delivered(c, "dc", cod_collected=FEE, old_card_collected=True),
                                       received(c, "oc")], msg_id="m4")) == ["applied", "applied"]

    # The staff timeline shows them.
    timeline = staff.get(f"/api/v1/tracking/{a}").json
    notes = {e["status"]: e for e in timeline["events"]}
    assert notes["OLD_CARD_RECEIVED"]["received_by"] == "Budi (loket Disdukcapil)"
    assert notes["COD_REMITTED"]["settlement_id"] == "STL-17510-20261201"
    page = staff.get(f"/lacak/{a}").get_data(as_text=True)
    assert "KTP lama sampai di Disdukcapil" in page and "diterima oleh Budi" in page and "STL-17510-20261201" in page


def test_an_annotation_before_the_delivery_in_the_same_message_counts(webhook_app, staff, numbers):
    """Within one message the order of events does not matter: the delivery is folded first."""
    a = numbers[0]
    response = post_events(staff, [received(a, "oa"), delivered(a, "da", cod_collected=FEE, old_card_collected=True),
                                   remitted(a, "ca")])
    assert results(response) == ["applied", "applied", "applied"]
    assert item_and_card(webhook_app, a)[1].state is CardState.DELIVERED


@pytest.mark.parametrize(("status", "extra", "words"), [
    ("OLD_CARD_RECEIVED", {}, "old_card.received_by wajib"),
    ("OLD_CARD_RECEIVED", {"old_card": {"received_by": "  "}}, "old_card.received_by wajib"),
    ("COD_REMITTED", {}, "settlement_id wajib"),
    ("COD_REMITTED", {"settlement_id": "STL-1", "reason_code": "COD_NOT_PAID"}, "tidak memakai reason_code"),
])
def test_an_annotation_without_its_field_is_rejected(webhook_app, staff, numbers, status, extra, words):
    a = numbers[0]
    post_events(staff, [delivered(a, "da", cod_collected=FEE, old_card_collected=True)])
    response = post_events(staff, [event(a, status, DELIVERED_AT + dt.timedelta(days=1), "x", **extra)],
                           msg_id="m2")
    assert results(response) == ["rejected"] and words in response.json["results"][0]["message"]


def test_annotations_for_the_old_card_register_and_the_settlements(webhook_app, staff, numbers):
    a, c = numbers[0], numbers[2]
    post_events(staff, [delivered(n, f"d{n}", cod_collected=FEE, old_card_collected=True) for n in (a, c)])
    post_events(staff, [received(a, "oa"), remitted(a, "ca"), remitted(c, "cc", "STL-17510-20261208"),
                        received(numbers[1], "ob")], msg_id="m2")
    post_events(staff, [received(c, "oc", by="Sari")], msg_id="m3")
    with webhook_app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office).where(Office.code == "32.16"))
        card_of = dict(s.execute(select(ManifestItem.tracking_number, ManifestItem.card_id)).all())
        old_cards = lookup.annotations(s, office, Status.OLD_CARD_RECEIVED)
        assert [(x.event_id, x.tracking_number, x.card_id, x.received_by) for x in old_cards] == [
            ("oa", a, card_of[a], "Budi (loket Disdukcapil)"), ("oc", c, card_of[c], "Sari")]
        fees = lookup.annotations(s, office, "COD_REMITTED")
        assert [(x.event_id, x.settlement_id) for x in fees] == [("ca", "STL-17510-20261201"),
                                                                 ("cc", "STL-17510-20261208")]
        # Incrementally: only those stored after the last one seen.
        assert [x.event_id for x in lookup.annotations(s, office, "OLD_CARD_RECEIVED", after_id=old_cards[0].id)] \
            == ["oc"]
        other = s.scalar(select(Office).where(Office.code != "32.16"))
        if other is not None:
            assert lookup.annotations(s, other, "OLD_CARD_RECEIVED") == []
        with pytest.raises(ValueError, match="not an annotation"):
            lookup.annotations(s, office, "DELIVERED")
