"""boundaries: login lock-out and password state, API tokens, the personal-data access log, no_kk as a keyed hash

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account') as batch:
        batch.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.text('false'),
                                   nullable=False))
    with op.batch_alter_table('card') as batch:
        batch.add_column(sa.Column('no_kk_hash', sa.String(length=64), nullable=True))
        batch.create_index('ix_card_no_kk_hash', ['no_kk_hash'], unique=False)
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_api_token_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    op.create_index(op.f('ix_api_token_user_id'), 'api_token', ['user_id'], unique=False)
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('what', sa.String(length=200), nullable=False),
    sa.Column('path', sa.String(length=300), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.Column('records', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_access_log_office_id_office')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_access_log_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    op.create_index('ix_access_log_office_at', 'access_log', ['office_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_access_log_office_at', table_name='access_log')
    op.drop_table('access_log')
    op.drop_index(op.f('ix_api_token_user_id'), table_name='api_token')
    op.drop_table('api_token')
    with op.batch_alter_table('card') as batch:
        batch.drop_index('ix_card_no_kk_hash')
        batch.drop_column('no_kk_hash')
    with op.batch_alter_table('user_account') as batch:
        batch.drop_column('must_change_password')
        batch.drop_column('password_changed_at')
        batch.drop_column('locked_at')
        batch.drop_column('failed_logins')
