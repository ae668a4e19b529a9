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
