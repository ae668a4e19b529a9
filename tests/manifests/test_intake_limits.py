"""Hard boundaries of print-run intake, through its public doors (the `antar import` command, the upload API and the
upload page), on SQLite and PostgreSQL: values longer than the spec allows are rejected rows on both databases; files
that are not print runs, malformed CSV, damaged XLSX and header-only files are a clear message and leave no print run;
the family card number is kept only as a keyed hash."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from helpers import HEADER, card_row, cards, cli, finished_job, write_csv, xlsx_bytes
from sqlalchemy import func, select

from app.cards import Card
from app.cli import main
from app.db import unit_of_work
from app.pseudonym import kk_hash
from manifests.intake.models import IntakeRejection, PrintRun


def counts(app) -> tuple[int, int, int]:
    with app.app_context(), unit_of_work() as s:
        return (s.scalar(select(func.count()).select_from(PrintRun)), s.scalar(select(func.count()).select_from(Card)),
                s.scalar(select(func.count()).select_from(IntakeRejection)))


def rejections(app) -> list[IntakeRejection]:
    with app.app_context(), unit_of_work() as s:
        found = list(s.scalars(select(IntakeRejection).order_by(IntakeRejection.line)))
        s.expunge_all()
        return found


# --- values too long: one rejected row, the same on both databases


def test_201_character_name_is_a_rejected_row_not_a_failed_import(app, runner, tmp_path):
    path = write_csv(tmp_path / "run.csv", [card_row(1, nama="A" * 201), card_row(2), card_row(3, nama="B" * 100)])
    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 kartu diimpor" in result.output and "1 baris ditolak" in result.output
    assert "baris 2: [nama] Nama terlalu panjang: 201 karakter, paling banyak 100 karakter" in result.output
    assert set(cards(app)) == {"BLK0000002", "BLK0000003"}
    assert cards(app)["BLK0000003"].nama == "B" * 100


def test_rt_or_rw_of_more_than_three_digits_is_a_rejected_row_naming_the_column(app, runner, tmp_path):
    rows = [card_row(1, rt="1234"), card_row(2, rw="RW 01000"), card_row(3, rt="0007", rw="999"),
            card_row(4, rt="12345")]
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "run.csv", rows))])
    assert result.exit_code == 0, result.output
    assert "1 kartu diimpor" in result.output and "3 baris ditolak" in result.output
    assert [(r.line, r.field) for r in rejections(app)] == [(2, "rt"), (3, "rw"), (5, "rt")]
    assert 'RT "1234" lebih dari 3 digit' in rejections(app)[0].reason
    card = cards(app)["BLK0000003"]
    assert (card.rt, card.rw) == ("007", "999")


def test_rt_or_rw_of_more_than_three_digits_written_in_alamat_is_a_rejected_row_naming_the_column(app, runner,
                                                                                                   tmp_path):
    """Before: with the rt and rw columns empty, "RT 1234" in alamat was read as no RT at all, and the card imported
    with an unclear address; the spec's limit (at most 3 digits after normalization) makes it a rejected row."""
    rows = [card_row(1, rt="", rw="", alamat="KP. SAWAH RT 1234 RW 05"),
            card_row(2, rt="", rw="", alamat="JL. MAWAR NO. 2 RT.003/RW.01000"),
            card_row(3, rt="", rw="", alamat="JL. MAWAR RT/RW 003/12345"),
            card_row(4, rt="", rw="", alamat="JL. MAWAR NO. 4 RT 0004 RW 0005"),  # 4 and 5 once normalized
            card_row(5, rt="7", rw="", alamat="JL. MAWAR RT 1234 RW 05")]  # the rt column wins: RT 1234 unused
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "run.csv", rows))])
    assert result.exit_code == 0, result.output
    assert "2 kartu diimpor" in result.output and "3 baris ditolak" in result.output, result.output
    assert [(r.line, r.field, r.reason) for r in rejections(app)] == [
        (2, "rt", 'RT "1234" di alamat lebih dari 3 digit'), (3, "rw", 'RW "01000" di alamat lebih dari 3 digit'),
        (4, "rw", 'RW "12345" di alamat lebih dari 3 digit')]
    assert json.loads(rejections(app)[0].raw)["alamat"] == "KP. SAWAH RT 1234 RW 05"
    got = cards(app)
    assert [(got[b].rt, got[b].rw) for b in ("BLK0000004", "BLK0000005")] == [("004", "005"), ("007", "005")]


def test_an_rt_and_rw_given_by_the_rt_rw_column_are_not_looked_for_in_alamat(app, runner, tmp_path):
    """The rt_rw column gives RT 003 and RW 005: an "RT 1234" in alamat is not what the card takes, so it rejects
    nothing; without the rt_rw column's value, it does."""
    rows = [card_row(1, rt="", rw="", rt_rw="003/005", alamat="KP. SAWAH RT 1234"),
            card_row(2, rt="", rw="", rt_rw="", alamat="KP. SAWAH RT 1234 RW 05")]
    path = write_csv(tmp_path / "run.csv", rows, header=[*HEADER, "rt_rw"])
    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 kartu diimpor" in result.output and "1 baris ditolak" in result.output, result.output
    assert [(r.line, r.field) for r in rejections(app)] == [(3, "rt")]
    assert (cards(app)["BLK0000001"].rt, cards(app)["BLK0000001"].rw) == ("003", "005")


def test_every_column_at_its_limit_is_stored_on_both_databases(app, runner, tmp_path):
    longest = card_row(
        1, nama="ß" * 50,  # upper-cased: 100 characters
        tempat_lahir="T" * 60, alamat=("JL. RAYA JATIMULYA NO. 12 " * 10)[:250], kelurahan="JATIMULYA" + "A" * 51,
        kecamatan="K" * 60, kabupaten_kota="KAB. BEKASI" + " " * 10 + "X" * 39, provinsi="P" * 60,
        nomor_blanko="N" * 30, no_hp="+62 (812) 3456-78901", kode_wilayah="32.16.06.1001" + " " * 7,
        no_kk="3216060101080001")
    result = cli(runner, "import", str(write_csv(tmp_path / "run.csv", [longest])))
    assert "1 kartu diimpor" in result.output and "0 baris ditolak" in result.output, result.output
    card = cards(app)["N" * 30]
    assert card.nama == "SS" * 50 and len(card.alamat) == 250 and len(card.provinsi_raw) == 60


def test_ten_megabyte_name_is_neither_stored_nor_copied_into_the_rejection(app, runner, tmp_path):
    path = write_csv(tmp_path / "run.csv", [card_row(1), card_row(2, nama="X" * 10_000_000)])
    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "baris 3: [nama] Nama terlalu panjang: 10000000 karakter" in result.output
    assert set(cards(app)) == {"BLK0000001"}
    (rejected,) = rejections(app)
    assert rejected.field == "nama" and len(rejected.raw) < 5000
    assert json.loads(rejected.raw)["nama"].endswith("(10000000 karakter)")


def test_long_values_quoted_in_a_reason_do_not_overflow_its_column(app, runner, tmp_path):
    """Before: a reason quoting a 600-character value was longer than its column, and PostgreSQL failed the import."""
    rows = [card_row(1, jenis_kelamin="Q" * 600), card_row(2, tanggal_lahir="9" * 600), card_row(3)]
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "run.csv", rows))])
    assert result.exit_code == 0, result.output
    assert [(r.line, r.field) for r in rejections(app)] == [(2, "jenis_kelamin"), (3, "tanggal_lahir")]
    assert all(len(r.reason) <= 500 for r in rejections(app))


def test_an_alamat_within_its_limit_is_never_rejected_for_the_street_tidied_from_it(app, runner, tmp_path):
    """Before: "NO1" becomes "NO. 1", and a 247-character alamat made a 371-character street, past the card's 300:
    a rejected row ("Alamat terlalu panjang setelah dirapikan"), its row kept as `{}`. The column now holds the
    longest street 250 characters can make: a letter upper-cased can become three ("ΐ")."""
    rows = [card_row(1, alamat="NO1 " * 62), card_row(2, alamat="DSN-" * 62),
            card_row(3, alamat="JL 1" + "ΐ" * 246), card_row(4)]
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "run.csv", rows))])
    assert result.exit_code == 0, result.output
    assert "4 kartu diimpor" in result.output and "0 baris ditolak" in result.output, result.output
    got = cards(app)
    assert [len(got[f"BLK{i:07d}"].alamat) for i in (1, 2, 3)] == [247, 248, 250]
    assert [len(got[f"BLK{i:07d}"].street) for i in (1, 2, 3)] == [371, 432, 743]
    assert got["BLK0000003"].street == "JL. 1" + "ΐ".upper() * 246
    assert counts(app) == (1, 4, 0)


def test_a_street_past_its_column_would_still_be_a_rejected_row_that_keeps_its_row(app, runner, tmp_path,
                                                                                    monkeypatch):
    """The guard for a column narrower than the tidied street (a limit raised without its column): a rejected row
    on both databases rather than a failed import, and the row kept with it (it was kept as `{}`)."""
    from manifests.intake import service

    monkeypatch.setattr(service, "_STREET_MAX", 300)
    rows = [card_row(1, alamat="NO1 " * 62, no_kk="3216060101080001"), card_row(2)]
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "run.csv", rows))])
    assert result.exit_code == 0, result.output
    assert ("baris 2: [alamat] Alamat terlalu panjang setelah dirapikan: 371 karakter, paling banyak 300"
            in result.output)
    (rejected,) = rejections(app)
    raw = json.loads(rejected.raw)
    assert raw["nik"] == card_row(1)["nik"] and raw["alamat"] == ("NO1 " * 62).strip()
    assert raw["no_kk"] == "(disamarkan)" and "3216060101080001" not in rejected.raw
    assert counts(app) == (1, 1, 1)


def test_rows_rejected_by_the_import_past_the_reader_keep_their_row(app, runner, tmp_path):
    """A blanko an earlier run has for another NIK, or an earlier chunk has for another NIK: rejected once the cards
    written are looked at, their row was kept as `{}`."""
    app.config["INTAKE_CHUNK_ROWS"] = 2
    cli(runner, "import", str(write_csv(tmp_path / "a.csv", [card_row(1)])))
    rows = [card_row(2, nomor_blanko="BLK0000001"), card_row(3), card_row(4, nomor_blanko="BLK0000003")]
    out = cli(runner, "import", str(write_csv(tmp_path / "b.csv", rows))).output
    assert "3 baris dibaca, 1 kartu diimpor" in out and "2 baris ditolak" in out
    found = [(r.line, r.field, json.loads(r.raw)) for r in rejections(app)]
    assert [(line, field, raw["nik"], raw["nomor_blanko"]) for line, field, raw in found] == [
        (2, "nomor_blanko", card_row(2)["nik"], "BLK0000001"), (4, "nomor_blanko", card_row(4)["nik"], "BLK0000003")]
    assert found[0][2]["nama"] == "WARGA NOMOR 2" and found[0][2]["tanggal_cetak"] == "2026-11-02"


# --- the family card number: only its keyed hash


def test_family_card_number_is_stored_only_as_its_keyed_hash(app, runner, tmp_path):
    kk = "3216060101080001"
    rows = [card_row(1, no_kk=kk), card_row(2), card_row(3, no_kk=kk, nama="")]
    assert "2 kartu diimpor" in cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows))).output
    got = cards(app)
    with app.app_context():
        assert got["BLK0000001"].no_kk_hash == kk_hash(kk)
    assert got["BLK0000001"].no_kk is None
    assert got["BLK0000002"].no_kk is None and got["BLK0000002"].no_kk_hash is None
    (rejected,) = rejections(app)
    assert kk not in rejected.raw and json.loads(rejected.raw)["no_kk"] == "(disamarkan)"


# --- files that cannot be imported: a clear message on every door, and no print run


def _png(tmp_path: Path) -> tuple[bytes, str]:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "run.csv"


def _png_as_xlsx(tmp_path: Path) -> tuple[bytes, str]:
    return _png(tmp_path)[0], "run.xlsx"


def _jpeg(tmp_path: Path) -> tuple[bytes, str]:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 8, "run.csv"


def _pdf_as_xlsx(tmp_path: Path) -> tuple[bytes, str]:
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "run.xlsx"


def _zip_not_xlsx(tmp_path: Path) -> tuple[bytes, str]:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("data/run.csv", "nik,nama\n")
    return out.getvalue(), "run.xlsx"


def _truncated_xlsx(tmp_path: Path) -> tuple[bytes, str]:
    data = xlsx_bytes([card_row(i) for i in range(1, 50)])
    return data[: len(data) // 2], "run.xlsx"


def _unclosed_quote_first_row(tmp_path: Path) -> tuple[bytes, str]:
    lines = [",".join(HEADER), ",".join(card_row(1, nama='"WARGA SATU').values()), ",".join(card_row(2).values())]
    return ("\n".join(lines) + "\n").encode(), "run.csv"


def _header_only_csv(tmp_path: Path) -> tuple[bytes, str]:
    return (",".join(HEADER) + "\r\n").encode(), "run.csv"


def _header_only_xlsx(tmp_path: Path) -> tuple[bytes, str]:
    return xlsx_bytes([]), "run.xlsx"


REFUSED = [
    (_png, "Berkas bukan CSV atau XLSX: tampaknya gambar PNG"),
    (_png_as_xlsx, "Berkas bukan CSV atau XLSX: tampaknya gambar PNG"),
    (_jpeg, "Berkas bukan CSV atau XLSX: tampaknya gambar JPEG"),
    (_pdf_as_xlsx, "Berkas bukan CSV atau XLSX: tampaknya dokumen PDF"),
    (_zip_not_xlsx, "tampaknya arsip ZIP yang tidak berisi lembar kerja Excel"),
    (_truncated_xlsx, "Berkas XLSX rusak: arsipnya tidak utuh"),
    (_unclosed_quote_first_row, 'CSV tidak dapat dibaca: tanda kutip (") yang dibuka di baris 2 tidak pernah ditutup'),
    (_header_only_csv, "Berkas tidak berisi baris data"),
    (_header_only_xlsx, "Berkas tidak berisi baris data"),
]


@pytest.mark.parametrize(("make", "message"), REFUSED, ids=[m.__name__.strip("_") for m, _ in REFUSED])
def test_refused_file_is_a_clear_message_on_every_door_and_leaves_nothing(app, runner, staff, tmp_path, make,
                                                                          message):
    data, name = make(tmp_path)
    path = tmp_path / name
    path.write_bytes(data)

    result = runner.invoke(main, ["import", str(path)])
    assert result.exit_code == 1 and result.exc_info[0] is SystemExit, result.output
    assert message in result.output and "Traceback" not in result.output

    api = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    assert api.status_code == 400
    assert message in api.get_json()["error"]["message"]

    later = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", headers={"Prefer": "respond-async"})
    assert later.status_code == 400 and message in later.get_json()["error"]["message"]

    page = staff.post("/impor", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert re.search(r'id="file"[^>]*aria-invalid="true"', html)
    error = re.search(r'id="file-error" role="alert">([^<]*)<', html)
    assert error and message.replace('"', "&#34;") in error.group(1)
    assert counts(app) == (0, 0, 0)
    assert list((Path(app.instance_path) / "uploads").iterdir()) == []  # nothing kept for a job


def test_malformed_csv_past_the_start_fails_the_job_with_its_line_and_leaves_nothing(app, staff, tmp_path):
    """The upload page checks the file's start at once; a problem further in fails the import job, whole."""
    path = write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, 301)])
    with open(path, "a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerow(card_row(999).values())
        f.write(",".join(card_row(1000, nama='"TANPA PENUTUP').values()) + "\n")
    response = staff.post("/impor", data={"file": (io.BytesIO(path.read_bytes()), "run.csv")},
                          content_type="multipart/form-data")
    job = finished_job(staff, response)
    assert job["status"] == "FAILED"
    assert "run.csv: CSV tidak dapat dibaca: tanda kutip (\") yang dibuka di baris 303" in job["error"]
    assert counts(app) == (0, 0, 0)


def test_an_uploaded_file_name_longer_than_its_column_is_cut_keeping_the_extension(app, staff, tmp_path):
    data = write_csv(tmp_path / "run.csv", [card_row(1)]).read_bytes()
    name = "cetak " + "x" * 300 + ".csv"
    response = staff.post("/api/v1/print-runs", data={"file": (io.BytesIO(data), name)},
                          content_type="multipart/form-data")
    assert response.status_code == 201, response.data
    with app.app_context(), unit_of_work() as s:
        stored = s.scalar(select(PrintRun.filename))
    assert len(stored) == 255 and stored.startswith("cetak xxx") and stored.endswith("xxx.csv")
