"""drop `ix_card_office_state`: `ix_card_office_state_changed` (office, state, changed at) serves every query it did

The two-column index on (office_id, state) is a prefix of (office_id, state, state_changed_at): a lookup or a count by
office and state reads the longer index the same way (and as an index-only scan). The card table kept both, so every
card written (an import's insert) and every state change (a card's `state` is indexed, so its update is never HOT on
PostgreSQL) wrote one index entry more than it needed: eight B-tree indexes (nine with the name's trigram index on
PostgreSQL), now seven.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 15:35:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_card_office_state', table_name='card')


def downgrade() -> None:
    op.create_index('ix_card_office_state', 'card', ['office_id', 'state'], unique=False)
