"""Intake tables: rows a print run rejected."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class IntakeRejection(Base):
    """A row of a print-run file that cannot be a card, with its line number and reason."""

    __tablename__ = "intake_rejection"

    id: Mapped[int] = mapped_column(primary_key=True)
    print_run_id: Mapped[int] = mapped_column(ForeignKey("print_run.id"), index=True)
    line: Mapped[int]
    field: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)  # the row as read, JSON
