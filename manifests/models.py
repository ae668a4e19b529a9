"""Manifest tables: courier manifests, their items and history, and the tracking-number counter."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cards import Card
from app.db import Base, UTCDateTime, utcnow


class ManifestStatus(StrEnum):
    DRAFT = "DRAFT"
    FINALIZED = "FINALIZED"
    HANDED_OVER = "HANDED_OVER"
    HANDOVER_FAILED = "HANDOVER_FAILED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


MANIFEST_STATUS_LABELS: dict[ManifestStatus, str] = {
    ManifestStatus.DRAFT: "Draf (dapat diubah)",
    ManifestStatus.FINALIZED: "Final (terkunci, bernomor resi)",
    ManifestStatus.HANDED_OVER: "Diserahkan ke kurir",
    ManifestStatus.HANDOVER_FAILED: "Penyerahan gagal (dapat dicoba lagi)",
    ManifestStatus.CLOSED: "Selesai",
    ManifestStatus.CANCELLED: "Dibatalkan",
}

# Which status may follow which: the manifest's lifecycle in one place.
MANIFEST_TRANSITIONS: dict[ManifestStatus | None, frozenset[ManifestStatus]] = {
    None: frozenset({ManifestStatus.DRAFT}),
    ManifestStatus.DRAFT: frozenset({ManifestStatus.FINALIZED, ManifestStatus.CANCELLED}),
    ManifestStatus.FINALIZED: frozenset({ManifestStatus.HANDED_OVER, ManifestStatus.HANDOVER_FAILED,
                                         ManifestStatus.CANCELLED}),
    ManifestStatus.HANDOVER_FAILED: frozenset({ManifestStatus.HANDED_OVER, ManifestStatus.HANDOVER_FAILED,
                                               ManifestStatus.CANCELLED}),
    ManifestStatus.HANDED_OVER: frozenset({ManifestStatus.CLOSED}),
    ManifestStatus.CLOSED: frozenset(),
    ManifestStatus.CANCELLED: frozenset(),
}
# While a manifest is in one of these, its items hold their cards (a card is on at most one of them).
OPEN_STATUSES = frozenset({ManifestStatus.DRAFT, ManifestStatus.FINALIZED, ManifestStatus.HANDOVER_FAILED,
                           ManifestStatus.HANDED_OVER})


def _status_column() -> Enum:
    return Enum(ManifestStatus, native_enum=False, length=20, validate_strings=True)


class Manifest(Base):
    """A courier manifest: the cards for one destination post office (and kecamatan, when split)."""

    __tablename__ = "manifest"
    __table_args__ = (Index("ix_manifest_office_status", "office_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    number: Mapped[str] = mapped_column(String(40), unique=True)  # MNF-3216-20261123-0001
    post_office_code: Mapped[str] = mapped_column(String(5))
    post_office_name: Mapped[str] = mapped_column(String(120))
    # Set when a large post office's cards were split by kecamatan.
    kecamatan_code: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[ManifestStatus] = mapped_column(_status_column())
    item_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    finalized_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handed_over_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    pickup_scheduled_at: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    handover_attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The courier's last answer to a handover, as received (JSON text).
    courier_response: Mapped[str | None] = mapped_column(Text)

    items: Mapped[list[ManifestItem]] = relationship(back_populates="manifest", order_by="ManifestItem.seq")
    events: Mapped[list[ManifestEvent]] = relationship(order_by="ManifestEvent.id")

    @property
    def status_label(self) -> str:
        return MANIFEST_STATUS_LABELS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ManifestItem(Base):
    """One card on a manifest, in its place in the round, with its tracking number once finalized.

    `active` is true while the item holds its card; a partial unique index on the card among active items
    makes "a card is on at most one open manifest" a database rule, also for two builds at the same moment.
    """

    __tablename__ = "manifest_item"
    __table_args__ = (
        Index("uq_manifest_item_active_card", "card_id", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
        Index("ix_manifest_item_manifest_seq", "manifest_id", "seq"),
        # The few items the problem lists, the COD and old-card figures read, out of one per card (migration 0016). No
        # condition on a column every courier event changes (`tracking_status`): its item is then updated in place
        # (migration 0020).
        *(Index(name, column, sqlite_where=text(condition), postgresql_where=text(condition))
          for name, column, condition in (
            ("ix_manifest_item_open", "manifest_id", "active AND final IS false"),
            ("ix_manifest_item_flagged", "manifest_id", "flagged IS NOT NULL"),
            ("ix_manifest_item_at_post_office", "pickup_until", "pickup_until IS NOT NULL"),
            ("ix_manifest_item_cod", "manifest_id", "cod_amount IS NOT NULL"),
            ("ix_manifest_item_old_card", "manifest_id", "collect_old_card IS true"),
            ("ix_manifest_item_old_card_collected", "manifest_id", "old_card_collected IS true"))),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifest.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    seq: Mapped[int]
    tracking_number: Mapped[str | None] = mapped_column(String(13), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    removed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A recall asked of the courier after handover (withdrawn area): when, and the courier's answer.
    recall_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recall_result: Mapped[str | None] = mapped_column(String(200))
    # Tracking state (delivery/service.py): what the courier's events lead to, in occurred_at order.
    tracking_status: Mapped[str | None] = mapped_column(String(20))
    # The deciding event: its time, its rank among statuses at the same time, its id (a total order).
    status_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    status_rank: Mapped[int] = mapped_column(default=0, server_default="0")
    status_event_id: Mapped[str | None] = mapped_column(String(64))
    final: Mapped[bool] = mapped_column(default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")  # failed delivery attempts
    last_event_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # latest occurred_at seen
    last_received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str | None] = mapped_column(String(30))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    recipient_relationship: Mapped[str | None] = mapped_column(String(20))
    # A DELIVERED far from the geocoded address (or outside the kelurahan polygon): kept, flagged for review.
    delivered_far_km: Mapped[float | None]
    flagged: Mapped[str | None] = mapped_column(String(200))
    # Courier contract section 6: what the item carried (copied from the card at build) and what the courier said.
    cod_amount: Mapped[int | None]
    collect_old_card: Mapped[bool] = mapped_column(default=False, server_default=false())
    cod_collected: Mapped[int | None]
    old_card_collected: Mapped[bool | None]
    pickup_post_office: Mapped[str | None] = mapped_column(String(10))
    pickup_name: Mapped[str | None] = mapped_column(String(200))
    pickup_address: Mapped[str | None] = mapped_column(String(500))
    pickup_until: Mapped[dt.date | None]

    manifest: Mapped[Manifest] = relationship(back_populates="items")
    card: Mapped[Card] = relationship()


class ManifestEvent(Base):
    """One step of a manifest's life: status from/to, who, when, and what happened (the courier's answer)."""

    __tablename__ = "manifest_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    manifest_id: Mapped[int] = mapped_column(ForeignKey("manifest.id"), index=True)
    from_status: Mapped[ManifestStatus | None] = mapped_column(_status_column())
    to_status: Mapped[ManifestStatus | None] = mapped_column(_status_column())
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class TrackingCounter(Base):
    """The last S10 serial used by an office for a service prefix. Serials only go up: never reused."""

    __tablename__ = "tracking_counter"

    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(2), primary_key=True)
    last_serial: Mapped[int] = mapped_column(BigInteger)
