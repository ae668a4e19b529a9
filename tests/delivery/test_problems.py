"""The problems view: silent items, repeated failures, far deliveries, rejected events; counts, links, scope."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from tracking import event, handed_over, post_events

from app.cards import Card
from app.db import unit_of_work, utcnow
from app.models import Role
from app.users import create_user
from manifests.models import Manifest, ManifestItem

HOME = (-6.2668, 107.0295)
FIVE_KM_EAST = (-6.2668, 107.0295 + 5 / 110.6)  # ~5 km at this latitude


def other_office_client(app):
    """A client logged in as staff of another office (Kota Bekasi, 32.75)."""
    with app.app_context(), unit_of_work() as s:
        create_user(s, "lain", "sandi-kantor-lain", Role.STAFF, office_code="32.75")
    client = app.test_client()
    assert client.post("/login", data={"username": "lain", "password": "sandi-kantor-lain"}).status_code == 302
    return client


@pytest.fixture
def scenario(webhook_app, staff, runner, tmp_path) -> list[str]:
    """Item 0 silent for 10 days, item 1 failed three times, item 2 delivered 5 km away, items 3-4 just handed over;
    one event for an unknown number and one with a bad reason code."""
    n = handed_over(webhook_app, runner, tmp_path)
    with webhook_app.app_context(), unit_of_work() as s:
        card_id = s.scalar(select(ManifestItem.card_id).where(ManifestItem.tracking_number == n[2]))
        s.execute(update(Card).where(Card.id == card_id).values(lat=HOME[0], lng=HOME[1]))
    now = utcnow()
    far = event(n[2], "DELIVERED", now - dt.timedelta(hours=1), "d2",
                location={"post_office": "17510", "lat": FIVE_KM_EAST[0], "lng": FIVE_KM_EAST[1]},
                recipient={"name": "TETANGGA", "relationship": "NEIGHBOUR"})
    response = post_events(staff, [
        event(n[0], "ACCEPTED", now - dt.timedelta(days=10), "old"),
        *[event(n[1], "DELIVERY_FAILED", now - dt.timedelta(days=3 - i), f"f{i}", attempt=i + 1,
                reason_code="NOBODY_HOME") for i in range(3)],
        far,
        event("RB999999990ID", "ACCEPTED", now, "ghost"),
        event(n[4], "DELIVERY_FAILED", now, "bad", reason_code="DECEASED"),
    ])
    assert [r["result"] for r in response.json["results"]] == ["applied"] * 5 + ["rejected", "rejected"]
    return n


def test_each_list_is_filled_by_its_scenario(webhook_app, staff, scenario):
    n = scenario
    p = staff.get("/api/v1/tracking/problems").json
    assert (p["silent_days"], p["max_attempts"]) == (5, 3)
    assert [r["tracking_number"] for r in p["silent"]["rows"]] == [n[0]] and p["silent"]["count"] == 1
    assert [r["tracking_number"] for r in p["failing"]["rows"]] == [n[1]]
    assert p["failing"]["rows"][0]["attempts"] == 3
    [far] = p["far"]["rows"]
    assert far["tracking_number"] == n[2] and 4.5 < far["delivered_far_km"] < 5.5 and "km dari alamat" in far["flagged"]
    assert [(r["tracking_number"], r["known"]) for r in p["rejected"]["rows"]] == [(n[4], True),
                                                                                  ("RB999999990ID", False)]
    assert "nomor resi tidak dikenal" in p["rejected"]["rows"][1]["message"]

    html = staff.get("/masalah").get_data(as_text=True)
    for number in n[:3]:
        assert f'href="/lacak/{number}"' in html
    assert "RB999999990ID" in html and "nomor resi tidak dikenal" in html and "diperkirakan kembali" in html
    assert f'href="/lacak/{n[4]}"' in html  # a bad code on one of our items links to its timeline


def test_silence_counts_from_the_handover_when_no_event_came_and_limits_follow_config(webhook_app, staff, scenario):
    n = scenario
    with webhook_app.app_context(), unit_of_work() as s:
        s.execute(update(Manifest).values(handed_over_at=utcnow() - dt.timedelta(days=6)))
    p = staff.get("/api/v1/tracking/problems").json
    # Item 3 has no event: silent since the handover; item 4's only event was rejected, so it counts too.
    assert sorted(r["tracking_number"] for r in p["silent"]["rows"]) == sorted([n[0], n[3], n[4]])
    webhook_app.config.update(ANTAR_SILENT_DAYS=7, ANTAR_MAX_ATTEMPTS=4)
    p = staff.get("/api/v1/tracking/problems").json
    assert [r["tracking_number"] for r in p["silent"]["rows"]] == [n[0]] and p["failing"]["count"] == 0


def test_another_office_sees_none_of_our_items(webhook_app, scenario):
    other = other_office_client(webhook_app)
    p = other.get("/api/v1/tracking/problems").json
    assert p["silent"]["count"] == p["failing"]["count"] == p["far"]["count"] == 0
    # An unknown number belongs to no office, so every office sees it; a bad code on our item only we see.
    assert [r["tracking_number"] for r in p["rejected"]["rows"]] == ["RB999999990ID"]
    assert other.get("/masalah").status_code == 200
