"""the courier webhook reads, with the lock on a batch's items, whether events wait held for them

A partial index of the held tracking events (a handful at any time among millions): the check is an index probe
per item, or one scan of this small index, never a scan of `tracking_event`.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

HELD_CONDITION = "result = 'held'"


def upgrade() -> None:
    op.create_index('ix_tracking_event_held', 'tracking_event', ['item_id'], unique=False,
                    sqlite_where=sa.text(HELD_CONDITION), postgresql_where=sa.text(HELD_CONDITION))


def downgrade() -> None:
    op.drop_index('ix_tracking_event_held', table_name='tracking_event')
