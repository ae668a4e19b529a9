import datetime as dt
import hashlib

import openpyxl
import pytest

from manifests.intake import reader as intake
from manifests.intake.reader import CardRow, IntakeFileError, estimate_rows, file_sha256, read_print_run

HEADER = [
    "nik",
    "nama",
    "tempat_lahir",
    "tanggal_lahir",
    "jenis_kelamin",
    "alamat",
    "rt",
    "rw",
    "kelurahan",
    "kecamatan",
    "kabupaten_kota",
    "provinsi",
    "kode_wilayah",
    "kode_pos",
    "no_kk",
    "nomor_blanko",
    "tanggal_cetak",
    "no_hp",
]
WOMAN = {
    "nik": "3216064512900001",
    "nama": " siti   aminah ",
    "tempat_lahir": "BEKASI",
    "tanggal_lahir": "05-12-1990",
    "jenis_kelamin": "PEREMPUAN",
    "alamat": "KP. SAWAH  NO. 5",
    "rt": "3",
    "rw": "05",
    "kelurahan": " WANASARI ",
    "kecamatan": "CIBITUNG",
    "kabupaten_kota": "KAB. BEKASI",
    "provinsi": "JAWA BARAT",
    "kode_wilayah": "32.16.06.1001",
    "kode_pos": "17520",
    "no_kk": "3216060101080001",
    "nomor_blanko": "B0001",
    "tanggal_cetak": "2024-05-01",
    "no_hp": "0812-3456-7890",
}
MAN = {
    **WOMAN,
    "nik": "3216060512900002",
    "nama": "BUDI",
    "jenis_kelamin": "LAKI-LAKI",
    "nomor_blanko": "B0002",
}


def card(**changes):
    return {**WOMAN, **changes}


def write_csv(tmp_path, rows, *, sep=";", encoding="utf-8", header=HEADER, name="run.csv"):
    lines = [sep.join(header)]
    for row in rows:
        lines.append(row if isinstance(row, str) else sep.join(str(row.get(h, "")) for h in header))
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def write_xlsx(tmp_path, rows, *, header=HEADER, name="run.xlsx", leading_blank_rows=0):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for _ in range(leading_blank_rows):
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(h) for h in header])
    path = tmp_path / name
    workbook.save(path)
    return path


def read_all(path, **kwargs):
    chunks = list(read_print_run(path, **kwargs))
    rows = [r for c in chunks for r in c.rows]
    rejected = [r for c in chunks for r in c.rejected]
    return rows, rejected, chunks


def only_rejection(tmp_path, **changes):
    rows, rejected, _ = read_all(write_csv(tmp_path, [MAN, card(**changes)]))
    assert [r.line for r in rows] == [2]
    assert len(rejected) == 1
    assert rejected[0].line == 3
    return rejected[0]


# --- valid rows


def test_valid_row_is_cleaned(tmp_path):
    rows, rejected, chunks = read_all(write_csv(tmp_path, [WOMAN]))
    assert rejected == []
    assert rows == [
        CardRow(
            line=2,
            nik="3216064512900001",
            nama="SITI AMINAH",
            tempat_lahir="BEKASI",
            tanggal_lahir=dt.date(1990, 12, 5),
            jenis_kelamin="P",
            alamat="KP. SAWAH NO. 5",
            rt="003",
            rw="005",
            kelurahan="WANASARI",
            kecamatan="CIBITUNG",
            kabupaten_kota="KAB. BEKASI",
            provinsi="JAWA BARAT",
            kode_wilayah="32.16.06.1001",
            kode_pos="17520",
            no_kk="3216060101080001",
            nomor_blanko="B0001",
            tanggal_cetak=dt.date(2024, 5, 1),
            no_hp="081234567890",
        )
    ]
    assert chunks[-1].lines_read == 1


def test_optional_codes_that_are_not_well_formed_are_kept_as_written_and_told_apart(tmp_path):
    # Not codes: kept as the file wrote them (the import notes them in the card's history and places the address
    # without them); `is_kode_wilayah` / `is_kode_pos` tell a code from such a value. Empty cells are None.
    from manifests.intake.reader import is_kode_pos, is_kode_wilayah

    rows, rejected, _ = read_all(
        write_csv(
            tmp_path,
            [
                card(kode_wilayah="3216061001", kode_pos="1752", no_kk="", no_hp="", provinsi=""),
                card(
                    nomor_blanko="B0009",
                    kode_wilayah="32.16.6.1001",
                    kode_pos="17520x",
                    no_hp="+62 812 345 678",
                ),
                card(nomor_blanko="B0010", kode_wilayah="-", kode_pos="N/A"),
            ],
        )
    )
    assert rejected == []
    assert (rows[0].kode_wilayah, rows[0].kode_pos, rows[0].no_kk, rows[0].no_hp, rows[0].provinsi) == (
        "32.16.06.1001",
        "1752",
        None,
        None,
        None,
    )
    assert (rows[1].kode_wilayah, rows[1].kode_pos, rows[1].no_hp) == ("32.16.6.1001", "17520x", "+62812345678")
    assert (rows[2].kode_wilayah, rows[2].kode_pos) == (None, None)
    assert [is_kode_wilayah(r.kode_wilayah) for r in rows] == [True, False, False]
    assert [is_kode_pos(r.kode_pos) for r in rows] == [False, False, False]
    assert is_kode_pos("17510") and not is_kode_pos("17510.0") and not is_kode_pos("1751")


@pytest.mark.parametrize(
    "value", ["05-12-1990", "1990-12-05", "05/12/1990", "5-12-1990", "1990-12-05 00:00:00"]
)
def test_birth_date_formats(tmp_path, value):
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(tanggal_lahir=value)]))
    assert rejected == [] and rows[0].tanggal_lahir == dt.date(1990, 12, 5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("L", "L"),
        ("laki laki", "L"),
        ("Pria", "L"),
        ("LAKI-LAKI", "L"),
        ("P", "P"),
        ("perempuan", "P"),
        ("WANITA", "P"),
        ("p", "P"),
    ],
)
def test_gender_spellings(tmp_path, value, expected):
    base = MAN if expected == "L" else WOMAN
    rows, rejected, _ = read_all(write_csv(tmp_path, [{**base, "jenis_kelamin": value}]))
    assert rejected == [] and rows[0].jenis_kelamin == expected


def test_nik_with_spaces_and_dots(tmp_path):
    rows, _, _ = read_all(
        write_csv(
            tmp_path, [card(nik="3216 0645 1290 0001"), card(nik="32.16.06.451290.0001", nomor_blanko="B2")]
        )
    )
    assert [r.nik for r in rows] == ["3216064512900001", "3216064512900001"]


def test_rt_rw_found_in_alamat_when_columns_are_absent(tmp_path):
    header = [h for h in HEADER if h not in ("rt", "rw")]
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(alamat="KP. SAWAH RT.3 RW.5")], header=header))
    assert rejected == []
    assert (rows[0].rt, rows[0].rw, rows[0].alamat) == ("003", "005", "KP. SAWAH RT.3 RW.5")


def test_placeholder_alamat_is_not_rejected_here(tmp_path):
    rows, rejected, _ = read_all(
        write_csv(tmp_path, [card(alamat="-"), card(alamat="BELUM ADA", nomor_blanko="B2")])
    )
    assert rejected == [] and [r.alamat for r in rows] == ["-", "BELUM ADA"]


def test_same_nik_with_another_blanko_is_not_rejected(tmp_path):
    rows, rejected, _ = read_all(write_csv(tmp_path, [WOMAN, card(nomor_blanko="B0099")]))
    assert rejected == [] and len(rows) == 2


# --- rejections: one reason per row, with line and field


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        (
            {"nik": "3.216064512900001E+15"},
            "nik",
            'NIK "3.216064512900001E+15" berupa angka desimal/notasi ilmiah (diubah oleh Excel)',
        ),
        ({"nik": "3216064512900001.0"}, "nik", "diubah oleh Excel"),
        ({"nik": "321606451290001"}, "nik", "NIK harus 16 digit angka, ditemukan 15 digit"),
        ({"nik": "32160645129O0001"}, "nik", "selain angka"),
        ({"nik": ""}, "nik", "NIK kosong"),
        ({"nik": "9916064512900001"}, "nik", 'Kode provinsi "99" tidak dikenal'),
        ({"nik": "3216064512900000"}, "nik", "0000"),
        ({"nik": "3216067202900001"}, "nik", "Tanggal lahir di NIK tidak valid"),
        ({"nama": "   "}, "nama", "Nama kosong"),
        ({"nama": "-"}, "nama", "Nama kosong"),
        ({"nama": "n/a"}, "nama", "Nama kosong"),
        ({"alamat": ""}, "alamat", "Alamat kosong"),
        ({"tempat_lahir": ""}, "tempat_lahir", "Tempat lahir kosong"),
        ({"tanggal_lahir": "31-02-1990"}, "tanggal_lahir", "Tanggal lahir 31-02-1990 tidak ada di kalender"),
        ({"tanggal_lahir": "06-12-1990"}, "tanggal_lahir", "06-12-1990 tidak sesuai dengan NIK"),
        ({"tanggal_lahir": "05-11-1990"}, "tanggal_lahir", "(menurut NIK: 05-12-90)"),
        ({"tanggal_lahir": "05-12-1991"}, "tanggal_lahir", "tidak sesuai dengan NIK"),
        ({"tanggal_lahir": "kemarin"}, "tanggal_lahir", "tidak dikenali"),
        ({"tanggal_lahir": ""}, "tanggal_lahir", "Tanggal lahir kosong"),
        ({"jenis_kelamin": "LAKI-LAKI"}, "jenis_kelamin", "tidak sesuai dengan NIK"),
        ({"jenis_kelamin": "X"}, "jenis_kelamin", 'Jenis kelamin "X" tidak dikenali'),
        ({"nomor_blanko": ""}, "nomor_blanko", "Nomor blanko kosong"),
        ({"nomor_blanko": "N/A"}, "nomor_blanko", "Nomor blanko kosong"),
        ({"tanggal_cetak": ""}, "tanggal_cetak", "Tanggal cetak kosong"),
        ({"tanggal_cetak": "30-02-2024"}, "tanggal_cetak", "tidak ada di kalender"),
        ({"no_kk": "12345"}, "no_kk", "ditemukan 5 digit"),
        ({"no_kk": "3.21606010108E+15"}, "no_kk", "diubah oleh Excel"),
    ],
)
def test_rejection(tmp_path, changes, field, reason):
    rejected = only_rejection(tmp_path, **changes)
    assert rejected.field == field
    assert reason in rejected.reason


def test_print_date_in_the_future(tmp_path):
    future = dt.date.today() + dt.timedelta(days=5)
    rejected = only_rejection(tmp_path, tanggal_cetak=future.isoformat())
    assert rejected.field == "tanggal_cetak" and "masa depan" in rejected.reason
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    rows, rejected_rows, _ = read_all(write_csv(tmp_path, [card(tanggal_cetak=tomorrow.isoformat())]))
    assert rejected_rows == [] and rows[0].tanggal_cetak == tomorrow


def test_first_problem_in_field_order_is_reported(tmp_path):
    assert only_rejection(tmp_path, nik="123", nama="").field == "nik"
    assert only_rejection(tmp_path, nama="", alamat="").field == "nama"
    assert only_rejection(tmp_path, tanggal_lahir="x", jenis_kelamin="x", no_kk="1").field == "tanggal_lahir"
    assert only_rejection(tmp_path, nomor_blanko="", tanggal_cetak="").field == "nomor_blanko"


def test_raw_keeps_the_original_header_names(tmp_path):
    header = ["NIK", "Nama", *HEADER[2:]]
    row = dict(zip(header, card(nama="").values(), strict=True))
    rows, rejected, _ = read_all(write_csv(tmp_path, [row], header=header))
    assert rejected[0].raw["NIK"] == "3216064512900001"
    assert rejected[0].raw["Nama"] == ""
    assert rejected[0].raw["nomor_blanko"] == "B0001"


# --- blanko numbers


def test_blanko_reused_for_another_nik_is_rejected(tmp_path):
    rows, rejected, _ = read_all(
        write_csv(tmp_path, [WOMAN, MAN, {**MAN, "nomor_blanko": "B0001"}]), chunk_rows=1
    )
    assert [r.line for r in rows] == [2, 3]
    assert [(r.line, r.field) for r in rejected] == [(4, "nomor_blanko")]
    assert rejected[0].reason.startswith("nomor_blanko B0001 sudah dipakai di baris 2")


def test_exact_repeat_of_a_card_is_passed_on_as_a_repeat_of_its_first_line(tmp_path):
    """Not dropped: the import counts it (tests/manifests/test_intake.py), with the row as read for its rejection."""
    rows, rejected, chunks = read_all(write_csv(tmp_path, [WOMAN, MAN, WOMAN, {**MAN, "nama": "BUDI   "}]))
    assert [r.line for r in rows] == [2, 3] and rejected == []
    repeats = [r for c in chunks for r in c.repeats]
    assert [(r.row.line, r.first_line) for r in repeats] == [(4, 2), (5, 3)]
    assert repeats[0].row._replace(line=2) == rows[0]
    assert repeats[0].raw["nama"] == " siti   aminah " and repeats[0].raw["no_kk"] == "(disamarkan)"
    assert chunks[-1].lines_read == 4


def test_a_repeat_rejected_for_a_reason_of_its_own_is_that_rejection(tmp_path):
    rows, rejected, chunks = read_all(write_csv(tmp_path, [WOMAN, card(tanggal_cetak="x"), MAN]))
    assert [r.line for r in rows] == [2, 4] and [(r.line, r.field) for r in rejected] == [(3, "tanggal_cetak")]
    assert [r for c in chunks for r in c.repeats] == []


def test_rejected_row_does_not_claim_its_blanko(tmp_path):
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(nama=""), WOMAN]))
    assert [r.line for r in rejected] == [2] and [r.line for r in rows] == [3]


# --- file layout


def test_comma_and_semicolon_give_the_same_result(tmp_path):
    rows_semi = [card(alamat="KP. SAWAH GG. H. MAIL"), MAN]
    semi = read_all(write_csv(tmp_path, rows_semi, sep=";", name="a.csv"))[0]
    comma = read_all(write_csv(tmp_path, rows_semi, sep=",", name="b.csv"))[0]
    assert semi == comma and len(semi) == 2


def test_quoted_field_with_separator(tmp_path):
    line = ";".join(f'"{v}"' if h == "alamat" else v for h, v in card(alamat="KP. A; GG. B").items())
    rows, rejected, _ = read_all(write_csv(tmp_path, [line]))
    assert rejected == [] and rows[0].alamat == "KP. A; GG. B"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_encodings(tmp_path, encoding):
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(nama="José Ramírez")], encoding=encoding))
    assert rejected == [] and rows[0].nama == "JOSÉ RAMÍREZ"


def test_cp1252_accent_far_into_file_is_detected(tmp_path, monkeypatch):
    monkeypatch.setattr(intake, "_SCAN_BLOCK", 64)  # the accented row lies past the first block read
    many = [card(nomor_blanko=f"B{i}") for i in range(5)] + [card(nama="JOSÉ", nomor_blanko="BX")]
    rows, rejected, _ = read_all(write_csv(tmp_path, many, encoding="cp1252"))
    assert rejected == [] and rows[-1].nama == "JOSÉ"


def test_header_aliases_and_case(tmp_path):
    header = [
        "NIK",
        "Nama Lengkap",
        "Tempat Lahir",
        "TGL_LAHIR",
        "JK",
        "Alamat",
        "RT",
        "RW",
        "Desa",
        "Kecamatan",
        "Kabupaten/Kota",
        "Provinsi",
        "Kode-Wilayah",
        "Kode Pos",
        "Nomor_KK",
        "No. Blanko",
        "Tanggal Cetak",
        "HP",
    ]
    rows_in = [dict(zip(header, WOMAN.values(), strict=True))]
    rows, rejected, _ = read_all(write_csv(tmp_path, rows_in, header=header))
    assert rejected == []
    assert (rows[0].kelurahan, rows[0].nomor_blanko, rows[0].no_hp) == ("WANASARI", "B0001", "081234567890")


def test_missing_required_columns(tmp_path):
    header = [h for h in HEADER if h not in ("nomor_blanko", "tanggal_cetak")]
    with pytest.raises(IntakeFileError, match="nomor_blanko, tanggal_cetak"):
        read_print_run(write_csv(tmp_path, [WOMAN], header=header))


def test_ambiguous_columns(tmp_path):
    with pytest.raises(IntakeFileError, match="kelurahan"):
        read_print_run(write_csv(tmp_path, [WOMAN], header=[*HEADER, "desa"]))


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b";;;\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(IntakeFileError, match="kosong"):
        read_print_run(path)


def test_unknown_extension_and_filename_override(tmp_path):
    path = write_csv(tmp_path, [WOMAN], name="upload.tmp")
    with pytest.raises(IntakeFileError):
        read_print_run(path)
    with pytest.raises(IntakeFileError, match=".xls"):
        read_print_run(path, filename="run.xls")
    rows, _, _ = read_all(path, filename="cetak 2024-05-01.CSV")
    assert len(rows) == 1


def test_empty_rows_are_skipped_and_line_numbers_kept(tmp_path):
    rows, rejected, chunks = read_all(
        write_csv(tmp_path, [WOMAN, "", ";;;;", MAN, card(nama="", nomor_blanko="B3")])
    )
    assert [r.line for r in rows] == [2, 5]
    assert [r.line for r in rejected] == [6]
    assert chunks[-1].lines_read == 5


def test_row_with_extra_separator_is_rejected_alone(tmp_path):
    bad = ";".join(card(alamat="KP. A; GG. B", nomor_blanko="B5").values())
    rows, rejected, _ = read_all(write_csv(tmp_path, [WOMAN, bad, MAN]))
    assert [r.line for r in rows] == [2, 4]
    assert [(r.line, r.field) for r in rejected] == [(3, None)]
    assert "19 kolom" in rejected[0].reason
    assert rejected[0].raw["kolom_19"] == "0812-3456-7890"


def test_chunking_gives_the_same_result(tmp_path):
    rows_in = [
        WOMAN,
        MAN,
        card(nik="123", nomor_blanko="B3"),
        {**MAN, "nomor_blanko": "B4"},
        card(tanggal_lahir="31-02-1990", nomor_blanko="B5"),
    ]
    path = write_csv(tmp_path, rows_in)
    small = read_all(path, chunk_rows=2)
    whole = read_all(path, chunk_rows=5000)
    assert small[0] == whole[0] and small[1] == whole[1]
    assert [c.lines_read for c in small[2]] == [2, 4, 5]
    assert [c.lines_read for c in whole[2]] == [5]
    assert [r.line for r in small[0]] == [2, 3, 5] and [r.line for r in small[1]] == [4, 6]


# --- XLSX


def test_xlsx_with_typed_cells(tmp_path):
    row = {
        **WOMAN,
        "tanggal_lahir": dt.datetime(1990, 12, 5),
        "tanggal_cetak": dt.date(2024, 5, 1),
        "rt": 3,
        "rw": 5.0,
        "kode_pos": 17520,
        "nomor_blanko": 12345,
        "kode_wilayah": 3216061001,
        "no_hp": 81234567890,
    }
    rows, rejected, _ = read_all(write_xlsx(tmp_path, [row, MAN], leading_blank_rows=1))
    assert rejected == []
    first = rows[0]
    assert first.line == 3 and rows[1].line == 4
    assert (first.tanggal_lahir, first.tanggal_cetak) == (dt.date(1990, 12, 5), dt.date(2024, 5, 1))
    assert (first.rt, first.rw, first.kode_pos, first.nomor_blanko) == ("003", "005", "17520", "12345")
    assert (first.kode_wilayah, first.no_hp) == ("32.16.06.1001", "081234567890")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nik", 3216064512900001),
        ("nik", 3216064512900001.0),
        ("nik", 3.216064512900001e15),
        ("no_kk", 3216060101080001),
    ],
)
def test_xlsx_numeric_nik_or_kk_is_rejected(tmp_path, field, value):
    rows, rejected, _ = read_all(write_xlsx(tmp_path, [MAN, card(**{field: value})]))
    assert [r.line for r in rows] == [2]
    assert [(r.line, r.field) for r in rejected] == [(3, field)]
    assert "tersimpan sebagai angka di Excel" in rejected[0].reason


def test_xlsx_numeric_date_is_rejected(tmp_path):
    rows, rejected, _ = read_all(write_xlsx(tmp_path, [card(tanggal_lahir=33212)]))
    assert rows == [] and rejected[0].field == "tanggal_lahir" and "berupa angka" in rejected[0].reason


def test_xlsx_empty_rows_and_chunks(tmp_path):
    rows_in = [
        WOMAN,
        {},
        MAN,
        card(nama=None, nomor_blanko="B3"),
        card(nomor_blanko="B4", nik="3216064512900004"),
    ]
    path = write_xlsx(tmp_path, rows_in)
    small = read_all(path, chunk_rows=2)
    whole = read_all(path)
    assert small[0] == whole[0] and small[1] == whole[1]
    assert [r.line for r in whole[0]] == [2, 4, 6] and [(r.line, r.field) for r in whole[1]] == [(5, "nama")]


def test_xlsx_missing_columns_and_empty_sheet(tmp_path):
    with pytest.raises(IntakeFileError, match="tanggal_cetak"):
        read_print_run(write_xlsx(tmp_path, [WOMAN], header=HEADER[:-2]))
    workbook = openpyxl.Workbook()
    workbook.save(tmp_path / "empty.xlsx")
    with pytest.raises(IntakeFileError, match="kosong"):
        read_print_run(tmp_path / "empty.xlsx")


def test_corrupt_xlsx(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"not a zip file")
    with pytest.raises(IntakeFileError, match="XLSX"):
        read_print_run(path)


# --- helpers


def test_estimate_rows(tmp_path):
    assert estimate_rows(write_csv(tmp_path, [WOMAN, MAN, card(nomor_blanko="B3")])) == 3
    assert estimate_rows(write_xlsx(tmp_path, [WOMAN, MAN])) == 2
    assert estimate_rows(tmp_path / "missing.csv") is None
    assert estimate_rows(write_csv(tmp_path, [WOMAN], name="x.tmp")) is None


def test_file_sha256(tmp_path):
    path = write_csv(tmp_path, [WOMAN])
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_csv_that_cannot_be_parsed_is_a_file_error(tmp_path):
    too_wide = ";".join(["x"] * (len(HEADER) + 20))
    with pytest.raises(IntakeFileError, match="CSV tidak dapat dibaca"):
        read_all(write_csv(tmp_path, [WOMAN, too_wide]))


@pytest.mark.parametrize(
    ("content", "message"), [(b"PK\x03\x04rest", "XLSX"), ("nik;nama\n".encode("utf-16"), "UTF-16")]
)
def test_csv_that_is_not_text(tmp_path, content, message):
    path = tmp_path / "run.csv"
    path.write_bytes(content)
    with pytest.raises(IntakeFileError, match=message):
        read_print_run(path)


# --- length limits (spec: a longer value is a rejected row naming the column)

AT_LIMIT = {
    "nama": "A" * 100, "tempat_lahir": "B" * 60, "alamat": "KP. " + "C" * 246, "kelurahan": "D" * 60,
    "kecamatan": "E" * 60, "kabupaten_kota": "F" * 60, "provinsi": "G" * 60, "nomor_blanko": "H" * 30,
    "no_hp": "+62 (812) 3456-78901", "kode_wilayah": "32.16.06.1001-000000", "kode_pos": "1" * 20,
}


@pytest.mark.parametrize("field", sorted(intake.LIMITS))
def test_value_at_the_limit_is_read_and_one_character_more_is_rejected(tmp_path, field):
    limit, at = intake.LIMITS[field], AT_LIMIT[field]
    assert len(at) == limit
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(**{field: at})]))
    assert rejected == [] and len(rows) == 1
    rejected = only_rejection(tmp_path, **{field: at + "Z"})
    assert rejected.field == field
    assert f"terlalu panjang: {limit + 1} karakter, paling banyak {limit} karakter" in rejected.reason


def test_limits_apply_to_the_value_as_stored(tmp_path):
    """Spaces around and inside are not counted twice; the name is measured upper-cased ("ß" becomes "SS")."""
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(nama="  " + "A " * 50 + "  ", kelurahan=" " * 50 + "X")]))
    assert rejected == [] and len(rows[0].nama) == 99 and rows[0].kelurahan == "X"
    assert only_rejection(tmp_path, nama="ß" * 51).field == "nama"


def test_rt_and_rw_are_at_most_three_digits(tmp_path):
    # A column of more than three digits (leading zeros aside) is a rejected row naming it (the spec's length limit);
    # so is one written in the address text when the columns are empty (the RT first: the text's order).
    rows_in = [card(rt="1234", rw="00005"), card(rt="", rw="", nomor_blanko="B9", alamat="KP. A RT 1234 RW 56789"),
               card(rt="0012", rw="00005", nomor_blanko="B10"),
               card(rt="", rw="", nomor_blanko="B11", alamat="KP. A RT 12 RW 56789")]
    rows, rejected, _ = read_all(write_csv(tmp_path, rows_in))
    assert [(r.line, r.field, r.reason) for r in rejected] == [
        (2, "rt", 'RT "1234" lebih dari 3 digit'), (3, "rt", 'RT "1234" di alamat lebih dari 3 digit'),
        (5, "rw", 'RW "56789" di alamat lebih dari 3 digit')]
    assert [(r.rt, r.rw) for r in rows] == [("012", "005")]


def test_optional_columns_never_exceed_their_database_columns(tmp_path):
    from app.cards import Card

    odd = card(kode_wilayah="32.16.06.1001.9999", kode_pos="17520.0", no_hp="+62 812-3456-7890-1", no_kk="")
    rows, rejected, _ = read_all(write_csv(tmp_path, [odd]))
    assert rejected == []
    columns = Card.__table__.c
    for name, column in (("kode_wilayah", "kode_wilayah_raw"), ("kode_pos", "kode_pos_raw"), ("no_hp", "no_hp"),
                         ("kelurahan", "kelurahan_raw"), ("nomor_blanko", "nomor_blanko")):
        assert len(getattr(rows[0], name) or "") <= columns[column].type.length, name
    for field, limit in intake.LIMITS.items():  # every limit on a value stored as read fits the card's column
        if not field.startswith("kode_"):  # codes are stored only in their fixed shape, checked above
            column = columns.get(field) if field in columns else columns[f"{field}_raw"]
            assert limit <= column.type.length, field


def test_ten_megabyte_name_is_one_rejected_row_with_short_reason_and_raw(tmp_path):
    huge = "X" * 10_000_000
    rows, rejected, _ = read_all(write_csv(tmp_path, [WOMAN, {**MAN, "nama": huge, "jenis_kelamin": huge}]))
    assert [r.line for r in rows] == [2]
    assert [(r.line, r.field) for r in rejected] == [(3, "nama")]
    assert len(rejected[0].reason) < 100
    assert max(len(v) for v in rejected[0].raw.values()) < 400
    assert rejected[0].raw["nama"].endswith("(10000000 karakter)")


def test_reasons_quote_long_values_cut_short(tmp_path):
    for changes in ({"jenis_kelamin": "Q" * 5000}, {"tanggal_lahir": "9" * 5000}, {"nik": "x" * 5000}):
        rejected = only_rejection(tmp_path, **changes)
        assert len(rejected.reason) < 200, changes


def test_family_card_number_is_never_quoted_or_kept_in_a_rejection(tmp_path):
    kk = "3216060101080001"
    rejected = only_rejection(tmp_path, no_kk=kk[:15], nomor_blanko="B7")
    assert rejected.field == "no_kk" and kk[:15] not in rejected.reason
    assert rejected.raw["no_kk"] == "(disamarkan)"
    other = only_rejection(tmp_path, no_kk=kk, nama="")
    assert other.raw["no_kk"] == "(disamarkan)" and kk not in str(other)


# --- files that are not print runs, and malformed ones: always IntakeFileError with a message for staff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@pytest.mark.parametrize("name", ["run.csv", "run.xlsx"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (PNG, "tampaknya gambar PNG"),
        (JPEG, "tampaknya gambar JPEG"),
        (b"GIF89a\x01\x00\x01\x00" + bytes(200), "tampaknya gambar GIF"),
        (PDF, "tampaknya dokumen PDF"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "berkas Excel lama (.xls)"),
        (b"\x1f\x8b\x08\x00" + bytes(100), "arsip GZIP"),
        (bytes(range(1, 32)) * 50, "berkas biner"),
        (b"<!DOCTYPE html><html><table><tr><td>nik</td></tr></table></html>", "halaman HTML"),
    ],
)
def test_file_that_is_not_a_print_run_says_what_it_looks_like(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IntakeFileError, match="Berkas bukan CSV atau XLSX") as caught:
        read_print_run(path)
    assert message in str(caught.value)


def zip_of(tmp_path, members, name="run.xlsx"):
    import zipfile

    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


@pytest.mark.parametrize("name", ["run.csv", "run.xlsx"])
def test_zip_that_is_not_a_workbook(tmp_path, name):
    with pytest.raises(IntakeFileError, match="arsip ZIP yang tidak berisi lembar kerja Excel"):
        read_print_run(zip_of(tmp_path, {"foto.jpg": JPEG}, name))
    with pytest.raises(IntakeFileError, match=r"dokumen Word \(.docx\)"):
        read_print_run(zip_of(tmp_path, {"word/document.xml": "<w/>"}, name))


def test_text_named_xlsx_and_utf16_without_bom(tmp_path):
    with pytest.raises(IntakeFileError, match="isinya teks, bukan XLSX; jika itu CSV, unggah dengan nama .csv"):
        read_print_run(write_csv(tmp_path, [WOMAN], name="run.xlsx"))
    path = tmp_path / "utf16.csv"
    path.write_bytes(";".join(HEADER).encode("utf-16-le"))
    with pytest.raises(IntakeFileError, match="UTF-16"):
        read_print_run(path)


def test_truncated_and_damaged_xlsx(tmp_path):
    good = write_xlsx(tmp_path, [card(nomor_blanko=f"B{i}") for i in range(300)]).read_bytes()
    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(IntakeFileError, match="XLSX rusak: arsipnya tidak utuh"):
        read_print_run(truncated)
    # A workbook whose sheet breaks off part-way: the rows before it are read, then the file is refused.
    import zipfile

    with zipfile.ZipFile(tmp_path / "run.xlsx") as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    sheet = members["xl/worksheets/sheet1.xml"]
    members["xl/worksheets/sheet1.xml"] = sheet[: len(sheet) * 2 // 3]
    with pytest.raises(IntakeFileError, match=r"XLSX rusak: lembar kerja tidak dapat dibaca setelah baris \d+"):
        read_all(zip_of(tmp_path, members, "broken.xlsx"))
    members["xl/workbook.xml"] = b"<workbook"
    with pytest.raises(IntakeFileError, match="XLSX rusak dan tidak dapat dibuka"):
        read_print_run(zip_of(tmp_path, members, "broken-book.xlsx"))


def test_unclosed_quote_in_the_first_data_row_names_the_line(tmp_path):
    first = ";".join(card(nama='"SITI AMINAH').values())
    with pytest.raises(IntakeFileError, match=r'tanda kutip \("\) yang dibuka di baris 2 tidak pernah ditutup'):
        read_all(write_csv(tmp_path, [first, MAN]))


def test_unclosed_quote_later_is_named_by_its_physical_line(tmp_path):
    multiline = ";".join(f'"{v}"' if h == "alamat" else v for h, v in card(alamat="KP. A\nGG. B").items())
    bad = ";".join(card(nama='"BUDI', nomor_blanko="B3").values())
    rows = [WOMAN, multiline, {**MAN, "nomor_blanko": "B2"}, "", bad, MAN]
    with pytest.raises(IntakeFileError, match="dibuka di baris 7 tidak pernah ditutup") as caught:
        read_all(write_csv(tmp_path, rows), chunk_rows=2)
    assert "CSV tidak dapat dibaca" in str(caught.value)


@pytest.mark.filterwarnings("ignore::pandas.errors.ParserWarning")  # the first row's extra fields: rejected below
def test_row_far_too_wide_names_its_line(tmp_path):
    too_wide = ";".join(["x"] * (len(HEADER) + 20))
    with pytest.raises(IntakeFileError, match=f"baris 4 berisi {len(HEADER) + 20} kolom"):
        read_all(write_csv(tmp_path, [WOMAN, MAN, too_wide]))
    # In the first data row the parser keeps the fields it has room for: that row alone is rejected.
    rows, rejected, _ = read_all(write_csv(tmp_path, [too_wide, WOMAN]))
    assert [r.line for r in rows] == [3] and [(r.line, r.field) for r in rejected] == [(2, None)]
    assert f"Baris berisi {len(HEADER) + 8} kolom atau lebih" in rejected[0].reason


def test_nul_byte_deep_in_a_csv_names_its_line(tmp_path):
    rows = [card(nomor_blanko=f"B{i}") for i in range(400)]
    rows[300] = card(nama="SITI\x00AMINAH", nomor_blanko="B300")
    with pytest.raises(IntakeFileError, match="byte NUL \\(0x00\\) di baris 302"):
        read_all(write_csv(tmp_path, rows))


@pytest.mark.parametrize("extra", ["", "\n\n;;;;\n"])
def test_header_only_is_a_file_error(tmp_path, extra):
    path = tmp_path / "run.csv"
    path.write_text(";".join(HEADER) + "\n" + extra, encoding="utf-8")
    with pytest.raises(IntakeFileError, match="tidak berisi baris data"):
        read_all(path)
    with pytest.raises(IntakeFileError, match="tidak berisi baris data"):
        intake.check_print_run(path)
    with pytest.raises(IntakeFileError, match="tidak berisi baris data"):
        read_all(write_xlsx(tmp_path, [{}, {}]))


def test_a_file_of_rejected_rows_is_not_empty(tmp_path):
    rows, rejected, _ = read_all(write_csv(tmp_path, [card(nama="")]))
    assert rows == [] and len(rejected) == 1
    intake.check_print_run(write_csv(tmp_path, ["", "", card(nama="")]))


def test_check_print_run_reads_only_the_start(tmp_path):
    rows = [card(nomor_blanko=f"B{i}") for i in range(300)] + ["x;" * 40]
    path = write_csv(tmp_path, rows)
    intake.check_print_run(path)  # the malformed row at the end is for the import to find
    with pytest.raises(IntakeFileError, match="baris 302 berisi"):
        read_all(path)


def test_control_characters_in_a_name_or_an_address_stand_for_a_space(tmp_path):
    rows, rejected, _ = read_all(write_csv(tmp_path, [
        card(nama="SITI\x01AMINAH\x7f", alamat="KP.\x0bSAWAH\x85NO. 5", tempat_lahir="BE\x02KASI"),
    ]))
    assert rejected == []
    assert (rows[0].nama, rows[0].alamat, rows[0].tempat_lahir) == ("SITI AMINAH", "KP. SAWAH NO. 5", "BE KASI")
