"""card_flow: the dashboard's aggregates, kept by the database itself with every change of a card

Every insert, change of state (or of kelurahan or return reason) and delete of a card writes a row to
`card_flow_delta` through triggers on `card`; `app.tally.fold` moves those rows into `card_flow`, summed per key.
Row-level triggers on SQLite, statement-level triggers with transition tables on PostgreSQL (one aggregated insert
per statement, not one per card). Cards already in the database are counted once, in their current state.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

KEY = ('office_id', 'print_run_id', 'kelurahan_code', 'return_reason', 'from_state', 'to_state', 'day')
COUNT_KEY = ('office_id', 'print_run_id', 'kelurahan_code', 'return_reason', 'state')
COLUMNS = ', '.join(KEY) + ', n'

# A change of a card is up to three rows: when its key (kelurahan, return reason) changes, it leaves the old key in
# its old state ('~' marks a move between keys, not a change of state) and arrives in the new key in that state;
# then, when its state changes, the transition itself, under the new key. '' as from_state: the card was created;
# as to_state: deleted. Counting a state S = sum(n) into S - sum(n) out of S.
SQLITE_DAY = "date({0}.state_changed_at, '+7 hours')"  # stored as naive UTC text; WIB has no daylight saving
SQLITE_KEY = "{0}.office_id, {0}.print_run_id, coalesce({0}.kelurahan_code, ''), coalesce({0}.return_reason, '')"
SQLITE = [
    f"""CREATE TRIGGER card_flow_insert AFTER INSERT ON card BEGIN
      INSERT INTO card_flow_delta ({COLUMNS})
      VALUES ({SQLITE_KEY.format('NEW')}, '', NEW.state, {SQLITE_DAY.format('NEW')}, 1);
    END""",
    f"""CREATE TRIGGER card_flow_update AFTER UPDATE OF state, kelurahan_code, return_reason ON card
    WHEN OLD.state IS NOT NEW.state OR OLD.kelurahan_code IS NOT NEW.kelurahan_code
      OR OLD.return_reason IS NOT NEW.return_reason BEGIN
      INSERT INTO card_flow_delta ({COLUMNS})
      SELECT {SQLITE_KEY.format('OLD')}, OLD.state, '~', {SQLITE_DAY.format('NEW')}, 1
      WHERE OLD.kelurahan_code IS NOT NEW.kelurahan_code OR OLD.return_reason IS NOT NEW.return_reason;
      INSERT INTO card_flow_delta ({COLUMNS})
      SELECT {SQLITE_KEY.format('NEW')}, '~', OLD.state, {SQLITE_DAY.format('NEW')}, 1
      WHERE OLD.kelurahan_code IS NOT NEW.kelurahan_code OR OLD.return_reason IS NOT NEW.return_reason;
      INSERT INTO card_flow_delta ({COLUMNS})
      SELECT {SQLITE_KEY.format('NEW')}, OLD.state, NEW.state, {SQLITE_DAY.format('NEW')}, 1
      WHERE OLD.state IS NOT NEW.state;
    END""",
    f"""CREATE TRIGGER card_flow_delete AFTER DELETE ON card BEGIN
      INSERT INTO card_flow_delta ({COLUMNS})
      VALUES ({SQLITE_KEY.format('OLD')}, OLD.state, '', {SQLITE_DAY.format('OLD')}, 1);
    END""",
]

PG_DAY = "({0}.state_changed_at AT TIME ZONE 'Asia/Jakarta')::date"
PG_KEY = "{0}.office_id, {0}.print_run_id, coalesce({0}.kelurahan_code, ''), coalesce({0}.return_reason, '')"
PG_MOVED = ("(o.kelurahan_code IS DISTINCT FROM n.kelurahan_code "
            "OR o.return_reason IS DISTINCT FROM n.return_reason)")
PG_GROUP = "GROUP BY 1, 2, 3, 4, 5, 6, 7"
POSTGRESQL = [
    # jit off: a bulk statement's transition tables make the planner overestimate and JIT-compile (4x slower).
    f"""CREATE FUNCTION card_flow_insert() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
    BEGIN
      INSERT INTO card_flow_delta ({COLUMNS})
      SELECT {PG_KEY.format('n')}, '', n.state, {PG_DAY.format('n')}, count(*) FROM new_rows n {PG_GROUP};
      RETURN NULL;
    END $$""",
    # One join of the old and new rows, each giving up to three rows (VALUES): a single pass over a bulk UPDATE.
    f"""CREATE FUNCTION card_flow_update() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
    BEGIN
      INSERT INTO card_flow_delta ({COLUMNS})
      SELECT n.office_id, n.print_run_id, v.kel, v.reason, v.f, v.t, {PG_DAY.format('n')}, count(*)
      FROM old_rows o JOIN new_rows n ON n.id = o.id
      CROSS JOIN LATERAL (VALUES
        (coalesce(o.kelurahan_code, ''), coalesce(o.return_reason, ''), o.state::text, '~', {PG_MOVED}),
        (coalesce(n.kelurahan_code, ''), coalesce(n.return_reason, ''), '~', o.state::text, {PG_MOVED}),
        (coalesce(n.kelurahan_code, ''), coalesce(n.return_reason, ''), o.state::text, n.state::text,
         o.state IS DISTINCT FROM n.state)
      ) AS v(kel, reason, f, t, keep)
      WHERE v.keep {PG_GROUP};
      RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION card_flow_delete() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
    BEGIN
      INSERT INTO card_flow_delta ({COLUMNS})
      SELECT {PG_KEY.format('o')}, o.state, '', {PG_DAY.format('o')}, count(*) FROM old_rows o {PG_GROUP};
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER card_flow_insert AFTER INSERT ON card REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION card_flow_insert()",
    "CREATE TRIGGER card_flow_update AFTER UPDATE ON card REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION card_flow_update()",
    "CREATE TRIGGER card_flow_delete AFTER DELETE ON card REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION card_flow_delete()",
]


def _columns() -> list[sa.Column]:
    return [
        sa.Column('office_id', sa.Integer(), nullable=False),
        sa.Column('print_run_id', sa.Integer(), nullable=False),
        sa.Column('kelurahan_code', sa.String(length=13), nullable=False),
        sa.Column('return_reason', sa.String(length=20), nullable=False),
        sa.Column('from_state', sa.String(length=24), nullable=False),
        sa.Column('to_state', sa.String(length=24), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('card_flow', sa.Column('id', sa.Integer(), nullable=False), *_columns(),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_flow')),
                    sa.UniqueConstraint(*KEY, name=op.f('uq_card_flow_key')))
    op.create_index('ix_card_flow_office_day', 'card_flow', ['office_id', 'day'])
    # The current count per key and state (no day): what the dashboard reads when it is not asked for a past day.
    op.create_table('card_count', sa.Column('id', sa.Integer(), nullable=False), *_columns()[:4],
                    sa.Column('state', sa.String(length=24), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_count')),
                    sa.UniqueConstraint(*COUNT_KEY, name=op.f('uq_card_count_key')))
    op.create_index('ix_card_flow_office_to_day', 'card_flow', ['office_id', 'to_state', 'day'])
    op.create_table('card_flow_delta', sa.Column('id', sa.Integer(), nullable=False), *_columns(),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_flow_delta')))
    # The dashboard's oldest open cards, per state, without scanning the office's cards.
    op.create_index('ix_card_office_state_changed', 'card', ['office_id', 'state', 'state_changed_at'])
    bind = op.get_bind()
    day = PG_DAY.format('card') if bind.dialect.name == 'postgresql' else SQLITE_DAY.format('card')
    op.execute(f"INSERT INTO card_flow ({COLUMNS}) SELECT {SQLITE_KEY.format('card')}, '', state, {day}, count(*) "
               f"FROM card {PG_GROUP}")
    op.execute(f"INSERT INTO card_count ({', '.join(COUNT_KEY)}, n) SELECT {SQLITE_KEY.format('card')}, state, count(*) "
               "FROM card GROUP BY 1, 2, 3, 4, 5")
    for statement in POSTGRESQL if bind.dialect.name == 'postgresql' else SQLITE:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for name in ('insert', 'update', 'delete'):
        op.execute(f"DROP TRIGGER IF EXISTS card_flow_{name}" + (" ON card" if bind.dialect.name == 'postgresql' else ""))
        if bind.dialect.name == 'postgresql':
            op.execute(f"DROP FUNCTION IF EXISTS card_flow_{name}()")
    op.drop_index('ix_card_office_state_changed', table_name='card')
    op.drop_table('card_flow_delta')
    op.drop_table('card_count')
    op.drop_index('ix_card_flow_office_to_day', table_name='card_flow')
    op.drop_index('ix_card_flow_office_day', table_name='card_flow')
    op.drop_table('card_flow')
