"""Time as staff read it: the WIB time zone (UTC+7) and Indonesian dates, in one place.

Timestamps are stored in UTC (app/db.py); pages, documents, exports and the courier's payload show them in WIB.
"""

from __future__ import annotations

import datetime as dt

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")
WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def as_local(moment: dt.datetime) -> dt.datetime:
    """The moment in WIB. A naive moment (SQLite hands back naive UTC) is read as UTC, never as local time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(WIB)


def today_local() -> dt.date:
    """Today in WIB, by Antar's clock."""
    from app.db import utcnow

    return as_local(utcnow()).date()


def tanggal(moment: dt.datetime | dt.date) -> str:
    """The calendar date in Indonesian ("23 November 2026"); a moment is read in WIB."""
    day = as_local(moment) if isinstance(moment, dt.datetime) else moment
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def tanggal_2(moment: dt.datetime | dt.date) -> str:
    """The same with a two-digit day ("03 Desember 2026"), so that columns of dates line up."""
    text = tanggal(moment)
    return text if text[1] != " " else "0" + text


def wib_text(moment: dt.datetime | None, empty: str = "-") -> str:
    """A moment as the pages show it: "23-11-2026 10:06 WIB". Written field by field: `strftime` takes twice as long,
    and the courier webhook writes this for every card an event moves (delivery/service.py `_move_reason`)."""
    if moment is None:
        return empty
    local = as_local(moment)
    return f"{local.day:02d}-{local.month:02d}-{local.year} {local.hour:02d}:{local.minute:02d} WIB"


def waktu(moment: dt.datetime | None, empty: str = "-") -> str:
    """A moment in words staff read: "03 Desember 2026 10.06 WIB"."""
    if moment is None:
        return empty
    local = as_local(moment)
    return f"{tanggal_2(local)} {local:%H.%M} WIB"
