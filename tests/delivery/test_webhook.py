"""The courier's webhook endpoint: signatures, rotation, limits, schema, per-event results, tracking state."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
import requests
from helpers import card_row, report
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook
from tracking import OTHER_SECRET, SECRET, WIB, event, handed_over, post_events, signed_headers

from app.cards import Card, CardHistory, CardState
from app.db import unit_of_work
from delivery.models import RejectedEvent, TrackingEvent, WebhookMessage
from manifests.models import Manifest, ManifestItem, ManifestStatus

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)
URL = "/api/v1/courier/events"


def body_of(events: list[dict]) -> str:
    return json.dumps({"type": "tracking.events", "data": {"events": events}})


@pytest.fixture
def numbers(webhook_app, runner, tmp_path) -> list[str]:
    return handed_over(webhook_app, runner, tmp_path)


def item(app, number: str) -> ManifestItem:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))


def card_of(app, number: str) -> Card:
    with app.app_context(), unit_of_work() as s:
        it = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))
        card = s.get(Card, it.card_id)
        _ = card.history
        return card


def count(app, model) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model))


# --- 401 / 413 / 400 --------------------------------------------------------------------------------------------


def test_missing_or_wrong_signature_is_401_and_nothing_is_stored(webhook_app, client, numbers):
    body = body_of([event(numbers[0], "ACCEPTED", T0, "e1")])
    assert client.post(URL, data=body, headers={"Content-Type": "application/json"}).status_code == 401
    wrong = signed_headers(body, OTHER_SECRET)
    assert client.post(URL, data=body, headers=wrong).status_code == 401
    tampered = signed_headers(body)
    response = client.post(URL, data=body.replace("ACCEPTED", "DELIVERED"), headers=tampered)
    assert response.status_code == 401 and "Tanda tangan" in response.json["error"]["message"]
    garbage = {**signed_headers(body), "webhook-signature": "v1"}
    assert client.post(URL, data=body, headers=garbage).status_code == 401
    assert count(webhook_app, WebhookMessage) == 0 and count(webhook_app, TrackingEvent) == 0


def test_the_signature_is_checked_over_the_bytes_as_received_before_they_are_read(webhook_app, client, numbers):
    """Contract 3: a missing or wrong signature is 401, whatever the body holds: a body that is not UTF-8 is 401
    unsigned and 400 only once its signature verifies."""
    raw = b'{"type": "tracking.events", "data": {"events": [{"event_id": "\xff"}]}}'
    unsigned = client.post(URL, data=raw, headers={"Content-Type": "application/json", "webhook-id": "m",
                                                   "webhook-timestamp": str(int(dt.datetime.now().timestamp())),
                                                   "webhook-signature": "v1,AAAA"})
    assert unsigned.status_code == 401, unsigned.json
    when = dt.datetime.now(dt.UTC)
    signed = {"Content-Type": "application/json", "webhook-id": "m", "webhook-timestamp": str(int(when.timestamp())),
              "webhook-signature": Webhook(SECRET).sign("m", when, raw)}
    response = client.post(URL, data=raw, headers=signed)
    assert response.status_code == 400 and "UTF-8" in response.json["error"]["message"]
    assert count(webhook_app, WebhookMessage) == 0


@pytest.mark.parametrize("minutes", [-6, 6])
def test_timestamp_more_than_five_minutes_off_is_401(webhook_app, client, numbers, minutes):
    body = body_of([event(numbers[0], "ACCEPTED", T0, "e1")])
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    assert client.post(URL, data=body, headers=signed_headers(body, when=when)).status_code == 401
    near = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    assert client.post(URL, data=body, headers=signed_headers(body, when=near)).status_code == 200


def test_two_secrets_are_valid_during_rotation(webhook_app, client, numbers):
    webhook_app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = f"{SECRET}, {OTHER_SECRET}"
    webhook_app.extensions.pop("antar.webhook_verifiers", None)
    assert post_events(client, [event(numbers[0], "ACCEPTED", T0, "e1")], SECRET, "m1").status_code == 200
    assert post_events(client, [event(numbers[0], "IN_TRANSIT", T0 + dt.timedelta(hours=1), "e2")],
                       OTHER_SECRET, "m2").status_code == 200
    third = "whsec_" + "dGhpcmQta2V5LW5vdC1jb25maWd1cmVkLTMyLWJ5dGVz"
    assert post_events(client, [event(numbers[0], "IN_TRANSIT", T0, "e3")], third, "m3").status_code == 401
    # the old key retired: only the new one is accepted
    webhook_app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = OTHER_SECRET
    webhook_app.extensions.pop("antar.webhook_verifiers", None)
    assert post_events(client, [event(numbers[0], "IN_TRANSIT", T0, "e4")], SECRET, "m4").status_code == 401


def test_body_over_one_mib_is_413(webhook_app, client, numbers):
    filler = "x" * 500
    events = [event(numbers[0], "ACCEPTED", T0, f"e{i}", courier_id=None, proof={"photo_url": filler})
              for i in range(2200)]
    body = json.dumps({"type": "tracking.events", "data": {"events": events}})
    assert len(body) > 1024 * 1024
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code == 413 and "1 MiB" in response.json["error"]["message"]


def test_unconfigured_secrets_are_503_so_the_courier_retries(webhook_app, client, numbers):
    webhook_app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = ""
    webhook_app.extensions.pop("antar.webhook_verifiers", None)
    assert post_events(client, [event(numbers[0], "ACCEPTED", T0, "e1")]).status_code == 503


def test_a_malformed_secret_is_left_out_and_the_others_still_verify(webhook_app, client, numbers, caplog):
    """A secret that is not whsec_<base64> (a typo during a rotation) verifies nothing and is logged; the valid one
    still verifies; with only malformed ones the webhook is 503 (the courier retries), never a 500."""
    webhook_app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = f"whsec_a, {SECRET}"
    webhook_app.extensions.pop("antar.webhook_verifiers", None)
    assert post_events(client, [event(numbers[0], "ACCEPTED", T0, "e1")], SECRET, "m1").status_code == 200
    assert "rahasia ke-1 bukan whsec_<base64>" in caplog.text
    for malformed in ("whsec_a", SECRET.replace("whsec_", ""), SECRET[:10] + "!" + SECRET[11:], "whsec_"):
        webhook_app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = malformed
        webhook_app.extensions.pop("antar.webhook_verifiers", None)
        response = post_events(client, [event(numbers[0], "IN_TRANSIT", T0, "e2")], SECRET, "m2")
        assert response.status_code == 503 and "whsec_<base64>" in response.json["error"]["message"], malformed


@pytest.mark.parametrize("mutate,field", [
    (lambda b: "{not json", "JSON tidak valid"),
    (lambda b: json.dumps([1, 2]), "badan"),
    (lambda b: json.dumps({**json.loads(b), "type": "other"}), 'type: harus "tracking.events"'),  # in Indonesian
    (lambda b: json.dumps({"type": "tracking.events", "data": {"events": []}}), "data.events"),
    (lambda b: json.dumps({"type": "tracking.events", "data": {}}), "data.events"),
    (lambda b: b.replace('"occurred_at": "2026-11-24T09:00:00+07:00"', '"occurred_at": "2026-11-24T09:00:00"'),
     "data.events[0].occurred_at"),
    (lambda b: b.replace('"occurred_at": "2026-11-24T09:00:00+07:00"', '"occurred_at": "kemarin"'),
     "data.events[0].occurred_at"),
    (lambda b: b.replace('"event_id": "e1"', '"event_id": 7'), "data.events[0].event_id"),
    (lambda b: b.replace('"attempt": 1', '"attempt": "satu"'), "data.events[0].attempt"),
    (lambda b: b.replace('"lat": null', '"lat": "x"'), "data.events[0].location.lat"),
    # Strict JSON: no NaN (a coordinate that is none), no lone surrogate (text no column can hold), not nested deeper
    # than any contract needs.
    (lambda b: b.replace('"lat": null', '"lat": NaN'), "JSON tidak valid"),
    (lambda b: b.replace('"courier_id": "PTR-0192"', '"courier_id": "\\ud800"'), "JSON tidak valid"),
    (lambda b: '{"type": "tracking.events", "data": ' + "[" * 2000 + "]" * 2000 + "}", "bersarang"),
])
def test_malformed_or_off_schema_body_is_400_naming_the_field(webhook_app, client, numbers, mutate, field):
    body = mutate(body_of([event(numbers[0], "ACCEPTED", T0, "e1")]))
    response = client.post(URL, data=body, headers=signed_headers(body))
    assert response.status_code == 400 and field in response.json["error"]["message"]
    assert count(webhook_app, TrackingEvent) == 0


def test_more_than_500_events_is_400_and_500_is_fine(webhook_app, client, runner, tmp_path):
    numbers = handed_over(webhook_app, runner, tmp_path, [card_row(i) for i in range(1, 101)])
    statuses = ["ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_FAILED", "OUT_FOR_DELIVERY"]
    events = [event(n, st, T0 + dt.timedelta(hours=h), f"e-{n}-{h}",
                    reason_code="NOBODY_HOME" if st == "DELIVERY_FAILED" else None)
              for n in numbers for h, st in enumerate(statuses)]
    assert len(events) == 500
    too_many = events + [event(numbers[0], "ACCEPTED", T0, "extra")]
    response = post_events(client, too_many)
    assert response.status_code == 400 and "1 sampai 500" in response.json["error"]["message"]
    response = post_events(client, events)
    assert response.status_code == 200
    assert [r["event_id"] for r in response.json["results"]] == [e["event_id"] for e in events]
    assert {r["result"] for r in response.json["results"]} == {"applied"}
    assert count(webhook_app, TrackingEvent) == 500
    it = item(webhook_app, numbers[7])
    assert it.tracking_status == "OUT_FOR_DELIVERY" and it.attempts == 1
    assert report(runner)["by_state"]["IN_TRANSIT"] == 100


# --- per-event results and state --------------------------------------------------------------------------------


def test_results_applied_duplicate_stale_rejected_in_order(webhook_app, client, numbers):
    a, b = numbers[:2]
    first = post_events(client, [
        event(a, "OUT_FOR_DELIVERY", T0 + dt.timedelta(hours=5), "e-ofd"),
        event(a, "ACCEPTED", T0, "e-acc"),  # earlier-dated: recorded, the later event decides
        event("RB999999990ID", "ACCEPTED", T0, "e-unknown"),
        event(b, "TELEPORTED", T0, "e-status"),
        event(b, "RETURNED", T0, "e-noreason"),
        event(b, "DELIVERY_FAILED", T0, "e-badreason", reason_code="DECEASED"),
        event(a, "OUT_FOR_DELIVERY", T0 + dt.timedelta(hours=5), "e-ofd"),  # the same event twice in one batch
    ]).json["results"]
    assert [r["result"] for r in first] == ["applied", "stale", "rejected", "rejected", "rejected", "rejected",
                                            "duplicate"]
    assert "tidak dikenal" in first[2]["message"] and "TELEPORTED" in first[3]["message"]
    assert "tanpa reason_code" in first[4]["message"] and "DECEASED" in first[5]["message"]
    again = post_events(client, [event(a, "ACCEPTED", T0, "e-acc")], msg_id="msg_retry").json["results"]
    assert again == [{"event_id": "e-acc", "result": "duplicate"}]
    assert count(webhook_app, TrackingEvent) == 2 and count(webhook_app, RejectedEvent) == 4
    assert count(webhook_app, WebhookMessage) == 2  # every message as received
    assert item(webhook_app, a).tracking_status == "OUT_FOR_DELIVERY"


def test_a_long_unknown_status_reason_or_number_is_rejected_alone_not_the_batch(webhook_app, client, numbers):
    """Contract 3: a status or reason code outside the table, or an unknown tracking number, is `rejected` and "one
    rejected event does not reject the batch", however long the unknown value is (up to 200 characters)."""
    a, b = numbers[:2]
    long_status = "AVAILABLE_FOR_PICKUP_AT_PARTNER_AGENT_LOCATION"  # 46 characters
    answer = post_events(client, [
        event(a, "ACCEPTED", T0, "ok"),
        event(b, long_status, T0, "long-status"),
        event(b, "DELIVERY_FAILED", T0, "long-reason", reason_code="R" * 120),
        event("RB" + "9" * 150 + "ID", "ACCEPTED", T0, "long-number"),
        event(b, "DELIVERED", T0, "long-relationship", recipient={"name": "X", "relationship": "TETANGGA" * 20}),
    ])
    assert answer.status_code == 200, answer.json
    results = answer.json["results"]
    assert [r["result"] for r in results] == ["applied", "rejected", "rejected", "rejected", "rejected"]
    assert long_status in results[1]["message"] and "tidak dikenal" in results[3]["message"]
    assert item(webhook_app, a).tracking_status == "ACCEPTED" and item(webhook_app, b).tracking_status is None
    with webhook_app.app_context(), unit_of_work() as s:  # listed for staff, each with the event as received
        rows = {r.event_id: r for r in s.scalars(select(RejectedEvent))}
        assert set(rows) == {"long-status", "long-reason", "long-number", "long-relationship"}
        assert json.loads(rows["long-number"].raw)["tracking_number"] == "RB" + "9" * 150 + "ID"
    too_long = post_events(client, [event(a, "X" * 201, T0, "too-long")], msg_id="m2")
    assert too_long.status_code == 400 and "data.events[0].status" in too_long.json["error"]["message"]


def test_final_state_is_never_undone_and_later_events_are_stale(webhook_app, client, numbers, runner):
    n = numbers[0]
    delivered = event(n, "DELIVERED", T0 + dt.timedelta(days=1), "e-del",
                      recipient={"name": "IBU WARGA", "relationship": "FAMILY"},
                      proof={"photo_url": "https://pos/p.jpg", "signature_url": "https://pos/s.png"})
    assert post_events(client, [delivered]).json["results"][0]["result"] == "applied"
    late = post_events(client, [event(n, "OUT_FOR_DELIVERY", T0, "e-early"),
                                event(n, "DELIVERY_FAILED", T0 + dt.timedelta(days=2), "e-after",
                                      reason_code="NOBODY_HOME")]).json["results"]
    assert [r["result"] for r in late] == ["stale", "stale"]
    it = item(webhook_app, n)
    assert (it.tracking_status, it.final, it.recipient_relationship) == ("DELIVERED", True, "FAMILY")
    assert it.attempts == 1  # attempts are counted from every event received
    card = card_of(webhook_app, n)
    assert card.state is CardState.DELIVERED
    assert card.history[-1].actor == "sistem:kurir" and "e-del" in card.history[-1].reason
    # the manifest had five items: not closed until every one is final
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(Manifest.status)) is ManifestStatus.HANDED_OVER


def test_returns_carry_their_reason_and_the_manifest_closes_when_every_item_is_final(webhook_app, client, numbers,
                                                                                    runner):
    events = []
    for i, n in enumerate(numbers):
        if i < 3:
            events.append(event(n, "DELIVERED", T0, f"d{i}", recipient={"name": "X", "relationship": "SELF"}))
        else:
            events += [event(n, "RETURNED", T0, f"r{i}", reason_code="MOVED"),
                       event(n, "RETURN_RECEIVED", T0 + dt.timedelta(days=3), f"rr{i}")]
    post_events(client, events[:-1])
    card = card_of(webhook_app, numbers[4])
    assert card.state is CardState.RETURNING and card.return_reason == "MOVED"
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(Manifest.status)) is ManifestStatus.HANDED_OVER
    post_events(client, events[-1:], msg_id="m2")
    card = card_of(webhook_app, numbers[4])
    assert card.state is CardState.RETURNED and card.return_reason == "MOVED"
    assert [h.to_state for h in card.history][-2:] == [CardState.RETURNING, CardState.RETURNED]
    with webhook_app.app_context(), unit_of_work() as s:
        m = s.scalar(select(Manifest))
        assert m.status is ManifestStatus.CLOSED and m.closed_at is not None
        assert m.events[-1].to_status is ManifestStatus.CLOSED
    data = report(runner)
    assert data["by_state"]["DELIVERED"] == 3 and data["by_state"]["RETURNED"] == 2 and data["balanced"]


def test_a_return_reason_goes_when_the_item_is_delivered_after_all_and_comes_late_only_to_a_returned_item(
        webhook_app, staff, numbers):
    client = staff
    a, b, c = numbers[:3]
    # Returned, then the courier tried again and delivered: the card is delivered, not a return.
    post_events(client, [event(a, "RETURNED", T0, "a1", reason_code="BAD_ADDRESS")], msg_id="m1")
    assert card_of(webhook_app, a).return_reason == "BAD_ADDRESS"
    post_events(client, [event(a, "DELIVERED", T0 + dt.timedelta(days=1), "a2",
                               recipient={"name": "X", "relationship": "SELF"})], msg_id="m2")
    card = card_of(webhook_app, a)
    assert card.state is CardState.DELIVERED and card.return_reason is None
    shown = staff.get(f"/api/v1/tracking/{a}").json
    assert shown["card"]["return_reason"] is None and shown["items"][0]["return_reason_label"] is None
    # A RETURNED dated before a delivery, arriving after it: stale, and no reason on the delivered card or item.
    post_events(client, [event(b, "DELIVERED", T0 + dt.timedelta(days=1), "b1",
                               recipient={"name": "X", "relationship": "SELF"})], msg_id="m3")
    r = post_events(client, [event(b, "RETURNED", T0, "b2", reason_code="MOVED")], msg_id="m4")
    assert r.json["results"][0]["result"] == "stale"
    assert card_of(webhook_app, b).return_reason is None
    assert staff.get(f"/api/v1/tracking/{b}").json["items"][0]["return_reason"] is None
    # The reason of a return arriving after the item came back still reaches the card.
    post_events(client, [event(c, "RETURN_RECEIVED", T0 + dt.timedelta(days=2), "c1")], msg_id="m5")
    post_events(client, [event(c, "RETURNED", T0, "c2", reason_code="DECEASED")], msg_id="m6")
    card = card_of(webhook_app, c)
    assert card.state is CardState.RETURNED and card.return_reason == "DECEASED"
    assert staff.get(f"/api/v1/tracking/{c}").json["items"][0]["return_reason"] == "DECEASED"


def test_delivery_far_from_the_address_is_stored_and_flagged(webhook_app, client, numbers):
    with webhook_app.app_context(), unit_of_work() as s:
        it = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == numbers[0]))
        card = s.get(Card, it.card_id)
        card.lat, card.lng = -6.2671, 107.0291
    far = event(numbers[0], "DELIVERED", T0, "far", location={"post_office": "17510", "lat": -6.30, "lng": 107.06},
                recipient={"name": "X", "relationship": "NEIGHBOUR"})
    near = event(numbers[1], "DELIVERED", T0, "near", location={"post_office": "17510", "lat": -6.2672,
                                                                 "lng": 107.0292})
    assert [r["result"] for r in post_events(client, [far, near]).json["results"]] == ["applied", "applied"]
    flagged = item(webhook_app, numbers[0])
    assert flagged.tracking_status == "DELIVERED" and flagged.delivered_far_km > 4
    assert "km dari alamat" in flagged.flagged
    assert item(webhook_app, numbers[1]).flagged is None  # that card has no geocoded location to compare


def test_same_events_posted_by_many_threads_at_once_are_applied_exactly_once(webhook_app, live_url, numbers,
                                                                              database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrency runs on PostgreSQL")
    events = [event(n, st, T0 + dt.timedelta(hours=h), f"{n}-{st}")
              for n in numbers for h, st in enumerate(["ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY"])]
    events.append(event(numbers[0], "DELIVERED", T0 + dt.timedelta(days=1), "del-0",
                        recipient={"name": "X", "relationship": "SELF"}))
    body = body_of(events)
    barrier = threading.Barrier(8)
    answers: list[list[dict]] = []

    def post(i: int) -> None:
        barrier.wait()
        response = requests.post(live_url + "api/v1/courier/events", data=body,
                                 headers=signed_headers(body, msg_id=f"m{i}"), timeout=30)
        assert response.status_code == 200, response.text
        answers.append(response.json()["results"])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 8
    for position, e in enumerate(events):
        outcomes = [a[position]["result"] for a in answers]
        assert outcomes.count("duplicate") == 7 and outcomes.count("applied") == 1, (e["event_id"], outcomes)
    assert count(webhook_app, TrackingEvent) == len(events)
    with webhook_app.app_context(), unit_of_work() as s:
        # one card history row per card change, not eight
        delivered = s.scalar(select(func.count()).select_from(CardHistory)
                             .where(CardHistory.to_state == CardState.DELIVERED))
        assert delivered == 1
    assert item(webhook_app, numbers[0]).tracking_status == "DELIVERED"
    assert item(webhook_app, numbers[1]).tracking_status == "OUT_FOR_DELIVERY"


def test_delivery_outside_the_kelurahan_polygon_is_flagged(webhook_app, client, numbers):
    from address.models import RegionGeo

    square = {"type": "Polygon", "coordinates": [[[107.02, -6.28], [107.04, -6.28], [107.04, -6.26],
                                                  [107.02, -6.26], [107.02, -6.28]]]}
    with webhook_app.app_context(), unit_of_work() as s:
        s.add(RegionGeo(kode="32.16.06.1001", lat=-6.27, lng=107.03, polygon=json.dumps(square), source="test"))
    inside = event(numbers[0], "DELIVERED", T0, "in", location={"post_office": "17510", "lat": -6.27, "lng": 107.03})
    outside = event(numbers[1], "DELIVERED", T0, "out", location={"post_office": "17510", "lat": -6.25,
                                                                   "lng": 107.03})
    assert [r["result"] for r in post_events(client, [inside, outside]).json["results"]] == ["applied", "applied"]
    assert item(webhook_app, numbers[0]).flagged is None
    assert item(webhook_app, numbers[1]).flagged == "di luar batas kelurahan"
