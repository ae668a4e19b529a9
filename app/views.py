"""Kernel pages: the dashboard and the reconciliation report (page, JSON, XLSX)."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, current_app, g, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user

from app.auth import current_office, roles_required
from app.db import unit_of_work
from app.models import Role
from app.report import reconciliation, write_xlsx

bp = Blueprint("main", __name__)

STAFF = (Role.ADMIN, Role.STAFF)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role is Role.OFFICER:
        # The officer's work is the kelurahan handover (returns/): its page is shown here directly (no extra
        # round trip on a weak network), looked up by endpoint because the kernel does not import a domain.
        home = current_app.view_functions.get("kelurahan.home")
        return home() if home is not None else render_template("officer_home.html")
    return redirect(url_for("main.report"))


@bp.route("/laporan")
@roles_required(*STAFF)
def report() -> Any:
    with unit_of_work() as session:
        data = reconciliation(session, current_office(session))
    g.page_title = "Rekonsiliasi"
    return render_template("report.html", r=data)


@bp.route("/api/v1/report")
@roles_required(*STAFF)
def report_json() -> Any:
    with unit_of_work() as session:
        return jsonify(reconciliation(session, current_office(session)))


@bp.route("/laporan.xlsx")
@roles_required(*STAFF)
def report_xlsx() -> Any:
    with unit_of_work() as session:
        data = reconciliation(session, current_office(session))
    buffer = io.BytesIO()
    write_xlsx(data, buffer)
    buffer.seek(0)
    name = f"rekonsiliasi-{data['office']['code']}.xlsx"
    return send_file(buffer, mimetype=XLSX_MIME, as_attachment=True, download_name=name)
