"""Intake and sorting pages and their JSON API (steps 1-2 of the flow). Thin: parse, call an operation, show the
result."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app import api, jobs
from app.auth import actor, current_office, roles_required
from app.cards import Card, CardState
from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Role
from app.privacy import record_access
from app.regions import office_regions
from app.web import csv_response, json_error, page_arg, paginate
from manifests import sorting
from manifests.intake import service
from manifests.intake.models import IntakeDifference, IntakeRejection, PrintRun, Withdrawal
from manifests.intake.reader import IntakeFileError

bp = Blueprint("intake", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)
ALLOWED = (".csv", ".txt", ".xlsx")

def _saved_upload(upload: FileStorage | None) -> tuple[Path, str]:
    """The uploaded file saved in the instance folder (where a worker can read it), and its name."""
    if upload is None or not upload.filename:
        raise IntakeFileError("Pilih berkas cetakan (CSV atau XLSX) terlebih dahulu.")
    name = os.path.basename(upload.filename)
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in ALLOWED:
        raise IntakeFileError(f"Berkas '{name}' bukan CSV atau XLSX.")
    fd, path = tempfile.mkstemp(suffix=suffix, dir=service.uploads_folder(), prefix=".upload-")
    with os.fdopen(fd, "wb") as f:
        upload.save(f)
    return Path(path), name


def _import_upload(upload: FileStorage | None) -> service.ImportResult:
    """Import at once, in this request (the JSON API without `Prefer: respond-async`)."""
    path, name = _saved_upload(upload)
    try:
        with unit_of_work() as session:
            return service.import_print_run(
                session, path, office=current_office(session), actor=actor(), filename=name,
                chunk_rows=current_app.config["INTAKE_CHUNK_ROWS"])
    finally:
        path.unlink(missing_ok=True)


def _start_import(upload: FileStorage | None) -> tuple[int | None, int | None]:
    """Start the import as a background job: (job id, None), or (None, earlier run) for a file imported before."""
    path, name = _saved_upload(upload)
    with unit_of_work() as session:
        office = current_office(session)
    return service.start_import(path, name, office, actor())


def _result_json(r: service.ImportResult) -> dict[str, Any]:
    return {
        "print_run_id": r.print_run_id, "filename": r.filename, "same_file_as": r.same_file_as,
        "rows_read": r.rows_read, "cards_imported": r.cards_imported, "duplicates": r.duplicates,
        "withdrawn": r.withdrawn, "already_imported": r.already_imported, "rows_rejected": r.rows_rejected,
        "rejected": [{"line": x.line, "field": x.field, "reason": x.reason} for x in r.rejected],
        "rows_changed": r.rows_changed,
        "changed": [{"line": x.line, "nomor_blanko": x.nomor_blanko, "card_id": x.card_id, "fields": list(x.fields)}
                    for x in r.changed],
    }

# The upload's answer lists the first rejected rows; the print run's page has all of them, page by page.
PAGE_PREVIEW = 50


@bp.route("/impor", methods=["GET", "POST"])
@roles_required(*STAFF)
def intake_page() -> Any:
    """The upload form, the recent imports and the print runs. An upload runs as a background job: the answer is
    the job's page (or, for a file imported before, its print run); a file that is refused comes back here with
    the message beside the field."""
    g.page_title = "Impor cetakan"
    number = page_arg()
    error, status = None, 200
    if request.method == "POST":
        try:
            job_id, earlier = _start_import(request.files.get("file"))
        except IntakeFileError as exc:
            error, status = str(exc), 400
        else:
            if earlier is not None:
                flash(f"Berkas ini sudah diimpor sebagai print run #{earlier}. Tidak ada yang diimpor ulang.", "info")
                return redirect(url_for("intake.run_page", run_id=earlier))
            return redirect(url_for("jobs.job_page", job_id=job_id))
    with unit_of_work() as session:
        office = current_office(session)
        office_id = office.id
        runs = paginate(session, select(PrintRun.id, PrintRun.filename, PrintRun.imported_at, PrintRun.imported_by,
                                        PrintRun.cards_imported, PrintRun.rows_rejected)
                        .where(PrintRun.office_id == office.id).order_by(PrintRun.id.desc()), number)
    return render_template("intake.html", result=None, runs=runs, error=error, jobs=jobs.recent_jobs(office_id, 5),
                           rejected_preview=PAGE_PREVIEW), status


PRINT_RUN_RESULT = {"type": "object", "properties": {
    "print_run_id": {"type": ["integer", "null"]},
    "already_imported": {"type": "integer", "description": "baris yang kartunya sudah dibuat print run sebelumnya"},
    "rows_changed": {"type": "integer", "description": "dari baris itu, yang isinya di berkas ini berbeda dari "
                                                       "kartunya (kartu tidak diubah)"},
    "changed": {"type": "array", "items": {
        "type": "object", "required": ["line", "nomor_blanko", "card_id", "fields"],
        "properties": {"line": {"type": "integer"}, "nomor_blanko": {"type": "string"}, "card_id": {"type": "integer"},
                       "fields": {"type": "array", "items": {"type": "string"},
                                  "description": "kolom berkas yang berbeda"}}}}}}


@bp.route("/api/v1/print-runs", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Impor berkas cetak (CSV atau XLSX, spesifikasi card-intake-format)", tags=["impor"], status=201,
               response=PRINT_RUN_RESULT,
               multipart={"type": "object", "required": ["file"],
                          "properties": {"file": api.BINARY}},
               responses={200: ("Berkas yang sama sudah diimpor (tidak diimpor dua kali)", PRINT_RUN_RESULT),
                          202: ("Impor berjalan sebagai tugas (Prefer: respond-async)",
                                {"type": "object", "required": ["job_id", "job_url"]})},
               parameters=[{"name": "Prefer", "in": "header", "required": False,
                            "schema": {"type": "string", "maxLength": 100},
                            "description": "respond-async: impor sebagai tugas latar belakang (202)"}])
def intake_api() -> Any:
    """Import a print run. With `Prefer: respond-async` (RFC 7240) the import runs as a background job: 202 with
    the job's URL (Location) to poll; without it, the answer waits for the import (201, or 200 for a known file)."""
    try:
        if "respond-async" in request.headers.get("Prefer", ""):
            job_id, earlier = _start_import(request.files.get("file"))
            if earlier is not None:
                return jsonify(print_run_id=None, same_file_as=earlier), 200
            location = url_for("jobs.job_api", job_id=job_id)
            return jsonify(job_id=job_id, job_url=location,
                           page_url=url_for("jobs.job_page", job_id=job_id)), 202, {"Location": location}
        result = _import_upload(request.files.get("file"))
    except IntakeFileError as exc:
        return json_error(400, str(exc), "invalid_file")
    return jsonify(_result_json(result)), 200 if result.same_file_as else 201

def _own_run(session: Any, run_id: int) -> PrintRun:
    run = session.get(PrintRun, run_id)
    if run is None or run.office_id != current_office(session).id:
        abort(404)
    return run

@bp.route("/impor/<int:run_id>")
@roles_required(*STAFF)
def run_page(run_id: int) -> Any:
    number = page_arg()
    with unit_of_work() as session:
        run = _own_run(session, run_id)
        rejected = paginate(session, select(IntakeRejection.line, IntakeRejection.field, IntakeRejection.reason)
                            .where(IntakeRejection.print_run_id == run.id)
                            .order_by(IntakeRejection.line, IntakeRejection.id), number)
        # Full NIKs in the reasons: staff correct these rows in SIAK (UU PDP: who opened them is recorded).
        record_access(session, f"Baris ditolak print run #{run.id} (halaman {number})", len(rejected.rows),
                      holds=("nik", "baris_ditolak"))
        changed = paginate(session, select(IntakeDifference.line, IntakeDifference.fields, Card.nomor_blanko)
                           .join(Card, Card.id == IntakeDifference.card_id)
                           .where(IntakeDifference.print_run_id == run.id)
                           .order_by(IntakeDifference.line, IntakeDifference.id), page_arg(CHANGED_PAGE))
        states = dict(session.execute(
            select(Card.state, func.count()).where(Card.print_run_id == run.id).group_by(Card.state)).all())
    g.page_title = f"Print run #{run_id}"
    return render_template("run.html", run=run, rejected=rejected, states=states, changed=changed,
                           changed_param=CHANGED_PAGE)


# The print run's page: the rows already imported whose file says something else are a second list, with its page.
CHANGED_PAGE = "hal_beda"


@bp.route("/impor/<int:run_id>/ditolak.csv")
@roles_required(*STAFF)
def run_rejections_csv(run_id: int) -> Any:
    with unit_of_work() as session:
        run = _own_run(session, run_id)
        rows = session.execute(
            select(IntakeRejection.line, IntakeRejection.field, IntakeRejection.reason)
            .where(IntakeRejection.print_run_id == run.id).order_by(IntakeRejection.line)).all()
        record_access(session, f"Baris ditolak print run #{run.id} (CSV)", len(rows), holds=("nik", "baris_ditolak"))
    return csv_response(f"ditolak-run-{run_id}.csv", ["baris", "kolom", "alasan"], rows)


@bp.route("/penyortiran", methods=["GET"])
@roles_required(*STAFF)
def sorting_page() -> Any:
    return _sorting_page()


def _sorting_page(*, form: str | None = None, field: str | None = None, error: str | None = None,
                  status: int = 200) -> Any:
    """The sorting page; after a refused form, the message beside its field and the form as it was typed."""
    number = page_arg()
    with unit_of_work() as session:
        office = current_office(session)
        withdrawals = session.scalars(
            select(Withdrawal).where(Withdrawal.office_id == office.id).order_by(Withdrawal.id.desc())).all()
        damaged = paginate(session, select(Card.nomor_blanko, Card.nama, Card.state_changed_at).where(
            Card.office_id == office.id, Card.state == CardState.DAMAGED).order_by(Card.nomor_blanko), number)
        regions = office_regions(office.code)
    g.page_title = "Penyortiran"
    values = request.form if request.method == "POST" else {}
    return render_template("sorting.html", withdrawals=withdrawals, damaged=damaged, regions=regions,
                           failed=form, field=field, error=error, values=values), status


@bp.route("/penyortiran/rusak", methods=["POST"])
@roles_required(*STAFF)
def sorting_damaged() -> Any:
    blankos, reason = request.form.get("blanko", "").split(), request.form.get("reason", "")
    try:
        with unit_of_work() as session:
            cards = sorting.mark_damaged(session, current_office(session), blankos, actor(), reason)
    except sorting.SortingError as exc:
        # The operation checks the numbers first, then the reason: the message belongs to the first one missing.
        field = "reason" if blankos and not reason.strip() else "blanko"
        return _sorting_page(form="damaged", field=field, error=str(exc), status=422)
    flash(f"{len(cards)} kartu ditandai rusak.", "success")
    return redirect(url_for("intake.sorting_page"))


@bp.route("/penyortiran/tarik", methods=["POST"])
@roles_required(*STAFF)
def sorting_withdraw() -> Any:
    kelurahan, reason = request.form.get("kelurahan", ""), request.form.get("reason", "")
    field = "rws"
    try:
        rws = sorting.parse_rws(request.form.get("rws", ""))
        field = _withdraw_field(kelurahan, reason)
        result = _withdraw(kelurahan, rws, reason)
    except sorting.SortingError as exc:
        return _sorting_page(form="withdraw", field=field, error=str(exc), status=422)
    flash(f"Penarikan #{result.withdrawal_id}: {result.cards_withdrawn} kartu ditarik.", "success")
    if result.recalls:
        asked = sum(1 for r in result.recalls if r.answer.outcome.value == "accepted")
        flash(f"{len(result.recalls)} kartu di wilayah ini sudah di tangan kurir: {asked} diminta ditarik kembali "
              f"(lihat riwayat manifest untuk jawaban kurir).", "info")
    return redirect(url_for("intake.sorting_page"))


def _withdraw_field(kelurahan: str, reason: str) -> str:
    """The field a refused withdrawal is about, in the order the operation checks them."""
    with unit_of_work() as session:
        known = office_regions(current_office(session).code).kelurahan
    if kelurahan.strip() not in known:
        return "kelurahan"
    return "reason" if not reason.strip() else "kelurahan"


def _withdraw(kelurahan: str, rws: list[str], reason: str) -> sorting.WithdrawalResult:
    with unit_of_work() as session:
        code = current_office(session).code
    return sorting.withdraw_and_recall(code, kelurahan, rws, reason, actor(),
                                       CourierClient.configured(current_app.config))


@bp.route("/api/v1/sorting/damaged", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Sisihkan kartu rusak saat penyortiran (semua atau tidak sama sekali)", tags=["penyortiran"],
               errors=[422], body=api.obj({"nomor_blanko": api.array(api.NOMOR_BLANKO, 10_000, min_items=1),
                                           "reason": api.string(500, min_length=1)},
                                          required=["nomor_blanko", "reason"]),
               response={"type": "object", "required": ["cards"], "properties": {"cards": {"type": "array"}}})
def sorting_damaged_api(body: dict[str, Any]) -> Any:
    try:
        with unit_of_work() as session:
            cards = sorting.mark_damaged(session, current_office(session), body["nomor_blanko"], actor(),
                                         body["reason"])
            out = [{"nomor_blanko": c.nomor_blanko, "state": c.state.value} for c in cards]
    except sorting.SortingError as exc:
        return json_error(422, str(exc), "invalid")
    return jsonify(cards=out)

@bp.route("/api/v1/sorting/withdrawals", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Tarik semua kartu satu kelurahan, atau beberapa RW-nya (kurir diminta mengembalikan yang sudah "
               "diserahkan)", tags=["penyortiran"], status=201, errors=[422],
               body=api.obj({"kelurahan": api.KODE_KELURAHAN,
                             "rws": api.array(api.string(3, pattern=r"^\d{1,3}$", description="1-3 angka"), 100,
                                              description="Kosong atau tidak ada: seluruh kelurahan"),
                             "reason": api.string(500, min_length=1)}, required=["kelurahan", "reason"]),
               response={"type": "object", "required": ["id", "kelurahan", "cards_withdrawn"],
                         "properties": {"id": {"type": "integer"}, "cards_withdrawn": {"type": "integer"}}})
def sorting_withdraw_api(body: dict[str, Any]) -> Any:
    try:
        result = _withdraw(body["kelurahan"], sorting.parse_rws(body.get("rws") or []), body["reason"])
    except sorting.SortingError as exc:
        return json_error(422, str(exc), "invalid")
    return jsonify({"id": result.withdrawal_id, "kelurahan": result.kelurahan_code, "rws": result.rws,
                    "cards_withdrawn": result.cards_withdrawn,
                    "recalls": [{"tracking_number": r.tracking_number, "nomor_blanko": r.nomor_blanko,
                                 "outcome": r.answer.outcome.value, "http_status": r.answer.http_status}
                                for r in result.recalls]}), 201

@bp.route("/api/v1/cards/<nomor_blanko>")
@roles_required(*STAFF)
@api.operation("Satu kartu dengan riwayat statusnya (siapa, kapan, mengapa)", tags=["kartu"],
               response={"type": "object", "required": ["nomor_blanko", "state", "history"],
                         "properties": {"nomor_blanko": {"type": "string"}, "state": {"type": "string"},
                                        "history": {"type": "array"}}})
def card_api(nomor_blanko: str) -> Any:
    with unit_of_work() as session:
        card = session.scalar(select(Card).where(
            Card.nomor_blanko == nomor_blanko, Card.office_id == current_office(session).id))
        if card is None:
            abort(404)
        return jsonify({
            "nomor_blanko": card.nomor_blanko, "nama": card.nama, "state": card.state.value,
            "state_label": card.state_label, "kelurahan_code": card.kelurahan_code,
            "history": [{"from": h.from_state and h.from_state.value, "to": h.to_state.value,
                         "at": h.at.isoformat(), "actor": h.actor, "reason": h.reason} for h in card.history],
        })
