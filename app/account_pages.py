"""The accounts page (`/akun`, admin): every account with its state (active, locked, temporary password), unlocking
and password reset. Unlocking is also open to staff, for the kelurahan officers of their own office (the button on
the returns domain's list of officers posts here). Thin: the rules are in `app.users`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField
from wtforms.validators import Optional

from app import users
from app.auth import actor, roles_required, safe_next
from app.db import unit_of_work
from app.models import Role, User
from app.web import add_menu

bp = Blueprint("accounts", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_menu(app, "accounts.list_page", "Akun", (Role.ADMIN,), 97)
    app.add_template_filter(lambda action: users.ACCOUNT_ACTIONS.get(action, action), "aksi_akun")


class ActionForm(FlaskForm):
    """A button that changes an account (its CSRF token only)."""


class ResetForm(FlaskForm):
    password = PasswordField("Kata sandi sementara (kosongkan agar dibuatkan)", validators=[Optional()])


def _account(session: Any, user_id: int) -> User:
    """The account the current user may manage, else 404 (another office's account is not shown to exist)."""
    account = session.get(User, user_id)
    manager = session.get(User, current_user.id)
    if account is None or manager is None or not users.may_manage(manager, account):
        abort(404)
    return account


@bp.route("/akun")
@roles_required(Role.ADMIN)
def list_page() -> Any:
    with unit_of_work() as session:
        accounts = users.accounts(session)
        changes = users.account_events(session, [u.id for u in accounts])
    g.page_title = "Akun pengguna"
    return render_template("account_list.html", accounts=accounts, changes=changes, form=ActionForm(),
                           Role=Role)


@bp.route("/akun/<int:user_id>/buka-kunci", methods=["POST"])
@roles_required(Role.ADMIN, Role.STAFF)
def unlock_page(user_id: int) -> Any:
    if not ActionForm().validate_on_submit():
        abort(400)
    with unit_of_work() as session:
        account = _account(session, user_id)
        done = users.unlock(session, account, actor())
        name = account.username
    if done:
        flash(f"Kunci akun '{name}' dibuka: akun dapat masuk lagi.", "success")
    else:
        flash(f"Akun '{name}' tidak terkunci.", "info")
    if request.form.get("next"):  # the page the button was on (same site only)
        return redirect(safe_next(request.form["next"]))
    return redirect(url_for("accounts.list_page" if current_user.role is Role.ADMIN else "main.index"))


@bp.route("/akun/<int:user_id>/atur-ulang", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def reset_page(user_id: int) -> Any:
    form = ResetForm()
    status = 200
    with unit_of_work() as session:
        account = _account(session, user_id)
        name = account.username
    if form.validate_on_submit():
        try:
            with unit_of_work() as session:
                password = users.reset_password(session, _account(session, user_id), actor(),
                                                form.password.data or None)
        except users.UserError as exc:
            form.password.errors = [str(exc)]
            status = 422
        else:
            # Shown once, on this answer only: not flashed (the session cookie is only signed) and not cached.
            g.page_title = "Kata sandi diatur ulang"
            response = render_template("account_reset.html", form=None, username=name, password=password)
            return response, 200, {"Cache-Control": "no-store"}
    g.page_title = f"Atur ulang kata sandi: {name}"
    return render_template("account_reset.html", form=form, username=name, password=None), status
