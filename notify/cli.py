"""`antar notify ...`: the sender's pass (for cron, or as a long-running loop), opt-outs, and what staff see."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext
from rich.console import Console
from rich.table import Table

from app.cli_util import cli_actor, load_office, office_option
from app.db import unit_of_work
from notify import queries
from notify.numbers import e164
from notify.service import Settings, blocked_since, opt_in, opt_out, requeue_failed, run_pass, summary, unblock
from notify.texts import KIND_LABELS, STATUS_LABELS, Kind, MessageStatus

console = Console()


@click.group("notify", help="Pesan ke warga lewat gateway WhatsApp/SMS.")
def notify_group() -> None:
    pass


def _settings() -> Settings:
    try:
        return Settings.from_config(current_app.config)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@notify_group.command("run", help="Periksa kabar baru (event kurir, riwayat kartu), buat pesan, lalu kirim yang "
                                  "sudah waktunya. Tanpa --once: ulangi terus setiap --interval detik.")
@click.option("--once", is_flag=True, help="Satu kali lalu selesai (untuk cron).")
@click.option("--interval", default=60.0, show_default=True, type=click.FloatRange(min=1.0),
              help="Detik di antara dua putaran.")
@with_appcontext
def run_command(once: bool, interval: float) -> None:
    settings = _settings()
    if not settings.configured:
        console.print("[yellow]ANTAR_NOTIFY_BASE_URL belum diatur: pesan disiapkan dan dicatat, "
                      "tidak dikirim.[/yellow]")
    while True:
        result = run_pass(settings)
        console.print(summary(result))
        if once:
            return
        try:
            time.sleep(interval)
        except KeyboardInterrupt:
            return


def _phone(no_hp: str) -> str:
    phone = e164(no_hp)
    if phone is None:
        raise click.BadParameter("bukan nomor HP Indonesia yang dapat dikirimi pesan (08... dengan 10-14 angka, "
                                 "atau 628.../+628... dengan 10-15 angka)", param_hint="NO_HP")
    return phone


@notify_group.command("opt-out", help="Nomor HP ini tidak menerima pesan lagi (pesan yang masih antre dibatalkan).")
@click.argument("no_hp")
@with_appcontext
def opt_out_command(no_hp: str) -> None:
    phone = _phone(no_hp)
    with unit_of_work() as session:
        new, skipped = opt_out(session, phone, cli_actor().label)
    console.print(("Dicatat" if new else "Sudah tercatat sebelumnya") + f": nomor itu tidak menerima pesan lagi; "
                  f"{skipped} pesan antre dibatalkan.")


@notify_group.command("opt-in", help="Cabut penolakan pesan untuk nomor HP ini.")
@click.argument("no_hp")
@with_appcontext
def opt_in_command(no_hp: str) -> None:
    with unit_of_work() as session:
        removed = opt_in(session, _phone(no_hp))
    console.print("Nomor itu menerima pesan lagi." if removed else "Nomor itu tidak tercatat menolak pesan.")


@notify_group.command("status", help="Jumlah pesan per jenis dan status, dan keadaan gateway.")
@office_option
@with_appcontext
def status_command(office_code: str | None) -> None:
    settings = _settings()
    with unit_of_work() as session:
        office = load_office(session, office_code)
        view = queries.overview(session, office.id)
        blocked = blocked_since(session, settings) if settings.configured else None
    table = Table(title=f"Pesan ke warga — Disdukcapil {office.name}")
    table.add_column("Jenis")
    for status in MessageStatus:
        table.add_column(STATUS_LABELS[status], justify="right")
    for kind in Kind:
        table.add_row(KIND_LABELS[kind], *(str(view.counts[str(kind)][str(s)]) for s in MessageStatus))
    console.print(table)
    console.print(f"Nomor yang menolak pesan: {view.opt_outs}")
    if not settings.configured:
        console.print("[yellow]Gateway belum diatur (ANTAR_NOTIFY_BASE_URL): tidak ada yang dikirim.[/yellow]")
    elif blocked:
        console.print(f"[red]Gateway menolak kredensial sejak {blocked:%Y-%m-%d %H:%M} UTC: pengiriman berhenti. "
                      "Periksa ANTAR_NOTIFY_API_TOKEN, lalu `antar notify unblock`.[/red]")


@notify_group.command("unblock", help="Lanjutkan pengiriman setelah kredensial gateway diperbaiki.")
@with_appcontext
def unblock_command() -> None:
    with unit_of_work() as session:
        n = unblock(session)
    console.print("Pengiriman dilanjutkan." if n else "Pengiriman tidak sedang berhenti.")


@notify_group.command("requeue", help="Antrekan ulang pesan yang gagal karena kredensial atau gateway tak terjangkau.")
@office_option
@with_appcontext
def requeue_command(office_code: str | None) -> None:
    with unit_of_work() as session:
        n = requeue_failed(session, load_office(session, office_code).id)
    console.print(f"{n} pesan diantrekan ulang.")
