"""The message gateway, simulated: a real HTTP server on loopback speaking citizen-notifications.md.

`POST /v1/messages` checks the bearer token, the body and the `Idempotency-Key` (the same key with the same body is
a 409 with the first answer; with another body a 422), then answers 202 and, a moment later, posts signed delivery
reports (Standard Webhooks) to our `/api/v1/notify/reports`: delivered, then read for some, or failed for some.
What a real gateway does to us now and then can be asked for, per number or as a share of numbers (deterministic
per seed): no WhatsApp on a number (422 no_whatsapp), a 503 once, a 429 with Retry-After once; and for the next
requests whatever `fail_next` says (500, 503, 429, 401, 403, timeout).

    with GatewaySimulator(report_url=url + "api/v1/notify/reports", report_secret=secret) as gw:
        ...  # point ANTAR_NOTIFY_BASE_URL at gw.url
        gw.flush_reports()  # with auto_report=False: post the reports now
        gw.messages  # what it accepted

Inspection over HTTP: `GET /_sim/messages`, `GET /_sim/state`; `POST /_sim/fail`, `POST /_sim/reports` (flush).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from app.dates import WIB

log = logging.getLogger("notify_sim")

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_TEXT = 480
FIELDS = ("to", "channel", "text", "reference")
FAILURE_KINDS = ("500", "503", "429", "401", "403", "timeout")


def generate_secret() -> str:
    """A fresh `whsec_<base64>` secret (24 random bytes)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class Report:
    gateway_id: str
    status: str  # delivered | read | failed
    error: str | None = None
    webhook_id: str = field(default_factory=lambda: f"msg_{uuid.uuid4().hex}")
    http_status: int | None = None  # our answer, once posted
    attempts: int = 0


@dataclass
class Accepted:
    gateway_id: str
    key: str
    body: dict[str, Any]
    answer: bytes
    received_at: str
    reports: list[Report] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"message_id": self.gateway_id, "idempotency_key": self.key, **self.body,
                "received_at": self.received_at,
                "reports": [{"status": r.status, "http_status": r.http_status} for r in self.reports]}


class _QuietHandler(WSGIRequestHandler):
    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, self.address_string(), *args)


class GatewaySimulator:
    """See the module docstring. `messages` (accepted, in order), `requests_seen` ((key, to, channel, status) per
    send request) and `reports_posted` are safe to read from tests."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_token: str = "sim-token",
                 report_url: str | None = None, report_secret: str | None = None,
                 no_whatsapp: Iterable[str] = (), fail_once: Iterable[str] = (), throttle_once: Iterable[str] = (),
                 report_failed: Iterable[str] = (), no_whatsapp_share: float = 0.0, fail_once_share: float = 0.0,
                 throttle_share: float = 0.0, failed_share: float = 0.0, read_share: float = 0.5, seed: int = 0,
                 retry_after: int = 1, auto_report: bool = True, report_delay: float = 0.2,
                 report_retry_delays: Iterable[float] = (0.2, 0.5, 1.0), report_timeout: float = 10.0) -> None:
        for name, share in (("no_whatsapp_share", no_whatsapp_share), ("fail_once_share", fail_once_share),
                            ("throttle_share", throttle_share), ("failed_share", failed_share),
                            ("read_share", read_share)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        self.host, self.port, self.api_token = host, port, api_token
        self.report_url = report_url
        self.report_secret = report_secret or (generate_secret() if report_url else None)
        self._signer = Webhook(self.report_secret) if self.report_secret else None
        self.numbers = {"no_whatsapp": set(no_whatsapp), "fail_once": set(fail_once),
                        "throttle_once": set(throttle_once), "report_failed": set(report_failed)}
        self.shares = {"no_whatsapp": no_whatsapp_share, "fail_once": fail_once_share,
                       "throttle_once": throttle_share, "report_failed": failed_share, "read": read_share}
        self.seed, self.retry_after = seed, retry_after
        self.auto_report, self.report_delay = auto_report, report_delay
        self.report_retry_delays = tuple(report_retry_delays)
        self.report_timeout = report_timeout
        self._lock = threading.RLock()
        self._by_key: dict[str, Accepted] = {}
        self._once_done: set[tuple[str, str]] = set()
        self._failures: deque[tuple[str, int | None]] = deque()
        self._pending: list[Report] = []
        self._timers: list[threading.Timer] = []
        self._http = requests.Session()
        self.messages: list[Accepted] = []
        self.requests_seen: list[tuple[str | None, str | None, str | None, int]] = []
        self.reports_posted: list[Report] = []
        self._urls = Map([
            Rule("/v1/messages", methods=["POST"], endpoint="messages"),
            Rule("/_sim/messages", methods=["GET"], endpoint="sim_messages"),
            Rule("/_sim/state", methods=["GET"], endpoint="sim_state"),
            Rule("/_sim/fail", methods=["POST"], endpoint="sim_fail"),
            Rule("/_sim/reports", methods=["POST"], endpoint="sim_reports"),
        ])
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> GatewaySimulator:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"notify-sim:{self.port}", daemon=True)
        self._thread.start()
        log.info("gateway simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        with self._lock:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None
        self._http.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def __enter__(self) -> GatewaySimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- behaviour -------------------------------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, retry_after: int | None = None) -> None:
        """The next `count` send requests fail: 500/503, 429 (Retry-After, default 1), 401/403, or timeout (the
        request is held 3 seconds, then answered normally, like a slow gateway whose answer was not awaited)."""
        kind = str(kind)
        if kind not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {FAILURE_KINDS}, not {kind!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        with self._lock:
            self._failures.extend([(kind, retry_after)] * count)

    def _has(self, trait: str, number: str) -> bool:
        """Whether a number has a trait: named explicitly, or picked by its share (the same for a given seed)."""
        if number in self.numbers.get(trait, ()):
            return True
        share = self.shares.get(trait, 0.0)
        if share <= 0:
            return False
        digest = hashlib.sha256(f"{self.seed}:{trait}:{number}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < share

    def _once(self, trait: str, number: str) -> bool:
        """A trait that shows once per number (a 503, a 429): True the first time only."""
        if not self._has(trait, number) or (trait, number) in self._once_done:
            return False
        self._once_done.add((trait, number))
        return True

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, _ = self._urls.bind_to_environ(environ).match()
        except NotFound:
            response = _json(404, {"error": "not_found", "message": f"no such endpoint: {request.path}"})
        except MethodNotAllowed:
            response = _json(405, {"error": "method_not_allowed"})
        else:
            try:
                response = getattr(self, f"_{endpoint}")(request)
            except Exception:
                log.exception("gateway simulator error on %s %s", request.method, request.path)
                response = _json(500, {"error": "server_error", "message": "gateway simulator error (see its log)"})
        return response(environ, start_response)

    def _messages(self, request: Request) -> Response:
        key = request.headers.get("Idempotency-Key")
        response, body = self._send(request, key)
        with self._lock:
            self.requests_seen.append((key, body.get("to") if body else None, body.get("channel") if body else None,
                                       response.status_code))
        return response

    def _send(self, request: Request, key: str | None) -> tuple[Response, dict[str, Any] | None]:
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            kind, retry_after = failure
            if kind == "timeout":
                time.sleep(3.0)
            elif kind == "429":
                return _json(429, {"error": "rate_limited"}, {"Retry-After": str(retry_after or 1)}), None
            else:
                return _json(int(kind), {"error": f"simulated {kind}"}), None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_token.encode()):
            return _json(401, {"error": "unauthorized", "message": "Authorization: Bearer <token> required"},
                         {"WWW-Authenticate": "Bearer"}), None
        try:
            body = json.loads(request.get_data(cache=False) or b"")
        except ValueError as exc:
            return _json(400, {"error": "invalid", "message": f"malformed JSON: {exc}"}), None
        problem = _invalid(body)
        if problem:
            return _json(400, {"error": "invalid", "message": problem}), body if isinstance(body, dict) else None
        if not key:
            return _json(400, {"error": "invalid", "message": "Idempotency-Key header required"}), body
        number = body["to"]
        with self._lock:
            known = self._by_key.get(key)
            if known is not None:
                if known.body != body:
                    return _json(422, {"error": "idempotency_key_reused",
                                       "message": "this Idempotency-Key was used for another message"}), body
                return Response(known.answer, 409, mimetype="application/json"), body
            if self._once("throttle_once", number):
                return _json(429, {"error": "rate_limited"}, {"Retry-After": str(self.retry_after)}), body
            if self._once("fail_once", number):
                return _json(503, {"error": "unavailable", "message": "simulated: service unavailable"}), body
            if body["channel"] == "whatsapp" and self._has("no_whatsapp", number):
                return _json(422, {"error": "no_whatsapp"}), body
            accepted = self._accept(key, body)
        log.info("message %s accepted for %s by %s", accepted.gateway_id, number[:6] + "…", body["channel"])
        return Response(accepted.answer, 202, mimetype="application/json"), body

    def _accept(self, key: str, body: dict[str, Any]) -> Accepted:
        """Take a valid message and plan its reports. Caller holds the lock."""
        gateway_id = f"gw-{uuid.uuid4().hex[:16]}"
        answer = json.dumps({"message_id": gateway_id, "status": "queued"}).encode()
        accepted = Accepted(gateway_id, key, dict(body), answer, datetime.now(WIB).isoformat(timespec="seconds"))
        if self._has("report_failed", body["to"]):
            reports = [Report(gateway_id, "failed", "nomor tidak aktif")]
        else:
            reports = [Report(gateway_id, "delivered")]
            if body["channel"] == "whatsapp" and self._has("read", body["to"]):
                reports.append(Report(gateway_id, "read"))
        accepted.reports.extend(reports)
        self._by_key[key] = accepted
        self.messages.append(accepted)
        if self.report_url:
            if self.auto_report:
                for i, report in enumerate(reports, start=1):
                    timer = threading.Timer(self.report_delay * i, self._post_report, args=(report,))
                    timer.daemon = True
                    self._timers.append(timer)
                    timer.start()
            else:
                self._pending.extend(reports)
        return accepted

    def _sim_messages(self, request: Request) -> Response:
        with self._lock:
            return _json(200, {"messages": [m.view() for m in self.messages]})

    def _sim_state(self, request: Request) -> Response:
        return _json(200, self.state())

    def _sim_fail(self, request: Request) -> Response:
        try:
            body = json.loads(request.get_data(cache=False) or b"{}")
            self.fail_next(body.get("kind", ""), body.get("count", 1), body.get("retry_after"))
        except (TypeError, ValueError, AttributeError) as exc:
            return _json(422, {"error": "invalid", "message": str(exc)})
        return _json(200, self.state())

    def _sim_reports(self, request: Request) -> Response:
        return _json(200, {"posted": self.flush_reports()})

    # -- reports ---------------------------------------------------------------------------------------------

    def flush_reports(self) -> int:
        """Post every report held back (auto_report=False), in order; returns how many our side answered 2xx."""
        with self._lock:
            pending, self._pending = self._pending, []
        return sum(1 for report in pending if self._post_report(report))

    def _post_report(self, report: Report) -> bool:
        if not (self.report_url and self._signer):
            return False
        payload = {"type": "message.status", "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                   "data": {"message_id": report.gateway_id, "status": report.status,
                            "occurred_at": datetime.now(WIB).isoformat(timespec="seconds"), "error": report.error}}
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        for delay in (*self.report_retry_delays, None):
            report.attempts += 1
            now = datetime.now(UTC)
            headers = {"webhook-id": report.webhook_id, "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": self._signer.sign(report.webhook_id, now, text),
                       "Content-Type": "application/json"}
            try:
                answer = self._http.post(self.report_url, data=text.encode(), headers=headers,
                                         timeout=self.report_timeout)
                report.http_status = answer.status_code
                if 200 <= answer.status_code < 300:
                    break
            except requests.RequestException as exc:
                log.warning("report %s not delivered: %s", report.webhook_id, exc)
                report.http_status = None
            if delay is not None:
                time.sleep(delay)
        with self._lock:
            self.reports_posted.append(report)
        return report.http_status is not None and 200 <= report.http_status < 300

    # -- inspection ------------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        with self._lock:
            statuses = Counter(status for *_, status in self.requests_seen)
            channels = Counter(m.body["channel"] for m in self.messages)
            reports = Counter(r.status for r in self.reports_posted
                              if r.http_status is not None and 200 <= r.http_status < 300)
            return {"messages": len(self.messages), "by_channel": dict(channels),
                    "requests": len(self.requests_seen), "answers": {str(k): v for k, v in statuses.items()},
                    "reports_posted": dict(reports), "reports_pending": len(self._pending),
                    "reports_not_delivered": sum(1 for r in self.reports_posted
                                                 if r.http_status is None or not 200 <= r.http_status < 300),
                    "pending_failures": len(self._failures)}


def _invalid(body: Any) -> str | None:
    """What is wrong with a send request's body, naming the field; None when it is right."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        return f"unknown fields: {', '.join(unknown)}"
    for name in FIELDS:
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name}: required, a non-empty string"
    if not E164.match(body["to"]):
        return "to: must be an E.164 number such as +6281234567890"
    if body["channel"] not in ("whatsapp", "sms"):
        return "channel: must be whatsapp or sms"
    if len(body["text"]) > MAX_TEXT:
        return f"text: at most {MAX_TEXT} characters, not {len(body['text'])}"
    if len(body["reference"]) > 40:
        return "reference: at most 40 characters"
    return None


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status, headers=dict(headers or {}),
                    mimetype="application/json")
