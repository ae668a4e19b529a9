"""Keyed hashes of identifiers that must be matched but never read back: the family card number (`no_kk`).

The citizens' status lookup asks for the `no_kk` as a second factor that cannot be derived from the NIK. The
database keeps only HMAC-SHA256(key, digits): a copy of the database alone does not give the numbers back, and
without the key (`ANTAR_KK_KEY`, or the file `kk_key` in the instance folder) nobody can test guesses against it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from functools import lru_cache

from flask import current_app

_NOT_DIGIT = re.compile(r"\D")


def kk_digits(value: str | None) -> str | None:
    """The 16 digits of a family card number as typed or exported (spaces, dots allowed), or None."""
    if value is None:
        return None
    if value.__class__ is str and len(value) == 16 and value.isdecimal():  # as exported: nothing to take out
        return value
    digits = _NOT_DIGIT.sub("", str(value))
    return digits if len(digits) == 16 else None


def kk_hash(value: str | None, key: str | None = None) -> str | None:
    """The keyed hash of a family card number (hex, 64 characters), or None when it is not 16 digits."""
    digits = kk_digits(value)
    if digits is None:
        return None
    secret = key if key is not None else current_app.config["ANTAR_KK_KEY"]
    keyed = _keyed(secret).copy()  # the key's HMAC state made once, copied per number (an intake hashes every card)
    keyed.update(digits.encode("ascii"))
    return keyed.hexdigest()


@lru_cache(maxsize=8)
def _keyed(secret: str) -> hmac.HMAC:
    return hmac.new(secret.encode("utf-8"), digestmod=hashlib.sha256)
