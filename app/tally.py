"""The figures of every card, kept as they change: counts per area, state and day, without scanning the cards.

Triggers on `card` (migration 0009, one design for SQLite and PostgreSQL) write each change of a card's state, of its
kelurahan or of its return reason as a row of `card_flow_delta`: n cards of this key (office, print run, kelurahan,
return reason) went from one state to another on this day (WIB). Every writer is covered, the bulk statements of
intake and the courier's fold included, because the database does it, in the writer's own transaction.

Writers only ever insert deltas, so concurrent webhooks never wait for each other on a counter row. `fold` moves the
deltas into `card_flow` (one row per key, day and transition, summed); readers read both tables in one statement (one
snapshot: a fold that commits meanwhile is seen whole or not at all), so the figures are exact whether or not the
deltas were folded yet. A reader folds first when many deltas wait (`fold_if_needed`), and `antar dashboard fold`
does it from a command or a timer.

The count of a state S in a key is sum(n into S) - sum(n out of S); up to a day D, the same over days <= D, which is
what a report "per tanggal" needs. '' as from_state means created, as to_state deleted; '~' marks a move between keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint, bindparam, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.cards import CardState
from app.db import Base

CREATED, DELETED, MOVED = "", "", "~"
_STATES = {s.value: s for s in CardState}  # a dict lookup: CardState(text) costs ~6 us, at 10,000 rows 60 ms
FOLD_THRESHOLD = 20_000  # a reader folds first when at least this many deltas wait


class _FlowColumns:
    office_id: Mapped[int] = mapped_column(Integer)
    print_run_id: Mapped[int] = mapped_column(Integer)
    kelurahan_code: Mapped[str] = mapped_column(String(13))  # '' for a card not placed yet
    return_reason: Mapped[str] = mapped_column(String(30))  # the courier's reason code, '' when never returned
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    day: Mapped[dt.date] = mapped_column(Date)
    n: Mapped[int]


class CardFlow(_FlowColumns, Base):
    __tablename__ = "card_flow"
    __table_args__ = (UniqueConstraint("office_id", "print_run_id", "kelurahan_code", "return_reason", "from_state",
                                       "to_state", "day", name="uq_card_flow_key"),
                      Index("ix_card_flow_office_day", "office_id", "day"),
                      Index("ix_card_flow_office_to_day", "office_id", "to_state", "day"))
    id: Mapped[int] = mapped_column(primary_key=True)


class CardCount(Base):
    """The current count of one key in one state (no day): the dashboard's usual read, kept by `fold`."""

    __tablename__ = "card_count"
    __table_args__ = (UniqueConstraint("office_id", "print_run_id", "kelurahan_code", "return_reason", "state",
                                       name="uq_card_count_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(Integer)
    print_run_id: Mapped[int] = mapped_column(Integer)
    kelurahan_code: Mapped[str] = mapped_column(String(13))
    return_reason: Mapped[str] = mapped_column(String(30))
    state: Mapped[str] = mapped_column(String(24))
    n: Mapped[int]


class CardFlowDelta(_FlowColumns, Base):
    __tablename__ = "card_flow_delta"
    id: Mapped[int] = mapped_column(primary_key=True)


_KEY = "office_id, print_run_id, kelurahan_code, return_reason, from_state, to_state, day"
_COUNT_KEY = "office_id, print_run_id, kelurahan_code, return_reason"
# A delta as changes of the current count: +n into to_state, -n out of from_state ('' and '~' are no state).
_AS_COUNTS = f"""SELECT {_COUNT_KEY}, to_state AS state, n FROM {{source}} WHERE to_state NOT IN ('', '~') {{extra}}
    UNION ALL SELECT {_COUNT_KEY}, from_state, -n FROM {{source}} WHERE from_state NOT IN ('', '~') {{extra}}"""
_UPSERT_COUNT = f"""INSERT INTO card_count ({_COUNT_KEY}, state, n) SELECT {_COUNT_KEY}, state, sum(n)
    FROM ({{rows}}) AS c GROUP BY {_COUNT_KEY}, state
    ON CONFLICT ({_COUNT_KEY}, state) DO UPDATE SET n = card_count.n + excluded.n"""
_PG_FOLD = text(f"""
    WITH moved AS (DELETE FROM card_flow_delta RETURNING {_KEY}, n),
    flow AS (INSERT INTO card_flow ({_KEY}, n) SELECT {_KEY}, sum(n) FROM moved GROUP BY {_KEY}
             ON CONFLICT ({_KEY}) DO UPDATE SET n = card_flow.n + excluded.n),
    counted AS ({_UPSERT_COUNT.format(rows=_AS_COUNTS.format(source="moved", extra=""))})
    SELECT count(*) FROM moved""")
_SQLITE_FOLD = (
    text(f"""INSERT INTO card_flow ({_KEY}, n) SELECT {_KEY}, sum(n) FROM card_flow_delta WHERE id <= :last
             GROUP BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET n = card_flow.n + excluded.n"""),
    text(_UPSERT_COUNT.format(rows=_AS_COUNTS.format(source="card_flow_delta", extra="AND id <= :last"))),
    text("DELETE FROM card_flow_delta WHERE id <= :last"),
)


def fold(session: Session) -> int:
    """Move the waiting deltas into `card_flow` (per day) and `card_count` (now); returns how many were folded.
    Commit is the caller's.

    On PostgreSQL one statement deletes exactly the deltas it sees and adds them up (a delta committed meanwhile waits
    for the next fold); on SQLite writers are serialized, so the deltas up to the last id are folded and deleted."""
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(_PG_FOLD).scalar_one())
    last = session.execute(text("SELECT max(id), count(*) FROM card_flow_delta")).one()
    if last[0] is None:
        return 0
    for statement in _SQLITE_FOLD:
        session.execute(statement, {"last": last[0]})
    return int(last[1])


def pending(session: Session, limit: int = FOLD_THRESHOLD) -> int:
    """How many deltas wait, counted up to `limit` (cheap however many there are)."""
    return session.execute(text("SELECT count(*) FROM (SELECT 1 FROM card_flow_delta LIMIT :limit) AS d"),
                           {"limit": limit}).scalar_one()


def fold_if_needed(session: Session) -> None:
    """Fold when many deltas wait, so that a reader's statement stays small. Commits (its own small transaction)."""
    if pending(session) >= FOLD_THRESHOLD:
        fold(session)
        session.commit()


@dataclass(frozen=True, slots=True)
class Count:
    """Cards of one kelurahan and return reason in one state (of the print runs asked for)."""

    kelurahan_code: str
    return_reason: str
    state: CardState
    n: int


@dataclass(frozen=True, slots=True)
class DayFlow:
    """n cards went from one state to another on a day (from_state '': created)."""

    day: dt.date
    from_state: str
    to_state: str
    n: int


def _where(office_id: int, print_run_ids: Sequence[int] | None, kelurahan: str | None,
           until: dt.date | None = None) -> tuple[str, dict[str, Any]]:
    clauses, params = ["office_id = :office"], {"office": office_id}
    if print_run_ids is not None:
        clauses.append("print_run_id IN :runs")
        params["runs"] = list(print_run_ids) or [-1]
    if kelurahan is not None:
        clauses.append("kelurahan_code = :kelurahan")
        params["kelurahan"] = kelurahan
    if until is not None:
        clauses.append("day <= :until")
        params["until"] = until
    return " AND ".join(clauses), params


def _run(session: Session, sql: str, params: dict[str, Any], *expanding: str) -> Any:
    statement = text(sql)
    binds = [bindparam(name, expanding=True) for name in expanding if name in params]
    return session.execute(statement.bindparams(*binds) if binds else statement, params)


def counts(session: Session, office_id: int, *, print_run_ids: Sequence[int] | None = None,
           kelurahan: str | None = None, until: dt.date | None = None) -> list[Count]:
    """The office's cards per kelurahan, return reason and state: now (from `card_count`), or at the end of the day
    `until` (from `card_flow`); with the deltas not folded yet, in the same statement."""
    where, params = _where(office_id, print_run_ids, kelurahan, until)
    key = "kelurahan_code, return_reason"
    if until is None:
        kept = f"SELECT {key}, state, n FROM card_count WHERE {where}"
    else:
        kept = _AS_COUNTS.format(source="card_flow", extra=f"AND {where}").replace(_COUNT_KEY, key)
    pending_rows = _AS_COUNTS.format(source="card_flow_delta", extra=f"AND {where}").replace(_COUNT_KEY, key)
    sql = (f"SELECT {key}, state, sum(n) FROM ({kept} UNION ALL {pending_rows}) AS c "
           f"GROUP BY {key}, state HAVING sum(n) <> 0")
    rows = _run(session, sql, params, "runs").all()
    return [Count(k, reason, _STATES[st], int(n)) for k, reason, st, n in rows]


def day_flows(session: Session, office_id: int, to_states: Sequence[CardState], *,
              print_run_ids: Sequence[int] | None = None, kelurahan: str | None = None,
              since: dt.date | None = None, until: dt.date | None = None) -> list[DayFlow]:
    """Changes of state into `to_states`, per day and transition (moves between keys left out)."""
    where, params = _where(office_id, print_run_ids, kelurahan, until)
    where += " AND to_state IN :targets AND from_state <> '~'"
    params["targets"] = [s.value for s in to_states]
    if since is not None:
        where += " AND day >= :since"
        params["since"] = since
    columns = "day, from_state, to_state"
    sql = (f"SELECT {columns}, sum(n) FROM (SELECT {columns}, n FROM card_flow WHERE {where} "
           f"UNION ALL SELECT {columns}, n FROM card_flow_delta WHERE {where}) AS f GROUP BY {columns}")
    rows = _run(session, sql, params, "runs", "targets").all()
    return [DayFlow(_as_date(d), f, t, int(n)) for d, f, t, n in rows]


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)  # SQLite returns text from a union


def rebuild(session: Session) -> int:
    """Count every card again from its current state (after a restore, or to repair): the per-day history before
    today is replaced by each card's last change. Returns the number of cards counted."""
    session.execute(text("DELETE FROM card_flow_delta"))
    session.execute(text("DELETE FROM card_flow"))
    session.execute(text("DELETE FROM card_count"))
    pg = session.get_bind().dialect.name == "postgresql"
    day = ("(state_changed_at AT TIME ZONE 'Asia/Jakarta')::date" if pg
           else "date(state_changed_at, '+7 hours')")
    session.execute(text(f"""
        INSERT INTO card_flow ({_KEY}, n)
        SELECT office_id, print_run_id, coalesce(kelurahan_code, ''), coalesce(return_reason, ''), '', state, {day},
               count(*) FROM card GROUP BY 1, 2, 3, 4, 5, 6, 7"""))
    session.execute(text(f"""
        INSERT INTO card_count ({_COUNT_KEY}, state, n)
        SELECT office_id, print_run_id, coalesce(kelurahan_code, ''), coalesce(return_reason, ''), state, count(*)
        FROM card GROUP BY 1, 2, 3, 4, 5"""))
    return session.execute(text("SELECT coalesce(sum(n), 0) FROM card_flow")).scalar_one()


def differences(session: Session, office_id: int) -> list[tuple[str, str, int, int]]:
    """Where the kept figures (the current counts, and the per-day flows summed to today) and a count of the cards
    themselves disagree: (kelurahan, state, kept, cards). Empty when they agree, which they do unless a card was
    changed behind the triggers' back."""
    actual = {(k or "", s): int(n) for k, s, n in session.execute(text(
        "SELECT kelurahan_code, state, count(*) FROM card WHERE office_id = :o GROUP BY kelurahan_code, state"),
        {"o": office_id})}
    found: dict[tuple[str, str, int, int], None] = {}
    for until in (None, dt.date.max):
        kept: dict[tuple[str, str], int] = {}
        for c in counts(session, office_id, until=until):
            key = (c.kelurahan_code, c.state.value)
            kept[key] = kept.get(key, 0) + c.n
        for k, st in sorted(set(kept) | set(actual)):
            if kept.get((k, st), 0) != actual.get((k, st), 0):
                found[(k, st, kept.get((k, st), 0), actual.get((k, st), 0))] = None
    return list(found)
