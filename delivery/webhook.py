"""`POST /api/v1/courier/events`: the courier's signed tracking events (contract section 3).

In order: 413 for a body over 1 MiB, 401 unless one of the configured secrets verifies the Standard Webhooks
signature (the `standardwebhooks` library also refuses timestamps more than five minutes off), 400 for a body
that is not JSON or not the contract's schema (the message names the field), then the batch is applied and
committed, and only then the 200 with one result per event goes out. A body of type `cod.settlement` (contract 6.3)
passes the same checks up to the JSON and then goes to `delivery.money_routes.settlement_message`. These posts are
answered before Flask's request pipeline (`CourierGate`): a signed webhook needs none of what the pages' hooks do.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook
from werkzeug.datastructures import EnvironHeaders
from werkzeug.wsgi import get_content_length, get_input_stream

from app import SECURITY_HEADERS, api, csrf, health, security_headers
from app.courier.tracking import MAX_BODY_BYTES, TRACKING_EVENTS_SCHEMA, Event, SchemaError, parse_body
from app.db import ConnectionLost, retried_transaction
from app.web import json_error
from app.webhooks import secret_problem, verified
from delivery.money_routes import settlement_message
from delivery.service import RetryBatch, Settings, apply_batch, apply_group
from delivery.settlements import MESSAGE_TYPE as SETTLEMENT_TYPE
from delivery.settlements import SETTLEMENT_RESULT, SETTLEMENT_SCHEMA

bp = Blueprint("webhook", __name__)
log = logging.getLogger("antar.delivery")
PATH = "/api/v1/courier/events"


@bp.record_once
def _own_dispatch(state: Any) -> None:
    """The courier's signed posts are answered before Flask's request pipeline (`CourierGate`)."""
    state.app.wsgi_app = CourierGate(state.app, state.app.wsgi_app)


class CourierGate:
    """WSGI middleware: a signed courier post (`POST /api/v1/courier/events`, no query string, no Authorization
    header) is answered with only an application context, without Flask's request pipeline: no request context, no
    cookie session, no rate limiters, CSRF or page checks (none applies to a signed webhook). That pipeline cost about
    1 ms of CPU a post, a third of the endpoint's own (benchmarks/bench_webhook.py). The answer is the view's own
    (`_answer`) with the headers every answer carries; an exception goes to the application's error handlers in a
    request context made for it, as in Flask. Everything else, and a post while the database is not migrated (the
    503 of app/health.py), goes the usual way."""

    def __init__(self, app: Flask, wsgi_app: Any) -> None:
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST"
                or environ.get("QUERY_STRING") or "HTTP_AUTHORIZATION" in environ
                or not health.schema_ready(self.app)):
            return self.wsgi_app(environ, start_response)
        app = self.app
        with app.app_context():
            try:
                answer = _applied(get_input_stream(environ, max_content_length=None).read,
                                  get_content_length(environ), EnvironHeaders(environ))
                # The usual answer, written here with the headers every answer carries: a Werkzeug response, its
                # headers' `setdefault`s (each missing one raises and catches a KeyError) and its WSGI headers cost
                # about 30 µs a post, a twentieth of a single post's CPU on gevent workers (BENCHMARKS.md).
                if isinstance(answer, list):
                    body = _results_body(answer)
                    start_response("200 OK", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body))), *SECURITY_HEADERS])
                    return [body]
                response = app.make_response(answer)
                security_headers(response)
            except Exception:
                response = self._error_answer(environ)
            return response(environ, start_response)

    def _error_answer(self, environ: dict[str, Any]) -> Any:
        """Called while an exception is handled: the application's handler for it (503 for a busy SQLite, say),
        otherwise Flask's 500 (logged; raised again when testing), with the after-request hooks, as `wsgi_app`."""
        app = self.app
        with app.request_context(environ):
            try:
                return app.finalize_request(app.handle_user_exception(sys.exc_info()[1]))
            except Exception as exc:
                return app.handle_exception(exc)


def _error(status: int, message: str) -> Any:
    return json_error(status, message)


def verifiers() -> list[Webhook]:
    """One verifier per configured secret (two while a key is being rotated), built once per application. A secret
    that is not `whsec_<base64>` (`secret_problem`) is left out and logged (the others still verify; with none left
    the webhook answers 503, which the courier retries)."""
    cached = current_app.extensions.get("antar.webhook_verifiers")
    if cached is None:
        cached = []
        configured = (current_app.config.get("ANTAR_COURIER_WEBHOOK_SECRETS") or "").split(",")
        for n, secret in enumerate((s.strip() for s in configured), start=1):
            if not secret:
                continue
            problem = secret_problem(secret)
            if problem:
                log.error("ANTAR_COURIER_WEBHOOK_SECRETS, rahasia ke-%d bukan whsec_<base64> yang sah (%s); tidak "
                          "dipakai", n, problem)
            else:
                cached.append(Webhook(secret))
        current_app.extensions["antar.webhook_verifiers"] = cached
    return cached


WEBHOOK_HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 100},
     "description": "id pesan; kiriman ulang memakai id yang sama"},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string", "maxLength": 20},
     "description": "detik Unix saat dikirim (paling jauh 5 menit dari sekarang)"},
]
RESULTS = {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {
    "type": "object", "required": ["event_id", "result"],
    "properties": {"event_id": {"type": ["string", "null"]},
                   "result": {"enum": ["applied", "duplicate", "stale", "rejected"]},
                   "message": {"type": "string"},
                   "held": {"type": "boolean", "description": "applied when the manifest is handed over"}}}}}}


# Two kinds of message at one endpoint (contract 3 and 6.3), told apart by `type`.
MESSAGES = {"type": "object", "required": ["type", "data"], "oneOf": [TRACKING_EVENTS_SCHEMA, SETTLEMENT_SCHEMA]}


@bp.route(PATH, methods=["POST"])
@csrf.exempt
@api.operation("Event pelacakan dan setoran COD dari kurir (kontrak kurir bagian 3 dan 6.3), ditandatangani "
               "Standard Webhooks",
               tags=["kurir"], auth="signature", body=MESSAGES, validate_body=False,
               response={"anyOf": [RESULTS, SETTLEMENT_RESULT]}, parameters=WEBHOOK_HEADERS, errors=[409, 413],
               description="Ukuran diperiksa lebih dulu (413), lalu tanda tangan atas badan apa adanya (401), lalu "
                           "UTF-8, JSON dan skema (400). Objek "
                           "event boleh membawa field yang ditambahkan kontrak kemudian (bagian 6). Setoran COD "
                           "(type cod.settlement): 200 recorded/duplicate, 409 untuk settlement_id yang sama "
                           "dengan isi lain.")
def courier_events() -> Any:
    return _answer(request.stream.read, request.content_length, request.headers)


def _answer(read: Callable[[int], bytes], content_length: int | None, headers: Any) -> Any:
    """The answer to a post: `read` its body, `headers` its headers (`get` by name, any case)."""
    answer = _applied(read, content_length, headers)
    return _results(answer) if isinstance(answer, list) else answer


def _applied(read: Callable[[int], bytes], content_length: int | None, headers: Any) -> Any:
    """The post's results (a list), or the answer that refuses it (or the settlement's)."""
    if content_length is not None and content_length > MAX_BODY_BYTES:
        return _error(413, f"Badan permintaan lebih dari {MAX_BODY_BYTES} byte (1 MiB).")
    raw = read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, f"Badan permintaan lebih dari {MAX_BODY_BYTES} byte (1 MiB).")
    if not verifiers():
        return _error(503, "ANTAR_COURIER_WEBHOOK_SECRETS belum diatur atau tidak berisi rahasia whsec_<base64> yang "
                           "sah; event tidak dapat diverifikasi.")
    if not verified(verifiers(), raw, headers):  # over the body's bytes as received, whatever they are
        return _error(401, "Tanda tangan webhook tidak ada, salah, atau webhook-timestamp lebih dari 5 menit "
                           "dari sekarang.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _error(400, "Badan permintaan bukan UTF-8.")
    try:  # orjson: strict JSON (no NaN, no lone surrogate), nesting at most 1024 deep
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit"):
            return _error(400, "JSON bersarang terlalu dalam; kontrak hanya memakai beberapa tingkat objek.")
        return _error(400, f"JSON tidak valid: {exc}")
    webhook_id = headers.get("webhook-id", "")
    if isinstance(body, dict) and body.get("type") == SETTLEMENT_TYPE:
        return settlement_message(body, text, webhook_id)
    try:
        events = parse_body(body)
    except SchemaError as exc:
        return _error(400, str(exc))
    settings = Settings.from_config(current_app.config)
    if current_app.extensions["antar.lean_engine"].dialect.name == "postgresql":
        answer = GROUPS.apply(_Post(current_app._get_current_object(), text, webhook_id, events, settings))
    else:
        answer = _apply_alone(text, webhook_id, events, settings)
    return answer


def _results_body(answer: list[dict[str, Any]]) -> bytes:
    """`{"results": [...]}` as `jsonify` writes it (keys sorted, compact, a final newline), by orjson: 500 results
    in a fraction of the time."""
    return orjson.dumps({"results": answer}, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)


def _results(answer: list[dict[str, Any]]) -> Response:
    return Response(_results_body(answer), mimetype="application/json")


def _apply_alone(text: str, webhook_id: str, events: list[Event], settings: Settings) -> Any:
    """One message in a transaction of its own: its results, or the error answer."""
    for _ in range(3):
        try:  # a broken pooled connection (no pre-ping here) is found by the first statement: retried once
            return retried_transaction(lambda session: apply_batch(session, text, webhook_id, events, settings))
        except RetryBatch:
            continue
        except ConnectionLost:  # lost again on a fresh connection: the database is down or restarting
            return _error(503, "Basis data tidak dapat dihubungi; kirim ulang.")
    return _error(503, "Event yang sama sedang diproses permintaan lain; kirim ulang.")


class _Latch:
    """What a request thread waits on until its post is applied: a `threading.Event` for one waiter and one `set`,
    made of a lock taken when the latch is made and released by `set`. An `Event` is a `Condition` written in Python
    (its `wait` makes a lock of its own and takes two, its `set` takes the condition's lock to wake the waiters);
    here each side is one call into the lock. Sixteen threads handing posts to one applying thread: 27-32 µs of CPU a
    post against 37-40 with an `Event` (BENCHMARKS.md)."""

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self, timeout: float) -> bool:
        return self._lock.acquire(timeout=timeout)


@dataclass(eq=False, slots=True)
class _Post:
    """A verified post waiting for its events to be applied (`PostGroups`)."""

    app: Flask
    text: str
    webhook_id: str
    events: list[Event]
    settings: Settings
    done: _Latch = field(default_factory=_Latch)
    answer: Any = None
    error: BaseException | None = None


class _Alone(Exception):
    """The group is better applied message by message (`apply_group` said so): roll back."""


class PostGroups:
    """Group commit for the courier's posts, on PostgreSQL. Each post's events are applied by one thread of the
    process; the posts that arrived while it was busy with the previous group (and, while posts come together, in
    the next few milliseconds: `LINGER`) are applied together, as one batch in one transaction
    (`delivery.service.apply_group`: two statements and one commit for all of them, where each post alone costs two
    statements and a commit), and each post is answered only after that commit. Under load that is several posts a
    transaction; a post that arrives alone is applied alone, at once.

    Whatever the group cannot settle is applied post by post, each in its own transaction exactly as a post alone
    (`_apply_alone`): an item still waiting for its handover or with held events, an event stored meanwhile by another
    process, a statement that failed (the error is then that post's own), a lost connection. So the answers are those
    of the posts applied one after the other in their order of arrival."""

    MAX_EVENTS = 1000
    # While posts come together (the last group had several), a group waits up to this long for as many posts as
    # the last one had. The courier's posts answered by one commit come back at about the same moment, but not all
    # before the queue runs empty: without the wait, the first of them made a group alone or with two or three
    # others, and the rest waited for its commit. Each transaction has a fixed cost (two statements, the commit, a
    # thread woken per post), about 0.65 ms of PostgreSQL and 0.5 ms of Python (BENCHMARKS.md): under `wrk`, 4 ms
    # made the groups 8 posts on average instead of about 4, and a post cost about a quarter less CPU (single posts
    # 2,100-2,160/s against 1,450-1,930 with no wait or 1 ms; 8 ms was worse again). A post that comes alone (the last
    # group had one) is applied at once; a lone post after a burst waits at most this long.
    LINGER = 0.004

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Post] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def apply(self, post: _Post) -> Any:
        """The post's results (a list) or its error answer; raises what applying it raised."""
        self._start()
        self._queue.put(post)
        if not post.done.wait(300):
            raise RuntimeError("courier post not applied within 300 s")
        if post.error is not None:
            raise post.error
        return post.answer

    def _start(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:  # once per process (a forked server worker starts its own)
            if self._pid != os.getpid():
                threading.Thread(target=self._run, name="courier-posts", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        carried: _Post | None = None
        last = 1  # posts in the last group
        while True:
            group = [carried or self._queue.get()]
            carried, count, until = None, len(group[0].events), None
            while count < self.MAX_EVENTS:
                try:
                    post = self._queue.get_nowait()
                except queue.Empty:
                    if len(group) >= last:
                        break
                    until = until or time.monotonic() + self.LINGER
                    try:
                        post = self._queue.get(timeout=max(0.0, until - time.monotonic()))
                    except queue.Empty:
                        break
                if post.app is not group[0].app or count + len(post.events) > self.MAX_EVENTS:
                    carried = post
                    break
                group.append(post)
                count += len(post.events)
            last = len(group)
            self._apply(group)

    def _apply(self, group: list[_Post]) -> None:
        try:
            with group[0].app.app_context():
                if len(group) > 1 and self._together(group):
                    return
                for post in group:
                    try:
                        post.answer = _apply_alone(post.text, post.webhook_id, post.events, post.settings)
                    except BaseException as exc:  # the post's own error, raised in its request
                        post.error = exc
        except BaseException as exc:  # pushing the context: every post of the group gets it
            for post in group:
                if post.answer is None and post.error is None:
                    post.error = exc
        finally:
            for post in group:
                post.done.set()

    @staticmethod
    def _together(group: list[_Post]) -> bool:
        """Apply the group in one transaction; False (nothing written) when it should go post by post."""
        messages = [(p.text, p.webhook_id, p.events) for p in group]

        def work(session: Session) -> list[list[dict[str, Any]]]:
            answers = apply_group(session, messages, group[0].settings)
            if answers is None:
                raise _Alone()
            return answers

        try:
            answers = retried_transaction(work)
        except Exception as exc:  # noqa: BLE001 - each post then meets its own outcome alone
            if not isinstance(exc, _Alone):
                log.info("courier posts: a group of %d went post by post (%s)", len(group), type(exc).__name__)
            return False
        for post, answer in zip(group, answers, strict=True):
            post.answer = answer
        return True


GROUPS = PostGroups()
