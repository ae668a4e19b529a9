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


def test_a_setting_that_is_not_a_number_or_not_a_tracking_range_is_one_line_naming_it(tmp_path: Path):
    """Configuration an operator mistyped: one line that names the variable, no traceback (contract 4's names)."""
    env = base_env(tmp_path / "instance", ANTAR_OFFICE="32.16")
    antar(env, "db", "upgrade")
    bad_number = antar({**env, "ANTAR_TRACKING_FIRST": "abc"}, "manifests", "list", check=False)
    assert bad_number.returncode == 2 and "Traceback" not in bad_number.stderr, bad_number.stderr
    assert bad_number.stderr.strip() == "antar: ANTAR_TRACKING_FIRST='abc' bukan bilangan bulat"
    antar(env, "import", str(write_csv(tmp_path / "run.csv", [card_row(1)])))
    bad_prefix = antar({**env, "ANTAR_TRACKING_PREFIX": "rb"}, "manifests", "build", "--finalize", check=False)
    assert bad_prefix.returncode == 1 and "Traceback" not in bad_prefix.stderr + bad_prefix.stdout
    assert "ANTAR_TRACKING_PREFIX 'rb'" in bad_prefix.stderr + bad_prefix.stdout
