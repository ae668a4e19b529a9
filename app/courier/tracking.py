"""Tracking events, the inbound half of the courier contract (courier-partner-api.md, section 3): the statuses,
reason codes and labels, and the mapping of a webhook body to `Event`s (schema checks that name the field).

One vocabulary for both sides: our webhook endpoint validates against it, the courier simulator plays it. What an
event does to an item and its card is delivery's business (delivery/service.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    RETURNED = "RETURNED"
    RETURN_RECEIVED = "RETURN_RECEIVED"


STATUS_LABELS: dict[Status, str] = {
    Status.ACCEPTED: "Diterima di kantor pos",
    Status.IN_TRANSIT: "Dalam perjalanan",
    Status.OUT_FOR_DELIVERY: "Dibawa pengantar",
    Status.DELIVERED: "Terkirim",
    Status.DELIVERY_FAILED: "Gagal antar (dicoba lagi)",
    Status.RETURNED: "Dikembalikan kurir",
    Status.RETURN_RECEIVED: "Kembali di Disdukcapil",
}

# Final: never undone by an earlier-dated event that arrives late.
FINAL: frozenset[Status] = frozenset({Status.DELIVERED, Status.RETURN_RECEIVED})

# Reason codes a DELIVERY_FAILED may carry (the courier tries again).
FAILURE_REASONS: tuple[str, ...] = ("NOBODY_HOME", "ADDRESS_NOT_FOUND", "CLOSED_COMPLEX", "REFUSED", "OTHER")
# Reason codes a RETURNED must carry (the courier gives up).
RETURN_REASONS: tuple[str, ...] = (
    "DECEASED", "MOVED", "BAD_ADDRESS", "DEMOLISHED_AREA", "REFUSED", "UNCLAIMED", "DAMAGED",
)
REASONS_BY_STATUS: dict[Status, tuple[str, ...]] = {
    Status.DELIVERY_FAILED: FAILURE_REASONS,
    Status.RETURNED: RETURN_REASONS,
}

REASON_LABELS: dict[str, str] = {
    "DECEASED": "meninggal dunia",
    "MOVED": "pindah alamat",
    "BAD_ADDRESS": "alamat tidak jelas / tidak ditemukan",
    "DEMOLISHED_AREA": "wilayah tergusur",
    "REFUSED": "ditolak",
    "UNCLAIMED": "tidak ada penghuni / tidak diambil",
    "DAMAGED": "rusak",
    "NOBODY_HOME": "tidak ada orang di rumah",
    "ADDRESS_NOT_FOUND": "alamat tidak ditemukan",
    "CLOSED_COMPLEX": "perumahan tertutup",
    "OTHER": "lainnya",
}

RELATIONSHIPS: tuple[str, ...] = ("SELF", "FAMILY", "NEIGHBOUR", "RT_RW_OFFICIAL", "OTHER")
RELATIONSHIP_LABELS: dict[str, str] = {
    "SELF": "pemilik kartu", "FAMILY": "keluarga", "NEIGHBOUR": "tetangga",
    "RT_RW_OFFICIAL": "pengurus RT/RW", "OTHER": "lainnya",
}

MAX_EVENTS_PER_BATCH = 500
MAX_BODY_BYTES = 1024 * 1024
TIMESTAMP_TOLERANCE_S = 5 * 60

# A status's place in a delivery: breaks ties between events with the same occurred_at.
RANK: dict[str, int] = {Status.ACCEPTED: 1, Status.IN_TRANSIT: 2, Status.OUT_FOR_DELIVERY: 3,
                        Status.DELIVERY_FAILED: 4, Status.RETURNED: 5, Status.DELIVERED: 6,
                        Status.RETURN_RECEIVED: 7}


class SchemaError(ValueError):
    """The body does not match the contract's schema; the message names the field (HTTP 400)."""


@dataclass(slots=True)
class Event:
    """One event of a batch after schema validation (types checked, occurred_at parsed)."""

    index: int
    raw: dict[str, Any]
    event_id: str
    tracking_number: str
    status: str
    occurred_at: dt.datetime
    offset: str
    reason_code: str | None
    attempt: int | None
    post_office: str | None
    lat: float | None
    lng: float | None
    recipient_name: str | None
    relationship: str | None
    photo_url: str | None
    signature_url: str | None
    courier_id: str | None

    @property
    def key(self) -> tuple[dt.datetime, int, str]:
        return (self.occurred_at, RANK.get(self.status, 0), self.event_id)


# --- schema ------------------------------------------------------------------------------------------------


# Control characters (NUL among them) have no place in any field of the contract; PostgreSQL refuses NUL in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_ATTEMPT = 1000
# The years an event can honestly carry: anything else is a corrupt clock or a corrupt message.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _clean(value: str, where: str) -> str:
    if _CONTROL.search(value):
        raise SchemaError(f"{where}: berisi karakter kendali (mis. NUL)")
    return value


def _opt_str(obj: Mapping[str, Any], name: str, where: str, max_len: int = 500) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaError(f"{where}.{name}: harus string atau null")
    if len(value) > max_len:
        raise SchemaError(f"{where}.{name}: lebih dari {max_len} karakter")
    return _clean(value, f"{where}.{name}")


def _req_str(obj: Mapping[str, Any], name: str, where: str, max_len: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f"{where}.{name}: wajib, string tidak kosong")
    if len(value) > max_len:
        raise SchemaError(f"{where}.{name}: lebih dari {max_len} karakter")
    return _clean(value, f"{where}.{name}")


def _opt_obj(obj: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SchemaError(f"{where}.{name}: harus objek atau null")
    return value


def _opt_num(obj: Mapping[str, Any], name: str, where: str, lo: float, hi: float) -> float | None:
    value = obj.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise SchemaError(f"{where}.{name}: harus angka {lo}..{hi} atau null")
    return float(value)


def parse_timestamp(text: str, where: str) -> tuple[dt.datetime, str]:
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SchemaError(f"{where}: bukan waktu ISO 8601 ({text[:40]!r})") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise SchemaError(f"{where}: waktu tanpa zona waktu; kontrak mewajibkan offset, mis. +07:00")
    if not FIRST_YEAR <= ts.year <= LAST_YEAR:
        raise SchemaError(f"{where}: tahun {ts.year} di luar {FIRST_YEAR}..{LAST_YEAR}")
    offset = ts.strftime("%z")
    return ts.astimezone(dt.UTC), f"{offset[:3]}:{offset[3:]}"


def parse_body(body: Any) -> list[Event]:
    """The batch's events, or SchemaError naming the first field that is wrong."""
    if not isinstance(body, dict):
        raise SchemaError("badan: harus objek JSON")
    if body.get("type") != "tracking.events":
        raise SchemaError("type: harus 'tracking.events'")
    data = body.get("data")
    if not isinstance(data, dict):
        raise SchemaError("data: wajib, objek")
    raw_events = data.get("events")
    if not isinstance(raw_events, list):
        raise SchemaError("data.events: wajib, daftar")
    if not 1 <= len(raw_events) <= MAX_EVENTS_PER_BATCH:
        raise SchemaError(f"data.events: harus 1 sampai {MAX_EVENTS_PER_BATCH} event, bukan {len(raw_events)}")
    events = []
    for i, e in enumerate(raw_events):
        where = f"data.events[{i}]"
        if not isinstance(e, dict):
            raise SchemaError(f"{where}: harus objek")
        occurred, offset = parse_timestamp(_req_str(e, "occurred_at", where, 40), f"{where}.occurred_at")
        attempt = e.get("attempt")
        if attempt is not None and (isinstance(attempt, bool) or not isinstance(attempt, int)
                                    or not 0 <= attempt <= MAX_ATTEMPT):
            raise SchemaError(f"{where}.attempt: harus bilangan bulat 0..{MAX_ATTEMPT} atau null")
        location = _opt_obj(e, "location", where)
        recipient = _opt_obj(e, "recipient", where)
        proof = _opt_obj(e, "proof", where)
        events.append(Event(
            index=i, raw=e, event_id=_req_str(e, "event_id", where, 64),
            tracking_number=_req_str(e, "tracking_number", where, 40), status=_req_str(e, "status", where, 40),
            occurred_at=occurred, offset=offset, reason_code=_opt_str(e, "reason_code", where, 40), attempt=attempt,
            post_office=_opt_str(location, "post_office", f"{where}.location", 10),
            lat=_opt_num(location, "lat", f"{where}.location", -90, 90),
            lng=_opt_num(location, "lng", f"{where}.location", -180, 180),
            recipient_name=_opt_str(recipient, "name", f"{where}.recipient", 200),
            relationship=_opt_str(recipient, "relationship", f"{where}.recipient", 40),
            photo_url=_opt_str(proof, "photo_url", f"{where}.proof"),
            signature_url=_opt_str(proof, "signature_url", f"{where}.proof"),
            courier_id=_opt_str(e, "courier_id", where, 40)))
    return events


def semantic_error(e: Event) -> str | None:
    """Why an event that matches the schema cannot be applied (it is then `rejected`), or None."""
    if e.status not in RANK:
        return f"status '{e.status}' tidak ada di kontrak"
    allowed = REASONS_BY_STATUS.get(Status(e.status), ())
    if e.status == Status.RETURNED and not e.reason_code:
        return "RETURNED tanpa reason_code"
    if e.reason_code is not None and e.reason_code not in allowed:
        if not allowed:
            return f"status {e.status} tidak memakai reason_code ('{e.reason_code}')"
        return f"reason_code '{e.reason_code}' tidak berlaku untuk {e.status} (pilihan: {', '.join(allowed)})"
    if e.relationship is not None and e.relationship not in RELATIONSHIPS:
        return f"recipient.relationship '{e.relationship}' tidak ada di kontrak"
    return None
