"""Sessions, roles and scope: who may see what.

Staff see their own office; an officer sees one kelurahan of it; an admin sees every office.
Every page and API route states the roles it admits with `roles_required`.
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
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from app.cards import Actor
from app.db import unit_of_work, utcnow
from app.models import LoginSession, Office, Role, User
from app.offices import ensure_office
from app.web import json_error

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Silakan masuk terlebih dahulu."
login_manager.login_message_category = "info"

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    app.register_blueprint(bp)


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


def _safe_next(target: str | None) -> str:
    # Only same-site paths: an open redirect after login would hand a phishing page our session.
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    form = LoginForm()
    if form.validate_on_submit():
        with unit_of_work() as session:
            user = session.scalar(select(User).where(User.username == form.username.data.strip()))
            ok = user is not None and user.active and user.check_password(form.password.data)
        if ok:
            start_login_session(user)
            return redirect(_safe_next(request.args.get("next")))
        flash("Nama pengguna atau kata sandi salah.", "error")
    g.page_title = "Masuk"
    return render_template("login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    end_login_session()
    flash("Anda sudah keluar.", "info")
    return redirect(url_for("auth.login"))
