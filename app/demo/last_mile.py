"""The demo's last mile: messages to citizens through the gateway simulator on each simulated day, the old cards
brought in and destroyed, and the COD settlements matched against what the simulator deliberately got wrong.

The simulated courier reports several times a day and the message job runs right after each report; every seventh
day the courier's reports of the afternoon reach us only at 21.30 WIB, so that the quiet hours hold those messages
until 07.00.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from rich.console import Console
from sqlalchemy import func, select

from app import db
from app.cards import Actor, Card
from app.dates import as_local
from app.db import unit_of_work
from app.filters import thousands
from app.models import Office
from courier_sim.server import CourierSimulator
from delivery import oldcards, settlements
from delivery.money_models import OldCard
from notify import service as notify_service
from notify.models import NotifyMessage
from notify.texts import KIND_LABELS, STATUS_LABELS, Kind, MessageStatus
from notify_sim.server import GatewaySimulator, generate_secret

console = Console()
DEMO_GATEWAY_TOKEN = "demo-gateway-token"
LATE_EVERY = 7  # every seventh simulated day the courier's messages reach us at 21.30 WIB
STAFF = Actor("demo:staf")

# What the simulator calls its deliberate differences, and what our matching must call them. A settlement sent
# twice is answered "duplicate" and makes no difference at all.
SIM_TO_OURS = {"missing": settlements.Kind.MISSING, "wrong_amount": settlements.Kind.WRONG_AMOUNT,
               "extra": settlements.Kind.EXTRA, "total_mismatch": settlements.Kind.TOTAL_MISMATCH}


@dataclass
class MessageDays:
    """What the message job did over the simulated days."""

    passes: int = 0
    late_days: int = 0
    made: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    held_overnight: int = 0


@contextmanager
def message_gateway(app_url: str, seed: int) -> Iterator[GatewaySimulator]:
    """The gateway simulator on loopback, posting its signed delivery reports to our application at `app_url`.
    Some numbers have no WhatsApp (sent again as SMS), some answers are a 503 or a 429 once (sent again later),
    some messages are reported failed."""
    app = current_app._get_current_object()
    secret = generate_secret()
    app.config["ANTAR_NOTIFY_WEBHOOK_SECRET"] = secret
    with GatewaySimulator(api_token=DEMO_GATEWAY_TOKEN, report_url=f"{app_url}/api/v1/notify/reports",
                          report_secret=secret, seed=seed, no_whatsapp_share=0.04, fail_once_share=0.01,
                          throttle_share=0.01, failed_share=0.01, read_share=0.6, report_delay=0.05) as gateway:
        app.config.update(ANTAR_NOTIFY_BASE_URL=gateway.url, ANTAR_NOTIFY_API_TOKEN=DEMO_GATEWAY_TOKEN)
        yield gateway


def _pass(at: dt.datetime, days: MessageDays) -> dict[str, Any]:
    """One run of the message job with Antar's clock at `at`."""
    with db.simulated_clock(at.astimezone(dt.UTC)):
        result = notify_service.run_pass(notify_service.Settings.from_config(current_app.config))
    days.passes += 1
    days.made.update(result["made"])
    days.sent.update({k: v for k, v in result["sent"].items() if k in {s.value for s in MessageStatus}
                      or k == "sms_fallback"})
    return result


# The courier reports through the working day, and the message job runs right after each report (WIB times). On a
# late day the whole day's reports reach us only at 21.30: the quiet hours hold those messages until 07.00.
TICKS = (dt.time(9, 0), dt.time(10, 30), dt.time(12, 0), dt.time(13, 0), dt.time(15, 0), dt.time(17, 30))
LATE_TICK, MORNING_PASS = dt.time(21, 30), dt.time(7, 5)
FIRST_LATE_DAY = 2  # the third day, when the first failed attempts and pick-ups are reported; then every week


def play_days(sim: CourierSimulator, days: MessageDays, max_days: int = 1000) -> None:
    """Play the courier's days to the end (as `play_all` does, but reporting several times a day), the message job
    running after each report."""
    first = sim.clock.date()
    for n in range(max_days):
        if sim.finished:
            return
        date = first + dt.timedelta(days=n)
        late = n % LATE_EVERY == FIRST_LATE_DAY
        days.late_days += late
        for t in (LATE_TICK,) if late else TICKS:
            at = dt.datetime.combine(date, t, sim.clock.tzinfo)
            if at <= sim.clock:
                continue
            sim.advance_by(at - sim.clock)
            made = _pass(at, days)["made"]
            if late:
                days.held_overnight += made.get(MessageStatus.QUEUED.value, 0)
                _pass(dt.datetime.combine(date + dt.timedelta(days=1), MORNING_PASS, sim.clock.tzinfo), days)
    raise RuntimeError(f"playback not finished after {max_days} simulated days")


def office_pass(days: MessageDays) -> dict[str, Any]:
    """The job on the office's own clock (the cards just handed to the courier: COD announcements)."""
    result = notify_service.run_pass(notify_service.Settings.from_config(current_app.config))
    days.passes += 1
    days.made.update(result["made"])
    return result


def final_pass(days: MessageDays) -> dict[str, Any]:
    """The job at the demo's end, on the real clock: the cards that reached their kelurahan since."""
    return _pass(dt.datetime.now(dt.UTC), days)


def message_summary(days: MessageDays, gateway: GatewaySimulator) -> None:
    with unit_of_work() as session:
        by_kind_status = session.execute(select(NotifyMessage.kind, NotifyMessage.status, func.count())
                                         .group_by(NotifyMessage.kind, NotifyMessage.status)).all()
        skipped = session.execute(select(NotifyMessage.error, func.count())
                                  .where(NotifyMessage.status == MessageStatus.SKIPPED.value)
                                  .group_by(NotifyMessage.error)).all()
        sms = session.scalar(select(func.count()).select_from(NotifyMessage)
                             .where(NotifyMessage.channel == "sms")) or 0
    per_kind: dict[str, Counter[str]] = {}
    for kind, status, n in by_kind_status:
        per_kind.setdefault(kind, Counter())[status] += n
    for kind in Kind:
        c = per_kind.get(kind.value, Counter())
        if not c:
            continue
        console.print(f"  {KIND_LABELS[kind]}: {thousands(sum(c.values()))} pesan ("
                      + ", ".join(f"{STATUS_LABELS[MessageStatus(s)].lower()} {thousands(n)}"
                                  for s, n in c.most_common()) + ")")
    for reason, n in sorted(skipped, key=lambda r: -r[2 - 1]):
        console.print(f"  [dim]{reason}: {thousands(n)}[/dim]")
    state = gateway.state()
    console.print(f"  Job pesan berjalan {days.passes} kali; {days.late_days} hari kabar kurir baru tiba 21.30 WIB: "
                  f"{thousands(days.held_overnight)} pesan ditahan sampai 07.00 (jam tenang 21.00-07.00). "
                  f"Gateway menerima {thousands(state['messages'])} pesan dalam {thousands(state['requests'])} "
                  f"permintaan (jawaban {dict(sorted(state['answers'].items()))}); {thousands(sms)} lewat SMS karena "
                  f"nomornya tanpa WhatsApp; laporan status: {dict(sorted(state['reports_posted'].items()))}.")


@dataclass(frozen=True)
class OldCardsDone:
    registered: int
    by_courier: int
    by_hand: int
    in_transit: int
    destroyed: int
    waiting: int
    document: Path | None


def _register(session: Any, office: Office, *, received: bool) -> list[str]:
    """Blanko numbers of the new cards whose old card is on its way (or received, not yet destroyed), in order."""
    state = OldCard.received_at.is_not(None) if received else OldCard.received_at.is_(None)
    return list(session.scalars(select(Card.nomor_blanko).join(OldCard, OldCard.card_id == Card.id).where(
        OldCard.office_id == office.id, OldCard.destroyed_at.is_(None), state).order_by(OldCard.collected_at,
                                                                                         OldCard.id)))


def old_cards_step(office_code: str, work: Path) -> OldCardsDone:
    """The old cards reach the office: the courier reports most of them (OLD_CARD_RECEIVED); a clerk records the
    rest by hand, but for the last few, still on their way. Received ones are destroyed with a witness and a
    Berita Acara Pemusnahan, but for those that came in after it (they wait for the next one)."""
    with unit_of_work() as session:
        office = session.scalar(select(Office).where(Office.code == office_code))
        synced = oldcards.sync_old_cards(session, office)
        unreceived = _register(session, office, received=False)
        still_on_the_way = unreceived[-2:] if len(unreceived) > 4 else []
        by_hand = [b for b in unreceived if b not in still_on_the_way]
        if by_hand:
            oldcards.receive_old_cards(session, office, by_hand, STAFF, received_by="Petugas arsip (demo)")
        received = _register(session, office, received=True)
        keep = received[-3:] if len(received) > 6 else []
        chosen = [b for b in received if b not in keep]
        document = None
        destroyed = 0
        if chosen:
            d = oldcards.destroy_old_cards(session, office, STAFF, witness_name="Drs. Saksi Demo",
                                           witness_position="Kepala Seksi Pengelolaan Informasi Administrasi",
                                           place="Kantor Disdukcapil", blankos=chosen)
            destroyed, number, destruction_id = d.card_count, d.number, d.id
    if chosen:
        with unit_of_work() as session:
            office = session.scalar(select(Office).where(Office.code == office_code))
            pdf = oldcards.destruction_pdf(oldcards.destruction_document(session, office, destruction_id))
        document = work / f"berita-acara-pemusnahan-{number.replace('/', '-')}.pdf"
        document.write_bytes(pdf)
    return OldCardsDone(synced.registered, synced.received, len(by_hand), len(still_on_the_way), destroyed,
                        len(keep), document)


@dataclass(frozen=True)
class SettlementCheck:
    planted: list[dict[str, Any]]
    found: list[settlements.Difference]
    unmatched_planted: list[dict[str, Any]]
    unexpected: list[settlements.Difference]
    duplicate_answers: list[list[str]]

    @property
    def exact(self) -> bool:
        return (not self.unmatched_planted and not self.unexpected
                and all(a[:1] == ["recorded"] and set(a[1:]) == {"duplicate"} for a in self.duplicate_answers))


def check_settlements(office_code: str, sim: CourierSimulator) -> SettlementCheck:
    """Our differences against the simulator's deliberate ones: each planted one found, and nothing else."""
    planted = sim.differences
    with unit_of_work() as session:
        office = session.scalar(select(Office).where(Office.code == office_code))
        found = settlements.differences(session, office, as_local(db.utcnow()).date())
    remaining = list(found)
    unmatched = []
    for p in planted:
        kind = SIM_TO_OURS.get(p["kind"])
        if kind is None:
            continue
        hit = next((d for d in remaining if d.kind is kind and (
            d.settlement_id == p["settlement_id"] if kind is settlements.Kind.TOTAL_MISMATCH
            else d.tracking_number == p["tracking_number"])), None)
        if hit is None:
            unmatched.append(p)
        else:
            remaining.remove(hit)
    duplicates = [list(p.get("answers", [])) for p in planted if p["kind"] == "duplicate"]
    return SettlementCheck(planted, found, unmatched, remaining, duplicates)


def print_settlements(check: SettlementCheck) -> None:
    for p in check.planted:
        if p["kind"] == "duplicate":
            console.print(f"  [dim]{p['settlement_id']} dikirim dua kali: jawaban kita {p.get('answers')}[/dim]")
    for d in check.found:
        console.print(f"  [dim]{d.label}: {d.settlement_id or d.tracking_number} - {d.detail}[/dim]")
    verdict = ("[green]setiap selisih yang sengaja dibuat kurir ditemukan, tidak ada yang lain[/green]"
               if check.exact else f"[red]tidak cocok: tidak ditemukan {check.unmatched_planted}, "
                                   f"tak terduga {[d.key for d in check.unexpected]}[/red]")
    console.print(f"  Selisih setoran COD: {len(check.found)} ditemukan, {len(check.planted)} dibuat simulator: "
                  f"{verdict}")


def print_money(data: dict[str, Any]) -> None:
    """The reconciliation's COD and old-card sections on the terminal."""
    cod, old = data.get("cod") or {}, data.get("old_cards") or {}

    def rp(n: int) -> str:
        return "Rp " + thousands(n)

    if cod:
        console.print(f"[bold]Uang COD[/bold]: {thousands(cod['delivered_items'])} kiriman COD terkirim; "
                      f"seharusnya {rp(cod['expected'])}, dipungut {rp(cod['collected'])}; "
                      f"{cod['settlements']} setoran ({thousands(cod['settlement_lines'])} baris), dinyatakan "
                      f"{rp(cod['declared'])}, rinciannya {rp(cod['remitted'])} = cocok {rp(cod['remitted_matched'])} "
                      f"+ tanpa pengantaran {rp(cod['remitted_extra'])}; belum disetor {rp(cod['outstanding'])}, "
                      f"hilang {rp(cod['missing'])}, selisih jumlah {rp(cod['amount_differences'])}.")
        _print_checks(cod["checks"])
    if old:
        console.print(f"[bold]KTP lama[/bold]: {thousands(old['required'])} wajib ditarik, "
                      f"{thousands(old['required_collected'])} ditarik + {thousands(old['not_surrendered'])} tidak "
                      f"dilaporkan kurir; {thousands(old['collected'])} di tangan kurir/kantor = "
                      f"{thousands(old['in_transit'])} dalam perjalanan + {thousands(old['received'])} diterima; "
                      f"diterima = {thousands(old['awaiting_destruction'])} menunggu pemusnahan + "
                      f"{thousands(old['destroyed'])} dimusnahkan ({old['destructions']} berita acara).")
        _print_checks(old["checks"])


def _print_checks(checks: dict[str, bool]) -> None:
    for name, ok in checks.items():
        console.print(f"  {name}: " + ("[green]sesuai[/green]" if ok else "[red]TIDAK SESUAI[/red]"))
