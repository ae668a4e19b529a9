"""each message sent looks for delivery reports that came before it was recorded, by an index

A partial index of the reports no message was known for yet (result 'unknown': a handful at any time): before it,
every send read the whole `notify_report` table (one row per report ever received), so an office's sending slowed
down with every message it had sent.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

UNKNOWN_CONDITION = "result = 'unknown'"


def upgrade() -> None:
    op.create_index('ix_notify_report_unknown_gateway_message', 'notify_report', ['gateway_message_id'], unique=False,
                    sqlite_where=sa.text(UNKNOWN_CONDITION), postgresql_where=sa.text(UNKNOWN_CONDITION))


def downgrade() -> None:
    op.drop_index('ix_notify_report_unknown_gateway_message', table_name='notify_report')
