"""The courier's signed posts are answered before Flask's request pipeline (delivery.webhook.CourierGate): the same
answers, headers and error handling as every other route, on both backends."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from tracking import WIB, event, handed_over, signed_headers

from app import CONTENT_SECURITY_POLICY, create_app
from app.db import unit_of_work
from delivery import webhook
from delivery.models import TrackingEvent, WebhookMessage

URL = "/api/v1/courier/events"
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


@pytest.fixture
def numbers(webhook_app, runner, tmp_path) -> list[str]:
    return handed_over(webhook_app, runner, tmp_path)


def stored(app, model) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model))


def body_of(events: list[dict]) -> str:
    return json.dumps({"type": "tracking.events", "data": {"events": events}})


def test_a_signed_post_skips_the_request_pipeline_and_keeps_its_headers(webhook_app, client, numbers, monkeypatch):
    pipeline = []
    webhook_app.before_request(lambda: pipeline.append("before"))
    body = body_of([event(numbers[0], "ACCEPTED", T0, "e1")])
    r = client.post(URL, data=body, headers=signed_headers(body))
    assert r.status_code == 200 and r.json == {"results": [{"event_id": "e1", "result": "applied"}]}
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert r.headers["X-Content-Type-Options"] == "nosniff" and r.headers["X-Frame-Options"] == "DENY"
    assert "Set-Cookie" not in r.headers
    assert pipeline == []  # answered by the gate
    # A query string goes the usual way (through the hooks), and is refused there, naming the parameter.
    r = client.post(URL + "?x=1", data=body, headers=signed_headers(body))
    assert r.status_code == 400 and "x" in r.json["error"]["message"] and pipeline == ["before"]
    # So do other methods and paths.
    assert client.get(URL).status_code == 405 and pipeline == ["before", "before"]


def test_errors_are_refused_as_on_every_route(webhook_app, client, numbers, monkeypatch, caplog):
    body = body_of([event(numbers[0], "ACCEPTED", T0, "e1")])
    assert client.post(URL, data=body, headers={"Content-Type": "application/json"}).status_code == 401
    assert client.post(URL, data="{", headers=signed_headers("{")).json["error"]["message"].startswith("JSON")

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(webhook, "apply_batch", broken)
    webhook_app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        r = client.post(URL, data=body, headers=signed_headers(body))
    assert r.status_code == 500 and r.json["error"]["code"] and "Traceback" not in r.get_data(as_text=True)
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert any("boom" in (rec.exc_text or "") or "boom" in str(rec.exc_info) for rec in caplog.records)
    # As with Flask's own dispatch, the error propagates when testing (the suite sees it).
    webhook_app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match="boom"):
        client.post(URL, data=body, headers=signed_headers(body))

    def busy(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(webhook, "apply_batch", busy)
    r = client.post(URL, data=body, headers=signed_headers(body))
    assert r.status_code == 503 and r.headers["Retry-After"] == "5" and r.json["error"]["code"] == "busy"
    assert stored(webhook_app, TrackingEvent) == 0 and stored(webhook_app, WebhookMessage) == 0


def test_a_database_not_migrated_is_503_not_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTAR_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}", "SECRET_KEY": "t",
                      "ANTAR_OFFICE": "32.16", "ANTAR_COURIER_WEBHOOK_SECRETS": "whsec_" + "a2V5" * 8})
    try:
        body = body_of([])
        r = app.test_client().post(URL, data=body, headers=signed_headers(body))
        assert r.status_code == 503 and r.json["error"]["code"] == "not_ready" and r.headers["Retry-After"] == "30"
    finally:
        app.extensions["antar.engine"].dispose()


# --- posts that arrive together are applied together (PostgreSQL) ------------------------------------------------


def _together(live_url: str, posts: list[list[dict]], monkeypatch) -> tuple[list[int], dict[int, list[dict]]]:
    """Post `posts[0]`, and while it is being written all the others at once: (sizes of the groups applied together,
    the results of each post)."""
    import threading

    import requests

    from delivery.service import apply_group

    groups: list[int] = []

    def counted(session, messages, settings, **kw):
        groups.append(len(messages))
        return apply_group(session, messages, settings, **kw)

    monkeypatch.setattr(webhook, "apply_group", counted)
    answers: dict[int, list[dict]] = {}

    def post(i: int) -> None:
        body = body_of(posts[i])
        r = requests.post(live_url + URL.lstrip("/"), data=body, headers=signed_headers(body, msg_id=f"m{i}"),
                          timeout=30)
        assert r.status_code == 200, r.text
        answers[i] = r.json()["results"]

    # The first post is held in the writing thread until all the others wait behind it: they then form one group.
    real_apply, entered = webhook.GROUPS._apply, threading.Event()

    def held_first(group):
        if not entered.is_set():
            entered.set()
            deadline = time.monotonic() + 20
            while webhook.GROUPS._queue.qsize() < len(posts) - 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        real_apply(group)

    monkeypatch.setattr(webhook.GROUPS, "_apply", held_first)
    first = threading.Thread(target=post, args=(0,))
    first.start()
    assert entered.wait(20)
    threads = [threading.Thread(target=post, args=(i,)) for i in range(1, len(posts))]
    for t in threads:
        t.start()
    for t in [first, *threads]:
        t.join()
    return groups, answers


def test_posts_arriving_together_are_one_transaction_with_the_answers_of_one_after_the_other(
        webhook_app, live_url, numbers, database_url, monkeypatch, caplog):
    if not database_url.startswith("postgresql"):
        pytest.skip("posts are grouped on PostgreSQL (SQLite has one writer)")
    caplog.set_level(logging.INFO, logger="antar.delivery")
    a, b, c, d, e = numbers[:5]
    posts = [
        [event(a, "ACCEPTED", T0, "a1")],
        [event(b, "ACCEPTED", T0, "b1"), event(b, "IN_TRANSIT", T0 + dt.timedelta(hours=1), "b2")],
        [event(b, "ACCEPTED", T0, "b1")],  # the same event in another post: applied once
        [event(c, "DELIVERED", T0, "c1", recipient={"name": "SITI", "relationship": "SELF"})],
        [event("RB000000000ID", "ACCEPTED", T0, "x1"), event(d, "ACCEPTED", T0, "d1")],  # one rejected
        [event(e, "RETURNED", T0, "e1", reason_code="MOVED")],
        [event(a, "IN_TRANSIT", T0 + dt.timedelta(hours=2), "a2")],
        [event(c, "OUT_FOR_DELIVERY", T0 - dt.timedelta(hours=1), "c0")],  # before the delivery: stale
    ]
    groups, answers = _together(live_url, posts, monkeypatch)
    assert groups == [len(posts) - 1]  # one transaction for the seven posts that waited
    # ... written by the group's statement, not by the fallback post by post (one rejected event among them, one row
    # of its kind, is written as the group's rows are).
    assert "post by post" not in caplog.text
    result = {x["event_id"] + ":" + str(i): x["result"] for i, found in answers.items() for x in found}
    assert result["a1:0"] == "applied" and result["a2:6"] == "applied"
    assert sorted([result["b1:1"], result["b1:2"]]) == ["applied", "duplicate"] and result["b2:1"] == "applied"
    # Before the delivery: applied if it came first, else stale; the delivery decides either way.
    assert result["c1:3"] == "applied" and result["c0:7"] in ("applied", "stale")
    assert result["x1:4"] == "rejected" and result["d1:4"] == "applied" and result["e1:5"] == "applied"
    with webhook_app.app_context(), unit_of_work() as s:
        # Every post is its own message, and every event and rejected event belongs to the message that carried it.
        assert s.scalar(select(func.count()).select_from(WebhookMessage)) == len(posts)
        rows = s.execute(text("SELECT e.event_id, m.webhook_id, m.body FROM tracking_event e "
                              "JOIN webhook_message m ON m.id = e.message_id")).all()
        assert len(rows) == 8 and all(f'"{event_id}"' in body for event_id, _, body in rows)
        assert {event_id: wid for event_id, wid, _ in rows}["a2"] == "m6"
        [(wid,)] = s.execute(text("SELECT m.webhook_id FROM rejected_event r "
                                  "JOIN webhook_message m ON m.id = r.message_id")).all()
        assert wid == "m4"
        states = dict(s.execute(text("SELECT i.tracking_number, c.state FROM manifest_item i "
                                     "JOIN card c ON c.id = i.card_id")).all())
    assert [states[n] for n in (a, b, c, d, e)] == ["IN_TRANSIT", "IN_TRANSIT", "DELIVERED", "IN_TRANSIT",
                                                    "RETURNING"]


def test_a_group_that_meets_an_event_stored_meanwhile_goes_post_by_post(webhook_app, live_url, numbers, database_url,
                                                                       monkeypatch, caplog):
    if not database_url.startswith("postgresql"):
        pytest.skip("posts are grouped on PostgreSQL (SQLite has one writer)")
    from sqlalchemy.orm import Session

    from delivery.service import apply_group

    a, b = numbers[:2]
    stored_meanwhile = event(a, "ACCEPTED", T0, "a1")
    real = apply_group

    def racing(session, messages, settings, **kw):
        # Another process stores one of the group's events between the group's reading and its write.
        with Session(webhook_app.extensions["antar.engine"]) as other, other.begin():
            from app.courier.tracking import parse_body
            from delivery.service import Settings, apply_batch
            apply_batch(other, "{}", "other", parse_body({"type": "tracking.events", "data": {
                "events": [stored_meanwhile]}}), Settings())
        return real(session, messages, settings, **kw)

    monkeypatch.setattr("delivery.service.apply_group", racing)
    posts = [[event(b, "ACCEPTED", T0, "b0")], [stored_meanwhile], [event(b, "IN_TRANSIT", T0 + dt.timedelta(hours=1),
                                                                         "b1")]]
    groups, answers = _together(live_url, posts, monkeypatch)
    assert groups == [2]  # tried together, then post by post
    assert answers[1] == [{"event_id": "a1", "result": "duplicate"}]
    assert answers[2] == [{"event_id": "b1", "result": "applied"}]
    with webhook_app.app_context(), unit_of_work() as s:
        # Nothing of the failed group stayed: the three posts, the other process's message, one event each.
        assert s.scalar(select(func.count()).select_from(WebhookMessage)) == 4
        assert s.scalar(select(func.count()).select_from(TrackingEvent)) == 3



def _groups_of(linger: float) -> tuple[webhook.PostGroups, list[int], threading.Event, Any]:
    """A PostGroups of its own whose groups are recorded (their sizes) instead of written, each held while `gate` is
    clear; `post()` sends one post from a thread of its own, as a request thread does, and returns that thread."""
    groups = webhook.PostGroups()
    groups.LINGER = linger
    sizes: list[int] = []
    gate = threading.Event()
    gate.set()

    def apply(group):
        sizes.append(len(group))
        gate.wait(20)
        for p in group:
            p.answer = []
            p.done.set()

    groups._apply = apply
    app = object()

    def post() -> threading.Thread:
        t = threading.Thread(target=groups.apply, args=(webhook._Post(app, "{}", "m", [object()], None),))
        t.start()
        return t

    return groups, sizes, gate, post


def _wait_for(condition: Any) -> None:
    deadline = time.monotonic() + 20
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)


def _group_behind_a_held_one(groups: webhook.PostGroups, sizes: list[int], gate: threading.Event, post: Any,
                             n: int) -> None:
    """A post applied alone and held; `n` posts queue behind it and are the next group."""
    gate.clear()
    held = post()
    _wait_for(lambda: groups._queue.qsize() == 0 and sizes)
    others = [post() for _ in range(n)]
    _wait_for(lambda: groups._queue.qsize() == n)
    gate.set()
    for t in [held, *others]:
        t.join(20)


def test_while_posts_come_together_a_group_waits_briefly_for_as_many_as_the_last_had():
    groups, sizes, gate, post = _groups_of(linger=2.0)  # generous: the machine's speed does not matter
    _group_behind_a_held_one(groups, sizes, gate, post, 3)
    assert sizes == [1, 3]
    # The last group had three posts: a post now waits for two more that come a little later, and the three are one
    # group (without the wait, the first would have been a group alone and the two the next).
    first = post()
    time.sleep(0.2)
    rest = [post(), post()]
    for t in [first, *rest]:
        t.join(20)
    assert sizes == [1, 3, 3]


def test_a_post_that_comes_alone_is_applied_at_once_or_after_a_burst_waits_at_most_the_linger():
    groups, sizes, gate, post = _groups_of(linger=0.3)
    started = time.monotonic()
    post().join(20)
    assert sizes == [1] and time.monotonic() - started < 0.25  # the last group (none yet) had one post: no wait
    _group_behind_a_held_one(groups, sizes, gate, post, 2)
    assert sizes == [1, 1, 2]
    started = time.monotonic()
    post().join(20)
    waited = time.monotonic() - started
    assert sizes == [1, 1, 2, 1] and 0.25 <= waited < 2.0  # waited for company, then went alone
