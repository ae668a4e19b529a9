"""address: normalized card address, region geometry, geocode cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:42:08.663961
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('geocode_cache',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('query', sa.String(length=500), nullable=False),
    sa.Column('lat', sa.Double(), nullable=True),
    sa.Column('lng', sa.Double(), nullable=True),
    sa.Column('precision', sa.String(length=16), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_geocode_cache')),
    sa.UniqueConstraint('provider', 'query', name=op.f('uq_geocode_cache_provider'))
    )
    op.create_table('region_geo',
    sa.Column('kode', sa.String(length=13), nullable=False),
    sa.Column('lat', sa.Double(), nullable=False),
    sa.Column('lng', sa.Double(), nullable=False),
    sa.Column('polygon', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kode', name=op.f('pk_region_geo'))
    )
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.add_column(sa.Column('address_status', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('address_flags', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('address_candidate', sa.String(length=13), nullable=True))
        batch_op.add_column(sa.Column('street', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('kode_pos', sa.String(length=5), nullable=True))
        batch_op.add_column(sa.Column('lat', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('lng', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('geo_precision', sa.String(length=16), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('card', schema=None) as batch_op:
        batch_op.drop_column('geo_precision')
        batch_op.drop_column('lng')
        batch_op.drop_column('lat')
        batch_op.drop_column('kode_pos')
        batch_op.drop_column('street')
        batch_op.drop_column('address_candidate')
        batch_op.drop_column('address_flags')
        batch_op.drop_column('address_status')

    op.drop_table('region_geo')
    op.drop_table('geocode_cache')
