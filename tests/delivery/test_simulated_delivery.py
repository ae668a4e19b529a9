"""End to end over real HTTP: manifests handed to the simulator, which posts signed events to our endpoint."""

from __future__ import annotations

import datetime as dt

from helpers import card_row, report
from sqlalchemy import func, select
from tracking import SECRET, TOKEN, handed_over

from app.db import unit_of_work
from courier_sim.server import CourierSimulator
from delivery.models import TrackingEvent
from manifests.models import Manifest, ManifestStatus


def test_simulator_plays_every_item_to_a_final_state_through_our_endpoint(webhook_app, live_url, runner, tmp_path):
    rows = [card_row(i) for i in range(1, 41)]
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    outcomes = {"delivered": 0.6, "delivered_after_failures": 0.2, "returned": 0.2}
    with CourierSimulator(api_token=TOKEN, webhook_url=live_url + "api/v1/courier/events", webhook_secret=SECRET,
                          seed=3, start=start, duplicate_share=0.2, late_share=0.2, outcomes=outcomes) as sim:
        numbers = handed_over(webhook_app, runner, tmp_path, rows, sim)
        sim.play_all()
        assert not sim.failed_messages
        results = {r["result"] for r in sim.results}
        assert "duplicate" in results and "rejected" not in results
        expected = {n: str(sim.item_state(n)) for n in numbers}
    data = report(runner)
    delivered = sum(1 for s in expected.values() if s == "DELIVERED")
    returned = sum(1 for s in expected.values() if s == "RETURN_RECEIVED")
    assert delivered + returned == 40
    assert data["by_state"]["DELIVERED"] == delivered and data["by_state"]["RETURNED"] == returned
    assert data["balanced"]
    with webhook_app.app_context(), unit_of_work() as s:
        stored = s.scalar(select(func.count()).select_from(TrackingEvent))
        assert stored == len({e["event_id"] for e in sim.events_sent})
        assert {m.status for m in s.scalars(select(Manifest))} == {ManifestStatus.CLOSED}
