"""The courier webhook's connections have no pre-ping (app.db.retried_transaction): a connection that broke while it
sat in the pool is found by the request's first statement, and the request is run again, once, on a fresh
connection; nothing is retried once the commit was sent."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from tracking import WIB, event, handed_over, post_events

from app.cards import Card, CardState
from app.db import ConnectionLost, retried_transaction, unit_of_work
from delivery.models import TrackingEvent, WebhookMessage
from manifests.models import ManifestItem

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


def _postgresql(app) -> sa.Engine:
    engine = app.extensions["antar.lean_engine"]
    if engine.dialect.name != "postgresql":
        pytest.skip("connections are a PostgreSQL matter (SQLite has no server to lose)")
    return engine


def _kill_pooled_connections(lean: sa.Engine, url: str) -> int:
    """Terminate, on the server, the backends of the connections waiting in the webhook's pool."""
    pids = []
    held = [lean.connect() for _ in range(lean.pool.checkedin())]
    for c in held:
        pids.append(c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
        c.rollback()
    for c in held:
        c.close()
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        for pid in pids:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    admin.dispose()
    return len(pids)


def test_a_post_on_a_connection_the_server_closed_is_retried_on_a_fresh_one(webhook_app, client, runner, tmp_path):
    a, b = handed_over(webhook_app, runner, tmp_path)[:2]
    lean = _postgresql(webhook_app)
    assert not lean.pool._pre_ping and webhook_app.extensions["antar.engine"].pool._pre_ping
    assert post_events(client, [event(a, "ACCEPTED", T0, "a-acc")]).json["results"][0]["result"] == "applied"
    assert _kill_pooled_connections(lean, webhook_app.config["DATABASE_URL"]) >= 1
    r = post_events(client, [event(b, "ACCEPTED", T0, "b-acc"), event(a, "IN_TRANSIT", T0 + dt.timedelta(hours=1),
                                                                    "a-tr")], msg_id="msg_2")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert lean.pool._invalidate_time > 0  # the broken connection was met (and the pool's old ones recycled)
    assert [x["result"] for x in r.json["results"]] == ["applied", "applied"]
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(TrackingEvent)) == 3
        assert s.scalar(select(func.count()).select_from(WebhookMessage)) == 2  # the first try left nothing
        item = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == a))
        assert (item.tracking_status, s.get(Card, item.card_id).state) == ("IN_TRANSIT", CardState.IN_TRANSIT)
    # The same message again: duplicates, on the pool's connections as they are now.
    again = post_events(client, [event(b, "ACCEPTED", T0, "b-acc")], msg_id="msg_2")
    assert again.json["results"][0]["result"] == "duplicate"


def test_every_pooled_connection_broken_still_one_retry(webhook_app, client, runner, tmp_path):
    """Several broken connections in the pool (the server restarted): the first failure recycles them all, so the
    one retry gets a new connection rather than the next broken one."""
    numbers = handed_over(webhook_app, runner, tmp_path)[:3]
    lean = _postgresql(webhook_app)
    with webhook_app.app_context():
        held = [lean.connect() for _ in range(3)]  # three connections into the pool
        for c in held:
            c.exec_driver_sql("SELECT 1")
            c.rollback()
        for c in held:
            c.close()
    assert _kill_pooled_connections(lean, webhook_app.config["DATABASE_URL"]) == 3
    for n, number in enumerate(numbers):
        r = post_events(client, [event(number, "ACCEPTED", T0, f"e-{n}")], msg_id=f"m-{n}")
        assert r.status_code == 200 and r.json["results"][0]["result"] == "applied", r.get_data(as_text=True)


def test_retried_transaction_retries_only_a_lost_connection_before_the_commit(app):
    calls = []

    def lost_once(session):
        calls.append(session)
        if len(calls) == 1:
            raise ConnectionLost("server closed the connection unexpectedly")
        return "ok"

    with app.app_context():
        assert retried_transaction(lost_once) == "ok" and len(calls) == 2
        calls.clear()

        def always_lost(session):
            calls.append(session)
            raise ConnectionLost("gone")

        with pytest.raises(ConnectionLost):
            retried_transaction(always_lost)
        assert len(calls) == 2  # once more only
        calls.clear()

        def fails(session):
            calls.append(session)
            raise ValueError("a bug, not a connection")

        with pytest.raises(ValueError):
            retried_transaction(fails)
        assert len(calls) == 1


def test_a_connection_lost_during_the_commit_is_not_retried(app, monkeypatch):
    """Whether a commit whose answer never came committed is unknown: the error goes to the courier (who sends the
    message again; its events are then duplicates), the work is not run twice here."""
    from sqlalchemy.orm import Session

    calls = []

    def broken_commit(self):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection unexpectedly"),
                                      connection_invalidated=True)

    monkeypatch.setattr(Session, "commit", broken_commit)
    with app.app_context(), pytest.raises(sa.exc.OperationalError):
        retried_transaction(lambda session: calls.append(session))
    assert len(calls) == 1


def test_a_database_that_stays_unreachable_is_a_503_to_retry_later(webhook_app, client, monkeypatch):
    import delivery.webhook

    def lost(work):
        raise ConnectionLost("connection refused")

    monkeypatch.setattr(delivery.webhook, "retried_transaction", lost)
    r = post_events(client, [event("RB000000001ID", "ACCEPTED", T0, "x-1")])
    assert r.status_code == 503 and "kirim ulang" in r.json["error"]["message"]
