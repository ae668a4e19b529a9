"""Idempotent submissions: a form (or an API call) carried out once, however often it arrives.

Officers work on weak networks: a form posted, a timeout, the same form posted again. Every officer form carries a
one-time token made when the page is rendered (an API call brings an `Idempotency-Key` header instead). The first
submission inserts a `FormSubmission` row under that token in the same transaction as the operation, and stores
its answer there; any later submission with the token finds the row (the primary key refuses a second one) and
gets the stored answer, and nothing is done again. When two submissions race, the database decides: on
PostgreSQL the second insert waits until the first transaction ends, on SQLite the second writer waits for the
lock. If the first one failed, its row was rolled back with it and the second one runs normally.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import unit_of_work
from returns.models import FormSubmission

FORM_TOKEN = re.compile(r"[0-9a-f]{32}")
MAX_KEY_LENGTH = 255


class SubmissionError(ValueError):
    """A token that cannot be used; the message (Bahasa Indonesia) is for the officer."""


class MissingToken(SubmissionError):
    """No token, or one that is not ours: the request is malformed (400)."""


class TokenReused(SubmissionError):
    """The token was used for another request (another form, another body, another user) (422)."""


@dataclass(frozen=True, slots=True)
class Once:
    result: dict[str, Any]
    replayed: bool  # True when the stored answer of an earlier submission is given again


def new_token() -> str:
    """A form's one-time token, made when the page is rendered."""
    return uuid.uuid4().hex


def form_token(raw: str | None) -> str:
    token = (raw or "").strip()
    if not FORM_TOKEN.fullmatch(token):
        raise MissingToken("Formulir tidak lengkap (token hilang). Muat ulang halaman lalu kirim lagi.")
    return token


def api_token(raw: str | None, user_id: int) -> str:
    """The stored token of an `Idempotency-Key`: per user (two clients may choose the same key), fixed length."""
    key = (raw or "").strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise MissingToken(f"Header Idempotency-Key wajib diisi (1-{MAX_KEY_LENGTH} karakter).")
    return hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()  # 64 hex digits; form tokens have 32


def fingerprint(*parts: Any) -> str:
    """What a token was used for: a replay must be for the same request."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def run_once(token: str, user_id: int, fn: Callable[[Session], dict[str, Any]], *, request: str) -> Once:
    """Run `fn` in a unit of work unless `token` was already used; either way the answer of the first run.

    `fn` does the operation and returns its answer (JSON-serializable); it is stored in the same transaction, so
    the operation and its token are committed together or not at all. An exception from `fn` rolls both back:
    the token stays unused and the corrected form can be sent again with it. `request` is the fingerprint of
    the request; a token presented with another one is refused.
    """
    with unit_of_work() as session:
        submission = FormSubmission(token=token, user_id=user_id, result="")
        session.add(submission)
        try:
            session.flush()  # the first statement of the transaction: a concurrent twin waits here
        except IntegrityError:
            session.rollback()
            stored = session.get(FormSubmission, token)
            if stored is None:  # not a duplicate token (e.g. an unknown user): not ours to hide
                raise
            return Once(_stored_result(stored, user_id, request), replayed=True)
        result = fn(session)
        submission.result = json.dumps({"request": request, "result": result})
        return Once(result, replayed=False)


def _stored_result(stored: FormSubmission, user_id: int, request: str) -> dict[str, Any]:
    saved = json.loads(stored.result)
    if stored.user_id != user_id or saved.get("request") != request:
        raise TokenReused("Token formulir ini sudah dipakai untuk permintaan lain. Muat ulang halaman lalu coba lagi.")
    return saved["result"]
