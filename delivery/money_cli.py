"""`antar old-cards ...` and `antar cod ...`: old cards until destroyed, COD settlements and their differences."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table

from app.cli_util import cli_actor, load_office, office_option
from app.dates import today_local
from app.db import unit_of_work
from app.filters import thousands, wib
from app.web import MAX_PAGE
from delivery import oldcards, settlements
from delivery.oldcards import STAGE_LABELS, OldCardError, Stage
from delivery.settlements import Kind, SettlementError

console = Console(soft_wrap=True)


def _rupiah(n: int | None) -> str:
    return "-" if n is None else f"Rp {thousands(n)}"


# --- old cards ----------------------------------------------------------------------------------------------------


@click.group("old-cards", help="KTP lama yang ditarik petugas pos: diterima di kantor, dimusnahkan.")
def old_cards_group() -> None:
    pass


@old_cards_group.command("sync", help="Perbarui daftar KTP lama dari kabar kurir (ditarik, diterima).")
@office_option
@with_appcontext
def sync_command(office_code: str | None) -> None:
    with unit_of_work() as session:
        result = oldcards.sync_old_cards(session, load_office(session, office_code))
    console.print(f"{result.registered} KTP lama baru tercatat, {result.received} diterima menurut kurir.")


@old_cards_group.command("list", help="Daftar KTP lama (semua, atau --status IN_TRANSIT|RECEIVED|DESTROYED).")
@click.option("--status", "stage", type=click.Choice([s.value for s in Stage]), default=None)
@click.option("--json", "as_json", is_flag=True, help="Angka dan daftar sebagai JSON.")
@office_option
@with_appcontext
def list_command(stage: str | None, as_json: bool, office_code: str | None) -> None:
    with unit_of_work() as session:
        office = load_office(session, office_code)
        oldcards.sync_old_cards(session, office)
        figures = oldcards.old_cards_report(session, office)
        rows = []
        number = 1
        while number <= MAX_PAGE:
            page = oldcards.register_page(session, office, number, stage=stage)
            rows += page.rows
            if not page.has_next:
                break
            number += 1
    if as_json:
        click.echo(json.dumps({"figures": figures, "old_cards": [
            {"nomor_blanko": r.nomor_blanko, "nama": r.nama, "nik": r.nik_samar, "tracking_number": r.tracking_number,
             "status": r.stage.value, "collected_at": r.old.collected_at.isoformat(),
             "received_at": r.old.received_at and r.old.received_at.isoformat(), "received_by": r.old.received_by,
             "destroyed_at": r.old.destroyed_at and r.old.destroyed_at.isoformat(),
             "destruction": r.destruction_number} for r in rows]}, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"KTP lama ({len(rows)})")
    for col in ("Nomor blanko", "Nama", "NIK", "Status", "Diterima", "Berita acara"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.nomor_blanko, r.nama, r.nik_samar, STAGE_LABELS[r.stage], wib(r.old.received_at),
                      r.destruction_number or "-")
    console.print(table)
    console.print(f"Ditarik {thousands(figures['collected'])}: dalam perjalanan {thousands(figures['in_transit'])}, "
                  f"menunggu dimusnahkan {thousands(figures['awaiting_destruction'])}, "
                  f"dimusnahkan {thousands(figures['destroyed'])}.")


@old_cards_group.command("receive", help="Catat KTP lama diterima di kantor (nomor blanko kartu baru).")
@click.argument("blankos", nargs=-1, required=True)
@click.option("--received-by", default=None, help="Siapa yang menerima (bawaan: pengguna ini).")
@office_option
@with_appcontext
def receive_command(blankos: tuple[str, ...], received_by: str | None, office_code: str | None) -> None:
    try:
        with unit_of_work() as session:
            result = oldcards.receive_old_cards(session, load_office(session, office_code), blankos, cli_actor(),
                                                received_by=received_by)
    except OldCardError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"{len(result.received)} KTP lama dicatat diterima.")
    if result.already:
        console.print(f"Sudah tercatat diterima sebelumnya: {', '.join(result.already)}")


@old_cards_group.command("destroy", help="Musnahkan KTP lama yang sudah diterima (nomor blanko, atau --all) "
                                         "dengan berita acara pemusnahan.")
@click.argument("blankos", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Semua KTP lama yang menunggu dimusnahkan.")
@click.option("--witness", required=True, help="Nama saksi.")
@click.option("--witness-position", required=True, help="Jabatan saksi.")
@click.option("--place", required=True, help="Tempat pemusnahan.")
@click.option("--method", default=None, help=f"Cara pemusnahan (bawaan: {oldcards.DEFAULT_METHOD}).")
@click.option("--note", default="", help="Catatan pada berita acara.")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Tulis berita acara (PDF) ke berkas ini.")
@office_option
@with_appcontext
def destroy_command(blankos: tuple[str, ...], everything: bool, witness: str, witness_position: str, place: str,
                    method: str | None, note: str, pdf_path: Path | None, office_code: str | None) -> None:
    if everything == bool(blankos):
        raise click.UsageError("Sebutkan nomor blanko kartu baru, atau --all (tidak keduanya).")
    try:
        with unit_of_work() as session:
            office = load_office(session, office_code)
            d = oldcards.destroy_old_cards(session, office, cli_actor(), witness_name=witness,
                                           witness_position=witness_position, place=place, method=method,
                                           blankos=None if everything else blankos, note=note)
            doc = oldcards.destruction_document(session, office, d.id) if pdf_path else None
    except OldCardError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"Berita acara pemusnahan {d.number}: {d.card_count} KTP lama dimusnahkan.")
    if doc is not None and pdf_path is not None:
        pdf_path.write_bytes(oldcards.destruction_pdf(doc))
        console.print(f"PDF: {pdf_path}")


# --- COD settlements ----------------------------------------------------------------------------------------------


def _days() -> int:
    return int(current_app.config.get("ANTAR_COD_SETTLEMENT_DAYS", settlements.SETTLEMENT_DAYS))


@click.group("cod", help="Setoran COD dari kurir dan selisihnya.")
def cod_group() -> None:
    pass


@cod_group.command("report", help="Uang COD: dipungut, disetor, belum disetor, selisih.")
@click.option("--json", "as_json", is_flag=True)
@office_option
@with_appcontext
def cod_report_command(as_json: bool, office_code: str | None) -> None:
    with unit_of_work() as session:
        figures = settlements.cod_report(session, load_office(session, office_code), today_local(), days=_days())
    if as_json:
        click.echo(json.dumps(figures, indent=2, ensure_ascii=False))
        return
    table = Table(title="Uang COD")
    table.add_column("Uraian")
    table.add_column("Jumlah", justify="right")
    for key, label in (("expected", "Biaya pada kiriman terkirim"), ("collected", "Dipungut menurut kurir"),
                       ("remitted", "Disetor seluruhnya"), ("remitted_matched", "  untuk kiriman COD terkirim"),
                       ("remitted_extra", "  tanpa kiriman COD terkirim"), ("outstanding", "Belum disetor"),
                       ("missing", f"Belum disetor lewat {figures['settlement_days']} hari"),
                       ("amount_differences", "Selisih jumlah setoran"), ("total_mismatch", "Selisih total")):
        table.add_row(label, _rupiah(figures[key]))
    console.print(table)
    console.print(f"Selisih terbuka {figures['differences']['open']}, diselesaikan "
                  f"{figures['differences']['resolved']}. "
                  + ("[green]seimbang[/green]" if figures["balanced"] else "[red]TIDAK SEIMBANG[/red]"))


@cod_group.command("differences", help="Selisih setoran COD (semua, atau --open).")
@click.option("--open", "only_open", is_flag=True, help="Hanya yang belum diselesaikan.")
@click.option("--json", "as_json", is_flag=True)
@office_option
@with_appcontext
def differences_command(only_open: bool, as_json: bool, office_code: str | None) -> None:
    with unit_of_work() as session:
        found = settlements.differences(session, load_office(session, office_code), today_local(), days=_days())
    found = settlements.filtered(found, status="OPEN" if only_open else None)
    if as_json:
        click.echo(json.dumps([d.jsonable() for d in found], indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Selisih setoran COD ({len(found)})")
    for col in ("Jenis", "Kunci", "Seharusnya", "Disetor", "Keterangan", "Penyelesaian"):
        table.add_column(col)
    for d in found:
        r = d.resolution
        table.add_row(d.kind.value, d.key, _rupiah(d.expected), _rupiah(d.settled), d.detail,
                      f"{r.resolved_by} {wib(r.resolved_at)}: {r.note}" if r else "terbuka")
    console.print(table)


@cod_group.command("resolve", help="Tandai satu selisih selesai: JENIS KUNCI --note 'apa yang dilakukan'.")
@click.argument("kind", type=click.Choice([k.value for k in Kind]))
@click.argument("key")
@click.option("--note", required=True, help="Catatan penyelesaian (paling sedikit 5 karakter).")
@office_option
@with_appcontext
def resolve_command(kind: str, key: str, note: str, office_code: str | None) -> None:
    try:
        with unit_of_work() as session:
            d = settlements.resolve_difference(session, load_office(session, office_code), kind, key, note,
                                               cli_actor(), today_local(), days=_days())
    except SettlementError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"Selisih diselesaikan: {d.label} {d.key}.")
