"""Our outbound client's retries (courier-partner-api.md, section 2), over real HTTP on loopback: 429 and every 5xx
are retried with backoff, `Retry-After` is honoured (seconds or an HTTP-date, up to our cap) and ignored when it is
neither, the attempts reported are the attempts made, and a retry never makes a second manifest."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.courier import s10
from app.courier.client import CourierClient, Outcome
from courier_sim.server import CourierSimulator

TOKEN = "rahasia-kurir"
NUMBER = "MNF-3216-20261123-0001"
FAST = dict(retries=3, backoff=0.01, backoff_max=0.05, retry_after_max=5, connect_timeout=1.0, read_timeout=2.0)


def payload(number: str = NUMBER) -> dict[str, Any]:
    return {"manifest_number": number, "origin": {"office": "Disdukcapil Kabupaten Bekasi", "kode_wilayah": "32.16"},
            "destination_post_office": {"code": "17510", "name": "KPC Tambun"},
            "created_at": "2026-11-23T09:00:00+07:00",
            "items": [{"tracking_number": s10.tracking_number("RB", 12345678), "recipient_name": "SITI AMINAH",
                       "address": {"street": "JL. RAYA JATIMULYA NO. 12", "rt": "003", "rw": "005",
                                   "kelurahan": "JATIMULYA", "kecamatan": "TAMBUN SELATAN",
                                   "kabupaten_kota": "KABUPATEN BEKASI", "provinsi": "JAWA BARAT",
                                   "kode_pos": "17510", "kode_wilayah": "32.16.06.1001"}}]}


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error": "scripted"}'
    declared_length: int | None = None  # a Content-Length larger than the body: the answer breaks off


ACCEPTED = Answer(201, body=json.dumps({"manifest_number": NUMBER, "accepted": 1}).encode())


class ScriptedCourier:
    """A loopback HTTP server for the answers the simulator cannot give (any status): it gives the scripted answers
    in turn, then 201. `seen` holds (path, Idempotency-Key, status) of every request."""

    def __init__(self, *script: Answer) -> None:
        self.script = deque(script)
        self.seen: list[tuple[str, str | None, int]] = []
        courier = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = courier.script.popleft() if courier.script else ACCEPTED
                courier.seen.append((self.path, self.headers.get("Idempotency-Key"), answer.status))
                self.send_response(answer.status)
                for name, value in {"Content-Type": "application/json", **answer.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(answer.declared_length or len(answer.body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer.body)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> ScriptedCourier:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    @property
    def statuses(self) -> list[int]:
        return [s for _, _, s in self.seen]


@pytest.fixture
def sim():
    with CourierSimulator(api_token=TOKEN, seed=1) as s:
        yield s


def manifest_statuses(sim: CourierSimulator) -> list[int]:
    return [r[3] for r in sim.requests_seen if r[1] == "/v1/manifests"]


# -- every 5xx is retried, as 429 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 501, 502, 503, 504, 505, 507, 520, 599])
def test_every_5xx_is_retried_then_the_manifest_goes_once(status):
    with ScriptedCourier(Answer(status), Answer(status)) as courier:
        answer = CourierClient(courier.url, TOKEN, **FAST).submit_manifest(payload())
    assert answer.outcome is Outcome.ACCEPTED and answer.http_status == 201, answer
    assert answer.attempts == 3 and courier.statuses == [status, status, 201]
    assert {key for _, key, _ in courier.seen} == {NUMBER}  # every attempt under the same Idempotency-Key


@pytest.mark.parametrize("status", [501, 520])
def test_a_5xx_that_does_not_pass_gives_up_after_the_bound(status):
    with ScriptedCourier(*[Answer(status)] * 10) as courier:
        answer = CourierClient(courier.url, TOKEN, **FAST).submit_manifest(payload())
    assert answer.outcome is Outcome.GAVE_UP and answer.http_status == status
    assert answer.attempts == 4 and len(courier.seen) == 4  # 1 try + 3 retries
    assert "setelah 4 percobaan" in answer.summary()


def test_a_recall_is_retried_on_any_5xx_too():
    with ScriptedCourier(Answer(507), Answer(202, body=b"{}")) as courier:
        answer = CourierClient(courier.url, TOKEN, **FAST).recall("RB123456785ID", "DEMOLISHED_AREA")
    assert answer.outcome is Outcome.ACCEPTED and answer.attempts == 2 and courier.statuses == [507, 202]


# -- Retry-After ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["429", "503"])
@pytest.mark.parametrize("retry_after", [
    "soon", "0.5", "", "-1", "Fri, 31 Dec 99999 23:59:59 GMT",
    pytest.param("9" * 5000, id="5000-digits"),  # past Python's int conversion limit: ValueError, not InvalidHeader
])
def test_an_unparseable_retry_after_is_ignored_and_the_usual_backoff_applies(sim, kind, retry_after):
    sim.fail_next(kind, 2, retry_after=retry_after)
    started = time.monotonic()
    answer = CourierClient(sim.url, TOKEN, **FAST).submit_manifest(payload())
    assert answer.outcome is Outcome.ACCEPTED, answer.summary()
    assert answer.attempts == 3 and manifest_statuses(sim) == [int(kind), int(kind), 201]
    assert time.monotonic() - started < 2  # backoff is 0.01-0.05 s here
    assert list(sim.manifests) == [NUMBER]


def test_an_unparseable_retry_after_to_the_end_reports_the_attempts_really_made(sim):
    sim.fail_next("429", 10, retry_after="soon")
    answer = CourierClient(sim.url, TOKEN, **FAST).submit_manifest(payload())
    assert answer.outcome is Outcome.GAVE_UP and answer.http_status == 429
    assert answer.attempts == 4 and len(manifest_statuses(sim)) == 4
    assert "Invalid Retry-After" not in (answer.error or "") and "setelah 4 percobaan" in answer.summary()
    assert not sim.manifests


def _imf_fixdate(at: datetime) -> str:
    return format_datetime(at, usegmt=True)  # Sun, 06 Nov 1994 08:49:37 GMT


def _rfc850_date(at: datetime) -> str:
    return at.strftime("%A, %d-%b-%y %H:%M:%S GMT")  # Sunday, 06-Nov-94 08:49:37 GMT (obsolete, still accepted)


def _asctime_date(at: datetime) -> str:
    return at.strftime("%a %b %d %H:%M:%S %Y")  # Sun Nov  6 08:49:37 1994 (obsolete, still accepted; UTC)


@pytest.mark.parametrize("form", [_imf_fixdate, _rfc850_date, _asctime_date])
def test_a_retry_after_http_date_is_honoured(sim, form):
    sim.fail_next("503", 1, retry_after=form(datetime.now(UTC) + timedelta(seconds=2)))
    started = time.monotonic()
    answer = CourierClient(sim.url, TOKEN, **FAST).submit_manifest(payload())
    waited = time.monotonic() - started
    assert answer.outcome is Outcome.ACCEPTED and answer.attempts == 2
    assert 0.9 <= waited < 3  # the date has whole seconds: 1-2 s from now; backoff alone is 0.01-0.05 s
    assert manifest_statuses(sim) == [503, 201]


def test_a_retry_after_longer_than_the_cap_ends_the_call_without_coming_back_sooner(sim):
    """Contract 2: honour Retry-After, for a bounded time. The courier asks for an hour, more than we wait within
    a call (ANTAR_COURIER_RETRY_AFTER_MAX): the call ends at once, saying why, instead of coming back after the cap,
    sooner than asked; the manifest is then "handover failed" and staff try again."""
    sim.fail_next("429", 1, retry_after=3600)
    started = time.monotonic()
    answer = CourierClient(sim.url, TOKEN, **{**FAST, "retry_after_max": 1}).submit_manifest(payload())
    assert time.monotonic() - started < 1
    assert answer.outcome is Outcome.GAVE_UP and answer.attempts == 1, answer
    assert "3600 detik" in answer.error and "ANTAR_COURIER_RETRY_AFTER_MAX" in answer.error
    assert manifest_statuses(sim) == [429] and list(sim.manifests) == []
    again = CourierClient(sim.url, TOKEN, **{**FAST, "retry_after_max": 1}).submit_manifest(payload())
    assert again.outcome is Outcome.ACCEPTED and list(sim.manifests) == [NUMBER]


def test_a_retry_after_up_to_the_cap_is_waited_for_then_retried(sim):
    sim.fail_next("429", 1, retry_after=1)
    started = time.monotonic()
    answer = CourierClient(sim.url, TOKEN, **{**FAST, "retry_after_max": 1}).submit_manifest(payload())
    assert answer.outcome is Outcome.ACCEPTED and answer.attempts == 2
    assert 1.0 <= time.monotonic() - started < 3
    assert manifest_statuses(sim) == [429, 201] and list(sim.manifests) == [NUMBER]


def test_a_retry_after_in_seconds_is_honoured(sim):
    sim.fail_next("429", 1, retry_after=1)
    started = time.monotonic()
    answer = CourierClient(sim.url, TOKEN, **FAST).submit_manifest(payload())
    assert answer.outcome is Outcome.ACCEPTED and answer.attempts == 2
    assert 1.0 <= time.monotonic() - started < 3


# -- the attempts reported are the attempts made -------------------------------------------------------------------


def test_an_answer_that_breaks_off_after_a_retry_reports_the_attempts_made():
    broken = Answer(201, body=b'{"manifest_number": "', declared_length=200)
    with ScriptedCourier(Answer(503), broken) as courier:
        answer = CourierClient(courier.url, TOKEN, **FAST).submit_manifest(payload())
    assert answer.outcome is Outcome.GAVE_UP and answer.attempts == 2 and courier.statuses == [503, 201]


def test_connection_refused_reports_every_attempt():
    answer = CourierClient("http://127.0.0.1:9/", TOKEN, **{**FAST, "retries": 2}).submit_manifest(payload())
    assert answer.outcome is Outcome.GAVE_UP and answer.http_status is None and answer.attempts == 3
    assert "setelah 3 percobaan" in answer.summary()
