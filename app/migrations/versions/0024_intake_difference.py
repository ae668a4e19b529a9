"""`intake_difference` and `print_run.rows_changed`: rows of a file whose card an earlier run brought in, where the
file now says something else

A row whose blanko and NIK an earlier print run already made into a card is not imported again. When the file's row
differs from that card (a corrected export from SIAK, say), the difference was counted as "already imported" and
nothing more: staff had no way to see that the register now says another address. The card still is not changed
(one card per blanko, made once); the print run records which columns differ, row by row.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('print_run') as batch:
        batch.add_column(sa.Column('rows_changed', sa.Integer(), server_default='0', nullable=False))
    op.create_table(
        'intake_difference',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('print_run_id', sa.Integer(), nullable=False),
        sa.Column('line', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('fields', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['card_id'], ['card.id'], name=op.f('fk_intake_difference_card_id_card')),
        sa.ForeignKeyConstraint(['print_run_id'], ['print_run.id'],
                                name=op.f('fk_intake_difference_print_run_id_print_run')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_difference')),
    )
    op.create_index(op.f('ix_intake_difference_print_run_id'), 'intake_difference', ['print_run_id'], unique=False)
    op.create_index(op.f('ix_intake_difference_card_id'), 'intake_difference', ['card_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_intake_difference_card_id'), table_name='intake_difference')
    op.drop_index(op.f('ix_intake_difference_print_run_id'), table_name='intake_difference')
    op.drop_table('intake_difference')
    with op.batch_alter_table('print_run') as batch:
        batch.drop_column('rows_changed')
