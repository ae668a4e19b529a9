"""Antar: e-KTP delivery by post. `create_app` builds the whole application."""

from __future__ import annotations

import importlib
import os
from typing import Any

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app import db, tally  # noqa: F401  (tally: the card_flow tables on the metadata)
from app.config import load_config
from app.models import Role
from app.web import json_error

csrf = CSRFProtect()

# The domains in the order data flows through them (README, "The flow").
DOMAINS = ("address", "manifests", "delivery", "returns", "dashboard", "notify")

ERROR_TITLES = {
    400: "Permintaan tidak valid", 401: "Harus masuk", 403: "Akses ditolak", 404: "Tidak ditemukan",
    405: "Metode tidak diizinkan", 413: "Berkas terlalu besar", 429: "Terlalu banyak permintaan",
    500: "Terjadi kesalahan di server",
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    instance = os.environ.get("ANTAR_INSTANCE_PATH") or None
    app = Flask(__name__, instance_path=instance, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path, test_config))
    db.init_app(app)
    csrf.init_app(app)

    from app import account_pages, api, auth, filters, health, job_pages, jobs, privacy, views, web

    health.init_app(app)
    api.init_app(app)  # bearer tokens and CSRF: before anything reads current_user
    auth.init_app(app)
    app.register_blueprint(job_pages.bp)
    account_pages.init_app(app)
    filters.init_app(app)
    web.init_app(app)
    app.register_blueprint(views.bp)
    privacy.init_app(app)
    jobs.register(views.REPORT_JOB, views.report_job, "Laporan rekonsiliasi (XLSX)")
    web.add_menu(app, "main.report", "Rekonsiliasi", (Role.ADMIN, Role.STAFF), 90)
    web.add_menu(app, "jobs.list_page", "Tugas", (Role.ADMIN, Role.STAFF), 95)
    # The composition root: each domain of the flow registers its own blueprints, commands, menu entries and
    # report sections. The kernel imports none of them.
    for name in DOMAINS:
        importlib.import_module(name).init_app(app)
    _register_errors(app)
    _security_headers(app)
    return app


# Everything a page uses comes from Antar itself: no inline script or style, nothing from elsewhere, no framing.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


# The headers every answer carries: set by `security_headers`, and written as they are by the courier webhook's gate
# for its usual answer (delivery/webhook.py), which builds no response object.
SECURITY_HEADERS = (("Content-Security-Policy", CONTENT_SECURITY_POLICY), ("X-Frame-Options", "DENY"),
                    ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "same-origin"))


def security_headers(response: Any) -> Any:
    """The headers every answer carries (an after-request hook; also used by the courier webhook's own dispatch,
    delivery/webhook.py, which answers without the request pipeline)."""
    for name, value in SECURITY_HEADERS:
        response.headers.setdefault(name, value)
    return response


def _security_headers(app: Flask) -> None:
    app.after_request(security_headers)


def _register_errors(app: Flask) -> None:
    from sqlalchemy.exc import OperationalError

    @app.errorhandler(OperationalError)
    def db_busy(exc: OperationalError) -> Any:
        # SQLite: another writer (a long import) held the lock past the busy timeout. The client may retry (the
        # courier does, by contract); anything else is a real error and stays a 500.
        if "database is locked" not in str(exc.orig if exc.orig is not None else exc):
            raise exc
        message = "Basis data sedang sibuk (impor berjalan). Coba lagi sebentar lagi."
        if wants_json():
            response, status = json_error(503, message, "busy")
        else:
            response = app.make_response((render_template("error.html", code=503, title="Sedang sibuk",
                                                          message=message), 503))
            status = 503
        response.headers["Retry-After"] = "5"
        return response, status

    def wants_json() -> bool:
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        code = exc.code or 500
        title = ERROR_TITLES.get(code, exc.name)
        message = exc.description if isinstance(exc, CSRFError) or code in (400, 413) else title
        if isinstance(exc, CSRFError):
            message = "Formulir kedaluwarsa atau tidak sah (CSRF). Muat ulang halaman lalu coba lagi."
        if wants_json():
            return json_error(code, message)
        return render_template("error.html", code=code, title=title, message=message), code
