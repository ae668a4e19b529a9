"""Reading the tracking state: staff search, an item's full timeline, the problems lists, a citizen's status.

Read-only: these functions take a session and an office and return plain values (no ORM objects escape, so
pages render after the unit of work has closed). Every staff query is scoped to one office; the citizen's
status is the only query across offices, and it answers with the card's state and a date, nothing else.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import and_, bindparam, func, or_, select, text
from sqlalchemy.orm import Session, aliased

from app.cards import STATE_LABELS, Card, CardHistory, CardState
from app.courier.tracking import ANNOTATIONS, RANK, REASON_LABELS, RELATIONSHIP_LABELS, STATUS_LABELS, Status
from app.dates import as_local, tanggal
from app.models import Office
from app.pseudonym import kk_hash
from app.regions import office_regions
from app.web import Page, paginate
from delivery.models import RejectedEvent, TrackingEvent
from manifests.models import MANIFEST_STATUS_LABELS, Manifest, ManifestItem, ManifestStatus

SEARCH_LIMIT = 100
PROBLEM_LIMIT = 200
MIN_NAME_CHARS = 3

T = TypeVar("T")

_S10 = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")
_NIK = re.compile(r"^\d{16}$")


class QueryError(ValueError):
    """A search text we cannot use; the message (Bahasa Indonesia) says what to type instead."""


# --- labels ------------------------------------------------------------------------------------------------


def card_state_label(state: str | None) -> str:
    if state is None:
        return "—"
    try:
        return STATE_LABELS[CardState(state)]
    except (ValueError, KeyError):  # a state added later without a label yet
        return str(state)


def status_label(status: str | None) -> str:
    if status is None:
        return "Belum ada kabar kurir"
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


def reason_label(code: str | None) -> str | None:
    return None if code is None else REASON_LABELS.get(code, code)


def relationship_label(code: str | None) -> str | None:
    return None if code is None else RELATIONSHIP_LABELS.get(code, code)


def mask_nik(nik: str) -> str:
    """Only the last four digits: enough to tell two people apart on the phone, not enough to misuse."""
    return "*" * max(len(nik) - 4, 0) + nik[-4:]


def _kelurahan_namer(office: Office) -> Callable[[str | None, str | None], str]:
    try:
        known = office_regions(office.code).kelurahan
    except ValueError:
        known = {}

    def name(code: str | None, raw: str | None) -> str:
        kel = known.get(code) if code else None
        return kel.name if kel else (raw or "—")

    return name


def jsonable(value: Any) -> Any:
    """A dataclass (or list of them) as JSON-ready values: timestamps and dates in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


# --- search ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    """One search result: an item of a card (or a card that is on no manifest yet)."""

    tracking_number: str | None
    nama: str
    nomor_blanko: str
    kelurahan: str
    card_state: str
    card_state_label: str
    tracking_status: str | None
    tracking_status_label: str
    last_event_at: dt.datetime | None
    manifest_number: str | None
    active: bool | None


def search_key(q: str) -> tuple[str, str]:
    """What a search text is: ('tracking', 'RB...ID'), ('nik', ...), ('manifest', 'MNF-...') or ('text', ...)."""
    q = q.strip()
    upper = q.upper()
    if _S10.match(upper):
        return "tracking", upper
    if _NIK.match(q):
        return "nik", q
    if upper.startswith("MNF-"):
        return "manifest", upper
    if len(q) < MIN_NAME_CHARS:
        raise QueryError(f"Ketik nomor resi, NIK (16 angka), nomor blanko, nomor manifest (MNF-...) atau "
                         f"minimal {MIN_NAME_CHARS} huruf nama.")
    return "text", q


def _search_query(office: Office, q: str) -> Any:
    """The SELECT behind a search (see `search_key`), in a stable order: by name, card, newest item first."""
    kind, value = search_key(q)
    if kind == "tracking":
        condition = ManifestItem.tracking_number == value
    elif kind == "nik":
        condition = Card.nik == value
    elif kind == "manifest":
        condition = Manifest.number == value
    else:
        condition = or_(Card.nomor_blanko.in_(sorted({value, value.upper()})),
                        func.upper(Card.nama).contains(value.upper(), autoescape=True))
    return (select(Card.nama, Card.nomor_blanko, Card.kelurahan_code, Card.kelurahan_raw, Card.state,
                   ManifestItem.tracking_number, ManifestItem.tracking_status, ManifestItem.last_event_at,
                   ManifestItem.active, Manifest.number)
            .select_from(Card)
            .outerjoin(ManifestItem, ManifestItem.card_id == Card.id)
            .outerjoin(Manifest, Manifest.id == ManifestItem.manifest_id)
            .where(Card.office_id == office.id, condition)
            .order_by(Card.nama, Card.id, ManifestItem.id.desc()))


def _found(rows: Any, office: Office) -> list[Found]:
    kelurahan = _kelurahan_namer(office)
    return [Found(r.tracking_number, r.nama, r.nomor_blanko, kelurahan(r.kelurahan_code, r.kelurahan_raw),
                  str(r.state), card_state_label(r.state), r.tracking_status, status_label(r.tracking_status),
                  r.last_event_at, r.number, r.active) for r in rows]


def search(session: Session, office: Office, q: str, *, limit: int = SEARCH_LIMIT) -> list[Found]:
    """Items and cards of the office matching `q` (see `search_key`); a text matches the nomor blanko exactly
    or the name as a case-insensitive substring."""
    return _found(session.execute(_search_query(office, q).limit(limit)).all(), office)


def search_page(session: Session, office: Office, q: str, number: int) -> Page:
    """One page of `search`'s results (all of them, not only the first `SEARCH_LIMIT`), with their total."""
    page = paginate(session, _search_query(office, q), number)
    return dataclasses.replace(page, rows=_found(page.rows, office))


# --- timeline ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardView:
    nama: str
    nomor_blanko: str
    nik_masked: str
    kelurahan: str
    alamat: str
    state: str
    state_label: str
    state_changed_at: dt.datetime
    return_reason: str | None
    return_reason_label: str | None


@dataclass(frozen=True, slots=True)
class ItemView:
    tracking_number: str | None
    manifest_id: int
    manifest_number: str
    manifest_status_label: str
    handed_over_at: dt.datetime | None
    active: bool
    tracking_status: str | None
    tracking_status_label: str
    final: bool
    attempts: int
    return_reason: str | None
    return_reason_label: str | None
    delivered_at: dt.datetime | None
    recipient_name: str | None
    recipient_relationship: str | None
    recipient_relationship_label: str | None
    delivered_far_km: float | None
    flagged: str | None
    last_event_at: dt.datetime | None
    last_received_at: dt.datetime | None
    # Section 6: what the item carried (the fee, the old card to take) and what the courier reported.
    cod_amount: int | None
    collect_old_card: bool
    cod_collected: int | None
    old_card_collected: bool | None
    pickup: PickupView | None


@dataclass(frozen=True, slots=True)
class PickupView:
    """Where and until when an item waits at a post office for the citizen (AVAILABLE_FOR_PICKUP)."""

    post_office: str | None
    name: str | None
    address: str | None
    until: dt.date | None


def _pickup(post_office: str | None, name: str | None, address: str | None, until: dt.date | None) -> PickupView | None:
    if post_office is None and name is None and until is None:
        return None
    return PickupView(post_office, name, address, until)


@dataclass(frozen=True, slots=True)
class EventView:
    event_id: str
    tracking_number: str
    status: str
    status_label: str
    reason_code: str | None
    reason_label: str | None
    occurred_at: dt.datetime
    occurred_offset: str
    courier_time: str  # the time as the courier sent it, in its own offset
    received_at: dt.datetime
    attempt: int | None
    post_office: str | None
    lat: float | None
    lng: float | None
    courier_id: str | None
    recipient_name: str | None
    recipient_relationship_label: str | None
    photo_url: str | None
    signature_url: str | None
    result: str
    far_km: float | None
    flag: str | None
    pickup: PickupView | None
    cod_collected: int | None
    old_card_collected: bool | None
    received_by: str | None
    settlement_id: str | None


@dataclass(frozen=True, slots=True)
class HistoryView:
    from_state: str | None
    from_label: str
    to_state: str
    to_label: str
    at: dt.datetime
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything known about one tracking number's card: all its items (a card may be sent again), every
    courier event of those items in occurred_at order, and the card's history."""

    tracking_number: str
    card: CardView
    item: ItemView
    items: list[ItemView]
    events: list[EventView]
    card_history: list[HistoryView]


def courier_time(occurred_at: dt.datetime, offset: str) -> str:
    """`occurred_at` in the offset the courier gave ('+08:00' for an office in WITA), as it was sent."""
    m = re.fullmatch(r"([+-])(\d{2}):(\d{2})", offset or "")
    if m is None:
        return occurred_at.isoformat(timespec="minutes")
    delta = dt.timedelta(hours=int(m[2]), minutes=int(m[3])) * (-1 if m[1] == "-" else 1)
    return occurred_at.astimezone(dt.timezone(delta)).strftime("%d-%m-%Y %H:%M ") + offset


def _address(card: Card, kelurahan: str) -> str:
    parts = [card.alamat]
    if card.rt or card.rw:
        parts.append(f"RT {card.rt or '-'}/RW {card.rw or '-'}")
    parts.append(kelurahan)
    if card.kecamatan_raw:
        parts.append(f"Kec. {card.kecamatan_raw}")
    return ", ".join(parts)


def _item_view(it: ManifestItem, m: Manifest) -> ItemView:
    # The item keeps the reason of a RETURNED it was told of (a late one too); it is a return reason only while the
    # item is returning or returned (a RETURNED followed by a delivery is not a return).
    reason = it.return_reason if it.tracking_status in (Status.RETURNED, Status.RETURN_RECEIVED) else None
    return ItemView(
        it.tracking_number, m.id, m.number, MANIFEST_STATUS_LABELS.get(m.status, str(m.status)), m.handed_over_at,
        it.active, it.tracking_status, status_label(it.tracking_status), it.final, it.attempts, reason,
        reason_label(reason), it.delivered_at, it.recipient_name, it.recipient_relationship,
        relationship_label(it.recipient_relationship), it.delivered_far_km, it.flagged, it.last_event_at,
        it.last_received_at, it.cod_amount, it.collect_old_card, it.cod_collected, it.old_card_collected,
        _pickup(it.pickup_post_office, it.pickup_name, it.pickup_address, it.pickup_until))


def _event_view(e: TrackingEvent) -> EventView:
    return EventView(
        e.event_id, e.tracking_number, e.status, status_label(e.status), e.reason_code, reason_label(e.reason_code),
        e.occurred_at, e.occurred_offset, courier_time(e.occurred_at, e.occurred_offset), e.received_at, e.attempt,
        e.post_office, e.lat, e.lng, e.courier_id, e.recipient_name, relationship_label(e.recipient_relationship),
        e.photo_url, e.signature_url, e.result, e.far_km, e.flag,
        _pickup(e.pickup_post_office, e.pickup_name, e.pickup_address, e.pickup_until), e.cod_collected,
        e.old_card_collected, e.received_by, e.settlement_id)


def timeline(session: Session, office: Office, tracking_number: str) -> Timeline | None:
    """The full story behind a tracking number of the office; None when the number is unknown here."""
    number = tracking_number.strip().upper()
    found = session.execute(
        select(ManifestItem.card_id).join(Card, Card.id == ManifestItem.card_id)
        .where(ManifestItem.tracking_number == number, Card.office_id == office.id)).first()
    if found is None:
        return None
    card = session.get(Card, found.card_id)
    kelurahan = _kelurahan_namer(office)(card.kelurahan_code, card.kelurahan_raw)
    pairs = session.execute(
        select(ManifestItem, Manifest).join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(ManifestItem.card_id == card.id).order_by(ManifestItem.id)).all()
    items = [_item_view(it, m) for it, m in pairs]
    item_ids = [it.id for it, _ in pairs]
    events = sorted(session.scalars(select(TrackingEvent).where(TrackingEvent.item_id.in_(item_ids))),
                    key=lambda e: (e.occurred_at, RANK.get(e.status, 0), e.event_id))
    history = session.scalars(select(CardHistory).where(CardHistory.card_id == card.id)
                              .order_by(CardHistory.at, CardHistory.id))
    return Timeline(
        tracking_number=number,
        card=CardView(card.nama, card.nomor_blanko, mask_nik(card.nik), kelurahan, _address(card, kelurahan),
                      str(card.state), card_state_label(card.state), card.state_changed_at, card.return_reason,
                      reason_label(card.return_reason)),
        item=next(i for i in items if i.tracking_number == number),
        items=items,
        events=[_event_view(e) for e in events],
        card_history=[HistoryView(h.from_state and str(h.from_state), card_state_label(h.from_state), str(h.to_state),
                             card_state_label(h.to_state), h.at, h.actor, h.reason) for h in history],
    )


# --- problems ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProblemItem:
    tracking_number: str
    nama: str
    kelurahan: str
    manifest_number: str
    tracking_status: str | None
    tracking_status_label: str
    attempts: int
    last_event_at: dt.datetime | None
    since: dt.datetime | None  # silent: the last event (or the handover) the silence is measured from
    delivered_at: dt.datetime | None
    delivered_far_km: float | None
    flagged: str | None
    pickup_post_office: str | None
    pickup_name: str | None
    pickup_until: dt.date | None


@dataclass(frozen=True, slots=True)
class RejectedView:
    received_at: dt.datetime
    tracking_number: str | None
    event_id: str | None
    message: str
    known: bool  # the tracking number is one of our items (a bad code rather than an unknown number)


@dataclass(frozen=True, slots=True)
class HeldView:
    """A courier event for an item of a manifest the courier has not taken yet: stored, counted from the handover."""

    received_at: dt.datetime
    occurred_at: dt.datetime
    tracking_number: str
    event_id: str
    status: str
    status_label: str
    manifest_number: str
    manifest_status_label: str


@dataclass(frozen=True, slots=True)
class ProblemList(Generic[T]):
    count: int  # all of them, also beyond the rows shown
    rows: list[T]


@dataclass(frozen=True, slots=True)
class Problems:
    silent_days: int
    max_attempts: int
    silent: ProblemList[ProblemItem]
    failing: ProblemList[ProblemItem]
    far: ProblemList[ProblemItem]
    rejected: ProblemList[RejectedView]
    held: ProblemList[HeldView]
    pickup_overdue: ProblemList[ProblemItem]


# The problem lists, by the names the API uses.
PROBLEM_KINDS = ("silent", "failing", "far", "rejected", "held", "pickup_overdue")
ITEM_PROBLEMS = ("silent", "failing", "far", "pickup_overdue")


def _item_problem(office: Office, kind: str, *, now: dt.datetime, silent_days: int,
                  max_attempts: int) -> tuple[Any, tuple[Any, ...]]:
    """The condition and order of one list of problem items: silent for `silent_days`, `max_attempts` failed
    attempts and still open, delivered but flagged (far away, outside the kelurahan, the fee or the old card not as
    asked), waiting at a post office past the day the courier gave (`pickup_until`, before today in WIB).

    An item waiting at a post office is neither silent nor failing: its attempts are over and the courier said until
    when it waits; once that day has passed without a return it is in its own list."""
    since = func.coalesce(ManifestItem.last_event_at, Manifest.handed_over_at)
    at_post_office = ManifestItem.tracking_status == Status.AVAILABLE_FOR_PICKUP
    open_items = and_(Manifest.office_id == office.id, ManifestItem.active, ManifestItem.final.is_(False),
                      ManifestItem.tracking_number.is_not(None),
                      ManifestItem.tracking_status.is_distinct_from(Status.AVAILABLE_FOR_PICKUP))
    if kind == "pickup_overdue":
        today = as_local(now).date()
        return (and_(Manifest.office_id == office.id, ManifestItem.active, at_post_office,
                     ManifestItem.pickup_until < today),
                (ManifestItem.pickup_until, ManifestItem.id))
    if kind == "silent":
        cutoff = now - dt.timedelta(days=silent_days)
        return (and_(open_items, Manifest.status == ManifestStatus.HANDED_OVER, since < cutoff),
                (since, ManifestItem.id))
    if kind == "failing":
        return and_(open_items, ManifestItem.attempts >= max_attempts), (ManifestItem.attempts.desc(), ManifestItem.id)
    if kind == "far":
        return (and_(Manifest.office_id == office.id, ManifestItem.flagged.is_not(None)),
                (ManifestItem.delivered_at.desc(), ManifestItem.id.desc()))
    raise ValueError(f"unknown problem list {kind!r}")


def _item_problem_query(condition: Any, order: tuple[Any, ...]) -> Any:
    since = func.coalesce(ManifestItem.last_event_at, Manifest.handed_over_at)
    return (select(ManifestItem.tracking_number, Card.nama, Card.kelurahan_code, Card.kelurahan_raw, Manifest.number,
                   ManifestItem.tracking_status, ManifestItem.attempts, ManifestItem.last_event_at,
                   since.label("since"), ManifestItem.delivered_at, ManifestItem.delivered_far_km,
                   ManifestItem.flagged, ManifestItem.pickup_post_office, ManifestItem.pickup_name,
                   ManifestItem.pickup_until)
            .join(Manifest, Manifest.id == ManifestItem.manifest_id).join(Card, Card.id == ManifestItem.card_id)
            .where(condition).order_by(*order))


def _problem_items(rows: Any, office: Office) -> list[ProblemItem]:
    kelurahan = _kelurahan_namer(office)
    return [ProblemItem(
        r.tracking_number, r.nama, kelurahan(r.kelurahan_code, r.kelurahan_raw), r.number, r.tracking_status,
        status_label(r.tracking_status), r.attempts, r.last_event_at, r.since, r.delivered_at,
        r.delivered_far_km, r.flagged, r.pickup_post_office, r.pickup_name, r.pickup_until) for r in rows]


def problems(session: Session, office: Office, *, now: dt.datetime, silent_days: int, max_attempts: int,
             limit: int = PROBLEM_LIMIT) -> Problems:
    """Items that need a look: silent for `silent_days`, `max_attempts` failed attempts and still open,
    delivered but flagged, waiting at a post office past their day, and events we could not apply or hold; each
    list's count and its first `limit` rows."""

    def listing(kind: str) -> ProblemList[ProblemItem]:
        condition, order = _item_problem(office, kind, now=now, silent_days=silent_days, max_attempts=max_attempts)
        base = (select(ManifestItem.id).join(Manifest, Manifest.id == ManifestItem.manifest_id).where(condition))
        count = session.scalar(select(func.count()).select_from(base.subquery()))
        rows = session.execute(_item_problem_query(condition, order).limit(limit)).all()
        return ProblemList(count or 0, _problem_items(rows, office))

    return Problems(
        silent_days=silent_days,
        max_attempts=max_attempts,
        silent=listing("silent"),
        failing=listing("failing"),
        far=listing("far"),
        rejected=_rejected(session, office, limit),
        held=_held(session, office, limit),
        pickup_overdue=listing("pickup_overdue"),
    )


def problem_page(session: Session, office: Office, kind: str, number: int, *, now: dt.datetime, silent_days: int,
                 max_attempts: int) -> Page:
    """One page of one problem list (`PROBLEM_KINDS`), with the list's total: every row, not only the first."""
    if kind == "rejected":
        page = paginate(session, _rejected_query(office), number)
        return dataclasses.replace(page, rows=_rejected_views(page.rows))
    if kind == "held":
        page = paginate(session, _held_query(office), number)
        return dataclasses.replace(page, rows=_held_views(page.rows))
    condition, order = _item_problem(office, kind, now=now, silent_days=silent_days, max_attempts=max_attempts)
    page = paginate(session, _item_problem_query(condition, order), number)
    return dataclasses.replace(page, rows=_problem_items(page.rows, office))


def _rejected_query(office: Office) -> Any:
    """Rejected events about the office's items (bad codes) and about numbers nobody knows (unknown numbers:
    they belong to no office, so every office sees them), the newest first."""
    item = aliased(ManifestItem)
    manifest = aliased(Manifest)
    condition = or_(manifest.office_id == office.id, item.id.is_(None))
    return (select(RejectedEvent.id, RejectedEvent.received_at, RejectedEvent.tracking_number,
                   RejectedEvent.event_id, RejectedEvent.message, item.id.label("item_id"))
            .outerjoin(item, item.tracking_number == RejectedEvent.tracking_number)
            .outerjoin(manifest, manifest.id == item.manifest_id)
            .where(condition)
            .order_by(RejectedEvent.received_at.desc(), RejectedEvent.id.desc()))


def _rejected_views(rows: Any) -> list[RejectedView]:
    return [RejectedView(r.received_at, r.tracking_number, r.event_id, r.message, r.item_id is not None)
            for r in rows]


def _rejected(session: Session, office: Office, limit: int) -> ProblemList[RejectedView]:
    query = _rejected_query(office)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return ProblemList(count or 0, _rejected_views(session.execute(query.limit(limit)).all()))


def _held_query(office: Office) -> Any:
    """Events held for items of the office's manifests the courier has not taken yet (finalized, or handover
    failed), the newest first. Reached from those few manifests, so no scan of all events."""
    return (select(TrackingEvent.id, TrackingEvent.received_at, TrackingEvent.occurred_at,
                   TrackingEvent.tracking_number, TrackingEvent.event_id, TrackingEvent.status, Manifest.number,
                   Manifest.status.label("manifest_status"))
            .select_from(Manifest)
            .join(ManifestItem, ManifestItem.manifest_id == Manifest.id)
            .join(TrackingEvent, TrackingEvent.item_id == ManifestItem.id)
            .where(Manifest.office_id == office.id,
                   Manifest.status.in_([ManifestStatus.FINALIZED, ManifestStatus.HANDOVER_FAILED]),
                   TrackingEvent.result == "held")
            .order_by(TrackingEvent.received_at.desc(), TrackingEvent.id.desc()))


def _held_views(rows: Any) -> list[HeldView]:
    return [HeldView(r.received_at, r.occurred_at, r.tracking_number, r.event_id, r.status, status_label(r.status),
                     r.number, MANIFEST_STATUS_LABELS.get(r.manifest_status, str(r.manifest_status))) for r in rows]


def _held(session: Session, office: Office, limit: int) -> ProblemList[HeldView]:
    query = _held_query(office)
    count = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return ProblemList(count or 0, _held_views(session.execute(query.limit(limit)).all()))


# --- annotations --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Annotation:
    """A courier's annotation of a delivered item (contract section 6.2), as stored: OLD_CARD_RECEIVED (an old card
    collected on delivery reached the office; `received_by`) or COD_REMITTED (the item's fee was in settlement
    `settlement_id`). `id` orders them as stored."""

    id: int
    event_id: str
    status: str
    tracking_number: str
    item_id: int
    card_id: int
    occurred_at: dt.datetime
    received_at: dt.datetime
    received_by: str | None
    settlement_id: str | None


# The condition of the partial index ix_tracking_event_annotation, word for word, so that SQLite uses it too.
_ANNOTATION_ROWS = text("tracking_event.status IN ('OLD_CARD_RECEIVED', 'COD_REMITTED')")


def annotations(session: Session, office: Office, status: str, *, after_id: int = 0) -> list[Annotation]:
    """The office's annotations of one kind (`Status.OLD_CARD_RECEIVED` or `Status.COD_REMITTED`) in the order they
    were stored; with `after_id`, only those stored after that one (to catch up incrementally). Only applied ones:
    an annotation for an item that was not delivered was rejected, a repeated one is stored once."""
    if status not in ANNOTATIONS:
        raise ValueError(f"{status!r} is not an annotation ({', '.join(sorted(ANNOTATIONS))})")
    rows = session.execute(
        select(TrackingEvent.id, TrackingEvent.event_id, TrackingEvent.status, TrackingEvent.tracking_number,
               TrackingEvent.item_id, ManifestItem.card_id, TrackingEvent.occurred_at, TrackingEvent.received_at,
               TrackingEvent.received_by, TrackingEvent.settlement_id)
        .join(ManifestItem, ManifestItem.id == TrackingEvent.item_id)
        .join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(_ANNOTATION_ROWS, TrackingEvent.status == status, TrackingEvent.id > after_id,
               TrackingEvent.result == "applied", Manifest.office_id == office.id)
        .order_by(TrackingEvent.id)).all()
    return [Annotation(*r) for r in rows]


# --- the citizen's status ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PublicStatus:
    """What a citizen may learn about their own card: a coarse status, a sentence, a date. Nothing else, except for
    a card waiting at a post office: which post office (a public place) and until when."""

    status: str
    message: str
    date: dt.date | None
    pickup: PickupView | None = None
    card_id: int | None = None  # for the page's own forms only; the JSON answer never carries it


NOT_FOUND = PublicStatus(
    "NOT_FOUND",
    "Data tidak ditemukan. Periksa kembali NIK dan Nomor KK (atau nomor resi) Anda. Bila sudah benar, kartu Anda "
    "mungkin belum dicetak; silakan hubungi kelurahan atau kantor Disdukcapil.",
    None,
)



# Which date a message speaks of: the print date, the handover, the courier's event, or the last change.
_PRINTED, _HANDED, _DELIVERED, _RETURNING, _RETURNED, _CHANGED, _AT_POST_OFFICE = range(7)

# Every card state, in the words a citizen uses. `{date}` is filled with the date the sentence speaks of.
PUBLIC_MESSAGES: dict[CardState, tuple[str, str, int]] = {
    CardState.ADDRESS_UNCLEAR: (
        "PREPARING", "Kartu e-KTP Anda sudah dicetak pada {date} dan sedang disiapkan. Alamat pengiriman sedang "
        "diperiksa petugas; bila alamat Anda berubah, silakan hubungi kelurahan.", _PRINTED),
    CardState.READY: (
        "PREPARING", "Kartu e-KTP Anda sudah dicetak pada {date} dan sedang disiapkan untuk dikirim lewat PT Pos.",
        _PRINTED),
    CardState.ON_MANIFEST: (
        "PREPARING", "Kartu e-KTP Anda sudah dicetak pada {date} dan sedang disiapkan untuk diserahkan ke PT Pos.",
        _PRINTED),
    CardState.DUPLICATE: (
        "PREPARING", "Kartu e-KTP Anda sudah dicetak pada {date} dan sedang disiapkan.", _PRINTED),
    CardState.DAMAGED: (
        "REPRINTING", "Kartu e-KTP Anda perlu dicetak ulang (sejak {date}); kartu pengganti sedang disiapkan.",
        _CHANGED),
    CardState.WITHDRAWN: (
        "VIA_KELURAHAN", "Kartu e-KTP Anda tidak dikirim lewat pos dan akan diserahkan melalui kelurahan "
        "(sejak {date}); silakan hubungi kelurahan.", _CHANGED),
    CardState.WITH_COURIER: (
        "IN_DELIVERY", "Kartu e-KTP Anda sedang dalam pengantaran oleh PT Pos sejak {date}.", _HANDED),
    CardState.IN_TRANSIT: (
        "IN_DELIVERY", "Kartu e-KTP Anda sedang dalam pengantaran oleh PT Pos sejak {date}.", _HANDED),
    CardState.DELIVERED: (
        "DELIVERED", "Kartu e-KTP Anda sudah diterima pada {date}.", _DELIVERED),
    CardState.RETURNING: (
        "RETURNING", "Kartu e-KTP Anda tidak dapat diantar dan sedang dikembalikan oleh PT Pos ke kantor "
        "Disdukcapil sejak {date}; silakan hubungi kelurahan.", _RETURNING),
    CardState.RETURNED: (
        "RETURNED", "Kartu e-KTP Anda kembali ke kantor Disdukcapil pada {date}; silakan hubungi kelurahan.",
        _RETURNED),
    CardState.BATCHED: (
        "VIA_KELURAHAN", "Kartu e-KTP Anda sedang disiapkan untuk diserahkan melalui kelurahan (sejak {date}).",
        _CHANGED),
    CardState.SENT_TO_KELURAHAN: (
        "VIA_KELURAHAN", "Kartu e-KTP Anda sedang dikirim ke kantor kelurahan (sejak {date}).", _CHANGED),
    CardState.AT_KELURAHAN: (
        "AT_KELURAHAN", "Kartu e-KTP Anda sudah ada di kantor kelurahan sejak {date}. Silakan ambil dengan membawa "
        "KK atau surat keterangan.", _CHANGED),
    CardState.MISSING: (
        "CONTACT_OFFICE", "Kartu e-KTP Anda sedang ditelusuri (sejak {date}); silakan hubungi kantor Disdukcapil.",
        _CHANGED),
    CardState.HANDED_TO_HOLDER: (
        "DELIVERED", "Kartu e-KTP Anda sudah diserahkan di kelurahan pada {date}.", _CHANGED),
    CardState.HOLDER_DECEASED: (
        "CONTACT_OFFICE", "Untuk kartu ini silakan hubungi kantor Disdukcapil (diperbarui pada {date}).", _CHANGED),
    CardState.READDRESSED: (
        "RESENDING", "Kartu e-KTP Anda akan dikirim ulang ke alamat baru (dicatat pada {date}).", _CHANGED),
    CardState.NOT_COLLECTED: (
        "CONTACT_OFFICE", "Kartu e-KTP Anda tidak diambil di kelurahan dan kini disimpan di kantor Disdukcapil "
        "(sejak {date}); silakan ambil di sana.", _CHANGED),
    # Where and until when are added from the courier's pickup details (`_pickup_sentence`).
    CardState.AT_POST_OFFICE: (
        "AT_POST_OFFICE", "Kartu e-KTP Anda tidak dapat diantar ke rumah dan sejak {date} menunggu diambil di kantor "
        "pos.", _AT_POST_OFFICE),
    CardState.FOR_COLLECTION: (
        "VIA_KELURAHAN", "Alamat Anda tidak dapat diantar oleh PT Pos, sehingga kartu e-KTP Anda akan diserahkan "
        "melalui kelurahan (sejak {date}); silakan hubungi kelurahan.", _CHANGED),
}
# States added later (kelurahan handling of returned cards) fall back to this until they get their own words.
GENERIC_MESSAGE = ("PROCESSING", "Kartu e-KTP Anda sedang diproses (diperbarui pada {date}). Untuk keterangan "
                   "lebih lanjut silakan hubungi kelurahan atau kantor Disdukcapil.", _CHANGED)


@dataclass(frozen=True, slots=True)
class CardFacts:
    """The few facts about one card the citizen's message may draw on."""

    state: str
    tanggal_cetak: dt.date
    state_changed_at: dt.datetime
    handed_over_at: dt.datetime | None = None
    tracking_status: str | None = None
    status_at: dt.datetime | None = None
    delivered_at: dt.datetime | None = None
    pickup: PickupView | None = None
    cod_amount: int | None = None


def _pickup_sentence(pickup: PickupView, cod_amount: int | None) -> str:
    """Where the citizen collects the card and until when: the post office's name, address and code (all public),
    and what to bring."""
    place = pickup.name or "kantor pos"
    details = "; ".join(x for x in (pickup.address, pickup.post_office and f"kode kantor pos {pickup.post_office}")
                        if x)
    text = f" Silakan ambil di {place}" + (f" ({details})" if details else "")
    text += f" paling lambat {tanggal(pickup.until)}." if pickup.until else "."
    text += " Bawa Kartu Keluarga (KK) dan KTP lama Anda bila ada."
    if cod_amount:
        text += f" Siapkan biaya antar Rp {cod_amount:,}.".replace(",", ".")
    return text


def public_message(facts: CardFacts) -> PublicStatus:
    try:
        code, text, source = PUBLIC_MESSAGES[CardState(facts.state)]
    except (ValueError, KeyError):
        code, text, source = GENERIC_MESSAGE
    changed = as_local(facts.state_changed_at).date()
    if source == _PRINTED:
        day = facts.tanggal_cetak
    elif source == _HANDED:
        day = as_local(facts.handed_over_at).date() if facts.handed_over_at else changed
    elif source == _DELIVERED:
        day = as_local(facts.delivered_at).date() if facts.delivered_at else changed
    elif source == _RETURNING and facts.tracking_status == Status.RETURNED and facts.status_at:
        day = as_local(facts.status_at).date()
    elif source == _RETURNED and facts.tracking_status == Status.RETURN_RECEIVED and facts.status_at:
        day = as_local(facts.status_at).date()
    elif source == _AT_POST_OFFICE and facts.tracking_status == Status.AVAILABLE_FOR_PICKUP and facts.status_at:
        day = as_local(facts.status_at).date()
    else:
        day = changed
    message = text.format(date=tanggal(day))
    if source == _AT_POST_OFFICE and facts.pickup is not None:
        return PublicStatus(code, message + _pickup_sentence(facts.pickup, facts.cod_amount), day, facts.pickup)
    return PublicStatus(code, message, day)


# Stands in for an absent second factor: no keyed hash (64 hex digits) and no S10 number is ever "-".
_NO_FACTOR = "-"
# Hashed when the citizen gave a tracking number instead, so that every lookup computes one HMAC.
_PLACEHOLDER_KK = "0" * 16


def _public_status_query() -> Any:
    """The one statement of every lookup, built once: the NIK's cards (with their active item), if one of them
    is proven by the second factor (`:kk`, a keyed hash, or `:resi`, a tracking number of a card without no_kk)."""
    proof = aliased(Card)
    offices = bindparam("offices", expanding=True)
    sent_as = (select(ManifestItem.id)
               .where(ManifestItem.card_id == proof.id, ManifestItem.tracking_number == bindparam("resi")).exists())
    proven = (select(proof.id)
              .where(proof.office_id.in_(offices), proof.nik == bindparam("nik"),
                     or_(proof.no_kk_hash == bindparam("kk"), and_(proof.no_kk_hash.is_(None), sent_as)))
              .exists())
    return (select(Card.id, Card.state, Card.tanggal_cetak, Card.state_changed_at, Manifest.handed_over_at,
                   ManifestItem.tracking_status, ManifestItem.status_at, ManifestItem.delivered_at,
                   ManifestItem.pickup_post_office, ManifestItem.pickup_name, ManifestItem.pickup_address,
                   ManifestItem.pickup_until, ManifestItem.cod_amount)
            .select_from(Card)
            .outerjoin(ManifestItem, and_(ManifestItem.card_id == Card.id, ManifestItem.active))
            .outerjoin(Manifest, Manifest.id == ManifestItem.manifest_id)
            # office_id first: the (office_id, nik) index answers both the cards and the proof.
            .where(Card.office_id.in_(offices), Card.nik == bindparam("nik"), proven))


_PUBLIC_STATUS = _public_status_query()


def public_status(session: Session, nik: str, *, no_kk: str | None = None, tracking_number: str | None = None,
                  key: str | None = None) -> PublicStatus:
    """The status of the newest card printed for this NIK, in any office, if the second factor fits.

    The birth date is part of the NIK, so it proves nothing; the second factor is one of:
    - `no_kk`, the family card number (16 digits): it must match the keyed hash of one of the NIK's cards
      (`app.pseudonym.kk_hash`, key `ANTAR_KK_KEY` unless `key` is given);
    - `tracking_number`, the S10 number of any item (also an earlier one) of one of the NIK's cards that has no
      no_kk: the weaker factor (it is printed on the envelope) only where there is no stronger one.
    The answer then speaks of the person's newest print, as staff see it.

    Every miss looks the same from outside, in the answer and in the work done: unknown NIK, wrong no_kk, wrong
    tracking number, a card without no_kk asked by no_kk (its hash is NULL) or one with no_kk asked by tracking
    number. Each lookup computes one HMAC and runs the same two statements with the same parameters (a missing
    factor is bound as "-", which matches nothing); the factor is checked inside the SQL, so every miss gets zero
    rows back and the Python side does exactly the same work. The compared hash is an HMAC under a key the
    citizen does not have, so no byte-by-byte comparison timing can be steered from outside (which is what
    `hmac.compare_digest` guards against); what is left is the database's index probe finding a NIK's one or two
    rows or none, microseconds behind a rate limit of a few lookups per minute (tests/delivery checks both the
    identical statements and the timing).
    """
    hashed = kk_hash(no_kk or _PLACEHOLDER_KK, key)
    offices = list(session.scalars(select(Office.id)))
    rows = session.execute(_PUBLIC_STATUS, {
        "offices": offices, "nik": nik, "kk": (hashed or _NO_FACTOR) if no_kk else _NO_FACTOR,
        "resi": tracking_number or _NO_FACTOR}).all()
    if not rows:
        return NOT_FOUND
    # The newest print stands for the person; a duplicate print only when there is nothing else.
    newest = max(rows, key=lambda r: (r.state != CardState.DUPLICATE, r.tanggal_cetak, r.id))
    pickup = _pickup(newest.pickup_post_office, newest.pickup_name, newest.pickup_address, newest.pickup_until)
    answer = public_message(CardFacts(str(newest.state), newest.tanggal_cetak, newest.state_changed_at,
                                      newest.handed_over_at, newest.tracking_status, newest.status_at,
                                      newest.delivered_at, pickup, newest.cod_amount))
    # the card's id for the page's opt-out form (notify/); never in the JSON answer
    return dataclasses.replace(answer, card_id=newest.id)
