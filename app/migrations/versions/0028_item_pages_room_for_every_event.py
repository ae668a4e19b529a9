"""room on `manifest_item`'s pages for every event of a delivery, not only the first (PostgreSQL `fillfactor = 25`)

Migration 0022 left 60% of each page free when a manifest's items are written, so that a batch moving every item of
a page at once can put each new row version on its page (a heap-only update, HOT: no index touched). That was room
for the first event. After it an item's row is about twice as long (its status, the event's id and times), and the
next batch over the same items needs room for a second version of each of these longer rows: with 60% free, about
half of them no longer fit and were written elsewhere, each with a new entry in every index of the item. With 75% free
at the start they fit for every event but the one that changes an indexed column (`final`, on DELIVERED).

Measured:
- tests/delivery/test_webhook_writes.py: 300 items, ACCEPTED, IN_TRANSIT, OUT_FOR_DELIVERY for all of them, batch
  by batch: 93%, 62% and 100% of the updates on their page at 40; at least 90% each at 25;
- in-process batches of 500 events at the four stages of a delivery (`benchmarks/bench_webhook.py --batch-mix
  cycle`'s plan, two schemas alternated, 156 batches each): 90% of the item updates on their page against 70%,
  PostgreSQL 49.1 against 52.9 µs of CPU an event, and the table 27.3 MB against 32.0 MB at the end (the versions
  that did not fit made the table grow too).

Pages written before keep their rows until those move.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-05 16:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE manifest_item SET (fillfactor = 25)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE manifest_item SET (fillfactor = 40)")
