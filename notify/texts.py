"""What we tell citizens, and in which words: the kinds of message, their statuses, and the texts.

A text is short Bahasa Indonesia (at most 480 characters, the gateway's limit) and names the card by its tracking
number or blanko number. It never carries the NIK, the birth date or the address of the citizen: a message can reach
a wrong or shared phone. The only address in a text is the one of a post office or a kelurahan office.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from app.courier.tracking import REASON_LABELS
from app.dates import tanggal

MAX_TEXT = 480


class Kind(StrEnum):
    OUT_FOR_DELIVERY = "out_for_delivery"  # the courier's OUT_FOR_DELIVERY
    DELIVERY_FAILED = "delivery_failed"  # DELIVERY_FAILED
    AT_POST_OFFICE = "at_post_office"  # AVAILABLE_FOR_PICKUP: where and until when
    AT_KELURAHAN = "at_kelurahan"  # the card reached its kelurahan (AT_KELURAHAN), or is to be collected there
    COD_COMING = "cod_coming"  # a COD / old-card card is with the courier: the fee and the old-card rule


KIND_LABELS: dict[Kind, str] = {
    Kind.OUT_FOR_DELIVERY: "Sedang diantar",
    Kind.DELIVERY_FAILED: "Gagal antar",
    Kind.AT_POST_OFFICE: "Ambil di kantor pos",
    Kind.AT_KELURAHAN: "Ambil di kelurahan",
    Kind.COD_COMING: "Biaya antar & KTP lama",
}


class MessageStatus(StrEnum):
    QUEUED = "queued"  # waiting to be sent (quiet hours, a retry later)
    SENT = "sent"  # the gateway took it (202, or 409 for a repeat)
    DELIVERED = "delivered"  # the gateway's report: on the phone
    READ = "read"  # the gateway's report: read (WhatsApp)
    FAILED = "failed"  # not sent, or the gateway reported it failed
    SKIPPED = "skipped"  # never sent: no usable number, opted out, no longer true


STATUS_LABELS: dict[MessageStatus, str] = {
    MessageStatus.QUEUED: "Antre",
    MessageStatus.SENT: "Terkirim ke gateway",
    MessageStatus.DELIVERED: "Sampai",
    MessageStatus.READ: "Dibaca",
    MessageStatus.FAILED: "Gagal",
    MessageStatus.SKIPPED: "Tidak dikirim",
}


@dataclass(frozen=True, slots=True)
class Facts:
    """What a text may speak of (nothing personal beyond the card's numbers)."""

    kind: Kind
    office_name: str
    reference: str  # tracking number or nomor blanko
    cod_amount: int | None = None
    collect_old_card: bool = False
    reason_code: str | None = None
    pickup_name: str | None = None
    pickup_address: str | None = None
    pickup_until: dt.date | None = None
    post_office: str | None = None
    kelurahan_name: str | None = None
    kelurahan_kind: str = "kelurahan"  # or 'desa'
    kecamatan_name: str | None = None
    for_collection: bool = False  # the address cannot be delivered to: collected at the kelurahan


def rupiah(amount: int) -> str:
    """"Rp 20.000"."""
    return f"Rp {amount:,}".replace(",", ".")


def _clip(value: str | None, limit: int) -> str:
    value = " ".join((value or "").split())
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _what_to_prepare(f: Facts) -> str:
    if f.cod_amount and f.collect_old_card:
        return (f" Siapkan biaya antar {rupiah(f.cod_amount)} dan KTP lama Anda: kartu baru hanya diserahkan setelah "
                "KTP lama diterima petugas.")
    if f.cod_amount:
        return f" Siapkan biaya antar {rupiah(f.cod_amount)} untuk dibayar kepada petugas pos."
    if f.collect_old_card:
        return " Siapkan KTP lama Anda: kartu baru hanya diserahkan setelah KTP lama diterima petugas."
    return ""


def _kelurahan_office(f: Facts) -> str:
    if not f.kelurahan_name:
        return "kantor kelurahan/desa Anda"
    office = "Kantor Desa" if f.kelurahan_kind == "desa" else "Kantor Kelurahan"
    place = f"{office} {_clip(f.kelurahan_name, 60)}"
    return f"{place}, Kec. {_clip(f.kecamatan_name, 60)}" if f.kecamatan_name else place


def compose(f: Facts) -> str:
    """The text of a message, at most MAX_TEXT characters."""
    head = f"Disdukcapil {_clip(f.office_name, 60)}: "
    ref = _clip(f.reference, 40)
    if f.kind is Kind.OUT_FOR_DELIVERY:
        body = (f"kartu e-KTP Anda (resi {ref}) sedang diantar petugas PT Pos hari ini. Mohon ada di rumah untuk "
                "menerimanya." + _what_to_prepare(f))
    elif f.kind is Kind.DELIVERY_FAILED:
        why = REASON_LABELS.get(f.reason_code or "", "")
        body = (f"PT Pos belum berhasil mengantar kartu e-KTP Anda (resi {ref})" + (f": {why}" if why else "")
                + ". Petugas akan mencoba lagi; pastikan ada yang dapat menerimanya di rumah." + _what_to_prepare(f))
    elif f.kind is Kind.AT_POST_OFFICE:
        if f.pickup_name or f.pickup_address:
            place = ", ".join(p for p in (_clip(f.pickup_name, 80), _clip(f.pickup_address, 160)) if p)
        else:
            place = f"kantor pos {_clip(f.post_office, 10)}" if f.post_office else "kantor pos terdekat"
        until = f" sampai {tanggal(f.pickup_until)}" if f.pickup_until else ""
        body = (f"kartu e-KTP Anda (resi {ref}) menunggu diambil di {place}{until}. Bawa Kartu Keluarga dan "
                "sebutkan nomor resi." + _what_to_prepare(f))
    elif f.kind is Kind.AT_KELURAHAN and f.for_collection:
        body = (f"kartu e-KTP Anda (nomor blanko {ref}) tidak dapat diantar ke alamat Anda dan akan diserahkan "
                f"melalui {_kelurahan_office(f)}. Setelah kartu tiba, ambil di sana dengan membawa Kartu Keluarga.")
    elif f.kind is Kind.AT_KELURAHAN:
        body = (f"kartu e-KTP Anda (nomor blanko {ref}) sudah dapat diambil di {_kelurahan_office(f)}. Bawa Kartu "
                "Keluarga.")
    else:
        body = (f"kartu e-KTP Anda (resi {ref}) sudah diserahkan ke PT Pos dan segera diantar."
                + _what_to_prepare(f))
    text = head + body
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
