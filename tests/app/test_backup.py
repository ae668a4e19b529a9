"""Backup and restore as the README says (section "Backup and restore"): SQLite with its online backup API, PostgreSQL
with pg_dump -Fc and pg_restore into a fresh database. The restored database holds every row of every table, and
the reconciliation report is the same."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import card_row, cli, make_user, report, write_csv
from sqlalchemy import select

from app import create_app
from app.cards import Actor
from app.db import Base, unit_of_work
from app.migrate import check_schema
from app.models import Office, Role
from manifests import sorting

JATIMULYA = "32.16.06.1001"
LAMBANGSARI = "32.16.06.2002"

# As tests/conftest.py has it (importing `conftest` by name is ambiguous: every test folder may have one).
PG_URL = os.environ.get("ANTAR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


@pytest.fixture
def populated(app, runner, tmp_path):
    """Cards in several states (unclear, withdrawn, damaged, on manifests with tracking numbers, ready), a rejected
    row, accounts and an access-log entry."""
    rows = [card_row(i) for i in range(1, 31)]
    rows += [card_row(i, kelurahan="LAMBANGSARI", alamat=f"JL. LAMBANGSARI NO. {i}") for i in range(31, 41)]
    rows += [card_row(41, kelurahan="ENTAH DIMANA", kecamatan="ANTAH BERANTAH"), card_row(42, tanggal_lahir="x")]
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows))).exit_code == 0
    assert cli(runner, "sorting", "damaged", "BLK0000001", "BLK0000002", "--reason", "tergores").exit_code == 0
    with app.app_context(), unit_of_work() as s:
        sorting.withdraw_area(s, s.scalar(select(Office)), LAMBANGSARI, [], "uji cadangan", Actor("staf"))
    assert cli(runner, "manifests", "build", "--finalize", "--max-items", "10").exit_code == 0
    make_user(app, "staf", Role.STAFF)
    client = app.test_client()
    client.post("/login", data={"username": "staf", "password": "rahasia-123"})
    assert client.get("/pengembalian/meninggal").status_code == 200  # an access-log entry
    data = report(runner)
    assert data["printed"] == 41 and data["rejected_rows"] == 1 and data["by_state"]["ON_MANIFEST"] > 0
    return data


def everything(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the schema, in primary-key order."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                    for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def restored_app(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ANTAR_INSTANCE_PATH", str(tmp_path / "restored-instance"))
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", "ANTAR_OFFICE": "32.16"})


def without_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "generated_at"}


def assert_same(app, restored, original_url: str, restored_url: str, data: dict) -> None:
    with restored.app_context():
        check_schema(restored.extensions["antar.engine"])  # migrated: every command and the server accept it
    before, after = everything(original_url), everything(restored_url)
    assert after == before
    assert len(after["card"]) == 41 and len(after["card_history"]) > 41 and after["access_log"]
    assert without_time(report(restored.test_cli_runner())) == without_time(data)
    restored.extensions["antar.engine"].dispose()


def test_backup_and_restore_into_a_fresh_database(app, populated, database_url, tmp_path, monkeypatch):
    if database_url.startswith("sqlite"):
        restored_url = sqlite_backup_and_restore(app, database_url, tmp_path)
        assert_same(app, restored_app(restored_url, tmp_path, monkeypatch), database_url, restored_url, populated)
        return
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump/pg_restore are not installed (apt-get install postgresql-client)")
    with postgresql_backup_and_restore(database_url, tmp_path) as restored_url:
        assert_same(app, restored_app(restored_url, tmp_path, monkeypatch), database_url, restored_url, populated)


def sqlite_backup_and_restore(app, database_url: str, tmp_path: Path) -> str:
    live = database_url.removeprefix("sqlite:///")
    backup = tmp_path / "cadangan" / "antar-2026-12-03.sqlite"
    backup.parent.mkdir()
    # The README's command, run while the application holds the database open (WAL mode).
    with app.app_context(), app.extensions["antar.engine"].connect() as busy:
        busy.exec_driver_sql("SELECT count(*) FROM card").scalar()
        source, target = sqlite3.connect(live), sqlite3.connect(backup)
        source.backup(target)
        target.close()
        source.close()
    assert sqlite3.connect(backup).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # Restore: the file becomes the database of a fresh instance folder.
    fresh = tmp_path / "restored" / "antar.sqlite"
    fresh.parent.mkdir()
    shutil.copy(backup, fresh)
    return f"sqlite:///{fresh}"


@contextmanager
def postgresql_backup_and_restore(database_url: str, tmp_path: Path) -> Iterator[str]:
    """pg_dump -Fc, then pg_restore into a database made for it (dropped afterwards): its URL."""
    server = sa.engine.make_url(PG_URL).set(drivername="postgresql")
    schema = sa.engine.make_url(database_url).query["options"].split("=", 1)[1]
    dump = tmp_path / "antar-2026-12-03.dump"
    # The README's command; the tests share one database, so only this test run's schema (-n) is dumped.
    subprocess.run(["pg_dump", "-Fc", "--no-owner", "-n", schema, "-f", str(dump),
                    "-d", server.render_as_string(hide_password=False)], check=True, capture_output=True)
    name = f"antar_restore_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        target = server.set(database=name).render_as_string(hide_password=False)
        # A dump of the whole database (the README's) carries the extensions; this dump of one schema does not: the
        # fresh database gets pg_trgm as the whole dump would give it (migration 0017's index uses it).
        with admin.connect() as conn:
            trigrams = conn.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first()
        if trigrams:
            fresh = sa.create_engine(sa.engine.make_url(PG_URL).set(database=name), isolation_level="AUTOCOMMIT")
            with fresh.connect() as conn:
                conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
            fresh.dispose()
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "-d", target, str(dump)], check=True,
                       capture_output=True)
        yield sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False) + \
            f"?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
