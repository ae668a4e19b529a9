"""Print-run intake through the CLI and HTTP: rejections, duplicates, re-import, atomicity."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from helpers import HEADER, card_row, cards, cli, finished_job, make_nik, report, write_csv
from markupsafe import escape
from sqlalchemy import func, select

from app.cards import Card, CardHistory, CardState
from app.cli import main
from app.db import unit_of_work
from manifests.intake import service
from manifests.intake.models import IntakeRejection, PrintRun

# One bad row per rejection rule: (row overrides, field named in the rejection).
BAD_ROWS = [
    ({"nik": "3.21606E+15"}, "nik"),
    ({"nik": "3216060512900001.0"}, "nik"),
    ({"nik": "216060512900001"}, "nik"),  # a leading digit lost: 15 digits
    ({"nik": "9916060512900001"}, "nik"),  # no such province
    ({"nama": ""}, "nama"),
    ({"alamat": "  "}, "alamat"),
    ({"tempat_lahir": ""}, "tempat_lahir"),
    ({"tanggal_lahir": "31-02-1990"}, "tanggal_lahir"),
    ({"tanggal_lahir": "06-12-1990"}, "tanggal_lahir"),  # disagrees with the NIK
    ({"jenis_kelamin": "PEREMPUAN"}, "jenis_kelamin"),  # the NIK says a man
    ({"jenis_kelamin": "X"}, "jenis_kelamin"),
    ({"nomor_blanko": ""}, "nomor_blanko"),
    ({"tanggal_cetak": "2026-13-01"}, "tanggal_cetak"),
]


def file_with_bad_rows(tmp_path: Path) -> Path:
    rows = [card_row(1)]
    for i, (overrides, _) in enumerate(BAD_ROWS, start=100):
        rows.append(card_row(i, **overrides))
    rows.append(card_row(2))
    return write_csv(tmp_path / "campur.csv", rows)


def test_cli_import_rejects_each_bad_row_with_line_and_field(app, runner, tmp_path):
    result = cli(runner, "import", str(file_with_bad_rows(tmp_path)), "--errors-csv", str(tmp_path / "e.csv"))
    assert result.exit_code == 0, result.output
    assert "2 kartu diimpor" in result.output
    assert f"{len(BAD_ROWS)} baris ditolak" in result.output
    errors = (tmp_path / "e.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert len(errors) == len(BAD_ROWS)
    for line, ((_, field), error) in enumerate(zip(BAD_ROWS, errors, strict=True), start=3):
        got_line, got_field, reason = error.split(",", 2)
        assert (int(got_line), got_field) == (line, field), error
        assert reason.strip()
    assert "baris 3: [nik]" in result.output
    data = report(runner)
    assert data["printed"] == 2
    assert data["rejected_rows"] == len(BAD_ROWS)
    assert data["by_state"]["READY"] == 2
    assert sum(data["by_state"].values()) == data["printed"]


def test_excel_float_nik_message_says_what_to_do(app, runner, tmp_path):
    path = write_csv(tmp_path / "f.csv", [card_row(1, nik="3.21606E+15")])
    result = cli(runner, "import", str(path))
    assert "Excel" in result.output


def test_http_upload_reports_rejections_and_page_shows_them(app, staff, tmp_path):
    data = file_with_bad_rows(tmp_path).read_bytes()
    response = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(data), "run.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert body["cards_imported"] == 2
    assert [r["line"] for r in body["rejected"]] == list(range(3, 3 + len(BAD_ROWS)))
    assert [r["field"] for r in body["rejected"]] == [f for _, f in BAD_ROWS]
    page = staff.get(f"/impor/{body['print_run_id']}")
    assert page.status_code == 200
    assert "Baris ditolak" in page.get_data(as_text=True)
    assert str(escape(body["rejected"][0]["reason"])) in page.get_data(as_text=True)
    csv_text = staff.get(f"/impor/{body['print_run_id']}/ditolak.csv").get_data(as_text=True)
    assert len(csv_text.strip().splitlines()) == 1 + len(BAD_ROWS)


def test_intake_page_upload_runs_as_a_job_and_shows_per_row_errors(app, staff, tmp_path):
    data = file_with_bad_rows(tmp_path).read_bytes()
    response = staff.post("/impor", data={"file": (io.BytesIO(data), "run.csv")}, content_type="multipart/form-data")
    job = finished_job(staff, response)
    assert job["status"] == "DONE" and job["result"]["summary"] == "Print run #1 diimpor: 2 kartu."
    assert "Print run #1 diimpor: 2 kartu" in staff.get(response.headers["Location"]).get_data(as_text=True)
    html = staff.get("/impor/1").get_data(as_text=True)
    assert "<td class=\"num\">3</td><td>nik</td>" in html
    # The same file again: nothing is imported twice, the page says which run has it.
    again = staff.post("/impor", data={"file": (io.BytesIO(data), "run.csv")}, content_type="multipart/form-data")
    assert again.status_code == 302 and again.headers["Location"].endswith("/impor/1")


def test_upload_of_wrong_kind_of_file_is_a_clear_error(app, staff):
    response = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(b"hello"), "foto.jpg")},
                          content_type="multipart/form-data")
    assert response.status_code == 400
    assert "bukan CSV atau XLSX" in response.get_json()["error"]["message"]


def test_missing_columns_named_and_nothing_imported(app, runner, tmp_path):
    path = write_csv(tmp_path / "x.csv", [card_row(1)], header=["nik", "nama", "alamat"])
    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code != 0
    assert "tanggal_lahir" in result.output
    assert report(runner)["printed"] == 0


def test_semicolon_and_windows_1252(app, runner, tmp_path):
    path = write_csv(tmp_path / "w.csv", [card_row(1, nama="JOSÉ ÑOÑO"), card_row(2)], sep=";", encoding="cp1252")
    assert "2 kartu diimpor" in cli(runner, "import", str(path)).output
    assert cards(app)["BLK0000001"].nama == "JOSÉ ÑOÑO"


def test_xlsx_import_rejects_numeric_nik(app, runner, tmp_path):
    from helpers import HEADER
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append([card_row(1)[h] for h in HEADER])
    bad = [card_row(2)[h] for h in HEADER]
    bad[0] = int(bad[0])  # what Excel does to a NIK typed into a General cell
    ws.append(bad)
    wb.save(tmp_path / "run.xlsx")
    result = cli(runner, "import", str(tmp_path / "run.xlsx"))
    assert "1 kartu diimpor" in result.output and "baris 3: [nik]" in result.output


def test_duplicate_print_in_one_run_and_across_runs(app, runner, tmp_path):
    nik = make_nik(7)
    write_csv(tmp_path / "a.csv", [card_row(1, nik=nik), card_row(2, nik=nik, nomor_blanko="BLK-B")])
    result = cli(runner, "import", str(tmp_path / "a.csv"))
    assert "1 cetak ganda" in result.output
    write_csv(tmp_path / "b.csv", [card_row(3, nik=nik, nomor_blanko="BLK-C")])
    cli(runner, "import", str(tmp_path / "b.csv"))
    got = cards(app)
    first = got["BLK0000001"]
    assert first.state is CardState.READY
    assert got["BLK-B"].state is CardState.DUPLICATE and got["BLK-B"].duplicate_of_id == first.id
    assert got["BLK-C"].state is CardState.DUPLICATE and got["BLK-C"].duplicate_of_id == first.id
    assert report(runner)["by_state"]["DUPLICATE"] == 2


def test_reprint_after_damage_is_not_a_duplicate(app, runner, tmp_path):
    write_csv(tmp_path / "a.csv", [card_row(1)])
    cli(runner, "import", str(tmp_path / "a.csv"))
    assert cli(runner, "sorting", "damaged", "BLK0000001", "--reason", "chip retak").exit_code == 0
    write_csv(tmp_path / "b.csv", [card_row(1, nomor_blanko="BLK-REPRINT")])
    cli(runner, "import", str(tmp_path / "b.csv"))
    assert cards(app)["BLK-REPRINT"].state is CardState.READY


def test_reimport_imports_nothing_twice(app, runner, tmp_path):
    path = write_csv(tmp_path / "a.csv", [card_row(i) for i in range(1, 6)] + [card_row(9, nama="")])
    cli(runner, "import", str(path))
    again = cli(runner, "import", str(path))
    assert "sudah diimpor sebagai print run #1" in again.output
    # A corrected export that repeats the old rows and adds new ones: only the new ones come in.
    write_csv(tmp_path / "b.csv", [card_row(i) for i in range(1, 8)])
    more = cli(runner, "import", str(tmp_path / "b.csv"))
    assert "2 kartu diimpor" in more.output and "5 sudah diimpor sebelumnya" in more.output
    data = report(runner)
    assert data["printed"] == 7 and data["rejected_rows"] == 1


def test_a_row_already_imported_that_the_file_now_writes_otherwise_is_reported_and_the_card_kept(app, runner,
                                                                                                   tmp_path):
    write_csv(tmp_path / "a.csv", [card_row(1), card_row(2, no_hp="081234567890", kode_pos="1751"), card_row(3)])
    cli(runner, "import", str(tmp_path / "a.csv"))
    # A corrected export: row 2's address, phone and birth place changed; row 3 the same but for its RT (kept as
    # placed on the card: not compared); row 4 the same with its odd kode pos written again; row 5 new.
    write_csv(tmp_path / "b.csv", [
        card_row(1, alamat="JL. MELATI NO. 9", no_hp="081299998888", tempat_lahir="JAKARTA"),
        card_row(3, rt="004"), card_row(2, no_hp="081234567890", kode_pos="1751"), card_row(5)])
    out = cli(runner, "import", str(tmp_path / "b.csv")).output
    assert "1 kartu diimpor" in out and "3 sudah diimpor sebelumnya" in out
    assert "1 baris yang sudah diimpor sebelumnya berisi lain di berkas ini" in out
    assert "baris 2: blanko BLK0000001, berbeda: tempat_lahir, alamat, no_hp" in out
    assert "BLK0000002" not in out and "BLK0000003" not in out
    first = cards(app)["BLK0000001"]
    assert (first.alamat, first.no_hp, first.tempat_lahir) == ("JL. RAYA JATIMULYA NO. 1", None, "BEKASI")
    with app.app_context(), unit_of_work() as session:
        run = session.get(PrintRun, 2)
        assert (run.rows_already_imported, run.rows_changed) == (3, 1)


def test_the_codes_of_a_row_already_imported_are_compared_as_the_card_keeps_them(app, runner, tmp_path):
    write_csv(tmp_path / "a.csv", [card_row(1), card_row(2, kode_pos="1751")])
    cli(runner, "import", str(tmp_path / "a.csv"))
    # Row 1 now has a kelurahan code and another kode pos; row 2's kode pos is still not one (no card keeps it).
    write_csv(tmp_path / "b.csv", [card_row(1, kode_wilayah="32.16.06.1001", kode_pos="17511"),
                                   card_row(2, kode_pos="175")])
    out = cli(runner, "import", str(tmp_path / "b.csv")).output
    assert "1 baris yang sudah diimpor sebelumnya berisi lain di berkas ini" in out
    assert "baris 2: blanko BLK0000001, berbeda: kode_wilayah, kode_pos" in out and "BLK0000002" not in out


def test_rows_already_imported_but_written_otherwise_are_in_the_api_answer_and_on_the_run_page(app, staff,
                                                                                               tmp_path):
    rows = [card_row(i) for i in range(1, 4)]
    first = write_csv(tmp_path / "a.csv", rows).read_bytes()
    assert staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(first), "a.csv")},
                      content_type="multipart/form-data").status_code == 201
    rows[0] = card_row(1, kelurahan="SETIA MEKAR", no_kk="3216061234567890")
    rows[2] = card_row(3, tanggal_cetak="03-11-2026", layanan="COD", biaya_antar="20000")
    header = [*HEADER, "layanan", "biaya_antar"]
    second = write_csv(tmp_path / "b.csv", rows, header=header).read_bytes()
    response = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(second), "b.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert (body["cards_imported"], body["already_imported"], body["rows_changed"]) == (0, 3, 2)
    assert body["changed"] == [
        {"line": 2, "nomor_blanko": "BLK0000001", "card_id": 1, "fields": ["kelurahan", "no_kk"]},
        {"line": 4, "nomor_blanko": "BLK0000003", "card_id": 3,
         "fields": ["tanggal_cetak", "biaya_antar", "tarik_ktp_lama"]}]
    html = staff.get(f"/impor/{body['print_run_id']}").get_data(as_text=True)
    assert "Sudah diimpor, berisi lain di berkas ini (2)" in html and "2 di antaranya berisi lain" in html
    assert "BLK0000003</a></td>\n    <td>tanggal_cetak, biaya_antar, tarik_ktp_lama</td>" in html
    # Its own pages, beside the rejected rows' (one page here: a second one is empty, and says so); they open at
    # the list.
    many = write_csv(tmp_path / "m.csv", [card_row(i, no_hp=f"0812345678{i % 100:02d}") for i in range(10, 70)],
                     header=header)
    staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(many.read_bytes()), "m.csv")},
               content_type="multipart/form-data")
    again = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(many.read_bytes().replace(b"0812", b"0813")),
                                                             "n.csv")}, content_type="multipart/form-data").get_json()
    assert again["rows_changed"] == 60
    first_page = staff.get(f"/impor/{again['print_run_id']}").get_data(as_text=True)
    assert f'href="/impor/{again["print_run_id"]}?hal_beda=2#berbeda" rel="next"' in first_page
    assert "BLK0000059</a>" in first_page and "BLK0000060</a>" not in first_page
    second_page = staff.get(f"/impor/{again['print_run_id']}?hal_beda=2").get_data(as_text=True)
    assert "BLK0000060</a>" in second_page and "BLK0000059</a>" not in second_page
    empty = staff.get(f"/impor/{body['print_run_id']}?hal_beda=2").get_data(as_text=True)
    assert "Halaman 2 kosong" in empty and "BLK0000003</a>" not in empty
    # Uploaded on the page (a background job): the job's counts and a link to the list.
    rows[1] = card_row(2, nama="WARGA NOMOR DUA")
    third = write_csv(tmp_path / "c.csv", rows, header=header).read_bytes()
    response = staff.post("/impor", data={"file": (io.BytesIO(third), "c.csv")}, content_type="multipart/form-data")
    result = finished_job(staff, response)["result"]
    assert result["counts"]["Sudah diimpor sebelumnya"] == 3 and result["counts"]["Sudah diimpor, isi berbeda"] == 3
    assert {"label": "3 baris yang sudah diimpor berisi lain di berkas ini",
            "url": f"/impor/{result['print_run_id']}#berbeda"} in result["links"]


def test_blanko_reused_for_another_nik_is_rejected(app, runner, tmp_path):
    write_csv(tmp_path / "a.csv", [card_row(1)])
    cli(runner, "import", str(tmp_path / "a.csv"))
    write_csv(tmp_path / "b.csv", [card_row(2, nomor_blanko="BLK0000001")])
    result = cli(runner, "import", str(tmp_path / "b.csv"))
    assert "[nomor_blanko]" in result.output and "0 kartu diimpor" in result.output


SUMMARY = re.compile(r"Print run #\d+: (\d+) baris dibaca, (\d+) kartu diimpor \(.*?\), (\d+) baris ditolak, "
                     r"(\d+) sudah diimpor sebelumnya\.")


def repeat_reason(serial: int, line: int) -> str:
    return (f"Baris ulang: nomor blanko BLK{serial:07d} dengan NIK {make_nik(serial)} sudah ada di baris {line}; "
            f"kartunya dihitung sekali, dari baris {line}")


@pytest.mark.parametrize("chunk_rows", [5000, 1], ids=["repeat_in_its_chunk", "repeat_in_a_later_chunk"])
def test_a_repeat_of_a_line_rejected_for_its_blanko_is_rejected_for_the_same_reason(app, runner, tmp_path, chunk_rows):
    """A blanko an earlier run gave to another NIK: its line is rejected, and a line repeating it is rejected for the
    same reason (not as a repeat of a card that line never made), whatever the chunks."""
    cli(runner, "import", str(write_csv(tmp_path / "a.csv", [card_row(1)])))
    app.config["INTAKE_CHUNK_ROWS"] = chunk_rows
    other = card_row(2, nomor_blanko="BLK0000001")
    out = cli(runner, "import", str(write_csv(tmp_path / "b.csv", [other, other, card_row(3)]))).output
    assert tuple(map(int, SUMMARY.search(out).groups())) == (3, 1, 2, 0), out
    reason = "Nomor blanko BLK0000001 sudah tercatat untuk kartu dengan NIK lain"
    assert f"baris 2: [nomor_blanko] {reason}" in out and f"baris 3: [nomor_blanko] {reason}" in out, out


@pytest.mark.parametrize("chunk_rows", [5000, 2], ids=["repeat_in_its_chunk", "repeat_in_a_later_chunk"])
def test_a_line_listed_twice_is_counted_once_and_the_counts_add_up_to_the_rows_read(app, runner, staff, tmp_path,
                                                                                   chunk_rows):
    """Before: a line repeated word for word was dropped and counted nowhere ("6 baris dibaca, 4 kartu diimpor,
    1 baris ditolak, 0 sudah diimpor sebelumnya"). Every row read is now one outcome: a card, a rejected row (the
    repeat names the line it repeats) or a row already imported; an empty line is no row. The same whether the
    repeat is in its first line's chunk (the reader sees it) or in a later one (the import does)."""
    app.config["INTAKE_CHUNK_ROWS"] = chunk_rows
    # Lines 2-8: an empty line at 4, a row without a name at 7, line 3 again at 8.
    rows = [card_row(1), card_row(2), {}, card_row(3), card_row(4), card_row(9, nama=""), card_row(2)]
    out = cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).output
    read, imported, rejected, already = map(int, SUMMARY.search(out).groups())
    assert (read, imported, rejected, already) == (6, 4, 2, 0)
    assert read == imported + rejected + already
    assert f"baris 8: [nomor_blanko] {repeat_reason(2, 3)}" in out
    assert set(cards(app)) == {f"BLK{i:07d}" for i in range(1, 5)}
    with app.app_context(), unit_of_work() as s:
        repeat = s.scalars(select(IntakeRejection).where(IntakeRejection.line == 8)).one()
        assert json.loads(repeat.raw)["nama"] == "WARGA NOMOR 2"  # the row kept, as for any rejection
    page = staff.get("/impor/1").get_data(as_text=True)
    assert "6 baris dibaca,\n  4 kartu, 2 ditolak,\n  0 sudah diimpor sebelumnya" in page
    assert str(escape(repeat_reason(2, 3))) in page
    data = report(runner)
    assert (data["printed"], data["rejected_rows"]) == (4, 2)

    # An overlapping export through the API: line 4 lists again a card of the first run (already imported, like its
    # line 2), line 5 a card this file brings in at line 3 (rejected, naming it).
    again = write_csv(tmp_path / "b.csv", [card_row(1), card_row(5), card_row(1), card_row(5), card_row(6)])
    response = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(again.read_bytes()), "b.csv")},
                          content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    body = response.get_json()
    assert (body["rows_read"], body["cards_imported"], body["rows_rejected"], body["already_imported"]) == (5, 2, 1, 2)
    assert body["rejected"] == [{"line": 5, "field": "nomor_blanko", "reason": repeat_reason(5, 3)}]

    # Uploaded on the page (a background job): the job's counts add up too.
    third = write_csv(tmp_path / "c.csv", [card_row(6), card_row(7), card_row(7), card_row(6)]).read_bytes()
    job = finished_job(staff, staff.post("/impor", data={"file": (io.BytesIO(third), "c.csv")},
                                         content_type="multipart/form-data"))
    counts = job["result"]["counts"]
    assert (counts["Baris dibaca"], counts["Kartu diimpor"], counts["Baris ditolak"],
            counts["Sudah diimpor sebelumnya"]) == (4, 1, 1, 2)
    with app.app_context(), unit_of_work() as s:
        runs = s.scalars(select(PrintRun).order_by(PrintRun.id)).all()
        assert [r.rows_read for r in runs] == [6, 5, 4]
        assert all(r.rows_read == r.cards_imported + r.rows_rejected + r.rows_already_imported for r in runs)


def test_import_failing_half_way_commits_nothing(app, runner, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "big.csv", [card_row(i) for i in range(1, 1201)])  # chunks of 500
    calls = {"n": 0}
    real = service._IntakeContext.add_chunk

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk penuh")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(service._IntakeContext, "add_chunk", failing)
    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code != 0
    assert calls["n"] == 2
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Card)) == 0
        assert s.scalar(select(func.count()).select_from(PrintRun)) == 0
        assert s.scalar(select(func.count()).select_from(CardHistory)) == 0
    monkeypatch.undo()
    assert "1200 kartu diimpor" in cli(runner, "import", str(path)).output


def test_every_card_has_its_intake_in_history(app, runner, tmp_path):
    write_csv(tmp_path / "a.csv", [card_row(1), card_row(2, nik=make_nik(1), nomor_blanko="X2")])
    cli(runner, "import", str(tmp_path / "a.csv"))
    with app.app_context(), unit_of_work() as s:
        rows = s.execute(select(CardHistory.from_state, CardHistory.to_state, CardHistory.actor)).all()
    assert sorted((r.from_state, r.to_state.value) for r in rows) == [(None, "DUPLICATE"), (None, "READY")]
    assert all(r.actor.startswith("cli:") for r in rows)


@pytest.mark.parametrize("fmt", ["2026-11-02", "02-11-2026"])
def test_both_date_formats(app, runner, tmp_path, fmt):
    write_csv(tmp_path / "a.csv", [card_row(1, tanggal_cetak=fmt, tanggal_lahir="1990-12-05")])
    assert "1 kartu diimpor" in cli(runner, "import", str(tmp_path / "a.csv")).output


def test_the_same_file_imported_twice_at_the_same_moment_makes_one_run(app, tmp_path):
    import threading

    from app.cards import Actor
    from app.cli_util import load_office

    path = write_csv(tmp_path / "a.csv", [card_row(i) for i in range(1, 30)])
    barrier, results, errors = threading.Barrier(2), [], []
    with app.app_context(), unit_of_work() as s:
        load_office(s, None)  # created once, before: both imports then race only for the print run

    def run() -> None:
        try:
            with app.app_context(), unit_of_work() as s:
                office = load_office(s, None)
                barrier.wait(timeout=30)
                results.append(service.import_print_run(s, path, office=office, actor=Actor("t")))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted((r.print_run_id is None, r.same_file_as) for r in results) == [(False, None), (True, 1)]
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(PrintRun)) == 1
        assert s.scalar(select(func.count()).select_from(Card)) == 29
