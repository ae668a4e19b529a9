"""Template filters: numbers and times the way Indonesian staff read them."""

from __future__ import annotations

import datetime as dt

from flask import Flask

from app.cards import STATE_LABELS, CardState
from app.dates import wib_text


def thousands(n: int | None) -> str:
    return "-" if n is None else f"{n:,}".replace(",", ".")


def wib(ts: dt.datetime | None) -> str:
    return wib_text(ts)


def state_label(state: str) -> str:
    return STATE_LABELS[CardState(state)]


def init_app(app: Flask) -> None:
    app.add_template_filter(thousands, "ribuan")
    app.add_template_filter(wib, "wib")
    app.add_template_filter(state_label, "status")
