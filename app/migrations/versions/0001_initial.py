"""initial schema: offices, users, print runs, cards, history, intake

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:05:29.596271
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('office',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=5), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_office')),
    sa.UniqueConstraint('code', name=op.f('uq_office_code'))
    )
    op.create_table('print_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.String(length=120), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('cards_imported', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('rows_already_imported', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('withdrawn', sa.Integer(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_print_run_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_print_run'))
    )
    with op.batch_alter_table('print_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_print_run_office_id'), ['office_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_print_run_sha256'), ['sha256'], unique=False)

    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.Enum('ADMIN', 'STAFF', 'OFFICER', name='role', native_enum=False, length=16), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=True),
    sa.Column('kelurahan_code', sa.String(length=13), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_user_account_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('username', name=op.f('uq_user_account_username'))
    )
    op.create_table('withdrawal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=13), nullable=False),
    sa.Column('rws', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_withdrawal_office_id_office')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_withdrawal'))
    )
    with op.batch_alter_table('withdrawal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_withdrawal_office_id'), ['office_id'], unique=False)

    op.create_table('card',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('office_id', sa.Integer(), nullable=False),
    sa.Column('print_run_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('nomor_blanko', sa.String(length=40), nullable=False),
    sa.Column('nik', sa.String(length=16), nullable=False),
    sa.Column('nama', sa.String(length=200), nullable=False),
    sa.Column('tempat_lahir', sa.String(length=100), nullable=False),
    sa.Column('tanggal_lahir', sa.Date(), nullable=False),
    sa.Column('jenis_kelamin', sa.String(length=1), nullable=False),
    sa.Column('alamat', sa.String(length=500), nullable=False),
    sa.Column('rt', sa.String(length=3), nullable=True),
    sa.Column('rw', sa.String(length=3), nullable=True),
    sa.Column('kelurahan_raw', sa.String(length=120), nullable=True),
    sa.Column('kecamatan_raw', sa.String(length=120), nullable=True),
    sa.Column('kabupaten_kota_raw', sa.String(length=120), nullable=True),
    sa.Column('provinsi_raw', sa.String(length=120), nullable=True),
    sa.Column('kode_wilayah_raw', sa.String(length=20), nullable=True),
    sa.Column('kode_pos_raw', sa.String(length=5), nullable=True),
    sa.Column('no_kk', sa.String(length=16), nullable=True),
    sa.Column('no_hp', sa.String(length=20), nullable=True),
    sa.Column('tanggal_cetak', sa.Date(), nullable=False),
    sa.Column('kelurahan_code', sa.String(length=13), nullable=True),
    sa.Column('state', sa.Enum('READY', 'DUPLICATE', 'DAMAGED', 'WITHDRAWN', name='cardstate', native_enum=False, length=24), nullable=False),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['card.id'], name=op.f('fk_card_duplicate_of_id_card')),
    sa.ForeignKeyConstraint(['office_id'], ['office.id'], name=op.f('fk_card_office_id_office')),
    sa.ForeignKeyConstraint(['print_run_id'], ['print_run.id'], name=op.f('fk_card_print_run_id_print_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card')),
    sa.UniqueConstraint('nomor_blanko', name=op.f('uq_card_nomor_blanko'))
    )
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.create_index('ix_card_office_kelurahan', ['office_id', 'kelurahan_code'], unique=False)
        batch_op.create_index('ix_card_office_nik', ['office_id', 'nik'], unique=False)
        batch_op.create_index('ix_card_office_state', ['office_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_print_run_id'), ['print_run_id'], unique=False)

    op.create_table('intake_rejection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('print_run_id', sa.Integer(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['print_run_id'], ['print_run.id'], name=op.f('fk_intake_rejection_print_run_id_print_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_rejection'))
    )
    with op.batch_alter_table('intake_rejection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_rejection_print_run_id'), ['print_run_id'], unique=False)

    op.create_table('card_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.Enum('READY', 'DUPLICATE', 'DAMAGED', 'WITHDRAWN', name='cardstate', native_enum=False, length=24), nullable=True),
    sa.Column('to_state', sa.Enum('READY', 'DUPLICATE', 'DAMAGED', 'WITHDRAWN', name='cardstate', native_enum=False, length=24), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_card_history_card_id_card')),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_card_history_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_history'))
    )
    with op.batch_alter_table('card_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_history_card_id'), ['card_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('card_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_history_card_id'))

    op.drop_table('card_history')
    with op.batch_alter_table('intake_rejection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_rejection_print_run_id'))

    op.drop_table('intake_rejection')
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_print_run_id'))
        batch_op.drop_index('ix_card_office_state')
        batch_op.drop_index('ix_card_office_nik')
        batch_op.drop_index('ix_card_office_kelurahan')

    op.drop_table('card')
    with op.batch_alter_table('withdrawal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_withdrawal_office_id'))

    op.drop_table('withdrawal')
    op.drop_table('user_account')
    with op.batch_alter_table('print_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_print_run_sha256'))
        batch_op.drop_index(batch_op.f('ix_print_run_office_id'))

    op.drop_table('print_run')
    op.drop_table('office')
