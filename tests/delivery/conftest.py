"""Fixtures for tracking: the app with a webhook secret, and the app served over real HTTP on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from tracking import SECRET
from werkzeug.serving import make_server


@pytest.fixture
def webhook_app(app: Flask) -> Flask:
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = SECRET
    return app


@pytest.fixture
def live_url(webhook_app: Flask) -> Iterator[str]:
    """The application on a real loopback port (threaded werkzeug), for the simulator to post to."""
    server = make_server("127.0.0.1", 0, webhook_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


