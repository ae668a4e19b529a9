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

An event for an item the courier has not received yet (its manifest is only finalized, or its handover failed) is
stored and `held`: it moves neither the item nor the card. When the handover commits, the held events of the
manifest's items are folded in occurred_at order as if they arrived then (`apply_held`, a hook of
app/handover_hooks.py); if the items leave the manifest first (a cancel, a withdrawn area), they become `rejected`
and are listed for staff (`reject_held`). An event for such a removed item is rejected when it arrives.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import current_app
from sqlalchemy import (
    JSON,
    Column,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from address.geocode import Polygons, contains, great_circle_km, polygons_of
from address.models import RegionGeo
from app.cards import (
    Actor,
    Card,
    CardState,
    Move,
    RefusedMove,
    apply_moves,
    check_moves,
    pg_move_parts,
    set_card_values,
)
from app.courier.tracking import (
    ANNOTATIONS,
    FINAL,
    RANK,
    REASON_LABELS,
    STATUS_LABELS,
    Event,
    Status,
    semantic_error,
)
from app.dates import tanggal, wib_text
from app.db import is_postgresql, pg_execute, pg_params, pg_rows, update_by_id, utcnow
from app.filters import thousands
from delivery.models import RejectedEvent, TrackingEvent, WebhookMessage
from manifests.models import Manifest, ManifestItem, ManifestStatus
from manifests.service import close_complete

log = logging.getLogger("antar.delivery")

COURIER = Actor.system("kurir")
# An event dated later than this after its message arrived comes from a wrong clock: applying it would freeze the
# item (a DELIVERED in 2099 is final; real events after it would all be "stale").
FUTURE_TOLERANCE = dt.timedelta(minutes=10)

CARD_STATE_OF: dict[str, CardState] = {
    Status.ACCEPTED: CardState.IN_TRANSIT, Status.IN_TRANSIT: CardState.IN_TRANSIT,
    Status.OUT_FOR_DELIVERY: CardState.IN_TRANSIT, Status.DELIVERY_FAILED: CardState.IN_TRANSIT,
    Status.DELIVERED: CardState.DELIVERED, Status.RETURNED: CardState.RETURNING,
    Status.RETURN_RECEIVED: CardState.RETURNED, Status.AVAILABLE_FOR_PICKUP: CardState.AT_POST_OFFICE,
}

HELD = "held"
# The courier does not have a manifest's items yet in these statuses (a draft has no tracking numbers): their
# events are held. In these it has them.
WAITING = frozenset({ManifestStatus.FINALIZED, ManifestStatus.HANDOVER_FAILED})
TAKEN = frozenset({ManifestStatus.HANDED_OVER, ManifestStatus.CLOSED})


# --- applying ----------------------------------------------------------------------------------------------


@dataclass
class Settings:
    far_km: float = 2.0
    max_attempts: int = 3

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(far_km=float(config["ANTAR_DELIVERY_FAR_KM"]), max_attempts=int(config["ANTAR_MAX_ATTEMPTS"]))


@dataclass(slots=True)
class _Item:
    id: int
    manifest_id: int
    card_id: int
    card_state: CardState
    card_lat: float | None
    card_lng: float | None
    kelurahan_code: str | None
    card_changed_at: dt.datetime
    tracking_status: str | None
    status_key: tuple[dt.datetime, int, str] | None
    final: bool
    attempts: int
    last_event_at: dt.datetime | None
    return_reason: str | None
    active: bool = True  # false once the card went out again on a later manifest: it no longer moves the card
    manifest_number: str = ""
    manifest_status: str | None = None
    removed: bool = False  # taken off its manifest before the courier had it (a cancel, a withdrawn area)
    cod_amount: int | None = None  # the fee the postman collects (section 6.1), whole rupiah
    collect_old_card: bool = False
    has_held: bool = False  # events of the item are stored as held (read with the lock)
    polygon_at: dt.datetime | None = None  # when its kelurahan's boundary was loaded; None without one
    changes: dict[str, Any] = field(default_factory=dict)
    decided_by: Event | None = None

    @property
    def delivered(self) -> bool:
        return self.tracking_status == Status.DELIVERED

    @property
    def waiting(self) -> bool:
        """The courier has not taken the item yet: its events are held."""
        return not self.removed and self.manifest_status in WAITING

    @property
    def taken(self) -> bool:
        return not self.removed and self.manifest_status in TAKEN


class RetryBatch(Exception):
    """Another request stored one of this batch's events between our check and our insert: start over."""


def apply_batch(session: Session, body_text: str, webhook_id: str, events: Sequence[Event],
                settings: Settings, *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Store the message and apply its events; returns one result per event, in order. Does not commit.

    On PostgreSQL a batch is two statements whatever its size: lock and read the items, then fold the events in
    memory (the rules above) and write everything in one statement: the message, the events (`INSERT ... ON CONFLICT
    (event_id) DO NOTHING`, which also finds an event stored before), the rejected ones, the items and the cards'
    moves with their history, the latter only if every event was new. Otherwise (a message sent again, or the same
    event in another request that committed first) the events just written are taken back and the batch is folded
    again knowing which events are stored: as on SQLite, where the message is written first (it takes the
    database's write lock) and the stored events are read before the fold."""
    now = now or utcnow()
    message = _message_row(body_text, webhook_id, events, now)
    numbers = sorted({e.tracking_number for e in events})
    ids = [e.event_id for e in events]
    if not is_postgresql(session):
        message_id = session.execute(insert(WebhookMessage).returning(WebhookMessage.id), message).scalar_one()
        items = _lock_items(session, numbers)
        batch = _fold_batch(session, events, items, settings, now, _stored(session, ids), message_id)
        inserted = len(session.execute(_insert_ignore(session, TrackingEvent.__table__),
                                       _full_rows(batch.new_rows)).all()) if batch.new_rows else 0
        if inserted != len(batch.new_rows):
            raise RetryBatch()
        if batch.rejected_rows:
            session.execute(insert(RejectedEvent.__table__), batch.rejected_rows)
        if batch.held:
            _recheck_held(session, batch.held, settings)
        _write_items(session, [it for it in items.values() if it.changes], now, settings)
        return batch.answers()
    items = _lock_items(session, numbers)
    # Events held for an item that waits (or that the courier took since) are folded by reading them back: then the
    # stored events are read first, and the items are written after the events.
    careful = any(it.waiting or it.has_held for it in items.values())
    batch = _fold_batch(session, events, items, settings, now, _stored(session, ids) if careful else {}, None)
    if batch.held:
        message_id, inserted = _pg_write(session, batch, [], now, message, None)
        if inserted != len(batch.new_rows):
            raise RetryBatch()
        _recheck_held(session, batch.held, settings)
        _write_items(session, [it for it in items.values() if it.changes], now, settings)
        return batch.answers()
    message_id, inserted = _pg_write(session, batch, [it for it in items.values() if it.changes], now, message, None)
    if inserted != len(batch.new_rows):
        if careful:
            raise RetryBatch()
        pg_execute(session, "DELETE FROM tracking_event WHERE message_id = %(m)s", {"m": message_id})
        items = _lock_items(session, numbers)  # as they were: only the message and those events were written
        batch = _fold_batch(session, events, items, settings, now, _stored(session, ids), message_id)
        _, inserted = _pg_write(session, batch, [it for it in items.values() if it.changes], now, None, message_id)
        if inserted != len(batch.new_rows):
            raise RetryBatch()
    return batch.answers()


def apply_group(session: Session, messages: Sequence[tuple[str, str, Sequence[Event]]], settings: Settings, *,
                now: dt.datetime | None = None) -> list[list[dict[str, Any]]] | None:
    """PostgreSQL: several messages (body text, webhook id, events) that arrived at once, applied as one batch in
    this transaction, as if one after the other (`apply_batch` each, in this order): one result list per message.
    Two statements for all of them instead of two per message (delivery/webhook.py groups concurrent posts).

    Returns None when the group should rather go message by message (`apply_batch`, each in a transaction of its
    own): an item waits for its handover or has held events (the careful path), or an event of the group was stored
    by another request meanwhile; the caller then rolls this transaction back (what it wrote goes with it). Does not
    commit."""
    now = now or utcnow()
    events = [e for _, _, batch_events in messages for e in batch_events]
    items = _lock_items(session, sorted({e.tracking_number for e in events}))
    if any(it.waiting or it.has_held for it in items.values()):
        return None
    batch = _fold_batch(session, events, items, settings, now, {}, None)
    if batch.held:
        return None
    of_message = [k for k, (_, _, batch_events) in enumerate(messages) for _ in batch_events]
    rows = [{"k": k, **_message_row(text, webhook_id, batch_events, now)}
            for k, (text, webhook_id, batch_events) in enumerate(messages)]
    for row, i in zip(batch.new_rows, batch.new_at, strict=True):
        row["k"] = of_message[i]
    for row, i in zip(batch.rejected_rows, batch.rejected_at, strict=True):
        row["k"] = of_message[i]
    _, inserted = _pg_write(session, batch, [it for it in items.values() if it.changes], now, None, None,
                            messages=rows)
    if inserted != len(batch.new_rows):
        return None
    answers = batch.answers()
    out, start = [], 0
    for _, _, batch_events in messages:
        out.append(answers[start:start + len(batch_events)])
        start += len(batch_events)
    return out


def _message_row(body_text: str, webhook_id: str, events: Sequence[Event], now: dt.datetime) -> dict[str, Any]:
    """A courier message as stored (`webhook_message`): its id cut to its column."""
    return {"webhook_id": webhook_id[:100], "received_at": now, "event_count": len(events), "body": body_text}


@dataclass
class _Batch:
    """A batch folded in memory: the answer per event (by index), the rows to write, the items whose events are held."""

    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    new_rows: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows: list[dict[str, Any]] = field(default_factory=list)
    held: list[_Item] = field(default_factory=list)
    new_at: list[int] = field(default_factory=list)  # the event (index) of each new row, and of each rejected row
    rejected_at: list[int] = field(default_factory=list)

    def answers(self) -> list[dict[str, Any]]:
        return [self.results[i] for i in range(len(self.results))]


def _fold_batch(session: Session, events: Sequence[Event], items: Mapping[str, _Item], settings: Settings,
                now: dt.datetime, seen: dict[str, tuple[str, str, dt.datetime]], message_id: int | None) -> _Batch:
    """Fold the events into their items (in memory; `seen`: the events of the batch stored before)."""
    # Events still held for an item the courier has taken since (the hook after its handover did not get to run).
    # They arrived before this batch, so they count first.
    taken = [it for it in items.values() if it.taken and it.has_held]
    if taken:
        _fold_held(session, taken, settings)
    polygons = _kelurahan_polygons(session, {(items[e.tracking_number].kelurahan_code,
                                              items[e.tracking_number].polygon_at)
                                             for e in events
                                             if e.status == Status.DELIVERED and e.tracking_number in items})
    batch = _Batch()
    results = batch.results
    # Annotations after every status of the batch: whether the item is delivered does not depend on the order of the
    # events in one message.
    order = sorted(range(len(events)), key=lambda i: events[i].status in ANNOTATIONS)
    for i in order:
        e = events[i]
        known = seen.get(e.event_id)
        if known == (e.tracking_number, e.status, e.occurred_at):
            results[i] = {"event_id": e.event_id, "result": "duplicate"}
            continue
        item = items.get(e.tracking_number)
        conflict = known is not None
        if conflict:
            # The same event_id for another event: the contract's `duplicate` ("that event_id was applied before:
            # nothing changes"); never applied, and listed for staff with what it conflicts with.
            problem = (f"event_id sudah dipakai untuk event lain (resi {known[0]}, {known[1]}, "
                       f"{known[2]:%Y-%m-%d %H:%M} UTC): konflik, tidak diterapkan")
        elif e.occurred_at > now + FUTURE_TOLERANCE:
            minutes = int(FUTURE_TOLERANCE.total_seconds() // 60)
            problem = (f"occurred_at {e.occurred_at:%Y-%m-%d %H:%M} UTC lebih dari {minutes} menit setelah pesan "
                       "diterima: jam pengirim salah")
        else:
            problem = "nomor resi tidak dikenal" if item is None else (
                semantic_error(e) or _never_received(item) or _not_delivered(item, e))
        if problem:
            results[i] = ({"event_id": e.event_id, "result": "duplicate"} if conflict else
                          {"event_id": e.event_id, "result": "rejected", "message": problem})
            batch.rejected_at.append(i)
            # A tracking number, status or reason the contract does not know may be longer than the columns (the
            # schema allows 200 characters): the row keeps what fits, `raw` the whole event.
            batch.rejected_rows.append({"message_id": message_id, "event_id": e.event_id,
                                        "tracking_number": e.tracking_number[:_REJECTED_NUMBER], "received_at": now,
                                        "message": problem[:_REJECTED_MESSAGE],
                                        "raw": json.dumps(e.raw, ensure_ascii=False)[:20000]})
            continue
        seen[e.event_id] = (e.tracking_number, e.status, e.occurred_at)
        if e.status in ANNOTATIONS:  # recorded for the old-card register and the settlements; the item stays as it is
            results[i] = {"event_id": e.event_id, "result": "applied"}
            batch.new_at.append(i)
            batch.new_rows.append(_event_row(e, item.id, message_id, now, "applied", None, None))
            continue
        if item.waiting:
            # Stored and counted (the contract's `applied`: the courier must not send it again); it moves the item
            # when the handover commits. `held` says so to a reader of the answer; staff see it as held.
            results[i] = {"event_id": e.event_id, "result": "applied", "held": True,
                          "message": f"ditahan: manifest {item.manifest_number} belum diserahkan ke kurir; "
                                     "diterapkan saat penyerahan"}
            batch.new_at.append(i)
            batch.new_rows.append(_event_row(e, item.id, message_id, now, HELD, None, None))
            batch.held.append(item)
            continue
        at_counter = item.tracking_status == Status.AVAILABLE_FOR_PICKUP
        result = _apply(item, e)
        far_km, flag = _delivery_checks(item, e, settings, polygons, at_counter=at_counter)
        if result == "applied" and (far_km is not None or flag):
            item.changes.update(delivered_far_km=far_km, flagged=flag)
        results[i] = {"event_id": e.event_id, "result": result}
        batch.new_at.append(i)
        batch.new_rows.append(_event_row(e, item.id, message_id, now, result, far_km, flag))
    return batch


_REJECTED_NUMBER = RejectedEvent.__table__.c.tracking_number.type.length
_REJECTED_MESSAGE = RejectedEvent.__table__.c.message.type.length


def _stored(session: Session, ids: list[str]) -> dict[str, tuple[str, str, dt.datetime]]:
    """The events of `ids` already stored: event_id -> (tracking number, status, occurred_at in UTC)."""
    if is_postgresql(session):
        rows = pg_execute(session, _PG_STORED, {"ids": orjson.dumps(ids).decode()}).fetchall()
    else:
        rows = session.execute(select(_EVENTS.c.event_id, _EVENTS.c.tracking_number, _EVENTS.c.status,
                                      _EVENTS.c.occurred_at).where(_EVENTS.c.event_id.in_(ids))).all()
    return {event_id: (number, status, at.astimezone(dt.UTC)) for event_id, number, status, at in rows}


_EVENTS = TrackingEvent.__table__
_PG_STORED = ("SELECT event_id, tracking_number, status, occurred_at FROM tracking_event "
              "WHERE event_id = ANY(ARRAY(SELECT json_array_elements_text(%(ids)s::json)))")


def _lock_items(session: Session, numbers: Sequence[str]) -> dict[str, _Item]:
    """The items with these tracking numbers (also items of a card sent again later), locked in id order on
    PostgreSQL, with their card and manifest, whether events wait held for them, and when their kelurahan's boundary
    was loaded (None without one)."""
    if is_postgresql(session):
        rows = pg_execute(session, _LOCK_PG_SQL, {"numbers": orjson.dumps(list(numbers)).decode()}).fetchall()
    else:
        rows = session.connection().execute(_LOCK, {"numbers": list(numbers)}).all()
    items = {}
    for (id_, manifest_id, card_id, number, status, status_at, rank, status_event_id, final, attempts, last_event_at,
         return_reason, active, removed_at, cod_amount, collect_old_card, manifest_number, manifest_status, state, lat,
         lng, kelurahan_code, state_changed_at, has_held, polygon_at) in rows:
        items[number] = _Item(id_, manifest_id, card_id, CardState(state), lat, lng, kelurahan_code, state_changed_at,
                              status, (status_at, rank, status_event_id) if status_at is not None else None, final,
                              attempts, last_event_at, return_reason, active, manifest_number, manifest_status,
                              removed_at is not None, cod_amount, bool(collect_old_card), has_held=has_held,
                              polygon_at=polygon_at)
    return items


def _lock_query(numbers: Any) -> Any:
    """Built once (Core, on the tables): executing it costs no statement building, its compiled form is cached.
    `numbers`: the condition on the tracking number."""
    item, card, manifest, geo, ev = (ManifestItem.__table__.c, Card.__table__.c, Manifest.__table__.c,
                                     RegionGeo.__table__.c, TrackingEvent.__table__.c)
    # A literal, not a parameter: the partial index of held events (migration 0015) matches its condition.
    has_held = exists().where(ev.item_id == item.id, ev.result == literal_column(f"'{HELD}'"))
    return (select(item.id, item.manifest_id, item.card_id, item.tracking_number, item.tracking_status, item.status_at,
                   item.status_rank, item.status_event_id, item.final, item.attempts, item.last_event_at,
                   item.return_reason, item.active, item.removed_at, item.cod_amount, item.collect_old_card,
                   manifest.number, manifest.status.label("manifest_status"), card.state, card.lat, card.lng,
                   card.kelurahan_code, card.state_changed_at, has_held.label("has_held"),
                   geo.loaded_at.label("polygon_at"))
            .select_from(ManifestItem.__table__)
            .join(Card.__table__, card.id == item.card_id)
            .join(Manifest.__table__, manifest.id == item.manifest_id)
            .outerjoin(RegionGeo.__table__, and_(geo.kode == card.kelurahan_code, geo.polygon.is_not(None)))
            .where(numbers)
            .order_by(item.id))


_LOCK = _lock_query(ManifestItem.tracking_number.in_(bindparam("numbers", expanding=True)))
# PostgreSQL: the numbers as one JSON array (one parameter, one statement text for any batch), the items locked; run
# on the driver's cursor (`app.db.pg_execute`), so compiled to its SQL once.
_LOCK_PG_SQL = str(_lock_query(ManifestItem.tracking_number.in_(
    select(func.json_array_elements_text(cast(bindparam("numbers", type_=Text), JSON))))
).with_for_update(of=ManifestItem.__table__).compile(dialect=postgresql.dialect()))


def _never_received(item: _Item) -> str | None:
    """Why an event cannot count for an item the courier never had (taken off its manifest before the handover)."""
    if item.removed or item.manifest_status == ManifestStatus.CANCELLED:
        return (f"kurir tidak pernah menerima item ini: dikeluarkan dari manifest {item.manifest_number} sebelum "
                "diserahkan ke kurir")
    return None


def _not_delivered(item: _Item, e: Event) -> str | None:
    """An annotation (section 6.2) speaks of a delivered item: for any other it is rejected."""
    if e.status in ANNOTATIONS and not item.delivered:
        now = STATUS_LABELS[Status(item.tracking_status)] if item.tracking_status else "belum ada kabar kurir"
        return f"{e.status} hanya untuk item yang sudah terkirim (status item: {now})"
    return None


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
                            recipient_relationship=e.relationship, cod_collected=e.cod_collected,
                            old_card_collected=e.old_card_collected)
    if e.status == Status.AVAILABLE_FOR_PICKUP:
        item.changes.update(pickup_post_office=e.pickup_post_office, pickup_name=e.pickup_name,
                            pickup_address=e.pickup_address, pickup_until=e.pickup_until)
    return "applied"


def _delivery_checks(item: _Item, e: Event, settings: Settings, polygons: Mapping[str, Polygons], *,
                     at_counter: bool = False) -> tuple[float | None, str | None]:
    """For a DELIVERED: its distance from the address, and what a reviewer must look at (far away, outside the
    kelurahan, the fee or the old card not as the manifest asked); (None, None) for any other event. A card the
    citizen collected at the post office's counter (it waited there, AVAILABLE_FOR_PICKUP) is handed over at the
    post office, not at the address: its distance is kept, but it is not flagged as far."""
    if e.status != Status.DELIVERED:
        return None, None
    far_km, flag = _far_check(item, e, settings, polygons)
    if at_counter:
        flag = None
    flags = [f for f in (flag, _last_mile_flag(item, e)) if f]
    return far_km, ("; ".join(flags)[:200] or None)


def _last_mile_flag(item: _Item, e: Event) -> str | None:
    """A delivery stands as the courier reports it (the card is out of our hands), but a fee not reported, a fee
    that is not the one asked, or an old card not taken (without it the new one is not to be handed over) is
    flagged for review."""
    notes = []
    if item.cod_amount:
        if e.cod_collected is None:
            notes.append(f"COD Rp {thousands(item.cod_amount)}: biaya tertagih tidak dilaporkan")
        elif e.cod_collected != item.cod_amount:
            notes.append(f"COD tertagih Rp {thousands(e.cod_collected)}, seharusnya Rp {thousands(item.cod_amount)}")
    elif e.cod_collected:
        notes.append(f"Rp {thousands(e.cod_collected)} tertagih untuk kiriman tanpa COD")
    if item.collect_old_card and e.old_card_collected is not True:
        notes.append("KTP lama tidak dilaporkan diserahkan")
    return "; ".join(notes) or None


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
        km = round(great_circle_km(item.card_lat, item.card_lng, e.lat, e.lng), 3)
        if km > settings.far_km:
            flags.append(f"diantar {km:.1f} km dari alamat (batas {settings.far_km:g} km)")
    rings = polygons.get(item.kelurahan_code) if item.kelurahan_code else None
    if rings is not None and not contains(rings, e.lat, e.lng):
        flags.append("di luar batas kelurahan")
    return km, ("; ".join(flags) or None)


def _kelurahan_polygons(session: Session,
                        stamps: set[tuple[str | None, dt.datetime | None]]) -> dict[str, Polygons]:
    """The loaded boundaries of these kelurahan, by code, from (code, load time) as read with the items: parsed once
    per load; the text is read only for a boundary not parsed yet (a reloaded file has a new time)."""
    stamps = {(kode, at) for kode, at in stamps if kode is not None and at is not None}
    new = [kode for kode, at in stamps if (kode, at) not in _POLYGONS]
    found = {}
    if new:
        for kode, text, at in session.execute(select(RegionGeo.kode, RegionGeo.polygon, RegionGeo.loaded_at)
                                              .where(RegionGeo.kode.in_(new), RegionGeo.polygon.is_not(None))):
            found[kode] = _POLYGONS[(kode, at)] = polygons_of(json.loads(text))
    return {kode: found[kode] if kode in found else _POLYGONS[(kode, at)] for kode, at in stamps
            if kode in found or (kode, at) in _POLYGONS}


def _event_row(e: Event, item_id: int, message_id: int | None, now: dt.datetime, result: str, far_km: float | None,
               flag: str | None) -> dict[str, Any]:
    """A new event's row without its empty columns: PostgreSQL's statement reads a missing key as NULL (`pg_params`
    with `sparse`), SQLite's insert gets them back (`_full_rows`). Half the Python of all 29 keys written and the
    empty ones then dropped, for each event of a batch."""
    row = {"event_id": e.event_id, "item_id": item_id, "tracking_number": e.tracking_number, "status": e.status,
           "occurred_at": e.occurred_at, "occurred_offset": e.offset, "received_at": now, "result": result}
    for name in _EVENT_OPTIONAL:  # the Event's attributes named as their columns
        value = getattr(e, name)
        if value is not None:
            row[name] = value
    for name, value in (("recipient_relationship", e.relationship), ("message_id", message_id), ("far_km", far_km),
                        ("flag", flag)):
        if value is not None:
            row[name] = value
    return row


_EVENT_OPTIONAL = ("reason_code", "attempt", "post_office", "lat", "lng", "recipient_name", "photo_url",
                   "signature_url", "courier_id", "pickup_post_office", "pickup_name", "pickup_address",
                   "pickup_until", "cod_collected", "old_card_collected", "received_by", "settlement_id")


def _full_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Event rows with every column (None where `_event_row` left it out), as an executemany insert needs them."""
    empty = dict.fromkeys(("message_id", *_EVENT_VALUES))
    return [{**empty, **row} for row in rows]


def _insert_ignore(session: Session, table: Any) -> Any:
    """INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id, executed with a list of rows: one cached
    statement, the rows sent as multi-row VALUES pages ("insertmanyvalues") rather than compiled into it."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)


def _write_items(session: Session, items: list[_Item], now: dt.datetime, settings: Settings) -> None:
    """Write the items' changes and move their cards (one statement on PostgreSQL), then what follows the moves."""
    if is_postgresql(session):
        _pg_write(session, _Batch(), items, now, None, None)
        return
    if items:
        update_by_id(session, ManifestItem, _item_rows(items, now))
    moves, by_card, reasons_only = _card_moves(items, now)
    refused = apply_moves(session, moves, COURIER, at=now, strict=False)
    _after_moves(session, items, refused, by_card, reasons_only, now)


def _item_rows(items: Iterable[_Item], now: dt.datetime) -> list[dict[str, Any]]:
    return [{"id": it.id, "last_received_at": now, **it.changes} for it in items]


def _pg_write(session: Session, batch: _Batch, items: list[_Item], now: dt.datetime,
              message: dict[str, Any] | None, message_id: int | None, *,
              messages: list[dict[str, Any]] | None = None) -> tuple[int | None, int]:
    """PostgreSQL: one statement for a folded batch: the message (when given), the new events (`INSERT ... ON
    CONFLICT (event_id) DO NOTHING`), the rejected ones, the items' changes (one UPDATE per set of changed columns)
    and the cards' moves with their history (app.cards.pg_move_parts); all but the message and the events only if
    every event was inserted, and then what follows the moves. Returns the message's id and how many events were
    inserted. Rows go as parameters (`app.db.pg_rows`): one statement text per shape of the batch, so one prepared
    statement, whatever its size. `messages` (`apply_group`): several messages instead of one, each row with its
    number `k`, as have the event and rejected rows (their message's); each message's id is drawn from its sequence
    in the statement, and its events and rejected events get it."""
    moves, by_card, reasons_only = _card_moves(items, now)
    allowed, refused = check_moves(moves)
    parts: list[str] = []
    params: dict[str, Any] = {}
    many = messages is not None
    if many:
        parts.extend(_sql(("m*",), lambda: [
            f"m_ AS (SELECT * FROM {pg_rows(_MESSAGE_COLUMNS, 'm_', _MESSAGE_NAMES)})",
            "mk AS MATERIALIZED (SELECT k, nextval(pg_get_serial_sequence('webhook_message', 'id')) AS id FROM m_)",
            "m AS (INSERT INTO webhook_message (id, webhook_id, received_at, event_count, body) SELECT mk.id, "
            "m_.webhook_id, m_.received_at, m_.event_count, m_.body FROM m_ JOIN mk USING (k) RETURNING id)"]))
        params.update(pg_params(messages, _MESSAGE_NAMES, "m_", one=False))
    elif message is not None:
        parts.append("m AS (INSERT INTO webhook_message (webhook_id, received_at, event_count, body) VALUES "
                     "(%(webhook_id)s, %(received_at)s, %(event_count)s, %(body)s) RETURNING id)")
        params.update(message)
    else:
        params["message_id"] = message_id
    of_message = "(SELECT id FROM m)" if message is not None else "%(message_id)s::integer"
    guard = None
    if batch.new_rows:
        one = len(batch.new_rows) == 1 and not many
        parts.append(_sql(("e", of_message, one, many), lambda: (
            f"e AS (INSERT INTO tracking_event (message_id, {', '.join(_EVENT_VALUES)}) "
            + (f"SELECT mk.id, {', '.join('e_.' + n for n in _EVENT_VALUES)} FROM "
               f"{pg_rows(_EVENT_COLUMNS_K, 'e_', ('k', *_EVENT_VALUES))} JOIN mk ON mk.k = e_.k" if many else
               f"SELECT {of_message}, e_.* FROM {pg_rows([_EVENTS.c[n] for n in _EVENT_VALUES], 'e_', one=one)}")
            + " ON CONFLICT (event_id) DO NOTHING RETURNING 1)")))
        params.update(pg_params(batch.new_rows, ("k", *_EVENT_VALUES) if many else _EVENT_VALUES, "e_", one=one,
                                sparse=True))
        guard = "(SELECT count(*) FROM e) = %(expected)s"
        params["expected"] = len(batch.new_rows)
    if batch.rejected_rows:
        one = len(batch.rejected_rows) == 1 and not many
        where = f" WHERE {guard}" if guard else ""
        parts.append(_sql(("r", of_message, one, guard, many), lambda: (
            f"r AS (INSERT INTO rejected_event (message_id, {', '.join(_REJECTED_VALUES)}) "
            + (f"SELECT mk.id, {', '.join('r_.' + n for n in _REJECTED_VALUES)} FROM "
               f"{pg_rows(_REJECTED_COLUMNS_K, 'r_', ('k', *_REJECTED_VALUES))} JOIN mk ON mk.k = r_.k{where}"
               if many else
               f"SELECT {of_message}, r_.* FROM "
               f"{pg_rows([RejectedEvent.__table__.c[n] for n in _REJECTED_VALUES], 'r_', one=one)}{where}")
            + ")")))
        params.update(pg_params(batch.rejected_rows, ("k", *_REJECTED_VALUES) if many else _REJECTED_VALUES, "r_",
                                 one=one))
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in _item_rows(items, now):
        shapes.setdefault(tuple(sorted(k for k in r if k != "id")), []).append(r)
    for n, (columns, rows) in enumerate(shapes.items()):
        one = len(rows) == 1
        parts.append(_sql(("i", n, columns, one, guard), _item_update, n, columns, one, guard))
        params.update(pg_params(rows, ("id", *columns), f"i{n}_", one=one))
    if allowed:
        card_parts, card_params = pg_move_parts(allowed, COURIER, now, guard=guard)
        parts.extend(card_parts)
        params.update(card_params)
    if not parts:
        return message_id, 0
    first = "(SELECT min(id) FROM m)" if many else "(SELECT id FROM m)" if message is not None else \
        "%(message_id)s::integer"
    answer = f"SELECT {first}, {'(SELECT count(*) FROM e)' if batch.new_rows else '0'}"
    message_id, inserted = pg_execute(session, f"WITH {', '.join(parts)} {answer}", params).fetchone()
    if inserted == len(batch.new_rows):
        _after_moves(session, items, refused, by_card, reasons_only, now)
    return message_id, inserted


def _item_update(n: int, columns: tuple[str, ...], one: bool, guard: str | None) -> str:
    c, v = ManifestItem.__table__.c, f"i{n}_"
    return (f"i{n} AS (UPDATE manifest_item SET {', '.join(f'{k} = {v}.{k}' for k in columns)} FROM "
            f"{pg_rows([c[k] for k in ('id', *columns)], v, one=one)} "
            f"WHERE manifest_item.id = {v}.id{' AND ' + guard if guard else ''})")


_PARTS: dict[tuple[Any, ...], str] = {}


def _sql(key: tuple[Any, ...], build: Any, *args: Any) -> Any:
    """A part of `_pg_write`'s statement, built once per shape (`build(*args)`)."""
    sql = _PARTS.get(key)
    if sql is None:
        sql = _PARTS[key] = build(*args)
    return sql


# The columns of an event row and of a rejected event row, but the message's id (written by the statement).
_EVENT_VALUES = ("event_id", "item_id", "tracking_number", "status", "reason_code", "occurred_at", "occurred_offset",
                 "received_at", "attempt", "post_office", "lat", "lng", "recipient_name", "recipient_relationship",
                 "photo_url", "signature_url", "courier_id", "result", "far_km", "flag", "pickup_post_office",
                 "pickup_name", "pickup_address", "pickup_until", "cod_collected", "old_card_collected",
                 "received_by", "settlement_id")
_REJECTED_VALUES = ("event_id", "tracking_number", "received_at", "message", "raw")
# Group writes (`apply_group`): the rows carry their message's number `k`.
_K = Column("k", Integer)
_EVENT_COLUMNS_K = [_K, *(_EVENTS.c[n] for n in _EVENT_VALUES)]
_REJECTED_COLUMNS_K = [_K, *(RejectedEvent.__table__.c[n] for n in _REJECTED_VALUES)]
_MESSAGE_NAMES = ("k", "webhook_id", "received_at", "event_count", "body")
_MESSAGE_COLUMNS = [_K, *(WebhookMessage.__table__.c[n] for n in _MESSAGE_NAMES[1:])]


def _card_moves(items: Iterable[_Item], now: dt.datetime) -> tuple[list[Move], dict[int, _Item], list[dict[str, Any]]]:
    """The cards follow their items (in transit, delivered, returning, returned): the moves, the item of each moved
    card, and the late return reasons of cards that do not move."""
    moves, reasons_only = [], []
    by_card: dict[int, _Item] = {}
    for it in items:
        if not it.active:
            continue
        target = CARD_STATE_OF[it.tracking_status] if it.decided_by is not None else it.card_state
        if target == it.card_state:
            reasons_only.extend(_late_reason(it))
            continue
        e = it.decided_by
        # The card changed state when the courier says it happened (the per-day figures count that day), but never
        # later than now nor before its previous change (a card's changes stay in order, so the figures of any past
        # day add up); its history row keeps when Antar learned of it.
        values: dict[str, Any] = {"state_changed_at": max(it.card_changed_at, min(e.occurred_at, now))}
        if target in (CardState.RETURNING, CardState.RETURNED):
            values["return_reason"] = it.return_reason
        elif it.card_state in (CardState.RETURNING, CardState.RETURNED):
            values["return_reason"] = None  # back on its way (or delivered) after a RETURNED: no longer a return
        moves.append(Move(it.card_id, it.card_state, target, _move_reason(e), values))
        by_card[it.card_id] = it
    return moves, by_card, reasons_only


def _after_moves(session: Session, items: Sequence[_Item], refused: Sequence[RefusedMove], by_card: dict[int, _Item],
                 reasons_only: list[dict[str, Any]], now: dt.datetime) -> None:
    """A card that did not follow its item (it is in a state the courier's event cannot move, e.g. taken back by
    staff): the event stays applied to the item, and says so in the timeline and the log. Then the late return
    reasons, and the manifests whose every item is now final close."""
    for r in refused:
        it = by_card[r.move.card_id]
        e = it.decided_by
        reasons_only.extend(_late_reason(it))
        note = f"Kartu tidak dipindahkan: {r.message}"  # beside a far-delivery flag the event may already carry
        session.execute(update(TrackingEvent).where(TrackingEvent.event_id == e.event_id).values(
            flag=func.substr(func.coalesce(TrackingEvent.flag + "; ", "") + note, 1, 200)))
        log.warning("courier event %s for %s: card %s not moved (%s)", e.event_id, e.tracking_number,
                    r.move.card_id, r.message)
    set_card_values(session, reasons_only)
    finished = {it.manifest_id for it in items if it.changes.get("final")}
    if finished:
        close_complete(session, finished, COURIER, at=now)


def _late_reason(it: _Item) -> list[dict[str, Any]]:
    """A card that does not move still gets the courier's return reason when it arrives late (a RETURNED after
    the RETURN_RECEIVED): the row to set, or none."""
    if "return_reason" in it.changes and it.card_state in (CardState.RETURNING, CardState.RETURNED):
        return [{"id": it.card_id, "return_reason": it.return_reason}]
    return []


def _move_reason(e: Event) -> str:
    """The card's history line for a courier's event: status, reason, local time, place, resi and event id."""
    reason = f"Kurir: {STATUS_LABELS[e.status]}"
    if e.reason_code:
        reason += f" ({REASON_LABELS.get(e.reason_code, e.reason_code)})"
    reason += f", {wib_text(e.occurred_at)}" + (f" di {e.post_office}" if e.post_office else "")
    if e.status == Status.AVAILABLE_FOR_PICKUP and e.pickup_until:
        reason += f"; diambil di {e.pickup_name or e.pickup_post_office} sampai {tanggal(e.pickup_until)}"
    return reason + f" [resi {e.tracking_number}, event {e.event_id}]"


# --- events held until the courier has the item --------------------------------------------------------------

_HELD_COLUMNS = (TrackingEvent.id, TrackingEvent.item_id, TrackingEvent.message_id, TrackingEvent.event_id,
                 TrackingEvent.tracking_number, TrackingEvent.status, TrackingEvent.reason_code,
                 TrackingEvent.occurred_at, TrackingEvent.occurred_offset, TrackingEvent.received_at,
                 TrackingEvent.attempt, TrackingEvent.post_office, TrackingEvent.lat, TrackingEvent.lng,
                 TrackingEvent.recipient_name, TrackingEvent.recipient_relationship, TrackingEvent.photo_url,
                 TrackingEvent.signature_url, TrackingEvent.courier_id, TrackingEvent.pickup_post_office,
                 TrackingEvent.pickup_name, TrackingEvent.pickup_address, TrackingEvent.pickup_until,
                 TrackingEvent.cod_collected, TrackingEvent.old_card_collected, TrackingEvent.received_by,
                 TrackingEvent.settlement_id)


def _held_rows(session: Session, item_ids: Sequence[int]) -> list[Any]:
    if not item_ids:
        return []
    return list(session.execute(select(*_HELD_COLUMNS).where(TrackingEvent.item_id.in_(item_ids),
                                                              TrackingEvent.result == HELD)).all())


def _event_of(r: Any) -> Event:
    """A stored event as the fold takes it (as parsed from the courier's body)."""
    return Event(index=0, raw={}, event_id=r.event_id, tracking_number=r.tracking_number, status=r.status,
                 occurred_at=r.occurred_at, offset=r.occurred_offset, reason_code=r.reason_code, attempt=r.attempt,
                 post_office=r.post_office, lat=r.lat, lng=r.lng, recipient_name=r.recipient_name,
                 relationship=r.recipient_relationship, photo_url=r.photo_url, signature_url=r.signature_url,
                 courier_id=r.courier_id, pickup_post_office=r.pickup_post_office, pickup_name=r.pickup_name,
                 pickup_address=r.pickup_address, pickup_until=r.pickup_until,
                 pickup_until_text=r.pickup_until and r.pickup_until.isoformat(), cod_collected=r.cod_collected,
                 old_card_collected=r.old_card_collected, received_by=r.received_by, settlement_id=r.settlement_id)


def _fold_held(session: Session, items: Sequence[_Item], settings: Settings, *,
               rows: Sequence[Any] | None = None) -> int:
    """Fold the held events of these items (the courier has them now) in occurred_at order, as if they arrived now:
    each stored event gets the result it has then (applied or stale). In memory for the items; returns how many.
    `rows`: those events, when the caller has read them already (`_HELD_COLUMNS`)."""
    by_id = {it.id: it for it in items}
    if rows is None:
        rows = _held_rows(session, list(by_id))
    if not rows:
        return 0
    events = sorted(((_event_of(r), r.id, r.item_id) for r in rows), key=lambda x: x[0].key)
    polygons = _kelurahan_polygons(session, {(by_id[item_id].kelurahan_code, by_id[item_id].polygon_at)
                                             for e, _, item_id in events if e.status == Status.DELIVERED})
    updates = []
    for e, row_id, item_id in events:
        item = by_id[item_id]
        at_counter = item.tracking_status == Status.AVAILABLE_FOR_PICKUP
        result = _apply(item, e)
        far_km, flag = _delivery_checks(item, e, settings, polygons, at_counter=at_counter)
        if result == "applied" and (far_km is not None or flag):
            item.changes.update(delivered_far_km=far_km, flagged=flag)
        updates.append({"id": row_id, "result": result, "far_km": far_km, "flag": flag})
    update_by_id(session, TrackingEvent, updates)
    return len(updates)


def _recheck_held(session: Session, held: Sequence[_Item], settings: Settings) -> None:
    """A handover may have committed while this batch held events (it read the manifest as not handed over): if the
    courier has the manifest now, the held events count in this same transaction. Otherwise the hook after the
    handover waits for this batch's item locks and then finds them."""
    ids = {it.id for it in held}
    now_taken = set(session.scalars(
        select(ManifestItem.id).join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(ManifestItem.id.in_(ids), ManifestItem.removed_at.is_(None), Manifest.status.in_(TAKEN))))
    if not now_taken:
        return
    items = list({it.id: it for it in held if it.id in now_taken}.values())
    states = dict(session.execute(select(Card.id, Card.state).where(Card.id.in_({it.card_id for it in items}))).all())
    for it in items:
        it.manifest_status = ManifestStatus.HANDED_OVER
        it.card_state = states[it.card_id]
    _fold_held(session, items, settings)


def apply_held(session: Session, manifest_id: int, settings: Settings, *, now: dt.datetime | None = None) -> int:
    """The courier has just taken the manifest: fold its items' held events as if they arrived now (cards move,
    the manifest closes if every item is final). Locks the items first, so a batch still holding events for them is
    waited for and seen. Returns how many events were folded. Does not commit."""
    now = now or utcnow()
    numbers = list(session.scalars(select(ManifestItem.tracking_number).where(
        ManifestItem.manifest_id == manifest_id, ManifestItem.active, ManifestItem.tracking_number.is_not(None))))
    items = [it for it in _lock_items(session, numbers).values() if it.manifest_id == manifest_id and it.taken]
    count = _fold_held(session, items, settings)
    if count:
        _write_items(session, [it for it in items if it.changes], now, settings)
        log.info("manifest %s handed over: %s held courier events applied", manifest_id, count)
    return count


def reject_held(session: Session, item_ids: Sequence[int], why: str) -> int:
    """Items leave their manifest before the courier took it: their held events can never count. Each becomes
    `rejected`, says why in the item's timeline and is listed with the rejected events for staff."""
    rows = _held_rows(session, item_ids)
    if not rows:
        return 0
    message = f"Ditahan lalu ditolak: kurir tidak pernah menerima item ini ({why})"[:500]
    update_by_id(session, TrackingEvent, [{"id": r.id, "result": "rejected", "flag": message[:200]} for r in rows])
    session.execute(insert(RejectedEvent.__table__), [
        {"message_id": r.message_id, "event_id": r.event_id, "tracking_number": r.tracking_number,
         "received_at": r.received_at, "message": message, "raw": json.dumps(_raw_of(r), ensure_ascii=False)}
        for r in rows])
    return len(rows)


def _raw_of(r: Any) -> dict[str, Any]:
    """A stored event in the contract's shape again (for the rejected list: the event as received)."""
    return {"event_id": r.event_id, "tracking_number": r.tracking_number, "status": r.status,
            "occurred_at": courier_isoformat(r.occurred_at, r.occurred_offset), "attempt": r.attempt,
            "reason_code": r.reason_code, "location": {"post_office": r.post_office, "lat": r.lat, "lng": r.lng},
            "recipient": ({"name": r.recipient_name, "relationship": r.recipient_relationship}
                          if r.recipient_name or r.recipient_relationship else None),
            "proof": ({"photo_url": r.photo_url, "signature_url": r.signature_url}
                      if r.photo_url or r.signature_url else None),
            "courier_id": r.courier_id, **_last_mile_raw(r)}


def _last_mile_raw(r: Any) -> dict[str, Any]:
    """The section 6.2 fields of a stored event, as the courier sent them (only those it sent)."""
    raw: dict[str, Any] = {}
    if r.pickup_until is not None or r.pickup_name or r.pickup_post_office:
        raw["pickup"] = {"post_office": r.pickup_post_office, "name": r.pickup_name, "address": r.pickup_address,
                         "until": r.pickup_until and r.pickup_until.isoformat()}
    for name in ("cod_collected", "old_card_collected", "settlement_id"):
        if getattr(r, name) is not None:
            raw[name] = getattr(r, name)
    if r.received_by is not None:
        raw["old_card"] = {"received_by": r.received_by}
    return raw


def courier_isoformat(at: dt.datetime, offset: str) -> str:
    """`at` in the offset the courier sent it in ('+07:00'), as ISO 8601."""
    try:
        sign = -1 if offset.startswith("-") else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    except (ValueError, IndexError):
        zone = dt.UTC
    return at.astimezone(zone).isoformat(timespec="seconds")


def after_handover(session: Session, manifest_id: int) -> None:
    """The hook app/handover_hooks.py calls once a handover is committed (registered in delivery's init_app)."""
    apply_held(session, manifest_id, Settings.from_config(current_app.config))
