"""the courier's message bodies compressed with LZ4 on PostgreSQL (`webhook_message.body`, `rejected_event.raw`)

Every courier post is stored as received (`webhook_message.body`). A body over about 2 kB is compressed by
PostgreSQL when its row is written, with its own `pglz` unless the column says otherwise. A 500-event batch is about
100 to 150 kB of JSON: `pglz` took 0.69 ms of the backend's CPU for a 94 kB body against 0.067 ms for LZ4, for the
same size on disk (20,807 and 20,892 bytes). In alternated rounds of `benchmarks/bench_webhook.py`'s batches on one
server, the column switched between rounds: 21,956 and 22,796 events/s with LZ4 against 21,066 and 20,984 with
`pglz`, PostgreSQL 60-62 µs an event against 65 (BENCHMARKS.md, twelfth session). Single-event posts are under the
threshold and not compressed either way. Reading a body back (a message's page, an audit) is faster as well.

Only on a server built with LZ4 (PostgreSQL 14 or later; Debian's and the official images are): elsewhere nothing
changes. Rows stored before keep their compression; a column's setting applies to the values written after it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-05 09:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

COLUMNS = (("webhook_message", "body"), ("rejected_event", "raw"))


def _lz4_available() -> bool:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return False
    return bool(bind.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'").scalar())


def upgrade() -> None:
    if _lz4_available():
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    if _lz4_available():
        for table, column in COLUMNS:
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
