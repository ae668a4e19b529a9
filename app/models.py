"""Kernel tables: offices and user accounts. Cards live in `app.cards`; print runs and withdrawn areas with
intake and sorting (`manifests/intake/models.py`, `manifests/sorting.py`)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String
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


class AccountEvent(Base):
    """A change to an account that staff must be able to trace: activated or deactivated, by whom, when, why."""

    __tablename__ = "account_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))  # 'activated', 'deactivated'
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
