"""A crash half way through an import (SIGKILL of the real `antar import` process) leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from app.demo.synthetic import generate_print_run


def _writing(url: str, db_file: Path | None) -> bool:
    """True once the importer has written cards inside its (uncommitted) transaction."""
    if db_file is not None:
        wal = Path(f"{db_file}-wal")
        return wal.exists() and wal.stat().st_size > 2_000_000
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'card_history' AND l.pid <> pg_backend_pid()").scalar()
    engine.dispose()
    return bool(n)


def _counts(url: str) -> tuple[int, int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = tuple(conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar()
                       for t in ("print_run", "card", "card_history"))
    engine.dispose()
    return counts  # type: ignore[return-value]


def test_sigkill_during_import_commits_nothing_and_a_rerun_imports_all(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "run.csv"
    run = generate_print_run(path, cards=60_000, seed=11)
    env = {**os.environ, "DATABASE_URL": database_url, "ANTAR_INSTANCE_PATH": str(tmp_path / "instance")}
    antar = str(Path(sys.executable).with_name("antar"))
    db_file = Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite") else None

    proc = subprocess.Popen([antar, "import", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _writing(database_url, db_file):
        assert proc.poll() is None, "the import ended before it could be interrupted"
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    assert _counts(database_url) == (0, 0, 0)
    done = subprocess.run([antar, "import", str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    runs, cards, history = _counts(database_url)
    assert (runs, cards, history) == (1, run.cards, run.cards)
