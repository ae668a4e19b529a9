"""`antar` as a real process closes its database connections when a command ends (app/launch.py), before the
interpreter's exit, which no longer looks through the command's objects for reference cycles."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from helpers import card_row, write_csv
from serving import antar, base_env


def test_an_import_leaves_the_sqlite_database_closed_and_whole(tmp_path: Path):
    instance = tmp_path / "instance"
    env = base_env(instance, ANTAR_OFFICE="32.16")
    antar(env, "db", "upgrade")
    out = antar(env, "import", str(write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, 301)])))
    assert "300 kartu diimpor" in out.stdout
    database = instance / "antar.sqlite"
    # The last connection closed: SQLite wrote its log back into the database and removed it.
    assert database.exists() and not database.with_name("antar.sqlite-wal").exists()
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM card").fetchone()[0] == 300
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
