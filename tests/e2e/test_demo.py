"""`antar demo` end to end, as a user runs it: a real process on a fresh SQLite file."""

from __future__ import annotations

import os
import re
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
    # manifests handed to the simulator (one retried 503), every event received over HTTP, every manifest closed
    assert "percobaan pertama dijawab 503" in out
    assert "0 ditolak" in out and "pesan gagal: 0" in out

    closed = re.search(r"(\d+) dari (\d+) manifest\s+selesai", out)
    assert closed and closed.group(1) == closed.group(2)
    # returns through the kelurahan, moved holders' cards sent again, a late withdrawal
    assert re.search(r"\d+ berkas \([\d.]+ kartu\) untuk \d+ kelurahan", out)
    assert "Dicatat petugas: " in out and "hilang 1" in out
    assert re.search(r"\d+ kartu pemilik pindah; \d+ sudah kembali di kantor dan masuk \d+\s+manifest baru", out)
    assert (tmp_path / "demo" / "antar-demo.sqlite").exists()
