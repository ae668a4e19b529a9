"""The demo's courier: our application served on loopback and the PT Pos simulator posting to it."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app
from werkzeug.serving import WSGIRequestHandler, make_server

from app.courier.client import CourierClient
from courier_sim.server import CourierSimulator

DEMO_COURIER_TOKEN = "demo-courier-token"
DEMO_WEBHOOK_SECRET = "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItYW50YXItZWt0cA=="


class _QuietHandler(WSGIRequestHandler):
    """The demo's own server: no access log line per webhook message."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class CourierWorld:
    sim: CourierSimulator
    client: CourierClient
    app_url: str  # our application, served on loopback (its webhooks: the courier's and the message gateway's)


@contextmanager
def served_app() -> Iterator[str]:
    """Serve the current app over real HTTP on loopback; yields its base URL."""
    app = current_app._get_current_object()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def courier_world(seed: int, start: dt.datetime, **sim_options: Any) -> Iterator[CourierWorld]:
    """Serve the current app over real HTTP and run a simulator that posts signed events to its webhook."""
    app = current_app._get_current_object()
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = DEMO_WEBHOOK_SECRET
    app.extensions.pop("antar.webhook_verifiers", None)
    with served_app() as app_url, CourierSimulator(
            api_token=DEMO_COURIER_TOKEN, seed=seed, webhook_url=f"{app_url}/api/v1/courier/events",
            webhook_secret=DEMO_WEBHOOK_SECRET, start=start, keep_history=False, **sim_options) as sim:
        app.config.update(ANTAR_COURIER_BASE_URL=sim.url, ANTAR_COURIER_API_TOKEN=DEMO_COURIER_TOKEN)
        yield CourierWorld(sim, CourierClient.from_config(app.config), app_url)
