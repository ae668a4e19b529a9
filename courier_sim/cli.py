"""`antar courier-sim`: run the courier simulator in the foreground until Ctrl-C.

The command object is `courier_sim_command`; `app/cli.py` registers it.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
from dotenv import load_dotenv
from rich.console import Console
from rich.logging import RichHandler

from courier_sim.server import CourierSimulator
from courier_sim.settlement import DIFFERENCE_KINDS
from courier_sim.webhook import generate_secret

console = Console(stderr=True)


def parse_differences(text: str) -> tuple[str, ...]:
    """`--differences`: "all", "none", or kinds separated by commas."""
    text = text.strip().lower()
    if text == "all":
        return DIFFERENCE_KINDS
    if text in ("none", ""):
        return ()
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in DIFFERENCE_KINDS]
    if unknown:
        raise click.BadParameter(f"tidak dikenal: {', '.join(unknown)}; pilihan: all, none, "
                                 f"{', '.join(DIFFERENCE_KINDS)}", param_hint="--differences")
    return kinds


def _first_secret() -> str | None:
    secrets_env = os.environ.get("ANTAR_COURIER_WEBHOOK_SECRETS", "")
    return next((s.strip() for s in secrets_env.split(",") if s.strip()), None)


@click.command("courier-sim", help="Jalankan simulator kurir (PT Pos): API manifes + webhook peristiwa pelacakan.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Alamat dengar.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port dengar.")
@click.option("--target", default=None, metavar="URL",
              help="URL webhook kita, mis. http://127.0.0.1:5000/api/v1/courier/events "
                   "(tanpa ini peristiwa hanya dicatat).")
@click.option("--secret", default=None, help="Rahasia whsec_... (bawaan: yang pertama di ANTAR_COURIER_WEBHOOK_SECRETS,"
                                              " atau dibuat baru dan dicetak).")
@click.option("--token", default=None,
              help="Token bearer yang diterima (bawaan: ANTAR_COURIER_API_TOKEN atau sim-token).")
@click.option("--seconds-per-day", default=5.0, show_default=True, type=float, help="Detik nyata per hari simulasi.")
@click.option("--seed", default=None, type=int, help="Benih acak (bawaan: acak, dicetak agar bisa diulang).")
@click.option("--start", "start_at", default=None, metavar="ISO",
              help="Awal jam simulasi, mis. 2026-11-23T09:00:00+07:00 (bawaan: 60 hari yang lalu, agar hari-hari "
                   "simulasi tidak melewati waktu nyata: Antar menolak event bertanggal di masa depan).")
@click.option("--pickup-share", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="Bagian kiriman yang gagal diantar lalu menunggu diambil di kantor pos (AVAILABLE_FOR_PICKUP).")
@click.option("--cod-refusal-share", default=0.05, show_default=True, type=click.FloatRange(0, 1),
              help="Bagian kiriman COD yang biayanya ditolak warga (COD_NOT_PAID, lalu dikembalikan).")
@click.option("--old-card-refusal-share", default=0.04, show_default=True, type=click.FloatRange(0, 1),
              help="Bagian kiriman tarik-KTP-lama yang KTP lamanya tidak diserahkan (OLD_CARD_NOT_SURRENDERED).")
@click.option("--old-card-received-share", default=0.9, show_default=True, type=click.FloatRange(0, 1),
              help="Bagian KTP lama tertarik yang kedatangannya di Disdukcapil dilaporkan kurir (OLD_CARD_RECEIVED); "
                   "sisanya dicatat petugas.")
@click.option("--differences", "differences", default="all", show_default=True, metavar="JENIS",
              help="Selisih yang sengaja dibuat pada setoran COD: all, none, atau daftar dipisah koma dari "
                   f"{', '.join(DIFFERENCE_KINDS)}.")
def courier_sim_command(host: str, port: int, target: str | None, secret: str | None, token: str | None,
                        seconds_per_day: float, seed: int | None, start_at: str | None, pickup_share: float,
                        cod_refusal_share: float, old_card_refusal_share: float, old_card_received_share: float,
                        differences: str) -> None:
    load_dotenv(Path.cwd() / ".env", override=False)
    logging.basicConfig(level=logging.WARNING, handlers=[RichHandler(console=console, show_path=False)],
                        format="%(message)s", force=True)
    logging.getLogger("courier_sim").setLevel(logging.INFO)

    generated = False
    if secret is None:
        secret = _first_secret()
    if secret is None:
        secret, generated = generate_secret(), True
    token = token or os.environ.get("ANTAR_COURIER_API_TOKEN") or "sim-token"
    seed = secrets.randbelow(2**31) if seed is None else seed
    try:
        start = datetime.fromisoformat(start_at) if start_at else datetime.now(UTC) - timedelta(days=60)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start") from exc
    if seconds_per_day <= 0:
        raise click.BadParameter("must be positive", param_hint="--seconds-per-day")
    kinds = parse_differences(differences)

    sim = CourierSimulator(host=host, port=port, api_token=token, webhook_url=target, webhook_secret=secret,
                           seed=seed, start=start, keep_history=False, pickup_share=pickup_share,
                           cod_refusal_share=cod_refusal_share, old_card_refusal_share=old_card_refusal_share,
                           old_card_received_share=old_card_received_share, settlement_differences=kinds)
    try:
        sim.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    console.print(f"[bold]Simulator kurir[/bold] di {sim.url}  (ANTAR_COURIER_BASE_URL={sim.url})")
    console.print(f"  token bearer: {token}   benih: {seed}   1 hari = {seconds_per_day:g} detik")
    console.print(f"  webhook: {target or '[yellow]tidak ada --target: peristiwa hanya dicatat[/yellow]'}")
    console.print(f"  diambil di kantor pos {pickup_share:g}, COD ditolak {cod_refusal_share:g}, KTP lama ditahan "
                  f"{old_card_refusal_share:g}, KTP lama dilaporkan {old_card_received_share:g}; selisih setoran: "
                  f"{', '.join(kinds) or 'tidak ada'}")
    if generated:
        console.print(f"  rahasia webhook baru: [bold]{secret}[/bold]\n"
                      f"  (set ANTAR_COURIER_WEBHOOK_SECRETS={secret} di aplikasi)")
    console.print("  Ctrl-C untuk berhenti.")
    sim.run_clock(seconds_per_day)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        state = sim.state()
        console.print(f"Berhenti pada hari {state['day']}: {state['manifests']} manifes, {state['items']} kiriman, "
                      f"{state['events_posted']} peristiwa terkirim, {state['settlements']['sent']} setoran COD, "
                      f"{state['failed_messages']} pesan gagal.")
