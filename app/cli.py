"""The `antar` command: `antar db upgrade`, `antar users create`, `antar report`, `antar demo`, ...

Commands are thin: parse, open a unit of work, call an operation, print the result.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import socket
import sys
from collections.abc import Mapping
from typing import Any

import click
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext
from rich.console import Console
from sqlalchemy.engine import make_url

from app import create_app, db, migrate
from app.cli_util import cli_actor, load_office, office_code_or_default, office_option, print_report
from app.config import load_config
from app.db import unit_of_work
from app.demo.command import demo_command
from app.models import Role
from app.offices import UnknownOffice
from app.privacy import privacy_group, purge_command
from app.report import reconciliation, write_xlsx
from app.token_cli import tokens_group
from app.users import UserError, create_user, find_user, reset_password, unlock
from courier_sim.cli import courier_sim_command
from notify_sim.cli import notify_sim_command

console = Console()


# Commands that work without the office's database being migrated (they make or need none of it).
NO_SCHEMA_NEEDED = frozenset({"db", "demo", "courier-sim", "notify-sim", "routes", "shell"})


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False, load_dotenv=False,
             help="Antar: pengiriman e-KTP lewat pos, dari cetakan sampai ke tangan warga.")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Every command that uses the database first checks that it is reachable and migrated: if not, one line says
    what to run, the command exits with 2 and writes nothing."""
    if ctx.invoked_subcommand in (None, *NO_SCHEMA_NEEDED, *OWN_SCHEMA_CHECK) or {"--help", "-h"} & set(sys.argv[1:]):
        return
    _check_schema(ctx, ctx.ensure_object(ScriptInfo).load_app())


# Commands that check the schema themselves, once they have built the application they run: `serve` with gevent
# workers first starts again in an interpreter patched for gevent, and builds it only there.
OWN_SCHEMA_CHECK = frozenset({"serve"})


def _check_schema(ctx: click.Context, app: Any) -> None:
    problem = None
    with app.app_context():
        try:
            migrate.check_schema(db.engine())
        except migrate.SchemaNotReady as exc:
            problem = str(exc)
    if problem:
        click.echo(f"antar: {problem}", err=True)
        ctx.exit(2)


@main.group("db", help="Skema basis data.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Terapkan semua migrasi (membuat tabel pada basis data baru).")
@with_appcontext
def db_upgrade() -> None:
    migrate.upgrade(db.engine())
    console.print(f"Basis data mutakhir: revisi {migrate.current_revision(db.engine())}")


@main.group("users", help="Akun pengguna.")
def users_group() -> None:
    pass


@users_group.command("create", help="Buat akun: admin, staff (satu kantor), officer (satu kelurahan).")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@office_option
@click.option("--kelurahan", "kelurahan_code", default=None, help="Kode kelurahan, untuk petugas kelurahan.")
@click.option("--name", "full_name", default="", help="Nama lengkap.")
@click.password_option("--password", envvar="ANTAR_PASSWORD", help="Kata sandi (atau ANTAR_PASSWORD).")
@with_appcontext
def users_create(username: str, role: str, office_code: str | None, kelurahan_code: str | None,
                 full_name: str, password: str) -> None:
    r = Role(role)
    code = office_code_or_default(office_code) if r is not Role.ADMIN else None
    try:
        with unit_of_work() as session:
            user = create_user(session, username, password, r, office_code=code,
                               kelurahan_code=kelurahan_code, full_name=full_name)
            console.print(f"Akun '{user.username}' ({user.role_label}) dibuat.")
    except (UserError, UnknownOffice) as exc:
        raise click.ClickException(str(exc)) from exc


@users_group.command("unlock", help="Buka kunci akun yang terkunci karena kata sandi salah berulang kali.")
@click.argument("username")
@with_appcontext
def users_unlock(username: str) -> None:
    try:
        with unit_of_work() as session:
            done = unlock(session, find_user(session, username), cli_actor())
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"Kunci akun '{username}' dibuka." if done else f"Akun '{username}' tidak terkunci.")


@users_group.command("reset-password", help="Atur kata sandi sementara (harus diganti saat masuk) dan akhiri semua "
                     "sesi masuk akun.")
@click.argument("username")
@click.password_option("--password", envvar="ANTAR_PASSWORD", help="Kata sandi sementara (atau ANTAR_PASSWORD).")
@with_appcontext
def users_reset_password(username: str, password: str) -> None:
    try:
        with unit_of_work() as session:
            reset_password(session, find_user(session, username), cli_actor(), password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"Kata sandi '{username}' diatur ulang; pemiliknya harus menggantinya saat masuk berikutnya.")


@main.command("report", help="Laporan rekonsiliasi: jumlah kartu per status dan wilayah.")
@office_option
@click.option("--json", "as_json", is_flag=True, help="Keluaran JSON untuk mesin.")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, writable=True), help="Tulis juga ke XLSX.")
@click.option("--areas/--no-areas", default=False, help="Tampilkan rincian per kecamatan.")
@with_appcontext
def report_command(office_code: str | None, as_json: bool, xlsx_path: str | None, areas: bool) -> None:
    with unit_of_work() as session:
        data = reconciliation(session, load_office(session, office_code))
    if xlsx_path:
        write_xlsx(data, xlsx_path)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print_report(data, areas=areas)
    if not data["balanced"]:
        sys.exit(3)


ACCESS_LOG_FORMAT = ('{"t": "%(t)s", "ip": "%(h)s", "method": "%(m)s", "path": "%(U)s", "status": %(s)s, '
                     '"bytes": "%(B)s", "ms": %(M)s, "pid": "%(p)s"}')


def _freeze_startup_objects(worker: Any) -> None:
    """gunicorn's `post_worker_init`: the objects a worker made loading the application (about 42,000, after the fork)
    go to the collector's permanent generation (`gc.freeze`), as the modules' went at start-up (app/launch.py). They
    live as long as the process, and every full collection walked them again: in-process 500-event courier batches
    spent 0.19 s in eleven full collections over 80,000 events, 0.01 s with them frozen (BENCHMARKS.md)."""
    gc.freeze()


# `antar serve --worker-class gevent` in a new interpreter: gevent patches the standard library before anything else
# is imported (app.launch would import Flask and SQLAlchemy first), then the command runs as usual.
_GREEN_START = "from gevent import monkey; monkey.patch_all(); from app.launch import run; run()"


def _patched_for_gevent() -> bool:
    if "gevent" not in sys.modules:
        return False
    from gevent import monkey

    return monkey.is_module_patched("socket") and monkey.is_module_patched("threading")


def _check_gevent_office(config: Mapping[str, Any]) -> None:
    """gevent workers serve many requests in one thread, each giving way to the others only while it waits for the
    network. Two things in Antar wait otherwise: SQLite's lock (a busy database makes the waiting request hold the
    whole worker) and background jobs, which without Redis run in a thread of the server (an import would then hold
    a worker for its whole length). So gevent serves an office on PostgreSQL whose jobs go to `antar worker`.

    `config` is the configuration alone (`_serve_config`): the process that checks it only starts the patched one,
    which builds the application."""
    problems = []
    if make_url(config["DATABASE_URL"]).get_backend_name() != "postgresql":
        problems.append("basis data PostgreSQL (DATABASE_URL=postgresql://...)")
    if not config.get("ANTAR_REDIS_URL"):
        problems.append("Redis untuk pekerjaan latar (ANTAR_REDIS_URL, dijalankan oleh `antar worker`)")
    if problems:
        raise click.ClickException("--worker-class gevent memerlukan " + " dan ".join(problems)
                                   + "; tanpa itu gunakan --worker-class gthread (bawaan).")


def _serve_config() -> dict[str, Any]:
    """The configuration `create_app` would read (the same instance folder, its .env and secrets), without building
    the application."""
    from flask import Flask

    probe = Flask("app", instance_path=os.environ.get("ANTAR_INSTANCE_PATH") or None, instance_relative_config=True)
    os.makedirs(probe.instance_path, exist_ok=True)
    return load_config(probe.instance_path)


def _port_taken(host: str, port: int) -> bool:
    """Whether something already listens on host:port. `antar serve`'s workers each bind a listening socket of their
    own with SO_REUSEPORT, which would let a second `antar serve` (a forgotten one, say) bind the same port and take
    half of the connections instead of failing; a bind without it, with SO_REUSEADDR as gunicorn's own (a port whose
    old connections linger in TIME_WAIT is free), fails while anything listens there. Other errors (a host that is
    not this machine's) are left for gunicorn to report."""
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


# Without Flask's application context around it: the command builds its application itself, after the restart that
# gevent workers need (below), and checks the schema then.
@main.command("serve", with_appcontext=False,
              help="Jalankan server web (gunicorn) untuk staf, petugas kelurahan dan webhook kurir.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="Proses pekerja gunicorn.")
@click.option("--threads", default=16, show_default=True, type=int,
              help="Thread per pekerja (kiriman kurir yang datang bersamaan diterapkan dalam satu transaksi).")
@click.option("--worker-class", type=click.Choice(["gthread", "gevent"]), default="gthread", show_default=True,
              help="gthread: thread per pekerja (bawaan, juga untuk SQLite). gevent: greenlet per permintaan, untuk "
                   "kantor dengan PostgreSQL dan Redis (pekerjaan latar di `antar worker`); webhook kurir jauh lebih "
                   "cepat (BENCHMARKS.md).")
@click.pass_context
def serve_command(ctx: click.Context, host: str, port: int, workers: int, threads: int, worker_class: str) -> None:
    from gunicorn.app.base import BaseApplication

    green = worker_class == "gevent"
    if green and not _patched_for_gevent():
        _check_gevent_office(_serve_config())
        # gevent's monkey patching must come before any other import (locks, queues and sockets made before it would
        # block a whole worker): the command starts again in a new interpreter that patches first, and builds the
        # application there (once, not here too).
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-c", _GREEN_START, "serve", "--host", host, "--port", str(port),
                                  "--workers", str(workers), "--worker-class", "gevent"])
    app = ctx.ensure_object(ScriptInfo).load_app()
    _check_schema(ctx, app)

    class _Server(BaseApplication):  # gunicorn's documented way to embed it ("Custom Application")
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            if green:
                self.cfg.set("worker_class", "gevent")
            self.cfg.set("accesslog", "-")
            # One JSON line per request: the path without its query string (searches carry names and NIKs), no
            # referer, no user agent.
            self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
            self.cfg.set("graceful_timeout", 10)
            self.cfg.set("post_worker_init", _freeze_startup_objects)
            # Each worker listens on a socket of its own and the kernel spreads new connections between them. On one
            # shared socket the workers race to accept, and a burst of connections (a courier's client opening its
            # pool) could all land on one worker: under `wrk`, 32 keep-alive connections split 0/32 or 1/31 in some
            # runs, and one worker then served them all with the other idle (BENCHMARKS.md).
            self.cfg.set("reuse_port", True)

        def load(self) -> Any:
            return create_app()

    if _port_taken(host, port):
        raise click.ClickException(f"Port {port} di {host} sudah dipakai proses lain (mungkin `antar serve` yang masih "
                                   "berjalan): hentikan proses itu atau pilih --port lain.")
    console.print(f"Antar melayani di http://{host}:{port}/ "
                  + (f"({workers} pekerja gevent)" if green else f"({workers} pekerja x {threads} thread)"))
    storage = str(app.config.get("ANTAR_RATELIMIT_STORAGE_URI") or "memory://")
    if workers > 1 and storage.startswith("memory"):
        # Each worker would count on its own: a client gets the limit once per worker (8 workers, 8 times).
        console.print("[yellow]Perhatian:[/yellow] batas permintaan (halaman cek status warga, login) disimpan di "
                      f"memori tiap proses ({storage}), jadi dihitung terpisah oleh tiap pekerja: dengan {workers} "
                      f"pekerja satu klien mendapat batasnya hingga {workers} kali. Atur ANTAR_REDIS_URL (atau "
                      "ANTAR_RATELIMIT_STORAGE_URI=redis://...) agar semua pekerja menghitung bersama.")
    _Server().run()


@main.command("worker", help="Jalankan pekerja tugas latar belakang (butuh ANTAR_REDIS_URL).")
@click.option("--burst", is_flag=True, help="Kerjakan tugas yang ada lalu berhenti.")
@with_appcontext
def worker_command(burst: bool) -> None:
    from flask import current_app
    from rq import SimpleWorker

    from app import jobs

    url = current_app.config.get("ANTAR_REDIS_URL")
    if not url:
        raise click.ClickException("ANTAR_REDIS_URL belum diatur: tanpa Redis, tugas berjalan di dalam `antar serve` "
                                   "dan pekerja terpisah tidak diperlukan.")
    # SimpleWorker runs each job in this process, inside the application context set up here (no fork: the
    # database connections stay this process's own).
    worker = SimpleWorker([jobs.QUEUE], connection=jobs.redis_connection(url))
    console.print(f"Pekerja tugas Antar mendengarkan antrean '{jobs.QUEUE}' di {url} (pid {os.getpid()})")
    worker.work(burst=burst, with_scheduler=True)


main.add_command(demo_command)
main.add_command(purge_command)
main.add_command(privacy_group)
main.add_command(courier_sim_command)
main.add_command(notify_sim_command)
main.add_command(tokens_group)
