"""the tally trigger on card updates joins its old and new rows by hash, whatever it saw first (PostgreSQL)

`card_flow_update()` (migration 0009) joins the statement's transition tables, old and new rows, on the card's id.
PL/pgSQL plans that query once per connection, at its first run, and keeps the plan: when the first statement of a
connection changed one card (a clerk's correction, a single courier event), the plan joins the two tables by nested
loop, and every later statement of that connection pays it on every row pair. A bulk change of n cards then costs
n * n comparisons: 2,000 cards 618 ms instead of 7, and the courier's 500-event batches spent more than a third of
PostgreSQL's time there (benchmarks/bench_webhook.py, where single posts come first). With `enable_nestloop = off`
for this function the join is by hash at any size; the lateral VALUES, which has no other way, stays a nested loop.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 17:25:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER FUNCTION card_flow_update() SET enable_nestloop = off")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER FUNCTION card_flow_update() RESET enable_nestloop")
