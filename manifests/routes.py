"""Manifest pages and their JSON API: list, build (with preview), detail, edit, finalize, hand over, documents."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from app.auth import actor, current_office, roles_required
from app.cards import Card
from app.courier.client import CourierClient, CourierConfigError
from app.courier.tracking import REASON_LABELS, STATUS_LABELS, Status
from app.db import unit_of_work
from app.models import Office, Role
from app.regions import office_regions
from app.web import json_error
from manifests import documents, handover, service
from manifests.models import MANIFEST_STATUS_LABELS, Manifest, ManifestItem, ManifestStatus
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


@bp.route("/manifest")
@roles_required(*STAFF)
def list_page() -> Any:
    status = request.args.get("status") or None
    with unit_of_work() as session:
        office = current_office(session)
        chosen = ManifestStatus(status) if status in ManifestStatus.__members__ else None
        manifests = service.manifest_summary(session, office, status=chosen, limit=1000)
        counts = dict(session.execute(select(Manifest.status, func.count()).where(Manifest.office_id == office.id)
                                      .group_by(Manifest.status)).all())
        items = dict(session.execute(select(Manifest.status, func.sum(Manifest.item_count))
                                     .where(Manifest.office_id == office.id).group_by(Manifest.status)).all())
    g.page_title = "Manifest kurir"
    return render_template("manifest_list.html", manifests=manifests, counts=counts, items=items,
                           labels=MANIFEST_STATUS_LABELS, statuses=list(ManifestStatus), chosen=chosen)


@bp.route("/manifest/baru", methods=["GET", "POST"])
@roles_required(*STAFF)
def build_page() -> Any:
    source = request.form if request.method == "POST" else request.args
    plans = None
    try:
        filters = _filters(source)
        with unit_of_work() as session:
            office = current_office(session)
            if request.method == "POST":
                made = service.build_manifests(
                    session, office, actor(), tracking=TrackingRange.from_config(current_app.config),
                    finalize=bool(source.get("finalize")), **filters)
                flash(f"{len(made)} manifest dibuat ({sum(m.item_count for m in made)} kartu).", "success")
                return redirect(url_for("manifests.list_page"))
            if source.get("preview"):
                plans = service.plan_manifests(session, office, **filters)
            ready_kec = _ready_by_kecamatan(session, office)
    except ManifestError as exc:
        flash(str(exc), "error")
        return redirect(url_for("manifests.build_page", **{k: v for k, v in source.items() if k != "csrf_token"}))
    g.page_title = "Susun manifest"
    return render_template("manifest_build.html", plans=plans, offices=post_offices(office.code).values(),
                           regions=office_regions(office.code), ready_kec=ready_kec, form=source,
                           default_cap=current_app.config["ANTAR_MANIFEST_MAX_ITEMS"])


def _ready_by_kecamatan(session: Any, office: Office) -> dict[str, int]:
    from app.cards import CardState

    rows = session.execute(select(func.substr(Card.kelurahan_code, 1, 8), func.count())
                           .where(Card.office_id == office.id, Card.state == CardState.READY,
                                  Card.kelurahan_code.is_not(None))
                           .group_by(func.substr(Card.kelurahan_code, 1, 8))).all()
    return dict(rows)


@bp.route("/manifest/<int:manifest_id>")
@roles_required(*STAFF)
def detail_page(manifest_id: int) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        try:
            m = service.get_manifest(session, office, manifest_id)
        except ManifestError:
            return render_template("error.html", code=404, title="Tidak ditemukan",
                                   message=f"Manifest #{manifest_id} tidak ditemukan."), 404
        doc = handover.manifest_document(session, office, m)
        events = list(m.events)
        rows = session.execute(
            select(ManifestItem.seq, Card.nomor_blanko, ManifestItem.tracking_status, ManifestItem.attempts,
                   ManifestItem.return_reason, ManifestItem.flagged)
            .join(Card, Card.id == ManifestItem.card_id)
            .where(ManifestItem.manifest_id == m.id, ManifestItem.removed_at.is_(None))).all()
        blanko_of = {r.seq: r.nomor_blanko for r in rows}
        tracking_of = {r.seq: r for r in rows}
        by_status: dict[str, int] = {}
        for r in rows:
            label = STATUS_LABELS[Status(r.tracking_status)] if r.tracking_status else "Belum ada kabar kurir"
            by_status[label] = by_status.get(label, 0) + 1
    g.page_title = m.number
    per_kel: dict[str, int] = {}
    for it in doc.items:
        per_kel[f"{it.kelurahan} · {it.kecamatan}"] = per_kel.get(f"{it.kelurahan} · {it.kecamatan}", 0) + 1
    return render_template("manifest_detail.html", m=m, doc=doc, events=events, per_kel=per_kel, blanko_of=blanko_of,
                           tracking_of=tracking_of, by_status=by_status, status_labels=STATUS_LABELS,
                           reason_labels=REASON_LABELS, Status=Status,
                           short_address=documents.short_address, S=ManifestStatus,
                           courier_configured=bool(current_app.config.get("ANTAR_COURIER_BASE_URL")))


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
    try:
        with unit_of_work() as session:
            service.get_manifest(session, current_office(session), manifest_id)
            code = current_office(session).code
        result = handover.hand_over(code, manifest_id, actor(), _client())
        category = "success" if result.answer.ok else "error"
        flash(f"{result.number}: {MANIFEST_STATUS_LABELS[result.status]}. Jawaban kurir: {result.answer.summary()}",
              category)
    except (ManifestError, CourierConfigError) as exc:
        flash(str(exc), "error")
    return redirect(url_for("manifests.detail_page", manifest_id=manifest_id))


_DOCS = {
    "berita-acara.pdf": (documents.handover_pdf, "application/pdf"),
    "items.csv": (documents.items_csv, "text/csv; charset=utf-8"),
    "items.xlsx": (documents.items_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


@bp.route("/manifest/<int:manifest_id>/<any('berita-acara.pdf', 'items.csv', 'items.xlsx'):kind>")
@bp.route("/api/v1/manifests/<int:manifest_id>/<any('berita-acara.pdf', 'items.csv', 'items.xlsx'):kind>")
@roles_required(*STAFF)
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
    return current_app.response_class(render(doc), mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={m.number}-{kind}"})


# --- JSON API ----------------------------------------------------------------------------------------------


@bp.route("/api/v1/manifests", methods=["GET"])
@roles_required(*STAFF)
def list_api() -> Any:
    status = request.args.get("status")
    if status and status not in ManifestStatus.__members__:
        return _error(ManifestError(f"status '{status}' tidak dikenal; pilih {', '.join(ManifestStatus)}."), 400)
    with unit_of_work() as session:
        ms = service.manifest_summary(session, current_office(session),
                                       status=ManifestStatus(status) if status else None, limit=10_000)
        return jsonify(manifests=[_manifest_json(m) for m in ms])


@bp.route("/api/v1/manifests/preview", methods=["GET"])
@roles_required(*STAFF)
def preview_api() -> Any:
    try:
        with unit_of_work() as session:
            plans = service.plan_manifests(session, current_office(session), **_filters(request.args))
    except ManifestError as exc:
        return _error(exc)
    return jsonify(manifests=[p.as_dict() for p in plans], total_items=sum(len(p.card_ids) for p in plans))


@bp.route("/api/v1/manifests", methods=["POST"])
@roles_required(*STAFF)
def build_api() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _error(ManifestError("Badan permintaan harus objek JSON."), 400)
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
def detail_api(manifest_id: int) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        try:
            m = service.get_manifest(session, office, manifest_id)
        except ManifestError as exc:
            return _error(exc, 404)
        return jsonify(_manifest_json(m, list(handover.manifest_document(session, office, m).items)))


def _api_action(manifest_id: int, fn: Any) -> Any:
    body = request.get_json(silent=True) or {}
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
def finalize_api(manifest_id: int) -> Any:
    tracking = TrackingRange.from_config(current_app.config)
    return _api_action(manifest_id, lambda s, o, b: service.finalize(s, o, manifest_id, actor(), tracking))


@bp.route("/api/v1/manifests/<int:manifest_id>/items/remove", methods=["POST"])
@roles_required(*STAFF)
def remove_api(manifest_id: int) -> Any:
    return _api_action(manifest_id, lambda s, o, b: service.remove_cards(s, o, manifest_id,
                                                                          b.get("nomor_blanko") or [], actor()))


@bp.route("/api/v1/manifests/<int:manifest_id>/items/add", methods=["POST"])
@roles_required(*STAFF)
def add_api(manifest_id: int) -> Any:
    return _api_action(manifest_id, lambda s, o, b: service.add_cards(s, o, manifest_id,
                                                                       b.get("nomor_blanko") or [], actor()))


@bp.route("/api/v1/manifests/<int:manifest_id>/cancel", methods=["POST"])
@roles_required(*STAFF)
def cancel_api(manifest_id: int) -> Any:
    return _api_action(manifest_id, lambda s, o, b: service.cancel(s, o, manifest_id, actor(),
                                                                    str(b.get("reason") or "")))


@bp.route("/api/v1/manifests/<int:manifest_id>/handover", methods=["POST"])
@roles_required(*STAFF)
def handover_api(manifest_id: int) -> Any:
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
def recall_api() -> Any:
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
