"""`card.street` 300 -> 750 characters: room for the street tidied from any `alamat` within the intake spec's limit

The street is `alamat` tidied by the address normalizer: canonical keywords ("NO1" becomes "NO. 1", "DSN-" becomes
"DUSUN -") and upper case, where one letter can become three ("ΐ" becomes "Ϊ́"). An `alamat` of 250 characters,
the spec's limit, can so make a street of up to 750 (743 measured, tests/manifests/test_intake_limits.py); with 300
the import rejected such a row ("Alamat terlalu panjang setelah dirapikan"), a value the contract allows.

Widening a varchar rewrites nothing on PostgreSQL (no table or index rebuild); on SQLite only the declared type
changes, as in 0013 (`app.migrate.set_varchar_length`).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 12:00:00.000000
"""

from __future__ import annotations

from alembic import op

from app.migrate import set_varchar_length

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

OLD_LENGTH, NEW_LENGTH = 300, 750


def upgrade() -> None:
    set_varchar_length('card', 'street', OLD_LENGTH, NEW_LENGTH)


def downgrade() -> None:
    # A street longer than 300 characters (stored since) is cut to fit, on PostgreSQL as on SQLite.
    op.execute(f"UPDATE card SET street = substr(street, 1, {OLD_LENGTH}) WHERE length(street) > {OLD_LENGTH}")
    set_varchar_length('card', 'street', NEW_LENGTH, OLD_LENGTH)
