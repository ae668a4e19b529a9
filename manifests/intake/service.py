"""Intake operations (step 1 of the flow): import a print run; its totals for the reconciliation.

These are the only functions that change intake state. They take a session and never commit: the
caller's unit of work commits the whole import at once, so a crash leaves no half-imported run.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from address.normalize import AddressInput
from address.service import CARD_ADDRESS_COLUMNS, AddressPipeline, card_address_values, flag_labels
from app import jobs
from app.cards import HOLDS_NIK, Actor, Card, CardState, NewCard, create_cards
from app.db import is_postgresql, unit_of_work
from app.jobs import JobContext, JobError
from app.models import Office
from app.pseudonym import kk_hash
from manifests.intake.models import IntakeDifference, IntakeRejection, PrintRun, Withdrawal
from manifests.intake.reader import (
    CardRow,
    IntakeFileError,
    RejectedRow,
    Repeat,
    blanko_in_use,
    check_print_run,
    estimate_rows,
    file_sha256,
    is_kode_pos,
    is_kode_wilayah,
    read_print_run,
    repeated_row,
)

# SQLite allows 32,766 bound parameters per statement; IN lists stay well below.
_PG_NIK_HOLDERS = text("SELECT c.nik, c.id, c.state FROM unnest(CAST(:niks AS text[])) AS n(nik) "
                       "JOIN card c ON c.office_id = :office AND c.nik = n.nik")
_LOOKUP_BATCH = 2000
_ADDRESS_CACHE_MAX = 5_000


@dataclass
class ImportResult:
    filename: str
    print_run_id: int | None = None
    same_file_as: int | None = None  # the run that already imported this exact file
    # The file's rows (empty ones are no rows), each counted once: cards_imported + rows_rejected + already_imported.
    # A row listing again the card of an earlier line (`Repeat`) is a rejected row naming that line, or already
    # imported like that line when an earlier run has the card.
    rows_read: int = 0
    lines_read: int = 0  # the file's lines after its header, empty ones too: how far the import is
    cards_imported: int = 0
    already_imported: int = 0
    duplicates: int = 0
    withdrawn: int = 0
    unclear: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    # Of the rows already imported, those where the file says something else than the card (not imported either).
    changed: list[ChangedRow] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    @property
    def rows_changed(self) -> int:
        return len(self.changed)


@dataclass(frozen=True, slots=True)
class ChangedRow:
    """A row whose card an earlier run brought in (same blanko, same NIK) where the file now says something else:
    the card is not changed (counted as already imported); `fields` are the file's columns that differ."""

    line: int
    card_id: int
    nomor_blanko: str
    fields: tuple[str, ...]


class IntakeError(ValueError):
    """The import cannot go ahead; the message is for staff."""


def import_print_run(
    session: Session, path: str | os.PathLike, *, office: Office, actor: Actor,
    filename: str | None = None, chunk_rows: int = 5000, progress: Callable[[ImportResult], None] | None = None,
    pipeline: AddressPipeline | None = None, sha256: str | None = None,
) -> ImportResult:
    """Import a print-run file: valid rows become cards, the others are recorded with line and reason.

    `sha256` is the file's digest when the caller has already computed it (an upload), so the file is read once
    less."""
    name = _stored_name(filename or os.path.basename(path))
    result = ImportResult(filename=name)
    digest = sha256 or file_sha256(path)
    earlier = run_of_file(session, office.id, digest)
    if earlier is not None:
        result.same_file_as = earlier
        return result
    run_id = _new_run(session, {"office_id": office.id, "filename": name, "sha256": digest,
                                "imported_by": actor.label})
    if run_id is None:  # the same file imported at the same moment elsewhere: one run (a unique index)
        result.same_file_as = run_of_file(session, office.id, digest)
        return result
    run = session.get(PrintRun, run_id)
    result.print_run_id = run.id
    if pipeline is None:
        pipeline = AddressPipeline.for_office(session, office.code, current_app.config)
    ctx = _IntakeContext(session, office, run, actor, pipeline)
    # A remote geocoder caches its answers through the session: then all in this thread, one step after the other.
    alone = pipeline.chain is not None and bool(pipeline.chain.remotes)
    with _bulk_work(session), _Writer(session, threaded=not alone) as writer:
        # A blanko used again in an earlier chunk is found among the cards written (`_drop_known_blanko`).
        # The chunks are written one after the other, in the order read (one writer thread): each chunk's cards
        # stand for their NIKs against the next one's. Reading and placing addresses needs no database, so it runs
        # up to `_Writer.DEPTH` chunks ahead of the writer.
        for chunk in read_print_run(path, chunk_rows=chunk_rows, filename=name, blanko_across_chunks=False):
            addresses = [ctx.address(row) for row in chunk.rows]
            repeat_addresses = [ctx.address(r.row) for r in chunk.repeats]  # compared if an earlier run has the card
            if progress and result.lines_read:
                progress(result)
            # Counted before the writer adds its own rejections to the chunk's list.
            rows = len(chunk.rows) + len(chunk.rejected) + len(chunk.repeats)
            writer.submit(ctx.add_chunk, chunk.rows, addresses, chunk.rejected, result, chunk.repeats,
                          repeat_addresses)
            result.rows_read += rows
            result.lines_read = chunk.lines_read
        writer.wait()
    if progress:
        progress(result)
    run.rows_read = result.rows_read
    run.cards_imported = result.cards_imported
    run.rows_rejected = result.rows_rejected
    run.rows_already_imported = result.already_imported
    run.rows_changed = result.rows_changed
    run.duplicates = result.duplicates
    run.withdrawn = result.withdrawn
    return result


# SQLite's page cache for the length of an import (KiB): the card table's indexes (NIK, kelurahan, family card hash)
# take rows at random places, and with the default 2 MB their pages go back and forth to the file.
_SQLITE_CACHE_KIB = 16 * 1024
# The garbage collector during an import: its young generation made larger, so that it looks less often at what the
# import keeps (the normalizer's caches, the reader's memos, the chunks read ahead: objects without cycles), which it
# would otherwise go through again and again; and what the process held before the import (modules, the region list,
# the normalizer's indexes) frozen out of its sight until the import ends (`gc.freeze`). Timed with `gc.callbacks` in
# a 132,554-row import: 1.0-1.5 s at 20,000, 0.25-0.28 s in 3 collections at 200,000, 0.12-0.14 s in one at
# 1,000,000 (the one after the import, when the threshold is back; BENCHMARKS.md). The garbage it can hold back is
# at most that many young objects: the 1,000,000-row import's peak stays under 400 MiB.
_GC_THRESHOLD = (1_000_000, 20, 20)
# How long a thread may hold the interpreter's lock while another waits for it, for the length of an import (Python's
# default is 5 ms): the writer thread asks for it back after each statement SQLite executed without it, a few dozen
# times per chunk, while the reading thread runs Python; at 5 ms those waits made the writer the slower of the two.
_SWITCH_INTERVAL = 0.001
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, ...] = ()
_switch_saved = 0.005


@contextmanager
def _bulk_work(session: Session) -> Iterator[None]:
    global _gc_users, _gc_saved, _switch_saved
    with _gc_lock:  # imports may run side by side (background jobs): the first one in changes it, the last one out
        if _gc_users == 0:  # puts it back
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*_GC_THRESHOLD)
            gc.freeze()
            _switch_saved = sys.getswitchinterval()
            sys.setswitchinterval(_SWITCH_INTERVAL)
        _gc_users += 1
    # The driver's connection itself: a PRAGMA is no part of the transaction, and puts the cache back also after a
    # failed statement.
    sqlite = session.connection().connection.driver_connection if session.get_bind().dialect.name == "sqlite" else None
    cache = sqlite.execute("PRAGMA cache_size").fetchone()[0] if sqlite is not None else None
    try:
        if sqlite is not None:
            sqlite.execute(f"PRAGMA cache_size = -{_SQLITE_CACHE_KIB}")
        yield
    finally:
        if sqlite is not None:
            sqlite.execute(f"PRAGMA cache_size = {int(cache)}")
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)
                sys.setswitchinterval(_switch_saved)
                gc.unfreeze()  # back into the oldest generation: collected again like any other object


def _new_run(session: Session, values: dict[str, Any]) -> int | None:
    """Insert the print run, or nothing (None) when the unique index already has this file.

    One INSERT ... ON CONFLICT DO NOTHING rather than a savepoint around the insert: on SQLite a savepoint opened
    before anything was written starts the transaction itself, and releasing it commits, so a file refused later
    (no data rows, malformed) would leave its empty print run behind."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return session.scalar(dialect_insert(PrintRun).values(values)
                          .on_conflict_do_nothing(index_elements=["office_id", "sha256"]).returning(PrintRun.id))


_NAME_MAX = PrintRun.__table__.c.filename.type.length
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _stored_name(name: str) -> str:
    """An uploaded file's name as kept with its run: no control characters, and cut to its column (keeping the
    extension)."""
    name = _CONTROL.sub("", name) or "berkas"
    return name if len(name) <= _NAME_MAX else name[: _NAME_MAX - 41] + "…" + name[-40:]


def run_of_file(session: Session, office_id: int, digest: str) -> int | None:
    """The print run that imported the file with this content, if any (one per file and office: a unique index)."""
    return session.scalar(select(PrintRun.id).where(PrintRun.office_id == office_id, PrintRun.sha256 == digest))


_DUPLICATE_REASON = "Cetak ganda: NIK yang sama masih dipegang kartu lain yang belum terkirim"
# The normalized street can be longer than the alamat it comes from ("NO1" becomes "NO. 1", a letter upper-cased can
# become three): the card's column holds the longest an alamat within the spec's limit can make (app/cards.py), so no
# such row is rejected for it. A longer one (a limit raised without the column) is still a rejected row, the same on
# every database, rather than a failed import on PostgreSQL.
_STREET_MAX = Card.__table__.c.street.type.length


class _Address(NamedTuple):
    """A row's address as card columns: by name (`values`, for the rules) and as the values of
    `CARD_ADDRESS_COLUMNS`."""

    values: dict[str, Any]
    row: tuple[Any, ...]
    # The row's kode_wilayah and kode_pos if they are codes, else None (part of the key the address is shared by):
    # what the card stores and what its address was placed with.
    codes: tuple[str | None, str | None]


# An address's card columns as `_Address.row` (`card_address_values` sets exactly these: tests/address/test_service.py).
_address_row = itemgetter(*CARD_ADDRESS_COLUMNS)
# A card's columns, in the order of `_IntakeContext._card_values`.
_CARD_COLUMNS = ("office_id", "print_run_id", "line", "nomor_blanko", "nik", "nama", "tempat_lahir", "tanggal_lahir",
                 "jenis_kelamin", "alamat", *CARD_ADDRESS_COLUMNS, "kelurahan_raw", "kecamatan_raw",
                 "kabupaten_kota_raw", "provinsi_raw", "kode_wilayah_raw", "kode_pos_raw", "no_kk", "no_kk_hash",
                 "no_hp", "tanggal_cetak", "cod_amount", "collect_old_card", "duplicate_of_id")


# What `_differences` compares of a row already imported and its card: the file's column, the row's attribute
# (`CardRow`; None for the codes, compared as the card stores them: `_Address.codes`), the card's column.
_COMPARED = (("nama", "nama", "nama"), ("tempat_lahir", "tempat_lahir", "tempat_lahir"),
             ("tanggal_lahir", "tanggal_lahir", "tanggal_lahir"), ("jenis_kelamin", "jenis_kelamin", "jenis_kelamin"),
             ("alamat", "alamat", "alamat"), ("kelurahan", "kelurahan", "kelurahan_raw"),
             ("kecamatan", "kecamatan", "kecamatan_raw"), ("kabupaten_kota", "kabupaten_kota", "kabupaten_kota_raw"),
             ("provinsi", "provinsi", "provinsi_raw"), ("kode_wilayah", None, "kode_wilayah_raw"),
             ("kode_pos", None, "kode_pos_raw"), ("no_hp", "no_hp", "no_hp"),
             ("tanggal_cetak", "tanggal_cetak", "tanggal_cetak"), ("biaya_antar", "cod_amount", "cod_amount"),
             ("tarik_ktp_lama", "collect_old_card", "collect_old_card"))
_COMPARED_COLUMNS = ("no_kk_hash", "no_kk", *(c for _, _, c in _COMPARED))


@dataclass(slots=True)
class _NewCard:
    row: CardRow
    address: _Address
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
        self.kk_key = current_app.config["ANTAR_KK_KEY"]
        self._ids = (office.id, run.id)  # read once: ORM attributes cost per card
        self._addresses: dict[tuple, _Address] = {}
        self.withdrawals = list(
            session.scalars(select(Withdrawal).where(Withdrawal.office_id == office.id, Withdrawal.active))
        )

    def add_chunk(self, rows: list[CardRow], addresses: list[_Address], rejected: list[RejectedRow],
                  result: ImportResult, repeats: Sequence[Repeat] = (),
                  repeat_addresses: Sequence[_Address] = ()) -> None:
        """Make the cards of a chunk's rows (`addresses`: each row's, from `address`) and record its rejections and
        its rows listing again an earlier line's card (`repeats`, with theirs)."""
        changed: list[ChangedRow] = []
        rows, addresses = self._drop_known_blanko(rows, addresses, rejected, changed, result, repeats,
                                                  repeat_addresses)
        holders = self._nik_holders([r.nik for r in rows])
        firsts: list[_NewCard] = []
        dups: list[_NewCard] = []
        for row, address in zip(rows, addresses, strict=True):
            street = address.values["street"]
            if street and len(street) > _STREET_MAX:
                rejected.append(RejectedRow(row.line, "alamat", f"Alamat terlalu panjang setelah dirapikan: "
                                            f"{len(street)} karakter, paling banyak {_STREET_MAX}", _raw(row)))
                continue
            note = _odd_codes(row, address.codes)
            if row.nik in holders:
                dups.append(_NewCard(row, address, CardState.DUPLICATE, _DUPLICATE_REASON + note))
                continue
            holders[row.nik] = -1  # held by a card of this chunk; its id is known after the insert
            state, reason = self._start_state(address.values)
            firsts.append(_NewCard(row, address, state, reason + note))
        ids = self._insert_cards(firsts)
        holders.update({c.row.nik: i for c, i in zip(firsts, ids, strict=True)})
        for c in dups:
            c.duplicate_of = holders[c.row.nik]
        self._insert_cards(dups)
        result.cards_imported += len(firsts) + len(dups)
        result.duplicates += len(dups)
        result.withdrawn += sum(1 for c in firsts if c.state is CardState.WITHDRAWN)
        result.unclear += sum(1 for c in firsts if c.state is CardState.ADDRESS_UNCLEAR)
        if rejected:
            self.session.execute(insert(IntakeRejection), [
                {"print_run_id": self.run.id, "line": r.line, "field": r.field, "reason": r.reason,
                 "raw": json.dumps(r.raw, ensure_ascii=False, default=str)} for r in rejected
            ])
            result.rejected.extend(rejected)
        if changed:
            self.session.execute(insert(IntakeDifference), [
                {"print_run_id": self.run.id, "line": c.line, "card_id": c.card_id, "fields": ",".join(c.fields)}
                for c in changed])
            result.changed.extend(changed)

    def address(self, row: CardRow) -> _Address:
        """The card columns of the row's address (shared by rows with the same address: family members printed in
        the same run, the same household over several runs; read-only). No database: the address pipeline of an
        import places addresses from memory (loaded region geometry, no remote geocoder)."""
        # What is not a code is placed without (and noted: `_odd_codes`).
        pos = row.kode_pos if is_kode_pos(row.kode_pos) else None
        code = row.kode_wilayah if is_kode_wilayah(row.kode_wilayah) else None
        key = (row.alamat, row.rt, row.rw, row.kelurahan, row.kecamatan, row.kabupaten_kota, row.provinsi, pos, code)
        address = self._addresses.get(key)
        if address is None:
            values = card_address_values(self.pipeline.place(AddressInput(*key)))
            address = _Address(values, _address_row(values), (code, pos))
            if len(self._addresses) >= _ADDRESS_CACHE_MAX:
                self._addresses.clear()
            self._addresses[key] = address
        return address

    def _taken(self, row: CardRow, nik: str, run_id: int, line: int) -> str:
        """Why a row whose blanko a stored card has (`nik`, `run_id`, `line`: that card's) is rejected: the same
        card of this file listed again, or the blanko of another NIK's card (this file's, or an earlier run's)."""
        if run_id != self.run.id:
            return f"Nomor blanko {row.nomor_blanko} sudah tercatat untuk kartu dengan NIK lain"
        if nik == row.nik:
            return repeated_row(row.nomor_blanko, nik, line)
        return blanko_in_use(row.nomor_blanko, line, nik)

    def _drop_known_blanko(self, rows: list[CardRow], addresses: list[_Address], rejected: list[RejectedRow],
                           changed: list[ChangedRow], result: ImportResult, repeats: Sequence[Repeat],
                           repeat_addresses: Sequence[_Address]) -> tuple[list[CardRow], list[_Address]]:
        """Rows whose card an earlier run brought in are skipped, counted as already imported (`changed` gets those
        where the file says something else than the card: `_differences`); a blanko reused for another NIK is
        rejected. A blanko of a card this file made in an earlier chunk (the reader checks within a chunk only) is
        what the reader says of a repeat within a chunk: the same card listed again is a rejected row naming the
        line that has it (`repeated_row`), another NIK too.

        `repeats` (each with its address) list again a card of an earlier line of the chunk: already imported like
        that line when an earlier run has the card, else a rejected row naming the line. So each row is counted once,
        and the same way whatever the chunks."""
        known: dict[str, tuple[str, int, int, int]] = {}
        for batch in _batches([r.nomor_blanko for r in rows] + [r.row.nomor_blanko for r in repeats]):
            found = _sqlite_in(self.session, "SELECT nomor_blanko, nik, print_run_id, line, id FROM card WHERE "
                               "nomor_blanko IN ({})", batch) if not is_postgresql(self.session) else \
                self.session.execute(select(Card.nomor_blanko, Card.nik, Card.print_run_id, Card.line, Card.id)
                                     .where(Card.nomor_blanko.in_(batch)))
            known.update((blanko, (nik, run_id, line, card_id)) for blanko, nik, run_id, line, card_id in found)
        if not known and not repeats:
            return rows, addresses
        fresh, kept, again = [], [], []
        for row, address in zip(rows, addresses, strict=True):
            nik, run_id, line, card_id = known.get(row.nomor_blanko, (None, None, None, None))
            if nik is None:
                fresh.append(row)
                kept.append(address)
            elif nik == row.nik and run_id != self.run.id:
                result.already_imported += 1
                again.append((row, address, card_id))
            else:
                rejected.append(RejectedRow(row.line, "nomor_blanko", self._taken(row, nik, run_id, line),
                                            _raw(row)))
        for repeat, address in zip(repeats, repeat_addresses, strict=True):
            row = repeat.row
            nik, run_id, line, card_id = known.get(row.nomor_blanko, (None, None, None, None))
            if nik == row.nik and run_id != self.run.id:
                result.already_imported += 1
                again.append((row, address, card_id))
            elif nik is None:  # the card is this file's, made from the first line (in this chunk)
                rejected.append(RejectedRow(row.line, "nomor_blanko",
                                            repeated_row(row.nomor_blanko, row.nik, repeat.first_line), repeat.raw))
            else:  # as its first line: this file's card (an earlier chunk's), or the blanko of another NIK's card
                rejected.append(RejectedRow(row.line, "nomor_blanko", self._taken(row, nik, run_id, line),
                                            repeat.raw))
        changed.extend(self._changed(again))
        return fresh, kept

    def _changed(self, again: list[tuple[CardRow, _Address, int]]) -> Iterator[ChangedRow]:
        """Of the rows already imported (each with its address and its card's id), those that differ from their
        card (`_differences`), read by the card's id (typed by the ORM on every database)."""
        cards: dict[int, Any] = {}
        for batch in _batches([card_id for _, _, card_id in again]):
            cards.update((c.id, c) for c in self.session.execute(
                select(Card.id, *(Card.__table__.c[n] for n in _COMPARED_COLUMNS)).where(Card.id.in_(batch))))
        for row, address, card_id in again:
            fields = self._differences(row, address, cards[card_id])
            if fields:
                yield ChangedRow(row.line, card_id, row.nomor_blanko, fields)

    def _differences(self, row: CardRow, address: _Address, card: Any) -> tuple[str, ...]:
        """The file's columns where `row` says something else than the card an earlier run made of it (`card`: the
        values of `_COMPARED_COLUMNS`). Compared are the columns the card keeps as the file wrote them and nothing
        changes later; not rt and rw, which the card keeps as placed, and staff's address corrections change."""
        codes = dict(zip(("kode_wilayah", "kode_pos"), address.codes, strict=True))
        fields = [name for name, mine, theirs in _COMPARED
                  if (getattr(row, mine) if mine else codes[name]) != getattr(card, theirs)]
        if card.no_kk_hash is not None:
            no_kk_same = row.no_kk is not None and kk_hash(row.no_kk, self.kk_key) == card.no_kk_hash
        else:  # a card of before the hash, or without a family card number
            no_kk_same = row.no_kk == card.no_kk
        if not no_kk_same:
            fields.append("no_kk")
        return tuple(fields)

    def _nik_holders(self, niks: Sequence[str]) -> dict[str, int]:
        """The cards that stand for these NIKs. The state is checked here, not in SQL: with it in the WHERE,
        SQLite reads the office's cards by state (every card of the office, per batch, so an import slowed down
        with every card it had already made) instead of by NIK. On PostgreSQL the NIKs are joined as an array:
        with `nik IN (2,000 values)` and no statistics of the column yet (an office's first import; autovacuum
        cannot see rows of a transaction still open), the planner takes the list to match every card and reads all
        of the office's cards for every chunk; joined, each NIK is one lookup of `ix_card_office_nik`."""
        holders: dict[str, int] = {}
        postgresql = is_postgresql(self.session)
        for batch in _batches(sorted(set(niks))):
            found = self.session.execute(_PG_NIK_HOLDERS, {"niks": list(batch), "office": self.office.id}) \
                if postgresql else _sqlite_in(self.session, "SELECT nik, id, state FROM card WHERE office_id = ? "
                                              "AND nik IN ({})", batch, self.office.id)
            holders.update((nik, card_id) for nik, card_id, state in found if state in HOLDS_NIK)
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
        return create_cards(self.session, _CARD_COLUMNS,
                            [NewCard(self._card_values(c), c.state, c.reason) for c in items], self.actor)

    def _card_values(self, c: _NewCard) -> tuple[Any, ...]:
        """The values of `_CARD_COLUMNS` (a tuple, not a dict: made for every card)."""
        r = c.row
        return (
            *self._ids, r.line, r.nomor_blanko, r.nik, r.nama, r.tempat_lahir, r.tanggal_lahir, r.jenis_kelamin,
            r.alamat, *c.address.row, r.kelurahan, r.kecamatan, r.kabupaten_kota, r.provinsi,
            *c.address.codes,  # codes only; a value that is not one is in the history (`_odd_codes`)
            None, kk_hash(r.no_kk, self.kk_key) if r.no_kk else None,  # no_kk never in clear
            r.no_hp, r.tanggal_cetak, r.cod_amount, r.collect_old_card, c.duplicate_of,
        )


def _raw(row: CardRow) -> dict[str, str]:
    """A row rejected here (past the reader, which keeps the row as read) as its rejection keeps it: the file's
    columns with the values read from them, the family card number masked as the reader masks it."""
    raw = {name: "" if value is None else value.isoformat() if isinstance(value, dt.date) else str(value)
           for name, value in zip(_RAW_COLUMNS, row[1:], strict=False)}
    raw["no_kk"] = "(disamarkan)" if row.no_kk else ""
    raw["layanan"] = "" if row.cod_amount is None else "COD"
    raw["biaya_antar"] = "" if row.cod_amount is None else str(row.cod_amount)
    raw["tarik_ktp_lama"] = "Y" if row.collect_old_card else "N"
    return raw


# The columns of a `CardRow` named as in the file, from nik to no_hp (its line is the rejection's, and the service
# columns are written back as the file has them: `_raw`).
_RAW_COLUMNS = CardRow._fields[1:CardRow._fields.index("no_hp") + 1]


def _odd_codes(row: CardRow, codes: tuple[str | None, str | None]) -> str:
    """What the row's code columns held that is not a code (`codes`: its `_Address.codes`), for the card's first
    history line: the card keeps only codes in those columns and its address is placed without the rest, but nothing
    the file said is lost, and staff see why the code did not count."""
    kode_wilayah, kode_pos = codes
    notes = []
    if row.kode_wilayah is not None and kode_wilayah is None:
        notes.append(f"kode wilayah di berkas '{row.kode_wilayah}' bukan kode kelurahan")
    if row.kode_pos is not None and kode_pos is None:
        notes.append(f"kode pos di berkas '{row.kode_pos}' bukan 5 angka")
    return f"; {'; '.join(notes)} (tidak dipakai untuk alamat)" if notes else ""


class _Writer:
    """The chunks' database work, in a thread of its own and in the order submitted, while the next chunks are
    read, checked and their addresses placed: the database driver lets other threads run while its statements
    execute (on SQLite the indexes and triggers of a card table are most of an import's database time). Same
    session and transaction, one chunk after the other: the session is used by the writer alone while chunks are
    pending (the caller only reads the file and places addresses, up to `DEPTH` chunks ahead, so that neither
    thread waits for the other's uneven chunks). An in-memory SQLite database (one connection per thread), or an
    import whose address pipeline uses the session (`threaded=False`), is written in the calling thread."""

    DEPTH = 3

    def __init__(self, session: Session, *, threaded: bool = True) -> None:
        url = session.get_bind().url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self._threaded = threaded and not in_memory
        self._executor: ThreadPoolExecutor | None = None
        self._pending: deque[Future[None]] = deque()
        self._failed = False

    def __enter__(self) -> _Writer:
        if self._threaded:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-writer")
        return self

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self._executor is None:
            fn(*args)
            return
        while len(self._pending) >= self.DEPTH:
            self._pending.popleft().result()  # an error in the writer is raised here, in the caller's thread
        self._pending.append(self._executor.submit(self._run, fn, args))

    def _run(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        if self._failed:
            return  # a chunk before failed: the import stops there (the caller raises that chunk's error)
        try:
            fn(*args)
        except BaseException:
            self._failed = True
            raise

    def wait(self) -> None:
        """Until every chunk submitted is written (an error of any is raised here)."""
        while self._pending:
            self._pending.popleft().result()

    def __exit__(self, *exc: object) -> None:
        if self._executor is not None:
            # Never leave the session to a writer still running; after an error, the chunks not begun are dropped.
            self._executor.shutdown(wait=True, cancel_futures=exc[0] is not None)


def _sqlite_in(session: Session, sql: str, values: Sequence[str], *before: Any) -> Iterable[tuple[Any, ...]]:
    """SQLite: `sql` with `IN ({})` filled with a placeholder per value, through the driver. With SQLAlchemy's
    expanding IN, each of an import's lookups rendered and processed its 2,000 parameters anew (half of the
    writer thread's Python besides the cards' values, BENCHMARKS.md)."""
    return session.connection().exec_driver_sql(sql.format(", ".join("?" * len(values))), (*before, *values))


def _batches(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _LOOKUP_BATCH):
        yield items[i : i + _LOOKUP_BATCH]


def intake_totals(session: Session, office: Office) -> dict[str, int]:
    """The reconciliation's intake section: print runs, rows rejected, cards imported (by the runs' own counts,
    so that the report can check them against the cards that exist)."""
    runs, rejected, imported = session.execute(
        select(func.count(PrintRun.id), func.coalesce(func.sum(PrintRun.rows_rejected), 0),
               func.coalesce(func.sum(PrintRun.cards_imported), 0))
        .where(PrintRun.office_id == office.id)).one()
    return {"print_runs": runs, "rejected_rows": int(rejected), "cards_imported": int(imported)}


# --- the import as a background job (app/jobs.py) ---------------------------------------------------------------


def uploads_folder() -> Path:
    folder = Path(current_app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def import_job(ctx: JobContext) -> dict[str, Any]:
    """Run an uploaded print run's import in one transaction, reporting rows read, rejected and cards made."""
    path = Path(ctx.params["path"])
    if not path.exists():
        raise JobError("Berkas unggahan sudah tidak ada di server; unggah lagi.")
    total = estimate_rows(path, filename=ctx.params["filename"])

    def report(r: ImportResult) -> None:
        ctx.progress(done=r.lines_read, total=total, unit="baris", counts={
            "Baris dibaca": r.rows_read, "Kartu dibuat": r.cards_imported, "Baris ditolak": r.rows_rejected})

    with unit_of_work() as session:
        office = session.get(Office, ctx.office_id)
        try:
            result = import_print_run(session, path, office=office, actor=ctx.actor,
                                      filename=ctx.params["filename"],
                                      chunk_rows=current_app.config["INTAKE_CHUNK_ROWS"], progress=report,
                                      sha256=ctx.params.get("sha256"))
        except IntakeFileError as exc:
            raise JobError(f"{ctx.params['filename']}: {exc}") from exc
    path.unlink(missing_ok=True)
    if result.same_file_as is not None:
        summary = f"Berkas ini sudah diimpor sebagai print run #{result.same_file_as}. Tidak ada yang diimpor ulang."
        return {"summary": summary, "same_file_as": result.same_file_as,
                "links": [{"label": f"Print run #{result.same_file_as}", "url": f"/impor/{result.same_file_as}"}]}
    return {
        "summary": f"Print run #{result.print_run_id} diimpor: {result.cards_imported} kartu.",
        "print_run_id": result.print_run_id,
        "counts": {"Baris dibaca": result.rows_read, "Kartu diimpor": result.cards_imported,
                   "Cetak ganda": result.duplicates, "Ditarik": result.withdrawn, "Alamat belum jelas": result.unclear,
                   "Baris ditolak": result.rows_rejected, "Sudah diimpor sebelumnya": result.already_imported,
                   "Sudah diimpor, isi berbeda": result.rows_changed},
        "links": [{"label": f"Print run #{result.print_run_id}: baris ditolak dan status kartu",
                   "url": f"/impor/{result.print_run_id}"}]
        + ([{"label": f"{result.rows_changed} baris yang sudah diimpor berisi lain di berkas ini",
             "url": f"/impor/{result.print_run_id}#berbeda"}] if result.changed else []),
    }


def start_import(upload_path: Path, filename: str, office: Office, actor: Actor) -> tuple[int | None, int | None]:
    """Start the import of an uploaded file as a job: (job id, None), or (None, print run id) when this exact file
    was imported before; IntakeFileError, and no job, for a file refused at its start (not CSV or XLSX, no header,
    no data rows). The file is identified by its content, so the same file sent twice at the same moment is
    one job (its dedupe key) and one print run (a unique index)."""
    digest = file_sha256(upload_path)
    with unit_of_work() as session:
        earlier = run_of_file(session, office.id, digest)
    if earlier is not None:
        upload_path.unlink(missing_ok=True)
        return None, earlier
    try:  # what shows at the file's start (its kind, header, no data rows) is refused now, beside the upload field
        check_print_run(upload_path, filename=filename)
    except IntakeFileError:
        upload_path.unlink(missing_ok=True)
        raise
    kept = uploads_folder() / f"{digest}{upload_path.suffix}"
    os.replace(upload_path, kept)
    submitted = jobs.submit("import", {"path": str(kept), "filename": filename, "sha256": digest}, actor,
                            office_id=office.id,
                            title=f"Impor {filename}", dedupe_key=f"import:{office.id}:{digest}")
    return submitted.job_id, None
