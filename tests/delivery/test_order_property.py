"""Property: for any valid event sequence of an item, any permutation, duplication and batching of its events
ends in the same item state, the same card state and the same timeline as the events posted in order."""

from __future__ import annotations

import datetime as dt

from helpers import card_row
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tracking import WIB, event, handed_over, post_events

from app.cards import Card
from app.courier.tracking import FAILURE_REASONS, RELATIONSHIPS, RETURN_REASONS
from app.db import unit_of_work
from delivery.models import TrackingEvent
from manifests.models import ManifestItem

T0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
EXAMPLES = 40


@st.composite
def sequences(draw) -> list[tuple[str, int, dict]]:
    """(status, minutes after T0, extra fields) in the order the courier lived them; times never go back."""
    steps: list[tuple[str, dict]] = [("ACCEPTED", {}), ("IN_TRANSIT", {}), ("OUT_FOR_DELIVERY", {})]
    for _ in range(draw(st.integers(0, 3))):
        steps += [("DELIVERY_FAILED", {"reason_code": draw(st.sampled_from(FAILURE_REASONS))}),
                  ("OUT_FOR_DELIVERY", {})]
    ending = draw(st.sampled_from(["delivered", "returned", "returning", "open"]))
    if ending == "delivered":
        steps.append(("DELIVERED", {"recipient": {"name": "X", "relationship": draw(st.sampled_from(RELATIONSHIPS))}}))
    elif ending in ("returned", "returning"):
        steps.append(("RETURNED", {"reason_code": draw(st.sampled_from(RETURN_REASONS))}))
        if ending == "returned":
            steps.append(("RETURN_RECEIVED", {}))
    if ending in ("delivered", "returned") and draw(st.booleans()):
        steps.append(("IN_TRANSIT", {}))  # a stray later event after the final one
    cut = draw(st.integers(1, len(steps)))  # a prefix: the item may still be under way
    steps = steps[:cut] if ending == "open" else steps
    minutes, out = 0, []
    for status, extra in steps:
        minutes += draw(st.integers(0, 600))  # 0: two events at the same minute
        out.append((status, minutes, extra))
    return out


@st.composite
def deliveries(draw):
    seq = draw(sequences())
    order = draw(st.permutations(range(len(seq))))
    dups = draw(st.lists(st.integers(0, len(seq) - 1), max_size=4))
    posted = list(order) + dups
    positions = draw(st.permutations(range(len(posted))))
    posted = [posted[p] for p in positions] if dups else posted
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(posted) - 1)), max_size=4))))
    return seq, posted, cuts


def item_state(app, number: str) -> tuple:
    with app.app_context(), unit_of_work() as s:
        it = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))
        card = s.get(Card, it.card_id)
        timeline = [(e.event_id.split(":", 1)[1], e.status, e.occurred_at) for e in s.scalars(
            select(TrackingEvent).where(TrackingEvent.item_id == it.id)
            .order_by(TrackingEvent.occurred_at, TrackingEvent.event_id))]
        return ((it.tracking_status, it.final, it.attempts, it.return_reason, it.last_event_at, it.delivered_at,
                 it.recipient_relationship, it.status_at), (card.state, card.return_reason), sorted(timeline))


def test_any_order_duplication_and_batching_ends_in_the_same_state(webhook_app, client, runner, tmp_path):
    numbers = iter(handed_over(webhook_app, runner, tmp_path, [card_row(i) for i in range(1, 3 * EXAMPLES + 1)]))

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])
    @given(deliveries())
    def check(case):
        seq, posted, cuts = case
        in_order, shuffled = next(numbers), next(numbers)

        def events_for(number: str, indexes: list[int]) -> list[dict]:
            return [event(number, seq[i][0], T0 + dt.timedelta(minutes=seq[i][1]), f"{number}:{i}", **seq[i][2])
                    for i in indexes]

        for e in events_for(in_order, list(range(len(seq)))):
            assert post_events(client, [e]).status_code == 200
        batch, start = events_for(shuffled, posted), 0
        for end in [*cuts, len(batch)]:
            if end > start:
                response = post_events(client, batch[start:end], msg_id=f"m{start}")
                assert response.status_code == 200
                assert "rejected" not in {r["result"] for r in response.json["results"]}
                start = end
        assert item_state(webhook_app, in_order) == item_state(webhook_app, shuffled)

    check()
