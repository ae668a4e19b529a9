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

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint, bindparam, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.cards import CardState
from app.db import Base

CREATED, DELETED, MOVED = "", "", "~"
FOLD_THRESHOLD = 20_000  # a reader folds first when at least this many deltas wait


class _FlowColumns:
    office_id: Mapped[int] = mapped_column(Integer)
    print_run_id: Mapped[int] = mapped_column(Integer)
    kelurahan_code: Mapped[str] = mapped_column(String(13))  # '' for a card not placed yet
    return_reason: Mapped[str] = mapped_column(String(20))  # the courier's reason code, '' when never returned
    from_state: Mapped[str] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    day: Mapped[dt.date] = mapped_column(Date)
    n: Mapped[int]


class CardFlow(_FlowColumns, Base):
    __tablename__ = "card_flow"
    __table_args__ = (UniqueConstraint("office_id", "print_run_id", "kelurahan_code", "return_reason", "from_state",
                                       "to_state", "day", name="uq_card_flow_key"),
                      Index("ix_card_flow_office_day", "office_id", "day"))
    id: Mapped[int] = mapped_column(primary_key=True)


class CardFlowDelta(_FlowColumns, Base):
    __tablename__ = "card_flow_delta"
    id: Mapped[int] = mapped_column(primary_key=True)


_KEY = "office_id, print_run_id, kelurahan_code, return_reason, from_state, to_state, day"
_PG_FOLD = text(f"""
    WITH moved AS (DELETE FROM card_flow_delta RETURNING {_KEY}, n)
    INSERT INTO card_flow ({_KEY}, n) SELECT {_KEY}, sum(n) FROM moved GROUP BY {_KEY}
    ON CONFLICT ({_KEY}) DO UPDATE SET n = card_flow.n + excluded.n""")
_SQLITE_FOLD = (
    text(f"""INSERT INTO card_flow ({_KEY}, n) SELECT {_KEY}, sum(n) FROM card_flow_delta WHERE id <= :last
             GROUP BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET n = card_flow.n + excluded.n"""),
    text("DELETE FROM card_flow_delta WHERE id <= :last"),
)


def fold(session: Session) -> int:
    """Move the waiting deltas into `card_flow`; returns how many were folded. Commit is the caller's.

    On PostgreSQL one statement deletes exactly the deltas it sees and adds them up (a delta committed meanwhile waits
    for the next fold); on SQLite writers are serialized, so the deltas up to the last id are folded and deleted."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(_PG_FOLD).rowcount or 0
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
    """Cards of one key in one state."""

    print_run_id: int
    kelurahan_code: str
    return_reason: str
    state: CardState
    n: int


@dataclass(frozen=True, slots=True)
class Flow:
    """n cards of a kelurahan went from one state to another on a day (from_state '' : created)."""

    day: dt.date
    kelurahan_code: str
    return_reason: str
    from_state: str
    to_state: str
    n: int


def _where(print_run_ids: Sequence[int] | None, until: dt.date | None) -> tuple[str, dict]:
    clauses, params = ["office_id = :office"], {}
    if print_run_ids is not None:
        clauses.append("print_run_id IN :runs")
        params["runs"] = list(print_run_ids) or [-1]
    if until is not None:
        clauses.append("day <= :until")
        params["until"] = until
    return " AND ".join(clauses), params


def _both(columns: str, where: str) -> str:
    return (f"SELECT {columns} FROM card_flow WHERE {where} "
            f"UNION ALL SELECT {columns} FROM card_flow_delta WHERE {where}")


def counts(session: Session, office_id: int, *, print_run_ids: Sequence[int] | None = None,
           until: dt.date | None = None) -> list[Count]:
    """The office's cards per print run, kelurahan, return reason and state (up to the end of `until`)."""
    where, params = _where(print_run_ids, until)
    sql = text(f"""
        SELECT print_run_id, kelurahan_code, return_reason, state, sum(n) FROM (
          SELECT print_run_id, kelurahan_code, return_reason, to_state AS state, n FROM card_flow
            WHERE {where} AND to_state NOT IN ('', '~')
          UNION ALL SELECT print_run_id, kelurahan_code, return_reason, to_state, n FROM card_flow_delta
            WHERE {where} AND to_state NOT IN ('', '~')
          UNION ALL SELECT print_run_id, kelurahan_code, return_reason, from_state, -n FROM card_flow
            WHERE {where} AND from_state NOT IN ('', '~')
          UNION ALL SELECT print_run_id, kelurahan_code, return_reason, from_state, -n FROM card_flow_delta
            WHERE {where} AND from_state NOT IN ('', '~')
        ) AS f GROUP BY print_run_id, kelurahan_code, return_reason, state HAVING sum(n) <> 0""")
    if "runs" in params:
        sql = sql.bindparams(bindparam("runs", expanding=True))
    rows = session.execute(sql, {"office": office_id, **params}).all()
    return [Count(r, k, reason, CardState(s), int(n)) for r, k, reason, s, n in rows]


def flows(session: Session, office_id: int, to_states: Sequence[CardState], *,
          print_run_ids: Sequence[int] | None = None, since: dt.date | None = None,
          until: dt.date | None = None) -> list[Flow]:
    """Changes of state into `to_states` per day and kelurahan (moves between keys left out)."""
    where, params = _where(print_run_ids, until)
    where += " AND to_state IN :targets AND from_state <> '~'"
    if since is not None:
        where += " AND day >= :since"
        params["since"] = since
    sql = text(f"""SELECT day, kelurahan_code, return_reason, from_state, to_state, sum(n) FROM (
                   {_both('day, kelurahan_code, return_reason, from_state, to_state, n', where)}
                   ) AS f GROUP BY day, kelurahan_code, return_reason, from_state, to_state""")
    binds = [bindparam("targets", expanding=True)]
    if "runs" in params:
        binds.append(bindparam("runs", expanding=True))
    rows = session.execute(sql.bindparams(*binds),
                           {"office": office_id, "targets": [s.value for s in to_states], **params}).all()
    return [Flow(_as_date(d), k, reason, f, t, int(n)) for d, k, reason, f, t, n in rows]


def _as_date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)  # SQLite returns text from a union


def rebuild(session: Session) -> int:
    """Count every card again from its current state (after a restore, or to repair): the per-day history before
    today is replaced by each card's last change. Returns the number of cards counted."""
    session.execute(text("DELETE FROM card_flow_delta"))
    session.execute(text("DELETE FROM card_flow"))
    pg = session.get_bind().dialect.name == "postgresql"
    day = ("(state_changed_at AT TIME ZONE 'Asia/Jakarta')::date" if pg
           else "date(state_changed_at, '+7 hours')")
    session.execute(text(f"""
        INSERT INTO card_flow ({_KEY}, n)
        SELECT office_id, print_run_id, coalesce(kelurahan_code, ''), coalesce(return_reason, ''), '', state, {day},
               count(*) FROM card GROUP BY 1, 2, 3, 4, 5, 6, 7"""))
    return session.execute(text("SELECT coalesce(sum(n), 0) FROM card_flow")).scalar_one()


def differences(session: Session, office_id: int) -> list[tuple[str, str, int, int]]:
    """Where the kept figures and a count of the cards themselves disagree: (kelurahan, state, kept, cards). Empty
    when they agree, which they do unless a card was changed behind the triggers' back."""
    kept: dict[tuple[str, str], int] = {}
    for c in counts(session, office_id):
        key = (c.kelurahan_code, c.state.value)
        kept[key] = kept.get(key, 0) + c.n
    actual = {(k or "", s): int(n) for k, s, n in session.execute(text(
        "SELECT kelurahan_code, state, count(*) FROM card WHERE office_id = :o GROUP BY kelurahan_code, state"),
        {"o": office_id})}
    keys = sorted(set(kept) | set(actual))
    return [(k, s, kept.get((k, s), 0), actual.get((k, s), 0)) for k, s in keys
            if kept.get((k, s), 0) != actual.get((k, s), 0)]


