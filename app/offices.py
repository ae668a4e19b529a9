"""Offices: one Disdukcapil office per kabupaten/kota, created on first use from the official list."""

from __future__ import annotations

import zlib

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.models import Office
from app.regions import office_regions


class UnknownOffice(ValueError):
    pass


def ensure_office(session: Session, code: str) -> Office:
    """The office for a kabupaten/kota code, created (named from the official list) if new."""
    office = session.scalar(select(Office).where(Office.code == code))
    if office is None:
        try:
            regions = office_regions(code)
        except ValueError as exc:
            raise UnknownOffice(str(exc)) from exc
        office = Office(code=regions.code, name=regions.name)
        session.add(office)
        session.flush()
    return office


def lock_office(session: Session, office: Office, purpose: str) -> None:
    """Serialize one kind of work (`purpose`: "manifests", "returns"...) for one office until the transaction ends.

    Builds and numbering read what exists and then write what follows from it; two staff doing the same at the
    same moment must not both read before either writes.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = (zlib.crc32(purpose.encode()) << 20) + office.id  # one advisory lock per purpose and office
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    else:
        # SQLite: a write takes the database's write lock now (waiting for another writer), so that what we
        # read next cannot change before we write.
        session.execute(update(Office).where(Office.id == office.id).values(code=Office.code))
