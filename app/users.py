"""Account operations: creating an account, activating and deactivating it (recorded: who, when, why)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards import Actor
from app.db import utcnow
from app.models import AccountEvent, Role, User
from app.offices import ensure_office
from app.regions import office_regions


class UserError(ValueError):
    pass


def create_user(
    session: Session, username: str, password: str, role: Role, *, office_code: str | None = None,
    kelurahan_code: str | None = None, full_name: str = "",
) -> User:
    username = username.strip()
    if not username:
        raise UserError("Nama pengguna wajib diisi.")
    if len(password) < 8:
        raise UserError("Kata sandi minimal 8 karakter.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"Nama pengguna '{username}' sudah dipakai.")
    office = None
    if role is not Role.ADMIN:
        if not office_code:
            raise UserError("Staf dan petugas kelurahan harus punya kantor (--office).")
        office = ensure_office(session, office_code)
    if role is Role.OFFICER:
        if not kelurahan_code or kelurahan_code not in office_regions(office.code).kelurahan:
            raise UserError(f"Petugas kelurahan butuh kode kelurahan di {office.name} (--kelurahan).")
    elif kelurahan_code:
        raise UserError("Hanya petugas kelurahan yang terikat pada satu kelurahan.")
    user = User(username=username, full_name=full_name, role=role, office_id=office.id if office else None,
                kelurahan_code=kelurahan_code if role is Role.OFFICER else None)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def set_active(session: Session, user: User, active: bool, actor: Actor, note: str = "") -> bool:
    """Activate or deactivate an account, recording who did it and when; False when it already was so.

    An inactive account can no longer log in, and its open sessions end (auth refuses inactive users)."""
    if user.active == active:
        return False
    user.active = active
    session.add(AccountEvent(user_id=user.id, action="activated" if active else "deactivated", at=utcnow(),
                             actor=actor.label, actor_user_id=actor.user_id, note=note.strip()[:500]))
    return True


def account_events(session: Session, user_ids: list[int]) -> dict[int, AccountEvent]:
    """The latest account event of each of these users (for the staff's list of accounts)."""
    latest: dict[int, AccountEvent] = {}
    if user_ids:
        for e in session.scalars(select(AccountEvent).where(AccountEvent.user_id.in_(user_ids))
                                 .order_by(AccountEvent.id)):
            latest[e.user_id] = e
    return latest
