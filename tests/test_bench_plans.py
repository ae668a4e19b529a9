"""The webhook benchmark's batch plans (`benchmarks/bench_webhook.py`): with `--batch-mix cycle` each measured batch
is 500 items at the four stages of a delivery, 125 each, every event its item's next after the set-up's; with
`--batch-mix status` a round's first batches are all ACCEPTED (what the figures before 2026-12-05 15:37 measured)."""

from __future__ import annotations

import json
import random
from collections import Counter

from benchmarks.bench_webhook import BATCH, STATUSES, batch_posts, cycle_earlier_posts, cycle_posts

ITEMS = [(f"RB{10_000_000 + i:08d}ID", -6.2, 107.0) for i in range(2 * BATCH)]


def _events(posts):
    return [e for _, body in posts for e in json.loads(body)["data"]["events"]]


def test_cycle_batches_hold_the_four_stages_and_each_event_is_its_items_next():
    rng = random.Random(1)
    earlier = _events(cycle_earlier_posts(ITEMS, rng))
    per_thread = cycle_posts(ITEMS, 2, rng)
    measured = [json.loads(body)["data"]["events"] for posts in per_thread for _, body in posts]
    assert [len(b) for b in measured] == [BATCH, BATCH] and len(per_thread[0]) == len(per_thread[1]) == 1
    for batch in measured:
        assert Counter(e["status"] for e in batch) == {s: BATCH // len(STATUSES) for s in STATUSES}
    sent = {}
    for e in earlier + [e for b in measured for e in b]:
        sent.setdefault(e["tracking_number"], []).append(e)
    for number, events in sent.items():
        # Every item's events once each, in the order of its statuses and times, the last one in the measured phase.
        k = len(events) - 1
        assert [e["status"] for e in events] == list(STATUSES[:k + 1]), number
        assert [e["occurred_at"] for e in events] == sorted(e["occurred_at"] for e in events)
        assert len({e["event_id"] for e in events}) == len(events)
    assert {e["event_id"] for b in measured for e in b}.isdisjoint(e["event_id"] for e in earlier)


def test_status_batches_start_with_every_items_accepted():
    per_thread = batch_posts(ITEMS, 2, random.Random(1))
    first = [json.loads(per_thread[t][0][1])["data"]["events"] for t in (0, 1)]
    assert {e["status"] for b in first for e in b} == {"ACCEPTED"}
