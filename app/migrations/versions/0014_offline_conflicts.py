"""records made offline by kelurahan officers that met a card changed meanwhile (issue 15)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'offline_conflict',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('kelurahan_code', sa.String(length=13), nullable=False),
        sa.Column('kind', sa.Enum('RECEIPT', 'DISPOSITION', name='conflictkind', native_enum=False, length=16), nullable=False),
        sa.Column('batch_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=True),
        sa.Column('card_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('officer', sa.String(length=120), nullable=False),
        sa.Column('record', sa.Text(), nullable=False),
        sa.Column('seen_version', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('status', sa.Enum('OPEN', 'ACCEPTED', 'REJECTED', name='conflictstatus', native_enum=False, length=10), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.String(length=120), nullable=True),
        sa.Column('decided_user_id', sa.Integer(), nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_offline_conflict_office_id_office')),
        sa.ForeignKeyConstraint(['batch_id'], ['handover_batch.id'], name=op.f('fk_offline_conflict_batch_id_handover_batch')),
        sa.ForeignKeyConstraint(['item_id'], ['handover_item.id'], name=op.f('fk_offline_conflict_item_id_handover_item')),
        sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_offline_conflict_card_id_card')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_offline_conflict_user_id_user_account')),
        sa.ForeignKeyConstraint(['decided_user_id'], ['user_account.id'], name=op.f('fk_offline_conflict_decided_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_offline_conflict')),
    )
    with op.batch_alter_table('offline_conflict') as batch:
        batch.create_index('ix_offline_conflict_office_status', ['office_id', 'status'], unique=False)
        batch.create_index(batch.f('ix_offline_conflict_batch_id'), ['batch_id'], unique=False)
        batch.create_index(batch.f('ix_offline_conflict_item_id'), ['item_id'], unique=False)
        batch.create_index(batch.f('ix_offline_conflict_card_id'), ['card_id'], unique=False)


def downgrade() -> None:
    op.drop_table('offline_conflict')
