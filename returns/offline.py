"""Records a kelurahan officer made without a network, sent when it returns (the phone's queue: returns/static/).

Each record comes through the officer's JSON API with its own `Idempotency-Key` (`returns.forms`: a retry records
once) and says what the device had seen: `seen_version`, the id of the card's last history row (for a receipt, of
the batch's last event). What happened since decides:

- nothing by anyone else: the record is applied through `returns.service`, as if it had been sent at once;
- the card already has this very outcome from the same officer (a form whose answer was lost on a weak network,
  then the same record from the queue): that is the record, and nothing is recorded twice;
- staff corrected or moved the card, or another outcome was recorded meanwhile: the record is kept as it came
  (`OfflineConflict`), noted in the batch's history, and shown to the officer ("menunggu keputusan staf") and to
  staff. Staff accept it (applied through the service, after a correction when the card has another outcome) or
  reject it, each decision with who, when and why. Nothing the office has is overwritten without that decision.

A batch's receipt (SENT_TO_KELURAHAN -> AT_KELURAHAN, by whoever counted it in) is not a change that conflicts: it
is what makes a card's outcome possible. Functions never commit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from address.service import AddressPipeline
from app.cards import Actor, Card, CardHistory, CardState
from app.dates import wib_text
from app.db import utcnow
from returns import service
from returns.models import (
    DISPOSITION_LABELS,
    BatchStatus,
    ConflictKind,
    ConflictStatus,
    Disposition,
    HandoverBatch,
    HandoverBatchEvent,
    HandoverItem,
    OfflineConflict,
)
from returns.service import NotFound, ReturnsError, Scope

# The fields of a disposition record, as the API takes them (returns/officer_routes.py DISPOSITION).
RECORD_FIELDS = ("receiver_name", "receiver_relationship", "handed_on", "note", "alamat", "rt", "rw", "kelurahan",
                 "kecamatan", "kabupaten_kota", "kode_pos", "id_checked")


class NotReceivedYet(ReturnsError):
    """The card's batch is not counted in yet: the record waits (its receipt may still be in a queue)."""


# --- what the device saw -------------------------------------------------------------------------------------


def card_versions(session: Session, card_ids: Iterable[int]) -> dict[int, int]:
    """Each card's version: the id of its last history row (every change of a card writes one)."""
    ids = list(set(card_ids))
    out: dict[int, int] = {}
    for i in range(0, len(ids), 5000):
        out.update(session.execute(select(CardHistory.card_id, func.max(CardHistory.id))
                                   .where(CardHistory.card_id.in_(ids[i:i + 5000]))
                                   .group_by(CardHistory.card_id)).all())
    return out


def batch_versions(session: Session, batch_ids: Iterable[int]) -> dict[int, int]:
    """Each batch's version: the id of its last event."""
    ids = list(set(batch_ids))
    if not ids:
        return {}
    return dict(session.execute(select(HandoverBatchEvent.batch_id, func.max(HandoverBatchEvent.id))
                                .where(HandoverBatchEvent.batch_id.in_(ids))
                                .group_by(HandoverBatchEvent.batch_id)).all())


# --- records from the device ---------------------------------------------------------------------------------


def dispose(session: Session, scope: Scope, item_id: int, disposition: Disposition, fields: Mapping[str, Any],
            actor: Actor, *, seen_version: int, recorded_at: dt.datetime | None, deadline_days: int,
            pipeline: AddressPipeline | None = None) -> HandoverItem | OfflineConflict:
    """A card's outcome recorded on the device: applied, recognised as already recorded, or kept as a conflict."""
    item, card = service.item_in_scope(session, scope, item_id, lock=True)
    if _same_outcome(item, disposition, fields, actor):
        return item
    reason = _disposition_conflict(session, item, card, seen_version, actor)
    if reason:
        record = {"disposition": disposition.value, **{k: fields[k] for k in RECORD_FIELDS if k in fields}}
        return _keep(session, scope, ConflictKind.DISPOSITION, item.batch, item, card, record, actor,
                     seen_version=seen_version, recorded_at=recorded_at, reason=reason)
    if card.state is CardState.SENT_TO_KELURAHAN:
        raise NotReceivedYet(f"Berkas {item.batch.number} belum dicatat diterima: catatan kartu {card.nomor_blanko} "
                             "menunggu penerimaan berkas terkirim lebih dulu.")
    return service.record_disposition(session, scope, item_id, disposition, fields, actor,
                                      deadline_days=deadline_days, pipeline=pipeline)


def receive(session: Session, scope: Scope, batch_id: int, counted: int, missing: Iterable[str], actor: Actor, *,
            seen_version: int, recorded_at: dt.datetime | None) -> HandoverBatch | OfflineConflict:
    """A batch counted in on the device: recorded, recognised as already recorded, or kept as a conflict."""
    batch = service.get_batch(session, scope, batch_id, lock=True)
    missing = sorted({b.strip() for b in missing if b and b.strip()})
    if batch.status is BatchStatus.DISPATCHED:
        return service.confirm_receipt(session, scope, batch_id, counted, missing, actor)
    recorded_missing = sorted(c.nomor_blanko for it, c in service.batch_items(session, batch) if it.missing)
    if batch.received_by == actor.label and batch.received_count == counted and recorded_missing == missing:
        return batch
    lost = f", {batch.missing_count} hilang" if batch.missing_count else ""
    reason = (f"Berkas {batch.number} sudah dicatat diterima oleh {batch.received_by} pada "
              f"{wib_text(batch.received_at)}: {batch.received_count} kartu{lost}.")
    return _keep(session, scope, ConflictKind.RECEIPT, batch, None, None, {"counted": counted, "missing": missing},
                 actor, seen_version=seen_version, recorded_at=recorded_at, reason=reason)


def _norm(value: Any) -> str:
    return " ".join(str(value or "").split()).upper()


def _same_outcome(item: HandoverItem, disposition: Disposition, fields: Mapping[str, Any], actor: Actor) -> bool:
    """The card already has this outcome from this officer: the record arrives a second time."""
    if item.disposition is not disposition or item.disposition_by != actor.label:
        return False
    if disposition in (Disposition.HOLDER, Disposition.FAMILY):
        return (_norm(item.receiver_name) == _norm(fields.get("receiver_name"))
                and (disposition is Disposition.HOLDER
                     or _norm(item.receiver_relationship) == _norm(fields.get("receiver_relationship"))))
    if disposition is Disposition.MOVED:
        return bool(_norm(fields.get("alamat"))) and _norm(fields.get("alamat")) in _norm(item.new_address)
    return True


def _disposition_conflict(session: Session, item: HandoverItem, card: Card, seen_version: int,
                          actor: Actor) -> str | None:
    """Why the device's record no longer fits the card, or None when nothing but the receipt changed it."""
    if not item.active or item.missing or item.disposition is not None or card.state not in (
            CardState.AT_KELURAHAN, CardState.SENT_TO_KELURAHAN):
        if item.disposition is not None:
            return (f"Kartu {card.nomor_blanko} sudah dicatat: {DISPOSITION_LABELS[item.disposition]} (oleh "
                    f"{item.disposition_by}, {wib_text(item.disposition_at)}).")
        if item.missing:
            return f"Kartu {card.nomor_blanko} dilaporkan hilang saat berkas diterima."
        return f"Kartu {card.nomor_blanko} sudah berstatus '{card.state_label}'."
    changes = session.scalars(select(CardHistory).where(CardHistory.card_id == card.id,
                                                        CardHistory.id > seen_version)
                              .order_by(CardHistory.id)).all()
    others = [h for h in changes if not _is_receipt(h) and (h.user_id is None or h.user_id != actor.user_id)]
    if not others:
        return None
    last = others[-1]
    return (f"Kartu {card.nomor_blanko} diubah oleh {last.actor} pada {wib_text(last.at)} setelah dicatat di "
            f"perangkat: {last.reason}")[:500]


def _is_receipt(change: CardHistory) -> bool:
    return change.from_state is CardState.SENT_TO_KELURAHAN and change.to_state is CardState.AT_KELURAHAN


def _keep(session: Session, scope: Scope, kind: ConflictKind, batch: HandoverBatch, item: HandoverItem | None,
          card: Card | None, record: Mapping[str, Any], actor: Actor, *, seen_version: int,
          recorded_at: dt.datetime | None, reason: str) -> OfflineConflict:
    conflict = OfflineConflict(
        office_id=scope.office.id, kelurahan_code=batch.kelurahan_code, kind=kind, batch_id=batch.id,
        item_id=item.id if item else None, card_id=card.id if card else None, user_id=actor.user_id,
        officer=actor.label, record=json.dumps(record, sort_keys=True, default=str), seen_version=seen_version,
        recorded_at=recorded_at, received_at=utcnow(), reason=reason[:500], status=ConflictStatus.OPEN)
    session.add(conflict)
    session.flush()
    what = f"kartu {card.nomor_blanko}" if card else "penerimaan berkas"
    service.LIFECYCLE.note(session, batch, actor, f"Catatan luring {what} tidak diterapkan: {reason} Menunggu "
                                                  f"keputusan staf (konflik #{conflict.id}).")
    return conflict


# --- staff decide ----------------------------------------------------------------------------------------------


def get_conflict(session: Session, scope: Scope, conflict_id: int, *, lock: bool = False) -> OfflineConflict:
    conflict = session.get(OfflineConflict, conflict_id, with_for_update=lock or None)
    if (conflict is None or conflict.office_id != scope.office.id
            or (scope.is_officer and conflict.kelurahan_code != scope.kelurahan_code)):
        raise NotFound(f"Konflik #{conflict_id} tidak ditemukan.")
    return conflict


def decide(session: Session, scope: Scope, conflict_id: int, accept: bool, note: str, actor: Actor, *,
           deadline_days: int, pipeline_for: Callable[[], AddressPipeline]) -> OfflineConflict:
    """Staff accept the officer's record (applied through the service; a card with another outcome is corrected
    first) or reject it (the office's record stands). Either way the decision is kept: who, when, why."""
    if scope.is_officer:
        raise NotFound(f"Konflik #{conflict_id} tidak ditemukan.")
    conflict = get_conflict(session, scope, conflict_id, lock=True)
    if conflict.status is not ConflictStatus.OPEN:
        raise ReturnsError(f"Konflik #{conflict.id} sudah diputuskan ({conflict.status_label.lower()} oleh "
                           f"{conflict.decided_by}).")
    note = (note or "").strip()
    if not note:
        raise ReturnsError("Alasan keputusan wajib diisi.")
    record = json.loads(conflict.record)
    if accept:
        # The officer made the record; staff let it through: both names stay in the card's history.
        officer = Actor(f"{conflict.officer} (disetujui {actor.label})"[:120], actor.user_id)
        if conflict.kind is ConflictKind.RECEIPT:
            service.confirm_receipt(session, scope, conflict.batch_id, int(record["counted"]),
                                    record.get("missing") or [], officer)
        else:
            _accept_disposition(session, scope, conflict, record, actor, officer, note, deadline_days, pipeline_for)
    conflict.status = ConflictStatus.ACCEPTED if accept else ConflictStatus.REJECTED
    conflict.decided_at, conflict.decided_by, conflict.decided_user_id = utcnow(), actor.label, actor.user_id
    conflict.decision_note = note
    card = session.get(Card, conflict.card_id) if conflict.card_id else None
    what = f"kartu {card.nomor_blanko}" if card else "penerimaan berkas"
    service.LIFECYCLE.note(session, conflict.batch, actor,
                           f"Konflik luring #{conflict.id} ({what}): catatan petugas {conflict.officer} "
                           f"{'diterima' if accept else 'ditolak'}: {note}")
    return conflict


def _accept_disposition(session: Session, scope: Scope, conflict: OfflineConflict, record: Mapping[str, Any],
                        actor: Actor, officer: Actor, note: str, deadline_days: int,
                        pipeline_for: Callable[[], AddressPipeline]) -> None:
    item, card = service.item_in_scope(session, scope, conflict.item_id, lock=True)
    if not item.active:
        raise ReturnsError(f"Kartu {card.nomor_blanko} sudah tidak di berkas {item.batch.number} "
                           f"({card.state_label}): catatan petugas tidak dapat diterapkan. Tolak dengan alasan.")
    if item.disposition is not None or item.missing:
        service.correct(session, scope, item.id, actor,
                        f"konflik luring #{conflict.id}: catatan petugas {conflict.officer} diterima. {note}")
    if card.state is not CardState.AT_KELURAHAN:
        raise ReturnsError(f"Kartu {card.nomor_blanko} berstatus '{card.state_label}': catatan petugas tidak dapat "
                           "diterapkan. Tolak dengan alasan.")
    disposition = Disposition(record["disposition"])
    fields = {k: record[k] for k in RECORD_FIELDS if k in record}
    service.record_disposition(session, scope, item.id, disposition, fields, officer, deadline_days=deadline_days,
                               pipeline=pipeline_for() if disposition is Disposition.MOVED else None)


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConflictView:
    """A conflict as both sides read it: the officer's record, what the office had, and the decision."""

    id: int
    kind: str
    status: str
    status_label: str
    kelurahan_code: str
    batch_id: int
    batch_number: str
    item_id: int | None
    nomor_blanko: str | None
    nama: str | None
    officer: str
    recorded_at: dt.datetime | None
    received_at: dt.datetime
    record: dict[str, Any]
    record_text: str
    reason: str
    now_text: str  # the card (or batch) as the office has it now
    decided_at: dt.datetime | None
    decided_by: str | None
    decision_note: str | None


def conflicts(session: Session, scope: Scope, *, status: ConflictStatus | None = None, item_id: int | None = None,
              limit: int = 10_000) -> list[ConflictView]:
    """The scope's conflicts (an officer: his kelurahan's), open ones first, newest first."""
    query = select(OfflineConflict).where(OfflineConflict.office_id == scope.office.id)
    if scope.is_officer:
        query = query.where(OfflineConflict.kelurahan_code == scope.kelurahan_code)
    if status is not None:
        query = query.where(OfflineConflict.status == status)
    if item_id is not None:
        query = query.where(OfflineConflict.item_id == item_id)
    rows = list(session.scalars(query.order_by((OfflineConflict.status == ConflictStatus.OPEN).desc(),
                                               OfflineConflict.id.desc()).limit(limit)))
    return [conflict_view(session, c) for c in rows]


def open_count(session: Session, scope: Scope) -> int:
    query = select(func.count()).select_from(OfflineConflict).where(
        OfflineConflict.office_id == scope.office.id, OfflineConflict.status == ConflictStatus.OPEN)
    if scope.is_officer:
        query = query.where(OfflineConflict.kelurahan_code == scope.kelurahan_code)
    return session.scalar(query) or 0


def conflict_signatures(session: Session, scope: Scope) -> dict[int | None, str]:
    """Per card (item id; None for receipts) a short text that changes whenever one of its conflicts does: the
    officer's device refreshes the pages that show them."""
    rows = session.execute(select(OfflineConflict.item_id, OfflineConflict.id, OfflineConflict.status)
                           .where(OfflineConflict.office_id == scope.office.id,
                                  OfflineConflict.kelurahan_code == scope.kelurahan_code)
                           .order_by(OfflineConflict.id)).all()
    out: dict[int | None, str] = {}
    for item_id, cid, status in rows:
        out[item_id] = out.get(item_id, "") + f"{cid}{status.value[0]}"
    return out


def record_text(kind: ConflictKind, record: Mapping[str, Any]) -> str:
    """The officer's record in words."""
    if kind is ConflictKind.RECEIPT:
        missing = record.get("missing") or []
        return (f"Berkas diterima: {record.get('counted')} kartu dihitung"
                + (f"; dilaporkan hilang: {', '.join(missing)}" if missing else ""))
    try:
        disposition = Disposition(record.get("disposition"))
    except ValueError:
        return str(record.get("disposition"))
    parts = [DISPOSITION_LABELS[disposition]]
    if record.get("receiver_name"):
        who = str(record["receiver_name"])
        if disposition is Disposition.FAMILY and record.get("receiver_relationship"):
            who += f" ({record['receiver_relationship']})"
        parts.append(who)
    if record.get("handed_on"):
        parts.append(f"tanggal {record['handed_on']}")
    if disposition is Disposition.HOLDER:
        parts.append("identitas diperiksa" if record.get("id_checked") else "identitas tidak diperiksa")
    if record.get("alamat"):
        parts.append("alamat baru " + " ".join(str(record[k]) for k in ("alamat", "rt", "rw", "kelurahan",
                                                                          "kecamatan") if record.get(k)))
    if record.get("note"):
        parts.append(f"catatan: {record['note']}")
    return ": ".join(parts[:1]) + (": " + ", ".join(parts[1:]) if len(parts) > 1 else "")


def conflict_view(session: Session, conflict: OfflineConflict) -> ConflictView:
    record = json.loads(conflict.record or "{}")
    batch = conflict.batch
    card = session.get(Card, conflict.card_id) if conflict.card_id else None
    item = conflict.item
    if conflict.kind is ConflictKind.RECEIPT:
        now = f"{batch.status_label}" + (f": {batch.received_count} kartu diterima oleh {batch.received_by} "
                                          f"{wib_text(batch.received_at)}" if batch.received_at else "")
    elif item is not None and card is not None:
        now = card.state_label
        if item.disposition is not None:
            now = (f"{DISPOSITION_LABELS[item.disposition]} (dicatat {item.disposition_by} "
                   f"{wib_text(item.disposition_at)})")
            if item.receiver_name:
                now += f": {item.receiver_name}"
    else:
        now = "-"
    return ConflictView(
        id=conflict.id, kind=conflict.kind.value, status=conflict.status.value, status_label=conflict.status_label,
        kelurahan_code=conflict.kelurahan_code, batch_id=conflict.batch_id, batch_number=batch.number,
        item_id=conflict.item_id, nomor_blanko=card.nomor_blanko if card else None, nama=card.nama if card else None,
        officer=conflict.officer, recorded_at=conflict.recorded_at, received_at=conflict.received_at, record=record,
        record_text=record_text(conflict.kind, record), reason=conflict.reason, now_text=now,
        decided_at=conflict.decided_at, decided_by=conflict.decided_by, decision_note=conflict.decision_note)
