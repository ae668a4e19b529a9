"""Property tests of print-run intake: whatever bytes arrive, the outcome is the valid rows read (or imported), or an
IntakeFileError with a message for staff; never another exception, and never a partial import (a refused file
leaves no print run, no card and no rejected row behind)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from helpers import HEADER, card_row, xlsx_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select

from app.cards import Actor, Card
from app.cli_util import load_office
from app.db import unit_of_work
from manifests.intake import service
from manifests.intake.models import IntakeRejection, PrintRun
from manifests.intake.reader import IntakeFileError, read_print_run

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAME_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ ÉÑÜéñü'."  # every one in UTF-8, cp1252 and latin-1


def rows_of(names: list[str]) -> list[dict[str, str]]:
    return [card_row(i, nama=name) for i, name in enumerate(names, 1)]


def csv_bytes(rows: list[dict[str, str]], *, sep: str = ",", newline: str = "\n", encoding: str = "utf-8",
              header: list[str] = HEADER) -> bytes:
    lines = [sep.join(header)] + [sep.join(row[h] for h in header) for row in rows]
    return (newline.join(lines) + newline).encode(encoding)


VALID_ROWS = rows_of([f"WARGA {i}" for i in range(1, 8)])
VALID_CSV = csv_bytes(VALID_ROWS)
VALID_XLSX = xlsx_bytes(VALID_ROWS)


def outcome(tmp: Path, data: bytes, name: str) -> tuple[int, int] | str:
    """(cards, rejected rows) read from the file, or the IntakeFileError's message; anything else fails the test."""
    path = tmp / name
    path.write_bytes(data)
    try:
        chunks = list(read_print_run(path, chunk_rows=3))
    except IntakeFileError as exc:
        message = str(exc)
        assert message.strip() and "Traceback" not in message
        return message
    return sum(len(c.rows) for c in chunks), sum(len(c.rejected) for c in chunks)


# --- mutations of a file


@st.composite
def mangled_csv(draw: st.DrawFn) -> bytes:
    """The valid file with quotes, separators, line breaks, NULs or random bytes put in, or cut short."""
    data = bytearray(VALID_CSV)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "cut", "replace"]))
        if kind == "cut":
            del data[at:]
        else:
            junk = draw(st.one_of(st.sampled_from([b'"', b",", b";", b"\n", b"\r", b'""', b"\x00", b"\xff\xfe"]),
                                  st.binary(min_size=1, max_size=20)))
            data[at:at + (len(junk) if kind == "replace" else 0)] = junk
    return bytes(data)


@st.composite
def mangled_xlsx(draw: st.DrawFn) -> bytes:
    """The valid workbook cut short, with bytes flipped, or rebuilt with one member cut, dropped or altered (a
    well-formed ZIP whose content is not)."""
    how = draw(st.sampled_from(["truncate", "flip", "member"]))
    if how == "truncate":
        return VALID_XLSX[: draw(st.integers(0, len(VALID_XLSX) - 1))]
    if how == "flip":
        data = bytearray(VALID_XLSX)
        for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[at] ^= draw(st.integers(1, 255))
        return bytes(data)
    with zipfile.ZipFile(io.BytesIO(VALID_XLSX)) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    victim = draw(st.sampled_from(sorted(members)))
    change = draw(st.sampled_from(["cut", "drop", "junk"]))
    if change == "drop":
        del members[victim]
    elif change == "cut":
        members[victim] = members[victim][: draw(st.integers(0, max(len(members[victim]) - 1, 0)))]
    else:
        content = bytearray(members[victim])
        at = draw(st.integers(0, len(content)))
        content[at:at] = draw(st.sampled_from([b"<", b"&", b'r="99999999"', b"\x00", b"</row>", b"<c r=\"A1\">"]))
        members[victim] = bytes(content)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return out.getvalue()


@st.composite
def header_only(draw: st.DrawFn) -> tuple[bytes, str]:
    """A header (any columns, any order and spelling) and nothing but blank lines or empty fields after it."""
    columns = draw(st.lists(st.sampled_from(HEADER + ["desa", "Nama Lengkap", "JK", "x"]), min_size=1, max_size=25))
    columns = [draw(st.sampled_from([c, c.upper(), c.replace("_", " "), f" {c} "])) for c in columns]
    sep = draw(st.sampled_from([",", ";"]))
    if draw(st.booleans()):
        wb = Workbook()
        ws = wb.active
        for _ in range(draw(st.integers(0, 3))):
            ws.append([])
        ws.append(columns)
        for _ in range(draw(st.integers(0, 3))):
            ws.append([None] * len(columns))
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue(), "run.xlsx"
    blank = draw(st.lists(st.sampled_from(["", sep * len(columns), "  ", sep]), max_size=4))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join([*draw(st.lists(st.just(""), max_size=2)), sep.join(columns), *blank]) + newline
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))), "run.csv"


# --- the reader


@FAST
@given(data=st.binary(max_size=3000), name=st.sampled_from(["run.csv", "run.xlsx"]),
       after_header=st.booleans())
def test_random_bytes_are_read_or_refused_cleanly(tmp_path_factory, data, name, after_header):
    if after_header:
        data = csv_bytes([]) + data
    outcome(tmp_path_factory.mktemp("f"), data, name)


@FAST
@given(names=st.lists(st.text(NAME_LETTERS, max_size=40).map(lambda n: "W" + n),  # never an empty marker ("NA")
                      min_size=1, max_size=6),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16", "utf-16-le", "utf-32"]),
       sep=st.sampled_from([",", ";"]), newline=st.sampled_from(["\n", "\r\n"]))
def test_valid_rows_in_any_encoding_are_all_read_or_the_encoding_is_refused(tmp_path_factory, names, encoding, sep,
                                                                            newline):
    rows = rows_of([n.replace(sep, " ") for n in names])
    got = outcome(tmp_path_factory.mktemp("f"), csv_bytes(rows, sep=sep, newline=newline, encoding=encoding),
                  "run.csv")
    if encoding.startswith("utf-16") or encoding == "utf-32":
        assert isinstance(got, str) and "UTF-16" in got
    else:
        assert got == (len(rows), 0)


@FAST
@given(data=mangled_csv())
def test_mangled_csv_is_read_or_refused_cleanly(tmp_path_factory, data):
    got = outcome(tmp_path_factory.mktemp("f"), data, "run.csv")
    if not isinstance(got, str):
        assert sum(got) <= len(VALID_ROWS) + 8  # no row is invented (a line break may split one in two)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mangled_xlsx())
def test_mangled_xlsx_is_read_or_refused_cleanly(tmp_path_factory, data):
    outcome(tmp_path_factory.mktemp("f"), data, "run.xlsx")


@FAST
@given(file=header_only())
def test_header_only_file_is_always_refused(tmp_path_factory, file):
    got = outcome(tmp_path_factory.mktemp("f"), *file)
    assert isinstance(got, str)
    assert "tidak berisi baris data" in got or "Kolom wajib tidak ditemukan" in got or "sama-sama dibaca" in got


# --- the import: all or nothing, on both databases

ANY_FILE = st.one_of(
    mangled_csv().map(lambda d: (d, "run.csv")),
    mangled_xlsx().map(lambda d: (d, "run.xlsx")),
    header_only(),
    st.binary(max_size=500).map(lambda d: (csv_bytes([]) + d, "run.csv")),
    st.just((VALID_CSV, "run.csv")),
)


def totals(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(t)) for t in (PrintRun, Card, IntakeRejection))


def test_an_import_is_whole_or_nothing(app, tmp_path):
    serial = iter(range(1, 10**6))

    @settings(max_examples=20, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(file=ANY_FILE)
    def check(file: tuple[bytes, str]) -> None:
        data, name = file
        n = next(serial)
        if name.endswith(".csv"):  # a new blanko series per example, so that its cards are new to the database
            data = data.replace(b"BLK", f"F{n:05d}".encode())
        path = tmp_path / f"{n}{Path(name).suffix}"
        path.write_bytes(data)
        with app.app_context():
            with unit_of_work() as s:
                before = totals(s)
            try:
                with unit_of_work() as s:
                    result = service.import_print_run(s, path, office=load_office(s, None), actor=Actor("fuzz"),
                                                      chunk_rows=3)
            except IntakeFileError as exc:
                assert str(exc).strip()
                with unit_of_work() as s:
                    assert totals(s) == before, "a refused file left something behind"
                return
            with unit_of_work() as s:
                after = totals(s)
        if result.same_file_as is not None:
            assert after == before
        else:
            assert after == (before[0] + 1, before[1] + result.cards_imported, before[2] + result.rows_rejected)

    check()
