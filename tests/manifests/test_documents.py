"""Courier handover documents: the berita acara PDF (pages, texts, barcodes), the CSV and the XLSX."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import re
from collections import Counter

import pypdf
import pypdfium2
import pytest
import zxingcpp
from openpyxl import load_workbook

from app.courier.s10 import is_valid, tracking_number
from app.dates import wib_text
from manifests.documents import (
    COLUMNS,
    ROWS_FIRST_PAGE,
    ROWS_PER_PAGE,
    DocItem,
    ManifestDoc,
    handover_pdf,
    items_csv,
    items_xlsx,
    short_address,
    tanggal,
    terbilang,
)

MANIFEST = "MNF-3216-20261123-0001"
# (kelurahan, kecamatan, cards): 500 in all, in round order, one kelurahan after the other
AREAS = [
    ("JATIMULYA", "TAMBUN SELATAN", 90),
    ("LAMBANGSARI", "TAMBUN SELATAN", 75),
    ("MEKARSARI", "TAMBUN SELATAN", 70),
    ("SETIA DARMA", "TAMBUN SELATAN", 65),
    ("TAMBUN", "TAMBUN SELATAN", 60),
    ("KARANG SATRIA", "TAMBUN UTARA", 55),
    ("SRIJAYA", "TAMBUN UTARA", 45),
    ("SUMBERJAYA", "TAMBUN SELATAN", 40),
]
LONG_NAME = "SITI NURHALIZA BINTI MUHAMMAD ABDURRAHMAN WAHYUDIHARJOSUMANTRINEGORO AL-FARUQI SEKARWANGI PUSPITASARI"


def make_item(seq: int, kelurahan: str = "JATIMULYA", kecamatan: str = "TAMBUN SELATAN", **overrides) -> DocItem:
    values = dict(
        seq=seq,
        tracking_number=tracking_number("RB", 12_340_000 + seq * 7),
        recipient_name=f"WARGA NOMOR {seq}",
        street=f"JL. RAYA {kelurahan} NO. {seq}",
        rt=f"{seq % 12 + 1:03d}",
        rw=f"{seq % 5 + 1:03d}",
        kelurahan=kelurahan,
        kecamatan=kecamatan,
        kode_pos="17510",
        kode_wilayah="32.16.06.1001",
        phone=f"08{1_200_000_000 + seq}",
        lat=-6.25 + seq / 10_000,
        lng=107.05 + seq / 20_000,
    )
    values.update(overrides)
    return DocItem(**values)


def make_items() -> tuple[DocItem, ...]:
    """500 items; every 37th has a name too long for three lines, every 41st no street and no coordinates."""
    items = []
    for kelurahan, kecamatan, count in AREAS:
        for _ in range(count):
            seq = len(items) + 1
            extra = {}
            if seq % 37 == 0:
                extra["recipient_name"] = LONG_NAME
            if seq % 41 == 0:
                extra.update(street=None, rt=None, lat=None, lng=None, phone=None)
            items.append(make_item(seq, kelurahan, kecamatan, **extra))
    return tuple(items)


def make_doc(items: tuple[DocItem, ...], **overrides) -> ManifestDoc:
    values = dict(
        office_title="Disdukcapil Kabupaten Bekasi",
        office_code="32.16",
        kabupaten_kota="KABUPATEN BEKASI",
        provinsi="JAWA BARAT",
        manifest_number=MANIFEST,
        post_office_code="17510",
        post_office_name="KPC Tambun",
        created_at=dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.UTC),
        finalized_at=dt.datetime(2026, 11, 23, 3, 5, tzinfo=dt.UTC),
        items=items,
    )
    values.update(overrides)
    return ManifestDoc(**values)


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


def resi_on(text: str) -> list[str]:
    return re.findall(r"RB\d{9}ID", text)


@pytest.fixture(scope="module")
def doc() -> ManifestDoc:
    return make_doc(make_items())


@pytest.fixture(scope="module")
def pdf(doc: ManifestDoc) -> bytes:
    return handover_pdf(doc)


@pytest.fixture(scope="module")
def texts(pdf: bytes) -> list[str]:
    return page_texts(pdf)


# --- PDF -----------------------------------------------------------------------------------------------------------


def test_page_count_follows_the_rows_per_page(texts: list[str]) -> None:
    # The last item page holds 5 items, so the totals and the signatures fit under them.
    expected = 1 + math.ceil((500 - ROWS_FIRST_PAGE) / ROWS_PER_PAGE)
    assert len(texts) == expected == 21
    for number, text in enumerate(texts, start=1):
        assert f"Halaman {number} dari {expected} \u2014 {MANIFEST}" in text


def test_each_page_holds_its_own_stretch_of_the_round(doc: ManifestDoc, texts: list[str]) -> None:
    # Long names are cut to three lines, so no row grows and page N always holds the same items.
    bounds = [0, ROWS_FIRST_PAGE] + list(range(ROWS_FIRST_PAGE + ROWS_PER_PAGE, 500, ROWS_PER_PAGE)) + [500]
    for page, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        assert resi_on(texts[page]) == [item.tracking_number for item in doc.items[start:end]], page
        assert texts[page].count("Nomor resi") == 1  # the table header, repeated on every page
    assert "\u2026" in flat("".join(texts))  # the long names were cut


def test_every_tracking_number_and_the_letterhead(doc: ManifestDoc, texts: list[str]) -> None:
    everything = "\n".join(texts)
    assert sorted(resi_on(everything)) == sorted(item.tracking_number for item in doc.items)
    first = flat(texts[0])
    assert "Disdukcapil Kabupaten Bekasi" in first
    assert "BERITA ACARA SERAH TERIMA KARTU e-KTP" in first
    assert f"Nomor manifest: {MANIFEST}" in first
    assert "17510 \u2014 KPC Tambun" in first
    assert "23 November 2026, pukul 10.05 WIB" in first  # finalized 03:05 UTC
    assert "500 (lima ratus) kartu e-KTP" in first
    assert "Pada hari ini, Senin, tanggal 23 November 2026" in first
    assert "NIK" not in everything


def test_totals_per_kelurahan_and_signatures(texts: list[str]) -> None:
    last = flat(texts[-1])
    summary = last[last.index("Rekapitulasi per kelurahan") :]
    expected = sorted(AREAS, key=lambda area: (area[1], area[0]))
    for number, (kelurahan, kecamatan, count) in enumerate(expected, start=1):
        assert f"{number} {kelurahan} {kecamatan} {count}" in summary
    assert "JUMLAH TOTAL 500" in summary
    assert "Yang menyerahkan, Disdukcapil Kabupaten Bekasi" in summary
    assert "Yang menerima, PT Pos Indonesia (KPC Tambun)" in summary
    assert "NIP:" in summary and "NIPPOS:" in summary


@pytest.mark.parametrize(("page", "dpi"), [(0, 200), (1, 150)])
def test_barcodes_decode_to_the_tracking_numbers(doc: ManifestDoc, pdf: bytes, page: int, dpi: int) -> None:
    image = pypdfium2.PdfDocument(pdf)[page].render(scale=dpi / 72).to_pil()
    found = zxingcpp.read_barcodes(image)
    assert {barcode.format for barcode in found} == {zxingcpp.BarcodeFormat.Code128}
    start = 0 if page == 0 else ROWS_FIRST_PAGE
    end = ROWS_FIRST_PAGE if page == 0 else ROWS_FIRST_PAGE + ROWS_PER_PAGE
    assert sorted(barcode.text for barcode in found) == sorted(item.tracking_number for item in doc.items[start:end])


def test_markup_characters_are_text() -> None:
    items = (
        make_item(1, recipient_name="PT A&B <Sejahtera> & Co"),
        make_item(2, street="JL. MAWAR <BLOK A> & B", kelurahan="KEL. <X> & Y"),
    )
    doc = make_doc(items, office_title="Disdukcapil Kota A&B <Uji>", post_office_name="KPC <Tambun> & Co")
    text = flat("\n".join(page_texts(handover_pdf(doc))))
    assert "Disdukcapil Kota A&B <Uji>" in text
    assert "PT A&B <Sejahtera> & Co" in text
    assert "JL. MAWAR <BLOK A> & B" in text
    assert "KEL. <X> & Y" in text
    assert "PT Pos Indonesia (KPC <Tambun> & Co)" in text


def test_draft_and_empty_manifest() -> None:
    texts = page_texts(handover_pdf(make_doc((), finalized_at=None)))
    text = flat(texts[0])
    assert len(texts) == 1
    assert "DRAF" in text and "Tidak ada kiriman" in text
    assert "0 (nol) kartu e-KTP" in text and "JUMLAH TOTAL 0" in text
    assert "23 November 2026, pukul 08.30 WIB" in text  # not finalized: the creation date


def test_indonesian_dates_in_wib() -> None:
    assert tanggal(dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)) == "23 November 2026"
    assert tanggal(dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)) == "24 November 2026"  # 00.00 WIB
    assert tanggal(dt.datetime(2026, 2, 28, 18, 0, tzinfo=dt.UTC)) == "1 Maret 2026"
    assert tanggal(dt.datetime(2026, 8, 17, 1, 0)) == "17 Agustus 2026"  # naive means UTC
    assert tanggal(dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))) == "1 Januari 2026"


def test_wib_text_as_pages_show_a_moment() -> None:
    assert wib_text(dt.datetime(2026, 12, 31, 17, 5, 59, tzinfo=dt.UTC)) == "01-01-2027 00:05 WIB"  # the next year
    assert wib_text(dt.datetime(2026, 3, 4, 1, 2)) == "04-03-2026 08:02 WIB"  # naive means UTC
    assert wib_text(dt.datetime(2026, 3, 4, 9, 2, tzinfo=dt.timezone(dt.timedelta(hours=9)))) == "04-03-2026 07:02 WIB"
    assert wib_text(None) == "-" and wib_text(None, "") == ""


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "nol"),
        (1, "satu"),
        (10, "sepuluh"),
        (11, "sebelas"),
        (15, "lima belas"),
        (20, "dua puluh"),
        (99, "sembilan puluh sembilan"),
        (100, "seratus"),
        (115, "seratus lima belas"),
        (500, "lima ratus"),
        (1000, "seribu"),
        (1234, "seribu dua ratus tiga puluh empat"),
        (21_500, "dua puluh satu ribu lima ratus"),
        (100_000, "seratus ribu"),
        (1_000_000, "satu juta"),
        (2_001_011, "dua juta seribu sebelas"),
    ],
)
def test_terbilang(n: int, words: str) -> None:
    assert terbilang(n) == words


def test_short_address() -> None:
    assert short_address(make_item(12, street="JL. RAYA JATIMULYA NO. 12", rt="003", rw="005")) == (
        "JL. RAYA JATIMULYA NO. 12, RT 003/RW 005"
    )
    assert short_address(make_item(1, street=None, rt="003", rw="005")) == "RT 003/RW 005"
    assert short_address(make_item(1, street="GG. MELATI", rt=None, rw="005")) == "GG. MELATI, RW 005"
    assert short_address(make_item(1, street=None, rt=None, rw=None)) == ""


def test_no_nik_in_the_interface() -> None:
    names = {f.name for cls in (DocItem, ManifestDoc) for f in dataclasses.fields(cls)} | set(COLUMNS)
    assert not any("nik" in name for name in names)


# --- CSV and XLSX --------------------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_round_trip(doc: ManifestDoc) -> None:
    rows = read_csv(items_csv(doc))
    assert len(rows) == 500
    assert list(rows[0]) == list(COLUMNS)
    for row, item in zip(rows, doc.items, strict=True):
        assert row["seq"] == str(item.seq)
        assert is_valid(row["tracking_number"]) and row["tracking_number"] == item.tracking_number
        for column in (
            "recipient_name",
            "street",
            "rt",
            "rw",
            "kelurahan",
            "kecamatan",
            "kode_pos",
            "kode_wilayah",
            "phone",
        ):
            assert row[column] == (getattr(item, column) or ""), column
        for column in ("lat", "lng"):
            assert (float(row[column]) if row[column] else None) == getattr(item, column)
        assert (row["kabupaten_kota"], row["provinsi"]) == ("KABUPATEN BEKASI", "JAWA BARAT")
        assert (row["manifest_number"], row["post_office_code"]) == (MANIFEST, "17510")
    assert rows[0]["lat"].startswith("-6.")  # a negative latitude is a number, not a neutralised formula


def test_csv_quoting() -> None:
    awkward = 'SITI, "IBU RT"\nBARIS DUA'
    rows = read_csv(items_csv(make_doc((make_item(1, recipient_name=awkward, street="JL. A; B, C"),))))
    assert rows[0]["recipient_name"] == awkward
    assert rows[0]["street"] == "JL. A; B, C"


INJECTED = {
    "recipient_name": '=HYPERLINK("http://contoh.invalid","klik")',
    "street": "+1+2",
    "kelurahan": "-2+3",
    "kecamatan": "@SUM(A1:A9)",
    "rt": "\t=1",
}


def test_csv_neutralises_formulas_but_keeps_phone_numbers() -> None:
    items = (
        make_item(1, phone="+62 812-3456-7890", **INJECTED),
        make_item(2, phone="=1+1"),
        make_item(3, phone="+6281234567890"),
    )
    rows = read_csv(items_csv(make_doc(items)))
    for column, value in INJECTED.items():
        assert rows[0][column] == "'" + value
    assert rows[0]["phone"] == "+62 812-3456-7890"
    assert rows[1]["phone"] == "'=1+1"
    assert rows[2]["phone"] == "+6281234567890"


def test_xlsx(doc: ManifestDoc) -> None:
    book = load_workbook(io.BytesIO(items_xlsx(doc)))
    sheet = book["Manifest"]
    assert sheet.max_row == 501
    assert [cell.value for cell in sheet[1]] == list(COLUMNS)
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["C"].width == 30
    col = {name: index for index, name in enumerate(COLUMNS)}
    for row, item in zip(sheet.iter_rows(min_row=2, values_only=True), doc.items, strict=True):
        assert row[col["seq"]] == item.seq
        assert row[col["tracking_number"]] == item.tracking_number
        assert row[col["recipient_name"]] == item.recipient_name
        assert row[col["rt"]] == item.rt  # "003" stays text
        assert row[col["phone"]] == item.phone  # "08..." keeps its zero
        # openpyxl writes 16 significant digits; a nanodegree is well under a millimetre
        for column in ("lat", "lng"):
            expected = getattr(item, column)
            assert row[col[column]] == (None if expected is None else pytest.approx(expected, abs=1e-9))
    counts = Counter(row[col["kelurahan"]] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert counts == {kelurahan: n for kelurahan, _, n in AREAS}
    info = {key: value for key, value in book["Info"].iter_rows(values_only=True)}
    assert info["Nomor manifest"] == MANIFEST and info["Jumlah kiriman"] == 500
    assert info["Difinalisasi"] == "23 November 2026 10.05 WIB"


def test_xlsx_stores_formulas_as_text() -> None:
    book = load_workbook(io.BytesIO(items_xlsx(make_doc((make_item(1, phone="+62 812", **INJECTED),)))))
    sheet = book["Manifest"]
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=2, column=index)
        if column in INJECTED:
            assert cell.value == INJECTED[column] and cell.data_type == "s", column
            assert cell.quotePrefix
    assert sheet.cell(row=2, column=COLUMNS.index("phone") + 1).value == "+62 812"
