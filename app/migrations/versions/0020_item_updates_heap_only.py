"""let most courier events update their item in place: `ix_manifest_item_at_post_office` on `pickup_until IS NOT NULL`,
and room on `manifest_item`'s pages (PostgreSQL `fillfactor = 85`)

Every courier event changes its item's `tracking_status`. That column was in the condition of the partial index of
items waiting at a post office, so PostgreSQL could never update an item "heap-only" (HOT: the new row version on
the same page, no index touched): each event wrote a new entry into six of the item's indexes. The index now holds
the items that have a `pickup_until` (set by AVAILABLE_FOR_PICKUP and kept; still a small part of the table); the
overdue-pickup list still asks for the status, and its `pickup_until < today` implies the index's condition. An
ACCEPTED, IN_TRANSIT, OUT_FOR_DELIVERY or DELIVERY_FAILED then changes no indexed column, and with 15% of each page
left free when items are written (manifests built), its update can stay on the page. Pages written before keep
their rows until those move.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 16:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

HAS_PICKUP = "pickup_until IS NOT NULL"
AT_POST_OFFICE = "tracking_status = 'AVAILABLE_FOR_PICKUP'"


def _at_post_office(condition: str) -> None:
    op.drop_index('ix_manifest_item_at_post_office', table_name='manifest_item')
    op.create_index('ix_manifest_item_at_post_office', 'manifest_item', ['pickup_until'], unique=False,
                    sqlite_where=sa.text(condition), postgresql_where=sa.text(condition))


def upgrade() -> None:
    _at_post_office(HAS_PICKUP)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE manifest_item SET (fillfactor = 85)")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE manifest_item RESET (fillfactor)")
    _at_post_office(AT_POST_OFFICE)
