"""The courier's signed posts are answered before Flask's request pipeline (delivery.webhook.CourierGate): the same
answers, headers and error handling as every other route, on both backends."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest
from sqlalchemy import func, select
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
