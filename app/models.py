"""Kernel tables: offices, user accounts, print runs and withdrawn areas. Cards live in `app.cards`."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import Base, UTCDateTime, utcnow


class Office(Base):
    """A Disdukcapil office: one per kabupaten/kota. Several offices may share one database."""

    __tablename__ = "office"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(5), unique=True)  # Kemendagri code: '32.16'
    name: Mapped[str] = mapped_column(String(120))  # 'Kabupaten Bekasi'

    @property
    def title(self) -> str:
        return f"Disdukcapil {self.name}"


class Role(StrEnum):
    ADMIN = "admin"
    STAFF = "staff"
    OFFICER = "officer"


ROLE_LABELS = {Role.ADMIN: "Administrator", Role.STAFF: "Staf Disdukcapil", Role.OFFICER: "Petugas kelurahan"}


class User(UserMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16, validate_strings=True))
    # Staff and officers belong to one office; an officer also to one kelurahan of it.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    kelurahan_code: Mapped[str | None] = mapped_column(String(13))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    office: Mapped[Office | None] = relationship(lazy="joined")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


class PrintRun(Base):
    """One imported print-run file. A card always belongs to the run that brought it in."""

    __tablename__ = "print_run"

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
    duplicates: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)
    note: Mapped[str] = mapped_column(Text, default="")

    office: Mapped[Office] = relationship()


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
