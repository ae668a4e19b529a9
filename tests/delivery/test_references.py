"""The references of courier events and card history hold on both databases: an event must name an existing item
and message, a history row an existing card and user, and a referenced row cannot be deleted, renumbered or
truncated away while rows refer to it. SQLite checks them as foreign keys; PostgreSQL once per statement with
triggers (migration 0027), with the same error class (IntegrityError, SQLSTATE 23503 on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from helpers import make_user
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError, NotSupportedError, OperationalError
from tracking import WIB, event, handed_over, post_events

from app.cards import Card, CardHistory, CardState
from app.db import unit_of_work
from app.models import Role, User
from delivery.models import TrackingEvent, WebhookMessage
from manifests.models import ManifestItem

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


def _posted(app, runner, tmp_path, client) -> tuple[int, int, int]:
    """One applied event: its item's id, its message's id and its card's id."""
    number = handed_over(app, runner, tmp_path)[0]
    assert post_events(client, [event(number, "ACCEPTED", T0, "ref-acc")]).json["results"][0]["result"] == "applied"
    with app.app_context(), unit_of_work() as s:
        e = s.scalar(select(TrackingEvent).where(TrackingEvent.event_id == "ref-acc"))
        return e.item_id, e.message_id, s.get(ManifestItem, e.item_id).card_id


def _event_row(item_id: int, message_id: int, event_id: str) -> dict:
    return {"event_id": event_id, "item_id": item_id, "message_id": message_id, "tracking_number": "RB000000000ID",
            "status": "IN_TRANSIT", "occurred_at": T0, "occurred_offset": "+07:00", "received_at": T0,
            "result": "applied"}


def _history_row(card_id: int, user_id: int | None) -> dict:
    return {"card_id": card_id, "from_state": CardState.IN_TRANSIT, "to_state": CardState.IN_TRANSIT, "at": T0,
            "actor": "test", "user_id": user_id, "reason": "test"}


def _refused(app, statement, rows=None) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught, app.app_context(), unit_of_work() as s:
        s.execute(statement, rows) if rows is not None else s.execute(statement)
    return caught.value


def test_an_event_or_history_row_naming_what_does_not_exist_is_refused_and_nothing_is_written(
        webhook_app, client, runner, tmp_path):
    item_id, message_id, card_id = _posted(webhook_app, runner, tmp_path, client)
    make_user(webhook_app, "staf", Role.STAFF)
    good = _event_row(item_id, message_id, "ref-ok")
    # One row of many with a missing item or message: the whole statement is refused, the good row with it.
    for bad in (_event_row(item_id + 1000, message_id, "ref-bad"), _event_row(item_id, message_id + 1000, "ref-bad")):
        error = _refused(webhook_app, insert(TrackingEvent), [good, bad])
        if webhook_app.extensions["antar.engine"].dialect.name == "postgresql":
            assert error.orig.diag.sqlstate == "23503"
            assert "tracking_event" in str(error.orig) and "is not present" in str(error.orig)
    _refused(webhook_app, insert(CardHistory), [_history_row(card_id, None), _history_row(card_id + 1000, None)])
    _refused(webhook_app, insert(CardHistory), [_history_row(card_id, 99_999)])
    # A reference changed to a missing row.
    _refused(webhook_app,
             update(TrackingEvent).where(TrackingEvent.event_id == "ref-acc").values(item_id=item_id + 1000))
    _refused(webhook_app, update(CardHistory).where(CardHistory.card_id == card_id).values(card_id=card_id + 1000))
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalars(select(TrackingEvent.event_id)).all() == ["ref-acc"]
        assert s.scalar(select(TrackingEvent.item_id)) == item_id
        # What exists is accepted: the rows above with their good references, a user, no user.
        user_id = s.scalar(select(User.id).where(User.username == "staf"))
        s.execute(insert(TrackingEvent), [good])
        s.execute(insert(CardHistory), [_history_row(card_id, None), _history_row(card_id, user_id)])


def test_a_referenced_item_message_card_or_user_cannot_be_deleted_or_renumbered(webhook_app, client, runner,
                                                                                  tmp_path):
    item_id, message_id, card_id = _posted(webhook_app, runner, tmp_path, client)
    make_user(webhook_app, "staf", Role.STAFF)
    with webhook_app.app_context(), unit_of_work() as s:
        user_id = s.scalar(select(User.id).where(User.username == "staf"))
        s.execute(insert(CardHistory), [_history_row(card_id, user_id)])
    for statement in (delete(ManifestItem).where(ManifestItem.id == item_id),
                      delete(WebhookMessage).where(WebhookMessage.id == message_id),
                      delete(User).where(User.id == user_id),
                      update(ManifestItem).where(ManifestItem.id == item_id).values(id=item_id + 1000),
                      update(WebhookMessage).where(WebhookMessage.id == message_id).values(id=message_id + 1000),
                      update(Card).where(Card.id == card_id).values(id=card_id + 1000)):
        error = _refused(webhook_app, statement)
        if webhook_app.extensions["antar.engine"].dialect.name == "postgresql":
            assert error.orig.diag.sqlstate == "23503" and "still referenced" in str(error.orig)
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.get(ManifestItem, item_id) is not None and s.get(WebhookMessage, message_id) is not None
        assert s.get(Card, card_id) is not None and s.get(User, user_id) is not None
        # Once nothing refers to them, they go.
        s.execute(delete(TrackingEvent))
        s.execute(delete(WebhookMessage).where(WebhookMessage.id == message_id))
        s.execute(delete(CardHistory).where(CardHistory.user_id == user_id))
        s.execute(update(CardHistory).where(CardHistory.card_id == card_id).values(user_id=None))
        assert s.get(WebhookMessage, message_id) is None


def _pg(app) -> sa.Engine:
    engine = app.extensions["antar.engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's statement-level checks (migration 0027)")
    return engine


def test_a_referenced_table_is_truncated_only_with_the_table_referring_to_it(webhook_app, client, runner, tmp_path):
    engine = _pg(webhook_app)
    _posted(webhook_app, runner, tmp_path, client)
    with pytest.raises(NotSupportedError, match="cannot truncate a table referenced"), engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE webhook_message")
    with engine.begin() as conn:
        assert conn.scalar(select(func.count()).select_from(WebhookMessage)) == 1
        conn.exec_driver_sql("TRUNCATE webhook_message, tracking_event, rejected_event")
        assert conn.scalar(select(func.count()).select_from(TrackingEvent)) == 0


def test_a_delete_under_repeatable_read_is_refused_as_it_cannot_see_later_references(webhook_app, client, runner,
                                                                                       tmp_path):
    engine = _pg(webhook_app)
    item_id, message_id, _ = _posted(webhook_app, runner, tmp_path, client)
    with pytest.raises(OperationalError, match="READ COMMITTED or SERIALIZABLE"), \
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        conn.execute(delete(WebhookMessage).where(WebhookMessage.id == message_id + 1000))
    with engine.connect().execution_options(isolation_level="SERIALIZABLE") as conn, conn.begin():
        conn.execute(delete(WebhookMessage).where(WebhookMessage.id == message_id + 1000))  # nothing referenced


def test_an_item_deleted_while_an_event_for_it_is_written_is_refused_one_way_or_the_other(webhook_app, client,
                                                                                         runner, tmp_path):
    """The event's check locks its item (FOR KEY SHARE), as a foreign key's does: a delete of the item waits for the
    event's transaction and then sees the event; an event written after the delete committed finds no item."""
    engine = _pg(webhook_app)
    item_id, message_id, _ = _posted(webhook_app, runner, tmp_path, client)
    with engine.begin() as conn:
        conn.execute(delete(TrackingEvent))  # the item is referenced only by the event written below
    writer = engine.connect()
    tx = writer.begin()
    writer.execute(insert(TrackingEvent), [_event_row(item_id, message_id, "ref-race")])
    outcome: dict[str, BaseException | None] = {}

    def remove() -> None:
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SET lock_timeout = '20s'"))
                conn.execute(delete(ManifestItem).where(ManifestItem.id == item_id))
            outcome["delete"] = None
        except BaseException as exc:  # noqa: BLE001 - reported below
            outcome["delete"] = exc

    thread = threading.Thread(target=remove)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # waiting on the event's lock of its item
    tx.commit()
    writer.close()
    thread.join(30)
    assert isinstance(outcome["delete"], IntegrityError), outcome
    with engine.begin() as conn:
        assert conn.scalar(select(func.count()).select_from(ManifestItem).where(ManifestItem.id == item_id)) == 1
        assert conn.scalar(select(TrackingEvent.item_id).where(TrackingEvent.event_id == "ref-race")) == item_id
