"""returns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:27:47.021937
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('handover_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=13), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('status', sa.Enum('DRAFT', 'DISPATCHED', 'RECEIVED', 'CLOSED', 'CANCELLED', name='batchstatus', native_enum=False, length=16), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_by', sa.String(length=120), nullable=True),
    sa.Column('received_count', sa.Integer(), nullable=True),
    sa.Column('missing_count', sa.Integer(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_handover_batch_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_batch')),
    sa.UniqueConstraint('number', name=op.f('uq_handover_batch_number'))
    )
    with op.batch_alter_table('handover_batch', schema=None) as batch_op:
        batch_op.create_index('ix_handover_batch_office_kelurahan', ['office_id', 'kelurahan_code'], unique=False)

    op.create_table('form_submission',
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_form_submission_user_id_user_account')),
    sa.PrimaryKeyConstraint('token', name=op.f('pk_form_submission'))
    )
    op.create_table('handover_batch_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['handover_batch.id'], name=op.f('fk_handover_batch_event_batch_id_handover_batch')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_handover_batch_event_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_batch_event'))
    )
    with op.batch_alter_table('handover_batch_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_batch_event_batch_id'), ['batch_id'], unique=False)

    op.create_table('handover_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('missing', sa.Boolean(), nullable=False),
    sa.Column('disposition', sa.Enum('HOLDER', 'FAMILY', 'DECEASED', 'MOVED', 'NOT_COLLECTED', name='disposition', native_enum=False, length=16), nullable=True),
    sa.Column('disposition_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disposition_by', sa.String(length=120), nullable=True),
    sa.Column('handed_on', sa.Date(), nullable=True),
    sa.Column('receiver_name', sa.String(length=200), nullable=True),
    sa.Column('receiver_relationship', sa.String(length=60), nullable=True),
    sa.Column('id_checked', sa.Boolean(), nullable=True),
    sa.Column('new_address', sa.String(length=500), nullable=True),
    sa.Column('previous_address', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['handover_batch.id'], name=op.f('fk_handover_item_batch_id_handover_batch')),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_handover_item_card_id_card')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handover_item'))
    )
    with op.batch_alter_table('handover_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handover_item_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handover_item_card_id'), ['card_id'], unique=False)
        batch_op.create_index('uq_handover_item_active_card', ['card_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))



def downgrade() -> None:
    with op.batch_alter_table('handover_item', schema=None) as batch_op:
        batch_op.drop_index('uq_handover_item_active_card', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
        batch_op.drop_index(batch_op.f('ix_handover_item_card_id'))
        batch_op.drop_index(batch_op.f('ix_handover_item_batch_id'))

    op.drop_table('handover_item')
    with op.batch_alter_table('handover_batch_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handover_batch_event_batch_id'))

    op.drop_table('handover_batch_event')
    op.drop_table('form_submission')
    with op.batch_alter_table('handover_batch', schema=None) as batch_op:
        batch_op.drop_index('ix_handover_batch_office_kelurahan')

    op.drop_table('handover_batch')
