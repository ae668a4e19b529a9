"""`antar returns ...`: returned and withdrawn cards to their kelurahan, from the command line."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table

from app.cli_util import cli_actor, load_office, office_option
from app.db import unit_of_work
from app.filters import thousands, wib
from app.regions import office_regions
from returns import service
from returns.models import BATCH_STATUS_LABELS, BatchStatus
from returns.service import ReturnsError, Scope

console = Console(soft_wrap=True)


@click.group("returns", help="Kartu kembali dan kartu wilayah ditarik: berkas serah terima ke kelurahan.")
def returns_group() -> None:
    pass


@returns_group.command("candidates", help="Kartu di kantor yang menunggu dikirim ke kelurahan, per alasan.")
@office_option
@with_appcontext
def candidates_command(office_code: str | None) -> None:
    with unit_of_work() as session:
        office = load_office(session, office_code)
        data = service.candidates(session, office)
        regions = office_regions(office.code)
    table = Table(title="Menunggu dikirim ke kelurahan")
    for col in ("Kelurahan", "Alasan", "Kartu"):
        table.add_column(col, justify="right" if col == "Kartu" else "left")
    for code in sorted(data, key=lambda c: regions.kelurahan[c].label):
        for reason, n in sorted(data[code].items()):
            table.add_row(regions.kelurahan[code].label, service.reason_text(reason), thousands(n))
    console.print(table)


@returns_group.command("build", help="Susun berkas serah terima per kelurahan (semua, atau --kelurahan KODE).")
@click.option("--kelurahan", "kelurahan_codes", multiple=True, help="Kode kelurahan (boleh berulang).")
@click.option("--dispatch", "dispatch_now", is_flag=True, help="Langsung tandai dikirim.")
@office_option
@with_appcontext
def build_command(kelurahan_codes: tuple[str, ...], dispatch_now: bool, office_code: str | None) -> None:
    try:
        with unit_of_work() as session:
            office = load_office(session, office_code)
            batches = service.build_batches(session, office, cli_actor(), list(kelurahan_codes) or None)
            if dispatch_now:
                for b in batches:
                    service.dispatch(session, Scope(office), b.id, cli_actor())
            rows = [(b.id, b.number, office_regions(office.code).kelurahan[b.kelurahan_code].label, b.item_count,
                     b.status_label) for b in batches]
    except ReturnsError as exc:
        raise click.ClickException(str(exc)) from exc
    _print_batches(rows, f"{len(rows)} berkas")


def _print_batches(rows: list[tuple], title: str) -> None:
    table = Table(title=title)
    for col in ("#", "Nomor", "Kelurahan", "Kartu", "Status"):
        table.add_column(col, justify="right" if col in ("#", "Kartu") else "left")
    for r in rows:
        table.add_row(str(r[0]), r[1], r[2], thousands(r[3]), r[4])
    console.print(table)


@returns_group.command("dispatch", help="Tandai berkas (id) dikirim ke kelurahan.")
@click.argument("batch_ids", nargs=-1, type=int, required=True)
@office_option
@with_appcontext
def dispatch_command(batch_ids: tuple[int, ...], office_code: str | None) -> None:
    try:
        with unit_of_work() as session:
            office = load_office(session, office_code)
            for bid in batch_ids:
                b = service.dispatch(session, Scope(office), bid, cli_actor())
                console.print(f"{b.number}: dikirim ({b.item_count} kartu)")
    except ReturnsError as exc:
        raise click.ClickException(str(exc)) from exc


@returns_group.command("list", help="Daftar berkas serah terima.")
@click.option("--status", type=click.Choice([s.value for s in BatchStatus]), default=None)
@office_option
@with_appcontext
def list_command(status: str | None, office_code: str | None) -> None:
    with unit_of_work() as session:
        office = load_office(session, office_code)
        regions = office_regions(office.code)
        rows = [(b.id, b.number, regions.kelurahan[b.kelurahan_code].label, b.item_count,
                 BATCH_STATUS_LABELS[b.status])
                for b in service.list_batches(session, Scope(office), status=BatchStatus(status) if status else None,
                                              limit=100_000)]
    _print_batches(rows, f"{len(rows)} berkas")


@returns_group.command("receive-back", help="Kartu pemilik pindah sudah kembali di kantor: siap dikirim ulang.")
@click.argument("blanko", nargs=-1, required=True)
@office_option
@with_appcontext
def receive_back_command(blanko: tuple[str, ...], office_code: str | None) -> None:
    try:
        with unit_of_work() as session:
            cards = service.receive_back(session, load_office(session, office_code), blanko, cli_actor())
            for c in cards:
                console.print(f"{c.nomor_blanko}: {c.state_label}")
    except ReturnsError as exc:
        raise click.ClickException(str(exc)) from exc


@returns_group.command("reminders", help="Kartu yang menunggu diambil di kelurahan lebih dari N hari.")
@click.option("--days", type=int, default=None, help="Bawaan: ANTAR_REMINDER_DAYS.")
@office_option
@with_appcontext
def reminders_command(days: int | None, office_code: str | None) -> None:
    days = current_app.config["ANTAR_REMINDER_DAYS"] if days is None else days
    with unit_of_work() as session:
        office = load_office(session, office_code)
        regions = office_regions(office.code)
        rows = service.waiting(session, Scope(office), older_than_days=days)
        table = Table(title=f"Menunggu diambil lebih dari {days} hari: {len(rows)} kartu")
        for col in ("Kelurahan", "Nama", "Blanko", "Diterima kelurahan"):
            table.add_column(col)
        for _, card, batch in rows:
            table.add_row(regions.kelurahan[batch.kelurahan_code].label, card.nama, card.nomor_blanko,
                          wib(batch.received_at))
    console.print(table)


@returns_group.command("report", help="Pengembalian per alasan dan per kelurahan, dengan tingkat penyerahan.")
@click.option("--json", "as_json", is_flag=True)
@office_option
@with_appcontext
def report_command(as_json: bool, office_code: str | None) -> None:
    with unit_of_work() as session:
        data = service.returns_report(session, load_office(session, office_code))
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    print_returns(data)


def print_returns(data: dict) -> None:
    reasons = Table(title="Kartu kembali per alasan")
    reasons.add_column("Alasan")
    reasons.add_column("Kartu", justify="right")
    for r in data["by_reason"]:
        reasons.add_row(r["label"], thousands(r["cards"]))
    console.print(reasons)
    kec = Table(title="Serah terima di kelurahan, per kecamatan")
    for col in ("Kecamatan", "Kartu", "Diterima kelurahan", "Diserahkan", "Tingkat penyerahan"):
        kec.add_column(col, justify="left" if col == "Kecamatan" else "right")
    for r in data["by_kecamatan"]:
        rate = "-" if r["handover_rate_pct"] is None else f"{r['handover_rate_pct']:.1f}%"
        kec.add_row(r["kecamatan"], thousands(r["cards"]), thousands(r["received"]), thousands(r["handed"]), rate)
    console.print(kec)
