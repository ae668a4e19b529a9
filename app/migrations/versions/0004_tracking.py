"""tracking

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:53:53.632113
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('webhook_id', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('event_count', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_message'))
    )
    with op.batch_alter_table('webhook_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_message_webhook_id'), ['webhook_id'], unique=False)

    op.create_table('rejected_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('tracking_number', sa.String(length=40), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message', sa.String(length=500), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['webhook_message.id'], name=op.f('fk_rejected_event_message_id_webhook_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_event'))
    )
    with op.batch_alter_table('rejected_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_event_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rejected_event_tracking_number'), ['tracking_number'], unique=False)

    op.create_table('tracking_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=13), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason_code', sa.String(length=20), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('occurred_offset', sa.String(length=6), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.Column('post_office', sa.String(length=10), nullable=True),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lng', sa.Double(), nullable=True),
    sa.Column('recipient_name', sa.String(length=200), nullable=True),
    sa.Column('recipient_relationship', sa.String(length=20), nullable=True),
    sa.Column('photo_url', sa.String(length=500), nullable=True),
    sa.Column('signature_url', sa.String(length=500), nullable=True),
    sa.Column('courier_id', sa.String(length=40), nullable=True),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('far_km', sa.Double(), nullable=True),
    sa.Column('flag', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['item_id'], ['manifest_item.id'], name=op.f('fk_tracking_event_item_id_manifest_item')),
    sa.ForeignKeyConstraint(['message_id'], ['webhook_message.id'], name=op.f('fk_tracking_event_message_id_webhook_message')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_tracking_event_event_id'))
    )
    with op.batch_alter_table('tracking_event', schema=None) as batch_op:
        batch_op.create_index('ix_tracking_event_item_occurred', ['item_id', 'occurred_at'], unique=False)

    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('return_reason', sa.String(length=20), nullable=True))

    with op.batch_alter_table('manifest_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracking_status', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('status_rank', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('status_event_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('final', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_received_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('return_reason', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recipient_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('recipient_relationship', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('delivered_far_km', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('flagged', sa.String(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('manifest_item', schema=None) as batch_op:
        batch_op.drop_column('flagged')
        batch_op.drop_column('delivered_far_km')
        batch_op.drop_column('recipient_relationship')
        batch_op.drop_column('recipient_name')
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('return_reason')
        batch_op.drop_column('last_received_at')
        batch_op.drop_column('last_event_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('final')
        batch_op.drop_column('status_event_id')
        batch_op.drop_column('status_rank')
        batch_op.drop_column('status_at')
        batch_op.drop_column('tracking_status')

    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_column('return_reason')

    with op.batch_alter_table('tracking_event', schema=None) as batch_op:
        batch_op.drop_index('ix_tracking_event_item_occurred')

    op.drop_table('tracking_event')
    with op.batch_alter_table('rejected_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_event_tracking_number'))
        batch_op.drop_index(batch_op.f('ix_rejected_event_message_id'))

    op.drop_table('rejected_event')
    with op.batch_alter_table('webhook_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_message_webhook_id'))

    op.drop_table('webhook_message')
