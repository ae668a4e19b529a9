"""Offices: one Disdukcapil office per kabupaten/kota, created on first use from the official list."""

from __future__ import annotations

from sqlalchemy import select
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
