"""Helpers for the tests of messages to citizens: settings, cards with phone numbers on the road, a pass."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask
from helpers import card_row
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from app.cards import Card
from app.db import unit_of_work
from notify.models import NotifyAttempt, NotifyMessage
from notify.service import Settings, run_pass

NOTIFY_SECRET = "whsec_" + base64.b64encode(b"notify-report-secret-32-bytes!!!").decode()
GW_TOKEN = "gw-token"
WIB = dt.timezone(dt.timedelta(hours=7))


def phone(serial: int) -> str:
    """A mobile number of card `serial` as the print run has it."""
    return f"0812{serial:08d}"


def intl(serial: int) -> str:
    return "+62" + phone(serial)[1:]


def rows_with_phones(serials: range, *, without: tuple[int, ...] = ()) -> list[dict[str, str]]:
    return [card_row(i, no_hp="" if i in without else phone(i)) for i in serials]


def one_pass(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return run_pass(Settings.from_config(app.config))


def messages(app: Flask) -> list[dict[str, Any]]:
    """Every message with its card's blanko number, NIK and no_hp, in id order."""
    with app.app_context(), unit_of_work() as s:
        rows = s.execute(select(NotifyMessage, Card.nomor_blanko, Card.nik, Card.tanggal_lahir, Card.alamat)
                         .join(Card, Card.id == NotifyMessage.card_id).order_by(NotifyMessage.id)).all()
        out = []
        for m, blanko, nik, born, alamat in rows:
            view = {c.name: getattr(m, c.name) for c in NotifyMessage.__table__.columns}
            view.update(blanko=blanko, nik=nik, born=born, alamat=alamat)
            out.append(view)
        return out


def attempts(app: Flask, message_id: int) -> list[dict[str, Any]]:
    with app.app_context(), unit_of_work() as s:
        return [{c.name: getattr(a, c.name) for c in NotifyAttempt.__table__.columns}
                for a in s.scalars(select(NotifyAttempt).where(NotifyAttempt.message_id == message_id)
                                   .order_by(NotifyAttempt.id))]


Answer = tuple[int, Mapping[str, Any], Mapping[str, str]]  # status, JSON body, headers


class StubGateway:
    """A gateway on loopback whose answer to each `POST /v1/messages` is `answer(body)`, for what the simulator does
    not do: a 422 no_whatsapp to an SMS, a `Retry-After` as an HTTP date, a clock (its `Date`) `skew` seconds off
    ours. `requests` holds (Idempotency-Key, channel) of each request, in order."""

    def __init__(self, answer: Callable[[dict[str, Any]], Answer], *, skew: float = 0.0) -> None:
        self.answer, self.skew = answer, skew
        self.requests: list[tuple[str | None, str | None]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(WSGIRequestHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:  # the `Date` of every answer
                return email.utils.formatdate(stub.clock().timestamp(), usegmt=True)

            def log_request(self, *args: Any) -> None:
                pass

        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True, request_handler=Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}/"

    def clock(self) -> dt.datetime:
        """The gateway's clock (real time, not Antar's simulated clock, plus `skew`)."""
        return dt.datetime.fromtimestamp(time.time() + self.skew, dt.UTC)

    def http_date(self, seconds_from_now: float) -> str:
        return email.utils.format_datetime(self.clock() + dt.timedelta(seconds=seconds_from_now), usegmt=True)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_json(silent=True) or {}
        with self._lock:
            self.requests.append((request.headers.get("Idempotency-Key"), body.get("channel")))
        status, payload, headers = self.answer(body)
        response = Response(json.dumps(payload), status, headers=dict(headers), mimetype="application/json")
        return response(environ, start_response)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


ACCEPTED: Answer = (202, {"message_id": "gw-stub", "status": "queued"}, {})
NO_WHATSAPP: Answer = (422, {"error": "no_whatsapp"}, {})
