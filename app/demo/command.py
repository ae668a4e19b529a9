"""`antar demo`: a realistic print run taken through every step that exists, ending in the report.

It works on its own database (a fresh SQLite file in the instance folder unless --database-url is
given) so that a demo never mixes with an office's real data.
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import ExitStack
from pathlib import Path

import click
from flask import Flask, current_app
from rich.console import Console
from rich.markup import escape
from sqlalchemy import func, select

from address.geocode import load_geo_file
from app import create_app, db, migrate
from app.cards import Actor, Card, CardHistory, CardState
from app.cli_util import print_report
from app.courier.tracking import REASON_LABELS
from app.db import unit_of_work
from app.demo import last_mile
from app.demo.courier_world import courier_world, served_app
from app.demo.returns_step import run_returns
from app.demo.synthetic import generate_print_run
from app.filters import thousands
from app.models import Role
from app.offices import ensure_office
from app.regions import office_regions
from app.report import reconciliation
from app.users import create_user
from delivery.models import RejectedEvent, TrackingEvent
from manifests import handover, sorting
from manifests import service as manifests_service
from manifests.intake.cli import run_import
from manifests.models import Manifest, ManifestStatus
from manifests.service import TrackingRange

console = Console()
DEMO_PASSWORD = "antar-demo"
COD_SHARE, COD_FEE = 0.03, 20_000


def _demo_app(database_url: str | None) -> tuple[Flask, Path]:
    instance = Path(current_app.instance_path)
    work = instance / "demo"
    work.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        db_file = work / "antar-demo.sqlite"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite:///{db_file}"
    # One process plays the office, the courier's webhooks and the gateway's reports at once: on SQLite's one writer
    # a write may wait longer than an office's interactive 5 s.
    return create_app({"DATABASE_URL": database_url, "ANTAR_OFFICE": current_app.config["ANTAR_OFFICE"],
                       "ANTAR_SQLITE_BUSY_SECONDS": 60}), work


def _today_morning() -> dt.datetime:
    """12.00 WIB today: the simulated courier's days start at a fixed hour, so that the same seed gives the same run
    whatever the time of day the demo is started (its days still lie in the past: events are never from the future)."""
    from app.dates import WIB

    return dt.datetime.combine(dt.datetime.now(WIB).date(), dt.time(12, 0), WIB)


def _step(title: str) -> float:
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def _done(t0: float, text: str) -> None:
    console.print(f"{text} [dim]({time.perf_counter() - t0:.1f} d)[/dim]")


@click.command("demo", help="Jalankan seluruh alur pada data sintetis yang realistis dan cetak laporannya.")
@click.option("--cards", default=10_000, show_default=True, help="Jumlah kartu dicetak (132289 = run Bekasi).")
@click.option("--seed", default=4, show_default=True, help="Benih acak, agar hasil dapat diulang.")
@click.option("--database-url", default=None, help="Basis data demo (bawaan: SQLite baru di folder instance).")
@click.option("--office", "office_code", default=None, help="Kode kabupaten/kota (bawaan: ANTAR_OFFICE).")
@click.option("--geo", "geo_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Berkas titik tengah/batas wilayah (CSV kode,lat,lng atau GeoJSON) untuk lokasi kartu.")
def demo_command(cards: int, seed: int, database_url: str | None, office_code: str | None,
                 geo_file: str | None) -> None:
    from flask.cli import ScriptInfo

    outer = click.get_current_context().ensure_object(ScriptInfo).load_app()
    with outer.app_context():
        app, work = _demo_app(database_url)
    if office_code:
        app.config["ANTAR_OFFICE"] = office_code
    with app.app_context():
        balanced = run_demo(cards, seed, work, geo_file)
    if not balanced:
        raise SystemExit(3)


def run_demo(cards: int, seed: int, work: Path, geo_file: str | None = None) -> bool:
    code = current_app.config["ANTAR_OFFICE"]
    t0 = _step("1. Basis data")
    migrate.upgrade(db.engine())
    with unit_of_work() as session:
        office = ensure_office(session, code)
        create_user(session, "staf", DEMO_PASSWORD, Role.STAFF, office_code=code, full_name="Staf Demo")
        office_name = office.name
    _done(t0, f"Skema terpasang di {db.engine().url.render_as_string(hide_password=True)}; "
              f"akun 'staf' (kata sandi '{DEMO_PASSWORD}') untuk {office_name}.")

    if geo_file:
        with unit_of_work() as session:
            loaded = load_geo_file(session, geo_file, only=(code,))
        console.print(f"Geometri wilayah: {loaded.rows} wilayah dimuat dari {geo_file}.")

    t0 = _step("2. Berkas cetakan sintetis")
    path = work / f"cetakan-{code}-{cards}-{seed}.csv"
    # Seed 004: of the 131,651 cards left after sorting, 130,402 were entered for delivery; the other
    # 1,249 are the share held back, which the demo plays as addresses no clerk could place.
    # 3% replacement cards (changed data, a damaged card) go cash on delivery, Rp 20,000, the old card surrendered.
    run = generate_print_run(path, office_code=code, cards=cards, seed=seed, unclear_share=1249 / 132289,
                             cod_share=COD_SHARE, cod_fee=COD_FEE)
    _done(t0, f"{path}: {thousands(run.cards)} kartu + {run.bad_rows} baris rusak; "
              f"direncanakan {run.duplicate_prints} cetak "
              f"ganda, {len(run.damaged_blanko)} rusak, {run.withdrawn_cards} di wilayah yang ditarik; "
              f"{thousands(run.cod_cards)} kartu pengganti dikirim COD (Rp {thousands(COD_FEE)}).")

    # The office's work before the courier's (intake, sorting, manifests, handover) happens on the demo's clock two
    # days before the courier's first simulated day, so that every card's changes lie in order in time.
    start = _today_morning() - dt.timedelta(days=60)
    office_clock = ExitStack()
    office_clock.enter_context(db.simulated_clock(start - dt.timedelta(days=2)))
    t0 = _step("3. Impor print run")
    result = run_import(str(path), code)
    _done(t0, f"{thousands(result.cards_imported)} kartu diimpor, {result.duplicates} cetak ganda, "
              f"{result.rows_rejected} baris ditolak, {result.unclear} alamat belum jelas (direncanakan "
              f"{run.unclear_addresses} yang memang tidak dapat ditempatkan).")
    for r in result.rejected[:5]:
        console.print(f"  [dim]baris {r.line}: {escape(f'[{r.field}]')} {escape(r.reason)}[/dim]")

    t0 = _step("4. Penyortiran: kartu rusak dan wilayah ditarik")
    sorter = Actor("demo:penyortir")
    with unit_of_work() as session:
        office = ensure_office(session, code)
        damaged = sorting.mark_damaged(session, office, run.damaged_blanko, sorter, "ditemukan rusak saat penyortiran")
        _, moved = sorting.withdraw_area(session, office, run.withdrawn_kelurahan, [],
                                         "terdampak penggusuran proyek LRT", sorter)
    kel = office_regions(code).kelurahan[run.withdrawn_kelurahan]
    _done(t0, f"{len(damaged)} kartu rusak; {moved} kartu {kel.label} ditarik.")

    t0 = _step("5. Manifest kurir: susun, kunci (nomor resi), serahkan ke PT Pos (simulator)")
    with unit_of_work() as session:
        made = manifests_service.build_manifests(
            session, ensure_office(session, code), Actor("demo:staf"), finalize=True,
            tracking=TrackingRange.from_config(current_app.config), cap=current_app.config["ANTAR_MANIFEST_MAX_ITEMS"])
        manifest_ids = [m.id for m in made]
        on_manifests = sum(m.item_count for m in made)
    # Our webhook endpoint, served over real HTTP on loopback; the simulator posts signed events to it. Its
    # clock starts 60 days back so that the simulated weeks of delivery lie in the past.
    # The message gateway (simulated) and our application serving its delivery reports, until the demo's end.
    messaging = ExitStack()
    gateway = messaging.enter_context(last_mile.message_gateway(messaging.enter_context(served_app()), seed))
    with courier_world(seed, start) as world:
        sim = world.sim
        sim.fail_next("503", 1)  # the courier hiccups once: the client retries, still one manifest there
        answers = [handover.hand_over(code, mid, Actor("demo:staf"), world.client) for mid in manifest_ids]
        at_courier = len(sim.manifests)
        handed = sum(1 for a in answers if a.answer.ok)
        message_days = last_mile.MessageDays()
        last_mile.office_pass(message_days)  # COD cards handed over: their holders are told the fee and the old card
        office_clock.close()  # the courier's events arrive now, as the simulator posts them
        _done(t0, f"{len(made)} manifest ({thousands(on_manifests)} kartu) dibuat dan dikunci; {handed} "
                  f"diserahkan, {at_courier} tercatat di kurir (percobaan pertama dijawab 503, diulang otomatis).")

        t0 = _step("6. Pengantaran: event pelacakan PT Pos lewat webhook bertanda tangan; pesan ke warga")
        last_mile.play_days(sim, message_days)
        lost = len(sim.failed_messages)
        posted, messages = sim.events_posted, sim.messages_sent
        sim_state = sim.state()
        settlement_check = last_mile.check_settlements(code, sim)
    with unit_of_work() as session:
        office = ensure_office(session, code)
        results = dict(session.execute(select(TrackingEvent.result, func.count()).group_by(TrackingEvent.result)).all())
        rejected = session.scalar(select(func.count()).select_from(RejectedEvent))
        closed = session.scalar(select(func.count()).select_from(Manifest).where(
            Manifest.office_id == office.id, Manifest.status == ManifestStatus.CLOSED))
        reasons = dict(session.execute(select(Card.return_reason, func.count()).where(
            Card.office_id == office.id, Card.state == CardState.RETURNED).group_by(Card.return_reason)).all())
    stored = sum(results.values())
    _done(t0, f"{thousands(posted)} event dalam {thousands(messages)} pesan diterima lewat HTTP: "
              f"{thousands(stored)} event unik disimpan ({thousands(results.get('stale', 0))} terlambat/usang, "
              f"{thousands(posted - stored - rejected)} duplikat diabaikan, {rejected} ditolak); "
              f"{closed} dari {len(made)} manifest selesai; pesan gagal: {lost}.")
    if reasons:
        console.print("  Dikembalikan: " + ", ".join(
            f"{REASON_LABELS.get(r, r)} {thousands(n)}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])))

    t0 = _step("6b. Jemput di kantor pos, COD dan KTP lama")
    with unit_of_work() as session:
        office = ensure_office(session, code)
        at_post_office = session.scalar(select(func.count()).select_from(CardHistory).where(
            CardHistory.to_state == CardState.AT_POST_OFFICE)) or 0
    pickups, cod, old = sim_state["pickups"], sim_state["cod"], sim_state["old_cards"]
    console.print(f"  Disimpan di kantor pos untuk diambil: {thousands(at_post_office)} kartu "
                  f"(kurir: {thousands(pickups['collected'])} diambil warga, {thousands(pickups['unclaimed'])} tidak "
                  f"diambil dan kembali, {thousands(pickups['waiting'])} masih menunggu).")
    console.print(f"  COD: {thousands(cod['items'])} kiriman; {thousands(cod['paid'])} dibayar "
                  f"(Rp {thousands(cod['collected'])}), {thousands(cod['refused'])} ditolak bayar dan kembali "
                  f"({thousands(cod['failed_attempts'])} percobaan gagal karena belum bayar).")
    console.print(f"  KTP lama: {thousands(old['items'])} wajib ditarik; {thousands(old['surrendered'])} diserahkan, "
                  f"{thousands(old['not_surrendered'])} tidak diserahkan (kartu baru kembali).")
    old_done = last_mile.old_cards_step(code, work)
    _done(t0, f"KTP lama: {thousands(old_done.registered)} tercatat, {thousands(old_done.by_courier)} diterima "
              f"menurut kurir, {thousands(old_done.by_hand)} dicatat petugas, {old_done.in_transit} masih di jalan; "
              f"{thousands(old_done.destroyed)} dimusnahkan"
              + (f" (berita acara {old_done.document})" if old_done.document else "")
              + f", {old_done.waiting} menunggu pemusnahan berikutnya.")
    last_mile.print_settlements(settlement_check)

    late_withdrawn = run_returns(code, seed, _step, _done, courier_world,
                                 resend_start=_today_morning() - dt.timedelta(days=8),
                                 after_receipts=lambda: last_mile.office_pass(message_days))

    t0 = _step("11. Pesan ke warga (WhatsApp/SMS lewat gateway)")
    last_mile.final_pass(message_days)
    last_mile.message_summary(message_days, gateway)
    messaging.close()
    _done(t0, "Setiap pesan dan hasilnya tercatat di /pesan.")

    _step("Laporan rekonsiliasi")
    with unit_of_work() as session:
        data = reconciliation(session, ensure_office(session, code))
    print_report(data)
    last_mile.print_money(data)
    with unit_of_work() as session:
        ever_withdrawn = session.scalar(select(func.count(func.distinct(CardHistory.card_id))).where(
            CardHistory.to_state == CardState.WITHDRAWN))
    expected = {"cetak ganda": (data["by_state"]["DUPLICATE"], run.duplicate_prints),
                "rusak": (data["by_state"]["DAMAGED"], len(run.damaged_blanko)),
                "ditarik (penyortiran + tahap 2)": (ever_withdrawn, run.withdrawn_cards + late_withdrawn),
                "ditolak": (data["rejected_rows"], run.bad_rows),
                "dicetak": (data["printed"], run.cards)}
    for name, (got, want) in expected.items():
        mark = "[green]sesuai[/green]" if got == want else f"[red]berbeda dari rencana {want}[/red]"
        console.print(f"  {name}: {thousands(got)} {mark}")
    filled = [s for s, n in data["by_state"].items() if n]
    console.print(f"  status yang terisi: {len(filled)} dari {len(data['by_state'])}"
                  + ("" if len(filled) == len(data["by_state"]) else " (yang kosong: " + ", ".join(
                      data["state_labels"][s] for s in data["by_state"] if s not in filled) + ")"))
    console.print(f"Jalankan `antar serve` dengan DATABASE_URL={db.engine().url} untuk melihat halamannya.")
    money_ok = all(data[k].get("balanced", True) for k in ("cod", "old_cards"))
    return (data["balanced"] and money_ok and settlement_check.exact
            and all(got == want for got, want in expected.values()))
