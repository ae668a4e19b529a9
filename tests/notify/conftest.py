"""Fixtures for messages to citizens: the app configured for the gateway, served on a real loopback port (for the
gateway's reports), and the gateway simulator speaking to it over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from notify_testing import GW_TOKEN, NOTIFY_SECRET, StubGateway
from tracking import SECRET
from werkzeug.serving import make_server

from notify_sim import GatewaySimulator


@pytest.fixture
def notify_app(app: Flask) -> Flask:
    app.config.update(
        ANTAR_COURIER_WEBHOOK_SECRETS=SECRET, ANTAR_NOTIFY_WEBHOOK_SECRET=NOTIFY_SECRET,
        ANTAR_NOTIFY_API_TOKEN=GW_TOKEN,
        # The tests run at any hour: quiet hours only where a test sets them (and its clock).
        ANTAR_NOTIFY_QUIET_HOURS="none", ANTAR_NOTIFY_BACKOFF=1.0, ANTAR_NOTIFY_BACKOFF_MAX=60.0)
    return app


@pytest.fixture
def app_url(notify_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, notify_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(notify_app: Flask, app_url: str) -> Iterator[GatewaySimulator]:
    """The gateway on loopback, its reports held until `flush_reports()`; the app is pointed at it."""
    sim = GatewaySimulator(api_token=GW_TOKEN, report_url=app_url + "api/v1/notify/reports",
                           report_secret=NOTIFY_SECRET, auto_report=False, read_share=0.0).start()
    notify_app.config["ANTAR_NOTIFY_BASE_URL"] = sim.url
    yield sim
    sim.stop()


@pytest.fixture
def stub_gateway(notify_app: Flask) -> Iterator[Callable[..., StubGateway]]:
    """Start a `StubGateway` (its answers as the test says) and point the app at it; stopped after the test."""
    started: list[StubGateway] = []

    def start(answer: Callable[..., tuple], **kwargs: float) -> StubGateway:
        stub = StubGateway(answer, **kwargs)
        started.append(stub)
        notify_app.config["ANTAR_NOTIFY_BASE_URL"] = stub.url
        return stub

    yield start
    for stub in started:
        stub.stop()
