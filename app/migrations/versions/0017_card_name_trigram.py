"""a trigram index of the card holder's name (PostgreSQL), so that a name search does not read every card

The staff's search (/lacak?q=, /api/v1/tracking?q=) matches a text against the nomor blanko exactly or the name as a
case-insensitive substring (`upper(nama) LIKE '%TEXT%'`): no B-tree index serves a substring, and at 1,000,000 cards
every search read the whole card table (0.5-0.8 s, benchmarks/bench_scale.py). pg_trgm's GIN index serves it
(0.2 ms there). pg_trgm ships with PostgreSQL and is a trusted extension (13 and later): a database owner may create
it. It is created in `public` (an extension belongs to the database, not to the schema being migrated). Where it
cannot be created (no right to), the migration leaves the index out and a name search reads the cards as before; a
later upgrade cannot add it by itself: `antar db upgrade` says so. SQLite: nothing (an office on SQLite is small).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 20:05:00.000000
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _has_trigrams(bind: sa.Connection) -> bool:
    return bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first() is not None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not _has_trigrams(bind):
        savepoint = bind.begin_nested()
        try:
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            savepoint.commit()
        except sa.exc.DBAPIError as exc:
            # Not allowed, or created meanwhile by another migration of the same database (two schemas at once).
            savepoint.rollback()
            if not _has_trigrams(bind):
                log.warning("pg_trgm not available (%s): name search without its index", exc.orig)
                return
    bind.exec_driver_sql("CREATE INDEX ix_card_nama_trgm ON card USING gin (upper(nama) public.gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_card_nama_trgm")
