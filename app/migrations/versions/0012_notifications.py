"""messages to citizens (notify/)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notify_message',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=True),
        sa.Column('text', sa.String(length=500), nullable=False),
        sa.Column('reference', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=40), nullable=False),
        sa.Column('event_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('send_after', sa.DateTime(timezone=True), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('gateway_id', sa.String(length=100), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failure', sa.String(length=20), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_notify_message_card_id_card')),
        sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_notify_message_office_id_office')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_message')),
        # At most one message of a kind per card: a repeated event never texts a citizen twice.
        sa.UniqueConstraint('card_id', 'kind', name=op.f('uq_notify_message_card_id')),
    )
    with op.batch_alter_table('notify_message') as batch:
        batch.create_index('ix_notify_message_due', ['status', 'next_attempt_at'], unique=False)
        batch.create_index('ix_notify_message_office_status', ['office_id', 'status'], unique=False)
        batch.create_index(batch.f('ix_notify_message_gateway_id'), ['gateway_id'], unique=False)

    op.create_table(
        'notify_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('channel', sa.String(length=10), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('outcome', sa.String(length=20), nullable=False),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(['message_id'], ['notify_message.id'],
                                name=op.f('fk_notify_attempt_message_id_notify_message')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_attempt')),
    )
    with op.batch_alter_table('notify_attempt') as batch:
        batch.create_index(batch.f('ix_notify_attempt_message_id'), ['message_id'], unique=False)

    op.create_table(
        'notify_report',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('webhook_id', sa.String(length=100), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('gateway_message_id', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error', sa.String(length=500), nullable=True),
        sa.Column('result', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['message_id'], ['notify_message.id'],
                                name=op.f('fk_notify_report_message_id_notify_message')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_report')),
        sa.UniqueConstraint('webhook_id', name=op.f('uq_notify_report_webhook_id')),
    )
    with op.batch_alter_table('notify_report') as batch:
        batch.create_index(batch.f('ix_notify_report_message_id'), ['message_id'], unique=False)

    op.create_table(
        'notify_optout',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('source', sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_optout')),
        sa.UniqueConstraint('phone_hash', name=op.f('uq_notify_optout_phone_hash')),
    )

    cursor = op.create_table(
        'notify_cursor',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_notify_cursor')),
    )
    # An office that already has a history starts messaging from now on, not about everything that ever happened:
    # the watermarks begin at the newest rows.
    conn = op.get_bind()
    rows = [{'name': name, 'value': conn.execute(sa.text(f'SELECT COALESCE(MAX(id), 0) FROM {table}')).scalar()}
            for name, table in (('tracking_event', 'tracking_event'), ('card_history', 'card_history'))]
    op.bulk_insert(cursor, [r for r in rows if r['value']])


def downgrade() -> None:
    op.drop_table('notify_cursor')
    op.drop_table('notify_optout')
    with op.batch_alter_table('notify_report') as batch:
        batch.drop_index(batch.f('ix_notify_report_message_id'))
    op.drop_table('notify_report')
    with op.batch_alter_table('notify_attempt') as batch:
        batch.drop_index(batch.f('ix_notify_attempt_message_id'))
    op.drop_table('notify_attempt')
    with op.batch_alter_table('notify_message') as batch:
        batch.drop_index(batch.f('ix_notify_message_gateway_id'))
        batch.drop_index('ix_notify_message_office_status')
        batch.drop_index('ix_notify_message_due')
    op.drop_table('notify_message')
