"""courier events of section 6.2: pickup, COD and old-card fields on tracking events, longer reason codes

The contract's section 6.2 adds a status (AVAILABLE_FOR_PICKUP), two annotations (OLD_CARD_RECEIVED, COD_REMITTED),
the fields they carry, and reason codes longer than the 20 characters the reason columns had
(OLD_CARD_NOT_SURRENDERED: 24). AVAILABLE_FOR_PICKUP ranks between DELIVERY_FAILED (4) and RETURNED, so the ranks
stored with the deciding event from RETURNED on move up by one (app/courier/tracking.py RANK).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.migrate import set_varchar_length

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

ANNOTATION_CONDITION = "status IN ('OLD_CARD_RECEIVED', 'COD_REMITTED')"
# (table, column) of every courier reason code, and the lengths before and after.
REASON_COLUMNS = (('tracking_event', 'reason_code'), ('manifest_item', 'return_reason'), ('card', 'return_reason'),
                  ('card_flow', 'return_reason'), ('card_count', 'return_reason'),
                  ('card_flow_delta', 'return_reason'))
OLD_LENGTH, NEW_LENGTH = 20, 30


def upgrade() -> None:
    with op.batch_alter_table('tracking_event') as batch:
        batch.add_column(sa.Column('pickup_post_office', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('pickup_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('pickup_address', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('pickup_until', sa.Date(), nullable=True))
        batch.add_column(sa.Column('cod_collected', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('old_card_collected', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('received_by', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('settlement_id', sa.String(length=64), nullable=True))
    op.create_index('ix_tracking_event_annotation', 'tracking_event', ['status', 'id'],
                    sqlite_where=sa.text(ANNOTATION_CONDITION), postgresql_where=sa.text(ANNOTATION_CONDITION))
    _reason_length(OLD_LENGTH, NEW_LENGTH)
    op.execute("UPDATE manifest_item SET status_rank = status_rank + 1 WHERE status_rank >= 5")


def downgrade() -> None:
    op.execute("UPDATE manifest_item SET status_rank = status_rank - 1 WHERE status_rank >= 6")
    _reason_length(NEW_LENGTH, OLD_LENGTH)
    op.drop_index('ix_tracking_event_annotation', table_name='tracking_event')
    with op.batch_alter_table('tracking_event') as batch:
        for name in ('settlement_id', 'received_by', 'old_card_collected', 'cod_collected', 'pickup_until',
                     'pickup_address', 'pickup_name', 'pickup_post_office'):
            batch.drop_column(name)


def _reason_length(old: int, new: int) -> None:
    for table, column in REASON_COLUMNS:
        set_varchar_length(table, column, old, new)
