"""Kernel tables: offices and user accounts. Cards live in `app.cards`; print runs and withdrawn areas with
intake and sorting (`manifests/intake/models.py`, `manifests/sorting.py`)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from app.db import Base, UTCDateTime, utcnow


def password_hash_method() -> str:
    """werkzeug's hash method for new passwords: `ANTAR_PASSWORD_HASH` (default scrypt, werkzeug's own default;
    the test suite uses a cheap pbkdf2 so that its hundreds of logins do not take minutes)."""
    return (current_app.config.get("ANTAR_PASSWORD_HASH") if has_app_context() else None) or "scrypt"


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
    # The courier partner's machine account: API tokens only, never a page; reaches only the courier's endpoints.
    COURIER = "courier"


ROLE_LABELS = {Role.ADMIN: "Administrator", Role.STAFF: "Staf Disdukcapil", Role.OFFICER: "Petugas kelurahan",
               Role.COURIER: "Mitra kurir (mesin)"}


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
    # Login failures since the last success; at the limit the account is locked until staff unlock it.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set when an admin resets the password: the next login must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=text("false"))

    office: Mapped[Office | None] = relationship(lazy="joined")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password, method=password_hash_method())

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # The login session this object was loaded for (app/auth.py): Flask-Login keeps it in the cookie, so ending
    # the session on the server (logout) makes a copied cookie worthless.
    def get_id(self) -> str:
        token = getattr(self, "login_token", None)  # set by app.auth, never stored on the account
        if not token:
            raise RuntimeError("an account is only logged in through a login session (app.auth)")
        return token

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


class LoginSession(Base):
    """A login: the cookie carries its random id, and it ends on the server when the user logs out (or the
    account is deactivated), so a copied cookie stops working."""

    __tablename__ = "login_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


JOB_STATUS_LABELS = {JobStatus.QUEUED: "Menunggu giliran", JobStatus.RUNNING: "Sedang berjalan",
                     JobStatus.DONE: "Selesai", JobStatus.FAILED: "Gagal"}


class Job(Base):
    """Long work started from a page or the API (an import, a build of many manifests, a handover of many, a bundle
    of documents): run by `antar worker` (Redis) or a thread of the web process, watched on its own page.

    `dedupe_key` makes the same work asked twice at once (two uploads of one file) one job: a partial unique index
    over the jobs still queued or running."""

    __tablename__ = "job"
    __table_args__ = (
        Index("uq_job_active_dedupe", "dedupe_key", unique=True,
              sqlite_where=text("status IN ('QUEUED', 'RUNNING')"),
              postgresql_where=text("status IN ('QUEUED', 'RUNNING')")),
        Index("ix_job_office_created", "office_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[JobStatus] = mapped_column(Enum(JobStatus, native_enum=False, length=12, validate_strings=True))
    dedupe_key: Mapped[str | None] = mapped_column(String(200))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    result: Mapped[str | None] = mapped_column(Text)  # JSON, once done
    error: Mapped[str | None] = mapped_column(Text)  # for people, once failed
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    runner: Mapped[str | None] = mapped_column(String(120))  # which process ran it (host:pid)

    @property
    def status_label(self) -> str:
        return JOB_STATUS_LABELS[self.status]


class ApiToken(Base):
    """A bearer token for a machine client, acting as one account with that account's role (and office or
    kelurahan). Only a SHA-256 of the token is stored; the token itself is shown once, when it is made."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(12))  # the first characters, to tell tokens apart in lists
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    user: Mapped[User] = relationship(lazy="joined")


class AccessLog(Base):
    """Who opened a page or export that shows full NIKs (UU PDP 27/2022): staff can read this log."""

    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_office_at", "office_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    username: Mapped[str] = mapped_column(String(80))
    what: Mapped[str] = mapped_column(String(200))  # 'Baris ditolak, print run 3', 'Daftar pemilik meninggal'
    path: Mapped[str] = mapped_column(String(300))
    ip: Mapped[str | None] = mapped_column(String(45))
    records: Mapped[int | None]  # how many people's data the answer held, when known

