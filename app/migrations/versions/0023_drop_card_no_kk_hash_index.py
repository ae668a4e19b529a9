"""drop `ix_card_no_kk_hash`: no query looks a card up by its family card number alone

The keyed hash of the family card number (migration 0008) is the citizen's second factor: the status lookup
(delivery.lookup) finds the NIK's cards by `ix_card_office_nik` and compares the hash on those few rows. Nothing
else reads it. Its index was only written: on every card written by an import (a random 64-character key, the
costliest kind of index entry to insert) and on every change of a card's state, which PostgreSQL cannot make in place
(the state is indexed) and so writes into each of the card's indexes. A courier's 500-event batch that moves 500
cards inserted 500 entries into it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:25:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_card_no_kk_hash', table_name='card')


def downgrade() -> None:
    op.create_index('ix_card_no_kk_hash', 'card', ['no_kk_hash'], unique=False)
