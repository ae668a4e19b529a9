"""`antar dashboard`: keep the dashboard's aggregates folded, check them against the cards, rebuild them."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from app import tally
from app.cli_util import load_office, office_option
from app.db import unit_of_work


@click.group("dashboard", help="Angka dasbor: lipat, periksa, bangun ulang.")
def dashboard_group() -> None:
    pass


@dashboard_group.command("fold", help="Gabungkan perubahan kartu yang menunggu ke ringkasan dasbor (aman diulang).")
@with_appcontext
def fold_command() -> None:
    with unit_of_work() as session:
        n = tally.fold(session)
    click.echo(f"{n} baris perubahan digabungkan.")


@dashboard_group.command("check", help="Bandingkan angka dasbor dengan hitungan kartu; keluar 1 bila berbeda.")
@office_option
@with_appcontext
def check_command(office_code: str | None) -> None:
    with unit_of_work() as session:
        office = load_office(session, office_code)
        diffs = tally.differences(session, office.id)
    if not diffs:
        click.echo("Angka dasbor sama dengan hitungan kartu.")
        return
    for kel, state, kept, actual in diffs[:50]:
        click.echo(f"  {kel or '(belum ditempatkan)'} {state}: dasbor {kept}, kartu {actual}")
    raise click.ClickException(f"{len(diffs)} selisih; jalankan `antar dashboard rebuild`.")


@dashboard_group.command("rebuild", help="Hitung ulang angka dasbor dari kartu (riwayat per hari diganti "
                                          "dengan perubahan terakhir tiap kartu).")
@with_appcontext
def rebuild_command() -> None:
    with unit_of_work() as session:
        n = tally.rebuild(session)
    click.echo(f"{n} kartu dihitung ulang.")
