"""The job pages: a job's progress, result or failure (with a retry), and the office's recent jobs; JSON too."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, url_for

from app import api, jobs
from app.auth import actor, current_office, roles_required
from app.db import unit_of_work
from app.models import Role
from app.web import json_error

bp = Blueprint("jobs", __name__)
STAFF = (Role.ADMIN, Role.STAFF)


def _office_id() -> int:
    with unit_of_work() as session:
        return current_office(session).id


@bp.route("/tugas")
@roles_required(*STAFF)
def list_page() -> Any:
    g.page_title = "Tugas latar belakang"
    return render_template("jobs.html", jobs=jobs.recent_jobs(_office_id(), limit=100))


@bp.route("/tugas/<int:job_id>")
@roles_required(*STAFF)
def job_page(job_id: int) -> Any:
    view = jobs.job_view(job_id, _office_id())
    if view is None:
        abort(404)
    g.page_title = view["title"]
    return render_template("job.html", job=view)


@bp.route("/tugas/<int:job_id>/ulang", methods=["POST"])
@roles_required(*STAFF)
def retry_page(job_id: int) -> Any:
    if jobs.job_view(job_id, _office_id()) is None:
        abort(404)
    try:
        new_id = jobs.retry(job_id, actor())
    except jobs.JobError as exc:
        flash(str(exc), "error")
        return redirect(url_for("jobs.job_page", job_id=job_id))
    flash("Tugas dijalankan lagi.", "success")
    return redirect(url_for("jobs.job_page", job_id=new_id))


@bp.route("/api/v1/jobs/<int:job_id>")
@roles_required(*STAFF)
@api.operation("Status dan kemajuan satu tugas latar belakang", tags=["tugas"],
               response={"type": "object", "required": ["id", "status"],
                         "properties": {"id": {"type": "integer"}, "status": {"type": "string"}}})
def job_api(job_id: int) -> Any:
    view = jobs.job_view(job_id, _office_id())
    if view is None:
        return json_error(404, f"Tugas #{job_id} tidak ditemukan.")
    for key in ("created_at", "started_at", "finished_at"):
        view[key] = view[key].isoformat() if view[key] else None
    return jsonify(view)
