"""Intake and sorting tables: the print runs imported, the rows of their files that could not be cards, and the
areas staff withdrew (their cards skip the courier, also those of later print runs)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.models import Office


class PrintRun(Base):
    """One imported print-run file. A card always belongs to the run that brought it in."""

    __tablename__ = "print_run"
    # One print run per file and office (a file is identified by its content): two uploads of the same file at the
    # same moment make one run, a database rule.
    __table_args__ = (Index("uq_print_run_office_sha256", "office_id", "sha256", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(120))
    rows_read: Mapped[int] = mapped_column(default=0)
    cards_imported: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    # Rows whose card (by nomor_blanko) an earlier run already brought in.
    rows_already_imported: Mapped[int] = mapped_column(default=0)
    # Of those, the rows where the file says something else than the card (`IntakeDifference`).
    rows_changed: Mapped[int] = mapped_column(default=0, server_default="0")
    duplicates: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")

    office: Mapped[Office] = relationship()


class IntakeRejection(Base):
    """A row of a print-run file that cannot be a card, with its line number and reason."""

    __tablename__ = "intake_rejection"

    id: Mapped[int] = mapped_column(primary_key=True)
    print_run_id: Mapped[int] = mapped_column(ForeignKey("print_run.id"), index=True)
    line: Mapped[int]
    field: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)  # the row as read, JSON


class IntakeDifference(Base):
    """A row of a print-run file whose card an earlier run brought in, where the file now says something else (a
    corrected export from SIAK, say). The card is not changed by it (one card per blanko, made once): the row counts
    as already imported, and this records which of the file's columns differ, for staff to act on."""

    __tablename__ = "intake_difference"

    id: Mapped[int] = mapped_column(primary_key=True)
    print_run_id: Mapped[int] = mapped_column(ForeignKey("print_run.id"), index=True)
    line: Mapped[int]
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    # The file's column names, comma-separated ("alamat,no_hp"): no values, so no personal data of its own.
    fields: Mapped[str] = mapped_column(String(200))


class Withdrawal(Base):
    """Staff withhold the cards of an area (a kelurahan, or some RWs of it): they skip the courier."""

    __tablename__ = "withdrawal"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), index=True)
    kelurahan_code: Mapped[str] = mapped_column(String(13))
    # Comma-separated three-digit RWs ('003,005'); empty means the whole kelurahan.
    rws: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True)

    @property
    def rw_list(self) -> list[str]:
        return [r for r in self.rws.split(",") if r]

    def covers(self, kelurahan_code: str | None, rw: str | None) -> bool:
        if not self.active or kelurahan_code != self.kelurahan_code:
            return False
        return not self.rw_list or rw in self.rw_list
