"""A crash of the real server (SIGKILL of the whole `antar serve` process group) while the courier posts events, with
either worker class (threads, or gevent's greenlets): every batch that got a 200 is stored, no batch is half stored,
and once the courier has re-posted everything (the contract: it retries anything without a 200) every event is
stored exactly once and every item ends where its events lead. PostgreSQL only: `antar serve` runs several gunicorn
workers, which SQLite is not meant for.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from helpers import card_row, write_csv
from standardwebhooks.webhooks import Webhook

from app import create_app
from app.cards import Actor, CardState
from app.courier.client import CourierClient
from app.courier.tracking import FINAL, RANK
from app.db import make_engine, unit_of_work
from app.migrate import upgrade
from app.offices import ensure_office
from courier_sim.server import CourierSimulator
from delivery.service import CARD_STATE_OF
from manifests import handover
from manifests.intake.service import import_print_run
from manifests.service import TrackingRange, build_manifests

# The same database as tests/conftest.py (not imported: `conftest` may name another directory's module here).
PG_URL = os.environ.get("ANTAR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
OFFICE = "32.16"
SECRET = "whsec_" + "Y3Jhc2gtdGVzdC1rZXktMzItYnl0ZXMtbG9uZy0tLS0="
ITEMS = 300
WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
# gevent workers need Redis for background jobs (`antar serve --worker-class gevent`); none run here.
REDIS_URL = "redis://127.0.0.1:6379/10"
RETRIED_EVERY = 3  # every third item: a failed attempt, then out for delivery again, then delivered


@pytest.fixture
def schema_url() -> Iterator[str]:
    schema = f"antar_crash_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    except sa.exc.OperationalError:
        pytest.skip(f"PostgreSQL at {PG_URL} cannot be reached")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def _handed_over(url: str, tmp_path: Path) -> list[str]:
    """Import ITEMS cards, build and finalize their manifests, hand them to a simulator; the tracking numbers."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "t", "ANTAR_OFFICE": OFFICE})
    csv_path = write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, ITEMS + 1)])
    sim = CourierSimulator(api_token="tok").start()
    try:
        with app.app_context():
            with unit_of_work() as s:
                office = ensure_office(s, OFFICE)
                assert import_print_run(s, csv_path, office=office, actor=Actor("tes")).cards_imported == ITEMS
            with unit_of_work() as s:
                made = build_manifests(s, ensure_office(s, OFFICE), Actor("tes"), finalize=True,
                                       tracking=TrackingRange.from_config(app.config))
                ids = [m.id for m in made]
            for mid in ids:
                assert handover.hand_over(OFFICE, mid, Actor("tes"), CourierClient(sim.url, "tok")).answer.ok
    finally:
        sim.stop()
        app.extensions["antar.engine"].dispose()
    with _connect(url) as conn:
        return list(conn.exec_driver_sql("SELECT tracking_number FROM manifest_item WHERE active ORDER BY id")
                    .scalars())


@contextmanager
def _connect(url: str) -> Iterator[sa.Connection]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _events(numbers: list[str]) -> list[dict]:
    """Each item's life as the courier lived it, every item ending DELIVERED."""
    out = []
    for n, number in enumerate(numbers):
        steps = ["ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY"]
        if n % RETRIED_EVERY == 0:
            steps += ["DELIVERY_FAILED", "OUT_FOR_DELIVERY"]
        steps.append("DELIVERED")
        for k, status in enumerate(steps):
            at = T0 + dt.timedelta(minutes=n + 90 * k)
            out.append({
                "event_id": f"evt_{number}_{k}", "tracking_number": number, "status": status,
                "occurred_at": at.isoformat(timespec="seconds"),
                "location": {"post_office": "17510", "lat": None, "lng": None}, "attempt": 1,
                "reason_code": "NOBODY_HOME" if status == "DELIVERY_FAILED" else None,
                "recipient": {"name": "WARGA", "relationship": "SELF"} if status == "DELIVERED" else None,
                "proof": None, "courier_id": "PTR-0192"})
    return out


def _batches(events: list[dict], rng: random.Random) -> list[tuple[str, list[dict]]]:
    """The events in a shuffled order (so also out of order per item), cut into batches of 1 to 20."""
    events = events[:]
    rng.shuffle(events)
    batches, i = [], 0
    while i < len(events):
        size = rng.randint(1, 20)
        batches.append((f"msg_crash_{len(batches)}", events[i:i + size]))
        i += size
    return batches


def _post(session: requests.Session, base: str, msg_id: str, events: list[dict]) -> requests.Response:
    body = json.dumps({"type": "tracking.events", "data": {"events": events}})
    now = dt.datetime.now(dt.UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(SECRET).sign(msg_id, now, body), "Content-Type": "application/json"}
    return session.post(base + "api/v1/courier/events", data=body, headers=headers, timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, tmp_path: Path, worker_class: str) -> tuple[subprocess.Popen, str]:
    """`antar serve` in its own session (so the master and its workers are one process group), once it answers."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "ANTAR_COURIER_WEBHOOK_SECRETS": SECRET, "ANTAR_OFFICE": OFFICE,
           "SECRET_KEY": "t", "ANTAR_INSTANCE_PATH": str(tmp_path / "instance"), "ANTAR_REDIS_URL": REDIS_URL}
    antar = str(Path(sys.executable).with_name("antar"))
    with open(tmp_path / f"serve-{port}.log", "wb") as log:  # the server keeps its own copy of the descriptor
        proc = subprocess.Popen([antar, "serve", "--port", str(port), "--workers", "2", "--worker-class", worker_class],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    try:
        while True:
            assert proc.poll() is None, (tmp_path / f"serve-{port}.log").read_text()
            try:
                requests.get(base + "api/v1/courier/events", timeout=5)
                return proc, base
            except requests.RequestException:  # refused, or accepted by the master while the workers still load
                assert time.monotonic() < deadline, "antar serve never answered"
                time.sleep(0.1)
    except BaseException:
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _stored(url: str) -> dict:
    with _connect(url) as conn:
        events = conn.exec_driver_sql(
            "SELECT e.event_id, e.status, e.occurred_at, e.message_id, i.tracking_number FROM tracking_event e "
            "JOIN manifest_item i ON i.id = e.item_id").all()
        items = conn.exec_driver_sql(
            "SELECT i.tracking_number, i.tracking_status, i.status_event_id, i.final, i.attempts, i.last_event_at, "
            "c.state FROM manifest_item i JOIN card c ON c.id = i.card_id WHERE i.active").all()
        messages = dict(conn.exec_driver_sql("SELECT id, body FROM webhook_message").all())
    return {"events": events, "items": {r.tracking_number: r for r in items}, "messages": messages}


def _decided_by(events: list) -> object | None:
    """The event an item's state follows from: its final event if any, else the last in the total order."""
    finals = [e for e in events if e.status in FINAL]
    if finals:
        return finals[0]
    return max(events, key=lambda e: (e.occurred_at, RANK[e.status], e.event_id), default=None)


def _assert_items_follow_their_events(stored: dict) -> None:
    by_item = defaultdict(list)
    for e in stored["events"]:
        by_item[e.tracking_number].append(e)
    for number, item in stored["items"].items():
        events = by_item.get(number, [])
        decided = _decided_by(events)
        if decided is None:
            assert (item.tracking_status, item.state) == (None, CardState.WITH_COURIER), number
            continue
        assert item.tracking_status == decided.status, (number, item, events)
        assert item.status_event_id == decided.event_id, (number, item, events)
        assert item.final == (decided.status in FINAL), number
        assert item.state == CARD_STATE_OF[decided.status], number
        assert item.attempts == sum(e.status == "DELIVERY_FAILED" for e in events), number
        assert item.last_event_at == max(e.occurred_at for e in events), number


@pytest.mark.parametrize("worker_class", ["gthread", "gevent"])
def test_sigkill_of_the_server_loses_no_acknowledged_event_and_reposting_applies_each_once(
        schema_url: str, tmp_path: Path, worker_class: str) -> None:
    numbers = _handed_over(schema_url, tmp_path)
    assert len(numbers) == ITEMS
    events = _events(numbers)
    batches = _batches(events, random.Random(20261123))
    acked: dict[str, list[dict]] = {}  # msg id -> per-event results of the 200
    lock = threading.Lock()
    cursor = iter(range(len(batches)))
    kill_after = len(batches) // 3

    proc, base = _serve(schema_url, tmp_path, worker_class)

    def client() -> None:  # posts the next batch until none are left; a failed post is simply not acknowledged
        with requests.Session() as session:
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None:
                    return
                msg_id, batch = batches[i]
                try:
                    response = _post(session, base, msg_id, batch)
                except requests.RequestException:
                    continue
                if response.status_code == 200:
                    with lock:
                        acked[msg_id] = response.json()["results"]

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 20
        while len(acked) < kill_after:
            assert time.monotonic() < deadline and proc.poll() is None, "the server stopped acknowledging"
            time.sleep(0.002)
    finally:
        _kill(proc)  # while the clients are still posting
        for t in threads:
            t.join()
    assert kill_after <= len(acked) < len(batches), "the kill must land while batches are still being posted"

    # Every event of every acknowledged batch is stored; no batch is stored in part.
    stored = _stored(schema_url)
    stored_ids = {e.event_id for e in stored["events"]}
    by_id = dict(batches)
    for msg_id, results in acked.items():
        assert [r["event_id"] for r in results] == [e["event_id"] for e in by_id[msg_id]]
        assert all(r["result"] in ("applied", "stale") for r in results), results
        assert {e["event_id"] for e in by_id[msg_id]} <= stored_ids, msg_id
    per_message = defaultdict(set)
    for e in stored["events"]:
        per_message[e.message_id].add(e.event_id)
    assert set(per_message) == set(stored["messages"]), "a message stored without its events"
    for message_id, ids in per_message.items():
        sent = {e["event_id"] for e in json.loads(stored["messages"][message_id])["data"]["events"]}
        assert ids == sent, f"message {message_id} stored in part"
    _assert_items_follow_their_events(stored)

    # The courier re-posts everything (also what was acknowledged); each event is then stored exactly once.
    proc, base = _serve(schema_url, tmp_path, worker_class)
    try:
        with requests.Session() as session:
            for msg_id, batch in batches:
                response = _post(session, base, msg_id, batch)
                assert response.status_code == 200, response.text
                for e, r in zip(batch, response.json()["results"], strict=True):
                    assert r["event_id"] == e["event_id"]
                    if e["event_id"] in stored_ids:
                        assert r["result"] == "duplicate", (msg_id, r)
                    else:
                        assert r["result"] in ("applied", "stale"), (msg_id, r)
    finally:
        _kill(proc)

    final = _stored(schema_url)
    assert sorted(e.event_id for e in final["events"]) == sorted(e["event_id"] for e in events)
    _assert_items_follow_their_events(final)
    assert {(i.tracking_status, i.final, i.state) for i in final["items"].values()} == {
        ("DELIVERED", True, CardState.DELIVERED)}
    with _connect(schema_url) as conn:
        assert set(conn.exec_driver_sql("SELECT status FROM manifest").scalars()) == {"CLOSED"}
