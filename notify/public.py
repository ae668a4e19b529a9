"""Citizens opt out on their status page: after a successful lookup on /cek-status, a button "Jangan kirimi saya
pesan" posts here and the number of that card gets no more messages.

The status page belongs to delivery, which cannot know this package: it calls the template global
`notify_optout_form(card_id)` (registered by notify's init_app), which renders the button, or nothing when the card
has no number we could message. The button carries the card's id signed with the application's secret key and
valid for an hour (itsdangerous), so the form cannot be used for a card the citizen did not look up.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from markupsafe import Markup

from app.db import unit_of_work
from notify.service import card_can_opt_out, opt_out_card

bp = Blueprint("notify_public", __name__, template_folder="templates")
SALT = "antar.notify.optout"
TOKEN_MAX_AGE = 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def optout_token(card_id: int) -> str:
    return _serializer().dumps(card_id)


def card_of(token: str) -> int | None:
    """The card a token was made for, or None when it is forged, altered or older than an hour."""
    if not token or len(token) > 200:
        return None
    try:
        value = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:  # SignatureExpired is one too
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def optout_form(card_id: int | None) -> Markup:
    """The opt-out button for the status page's answer about this card (empty without a card or a number)."""
    if not card_id:
        return Markup("")
    with unit_of_work() as session:
        has_number, already = card_can_opt_out(session, card_id)
    if not has_number:
        return Markup("")
    return Markup(render_template("notify_optout_form.html", token=optout_token(card_id), already=already))


@bp.after_request
def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(CSRFError)
def _expired_form(exc: CSRFError) -> Any:
    # A phone that dropped the session cookie: the citizen's page again, not the staff error page.
    return render_template("notify_optout_done.html", outcome="expired"), 400


@bp.route("/cek-status/berhenti-pesan", methods=["POST"])
def opt_out_page() -> Any:
    card_id = card_of(request.form.get("token", ""))
    if card_id is None:
        return render_template("notify_optout_done.html", outcome="expired"), 400
    with unit_of_work() as session:
        result = opt_out_card(session, card_id, "cek-status")
    return render_template("notify_optout_done.html", outcome="done" if result.done else "no_number")
