"""The courier contract's vocabulary (courier-partner-api.md, section 3): statuses, reason codes, labels.

One table for both sides: our webhook endpoint validates against it, the courier simulator plays it.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    ACCEPTED = "ACCEPTED"
    IN_TRANSIT = "IN_TRANSIT"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    RETURNED = "RETURNED"
    RETURN_RECEIVED = "RETURN_RECEIVED"


STATUS_LABELS: dict[Status, str] = {
    Status.ACCEPTED: "Diterima di kantor pos",
    Status.IN_TRANSIT: "Dalam perjalanan",
    Status.OUT_FOR_DELIVERY: "Dibawa pengantar",
    Status.DELIVERED: "Terkirim",
    Status.DELIVERY_FAILED: "Gagal antar (dicoba lagi)",
    Status.RETURNED: "Dikembalikan kurir",
    Status.RETURN_RECEIVED: "Kembali di Disdukcapil",
}

# Final: never undone by an earlier-dated event that arrives late.
FINAL: frozenset[Status] = frozenset({Status.DELIVERED, Status.RETURN_RECEIVED})

# Reason codes a DELIVERY_FAILED may carry (the courier tries again).
FAILURE_REASONS: tuple[str, ...] = ("NOBODY_HOME", "ADDRESS_NOT_FOUND", "CLOSED_COMPLEX", "REFUSED", "OTHER")
# Reason codes a RETURNED must carry (the courier gives up).
RETURN_REASONS: tuple[str, ...] = (
    "DECEASED", "MOVED", "BAD_ADDRESS", "DEMOLISHED_AREA", "REFUSED", "UNCLAIMED", "DAMAGED",
)
REASONS_BY_STATUS: dict[Status, tuple[str, ...]] = {
    Status.DELIVERY_FAILED: FAILURE_REASONS,
    Status.RETURNED: RETURN_REASONS,
}

REASON_LABELS: dict[str, str] = {
    "DECEASED": "meninggal dunia",
    "MOVED": "pindah alamat",
    "BAD_ADDRESS": "alamat tidak jelas / tidak ditemukan",
    "DEMOLISHED_AREA": "wilayah tergusur",
    "REFUSED": "ditolak",
    "UNCLAIMED": "tidak ada penghuni / tidak diambil",
    "DAMAGED": "rusak",
    "NOBODY_HOME": "tidak ada orang di rumah",
    "ADDRESS_NOT_FOUND": "alamat tidak ditemukan",
    "CLOSED_COMPLEX": "perumahan tertutup",
    "OTHER": "lainnya",
}

RELATIONSHIPS: tuple[str, ...] = ("SELF", "FAMILY", "NEIGHBOUR", "RT_RW_OFFICIAL", "OTHER")
RELATIONSHIP_LABELS: dict[str, str] = {
    "SELF": "pemilik kartu", "FAMILY": "keluarga", "NEIGHBOUR": "tetangga",
    "RT_RW_OFFICIAL": "pengurus RT/RW", "OTHER": "lainnya",
}

MAX_EVENTS_PER_BATCH = 500
MAX_BODY_BYTES = 1024 * 1024
TIMESTAMP_TOLERANCE_S = 5 * 60
