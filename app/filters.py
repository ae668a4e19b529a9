"""Template filters: numbers and times the way Indonesian staff read them."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from markupsafe import Markup

from app.cards import STATE_LABELS, CardState
from app.dates import as_local, tanggal_2, waktu, wib_text


def thousands(n: int | None) -> str:
    return "-" if n is None else f"{n:,}".replace(",", ".")


def wib(ts: dt.datetime | None) -> str:
    return wib_text(ts)


def waktu_html(moment: dt.datetime | None, empty: str = "—") -> Markup | str:
    """A moment as staff read it, "03 Desember 2026 10.06 WIB", in a <time> element (machine-readable
    `datetime`; the short numeric form as its tooltip)."""
    if moment is None:
        return empty
    local = as_local(moment)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        local.isoformat(timespec="minutes"), wib_text(local), waktu(local))


def waktu_pendek(moment: dt.datetime | None, empty: str = "—") -> Markup | str:
    """A moment in a narrow column: "22-11-2026 10.45" (WIB), in a <time> element with the long form as tooltip."""
    if moment is None:
        return empty
    local = as_local(moment)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        local.isoformat(timespec="minutes"), waktu(local), local.strftime("%d-%m-%Y %H.%M"))


def tanggal_text(day: dt.date | dt.datetime | str | None, empty: str = "—") -> str:
    """A date as staff read it ("3 Des 2026"); an ISO date text (as JSON-able figures carry it) too."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return empty if day is None else tanggal_2(day)


def state_label(state: str) -> str:
    return STATE_LABELS[CardState(state)]


def mask_nik(nik: str | None) -> str:
    """A NIK where the task does not need it whole (UU PDP 27/2022): the first six digits (province, kabupaten,
    kecamatan of registration) and the last four, "3216********0001". Anything shorter shows its last four at most."""
    if not nik:
        return ""
    if len(nik) < 12:
        return "*" * max(len(nik) - 4, 0) + nik[-4:] if len(nik) > 4 else "*" * len(nik)
    return nik[:6] + "*" * (len(nik) - 10) + nik[-4:]


def init_app(app: Flask) -> None:
    app.add_template_filter(thousands, "ribuan")
    app.add_template_filter(wib, "wib")
    app.add_template_filter(waktu_html, "waktu")
    app.add_template_filter(waktu_pendek, "waktu_pendek")
    app.add_template_filter(tanggal_text, "tanggal_id")
    app.add_template_filter(state_label, "status")
    app.add_template_filter(mask_nik, "nik_samar")
