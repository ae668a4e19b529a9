"""After delivery: the old cards the postman took in (until destroyed), and the money the courier collected (until
remitted). Tables of the old-card register and its destructions, the courier's COD settlements as received, and
staff's resolutions of the differences between settlements and deliveries.

Differences themselves are not stored: `delivery.settlements.differences` derives them from the settlements and the
items every time, so a late DELIVERED event or a later settlement changes them at once. Only what a person decided
about one (resolved, by whom, when, why) is kept, under the difference's kind and key.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class OldCardDestruction(Base):
    """One destruction of old cards, recorded as a numbered "Berita Acara Pemusnahan" (BAP-3216-20261210-0001):
    who destroyed them, the witness, where and how."""

    __tablename__ = "old_card_destruction"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    destroyed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    destroyed_by: Mapped[str] = mapped_column(String(120))  # the actor's label: the logged-in user, or cli:<user>
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    witness_name: Mapped[str] = mapped_column(String(120))
    witness_position: Mapped[str] = mapped_column(String(120))
    place: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(200))
    card_count: Mapped[int]
    note: Mapped[str] = mapped_column(Text, default="")


class OldCard(Base):
    """The citizen's old e-KTP, taken by the postman when the new card was handed over (contract 6.1), from then
    until it is destroyed: collected (the DELIVERED item), received at the office (the courier's OLD_CARD_RECEIVED
    annotation or a clerk), destroyed (in a destruction). One per new card."""

    __tablename__ = "old_card"
    __table_args__ = (Index("ix_old_card_office_received", "office_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"), unique=True)  # the new card it was exchanged for
    item_id: Mapped[int] = mapped_column(ForeignKey("manifest_item.id"), index=True)  # the delivery that took it
    collected_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    received_by: Mapped[str | None] = mapped_column(String(200))  # who at the office took it in
    receipt_source: Mapped[str | None] = mapped_column(String(10))  # 'courier' (annotation) or 'staff'
    receipt_recorded_by: Mapped[str | None] = mapped_column(String(120))  # the actor that recorded the receipt
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    destroyed_by: Mapped[str | None] = mapped_column(String(120))
    destruction_id: Mapped[int | None] = mapped_column(ForeignKey("old_card_destruction.id"), index=True)


class CodSettlement(Base):
    """One settlement message of the courier (contract 6.3) as received: its figures, the canonical digest of its
    `data` (the same id with another body is a conflict) and the body itself."""

    __tablename__ = "cod_settlement"

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"), index=True)
    settlement_id: Mapped[str] = mapped_column(String(64), unique=True)  # the courier's: STL-17510-20261201
    period_from: Mapped[dt.date]
    period_to: Mapped[dt.date]
    remitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    remitted_offset: Mapped[str] = mapped_column(String(6))  # '+07:00' as the courier sent it
    total: Mapped[int] = mapped_column(BigInteger)  # as the courier declared it
    items_sum: Mapped[int] = mapped_column(BigInteger)  # the sum of its items
    item_count: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    digest: Mapped[str] = mapped_column(String(64))
    webhook_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    body: Mapped[str] = mapped_column(Text)


class CodSettlementItem(Base):
    """One line of a settlement: a tracking number and the amount remitted for it, in the courier's order."""

    __tablename__ = "cod_settlement_item"
    __table_args__ = (Index("ix_cod_settlement_item_settlement_seq", "cod_settlement_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cod_settlement_id: Mapped[int] = mapped_column(ForeignKey("cod_settlement.id"))
    seq: Mapped[int]
    tracking_number: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class CodResolution(Base):
    """A difference staff marked resolved, with why (never silently): by kind and key (`differences` says which)."""

    __tablename__ = "cod_resolution"
    __table_args__ = (UniqueConstraint("office_id", "kind", "key", name="uq_cod_resolution_office_kind_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("office.id"))
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(120))
    resolved_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str] = mapped_column(String(120))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(String(1000))
