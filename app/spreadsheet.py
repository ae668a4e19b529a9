"""Cells for files staff open in a spreadsheet: text that Excel or LibreOffice would run as a formula is defused.

Every CSV, and every XLSX cell holding text people typed, goes through `neutralize` (CSV) or `text_cell` (XLSX) (the
reconciliation workbook holds only labels and official names): a name or an address
such as "=HYPERLINK(...)" or "@SUM(...)" comes out as text with a leading apostrophe (OWASP's "CSV injection"
advice), while numbers, and phone numbers written as "+62...", stay as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import IO, Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_PHONE = re.compile(r"\+?\d[\d \-]{5,}")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def neutralize(value: str) -> str:
    """Prefix an apostrophe to text a spreadsheet would read as a formula; plain numbers and +62... pass."""
    if not value.startswith(FORMULA_START) or _PLAIN_PHONE.fullmatch(value) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def csv_cell(value: Any) -> Any:
    """A value for csv.writer: None as empty, numbers as numbers, text neutralized."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    return neutralize(str(value))


def write_csv(out: IO[str], header: Iterable[str], rows: Iterable[Iterable[Any]], *, delimiter: str = ",") -> None:
    """The header, then every row with each cell through `csv_cell`."""
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])


def csv_bytes(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """UTF-8 with a BOM, so that Excel picks the encoding."""
    out = io.StringIO()
    write_csv(out, header, rows)
    return out.getvalue().encode("utf-8-sig")


def text_cell(cell: Any, value: str) -> None:
    """An openpyxl cell holding text that is never evaluated (openpyxl stores "=..." as a formula otherwise)."""
    cell.value = value
    cell.data_type = "s"
    cell.number_format = "@"
    if value.startswith(FORMULA_START):
        cell.quotePrefix = True


# --- what personal data an export holds (UU PDP 27/2022) ----------------------------------------------------------
#
# Every file Antar writes says which personal data it holds, in the form its readers can bear: a PDF in its footer
# (app/pdf.py), an XLSX in a "Keterangan" sheet (`personal_data_sheet`), a CSV in the HTTP header
# `X-Antar-Personal-Data` of its download (app/privacy.py): a line above a CSV's header row would break the programs
# that read it (the courier's item lists, the tests, the civil registry's import of the deceased list).

PERSONAL_DATA_HEADER = "X-Antar-Personal-Data"

# The kinds of personal data, as tokens (the HTTP header) and as staff read them.
PERSONAL_DATA: dict[str, str] = {
    "nik": "NIK",
    "nama": "nama",
    "tempat_lahir": "tempat lahir",
    "tanggal_lahir": "tanggal lahir",
    "jenis_kelamin": "jenis kelamin",
    "alamat": "alamat",
    "no_hp": "nomor HP",
    "no_kk": "nomor KK",
    "lokasi": "titik lokasi",
    "penerima": "nama penerima",
    "catatan": "catatan petugas",
    "baris_ditolak": "isi baris yang ditolak",
}

# Column names of CSV files and what they hold: the header of a CSV download is read from its own header row.
_COLUMN_KINDS: dict[str, str] = {
    "nik": "nik", "nama": "nama", "recipient_name": "nama", "tempat_lahir": "tempat_lahir",
    "tanggal_lahir": "tanggal_lahir", "jenis_kelamin": "jenis_kelamin", "alamat": "alamat", "street": "alamat",
    "alamat_baru": "alamat", "rt": "alamat", "rw": "alamat", "no_hp": "no_hp", "phone": "no_hp", "no_kk": "no_kk",
    "lat": "lokasi", "lng": "lokasi", "penerima": "penerima", "receiver_name": "penerima", "catatan": "catatan",
}


def personal_data_of(columns: Iterable[str]) -> list[str]:
    """The kinds of personal data (tokens of `PERSONAL_DATA`, in its order) that columns of these names hold."""
    found = {_COLUMN_KINDS[c.strip().lower()] for c in columns if c.strip().lower() in _COLUMN_KINDS}
    return [kind for kind in PERSONAL_DATA if kind in found]


def personal_data_header(kinds: Iterable[str]) -> str:
    """The value of `X-Antar-Personal-Data`: the tokens, comma-separated, or "none"."""
    ordered = [k for k in PERSONAL_DATA if k in set(kinds)]
    return ", ".join(ordered) if ordered else "none"


def personal_data_note(kinds: Iterable[str]) -> str:
    """One line for people: which personal data the document holds, or that it holds none."""
    labels = [PERSONAL_DATA[k] for k in PERSONAL_DATA if k in set(kinds)]
    if not labels:
        return "Dokumen ini tidak memuat data pribadi."
    return (f"Memuat data pribadi (UU PDP 27/2022): {', '.join(labels)}. Gunakan hanya untuk tugas ini, "
            "jangan dibagikan, musnahkan bila tidak diperlukan lagi.")


def personal_data_sheet(workbook: Any, kinds: Iterable[str]) -> None:
    """A last sheet "Keterangan" saying which personal data the workbook holds (the data sheets stay as they are,
    for the programs that read them), and the same line in the workbook's description."""
    kinds = list(kinds)
    from openpyxl.styles import Font

    sheet = workbook.create_sheet("Keterangan")
    sheet.append(["Data pribadi"])
    sheet["A1"].font = Font(bold=True)
    sheet.append([personal_data_note(kinds)])
    sheet.append([f"{PERSONAL_DATA_HEADER}: {personal_data_header(kinds)}"])
    sheet.column_dimensions["A"].width = 120
    workbook.properties.description = personal_data_note(kinds)
    workbook.properties.keywords = f"{PERSONAL_DATA_HEADER}: {personal_data_header(kinds)}"
