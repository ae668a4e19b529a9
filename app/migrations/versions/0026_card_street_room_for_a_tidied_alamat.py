"""`card.street` 300 -> 750 characters: room for the street tidied from any `alamat` within the intake spec's limit

The street is `alamat` tidied by the address normalizer: canonical keywords ("NO1" becomes "NO. 1", "DSN-" becomes
"DUSUN -") and upper case, where one letter can become three ("ΐ" becomes "Ϊ́"). An `alamat` of 250 characters,
the spec's limit, can so make a street of up to 750 (743 measured, tests/manifests/test_intake_limits.py); with 300
the import rejected such a row ("Alamat terlalu panjang setelah dirapikan"), a value the contract allows.

Widening a varchar rewrites nothing on PostgreSQL (no table or index rebuild); on SQLite only the declared type
changes, as in 0013.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None

OLD_LENGTH, NEW_LENGTH = 300, 750


def upgrade() -> None:
    _street_length(OLD_LENGTH, NEW_LENGTH)


def downgrade() -> None:
    # A street longer than 300 characters (stored since) is cut to fit, on PostgreSQL as on SQLite.
    op.execute(f"UPDATE card SET street = substr(street, 1, {OLD_LENGTH}) WHERE length(street) > {OLD_LENGTH}")
    _street_length(NEW_LENGTH, OLD_LENGTH)


def _street_length(old: int, new: int) -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('card', 'street', type_=sa.String(length=new), existing_type=sa.String(length=old),
                        existing_nullable=True)
    else:
        _sqlite_declared_type('card', 'street', old, new)


def _sqlite_declared_type(table: str, column: str, old: int, new: int) -> None:
    """SQLite keeps text of any length whatever the declared type: only the declaration changes, in the schema
    table, as SQLite documents for changes that leave the stored data as it is (https://sqlite.org/lang_altertable.html,
    section 7). Rebuilding the table instead would drop the card table's triggers (0009) and copy every row."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).scalar()
    declared, wanted = f"{column} VARCHAR({old})", f"{column} VARCHAR({new})"
    if sql is None or declared not in sql:
        raise RuntimeError(f"{table}.{column}: declaration {declared!r} not found")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                         (sql.replace(declared, wanted, 1), table))
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")
