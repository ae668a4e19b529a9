"""Kelurahan handover tables: batches of returned and withdrawn cards, their items, and their history."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.cards import Card
from app.db import Base, UTCDateTime, utcnow


class BatchStatus(StrEnum):
    DRAFT = "DRAFT"  # being gathered at the office
    DISPATCHED = "DISPATCHED"  # on its way to the kelurahan
    RECEIVED = "RECEIVED"  # the officer counted it in
    CLOSED = "CLOSED"  # every card has its disposition
    CANCELLED = "CANCELLED"


BATCH_STATUS_LABELS: dict[BatchStatus, str] = {
    BatchStatus.DRAFT: "Disiapkan",
    BatchStatus.DISPATCHED: "Dikirim ke kelurahan",
    BatchStatus.RECEIVED: "Diterima kelurahan",
    BatchStatus.CLOSED: "Selesai",
    BatchStatus.CANCELLED: "Dibatalkan",
}
OPEN_BATCH = frozenset({BatchStatus.DRAFT, BatchStatus.DISPATCHED, BatchStatus.RECEIVED})

# Which status may follow which: the batch's lifecycle in one place (returns/service.py goes through it).
BATCH_TRANSITIONS: dict[BatchStatus | None, frozenset[BatchStatus]] = {
    None: frozenset({BatchStatus.DRAFT}),
    BatchStatus.DRAFT: frozenset({BatchStatus.DISPATCHED, BatchStatus.CANCELLED}),
    BatchStatus.DISPATCHED: frozenset({BatchStatus.RECEIVED}),
    BatchStatus.RECEIVED: frozenset({BatchStatus.CLOSED}),
    # A staff correction of a disposition opens a closed batch again.
    BatchStatus.CLOSED: frozenset({BatchStatus.RECEIVED}),
    BatchStatus.CANCELLED: frozenset(),
}


class Disposition(StrEnum):
    HOLDER = "HOLDER"  # handed to the holder, ID checked
    FAMILY = "FAMILY"  # handed to a family member (name and relationship)
    DECEASED = "DECEASED"  # the holder died: kept for destruction, the register is told
    MOVED = "MOVED"  # the holder moved: new address, back to the office to be sent again
    NOT_COLLECTED = "NOT_COLLECTED"  # not collected within the deadline: back to the office


DISPOSITION_LABELS: dict[Disposition, str] = {
    Disposition.HOLDER: "Diserahkan kepada pemilik",
    Disposition.FAMILY: "Diserahkan kepada keluarga",
    Disposition.DECEASED: "Pemilik meninggal dunia",
    Disposition.MOVED: "Pemilik pindah alamat",
    Disposition.NOT_COLLECTED: "Tidak diambil sampai batas waktu",
}

# Why a card came to the kelurahan: a courier return reason, or a withdrawn area.
WITHDRAWN_REASON = "WITHDRAWN_AREA"


class HandoverBatch(Base):
    """The returned and withdrawn cards of one kelurahan, sent together with one list to sign."""

    __tablename__ = "handover_batch"
    __table_args__ = (Index("ix_handover_batch_office_kelurahan", "office_id", "kelurahan_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    kelurahan_code: Mapped[str] = mapped_column(String(13))
    number: Mapped[str] = mapped_column(String(40), unique=True)  # SRT-3216-20261123-0001
    status: Mapped[BatchStatus] = mapped_column(Enum(BatchStatus, native_enum=False, length=16,
                                                     validate_strings=True))
    item_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    dispatched_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_by: Mapped[str | None] = mapped_column(String(120))
    received_count: Mapped[int | None]
    missing_count: Mapped[int] = mapped_column(default=0)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    items: Mapped[list[HandoverItem]] = relationship(back_populates="batch", order_by="HandoverItem.id")
    events: Mapped[list[HandoverBatchEvent]] = relationship(order_by="HandoverBatchEvent.id")

    @property
    def status_label(self) -> str:
        return BATCH_STATUS_LABELS[self.status]


class HandoverItem(Base):
    """One card in a batch and what became of it. `active` holds the card: at most one open batch per card."""

    __tablename__ = "handover_item"
    __table_args__ = (
        Index("uq_handover_item_active_card", "card_id", unique=True,
              sqlite_where=text("active"), postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("handover_batch.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    reason: Mapped[str] = mapped_column(String(20))  # a RETURNED reason code, or WITHDRAWN_AREA
    missing: Mapped[bool] = mapped_column(default=False)
    disposition: Mapped[Disposition | None] = mapped_column(Enum(Disposition, native_enum=False, length=16,
                                                                 validate_strings=True))
    disposition_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    disposition_by: Mapped[str | None] = mapped_column(String(120))
    handed_on: Mapped[dt.date | None]  # the day of the handover, as the officer wrote it
    receiver_name: Mapped[str | None] = mapped_column(String(200))
    receiver_relationship: Mapped[str | None] = mapped_column(String(60))
    id_checked: Mapped[bool | None]
    new_address: Mapped[str | None] = mapped_column(String(500))  # a moved holder's address as entered
    # The card's address before the move (JSON of its address columns), so a staff correction can restore it.
    previous_address: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)

    batch: Mapped[HandoverBatch] = relationship(back_populates="items")
    card: Mapped[Card] = relationship()


class HandoverBatchEvent(Base):
    """One step of a batch: status from/to (or a note), who, when, what."""

    __tablename__ = "handover_batch_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("handover_batch.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class FormSubmission(Base):
    """A form already carried out, by its one-time token: a resubmission (a retry on a weak network) gets the
    same answer and changes nothing."""

    __tablename__ = "form_submission"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    result: Mapped[str] = mapped_column(Text)  # JSON: what the first submission answered


class ConflictKind(StrEnum):
    RECEIPT = "RECEIPT"  # a batch counted in on the device
    DISPOSITION = "DISPOSITION"  # a card's outcome recorded on the device


class ConflictStatus(StrEnum):
    OPEN = "OPEN"  # waiting for staff
    ACCEPTED = "ACCEPTED"  # staff applied the officer's record
    REJECTED = "REJECTED"  # staff kept what the office had


CONFLICT_STATUS_LABELS: dict[ConflictStatus, str] = {
    ConflictStatus.OPEN: "Menunggu keputusan staf",
    ConflictStatus.ACCEPTED: "Diterima staf",
    ConflictStatus.REJECTED: "Ditolak staf",
}


class OfflineConflict(Base):
    """A record the officer made without a network that met a card (or batch) changed meanwhile: kept as it was
    sent, shown to the officer and to staff, applied or set aside only by a staff decision (returns/offline.py)."""

    __tablename__ = "offline_conflict"
    __table_args__ = (Index("ix_offline_conflict_office_status", "office_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    kelurahan_code: Mapped[str] = mapped_column(String(13))
    kind: Mapped[ConflictKind] = mapped_column(Enum(ConflictKind, native_enum=False, length=16,
                                                    validate_strings=True))
    batch_id: Mapped[int] = mapped_column(ForeignKey("handover_batch.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("handover_item.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    officer: Mapped[str] = mapped_column(String(120))
    record: Mapped[str] = mapped_column(Text)  # JSON: the officer's record as the device sent it
    seen_version: Mapped[int]  # the card's last history row (or the batch's last event) the device had seen
    recorded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())  # on the device
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(String(500))  # what had changed
    status: Mapped[ConflictStatus] = mapped_column(Enum(ConflictStatus, native_enum=False, length=10,
                                                        validate_strings=True), default=ConflictStatus.OPEN)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decision_note: Mapped[str | None] = mapped_column(Text)

    batch: Mapped[HandoverBatch] = relationship()
    item: Mapped[HandoverItem | None] = relationship()

    @property
    def status_label(self) -> str:
        return CONFLICT_STATUS_LABELS[self.status]
