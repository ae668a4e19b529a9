"""Returned and withdrawn cards to their kelurahan: batches, receipt, dispositions, corrections, re-sending.

Cards that came back from the courier (RETURNED, with the courier's reason), cards of withdrawn areas
(WITHDRAWN) and cards whose address the postman cannot find (FOR_COLLECTION) are gathered per kelurahan into a
handover batch, listed on paper (returns/documents.py) and dispatched. The kelurahan's officer counts the batch in
(a missing card is reported, never dropped) and records for each card one disposition. Every function takes a
`Scope`: staff see their office, an officer one kelurahan of it; anything outside the scope is "not found".
Functions never commit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from address.normalize import AddressInput
from address.service import AddressPipeline, card_address_values
from app.cards import Actor, Card, CardState, TransitionError, cards_by_blanko, move, move_many
from app.courier.tracking import REASON_LABELS
from app.dates import as_local
from app.db import utcnow
from app.lifecycle import Lifecycle, next_document_numbers
from app.models import Office
from app.offices import lock_office
from app.regions import office_regions
from manifests.service import release_items
from returns.models import (
    BATCH_STATUS_LABELS,
    BATCH_TRANSITIONS,
    DISPOSITION_LABELS,
    OPEN_BATCH,
    WITHDRAWN_REASON,
    BatchStatus,
    Disposition,
    HandoverBatch,
    HandoverBatchEvent,
    HandoverItem,
)

# A card whose address the postman cannot find, sent by a clerk to its kelurahan for collection (address/service.py):
# in a batch like a withdrawn area's cards, under its own reason.
COLLECTION_REASON = "FOR_COLLECTION"
REASON_TEXT: dict[str, str] = {**REASON_LABELS, WITHDRAWN_REASON: "wilayah ditarik (tidak dikirim kurir)",
                               COLLECTION_REASON: "alamat tidak dapat diantar: diambil di kelurahan"}
DISPOSITION_STATE: dict[Disposition, CardState] = {
    Disposition.HOLDER: CardState.HANDED_TO_HOLDER, Disposition.FAMILY: CardState.HANDED_TO_HOLDER,
    Disposition.DECEASED: CardState.HOLDER_DECEASED, Disposition.MOVED: CardState.READDRESSED,
    Disposition.NOT_COLLECTED: CardState.NOT_COLLECTED,
}
BATCHABLE = (CardState.RETURNED, CardState.WITHDRAWN, CardState.FOR_COLLECTION)
# The reason a waiting card is batched under, by its state (RETURNED: the courier's reason).
_STATE_REASON = {CardState.WITHDRAWN: WITHDRAWN_REASON, CardState.FOR_COLLECTION: COLLECTION_REASON}
ADDRESS_COLUMNS = ("address_status", "address_flags", "kelurahan_code", "address_candidate", "street", "rt", "rw",
                   "kode_pos", "lat", "lng", "geo_precision")


class ReturnsError(ValueError):
    """A returns operation that cannot be carried out; the message (Bahasa Indonesia) says what and why."""


class NotFound(ReturnsError):
    """Outside the caller's scope, or does not exist: the same answer either way."""


@dataclass(frozen=True, slots=True)
class Scope:
    office: Office
    kelurahan_code: str | None = None  # an officer's kelurahan; None for staff

    @property
    def is_officer(self) -> bool:
        return self.kelurahan_code is not None


def reason_text(code: str | None) -> str:
    return REASON_TEXT.get(code or "", code or "-")


def _batch_reason(state: CardState, return_reason: str | None) -> str:
    return _STATE_REASON.get(state) or return_reason or "OTHER"


def _state_before_batch(reason: str) -> CardState:
    """Where a card taken out of a batch (or whose batch is cancelled) waits again: where it came from."""
    return {WITHDRAWN_REASON: CardState.WITHDRAWN, COLLECTION_REASON: CardState.FOR_COLLECTION}.get(
        reason, CardState.RETURNED)


# --- batches at the office ---------------------------------------------------------------------------------


def candidates(session: Session, office: Office) -> dict[str, dict[str, int]]:
    """Cards waiting at the office to go to their kelurahan, per kelurahan and reason (not yet in a batch)."""
    rows = session.execute(
        select(Card.kelurahan_code, Card.state, Card.return_reason, func.count())
        .where(Card.office_id == office.id, Card.state.in_(BATCHABLE), Card.kelurahan_code.is_not(None))
        .group_by(Card.kelurahan_code, Card.state, Card.return_reason)).all()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for kel, state, reason, n in rows:
        key = _batch_reason(state, reason)
        out[kel][key] = out[kel].get(key, 0) + n
    return dict(out)


# The batch's lifecycle (BATCH_TRANSITIONS): every status change and every event goes through it.
LIFECYCLE: Lifecycle[BatchStatus] = Lifecycle(
    noun="Berkas", transitions=BATCH_TRANSITIONS, labels=BATCH_STATUS_LABELS, event_model=HandoverBatchEvent,
    owner_key="batch_id", error=ReturnsError)


def build_batches(session: Session, office: Office, actor: Actor,
                  kelurahan_codes: Iterable[str] | None = None) -> list[HandoverBatch]:
    """Gather every waiting card of the given kelurahan (all when None) into that kelurahan's draft batch."""
    lock_office(session, office, "returns")
    regions = office_regions(office.code)
    wanted = None if kelurahan_codes is None else {c.strip() for c in kelurahan_codes if c and c.strip()}
    if wanted is not None:
        unknown = [c for c in wanted if c not in regions.kelurahan]
        if unknown:
            raise ReturnsError(f"Kelurahan tidak dikenal di {office.name}: {', '.join(sorted(unknown))}")
    query = select(Card.id, Card.kelurahan_code, Card.state, Card.return_reason).where(
        Card.office_id == office.id, Card.state.in_(BATCHABLE), Card.kelurahan_code.is_not(None))
    if wanted is not None:
        query = query.where(Card.kelurahan_code.in_(wanted))
    per_kel: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for cid, kel, state, reason in session.execute(query.order_by(Card.kelurahan_code, Card.nama, Card.id)):
        per_kel[kel].append((cid, _batch_reason(state, reason)))
    if not per_kel:
        raise ReturnsError("Tidak ada kartu kembali atau ditarik yang menunggu dikirim ke kelurahan.")
    batches = []
    now = utcnow()
    for kel_code in sorted(per_kel):
        cards = per_kel[kel_code]
        batch = session.scalar(select(HandoverBatch).where(
            HandoverBatch.office_id == office.id, HandoverBatch.kelurahan_code == kel_code,
            HandoverBatch.status == BatchStatus.DRAFT))
        if batch is None:
            number = next_document_numbers(session, HandoverBatch.number, "SRT", office.code, at=now)[0]
            batch = HandoverBatch(office_id=office.id, kelurahan_code=kel_code, status=BatchStatus.DRAFT,
                                  number=number, created_at=now, created_by=actor.label)
            session.add(batch)
            session.flush()
            LIFECYCLE.start(session, batch, BatchStatus.DRAFT, actor,
                            f"Disiapkan untuk {regions.kelurahan[kel_code].label}")
        session.add_all(HandoverItem(batch_id=batch.id, card_id=cid, reason=reason, active=True)
                        for cid, reason in cards)
        session.flush()
        for state in BATCHABLE:
            ids = [cid for cid, reason in cards if _state_before_batch(reason) is state]
            move_many(session, ids, CardState.BATCHED, actor, f"Masuk berkas serah terima {batch.number}",
                      expect=[state])
        batch.item_count += len(cards)
        LIFECYCLE.note(session, batch, actor, f"{len(cards)} kartu dimasukkan")
        batches.append(batch)
    return batches


def get_batch(session: Session, scope: Scope, batch_id: int, *, lock: bool = False) -> HandoverBatch:
    batch = session.get(HandoverBatch, batch_id, with_for_update=lock or None)
    if (batch is None or batch.office_id != scope.office.id
            or (scope.is_officer and batch.kelurahan_code != scope.kelurahan_code)
            or (scope.is_officer and batch.status in (BatchStatus.DRAFT, BatchStatus.CANCELLED))):
        raise NotFound(f"Berkas #{batch_id} tidak ditemukan.")
    return batch


def list_batches(session: Session, scope: Scope, *, status: BatchStatus | None = None,
                 kelurahan_code: str | None = None, limit: int = 500) -> list[HandoverBatch]:
    query = select(HandoverBatch).where(HandoverBatch.office_id == scope.office.id)
    if scope.is_officer:
        query = query.where(HandoverBatch.kelurahan_code == scope.kelurahan_code,
                            HandoverBatch.status.not_in([BatchStatus.DRAFT, BatchStatus.CANCELLED]))
    elif kelurahan_code:
        query = query.where(HandoverBatch.kelurahan_code == kelurahan_code)
    if status is not None:
        query = query.where(HandoverBatch.status == status)
    return list(session.scalars(query.order_by(HandoverBatch.id.desc()).limit(limit)))


def batch_items(session: Session, batch: HandoverBatch) -> list[tuple[HandoverItem, Card]]:
    return list(session.execute(
        select(HandoverItem, Card).join(Card, Card.id == HandoverItem.card_id)
        .where(HandoverItem.batch_id == batch.id).order_by(Card.rw, Card.rt, Card.nama, Card.id)).all())


def remove_cards(session: Session, scope: Scope, batch_id: int, blankos: Iterable[str], actor: Actor) -> int:
    """Take cards out of a batch still at the office; they wait again."""
    batch = get_batch(session, scope, batch_id, lock=True)
    if batch.status is not BatchStatus.DRAFT:
        raise ReturnsError(f"Berkas {batch.number} sudah dikirim; kartu tidak dapat dikeluarkan.")
    wanted = {b.strip() for b in blankos if b and b.strip()}
    rows = [(it, c) for it, c in batch_items(session, batch) if it.active and c.nomor_blanko in wanted]
    missing = wanted - {c.nomor_blanko for _, c in rows}
    if not wanted or missing:
        raise ReturnsError(f"Kartu tidak ada di berkas {batch.number}: {', '.join(sorted(missing)) or '-'}")
    for it, card in rows:
        back = _state_before_batch(it.reason)
        move(session, card, back, actor, f"Dikeluarkan dari berkas {batch.number}")
        session.delete(it)
    batch.item_count -= len(rows)
    LIFECYCLE.note(session, batch, actor, f"{len(rows)} kartu dikeluarkan: {', '.join(sorted(wanted))}")
    return len(rows)


def cancel_batch(session: Session, scope: Scope, batch_id: int, actor: Actor, reason: str) -> HandoverBatch:
    if not reason.strip():
        raise ReturnsError("Alasan pembatalan wajib diisi.")
    batch = get_batch(session, scope, batch_id, lock=True)
    if batch.status is not BatchStatus.DRAFT:
        raise ReturnsError(f"Berkas {batch.number} sudah dikirim; tidak dapat dibatalkan.")
    for it, card in batch_items(session, batch):
        back = _state_before_batch(it.reason)
        move(session, card, back, actor, f"Berkas {batch.number} dibatalkan: {reason.strip()}")
        it.active = False
    LIFECYCLE.set_status(session, batch, BatchStatus.CANCELLED, actor, f"Dibatalkan: {reason.strip()}")
    return batch


def dispatch(session: Session, scope: Scope, batch_id: int, actor: Actor) -> HandoverBatch:
    """Send a batch to its kelurahan: its cards are on their way."""
    batch = get_batch(session, scope, batch_id, lock=True)
    if batch.status is not BatchStatus.DRAFT:
        raise ReturnsError(f"Berkas {batch.number} berstatus '{batch.status_label}', bukan 'Disiapkan'.")
    ids = [it.card_id for it, _ in batch_items(session, batch)]
    if not ids:
        raise ReturnsError(f"Berkas {batch.number} kosong.")
    move_many(session, ids, CardState.SENT_TO_KELURAHAN, actor, f"Dikirim ke kelurahan dalam berkas {batch.number}",
              expect=[CardState.BATCHED])
    batch.dispatched_at = utcnow()
    LIFECYCLE.set_status(session, batch, BatchStatus.DISPATCHED, actor, f"Dikirim: {len(ids)} kartu")
    return batch


# --- at the kelurahan --------------------------------------------------------------------------------------


def confirm_receipt(session: Session, scope: Scope, batch_id: int, counted: int, missing_blankos: Iterable[str],
                    actor: Actor) -> HandoverBatch:
    """The officer counts the batch in. The count must match the list less the cards reported missing."""
    batch = get_batch(session, scope, batch_id, lock=True)
    if batch.status is not BatchStatus.DISPATCHED:
        raise ReturnsError(f"Berkas {batch.number} berstatus '{batch.status_label}'; penerimaan sudah dicatat "
                           "atau berkas belum dikirim.")
    rows = batch_items(session, batch)
    missing = {b.strip() for b in missing_blankos if b and b.strip()}
    unknown = missing - {c.nomor_blanko for _, c in rows}
    if unknown:
        raise ReturnsError(f"Kartu yang dilaporkan hilang tidak ada di berkas: {', '.join(sorted(unknown))}")
    expected = len(rows) - len(missing)
    if counted != expected:
        raise ReturnsError(
            f"Jumlah yang dihitung ({counted}) tidak sama dengan daftar ({len(rows)} kartu, {len(missing)} dilaporkan "
            f"hilang, jadi {expected}). Hitung ulang, atau tandai kartu yang tidak ada sebagai hilang.")
    received = [c.id for _, c in rows if c.nomor_blanko not in missing]
    lost = [(it, c) for it, c in rows if c.nomor_blanko in missing]
    move_many(session, received, CardState.AT_KELURAHAN, actor, f"Diterima kelurahan (berkas {batch.number})",
              expect=[CardState.SENT_TO_KELURAHAN])
    for it, card in lost:
        it.missing = True
        move(session, card, CardState.MISSING, actor,
             f"Tidak ada saat berkas {batch.number} diterima (dilaporkan hilang)")
    batch.received_at, batch.received_by, batch.received_count = utcnow(), actor.label, counted
    batch.missing_count = len(lost)
    LIFECYCLE.set_status(session, batch, BatchStatus.RECEIVED, actor,
                f"Diterima {counted} kartu" + (f"; {len(lost)} hilang: {', '.join(sorted(missing))}" if lost else ""))
    _close_if_done(session, batch, actor)
    return batch


def item_in_scope(session: Session, scope: Scope, item_id: int, *, lock: bool = False) -> tuple[HandoverItem, Card]:
    item = session.get(HandoverItem, item_id, with_for_update=lock or None)
    if item is None:
        raise NotFound(f"Kartu #{item_id} tidak ditemukan.")
    get_batch(session, scope, item.batch_id)  # raises NotFound outside the scope
    return item, session.get(Card, item.card_id)


def record_disposition(session: Session, scope: Scope, item_id: int, disposition: Disposition,
                       fields: Mapping[str, Any], actor: Actor, *, deadline_days: int,
                       pipeline: AddressPipeline | None = None, today: dt.date | None = None) -> HandoverItem:
    """What became of one card at the kelurahan. Final, except by staff correction."""
    item, card = item_in_scope(session, scope, item_id, lock=True)
    batch = item.batch
    if item.disposition is not None or card.state is not CardState.AT_KELURAHAN:
        raise ReturnsError(f"Kartu {card.nomor_blanko} sudah dicatat ({card.state_label}); perubahan hanya lewat "
                           "koreksi staf Disdukcapil.")
    today = today or as_local(utcnow()).date()
    handed_on = _date(fields.get("handed_on"), today)
    name = str(fields.get("receiver_name") or "").strip()
    relationship = str(fields.get("receiver_relationship") or "").strip()
    note = str(fields.get("note") or "").strip()
    why = DISPOSITION_LABELS[disposition]
    if disposition in (Disposition.HOLDER, Disposition.FAMILY):
        if handed_on > today:
            raise ReturnsError("Tanggal penyerahan tidak boleh di masa depan.")
        if not name:
            raise ReturnsError("Nama penerima wajib diisi.")
        if disposition is Disposition.HOLDER and not fields.get("id_checked"):
            raise ReturnsError("Penyerahan kepada pemilik: identitas (KK/KTP lama/surat keterangan) wajib diperiksa.")
        if disposition is Disposition.FAMILY and not relationship:
            raise ReturnsError("Hubungan keluarga penerima wajib diisi.")
        item.receiver_name, item.handed_on, item.id_checked = name[:200], handed_on, bool(fields.get("id_checked"))
        item.receiver_relationship = relationship[:60] if disposition is Disposition.FAMILY else "pemilik"
        why += f": {name}" + (f" ({relationship})" if disposition is Disposition.FAMILY else "") + \
            f", {handed_on:%d-%m-%Y}" + (", identitas diperiksa" if item.id_checked else "")
    elif disposition is Disposition.MOVED:
        item.previous_address = json.dumps({k: getattr(card, k) for k in ADDRESS_COLUMNS})
        why += ": " + _readdress(session, card, fields, pipeline)
        item.new_address = why[len(DISPOSITION_LABELS[disposition]) + 2:][:500]
    elif disposition is Disposition.NOT_COLLECTED:
        due = as_local(batch.received_at).date() + dt.timedelta(days=deadline_days)
        if today < due:
            raise ReturnsError(f"Batas waktu pengambilan ({deadline_days} hari) baru lewat pada {due:%d-%m-%Y}.")
        why += f" ({deadline_days} hari sejak {as_local(batch.received_at):%d-%m-%Y})"
    elif disposition is Disposition.DECEASED:
        why += "; kartu disimpan untuk dimusnahkan, data kependudukan perlu dimutakhirkan"
    if note:
        why += f". Catatan: {note}"
    item.disposition, item.disposition_at, item.disposition_by = disposition, utcnow(), actor.label
    item.note = note or None
    move(session, card, DISPOSITION_STATE[disposition], actor, why[:500])
    _close_if_done(session, batch, actor)
    return item


def _date(value: Any, default: dt.date) -> dt.date:
    if value in (None, ""):
        return default
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ReturnsError(f"Tanggal '{value}' tidak valid (format TTTT-BB-HH).") from None


def _readdress(session: Session, card: Card, fields: Mapping[str, Any], pipeline: AddressPipeline | None) -> str:
    street = str(fields.get("alamat") or "").strip()
    if not street:
        raise ReturnsError("Alamat baru wajib diisi.")
    if pipeline is None:
        raise ReturnsError("Normalisasi alamat tidak tersedia.")
    placed = pipeline.place(AddressInput(
        alamat=street, rt=fields.get("rt"), rw=fields.get("rw"), kelurahan=fields.get("kelurahan"),
        kecamatan=fields.get("kecamatan"), kabupaten_kota=fields.get("kabupaten_kota"),
        kode_pos=fields.get("kode_pos")))
    for key, value in card_address_values(placed).items():
        setattr(card, key, value)
    a = placed.address
    where = f"{a.kelurahan}, Kec. {a.kecamatan}" if a.status == "CLEAR" else "alamat belum jelas, diperiksa petugas"
    return f"{a.street or street} RT {a.rt or '-'}/RW {a.rw or '-'}, {where}"


def _close_if_done(session: Session, batch: HandoverBatch, actor: Actor) -> None:
    session.flush()
    open_items = session.scalar(select(func.count()).select_from(HandoverItem).where(
        HandoverItem.batch_id == batch.id, HandoverItem.disposition.is_(None), HandoverItem.missing.is_(False)))
    if open_items == 0 and batch.status is BatchStatus.RECEIVED:
        batch.closed_at = utcnow()
        LIFECYCLE.set_status(session, batch, BatchStatus.CLOSED, actor, "Selesai: setiap kartu sudah dicatat")


# --- staff: corrections, re-sending, lists ----------------------------------------------------------------


def correct(session: Session, scope: Scope, item_id: int, actor: Actor, reason: str) -> HandoverItem:
    """Staff undo a disposition (or a card reported missing turned up): the card waits at the kelurahan again."""
    if scope.is_officer:
        raise NotFound(f"Kartu #{item_id} tidak ditemukan.")
    if not reason.strip():
        raise ReturnsError("Alasan koreksi wajib diisi.")
    item, card = item_in_scope(session, scope, item_id, lock=True)
    if not item.active:
        raise ReturnsError(f"Catatan ini dari berkas lama {item.batch.number}; kartu {card.nomor_blanko} sudah "
                           "berada di tahap lain.")
    if card.state not in (CardState.HANDED_TO_HOLDER, CardState.HOLDER_DECEASED, CardState.READDRESSED,
                          CardState.NOT_COLLECTED, CardState.MISSING):
        raise ReturnsError(f"Kartu {card.nomor_blanko} berstatus '{card.state_label}': tidak ada yang dikoreksi.")
    if not card.nik:  # `antar purge` cleared it: reopening would leave an open card nobody can be identified by
        raise ReturnsError(f"Data pribadi kartu {card.nomor_blanko} sudah dihapus (antar purge): kartu yang sudah "
                           "ditutup dan dihapus datanya tidak dapat dibuka lagi.")
    before = DISPOSITION_LABELS[item.disposition] if item.disposition else "hilang"
    if item.previous_address:  # a move recorded by mistake: the card keeps its old address
        for key, value in json.loads(item.previous_address).items():
            setattr(card, key, value)
    move(session, card, CardState.AT_KELURAHAN, actor, f"Koreksi staf ({before} dibatalkan): {reason.strip()}")
    for attr in ("disposition", "disposition_at", "disposition_by", "handed_on", "receiver_name",
                 "receiver_relationship", "id_checked", "new_address", "previous_address", "note"):
        setattr(item, attr, None)
    if item.missing:
        item.missing = False
        item.batch.missing_count -= 1
    batch = item.batch
    if batch.status is BatchStatus.CLOSED:
        batch.closed_at = None
        LIFECYCLE.set_status(session, batch, BatchStatus.RECEIVED, actor,
                    f"Dibuka lagi untuk koreksi kartu {card.nomor_blanko}")
    else:
        LIFECYCLE.note(session, batch, actor, f"Koreksi kartu {card.nomor_blanko}: {reason.strip()}")
    return item


def receive_back(session: Session, office: Office, blankos: Iterable[str], actor: Actor) -> list[Card]:
    """Cards of moved holders are back at the office: ready for a later manifest (a new tracking number), or in
    the address review queue when the new address is unclear."""
    cards, missing = cards_by_blanko(session, office.id, blankos)
    if not cards or missing:
        raise ReturnsError(f"Nomor blanko tidak ditemukan: {', '.join(missing) or '-'}")
    out = []
    for b, card in cards.items():
        if card.state is not CardState.READDRESSED:
            raise ReturnsError(f"Kartu {b} berstatus '{card.state_label}', bukan 'pindah alamat'.")
        target = CardState.READY if card.address_status == "CLEAR" else CardState.ADDRESS_UNCLEAR
        # Release the old manifest item and batch item: the card may go out again and come back again.
        release_items(session, card.id)
        session.execute(update(HandoverItem).where(HandoverItem.card_id == card.id, HandoverItem.active)
                        .values(active=False))
        try:
            why = ("Kembali di kantor dengan alamat baru; dikirim ulang pada manifest berikut"
                   if target is CardState.READY else "Kembali di kantor; alamat baru belum jelas, diperiksa petugas")
            move(session, card, target, actor, why)
        except TransitionError as exc:
            raise ReturnsError(str(exc)) from exc
        out.append(card)
    return out


def waiting(session: Session, scope: Scope, *, older_than_days: int = 0,
            now: dt.datetime | None = None) -> list[tuple[HandoverItem, Card, HandoverBatch]]:
    """Cards waiting at the kelurahan (received, no disposition), the oldest first; the reminder list."""
    now = now or utcnow()
    query = (select(HandoverItem, Card, HandoverBatch).join(Card, Card.id == HandoverItem.card_id)
             .join(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id)
             .where(HandoverBatch.office_id == scope.office.id, Card.state == CardState.AT_KELURAHAN,
                    HandoverItem.active, HandoverBatch.received_at <= now - dt.timedelta(days=older_than_days)))
    if scope.is_officer:
        query = query.where(HandoverBatch.kelurahan_code == scope.kelurahan_code)
    return list(session.execute(query.order_by(HandoverBatch.received_at, Card.nama)).all())


def returns_report(session: Session, office: Office) -> dict[str, Any]:
    """Returns by reason, by kecamatan and kelurahan, and the handover rate per kelurahan."""
    regions = office_regions(office.code)
    rows = session.execute(
        select(HandoverBatch.kelurahan_code, HandoverItem.reason, HandoverItem.disposition, HandoverItem.missing,
               Card.state, func.count())
        .join(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id).join(Card, Card.id == HandoverItem.card_id)
        .where(HandoverBatch.office_id == office.id, HandoverBatch.status != BatchStatus.CANCELLED)
        .group_by(HandoverBatch.kelurahan_code, HandoverItem.reason, HandoverItem.disposition, HandoverItem.missing,
                  Card.state)).all()
    by_reason: dict[str, int] = defaultdict(int)
    per_kel: dict[str, dict[str, Any]] = {}
    for kel, reason, disposition, missing, state, n in rows:
        by_reason[reason] += n
        k = per_kel.setdefault(kel, {"cards": 0, "received": 0, "handed": 0, "missing": 0, "waiting": 0,
                                     "by_disposition": defaultdict(int)})
        k["cards"] += n
        if missing:
            k["missing"] += n
        if state not in (CardState.BATCHED, CardState.SENT_TO_KELURAHAN) and not missing:
            k["received"] += n
        if disposition is not None:
            k["by_disposition"][disposition.value] += n
            if disposition in (Disposition.HOLDER, Disposition.FAMILY):
                k["handed"] += n
        elif state is CardState.AT_KELURAHAN:
            k["waiting"] += n
    # Cards still at the office, not yet in a batch.
    for reasons in candidates(session, office).values():
        for reason, n in reasons.items():
            by_reason[reason] += n
    kelurahan = []
    per_kec: dict[str, dict[str, int]] = defaultdict(lambda: {"cards": 0, "received": 0, "handed": 0})
    for code in sorted(per_kel, key=lambda c: (regions.kelurahan[c].kecamatan_name, regions.kelurahan[c].name)):
        k, kel = per_kel[code], regions.kelurahan[code]
        rate = round(100 * k["handed"] / k["received"], 1) if k["received"] else None
        kelurahan.append({"kode_wilayah": code, "kelurahan": kel.name, "kecamatan": kel.kecamatan_name,
                          **{x: k[x] for x in ("cards", "received", "handed", "missing", "waiting")},
                          "by_disposition": dict(k["by_disposition"]), "handover_rate_pct": rate})
        for x in ("cards", "received", "handed"):
            per_kec[kel.kecamatan_name][x] += k[x]
    return {
        "by_reason": [{"reason": r, "label": reason_text(r), "cards": n}
                      for r, n in sorted(by_reason.items(), key=lambda kv: -kv[1])],
        "by_kecamatan": [{"kecamatan": kec, **v, "handover_rate_pct": round(100 * v["handed"] / v["received"], 1)
                          if v["received"] else None} for kec, v in sorted(per_kec.items())],
        "by_kelurahan": kelurahan,
        "disposition_labels": {d.value: DISPOSITION_LABELS[d] for d in Disposition},
        "batch_status_labels": {s.value: BATCH_STATUS_LABELS[s] for s in BatchStatus},
    }


def deceased(session: Session, office: Office) -> list[tuple[HandoverItem, Card, HandoverBatch]]:
    """Holders reported deceased: for the population register (and the cards to destroy)."""
    return list(session.execute(
        select(HandoverItem, Card, HandoverBatch).join(Card, Card.id == HandoverItem.card_id)
        .join(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id)
        .where(HandoverBatch.office_id == office.id, Card.state == CardState.HOLDER_DECEASED)
        .order_by(HandoverItem.disposition_at)).all())


def missing_cards(session: Session, office: Office) -> list[tuple[HandoverItem, Card, HandoverBatch]]:
    return list(session.execute(
        select(HandoverItem, Card, HandoverBatch).join(Card, Card.id == HandoverItem.card_id)
        .join(HandoverBatch, HandoverBatch.id == HandoverItem.batch_id)
        .where(HandoverBatch.office_id == office.id, Card.state == CardState.MISSING)).all())


def open_batches_of(session: Session, office: Office) -> Sequence[HandoverBatch]:
    return list(session.scalars(select(HandoverBatch).where(HandoverBatch.office_id == office.id,
                                                            HandoverBatch.status.in_(OPEN_BATCH))))



