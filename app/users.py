"""Account operations: creating an account, activating and deactivating it, logging in (failures, lock-out),
unlocking, changing and resetting a password. Every change is recorded as an `AccountEvent`: who, when, why.

The login rules:

- every login attempt runs exactly one password-hash check: against the account's hash, or, when the name is
  unknown or the account inactive or locked, against a dummy hash of the same method, so the answer's timing does
  not tell whether a name exists;
- wrong passwords are counted with one atomic UPDATE (concurrent attempts all count); at `max_failures` in a row
  the account is locked (`locked_at`), and a locked account opens with no password until staff unlock it (an
  admin: any account; staff: the kelurahan officers of their own office); a success resets the count;
- a password a user chooses has at least `MIN_PASSWORD_LENGTH` characters and is not the user name; an admin's
  reset sets a temporary one that must be changed at the next login, and ends every login session of the account.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.cards import Actor
from app.db import utcnow
from app.models import AccountEvent, LoginSession, Role, User, password_hash_method
from app.offices import ensure_office
from app.regions import office_regions

MIN_PASSWORD_LENGTH = 10
# How each account event reads on the pages (Bahasa Indonesia).
ACCOUNT_ACTIONS = {
    "activated": "Diaktifkan", "deactivated": "Dinonaktifkan", "locked": "Dikunci (kata sandi salah berulang)",
    "unlocked": "Kunci dibuka", "password_changed": "Kata sandi diganti", "password_reset": "Kata sandi diatur ulang",
}
LOGIN_ACTOR = Actor.system("login")


class UserError(ValueError):
    pass


class WrongPassword(UserError):
    """The password given to confirm a change was wrong (the failure is counted: commit it)."""


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
    _record(session, user, "activated" if active else "deactivated", actor, note)
    return True


def account_events(session: Session, user_ids: list[int]) -> dict[int, AccountEvent]:
    """The latest account event of each of these users (for the staff's list of accounts)."""
    latest: dict[int, AccountEvent] = {}
    if user_ids:
        for e in session.scalars(select(AccountEvent).where(AccountEvent.user_id.in_(user_ids))
                                 .order_by(AccountEvent.id)):
            latest[e.user_id] = e
    return latest


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise UserError(f"Akun '{username.strip()}' tidak ditemukan.")
    return user


def may_manage(manager: User, account: User) -> bool:
    """Whether `manager` may unlock this account: an admin any, staff the kelurahan officers of their own office."""
    if manager.role is Role.ADMIN:
        return True
    return (manager.role is Role.STAFF and account.role is Role.OFFICER and manager.office_id is not None
            and account.office_id == manager.office_id)


_dummy_hashes: dict[str, str] = {}


def _dummy_password_hash() -> str:
    """A hash of a random password, made once per process with the same method as real ones (`set_password`)."""
    method = password_hash_method()
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _dummy_hashes[method]


def check_login(session: Session, username: str, password: str, *, max_failures: int) -> User | None:
    """The account these credentials open, or None (one answer for every refusal: unknown name, wrong password,
    inactive or locked account). Counts the failure or resets the count; locks the account at `max_failures`."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    # A courier account is a machine's (API tokens only): it never opens a page.
    usable = user is not None and user.active and user.locked_at is None and user.role is not Role.COURIER
    # One hash check whatever the case, so that an unknown name takes as long as a known one.
    right = check_password_hash(user.password_hash if usable else _dummy_password_hash(), password)
    if user is None or not usable:
        return None
    if not right:
        record_failed_login(session, user, max_failures=max_failures)
        return None
    record_success(session, user)
    return user


def record_failed_login(session: Session, user: User, *, max_failures: int) -> bool:
    """Count one wrong password (atomically: concurrent attempts all count); True when this one locked the account.

    The lock itself is an UPDATE guarded by `locked_at IS NULL`, so of concurrent failures past the limit exactly
    one records the 'locked' event."""
    count = session.execute(
        update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins).execution_options(synchronize_session=False)).scalar_one()
    locked = False
    if count >= max_failures:
        result = session.execute(
            update(User).where(User.id == user.id, User.locked_at.is_(None)).values(locked_at=utcnow())
            .execution_options(synchronize_session=False))
        if result.rowcount == 1:
            _record(session, user, "locked", LOGIN_ACTOR, f"{count} kali kata sandi salah berturut-turut")
            locked = True
    session.expire(user, ["failed_logins", "locked_at"])
    return locked


def record_success(session: Session, user: User) -> None:
    """A right password: the count of failures starts again."""
    if user.failed_logins:
        session.execute(update(User).where(User.id == user.id).values(failed_logins=0)
                        .execution_options(synchronize_session=False))
        session.expire(user, ["failed_logins"])


def unlock(session: Session, user: User, actor: Actor, note: str = "") -> bool:
    """Open a locked account again (and forget its failures); False when it was not locked."""
    if user.locked_at is None:
        return False
    user.locked_at = None
    user.failed_logins = 0
    _record(session, user, "unlocked", actor, note)
    return True


def check_new_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"Kata sandi baru minimal {MIN_PASSWORD_LENGTH} karakter.")
    if password.strip().casefold() == user.username.casefold():
        raise UserError("Kata sandi tidak boleh sama dengan nama pengguna.")


def change_password(session: Session, user: User, current: str, new: str, *, max_failures: int,
                    keep_session: str | None = None) -> int:
    """The user changes their own password; every other login session of the account ends (the one given stays).
    Returns the number of sessions ended.

    A wrong current password counts as a failed login (a stolen session cannot guess it at leisure): the count is
    written to `session` before `WrongPassword` is raised, so the caller commits it (nothing else was changed)."""
    if user.locked_at is not None:
        raise UserError("Akun terkunci karena kata sandi salah berulang kali. Minta staf atau admin membukanya.")
    if not check_password_hash(user.password_hash, current):
        record_failed_login(session, user, max_failures=max_failures)
        raise WrongPassword("Kata sandi saat ini salah.")
    check_new_password(user, new)
    if check_password_hash(user.password_hash, new):
        raise UserError("Kata sandi baru harus berbeda dari kata sandi saat ini.")
    user.set_password(new)
    user.password_changed_at = utcnow()
    user.must_change_password = False
    user.failed_logins = 0
    ended = end_sessions(session, user, keep=keep_session)
    _record(session, user, "password_changed", Actor(user.username, user.id),
            f"{ended} sesi lain diakhiri" if ended else "")
    return ended


def generate_password() -> str:
    """A temporary password to read out or type: three groups of four letters and digits, none easily confused."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def reset_password(session: Session, user: User, actor: Actor, password: str | None = None) -> str:
    """Set a temporary password (the one given, or a generated one, returned) that must be changed at the next
    login; every login session of the account ends, and a lock is lifted (the user could not use it otherwise)."""
    password = password or generate_password()
    check_new_password(user, password)
    user.set_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = True
    if user.locked_at is not None:
        unlock(session, user, actor, "dengan atur ulang kata sandi")
    user.failed_logins = 0
    ended = end_sessions(session, user)
    _record(session, user, "password_reset", actor, f"{ended} sesi diakhiri" if ended else "")
    return password


def end_sessions(session: Session, user: User, *, keep: str | None = None) -> int:
    """End the account's open login sessions (all, or all but `keep`); their cookies open nothing any more."""
    stmt = update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
    if keep:
        stmt = stmt.where(LoginSession.id != keep)
    return session.execute(stmt.values(ended_at=utcnow()).execution_options(synchronize_session=False)).rowcount


def locked_since(session: Session, user_ids: list[int]) -> dict[int, dt.datetime]:
    """When each of these accounts that is locked was locked (for the staff's list of accounts)."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.locked_at).where(User.id.in_(user_ids), User.locked_at.is_not(None)))
    return {user_id: at for user_id, at in rows}


def accounts(session: Session) -> list[User]:
    """Every account, admins and staff first, then by office and name (the admin's list)."""
    order = {Role.ADMIN: 0, Role.STAFF: 1}
    users = list(session.scalars(select(User)))
    return sorted(users, key=lambda u: (order.get(u.role, 2), u.office.code if u.office else "",
                                        u.kelurahan_code or "", u.username))


def _record(session: Session, user: User, action: str, actor: Actor, note: str = "") -> None:
    session.add(AccountEvent(user_id=user.id, action=action, at=utcnow(), actor=actor.label,
                             actor_user_id=actor.user_id, note=note.strip()[:500]))
