"""Validation of a manifest body as the courier sees it (courier-partner-api.md, sections 2 and 6.1).

Pure functions: they take the parsed JSON and return a list of errors in the contract's shape,
`{"tracking_number": <number or None>, "message": "..."}`. An empty list means the manifest is acceptable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

# The simulator checks S10 numbers on its own, from the contract's text (section 1), and never with the function
# that makes them (app/courier/s10.py): a bug there must show up as a rejected manifest, not pass unnoticed.
_S10 = re.compile(r"([A-Z]{2})([0-9]{8})([0-9])ID")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def is_valid(number: str) -> bool:
    """A UPU S10 number as the contract defines it: 2 letters, 8 serial digits, the check digit, 'ID'."""
    m = _S10.fullmatch(number or "")
    return m is not None and int(m.group(3)) == check_digit(m.group(2))


def check_digit(serial: str) -> int:
    """The S10 check digit of eight serial digits (contract section 1)."""
    total = sum(int(digit) * weight for digit, weight in zip(serial, _S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check)


Error = dict[str, Any]

ADDRESS_FIELDS = ("street", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota", "provinsi", "kode_pos",
                  "kode_wilayah")
# Kemendagri region codes: "32", "32.16", "32.16.06", "32.16.06.1001".
_KODE_WILAYAH = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
_KODE_POS = re.compile(r"^\d{5}$")
_RT_RW = re.compile(r"^\d{1,3}$")
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
# The largest fee a tracking event can report back (`cod_collected` in app/courier/tracking.py).
MAX_COD_AMOUNT = 100_000_000


def validate_manifest(body: Mapping[str, Any], *, accepted_elsewhere: Mapping[str, str]) -> list[Error]:
    """Every reason to reject `body`; `accepted_elsewhere` maps tracking numbers already taken to their manifest."""
    errors: list[Error] = []

    def fail(message: str, tracking_number: str | None = None) -> None:
        errors.append({"tracking_number": tracking_number, "message": message})

    number = body.get("manifest_number")
    if not _text(number):
        fail("manifest_number: required, a non-empty string")
    _validate_header(body, fail)
    for path in _nik_paths({k: v for k, v in body.items() if k != "items"}):
        fail(f"{path}: the NIK must never be sent to the courier")

    items = body.get("items")
    if not isinstance(items, list) or not items:
        fail("items: required, a non-empty list")
        return errors
    seen: set[str] = set()
    for i, item in enumerate(items):
        for message in _item_errors(item, f"items[{i}]"):
            fail(message, _tracking_number_of(item))
        tn = _tracking_number_of(item)
        if tn is None or not is_valid(tn):
            continue
        if tn in seen:
            fail(f"items[{i}].tracking_number: appears more than once in this manifest", tn)
        seen.add(tn)
        other = accepted_elsewhere.get(tn)
        if other is not None and other != number:
            fail(f"items[{i}].tracking_number: already accepted under manifest {other}", tn)
    return errors


def _validate_header(body: Mapping[str, Any], fail: Any) -> None:
    origin = body.get("origin")
    if not isinstance(origin, dict):
        fail("origin: required, an object with office and kode_wilayah")
    else:
        if not _text(origin.get("office")):
            fail("origin.office: required, a non-empty string")
        if not _kode_wilayah(origin.get("kode_wilayah")):
            fail("origin.kode_wilayah: required, a region code such as '32.16'")
    destination = body.get("destination_post_office")
    if not isinstance(destination, dict):
        fail("destination_post_office: required, an object with code and name")
    else:
        if not (isinstance(destination.get("code"), str) and _KODE_POS.match(destination["code"])):
            fail("destination_post_office.code: required, a 5-digit post office code")
        if not _text(destination.get("name")):
            fail("destination_post_office.name: required, a non-empty string")
    if not _iso_with_offset(body.get("created_at")):
        fail("created_at: required, ISO 8601 with an explicit offset, e.g. 2026-11-23T09:00:00+07:00")


def _item_errors(item: Any, where: str) -> Iterator[str]:
    if not isinstance(item, dict):
        yield f"{where}: must be an object"
        return
    for path in _nik_paths(item, where):
        yield f"{path}: the NIK must never be sent to the courier"
    tn = item.get("tracking_number")
    if not isinstance(tn, str) or not is_valid(tn):
        yield f"{where}.tracking_number: {tn!r} is not a valid S10 tracking number (format or check digit)"
    if not _text(item.get("recipient_name")):
        yield f"{where}.recipient_name: required, a non-empty string"
    phone = item.get("phone")
    if phone is not None and not (isinstance(phone, str) and _PHONE.match(phone)):
        yield f"{where}.phone: optional, but when given a phone number such as '081234567890'"
    yield from _last_mile_errors(item, where)
    address = item.get("address")
    if not isinstance(address, dict):
        yield f"{where}.address: required, an object"
        return
    yield from _address_errors(address, f"{where}.address")


def _last_mile_errors(item: Mapping[str, Any], where: str) -> Iterator[str]:
    """Section 6.1: `cod` {amount, currency} and `collect_old_card`, both optional (null is the same as absent)."""
    cod = item.get("cod")
    if cod is not None:
        if not isinstance(cod, dict):
            yield f"{where}.cod: optional, but when given an object {{\"amount\": 20000, \"currency\": \"IDR\"}}"
        else:
            amount = cod.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                yield f"{where}.cod.amount: required, a positive whole number of rupiah (not {amount!r:.40})"
            elif amount > MAX_COD_AMOUNT:
                yield f"{where}.cod.amount: at most {MAX_COD_AMOUNT} rupiah"
            if cod.get("currency") != "IDR":
                yield f"{where}.cod.currency: required, 'IDR' (not {cod.get('currency')!r:.40})"
    old_card = item.get("collect_old_card")
    if old_card is not None and not isinstance(old_card, bool):
        yield f"{where}.collect_old_card: optional, but when given true or false (not {old_card!r:.40})"


def _address_errors(address: Mapping[str, Any], where: str) -> Iterator[str]:
    for field in ADDRESS_FIELDS:
        if not _text(address.get(field)):
            yield f"{where}.{field}: required, a non-empty string"
    for field in ("rt", "rw"):
        if _text(address.get(field)) and not _RT_RW.match(address[field]):
            yield f"{where}.{field}: must be 1 to 3 digits, e.g. '003'"
    if _text(address.get("kode_pos")) and not _KODE_POS.match(address["kode_pos"]):
        yield f"{where}.kode_pos: must be 5 digits"
    if _text(address.get("kode_wilayah")) and not _kode_wilayah(address["kode_wilayah"]):
        yield f"{where}.kode_wilayah: must be a region code such as '32.16.06.1001'"
    for field, limit in (("lat", 90), ("lng", 180)):
        value = address.get(field)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
            yield f"{where}.{field}: optional, but when given a number between -{limit} and {limit}"
    if (address.get("lat") is None) != (address.get("lng") is None):
        yield f"{where}: lat and lng go together (both or neither)"


def _nik_paths(value: Any, where: str = "") -> Iterator[str]:
    """Paths of every key named 'nik' (any case), however deep."""
    if isinstance(value, dict):
        for key, child in value.items():
            path = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and key.lower() == "nik":
                yield path
            yield from _nik_paths(child, path)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _nik_paths(child, f"{where}[{i}]")


def _tracking_number_of(item: Any) -> str | None:
    tn = item.get("tracking_number") if isinstance(item, dict) else None
    return tn if isinstance(tn, str) else None


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _kode_wilayah(value: Any) -> bool:
    return isinstance(value, str) and bool(_KODE_WILAYAH.match(value))


def _iso_with_offset(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        return datetime.fromisoformat(value).utcoffset() is not None
    except ValueError:
        return False
