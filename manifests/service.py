"""Intake and sorting operations: import a print run, mark damaged cards, withdraw an area.

These are the only functions that change intake state. They take a session and never commit: the
caller's unit of work commits the whole import at once, so a crash leaves no half-imported run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from address.normalize import AddressInput
from address.service import AddressPipeline, card_address_values, flag_labels
from app.cards import (
    HOLDS_NIK,
    Actor,
    Card,
    CardHistory,
    CardState,
    TransitionError,
    cards_by_blanko,
    history_rows,
    move,
    move_many,
)
from app.db import utcnow
from app.models import Office, PrintRun, Withdrawal
from app.regions import office_regions
from manifests.batching import withdraw_from_manifests
from manifests.intake import CardRow, RejectedRow, file_sha256, read_print_run
from manifests.models import IntakeRejection

# SQLite allows 32,766 bound parameters per statement; IN lists stay well below.
_LOOKUP_BATCH = 2000


@dataclass
class ImportResult:
    filename: str
    print_run_id: int | None = None
    same_file_as: int | None = None  # the run that already imported this exact file
    rows_read: int = 0
    cards_imported: int = 0
    already_imported: int = 0
    duplicates: int = 0
    withdrawn: int = 0
    unclear: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)


class IntakeError(ValueError):
    """The import cannot go ahead; the message is for staff."""


def import_print_run(
    session: Session, path: str | os.PathLike, *, office: Office, actor: Actor,
    filename: str | None = None, chunk_rows: int = 5000, progress: Callable[[int], None] | None = None,
    pipeline: AddressPipeline | None = None,
) -> ImportResult:
    """Import a print-run file: valid rows become cards, the others are recorded with line and reason."""
    name = filename or os.path.basename(path)
    result = ImportResult(filename=name)
    digest = file_sha256(path)
    earlier = session.scalar(
        select(PrintRun.id).where(PrintRun.office_id == office.id, PrintRun.sha256 == digest).limit(1)
    )
    if earlier is not None:
        result.same_file_as = earlier
        return result
    run = PrintRun(office_id=office.id, filename=name, sha256=digest, imported_by=actor.label)
    session.add(run)
    session.flush()
    result.print_run_id = run.id
    if pipeline is None:
        pipeline = AddressPipeline.for_office(session, office.code, current_app.config)
    ctx = _IntakeContext(session, office, run, actor, pipeline)
    for chunk in read_print_run(path, chunk_rows=chunk_rows, filename=name):
        ctx.add_chunk(chunk.rows, chunk.rejected, result)
        result.rows_read = chunk.lines_read
        if progress:
            progress(chunk.lines_read)
    run.rows_read = result.rows_read
    run.cards_imported = result.cards_imported
    run.rows_rejected = result.rows_rejected
    run.rows_already_imported = result.already_imported
    run.duplicates = result.duplicates
    run.withdrawn = result.withdrawn
    return result


_DUPLICATE_REASON = "Cetak ganda: NIK yang sama masih dipegang kartu lain yang belum terkirim"


@dataclass(slots=True)
class _NewCard:
    row: CardRow
    address: dict
    state: CardState
    reason: str
    duplicate_of: int | None = None


class _IntakeContext:
    def __init__(self, session: Session, office: Office, run: PrintRun, actor: Actor,
                 pipeline: AddressPipeline) -> None:
        self.session = session
        self.office = office
        self.run = run
        self.actor = actor
        self.pipeline = pipeline
        self.withdrawals = list(
            session.scalars(select(Withdrawal).where(Withdrawal.office_id == office.id, Withdrawal.active))
        )

    def add_chunk(self, rows: list[CardRow], rejected: list[RejectedRow], result: ImportResult) -> None:
        rows = self._drop_known_blanko(rows, rejected, result)
        holders = self._nik_holders([r.nik for r in rows])
        firsts: list[_NewCard] = []
        dups: list[_NewCard] = []
        for row in rows:
            address = card_address_values(self.pipeline.place(AddressInput(
                alamat=row.alamat, rt=row.rt, rw=row.rw, kelurahan=row.kelurahan, kecamatan=row.kecamatan,
                kabupaten_kota=row.kabupaten_kota, provinsi=row.provinsi, kode_pos=row.kode_pos,
                kode_wilayah=row.kode_wilayah)))
            if row.nik in holders:
                dups.append(_NewCard(row, address, CardState.DUPLICATE, _DUPLICATE_REASON))
                continue
            holders[row.nik] = -1  # held by a card of this chunk; its id is known after the insert
            firsts.append(_NewCard(row, address, *self._start_state(address)))
        ids = self._insert_cards(firsts)
        holders.update({c.row.nik: i for c, i in zip(firsts, ids, strict=True)})
        for c in dups:
            c.duplicate_of = holders[c.row.nik]
        self._insert_cards(dups)
        result.cards_imported += len(rows)
        result.duplicates += len(dups)
        result.withdrawn += sum(1 for c in firsts if c.state is CardState.WITHDRAWN)
        result.unclear += sum(1 for c in firsts if c.state is CardState.ADDRESS_UNCLEAR)
        if rejected:
            self.session.execute(insert(IntakeRejection), [
                {"print_run_id": self.run.id, "line": r.line, "field": r.field, "reason": r.reason,
                 "raw": json.dumps(r.raw, ensure_ascii=False, default=str)} for r in rejected
            ])
            result.rejected.extend(rejected)

    def _drop_known_blanko(self, rows: list[CardRow], rejected: list[RejectedRow],
                           result: ImportResult) -> list[CardRow]:
        """Rows whose card an earlier run brought in are skipped; a blanko reused for another NIK is rejected."""
        known: dict[str, str] = {}
        for batch in _batches([r.nomor_blanko for r in rows]):
            known.update(self.session.execute(
                select(Card.nomor_blanko, Card.nik).where(Card.nomor_blanko.in_(batch))).all())
        fresh = []
        for row in rows:
            nik = known.get(row.nomor_blanko)
            if nik is None:
                fresh.append(row)
            elif nik == row.nik:
                result.already_imported += 1
            else:
                rejected.append(RejectedRow(
                    row.line, "nomor_blanko",
                    f"Nomor blanko {row.nomor_blanko} sudah tercatat untuk kartu dengan NIK lain", {},
                ))
        return fresh

    def _nik_holders(self, niks: Sequence[str]) -> dict[str, int]:
        holders: dict[str, int] = {}
        for batch in _batches(sorted(set(niks))):
            holders.update(self.session.execute(
                select(Card.nik, Card.id).where(
                    Card.office_id == self.office.id, Card.nik.in_(batch), Card.state.in_(HOLDS_NIK))
            ).all())
        return holders

    def _start_state(self, address: dict) -> tuple[CardState, str]:
        if address["address_status"] != "CLEAR":
            return CardState.ADDRESS_UNCLEAR, "Alamat belum jelas: " + "; ".join(
                flag_labels(address["address_flags"]))
        for w in self.withdrawals:
            if w.covers(address["kelurahan_code"], address["rw"]):
                return CardState.WITHDRAWN, f"Wilayah ditarik: {w.reason}"
        return CardState.READY, "Diterima dari cetakan; alamat jelas"

    def _insert_cards(self, items: list[_NewCard]) -> list[int]:
        if not items:
            return []
        now = utcnow()
        # Core executemany with RETURNING runs as a few multi-row INSERTs; the ORM's ordered variant falls
        # back to one statement per row on SQLite. The ids are matched back by the unique blanko number.
        conn = self.session.connection()
        stmt = insert(Card.__table__).returning(Card.__table__.c.id, Card.__table__.c.nomor_blanko)
        id_of = dict((b, i) for i, b in conn.execute(stmt, [self._card_values(c, now) for c in items]))
        ids = [id_of[c.row.nomor_blanko] for c in items]
        conn.execute(insert(CardHistory.__table__), history_rows(
            ids, [c.state for c in items], now, self.actor, [c.reason for c in items]))
        return ids

    def _card_values(self, c: _NewCard, now: dt.datetime) -> dict:
        r = c.row
        return {
            "office_id": self.office.id, "print_run_id": self.run.id, "line": r.line,
            "nomor_blanko": r.nomor_blanko, "nik": r.nik, "nama": r.nama, "tempat_lahir": r.tempat_lahir,
            "tanggal_lahir": r.tanggal_lahir, "jenis_kelamin": r.jenis_kelamin, "alamat": r.alamat,
            **c.address, "kelurahan_raw": r.kelurahan, "kecamatan_raw": r.kecamatan,
            "kabupaten_kota_raw": r.kabupaten_kota, "provinsi_raw": r.provinsi,
            "kode_wilayah_raw": r.kode_wilayah, "kode_pos_raw": r.kode_pos, "no_kk": r.no_kk,
            "no_hp": r.no_hp, "tanggal_cetak": r.tanggal_cetak,
            "state": c.state, "state_changed_at": now, "duplicate_of_id": c.duplicate_of,
        }


def _batches(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _LOOKUP_BATCH):
        yield items[i : i + _LOOKUP_BATCH]


# --- sorting ---------------------------------------------------------------------------------------------


class SortingError(ValueError):
    """A sorting request that cannot be carried out; the message names the card or field."""


def mark_damaged(session: Session, office: Office, blankos: Iterable[str], actor: Actor, reason: str) -> list[Card]:
    """Set aside cards found damaged at sorting; they are listed for reprint. All or nothing."""
    cards, missing = cards_by_blanko(session, office.id, blankos)
    if not cards and not missing:
        raise SortingError("Isi minimal satu nomor blanko.")
    if not reason.strip():
        raise SortingError("Alasan wajib diisi.")
    if missing:
        raise SortingError(f"Nomor blanko tidak ditemukan di kantor ini: {', '.join(missing[:20])}")
    try:
        for card in cards.values():
            move(session, card, CardState.DAMAGED, actor, f"Rusak saat penyortiran: {reason.strip()}")
    except TransitionError as exc:
        raise SortingError(str(exc)) from exc
    return list(cards.values())


def parse_rws(text: str | Iterable[str] | None) -> list[str]:
    """'3, 05,007' -> ['003', '005', '007']; raises SortingError on anything that is not an RW number."""
    if text is None:
        return []
    parts = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    rws = []
    for p in (p.strip() for p in parts):
        if not p:
            continue
        if not p.isdigit() or not 0 < int(p) < 1000:
            raise SortingError(f"RW '{p}' tidak valid: isi angka 1-999, pisahkan dengan koma.")
        rws.append(f"{int(p):03d}")
    return sorted(set(rws))


def withdraw_area(
    session: Session, office: Office, kelurahan_code: str, rws: list[str], reason: str, actor: Actor,
) -> tuple[Withdrawal, int]:
    """Withhold every card of a kelurahan (or of some of its RWs): now and in later print runs."""
    regions = office_regions(office.code)
    kel = regions.kelurahan.get(kelurahan_code.strip())
    if kel is None:
        raise SortingError(f"Kelurahan '{kelurahan_code}' bukan wilayah {office.name}.")
    if not reason.strip():
        raise SortingError("Alasan penarikan wajib diisi.")
    w = Withdrawal(office_id=office.id, kelurahan_code=kel.code, rws=",".join(rws), reason=reason.strip(),
                   created_by=actor.label)
    session.add(w)
    session.flush()
    def in_area(state: CardState) -> list[int]:
        query = select(Card.id).where(Card.office_id == office.id, Card.kelurahan_code == kel.code,
                                      Card.state == state)
        return list(session.scalars(query.where(Card.rw.in_(rws)) if rws else query))

    # A cleared kelurahan can hold thousands of cards: one bulk move, not one ORM flush per card.
    moved = move_many(session, in_area(CardState.READY), CardState.WITHDRAWN, actor,
                      f"Wilayah ditarik: {w.reason}", expect=[CardState.READY])
    # Cards on a manifest the courier does not have yet come off it; those with the courier are recalled
    # (manifests.handover.recall_withdrawn) once this is committed.
    moved += withdraw_from_manifests(session, office, in_area(CardState.ON_MANIFEST), actor, w.reason)
    return w, moved


def damaged_cards(session: Session, office: Office) -> list[Card]:
    return list(session.scalars(
        select(Card).where(Card.office_id == office.id, Card.state == CardState.DAMAGED).order_by(Card.nomor_blanko)))
