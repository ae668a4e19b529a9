"""Read model of the messages for staff: counts, one page of the list, the latest failures. Read-only; phones
come out masked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cards import Card
from app.web import Page, paginate
from notify.models import NotifyAttempt, NotifyMessage, NotifyOptOut
from notify.numbers import mask
from notify.texts import KIND_LABELS, STATUS_LABELS, Kind, MessageStatus


@dataclass(frozen=True)
class Overview:
    counts: dict[str, dict[str, int]]  # kind -> status -> n (every kind and status present)
    by_status: dict[str, int]
    total: int
    opt_outs: int
    last_attempt_at: dt.datetime | None


def overview(session: Session, office_id: int) -> Overview:
    counts = {str(k): {str(s): 0 for s in MessageStatus} for k in Kind}
    for kind, status, n in session.execute(
            select(NotifyMessage.kind, NotifyMessage.status, func.count())
            .where(NotifyMessage.office_id == office_id).group_by(NotifyMessage.kind, NotifyMessage.status)):
        counts.setdefault(kind, {str(s): 0 for s in MessageStatus})[status] = n
    by_status = {str(s): sum(row[str(s)] for row in counts.values()) for s in MessageStatus}
    last = session.scalar(select(func.max(NotifyAttempt.at)).join(NotifyMessage)
                          .where(NotifyMessage.office_id == office_id))
    # Opt-outs belong to numbers, not offices: the count is of all of them.
    opt_outs = session.scalar(select(func.count()).select_from(NotifyOptOut)) or 0
    return Overview(counts, by_status, sum(by_status.values()), opt_outs, last)


_COLUMNS = (NotifyMessage.id, NotifyMessage.kind, NotifyMessage.status, NotifyMessage.channel, NotifyMessage.phone,
            NotifyMessage.reference, NotifyMessage.text, NotifyMessage.attempts, NotifyMessage.created_at,
            NotifyMessage.event_at, NotifyMessage.next_attempt_at, NotifyMessage.sent_at,
            NotifyMessage.delivered_at, NotifyMessage.read_at, NotifyMessage.status_at, NotifyMessage.error,
            NotifyMessage.failure, Card.nomor_blanko)


def message_page(session: Session, office_id: int, number: int, *, status: str | None = None,
                 kind: str | None = None, size: int = 50) -> Page:
    query = (select(*_COLUMNS).join(Card, Card.id == NotifyMessage.card_id)
             .where(NotifyMessage.office_id == office_id).order_by(NotifyMessage.id.desc()))
    if status:
        query = query.where(NotifyMessage.status == status)
    if kind:
        query = query.where(NotifyMessage.kind == kind)
    page = paginate(session, query, number, size)
    return Page([row_view(r) for r in page.rows], page.number, page.size, page.total)


def recent_failures(session: Session, office_id: int, limit: int = 10) -> list[dict[str, Any]]:
    rows = session.execute(select(*_COLUMNS).join(Card, Card.id == NotifyMessage.card_id)
                           .where(NotifyMessage.office_id == office_id,
                                  NotifyMessage.status == MessageStatus.FAILED)
                           .order_by(NotifyMessage.status_at.desc(), NotifyMessage.id.desc()).limit(limit))
    return [row_view(r) for r in rows]


def row_view(r: Any) -> dict[str, Any]:
    return {
        "id": r.id, "kind": r.kind, "kind_label": KIND_LABELS.get(Kind(r.kind), r.kind) if r.kind in set(Kind)
        else r.kind, "status": r.status, "status_label": STATUS_LABELS[MessageStatus(r.status)],
        "channel": r.channel, "phone": mask(r.phone), "nomor_blanko": r.nomor_blanko, "reference": r.reference,
        "text": r.text, "attempts": r.attempts, "created_at": r.created_at, "event_at": r.event_at,
        "next_attempt_at": r.next_attempt_at if r.status == MessageStatus.QUEUED else None, "sent_at": r.sent_at,
        "delivered_at": r.delivered_at, "read_at": r.read_at, "status_at": r.status_at, "error": r.error,
        "failure": r.failure,
    }


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
