"""The citizens' status page: `GET/POST /cek-status` and `POST /api/v1/public/status`, no login.

A citizen types NIK and birth date and learns only the state of their card and a date (`lookup.public_status`).
An unknown NIK and a wrong birth date give the same answer, so the page cannot be used to find out whether a NIK
has a card here. The lookups are rate-limited per client address (Flask-Limiter), shared by the page and the
API: `ANTAR_PUBLIC_RATE_LIMIT` (e.g. "10 per minute; 100 per day", read on every request) counted in
`ANTAR_RATELIMIT_STORAGE_URI`. The default `memory://` counts per process: with several gunicorn workers each
worker counts on its own (a client gets the limit once per worker), so production should use a shared store
such as `redis://localhost:6379/0` (needs the `redis` package). Behind a reverse proxy the client address is the
proxy's unless the app is wrapped in werkzeug's `ProxyFix`.
Only these routes are limited: staff pages and the courier webhook are not.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import TooManyRequests
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Regexp

from app import csrf
from app.db import unit_of_work
from app.web import json_error
from delivery import lookup

bp = Blueprint("public", __name__, template_folder="templates")

FORM_EXPIRED = "Formulir kedaluwarsa. Silakan isi dan kirim lagi."
TOO_MANY = "Terlalu banyak permintaan dari perangkat Anda. Silakan coba lagi beberapa menit lagi."
BORN_REQUIRED = "Tanggal lahir wajib diisi dengan tanggal yang benar."
_NIK = re.compile(r"^\d{16}$")


def init_app(app: Flask) -> None:
    """Register the public routes with a rate limiter of their own.

    One limiter per application (not a module-level one): Flask-Limiter keeps its storage on the instance, so
    each app gets its own counters and its own storage URI. The limit is set on the blueprint, so nothing else
    is limited; it is shared (one count for page and API) and only lookups (POST) count.
    """
    limiter = Limiter(get_remote_address, storage_uri=app.config.get("ANTAR_RATELIMIT_STORAGE_URI") or "memory://",
                      headers_enabled=True, key_prefix="antar-public")
    limiter.shared_limit(lambda: current_app.config["ANTAR_PUBLIC_RATE_LIMIT"], scope="public-status",
                         methods=["POST"], error_message=TOO_MANY)(bp)
    limiter.init_app(app)
    app.extensions["antar.public_limiter"] = limiter
    app.register_blueprint(bp)


class StatusForm(FlaskForm):
    nik = StringField("NIK (16 angka)", validators=[
        DataRequired("NIK wajib diisi."), Regexp(r"^\d{16}$", message="NIK harus 16 angka.")])
    tanggal_lahir = DateField("Tanggal lahir", format="%Y-%m-%d", validators=[DataRequired(BORN_REQUIRED)],
                              invalid_value_message=BORN_REQUIRED)


def _lookup(nik: str, born: dt.date) -> lookup.PublicStatus:
    with unit_of_work() as session:
        return lookup.public_status(session, nik, born)


@bp.after_request
def _no_store(response: Any) -> Any:
    # The answer is about one person: no shared cache, no back-button copy on a borrowed phone.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Any:
    if request.path.startswith("/api/"):
        return json_error(429, TOO_MANY)
    return render_template("public_status.html", form=StatusForm(), answer=None, notice=TOO_MANY), 429


@bp.errorhandler(CSRFError)
def _expired_form(exc: CSRFError) -> Any:
    # A citizen whose phone dropped the session cookie gets the form again, not the staff error page.
    return render_template("public_status.html", form=StatusForm(), answer=None, notice=FORM_EXPIRED), 400


@bp.route("/cek-status", methods=["GET", "POST"])
def status_page() -> Any:
    form = StatusForm()
    answer = None
    if form.validate_on_submit():
        answer = _lookup(form.nik.data.strip(), form.tanggal_lahir.data)
    return render_template("public_status.html", form=form, answer=answer, notice=None)


@bp.route("/api/v1/public/status", methods=["POST"])
@csrf.exempt
def status_api() -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, 'Badan permintaan harus objek JSON {"nik", "tanggal_lahir"}.')
    nik, born = body.get("nik"), body.get("tanggal_lahir")
    if not isinstance(nik, str) or not _NIK.match(nik):
        return json_error(400, "nik: harus 16 angka (string).")
    try:
        day = dt.date.fromisoformat(born) if isinstance(born, str) and len(born) == 10 else None
    except ValueError:
        day = None
    if day is None:
        return json_error(400, "tanggal_lahir: harus tanggal YYYY-MM-DD.")
    answer = _lookup(nik, day)
    return jsonify(status=answer.status, message=answer.message, date=answer.date and answer.date.isoformat())
