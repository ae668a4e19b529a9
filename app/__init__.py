"""Antar: e-KTP delivery by post. `create_app` builds the whole application."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from app import db
from app.config import load_config

csrf = CSRFProtect()

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

    from address import cli as address_cli
    from address import routes as address_routes
    from app import auth, filters, views
    from delivery import public as delivery_public
    from delivery import routes as delivery_routes
    from delivery import webhook
    from manifests import cli as manifests_cli
    from manifests import manifest_routes
    from manifests import routes as manifests_routes
    from returns import officer_routes, staff_routes

    auth.init_app(app)
    filters.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(address_routes.bp)
    app.register_blueprint(manifests_routes.bp)
    app.register_blueprint(manifest_routes.bp)
    app.register_blueprint(webhook.bp)
    app.register_blueprint(delivery_routes.bp)
    app.register_blueprint(staff_routes.bp)
    app.register_blueprint(officer_routes.bp)
    delivery_public.init_app(app)
    address_cli.init_app(app)
    manifests_cli.init_app(app)
    _register_errors(app)
    return app


def _register_errors(app: Flask) -> None:
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
            return jsonify(error={"code": code, "message": message}), code
        return render_template("error.html", code=code, title=title, message=message), code
