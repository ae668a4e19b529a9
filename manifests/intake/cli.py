"""Intake and sorting commands: `antar import FILE`, `antar sorting damaged|withdraw|...`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli_util import cli_actor, load_office, office_option
from app.courier.client import CourierClient
from app.db import unit_of_work
from app.regions import office_regions
from app.spreadsheet import personal_data_note, write_csv
from manifests import sorting
from manifests.intake import service
from manifests.intake.reader import IntakeFileError, estimate_rows

console = Console(stderr=True)


def run_import(path: str, office_code: str | None, *, quiet: bool = False) -> service.ImportResult:
    """Import one file in one transaction, with a progress bar on a terminal."""
    total = estimate_rows(path)
    progress = Progress(TextColumn("[bold]Impor[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, disable=quiet or not console.is_terminal)
    with progress, unit_of_work() as session:
        task = progress.add_task(os.path.basename(path), total=total)
        office = load_office(session, office_code)
        return service.import_print_run(
            session, path, office=office, actor=cli_actor(),
            chunk_rows=current_app.config["INTAKE_CHUNK_ROWS"],
            progress=lambda r: progress.update(task, completed=r.lines_read),
        )


@click.command("import", help="Impor berkas cetakan (CSV atau XLSX) sebagai satu print run.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@office_option
@click.option("--errors-csv", type=click.Path(dir_okay=False, writable=True),
              help="Tulis semua baris yang ditolak (nomor baris, kolom, alasan) ke CSV ini.")
@click.option("--show", default=30, show_default=True, help="Berapa baris ditolak yang ditampilkan.")
@with_appcontext
def import_command(file: str, office_code: str | None, errors_csv: str | None, show: int) -> None:
    try:
        result = run_import(file, office_code)
    except IntakeFileError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    if result.same_file_as is not None:
        click.echo(f"Berkas ini sudah diimpor sebagai print run #{result.same_file_as}; tidak ada yang diimpor ulang.")
        return
    click.echo(
        f"Print run #{result.print_run_id}: {result.rows_read} baris dibaca, {result.cards_imported} kartu diimpor "
        f"({result.duplicates} cetak ganda, {result.withdrawn} ditarik, {result.unclear} alamat belum jelas), "
        f"{result.rows_rejected} baris ditolak, "
        f"{result.already_imported} sudah diimpor sebelumnya."
    )
    if result.changed:
        click.echo(f"{result.rows_changed} baris yang sudah diimpor sebelumnya berisi lain di berkas ini; kartunya "
                   f"tidak diubah:")
        for c in result.changed[:show]:
            click.echo(f"  baris {c.line}: blanko {c.nomor_blanko}, berbeda: {', '.join(c.fields)}")
        if result.rows_changed > show:
            click.echo(f"  ... dan {result.rows_changed - show} baris lain (lihat halaman print run "
                       f"#{result.print_run_id}).")
    for r in result.rejected[:show]:
        click.echo(f"  baris {r.line}: [{r.field or '-'}] {r.reason}")
    if result.rows_rejected > show:
        click.echo(f"  ... dan {result.rows_rejected - show} baris lain (lihat --errors-csv).")
    if errors_csv:
        write_rejections(errors_csv, result.rejected)
        click.echo(f"{errors_csv}: {personal_data_note(['nik', 'baris_ditolak'])}")


def write_rejections(path: str, rejected: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        write_csv(f, ["baris", "kolom", "alasan"], ([r.line, r.field or "", r.reason] for r in rejected))


@click.group("sorting", help="Hasil penyortiran: kartu rusak dan penarikan wilayah.")
def sorting_group() -> None:
    pass


@sorting_group.command("damaged", help="Tandai kartu rusak (nomor blanko), untuk dicetak ulang.")
@click.argument("blanko", nargs=-1)
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False), help="Satu nomor blanko per baris.")
@click.option("--reason", required=True, help="Keterangan kerusakan.")
@office_option
@with_appcontext
def damaged_command(blanko: tuple[str, ...], from_file: str | None, reason: str, office_code: str | None) -> None:
    numbers = list(blanko)
    if from_file:
        numbers += Path(from_file).read_text(encoding="utf-8").split()
    try:
        with unit_of_work() as session:
            cards = sorting.mark_damaged(session, load_office(session, office_code), numbers, cli_actor(), reason)
    except sorting.SortingError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(cards)} kartu ditandai rusak dan masuk daftar cetak ulang.")


@sorting_group.command("withdraw", help="Tarik semua kartu satu kelurahan (atau beberapa RW-nya).")
@click.option("--kelurahan", "kelurahan_code", required=True, help="Kode kelurahan, mis. 32.16.06.1001.")
@click.option("--rw", "rws", default="", help="RW yang ditarik, dipisah koma (kosong: seluruh kelurahan).")
@click.option("--reason", required=True, help="Alasan penarikan.")
@office_option
@with_appcontext
def withdraw_command(kelurahan_code: str, rws: str, reason: str, office_code: str | None) -> None:
    try:
        with unit_of_work() as session:
            code = load_office(session, office_code).code
        result = sorting.withdraw_and_recall(code, kelurahan_code, sorting.parse_rws(rws), reason, cli_actor(),
                                             CourierClient.configured(current_app.config))
    except sorting.SortingError as exc:
        raise click.ClickException(str(exc)) from exc
    name = office_regions(code).kelurahan[result.kelurahan_code].label
    area = f"{name}" + (f" RW {', '.join(result.rws)}" if result.rws else "")
    click.echo(f"Penarikan #{result.withdrawal_id} untuk {area}: {result.cards_withdrawn} kartu ditarik; kartu "
               "cetakan berikutnya ikut ditarik.")
    for r in result.recalls:  # items the courier already had: asked back now
        click.echo(f"  resi {r.tracking_number} (blanko {r.nomor_blanko}): {r.answer.summary()}")


@sorting_group.command("reprint-list", help="Daftar kartu rusak untuk dicetak ulang.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), help="Tulis ke CSV.")
@office_option
@with_appcontext
def reprint_list_command(csv_path: str | None, office_code: str | None) -> None:
    with unit_of_work() as session:
        cards = sorting.damaged_cards(session, load_office(session, office_code))
        rows = [(c.nomor_blanko, c.nik, c.nama, c.history[-1].reason) for c in cards]
    out = open(csv_path, "w", newline="", encoding="utf-8") if csv_path else sys.stdout
    try:
        write_csv(out, ["nomor_blanko", "nik", "nama", "keterangan"], rows)
    finally:
        if csv_path:
            out.close()
            click.echo(f"{len(rows)} kartu -> {csv_path}: {personal_data_note(['nik', 'nama'])}")
