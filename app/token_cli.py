"""`antar tokens`: API tokens for machine clients (a script of the office, the courier partner)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from rich.console import Console
from sqlalchemy import select

from app.api import TokenError, create_token, revoke_token
from app.dates import waktu
from app.db import unit_of_work
from app.models import ApiToken, User

console = Console()


@click.group("tokens", help="Token API untuk klien mesin (skrip kantor, mitra kurir).")
def tokens_group() -> None:
    pass


@tokens_group.command("create", help="Buat token untuk akun USERNAME; token ditampilkan sekali saja.")
@click.argument("username")
@click.option("--name", required=True, help="Untuk apa token ini, mis. 'skrip rekap harian'.")
@with_appcontext
def tokens_create(username: str, name: str) -> None:
    try:
        with unit_of_work() as session:
            user = session.scalar(select(User).where(User.username == username))
            if user is None:
                raise TokenError(f"Akun '{username}' tidak ditemukan.")
            token, plain = create_token(session, user, name, "antar tokens create")
            console.print(f"Token #{token.id} untuk '{user.username}' ({user.role_label}): simpan sekarang, "
                          "tidak dapat ditampilkan lagi.")
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(plain)


@tokens_group.command("list", help="Daftar token (tanpa nilai rahasianya), satu baris per token.")
@with_appcontext
def tokens_list() -> None:
    with unit_of_work() as session:
        for t in session.scalars(select(ApiToken).order_by(ApiToken.id)):
            state = f"dicabut {waktu(t.revoked_at)}" if t.revoked_at else "aktif"
            used = waktu(t.last_used_at) if t.last_used_at else "belum dipakai"
            click.echo(f"#{t.id}\t{t.prefix}…\t{t.name}\takun {t.user.username} ({t.user.role_label})\t"
                       f"dibuat {waktu(t.created_at)}\tterakhir {used}\t{state}")


@tokens_group.command("revoke", help="Cabut token nomor TOKEN_ID (berlaku seketika).")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    try:
        with unit_of_work() as session:
            token = revoke_token(session, token_id)
            console.print(f"Token #{token.id} ({token.name}, akun '{token.user.username}') dicabut.")
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
