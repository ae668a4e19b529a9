"""the references of courier events and card history checked once per statement, not once per row (PostgreSQL)

Four foreign keys are on the courier webhook's path: an event's item (`tracking_event.item_id`) and message
(`tracking_event.message_id`), a history row's card (`card_history.card_id`) and user (`card_history.user_id`).
PostgreSQL checks a foreign key with a trigger per inserted row, each a query of its own: for a 500-event batch,
1,000 to 2,000 lookups, about a sixth of the backend's CPU for the batch (EXPLAIN ANALYZE: 3.4 ms of a 12 ms write
for 500 events that move no card, 5.6 of 27 ms for 500 that do). Here each is checked by one set-based query per
statement, over the rows the statement inserted (a transition table), with the same meaning:

- an inserted row's reference must exist, and the referenced rows are locked `FOR KEY SHARE`, as the foreign key's
  check locks them (a concurrent delete of the item waits, then fails);
- a changed reference (`UPDATE OF item_id ...`) is checked the same way, row by row (nothing changes them);
- a referenced row cannot be deleted, nor its id changed, while rows refer to it (NO ACTION, as before); a delete
  under REPEATABLE READ is refused outright, since a reference committed after its snapshot would not be seen
  (Antar runs READ COMMITTED; under SERIALIZABLE, SSI sees the conflict);
- a referenced table cannot be truncated while the referring one keeps rows (a TRUNCATE of both is fine).

The check of inserted rows looks each referenced id up in the referenced table's primary key (nested loop), whatever
the statement's size: PL/pgSQL keeps the plan of its first run on a connection (migration 0021), and a hash join
planned for a bulk first statement would then read the whole table for every later batch.

The errors are PostgreSQL's own class (`foreign_key_violation`, SQLSTATE 23503, with the constraint's name), so the
application sees the same IntegrityError. The models keep their ForeignKey: SQLite keeps the constraints, and
`app.migrate.include_object` tells autogenerate that PostgreSQL checks these four this way.

Measured (in-process, batches of 500 events at the four stages of a delivery, two schemas alternated, 156 batches
each): PostgreSQL 59.5 -> 53.7 µs of CPU an event; without any check at all it was 50.8.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-05 16:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

# (referring table, column, referenced table, constraint name); the referenced column is `id`.
REFERENCES = (
    ("tracking_event", "item_id", "manifest_item", "fk_tracking_event_item_id_manifest_item"),
    ("tracking_event", "message_id", "webhook_message", "fk_tracking_event_message_id_webhook_message"),
    ("card_history", "card_id", "card", "fk_card_history_card_id_card"),
    ("card_history", "user_id", "user_account", "fk_card_history_user_id_user_account"),
)


def _missing(child: str, column: str, parent: str, name: str) -> str:
    return (f"RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{name}', "
            f"MESSAGE = 'insert or update on table \"{child}\" violates foreign key constraint \"{name}\"', "
            f"DETAIL = 'Key ({column}) is not present in table \"{parent}\".';")


def _referenced(child: str, column: str, parent: str, name: str) -> str:
    return (f"RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{name}', "
            f"MESSAGE = 'update or delete on table \"{parent}\" violates foreign key constraint \"{name}\" "
            f"on table \"{child}\"', DETAIL = 'Key (id) is still referenced from table \"{child}\".';")


def _statements() -> list[str]:
    sql = []
    for child in dict.fromkeys(c for c, *_ in REFERENCES):
        checks = "\n".join(
            f"  IF (SELECT count(*) FROM (SELECT 1 FROM {parent} WHERE id IN (SELECT {column} FROM new_rows) "
            f"FOR KEY SHARE) AS found)\n"
            f"     <> (SELECT count(DISTINCT {column}) FROM new_rows) THEN\n"
            f"    {_missing(child, column, parent, name)}\n  END IF;"
            for c, column, parent, name in REFERENCES if c == child)
        # Planned once per connection, at the first run, whatever its size (migration 0021): a nested loop over the
        # referenced table's primary key is right for one row and for a whole print run; a plan made for a bulk
        # first statement (hash join, scan of the table) would scan the table for every later batch.
        sql += [f"CREATE FUNCTION {child}_references() RETURNS trigger LANGUAGE plpgsql SET jit = off "
                f"SET enable_hashjoin = off SET enable_mergejoin = off AS $$\nBEGIN\n{checks}\n"
                "  RETURN NULL;\nEND $$",
                f"CREATE TRIGGER {child}_references AFTER INSERT ON {child} REFERENCING NEW TABLE AS new_rows "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {child}_references()"]
    for child, column, parent, name in REFERENCES:
        ref = f"{child}_{column}"
        sql += [
            f"CREATE FUNCTION {ref}_changed() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$\nBEGIN\n"
            f"  IF NEW.{column} IS NOT NULL THEN\n"
            f"    PERFORM 1 FROM {parent} WHERE id = NEW.{column} FOR KEY SHARE;\n"
            f"    IF NOT FOUND THEN\n      {_missing(child, column, parent, name)}\n    END IF;\n  END IF;\n"
            "  RETURN NULL;\nEND $$",
            f"CREATE TRIGGER {ref}_changed AFTER UPDATE OF {column} ON {child} FOR EACH ROW "
            f"WHEN (OLD.{column} IS DISTINCT FROM NEW.{column}) EXECUTE FUNCTION {ref}_changed()",
            f"CREATE FUNCTION {ref}_deleted() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$\nBEGIN\n"
            "  IF current_setting('transaction_isolation') = 'repeatable read' THEN\n"
            "    RAISE EXCEPTION USING ERRCODE = 'object_not_in_prerequisite_state', "
            f"MESSAGE = 'rows of \"{parent}\" are deleted under READ COMMITTED or SERIALIZABLE: \"{child}\" "
            "refers to them and a reference committed after this transaction''s snapshot would not be seen';\n"
            "  END IF;\n"
            f"  IF EXISTS (SELECT 1 FROM {child} JOIN old_rows ON {child}.{column} = old_rows.id) THEN\n"
            f"    {_referenced(child, column, parent, name)}\n  END IF;\n"
            "  RETURN NULL;\nEND $$",
            f"CREATE TRIGGER {ref}_deleted AFTER DELETE ON {parent} REFERENCING OLD TABLE AS old_rows "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {ref}_deleted()",
            f"CREATE FUNCTION {ref}_renumbered() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$\nBEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM {child} WHERE {column} = OLD.id) THEN\n"
            f"    {_referenced(child, column, parent, name)}\n  END IF;\n"
            "  RETURN NULL;\nEND $$",
            f"CREATE TRIGGER {ref}_renumbered AFTER UPDATE OF id ON {parent} FOR EACH ROW "
            f"WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION {ref}_renumbered()",
            # After every table of one TRUNCATE is emptied: the referring table emptied by the same command is fine.
            f"CREATE FUNCTION {ref}_truncated() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$\nBEGIN\n"
            f"  IF EXISTS (SELECT 1 FROM {child} WHERE {column} IS NOT NULL) THEN\n"
            f"    RAISE EXCEPTION USING ERRCODE = 'feature_not_supported', "
            f"MESSAGE = 'cannot truncate a table referenced in a foreign key constraint', "
            f"DETAIL = 'Table \"{child}\" references \"{parent}\" ({name}).', "
            f"HINT = 'Truncate table \"{child}\" at the same time.';\n  END IF;\n"
            "  RETURN NULL;\nEND $$",
            f"CREATE TRIGGER {ref}_truncated AFTER TRUNCATE ON {parent} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {ref}_truncated()",
        ]
    return sql


def _functions() -> list[str]:
    names = [f"{child}_references" for child in dict.fromkeys(c for c, *_ in REFERENCES)]
    for child, column, *_ in REFERENCES:
        names += [f"{child}_{column}_{kind}" for kind in ("changed", "deleted", "renumbered", "truncated")]
    return names


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for child, _column, _parent, name in REFERENCES:
        op.execute(f"ALTER TABLE {child} DROP CONSTRAINT {name}")
    for statement in _statements():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name in _functions():
        op.execute(f"DROP FUNCTION {name}() CASCADE")  # with its trigger
    for child, column, parent, name in REFERENCES:
        op.execute(f"ALTER TABLE {child} ADD CONSTRAINT {name} FOREIGN KEY ({column}) REFERENCES {parent} (id)")
