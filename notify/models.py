"""Messages to citizens: one row per (card, kind), every attempt to send it, the gateway's delivery reports,
the numbers that opted out (as keyed hashes), and the scanner's cursors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class NotifyMessage(Base):
    """One message to the holder of a card. At most one per kind per card (a database rule), so a repeated
    courier event or a second scan never texts a citizen twice. A card that cannot be messaged (no usable number,
    opted out, news too old) still gets its row, `skipped` with the reason: the office sees who was not told."""

    __tablename__ = "notify_message"
    __table_args__ = (
        UniqueConstraint("card_id", "kind"),
        Index("ix_notify_message_due", "status", "next_attempt_at"),
        Index("ix_notify_message_office_status", "office_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    kind: Mapped[str] = mapped_column(String(20))  # notify.texts.Kind
    status: Mapped[str] = mapped_column(String(10))  # notify.texts.MessageStatus
    channel: Mapped[str] = mapped_column(String(10))  # whatsapp | sms (sms after the gateway said no_whatsapp)
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164; None when the card has no usable number
    text: Mapped[str] = mapped_column(String(500))
    reference: Mapped[str] = mapped_column(String(40))  # tracking number, or nomor blanko
    source: Mapped[str] = mapped_column(String(40))  # what caused it: 'tracking_event:12', 'card_history:34'
    event_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())  # when that happened
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Not before this (the end of quiet hours); then attempts, each next one not before next_attempt_at.
    send_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # A sender holds the message while its request is in flight, so two senders never send it at once.
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    gateway_id: Mapped[str | None] = mapped_column(String(100), index=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # Why it failed or was skipped, for staff; `failure` classifies a failure (rejected, credentials, gave_up,
    # report) so that those worth it can be queued again.
    failure: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(String(500))


class NotifyAttempt(Base):
    """One request to the gateway for a message and what came of it. Never updated."""

    __tablename__ = "notify_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("notify_message.id"), index=True)
    number: Mapped[int]
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    channel: Mapped[str] = mapped_column(String(10))
    http_status: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(20))  # notify.gateway.Outcome
    error: Mapped[str | None] = mapped_column(String(500))


UNKNOWN_CONDITION = "result = 'unknown'"


class NotifyReport(Base):
    """One delivery report of the gateway as received (signed webhook); a redelivered report (same webhook-id) is
    recorded once."""

    __tablename__ = "notify_report"
    # The few reports that came before we recorded the send (no message known yet): each send looks for its own
    # among them (`notify.service._replay_reports`), an index probe, not a scan of every report ever received.
    __table_args__ = (Index("ix_notify_report_unknown_gateway_message", "gateway_message_id",
                            sqlite_where=text(UNKNOWN_CONDITION), postgresql_where=text(UNKNOWN_CONDITION)),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(100), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[int | None] = mapped_column(ForeignKey("notify_message.id"), index=True)
    gateway_message_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    occurred_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[str] = mapped_column(String(20))  # applied | ignored (older news) | unknown (no such message)


class NotifyOptOut(Base):
    """A phone number whose owner asked for no more messages, as a keyed hash (HMAC-SHA256 of the E.164 number,
    like the family card number in app/pseudonym.py): matched, never read back."""

    __tablename__ = "notify_optout"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(120))  # 'cek-status', 'cli:<user>'


class NotifyCursor(Base):
    """Small named values of the sender: the last tracking event and card history row scanned (watermarks), when
    the next send job is scheduled, and a gateway that refused our credentials."""

    __tablename__ = "notify_cursor"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
