"""Alembic, driven from the application: `antar db upgrade` and the tests use the same migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


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
