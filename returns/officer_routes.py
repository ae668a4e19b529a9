"""Kelurahan officers' pages and JSON API: their own kelurahan only.

Thin: parse, read through `returns.queries` or change through `returns.service`, show the result.

Officers work from village offices on phones and weak networks: light pages (one card per block) that work without
script, and every form and every API call that changes something runs once however often it arrives
(`returns.forms`). The scope is the officer's kelurahan of his office; anything outside it is "not found" (404), as
the service says.

Offline (issue 15): the pages are an installable web app. `/kelurahan/sw.js` (a service worker, scope `/`) keeps the
officer's pages and batches on the phone (`/api/v1/kelurahan/offline` lists them with their versions), and the
pages' script (returns/static/officer.js) keeps what is recorded without a network in IndexedDB and sends it through
the JSON API, each record with its own `Idempotency-Key` and the version of the card it saw (`returns.offline`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask import session as web_session
from flask.globals import request_ctx
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import Session

from address.service import AddressPipeline
from app import api
from app.auth import actor, current_office, roles_required
from app.cards import Card, CardState
from app.dates import as_local
from app.db import unit_of_work, utcnow
from app.models import Role
from app.regions import office_regions
from app.web import Page, csv_response, json_error, page_arg
from returns import forms, offline, queries, service
from returns.forms import Once, SubmissionError, TokenReused
from returns.models import (
    DISPOSITION_LABELS,
    BatchStatus,
    ConflictStatus,
    Disposition,
    HandoverBatch,
    HandoverItem,
    OfflineConflict,
)
from returns.queries import BatchRef, CardView, ItemView, WaitingCard
from returns.service import NotFound, ReturnsError, Scope

STATIC = Path(__file__).with_name("static")
bp = Blueprint("kelurahan", __name__, template_folder="templates", static_folder="static",
               static_url_path="/kelurahan/static")
OFFICER = Role.OFFICER
PAGE_SIZE = 50

# The disposition form has one group of fields per disposition (no script switches them): the form's field names
# per service field.
FORM_FIELDS: dict[Disposition, dict[str, str]] = {
    Disposition.HOLDER: {"receiver_name": "holder_name", "id_checked": "holder_id_checked",
                         "handed_on": "holder_handed_on"},
    Disposition.FAMILY: {"receiver_name": "family_name", "receiver_relationship": "family_relationship",
                         "handed_on": "family_handed_on"},
    Disposition.DECEASED: {"note": "deceased_note"},
    Disposition.MOVED: {f: f"moved_{f}" for f in ("alamat", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota",
                                                   "kode_pos")},
    Disposition.NOT_COLLECTED: {},
}
API_TEXT_FIELDS = ("receiver_name", "receiver_relationship", "handed_on", "note", "alamat", "rt", "rw", "kelurahan",
                   "kecamatan", "kabupaten_kota", "kode_pos")
CSV_COLUMNS = ("berkas", "nomor_blanko", "nama", "alamat", "rt", "rw", "alasan", "status", "diterima_kelurahan",
               "disposisi", "penerima", "hubungan", "tanggal_serah", "alamat_baru", "catatan", "dicatat_oleh",
               "dicatat_pada")


def _reminder_days() -> int:
    return int(current_app.config.get("ANTAR_REMINDER_DAYS", 14))


def _deadline_days() -> int:
    return int(current_app.config.get("ANTAR_COLLECTION_DEADLINE_DAYS", 30))


def _scope(session: Session) -> Scope:
    if not current_user.kelurahan_code:
        abort(403)  # an officer's scope without a kelurahan would be the whole office
    return Scope(current_office(session), current_user.kelurahan_code)


def _kelurahan_label(scope: Scope) -> str:
    kel = office_regions(scope.office.code).kelurahan.get(scope.kelurahan_code or "")
    return kel.label if kel else (scope.kelurahan_code or "-")


def _today() -> dt.date:
    return as_local(utcnow()).date()


def _collect_by(batch: HandoverBatch | BatchRef) -> dt.date | None:
    """From this day on a card not collected may be recorded as such (the service's rule)."""
    return queries.collect_by(batch.received_at, _deadline_days())


def _waiting(session: Session, scope: Scope, older_than_days: int = 0) -> list[WaitingCard]:
    return queries.waiting(session, scope, reminder_days=_reminder_days(), deadline_days=_deadline_days(),
                           older_than_days=older_than_days)


def _page(template: str, title: str, status: int = 200, **context: Any) -> Any:
    g.page_title = title
    return render_template(template, reason_text=service.reason_text, labels=DISPOSITION_LABELS,
                           S=BatchStatus, D=Disposition, **context), status


# --- the app on the phone ------------------------------------------------------------------------------------

# Whose page this is: the service worker keeps each officer's pages apart, and drops them when another account logs
# in on the same phone.
USER_HEADER = "X-Antar-Pengguna"
# Sent by the service worker when it stores pages for offline use: such a page takes no flashed message (a message
# belongs to the page the officer is looking at, and must not be used up by a page fetched in the background).
OFFLINE_HEADER = "X-Antar-Luring"


@bp.before_app_request
def _background_fetch_keeps_flashes() -> None:
    if request.headers.get(OFFLINE_HEADER):
        request_ctx.flashes = []


@bp.app_context_processor
def _officer_helpers() -> dict[str, Any]:
    return {"officer_session_tag": _session_tag}


def _session_tag() -> str:
    """Which login a page belongs to, without giving the login away: a logout made on the phone without a network
    ends that login, and only that one, when the network is back."""
    token = getattr(current_user, "login_token", None)
    return hashlib.sha256(token.encode()).hexdigest()[:16] if token else ""


@bp.after_app_request
def _whose_page(response: Any) -> Any:
    if (request.blueprint == bp.name or request.endpoint == "main.index") and request.endpoint != "kelurahan.static" \
            and current_user.is_authenticated and current_user.role is Role.OFFICER:
        response.headers[USER_HEADER] = str(current_user.id)
    return response


# --- pages -------------------------------------------------------------------------------------------------


@bp.route("/kelurahan")
@roles_required(OFFICER)
def home() -> Any:
    q = (request.args.get("q") or "").strip()
    with unit_of_work() as session:
        scope = _scope(session)
        on_the_way = service.list_batches(session, scope, status=BatchStatus.DISPATCHED)
        recent = [b for b in service.list_batches(session, scope, limit=6) if b.status is not BatchStatus.DISPATCHED]
        waiting = _waiting(session, scope)
        found = [w for w in waiting if queries.matches(w.card, q)]
        conflicts = offline.conflicts(session, scope, limit=30)
        return _page("kelurahan_home.html", "Kelurahan", kelurahan=_kelurahan_label(scope), on_the_way=on_the_way,
                     recent=recent[:5], waiting=waiting, q=q, listed=Paged.of(found),
                     remind=[w for w in waiting if w.remind], overdue=[w for w in waiting if w.overdue],
                     reminder_days=_reminder_days(), deadline_days=_deadline_days(),
                     conflicts_open=[c for c in conflicts if c.status == ConflictStatus.OPEN],
                     conflicts_decided=[c for c in conflicts if c.status != ConflictStatus.OPEN][:10])


@bp.route("/kelurahan/pengingat")
@roles_required(OFFICER)
def reminders() -> Any:
    with unit_of_work() as session:
        scope = _scope(session)
        rows = _waiting(session, scope, older_than_days=_reminder_days())
        return _page("kelurahan_reminders.html", "Pengingat", kelurahan=_kelurahan_label(scope), total=len(rows),
                     listed=Paged.of(rows), reminder_days=_reminder_days(), deadline_days=_deadline_days())


@dataclass(frozen=True, slots=True)
class Paged:
    """One page of a list: a kelurahan cleared by a withdrawal can hold a thousand cards, a phone wants fifty."""

    rows: list[WaitingCard]
    page: int
    pages: int
    total: int

    @classmethod
    def of(cls, rows: list[WaitingCard]) -> Paged:
        """The page `?hal=` asks for (a number that is not one is a 400), past the end the last one: the list
        shrinks as cards are handed over, and a stale link should still show cards."""
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(page_arg(), pages)
        return cls(rows[(page - 1) * PAGE_SIZE:page * PAGE_SIZE], page, pages, len(rows))


@bp.route("/kelurahan/berkas/<int:batch_id>")
@roles_required(OFFICER)
def batch_page(batch_id: int) -> Any:
    return _batch_page(batch_id)


# A batch this short is counted on the checklist as quickly as by scanning; a longer one shows its checklist on
# request (`?daftar=semua`): 565 checkboxes are 120 screens on a phone.
CHECKLIST_MAX = 50


@dataclass(frozen=True, slots=True)
class Counting:
    """Where the counting of a batch on its way stands: the cards counted so far and those still to find."""

    total: int
    counted: int
    uncounted: Page  # (ItemView, CardView) pairs, in the order of the printed list


@dataclass(frozen=True, slots=True)
class ScanAnswer:
    ok: bool
    message: str


def _batch_page(batch_id: int, *, error: str | None = None, error_for: str | None = None,
                form: Mapping[str, Any] | None = None, token: str | None = None, status: int = 200,
                scan: ScanAnswer | None = None, focus: bool = True) -> Any:
    """A batch; on its way, the counting (scan form, cards still to find, receipt) and the checklist. After a refused
    form the message stands beside it (`error_for`: "checklist" or "count") with what was typed."""
    number = page_arg()
    with unit_of_work() as session:
        scope = _scope(session)
        try:
            batch = service.get_batch(session, scope, batch_id)
        except NotFound:
            abort(404)
        rows = queries.batch_cards(session, batch)
        counting, listed = None, None
        if batch.status is BatchStatus.DISPATCHED:
            counted = _counted_ids(batch.id, [it.id for it, _ in rows])
            counting = Counting(len(rows), len(counted),
                                _clamped_page([(it, card) for it, card in rows if it.id not in counted], number))
        else:
            _forget_counted(batch.id)
            listed = _clamped_page(rows, number)
        version = offline.batch_versions(session, [batch.id]).get(batch.id, 0)
        missing = set(form.getlist("missing")) if form is not None and error_for == "checklist" else set()
        checklist = (counting is not None
                     and (len(rows) <= CHECKLIST_MAX or request.args.get("daftar") == "semua" or bool(missing)
                          or error_for == "checklist"))
        return _page("kelurahan_batch.html", batch.number, status, batch=batch, rows=rows, error=error,
                     error_for=error_for, counted=(form or {}).get("counted", "") if error_for == "checklist" else "",
                     missing=missing, token=token or forms.new_token(), counting=counting, listed=listed, scan=scan,
                     focus=focus, version=version,
                     checklist=checklist, checklist_open=len(rows) <= CHECKLIST_MAX or error_for == "checklist"
                     or request.args.get("daftar") == "semua")


def _clamped_page(rows: list[Any], number: int) -> Page:
    """A page of a list that shrinks while the officer works through it: past its end, the last page."""
    return queries.page_of(rows, min(number, max(1, -(-len(rows) // PAGE_SIZE))), PAGE_SIZE)


@bp.route("/kelurahan/berkas/<int:batch_id>/pindai", methods=["POST"])
@roles_required(OFFICER)
def scan_page(batch_id: int) -> Any:
    """One card found in the envelope: its blanko number typed, or scanned (a scanner types it and Enter). Counted in
    the officer's session, nothing recorded until the receipt is saved; `batal=1` takes a wrong count back."""
    typed = (request.form.get("blanko") or "").strip()
    blanko = "".join(typed.split()).upper()
    undo = request.form.get("batal") == "1"
    with unit_of_work() as session:
        scope = _scope(session)
        try:
            batch = service.get_batch(session, scope, batch_id)
        except NotFound:
            abort(404)
        if batch.status is not BatchStatus.DISPATCHED:
            answer = ScanAnswer(False, f"Berkas {batch.number} berstatus '{batch.status_label}': penghitungannya "
                                       "sudah selesai.")
        elif not blanko:
            answer = ScanAnswer(False, "Pindai atau ketik nomor blanko kartu, lalu tekan Enter.")
        else:
            answer = _count_card(session, scope, batch, blanko, typed, undo)
    # The answer is the page itself (no redirect): one round trip per card on a village office's network. Sending
    # it again (a reload) counts nothing twice.
    return _batch_page(batch_id, scan=answer, status=200 if answer.ok else 422,
                       focus=request.form.get("dari") != "daftar")


def _count_card(session: Session, scope: Scope, batch: HandoverBatch, blanko: str, typed: str,
                undo: bool) -> ScanAnswer:
    rows = service.batch_items(session, batch)
    item_ids = [it.id for it, _ in rows]
    found = next(((it, card) for it, card in rows if card.nomor_blanko.upper() == blanko), None)
    if found is None:
        elsewhere = queries.batch_number_of_card(session, scope, blanko)
        hint = (f" Kartu itu ada di berkas {elsewhere}." if elsewhere and elsewhere != batch.number
                else " Periksa nomornya, atau sisihkan kartu itu dan laporkan ke Disdukcapil.")
        return ScanAnswer(False, f"Nomor blanko “{typed}” tidak ada di berkas ini.{hint}")
    item, card = found
    counted = _counted_ids(batch.id, item_ids)
    if undo:
        if item.id not in counted:
            return ScanAnswer(True, f"{card.nomor_blanko} ({card.nama}) memang belum dihitung.")
        counted.discard(item.id)
        _save_counted(batch.id, item_ids, counted)
        return ScanAnswer(True, f"{card.nomor_blanko} ({card.nama}): hitungan dibatalkan. "
                                f"{len(counted)} dari {len(rows)} kartu dihitung.")
    if item.id in counted:
        return ScanAnswer(True, f"{card.nomor_blanko} ({card.nama}) sudah dihitung sebelumnya. "
                                f"{len(counted)} dari {len(rows)} kartu dihitung.")
    counted.add(item.id)
    _save_counted(batch.id, item_ids, counted)
    return ScanAnswer(True, f"{card.nomor_blanko} ({card.nama}) dihitung: {len(counted)} dari {len(rows)} kartu.")


# --- the count so far, in the session ------------------------------------------------------------------------
# Not in the database: nothing is recorded until the receipt is saved, yet the count survives a reload or a lost
# connection. Per batch, one bit per card in the order of the item ids: a batch of 565 cards takes 96 characters of
# the session cookie (a list of numbers would not fit a cookie's 4 KB).

COUNTED_KEY = "antar.counted"


def _counted_ids(batch_id: int, item_ids: list[int]) -> set[int]:
    raw = (web_session.get(COUNTED_KEY) or {}).get(str(batch_id))
    if not raw:
        return set()
    try:
        bits = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        return set()
    return {item_id for i, item_id in enumerate(sorted(item_ids)) if i // 8 < len(bits) and bits[i // 8] >> (i % 8) & 1}


def _save_counted(batch_id: int, item_ids: list[int], counted: set[int]) -> None:
    bits = bytearray((len(item_ids) + 7) // 8)
    for i, item_id in enumerate(sorted(item_ids)):
        if item_id in counted:
            bits[i // 8] |= 1 << (i % 8)
    store = dict(web_session.get(COUNTED_KEY) or {})
    store[str(batch_id)] = base64.urlsafe_b64encode(bytes(bits)).decode()
    web_session[COUNTED_KEY] = store


def _forget_counted(batch_id: int) -> None:
    store = web_session.get(COUNTED_KEY) or {}
    if str(batch_id) in store:
        web_session[COUNTED_KEY] = {k: v for k, v in store.items() if k != str(batch_id)}


@bp.route("/kelurahan/berkas/<int:batch_id>/terima", methods=["POST"])
@roles_required(OFFICER)
def receipt_page(batch_id: int) -> Any:
    """The receipt: from the checklist (`counted` and the `missing` ticked) or from the count (`hitungan=1`: the
    cards counted are received, those not counted reported missing, once the officer confirms they are not there)."""
    token = _posted_token()
    from_count = request.form.get("hitungan") == "1"

    def receive(session: Session) -> dict[str, Any]:
        batch = service.confirm_receipt(session, _scope(session), batch_id, counted, missing, actor())
        lost = f"; {batch.missing_count} kartu dilaporkan hilang" if batch.missing_count else ""
        return {"redirect": url_for("kelurahan.batch_page", batch_id=batch_id),
                "flash": [["success", f"Berkas {batch.number} diterima: {batch.received_count} kartu{lost}."]]}

    try:
        if from_count:
            counted, missing = _counted_receipt(batch_id, confirmed=request.form.get("yakin") == "1")
        else:
            missing = request.form.getlist("missing")
            counted = _count(request.form.get("counted"))
        once = forms.run_once(token, current_user.id, receive, request=forms.fingerprint("form", request.path))
    except NotFound:
        abort(404)
    except TokenReused as exc:
        abort(400, description=str(exc))
    except ReturnsError as exc:
        return _batch_page(batch_id, error=str(exc), error_for="count" if from_count else "checklist",
                           form=request.form, token=token, status=422)
    _forget_counted(batch_id)
    return _form_answer(once)


def _counted_receipt(batch_id: int, *, confirmed: bool) -> tuple[int, list[str]]:
    """The receipt the count makes: how many cards are in hand, and the blanko numbers of those not counted."""
    with unit_of_work() as session:
        batch = service.get_batch(session, _scope(session), batch_id)
        rows = service.batch_items(session, batch)
        counted = _counted_ids(batch.id, [it.id for it, _ in rows])
        missing = [card.nomor_blanko for it, card in rows if it.id not in counted]
    if missing and not confirmed:
        raise ReturnsError(f"{len(missing)} kartu belum dihitung. Cari sekali lagi; bila memang tidak ada, centang "
                           "pernyataan di atas tombol untuk melaporkannya hilang.")
    return len(rows) - len(missing), missing


@bp.route("/kelurahan/kartu/<int:item_id>")
@roles_required(OFFICER)
def card_page(item_id: int) -> Any:
    return _card_page(item_id)


def _card_page(item_id: int, *, error: str | None = None, form: Mapping[str, Any] | None = None,
               token: str | None = None, status: int = 200) -> Any:
    with unit_of_work() as session:
        scope = _scope(session)
        try:
            item, card = service.item_in_scope(session, scope, item_id)
        except NotFound:
            abort(404)
        batch, today = item.batch, _today()
        collect_by = _collect_by(batch)
        open_ = item.disposition is None and card.state is CardState.AT_KELURAHAN
        # A card of a batch still on its way gets the form too, hidden: once the officer counts the batch in on the
        # phone without a network, the page's script shows it (returns/static/officer.js).
        before_receipt = (batch.status is BatchStatus.DISPATCHED and not item.missing
                          and card.state is CardState.SENT_TO_KELURAHAN)
        return _page("kelurahan_card.html", card.nomor_blanko, status, item=item, card=card, batch=batch,
                     open=open_, today=today, collect_by=collect_by, before_receipt=before_receipt,
                     not_collected_open=(collect_by is not None and today >= collect_by)
                     or (before_receipt and _deadline_days() == 0), error=error,
                     form=form or {}, token=token or forms.new_token(), deadline_days=_deadline_days(),
                     version=offline.card_versions(session, [card.id]).get(card.id, 0),
                     conflicts=offline.conflicts(session, scope, item_id=item.id))


@bp.route("/kelurahan/kartu/<int:item_id>/disposisi", methods=["POST"])
@roles_required(OFFICER)
def disposition_page(item_id: int) -> Any:
    token = _posted_token()

    def record(session: Session) -> dict[str, Any]:
        item, card = _record(session, item_id, disposition, fields)
        return {"redirect": url_for("kelurahan.card_page", item_id=item_id),
                "flash": [["success", f"Kartu {card.nomor_blanko} ({card.nama}): {DISPOSITION_LABELS[disposition]}"
                                      " — tercatat."]]}

    try:
        disposition, fields = _form_disposition(request.form)
        once = forms.run_once(token, current_user.id, record, request=forms.fingerprint("form", request.path))
    except NotFound:
        abort(404)
    except TokenReused as exc:
        abort(400, description=str(exc))
    except ReturnsError as exc:
        return _card_page(item_id, error=str(exc), form=request.form, token=token, status=422)
    return _form_answer(once)


@bp.route("/kelurahan/kartu.csv")
@roles_required(OFFICER)
def cards_csv() -> Any:
    with unit_of_work() as session:
        scope = _scope(session)
        rows = queries.own_cards(session, scope)
        name = f"kartu-kelurahan-{scope.kelurahan_code}-{_today():%Y%m%d}.csv"
    return csv_response(name, CSV_COLUMNS, ([_csv_values(item, card, batch)[c] for c in CSV_COLUMNS]
                                            for item, card, batch in rows))


def _csv_values(item: ItemView, card: CardView, batch: BatchRef) -> dict[str, str]:
    """A card of the export; never the NIK."""
    return {
        "berkas": batch.number, "nomor_blanko": card.nomor_blanko, "nama": card.nama,
        "alamat": card.street or card.alamat, "rt": card.rt or "", "rw": card.rw or "",
        "alasan": service.reason_text(item.reason), "status": "Hilang" if item.missing else card.state_label,
        "diterima_kelurahan": as_local(batch.received_at).strftime("%Y-%m-%d") if batch.received_at else "",
        "disposisi": DISPOSITION_LABELS[item.disposition] if item.disposition else "",
        "penerima": item.receiver_name or "", "hubungan": item.receiver_relationship or "",
        "tanggal_serah": item.handed_on.isoformat() if item.handed_on else "", "alamat_baru": item.new_address or "",
        "catatan": item.note or "", "dicatat_oleh": item.disposition_by or "",
        "dicatat_pada": as_local(item.disposition_at).strftime("%Y-%m-%d %H:%M") if item.disposition_at else "",
    }


# --- form helpers ------------------------------------------------------------------------------------------


def _posted_token() -> str:
    try:
        return forms.form_token(request.form.get("token"))
    except SubmissionError as exc:
        abort(400, description=str(exc))


def _count(raw: Any) -> int:
    text = str(raw if raw is not None else "").strip()
    if not text.isdigit():
        raise ReturnsError("Isi jumlah kartu yang ada di tangan (angka, 0 atau lebih).")
    return int(text)


def _form_disposition(form: Mapping[str, Any]) -> tuple[Disposition, dict[str, Any]]:
    chosen = form.get("disposition") or ""
    if chosen not in Disposition.__members__:
        raise ReturnsError("Pilih apa yang terjadi dengan kartu ini.")
    disposition = Disposition(chosen)
    fields: dict[str, Any] = {key: (form.get(name) or "").strip() for key, name in FORM_FIELDS[disposition].items()}
    if "id_checked" in fields:
        fields["id_checked"] = bool(fields["id_checked"])
    return disposition, fields


def _record(session: Session, item_id: int, disposition: Disposition,
            fields: Mapping[str, Any]) -> tuple[HandoverItem, Card]:
    scope = _scope(session)
    pipeline = (AddressPipeline.for_office(session, scope.office.code, current_app.config)
                if disposition is Disposition.MOVED else None)
    item = service.record_disposition(session, scope, item_id, disposition, fields, actor(),
                                      deadline_days=_deadline_days(), pipeline=pipeline)
    return item, item.card


def _form_answer(once: Once) -> Any:
    """The same answer to the first submission and to every retry: its messages and its redirect."""
    for category, message in once.result["flash"]:
        flash(message, category)
    return redirect(once.result["redirect"])


# --- JSON API ----------------------------------------------------------------------------------------------


def _error(status: int, message: str) -> Any:
    return json_error(status, message)


def _batch_json(batch: HandoverBatch, rows: list[tuple[HandoverItem, Card]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": batch.id, "number": batch.number, "status": batch.status.value, "status_label": batch.status_label,
        "kelurahan_code": batch.kelurahan_code, "items": batch.item_count,
        "dispatched_at": _iso(batch.dispatched_at), "received_at": _iso(batch.received_at),
        "received_count": batch.received_count, "missing_count": batch.missing_count,
        "closed_at": _iso(batch.closed_at),
    }
    if rows is not None:
        out["item_list"] = [_item_json(item, card, batch) for item, card in rows]
    return out


def _item_json(item: HandoverItem | ItemView, card: Card | CardView, batch: HandoverBatch | BatchRef) -> dict[str, Any]:
    """A card as the officer sees it; never the NIK."""
    collect_by = _collect_by(batch)
    return {
        "id": item.id, "batch_id": batch.id, "batch_number": batch.number, "nomor_blanko": card.nomor_blanko,
        "nama": card.nama, "street": card.street or card.alamat, "rt": card.rt, "rw": card.rw,
        "reason": item.reason, "reason_label": service.reason_text(item.reason), "state": card.state.value,
        "state_label": card.state_label, "missing": item.missing,
        "collect_by": collect_by.isoformat() if collect_by else None,
        "disposition": item.disposition and item.disposition.value,
        "disposition_label": DISPOSITION_LABELS[item.disposition] if item.disposition else None,
        "disposition_at": _iso(item.disposition_at), "disposition_by": item.disposition_by,
        "handed_on": item.handed_on.isoformat() if item.handed_on else None, "receiver_name": item.receiver_name,
        "receiver_relationship": item.receiver_relationship, "id_checked": item.id_checked,
        "new_address": item.new_address, "note": item.note,
    }


def _iso(ts: dt.datetime | None) -> str | None:
    return as_local(ts).isoformat() if ts else None


IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": True,
                   "description": "Kunci unik per perubahan; kiriman ulang dengan kunci sama tidak dicatat dua kali",
                   "schema": {"type": "string", "minLength": 1, "maxLength": forms.MAX_KEY_LENGTH}}
RT_RW = api.string(3, pattern=r"^\d{1,3}$", description="1-3 angka")
# A record made on the phone without a network says what the phone had seen (returns/offline.py): with it, a card
# changed meanwhile by someone else keeps the record as a conflict for staff (409) instead of recording it.
OFFLINE_FIELDS = {
    "seen_version": api.integer(0, description="Versi kartu (riwayat terakhir) atau berkas (peristiwa terakhir) yang "
                                               "dilihat perangkat saat mencatat tanpa jaringan"),
    "recorded_at": api.string(40, pattern=r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?$",
                              description="Waktu dicatat di perangkat (ISO 8601)"),
}
RECEIPT = api.obj({"counted": api.integer(0, 100_000, description="Kartu yang dihitung di kelurahan"),
                   "missing": api.array(api.NOMOR_BLANKO, 10_000), **OFFLINE_FIELDS}, required=["counted"])
DISPOSITION = api.obj({
    "disposition": api.enum([d.value for d in Disposition]), "id_checked": {"type": "boolean"},
    "receiver_name": api.string(200), "receiver_relationship": api.string(40), "handed_on": api.DATE,
    "note": api.string(500), "alamat": api.string(250), "rt": RT_RW, "rw": RT_RW, "kelurahan": api.string(60),
    "kecamatan": api.string(60), "kabupaten_kota": api.string(60),
    "kode_pos": api.string(5, pattern=r"^\d{5}$", description="5 angka"), **OFFLINE_FIELDS,
}, required=["disposition"])
CONFLICT = {"type": "object", "required": ["error", "conflict"],
            "properties": {"error": api.ERROR["properties"]["error"], "conflict": api.ANY_OBJECT}}
CONFLICT_ANSWER = (409, ("Konflik: kartu/berkas diubah sementara itu; catatan disimpan untuk keputusan staf",
                         CONFLICT))
BATCH = {"type": "object", "required": ["id", "status"],
         "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}}


@bp.route("/api/v1/kelurahan/batches")
@roles_required(OFFICER)
@api.operation("Berkas kartu kembali untuk kelurahan petugas", tags=["kelurahan"],
               query=api.obj({"status": api.enum([b.value for b in BatchStatus])}),
               response={"type": "object", "required": ["kelurahan", "batches"],
                         "properties": {"kelurahan": api.ANY_OBJECT, "batches": {"type": "array", "items": BATCH}}})
def batches_api(query: dict[str, Any]) -> Any:
    status = query.get("status")
    with unit_of_work() as session:
        scope = _scope(session)
        batches = service.list_batches(session, scope, status=BatchStatus(status) if status else None)
        return jsonify(kelurahan={"code": scope.kelurahan_code, "name": _kelurahan_label(scope)},
                       batches=[_batch_json(b) for b in batches])


@bp.route("/api/v1/kelurahan/batches/<int:batch_id>")
@roles_required(OFFICER)
@api.operation("Satu berkas dengan kartunya", tags=["kelurahan"], response=BATCH)
def batch_api(batch_id: int) -> Any:
    with unit_of_work() as session:
        try:
            batch = service.get_batch(session, _scope(session), batch_id)
        except NotFound as exc:
            return _error(404, str(exc))
        return jsonify(_batch_json(batch, service.batch_items(session, batch)))


@bp.route("/api/v1/kelurahan/cards")
@roles_required(OFFICER)
@api.operation("Kartu di kelurahan petugas", tags=["kelurahan"],
               query=api.obj({"state": api.enum([c.value for c in CardState])}),
               response={"type": "object", "required": ["cards"], "properties": {"cards": {"type": "array"}}})
def cards_api(query: dict[str, Any]) -> Any:
    state = query.get("state")
    with unit_of_work() as session:
        rows = queries.own_cards(session, _scope(session), CardState(state) if state else None)
        return jsonify(cards=[_item_json(item, card, batch) for item, card, batch in rows])


@bp.route("/api/v1/kelurahan/batches/<int:batch_id>/receipt", methods=["POST"])
@roles_required(OFFICER)
@api.operation("Catat penerimaan berkas di kelurahan (jumlah dihitung, kartu hilang)", tags=["kelurahan"],
               body=RECEIPT, response=BATCH, errors=[422], parameters=[IDEMPOTENCY_KEY],
               responses=dict([CONFLICT_ANSWER]),
               description="Dengan `seen_version` (catatan dari perangkat tanpa jaringan): berkas yang sudah dicatat "
                           "diterima orang lain disimpan sebagai konflik (409) untuk diputuskan staf.")
def receipt_api(batch_id: int, body: dict[str, Any]) -> Any:
    counted, missing = body["counted"], body.get("missing", [])
    seen, recorded_at = _offline_record(body)
    if isinstance(recorded_at, tuple):
        return recorded_at

    def receive(session: Session) -> dict[str, Any]:
        scope = _scope(session)
        if seen is None:
            batch = service.confirm_receipt(session, scope, batch_id, counted, missing, actor())
        else:
            outcome = offline.receive(session, scope, batch_id, counted, missing, actor(), seen_version=seen,
                                      recorded_at=recorded_at)
            if isinstance(outcome, OfflineConflict):
                return _conflict_answer(session, outcome)
            batch = outcome
        return _batch_json(batch, service.batch_items(session, batch))

    return _api_once(body, receive)


@bp.route("/api/v1/kelurahan/cards/<int:item_id>/disposition", methods=["POST"])
@roles_required(OFFICER)
@api.operation("Catat nasib kartu: diserahkan, meninggal, pindah, tidak diambil", tags=["kelurahan"],
               body=DISPOSITION, errors=[422], parameters=[IDEMPOTENCY_KEY], responses=dict([CONFLICT_ANSWER]),
               response={"type": "object", "required": ["id", "state"],
                         "properties": {"id": {"type": "integer"}, "state": {"type": "string"}}},
               description="Dengan `seen_version` (catatan dari perangkat tanpa jaringan): kartu yang sementara itu "
                           "dikoreksi atau dipindahkan staf, atau sudah dicatat lain, tidak ditimpa; catatannya "
                           "disimpan sebagai konflik (409) untuk diputuskan staf.")
def disposition_api(item_id: int, body: dict[str, Any]) -> Any:
    chosen = body["disposition"]
    fields = {k: body[k] for k in (*API_TEXT_FIELDS, "id_checked") if k in body}
    seen, recorded_at = _offline_record(body)
    if isinstance(recorded_at, tuple):
        return recorded_at

    def record(session: Session) -> dict[str, Any]:
        if seen is None:
            item, card = _record(session, item_id, Disposition(chosen), fields)
            return _item_json(item, card, item.batch)
        scope = _scope(session)
        disposition = Disposition(chosen)
        pipeline = (AddressPipeline.for_office(session, scope.office.code, current_app.config)
                    if disposition is Disposition.MOVED else None)
        outcome = offline.dispose(session, scope, item_id, disposition, fields, actor(), seen_version=seen,
                                  recorded_at=recorded_at, deadline_days=_deadline_days(), pipeline=pipeline)
        if isinstance(outcome, OfflineConflict):
            return _conflict_answer(session, outcome)
        return _item_json(outcome, outcome.card, outcome.batch)

    return _api_once(body, record)


def _offline_record(body: dict[str, Any]) -> tuple[int | None, Any]:
    """`seen_version` and `recorded_at` of a record from the phone (None, None for a call made online); a
    `recorded_at` that is no moment is a 400 answer in the second place."""
    seen, raw = body.get("seen_version"), body.get("recorded_at")
    if raw is None:
        return seen, None
    try:
        moment = dt.datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return seen, _error(400, f"recorded_at: '{raw}' bukan waktu ISO 8601")
    return seen, moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _conflict_answer(session: Session, conflict: OfflineConflict) -> dict[str, Any]:
    """The 409's body: the error (what had changed) and the conflict as the officer's pages show it."""
    return {"error": {"code": "conflict", "message": f"{conflict.reason} Catatan disimpan; menunggu keputusan staf."},
            "conflict": queries.jsonable(offline.conflict_view(session, conflict))}


def _api_once(body: dict[str, Any], fn: Callable[[Session], dict[str, Any]]) -> Any:
    """Run an API change once per `Idempotency-Key`; a retry gets the stored answer (marked as a replay). A record
    kept as a conflict is a 409, the first time and every retry."""
    try:
        token = forms.api_token(request.headers.get("Idempotency-Key"), current_user.id)
    except SubmissionError as exc:
        return _error(400, str(exc))
    try:
        once = forms.run_once(token, current_user.id, fn, request=forms.fingerprint("api", request.path, body))
    except NotFound as exc:
        return _error(404, str(exc))
    except offline.NotReceivedYet as exc:
        return json_error(422, str(exc), "not_received")
    except (ReturnsError, TokenReused) as exc:
        return _error(422, str(exc))
    response = jsonify(once.result)
    if "conflict" in once.result and "error" in once.result:
        response.status_code = 409
    if once.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


# --- offline: the officer's app on the phone -------------------------------------------------------------------


def _assets_version() -> str:
    """Changes whenever a file the service worker keeps changes: a new worker then replaces the old one."""
    digest = hashlib.sha256()
    files = sorted(p for p in STATIC.iterdir() if p.is_file())
    css = Path(current_app.static_folder or "") / "antar.css"
    for path in [*files, css]:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@bp.route("/kelurahan/sw.js")
def service_worker() -> Any:
    """The service worker, served by Antar itself; its scope is the whole site (`Service-Worker-Allowed`) so that it
    also sees the log-out, which clears the kelurahan's data from the phone. No personal data: no login needed."""
    text = (STATIC / "sw.js").read_text(encoding="utf-8").replace("__VERSION__", _assets_version())
    response = current_app.response_class(text, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/kelurahan/manifest.webmanifest")
def web_manifest() -> Any:
    """The web app manifest: the officer's pages installed on the phone's home screen."""
    manifest = {
        "name": "Antar e-KTP · Petugas Kelurahan", "short_name": "Antar Kelurahan", "lang": "id",
        "description": "Serah terima kartu e-KTP di kelurahan, juga tanpa jaringan.",
        "start_url": url_for("kelurahan.home"), "scope": "/", "display": "standalone",
        "background_color": "#f6f8fa", "theme_color": "#0b5d8c",
        "icons": [
            {"src": url_for("kelurahan.static", filename="icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": url_for("kelurahan.static", filename="icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": url_for("kelurahan.static", filename="icon-maskable-512.png"), "sizes": "512x512",
             "type": "image/png", "purpose": "maskable"},
        ],
    }
    return current_app.response_class(json.dumps(manifest, ensure_ascii=False),
                                       mimetype="application/manifest+json")


@bp.route("/api/v1/kelurahan/session")
@roles_required(OFFICER)
@api.operation("Akun petugas dan token CSRF sebelum mengirim catatan dari perangkat", tags=["kelurahan"],
               response={"type": "object", "required": ["user", "kelurahan", "csrf_token"],
                         "properties": {"user": api.ANY_OBJECT, "kelurahan": api.ANY_OBJECT,
                                        "csrf_token": {"type": ["string", "null"]}}})
def session_api() -> Any:
    """Whether the login still holds (401 when not: the phone asks the officer to log in again, keeping its queue),
    whose it is, and a CSRF token for the records it sends (a page kept on the phone may be days old)."""
    with unit_of_work() as session:
        scope = _scope(session)
        kelurahan = {"code": scope.kelurahan_code, "name": _kelurahan_label(scope)}
    # A bearer token's request opens no session, so it gets no CSRF token (it needs none).
    token = generate_csrf() if getattr(current_user, "login_token", None) else None
    response = jsonify(user={"id": current_user.id, "username": current_user.username}, kelurahan=kelurahan,
                       csrf_token=token, session=_session_tag() or None)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/api/v1/kelurahan/offline")
@roles_required(OFFICER)
@api.operation("Halaman dan data yang disimpan perangkat petugas untuk dipakai tanpa jaringan", tags=["kelurahan"],
               response={"type": "object", "required": ["user_id", "entries"],
                         "properties": {"user_id": {"type": "integer"}, "entries": {"type": "array"}}})
def offline_api() -> Any:
    """What the service worker keeps: the officer's home and reminders, every batch on its way or received (page
    and data) and the page of each of their cards, each with a version; the phone fetches only what changed."""
    with unit_of_work() as session:
        scope = _scope(session)
        entries = _offline_entries(session, scope)
    response = jsonify(user_id=current_user.id, generated_at=utcnow().isoformat(), entries=entries)
    response.headers["Cache-Control"] = "no-store"
    return response


# Received batches whose cards are all recorded stay on the phone for a while (the officer looks them up).
OFFLINE_CLOSED_BATCHES = 5


def _offline_entries(session: Session, scope: Scope) -> list[dict[str, Any]]:
    batches = service.list_batches(session, scope)
    kept = ([b for b in batches if b.status in (BatchStatus.DISPATCHED, BatchStatus.RECEIVED)]
            + [b for b in batches if b.status is BatchStatus.CLOSED][:OFFLINE_CLOSED_BATCHES])
    items = [(it, card.id) for b in kept for it, card in service.batch_items(session, b)]
    cards = offline.card_versions(session, [card_id for _, card_id in items])
    events = offline.batch_versions(session, [b.id for b in batches])
    conflicts = offline.conflict_signatures(session, scope)
    today = _today()
    # The lists change with any card, batch or conflict of the kelurahan, and with the day (days waiting).
    lists = f"{max(cards.values(), default=0)}.{max(events.values(), default=0)}.{_hash_text(conflicts)}.{today}"
    entries = [{"url": url_for("kelurahan.home"), "version": lists},
               {"url": url_for("kelurahan.reminders"), "version": lists}]
    for b in kept:
        entries.append({"url": url_for("kelurahan.batch_page", batch_id=b.id), "version": lists})
        entries.append({"url": url_for("kelurahan.batch_api", batch_id=b.id), "version": lists})
    by_id = {b.id: b for b in kept}
    for it, card_id in items:
        batch = by_id[it.batch_id]
        collect_by = _collect_by(batch)
        open_from = int(collect_by is not None and today >= collect_by)
        entries.append({"url": url_for("kelurahan.card_page", item_id=it.id),
                        "version": f"{cards.get(card_id, 0)}.{events.get(batch.id, 0)}.{conflicts.get(it.id, '')}."
                                   f"{open_from}"})
    return entries


def _hash_text(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:12]


@bp.route("/api/v1/kelurahan/conflicts")
@roles_required(OFFICER)
@api.operation("Catatan dari perangkat yang menunggu (atau sudah mendapat) keputusan staf", tags=["kelurahan"],
               query=api.obj({"status": api.enum([s.value for s in ConflictStatus])}),
               response={"type": "object", "required": ["conflicts"], "properties": {"conflicts": {"type": "array"}}})
def conflicts_api(query: dict[str, Any]) -> Any:
    status = query.get("status")
    with unit_of_work() as session:
        rows = offline.conflicts(session, _scope(session), status=ConflictStatus(status) if status else None,
                                 limit=500)
    return jsonify(conflicts=queries.jsonable(rows))
