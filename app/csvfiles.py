"""Reading the CSV files offices export: encoding and separator vary (UTF-8 or Windows-1252, comma or semicolon)."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re


class CsvFileError(ValueError):
    """The file cannot be read as CSV; the message is for staff (Bahasa Indonesia)."""


_HEAD_BYTES = 1 << 20  # enough for the header line
_SCAN_BLOCK = 1 << 20
_BLANK_LINE = re.compile(r"[\s,;]*")


def csv_encoding(path: str | os.PathLike) -> str:
    """'utf-8-sig' if the whole file is valid UTF-8, else 'cp1252'.

    The whole file is checked, not just its start: an accented name (cp1252 "JOSÉ") often appears for the
    first time deep in a file that is otherwise ASCII, and pandas would fail there half-way through.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as f:
        first = f.read(_SCAN_BLOCK)
        if first.startswith(b"PK\x03\x04"):
            raise CsvFileError("Berkas ini berisi XLSX meskipun namanya .csv; unggah dengan nama .xlsx.")
        if first.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in first[:4096]:
            raise CsvFileError("Berkas CSV ber-encoding UTF-16 tidak didukung; simpan sebagai CSV UTF-8.")
        block = first
        try:
            while block:
                if not block.isascii():
                    decoder.decode(block)
                block = f.read(_SCAN_BLOCK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def csv_header(path: str | os.PathLike, encoding: str) -> tuple[int, str, list[str]]:
    """(lines before the header, separator, header cells)."""
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    text = head.decode(encoding, errors="replace")
    for index, line in enumerate(io.StringIO(text, newline="\n")):
        line = line.rstrip("\r\n")
        if _BLANK_LINE.fullmatch(line):
            continue
        separator = ";" if line.count(";") > line.count(",") else ","
        cells = next(csv.reader([line], delimiter=separator))
        return index, separator, [c.strip() for c in cells]
    raise CsvFileError("Berkas kosong: tidak ada baris judul kolom.")
