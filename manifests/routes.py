"""Manifest pages and their JSON API: list, build (with preview), detail, edit, finalize, hand over, documents; the
bulk actions on the list (lock every draft, hand over, all Berita Acara as one ZIP) and the build run as background
jobs."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from sqlalchemy import func, select

from app import api, jobs
from app.auth import actor, current_office, roles_required
from app.cards import Card
from app.courier.client import CourierClient, CourierConfigError
from app.courier.tracking import REASON_LABELS, STATUS_LABELS, Status
from app.db import unit_of_work
from app.models import Office, Role
from app.regions import office_regions
from app.web import Page, json_error, page_arg, paginate
from manifests import documents, handover, service
from manifests.models import MANIFEST_STATUS_LABELS, Manifest, ManifestStatus
from manifests.postoffice import post_offices
from manifests.service import ManifestError, TrackingRange

bp = Blueprint("manifests", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)


def _int_arg(source: Any, name: str, default: int | None) -> int | None:
    raw = source.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ManifestError(f"'{name}' harus bilangan bulat, bukan {raw!r}.") from None
    if value < 1:
        raise ManifestError(f"'{name}' harus minimal 1.")
    return value


def _filters(source: Any) -> dict[str, Any]:
    return {"post_office": (source.get("post_office") or "").strip() or None,
            "kecamatan": (source.get("kecamatan") or "").strip() or None,
            "cap": _int_arg(source, "max_items", current_app.config["ANTAR_MANIFEST_MAX_ITEMS"])}


def _client() -> CourierClient:
    return CourierClient.from_config(current_app.config)


def _courier_problem() -> str | None:
    return handover.courier_problem(current_app.config)


def _manifest_json(m: Manifest, items: list[documents.DocItem] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": m.id, "number": m.number, "status": m.status.value, "status_label": m.status_label,
        "post_office": {"code": m.post_office_code, "name": m.post_office_name}, "kecamatan_code": m.kecamatan_code,
        "items": m.item_count, "created_at": m.created_at.isoformat(), "created_by": m.created_by,
        "finalized_at": m.finalized_at and m.finalized_at.isoformat(),
        "handed_over_at": m.handed_over_at and m.handed_over_at.isoformat(),
        "pickup_scheduled_at": m.pickup_scheduled_at, "handover_attempts": m.handover_attempts,
        "last_error": m.last_error,
    }
    if items is not None:
        out["item_list"] = [{"seq": i.seq, "tracking_number": i.tracking_number or None, "recipient_name":
                             i.recipient_name, "address": documents.short_address(i), "kelurahan": i.kelurahan,
                             "kecamatan": i.kecamatan, "kode_pos": i.kode_pos} for i in items]
        out["history"] = [{"from": e.from_status and e.from_status.value, "to": e.to_status and e.to_status.value,
                           "at": e.at.isoformat(), "actor": e.actor, "note": e.note} for e in m.events]
    return out


def _error(exc: Exception, status: int = 422) -> Any:
    return json_error(status, str(exc), "invalid")


# --- pages -------------------------------------------------------------------------------------------------

ITEMS_PER_PAGE = 100
# A manifest's history reads as steps: "Draf → Final (terkunci, bernomor resi)".
HISTORY_LABELS: dict[ManifestStatus, str] = {
    ManifestStatus.DRAFT: "Draf",
    ManifestStatus.FINALIZED: MANIFEST_STATUS_LABELS[ManifestStatus.FINALIZED],
    ManifestStatus.HANDED_OVER: "Diserahkan ke kurir",
    ManifestStatus.HANDOVER_FAILED: "Penyerahan gagal",
    ManifestStatus.CLOSED: "Selesai",
    ManifestStatus.CANCELLED: "Dibatalkan",
}
# What each bulk action of the list works on.
DOCUMENT_STATUSES = frozenset(ManifestStatus) - {ManifestStatus.DRAFT, ManifestStatus.CANCELLED}


def _status_arg(raw: str | None) -> ManifestStatus | None:
    return ManifestStatus(raw) if raw in ManifestStatus.__members__ else None


def _office_id() -> int:
    with unit_of_work() as session:
        return current_office(session).id


def _build_scope(raw: str | None, office_id: int) -> dict[str, Any] | None:
    """The manifests of one build (`?tugas=<build job>`): the job's result names them. None: no such filter."""
    if not raw:
        return None
    view = jobs.job_view(int(raw), office_id) if raw.isascii() and raw.isdigit() else None
    if view is None or view["kind"] != service.BUILD_JOB:
        abort(404, description=f"Susunan manifest (tugas #{raw[:20]}) tidak ditemukan.")
    return {"job_id": view["id"], "finished": view["finished"], "status_label": view["status_label"],
            "ids": list((view["result"] or {}).get("manifest_ids") or [])}


@bp.route("/manifest")
@roles_required(*STAFF)
def list_page() -> Any:
    number = page_arg()
    chosen = _status_arg(request.args.get("status"))
    build = _build_scope(request.args.get("tugas"), _office_id())
    ids = build["ids"] if build else None
    with unit_of_work() as session:
        office = current_office(session)
        found = paginate(session, service.manifests_query(office, status=chosen, ids=ids), number)
        per_status = service.status_counts(session, office, ids=ids)
    page = Page([row[0] for row in found.rows], found.number, found.size, found.total)

    def in_scope(statuses: Iterable[ManifestStatus]) -> int:
        return sum(per_status.get(s, (0, 0))[0] for s in statuses if chosen in (None, s))

    g.page_title = f"Hasil susunan manifest (tugas #{build['job_id']})" if build else "Manifest kurir"
    return render_template(
        "manifest_list.html", page=page, per_status=per_status, labels=MANIFEST_STATUS_LABELS,
        statuses=list(ManifestStatus), chosen=chosen, build=build, courier_problem=_courier_problem(),
        drafts=in_scope({ManifestStatus.DRAFT}), waiting=in_scope(handover.HANDOVER_FROM),
        with_documents=in_scope(DOCUMENT_STATUSES), last_error=handover.in_words)


def _cap_field(raw: str | None, default: int) -> tuple[int | None, str | None]:
    """The build form's "Batas item per manifest": (value, None), or (None, what is wrong, for beside the field)."""
    text = (raw or "").strip()
    if not text:
        return default, None
    if not (text.isascii() and text.lstrip("-").isdigit()):
        return None, (f"Batas item per manifest harus angka bulat, misalnya {default}; "
                      f"yang diisi: “{text[:20]}”.")
    if int(text) < 1:
        return None, f"Batas item per manifest minimal 1; yang diisi: {text[:20]}."
    return int(text), None


def _await_briefly(job_id: int, office_id: int) -> None:
    """Give a job a moment to finish before its page is shown: a small build is then done at once (its page shows
    the result), a large one shows its progress. Bounded by ANTAR_BUILD_WAIT_SECONDS (default 4)."""
    deadline = time.monotonic() + float(current_app.config.get("ANTAR_BUILD_WAIT_SECONDS", 4))
    while time.monotonic() < deadline:
        view = jobs.job_view(job_id, office_id)
        if view is None or view["finished"]:
            return
        time.sleep(0.05)


@bp.route("/manifest/baru", methods=["GET", "POST"])
@roles_required(*STAFF)
def build_page() -> Any:
    source = request.form if request.method == "POST" else request.args
    default_cap = current_app.config["ANTAR_MANIFEST_MAX_ITEMS"]
    post_office = (source.get("post_office") or "").strip() or None
    kecamatan = (source.get("kecamatan") or "").strip() or None
    cap, cap_error = _cap_field(source.get("max_items"), default_cap)
    errors: dict[str, str] = {"max_items": cap_error} if cap_error else {}
    plans = None
    with unit_of_work() as session:
        office = current_office(session)
        errors.update(service.check_build_choice(office, post_office=post_office, kecamatan=kecamatan))
        if not errors and request.method == "GET" and source.get("preview"):
            try:
                plans = service.plan_manifests(session, office, post_office=post_office, kecamatan=kecamatan,
                                               cap=cap)
            except ManifestError as exc:
                errors["form"] = str(exc)
        ready_kec = _ready_by_kecamatan(session, office)
    if request.method == "POST" and not errors:
        submitted = service.start_build(office, actor(), post_office=post_office, kecamatan=kecamatan, cap=cap,
                                        finalize=bool(source.get("finalize")))
        if submitted.existing:
            flash("Susunan yang sama sedang berjalan; ini halamannya.", "info")
        _await_briefly(submitted.job_id, office.id)
        return redirect(url_for("jobs.job_page", job_id=submitted.job_id))
    g.page_title = "Susun manifest"
    return render_template("manifest_build.html", plans=plans, offices=post_offices(office.code).values(),
                           regions=office_regions(office.code), ready_kec=ready_kec, form=source, errors=errors,
                           default_cap=default_cap), 422 if errors else 200


def _ready_by_kecamatan(session: Any, office: Office) -> dict[str, int]:
    from app.cards import CardState

    rows = session.execute(select(func.substr(Card.kelurahan_code, 1, 8), func.count())
                           .where(Card.office_id == office.id, Card.state == CardState.READY,
                                  Card.kelurahan_code.is_not(None))
                           .group_by(func.substr(Card.kelurahan_code, 1, 8))).all()
    return dict(rows)


def _history(events: list[Any]) -> list[dict[str, Any]]:
    """The manifest's history as staff read it: the step in words, the note without HTTP codes (kept as detail)."""
    lines = []
    for e in events:
        if e.to_status is None:
            change = "Catatan"
        elif e.from_status is None:
            change = f"Dibuat: {HISTORY_LABELS[e.to_status]}"
        else:
            change = f"{HISTORY_LABELS[e.from_status]} → {HISTORY_LABELS[e.to_status]}"
        note, detail = handover.in_words(e.note)
        lines.append({"at": e.at, "actor": e.actor, "change": change, "note": note, "detail": detail})
    return lines


def _moment(text: str | None) -> dt.datetime | None:
    """A time the courier sent as ISO 8601 text (the pickup), to show in WIB; None when it is not one."""
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


@bp.route("/manifest/<int:manifest_id>")
@roles_required(*STAFF)
def detail_page(manifest_id: int) -> Any:
    number = page_arg()
    with unit_of_work() as session:
        office = current_office(session)
        try:
            m = service.get_manifest(session, office, manifest_id)
        except ManifestError:
            return render_template("error.html", code=404, title="Tidak ditemukan",
                                   message=f"Manifest #{manifest_id} tidak ditemukan."), 404
        items = handover.item_lines(session, office, m, number, ITEMS_PER_PAGE)
        per_kel = handover.kelurahan_counts(session, office, m)
        history = _history(list(m.events))
        by_status = {(STATUS_LABELS[Status(code)] if code else "Belum ada kabar kurir"): n
                     for code, n in handover.tracking_counts(session, m).items()}
    g.page_title = m.number
    return render_template("manifest_detail.html", m=m, items=items, history=history, per_kel=per_kel,
                           by_status=by_status, status_labels=STATUS_LABELS, reason_labels=REASON_LABELS,
                           Status=Status, short_address=documents.short_address, S=ManifestStatus,
                           last_error=handover.in_words(m.last_error), pickup=_moment(m.pickup_scheduled_at),
                           rejection_errors=handover.rejection_errors(m),
                           courier_problem=_courier_problem())


def _action(manifest_id: int, fn: Any, ok: str) -> Any:
    try:
        with unit_of_work() as session:
            text = fn(session, current_office(session))
        flash(ok.format(text), "success")
    except ManifestError as exc:
        flash(str(exc), "error")
    return redirect(url_for("manifests.detail_page", manifest_id=manifest_id))


@bp.route("/manifest/<int:manifest_id>/kunci", methods=["POST"])
@roles_required(*STAFF)
def finalize_page(manifest_id: int) -> Any:
    tracking = TrackingRange.from_config(current_app.config)
    return _action(manifest_id, lambda s, o: service.finalize(s, o, manifest_id, actor(), tracking).item_count,
                   "Manifest dikunci: {} nomor resi diberikan.")


@bp.route("/manifest/<int:manifest_id>/keluarkan", methods=["POST"])
@roles_required(*STAFF)
def remove_page(manifest_id: int) -> Any:
    blankos = request.form.get("blanko", "").split()
    return _action(manifest_id, lambda s, o: service.remove_cards(s, o, manifest_id, blankos, actor()),
                   "{} kartu dikeluarkan dari manifest.")


@bp.route("/manifest/<int:manifest_id>/tambah", methods=["POST"])
@roles_required(*STAFF)
def add_page(manifest_id: int) -> Any:
    blankos = request.form.get("blanko", "").split()
    return _action(manifest_id, lambda s, o: service.add_cards(s, o, manifest_id, blankos, actor()),
                   "{} kartu ditambahkan ke manifest.")


@bp.route("/manifest/<int:manifest_id>/batal", methods=["POST"])
@roles_required(*STAFF)
def cancel_page(manifest_id: int) -> Any:
    reason = request.form.get("reason", "")
    return _action(manifest_id, lambda s, o: service.cancel(s, o, manifest_id, actor(), reason).number,
                   "Manifest {} dibatalkan; kartunya siap dikirim lagi.")


@bp.route("/manifest/<int:manifest_id>/serahkan", methods=["POST"])
@roles_required(*STAFF)
def handover_page(manifest_id: int) -> Any:
    problem = _courier_problem()
    if problem:
        flash(problem, "error")
        return redirect(url_for("manifests.detail_page", manifest_id=manifest_id))
    try:
        with unit_of_work() as session:
            service.get_manifest(session, current_office(session), manifest_id)
            code = current_office(session).code
        result = handover.hand_over(code, manifest_id, actor(), _client())
        category = "success" if result.answer.ok else "error"
        flash(f"{result.number}: {MANIFEST_STATUS_LABELS[result.status]}. Jawaban kurir: "
              f"{handover.answer_words(result.answer)}.", category)
    except ManifestError as exc:
        flash(str(exc), "error")
    except CourierConfigError:
        flash(handover.NOT_CONFIGURED_URL, "error")
    return redirect(url_for("manifests.detail_page", manifest_id=manifest_id))


# --- many manifests at once: each a background job, answered at once with the job's page -----------------------


def _back() -> str:
    """The list as it was when a bulk action was asked (its filters kept)."""
    args = {k: request.form[k] for k in ("status", "tugas", "hal") if request.form.get(k)}
    return url_for("manifests.list_page", **args)


def _bulk_scope(statuses: Iterable[ManifestStatus]) -> tuple[Office, list[int]]:
    """The office and the manifests a bulk action works on: those ticked on the list, else every one the list's
    filter (status, build) shows, across all its pages; only those in `statuses`."""
    form = request.form
    office_id = _office_id()
    build = _build_scope(form.get("tugas"), office_id)
    ids: list[int] | None = build["ids"] if build else None
    ticked = [int(x) for x in form.getlist("ids") if x.isascii() and x.isdigit()]
    if ticked:
        ids = ticked if ids is None else sorted(set(ticked) & set(ids))
    with unit_of_work() as session:
        office = current_office(session)
        return office, service.scoped_ids(session, office, statuses, status=_status_arg(form.get("status")),
                                          ids=ids)


def _to_job(submitted: jobs.Submitted) -> Any:
    if submitted.existing:
        flash("Tugas yang sama sedang berjalan; ini halamannya.", "info")
    return redirect(url_for("jobs.job_page", job_id=submitted.job_id))


@bp.route("/manifest/kunci-semua", methods=["POST"])
@roles_required(*STAFF)
def finalize_all_page() -> Any:
    office, ids = _bulk_scope({ManifestStatus.DRAFT})
    if not ids:
        flash("Tidak ada draf untuk dikunci pada pilihan ini.", "info")
        return redirect(_back())
    return _to_job(service.start_finalize(office, actor(), ids))


@bp.route("/manifest/serahkan-semua", methods=["POST"])
@roles_required(*STAFF)
def handover_all_page() -> Any:
    problem = _courier_problem()
    if problem:
        flash(problem, "error")
        return redirect(_back())
    office, ids = _bulk_scope(handover.HANDOVER_FROM)
    if not ids:
        flash("Tidak ada manifest final atau gagal diserahkan pada pilihan ini.", "info")
        return redirect(_back())
    return _to_job(handover.start_handover(office, actor(), ids))


@bp.route("/manifest/berita-acara-semua", methods=["POST"])
@roles_required(*STAFF)
def documents_all_page() -> Any:
    office, ids = _bulk_scope(DOCUMENT_STATUSES)
    if not ids:
        flash("Tidak ada manifest terkunci pada pilihan ini: draf belum punya Berita Acara.", "info")
        return redirect(_back())
    return _to_job(handover.start_berita_acara(office, actor(), ids))


@bp.route("/manifest/unduhan/<int:job_id>")
@roles_required(*STAFF)
def download_page(job_id: int) -> Any:
    """The Berita Acara ZIP a job made: for staff of the office that made it only."""
    with unit_of_work() as session:
        office = current_office(session)
        ready = jobs.is_done(session, job_id, office.id, handover.DOCUMENTS_JOB)
        code = office.code.replace(".", "")
    path = handover.export_path(office.id, job_id) if ready else None
    if path is None or not path.is_file():
        return render_template("error.html", code=404, title="Tidak ditemukan",
                               message="Berkas ZIP ini tidak ada (lagi). Buat lagi dari daftar manifest."), 404
    return send_file(path, mimetype="application/zip", as_attachment=True,
                     download_name=f"berita-acara-{code}-tugas-{job_id}.zip")


_DOCS = {
    "berita-acara.pdf": (documents.handover_pdf, "application/pdf"),
    "items.csv": (documents.items_csv, "text/csv; charset=utf-8"),
    "items.xlsx": (documents.items_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


@bp.route("/manifest/<int:manifest_id>/<any('berita-acara.pdf', 'items.csv', 'items.xlsx'):kind>")
@bp.route("/api/v1/manifests/<int:manifest_id>/<any('berita-acara.pdf', 'items.csv', 'items.xlsx'):kind>")
@roles_required(*STAFF)
@api.operation("Dokumen manifest: berita acara (PDF) atau daftar item (CSV, XLSX)", tags=["manifest"],
               response=api.BINARY, media_type=[kind.split(";")[0] for _, kind in _DOCS.values()], errors=[409])
def document(manifest_id: int, kind: str) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        try:
            m = service.get_manifest(session, office, manifest_id)
        except ManifestError as exc:
            return _error(exc, 404)
        if m.status is ManifestStatus.DRAFT:
            return _error(ManifestError(f"Manifest {m.number} masih draf: kunci dulu agar bernomor resi."), 409)
        doc = handover.manifest_document(session, office, m)
    render, mimetype = _DOCS[kind]
    return current_app.response_class(render(doc), content_type=mimetype, headers={
        "Content-Disposition": f"attachment; filename={m.number}-{kind}"})


# --- JSON API ----------------------------------------------------------------------------------------------

POST_OFFICE = api.string(5, pattern=r"^\d{5}$", description="Kode kantor pos (5 angka)")
MAX_ITEMS = api.integer(1, 100_000, description="Paling banyak item per manifest")
FILTERS = {"post_office": POST_OFFICE, "kecamatan": api.KODE_KECAMATAN, "max_items": MAX_ITEMS}
MANIFEST = {"type": "object", "required": ["id", "number", "status", "items"],
            "properties": {"id": {"type": "integer"}, "number": {"type": "string"}, "status": {"type": "string"},
                           "items": {"type": "integer"}}}
MANIFESTS = {"type": "object", "required": ["manifests"], "properties": {"manifests": {"type": "array",
                                                                                      "items": MANIFEST}}}
BLANKO_LIST = api.obj({"nomor_blanko": api.array(api.NOMOR_BLANKO, 10_000, min_items=1)}, required=["nomor_blanko"])


@bp.route("/api/v1/manifests", methods=["GET"])
@roles_required(*STAFF)
@api.operation("Daftar manifest kantor", tags=["manifest"], response=MANIFESTS,
               query=api.obj({"status": api.enum([s.value for s in ManifestStatus])}))
def list_api(query: dict[str, Any]) -> Any:
    status = query.get("status")
    with unit_of_work() as session:
        ms = service.manifest_summary(session, current_office(session),
                                       status=ManifestStatus(status) if status else None, limit=10_000)
        return jsonify(manifests=[_manifest_json(m) for m in ms])


@bp.route("/api/v1/manifests/preview", methods=["GET"])
@roles_required(*STAFF)
@api.operation("Rencana manifest dari kartu siap kirim (tanpa menyimpan)", tags=["manifest"], errors=[422],
               query=api.obj(FILTERS),
               response={"type": "object", "required": ["manifests", "total_items"],
                         "properties": {"manifests": {"type": "array"}, "total_items": {"type": "integer"}}})
def preview_api(query: dict[str, Any]) -> Any:
    try:
        with unit_of_work() as session:
            plans = service.plan_manifests(session, current_office(session), **_filters(query))
    except ManifestError as exc:
        return _error(exc)
    return jsonify(manifests=[p.as_dict() for p in plans], total_items=sum(len(p.card_ids) for p in plans))


@bp.route("/api/v1/manifests", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Bangun manifest dari kartu siap kirim", tags=["manifest"], status=201, response=MANIFESTS,
               errors=[422], body=api.obj({**FILTERS, "finalize": {"type": "boolean"}}))
def build_api(body: dict[str, Any]) -> Any:
    try:
        with unit_of_work() as session:
            made = service.build_manifests(
                session, current_office(session), actor(), tracking=TrackingRange.from_config(current_app.config),
                finalize=bool(body.get("finalize")), **_filters(body))
            out = [_manifest_json(m) for m in made]
    except ManifestError as exc:
        return _error(exc)
    return jsonify(manifests=out), 201


@bp.route("/api/v1/manifests/<int:manifest_id>", methods=["GET"])
@roles_required(*STAFF)
@api.operation("Satu manifest dengan item dan riwayatnya", tags=["manifest"], response=MANIFEST)
def detail_api(manifest_id: int) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        try:
            m = service.get_manifest(session, office, manifest_id)
        except ManifestError as exc:
            return _error(exc, 404)
        return jsonify(_manifest_json(m, list(handover.manifest_document(session, office, m).items)))


def _api_action(manifest_id: int, fn: Any, body: dict[str, Any] | None = None) -> Any:
    body = body or {}
    try:
        with unit_of_work() as session:
            office = current_office(session)
            service.get_manifest(session, office, manifest_id)
            fn(session, office, body)
            m = service.get_manifest(session, office, manifest_id)
            return jsonify(_manifest_json(m))
    except ManifestError as exc:
        return _error(exc, 404 if "tidak ditemukan" in str(exc) and "#" in str(exc) else 422)


@bp.route("/api/v1/manifests/<int:manifest_id>/finalize", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Kunci manifest draf dan beri nomor resi", tags=["manifest"], response=MANIFEST, errors=[422],
               body=api.obj({}))
def finalize_api(manifest_id: int, body: dict[str, Any]) -> Any:
    tracking = TrackingRange.from_config(current_app.config)
    return _api_action(manifest_id, lambda s, o, b: service.finalize(s, o, manifest_id, actor(), tracking))


@bp.route("/api/v1/manifests/<int:manifest_id>/items/remove", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Keluarkan kartu dari manifest draf", tags=["manifest"], response=MANIFEST, errors=[422],
               body=BLANKO_LIST)
def remove_api(manifest_id: int, body: dict[str, Any]) -> Any:
    return _api_action(manifest_id, lambda s, o, b: service.remove_cards(s, o, manifest_id, b["nomor_blanko"],
                                                                          actor()), body)


@bp.route("/api/v1/manifests/<int:manifest_id>/items/add", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Tambahkan kartu siap kirim ke manifest draf", tags=["manifest"], response=MANIFEST, errors=[422],
               body=BLANKO_LIST)
def add_api(manifest_id: int, body: dict[str, Any]) -> Any:
    return _api_action(manifest_id, lambda s, o, b: service.add_cards(s, o, manifest_id, b["nomor_blanko"],
                                                                       actor()), body)


@bp.route("/api/v1/manifests/<int:manifest_id>/cancel", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Batalkan manifest (kartunya kembali siap kirim)", tags=["manifest"], response=MANIFEST,
               errors=[422], body=api.obj({"reason": api.string(500)}))
def cancel_api(manifest_id: int, body: dict[str, Any]) -> Any:
    return _api_action(manifest_id, lambda s, o, b: service.cancel(s, o, manifest_id, actor(),
                                                                    str(b.get("reason") or "")), body)


@bp.route("/api/v1/manifests/<int:manifest_id>/handover", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Serahkan manifest final ke kurir (API kurir)", tags=["manifest"], errors=[409, 502],
               body=api.obj({}), responses={502: ("Kurir menolak atau tidak menjawab", api.ANY_OBJECT)})
def handover_api(manifest_id: int, body: dict[str, Any]) -> Any:
    try:
        with unit_of_work() as session:
            office = current_office(session)
            service.get_manifest(session, office, manifest_id)
            code = office.code
        result = handover.hand_over(code, manifest_id, actor(), _client())
    except ManifestError as exc:
        return _error(exc, 404 if "tidak ditemukan" in str(exc) else 409)
    except CourierConfigError as exc:
        return _error(exc, 503)
    return jsonify(result.as_dict()), 200 if result.answer.ok else 502


@bp.route("/api/v1/recalls", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Minta kurir mengembalikan item wilayah yang ditarik", tags=["manifest"], body=api.obj({}),
               response={"type": "object", "required": ["recalls"], "properties": {"recalls": {"type": "array"}}})
def recall_api(body: dict[str, Any]) -> Any:
    """Ask the courier to return every handed-over item of a withdrawn area that was not yet recalled."""
    try:
        with unit_of_work() as session:
            code = current_office(session).code
        results = handover.recall_withdrawn(code, actor(), _client())
    except CourierConfigError as exc:
        return _error(exc, 503)
    return jsonify(recalls=[{"tracking_number": r.tracking_number, "nomor_blanko": r.nomor_blanko,
                             "outcome": r.answer.outcome.value, "http_status": r.answer.http_status,
                             "message": r.answer.summary()} for r in results])
