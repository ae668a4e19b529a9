"""Staff pages and JSON API of the messages to citizens: /pesan (counts, the list, failures) and
GET /api/v1/notify/messages."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from app import api
from app.auth import actor, current_office, roles_required
from app.db import unit_of_work
from app.models import Role
from app.web import page_arg
from notify import queries, sender
from notify.service import Settings, blocked_since, requeue_failed
from notify.texts import KIND_LABELS, STATUS_LABELS, Kind, MessageStatus

bp = Blueprint("notify", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)


def _settings() -> Settings:
    return Settings.from_config(current_app.config)


def _gateway(settings: Settings, session: Any) -> dict[str, Any]:
    return {"configured": settings.configured, "channel": settings.channel,
            "blocked_since": blocked_since(session, settings) if settings.configured else None,
            "quiet_hours": (f"{settings.quiet.start:%H.%M}-{settings.quiet.end:%H.%M} WIB" if settings.quiet
                            else None)}


@bp.route("/pesan")
@roles_required(*STAFF)
def messages_page() -> Any:
    status = request.args.get("status") or None
    if status and status not in set(MessageStatus):
        status = None
    number = page_arg()
    settings = _settings()
    with unit_of_work() as session:
        office = current_office(session)
        view = queries.overview(session, office.id)
        page = queries.message_page(session, office.id, number, status=status)
        failures = queries.recent_failures(session, office.id)
        gateway = _gateway(settings, session)
    g.page_title = "Pesan ke warga"
    return render_template("notify_messages.html", o=view, page=page, failures=failures, gateway=gateway,
                           status=status, kinds=KIND_LABELS, statuses=STATUS_LABELS)


@bp.route("/pesan/kirim", methods=["POST"])
@roles_required(*STAFF)
def send_now() -> Any:
    if not _settings().configured:
        flash("Gateway pesan belum diatur (ANTAR_NOTIFY_BASE_URL): tidak ada yang dikirim.", "error")
        return redirect(url_for("notify.messages_page"))
    with unit_of_work() as session:
        office_id = current_office(session).id
    submitted = sender.start(actor(), office_id)
    if submitted.existing:
        flash("Pengiriman pesan sedang berjalan; ini halamannya.", "info")
    return redirect(url_for("jobs.job_page", job_id=submitted.job_id))


@bp.route("/pesan/ulang", methods=["POST"])
@roles_required(*STAFF)
def requeue() -> Any:
    with unit_of_work() as session:
        n = requeue_failed(session, current_office(session).id)
    flash(f"{n} pesan yang gagal karena kredensial atau gateway tak terjangkau diantrekan ulang." if n else
          "Tidak ada pesan gagal yang dapat diantrekan ulang.", "success" if n else "info")
    return redirect(url_for("notify.messages_page"))


MESSAGE = {"type": "object", "required": ["id", "kind", "status", "phone", "reference"],
           "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "status": {"type": "string"},
                          "phone": {"type": "string"}, "reference": {"type": "string"}}}
MESSAGES = {"type": "object", "required": ["gateway", "counts", "messages", "page", "pages", "total"],
            "properties": {"gateway": {"type": "object"}, "counts": {"type": "object"},
                           "messages": {"type": "array", "items": MESSAGE}, "page": {"type": "integer"},
                           "pages": {"type": "integer"}, "total": {"type": "integer"}}}


@bp.route("/api/v1/notify/messages")
@roles_required(*STAFF)
@api.operation("Pesan ke warga: jumlah per jenis dan status, daftar (nomor HP disamarkan)", tags=["pesan"],
               query=api.obj({"status": api.enum([str(s) for s in MessageStatus]),
                              "kind": api.enum([str(k) for k in Kind]), "hal": api.PAGE}),
               response=MESSAGES)
def messages_api(query: dict[str, Any]) -> Any:
    settings = _settings()
    with unit_of_work() as session:
        office = current_office(session)
        view = queries.overview(session, office.id)
        page = queries.message_page(session, office.id, query.get("hal", 1), status=query.get("status"),
                                    kind=query.get("kind"))
        gateway = _gateway(settings, session)
    return jsonify(queries.jsonable({
        "gateway": gateway, "counts": view.counts, "by_status": view.by_status, "opt_outs": view.opt_outs,
        "messages": page.rows, "page": page.number, "pages": page.pages, "total": page.total}))
