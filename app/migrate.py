"""Alembic, driven from the application: `antar db upgrade` and the tests use the same migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


# Indexes a migration makes on PostgreSQL only when the server allows it (0017: pg_trgm), not declared in the models:
# autogenerate leaves them alone.
DATABASE_ONLY_INDEXES = frozenset({"ix_card_nama_trgm"})


# Foreign keys that PostgreSQL checks once per statement with triggers instead (migration 0027), declared in the
# models (SQLite keeps them as constraints): autogenerate leaves them alone.
TRIGGER_CHECKED_FOREIGN_KEYS = frozenset({
    "fk_tracking_event_item_id_manifest_item", "fk_tracking_event_message_id_webhook_message",
    "fk_card_history_card_id_card", "fk_card_history_user_id_user_account"})


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Alembic's filter for autogenerate (`include_object`): everything but `DATABASE_ONLY_INDEXES` and
    `TRIGGER_CHECKED_FOREIGN_KEYS`."""
    return not ((type_ == "index" and name in DATABASE_ONLY_INDEXES)
                or (type_ == "foreign_key_constraint" and name in TRIGGER_CHECKED_FOREIGN_KEYS))


def set_varchar_length(table: str, column: str, old: int, new: int) -> None:
    """From a migration: the declared length of a varchar column, `old` -> `new`. On PostgreSQL an ALTER (widening
    rewrites nothing: no table or index rebuild). On SQLite, which keeps text of any length whatever the declared
    type, only the declaration changes, in the schema table, as SQLite documents for changes that leave the stored
    data as it is (https://sqlite.org/lang_altertable.html, section 7): rebuilding the table instead would drop the
    card table's triggers (0009) and copy every row. Narrowing is the caller's to make safe (cut longer values
    first)."""
    import sqlalchemy as sa
    from alembic import op

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.alter_column(table, column, type_=sa.String(length=new), existing_type=sa.String(length=old))
        return
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
    declared, wanted = f"{column} VARCHAR({old})", f"{column} VARCHAR({new})"
    if sql is None or declared not in sql:
        raise RuntimeError(f"{table}.{column}: declaration {declared!r} not found")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                         (sql.replace(declared, wanted, 1), table))
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head", *, kk_key: str | None = None) -> None:
    """Apply the migrations up to `revision`; at head, also hash family card numbers still kept in clear.

    The key is `kk_key`, else the running app's `ANTAR_KK_KEY` (`antar db upgrade`, the demo). Without either (a
    test template, a bare script) a database that holds clear numbers is refused rather than left half done.
    """
    command.upgrade(alembic_config(engine), revision)
    if revision == "head":
        hash_clear_family_numbers(engine, kk_key)


KK_BATCH = 10_000


def hash_clear_family_numbers(engine: Engine, key: str | None = None) -> int:
    """Replace every `card.no_kk` in clear (imports before the keyed hash) by its keyed hash in `no_kk_hash`, and
    clear `no_kk`; how many cards were converted. Idempotent: converted cards have no `no_kk` any more.

    In bulk: batches by id, each written with `app.db.update_by_id` (one `UPDATE ... FROM unnest(...)` per batch on
    PostgreSQL). All batches commit together, so a crash leaves the clear numbers for the next run, never half a
    column. A number that is not 16 digits (an import before intake checked it) cannot be asked for: dropped.
    """
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.cards import Card
    from app.db import update_by_id
    from app.pseudonym import kk_hash

    with Session(engine) as session, session.begin():
        if not sa.inspect(session.connection()).has_table("card"):
            return 0
        pending = sa.select(Card.id, Card.no_kk).where(Card.no_kk.is_not(None)).order_by(Card.id)
        if session.execute(pending.limit(1)).first() is None:
            return 0
        if key is None:
            key = _app_kk_key()
        converted, last = 0, 0
        while rows := session.execute(pending.where(Card.id > last).limit(KK_BATCH)).all():
            update_by_id(session, Card, [{"id": r.id, "no_kk_hash": kk_hash(r.no_kk, key), "no_kk": None}
                                         for r in rows])
            converted += len(rows)
            last = rows[-1].id
    return converted


def _app_kk_key() -> str:
    from flask import current_app, has_app_context

    if not has_app_context() or not current_app.config.get("ANTAR_KK_KEY"):
        raise RuntimeError("Basis data masih menyimpan Nomor KK (no_kk) tanpa hash: jalankan `antar db upgrade` "
                           "(dengan kunci ANTAR_KK_KEY aplikasi) agar nomor itu di-hash.")
    return current_app.config["ANTAR_KK_KEY"]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


class SchemaNotReady(RuntimeError):
    """The database is not migrated to the code's schema; the message says, in one line, what to run."""


def check_schema(engine: Engine) -> None:
    """Raise SchemaNotReady unless the database answers and is at the newest migration."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        current = current_revision(engine)
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) is not None else exc).splitlines()[0][:200]
        raise SchemaNotReady(f"Basis data tidak dapat dihubungi ({engine.url.render_as_string(hide_password=True)}): "
                             f"{reason}") from None
    head = head_revision()
    if current is None:
        raise SchemaNotReady("Basis data belum disiapkan (belum ada tabel). Jalankan: antar db upgrade")
    if current != head:
        raise SchemaNotReady(f"Skema basis data belum mutakhir (revisi {current}, seharusnya {head}). "
                             "Jalankan: antar db upgrade")
