"""Database engine, sessions and the unit of work.

One transaction pattern everywhere: a request or a command opens a unit of work, calls operations,
and the unit of work commits once at the end (or rolls back on any exception). Operations never
commit on their own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app
from sqlalchemy import DateTime, MetaData, bindparam, cast, create_engine, event, func, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on both SQLite (which drops the offset) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_clock_offset = dt.timedelta(0)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + _clock_offset


@contextmanager
def simulated_clock(now: dt.datetime) -> Iterator[None]:
    """Antar's clock reads `now` inside (and runs on from it in real time): `antar demo` plays weeks of an office's
    work in minutes, and its intake and handover must come before the courier's simulated days, as they do in an
    office. For a simulation in one process only; nothing else sets it."""
    global _clock_offset
    saved, _clock_offset = _clock_offset, now - dt.datetime.now(dt.UTC)
    try:
        yield
    finally:
        _clock_offset = saved


def make_engine(url: str, *, busy_seconds: float = 30.0) -> Engine:
    if url.startswith("sqlite"):
        # A writer waits this long for another (an import holds the lock for its whole transaction); then the
        # request fails with "database is locked", which the application answers with 503 and Retry-After.
        engine = create_engine(url, connect_args={"timeout": busy_seconds})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the web pages read while an import writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], busy_seconds=float(app.config.get("ANTAR_SQLITE_BUSY_SECONDS", 5)))
    app.extensions["antar.engine"] = engine
    app.extensions["antar.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)


def engine() -> Engine:
    return current_app.extensions["antar.engine"]


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """A session whose work is committed once when the block ends, rolled back on any exception."""
    session: Session = current_app.extensions["antar.sessionmaker"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def update_by_id(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Update rows by id, one statement per set of columns. On PostgreSQL, for many rows, that statement is one
    `UPDATE ... FROM unnest(<one array per column>)`: one round trip and one plan for all its rows (for a few rows
    the plain executemany is cheaper: the unnest statement's arrays make its cache key costly to build)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        shapes.setdefault(tuple(sorted(k for k in r if k != "id")), []).append(r)
    table = model.__table__
    for keys, same in shapes.items():
        if session.get_bind().dialect.name != "postgresql" or len(same) < 20:  # few rows: a Core executemany
            stmt = (update(table).where(table.c.id == bindparam("_id"))
                    .values({k: bindparam(f"_{k}", type_=table.c[k].type) for k in keys}))
            session.execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in same])
            continue
        arrays = [cast(bindparam(f"v_{c}", [r[c] for r in same], type_=ARRAY(table.c[c].type)),
                       ARRAY(table.c[c].type)) for c in ("id", *keys)]
        v = func.unnest(*arrays).table_valued("id", *keys).render_derived(name="v")
        session.execute(update(table).where(table.c.id == v.c.id).values({k: v.c[k] for k in keys}))
