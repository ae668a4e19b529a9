"""The citizens' status page: `GET/POST /cek-status` and `POST /api/v1/public/status`, no login.

A citizen gives their NIK and one second factor, and learns only the state of their card and a date
(`lookup.public_status`), and for a card waiting at a post office which one (name, address, code: a public place)
and until when. The birth date is part of the NIK, so it cannot be the second factor; it is the family card
number (Nomor KK, kept only as a keyed hash) or, for a card whose data has no Nomor KK, the tracking number (nomor
resi) of its delivery. Every miss (unknown NIK, wrong number, a number of the other kind) gets the same answer after
the same work, so the page cannot be used to find out whether a NIK has a card here.

The lookups are rate-limited per client address (Flask-Limiter, moving window), shared by the page and the API:
`ANTAR_PUBLIC_RATE_LIMIT` (e.g. "10 per minute; 100 per day", read on every request) counted in
`ANTAR_RATELIMIT_STORAGE_URI`, which is `ANTAR_REDIS_URL` when that is set, so that every worker and every server
counts together. The fallback `memory://` counts per process: with several gunicorn workers a client gets the limit
once per worker (`antar serve` warns). Behind a reverse proxy the client address is the proxy's unless the app is
wrapped in werkzeug's `ProxyFix`. Only these routes are limited: staff pages and the courier webhook are not.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, render_template, request
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import TooManyRequests
from wtforms import Field, StringField
from wtforms.validators import DataRequired, Optional, Regexp, ValidationError

from app import api, csrf
from app.courier import s10
from app.db import unit_of_work
from app.pseudonym import kk_digits
from app.web import client_limiter, json_error
from delivery import lookup

bp = Blueprint("public", __name__, template_folder="templates", static_folder="static",
               static_url_path="/cek-status/static")

FORM_EXPIRED = "Formulir kedaluwarsa. Silakan isi dan kirim lagi."
TOO_MANY = "Terlalu banyak permintaan dari perangkat Anda. Silakan coba lagi beberapa menit lagi."
KK_INVALID = "Nomor KK harus 16 angka (lihat Kartu Keluarga Anda)."
RESI_INVALID = "Nomor resi tidak sah: 13 huruf dan angka seperti RB123456785ID (lihat SMS atau amplop PT Pos)."
FACTOR_MISSING = "Isi Nomor KK, atau Nomor resi bila data kartu Anda tidak memuat Nomor KK."
FACTOR_BOTH = "Isi salah satu saja: Nomor KK atau Nomor resi."
_KK_TYPED = re.compile(r"^[\d .\-]+$")  # as printed on the Kartu Keluarga: digits, maybe grouped


def init_app(app: Flask) -> None:
    """Register the public routes with a rate limiter of their own.

    The limiter is this app's own (`app.web.client_limiter`). The limit is set on the blueprint, so nothing else
    is limited; it is shared (one count for page and API) and only lookups (POST) count.
    """
    limiter = client_limiter(app, "public")
    limiter.shared_limit(lambda: current_app.config["ANTAR_PUBLIC_RATE_LIMIT"], scope="public-status",
                         methods=["POST"], error_message=TOO_MANY)(bp)
    limiter.init_app(app)
    app.register_blueprint(bp)


# --- the second factor, typed on the page or sent to the API -----------------------------------------------


def family_number(value: str) -> str | None:
    """The 16 digits of a Nomor KK as typed (spaces, dots, dashes allowed), or None if it is not one."""
    return kk_digits(value) if _KK_TYPED.match(value) else None


def tracking_number(value: str) -> str | None:
    """A nomor resi as typed (any case, spaces allowed), upper-cased, or None if it is not a valid S10 number."""
    number = re.sub(r"\s", "", value).upper()
    return number if s10.is_valid(number) else None


def _check_kk(form: FlaskForm, field: Field) -> None:
    if family_number(field.data) is None:
        raise ValidationError(KK_INVALID)


def _check_resi(form: FlaskForm, field: Field) -> None:
    if tracking_number(field.data) is None:
        raise ValidationError(RESI_INVALID)


class StatusForm(FlaskForm):
    nik = StringField("NIK (16 angka)", validators=[
        DataRequired("NIK wajib diisi."), Regexp(r"^\d{16}$", message="NIK harus 16 angka.")])
    no_kk = StringField("Nomor KK (16 angka)", validators=[Optional(), _check_kk])
    nomor_resi = StringField("Nomor resi PT Pos", validators=[Optional(), _check_resi])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        kk, resi = (self.no_kk.data or "").strip(), (self.nomor_resi.data or "").strip()
        if not kk and not resi:
            self.no_kk.errors.append(FACTOR_MISSING)
            return False
        if kk and resi:
            self.nomor_resi.errors.append(FACTOR_BOTH)
            return False
        return valid


def _lookup(nik: str, no_kk: str | None, nomor_resi: str | None) -> lookup.PublicStatus:
    with unit_of_work() as session:
        return lookup.public_status(session, nik, no_kk=no_kk, tracking_number=nomor_resi)


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
        kk = family_number(form.no_kk.data.strip()) if (form.no_kk.data or "").strip() else None
        resi = tracking_number(form.nomor_resi.data) if (form.nomor_resi.data or "").strip() else None
        answer = _lookup(form.nik.data.strip(), kk, resi)
    return render_template("public_status.html", form=form, answer=answer, notice=None)


def _api_factor(body: dict, name: str, parse: Any, message: str) -> tuple[str | None, str | None]:
    """(value, None) for a valid or absent (null, "") field, (None, error) for a malformed one."""
    raw = body.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    value = parse(raw.strip()) if isinstance(raw, str) else None
    return (value, None) if value else (None, f"{name}: {message}")


STATUS_BODY = api.obj({
    "nik": api.string(16, pattern=r"^\d{16}$", description="16 angka"),
    "no_kk": api.nullable(api.string(30, description="Nomor KK, 16 angka (spasi, titik, strip boleh)")),
    "nomor_resi": api.nullable(api.string(20, description="nomor resi S10, mis. RB123456785ID")),
}, required=["nik"])
STATUS_ANSWER = {"type": "object", "required": ["status", "message", "date"],
                 "properties": {"status": {"type": "string"}, "message": {"type": "string"},
                                "date": {"type": ["string", "null"]},
                                "pickup": {"description": "hanya untuk kartu yang menunggu diambil di kantor pos "
                                                          "(status AT_POST_OFFICE): di mana dan sampai kapan",
                                           "type": "object", "properties": {
                                               "post_office": {"type": ["string", "null"]},
                                               "name": {"type": ["string", "null"]},
                                               "address": {"type": ["string", "null"]},
                                               "until": {"type": ["string", "null"], "format": "date"}}}}}


@bp.route("/api/v1/public/status", methods=["POST"])
@csrf.exempt
@api.operation("Status kartu untuk warga: NIK dan Nomor KK (atau nomor resi untuk kartu tanpa Nomor KK)",
               tags=["warga"], auth="public", body=STATUS_BODY, response=STATUS_ANSWER,
               description="Tanpa login, dibatasi per alamat klien. Semua jenis 'tidak ditemukan' dijawab sama.")
def status_api(body: dict[str, Any]) -> Any:
    nik = body["nik"]  # required, 16 digits: the body's schema (STATUS_BODY) checked it
    no_kk, kk_error = _api_factor(body, "no_kk", family_number, "harus 16 angka (string).")
    resi, resi_error = _api_factor(body, "nomor_resi", tracking_number,
                                   "harus nomor resi S10 yang sah (string seperti RB123456785ID).")
    if kk_error or resi_error:
        return json_error(400, kk_error or resi_error, fields=["no_kk" if kk_error else "nomor_resi"])
    if no_kk and resi:
        return json_error(400, "no_kk, nomor_resi: isi salah satu saja.", fields=["no_kk", "nomor_resi"])
    if not no_kk and not resi:
        return json_error(400, "no_kk atau nomor_resi: salah satu wajib diisi (nomor_resi untuk kartu tanpa "
                               "Nomor KK).", fields=["no_kk", "nomor_resi"])
    answer = _lookup(nik, no_kk, resi)
    extra = {} if answer.pickup is None else {"pickup": lookup.jsonable(answer.pickup)}
    return jsonify(status=answer.status, message=answer.message, date=answer.date and answer.date.isoformat(),
                   **extra)
