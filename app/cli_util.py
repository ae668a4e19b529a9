"""Helpers shared by the commands of every domain."""

from __future__ import annotations

import getpass
from typing import Any

import click
from flask import current_app

from app.cards import Actor
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
