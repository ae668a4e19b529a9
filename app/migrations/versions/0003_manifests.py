"""manifests

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:38:18.864163
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('manifest',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('post_office_code', sa.String(length=5), nullable=False),
    sa.Column('post_office_name', sa.String(length=120), nullable=False),
    sa.Column('kecamatan_code', sa.String(length=8), nullable=True),
    sa.Column('status', sa.Enum('DRAFT', 'FINALIZED', 'HANDED_OVER', 'HANDOVER_FAILED', 'CLOSED', 'CANCELLED', name='manifeststatus', native_enum=False, length=20), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pickup_scheduled_at', sa.String(length=40), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('handover_attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('courier_response', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_manifest_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest')),
    sa.UniqueConstraint('number', name=op.f('uq_manifest_number'))
    )
    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.create_index('ix_manifest_office_status', ['office_id', 'status'], unique=False)

    op.create_table('tracking_counter',
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=2), nullable=False),
    sa.Column('last_serial', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_tracking_counter_office_id_office')),
    sa.PrimaryKeyConstraint('office_id', 'prefix', name=op.f('pk_tracking_counter'))
    )
    op.create_table('manifest_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.Enum('DRAFT', 'FINALIZED', 'HANDED_OVER', 'HANDOVER_FAILED', 'CLOSED', 'CANCELLED', name='manifeststatus', native_enum=False, length=20), nullable=True),
    sa.Column('to_status', sa.Enum('DRAFT', 'FINALIZED', 'HANDED_OVER', 'HANDOVER_FAILED', 'CLOSED', 'CANCELLED', name='manifeststatus', native_enum=False, length=20), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_manifest_event_manifest_id_manifest')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_manifest_event_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest_event'))
    )
    with op.batch_alter_table('manifest_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_event_manifest_id'), ['manifest_id'], unique=False)

    op.create_table('manifest_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manifest_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=13), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recall_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recall_result', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_manifest_item_card_id_card')),
    sa.ForeignKeyConstraint(['manifest_id'], ['manifest.id'], name=op.f('fk_manifest_item_manifest_id_manifest')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_manifest_item')),
    sa.UniqueConstraint('tracking_number', name=op.f('uq_manifest_item_tracking_number'))
    )
    with op.batch_alter_table('manifest_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_manifest_item_card_id'), ['card_id'], unique=False)
        batch_op.create_index('ix_manifest_item_manifest_seq', ['manifest_id', 'seq'], unique=False)
        batch_op.create_index('uq_manifest_item_active_card', ['card_id'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))



def downgrade() -> None:
    with op.batch_alter_table('manifest_item', schema=None) as batch_op:
        batch_op.drop_index('uq_manifest_item_active_card', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))
        batch_op.drop_index('ix_manifest_item_manifest_seq')
        batch_op.drop_index(batch_op.f('ix_manifest_item_card_id'))

    op.drop_table('manifest_item')
    with op.batch_alter_table('manifest_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_manifest_event_manifest_id'))

    op.drop_table('manifest_event')
    op.drop_table('tracking_counter')
    with op.batch_alter_table('manifest', schema=None) as batch_op:
        batch_op.drop_index('ix_manifest_office_status')

    op.drop_table('manifest')
