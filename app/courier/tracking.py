"""Tracking events, the inbound half of the courier contract (courier-partner-api.md, sections 3 and 6.2): the
statuses, reason codes and labels, and the mapping of a webhook body to `Event`s (schema checks that name the field;
what the schema cannot say, e.g. a pickup without its `until`, rejects the one event: `semantic_error`).

One vocabulary for both sides: our webhook endpoint validates against it, the courier simulator plays it. What an
event does to an item and its card is delivery's business (delivery/service.py).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from app.api import describe_errors
from app.dates import as_local


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    RETURNED = "RETURNED"
    RETURN_RECEIVED = "RETURN_RECEIVED"
    # Section 6: the item waits at a post office for the citizen (attempts are over).
    AVAILABLE_FOR_PICKUP = "AVAILABLE_FOR_PICKUP"
    # Section 6 annotations of a delivered item: they never change its state.
    OLD_CARD_RECEIVED = "OLD_CARD_RECEIVED"
    COD_REMITTED = "COD_REMITTED"


STATUS_LABELS: dict[Status, str] = {
    Status.ACCEPTED: "Diterima di kantor pos",
    Status.IN_TRANSIT: "Dalam perjalanan",
    Status.OUT_FOR_DELIVERY: "Dibawa pengantar",
    Status.DELIVERED: "Terkirim",
    Status.DELIVERY_FAILED: "Gagal antar (dicoba lagi)",
    Status.RETURNED: "Dikembalikan kurir",
    Status.RETURN_RECEIVED: "Kembali di Disdukcapil",
    Status.AVAILABLE_FOR_PICKUP: "Menunggu diambil di kantor pos",
    Status.OLD_CARD_RECEIVED: "KTP lama sampai di Disdukcapil",
    Status.COD_REMITTED: "Biaya antar disetor kurir",
}

# Final: never undone by an earlier-dated event that arrives late.
FINAL: frozenset[Status] = frozenset({Status.DELIVERED, Status.RETURN_RECEIVED})
# Annotations of a delivered item (section 6.2): recorded, never a step of the delivery; an annotation for an item
# that is not delivered is rejected.
ANNOTATIONS: frozenset[Status] = frozenset({Status.OLD_CARD_RECEIVED, Status.COD_REMITTED})

# Section 6: the citizen would not surrender the old card, or would not pay the fee (for either status).
LAST_MILE_REASONS: tuple[str, ...] = ("OLD_CARD_NOT_SURRENDERED", "COD_NOT_PAID")
# Reason codes a DELIVERY_FAILED may carry (the courier tries again).
FAILURE_REASONS: tuple[str, ...] = ("NOBODY_HOME", "ADDRESS_NOT_FOUND", "CLOSED_COMPLEX", "REFUSED", "OTHER",
                                    *LAST_MILE_REASONS)
# Reason codes a RETURNED must carry (the courier gives up).
RETURN_REASONS: tuple[str, ...] = (
    "DECEASED", "MOVED", "BAD_ADDRESS", "DEMOLISHED_AREA", "REFUSED", "UNCLAIMED", "DAMAGED", *LAST_MILE_REASONS,
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
    "OLD_CARD_NOT_SURRENDERED": "kartu lama tidak diserahkan",
    "COD_NOT_PAID": "biaya antar tidak dibayar",
}

RELATIONSHIPS: tuple[str, ...] = ("SELF", "FAMILY", "NEIGHBOUR", "RT_RW_OFFICIAL", "OTHER")
RELATIONSHIP_LABELS: dict[str, str] = {
    "SELF": "pemilik kartu", "FAMILY": "keluarga", "NEIGHBOUR": "tetangga",
    "RT_RW_OFFICIAL": "pengurus RT/RW", "OTHER": "lainnya",
}

MAX_EVENTS_PER_BATCH = 500
MAX_BODY_BYTES = 1024 * 1024
TIMESTAMP_TOLERANCE_S = 5 * 60

# A status's place in a delivery: breaks ties between events with the same occurred_at. Stored with the deciding
# event (manifest_item.status_rank): a status added between two others renumbers the stored ranks in its migration
# (0013: AVAILABLE_FOR_PICKUP). Annotations come after everything and never decide a state.
RANK: dict[str, int] = {Status.ACCEPTED: 1, Status.IN_TRANSIT: 2, Status.OUT_FOR_DELIVERY: 3,
                        Status.DELIVERY_FAILED: 4, Status.AVAILABLE_FOR_PICKUP: 5, Status.RETURNED: 6,
                        Status.DELIVERED: 7, Status.RETURN_RECEIVED: 8, Status.OLD_CARD_RECEIVED: 9,
                        Status.COD_REMITTED: 10}


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
    # Section 6.2, each None when the event does not carry it. `pickup_until` is None also when the text is not a
    # date: `pickup_until_text` keeps what was sent, for the message that rejects the event.
    pickup_post_office: str | None = None
    pickup_name: str | None = None
    pickup_address: str | None = None
    pickup_until: dt.date | None = None
    pickup_until_text: str | None = None
    cod_collected: int | None = None
    old_card_collected: bool | None = None
    received_by: str | None = None
    settlement_id: str | None = None

    @property
    def key(self) -> tuple[dt.datetime, int, str]:
        return (self.occurred_at, RANK.get(self.status, 0), self.event_id)


# --- schema ------------------------------------------------------------------------------------------------
#
# The webhook body as a JSON Schema (Draft 2020-12, checked with `jsonschema`; the same schema is the request body
# of the webhook in /api/openapi.json). Event objects stay open: section 6 says "a side that does not use them
# ignores the new fields", so a field the contract adds later is not an error; every field we read is typed,
# bounded and free of control characters here. What a schema cannot say (an ISO timestamp with an offset, in a
# plausible year) is checked when the event is read.

# Control characters (NUL among them) have no place in any field of the contract; PostgreSQL refuses NUL in text.
_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
_FILLED = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f][^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_ATTEMPT = 1000
UNKNOWN_TEXT = 200
# The years an event can honestly carry: anything else is a corrupt clock or a corrupt message.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def _text(max_length: int, required: bool = False) -> dict[str, Any]:
    schema = {"type": "string", "maxLength": max_length, "pattern": _FILLED if required else _NO_CONTROL,
              "description": "teks tanpa karakter kendali" + (", tidak kosong" if required else "")}
    return schema if required else {"anyOf": [schema, {"type": "null"}], "description": schema["description"]}


def _part(properties: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "object", "properties": properties}, {"type": "null"}],
            "description": "objek atau null"}


def _number(lo: float, hi: float) -> dict[str, Any]:
    return {"anyOf": [{"type": "number", "minimum": lo, "maximum": hi}, {"type": "null"}],
            "description": f"angka {lo}..{hi} atau null"}


EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event_id", "tracking_number", "status", "occurred_at"],
    "properties": {
        # A tracking number, status or reason code the contract does not know is `rejected`, that event alone: long
        # enough for any such value, short enough to list (only event_id, the key of every event, is kept as is).
        "event_id": _text(64, True), "tracking_number": _text(UNKNOWN_TEXT, True),
        "status": _text(UNKNOWN_TEXT, True),
        "occurred_at": {**_text(40, True), "description": "waktu ISO 8601 dengan offset, mis. 2026-11-25T10:42+07:00"},
        "reason_code": _text(UNKNOWN_TEXT),
        "attempt": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_ATTEMPT}, {"type": "null"}],
                    "description": f"bilangan bulat 0..{MAX_ATTEMPT} atau null"},
        "location": _part({"post_office": _text(10), "lat": _number(-90, 90), "lng": _number(-180, 180)}),
        "recipient": _part({"name": _text(200), "relationship": _text(UNKNOWN_TEXT)}),
        "proof": _part({"photo_url": _text(500), "signature_url": _text(500)}),
        "courier_id": _text(40),
        # Section 6: collection at the post office, cash on delivery, the old card.
        "pickup": _part({"post_office": _text(10), "name": _text(200), "address": _text(500), "until": _text(40)}),
        "old_card": _part({"received_by": _text(200)}),
        "settlement_id": _text(64),
        "cod_collected": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 100_000_000}, {"type": "null"}],
                          "description": "rupiah, bilangan bulat"},
        "old_card_collected": {"anyOf": [{"type": "boolean"}, {"type": "null"}], "description": "true/false"},
    },
}
TRACKING_EVENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": {"type": "string", "const": "tracking.events", "description": "'tracking.events'"},
        "data": {"type": "object", "required": ["events"], "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": MAX_EVENTS_PER_BATCH, "items": EVENT_SCHEMA}}},
    },
}
_VALIDATOR = Draft202012Validator(TRACKING_EVENTS_SCHEMA)
# The same schema compiled by jsonschema-rs: ~200x faster on a valid 500-event batch (0.8 ms against 170 ms), the
# webhook's hot path. It only lets a batch through quickly; whenever it says no, `jsonschema` decides and names
# every wrong field, so what is refused and how it is explained stay `jsonschema`'s.
_FAST = jsonschema_rs.Draft202012Validator(TRACKING_EVENTS_SCHEMA)


def _fast_valid(body: Any) -> bool:
    try:
        return _FAST.is_valid(body)
    except Exception:  # a value Rust cannot take (a lone surrogate in a string): let jsonschema judge it
        return False


def parse_timestamp(text: str, where: str) -> tuple[dt.datetime, str]:
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SchemaError(f"{where}: bukan waktu ISO 8601 ({text[:40]!r})") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise SchemaError(f"{where}: waktu tanpa zona waktu; kontrak mewajibkan offset, mis. +07:00")
    if not FIRST_YEAR <= ts.year <= LAST_YEAR:
        raise SchemaError(f"{where}: tahun {ts.year} di luar {FIRST_YEAR}..{LAST_YEAR}")
    delta = ts.utcoffset()
    offset = _OFFSETS.get(delta)
    if offset is None:
        text = ts.strftime("%z")
        offset = _OFFSETS[delta] = f"{text[:3]}:{text[3:]}"
    return ts.astimezone(dt.UTC), offset


_OFFSETS: dict[dt.timedelta | None, str] = {}  # an offset as written back (`+07:00`), by its value


def parse_body(body: Any) -> list[Event]:
    """The batch's events, or SchemaError naming every field that is wrong."""
    problem = None if _fast_valid(body) else describe_errors(_VALIDATOR.iter_errors(body))
    if problem:
        raise SchemaError(problem)
    events = []
    for i, e in enumerate(body["data"]["events"]):
        occurred, offset = parse_timestamp(e["occurred_at"], f"data.events[{i}].occurred_at")
        location, recipient, proof = e.get("location") or {}, e.get("recipient") or {}, e.get("proof") or {}
        lat, lng = location.get("lat"), location.get("lng")
        events.append(Event(
            index=i, raw=e, event_id=e["event_id"], tracking_number=e["tracking_number"], status=e["status"],
            occurred_at=occurred, offset=offset, reason_code=e.get("reason_code"), attempt=e.get("attempt"),
            post_office=location.get("post_office"), lat=None if lat is None else float(lat),
            lng=None if lng is None else float(lng), recipient_name=recipient.get("name"),
            relationship=recipient.get("relationship"), photo_url=proof.get("photo_url"),
            signature_url=proof.get("signature_url"), courier_id=e.get("courier_id"),
            **(_last_mile(e) if not _LAST_MILE_KEYS.isdisjoint(e) else _NO_LAST_MILE)))
    return events


# The keys of section 6.2 in an event object: an event without any (most of them) keeps `Event`'s defaults, without
# the fields read one by one.
_LAST_MILE_KEYS = frozenset({"pickup", "old_card", "cod_collected", "old_card_collected", "settlement_id"})
_NO_LAST_MILE: dict[str, Any] = {}


def _last_mile(e: dict[str, Any]) -> dict[str, Any]:
    """The section 6.2 fields of one event (schema-checked), as `Event` keywords."""
    pickup, old_card = e.get("pickup") or {}, e.get("old_card") or {}
    until_text = pickup.get("until")
    return {"pickup_post_office": pickup.get("post_office"), "pickup_name": pickup.get("name"),
            "pickup_address": pickup.get("address"), "pickup_until": parse_date(until_text),
            "pickup_until_text": until_text, "cod_collected": e.get("cod_collected"),
            "old_card_collected": e.get("old_card_collected"), "received_by": old_card.get("received_by"),
            "settlement_id": e.get("settlement_id")}


def parse_date(text: str | None) -> dt.date | None:
    """A calendar date written YYYY-MM-DD in a plausible year, else None."""
    if text is None or len(text) != 10:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if FIRST_YEAR <= day.year <= LAST_YEAR else None


def _filled(text: str | None) -> bool:
    return bool(text and text.strip())


def semantic_error(e: Event) -> str | None:
    """Why an event that matches the schema cannot be applied (it is then `rejected`), or None."""
    if e.status not in RANK:
        return f"status '{e.status}' tidak ada di kontrak"
    allowed = REASONS_BY_STATUS.get(e.status, ())  # a StrEnum key is found by its text: no Status() to make
    if e.status == Status.RETURNED and not e.reason_code:
        return "RETURNED tanpa reason_code"
    if e.reason_code is not None and e.reason_code not in allowed:
        if not allowed:
            return f"status {e.status} tidak memakai reason_code ('{e.reason_code}')"
        return f"reason_code '{e.reason_code}' tidak berlaku untuk {e.status} (pilihan: {', '.join(allowed)})"
    if e.relationship is not None and e.relationship not in RELATIONSHIPS:
        return f"recipient.relationship '{e.relationship}' tidak ada di kontrak"
    return _last_mile_error(e)


def _last_mile_error(e: Event) -> str | None:
    """What a section 6.2 status lacks: where and until when an item waits, who received an old card, which
    settlement remitted a fee."""
    if e.status == Status.AVAILABLE_FOR_PICKUP:
        if e.pickup_until_text is None:
            return "pickup.until wajib untuk AVAILABLE_FOR_PICKUP (tanggal YYYY-MM-DD)"
        if e.pickup_until is None:
            return f"pickup.until '{e.pickup_until_text[:40]}' bukan tanggal YYYY-MM-DD"
        if e.pickup_until < as_local(e.occurred_at).date():
            return f"pickup.until {e.pickup_until.isoformat()} sebelum tanggal kejadian (occurred_at)"
        for name, value in (("post_office", e.pickup_post_office), ("name", e.pickup_name)):
            if not _filled(value):
                return f"pickup.{name} wajib untuk AVAILABLE_FOR_PICKUP"
    if e.status == Status.OLD_CARD_RECEIVED and not _filled(e.received_by):
        return "old_card.received_by wajib untuk OLD_CARD_RECEIVED"
    if e.status == Status.COD_REMITTED and not _filled(e.settlement_id):
        return "settlement_id wajib untuk COD_REMITTED"
    return None
