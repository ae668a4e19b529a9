"""Health checks for whatever watches the server (a load balancer, systemd, an uptime monitor):

- `/healthz`: the process is up and answers (no database touched);
- `/readyz`: it can do its work: the database answers and is migrated to the newest revision, and Redis answers
  when it is configured. 503 with the reason otherwise.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, render_template, request

from app import db, migrate

bp = Blueprint("health", __name__)

# Paths that answer even when the database is not ready.
_ALWAYS = ("/healthz", "/readyz", "/static/")
_RECHECK_SECONDS = 10.0


@bp.route("/healthz")
def healthz() -> Any:
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> Any:
    checks: dict[str, str] = {}
    ok = True
    try:
        migrate.check_schema(db.engine())
        checks["database"] = "ok"
    except migrate.SchemaNotReady as exc:
        checks["database"], ok = str(exc), False
    url = current_app.config.get("ANTAR_REDIS_URL")
    if url:
        try:
            import redis

            redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason is reported
            checks["redis"], ok = f"tidak dapat dihubungi: {type(exc).__name__}", False
    return jsonify(status="ok" if ok else "not_ready", checks=checks), 200 if ok else 503


def schema_ready(app: Flask) -> bool:
    """Whether the database is migrated to the newest revision: once it was, always (checked again at most every ten
    seconds until then). While it is not, `app.extensions["antar.schema_state"]["message"]` says why."""
    state = app.extensions["antar.schema_state"]
    if state["ready"]:
        return True
    now = time.monotonic()
    if now - state["checked"] > _RECHECK_SECONDS or not state["message"]:
        state["checked"] = now
        try:
            migrate.check_schema(app.extensions["antar.engine"])
            state["ready"] = True
        except migrate.SchemaNotReady as exc:
            state["message"] = str(exc)
    return state["ready"]


def init_app(app: Flask) -> None:
    """Register the checks, and refuse work (503, one clear sentence) while the schema is not ready, instead of
    answering every page with a 500 ("no such table")."""
    app.register_blueprint(bp)
    state: dict[str, Any] = {"ready": False, "checked": 0.0, "message": ""}
    app.extensions["antar.schema_state"] = state

    @app.before_request
    def _schema_ready() -> Any:
        if state["ready"] or request.path.startswith(_ALWAYS) or schema_ready(app):
            return None
        g.page_title = "Basis data belum siap"
        if request.path.startswith("/api/"):
            from app.web import json_error

            response, status = json_error(503, state["message"], "not_ready")
        else:
            response = current_app.make_response(
                (render_template("error.html", code=503, title="Basis data belum siap", message=state["message"]),
                 503))
            status = 503
        response.headers["Retry-After"] = "30"
        return response, status
