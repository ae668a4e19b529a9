"""Database engine, sessions and the unit of work.

One transaction pattern everywhere: a request or a command opens a unit of work, calls operations,
and the unit of work commits once at the end (or rolls back on any exception). Operations never
commit on their own.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
from flask import Flask, current_app
from sqlalchemy import DateTime, MetaData, bindparam, cast, create_engine, event, func, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
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


# The engines made, each with the process that made it (`dispose_engines`).
_ENGINES: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def dispose_engines() -> None:
    """Close the pooled connections of every engine this process made: `antar` does it when a command ends, so that
    the database sees its connections closed (SQLite checkpoints its write-ahead log when the last one closes)
    before the interpreter exits, whatever else is left to free (app/launch.py). An engine inherited from the
    process this one was forked from (a gunicorn worker) only forgets its connections: they are the parent's."""
    for made, pid in list(_ENGINES.items()):
        made.dispose(close=pid == os.getpid())


def make_engine(url: str, *, busy_seconds: float = 30.0, pre_ping: bool = True) -> Engine:
    engine = _make_engine(url, busy_seconds=busy_seconds, pre_ping=pre_ping)
    _ENGINES[engine] = os.getpid()
    return engine


def _make_engine(url: str, *, busy_seconds: float, pre_ping: bool) -> Engine:
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
    engine = create_engine(url, pool_pre_ping=pre_ping)

    @event.listens_for(engine, "connect")
    def _postgresql_settings(dbapi_conn: Any, _record: Any) -> None:
        # No JIT compilation: its default threshold is passed by the estimates of the reports' correlated subqueries
        # at a few hundred thousand cards, and compiling then costs more than the query (1.15 of 1.6 s for the
        # report's old-card figures at 100,000 cards, benchmarks/bench_scale.py). Per connection, not per server: the
        # server may serve others.
        cur = dbapi_conn.cursor()
        cur.execute("SET jit = off")
        cur.close()
        if not dbapi_conn.autocommit:
            dbapi_conn.commit()  # the SET is not left as an open transaction of a pooled connection

    return engine


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], busy_seconds=float(app.config.get("ANTAR_SQLITE_BUSY_SECONDS", 5)))
    app.extensions["antar.engine"] = engine
    app.extensions["antar.sessionmaker"] = sessionmaker(bind=engine, expire_on_commit=False)
    lean = engine
    if engine.dialect.name == "postgresql":
        # The courier webhook's own pool, without the pre-ping (a round trip per request): a broken connection is
        # found by the request's first statement instead and the request retried once (`retried_transaction`).
        lean = make_engine(app.config["DATABASE_URL"], pre_ping=False)
        event.listen(engine, "engine_disposed", lambda _engine: lean.dispose())
    app.extensions["antar.lean_engine"] = lean
    app.extensions["antar.lean_sessionmaker"] = sessionmaker(bind=lean, expire_on_commit=False)


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


T = TypeVar("T")


class ConnectionLost(Exception):
    """The database connection broke under a statement (`pg_execute`); the transaction it was in is gone."""


def retried_transaction(work: Callable[[Session], T]) -> T:
    """`work(session)` in one transaction committed at the end, as `unit_of_work`, on the lean pool (no pre-ping:
    the courier webhook). If the connection turns out broken before the commit was sent (a connection the server
    closed while it sat in the pool, a restarted server), nothing of the transaction was committed: it is run once
    more, from the start, on a fresh connection (the pool's older connections are recycled as well). A failure
    during the commit is not retried (whether it committed is unknown) and goes to the caller."""
    maker = current_app.extensions["antar.lean_sessionmaker"]
    for attempt in (1, 2):
        session: Session = maker()
        committing = False
        try:
            result = work(session)
            committing = True
            session.commit()
            return result
        except BaseException as exc:
            _rollback_quietly(session)
            if attempt == 2 or committing or not _lost(exc):
                raise
        finally:
            session.close()
    raise AssertionError("unreachable")


def _lost(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionLost) or (isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated)


def _rollback_quietly(session: Session) -> None:
    try:
        session.rollback()
    except sa_exc.SQLAlchemyError:  # on a broken connection: it was invalidated, nothing to roll back
        pass


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def pg_execute(session: Session, sql: str, params: Mapping[str, Any]) -> Any:
    """Run plain PostgreSQL SQL (`%(name)s` parameters) on the session's connection, in its transaction, through the
    driver's own cursor, which it returns (rows as tuples): for the courier webhook's few statements, which need
    neither statement building nor result processing (SQLAlchemy's cost about five times the driver's for a row of
    25 columns). psycopg prepares a statement it has run five times: each text is planned once per connection."""
    connection = session.connection()
    fairy = connection.connection
    cursor = fairy.cursor()
    try:
        cursor.execute(sql, params)
    except Exception as exc:
        if not connection.dialect.is_disconnect(exc, fairy.dbapi_connection, cursor):
            raise
        # What SQLAlchemy does for its own statements on a disconnect: this connection is discarded and the pool's
        # connections as old as it are replaced on their next checkout (the server probably restarted).
        connection.engine.pool._invalidate(fairy, exc)
        connection.invalidate(exc)
        raise ConnectionLost(str(exc)) from exc
    return cursor


_PG_TYPES: dict[Any, str] = {}
_PG_DIALECT = postgresql.dialect()


def pg_type(column: Any) -> str:
    """The column's PostgreSQL type for a cast, without a length: a value too long for its column then fails as in
    any insert (a cast to varchar(n) would cut it)."""
    if column not in _PG_TYPES:
        _PG_TYPES[column] = re.sub(r"\(\d+\)", "", column.type.compile(dialect=_PG_DIALECT))
    return _PG_TYPES[column]


def pg_rows(columns: Sequence[Any], prefix: str, names: Sequence[str] | None = None, *, one: bool = False) -> str:
    """PostgreSQL SQL for rows given as parameters (`pg_params`), each value typed as its table column, aliased
    `<prefix>(<names>)`, for a driver-level statement (`pg_execute`). Many rows: one JSON array of
    objects (`json_to_recordset`), so one text (one prepared statement) whatever the number of rows, and the driver
    sends one string (adapting Python lists to arrays costs it several microseconds a value); one row (`one`): a VALUES
    row of plain parameters."""
    names = names or [c.name for c in columns]
    if one:
        values = ", ".join(f"%({prefix}{n})s::{pg_type(c)}" for c, n in zip(columns, names, strict=True))
        return f"(VALUES ({values})) AS {prefix}({', '.join(names)})"
    fields = ", ".join(f"{n} {pg_type(c)}" for c, n in zip(columns, names, strict=True))
    return f"json_to_recordset(%({prefix})s::json) AS {prefix}({fields})"


def pg_params(rows: Sequence[Mapping[str, Any]], names: Sequence[str], prefix: str, *, one: bool,
              sparse: bool = False) -> dict[str, Any]:
    """The parameters of `pg_rows`, given the same `one` as it was (no default: a statement written for many rows
    takes them as JSON even when there is one, so the two must agree at each call); a key missing from a row is NULL.
    Values go to the database as they are (no type processing: datetimes must be timezone-aware, as `UTCDateTime`
    requires). Many rows: NULLs are left out of the JSON (`json_to_recordset` reads a missing key as NULL): a shorter
    text to write and for the database to parse (an event row has 28 columns, most of them usually empty). The JSON
    is written by orjson, datetimes and dates in ISO 8601 with their offset: a quarter of a 500-event batch's Python
    time went to `json.dumps` and its datetime hook. `sparse`: the rows already leave their NULLs out (the courier
    webhook's event rows, built so): not filtered again."""
    if one:
        return {f"{prefix}{n}": rows[0].get(n) for n in names}
    if sparse:
        return {prefix: orjson.dumps(rows).decode()}
    return {prefix: orjson.dumps([{k: v for k, v in r.items() if v is not None} for r in rows]).decode()}


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
