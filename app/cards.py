"""The card's states and the transitions allowed between them: the one place that says how a card moves.

Every domain moves cards, so every card is created and every state change is made here, and only here is the
card's history written (who, when, why):

- `create_cards`: new cards at intake, each with its first history row (from no state);
- `move`: one card (ORM);
- `move_many`: many cards to one state, all or nothing;
- `apply_moves`: many cards each to its own state with its own reason (the courier's events); a move the state
  machine does not allow is refused and returned to the caller to report, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import chain
from typing import Any

from sqlalchemy import Boolean, Column, Enum, ForeignKey, Index, String, false, insert, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.db import Base, UTCDateTime, is_postgresql, pg_execute, pg_params, pg_rows, update_by_id, utcnow


class CardState(StrEnum):
    ADDRESS_UNCLEAR = "ADDRESS_UNCLEAR"
    READY = "READY"
    DUPLICATE = "DUPLICATE"
    DAMAGED = "DAMAGED"
    WITHDRAWN = "WITHDRAWN"
    ON_MANIFEST = "ON_MANIFEST"
    WITH_COURIER = "WITH_COURIER"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    RETURNING = "RETURNING"
    RETURNED = "RETURNED"
    # Kelurahan handover (returns/): gathered into a batch, sent, received by the officer, then one disposition.
    BATCHED = "BATCHED"
    SENT_TO_KELURAHAN = "SENT_TO_KELURAHAN"
    AT_KELURAHAN = "AT_KELURAHAN"
    MISSING = "MISSING"
    HANDED_TO_HOLDER = "HANDED_TO_HOLDER"
    HOLDER_DECEASED = "HOLDER_DECEASED"
    READDRESSED = "READDRESSED"
    NOT_COLLECTED = "NOT_COLLECTED"
    # The last mile as offices practise it (courier contract, section 6; intake: addresses the postman cannot use).
    AT_POST_OFFICE = "AT_POST_OFFICE"
    FOR_COLLECTION = "FOR_COLLECTION"


STATE_LABELS: dict[CardState, str] = {
    CardState.ADDRESS_UNCLEAR: "Alamat belum jelas (diperiksa)",
    CardState.READY: "Siap dikirim",
    CardState.DUPLICATE: "Cetak ganda (disisihkan)",
    CardState.DAMAGED: "Rusak (cetak ulang)",
    CardState.WITHDRAWN: "Ditarik (ke kelurahan)",
    CardState.ON_MANIFEST: "Dalam manifest (belum diserahkan)",
    CardState.WITH_COURIER: "Diserahkan ke kurir",
    CardState.IN_TRANSIT: "Dalam pengantaran",
    CardState.DELIVERED: "Terkirim ke pemilik",
    CardState.RETURNING: "Dikembalikan kurir (menuju kantor)",
    CardState.RETURNED: "Kembali di Disdukcapil",
    CardState.BATCHED: "Disiapkan untuk kelurahan",
    CardState.SENT_TO_KELURAHAN: "Dikirim ke kelurahan",
    CardState.AT_KELURAHAN: "Di kelurahan, menunggu diambil",
    CardState.MISSING: "Hilang saat serah terima (dilaporkan)",
    CardState.HANDED_TO_HOLDER: "Diserahkan di kelurahan",
    CardState.HOLDER_DECEASED: "Pemilik meninggal (disimpan untuk dimusnahkan)",
    CardState.READDRESSED: "Pindah alamat: kembali ke kantor untuk dikirim ulang",
    CardState.NOT_COLLECTED: "Tidak diambil: kembali ke kantor",
    CardState.AT_POST_OFFICE: "Menunggu diambil di kantor pos",
    CardState.FOR_COLLECTION: "Alamat tak dapat diantar: diambil di kelurahan",
}

# `None` is the state before intake: the states a card may start in.
TRANSITIONS: dict[CardState | None, frozenset[CardState]] = {
    None: frozenset({CardState.ADDRESS_UNCLEAR, CardState.READY, CardState.DUPLICATE, CardState.WITHDRAWN}),
    # A clerk places the address (or the area turns out to be withdrawn).
    # A clerk places the address, sends the card to its kelurahan for collection (no deliverable address), or the
    # area turns out to be withdrawn.
    CardState.ADDRESS_UNCLEAR: frozenset({CardState.READY, CardState.WITHDRAWN, CardState.DAMAGED,
                                          CardState.FOR_COLLECTION}),
    # Collected at the kelurahan: in a handover batch like a withdrawn card, or a clerk finds a deliverable address.
    CardState.FOR_COLLECTION: frozenset({CardState.BATCHED, CardState.READY, CardState.DAMAGED}),
    CardState.READY: frozenset({CardState.DAMAGED, CardState.WITHDRAWN, CardState.ON_MANIFEST}),
    # Staff take a card off a manifest before handover, the area is withdrawn, or the courier accepts it.
    CardState.ON_MANIFEST: frozenset({CardState.READY, CardState.WITHDRAWN, CardState.DAMAGED,
                                      CardState.WITH_COURIER}),
    # The courier's tracking events move the card (delivery/service.py); the courier may try again after
    # saying it would return an item, so RETURNING can go back to IN_TRANSIT.
    CardState.WITH_COURIER: frozenset({CardState.IN_TRANSIT, CardState.DELIVERED, CardState.RETURNING,
                                       CardState.RETURNED, CardState.AT_POST_OFFICE}),
    CardState.IN_TRANSIT: frozenset({CardState.DELIVERED, CardState.RETURNING, CardState.RETURNED,
                                     CardState.AT_POST_OFFICE}),
    CardState.RETURNING: frozenset({CardState.IN_TRANSIT, CardState.DELIVERED, CardState.RETURNED,
                                    CardState.AT_POST_OFFICE}),
    # Attempts are over, the item waits at a post office: collected at the counter, or returned when `until` passed.
    CardState.AT_POST_OFFICE: frozenset({CardState.DELIVERED, CardState.RETURNING, CardState.RETURNED,
                                         CardState.IN_TRANSIT}),
    CardState.DELIVERED: frozenset(),
    # Returned and withdrawn cards go to their kelurahan in a handover batch (returns/service.py).
    CardState.RETURNED: frozenset({CardState.BATCHED}),
    CardState.BATCHED: frozenset({CardState.SENT_TO_KELURAHAN, CardState.RETURNED, CardState.WITHDRAWN,
                                  CardState.FOR_COLLECTION}),
    CardState.SENT_TO_KELURAHAN: frozenset({CardState.AT_KELURAHAN, CardState.MISSING}),
    CardState.AT_KELURAHAN: frozenset({CardState.HANDED_TO_HOLDER, CardState.HOLDER_DECEASED,
                                       CardState.READDRESSED, CardState.NOT_COLLECTED}),
    # A disposition is final except by staff correction (back to waiting at the kelurahan); a card reported
    # missing that turns up is corrected the same way.
    CardState.MISSING: frozenset({CardState.AT_KELURAHAN}),
    CardState.HANDED_TO_HOLDER: frozenset({CardState.AT_KELURAHAN}),
    CardState.HOLDER_DECEASED: frozenset({CardState.AT_KELURAHAN}),
    CardState.NOT_COLLECTED: frozenset({CardState.AT_KELURAHAN}),
    # A moved holder's card, back at the office with its new address: ready for a later manifest.
    CardState.READDRESSED: frozenset({CardState.AT_KELURAHAN, CardState.READY, CardState.ADDRESS_UNCLEAR}),
    CardState.DUPLICATE: frozenset({CardState.DAMAGED}),
    CardState.WITHDRAWN: frozenset({CardState.DAMAGED, CardState.BATCHED}),
    CardState.DAMAGED: frozenset(),
}

# While a card is in one of these states it stands for its NIK: another card printed for the same NIK
# is a duplicate print. A damaged card does not (it is reprinted), nor a delivered one.
HOLDS_NIK: frozenset[CardState] = frozenset({
    CardState.ADDRESS_UNCLEAR, CardState.READY, CardState.WITHDRAWN, CardState.ON_MANIFEST, CardState.WITH_COURIER,
    CardState.IN_TRANSIT, CardState.RETURNING, CardState.RETURNED, CardState.BATCHED, CardState.SENT_TO_KELURAHAN,
    CardState.AT_KELURAHAN, CardState.READDRESSED, CardState.NOT_COLLECTED, CardState.AT_POST_OFFICE,
    CardState.FOR_COLLECTION})


def _state_column() -> Enum:
    # Stored as text without a CHECK constraint so that later states need no table rebuild on SQLite.
    return Enum(CardState, native_enum=False, length=24, validate_strings=True)


class Card(Base):
    """One printed e-KTP card: a physical object, identified by the serial number of its blank."""

    __tablename__ = "card"
    __table_args__ = (
        Index("ix_card_office_nik", "office_id", "nik"),
        # With the state: the reconciliation's counts per kelurahan and state, and a print run's counts per state, are
        # index-only scans (migration 0016).
        Index("ix_card_office_kelurahan_state", "office_id", "kelurahan_code", "state"),
        # By office and state (lists, counts), and by when the state changed: one index for both (migration 0019).
        Index("ix_card_office_state_changed", "office_id", "state", "state_changed_at"),
        Index("ix_card_print_run_state", "print_run_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    print_run_id: Mapped[int] = mapped_column(ForeignKey("print_run.id"))
    line: Mapped[int]
    nomor_blanko: Mapped[str] = mapped_column(String(40), unique=True)
    nik: Mapped[str] = mapped_column(String(16))
    nama: Mapped[str] = mapped_column(String(200))
    tempat_lahir: Mapped[str] = mapped_column(String(100))
    tanggal_lahir: Mapped[dt.date]
    jenis_kelamin: Mapped[str] = mapped_column(String(1))
    alamat: Mapped[str] = mapped_column(String(500))
    rt: Mapped[str | None] = mapped_column(String(3))
    rw: Mapped[str | None] = mapped_column(String(3))
    kelurahan_raw: Mapped[str | None] = mapped_column(String(120))
    kecamatan_raw: Mapped[str | None] = mapped_column(String(120))
    kabupaten_kota_raw: Mapped[str | None] = mapped_column(String(120))
    provinsi_raw: Mapped[str | None] = mapped_column(String(120))
    kode_wilayah_raw: Mapped[str | None] = mapped_column(String(20))
    kode_pos_raw: Mapped[str | None] = mapped_column(String(5))
    no_kk: Mapped[str | None] = mapped_column(String(16))  # not written any more: see no_kk_hash
    # The family card number as a keyed hash (HMAC-SHA256, key outside the database): the citizen's second factor.
    no_kk_hash: Mapped[str | None] = mapped_column(String(64))  # read beside the NIK only: no index of its own
    no_hp: Mapped[str | None] = mapped_column(String(20))
    cod_amount: Mapped[int | None]  # layanan COD: the fee the citizen pays the postman, whole rupiah
    collect_old_card: Mapped[bool] = mapped_column(default=False, server_default=false())
    tanggal_cetak: Mapped[dt.date]
    # The kelurahan/desa the card belongs to (Kemendagri code), once its address is CLEAR.
    kelurahan_code: Mapped[str | None] = mapped_column(String(13))
    # The normalized address (address/normalize.py): status, reasons, the clean parts and a location.
    address_status: Mapped[str | None] = mapped_column(String(8))
    address_flags: Mapped[str] = mapped_column(String(200), default="", server_default="")
    address_candidate: Mapped[str | None] = mapped_column(String(13))  # best guess of an UNCLEAR address
    # The street part, tidied from `alamat` (250 characters at most, the intake spec): as long as the tidying can make
    # it, three times over (a letter upper-cased can become three, "ΐ"; "NO1" becomes "NO. 1"): migration 0026.
    street: Mapped[str | None] = mapped_column(String(750))
    kode_pos: Mapped[str | None] = mapped_column(String(5))
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    geo_precision: Mapped[str | None] = mapped_column(String(16))
    # Why the courier brought the card back (a RETURNED reason code of the contract), once it did.
    return_reason: Mapped[str | None] = mapped_column(String(30))
    state: Mapped[CardState] = mapped_column(_state_column())
    state_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # For a duplicate print: the card that goes out instead.
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))

    history: Mapped[list[CardHistory]] = relationship(
        back_populates="card", order_by="CardHistory.id", cascade="all, delete-orphan"
    )

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


class CardHistory(Base):
    """One state change of a card: from, to, when, who and why. Never updated, never deleted."""

    __tablename__ = "card_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    from_state: Mapped[CardState | None] = mapped_column(_state_column())
    to_state: Mapped[CardState] = mapped_column(_state_column())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(String(500))

    card: Mapped[Card] = relationship(back_populates="history")


class TransitionError(ValueError):
    """A state change the lifecycle does not allow; the message is for staff (Bahasa Indonesia)."""


def can_move(current: CardState | None, target: CardState) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check_move(card_label: str, current: CardState | None, target: CardState) -> None:
    if not can_move(current, target):
        now = STATE_LABELS[current] if current else "belum ada"
        raise TransitionError(
            f"Kartu {card_label} berstatus '{now}' dan tidak dapat diubah menjadi '{STATE_LABELS[target]}'."
        )


class Actor:
    """Who made a change: a logged-in user, or a named system process (intake, courier webhook...)."""

    def __init__(self, label: str, user_id: int | None = None) -> None:
        self.label = label
        self.user_id = user_id

    @classmethod
    def system(cls, process: str) -> Actor:
        return cls(f"sistem:{process}")

    def __repr__(self) -> str:
        return f"Actor({self.label!r})"


def move(session: Session, card: Card, target: CardState, actor: Actor, reason: str) -> None:
    """Move one card to `target`, recording the change in its history."""
    check_move(card.nomor_blanko, card.state, target)
    at = utcnow()
    session.add(
        CardHistory(card=card, from_state=card.state, to_state=target, at=at,
                    actor=actor.label, user_id=actor.user_id, reason=reason)
    )
    card.state = target
    card.state_changed_at = at


def move_many(
    session: Session, card_ids: Sequence[int], target: CardState, actor: Actor, reason: str,
    *, expect: Iterable[CardState] | None = None,
) -> int:
    """Move many cards at once (bulk statements); every card must be allowed to move. Returns the count.

    `expect` narrows which current states are accepted; a card in any other state aborts the whole move,
    so nothing is half-done.
    """
    if not card_ids:
        return 0
    allowed_from = {s for s, targets in TRANSITIONS.items() if s is not None and target in targets}
    if expect is not None:
        allowed_from &= set(expect)
    at = utcnow()
    history = []
    for chunk in _chunks(list(card_ids), 5000):
        rows = session.execute(select(Card.id, Card.state, Card.nomor_blanko).where(Card.id.in_(chunk))).all()
        if len(rows) != len(set(chunk)):
            raise TransitionError("Sebagian kartu tidak ditemukan.")
        for row in rows:
            if row.state not in allowed_from:
                check_move(row.nomor_blanko, row.state, target)
                raise TransitionError(f"Kartu {row.nomor_blanko} tidak dapat dipindahkan dari status ini.")
        history.extend(_history(r.id, r.state, target, at, actor, reason) for r in rows)
        session.execute(update(Card).where(Card.id.in_(chunk)).values(state=target, state_changed_at=at))
    session.execute(insert(CardHistory), history)
    return len(history)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def cards_by_blanko(session: Session, office_id: int, blankos: Iterable[str]) -> tuple[dict[str, Card], list[str]]:
    """The office's cards for these blanko numbers (blanks skipped, each once, in the order given) and the numbers
    not found: every operation that takes blanko numbers from staff looks them up here."""
    wanted = list(dict.fromkeys(b.strip() for b in blankos if b and b.strip()))
    found = {c.nomor_blanko: c for c in session.scalars(
        select(Card).where(Card.office_id == office_id, Card.nomor_blanko.in_(wanted)))} if wanted else {}
    return {b: found[b] for b in wanted if b in found}, [b for b in wanted if b not in found]


@dataclass(frozen=True, slots=True)
class NewCard:
    """A card to create: its columns' values (in the order `create_cards` is given the columns: a tuple per card,
    not a dict, as an import makes 100,000 of them), its first state and why."""

    values: Sequence[Any]
    state: CardState
    reason: str


def create_cards(session: Session, columns: Sequence[str], cards: Sequence[NewCard], actor: Actor, *,
                 at: dt.datetime | None = None) -> list[int]:
    """Insert new cards in bulk, each with its first history row; returns their ids in the order given. `columns`:
    the card columns of each card's values (`nomor_blanko` among them; not `id`, `state` or `state_changed_at`).

    Core executemany with RETURNING runs as a few multi-row INSERTs (the ORM's ordered variant falls back to one
    statement per row on SQLite); the ids are matched back by the unique blanko number.
    """
    if not cards:
        return []
    if len(cards[0].values) != len(columns) or {"id", "state", "state_changed_at"} & set(columns):
        raise ValueError(f"create_cards: {len(cards[0].values)} values for the columns {', '.join(columns)}")
    for state in {c.state for c in cards}:
        check_move("baru", None, state)
    at = at or utcnow()
    table = Card.__table__
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        return _create_cards_sqlite(conn, columns, cards, actor, at)
    stmt = insert(table).returning(table.c.id, table.c.nomor_blanko)
    id_of = dict((b, i) for i, b in conn.execute(
        stmt, [{**dict(zip(columns, c.values, strict=True)), "state": c.state, "state_changed_at": at}
               for c in cards]))
    blanko = list(columns).index("nomor_blanko")
    ids = [id_of[c.values[blanko]] for c in cards]
    conn.execute(insert(CardHistory.__table__), [
        _history(cid, None, c.state, at, actor, c.reason) for cid, c in zip(ids, cards, strict=True)])
    return ids


def _create_cards_sqlite(conn: Any, columns: Sequence[str], cards: Sequence[NewCard], actor: Actor,
                         at: dt.datetime) -> list[int]:
    """`create_cards` on SQLite, through the driver: SQLAlchemy's per-row parameter processing cost more than SQLite's
    own insert (an intake creates 100,000 cards and more at once), and many rows per INSERT statement make SQLite's
    per-statement work (the card triggers' statement journal) once per batch instead of once per card. The values
    are converted as SQLAlchemy would (each column type's bind processor, Python-side column defaults). The first
    card's id comes from the database; the others follow it: that insert took the database's write lock, so no
    other writer can take these ids before the transaction ends, and a clash would fail the insert, never mix
    cards."""
    card, history = Card.__table__, CardHistory.__table__
    dialect = conn.dialect
    keys = list(columns)
    defaults = {c.name: c.default.arg for c in card.c if c.name not in keys and c.default is not None
                and c.default.is_scalar and c.name not in ("id", "state", "state_changed_at")}
    names = ["id", *keys, *defaults, "state", "state_changed_at"]

    def bind(column: Column) -> Callable[[Any], Any] | None:
        return column.type.dialect_impl(dialect).bind_processor(dialect)

    def processor(column: Column) -> Callable[[Any], Any]:
        return bind(column) or (lambda v: v)

    # Values repeat (dates, flags, states): each distinct value of a column is converted once.
    convert = [(1 + k, process, {}) for k, name in enumerate(keys) if (process := bind(card.c[name]))]
    constant = [processor(card.c[name])(value) for name, value in defaults.items()]
    used_states = {c.state for c in cards}
    state, when = processor(card.c.state), processor(card.c.state_changed_at)(at)
    states = {s: state(s) for s in used_states}
    rows = []
    for c in cards:
        row = [None, *c.values, *constant, states[c.state], when]
        for i, process, seen in convert:
            value = row[i]
            if value in seen:
                row[i] = seen[value]
            else:
                row[i] = seen[value] = process(value)
        rows.append(row)
    driver = conn.connection.driver_connection
    per_statement = max(1, min(512, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(names)))
    columns = ", ".join(names)
    first = driver.execute(f"INSERT INTO card ({', '.join(names[1:])}) VALUES ({', '.join('?' * (len(names) - 1))}) "
                           "RETURNING id", rows[0][1:]).fetchone()[0]
    ids = list(range(first, first + len(rows)))
    for i, row in zip(ids, rows, strict=True):
        row[0] = i
    _insert_rows(driver, "card", columns, len(names), rows[1:], per_statement)
    to_state = processor(history.c.to_state)
    no_state, history_at = processor(history.c.from_state)(None), processor(history.c.at)(at)
    history_states = {s: to_state(s) for s in used_states}
    _insert_rows(driver, "card_history", "card_id, from_state, to_state, at, actor, user_id, reason", 7,
                 [(i, no_state, history_states[c.state], history_at, actor.label, actor.user_id, c.reason[:500])
                  for i, c in zip(ids, cards, strict=True)], per_statement)
    return ids


def _insert_rows(driver: Any, table: str, columns: str, width: int, rows: Sequence[Sequence[Any]],
                 per_statement: int) -> None:
    """Rows as multi-row INSERT statements of `per_statement` rows, the rest in statements of halving sizes
    (256, 128, ... 1 rows): the driver keeps each statement text it has run prepared, a few MB for one of
    thousands of parameters, so the texts must be few, not one per length."""
    row = f"({', '.join('?' * width)})"
    start, size = 0, per_statement
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        batch = rows[start:start + size]
        driver.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * size)}",
                       list(chain.from_iterable(batch)))  # flattened in C: half the time of a comprehension
        start += size


@dataclass(frozen=True, slots=True)
class Move:
    """One card to move: the state the caller read it in (under its lock), the target, why, and other columns
    that change with the move (`values`, e.g. the courier's return reason)."""

    card_id: int
    current: CardState
    target: CardState
    reason: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefusedMove:
    move: Move
    message: str


def apply_moves(session: Session, moves: Sequence[Move], actor: Actor, *, at: dt.datetime | None = None,
                strict: bool = True) -> list[RefusedMove]:
    """Move many cards, each to its own state with its own reason, in bulk (one UPDATE per set of columns, one
    INSERT of history rows; on PostgreSQL one statement for both). A move the state machine does not allow raises
    TransitionError when `strict` (and nothing is moved); otherwise it is left out and returned, for the caller to
    report."""
    allowed, refused = check_moves(moves)
    if refused and strict:
        raise TransitionError(f"Kartu #{refused[0].move.card_id}: {refused[0].message}.")
    if allowed:
        at = at or utcnow()
        if is_postgresql(session):
            parts, params = pg_move_parts(allowed, actor, at)
            pg_execute(session, f"WITH {', '.join(parts)} SELECT 1", params)
            return refused
        update_by_id(session, Card, [{"id": m.card_id, "state": m.target, "state_changed_at": at, **m.values}
                                     for m in allowed])
        session.execute(insert(CardHistory.__table__), [
            _history(m.card_id, m.current, m.target, at, actor, m.reason) for m in allowed])
    return refused


def check_moves(moves: Sequence[Move]) -> tuple[list[Move], list[RefusedMove]]:
    """The moves the state machine allows, and those it refuses with why."""
    allowed, refused = [], []
    for m in moves:
        if can_move(m.current, m.target):
            allowed.append(m)
            continue
        now = STATE_LABELS[m.current]
        refused.append(RefusedMove(m, f"status kartu '{now}' tidak dapat menjadi '{STATE_LABELS[m.target]}'"))
    return allowed, refused


_SET = Column("set", Boolean())  # the type of the flags "this move sets that column"


def pg_move_parts(moves: Sequence[Move], actor: Actor, at: dt.datetime, *, prefix: str = "mv",
                  guard: str | None = None) -> tuple[list[str], dict[str, Any]]:
    """PostgreSQL: the parts of a WITH clause (and their parameters) that make these moves, already checked
    (`check_moves`): one UPDATE of the cards (each row sets the other columns of its move's `values`) and one INSERT
    of their history rows, so that a caller can make them in the same statement as its own writes (the courier
    webhook: one round trip). The card triggers (app/tally.py) fire once for that UPDATE. `guard`: an SQL condition
    (on the caller's other parts) without which nothing is written."""
    card, history = Card.__table__.c, CardHistory.__table__.c
    extra = sorted({k for m in moves for k in m.values} - {"state_changed_at"})
    names = ["id", "state", "state_changed_at", *extra, *(f"set_{k}" for k in extra), "from_state", "reason"]
    columns = [card.id, card.state, card.state_changed_at, *(card[k] for k in extra), *(_SET for _ in extra),
               history.from_state, history.reason]
    rows = [{"id": m.card_id, "state": m.target, "state_changed_at": at, **m.values,
             **{f"set_{k}": k in m.values for k in extra}, "from_state": m.current, "reason": m.reason[:500]}
            for m in moves]
    src, one = f"{prefix}_", len(rows) == 1
    key = (prefix, tuple(extra), one, guard)
    parts = _PG_MOVE_PARTS.get(key)
    if parts is None:
        sets = ", ".join(["state = v.state", "state_changed_at = v.state_changed_at",
                          *(f"{k} = CASE WHEN v.set_{k} THEN v.{k} ELSE card.{k} END" for k in extra)])
        only = f" AND {guard}" if guard else ""
        parts = _PG_MOVE_PARTS[key] = [
            f"{src} AS (SELECT * FROM {pg_rows(columns, src, names, one=one)})",
            f"{prefix}_cards AS (UPDATE card SET {sets} FROM {src} AS v WHERE card.id = v.id{only})",
            f"{prefix}_history AS (INSERT INTO card_history (card_id, from_state, to_state, at, actor, user_id, "
            f"reason) SELECT v.id, v.from_state, v.state, %({prefix}_at)s::timestamptz, "
            f"%({prefix}_actor)s::varchar, %({prefix}_user)s::integer, v.reason FROM {src} AS v WHERE true{only})"]
    return parts, {**pg_params(rows, names, src, one=one), f"{prefix}_at": at, f"{prefix}_actor": actor.label,
                   f"{prefix}_user": actor.user_id}


_PG_MOVE_PARTS: dict[tuple[Any, ...], list[str]] = {}


def set_card_values(session: Session, rows: list[dict[str, Any]]) -> None:
    """Change columns of cards that are not their state (e.g. a late return reason), by id, in bulk."""
    if any("state" in r or "state_changed_at" in r for r in rows):
        raise ValueError("a card's state changes only through a move (history)")
    if rows:
        update_by_id(session, Card, rows)


def _history(card_id: int, current: CardState | None, target: CardState, at: dt.datetime, actor: Actor,
             reason: str) -> dict[str, Any]:
    return {"card_id": card_id, "from_state": current, "to_state": target, "at": at, "actor": actor.label,
            "user_id": actor.user_id, "reason": reason[:500]}


def redact_history(session: Session, card_ids: Sequence[int], redact: Callable[[int, str], str]) -> int:
    """Take personal data out of the history reasons of these cards (`antar purge`, UU PDP 27/2022): the one
    change a history row may ever get; its states, time and actor stay. Returns how many rows changed."""
    changed = []
    for history_id, card_id, reason in session.execute(
            select(CardHistory.id, CardHistory.card_id, CardHistory.reason).where(CardHistory.card_id.in_(card_ids))):
        new = redact(card_id, reason)
        if new != reason:
            changed.append({"id": history_id, "reason": new[:500]})
    update_by_id(session, CardHistory, changed)
    return len(changed)

