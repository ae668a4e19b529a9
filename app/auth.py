"""Sessions, roles and scope: who may see what; logging in and changing one's own password.

Staff see their own office; an officer sees one kelurahan of it; an admin sees every office.
Every page and API route states the roles it admits with `roles_required`.

Logging in (the rules are in `app.users`): one answer for every refusal, failures counted and the account locked
at `ANTAR_LOGIN_MAX_FAILURES` in a row, and the attempts (POST /login, and POST of the password-change page, which
checks a password too) rate-limited per client address with Flask-Limiter: `ANTAR_LOGIN_RATE_LIMIT` (read on every
request) counted in `ANTAR_RATELIMIT_STORAGE_URI` (`memory://` counts per process; use Redis to share the count
between workers, see delivery/public.py). An account whose password an admin reset must change it before any other
page opens (a JSON request gets a 403 saying so).
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select, update
from werkzeug.exceptions import TooManyRequests
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo

from app import users
from app.cards import Actor
from app.db import unit_of_work, utcnow
from app.models import LoginSession, Office, Role, User
from app.offices import ensure_office
from app.web import client_limiter, json_error

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Silakan masuk terlebih dahulu."
login_manager.login_message_category = "info"

F = TypeVar("F", bound=Callable[..., Any])


# The views that check a password: their POSTs share one rate limit per client address.
PASSWORD_ENDPOINTS = frozenset({"auth.login", "auth.change_password"})
# What an account that must change its password may still open.
CHANGE_FIRST_ALLOWED = frozenset({"auth.change_password", "auth.logout", "auth.login", "static"})
TOO_MANY = "Terlalu banyak percobaan masuk dari perangkat ini. Tunggu beberapa menit, lalu coba lagi."
MUST_CHANGE = "Kata sandi Anda diatur ulang oleh admin: ganti dulu kata sandi sebelum melanjutkan."


def init_app(app: Flask) -> None:
    """Sessions, and a rate limiter of this app's own for the password checks (as delivery/public.py does).

    A moving window (no double burst at a window's edge). If the shared store (Redis) fails, the limit is skipped
    rather than every login failing: the lock-out, kept in the database, still stops guessing at one account."""
    login_manager.init_app(app)
    limiter = client_limiter(app, "login", swallow_errors=True)
    limiter.shared_limit(lambda: current_app.config.get("ANTAR_LOGIN_RATE_LIMIT") or "10 per minute; 100 per hour",
                         scope="login", methods=["POST"], error_message=TOO_MANY,
                         exempt_when=lambda: request.endpoint not in PASSWORD_ENDPOINTS)(bp)
    limiter.init_app(app)
    app.register_blueprint(bp)


def _max_failures() -> int:
    return int(current_app.config.get("ANTAR_LOGIN_MAX_FAILURES") or 5)


def _login_refused() -> str:
    return (f"Nama pengguna atau kata sandi salah. Setelah {_max_failures()} kali kata sandi salah berturut-turut "
            "akun dikunci; staf Disdukcapil atau admin dapat membukanya kembali.")


@login_manager.user_loader
def _load_user(token: str) -> User | None:
    """The account of a login session that has not ended (logout ends it on the server), if still active."""
    if not token or len(token) > 64:
        return None
    with unit_of_work() as session:
        user = session.scalar(select(User).join(LoginSession, LoginSession.user_id == User.id)
                              .where(LoginSession.id == token, LoginSession.ended_at.is_(None)))
        if user is None or not user.active:
            return None
        user.login_token = token
        return user


def start_login_session(user: User) -> None:
    """Log the user in with a new server-side session (its random id goes in the signed cookie)."""
    token = secrets.token_urlsafe(32)
    with unit_of_work() as session:
        session.add(LoginSession(id=token, user_id=user.id, created_at=utcnow()))
    user.login_token = token
    login_user(user)


def end_login_session() -> None:
    """End the current login on the server too: the same cookie, copied elsewhere, no longer opens a page."""
    token = getattr(current_user, "login_token", None)
    if token:
        with unit_of_work() as session:
            session.execute(update(LoginSession).where(LoginSession.id == token, LoginSession.ended_at.is_(None))
                            .values(ended_at=utcnow()))
    logout_user()


@bp.before_app_request
def _password_change_first() -> Any:
    """An account with a temporary password (reset by an admin) opens nothing but the change page until changed.

    Only logins through a session: an API token is not the password, and is not held back."""
    if request.endpoint in CHANGE_FIRST_ALLOWED or not current_user.is_authenticated:
        return None
    if not getattr(current_user, "login_token", None) or not current_user.must_change_password:
        return None
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        return json_error(403, MUST_CHANGE, "password_change_required")
    flash(MUST_CHANGE, "info")
    return redirect(url_for("auth.change_password"))


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    if request.path.startswith("/api/"):
        return json_error(401, "Harus masuk (login) terlebih dahulu.")
    flash(login_manager.login_message, "info")
    return redirect(url_for("auth.login", next=request.full_path))


def roles_required(*roles: Role) -> Callable[[F], F]:
    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def actor() -> Actor:
    return Actor(current_user.username, current_user.id)


def current_office(session: Any) -> Office:
    """The office the current user works for (an admin works for the configured office)."""
    if current_user.office_id is not None:
        return session.get(Office, current_user.office_id)
    return ensure_office(session, current_app.config["ANTAR_OFFICE"])


class LoginForm(FlaskForm):
    username = StringField("Nama pengguna", validators=[DataRequired("Nama pengguna wajib diisi.")])
    password = PasswordField("Kata sandi", validators=[DataRequired("Kata sandi wajib diisi.")])


def safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login would hand a phishing page our session.
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.index")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Kata sandi saat ini", validators=[DataRequired("Kata sandi saat ini wajib diisi.")])
    new = PasswordField(f"Kata sandi baru (minimal {users.MIN_PASSWORD_LENGTH} karakter)",
                        validators=[DataRequired("Kata sandi baru wajib diisi.")])
    confirm = PasswordField("Ulangi kata sandi baru", validators=[
        DataRequired("Ulangi kata sandi baru."), EqualTo("new", "Kedua kata sandi baru tidak sama.")])


@bp.errorhandler(TooManyRequests)
def _too_many(exc: TooManyRequests) -> Any:
    if request.endpoint == "auth.change_password":
        g.page_title = "Ganti kata sandi"
        return render_template("account_password.html", form=ChangePasswordForm(), notice=TOO_MANY), 429
    g.page_title = "Masuk"
    return render_template("login.html", form=LoginForm(), notice=TOO_MANY), 429


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        with unit_of_work() as session:
            user = users.check_login(session, form.username.data, form.password.data, max_failures=_max_failures())
        if user is not None:
            start_login_session(user)
            if user.must_change_password:
                flash(MUST_CHANGE, "info")
                return redirect(url_for("auth.change_password"))
            return redirect(safe_next(request.args.get("next")))
        flash(_login_refused(), "error")
    g.page_title = "Masuk"
    return render_template("login.html", form=form, notice=None)


@bp.route("/akun/kata-sandi", methods=["GET", "POST"])
@login_required
def change_password() -> Any:
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        error = None
        with unit_of_work() as session:
            try:
                ended = users.change_password(session, session.get(User, current_user.id), form.current.data,
                                              form.new.data, max_failures=_max_failures(),
                                              keep_session=current_user.login_token)
            except users.WrongPassword as exc:
                error = str(exc)  # the failure it counted is committed
            except users.UserError as exc:
                error = str(exc)
                session.rollback()
        if error:
            flash(error, "error")
            status = 422
        else:
            others = f" {ended} sesi masuk lain dengan akun ini diakhiri." if ended else ""
            flash("Kata sandi sudah diganti." + others, "success")
            return redirect(url_for("main.index"))
    elif form.errors:
        status = 422
    g.page_title = "Ganti kata sandi"
    return render_template("account_password.html", form=form, notice=None), status


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    end_login_session()
    flash("Anda sudah keluar.", "info")
    return redirect(url_for("auth.login"))
