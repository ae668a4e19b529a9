"""Staff pages and JSON API for tracking: search, an item's timeline, the problems lists. Scoped to the office."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, render_template, request

from app import api
from app.auth import current_office, roles_required
from app.db import unit_of_work, utcnow
from app.models import Role
from app.web import json_error, page_arg
from delivery import lookup
from delivery.lookup import QueryError

bp = Blueprint("tracking", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)
# The problems page shows the first rows of each list; each list has its own pages under /masalah/<slug>.
PROBLEM_PREVIEW = 10
PROBLEM_SLUGS = {"senyap": "silent", "gagal": "failing", "jauh": "far", "ditolak": "rejected", "ditahan": "held",
                 "ambil-lewat": "pickup_overdue"}
PROBLEM_TITLES = {"silent": "Tanpa kabar kurir", "failing": "Gagal antar berulang",
                  "far": "Terkirim, perlu diperiksa", "rejected": "Kabar kurir yang ditolak",
                  "held": "Kabar kurir yang ditahan", "pickup_overdue": "Lewat batas ambil di kantor pos"}


def _error(status: int, message: str) -> Any:
    return json_error(status, message)


def _not_found_message(tracking_number: str) -> str:
    return f"Nomor resi {tracking_number.strip().upper()} tidak ditemukan di kantor ini."


def _limits() -> dict[str, int]:
    return {"silent_days": int(current_app.config["ANTAR_SILENT_DAYS"]),
            "max_attempts": int(current_app.config["ANTAR_MAX_ATTEMPTS"])}


def _problems(limit: int = lookup.PROBLEM_LIMIT) -> lookup.Problems:
    with unit_of_work() as session:
        return lookup.problems(session, current_office(session), now=utcnow(), limit=limit, **_limits())


def safe_url(url: str | None) -> str | None:
    """A proof link from the courier, only if it is http(s): a `javascript:` URL must never become a link."""
    return url if url and url.lower().startswith(("https://", "http://")) else None


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"safe_url": safe_url, "problem_slug": {kind: slug for slug, kind in PROBLEM_SLUGS.items()}}


# --- pages -------------------------------------------------------------------------------------------------


@bp.route("/lacak")
@roles_required(*STAFF)
def search_page() -> Any:
    q = (request.args.get("q") or "").strip()
    number = page_arg()
    page, problem = None, None
    if q:
        try:
            with unit_of_work() as session:
                page = lookup.search_page(session, current_office(session), q, number)
        except QueryError as exc:
            problem = str(exc)
    g.page_title = "Lacak kiriman"
    return render_template("tracking_search.html", q=q, page=page, problem=problem)


@bp.route("/lacak/<tracking_number>")
@roles_required(*STAFF)
def detail_page(tracking_number: str) -> Any:
    with unit_of_work() as session:
        t = lookup.timeline(session, current_office(session), tracking_number)
    if t is None:
        return render_template("error.html", code=404, title="Tidak ditemukan",
                               message=_not_found_message(tracking_number)), 404
    g.page_title = t.tracking_number
    return render_template("tracking_detail.html", t=t)


@bp.route("/masalah")
@roles_required(*STAFF)
def problems_page() -> Any:
    g.page_title = "Masalah pengantaran"
    return render_template("tracking_problems.html", p=_problems(PROBLEM_PREVIEW))


@bp.route('/masalah/<any(senyap, gagal, jauh, ditolak, ditahan, "ambil-lewat"):slug>')
@roles_required(*STAFF)
def problem_list_page(slug: str) -> Any:
    kind = PROBLEM_SLUGS[slug]
    number = page_arg()
    with unit_of_work() as session:
        page = lookup.problem_page(session, current_office(session), kind, number, now=utcnow(), **_limits())
    g.page_title = PROBLEM_TITLES[kind]
    return render_template("tracking_problem_list.html", kind=kind, page=page, title=PROBLEM_TITLES[kind],
                           **_limits())


# --- JSON API ----------------------------------------------------------------------------------------------


@bp.route("/api/v1/tracking")
@roles_required(*STAFF)
@api.operation("Cari item: nomor resi, NIK, nomor blanko atau nama", tags=["pelacakan"],
               query=api.obj({"q": api.string(100, min_length=1, pattern=r"^[^\x00-\x1f\x7f]*$",
                                              description="teks pencarian tanpa karakter kendali")}, required=["q"]),
               response={"type": "object", "required": ["results"], "properties": {"results": {"type": "array"}}})
def search_api(query: dict[str, Any]) -> Any:
    try:
        with unit_of_work() as session:
            results = lookup.search(session, current_office(session), query["q"])
    except QueryError as exc:
        return _error(400, str(exc))
    return jsonify(results=lookup.jsonable(results))


@bp.route("/api/v1/tracking/problems")
@roles_required(*STAFF)
@api.operation("Masalah pengiriman: senyap, gagal berulang, terkirim perlu diperiksa (jauh dari alamat, biaya COD, "
               "KTP lama), ditolak, ditahan, lewat batas ambil di kantor pos", tags=["pelacakan"])
def problems_api() -> Any:
    return jsonify(lookup.jsonable(_problems()))


@bp.route("/api/v1/tracking/<tracking_number>")
@roles_required(*STAFF)
@api.operation("Riwayat satu item dan kartunya", tags=["pelacakan"],
               response={"type": "object", "required": ["tracking_number"],
                         "properties": {"tracking_number": {"type": "string"}}})
def detail_api(tracking_number: str) -> Any:
    with unit_of_work() as session:
        t = lookup.timeline(session, current_office(session), tracking_number)
    if t is None:
        return _error(404, _not_found_message(tracking_number))
    return jsonify(lookup.jsonable(t))
