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
    # the last mile: pick-ups at the post office, COD paid or refused, old cards destroyed with a Berita Acara,
    # every deliberate difference of the courier's settlements found and nothing else, messages through the gateway
    flat = " ".join(out.split())
    assert re.search(r"Disimpan di kantor pos untuk diambil: [1-9][\d.]* kartu", flat)
    assert re.search(r"COD: [1-9][\d.]* kiriman; [1-9][\d.]* dibayar", flat)
    assert re.search(r"[1-9][\d.]* dimusnahkan \(berita acara", flat)
    assert "setiap selisih yang sengaja dibuat kurir ditemukan, tidak ada yang lain" in flat
    assert "jawaban kita ['recorded', 'duplicate']" in flat
    assert "TIDAK SESUAI" not in flat
    db_file = tmp_path / "demo" / "antar-demo.sqlite"
    assert db_file.exists()
    assert list((tmp_path / "demo").glob("berita-acara-pemusnahan-*.pdf"))
    _last_mile_recorded(db_file)
    _dashboard_equals_reconciliation(antar, env, db_file)


def _last_mile_recorded(db_file: Path) -> None:
    """Messages went through the gateway simulator with its reports back, none carries a NIK, at most one per card and
    kind, none was sent in the quiet hours; the new states have cards."""
    import sqlite3

    db = sqlite3.connect(db_file)
    statuses = dict(db.execute("select status, count(*) from notify_message group by status").fetchall())
    assert statuses.get("delivered", 0) + statuses.get("read", 0) > 100, statuses
    assert db.execute("select count(*) from (select card_id, kind from notify_message group by card_id, kind "
                      "having count(*) > 1)").fetchone()[0] == 0
    assert db.execute("select count(*) from notify_message m join card c on c.id = m.card_id "
                      "where instr(m.text, c.nik) > 0").fetchone()[0] == 0
    sent_hours = [int(h) for (h,) in db.execute(
        "select strftime('%H', sent_at, '+7 hours') from notify_message where sent_at is not null")]
    assert sent_hours and not [h for h in sent_hours if h >= 21 or h < 7]
    kinds = {k for (k,) in db.execute("select distinct kind from notify_message where status in ('delivered', 'read')")}
    assert {"out_for_delivery", "delivery_failed", "at_post_office", "cod_coming"} <= kinds, kinds
    ever = {s for (s,) in db.execute("select distinct to_state from card_history")}
    assert {"AT_POST_OFFICE", "FOR_COLLECTION"} <= ever


def _dashboard_equals_reconciliation(antar: Path, env: dict, db_file: Path) -> None:
    """After the whole demo, the dashboard's figures (kept by the database's triggers, never a scan of the cards) are
    the reconciliation's (a count of the cards): per state, per kecamatan, per kelurahan, and the funnel adds up."""
    from sqlalchemy import select

    from app import create_app
    from app.db import unit_of_work
    from app.models import Office
    from app.report import reconciliation
    from dashboard.queries import figures

    url = f"sqlite:///{db_file}"
    check = subprocess.run([str(antar), "dashboard", "check"], env={**env, "DATABASE_URL": url}, capture_output=True,
                           text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    with app.app_context(), unit_of_work() as session:
        office = session.scalars(select(Office)).one()
        fig, rec = figures(session, office), reconciliation(session, office)
    assert fig["printed"] == rec["printed"] and fig["by_state"] == rec["by_state"]
    assert {k["nama"]: k["dicetak"] for k in fig["by_kecamatan"]} == {k["kecamatan"]: k["total"]
                                                                     for k in rec["by_kecamatan"]}
    assert {k["kode_wilayah"]: k["per_status"] for k in fig["by_kelurahan"]} == {
        k["kode_wilayah"] if k["kode_wilayah"] != "-" else "": k["by_state"] for k in rec["by_kelurahan"]}
    steps = {s["key"]: s["count"] for s in fig["funnel"]}
    assert steps["PRINTED"] == rec["printed"] == sum(
        steps[k] for k in ("DAMAGED", "DUPLICATE", "WITHDRAWN", "ADDRESS_UNCLEAR", "WAITING", "SENT"))
    assert steps["SENT"] == steps["AT_COURIER"] + steps["DELIVERED"] + steps["RETURNED"]
    assert steps["DELIVERED"] == rec["by_state"]["DELIVERED"]
    assert sum(r["cards"] for r in fig["returns_by_reason"]) == steps["RETURNED"]
    # the courier's simulated weeks are days of their own on the chart
    assert sum(1 for n in fig["daily"]["delivered"] if n) >= 3
    assert sum(fig["daily"]["delivered"]) >= rec["by_state"]["DELIVERED"]
