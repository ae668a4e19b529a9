"""Fixtures: the app over SQLite and (when it answers) PostgreSQL, clients, CLI runners, users."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from helpers import OFFICE, login, make_user

from app import create_app
from app.db import make_engine
from app.migrate import upgrade
from app.models import Role

# Hundreds of logins: a cheap hash keeps them from costing minutes (production keeps werkzeug's scrypt).
TEST_PASSWORD_HASH = "pbkdf2:sha256:1000"
PG_URL = os.environ.get("ANTAR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def _pg_reachable() -> bool:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


PG_AVAILABLE = _pg_reachable()
if os.environ.get("CI") == "true" and not PG_AVAILABLE:
    raise pytest.UsageError(f"CI=true but PostgreSQL at {PG_URL} cannot be reached: the suite must run on both.")
BACKENDS = ["sqlite", "postgresql"] if PG_AVAILABLE else ["sqlite"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "antar.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_schema() -> Iterator[str]:
    """A schema of our own in the shared test database, migrated once and dropped at the end."""
    schema = f"antar_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(pg_url_for(schema))
    upgrade(engine)
    engine.dispose()
    yield schema
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def pg_url_for(schema: str) -> str:
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def _truncate_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names() if t != "alembic_version"]
        if tables:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "antar.sqlite"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = pg_url_for(request.getfixturevalue("pg_schema"))
    _truncate_pg(url)
    return url


@pytest.fixture
def app(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("ANTAR_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "ANTAR_OFFICE": OFFICE,
        "WTF_CSRF_ENABLED": False, "INTAKE_CHUNK_ROWS": 500, "ANTAR_PASSWORD_HASH": TEST_PASSWORD_HASH,
    })
    yield app
    app.extensions["antar.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def staff(app: Flask, client: FlaskClient) -> FlaskClient:
    """A client logged in as staff of the Kabupaten Bekasi office."""
    make_user(app, "staf", Role.STAFF)
    login(client, "staf")
    return client


_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the schemathesis run's counts (tests/e2e/test_api_fuzz.py), when it ran in this session."""
    summary = Path(__file__).parent / "browser" / "artifacts" / "schemathesis-summary.txt"
    if summary.exists() and summary.stat().st_mtime >= _SESSION_START:
        terminalreporter.section("schemathesis against /api/openapi.json")
        terminalreporter.write(summary.read_text())
