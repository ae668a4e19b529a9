"""Posting webhook messages to our side, signed as Standard Webhooks (courier-partner-api.md, sections 3 and 6.3):
tracking events and COD settlements."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook


def generate_secret() -> str:
    """A fresh `whsec_<base64>` secret (24 random bytes, as Standard Webhooks suggests)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass
class Message:
    """One webhook message. A retry sends the same id and body, with a fresh timestamp and signature."""

    webhook_id: str
    events: list[dict[str, Any]]
    body: str = ""
    attempts: int = 0
    status: int | None = None  # last HTTP status; None when the connection failed
    error: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)  # tracking.events: one per event
    type: str = "tracking.events"
    settlement_id: str | None = None  # cod.settlement: the settlement it carries
    answer: dict[str, Any] | None = None  # the receiver's 200 body

    @classmethod
    def of(cls, events: list[dict[str, Any]]) -> Message:
        return cls(f"msg_{uuid.uuid4().hex}", events, _body("tracking.events", {"events": events}))

    @classmethod
    def settlement(cls, data: dict[str, Any]) -> Message:
        """A `cod.settlement` message; sending the same settlement again makes a new message (a new webhook-id)."""
        return cls(f"msg_{uuid.uuid4().hex}", [], _body("cod.settlement", data), type="cod.settlement",
                   settlement_id=data["settlement_id"])


def _body(kind: str, data: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "data": data}, ensure_ascii=False, separators=(",", ":"))


class WebhookSender:
    """Signs and posts messages to one URL, retrying anything but a 200 with bounded backoff."""

    def __init__(self, url: str, secret: str, *, retry_delays: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
                 timeout: float = 10.0) -> None:
        self.url = url
        self.retry_delays = tuple(retry_delays)
        self.timeout = timeout
        self._signer = Webhook(secret)
        self._http = requests.Session()

    def send(self, message: Message, *, retry: bool = True) -> bool:
        """Deliver `message`; True once the receiver answered 200, False when every attempt failed.

        With `retry=False` a single attempt is made (used to redeliver old failures without long waits).
        """
        for delay in (*(self.retry_delays if retry else ()), None):
            message.attempts += 1
            if self._attempt(message):
                return True
            if delay is not None:
                time.sleep(delay)
        return False

    def _attempt(self, message: Message) -> bool:
        # Webhook.sign() reads the datetime as UTC whatever its tzinfo says: give it an aware UTC moment.
        now = datetime.now(UTC)
        headers = {
            "webhook-id": message.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self._signer.sign(message.webhook_id, now, message.body),
            "Content-Type": "application/json",
        }
        try:
            response = self._http.post(self.url, data=message.body.encode(), headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            message.status, message.error = None, f"{type(exc).__name__}: {exc}"
            return False
        message.status = response.status_code
        if response.status_code != 200:
            message.error = f"HTTP {response.status_code}: {response.text[:300]}"
            return False
        message.error = None
        try:
            answer = response.json()
        except ValueError:
            answer = None
        message.answer = answer if isinstance(answer, dict) else None
        results = (message.answer or {}).get("results", [])
        message.results = results if isinstance(results, list) else []
        return True

    def close(self) -> None:
        self._http.close()
