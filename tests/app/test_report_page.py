"""The reconciliation page fits a screen: the per-state summary first, kecamatan in a few grouped columns (the
states behind each number at hand), each kecamatan's kelurahan folded in a <details>; the downloads unchanged.
And the login page points citizens to their status page."""

from __future__ import annotations

import io
import re

from helpers import card_row, cli, make_nik, write_csv
from openpyxl import load_workbook

from app.cards import CardState
from app.views import STATE_GROUPS

INDONESIAN_MOMENT = re.compile(r"\d{2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November"
                               r"|Desember) \d{4} \d{2}\.\d{2} WIB")


def setia_asih(i: int) -> dict[str, str]:
    return card_row(i, nik=make_nik(i, kec="321601"), nama=f"NYI SETIA ASIH {i}", nomor_blanko=f"BLS{i:07d}",
                    kelurahan="SETIA ASIH", kecamatan="TARUMAJAYA", kode_pos="17215")


def load(runner, tmp_path) -> None:
    rows = [card_row(i) for i in range(1, 4)] + [setia_asih(i) for i in (101, 102)]
    rows.append(card_row(7, kelurahan="ENTAH DIMANA", kecamatan="", kode_wilayah=""))
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows))).exit_code == 0
    assert cli(runner, "sorting", "damaged", "BLK0000002", "--reason", "retak").exit_code == 0


def folded(html: str) -> dict[str, str]:
    """Each kecamatan's <details> on the page: its summary text and its body."""
    return {m.group(2): m.group(0) for m in re.finditer(
        r'<details class="area" id="kec-([^"]+)">\s*<summary><b>([^<]+)</b>.*?</details>', html, re.S)}


def test_every_state_is_in_exactly_one_column_group():
    grouped = [s for _, states in STATE_GROUPS for s in states]
    assert sorted(grouped) == sorted(CardState) and len(grouped) == len(set(grouped))


def test_kelurahan_are_folded_under_their_kecamatan(app, runner, staff, tmp_path):
    load(runner, tmp_path)
    html = staff.get("/laporan").get_data(as_text=True)
    kecamatan = folded(html)
    assert list(kecamatan) == ["Tambun Selatan", "Tarumajaya", "Belum dikenali"]  # by name, the unplaced last
    assert "Jatimulya" in kecamatan["Tambun Selatan"] and "Setia Asih" not in kecamatan["Tambun Selatan"]
    assert "Setia Asih" in kecamatan["Tarumajaya"] and "Jatimulya" not in kecamatan["Tarumajaya"]
    assert "1 kelurahan/desa · 3 kartu" in kecamatan["Tambun Selatan"]
    assert not re.search(r"<details[^>]*\bopen\b", html)  # short when closed
    # no kelurahan row outside its kecamatan
    outside = re.sub(r'<details class="area" id="kec-.*?</details>', "", html, flags=re.S)
    assert "32.16.06.1001" not in outside and "32.16.01.1007" not in outside


def test_the_summary_comes_first_and_the_kecamatan_table_fits(app, runner, staff, tmp_path):
    load(runner, tmp_path)
    html = staff.get("/laporan").get_data(as_text=True)
    assert html.index("<h2>Per status</h2>") < html.index("<h2>Per kecamatan</h2>") < html.index(
        "<h2>Per kelurahan/desa</h2>")
    summary = html[html.index("<h2>Per status</h2>"):html.index("<h2>Per kecamatan</h2>")]
    for label, _ in STATE_GROUPS:
        assert f'<th scope="rowgroup">{label}</th>' in summary
    assert "Rusak (cetak ulang)" in summary and "Alamat belum jelas (diperiksa)" in summary

    table = html[html.index("<h2>Per kecamatan</h2>"):]
    table = table[:table.index("</table>")]
    header = re.findall(r"<th[^>]*>([^<]+)</th>", table[:table.index("</thead>")])
    assert header == ["Kecamatan", "Jumlah", *(label for label, _ in STATE_GROUPS)]
    tambun = re.search(r'href="#kec-32\.16\.06">Tambun Selatan</a></td>(.*?)</tr>', table, re.S).group(1)
    cells = re.findall(r'<td class="num"[^>]*>(?:<b>)?(\d+)', tambun)
    assert cells == ["3", "3", "0", "0", "0", "0"]  # two ready, one damaged: all at the office
    assert re.search(r'title="Siap dikirim 2 · Rusak \(cetak ulang\) 1"', tambun)  # the states behind the number
    # the full detail per state is there, folded
    detail = html[html.index("Rincian per status untuk setiap kecamatan"):]
    detail = detail[:detail.index("</details>")]
    assert "<th class=\"num\">Siap dikirim</th>" in detail and "<th class=\"num\">Rusak (cetak ulang)</th>" in detail
    assert "Terkirim ke pemilik" not in detail  # only the states that have cards
    assert INDONESIAN_MOMENT.search(html[:html.index("<h2>Per status</h2>")])


def test_the_downloads_stay_as_they_were(app, runner, staff, tmp_path):
    load(runner, tmp_path)
    data = staff.get("/api/v1/report").get_json()
    assert data["printed"] == 6 and data["balanced"] and len(data["by_state"]) == len(CardState)
    assert {k["kode_wilayah"] for k in data["by_kelurahan"]} == {"32.16.06.1001", "32.16.01.1007", "-"}
    assert set(data["by_kelurahan"][0]) == {"kode_wilayah", "kelurahan", "kecamatan", "total", "by_state"}
    workbook = load_workbook(io.BytesIO(staff.get("/laporan.xlsx").data))
    assert workbook.sheetnames == ["Ringkasan", "Per kecamatan", "Per kelurahan", "Pengembalian", "Keterangan"]
    assert "tidak memuat data pribadi" in workbook["Keterangan"]["A2"].value  # counts only, and it says so
    assert workbook["Per kelurahan"].max_column == 3 + len(CardState) + 1  # every state, one column each


def test_the_login_page_points_citizens_to_their_status_page(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'href="/cek-status"' in html and "status kartu e-KTP" in html
    assert client.get("/cek-status").status_code == 200


def test_the_reconciliation_workbook_as_a_background_job(app, runner, staff, tmp_path):
    import io

    from helpers import card_row, cli, finished_job, write_csv
    from openpyxl import load_workbook

    assert cli(runner, "import", str(write_csv(tmp_path / "r.csv", [card_row(i) for i in range(1, 4)]))).exit_code == 0
    job = finished_job(staff, staff.post("/laporan/xlsx-tugas"))
    assert job["status"] == "DONE", job
    download = staff.get(job["result"]["links"][0]["url"])
    assert download.status_code == 200
    book = load_workbook(io.BytesIO(download.data))
    assert book["Ringkasan"]["B3"].value == 3  # cards printed
    assert staff.get(f"/laporan/unduhan/{job['id'] + 1}").status_code == 404
