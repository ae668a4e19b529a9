"""`antar demo` end to end, as a user runs it: a real process on a fresh SQLite file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_and_balances(tmp_path: Path) -> None:
    env = {**os.environ, "ANTAR_INSTANCE_PATH": str(tmp_path), "COLUMNS": "120"}
    env.pop("DATABASE_URL", None)
    antar = Path(sys.executable).with_name("antar")
    proc = subprocess.run([str(antar), "demo", "--cards", "3000", "--seed", "7"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "seimbang" in out
    assert "berbeda dari rencana" not in out
    assert (tmp_path / "demo" / "antar-demo.sqlite").exists()
