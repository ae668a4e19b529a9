"""Phone numbers of citizens: as the gateway wants them (E.164), as staff may see them (masked), and as an
opt-out is kept (a keyed hash)."""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app

_SEPARATORS = re.compile(r"[\s.\-()/']")
# As the intake takes a mobile number (manifests/intake/reader.py, citizen-notifications.md): `08...`, `628...` or
# `+628...` with 10 to 15 digits as written; and as the gateway takes it, E.164: at most 15 digits with the country
# code, so an `08...` number of 15 digits (16 as `+628...`) cannot be messaged.
WRITTEN_DIGITS = (10, 15)
E164_MAX_DIGITS = 15


def e164(no_hp: str | None) -> str | None:
    """`08...`, `628...` or `+628...` (spaces, dots, dashes, brackets, slashes, a spreadsheet's `'` allowed) as
    `+628...`; None when it is not a mobile number we can message (a landline, fewer than 10 or more than 15 digits
    as written, more than 15 as E.164, letters)."""
    if not no_hp:
        return None
    raw = _SEPARATORS.sub("", str(no_hp))
    if raw.startswith("+62"):
        written, national = raw[1:], raw[3:]
    elif raw.startswith("62"):
        written, national = raw, raw[2:]
    elif raw.startswith("0"):
        written, national = raw, raw[1:]
    else:
        return None
    if not (national.isascii() and national.isdigit() and national.startswith("8")):
        return None
    phone = f"+62{national}"
    low, high = WRITTEN_DIGITS
    return phone if low <= len(written) <= high and len(phone) - 1 <= E164_MAX_DIGITS else None


def mask(phone: str | None) -> str:
    """What staff see of a number: the operator prefix and the last three digits, "+62812*****890"."""
    if not phone:
        return "—"
    if len(phone) <= 8:
        return "*" * len(phone)
    return phone[:6] + "*" * (len(phone) - 9) + phone[-3:]


def phone_hash(phone: str, key: str | None = None) -> str:
    """HMAC-SHA256 of an E.164 number under the office's pseudonym key (`ANTAR_KK_KEY`), with a label of its own
    so that it can never equal the hash of a family card number."""
    secret = key if key is not None else current_app.config["ANTAR_KK_KEY"]
    return hmac.new(secret.encode("utf-8"), f"no_hp:{phone}".encode("ascii"), hashlib.sha256).hexdigest()
