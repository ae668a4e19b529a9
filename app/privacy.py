"""Personal data (UU PDP 27/2022, Pelindungan Data Pribadi): who saw full NIKs, what every export holds, and the
removal of personal data from cards whose journey ended long ago.

- Masking: pages show the NIK masked (`app.filters.mask_nik`, the `nik_samar` filter) unless the task needs it
  whole. Two pages do: the rejected rows of a print run (staff correct them in SIAK) and the list of deceased holders
  (the civil registry updates its register); they and their CSV downloads call `record_access`, and staff read that
  log at /akses-data (`antar privacy access-log` on the terminal).
- Exports: every download that is an attachment gets the header `X-Antar-Personal-Data` when Antar knows what it
  holds: a CSV from its own header row (app.spreadsheet.personal_data_of), any download from what `record_access`
  said. PDFs and XLSX files say it inside (app.pdf.NumberedCanvas, app.spreadsheet.personal_data_sheet).
- Purge (`antar purge --closed-before DATE`): the names, NIKs, birth data, addresses and phone numbers of cards that
  reached a final state before DATE are removed, here and in every domain's tables (each registers what it keeps
  with `register_purge` in its init_app: the kernel imports no domain). What the reconciliation counts (state, area
  code, print run, return reason, handover outcome) stays, so `antar report` gives the same numbers after; the
  card's history stays too, with the removed texts taken out of its reasons.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import click
from flask import Blueprint, Flask, g, render_template, request
from flask.cli import with_appcontext
from flask_login import current_user
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth import current_office, roles_required
from app.cards import STATE_LABELS, Card, CardState, redact_history, set_card_values
from app.cli_util import cli_actor, load_office, office_option
from app.dates import WIB, wib_text
from app.db import unit_of_work, update_by_id, utcnow
from app.models import AccessLog, Role
from app.spreadsheet import PERSONAL_DATA_HEADER, personal_data_header, personal_data_of
from app.web import add_menu, page_arg, paginate

bp = Blueprint("privacy", __name__)
STAFF = (Role.ADMIN, Role.STAFF)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_personal_data_header)
    add_menu(app, "privacy.access_log_page", "Akses data", STAFF, 97)


# --- who opened full NIKs ---------------------------------------------------------------------------------------


def record_access(session: Session, what: str, records: int | None = None, *,
                  holds: Iterable[str] = ("nik",)) -> None:
    """Record that the logged-in user opened a page or export showing full NIKs (`what`, for people; `records`: how
    many people's data it held), in the same unit of work as the page's reading. `holds` (tokens of
    app.spreadsheet.PERSONAL_DATA) goes into the download's `X-Antar-Personal-Data` header."""
    office_id = current_user.office_id if current_user.office_id is not None else current_office(session).id
    session.add(AccessLog(
        at=utcnow(), office_id=office_id, user_id=current_user.id, username=current_user.username[:80],
        what=what[:200], path=request.path[:300], ip=(request.remote_addr or None) and request.remote_addr[:45],
        records=records))
    g.antar_personal_data = set(g.get("antar_personal_data", ())) | set(holds)


def access_log_query(office_id: int) -> Any:
    """The office's access log, newest first."""
    return (select(AccessLog.at, AccessLog.username, AccessLog.what, AccessLog.path, AccessLog.ip, AccessLog.records)
            .where(AccessLog.office_id == office_id).order_by(AccessLog.at.desc(), AccessLog.id.desc()))


@bp.route("/akses-data")
@roles_required(*STAFF)
def access_log_page() -> Any:
    number = page_arg()
    with unit_of_work() as session:
        page = paginate(session, access_log_query(current_office(session).id), number)
    g.page_title = "Akses data pribadi"
    return render_template("access_log.html", page=page)


def _personal_data_header(response: Any) -> Any:
    """`X-Antar-Personal-Data` on downloads: what `record_access` declared, and for a CSV what its columns hold
    ("none" when nothing). A CSV cannot say it inside without breaking the programs that read it."""
    if PERSONAL_DATA_HEADER in response.headers or "attachment" not in response.headers.get("Content-Disposition", ""):
        return response
    kinds = set(g.get("antar_personal_data", ()))
    is_csv = response.mimetype == "text/csv" and not response.is_streamed and not response.direct_passthrough
    if is_csv:
        kinds |= set(personal_data_of(_csv_columns(response.get_data())))
    if is_csv or kinds:
        response.headers[PERSONAL_DATA_HEADER] = personal_data_header(kinds)
    return response


def _csv_columns(data: bytes) -> list[str]:
    first = data[:4096].decode("utf-8-sig", errors="replace").split("\n", 1)[0]
    return next(csv.reader([first], delimiter=";" if first.count(";") > first.count(",") else ","), [])


# --- purge ------------------------------------------------------------------------------------------------------

# Final states: nothing moves a card out of them but a staff correction (app/cards.py TRANSITIONS). A card reported
# missing is not among them: if it turns up, whose it is must still be known.
CLOSED_STATES: frozenset[CardState] = frozenset({
    CardState.DELIVERED, CardState.HANDED_TO_HOLDER, CardState.HOLDER_DECEASED, CardState.NOT_COLLECTED,
    CardState.DAMAGED, CardState.DUPLICATE})
REMOVED = "[dihapus]"
# The schema needs a birth date and a sex on every card: these stand for "removed".
REMOVED_BIRTH_DATE = dt.date(1900, 1, 1)
# What a purged card keeps: its blanko number, print run and line, office, state and its time, kelurahan code and the
# area as the file named it (kelurahan, kecamatan, kode pos: thousands of people each), return reason, duplicate
# link. The NIK becomes empty, which also marks the card as purged.
CARD_VALUES: dict[str, Any] = {
    "nik": "", "nama": REMOVED, "tempat_lahir": "", "tanggal_lahir": REMOVED_BIRTH_DATE, "jenis_kelamin": "-",
    "alamat": REMOVED, "street": None, "rt": None, "rw": None, "no_kk": None, "no_kk_hash": None, "no_hp": None,
    "lat": None, "lng": None, "geo_precision": None}
# Texts of the card taken out of its history reasons (the birth place is not: it is mostly the kabupaten's name).
_TEXT_COLUMNS = ("nik", "nama", "alamat", "street", "no_hp", "no_kk")
CHUNK = 1000
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")


@dataclass
class Purge:
    """One purge run: what it removed, and per card the texts to take out of the card's history."""

    office_id: int
    before: dt.datetime
    cards: int = 0
    history_rows: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # rows cleared per table of the domains
    texts: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))

    def forget(self, card_id: int, *values: Any) -> None:
        """Texts that were personal data of this card (a JSON object: each of its texts)."""
        for value in values:
            if not isinstance(value, str) or not value.strip():
                continue
            value = value.strip()
            if value.startswith("{"):
                try:
                    self.forget(card_id, *json.loads(value).values())
                    continue
                except (ValueError, AttributeError):
                    pass
            if len(value) >= 3:
                self.texts[card_id].add(value)

    def count(self, table: str, n: int) -> None:
        self.rows[table] = self.rows.get(table, 0) + n


# A domain's part of a purge: clear its personal columns for these cards (ids), telling `Purge.forget` the texts.
PurgeHook = Callable[[Session, Sequence[int], Purge], None]
_HOOKS: dict[str, PurgeHook] = {}


def register_purge(name: str, hook: PurgeHook) -> None:
    _HOOKS[name] = hook


def clear_columns(model: Any, card_id: Any, values: Mapping[str, Any], *, join: tuple | None = None) -> PurgeHook:
    """A hook that sets `values` on the rows of `model` belonging to the purged cards. `card_id` is the column that
    holds the card's id, on `model` or on a table joined by `join` (e.g. `(ManifestItem, ManifestItem.id ==
    TrackingEvent.item_id)`)."""
    table = model.__table__

    def hook(session: Session, card_ids: Sequence[int], purge: Purge) -> None:
        query = select(table.c.id, card_id, *(table.c[c] for c in values))
        if join is not None:
            query = query.join(*join)
        rows = session.execute(query.where(card_id.in_(card_ids))).all()
        for row in rows:
            purge.forget(row[1], *row[2:])
        ids = [row[0] for row in rows]
        for part in _chunks(ids, CHUNK):
            session.execute(update(table).where(table.c.id.in_(part)).values(dict(values)))
        purge.count(table.name, len(ids))

    return hook


def courier_bodies(message_model: Any, event_model: Any, item_model: Any) -> PurgeHook:
    """A hook that takes the recipient's name, the proof links and the delivery point out of the courier's webhook
    bodies as stored (contract section 3), for the events of the purged cards' items."""
    messages, events, items = message_model.__table__, event_model.__table__, item_model.__table__

    def hook(session: Session, card_ids: Sequence[int], purge: Purge) -> None:
        numbers: dict[int, set[str]] = defaultdict(set)
        for message_id, number in session.execute(
                select(events.c.message_id, events.c.tracking_number).join(items, items.c.id == events.c.item_id)
                .where(items.c.card_id.in_(card_ids))):
            numbers[message_id].add(number)
        changed = []
        for part in _chunks(sorted(numbers), CHUNK):
            for message_id, body in session.execute(select(messages.c.id, messages.c.body)
                                                    .where(messages.c.id.in_(part))):
                new = redact_courier_body(body, numbers[message_id])
                if new != body:
                    changed.append({"id": message_id, "body": new})
        update_by_id(session, message_model, changed)
        purge.count(messages.name, len(changed))

    return hook


def redact_courier_body(body: str, tracking_numbers: set[str]) -> str:
    """A tracking webhook body with the personal data of these items' events removed (the rest as it was)."""
    try:
        doc = json.loads(body)
        events = doc["data"]["events"]
    except (ValueError, KeyError, TypeError):
        return body
    touched = False
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict) or event.get("tracking_number") not in tracking_numbers:
            continue
        if isinstance(event.get("recipient"), dict) and event["recipient"].get("name") is not None:
            event["recipient"]["name"], touched = None, True
        if event.get("proof") is not None:
            event["proof"], touched = None, True
        location = event.get("location")
        if isinstance(location, dict) and (location.get("lat") is not None or location.get("lng") is not None):
            location["lat"], location["lng"], touched = None, None, True
    return json.dumps(doc, ensure_ascii=False) if touched else body


def closed_cards(office_id: int, before: dt.datetime) -> Any:
    """The office's cards in a final state since before `before` that still hold personal data."""
    return select(Card.id).where(Card.office_id == office_id, Card.state.in_(CLOSED_STATES),
                                 Card.state_changed_at < before, Card.nik != "")


def purge_preview(session: Session, office_id: int, before: dt.datetime) -> dict[str, int]:
    """How many cards a purge would clear, per state."""
    ids = closed_cards(office_id, before).subquery()
    return {state.value: n for state, n in session.execute(
        select(Card.state, func.count()).where(Card.id.in_(select(ids.c.id))).group_by(Card.state))}


def purge_closed(session: Session, office_id: int, before: dt.datetime, *, who: str,
                 user_id: int | None = None, command: str = "antar purge") -> Purge:
    """Remove the personal data of the office's cards closed before `before`, in every domain's tables, and take it
    out of their history; record the run (who, when, how many) in the access log."""
    purge = Purge(office_id, before)
    ids = list(session.scalars(closed_cards(office_id, before).order_by(Card.id)))
    for chunk in _chunks(ids, CHUNK):
        for row in session.execute(select(Card.id, *(getattr(Card, c) for c in _TEXT_COLUMNS))
                                   .where(Card.id.in_(chunk))):
            purge.forget(row[0], *row[1:])
        for hook in _HOOKS.values():
            hook(session, chunk, purge)
        purge.history_rows += _scrub_history(session, chunk, purge)
        set_card_values(session, [{"id": card_id, **CARD_VALUES} for card_id in chunk])
        purge.cards += len(chunk)
        purge.texts.clear()
    session.add(AccessLog(
        at=utcnow(), office_id=office_id, user_id=user_id, username=who[:80], ip=None, records=purge.cards,
        what=f"Penghapusan data pribadi: {purge.cards} kartu selesai sebelum {wib_text(before)}"[:200],
        path=command[:300]))
    return purge


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` (whole words, any case) and every 16-digit number replaced by "[dihapus]"."""
    words = sorted({s for s in secrets if s}, key=len, reverse=True)
    if words:
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
        text = pattern.sub(REMOVED, text)
    return _SIXTEEN_DIGITS.sub(REMOVED, text)


def _scrub_history(session: Session, card_ids: Sequence[int], purge: Purge) -> int:
    """The purged texts taken out of the cards' history reasons (through the card's one writer)."""
    return redact_history(session, card_ids, lambda card_id, reason: redact(reason, purge.texts.get(card_id, ())))


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def day_start(day: dt.date) -> dt.datetime:
    """00.00 WIB of `day`, the moment a `--closed-before DATE` means."""
    return dt.datetime.combine(day, dt.time(0), WIB)


# --- commands ---------------------------------------------------------------------------------------------------

console = Console()


@click.command("purge", help="Hapus data pribadi (nama, NIK, lahir, alamat, HP) kartu yang selesai sebelum TANGGAL. "
                             "Tanpa --yes hanya menghitung. Jumlah di laporan rekonsiliasi tidak berubah.")
@click.option("--closed-before", "closed_before", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="Kartu yang mencapai status akhir sebelum tanggal ini (TTTT-BB-HH, 00.00 WIB).")
@office_option
@click.option("--yes", is_flag=True, help="Benar-benar hapus (tanpa ini: hanya menghitung).")
@with_appcontext
def purge_command(closed_before: dt.datetime, office_code: str | None, yes: bool) -> None:
    before = day_start(closed_before.date())
    with unit_of_work() as session:
        office = load_office(session, office_code)
        office_id, name = office.id, office.name
        preview = purge_preview(session, office_id, before)
    total = sum(preview.values())
    labels = "; ".join(f"{STATE_LABELS[CardState(s)]}: {n}" for s, n in sorted(preview.items())) or "-"
    console.print(f"{total} kartu {name} selesai sebelum {closed_before:%d-%m-%Y} masih menyimpan data pribadi "
                  f"({labels}).")
    if not yes:
        console.print("Belum ada yang dihapus. Jalankan lagi dengan --yes untuk menghapus.")
        return
    who = cli_actor().label
    with unit_of_work() as session:
        purge = purge_closed(session, office_id, before, who=who,
                             command=f"antar purge --closed-before {closed_before:%Y-%m-%d}")
    tables = ", ".join(f"{t} {n}" for t, n in purge.rows.items()) or "-"
    console.print(f"Data pribadi {purge.cards} kartu dihapus; baris terkait dibersihkan: {tables}; riwayat kartu: "
                  f"{purge.history_rows} baris. Tercatat di log akses atas nama {who}.")


@click.group("privacy", help="Data pribadi: log akses halaman yang menampilkan NIK lengkap.")
def privacy_group() -> None:
    pass


@privacy_group.command("access-log", help="Siapa membuka halaman atau unduhan dengan NIK lengkap (terbaru dahulu).")
@office_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Keluaran JSON untuk mesin.")
@with_appcontext
def access_log_command(office_code: str | None, limit: int, as_json: bool) -> None:
    with unit_of_work() as session:
        office = load_office(session, office_code)
        rows = session.execute(access_log_query(office.id).limit(limit)).all()
    if as_json:
        click.echo(json.dumps([{"at": r.at.isoformat(), "username": r.username, "what": r.what, "path": r.path,
                                "ip": r.ip, "records": r.records} for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"Log akses data pribadi — {office.name}")
    for column in ("Waktu", "Pengguna", "Yang dibuka", "Alamat", "IP", "Data"):
        table.add_column(column)
    for r in rows:
        table.add_row(wib_text(r.at), r.username, r.what, r.path, r.ip or "-", "-" if r.records is None else
                      str(r.records))
    console.print(table)
