"""Reading the returns state: the lists behind the staff's and the kelurahan officers' pages, CSV files and API.

Read-only: these functions take a session and an office (or a `Scope`) and return plain frozen dataclasses or
plain values (no ORM objects escape, so pages render after the unit of work has closed). They never write, flush
or commit; every change goes through `returns.service`. Where the service already defines a list (the cards
waiting per kelurahan, the cards waiting at a kelurahan, the deceased holders, an officer's batches), it is read
from there, so that each rule lives in one place.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.cards import Card, CardState
from app.dates import as_local
from app.db import utcnow
from app.models import Office, Role, User
from app.regions import OfficeRegions, office_regions
from returns import documents, service
from returns.models import Disposition, HandoverBatch, HandoverBatchEvent, HandoverItem
from returns.service import Scope

# Cards the kelurahan sent back to the office: moved holders (to be sent again) and cards not collected in time.
BACK_AT_OFFICE = (CardState.READDRESSED, CardState.NOT_COLLECTED)
LIST_LIMIT = 1000
OWN_BATCHES_LIMIT = 100_000


def jsonable(value: Any) -> Any:
    """A dataclass (or a list or dict of them) as JSON-ready values: timestamps and dates in ISO 8601."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def kelurahan_name(regions: OfficeRegions, code: str | None) -> tuple[str, str]:
    """(kelurahan, kecamatan) of a kelurahan code of the office; the code itself and "-" when unknown."""
    kel = regions.kelurahan.get(code or "")
    return (kel.name, kel.kecamatan_name) if kel else (code or "-", "-")


# --- a card in a batch, as the pages show it ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardView:
    """A card as the returns pages show it (the attribute names of `Card`); never the NIK."""

    nomor_blanko: str
    nama: str
    alamat: str
    street: str | None
    rt: str | None
    rw: str | None
    state: CardState
    state_label: str
    address_status: str | None


@dataclass(frozen=True, slots=True)
class ItemView:
    """A card's place in a batch and what became of it (the attribute names of `HandoverItem`)."""

    id: int
    batch_id: int
    reason: str
    active: bool
    missing: bool
    disposition: Disposition | None
    disposition_at: dt.datetime | None
    disposition_by: str | None
    handed_on: dt.date | None
    receiver_name: str | None
    receiver_relationship: str | None
    id_checked: bool | None
    new_address: str | None
    note: str | None


@dataclass(frozen=True, slots=True)
class BatchRef:
    """The few facts of a batch a card's row shows (the attribute names of `HandoverBatch`)."""

    id: int
    number: str
    kelurahan_code: str
    received_at: dt.datetime | None


def _card_view(card: Card) -> CardView:
    return CardView(card.nomor_blanko, card.nama, card.alamat, card.street, card.rt, card.rw, card.state,
                    card.state_label, card.address_status)


def _item_view(item: HandoverItem) -> ItemView:
    return ItemView(item.id, item.batch_id, item.reason, item.active, item.missing, item.disposition,
                    item.disposition_at, item.disposition_by, item.handed_on, item.receiver_name,
                    item.receiver_relationship, item.id_checked, item.new_address, item.note)


def _batch_ref(batch: HandoverBatch) -> BatchRef:
    return BatchRef(batch.id, batch.number, batch.kelurahan_code, batch.received_at)


# --- the office: cards waiting to go to their kelurahan ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: str
    label: str
    cards: int


@dataclass(frozen=True, slots=True)
class KelurahanCandidates:
    """The cards at the office waiting for one kelurahan's batch, by reason (the most frequent first)."""

    kode_wilayah: str
    kelurahan: str
    kecamatan: str
    cards: int
    by_reason: list[ReasonCount]


def candidates(session: Session, office: Office) -> list[KelurahanCandidates]:
    """Every kelurahan with cards waiting at the office (`service.candidates`), by kecamatan and name."""
    regions = office_regions(office.code)
    rows = []
    for code, reasons in service.candidates(session, office).items():
        kel, kec = kelurahan_name(regions, code)
        rows.append(KelurahanCandidates(
            code, kel, kec, sum(reasons.values()),
            [ReasonCount(r, documents.label(r), n) for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])]))
    return sorted(rows, key=lambda r: (r.kecamatan, r.kelurahan))


def kelurahan_with_batches(session: Session, office: Office) -> list[str]:
    """The kelurahan codes the office ever made a batch for, by kelurahan name (the batch list's filter)."""
    regions = office_regions(office.code)
    codes = set(session.scalars(select(HandoverBatch.kelurahan_code)
                                .where(HandoverBatch.office_id == office.id).distinct()))
    return sorted(codes, key=lambda c: kelurahan_name(regions, c))


@dataclass(frozen=True, slots=True)
class BatchEventView:
    """One step of a batch's history (the attribute names of `HandoverBatchEvent`)."""

    from_status: str | None
    to_status: str | None
    at: dt.datetime
    actor: str
    note: str


def batch_history(session: Session, batch_id: int) -> list[BatchEventView]:
    """Every status change and note of a batch, the oldest first. The caller has checked the batch's scope."""
    return [BatchEventView(e.from_status, e.to_status, e.at, e.actor, e.note) for e in session.scalars(
        select(HandoverBatchEvent).where(HandoverBatchEvent.batch_id == batch_id).order_by(HandoverBatchEvent.id))]


# --- the office: cards back from the kelurahan ---------------------------------------------------------------


def back_at_office_counts(session: Session, office: Office) -> dict[CardState, int]:
    """How many cards of the office are back from their kelurahan, per state (`BACK_AT_OFFICE`)."""
    return dict(session.execute(select(Card.state, func.count()).where(
        Card.office_id == office.id, Card.state.in_(BACK_AT_OFFICE)).group_by(Card.state)).all())


def back_at_office(session: Session, office: Office, *,
                   limit: int = LIST_LIMIT) -> list[tuple[CardView, ItemView | None, BatchRef | None]]:
    """Cards the kelurahan sent back, with the batch item that sent them (None when there is none active)."""
    rows = session.execute(
        select(Card, HandoverItem, HandoverBatch)
        .outerjoin(HandoverItem, and_(HandoverItem.card_id == Card.id, HandoverItem.active))
        .outerjoin(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id)
        .where(Card.office_id == office.id, Card.state.in_(BACK_AT_OFFICE))
        .order_by(Card.state, Card.state_changed_at, Card.nama).limit(limit)).all()
    return [(_card_view(card), None if item is None else _item_view(item), None if batch is None else _batch_ref(batch))
            for card, item, batch in rows]


# --- the office: holders reported deceased ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeceasedHolder:
    """A holder reported deceased, for the population register: the one list that shows the NIK."""

    item_id: int
    nik: str
    nama: str
    nomor_blanko: str
    tanggal_lahir: dt.date
    kode_wilayah: str
    kelurahan: str
    kecamatan: str
    batch_id: int
    batch_number: str
    recorded_at: dt.datetime | None
    officer: str | None
    note: str


def deceased_holders(session: Session, office: Office) -> list[DeceasedHolder]:
    """The office's deceased holders (`service.deceased`), in the order they were recorded."""
    regions = office_regions(office.code)
    rows = []
    for it, card, batch in service.deceased(session, office):
        kel, kec = kelurahan_name(regions, batch.kelurahan_code)
        rows.append(DeceasedHolder(it.id, card.nik, card.nama, card.nomor_blanko, card.tanggal_lahir,
                                   batch.kelurahan_code, kel, kec, batch.id, batch.number, it.disposition_at,
                                   it.disposition_by, it.note or ""))
    return rows


# --- the office: reminders and officer accounts ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReminderCard:
    item_id: int
    nomor_blanko: str
    nama: str
    reason: str
    reason_label: str
    batch_id: int
    batch_number: str
    received_at: dt.datetime
    days_waiting: int
    deadline: dt.datetime  # the end of the collection period


@dataclass(frozen=True, slots=True)
class ReminderGroup:
    """The cards waiting too long at one kelurahan, and who to call there."""

    kode_wilayah: str
    kelurahan: str
    kecamatan: str
    officers: list[str]  # the active officer accounts' names
    cards: int
    items: list[ReminderCard]


def _active_officer_names(session: Session, office: Office) -> dict[str, list[str]]:
    names: dict[str, list[str]] = defaultdict(list)
    for u in session.scalars(select(User).where(User.office_id == office.id, User.role == Role.OFFICER,
                                                User.active).order_by(User.username)):
        names[u.kelurahan_code].append(u.full_name or u.username)
    return names


def reminders(session: Session, office: Office, *, reminder_days: int, deadline_days: int,
              now: dt.datetime | None = None) -> list[ReminderGroup]:
    """Cards waiting at their kelurahan `reminder_days` or longer, grouped by kelurahan: the most cards first,
    each group's oldest card first."""
    now = now or utcnow()
    regions = office_regions(office.code)
    officers = _active_officer_names(session, office)
    items: dict[str, list[ReminderCard]] = {}
    for it, card, batch in service.waiting(session, Scope(office), older_than_days=reminder_days, now=now):
        items.setdefault(batch.kelurahan_code, []).append(ReminderCard(
            it.id, card.nomor_blanko, card.nama, it.reason, documents.label(it.reason), batch.id, batch.number,
            batch.received_at, (now - batch.received_at).days,
            batch.received_at + dt.timedelta(days=deadline_days)))
    groups = []
    for code, cards in items.items():
        kel, kec = kelurahan_name(regions, code)
        groups.append(ReminderGroup(code, kel, kec, officers.get(code, []), len(cards), cards))
    return sorted(groups, key=lambda g: (-g.cards, g.kecamatan, g.kelurahan))


@dataclass(frozen=True, slots=True)
class OfficerAccount:
    """A kelurahan officer's account (the attribute names of `User`)."""

    id: int
    username: str
    full_name: str
    kelurahan_code: str | None
    active: bool
    created_at: dt.datetime


def officers(session: Session, office: Office) -> list[OfficerAccount]:
    """Every officer account of the office, active or not, by kelurahan code and user name."""
    return [OfficerAccount(u.id, u.username, u.full_name, u.kelurahan_code, u.active, u.created_at)
            for u in session.scalars(select(User).where(User.office_id == office.id, User.role == Role.OFFICER)
                                     .order_by(User.kelurahan_code, User.username))]


# --- the kelurahan: an officer's cards -----------------------------------------------------------------------------


def collect_by(received_at: dt.datetime | None, deadline_days: int) -> dt.date | None:
    """From this day on a card not collected may be recorded as such (the service's rule); None before receipt."""
    if received_at is None:
        return None
    return as_local(received_at).date() + dt.timedelta(days=deadline_days)


@dataclass(frozen=True, slots=True)
class WaitingCard:
    item: ItemView
    card: CardView
    batch: BatchRef
    days: int  # days since the batch was received
    collect_by: dt.date
    remind: bool  # waiting at least the reminder period
    overdue: bool  # past the collection deadline: may be recorded "not collected"


def waiting(session: Session, scope: Scope, *, reminder_days: int, deadline_days: int, older_than_days: int = 0,
            now: dt.datetime | None = None) -> list[WaitingCard]:
    """Cards waiting at the kelurahan (`service.waiting`) for at least `older_than_days`, the oldest first."""
    now = now or utcnow()
    today = as_local(now).date()
    remind_before = now - dt.timedelta(days=reminder_days)
    out = []
    for item, card, batch in service.waiting(session, scope, older_than_days=older_than_days, now=now):
        until = collect_by(batch.received_at, deadline_days)
        out.append(WaitingCard(_item_view(item), _card_view(card), _batch_ref(batch),
                               (today - as_local(batch.received_at).date()).days, until,
                               batch.received_at <= remind_before, today >= until))
    return out


def matches(card: CardView, q: str) -> bool:
    """A citizen at the counter: find the card by (part of) the name or by the blanko number."""
    return not q or q.upper() in card.nama.upper() or q.upper() == card.nomor_blanko.upper()


def own_cards(session: Session, scope: Scope,
              state: CardState | None = None) -> list[tuple[ItemView, CardView, BatchRef]]:
    """Every card of the scope's batches (waiting and done), the newest batch first; the batches are the service's
    scoped list (an officer never sees a draft or a cancelled batch)."""
    ids = [b.id for b in service.list_batches(session, scope, limit=OWN_BATCHES_LIMIT)]
    if not ids:
        return []
    query = (select(HandoverItem, Card, HandoverBatch).join(Card, Card.id == HandoverItem.card_id)
             .join(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id).where(HandoverItem.batch_id.in_(ids)))
    if state is not None:
        query = query.where(Card.state == state)
    rows = session.execute(query.order_by(HandoverBatch.id.desc(), Card.rw, Card.rt, Card.nama, Card.id))
    return [(_item_view(item), _card_view(card), _batch_ref(batch)) for item, card, batch in rows]
