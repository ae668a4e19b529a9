"""room on `manifest_item`'s pages for a batch that moves all their items at once (PostgreSQL `fillfactor = 40`)

An item's update is heap-only (HOT, migration 0020) only while its page has room for the new row version. The
courier's batches carry the events of the items of a few manifests, and a manifest's items were written together:
one batch updates every item of a page in one transaction, so the page needs room for a new version of each of its
rows at once, about as much as they fill. With 15% free (0020) only a few fit: of a round of 500-event batches over
40,000 items, 14% of the updates stayed on their page; the rest wrote into all of the item's indexes. With 60% free,
93% do (benchmarks/bench_webhook.py's set-up; the item update of a 500-event batch went from 6.2 ms to 2.8 ms of
PostgreSQL's time). The table is not bigger for it once the courier's events have come: the versions that did not
fit went to new pages, and their index entries stayed (40,000 items after one round: 9.2 MB of table and 19.2 MB
with indexes at 85, 9.6 MB and 14.9 MB at 40). Pages written before keep their rows until those move.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 19:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE manifest_item SET (fillfactor = 40)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE manifest_item SET (fillfactor = 85)")
