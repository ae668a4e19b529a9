"""Our calls to the courier's API (courier-partner-api.md, section 2), over `requests`.

Retries are urllib3's `Retry` mounted on a requests session: exponential backoff with jitter on 429, every 5xx,
timeouts and connection errors, honouring `Retry-After` (delay-seconds or an HTTP-date, RFC 9110) up to a cap
(ANTAR_COURIER_RETRY_AFTER_MAX: a longer one ends the call at once, never retried sooner than asked; the manifest is
then "handover failed" and staff try again later); a `Retry-After` that is neither is ignored and the usual backoff
applies. Bounded by a number of attempts (so by time: attempts x (read timeout + the longer of the backoff cap and
the Retry-After cap)). 401/403/422 are never retried.
POST is retried on purpose: every manifest carries its number as `Idempotency-Key`, so the courier answers a replay
with 409 and never creates a second manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote, urljoin

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InvalidHeader, MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

RETRY_STATUSES = frozenset({429, *range(500, 600)})  # contract, section 2: 429 and every 5xx


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # 201
    REPLAYED = "replayed"  # 409 on a manifest: the courier had it already; success
    REJECTED = "rejected"  # 422: rejected whole, nothing accepted
    CREDENTIALS = "credentials"  # 401/403: fix the configuration, do not retry
    GAVE_UP = "gave_up"  # retries exhausted (429/5xx/timeouts/connection errors)
    NOT_FOUND = "not_found"  # 404 (recall of a number the courier does not know)
    CONFLICT = "conflict"  # 409 on a recall: already delivered
    UNEXPECTED = "unexpected"  # any other answer


@dataclass
class CourierAnswer:
    outcome: Outcome
    http_status: int | None
    body: Any = None
    attempts: int = 1
    error: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.REPLAYED)

    def rejected_items(self, shown: int = 10) -> str:
        """The courier's reasons of a 422, the first `shown` of them, and how many more there are (the manifest's
        page and `antar manifests show` list them all)."""
        words = "; ".join(f"{e.get('tracking_number') or '-'}: {e.get('message')}" for e in self.errors[:shown])
        more = len(self.errors) - shown
        return words + (f"; dan {more} kesalahan lain" if more > 0 else "")

    def summary(self) -> str:
        """One line for staff, in Bahasa Indonesia."""
        status = f"HTTP {self.http_status}" if self.http_status else "tanpa jawaban"
        text = {
            Outcome.ACCEPTED: "diterima kurir",
            Outcome.REPLAYED: "sudah diterima kurir sebelumnya (409)",
            Outcome.REJECTED: "ditolak kurir: " + self.rejected_items(),
            Outcome.CREDENTIALS: "kredensial ditolak kurir; periksa ANTAR_COURIER_API_TOKEN (tidak dicoba ulang)",
            Outcome.GAVE_UP: f"kurir tidak dapat dihubungi setelah {self.attempts} percobaan",
            Outcome.NOT_FOUND: "nomor resi tidak dikenal kurir",
            Outcome.CONFLICT: "sudah terkirim; penarikan tidak berlaku",
            Outcome.UNEXPECTED: "jawaban kurir tidak terduga",
        }[self.outcome]
        detail = f" ({self.error})" if self.error and self.outcome is not Outcome.REJECTED else ""
        return f"{text} [{status}]{detail}"


class CourierConfigError(RuntimeError):
    """The courier's URL or token is not configured."""


class CourierClient:
    def __init__(self, base_url: str, token: str, *, connect_timeout: float = 5.0, read_timeout: float = 30.0,
                 retries: int = 5, backoff: float = 1.0, backoff_max: float = 30.0,
                 retry_after_max: int = 120) -> None:
        if not base_url:
            raise CourierConfigError("ANTAR_COURIER_BASE_URL belum diatur.")
        if not token:
            raise CourierConfigError("ANTAR_COURIER_API_TOKEN belum diatur.")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = (connect_timeout, read_timeout)
        self.retry = _CourierRetry(
            total=retries, connect=retries, read=retries, status=retries, other=0, redirect=0,
            allowed_methods=frozenset({"POST"}), status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff, backoff_max=backoff_max, backoff_jitter=backoff,
            respect_retry_after_header=True, retry_after_max=retry_after_max, raise_on_status=False,
        )
        self.session = requests.Session()
        self.session.mount(self.base_url, HTTPAdapter(max_retries=self.retry))
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                                     "User-Agent": "antar-ektp/1"})

    @classmethod
    def from_config(cls, config: dict[str, Any], **overrides: Any) -> CourierClient:
        kwargs = dict(
            connect_timeout=config["ANTAR_COURIER_CONNECT_TIMEOUT"], read_timeout=config["ANTAR_COURIER_READ_TIMEOUT"],
            retries=config["ANTAR_COURIER_RETRIES"], backoff=config["ANTAR_COURIER_BACKOFF"],
            backoff_max=config["ANTAR_COURIER_BACKOFF_MAX"], retry_after_max=config["ANTAR_COURIER_RETRY_AFTER_MAX"],
        )
        kwargs.update(overrides)
        return cls(config.get("ANTAR_COURIER_BASE_URL") or "", config.get("ANTAR_COURIER_API_TOKEN") or "", **kwargs)

    @classmethod
    def configured(cls, config: dict[str, Any]) -> CourierClient | None:
        """A client when the courier's API is configured, else None (the steps that need it are skipped)."""
        return cls.from_config(config) if config.get("ANTAR_COURIER_BASE_URL") else None

    def submit_manifest(self, payload: dict[str, Any]) -> CourierAnswer:
        """POST /v1/manifests with the manifest number as Idempotency-Key."""
        number = payload["manifest_number"]
        answer = self._post("v1/manifests", payload, {"Idempotency-Key": number})
        if answer.http_status == 201:
            answer.outcome = Outcome.ACCEPTED
        elif answer.http_status == 409:
            answer.outcome = Outcome.REPLAYED
        elif answer.http_status == 422:
            answer.outcome = Outcome.REJECTED
            body = answer.body if isinstance(answer.body, dict) else {}
            answer.errors = [e for e in body.get("errors", []) if isinstance(e, dict)]
        return answer

    def recall(self, tracking_number: str, reason: str) -> CourierAnswer:
        """POST /v1/items/{tracking_number}/recall: 202 accepted, 409 already delivered."""
        answer = self._post(f"v1/items/{quote(tracking_number, safe='')}/recall", {"reason": reason}, {})
        if answer.http_status == 202:
            answer.outcome = Outcome.ACCEPTED
        elif answer.http_status == 409:
            answer.outcome = Outcome.CONFLICT
        elif answer.http_status == 404:
            answer.outcome = Outcome.NOT_FOUND
        return answer

    def _post(self, path: str, payload: dict[str, Any], headers: dict[str, str]) -> CourierAnswer:
        url = urljoin(self.base_url, path)
        try:
            # stream: the attempts are counted from the response before its body is read, which can fail too
            response = self.session.post(url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                         headers={"Content-Type": "application/json", **headers},
                                         timeout=self.timeout, stream=True)
        except requests.RequestException as exc:
            return CourierAnswer(Outcome.GAVE_UP, None, attempts=_attempts_spent(exc), error=_reason(exc))
        retries = getattr(response.raw, "retries", None)
        attempts = 1 + len(retries.history) if retries is not None else 1
        try:
            _ = response.content  # read the body now (as requests does without stream)
        except requests.RequestException as exc:
            response.close()
            return CourierAnswer(Outcome.GAVE_UP, None, attempts=attempts, error=_reason(exc))
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:2000]
        status = response.status_code
        if status in (401, 403):
            outcome = Outcome.CREDENTIALS
        elif status in RETRY_STATUSES:
            outcome = Outcome.GAVE_UP
        else:
            outcome = Outcome.UNEXPECTED
        error = None if 200 <= status < 300 else _body_message(body)
        if outcome is Outcome.GAVE_UP and (too_long := self.retry.wait_too_long(response.raw)):
            error = f"{too_long} ({error})" if error else too_long
        return CourierAnswer(outcome, status, body, attempts=attempts, error=error)


class _CourierRetry(Retry):
    """urllib3's `Retry`, with two changes.

    A `Retry-After` that is neither delay-seconds nor an HTTP-date (RFC 9110, 10.2.3), e.g. `soon`, `0.5` or a date
    past year 9999, is ignored and the usual backoff applies; urllib3 would raise `InvalidHeader` (or `ValueError`)
    out of the sleep between attempts, ending the call with retries left.
    A `Retry-After` longer than `retry_after_max` ends the call (`wait_too_long`) instead of urllib3's retry after the
    cap, which would come back sooner than the courier asked (contract 2: honour it, for a bounded time).
    When the retries are spent, the `MaxRetryError` says how many attempts were made (`attempts`).
    """

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except (InvalidHeader, ValueError, OverflowError):
            return None

    def wait_too_long(self, response: BaseHTTPResponse) -> str | None:
        """Why the courier's answer is not retried within this call: it asks (`Retry-After`, as written) to wait
        longer than `retry_after_max`. None otherwise."""
        if not self.respect_retry_after_header:
            return None
        asked = self.new(retry_after_max=math.inf).get_retry_after(response)
        if asked is None or asked <= self.retry_after_max:
            return None
        return (f"kurir meminta menunggu {math.ceil(asked)} detik (Retry-After), lebih lama dari "
                f"ANTAR_COURIER_RETRY_AFTER_MAX ({self.retry_after_max} detik): tidak dicoba lagi sekarang")

    def increment(self, *args: Any, **kwargs: Any) -> _CourierRetry:
        response = kwargs.get("response")
        if response is not None and (too_long := self.wait_too_long(response)):
            # No more attempts: urllib3 then hands back this answer (`raise_on_status=False`), and `_post` says why.
            url = args[1] if len(args) > 1 else kwargs.get("url")
            spent = MaxRetryError(kwargs.get("_pool"), url, ResponseError(too_long))
            spent.attempts = len(self.history) + 1  # type: ignore[attr-defined]
            raise spent
        try:
            return super().increment(*args, **kwargs)
        except MaxRetryError as exc:
            # self.history has one entry per earlier failed attempt; this one failed too
            exc.attempts = len(self.history) + 1  # type: ignore[attr-defined]
            raise


def _attempts_spent(exc: requests.RequestException) -> int:
    """Attempts made by a call that raised. requests wraps urllib3's `MaxRetryError` (retries ran out), on which
    `_CourierRetry` counted them; any other error is raised on the first attempt (an error of a later attempt goes
    through `Retry.increment`)."""
    spent = next((a for a in exc.args if isinstance(a, MaxRetryError)), None)
    return getattr(spent, "attempts", 1)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Read timed out", "Connection refused", "Max retries exceeded"):
        if marker in text:
            return marker
    return text[:300]


def _body_message(body: Any) -> str | None:
    if isinstance(body, dict):
        err = body.get("error") or body.get("message") or body.get("errors")
        return json.dumps(err, ensure_ascii=False)[:500] if err is not None else None
    return str(body)[:300] if body else None
