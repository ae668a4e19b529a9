"""Staff pages and JSON API for returns and kelurahan handover batches.

Thin: parse, read through `returns.queries` or change through `returns.service` within one unit of work, show the
result. Staff see their own office (`Scope(office)`); `NotFound` is 404, any other `ReturnsError` 422, a malformed
request 400.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import Session

from address.service import AddressPipeline
from app import api
from app.auth import actor, current_office, roles_required
from app.cards import Card, CardState, TransitionError
from app.dates import wib_text
from app.db import unit_of_work
from app.models import Office, Role, User
from app.privacy import record_access
from app.regions import OfficeRegions, office_regions
from app.users import UserError, account_events, create_user, locked_since, set_active
from app.web import csv_response, json_error, page_arg
from returns import documents, offline, queries, service
from returns.models import (
    BATCH_STATUS_LABELS,
    CONFLICT_STATUS_LABELS,
    DISPOSITION_LABELS,
    BatchStatus,
    ConflictStatus,
    HandoverBatch,
    HandoverItem,
)
from returns.queries import jsonable, kelurahan_name
from returns.service import NotFound, ReturnsError, Scope

bp = Blueprint("returns", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)
# Cards whose disposition staff may undo (or, for MISSING, a card that turned up).
CORRECTABLE = frozenset({CardState.HANDED_TO_HOLDER, CardState.HOLDER_DECEASED, CardState.READDRESSED,
                         CardState.NOT_COLLECTED, CardState.MISSING})


def _scope(session: Session) -> Scope:
    return Scope(current_office(session))


def _reminder_days() -> int:
    return int(current_app.config.get("ANTAR_REMINDER_DAYS", 14))


def _deadline_days() -> int:
    return int(current_app.config.get("ANTAR_COLLECTION_DEADLINE_DAYS", 30))


def _reminders(session: Session, office: Office) -> list[queries.ReminderGroup]:
    return queries.reminders(session, office, reminder_days=_reminder_days(), deadline_days=_deadline_days())


def _blankos(*sources: Iterable[str] | str | None) -> list[str]:
    """Blank numbers from form fields and text areas (one per line, or separated by spaces or commas)."""
    out: list[str] = []
    for source in sources:
        for value in [source] if isinstance(source, str) else (source or []):
            out += value.replace(",", " ").split()
    return list(dict.fromkeys(out))


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"reason_label": documents.label, "disposition_labels": DISPOSITION_LABELS,
            "batch_status_labels": BATCH_STATUS_LABELS, "BatchStatus": BatchStatus, "correctable": CORRECTABLE}


# --- JSON shapes -----------------------------------------------------------------------------------------------------


def _batch_json(b: HandoverBatch, regions: OfficeRegions) -> dict[str, Any]:
    kel, kec = kelurahan_name(regions, b.kelurahan_code)

    def iso(ts: dt.datetime | None) -> str | None:
        return ts.isoformat() if ts else None

    return {"id": b.id, "number": b.number, "status": b.status.value, "status_label": b.status_label,
            "kode_wilayah": b.kelurahan_code, "kelurahan": kel, "kecamatan": kec, "items": b.item_count,
            "created_at": iso(b.created_at), "created_by": b.created_by, "dispatched_at": iso(b.dispatched_at),
            "received_at": iso(b.received_at), "received_by": b.received_by, "received_count": b.received_count,
            "missing_count": b.missing_count, "closed_at": iso(b.closed_at)}


def _item_json(it: HandoverItem, card: Card) -> dict[str, Any]:
    # No NIK: a batch list travels with the cards; the deceased list is the one place staff see it.
    return {"item_id": it.id, "nomor_blanko": card.nomor_blanko, "nama": card.nama, "rt": card.rt, "rw": card.rw,
            "reason": it.reason, "reason_label": documents.label(it.reason), "active": it.active,
            "missing": it.missing, "state": card.state.value, "state_label": card.state_label,
            "disposition": it.disposition and it.disposition.value,
            "disposition_label": DISPOSITION_LABELS[it.disposition] if it.disposition else None,
            "disposition_at": it.disposition_at and it.disposition_at.isoformat(),
            "disposition_by": it.disposition_by, "handed_on": it.handed_on and it.handed_on.isoformat(),
            "receiver_name": it.receiver_name, "receiver_relationship": it.receiver_relationship,
            "id_checked": it.id_checked, "new_address": it.new_address, "note": it.note,
            "correctable": it.active and card.state in CORRECTABLE}


# --- pages ---------------------------------------------------------------------------------------------------------


@bp.route("/pengembalian")
@roles_required(*STAFF)
def overview() -> Any:
    return _overview()


def _overview(*, error: str | None = None, chosen: Iterable[str] = (), status: int = 200) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        regions = office_regions(office.code)
        waiting_rows = queries.candidates(session, office)
        open_batches = sorted(service.open_batches_of(session, office), key=lambda b: b.id, reverse=True)
        missing = len(service.missing_cards(session, office))
        deceased = len(service.deceased(session, office))
        back = queries.back_at_office_counts(session, office)
        reminders = sum(grp.cards for grp in _reminders(session, office))
        report = service.returns_report(session, office)
        conflicts = offline.open_count(session, Scope(office))
    by_status = {s: [0, 0] for s in (BatchStatus.DRAFT, BatchStatus.DISPATCHED, BatchStatus.RECEIVED)}
    for b in open_batches:
        by_status[b.status][0] += 1
        by_status[b.status][1] += b.item_count
    reason_totals: dict[str, int] = defaultdict(int)
    for row in waiting_rows:
        for r in row.by_reason:
            reason_totals[r.reason] += r.cards
    g.page_title = "Pengembalian ke kelurahan"
    return render_template(
        "returns_overview.html", waiting=waiting_rows, reasons=sorted(reason_totals, key=documents.label),
        reason_totals=reason_totals, open_batches=open_batches[:OPEN_BATCHES_SHOWN], open_total=len(open_batches),
        by_status=by_status, missing=missing, deceased=deceased, back=back, reminders=reminders, report=report,
        conflicts=conflicts,
        regions=regions, reminder_days=_reminder_days(), S=CardState, error=error, chosen=set(chosen)), status


# The overview lists the newest running batches; the batch list has all of them, page by page.
OPEN_BATCHES_SHOWN = 20


@bp.route("/pengembalian/susun", methods=["POST"])
@roles_required(*STAFF)
def build_page() -> Any:
    codes = None if request.form.get("mode") == "all" else request.form.getlist("kelurahan")
    if codes is not None and not codes:
        flash("Pilih minimal satu kelurahan, atau susun untuk semua kelurahan.", "error")
        return redirect(url_for("returns.overview"))
    try:
        with unit_of_work() as session:
            office = current_office(session)
            regions = office_regions(office.code)
            made = [f"{b.number} ({kelurahan_name(regions, b.kelurahan_code)[0]}, {b.item_count} kartu)"
                    for b in service.build_batches(session, office, actor(), codes)]
    except (ReturnsError, TransitionError) as exc:
        return _overview(error=str(exc), chosen=codes or (), status=422)
    flash(f"{len(made)} berkas disiapkan: {'; '.join(made)}. Cetak daftarnya, lalu tandai dikirim.", "success")
    return redirect(url_for("returns.batches_page", status=BatchStatus.DRAFT.value))


@bp.route("/pengembalian/berkas")
@roles_required(*STAFF)
def batches_page() -> Any:
    status = request.args.get("status") or ""
    chosen = BatchStatus(status) if status in BatchStatus.__members__ else None
    kelurahan = (request.args.get("kelurahan") or "").strip() or None
    number = page_arg()
    with unit_of_work() as session:
        office = current_office(session)
        regions = office_regions(office.code)
        page = queries.batches_page(session, office, number, status=chosen, kelurahan_code=kelurahan)
        with_batches = queries.kelurahan_with_batches(session, office)
    g.page_title = "Berkas serah terima"
    return render_template("returns_batches.html", page=page, chosen=chosen, kelurahan=kelurahan,
                           regions=regions, with_batches=with_batches, statuses=list(BatchStatus),
                           kel_name=functools.partial(kelurahan_name, regions))


@bp.route("/pengembalian/berkas/<int:batch_id>")
@roles_required(*STAFF)
def batch_page(batch_id: int) -> Any:
    return _batch_page(batch_id)


def _batch_page(batch_id: int, *, error: str | None = None, field: str | None = None, item_id: int | None = None,
                status: int = 200) -> Any:
    """A batch, its cards page by page; after a refused form, the message beside the form it is about (`field`:
    dispatch, cancel, remove, or correct with the card's `item_id`) and the form as it was typed."""
    number = page_arg()
    with unit_of_work() as session:
        office = current_office(session)
        try:
            batch = service.get_batch(session, _scope(session), batch_id)
        except NotFound as exc:
            return render_template("error.html", code=404, title="Tidak ditemukan", message=str(exc)), 404
        page = queries.batch_cards_page(session, batch.id, number)
        totals = queries.batch_reason_totals(session, batch.id)
        events = queries.batch_history(session, batch.id)
        regions = office_regions(office.code)
    g.page_title = batch.number
    values = request.form if request.method == "POST" else {}
    return render_template("returns_batch.html", b=batch, page=page, events=events, totals=totals,
                           kel=regions.kelurahan.get(batch.kelurahan_code), S=CardState, error=error, field=field,
                           error_item=item_id, values=values), status


def _action(batch_id: int, fn: Callable[[Session, Scope], str], field: str) -> Any:
    try:
        with unit_of_work() as session:
            message = fn(session, _scope(session))
    except (ReturnsError, TransitionError) as exc:
        return _batch_page(batch_id, error=str(exc), field=field, status=422)
    flash(message, "success")
    return redirect(url_for("returns.batch_page", batch_id=batch_id, hal=request.args.get("hal") or None))


@bp.route("/pengembalian/berkas/<int:batch_id>/kirim", methods=["POST"])
@roles_required(*STAFF)
def dispatch_page(batch_id: int) -> Any:
    def run(session: Session, scope: Scope) -> str:
        b = service.dispatch(session, scope, batch_id, actor())
        return f"Berkas {b.number} ditandai dikirim ke kelurahan ({b.item_count} kartu)."

    return _action(batch_id, run, "dispatch")


@bp.route("/pengembalian/berkas/<int:batch_id>/batal", methods=["POST"])
@roles_required(*STAFF)
def cancel_page(batch_id: int) -> Any:
    def run(session: Session, scope: Scope) -> str:
        b = service.cancel_batch(session, scope, batch_id, actor(), request.form.get("reason", ""))
        return f"Berkas {b.number} dibatalkan; kartunya menunggu lagi di kantor."

    return _action(batch_id, run, "cancel")


@bp.route("/pengembalian/berkas/<int:batch_id>/keluarkan", methods=["POST"])
@roles_required(*STAFF)
def remove_page(batch_id: int) -> Any:
    blankos = _blankos(request.form.getlist("blanko"))

    def run(session: Session, scope: Scope) -> str:
        n = service.remove_cards(session, scope, batch_id, blankos, actor())
        return f"{n} kartu dikeluarkan dari berkas; kartunya menunggu lagi di kantor."

    return _action(batch_id, run, "remove")


@bp.route("/pengembalian/kartu/<int:item_id>/koreksi", methods=["POST"])
@roles_required(*STAFF)
def correct_page(item_id: int) -> Any:
    back = request.form.get("back")
    try:
        with unit_of_work() as session:
            item = service.correct(session, _scope(session), item_id, actor(), request.form.get("reason", ""))
            batch_id, blanko = item.batch_id, item.card.nomor_blanko
    except NotFound:
        abort(404)
    except (ReturnsError, TransitionError) as exc:
        if back == "hilang":
            return _missing_page(error=str(exc), item_id=item_id, status=422)
        with unit_of_work() as session:
            batch_id = service.item_in_scope(session, _scope(session), item_id)[0].batch_id
        return _batch_page(batch_id, error=str(exc), field="correct", item_id=item_id, status=422)
    flash(f"Kartu {blanko} dikoreksi: kembali menunggu diambil di kelurahan.", "success")
    if back == "hilang":
        return redirect(url_for("returns.missing_page"))
    return redirect(url_for("returns.batch_page", batch_id=batch_id, hal=request.args.get("hal") or None))


@bp.route("/pengembalian/berkas/<int:batch_id>/daftar.pdf")
@bp.route("/api/v1/returns/batches/<int:batch_id>/daftar.pdf")
@roles_required(*STAFF)
@api.operation("Daftar serah-terima berkas (PDF)", tags=["pengembalian"], media_type="application/pdf",
               response=api.BINARY)
def batch_pdf(batch_id: int) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        try:
            batch = service.get_batch(session, _scope(session), batch_id)
        except NotFound:
            abort(404)
        doc = documents.batch_document(office, batch, service.batch_items(session, batch))
    return current_app.response_class(documents.batch_pdf(doc), mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename={doc.batch_number}-daftar.pdf"})


@bp.route("/pengembalian/kembali-ke-kantor", methods=["GET", "POST"])
@roles_required(*STAFF)
def back_page() -> Any:
    if request.method == "GET":
        return _back_page()
    blankos = _blankos(request.form.getlist("blanko"), request.form.get("blanko_text"))
    try:
        with unit_of_work() as session:
            cards = service.receive_back(session, current_office(session), blankos, actor())
            ready = sum(c.state is CardState.READY for c in cards)
    except (ReturnsError, TransitionError) as exc:
        return _back_page(error=str(exc), status=422)
    unclear = f"; {len(cards) - ready} alamatnya belum jelas (antrean alamat)" if len(cards) > ready else ""
    flash(f"{len(cards)} kartu diterima kembali di kantor: {ready} siap dikirim pada manifest berikut{unclear}.",
          "success")
    return redirect(url_for("returns.back_page"))


def _back_page(*, error: str | None = None, status: int = 200) -> Any:
    """Moved holders' cards (page `hal`) and cards not collected (page `hal_tidak`); after a refused confirmation,
    the message beside the numbers and the numbers as they were ticked and typed."""
    moved_number, uncollected_number = page_arg(), page_arg("hal_tidak")
    with unit_of_work() as session:
        office = current_office(session)
        moved = queries.back_at_office_page(session, office, CardState.READDRESSED, moved_number)
        uncollected = queries.back_at_office_page(session, office, CardState.NOT_COLLECTED, uncollected_number)
        regions = office_regions(office.code)
    g.page_title = "Kembali ke kantor"
    ticked = set(request.form.getlist("blanko")) if request.method == "POST" else set()
    return render_template("returns_back.html", moved=moved, uncollected=uncollected, S=CardState, error=error,
                           ticked=ticked, typed=request.form.get("blanko_text", "") if request.method == "POST" else "",
                           kel_name=functools.partial(kelurahan_name, regions)), status


@bp.route("/pengembalian/meninggal")
@roles_required(*STAFF)
def deceased_page() -> Any:
    number = page_arg()
    with unit_of_work() as session:
        rows = queries.deceased_holders(session, current_office(session))
        # The one returns page with full NIKs (for the civil registry): who opened it is recorded (UU PDP).
        record_access(session, f"Daftar pemilik meninggal dunia (halaman {number})",
                      len(queries.page_of(rows, number).rows), holds=("nik", "nama", "tanggal_lahir", "catatan"))
    g.page_title = "Pemilik meninggal dunia"
    return render_template("returns_deceased.html", page=queries.page_of(rows, number))


@bp.route("/pengembalian/meninggal.csv")
@roles_required(*STAFF)
def deceased_csv() -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        rows = queries.deceased_holders(session, office)
        record_access(session, "Daftar pemilik meninggal dunia (CSV)", len(rows))
    header = ["nik", "nama", "tanggal_lahir", "nomor_blanko", "kode_wilayah", "kelurahan", "kecamatan",
              "dicatat", "petugas", "catatan", "berkas"]
    return csv_response(f"meninggal-{office.code}.csv", header, (
        [r.nik, r.nama, r.tanggal_lahir.isoformat(), r.nomor_blanko, r.kode_wilayah, r.kelurahan, r.kecamatan,
         wib_text(r.recorded_at, ""), r.officer, r.note, r.batch_number] for r in rows))


@bp.route("/pengembalian/hilang")
@roles_required(*STAFF)
def missing_page() -> Any:
    return _missing_page()


def _missing_page(*, error: str | None = None, item_id: int | None = None, status: int = 200) -> Any:
    number = page_arg()
    with unit_of_work() as session:
        office = current_office(session)
        regions = office_regions(office.code)
        page = queries.page_of(queries.missing_cards(session, office), number)
    g.page_title = "Kartu hilang"
    return render_template("returns_missing.html", page=page, error=error, error_item=item_id,
                           values=request.form if request.method == "POST" else {},
                           kel_name=functools.partial(kelurahan_name, regions)), status


# --- records the officers made offline that met a changed card (returns/offline.py) -----------------------------------


@bp.route("/pengembalian/konflik")
@roles_required(*STAFF)
def conflicts_page() -> Any:
    return _conflicts_page()


def _conflicts_page(*, error: str | None = None, conflict_id: int | None = None, status: int = 200) -> Any:
    """The conflicts to decide (`?status=OPEN`, the default), decided ones (`ACCEPTED`, `REJECTED`) or all (`ALL`):
    the officer's record beside what the office has now; after a refused decision, the message beside its form."""
    wanted = request.args.get("status") or ConflictStatus.OPEN.value
    chosen = ConflictStatus(wanted) if wanted in ConflictStatus.__members__ else None
    number = page_arg()
    with unit_of_work() as session:
        office = current_office(session)
        rows = offline.conflicts(session, _scope(session), status=chosen)
        regions = office_regions(office.code)
    g.page_title = "Konflik catatan luring"
    return render_template("returns_conflicts.html", page=queries.page_of(rows, number), chosen=chosen,
                           statuses=list(ConflictStatus), labels=CONFLICT_STATUS_LABELS, error=error,
                           error_conflict=conflict_id, values=request.form if request.method == "POST" else {},
                           kel_name=functools.partial(kelurahan_name, regions)), status


def _decide(session: Session, conflict_id: int, accept: bool, note: str) -> Any:
    office = current_office(session)
    return offline.decide(session, _scope(session), conflict_id, accept, note, actor(), deadline_days=_deadline_days(),
                          pipeline_for=lambda: AddressPipeline.for_office(session, office.code, current_app.config))


@bp.route("/pengembalian/konflik/<int:conflict_id>", methods=["POST"])
@roles_required(*STAFF)
def decide_page(conflict_id: int) -> Any:
    choice = request.form.get("keputusan")
    if choice not in ("terima", "tolak"):
        return _conflicts_page(error="Pilih keputusan: terima atau tolak catatan petugas.", conflict_id=conflict_id,
                               status=422)
    try:
        with unit_of_work() as session:
            conflict = _decide(session, conflict_id, choice == "terima", request.form.get("alasan", ""))
            what = offline.conflict_view(session, conflict)
    except NotFound:
        abort(404)
    except (ReturnsError, TransitionError) as exc:
        return _conflicts_page(error=str(exc), conflict_id=conflict_id, status=422)
    subject = f"kartu {what.nomor_blanko} ({what.nama})" if what.nomor_blanko else f"berkas {what.batch_number}"
    done = "diterima dan diterapkan" if choice == "terima" else "ditolak; catatan kantor tetap berlaku"
    flash(f"Konflik #{conflict_id}, {subject}: catatan petugas {what.officer} {done}.", "success")
    return redirect(url_for("returns.conflicts_page", status=request.args.get("status") or None,
                            hal=request.args.get("hal") or None))


@bp.route("/pengembalian/pengingat")
@roles_required(*STAFF)
def reminders_page() -> Any:
    chosen = (request.args.get("kelurahan") or "").strip() or None
    number = page_arg()
    with unit_of_work() as session:
        groups = _reminders(session, current_office(session))
    group = next((grp for grp in groups if grp.kode_wilayah == chosen), None)
    g.page_title = "Pengingat kelurahan"
    return render_template("returns_reminders.html", groups=groups, group=group, chosen=chosen,
                           page=queries.page_of(group.items, number) if group else None,
                           reminder_days=_reminder_days(), deadline_days=_deadline_days())


@bp.route("/pengembalian/pengingat.csv")
@roles_required(*STAFF)
def reminders_csv() -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        groups = _reminders(session, office)
    header = ["kode_wilayah", "kelurahan", "kecamatan", "petugas", "nomor_blanko", "nama", "alasan", "berkas",
              "diterima_kelurahan", "hari_menunggu", "batas_pengambilan"]
    return csv_response(f"pengingat-{office.code}.csv", header, (
        [grp.kode_wilayah, grp.kelurahan, grp.kecamatan, ", ".join(grp.officers), it.nomor_blanko, it.nama,
         it.reason_label, it.batch_number, wib_text(it.received_at, ""), it.days_waiting, wib_text(it.deadline, "")]
        for grp in groups for it in grp.items))


@bp.route("/pengembalian/petugas", methods=["GET", "POST"])
@roles_required(*STAFF)
def officers_page() -> Any:
    form: dict[str, str] = {}
    error: tuple[str, str] | None = None  # (field, message) of a refused account
    status = 200
    if request.method == "POST":
        form = {k: (request.form.get(k) or "").strip() for k in ("username", "full_name", "kelurahan")}
        try:
            with unit_of_work() as session:
                office = current_office(session)
                others = [u.username for u in queries.officers(session, office)
                          if u.active and u.kelurahan_code == form["kelurahan"]]
                user = create_user(session, form["username"], request.form.get("password") or "", Role.OFFICER,
                                   office_code=office.code, kelurahan_code=form["kelurahan"] or None,
                                   full_name=form["full_name"])
                kel = office_regions(office.code).kelurahan[user.kelurahan_code]
            flash(f"Akun petugas '{user.username}' untuk {kel.label} dibuat.", "success")
            if others:
                # One account per kelurahan is the norm, not a rule: a second officer may cover leave.
                flash(f"Perhatian: {kel.name} sudah punya akun petugas aktif ({', '.join(others)}). Biasanya satu "
                      "akun per kelurahan; nonaktifkan akun yang tidak dipakai.", "info")
            return redirect(url_for("returns.officers_page"))
        except UserError as exc:
            error, status = (_account_field(str(exc)), str(exc)), 422
    with unit_of_work() as session:
        office = current_office(session)
        officers = queries.officers(session, office)
        changes = account_events(session, [u.id for u in officers])
        locked = locked_since(session, [u.id for u in officers])
        regions = office_regions(office.code)
    taken: dict[str, list[str]] = defaultdict(list)
    for u in officers:
        if u.active:
            taken[u.kelurahan_code].append(u.username)
    g.page_title = "Akun petugas kelurahan"
    return render_template("returns_officers.html", officers=officers, changes=changes, locked=locked,
                           regions=regions, taken=taken, form=form, error=error,
                           kel_name=functools.partial(kelurahan_name, regions)), status


def _account_field(message: str) -> str:
    """The account form's field a refusal of `create_user` is about."""
    text = message.lower()
    if "kata sandi" in text:
        return "password"
    return "kelurahan" if "kelurahan" in text else "username"


@bp.route("/pengembalian/petugas/<int:user_id>/status", methods=["POST"])
@roles_required(*STAFF)
def officer_status_page(user_id: int) -> Any:
    active = request.form.get("active") == "1"
    with unit_of_work() as session:
        user = session.get(User, user_id)
        if user is None or user.role is not Role.OFFICER or user.office_id != current_office(session).id:
            abort(404)
        set_active(session, user, active, actor())
        name = user.username
    flash(f"Akun '{name}' {'diaktifkan' if active else 'dinonaktifkan'}.", "success")
    return redirect(url_for("returns.officers_page"))


# --- JSON API ------------------------------------------------------------------------------------------------------


def _error(code: str, message: str, status: int) -> Any:
    return json_error(status, message, code)


def _api(view: Callable[..., Any]) -> Callable[..., Any]:
    """Map the service's errors to the API's answers, always in the same shape."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except NotFound as exc:
            return _error("not_found", str(exc), 404)
        except (ReturnsError, TransitionError) as exc:
            return _error("invalid", str(exc), 422)

    return wrapped


BLANKOS = api.obj({"nomor_blanko": api.array(api.NOMOR_BLANKO, 10_000, min_items=1)}, required=["nomor_blanko"])
REASON = api.obj({"reason": api.string(500)})
RETURN_BATCH = {"type": "object", "required": ["id", "status"],
                "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}}
RETURN_BATCHES = {"type": "object", "required": ["batches"],
                  "properties": {"batches": {"type": "array", "items": RETURN_BATCH}}}


@bp.route("/api/v1/returns/candidates")
@roles_required(*STAFF)
@_api
@api.operation("Kartu kembali yang menunggu dibuatkan berkas, per kelurahan", tags=["pengembalian"],
               response={"type": "object", "required": ["kelurahan", "total"],
                         "properties": {"kelurahan": {"type": "array"}, "total": {"type": "integer"}}})
def candidates_api() -> Any:
    with unit_of_work() as session:
        rows = queries.candidates(session, current_office(session))
    return jsonify(kelurahan=jsonable(rows), total=sum(r.cards for r in rows))


@bp.route("/api/v1/returns/batches", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Buat berkas serah-terima per kelurahan", tags=["pengembalian"], status=201, response=RETURN_BATCHES,
               errors=[422], body=api.obj({"kelurahan": api.nullable(api.array(api.KODE_KELURAHAN, 1000))}))
def build_api(body: dict[str, Any]) -> Any:
    codes = body.get("kelurahan")
    with unit_of_work() as session:
        office = current_office(session)
        regions = office_regions(office.code)
        out = [_batch_json(b, regions) for b in service.build_batches(session, office, actor(), codes)]
    return jsonify(batches=out), 201


@bp.route("/api/v1/returns/batches")
@roles_required(*STAFF)
@_api
@api.operation("Daftar berkas serah-terima", tags=["pengembalian"], response=RETURN_BATCHES,
               query=api.obj({"status": api.enum([b.value for b in BatchStatus]), "kelurahan": api.KODE_KELURAHAN}))
def batches_api(query: dict[str, Any]) -> Any:
    status = query.get("status")
    with unit_of_work() as session:
        regions = office_regions(current_office(session).code)
        batches = service.list_batches(session, _scope(session), status=BatchStatus(status) if status else None,
                                       kelurahan_code=query.get("kelurahan"), limit=10_000)
        return jsonify(batches=[_batch_json(b, regions) for b in batches])


def _batch_detail(session: Session, batch_id: int) -> dict[str, Any]:
    batch = service.get_batch(session, _scope(session), batch_id)
    out = _batch_json(batch, office_regions(current_office(session).code))
    out["item_list"] = [_item_json(it, card) for it, card in service.batch_items(session, batch)]
    out["history"] = [{"from": e.from_status, "to": e.to_status, "at": e.at.isoformat(), "actor": e.actor,
                       "note": e.note} for e in queries.batch_history(session, batch.id)]
    return out


@bp.route("/api/v1/returns/batches/<int:batch_id>")
@roles_required(*STAFF)
@_api
@api.operation("Satu berkas dengan kartu dan riwayatnya", tags=["pengembalian"], response=RETURN_BATCH)
def batch_api(batch_id: int) -> Any:
    with unit_of_work() as session:
        return jsonify(_batch_detail(session, batch_id))


@bp.route("/api/v1/returns/batches/<int:batch_id>/dispatch", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Kirim berkas ke kelurahan", tags=["pengembalian"], response=RETURN_BATCH, errors=[422],
               body=api.obj({}))
def dispatch_api(batch_id: int, body: dict[str, Any]) -> Any:
    with unit_of_work() as session:
        batch = service.dispatch(session, _scope(session), batch_id, actor())
        return jsonify(_batch_json(batch, office_regions(current_office(session).code)))


@bp.route("/api/v1/returns/batches/<int:batch_id>/cancel", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Batalkan berkas", tags=["pengembalian"], response=RETURN_BATCH, errors=[422], body=REASON)
def cancel_api(batch_id: int, body: dict[str, Any]) -> Any:
    reason = body.get("reason", "")
    with unit_of_work() as session:
        batch = service.cancel_batch(session, _scope(session), batch_id, actor(), reason)
        return jsonify(_batch_json(batch, office_regions(current_office(session).code)))


@bp.route("/api/v1/returns/batches/<int:batch_id>/remove", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Keluarkan kartu dari berkas yang belum dikirim", tags=["pengembalian"], errors=[422], body=BLANKOS,
               response={"type": "object", "required": ["removed", "batch"],
                         "properties": {"removed": {"type": "integer"}, "batch": RETURN_BATCH}})
def remove_api(batch_id: int, body: dict[str, Any]) -> Any:
    blankos = body["nomor_blanko"]
    with unit_of_work() as session:
        removed = service.remove_cards(session, _scope(session), batch_id, blankos, actor())
        batch = service.get_batch(session, _scope(session), batch_id)
        return jsonify(removed=removed, batch=_batch_json(batch, office_regions(current_office(session).code)))


@bp.route("/api/v1/returns/items/<int:item_id>/correct", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Koreksi catatan kelurahan atas satu kartu (alasan wajib)", tags=["pengembalian"], errors=[422],
               body=api.obj({"reason": api.string(500, min_length=1)}, required=["reason"]),
               response={"type": "object", "required": ["batch_id", "item"],
                         "properties": {"batch_id": {"type": "integer"}, "item": api.ANY_OBJECT}})
def correct_api(item_id: int, body: dict[str, Any]) -> Any:
    reason = body["reason"]
    with unit_of_work() as session:
        item = service.correct(session, _scope(session), item_id, actor(), reason)
        return jsonify(batch_id=item.batch_id, item=_item_json(item, item.card))


@bp.route("/api/v1/returns/receive-back", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Terima kembali di kantor kartu yang dikembalikan kelurahan", tags=["pengembalian"], errors=[422],
               body=BLANKOS, response={"type": "object", "required": ["cards"],
                                       "properties": {"cards": {"type": "array"}}})
def receive_back_api(body: dict[str, Any]) -> Any:
    blankos = body["nomor_blanko"]
    with unit_of_work() as session:
        cards = service.receive_back(session, current_office(session), blankos, actor())
        return jsonify(cards=[{"nomor_blanko": c.nomor_blanko, "state": c.state.value, "state_label": c.state_label}
                              for c in cards])


CONFLICTS = {"type": "object", "required": ["conflicts"], "properties": {"conflicts": {"type": "array"}}}
CONFLICT_VIEW = {"type": "object", "required": ["id", "status"],
                 "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}}


@bp.route("/api/v1/returns/conflicts")
@roles_required(*STAFF)
@_api
@api.operation("Catatan luring petugas kelurahan yang bertemu kartu yang sudah berubah (konflik)",
               tags=["pengembalian"], response=CONFLICTS,
               query=api.obj({"status": api.enum([s.value for s in ConflictStatus])}))
def conflicts_api(query: dict[str, Any]) -> Any:
    status = query.get("status")
    with unit_of_work() as session:
        rows = offline.conflicts(session, _scope(session), status=ConflictStatus(status) if status else None)
    return jsonify(conflicts=jsonable(rows))


@bp.route("/api/v1/returns/conflicts/<int:conflict_id>/decision", methods=["POST"])
@roles_required(*STAFF)
@_api
@api.operation("Putuskan konflik catatan luring: terima (diterapkan) atau tolak (catatan kantor tetap)",
               tags=["pengembalian"], errors=[422], response=CONFLICT_VIEW,
               body=api.obj({"decision": api.enum(["ACCEPT", "REJECT"]), "note": api.string(500, min_length=1)},
                            required=["decision", "note"]))
def decide_api(conflict_id: int, body: dict[str, Any]) -> Any:
    with unit_of_work() as session:
        conflict = _decide(session, conflict_id, body["decision"] == "ACCEPT", body["note"])
        return jsonify(jsonable(offline.conflict_view(session, conflict)))


@bp.route("/api/v1/returns/report")
@roles_required(*STAFF)
@_api
@api.operation("Rekap pengembalian dan serah-terima kelurahan", tags=["pengembalian"])
def report_api() -> Any:
    with unit_of_work() as session:
        return jsonify(service.returns_report(session, current_office(session)))


@bp.route("/api/v1/returns/deceased")
@roles_required(*STAFF)
@_api
@api.operation("Pemilik kartu yang meninggal (untuk pemutakhiran register; berisi NIK lengkap)",
               tags=["pengembalian"], response={"type": "object", "required": ["holders"],
                                                 "properties": {"holders": {"type": "array"}}})
def deceased_api() -> Any:
    with unit_of_work() as session:
        rows = queries.deceased_holders(session, current_office(session))
        record_access(session, "Daftar pemilik meninggal dunia (API)", len(rows))
    return jsonify(holders=jsonable(rows))


@bp.route("/api/v1/returns/reminders")
@roles_required(*STAFF)
@_api
@api.operation("Kartu menunggu lama di kelurahan (pengingat dan batas waktu)", tags=["pengembalian"],
               response={"type": "object", "required": ["total", "kelurahan"],
                         "properties": {"total": {"type": "integer"}, "kelurahan": {"type": "array"}}})
def reminders_api() -> Any:
    with unit_of_work() as session:
        groups = _reminders(session, current_office(session))
    return jsonify(reminder_days=_reminder_days(), deadline_days=_deadline_days(),
                   total=sum(grp.cards for grp in groups), kelurahan=jsonable(groups))
