"""How a batch is written (delivery.service.apply_batch): on PostgreSQL in one statement after the items' lock, and,
when an event of the batch was stored before, taken back and folded again knowing which; the same answers, rows,
history and dashboard counts on both databases."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from helpers import card_row
from sqlalchemy import func, select, text
from tracking import WIB, event, handed_over, post_events

from app import tally
from app.cards import Card, CardHistory, CardState
from app.courier.tracking import parse_body
from app.db import unit_of_work
from delivery.models import RejectedEvent, TrackingEvent, WebhookMessage
from delivery.service import Settings, apply_batch
from manifests.models import ManifestItem

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


def _state(app, number: str) -> tuple[ManifestItem, Card, list[CardHistory]]:
    with app.app_context(), unit_of_work() as s:
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == number))
        card = s.get(Card, item.card_id)
        history = list(s.scalars(select(CardHistory).where(CardHistory.card_id == card.id).order_by(CardHistory.id)))
        return item, card, history


def test_a_batch_with_events_stored_before_is_folded_knowing_which(webhook_app, client, runner, tmp_path):
    a, b, c = handed_over(webhook_app, runner, tmp_path)[:3]
    first = post_events(client, [event(a, "ACCEPTED", T0, "a-acc"), event(b, "ACCEPTED", T0, "b-acc")])
    assert [r["result"] for r in first.json["results"]] == ["applied", "applied"]
    mixed = post_events(client, [
        event(a, "ACCEPTED", T0, "a-acc"),  # stored before: a duplicate
        event(a, "OUT_FOR_DELIVERY", T0 + dt.timedelta(hours=2), "a-ofd"),
        event(b, "DELIVERY_FAILED", T0 + dt.timedelta(hours=3), "b-acc", reason_code="NOBODY_HOME"),  # its id taken
        event(c, "RETURNED", T0 + dt.timedelta(hours=1), "c-ret", reason_code="MOVED"),
    ], msg_id="msg_2").json["results"]
    assert [r["result"] for r in mixed] == ["duplicate", "applied", "duplicate", "applied"]  # b-acc: its id taken
    with webhook_app.app_context(), unit_of_work() as s:
        messages = dict(s.execute(select(TrackingEvent.event_id, TrackingEvent.message_id)).all())
        second = s.scalar(select(WebhookMessage.id).where(WebhookMessage.webhook_id == "msg_2"))
        assert set(messages) == {"a-acc", "b-acc", "a-ofd", "c-ret"}  # each event once, none left from a first try
        assert messages["a-ofd"] == messages["c-ret"] == second != messages["a-acc"]
        assert s.scalar(select(func.count()).select_from(WebhookMessage)) == 2
        [rejected] = s.scalars(select(RejectedEvent)).all()
        assert (rejected.event_id, rejected.message_id) == ("b-acc", second)
        office_id = s.scalar(select(Card.office_id))
        assert tally.differences(s, office_id) == []  # every card move counted once by the triggers
    item_a, card_a, history_a = _state(webhook_app, a)
    assert (item_a.tracking_status, item_a.status_event_id, card_a.state) == ("OUT_FOR_DELIVERY", "a-ofd",
                                                                              CardState.IN_TRANSIT)
    assert [h.to_state for h in history_a].count(CardState.IN_TRANSIT) == 1
    item_b, card_b, _ = _state(webhook_app, b)
    assert (item_b.attempts, item_b.tracking_status) == (0, "ACCEPTED")  # the conflicting event changed nothing
    item_c, card_c, history_c = _state(webhook_app, c)
    assert (card_c.state, card_c.return_reason, item_c.return_reason) == (CardState.RETURNING, "MOVED", "MOVED")
    assert history_c[-1].from_state is CardState.WITH_COURIER and "event c-ret" in history_c[-1].reason
    assert history_c[-1].actor == "sistem:kurir"
    again = post_events(client, [event(a, "OUT_FOR_DELIVERY", T0 + dt.timedelta(hours=2), "a-ofd"),
                                 event(c, "RETURNED", T0 + dt.timedelta(hours=1), "c-ret", reason_code="MOVED")],
                        msg_id="msg_2").json["results"]
    assert [r["result"] for r in again] == ["duplicate", "duplicate"]
    assert [h.id for h in _state(webhook_app, c)[2]] == [h.id for h in history_c]


def test_one_batch_moves_cards_to_different_states_and_counts_them_once(webhook_app, client, runner, tmp_path):
    """Cards of one batch move with and without a return reason: one statement of card moves on PostgreSQL."""
    numbers = handed_over(webhook_app, runner, tmp_path)[:4]
    results = post_events(client, [
        event(numbers[0], "ACCEPTED", T0, "m-0"),
        event(numbers[1], "RETURNED", T0, "m-1", reason_code="DECEASED"),
        event(numbers[2], "DELIVERED", T0, "m-2", recipient={"name": "SITI", "relationship": "SELF"}),
        event(numbers[3], "RETURN_RECEIVED", T0, "m-3"),
    ]).json["results"]
    assert {r["result"] for r in results} == {"applied"}
    states = [_state(webhook_app, n)[1] for n in numbers]
    assert [c.state for c in states] == [CardState.IN_TRANSIT, CardState.RETURNING, CardState.DELIVERED,
                                         CardState.RETURNED]
    assert [c.return_reason for c in states] == [None, "DECEASED", None, None]
    with webhook_app.app_context(), unit_of_work() as s:
        assert tally.differences(s, states[0].office_id) == []


def test_an_event_that_changes_no_indexed_column_updates_its_item_in_place(webhook_app, client, runner, tmp_path):
    """PostgreSQL (migration 0020): no index of `manifest_item` depends on its tracking status, and its pages keep
    room, so an IN_TRANSIT writes a new version of each item on its page without touching an index (a HOT update)."""
    if webhook_app.extensions["antar.engine"].dialect.name != "postgresql":
        pytest.skip("heap-only updates are PostgreSQL's")
    numbers = handed_over(webhook_app, runner, tmp_path)
    assert {r["result"] for r in post_events(client, [event(n, "ACCEPTED", T0, f"{n}-acc")
                                                      for n in numbers]).json["results"]} == {"applied"}
    body = {"type": "tracking.events", "data": {"events": [
        event(n, "IN_TRANSIT", T0 + dt.timedelta(hours=1), f"{n}-it") for n in numbers]}}
    with webhook_app.app_context(), unit_of_work() as s:
        results = apply_batch(s, json.dumps(body), "msg_it", parse_body(body), Settings.from_config(webhook_app.config))
        assert {r["result"] for r in results} == {"applied"}
        updated, in_place = _item_updates(s)
    assert updated == len(numbers) and in_place == updated
    assert {_state(webhook_app, n)[0].tracking_status for n in numbers} == {"IN_TRANSIT"}


def _item_updates(s) -> tuple[int, int]:
    return s.execute(text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                          "WHERE relid = 'manifest_item'::regclass")).one()


def test_a_batch_over_every_item_of_its_pages_updates_them_in_place(webhook_app, client, runner, tmp_path):
    """PostgreSQL (migration 0022): a manifest's items lie together, and one batch moves all of them: their pages keep
    room for a new version of each of their items at once. The first event of each item (ACCEPTED, the version that
    grows most) stays on its page for (nearly) every item; with room for a few (0020's 15%) most went elsewhere."""
    if webhook_app.extensions["antar.engine"].dialect.name != "postgresql":
        pytest.skip("heap-only updates are PostgreSQL's")
    numbers = handed_over(webhook_app, runner, tmp_path, rows=[card_row(i) for i in range(1, 301)])
    with webhook_app.app_context(), unit_of_work() as s:
        pages = s.scalar(text("SELECT count(DISTINCT (ctid::text::point)[0]) FROM manifest_item"))
    assert len(numbers) == 300 and pages >= 3  # the test is about whole pages of items
    body = {"type": "tracking.events", "data": {"events": [
        event(n, "ACCEPTED", T0 + dt.timedelta(minutes=k), f"{n}-acc") for k, n in enumerate(numbers)]}}
    with webhook_app.app_context(), unit_of_work() as s:
        settings = Settings.from_config(webhook_app.config)
        results = apply_batch(s, json.dumps(body), "msg_acc", parse_body(body), settings)
        assert {r["result"] for r in results} == {"applied"}
        updated, in_place = _item_updates(s)
    assert updated == len(numbers) and in_place >= 0.9 * updated, (updated, in_place)
    assert {_state(webhook_app, n)[0].tracking_status for n in numbers} == {"ACCEPTED"}


def test_the_items_pages_keep_room_for_every_event_of_a_delivery_not_only_the_first(webhook_app, client, runner,
                                                                                       tmp_path):
    """PostgreSQL (migration 0028): after its first events an item's row is about twice as long as when its manifest
    was built, and later batches move all the items of a page again. Each of them still stays on its page for
    (nearly) every item; with room for the first event only (0022's 60%) about half went elsewhere from the
    second on, each writing an entry into every index of the item."""
    if webhook_app.extensions["antar.engine"].dialect.name != "postgresql":
        pytest.skip("heap-only updates are PostgreSQL's")
    numbers = handed_over(webhook_app, runner, tmp_path, rows=[card_row(i) for i in range(1, 301)])
    shares = []
    for k, status in enumerate(("ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY")):
        body = {"type": "tracking.events", "data": {"events": [
            event(n, status, T0 + dt.timedelta(hours=k, minutes=i), f"{n}-{k}") for i, n in enumerate(numbers)]}}
        with webhook_app.app_context(), unit_of_work() as s:
            # The counts of the transactions before may not be flushed yet (PostgreSQL 15 flushes them at most once
            # a second): this batch's are the difference.
            updated_before, in_place_before = _item_updates(s)
            results = apply_batch(s, json.dumps(body), f"msg_{k}", parse_body(body),
                                  Settings.from_config(webhook_app.config))
            assert {r["result"] for r in results} == {"applied"}
            updated, in_place = _item_updates(s)
        assert updated - updated_before == len(numbers)
        shares.append((in_place - in_place_before) / len(numbers))
    assert min(shares) >= 0.9, shares
    assert {_state(webhook_app, n)[0].tracking_status for n in numbers} == {"OUT_FOR_DELIVERY"}


def test_a_group_with_one_new_event_and_one_rejected_is_written_by_its_one_statement(webhook_app, runner, tmp_path):
    """PostgreSQL (`apply_group`): the group's statement takes its rows as JSON arrays, also when only one event of
    the group is new (the other message repeats it) and one is rejected; a single row was once sent as a VALUES
    row's parameters, which that statement does not read, and the group fell back to post by post."""
    if webhook_app.extensions["antar.engine"].dialect.name != "postgresql":
        pytest.skip("groups are PostgreSQL's")
    from delivery.service import apply_group

    [number] = handed_over(webhook_app, runner, tmp_path)[:1]
    first = [event(number, "ACCEPTED", T0, "g-acc")]
    second = [event(number, "ACCEPTED", T0, "g-acc"), event("RB000000000ID", "ACCEPTED", T0, "g-unknown")]
    messages = [(json.dumps(m), f"msg_g{k}", parse_body({"type": "tracking.events", "data": {"events": m}}))
                for k, m in enumerate((first, second))]
    with webhook_app.app_context(), unit_of_work() as s:
        answers = apply_group(s, messages, Settings.from_config(webhook_app.config))
    assert [[r["result"] for r in a] for a in answers] == [["applied"], ["duplicate", "rejected"]]
    with webhook_app.app_context(), unit_of_work() as s:
        stored = s.execute(select(TrackingEvent.event_id, WebhookMessage.webhook_id)
                           .join(WebhookMessage, WebhookMessage.id == TrackingEvent.message_id)).all()
        rejected = s.execute(select(RejectedEvent.event_id, WebhookMessage.webhook_id)
                             .join(WebhookMessage, WebhookMessage.id == RejectedEvent.message_id)).all()
    assert [tuple(r) for r in stored] == [("g-acc", "msg_g0")]
    assert [tuple(r) for r in rejected] == [("g-unknown", "msg_g1")]
    assert _state(webhook_app, number)[0].tracking_status == "ACCEPTED"


def test_a_batch_body_is_stored_as_received_and_compressed_with_lz4(webhook_app, client, runner, tmp_path):
    """PostgreSQL (migration 0025): a message body large enough to be compressed is compressed with LZ4, not the
    server's slower default, and reads back exactly as the courier sent it."""
    if webhook_app.extensions["antar.engine"].dialect.name != "postgresql":
        pytest.skip("column compression is PostgreSQL's")
    numbers = handed_over(webhook_app, runner, tmp_path, rows=[card_row(i) for i in range(1, 21)])
    events = [event(n, "ACCEPTED", T0 + dt.timedelta(minutes=k), f"{n}-acc") for k, n in enumerate(numbers)]
    answer = post_events(client, events, msg_id="msg_lz4")
    assert answer.status_code == 200 and {r["result"] for r in answer.json["results"]} == {"applied"}
    sent = json.dumps({"type": "tracking.events", "data": {"events": events}})
    assert len(sent) > 4000  # over the size at which PostgreSQL compresses a value
    with webhook_app.app_context(), unit_of_work() as s:
        body, method = s.execute(text("SELECT body, pg_column_compression(body) FROM webhook_message "
                                      "WHERE webhook_id = 'msg_lz4'")).one()
    assert body == sent
    assert method == "lz4"
