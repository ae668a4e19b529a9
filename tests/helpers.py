"""Building print-run files for tests."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

HEADER = ["nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw", "kelurahan",
          "kecamatan", "kabupaten_kota", "provinsi", "kode_wilayah", "kode_pos", "no_kk", "nomor_blanko",
          "tanggal_cetak", "no_hp"]


def make_nik(serial: int, *, female: bool = False, kec: str = "321606", born: dt.date = dt.date(1990, 12, 5)) -> str:
    day = born.day + (40 if female else 0)
    return f"{kec}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


def card_row(serial: int = 1, **overrides: str) -> dict[str, str]:
    """A valid row of a man in Jatimulya, Tambun Selatan, unless overridden."""
    row = {
        "nik": make_nik(serial), "nama": f"WARGA NOMOR {serial}", "tempat_lahir": "BEKASI",
        "tanggal_lahir": "05-12-1990", "jenis_kelamin": "LAKI-LAKI", "alamat": f"JL. RAYA JATIMULYA NO. {serial}",
        "rt": "003", "rw": "005", "kelurahan": "JATIMULYA", "kecamatan": "TAMBUN SELATAN",
        "kabupaten_kota": "KAB. BEKASI", "provinsi": "JAWA BARAT", "kode_wilayah": "", "kode_pos": "17510",
        "no_kk": "", "nomor_blanko": f"BLK{serial:07d}", "tanggal_cetak": "02-11-2026", "no_hp": "",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], *, sep: str = ",", encoding: str = "utf-8",
              header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="", encoding=encoding) as f:
        w = csv.DictWriter(f, fieldnames=header, delimiter=sep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    return path


def cli(runner: FlaskCliRunner, *args: str) -> Any:
    from app.cli import main

    return runner.invoke(main, list(args), catch_exceptions=False)


def report(runner: FlaskCliRunner) -> dict:
    result = cli(runner, "report", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def cards(app: Flask) -> dict:
    from app.cards import Card
    from app.db import unit_of_work

    with app.app_context(), unit_of_work() as s:
        return {c.nomor_blanko: c for c in s.scalars(select(Card))}


OFFICE = "32.16"
PASSWORD = "rahasia-123"


def make_user(app: Flask, username: str, role: Any, kelurahan: str | None = None, office: str = OFFICE) -> None:
    from app.db import unit_of_work
    from app.models import Role
    from app.users import create_user

    with app.app_context(), unit_of_work() as session:
        create_user(session, username, PASSWORD, role, office_code=None if role is Role.ADMIN else office,
                    kelurahan_code=kelurahan)


def login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.data


def xlsx_bytes(rows: list[dict[str, str]], header: list[str] = HEADER) -> bytes:
    """A print-run workbook in memory: the header row, then the rows."""
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append([row[h] for h in header])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def finished_job(client: FlaskClient, started: Any, tries: int = 400) -> dict:
    """The job a page started (`started`: its 302 to `/tugas/<id>`), polled through the API until it finished.
    Without Redis the job runs in a thread of the test's process."""
    import time

    assert started.status_code == 302 and "/tugas/" in started.headers["Location"], started
    job_id = int(started.headers["Location"].rsplit("/", 1)[1])
    for _ in range(tries):
        job = client.get(f"/api/v1/jobs/{job_id}").json
        if job["finished"]:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished: {job}")
