"""Intake and sorting pages at the volume of a run, through HTTP: every rejected row of a print run page by page,
strict page numbers, the print runs and the reprint list paged, and sorting forms that come back with the message
beside the field and what was typed."""

from __future__ import annotations

import io
import re

import pytest
from helpers import card_row, cli, write_csv

from app.cards import CardState
from app.db import unit_of_work
from manifests.intake.models import PrintRun

JATIMULYA = "32.16.06.1001"
INDONESIAN_MOMENT = re.compile(r"\d{2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November"
                               r"|Desember) \d{4} \d{2}\.\d{2} WIB")


@pytest.fixture
def run_with_600_rejections(app, runner, staff, tmp_path) -> int:
    """A print run of 2 cards and 600 rows without a name (more than the 500 the page used to show)."""
    rows = [card_row(1), *[card_row(i, nama="") for i in range(100, 700)], card_row(2)]
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows))).exit_code == 0
    with app.app_context(), unit_of_work() as s:
        return s.query(PrintRun.id).scalar()


def lines(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td><td>nama</td>', html)]


def test_every_rejected_row_can_be_seen_page_by_page(staff, run_with_600_rejections):
    run_id = run_with_600_rejections
    first = staff.get(f"/impor/{run_id}").get_data(as_text=True)
    assert "Baris ditolak (600)" in first and "Halaman 1 dari 12" in first
    assert lines(first) == list(range(3, 53))  # the file's lines, in order (line 2 is the first card)
    last = staff.get(f"/impor/{run_id}?hal=12").get_data(as_text=True)
    assert lines(last) == list(range(553, 603))  # beyond the 500 the page used to stop at
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert "Unduh semua 600 baris (CSV)" in first
    csv_text = staff.get(f"/impor/{run_id}/ditolak.csv").get_data(as_text=True)
    assert len(csv_text.strip().splitlines()) == 601  # the download is still every row
    past = staff.get(f"/impor/{run_id}?hal=13")
    assert past.status_code == 200 and "Halaman 13 kosong" in past.get_data(as_text=True)
    assert INDONESIAN_MOMENT.search(first)  # when it was imported


@pytest.mark.parametrize("bad", ["²", "99999999999999999999", "0", "-2", "satu"])
def test_page_numbers_are_strict_on_intake_pages(staff, run_with_600_rejections, bad):
    for url in (f"/impor/{run_with_600_rejections}", "/impor", "/penyortiran"):
        response = staff.get(url, query_string={"hal": bad})
        assert response.status_code == 400 and "hal" in response.get_data(as_text=True), url


def test_print_runs_and_the_reprint_list_are_paged(app, runner, staff, tmp_path):
    for i in range(1, 53):  # 52 print runs of one card each
        assert cli(runner, "import", str(write_csv(tmp_path / f"run-{i}.csv", [card_row(i)]))).exit_code == 0
    runs = re.compile(r'<a href="/impor/(\d+)">')
    first = staff.get("/impor").get_data(as_text=True)
    second = staff.get("/impor?hal=2").get_data(as_text=True)
    assert len(runs.findall(first)) == 50 and runs.findall(second) == ["2", "1"]
    assert "Print run (52)" in first

    blankos = "\n".join(f"BLK{i:07d}" for i in range(1, 53))
    marked = staff.post("/penyortiran/rusak", data={"blanko": blankos, "reason": "chip retak"})
    assert marked.status_code == 302
    reprint = re.compile(r"<tr><td>(BLK\d{7})</td>")
    page = staff.get("/penyortiran").get_data(as_text=True)
    later = staff.get("/penyortiran?hal=2").get_data(as_text=True)
    assert len(reprint.findall(page)) == 50 and reprint.findall(later) == ["BLK0000051", "BLK0000052"]
    assert "kartu rusak, 52" in page and INDONESIAN_MOMENT.search(page)
    assert staff.get("/api/v1/cards/BLK0000052").get_json()["state"] == CardState.DAMAGED.value


def test_sorting_forms_come_back_with_the_message_beside_the_field(app, runner, staff, tmp_path):
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", [card_row(1), card_row(2)]))).exit_code == 0
    typed = "BLK0000001\nBLK9999999"
    refused = staff.post("/penyortiran/rusak", data={"blanko": typed, "reason": "chip retak"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f">{typed}</textarea>" in html and 'value="chip retak"' in html
    assert re.search(r'id="damaged-blanko-error" role="alert">Nomor blanko tidak ditemukan di kantor ini: BLK9999999<',
                     html)
    assert staff.get("/api/v1/cards/BLK0000001").get_json()["state"] == "READY"  # all or nothing

    no_reason = staff.post("/penyortiran/rusak", data={"blanko": "BLK0000001", "reason": " "})
    assert no_reason.status_code == 422
    assert re.search(r'id="reason-d"[^>]*aria-invalid="true"', no_reason.get_data(as_text=True))
    assert 'id="damaged-reason-error"' in no_reason.get_data(as_text=True)

    bad_rw = staff.post("/penyortiran/tarik", data={"kelurahan": JATIMULYA, "rws": "5, lima", "reason": "LRT"})
    html = bad_rw.get_data(as_text=True)
    assert bad_rw.status_code == 422 and "RW &#39;lima&#39; tidak valid" in html
    assert 'id="withdraw-rws-error"' in html and 'value="5, lima"' in html and 'value="LRT"' in html
    assert re.search(rf'<option value="{re.escape(JATIMULYA)}" selected>', html)  # the kelurahan stays chosen
    no_area = staff.post("/penyortiran/tarik", data={"kelurahan": "", "rws": "", "reason": "LRT"})
    assert no_area.status_code == 422 and 'id="withdraw-kelurahan-error"' in no_area.get_data(as_text=True)


def test_a_refused_upload_comes_back_with_the_message_beside_the_file_field(staff):
    response = staff.post("/impor", data={"file": (io.BytesIO(b"hello"), "foto.jpg")},
                          content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="file"[^>]*aria-invalid="true"', html)
    assert re.search(r'id="file-error" role="alert">Berkas &#39;foto.jpg&#39; bukan CSV atau XLSX\.<', html)
