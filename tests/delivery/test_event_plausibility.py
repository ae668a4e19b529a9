"""Courier events that cannot corrupt state: a clock in the future, an event_id reused for another event, and
malformed values are refused with the field named (400) or `rejected` with the reason, never a 500."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select
from tracking import event, handed_over, post_events, signed_headers

from app.db import unit_of_work
from delivery.models import RejectedEvent
from manifests.models import ManifestItem

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
    result = other.json["results"][0]
    assert result["result"] == "rejected" and "konflik" in result["message"]
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
