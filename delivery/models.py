"""Tracking tables: every webhook message as received, every event as applied, events we could not apply."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class WebhookMessage(Base):
    """One verified POST of the courier, body as received (raw bytes as text). A retried message is stored again."""

    __tablename__ = "webhook_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(100), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    event_count: Mapped[int]
    body: Mapped[str] = mapped_column(Text)


ANNOTATION_CONDITION = "status IN ('OLD_CARD_RECEIVED', 'COD_REMITTED')"
HELD_CONDITION = "result = 'held'"


class TrackingEvent(Base):
    """One courier event, applied once: the unique `event_id` makes a repeated event a duplicate, also when two
    requests carry it at the same moment. `result` says whether it decided the item's state when it arrived
    (`applied`) or was only recorded (`stale`)."""

    __tablename__ = "tracking_event"
    __table_args__ = (Index("ix_tracking_event_item_occurred", "item_id", "occurred_at"),
                      # The few annotations among millions of events: what the old-card register and the COD
                      # settlements read (delivery.lookup.annotations).
                      Index("ix_tracking_event_annotation", "status", "id",
                            sqlite_where=text(ANNOTATION_CONDITION), postgresql_where=text(ANNOTATION_CONDITION)),
                      # The few events held until the courier has their item (delivery.service reads, with the
                      # items' lock, whether any wait).
                      Index("ix_tracking_event_held", "item_id",
                            sqlite_where=text(HELD_CONDITION), postgresql_where=text(HELD_CONDITION)))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("manifest_item.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_message.id"))
    tracking_number: Mapped[str] = mapped_column(String(13))
    status: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(30))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    occurred_offset: Mapped[str] = mapped_column(String(6))  # '+07:00' as the courier sent it
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempt: Mapped[int | None]
    post_office: Mapped[str | None] = mapped_column(String(10))
    lat: Mapped[float | None]
    lng: Mapped[float | None]
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_relationship: Mapped[str | None] = mapped_column(String(20))
    photo_url: Mapped[str | None] = mapped_column(String(500))
    signature_url: Mapped[str | None] = mapped_column(String(500))
    courier_id: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(10))
    far_km: Mapped[float | None]
    flag: Mapped[str | None] = mapped_column(String(200))
    # Courier contract section 6.2, as sent: where and until when the item waits (AVAILABLE_FOR_PICKUP), the fee
    # collected and whether the old card was taken (DELIVERED), who at the office received the old card
    # (OLD_CARD_RECEIVED), the settlement that included the fee (COD_REMITTED).
    pickup_post_office: Mapped[str | None] = mapped_column(String(10))
    pickup_name: Mapped[str | None] = mapped_column(String(200))
    pickup_address: Mapped[str | None] = mapped_column(String(500))
    pickup_until: Mapped[dt.date | None]
    cod_collected: Mapped[int | None]
    old_card_collected: Mapped[bool | None]
    received_by: Mapped[str | None] = mapped_column(String(200))
    settlement_id: Mapped[str | None] = mapped_column(String(64))


class RejectedEvent(Base):
    """An event we could not apply (unknown tracking number, status or reason outside the contract): kept for
    the problems view, with the event as received."""

    __tablename__ = "rejected_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_message.id"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(40), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    message: Mapped[str] = mapped_column(String(500))
    raw: Mapped[str] = mapped_column(Text)
