"""Standard Webhooks on our side (https://www.standardwebhooks.com): the secrets we accept and the check of a signed
message, for every signed endpoint (the courier's events, delivery/webhook.py; the gateway's delivery reports,
notify/webhook.py). The `standardwebhooks` library signs and verifies; this says which configured secrets it may use
and verifies over the body's bytes as received."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from standardwebhooks.webhooks import Webhook

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def secret_problem(secret: str) -> str | None:
    """Why a configured secret is not a `whsec_<base64 key>` (None when it is). Stricter than the library, which
    drops characters outside base64 and takes a secret without the prefix as base64 all the same: a mistyped secret
    would then verify nothing, every post a 401, and nothing would say why. (A character left out of valid base64
    cannot be told from another key.)"""
    if not secret.startswith("whsec_"):
        return "tanpa awalan whsec_"
    key = secret.removeprefix("whsec_").rstrip("=")
    try:
        raw = base64.b64decode(key + "=" * (-len(key) % 4), validate=True)
    except binascii.Error:
        return "kuncinya bukan base64"
    return None if raw else "kuncinya kosong"


def verified(hooks: Iterable[Webhook], body: bytes, received: Any) -> bool:
    """Whether one of `hooks` (one per valid secret) verifies the signature of `body`, the bytes as received, with its
    headers (`received.get(name)`, any case), and its timestamp is within five minutes of now. Checked before the body
    is decoded, so that an unsigned body is a 401 whatever it holds."""
    headers = {k: received.get(k, "") for k in SIGNATURE_HEADERS}
    for hook in hooks:
        try:
            hook.verify(body, headers, json_parse=False)
            return True
        except Exception:  # the library raises its own errors, ValueError and binascii errors on malformed headers
            continue
    return False
