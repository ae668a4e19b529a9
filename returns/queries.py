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
from app.web import PAGE_SIZE, Page, paginate
from returns import documents, service
from returns.models import BatchStatus, Disposition, HandoverBatch, HandoverBatchEvent, HandoverItem
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


def page_of(rows: list[Any], number: int, size: int = PAGE_SIZE) -> Page:
    """One page of a list already read (a list the service defines), as `app.web.paginate` gives one of a query."""
    return Page(rows[(number - 1) * size:number * size], number, size, len(rows))


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


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A batch as the staff's list shows it (the attribute names of `HandoverBatch`)."""

    id: int
    number: str
    kelurahan_code: str
    status: BatchStatus
    status_label: str
    item_count: int
    missing_count: int
    created_at: dt.datetime
    created_by: str
    dispatched_at: dt.datetime | None
    received_at: dt.datetime | None
    received_by: str | None


def batches_page(session: Session, office: Office, number: int, *, status: BatchStatus | None = None,
                 kelurahan_code: str | None = None) -> Page:
    """One page of the office's batches (as `service.list_batches` lists them for staff), the newest first."""
    query = select(HandoverBatch).where(HandoverBatch.office_id == office.id)
    if kelurahan_code:
        query = query.where(HandoverBatch.kelurahan_code == kelurahan_code)
    if status is not None:
        query = query.where(HandoverBatch.status == status)
    page = paginate(session, query.order_by(HandoverBatch.id.desc()), number)
    return dataclasses.replace(page, rows=[BatchRow(
        b.id, b.number, b.kelurahan_code, b.status, b.status_label, b.item_count, b.missing_count, b.created_at,
        b.created_by, b.dispatched_at, b.received_at, b.received_by) for (b,) in page.rows])


def batch_cards_page(session: Session, batch_id: int, number: int) -> Page:
    """One page of a batch's cards, in the order of its printed list (`service.batch_items`): (ItemView, CardView)
    pairs. The caller has checked the batch's scope."""
    page = paginate(session, select(HandoverItem, Card).join(Card, Card.id == HandoverItem.card_id)
                    .where(HandoverItem.batch_id == batch_id).order_by(Card.rw, Card.rt, Card.nama, Card.id), number)
    return dataclasses.replace(page, rows=[(_item_view(item), _card_view(card)) for item, card in page.rows])


def batch_reason_totals(session: Session, batch_id: int) -> dict[str, int]:
    """How many of a batch's cards came back for each reason, the most frequent first."""
    rows = session.execute(select(HandoverItem.reason, func.count()).where(HandoverItem.batch_id == batch_id)
                           .group_by(HandoverItem.reason)).all()
    return dict(sorted(((r, n) for r, n in rows), key=lambda rn: (-rn[1], rn[0])))


def batch_cards(session: Session, batch: HandoverBatch) -> list[tuple[ItemView, CardView]]:
    """Every card of a batch (`service.batch_items`), as plain values."""
    return [(_item_view(item), _card_view(card)) for item, card in service.batch_items(session, batch)]


def batch_number_of_card(session: Session, scope: Scope, blanko: str) -> str | None:
    """The number of the newest batch in the scope (for an officer: the batches he sees) holding the card with this
    blanko number; None when there is none."""
    query = (select(HandoverBatch.number).join(HandoverItem, HandoverItem.batch_id == HandoverBatch.id)
             .join(Card, Card.id == HandoverItem.card_id)
             .where(HandoverBatch.office_id == scope.office.id, Card.nomor_blanko == blanko))
    if scope.is_officer:
        query = query.where(HandoverBatch.kelurahan_code == scope.kelurahan_code,
                            HandoverBatch.status.not_in([BatchStatus.DRAFT, BatchStatus.CANCELLED]))
    return session.scalar(query.order_by(HandoverBatch.id.desc()).limit(1))


# --- the office: cards back from the kelurahan ---------------------------------------------------------------


def back_at_office_counts(session: Session, office: Office) -> dict[CardState, int]:
    """How many cards of the office are back from their kelurahan, per state (`BACK_AT_OFFICE`)."""
    return dict(session.execute(select(Card.state, func.count()).where(
        Card.office_id == office.id, Card.state.in_(BACK_AT_OFFICE)).group_by(Card.state)).all())


def _back_at_office_query(office: Office, states: tuple[CardState, ...]) -> Any:
    return (select(Card, HandoverItem, HandoverBatch)
            .outerjoin(HandoverItem, and_(HandoverItem.card_id == Card.id, HandoverItem.active))
            .outerjoin(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id)
            .where(Card.office_id == office.id, Card.state.in_(states))
            .order_by(Card.state, Card.state_changed_at, Card.nama, Card.id))


def _back_row(card: Card, item: HandoverItem | None,
              batch: HandoverBatch | None) -> tuple[CardView, ItemView | None, BatchRef | None]:
    return (_card_view(card), None if item is None else _item_view(item), None if batch is None else _batch_ref(batch))


def back_at_office(session: Session, office: Office, *,
                   limit: int = LIST_LIMIT) -> list[tuple[CardView, ItemView | None, BatchRef | None]]:
    """Cards the kelurahan sent back, with the batch item that sent them (None when there is none active)."""
    rows = session.execute(_back_at_office_query(office, BACK_AT_OFFICE).limit(limit)).all()
    return [_back_row(*row) for row in rows]


def back_at_office_page(session: Session, office: Office, state: CardState, number: int) -> Page:
    """One page of the cards back from their kelurahan in one state (`BACK_AT_OFFICE`), the longest back first."""
    page = paginate(session, _back_at_office_query(office, (state,)), number)
    return dataclasses.replace(page, rows=[_back_row(*row) for row in page.rows])


@dataclass(frozen=True, slots=True)
class MissingCard:
    """A card reported missing when its batch was counted in, and the batch it was missing from."""

    item_id: int
    nomor_blanko: str
    nama: str
    batch_id: int
    batch_number: str
    kelurahan_code: str
    received_at: dt.datetime | None
    received_by: str | None


def missing_cards(session: Session, office: Office) -> list[MissingCard]:
    """The office's missing cards (`service.missing_cards`), by kelurahan, batch and name."""
    rows = [MissingCard(it.id, card.nomor_blanko, card.nama, batch.id, batch.number, batch.kelurahan_code,
                        batch.received_at, batch.received_by)
            for it, card, batch in service.missing_cards(session, office)]
    return sorted(rows, key=lambda r: (r.kelurahan_code, r.batch_id, r.nama, r.item_id))


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
