"""Our call to the message gateway (citizen-notifications.md): one request, its answer classified.

One request per call, no retries inside: a message that should be tried again is scheduled again by the sender
(notify.service), which records every attempt and spaces them with backoff and jitter, honouring `Retry-After`.
The message id is the `Idempotency-Key` (with `-sms` on the SMS channel), so a request whose answer we lost is
answered 409 the next time, and the citizen gets one message.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urljoin

import requests


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # 202: the gateway queued it
    DUPLICATE = "duplicate"  # 409: the gateway had it already (our retry of a lost answer): success
    NO_WHATSAPP = "no_whatsapp"  # 422 {"error": "no_whatsapp"}: send again as SMS (to an SMS: wrong, do not retry)
    REJECTED = "rejected"  # 400/422: the message is wrong, do not retry
    CREDENTIALS = "credentials"  # 401/403: our token, do not retry, tell staff
    RETRY = "retry"  # 429/5xx/timeouts/connection errors/anything else: later


@dataclass
class GatewayAnswer:
    outcome: Outcome
    http_status: int | None
    gateway_id: str | None = None
    retry_after: float | None = None  # seconds the gateway asked us to wait
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.DUPLICATE)


def idempotency_key(message_id: int, channel: str = "whatsapp") -> str:
    """The key of a message on a channel: an SMS has a key of its own (`-sms`), so that the SMS sent after the
    gateway's `422 no_whatsapp` is not taken for the refused WhatsApp message (a gateway that kept that key would
    answer 409, "already sent", and no SMS would go out); a retry on the same channel repeats its key."""
    return f"antar-notify-{message_id}-sms" if channel == "sms" else f"antar-notify-{message_id}"


def message_id_of(key: str) -> int | None:
    """Our message id from an idempotency key (a report that names our key instead of the gateway's id)."""
    prefix = "antar-notify-"
    rest = key[len(prefix):] if key.startswith(prefix) else ""
    rest = rest.removesuffix("-sms")
    return int(rest) if rest.isascii() and rest.isdigit() and len(rest) < 10 else None


class GatewayClient:
    def __init__(self, base_url: str, token: str, *, connect_timeout: float = 5.0, read_timeout: float = 15.0) -> None:
        self.url = urljoin(base_url if base_url.endswith("/") else base_url + "/", "v1/messages")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json",
                                     "User-Agent": "antar-ektp/1"})

    def send(self, message_id: int, to: str, channel: str, text: str, reference: str) -> GatewayAnswer:
        body = {"to": to, "channel": channel, "text": text, "reference": reference}
        try:
            response = self.session.post(self.url, data=json.dumps(body, ensure_ascii=False).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "Idempotency-Key": idempotency_key(message_id, channel)},
                                         timeout=self.timeout)
        except requests.Timeout:
            return GatewayAnswer(Outcome.RETRY, None, error="gateway tidak menjawab (batas waktu habis)")
        except requests.RequestException as exc:
            return GatewayAnswer(Outcome.RETRY, None, error=f"gateway tidak dapat dihubungi: {type(exc).__name__}")
        return classify(response)

    def close(self) -> None:
        self.session.close()


def classify(response: requests.Response) -> GatewayAnswer:
    status = response.status_code
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    body = payload if isinstance(payload, dict) else {}
    gateway_id = body.get("message_id") if isinstance(body.get("message_id"), str) else None
    if status in (200, 201, 202):
        return GatewayAnswer(Outcome.ACCEPTED, status, gateway_id and gateway_id[:100])
    if status == 409:
        return GatewayAnswer(Outcome.DUPLICATE, status, gateway_id and gateway_id[:100])
    error = _error_text(payload, response.text)
    if status == 422 and body.get("error") == "no_whatsapp":
        return GatewayAnswer(Outcome.NO_WHATSAPP, status, error="nomor tidak memakai WhatsApp")
    if status in (400, 422):
        return GatewayAnswer(Outcome.REJECTED, status, error=f"ditolak gateway: {error}")
    if status in (401, 403):
        return GatewayAnswer(Outcome.CREDENTIALS, status,
                             error=f"gateway menolak kredensial (HTTP {status}): periksa ANTAR_NOTIFY_API_TOKEN")
    retry_after = retry_after_seconds(response.headers.get("Retry-After"), date=response.headers.get("Date"))
    return GatewayAnswer(Outcome.RETRY, status, retry_after=retry_after, error=f"HTTP {status}: {error}")


def retry_after_seconds(value: str | None, now: dt.datetime | None = None, *, date: str | None = None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date (RFC 9110); None when absent or unreadable.

    An HTTP date is a moment on the gateway's clock: when the answer carries its `Date` (the same clock), the wait is
    the one between the two, whatever our clock says; without it, the wait is measured from our clock (`now`)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    sent = _http_date(date)
    wait = (when - (sent if sent is not None else now or dt.datetime.now(dt.UTC))).total_seconds()
    return max(0.0, wait)


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def _error_text(payload: Any, text: str) -> str:
    if isinstance(payload, dict):
        err = payload.get("error") or payload.get("message") or payload.get("errors")
        if err is not None:
            return (err if isinstance(err, str) else json.dumps(err, ensure_ascii=False))[:300]
    return (text or "").strip()[:300] or "tanpa keterangan"
