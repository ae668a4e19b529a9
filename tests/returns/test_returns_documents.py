"""The handover list for the kelurahan (PDF): through HTTP for a batch of 60 returned cards, and from plain data."""

from __future__ import annotations

import datetime as dt
import io
import re

import pypdf
import pytest
from helpers import card_row, make_nik
from test_staff import return_all

from courier_sim.server import CourierSimulator
from manifests.documents import tanggal
from returns.documents import TITLE, BatchDoc, ReturnDocItem, batch_pdf, reason_totals
from returns.models import BatchStatus

JATIMULYA = "32.16.06.1001"
CYCLE = ["UNCLAIMED", "MOVED", "DECEASED", "BAD_ADDRESS", "UNCLAIMED", "REFUSED"]
LABELS = {"UNCLAIMED": "Tidak ada penghuni / tidak diambil", "MOVED": "Pindah alamat", "DECEASED": "Meninggal dunia",
          "BAD_ADDRESS": "Alamat tidak jelas / tidak ditemukan", "REFUSED": "Ditolak"}


@pytest.fixture
def sim():
    with CourierSimulator(api_token="tok") as s:
        yield s


def pages_of(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_batch_list_pdf_for_60_cards(app, runner, tmp_path, sim, staff):
    reasons = {i: CYCLE[i % len(CYCLE)] for i in range(1, 61)}
    return_all(app, runner, sim, tmp_path / "a.csv", [card_row(i) for i in range(1, 61)], reasons)
    (batch,) = staff.post("/api/v1/returns/batches", json={"kelurahan": [JATIMULYA]}).get_json()["batches"]
    assert batch["items"] == 60

    r = staff.get(f"/pengembalian/berkas/{batch['id']}/daftar.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert f"{batch['number']}-daftar.pdf" in r.headers["Content-Disposition"]
    pages = pages_of(r.data)
    text = "\n".join(pages)
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Halaman {number} dari {len(pages)}" in page and batch["number"] in page
        if "BLK" in page:  # the table header repeats on every page with cards
            assert "Nomor blanko" in page and "Keterangan" in page
    flat = " ".join(text.split())
    assert TITLE in text and f"Nomor berkas: {batch['number']}" in text
    assert "JATIMULYA, Kec. TAMBUN SELATAN (32.16.06.1001)" in flat
    assert "60 (enam puluh) kartu" in flat and tanggal(dt.datetime.now(dt.UTC)) in flat
    for i in range(1, 61):
        assert re.search(rf"\bWARGA NOMOR {i}\b", text), i
        assert f"BLK{i:07d}" in text
    # the reasons on the rows and the totals per reason
    totals = {"UNCLAIMED": 20, "MOVED": 10, "DECEASED": 10, "BAD_ADDRESS": 10, "REFUSED": 10}
    last = " ".join(pages[-1].split())
    for code, n in totals.items():
        assert flat.count(LABELS[code]) == n + 1, code  # each row, and once in the totals
        assert re.search(rf"{re.escape(LABELS[code])}\s+{n}\b", last), code
    assert re.search(r"JUMLAH TOTAL \(enam puluh\)\s+60", last)
    assert "Yang menyerahkan," in last and "Disdukcapil Kabupaten Bekasi" in last
    assert "Yang menerima," in last and "Petugas Kelurahan JATIMULYA" in last
    # no NIK anywhere: the list travels with the cards
    assert not re.search(r"\d{16}", text.replace(" ", ""))
    assert all(make_nik(i) not in text for i in range(1, 61))


def doc(items: list[ReturnDocItem], status: BatchStatus = BatchStatus.DRAFT, label: str = "Disiapkan") -> BatchDoc:
    at = dt.datetime(2026, 11, 23, 20, 30, tzinfo=dt.UTC)  # 24 November in WIB
    return BatchDoc(office_title="Disdukcapil Kabupaten Bekasi", office_code="32.16", kabupaten_kota="KABUPATEN BEKASI",
                    provinsi="JAWA BARAT", batch_number="SRT-3216-20261124-0001", kelurahan="JATIMULYA",
                    kecamatan="TAMBUN SELATAN", kelurahan_code=JATIMULYA, status=status, status_label=label,
                    created_at=at, dispatched_at=None, items=tuple(items))


def item(seq: int, nama: str, reason: str = "WITHDRAWN_AREA", label: str = "Wilayah ditarik") -> ReturnDocItem:
    return ReturnDocItem(seq=seq, nama=nama, nomor_blanko=f"BLK{seq:07d}", rt="003", rw=None, reason=reason,
                         reason_label=label)


def test_batch_pdf_escapes_names_and_dates_in_wib():
    pages = pages_of(batch_pdf(doc([item(1, "SITI & <b>ANI</b>"), item(2, "BUDI", "MOVED", "Pindah alamat")])))
    (text,) = pages
    assert "SITI & <b>ANI</b>" in text and "003/-" in text
    assert "24 November 2026, pukul 03.30 WIB" in text and "Selasa" in text
    assert "Halaman 1 dari 1" in text and re.search(r"JUMLAH TOTAL \(dua\)\s+2", text)


def test_batch_pdf_of_an_empty_or_cancelled_batch():
    text = pages_of(batch_pdf(doc([], BatchStatus.CANCELLED, "Dibatalkan")))[0]
    assert "Tidak ada kartu dalam berkas ini." in text and "DIBATALKAN" in text and "0 (nol) kartu" in text


def test_reason_totals_largest_first():
    items = [item(1, "A", "MOVED", "Pindah alamat"), item(2, "B"), item(3, "C"), item(4, "D", "REFUSED", "Ditolak")]
    assert reason_totals(items) == [("Wilayah ditarik", 2), ("Ditolak", 1), ("Pindah alamat", 1)]
