"""Lifecycles of the office's documents (a courier manifest, a kelurahan handover batch): one way to change
their status and record it, one way to number them.

A domain declares its statuses, the transitions allowed between them and the table its events go to; every
status change then goes through `Lifecycle.set_status`, which refuses a move the table does not allow and
writes the event (from, to, who, when, what happened). Cards have their own lifecycle in `app.cards`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.cards import Actor
from app.dates import as_local
from app.db import utcnow

S = TypeVar("S", bound=StrEnum)


class Lifecycle(Generic[S]):
    """The statuses of one kind of document, their allowed transitions and where their events are recorded.

    `noun` names the document in messages ("Manifest", "Berkas"); `event_model` is the event table, with
    columns from_status, to_status, at, actor, user_id, note and the foreign key `owner_key` to the document.
    `error` is the exception the domain raises for a refused transition.
    """

    def __init__(self, *, noun: str, transitions: Mapping[S | None, frozenset[S]], labels: Mapping[S, str],
                 event_model: Any, owner_key: str, error: Callable[[str], Exception]) -> None:
        self.noun = noun
        self.transitions = transitions
        self.labels = labels
        self.event_model = event_model
        self.owner_key = owner_key
        self.error = error

    def allows(self, current: S | None, target: S) -> bool:
        return target in self.transitions.get(current, frozenset())

    def check(self, number: str, current: S | None, target: S) -> None:
        if not self.allows(current, target):
            now = self.labels[current] if current is not None else "belum ada"
            raise self.error(f"{self.noun} {number} berstatus '{now}' dan tidak dapat diubah menjadi "
                             f"'{self.labels[target]}'.")

    def start(self, session: Session, doc: Any, status: S, actor: Actor, note: str) -> None:
        """A new document's first status (it must already have an id)."""
        self.check(doc.number, None, status)
        doc.status = status
        self.record(session, doc, None, status, actor, note)

    def set_status(self, session: Session, doc: Any, target: S, actor: Actor, note: str) -> None:
        self.check(doc.number, doc.status, target)
        before = doc.status
        doc.status = target
        self.record(session, doc, before, target, actor, note)

    def note(self, session: Session, doc: Any, actor: Actor, note: str) -> None:
        """Something that happened to the document without a status change."""
        self.record(session, doc, None, None, actor, note)

    def record(self, session: Session, doc: Any, before: S | None, after: S | None, actor: Actor,
               note: str) -> None:
        session.add(self.event_model(**{self.owner_key: doc.id}, from_status=before, to_status=after, at=utcnow(),
                                     actor=actor.label, user_id=actor.user_id, note=note))

    def set_status_many(self, session: Session, model: Any, ids: Sequence[int], current: S, target: S,
                        actor: Actor, note: str, *, at: dt.datetime | None = None,
                        values: Mapping[str, Any] | None = None) -> list[int]:
        """Move every document of `ids` that is in `current` to `target` in bulk (one UPDATE, one INSERT of
        events); returns the ids moved. Documents in another status are left as they are."""
        self.check("-", current, target)
        at = at or utcnow()
        moved = list(session.scalars(select(model.id).where(model.id.in_(ids), model.status == current)))
        if not moved:
            return []
        session.execute(update(model).where(model.id.in_(moved), model.status == current)
                        .values(status=target, **(values or {})))
        session.execute(insert(self.event_model.__table__), [
            {self.owner_key: i, "from_status": current, "to_status": target, "at": at, "actor": actor.label,
             "user_id": actor.user_id, "note": note} for i in moved])
        return moved


def document_prefix(kind: str, office_code: str, at: dt.datetime) -> str:
    """'MNF-3216-20261203-': a document's kind, its office and the day (WIB) it was made."""
    return f"{kind}-{office_code.replace('.', '')}-{as_local(at):%Y%m%d}-"


def next_document_numbers(session: Session, column: InstrumentedAttribute, kind: str, office_code: str,
                          count: int = 1, *, at: dt.datetime | None = None) -> list[str]:
    """The next `count` numbers of a kind of document for an office and day: MNF-3216-20261203-0001, -0002...

    Callers hold the office lock (`app.offices.lock_office`), so two requests cannot take the same number."""
    prefix = document_prefix(kind, office_code, at or utcnow())
    last = session.scalar(select(func.max(column)).where(column.startswith(prefix)))
    first = int(last[-4:]) + 1 if last else 1
    return [f"{prefix}{seq:04d}" for seq in range(first, first + count)]
