"""Phone numbers of citizens: as the gateway wants them (E.164), as staff may see them (masked), and as an
opt-out is kept (a keyed hash)."""

from __future__ import annotations

import hashlib
import hmac
import re

from flask import current_app

_SEPARATORS = re.compile(r"[\s.\-()/]")
# An Indonesian mobile number after the country code: 8, then 8 to 11 more digits (0812-3456-7890 -> 81234567890).
_MOBILE = re.compile(r"^8\d{8,11}$")


def e164(no_hp: str | None) -> str | None:
    """`08...`, `628...` or `+628...` (spaces, dots, dashes allowed) as `+628...`; None when it is not a mobile
    number we can message (a landline, too short or long, letters)."""
    if not no_hp:
        return None
    raw = _SEPARATORS.sub("", str(no_hp))
    if raw.startswith("+62"):
        national = raw[3:]
    elif raw.startswith("62"):
        national = raw[2:]
    elif raw.startswith("0"):
        national = raw[1:]
    else:
        return None
    return f"+62{national}" if national.isascii() and _MOBILE.match(national) else None


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
