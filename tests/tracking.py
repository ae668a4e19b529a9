"""Helpers for tests of tracking: secrets, signed webhook posts, events, handed-over items.

A module of its own (not conftest.py), so that tests import it by a name no other file shares.
"""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskClient
from helpers import card_row, write_csv
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Office
from courier_sim.server import CourierSimulator
from manifests import handover
from manifests.models import Manifest, ManifestItem

SECRET = "whsec_" + "c2VjcmV0LWtleS1vbmUtMzItYnl0ZXMtbG9uZy0tLS0="
OTHER_SECRET = "whsec_" + "c2Vjb25kLWtleS1mb3Itcm90YXRpb24tMzItYnl0ZXM="
TOKEN = "tok"
WIB = dt.timezone(dt.timedelta(hours=7))


def signed_headers(body: str, secret: str = SECRET, msg_id: str = "msg_1",
                   when: dt.datetime | None = None) -> dict[str, str]:
    when = when or dt.datetime.now(dt.UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, when, body), "Content-Type": "application/json"}


def post_events(client: FlaskClient, events: list[dict], secret: str = SECRET, msg_id: str = "msg_1"):
    body = json.dumps({"type": "tracking.events", "data": {"events": events}})
    return client.post("/api/v1/courier/events", data=body, headers=signed_headers(body, secret, msg_id))


def event(tracking_number: str, status: str, at: dt.datetime, event_id: str, **extra) -> dict:
    e = {"event_id": event_id, "tracking_number": tracking_number, "status": status,
         "occurred_at": at.astimezone(WIB).isoformat(timespec="seconds"),
         "location": {"post_office": "17510", "lat": None, "lng": None}, "attempt": 1, "reason_code": None,
         "recipient": None, "proof": None, "courier_id": "PTR-0192"}
    e.update(extra)
    return e


def handed_over(app: Flask, runner, tmp_path, rows: list[dict] | None = None, sim: CourierSimulator | None = None,
                ) -> list[str]:
    """Import cards, build and finalize a manifest and hand it to a simulator; the tracking numbers."""
    from helpers import cli

    rows = rows or [card_row(i) for i in range(1, 6)]
    assert cli(runner, "import", str(write_csv(tmp_path / "handover.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    own = sim is None
    sim = sim or CourierSimulator(api_token=TOKEN).start()
    try:
        with app.app_context():
            with unit_of_work() as s:
                ids = list(s.scalars(select(Manifest.id).where(Manifest.status == "FINALIZED")))
                code = s.scalar(select(Office.code))
            for mid in ids:
                assert handover.hand_over(code, mid, handover.Actor("t"), CourierClient(sim.url, TOKEN)).answer.ok
            with unit_of_work() as s:
                return list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.active)
                                      .order_by(ManifestItem.id)))
    finally:
        if own:
            sim.stop()
