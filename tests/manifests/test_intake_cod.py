"""The print run's new optional columns (card-intake-format.md): layanan, biaya_antar, tarik_ktp_lama, and no_hp as
the spec has it (`08...` or `+628...`, 10-15 digits; another number is kept as written and not messaged). Each
invalid COD value is a rejected row naming its column; files without the columns import as before."""

from __future__ import annotations

import openpyxl
import pytest
from helpers import HEADER as RUN_HEADER
from helpers import card_row, cards, cli
from helpers import write_csv as write_run
from sqlalchemy import select

from app.db import unit_of_work
from manifests.intake.models import IntakeRejection
from manifests.intake.reader import read_print_run

HEADER = ["nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw", "kelurahan",
          "kecamatan", "kabupaten_kota", "provinsi", "kode_wilayah", "kode_pos", "no_kk", "nomor_blanko",
          "tanggal_cetak", "no_hp"]
COD_HEADER = [*HEADER, "layanan", "biaya_antar", "tarik_ktp_lama"]
WOMAN = {
    "nik": "3216064512900001", "nama": "SITI AMINAH", "tempat_lahir": "BEKASI", "tanggal_lahir": "05-12-1990",
    "jenis_kelamin": "PEREMPUAN", "alamat": "KP. SAWAH NO. 5", "rt": "3", "rw": "05", "kelurahan": "WANASARI",
    "kecamatan": "CIBITUNG", "kabupaten_kota": "KAB. BEKASI", "provinsi": "JAWA BARAT", "kode_wilayah": "",
    "kode_pos": "17520", "no_kk": "", "nomor_blanko": "B0001", "tanggal_cetak": "2024-05-01", "no_hp": "",
}
MAN = {**WOMAN, "nik": "3216060512900002", "nama": "BUDI", "jenis_kelamin": "LAKI-LAKI", "nomor_blanko": "B0002"}


def card(**changes):
    return {**WOMAN, **changes}


def write_csv(tmp_path, rows, *, header=HEADER, name="run.csv"):
    lines = [";".join(header)] + [";".join(str(row.get(h, "")) for h in header) for row in rows]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_xlsx(tmp_path, rows, *, header=HEADER, name="run.xlsx"):
    workbook = openpyxl.Workbook()
    workbook.active.append(header)
    for row in rows:
        workbook.active.append([row.get(h) for h in header])
    path = tmp_path / name
    workbook.save(path)
    return path


def read_all(path):
    chunks = list(read_print_run(path))
    return [r for c in chunks for r in c.rows], [r for c in chunks for r in c.rejected], chunks


def read_one(tmp_path, header=COD_HEADER, **changes):
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(**changes)], header=header))
    return rows, rejected


def rejection(tmp_path, **changes):
    rows, rejected = read_one(tmp_path, **changes)
    assert rows == [] and len(rejected) == 1, (rows, rejected)
    return rejected[0]


# --- layanan, biaya_antar, tarik_ktp_lama ----------------------------------------------------------------------


@pytest.mark.parametrize(("layanan", "biaya", "tarik", "expected"), [
    ("COD", "20000", "", (20000, True)),  # the old card is collected by default with COD
    ("cod", "20000", "Y", (20000, True)),
    (" COD ", "15000", "n", (15000, False)),
    ("COD", "1", "", (1, True)),
    ("COD", "10000000", "TIDAK", (10_000_000, False)),
    ("COD", "020000", "YA", (20000, True)),
    ("", "", "", (None, False)),  # an ordinary delivery
    ("-", "", "-", (None, False)),
    ("", "", "Y", (None, True)),  # the old card without a fee is allowed
    ("", "", "N", (None, False)),
])
def test_valid_service_columns(tmp_path, layanan, biaya, tarik, expected):
    rows, rejected = read_one(tmp_path, layanan=layanan, biaya_antar=biaya, tarik_ktp_lama=tarik)
    assert rejected == []
    assert (rows[0].cod_amount, rows[0].collect_old_card) == expected


@pytest.mark.parametrize(("changes", "field", "words"), [
    ({"layanan": "KILAT"}, "layanan", 'Layanan "KILAT" tidak dikenal'),
    ({"layanan": "COD-EXPRESS", "biaya_antar": "20000"}, "layanan", "isi COD"),
    ({"layanan": "COD"}, "biaya_antar", "wajib diisi untuk layanan COD"),
    ({"layanan": "", "biaya_antar": "20000"}, "biaya_antar", "padahal layanan bukan COD"),
    ({"layanan": "COD", "biaya_antar": "20.000"}, "biaya_antar", "bukan rupiah bulat"),
    ({"layanan": "COD", "biaya_antar": "Rp20000"}, "biaya_antar", "bukan rupiah bulat"),
    ({"layanan": "COD", "biaya_antar": "20000.5"}, "biaya_antar", "bukan rupiah bulat"),
    ({"layanan": "COD", "biaya_antar": "-5"}, "biaya_antar", "bukan rupiah bulat"),
    ({"layanan": "COD", "biaya_antar": "²"}, "biaya_antar", "bukan rupiah bulat"),
    ({"layanan": "COD", "biaya_antar": "0"}, "biaya_antar", "di luar batas: 1 sampai 10000000"),
    ({"layanan": "COD", "biaya_antar": "10000001"}, "biaya_antar", "di luar batas"),
    ({"layanan": "COD", "biaya_antar": "9" * 400}, "biaya_antar", "di luar batas"),
    ({"layanan": "COD", "biaya_antar": "20000", "tarik_ktp_lama": "MUNGKIN"}, "tarik_ktp_lama", "isi Y"),
    ({"tarik_ktp_lama": "X"}, "tarik_ktp_lama", 'Tarik KTP lama "X" tidak dikenali'),
])
def test_each_invalid_service_value_is_a_rejected_row_naming_its_column(tmp_path, changes, field, words):
    rejected = rejection(tmp_path, **changes)
    assert rejected.field == field
    assert words in rejected.reason
    assert len(rejected.reason) < 200


def test_the_rest_of_the_file_still_imports(tmp_path):
    rows, rejected, _ = read_all(write_csv(tmp_path, [
        {**MAN, "layanan": "COD", "biaya_antar": "20000"},
        card(layanan="COD", biaya_antar=""),
        card(nomor_blanko="B0003", layanan="", biaya_antar=""),
    ], header=COD_HEADER))
    assert [(r.line, r.cod_amount, r.collect_old_card) for r in rows] == [(2, 20000, True), (4, None, False)]
    assert [(r.line, r.field) for r in rejected] == [(3, "biaya_antar")]


def test_headers_are_matched_like_the_others(tmp_path):
    header = [*HEADER, "Layanan", "Biaya Antar", "TARIK-KTP-LAMA"]
    path = tmp_path / "run.csv"
    values = [card(), {"Layanan": "COD", "Biaya Antar": "25000", "TARIK-KTP-LAMA": "N"}]
    row = {**values[0], **values[1]}
    path.write_text(";".join(header) + "\n" + ";".join(str(row.get(h, "")) for h in header) + "\n")
    rows, rejected, _ = read_all(path)
    assert rejected == [] and (rows[0].cod_amount, rows[0].collect_old_card) == (25000, False)


def test_a_file_without_the_new_columns_reads_as_ordinary_deliveries(tmp_path):
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(), MAN]))
    assert rejected == []
    assert [(r.cod_amount, r.collect_old_card) for r in rows] == [(None, False), (None, False)]


def test_xlsx_with_a_numeric_fee(tmp_path):
    rows_in = [card(layanan="COD", biaya_antar=20000), {**MAN, "layanan": "COD", "biaya_antar": 35000.0,
                                                         "tarik_ktp_lama": "N"}]
    rows, rejected, _ = read_all(write_xlsx(tmp_path, rows_in, header=COD_HEADER))
    assert rejected == []
    assert [(r.cod_amount, r.collect_old_card) for r in rows] == [(20000, True), (35000, False)]
    rows, rejected, _ = read_all(write_xlsx(tmp_path, [card(layanan="COD", biaya_antar=20000.5)], header=COD_HEADER,
                                            name="half.xlsx"))
    assert rows == [] and rejected[0].field == "biaya_antar"


# --- no_hp ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "stored"), [
    ("081234567890", "081234567890"),
    ("0812-3456-7890", "081234567890"),
    ("0812 3456 789", "08123456789"),
    ("(0812) 3456.7890", "081234567890"),
    ("+62 812 345 678", "+62812345678"),
    ("+62 (812) 3456-78901", "+62812345678901"),
    ("6281234567890", "+6281234567890"),  # the plus a spreadsheet lost
    ("006281234567890", "+6281234567890"),
    ("81234567890", "081234567890"),  # the leading zero a spreadsheet dropped
    ("'081234567890", "081234567890"),  # Excel's text prefix
    ("0812345678", "0812345678"),  # 10 digits
    ("+62812345678901", "+62812345678901"),  # 15 digits
    ("", None), ("-", None), ("0", None), ("tidak ada", None), ("N/A", None),
])
def test_phone_numbers_files_have_always_carried_still_import(tmp_path, value, stored):
    rows, rejected = read_one(tmp_path, header=HEADER, no_hp=value)
    assert rejected == [] and rows[0].no_hp == stored


@pytest.mark.parametrize("value", [
    "12345",  # too short and not a mobile number
    "081234567",  # 9 digits
    "0812345678901234",  # 16 digits
    "+6281234567890123",  # 17 digits
    "021-8834567",  # a landline: messages cannot reach it
    "+1 415 555 0100",
    "0812-ABCD-7890",
    "8.1234567890E10",  # turned into a number by Excel
    "08１２３４５６７８９",  # full-width digits
])
def test_a_number_that_cannot_be_messaged_keeps_the_card_and_is_kept_as_written(tmp_path, value):
    # citizen-notifications.md: "a number that cannot be one is not messaged, and that is recorded": the card is
    # imported (a rejected row would leave a printed card unaccounted for) and no message goes to the number.
    from notify.numbers import e164

    rows, rejected = read_one(tmp_path, header=HEADER, no_hp=value)
    assert rejected == [] and rows[0].no_hp == " ".join(value.split())
    assert e164(rows[0].no_hp) is None


def test_a_phone_number_over_twenty_characters_is_a_rejected_row_naming_no_hp(tmp_path):
    rejected = rejection(tmp_path, header=HEADER, no_hp="0812 3456 7890 / 0813 1111")
    assert rejected.field == "no_hp" and "Nomor HP" in rejected.reason


# --- the import: the cards carry what the rows said ------------------------------------------------------------


def test_import_stores_the_fee_and_the_old_card_rule_and_names_each_rejected_column(app, runner, tmp_path):
    header = [*RUN_HEADER, "layanan", "biaya_antar", "tarik_ktp_lama"]
    rows = [
        card_row(1, layanan="COD", biaya_antar="20000"),
        card_row(2, layanan="COD", biaya_antar="20000", tarik_ktp_lama="N"),
        card_row(3, tarik_ktp_lama="Y"),
        card_row(4),
        card_row(5, layanan="POS KILAT"),
        card_row(6, layanan="COD"),
        card_row(7, biaya_antar="20000"),
        card_row(8, no_hp="021-8834567"),
        card_row(9, no_hp="0812 3456 7890"),
    ]
    result = cli(runner, "import", str(write_run(tmp_path / "run.csv", rows, header=header)))
    assert result.exit_code == 0, result.output
    assert "6 kartu diimpor" in result.output and "3 baris ditolak" in result.output, result.output
    stored = cards(app)
    assert {b: (c.cod_amount, c.collect_old_card, c.no_hp) for b, c in stored.items()} == {
        "BLK0000001": (20000, True, None), "BLK0000002": (20000, False, None), "BLK0000003": (None, True, None),
        "BLK0000004": (None, False, None), "BLK0000008": (None, False, "021-8834567"),
        "BLK0000009": (None, False, "081234567890")}
    with app.app_context(), unit_of_work() as s:
        rejected = {(r.line, r.field) for r in s.scalars(select(IntakeRejection))}
    assert rejected == {(6, "layanan"), (7, "biaya_antar"), (8, "biaya_antar")}
