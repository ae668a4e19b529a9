"""Helpers shared by the commands of every domain."""

from __future__ import annotations

import getpass
from typing import Any

import click
from flask import current_app
from rich.console import Console
from rich.table import Table

from app.cards import STATE_LABELS, Actor, CardState
from app.filters import thousands
from app.offices import UnknownOffice, ensure_office


def cli_actor() -> Actor:
    return Actor(f"cli:{getpass.getuser()}")


def office_option(f: Any) -> Any:
    return click.option("--office", "office_code", default=None,
                        help="Kode kabupaten/kota kantor (bawaan: ANTAR_OFFICE).")(f)


def office_code_or_default(code: str | None) -> str:
    return code or current_app.config["ANTAR_OFFICE"]


def load_office(session: Any, code: str | None) -> Any:
    try:
        return ensure_office(session, office_code_or_default(code))
    except UnknownOffice as exc:
        raise click.ClickException(str(exc)) from exc


def print_report(data: dict[str, Any], *, areas: bool = False) -> None:
    """The reconciliation on the terminal: counts per state (and per kecamatan), and whether they add up."""
    console = Console()
    table = Table(title=f"Rekonsiliasi e-KTP — Disdukcapil {data['office']['name']}")
    table.add_column("Status")
    table.add_column("Jumlah", justify="right")
    for state, n in data["by_state"].items():
        table.add_row(STATE_LABELS[CardState(state)], thousands(n))
    table.add_section()
    total = sum(data["by_state"].values())
    table.add_row("[b]Jumlah[/b]", f"[b]{thousands(total)}[/b]")
    table.add_row("Kartu dicetak (diimpor)", thousands(data['printed']))
    table.add_row("Baris ditolak saat impor", thousands(data['rejected_rows']))
    console.print(table)
    if areas:
        kec = Table(title="Per kecamatan")
        kec.add_column("Kecamatan")
        for state in data["by_state"]:
            kec.add_column(STATE_LABELS[CardState(state)], justify="right")
        kec.add_column("Jumlah", justify="right")
        for row in data["by_kecamatan"]:
            kec.add_row(row["kecamatan"], *(str(row["by_state"][s]) for s in data["by_state"]), str(row["total"]))
        console.print(kec)
    verdict = "[green]seimbang[/green]" if data["balanced"] else "[red]TIDAK SEIMBANG[/red]"
    console.print(f"Jumlah per status = kartu dicetak: {verdict}")
