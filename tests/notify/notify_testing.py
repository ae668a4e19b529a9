"""Helpers for the tests of messages to citizens: settings, cards with phone numbers on the road, a pass."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from flask import Flask
from helpers import card_row
from sqlalchemy import select

from app.cards import Card
from app.db import unit_of_work
from notify.models import NotifyAttempt, NotifyMessage
from notify.service import Settings, run_pass

NOTIFY_SECRET = "whsec_" + base64.b64encode(b"notify-report-secret-32-bytes!!!").decode()
GW_TOKEN = "gw-token"
WIB = dt.timezone(dt.timedelta(hours=7))


def phone(serial: int) -> str:
    """A mobile number of card `serial` as the print run has it."""
    return f"0812{serial:08d}"


def intl(serial: int) -> str:
    return "+62" + phone(serial)[1:]


def rows_with_phones(serials: range, *, without: tuple[int, ...] = ()) -> list[dict[str, str]]:
    return [card_row(i, no_hp="" if i in without else phone(i)) for i in serials]


def one_pass(app: Flask) -> dict[str, Any]:
    with app.app_context():
        return run_pass(Settings.from_config(app.config))


def messages(app: Flask) -> list[dict[str, Any]]:
    """Every message with its card's blanko number, NIK and no_hp, in id order."""
    with app.app_context(), unit_of_work() as s:
        rows = s.execute(select(NotifyMessage, Card.nomor_blanko, Card.nik, Card.tanggal_lahir, Card.alamat)
                         .join(Card, Card.id == NotifyMessage.card_id).order_by(NotifyMessage.id)).all()
        out = []
        for m, blanko, nik, born, alamat in rows:
            view = {c.name: getattr(m, c.name) for c in NotifyMessage.__table__.columns}
            view.update(blanko=blanko, nik=nik, born=born, alamat=alamat)
            out.append(view)
        return out


def attempts(app: Flask, message_id: int) -> list[dict[str, Any]]:
    with app.app_context(), unit_of_work() as s:
        return [{c.name: getattr(a, c.name) for c in NotifyAttempt.__table__.columns}
                for a in s.scalars(select(NotifyAttempt).where(NotifyAttempt.message_id == message_id)
                                   .order_by(NotifyAttempt.id))]
