"""last mile: cash on delivery and the old card on cards and manifest items, collection at the post office

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Print-run columns layanan/biaya_antar/tarik_ktp_lama: the fee the citizen pays the postman (whole rupiah)
    # and whether the old card must be surrendered on delivery. Plain ALTER TABLE ADD COLUMN, not a batch: on SQLite
    # a batch with a SQL-expression default rebuilds the table, and that drops card's triggers (0009).
    op.add_column('card', sa.Column('cod_amount', sa.Integer(), nullable=True))
    op.add_column('card', sa.Column('collect_old_card', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    with op.batch_alter_table('manifest_item') as batch:
        # What the item carried to the courier (copied from the card when the manifest was built).
        batch.add_column(sa.Column('cod_amount', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('collect_old_card', sa.Boolean(), server_default=sa.text('false'),
                                   nullable=False))
        # What the courier reported: the fee collected and whether the old card was taken, on DELIVERED.
        batch.add_column(sa.Column('cod_collected', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('old_card_collected', sa.Boolean(), nullable=True))
        # AVAILABLE_FOR_PICKUP: where the item waits and until when.
        batch.add_column(sa.Column('pickup_post_office', sa.String(length=10), nullable=True))
        batch.add_column(sa.Column('pickup_name', sa.String(length=200), nullable=True))
        batch.add_column(sa.Column('pickup_address', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('pickup_until', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('manifest_item') as batch:
        for name in ('pickup_until', 'pickup_address', 'pickup_name', 'pickup_post_office', 'old_card_collected',
                     'cod_collected', 'collect_old_card', 'cod_amount'):
            batch.drop_column(name)
    with op.batch_alter_table('card') as batch:
        batch.drop_column('collect_old_card')
        batch.drop_column('cod_amount')
