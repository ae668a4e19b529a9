"""old cards and COD settlements (delivery/)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The courier's COD settlements as received (contract 6.3), their lines, and staff's resolutions of differences.
    op.create_table('cod_settlement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('settlement_id', sa.String(length=64), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('remitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remitted_offset', sa.String(length=6), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('items_sum', sa.BigInteger(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('webhook_id', sa.String(length=100), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_cod_settlement_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cod_settlement')),
    sa.UniqueConstraint('settlement_id', name=op.f('uq_cod_settlement_settlement_id'))
    )
    with op.batch_alter_table('cod_settlement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cod_settlement_office_id'), ['office_id'], unique=False)

    op.create_table('cod_settlement_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cod_settlement_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('tracking_number', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['cod_settlement_id'], ['cod_settlement.id'],
                            name=op.f('fk_cod_settlement_item_cod_settlement_id_cod_settlement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cod_settlement_item'))
    )
    with op.batch_alter_table('cod_settlement_item', schema=None) as batch_op:
        batch_op.create_index('ix_cod_settlement_item_settlement_seq', ['cod_settlement_id', 'seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_cod_settlement_item_tracking_number'), ['tracking_number'], unique=False)

    op.create_table('cod_resolution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_by', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_cod_resolution_office_id_office')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_cod_resolution_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cod_resolution')),
    sa.UniqueConstraint('office_id', 'kind', 'key', name='uq_cod_resolution_office_kind_key')
    )

    # The old cards the postman took in, until destroyed, and the destructions (Berita Acara Pemusnahan).
    op.create_table('old_card_destruction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('destroyed_by', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('witness_name', sa.String(length=120), nullable=False),
    sa.Column('witness_position', sa.String(length=120), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('method', sa.String(length=200), nullable=False),
    sa.Column('card_count', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_old_card_destruction_office_id_office')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'],
                            name=op.f('fk_old_card_destruction_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_old_card_destruction')),
    sa.UniqueConstraint('number', name=op.f('uq_old_card_destruction_number'))
    )
    with op.batch_alter_table('old_card_destruction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_old_card_destruction_office_id'), ['office_id'], unique=False)

    op.create_table('old_card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_by', sa.String(length=200), nullable=True),
    sa.Column('receipt_source', sa.String(length=10), nullable=True),
    sa.Column('receipt_recorded_by', sa.String(length=120), nullable=True),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('destroyed_by', sa.String(length=120), nullable=True),
    sa.Column('destruction_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_old_card_card_id_card')),
    sa.ForeignKeyConstraint(['destruction_id'], ['old_card_destruction.id'],
                            name=op.f('fk_old_card_destruction_id_old_card_destruction')),
    sa.ForeignKeyConstraint(['item_id'], ['manifest_item.id'], name=op.f('fk_old_card_item_id_manifest_item')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_old_card_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_old_card')),
    sa.UniqueConstraint('card_id', name=op.f('uq_old_card_card_id'))
    )
    with op.batch_alter_table('old_card', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_old_card_destruction_id'), ['destruction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_old_card_item_id'), ['item_id'], unique=False)
        batch_op.create_index('ix_old_card_office_received', ['office_id', 'received_at'], unique=False)


def downgrade() -> None:
    op.drop_table('old_card')
    op.drop_table('old_card_destruction')
    op.drop_table('cod_resolution')
    op.drop_table('cod_settlement_item')
    op.drop_table('cod_settlement')
