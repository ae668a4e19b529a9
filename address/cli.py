"""Address commands: `antar regions load-geo FILE` and `antar address normalize INPUT.csv -o OUTPUT.csv`."""

from __future__ import annotations

import csv
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from address.geocode import GeoFileError, load_geo_file
from address.normalize import AddressInput
from address.service import AddressPipeline, Placed
from app.cli_util import office_code_or_default, office_option
from app.csvfiles import CsvFileError, csv_encoding, csv_header
from app.db import unit_of_work
from app.spreadsheet import csv_cell, personal_data_note

err_console = Console(stderr=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(regions_group)
    app.cli.add_command(address_group)


@click.group("address", help="Normalisasi dan pemeriksaan alamat.")
def address_group() -> None:
    pass


@click.group("regions", help="Data wilayah untuk geocoding: titik tengah dan batas kelurahan.")
def regions_group() -> None:
    pass


@regions_group.command(
    "load-geo",
    help="Muat titik tengah wilayah (CSV berkepala kode,lat,lng) atau batas kelurahan (GeoJSON, properti "
         "'kode'). Kode yang sudah ada diganti; batas yang sudah dimuat tetap ada saat memuat CSV.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", help="Keterangan sumber data (bawaan: nama berkas).")
@click.option("--only", "prefixes", multiple=True, metavar="KODE",
              help="Hanya muat wilayah di bawah kode ini, mis. --only 32.16 --only 32.75 (boleh berulang).")
@click.option("--show", default=20, show_default=True, help="Berapa baris dilewati yang ditampilkan.")
@with_appcontext
def load_geo_command(file: str, source: str | None, prefixes: tuple[str, ...], show: int) -> None:
    # Region geometry is shared by every office in the database, so no --office here.
    try:
        with unit_of_work() as session:
            result = load_geo_file(session, file, source=source, only=prefixes)
    except GeoFileError as exc:
        raise click.ClickException(f"{file}: {exc} Tidak ada yang dimuat.") from exc
    click.echo(
        f"{result.rows} wilayah dimuat ({result.polygons} dengan batas wilayah, {result.centroids} titik tengah "
        f"saja), {len(result.skipped)} baris dilewati"
        + (f", {result.ignored} di luar --only" if prefixes else "") + "."
    )
    for where, reason in result.skipped[:show]:
        click.echo(f"  {result.unit} {where}: {reason}")
    if len(result.skipped) > show:
        click.echo(f"  ... dan {len(result.skipped) - show} lainnya.")
    if result.rows == 0 and result.skipped:
        raise click.ClickException("Tidak ada wilayah yang dapat dimuat dari berkas ini.")


OUTPUT_COLUMNS = ["kode_wilayah", "kelurahan", "kecamatan", "kabupaten_kota", "kode_pos", "street", "rt", "rw",
                  "lat", "lng", "geo_precision", "status", "flags"]
_INPUT_ALIASES = {"desa": "kelurahan", "kabupatenkota": "kabupaten_kota", "kabkota": "kabupaten_kota",
                  "kodepos": "kode_pos", "kodewilayah": "kode_wilayah", "kelurahandesa": "kelurahan"}
_INPUT_FIELDS = ("alamat", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota", "provinsi", "kode_pos",
                 "kode_wilayah")


def _column_map(columns: list[str]) -> dict[str, str]:
    """Input header -> field, matched case-insensitively ignoring spaces, underscores and hyphens."""
    out = {}
    for col in columns:
        key = "".join(ch for ch in col.lower() if ch.isalnum())
        field = _INPUT_ALIASES.get(key) or next((f for f in (*_INPUT_FIELDS, "id") if f.replace("_", "") == key), None)
        if field and field not in out.values():
            out[col] = field
    return out


@address_group.command("normalize", help="Normalisasi alamat dari CSV (kolom id, alamat, dan kolom SIAK opsional).")
@click.argument("input_path", metavar="INPUT.csv", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False, writable=True))
@office_option
@click.option("--chunk-rows", default=20_000, show_default=True)
@with_appcontext
def normalize_command(input_path: str, output_path: str, office_code: str | None, chunk_rows: int) -> None:
    import pandas as pd

    code = office_code_or_default(office_code)
    try:
        encoding = csv_encoding(input_path)
        skipped, sep, header = csv_header(input_path, encoding)
    except CsvFileError as exc:
        raise click.ClickException(f"{input_path}: {exc}") from exc
    columns = _column_map(header)
    if "id" not in columns.values() or "alamat" not in columns.values():
        raise click.ClickException(f"{input_path}: kolom 'id' dan 'alamat' wajib ada.")
    with open(input_path, "rb") as f:
        total = sum(1 for _ in f) - 1 - skipped
    progress = Progress(TextColumn("[bold]Normalisasi[/bold]"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console, disable=not err_console.is_terminal)
    counts = {"CLEAR": 0, "UNCLEAR": 0}
    with unit_of_work() as session, progress, open(output_path, "w", newline="", encoding="utf-8") as out:
        # An operator runs this on purpose: a configured Nominatim server may be asked (rate-limited); its
        # answers go to the cache in this session, committed after every chunk so an interrupted run keeps them.
        pipeline = AddressPipeline.for_office(session, code, current_app.config, remote=True)
        task = progress.add_task("", total=total)
        writer = csv.writer(out)
        writer.writerow(["id", *OUTPUT_COLUMNS])  # the values below go through csv_cell: formulas defused
        reader = pd.read_csv(input_path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding,
                             skiprows=skipped, chunksize=chunk_rows, usecols=list(columns))
        for chunk in reader:
            chunk = chunk.rename(columns=columns)
            fields = [f for f in _INPUT_FIELDS if f in chunk.columns]
            for row_id, *values in zip(chunk["id"], *(chunk[f] for f in fields), strict=True):
                placed = pipeline.place(AddressInput(**{f: (v or None) for f, v in zip(fields, values, strict=True)}),
                                        for_delivery=False)
                writer.writerow([csv_cell(v) for v in (row_id, *_output_values(placed))])
                counts[placed.address.status] += 1
            session.commit()
            progress.advance(task, len(chunk))
    click.echo(f"{sum(counts.values())} alamat: {counts['CLEAR']} jelas, {counts['UNCLEAR']} belum jelas "
               f"-> {output_path}")
    click.echo(personal_data_note(["alamat", "lokasi"]))


def _output_values(placed: Placed) -> list[Any]:
    a, g = placed.address, placed.geo
    return [a.kode_wilayah or "", a.kelurahan or "", a.kecamatan or "", a.kabupaten_kota or "", a.kode_pos or "",
            a.street or "", a.rt or "", a.rw or "", "" if g.lat is None else f"{g.lat:.6f}",
            "" if g.lng is None else f"{g.lng:.6f}", g.precision.value, a.status, ";".join(f.value for f in a.flags)]
