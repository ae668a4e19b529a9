"""indexes that keep the pages off full scans of `card` and `manifest_item` at 1,000,000 cards

Found by benchmarks/bench_scale.py (EXPLAIN of every statement of the pages at 100,000 and 1,000,000 cards):

- the reconciliation (/laporan) counts the office's cards per kelurahan and state, and a print run's page
  (/impor/<id>) counts its cards per state: with the state in the index these are index-only scans instead of reads
  of the whole card table (the two-column indexes they replace are prefixes of the new ones, so no query loses one);
- the problem lists (/masalah, /api/v1/tracking/problems) and the COD figures of the report read a small part of
  `manifest_item` (open items, flagged deliveries, items waiting at a post office, COD items, items whose old card
  is to be collected or was reported collected): partial indexes of
  exactly those rows, a few kilobytes where the table has a row per card.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

OPEN = "active AND final IS false"
FLAGGED = "flagged IS NOT NULL"
AT_POST_OFFICE = "tracking_status = 'AVAILABLE_FOR_PICKUP'"
COD = "cod_amount IS NOT NULL"
OLD_CARD = "collect_old_card IS true"
OLD_CARD_COLLECTED = "old_card_collected IS true"


def upgrade() -> None:
    op.create_index('ix_card_office_kelurahan_state', 'card', ['office_id', 'kelurahan_code', 'state'], unique=False)
    op.drop_index('ix_card_office_kelurahan', table_name='card')
    op.create_index('ix_card_print_run_state', 'card', ['print_run_id', 'state'], unique=False)
    op.drop_index('ix_card_print_run_id', table_name='card')
    for name, column, condition in (('ix_manifest_item_open', 'manifest_id', OPEN),
                                    ('ix_manifest_item_flagged', 'manifest_id', FLAGGED),
                                    ('ix_manifest_item_at_post_office', 'pickup_until', AT_POST_OFFICE),
                                    ('ix_manifest_item_cod', 'manifest_id', COD),
                                    ('ix_manifest_item_old_card', 'manifest_id', OLD_CARD),
                                    ('ix_manifest_item_old_card_collected', 'manifest_id', OLD_CARD_COLLECTED)):
        op.create_index(name, 'manifest_item', [column], unique=False, sqlite_where=sa.text(condition),
                        postgresql_where=sa.text(condition))


def downgrade() -> None:
    for name in ('ix_manifest_item_old_card_collected', 'ix_manifest_item_old_card', 'ix_manifest_item_cod',
                 'ix_manifest_item_at_post_office',
                 'ix_manifest_item_flagged', 'ix_manifest_item_open'):
        op.drop_index(name, table_name='manifest_item')
    op.create_index('ix_card_print_run_id', 'card', ['print_run_id'], unique=False)
    op.drop_index('ix_card_print_run_state', table_name='card')
    op.create_index('ix_card_office_kelurahan', 'card', ['office_id', 'kelurahan_code'], unique=False)
    op.drop_index('ix_card_office_kelurahan_state', table_name='card')
