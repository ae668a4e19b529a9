"""The courier simulator: a real HTTP server on loopback that plays PT Pos's side of the contract.

It accepts manifests and recalls (courier-partner-api.md, section 2), plans what happens to every item
(`courier_sim.plan`), and, as its simulated clock moves on, posts the tracking events to our webhook
(section 3) with the untidiness of a real courier: duplicates, late and out-of-order events, retries.
Failures can be injected so that tests can drive our outbound client through every branch.

Section 6: items may carry `cod` and `collect_old_card`; items wait at the post office for pickup, fees are
collected or refused, old cards surrendered or not and reported at the office (shares: `courier_sim.plan`), and
every week each post office remits its fees in a signed `cod.settlement` message with deliberate differences
(`courier_sim.settlement`). Each day's messages go out in this order: tracking events, settlements, then the
annotations (`OLD_CARD_RECEIVED`, `COD_REMITTED`), so that an annotation never reaches us before its item's
delivery (one whose delivery is held back as a late event is held back as long).

    with CourierSimulator(webhook_url=url, webhook_secret=secret, start=monday_9am) as sim:
        requests.post(sim.url + "v1/manifests", ...)
        sim.play_all()
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from app.courier.tracking import ANNOTATIONS, MAX_EVENTS_PER_BATCH, RETURN_REASONS, Status
from courier_sim.plan import WIB, LastMile, Planner, PostOffice, TrackedItem, pickup_time, resolve_outcomes, tally
from courier_sim.settlement import DIFFERENCE_KINDS, Settlement, Settler
from courier_sim.validation import validate_manifest
from courier_sim.webhook import Message, WebhookSender, generate_secret

log = logging.getLogger("courier_sim")

FAILURE_KINDS = ("500", "503", "429", "timeout")
_FAILURE_MESSAGES = {"500": "simulated internal server error", "503": "simulated: service unavailable",
                     "429": "simulated: too many requests"}


@dataclass(frozen=True)
class AcceptedManifest:
    """A manifest the courier took: the request as received and the exact 201 body (replayed on a 409)."""

    manifest_number: str
    body: dict[str, Any]
    response_body: bytes
    tracking_numbers: tuple[str, ...]
    accepted_at: datetime  # simulated clock

    @property
    def response(self) -> dict[str, Any]:
        return json.loads(self.response_body)


@dataclass(frozen=True)
class _Failure:
    kind: str
    retry_after: int | str | None
    delay: float


class _QuietHandler(WSGIRequestHandler):
    """Request lines go to our logger at debug level instead of stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug("%s " + message, self.address_string(), *args)


class CourierSimulator:
    """PT Pos, simulated. See the module docstring; every public attribute is safe to read from tests.

    Inspection: `manifests` (number -> AcceptedManifest), `requests_seen` ((method, path, idempotency_key,
    status) per courier-API request), `events_sent` (every event posted, duplicates included), `results`
    (per-event results from the receiver's 200 bodies), `failed_messages` (messages every retry failed),
    `day` and `clock` (the simulated clock), `settlements` (every COD settlement made, with the receiver's
    answers), `differences` (the deliberate differences put into them).

    Section 6 options: `pickup_share`, `cod_refusal_share`, `old_card_refusal_share`, `old_card_received_share`
    (see `courier_sim.plan.LastMile`) and `settlement_differences` (kinds of `DIFFERENCE_KINDS`, all by default;
    None or () for honest settlements).
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_token: str = "sim-token",
                 webhook_url: str | None = None, webhook_secret: str | None = None,
                 outcomes: Mapping[str, Any] | None = None, seed: int = 0, duplicate_share: float = 0.02,
                 late_share: float = 0.03, batch_size: int = 500, start: datetime | None = None,
                 far_share: float = 0.002, retry_delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
                 webhook_timeout: float = 10.0, keep_history: bool = True, pickup_share: float = 0.5,
                 cod_refusal_share: float = 0.05, old_card_refusal_share: float = 0.04,
                 old_card_received_share: float = 0.9,
                 settlement_differences: Sequence[str] | None = DIFFERENCE_KINDS) -> None:
        if not 1 <= batch_size <= MAX_EVENTS_PER_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_EVENTS_PER_BATCH}")
        for name, share in (("duplicate_share", duplicate_share), ("late_share", late_share),
                            ("far_share", far_share)):
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be between 0 and 1")
        self.host, self.port, self.api_token = host, port, api_token
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret or (generate_secret() if webhook_url else None)
        self.seed, self.batch_size, self.keep_history = seed, batch_size, keep_history
        self.duplicate_share, self.late_share = duplicate_share, late_share
        if start is None:
            start = datetime.now(WIB).replace(second=0, microsecond=0)
        self.start_time = start.replace(tzinfo=WIB) if start.tzinfo is None else start.astimezone(WIB)
        self.clock = self.start_time
        self.day = 0

        self.last_mile = LastMile(pickup_share, cod_refusal_share, old_card_refusal_share, old_card_received_share)
        self._planner = Planner(random.Random(seed), resolve_outcomes(outcomes), far_share=far_share,
                                last_mile=self.last_mile)
        self._wire_rng = random.Random(f"wire:{seed}")  # duplicates, late events, shuffling
        self._sender = (WebhookSender(webhook_url, self.webhook_secret, retry_delays=retry_delays,
                                      timeout=webhook_timeout) if webhook_url else None)
        self._lock = threading.RLock()  # all state below
        self._advance_lock = threading.Lock()  # one playback at a time, so messages go out in order
        self.manifests: dict[str, AcceptedManifest] = {}
        self._items: dict[str, TrackedItem] = {}
        self._manifest_of: dict[str, str] = {}
        self._pending: dict[str, TrackedItem] = {}  # items whose plan is not fully played
        self._offices: dict[str, tuple[float, float]] = {}
        self._post_offices: dict[str, PostOffice] = {}
        # Its own generator: the settlements' differences never shift the items' plans.
        self._settler = Settler(random.Random(f"settle:{seed}"), self._items, settlement_differences)
        self._resends: list[tuple[int, Settlement]] = []  # (day, settlement): a settlement sent again
        self._held: list[tuple[int, dict[str, Any]]] = []  # (release day, event): late events
        self._echoes: list[tuple[int, dict[str, Any]]] = []  # (release day, event): duplicates
        self._failures: deque[_Failure] = deque()
        self.requests_seen: list[tuple[str, str, str | None, int]] = []
        self.events_sent: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.failed_messages: list[Message] = []
        self.messages_sent = 0
        self.events_posted = 0
        self.settlement_messages = 0

        self._urls = Map([
            Rule("/v1/manifests", methods=["POST"], endpoint="manifests"),
            Rule("/v1/items/<tracking_number>/recall", methods=["POST"], endpoint="recall"),
            Rule("/_sim/fail", methods=["POST"], endpoint="sim_fail"),
            Rule("/_sim/state", methods=["GET"], endpoint="sim_state"),
            Rule("/_sim/advance", methods=["POST"], endpoint="sim_advance"),
        ])
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._clock_thread: threading.Thread | None = None
        self._clock_stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> CourierSimulator:
        """Serve in a background thread; `port=0` picks a free port (read it back from `.port` or `.url`)."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_port
        # A short poll interval keeps stop() quick (it waits for the serving loop to notice).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"courier-sim:{self.port}", daemon=True)
        self._thread.start()
        log.info("courier simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop the clock thread and the server (requests in flight are abandoned)."""
        self.stop_clock()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def __enter__(self) -> CourierSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- failure injection -----------------------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1, retry_after: int | str | None = None,
                  delay: float | None = None) -> None:
        """Make the next `count` courier-API requests fail.

        `kind`: "500" or "503" (error status), "429" (with `Retry-After: retry_after`, default 1), or
        "timeout" (sleep `delay` seconds, default 3, then process the request normally, like a slow server
        whose answer the client no longer waits for: a retry then meets a 409).
        """
        kind = str(kind)
        if kind not in FAILURE_KINDS:
            raise ValueError(f"kind must be one of {FAILURE_KINDS}, not {kind!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if kind == "429" and retry_after is None:
            retry_after = 1
        failure = _Failure(kind, retry_after, 3.0 if delay is None else float(delay))
        with self._lock:
            self._failures.extend([failure] * count)

    def _take_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    # -- HTTP ------------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self._urls.bind_to_environ(environ).match()
        except NotFound:
            response = _error(404, f"no such endpoint: {request.path}")
        except MethodNotAllowed:
            response = _error(405, f"method {request.method} not allowed on {request.path}")
        else:
            response = self._dispatch(endpoint, request, args)
        return response(environ, start_response)

    def _dispatch(self, endpoint: str, request: Request, args: dict[str, Any]) -> Response:
        try:
            if endpoint.startswith("sim_"):
                return getattr(self, f"_{endpoint}")(request)
            response = self._courier_api(endpoint, request, args)
        except Exception:
            log.exception("simulator error on %s %s", request.method, request.path)
            return _error(500, "courier simulator error (see its log)")
        with self._lock:
            self.requests_seen.append((request.method, request.path, request.headers.get("Idempotency-Key"),
                                       response.status_code))
        return response

    def _courier_api(self, endpoint: str, request: Request, args: dict[str, Any]) -> Response:
        failure = self._take_failure()
        if failure is not None:
            if failure.kind == "timeout":
                time.sleep(failure.delay)
            else:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return _error(int(failure.kind), _FAILURE_MESSAGES[failure.kind], headers=headers)
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        if endpoint == "manifests":
            return self._post_manifest(request)
        return self._post_recall(request, args["tracking_number"])

    def _authenticate(self, request: Request) -> Response | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _error(401, "Authorization: Bearer <token> required", headers={"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(token.encode(), self.api_token.encode()):
            return _error(403, "invalid API token")
        return None

    def _post_manifest(self, request: Request) -> Response:
        body, problem = _parse_json(request)
        if problem is not None:
            return problem
        key = request.headers.get("Idempotency-Key")
        number = body.get("manifest_number")
        if not key:
            return _error(422, "Idempotency-Key header required (the manifest_number)")
        if key != number:
            return _error(422, f"Idempotency-Key {key!r} must equal manifest_number {number!r}")
        with self._lock:
            existing = self.manifests.get(key)
            if existing is not None:
                if set(_tracking_numbers(body)) != set(existing.tracking_numbers):
                    return _error(422, f"Idempotency-Key {key!r} was already used for a manifest with other items")
                log.info("manifest %s replayed: 409 with the original answer", key)
                return Response(existing.response_body, 409, mimetype="application/json")
            errors = validate_manifest(body, accepted_elsewhere=self._manifest_of)
            if errors:
                log.info("manifest %s rejected: %d errors, first: %s", key, len(errors), errors[0]["message"])
                return _json(422, {"errors": errors})
            accepted = self._accept(body)
        log.info("manifest %s accepted: %d items, pickup %s", key, len(accepted.tracking_numbers),
                 accepted.response["pickup_scheduled_at"])
        return Response(accepted.response_body, 201, mimetype="application/json")

    def _accept(self, body: dict[str, Any]) -> AcceptedManifest:
        """Take a validated manifest: plan every item. Caller holds the lock."""
        number = body["manifest_number"]
        self._learn_offices(body["items"])
        post_office = self._post_office(body["destination_post_office"], body["items"][0]["address"])
        for raw in body["items"]:
            address = raw["address"]
            kode_pos = address["kode_pos"]
            home = (address["lat"], address["lng"]) if address.get("lat") is not None else None
            cod = raw.get("cod")
            item = TrackedItem(
                tracking_number=raw["tracking_number"], manifest_number=number,
                recipient_name=raw["recipient_name"], kode_pos=kode_pos, rt=address["rt"], home=home,
                office=self._offices.get(kode_pos),
                courier_id=f"PTR-{int(kode_pos) % 100:02d}{self._planner.rng.randint(1, 12):02d}",
                post_office=post_office, cod_amount=cod["amount"] if cod else None,
                collect_old_card=raw.get("collect_old_card") is True)
            self._planner.plan(item, self.clock)
            self._items[item.tracking_number] = self._pending[item.tracking_number] = item
            self._manifest_of[item.tracking_number] = number
        response = {"manifest_number": number, "accepted": len(body["items"]),
                    "pickup_scheduled_at": pickup_time(self.clock).isoformat(timespec="seconds")}
        accepted = AcceptedManifest(number, body, json.dumps(response).encode(), tuple(_tracking_numbers(body)),
                                    self.clock)
        self.manifests[number] = accepted
        return accepted

    def _post_office(self, destination: Mapping[str, str], address: Mapping[str, Any]) -> PostOffice:
        """The manifest's post office, with a counter address of its own (the first manifest names it)."""
        code = destination["code"]
        office = self._post_offices.get(code)
        if office is None:
            town = destination["name"].removeprefix("KPC ").strip() or code
            office = self._post_offices[code] = PostOffice(
                code, destination["name"], f"Jl. Raya {town} No. {int(code) % 89 + 1}, {address['kecamatan'].title()}, "
                                           f"{address['kabupaten_kota'].title()} {code}")
        return office

    def _learn_offices(self, items: list[dict[str, Any]]) -> None:
        """Place each post office (not known yet) at the centre of its items that have coordinates."""
        points: dict[str, list[tuple[float, float]]] = {}
        for raw in items:
            address = raw["address"]
            if address.get("lat") is not None:
                points.setdefault(address["kode_pos"], []).append((address["lat"], address["lng"]))
        for kode_pos, pts in points.items():
            if kode_pos not in self._offices:
                self._offices[kode_pos] = (round(sum(p[0] for p in pts) / len(pts), 6),
                                           round(sum(p[1] for p in pts) / len(pts), 6))

    def _post_recall(self, request: Request, tracking_number: str) -> Response:
        body, problem = _parse_json(request)
        if problem is not None:
            return problem
        reason = body.get("reason")
        if reason not in RETURN_REASONS:
            return _error(422, f"reason must be one of {', '.join(RETURN_REASONS)}", tracking_number)
        with self._lock:
            item = self._items.get(tracking_number)
            if item is None:
                return _error(404, "unknown tracking number", tracking_number)
            if item.has_played(Status.DELIVERED):
                return _error(409, "already delivered: the delivery stands", tracking_number)
            if item.has_played(Status.RETURNED):
                return _json(202, {"tracking_number": tracking_number, "recall": "accepted",
                                   "note": "already being returned"})
            self._planner.recall(item, reason, self.clock)
        log.info("recall of %s accepted (%s)", tracking_number, reason)
        return _json(202, {"tracking_number": tracking_number, "recall": "accepted", "reason": reason})

    def _sim_fail(self, request: Request) -> Response:
        body, problem = _parse_json(request)
        if problem is not None:
            return problem
        try:
            self.fail_next(body.get("kind", ""), body.get("count", 1), body.get("retry_after"), body.get("delay"))
        except (TypeError, ValueError) as exc:
            return _error(422, str(exc))
        return _json(200, self.state())

    def _sim_state(self, request: Request) -> Response:
        return _json(200, self.state())

    def _sim_advance(self, request: Request) -> Response:
        body, problem = _parse_json(request)
        if problem is not None:
            return problem
        days = body.get("days", 1)
        if isinstance(days, bool) or not isinstance(days, int) or days < 0:
            return _error(422, "days must be a non-negative integer")
        self.advance(days)
        return _json(200, self.state())

    # -- playback --------------------------------------------------------------------------------------------

    def advance(self, days: int = 1) -> list[dict[str, Any]]:
        """Move the simulated clock `days` days forward, one day at a time, posting every event that falls due.

        Returns the events posted (or attempted) during this call, duplicates and released late events included.
        """
        posted: list[dict[str, Any]] = []
        for _ in range(days):
            posted.extend(self.advance_by(timedelta(days=1)))
        return posted

    def advance_by(self, step: timedelta) -> list[dict[str, Any]]:
        """Move the clock `step` forward (a few hours, say: the courier reporting through the day) and post what
        falls due. `day` counts whole days since the start: events held back for a day or more come out when it
        moves on."""
        if step <= timedelta(0):
            raise ValueError("step must be positive")
        posted: list[dict[str, Any]] = []
        with self._advance_lock:
            with self._lock:
                self.clock += step
                self.day = (self.clock - self.start_time) // timedelta(days=1)
                events, settlements, annotations = self._due_messages()
                messages = [*self._batches(events), *(Message.settlement(s.data()) for s in settlements),
                            *self._batches(annotations)]
            if messages:
                log.info("day %d (%s): %d events, %d settlements in %d messages", self.day,
                         self.clock.isoformat(timespec="minutes"), len(events) + len(annotations), len(settlements),
                         len(messages))
            for message in messages:
                self._post(message)
                posted.extend(message.events)
        return posted

    def _batches(self, events: list[dict[str, Any]]) -> list[Message]:
        return [Message.of(events[i:i + self.batch_size]) for i in range(0, len(events), self.batch_size)]

    @property
    def finished(self) -> bool:
        """Every plan is played (annotations too), nothing is held back and every fee is settled."""
        with self._lock:
            return not (self._pending or self._held or self._echoes or self._settler.waiting or self._resends)

    def play_all(self, max_days: int = 1000) -> list[dict[str, Any]]:
        """Advance until `finished`."""
        posted: list[dict[str, Any]] = []
        for _ in range(max_days):
            if self.finished:
                return posted
            posted.extend(self.advance(1))
        raise RuntimeError(f"playback not finished after {max_days} simulated days")

    def redeliver_failed(self) -> int:
        """Try each finally-failed message once more (same webhook-id); stop at the first that fails again."""
        delivered = 0
        with self._advance_lock:
            with self._lock:
                waiting, self.failed_messages = self.failed_messages, []
            for i, message in enumerate(waiting):
                if not self._post(message, retry=False):
                    with self._lock:
                        self.failed_messages[:0] = waiting[i + 1:]
                    break
                delivered += 1
        return delivered

    def run_clock(self, seconds_per_day: float) -> threading.Thread:
        """Real-time mode: a background thread advances one day every `seconds_per_day` seconds."""
        if self._clock_thread is not None and self._clock_thread.is_alive():
            raise RuntimeError("the clock is already running")
        self._clock_stop.clear()

        def tick() -> None:
            while not self._clock_stop.wait(seconds_per_day):
                try:
                    if self.failed_messages:
                        self.redeliver_failed()
                    self.advance(1)
                except Exception:
                    log.exception("simulated day %d failed", self.day)

        self._clock_thread = threading.Thread(target=tick, name="courier-sim-clock", daemon=True)
        self._clock_thread.start()
        return self._clock_thread

    def stop_clock(self) -> None:
        self._clock_stop.set()
        if self._clock_thread is not None:
            self._clock_thread.join(timeout=30)
            self._clock_thread = None

    def _due_messages(self) -> tuple[list[dict[str, Any]], list[Settlement], list[dict[str, Any]]]:
        """What today sends, in order: tracking events, settlements (new, and any sent again today), annotations.

        Plays every planned event the clock has passed (with lateness, duplicates and shuffling), then remits the
        weeks that are over (their COD_REMITTED annotations are played at once). Holds the lock.
        """
        rng = self._wire_rng
        outbox: list[dict[str, Any]] = []
        for queue in (self._held, self._echoes):
            waiting = [(day, event) for day, event in queue if day > self.day]
            outbox.extend(event for day, event in queue if day <= self.day)
            queue[:] = waiting
        finished = []
        for tracking_number, item in self._pending.items():
            self._play(item, outbox)
            if item.played == len(item.events):
                finished.append(tracking_number)
        for tracking_number in finished:
            del self._pending[tracking_number]
        settlements = self._settler.due(self.clock, self._cod_deliveries_to_come)
        for settlement in settlements:
            for booking in settlement.settles:
                item = booking.item
                # Every event after `played` lies after the clock, so the annotation goes right there, in order.
                item.events.insert(item.played, self._planner.remitted(item, settlement.remitted_at,
                                                                       settlement.settlement_id))
                self._play(item, outbox)
            if settlement.resend:
                self._resends.append((self.day + 1, settlement))
        again = [s for day, s in self._resends if day <= self.day]
        self._resends = [(day, s) for day, s in self._resends if day > self.day]
        events = [e for e in outbox if e["status"] not in ANNOTATIONS]
        annotations = [e for e in outbox if e["status"] in ANNOTATIONS]
        rng.shuffle(events)
        rng.shuffle(annotations)
        return events, settlements + again, annotations

    def _play(self, item: TrackedItem, outbox: list[dict[str, Any]]) -> None:
        """Play the item's events the clock has passed into `outbox`, or hold them back (late) or echo them."""
        rng = self._wire_rng
        while item.played < len(item.events) and item.events[item.played].occurred_at <= self.clock:
            planned = item.events[item.played]
            event = item.to_wire(planned)
            item.played += 1
            if planned.status == Status.DELIVERED and planned.cod_collected is not None:
                self._settler.book(item, planned)
            if planned.status in ANNOTATIONS and item.held_until_day > self.day:
                self._held.append((item.held_until_day, event))  # never before its delivery, itself held back
                continue
            if rng.random() < self.late_share:
                release = self.day + rng.randint(1, 3)
                item.held_until_day = max(item.held_until_day, release)
                self._held.append((release, event))
                continue
            outbox.append(event)
            if rng.random() < self.duplicate_share:
                self._echoes.append((self.day + rng.randint(1, 2), event))

    def _cod_deliveries_to_come(self) -> bool:
        return any(item.cod_amount is not None and any(e.status == Status.DELIVERED for e in item.events[item.played:])
                   for item in self._pending.values())

    def _post(self, message: Message, *, retry: bool = True) -> bool:
        ok = True if self._sender is None else self._sender.send(message, retry=retry)
        with self._lock:
            if ok:
                self.messages_sent += 1
                self.events_posted += len(message.events)
                if message.settlement_id is not None:
                    self.settlement_messages += 1
                    self._settlement(message.settlement_id).answers.append((message.answer or {}).get("result"))
                if self.keep_history:
                    self.events_sent.extend(message.events)
                    self.results.extend(message.results)
            elif retry:
                self.failed_messages.append(message)
        if self._sender is not None:
            if ok and message.settlement_id is not None:
                log.info("posted %s: settlement %s -> %s %s", message.webhook_id, message.settlement_id,
                         message.status, message.answer)
            elif ok:
                results = Counter(r.get("result") for r in message.results if isinstance(r, dict))
                log.info("posted %s: %d events -> %s %s", message.webhook_id, len(message.events), message.status,
                         dict(results))
            else:
                log.warning("message %s not delivered after %d attempts: %s", message.webhook_id, message.attempts,
                            message.error)
        return ok

    def _settlement(self, settlement_id: str) -> Settlement:
        return next(s for s in reversed(self._settler.sent) if s.settlement_id == settlement_id)

    # -- inspection ------------------------------------------------------------------------------------------

    @property
    def settlements(self) -> list[Settlement]:
        return list(self._settler.sent)

    @property
    def differences(self) -> list[dict[str, Any]]:
        """The deliberate differences made so far; a `duplicate` carries the receiver's answers to both sends."""
        with self._lock:
            made = []
            for difference in self._settler.differences:
                difference = dict(difference)
                if difference["kind"] == "duplicate":
                    difference["answers"] = list(self._settlement(difference["settlement_id"]).answers)
                made.append(difference)
            return made

    def item_state(self, tracking_number: str) -> Status | None:
        """The status of the item's last played step (annotations are not steps); None before its first.

        KeyError for an unknown item."""
        with self._lock:
            return self._items[tracking_number].state

    def plan_of(self, tracking_number: str) -> list[dict[str, Any]]:
        """The item's whole plan in order (played and still to come), as the events will be posted."""
        with self._lock:
            item = self._items[tracking_number]
            return [item.to_wire(e) for e in item.events]

    def state(self) -> dict[str, Any]:
        """Counts for `GET /_sim/state` and the CLI."""
        with self._lock:
            by_status = Counter(str(i.state) if i.state else "NOT_STARTED" for i in self._items.values())
            return {
                "day": self.day, "clock": self.clock.isoformat(timespec="seconds"),
                "manifests": len(self.manifests), "items": len(self._items), "items_in_play": len(self._pending),
                "by_status": dict(by_status), "messages_sent": self.messages_sent,
                "events_posted": self.events_posted, "events_held": len(self._held) + len(self._echoes),
                "failed_messages": len(self.failed_messages), "pending_failures": len(self._failures),
                "requests_seen": len(self.requests_seen),
                **tally(self._items.values()),
                "settlements": self._settler.summary(),
                "differences": self.differences,
                "options": {**asdict(self.last_mile), "settlement_differences": list(self._settler.kinds)},
            }


def _tracking_numbers(body: Mapping[str, Any]) -> list[str]:
    items = body.get("items")
    if not isinstance(items, list):
        return []
    return [i["tracking_number"] for i in items if isinstance(i, dict) and isinstance(i.get("tracking_number"), str)]


def _parse_json(request: Request) -> tuple[dict[str, Any], None] | tuple[None, Response]:
    try:
        body = json.loads(request.get_data(cache=False) or b"")
    except ValueError as exc:
        return None, _error(400, f"malformed JSON: {exc}")
    if not isinstance(body, dict):
        return None, _error(400, "the body must be a JSON object")
    return body, None


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(payload, ensure_ascii=False), status, headers=dict(headers or {}),
                    mimetype="application/json")


def _error(status: int, message: str, tracking_number: str | None = None,
           headers: Mapping[str, str] | None = None) -> Response:
    """Every error has the contract's shape: {"errors": [{"tracking_number", "message"}]}."""
    return _json(status, {"errors": [{"tracking_number": tracking_number, "message": message}]}, headers)
