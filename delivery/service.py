"""Applying the courier's tracking events: idempotent, order-independent, durable (contract section 3).

An item's state is what its events lead to in `occurred_at` order (ties broken by the status's place in a
delivery and then the event id, so the order is total), whatever order they arrive in:

- a final event (DELIVERED, RETURN_RECEIVED) decides the state as soon as it arrives and is never undone;
- any other event decides it only if it is later in that order than the event that decides it now;
  otherwise, and always after a final event, it is recorded as `stale`;
- counts (failed attempts) and the latest time seen are functions of the set of events, not of arrival.

So any permutation, duplication and batching of an item's events ends in the same state. The card follows
the item (in transit, delivered, returning, returned), each change in the card's history.

One batch is one transaction: the webhook message as received, every new event, the items' states, the
cards' moves and any manifest that is now complete, committed together before the 200 is sent. Events are
unique by `event_id` in the database; the items of a batch are locked first (in id order, so concurrent
batches cannot deadlock), so the same event in two concurrent requests is applied once and the other
request reports it as `duplicate`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geopy.distance import great_circle
from sqlalchemy import bindparam, cast, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from address.geocode import Polygons, contains, polygons_of
from address.models import RegionGeo
from app.cards import Actor, Card, CardHistory, CardState, can_move
from app.db import utcnow
from delivery.contract import (
    FINAL,
    MAX_EVENTS_PER_BATCH,
    REASON_LABELS,
    REASONS_BY_STATUS,
    RELATIONSHIPS,
    STATUS_LABELS,
    Status,
)
from delivery.models import RejectedEvent, TrackingEvent, WebhookMessage
from manifests.models import Manifest, ManifestEvent, ManifestItem, ManifestStatus

COURIER = Actor.system("kurir")

# A status's place in a delivery: breaks ties between events with the same occurred_at.
RANK: dict[str, int] = {Status.ACCEPTED: 1, Status.IN_TRANSIT: 2, Status.OUT_FOR_DELIVERY: 3,
                        Status.DELIVERY_FAILED: 4, Status.RETURNED: 5, Status.DELIVERED: 6,
                        Status.RETURN_RECEIVED: 7}

CARD_STATE_OF: dict[str, CardState] = {
    Status.ACCEPTED: CardState.IN_TRANSIT, Status.IN_TRANSIT: CardState.IN_TRANSIT,
    Status.OUT_FOR_DELIVERY: CardState.IN_TRANSIT, Status.DELIVERY_FAILED: CardState.IN_TRANSIT,
    Status.DELIVERED: CardState.DELIVERED, Status.RETURNED: CardState.RETURNING,
    Status.RETURN_RECEIVED: CardState.RETURNED,
}


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


def _opt_str(obj: Mapping[str, Any], name: str, where: str, max_len: int = 500) -> str | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaError(f"{where}.{name}: harus string atau null")
    if len(value) > max_len:
        raise SchemaError(f"{where}.{name}: lebih dari {max_len} karakter")
    return value


def _req_str(obj: Mapping[str, Any], name: str, where: str, max_len: int) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise SchemaError(f"{where}.{name}: wajib, string tidak kosong")
    if len(value) > max_len:
        raise SchemaError(f"{where}.{name}: lebih dari {max_len} karakter")
    return value


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
        if attempt is not None and (isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0):
            raise SchemaError(f"{where}.attempt: harus bilangan bulat >= 0 atau null")
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


# --- applying ----------------------------------------------------------------------------------------------


@dataclass
class Settings:
    far_km: float = 2.0
    max_attempts: int = 3

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(far_km=float(config["ANTAR_DELIVERY_FAR_KM"]), max_attempts=int(config["ANTAR_MAX_ATTEMPTS"]))


@dataclass
class _Item:
    id: int
    manifest_id: int
    card_id: int
    card_state: CardState
    card_lat: float | None
    card_lng: float | None
    kelurahan_code: str | None
    tracking_status: str | None
    status_key: tuple[dt.datetime, int, str] | None
    final: bool
    attempts: int
    last_event_at: dt.datetime | None
    return_reason: str | None
    active: bool = True  # false once the card went out again on a later manifest: it no longer moves the card
    changes: dict[str, Any] = field(default_factory=dict)
    decided_by: Event | None = None


class RetryBatch(Exception):
    """Another request stored one of this batch's events between our check and our insert: start over."""


def apply_batch(session: Session, body_text: str, webhook_id: str, events: Sequence[Event],
                settings: Settings, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Store the message and apply its events; returns one result per event, in order. Does not commit."""
    now = now or utcnow()
    # The message first: a write, so on SQLite this transaction holds the write lock from here on.
    message_id = session.execute(insert(WebhookMessage).values(
        webhook_id=webhook_id[:100], received_at=now, event_count=len(events), body=body_text)
        .returning(WebhookMessage.id)).scalar_one()
    numbers = sorted({e.tracking_number for e in events})
    items = _lock_items(session, numbers)
    ids = [e.event_id for e in events]
    seen = set(session.scalars(select(TrackingEvent.event_id).where(TrackingEvent.event_id.in_(ids))))
    polygons = _kelurahan_polygons(session, {items[e.tracking_number].kelurahan_code for e in events
                                             if e.status == Status.DELIVERED and e.tracking_number in items})
    results: list[dict[str, Any]] = []
    new_rows: list[dict[str, Any]] = []
    rejected_rows: list[dict[str, Any]] = []
    for e in events:
        if e.event_id in seen:
            results.append({"event_id": e.event_id, "result": "duplicate"})
            continue
        item = items.get(e.tracking_number)
        problem = "nomor resi tidak dikenal" if item is None else semantic_error(e)
        if problem:
            results.append({"event_id": e.event_id, "result": "rejected", "message": problem})
            rejected_rows.append({"message_id": message_id, "event_id": e.event_id,
                                  "tracking_number": e.tracking_number, "received_at": now, "message": problem,
                                  "raw": json.dumps(e.raw, ensure_ascii=False)[:20000]})
            continue
        seen.add(e.event_id)
        result = _apply(item, e)
        far_km, flag = (_far_check(item, e, settings, polygons) if e.status == Status.DELIVERED else (None, None))
        if result == "applied" and (far_km is not None or flag):
            item.changes.update(delivered_far_km=far_km, flagged=flag)
        results.append({"event_id": e.event_id, "result": result})
        new_rows.append(_event_row(e, item.id, message_id, now, result, far_km, flag))
    if new_rows:
        inserted = session.execute(_insert_ignore(session, TrackingEvent.__table__), new_rows).scalars().all()
        if len(inserted) != len(new_rows):
            raise RetryBatch()
    if rejected_rows:
        session.execute(insert(RejectedEvent.__table__), rejected_rows)
    _write_items(session, [it for it in items.values() if it.changes], now, settings)
    return results


def _lock_items(session: Session, numbers: Sequence[str]) -> dict[str, _Item]:
    query = (select(ManifestItem.id, ManifestItem.manifest_id, ManifestItem.card_id, ManifestItem.tracking_number,
                    ManifestItem.tracking_status, ManifestItem.status_at, ManifestItem.status_rank,
                    ManifestItem.status_event_id, ManifestItem.final, ManifestItem.attempts,
                    ManifestItem.last_event_at, ManifestItem.return_reason, ManifestItem.active,
                    Card.state, Card.lat, Card.lng, Card.kelurahan_code)
             .join(Card, Card.id == ManifestItem.card_id)
             .where(ManifestItem.tracking_number.in_(numbers))  # also items of a card sent again later
             .order_by(ManifestItem.id))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=ManifestItem)
    items = {}
    for r in session.execute(query):
        key = (r.status_at, r.status_rank, r.status_event_id) if r.status_at is not None else None
        items[r.tracking_number] = _Item(r.id, r.manifest_id, r.card_id, r.state, r.lat, r.lng, r.kelurahan_code,
                                         r.tracking_status, key, r.final, r.attempts, r.last_event_at,
                                         r.return_reason, r.active)
    return items


def _apply(item: _Item, e: Event) -> str:
    """Fold one new event into the item's state (in memory); 'applied' if it decides the state now."""
    if e.status == Status.DELIVERY_FAILED:
        item.attempts += 1
        item.changes["attempts"] = item.attempts
    if item.last_event_at is None or e.occurred_at > item.last_event_at:
        item.last_event_at = e.occurred_at
        item.changes["last_event_at"] = e.occurred_at
    if e.status == Status.RETURNED and item.return_reason is None:
        item.return_reason = e.reason_code
        item.changes["return_reason"] = e.reason_code
    if item.final:
        return "stale"
    if e.status not in FINAL and item.status_key is not None and e.key <= item.status_key:
        return "stale"
    item.tracking_status = e.status
    item.status_key = e.key
    item.final = e.status in FINAL
    item.decided_by = e
    item.changes.update(tracking_status=e.status, status_at=e.occurred_at, status_rank=RANK[e.status],
                        status_event_id=e.event_id, final=item.final)
    if e.status == Status.RETURNED:
        item.return_reason = e.reason_code
        item.changes["return_reason"] = e.reason_code
    if e.status == Status.DELIVERED:
        item.changes.update(delivered_at=e.occurred_at, recipient_name=e.recipient_name,
                            recipient_relationship=e.relationship)
    return "applied"


# Parsed kelurahan polygons, by code and load time (a reloaded file has a new time).
_POLYGONS: dict[tuple[str, dt.datetime], Polygons] = {}


def _far_check(item: _Item, e: Event, settings: Settings,
               polygons: Mapping[str, Polygons]) -> tuple[float | None, str | None]:
    """Distance of a delivery from the geocoded address; a flag when it is too far or outside the kelurahan."""
    if e.lat is None or e.lng is None:
        return None, None
    flags = []
    km = None
    if item.card_lat is not None and item.card_lng is not None:
        km = round(great_circle((item.card_lat, item.card_lng), (e.lat, e.lng)).km, 3)
        if km > settings.far_km:
            flags.append(f"diantar {km:.1f} km dari alamat (batas {settings.far_km:g} km)")
    rings = polygons.get(item.kelurahan_code) if item.kelurahan_code else None
    if rings is not None and not contains(rings, e.lat, e.lng):
        flags.append("di luar batas kelurahan")
    return km, ("; ".join(flags) or None)


def _kelurahan_polygons(session: Session, codes: set[str | None]) -> dict[str, Polygons]:
    """The loaded boundaries of these kelurahan, by code: their load times in one query, the text only when new."""
    codes.discard(None)
    if not codes:
        return {}
    stamps = session.execute(select(RegionGeo.kode, RegionGeo.loaded_at)
                             .where(RegionGeo.kode.in_(codes), RegionGeo.polygon.is_not(None))).all()
    new = [kode for kode, at in stamps if (kode, at) not in _POLYGONS]
    if new:
        for kode, text, at in session.execute(select(RegionGeo.kode, RegionGeo.polygon, RegionGeo.loaded_at)
                                              .where(RegionGeo.kode.in_(new), RegionGeo.polygon.is_not(None))):
            _POLYGONS[(kode, at)] = polygons_of(json.loads(text))
    return {kode: _POLYGONS[(kode, at)] for kode, at in stamps if (kode, at) in _POLYGONS}


def _event_row(e: Event, item_id: int, message_id: int, now: dt.datetime, result: str, far_km: float | None,
               flag: str | None) -> dict[str, Any]:
    return {"event_id": e.event_id, "item_id": item_id, "message_id": message_id,
            "tracking_number": e.tracking_number, "status": e.status, "reason_code": e.reason_code,
            "occurred_at": e.occurred_at, "occurred_offset": e.offset, "received_at": now, "attempt": e.attempt,
            "post_office": e.post_office, "lat": e.lat, "lng": e.lng, "recipient_name": e.recipient_name,
            "recipient_relationship": e.relationship, "photo_url": e.photo_url, "signature_url": e.signature_url,
            "courier_id": e.courier_id, "result": result, "far_km": far_km, "flag": flag}


def _insert_ignore(session: Session, table: Any) -> Any:
    """INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id, executed with a list of rows: one cached
    statement, the rows sent as multi-row VALUES pages ("insertmanyvalues") rather than compiled into it."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)


def _write_items(session: Session, items: list[_Item], now: dt.datetime, settings: Settings) -> None:
    if not items:
        return
    _update_by_id(session, ManifestItem, [{"id": it.id, "last_received_at": now, **it.changes} for it in items])
    card_rows, history = [], []
    reasons_only = []
    for it in items:
        if not it.active:
            continue
        target = CARD_STATE_OF[it.tracking_status] if it.decided_by is not None else it.card_state
        if target == it.card_state or not can_move(it.card_state, target):
            # No move; a RETURNED that arrives after the RETURN_RECEIVED still gives the card its reason.
            if "return_reason" in it.changes and it.card_state in (CardState.RETURNING, CardState.RETURNED):
                reasons_only.append({"id": it.card_id, "return_reason": it.return_reason})
            continue
        e = it.decided_by
        reason = f"Kurir: {STATUS_LABELS[Status(e.status)]}"
        if e.reason_code:
            reason += f" ({REASON_LABELS.get(e.reason_code, e.reason_code)})"
        local = e.occurred_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
        reason += f", {local:%d-%m-%Y %H:%M} WIB" + (f" di {e.post_office}" if e.post_office else "")
        reason += f" [resi {e.tracking_number}, event {e.event_id}]"
        row = {"id": it.card_id, "state": target, "state_changed_at": now}
        if target in (CardState.RETURNING, CardState.RETURNED):
            row["return_reason"] = it.return_reason
        card_rows.append(row)
        history.append({"card_id": it.card_id, "from_state": it.card_state, "to_state": target, "at": now,
                        "actor": COURIER.label, "user_id": None, "reason": reason[:500]})
    _update_by_id(session, Card, card_rows + reasons_only)
    if history:
        session.execute(insert(CardHistory.__table__), history)
    finished = {it.manifest_id for it in items if it.changes.get("final")}
    if finished:
        close_complete_manifests(session, finished, now)


def _update_by_id(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Update rows by id, one statement per set of columns. On PostgreSQL, for many rows, that statement is one
    `UPDATE ... FROM unnest(<one array per column>)`: one round trip and one plan for all its rows (for a few rows
    the plain executemany is cheaper: the unnest statement's arrays make its cache key costly to build)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        shapes.setdefault(tuple(sorted(k for k in r if k != "id")), []).append(r)
    table = model.__table__
    for keys, same in shapes.items():
        if session.get_bind().dialect.name != "postgresql" or len(same) < 20:  # few rows: a Core executemany
            stmt = (update(table).where(table.c.id == bindparam("_id"))
                    .values({k: bindparam(f"_{k}", type_=table.c[k].type) for k in keys}))
            session.execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in same])
            continue
        arrays = [cast(bindparam(f"v_{c}", [r[c] for r in same], type_=ARRAY(table.c[c].type)),
                       ARRAY(table.c[c].type)) for c in ("id", *keys)]
        v = func.unnest(*arrays).table_valued("id", *keys).render_derived(name="v")
        session.execute(update(table).where(table.c.id == v.c.id).values({k: v.c[k] for k in keys}))


def close_complete_manifests(session: Session, manifest_ids: set[int], now: dt.datetime) -> list[int]:
    """Close handed-over manifests whose every item is final (delivered, or back at the office)."""
    open_counts = dict(session.execute(
        select(ManifestItem.manifest_id, func.count()).where(
            ManifestItem.manifest_id.in_(manifest_ids), ManifestItem.active, ManifestItem.final.is_(False))
        .group_by(ManifestItem.manifest_id)).all())
    done = [mid for mid in manifest_ids if not open_counts.get(mid)]
    if not done:
        return []
    closing = list(session.scalars(select(Manifest.id).where(Manifest.id.in_(done),
                                                             Manifest.status == ManifestStatus.HANDED_OVER)))
    if closing:
        session.execute(update(Manifest).where(Manifest.id.in_(closing))
                        .values(status=ManifestStatus.CLOSED, closed_at=now))
        session.execute(insert(ManifestEvent.__table__), [
            {"manifest_id": mid, "from_status": ManifestStatus.HANDED_OVER, "to_status": ManifestStatus.CLOSED,
             "at": now, "actor": COURIER.label, "user_id": None,
             "note": "Selesai: setiap item terkirim atau sudah kembali di kantor"} for mid in closing])
    return closing

