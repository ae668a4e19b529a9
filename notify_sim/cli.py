"""`antar notify-sim`: run the message gateway simulator in the foreground until Ctrl-C.

The command object is `notify_sim_command`; `app/cli.py` registers it.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

import click
from dotenv import load_dotenv
from rich.console import Console
from rich.logging import RichHandler

from notify_sim.server import GatewaySimulator, generate_secret

console = Console(stderr=True)


def _share(name: str) -> click.Option:
    return click.option(f"--{name}", type=click.FloatRange(0, 1), default=0.0, show_default=True)


@click.command("notify-sim", help="Jalankan simulator gateway pesan (WhatsApp/SMS): API kirim + laporan kiriman "
                                  "bertanda tangan.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Alamat dengar.")
@click.option("--port", default=8766, show_default=True, type=int, help="Port dengar.")
@click.option("--target", default=None, metavar="URL",
              help="URL laporan kita, mis. http://127.0.0.1:5000/api/v1/notify/reports (tanpa ini laporan tidak "
                   "dikirim).")
@click.option("--secret", default=None, help="Rahasia whsec_... (bawaan: ANTAR_NOTIFY_WEBHOOK_SECRET, atau dibuat "
                                              "baru dan dicetak).")
@click.option("--token", default=None, help="Token bearer yang diterima (bawaan: ANTAR_NOTIFY_API_TOKEN atau "
                                            "sim-token).")
@click.option("--seed", default=None, type=int, help="Benih (bawaan: acak, dicetak agar bisa diulang).")
@click.option("--no-whatsapp", "no_whatsapp", multiple=True, metavar="+628...",
              help="Nomor tanpa WhatsApp (422 no_whatsapp); boleh berulang.")
@_share("no-whatsapp-share")
@_share("fail-once-share")
@_share("throttle-share")
@_share("failed-share")
@click.option("--read-share", type=click.FloatRange(0, 1), default=0.6, show_default=True,
              help="Bagian pesan WhatsApp yang dilaporkan dibaca.")
@click.option("--report-delay", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Detik sebelum laporan (terkirim, lalu dibaca).")
def notify_sim_command(host: str, port: int, target: str | None, secret: str | None, token: str | None,
                       seed: int | None, no_whatsapp: tuple[str, ...], no_whatsapp_share: float,
                       fail_once_share: float, throttle_share: float, failed_share: float, read_share: float,
                       report_delay: float) -> None:
    load_dotenv(Path.cwd() / ".env", override=False)
    logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(console=console, show_path=False)],
                        format="%(message)s", force=True)
    logging.getLogger("notify_sim").setLevel(logging.INFO)
    generated = False
    secret = secret or os.environ.get("ANTAR_NOTIFY_WEBHOOK_SECRET") or None
    if secret is None:
        secret, generated = generate_secret(), True
    token = token or os.environ.get("ANTAR_NOTIFY_API_TOKEN") or "sim-token"
    seed = secrets.randbelow(2**31) if seed is None else seed
    try:
        sim = GatewaySimulator(host=host, port=port, api_token=token, report_url=target, report_secret=secret,
                               no_whatsapp=no_whatsapp, no_whatsapp_share=no_whatsapp_share,
                               fail_once_share=fail_once_share, throttle_share=throttle_share,
                               failed_share=failed_share, read_share=read_share, seed=seed,
                               report_delay=report_delay)
    except ValueError as exc:  # a secret that is not base64
        raise click.BadParameter(str(exc), param_hint="--secret") from exc
    try:
        sim.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    console.print(f"[bold]Simulator gateway pesan[/bold] di {sim.url}  (ANTAR_NOTIFY_BASE_URL={sim.url})")
    console.print(f"  token bearer: {token}   benih: {seed}")
    console.print(f"  laporan: {target or '[yellow]tidak ada --target: laporan tidak dikirim[/yellow]'}")
    if generated:
        console.print(f"  rahasia laporan baru: [bold]{secret}[/bold]\n"
                      f"  (set ANTAR_NOTIFY_WEBHOOK_SECRET={secret} di aplikasi)")
    console.print("  Ctrl-C untuk berhenti.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        state = sim.state()
        sim.stop()
        console.print(f"Berhenti: {state['messages']} pesan diterima ({state['by_channel']}), laporan "
                      f"{state['reports_posted']}.")
