"""Handing a manifest over, the outbound half of the courier contract (courier-partner-api.md, section 2): the
body of `POST /v1/manifests`, built from plain values so that the contract's wire format lives here and nowhere
else. Which cards go on which manifest is the manifests domain's business (manifests/handover.py).

The NIK is never part of it: the courier gets a name, an address and, when the citizen gave one, a phone number.
A cash-on-delivery replacement card also carries its fee and whether the old card must be surrendered (section 6.1):
only then, so that an ordinary item is exactly what section 2 describes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.dates import as_local


@dataclass(frozen=True, slots=True)
class Address:
    street: str
    rt: str
    rw: str
    kelurahan: str
    kecamatan: str
    kabupaten_kota: str
    provinsi: str
    kode_pos: str
    kode_wilayah: str
    lat: float | None = None
    lng: float | None = None


@dataclass(frozen=True, slots=True)
class Item:
    tracking_number: str
    recipient_name: str
    address: Address
    phone: str | None = None
    cod_amount: int | None = None  # whole rupiah the postman collects before handing the card over
    collect_old_card: bool = False  # the postman takes the old e-KTP first; without it, no new card


@dataclass(frozen=True, slots=True)
class ManifestOrder:
    number: str
    office_title: str
    office_code: str
    post_office_code: str
    post_office_name: str
    created_at: dt.datetime
    items: Sequence[Item]


def manifest_payload(order: ManifestOrder) -> dict[str, Any]:
    """The JSON body of POST /v1/manifests; `order.number` is also the request's Idempotency-Key."""
    return {
        "manifest_number": order.number,
        "origin": {"office": order.office_title, "kode_wilayah": order.office_code},
        "destination_post_office": {"code": order.post_office_code, "name": order.post_office_name},
        "created_at": as_local(order.created_at).isoformat(timespec="seconds"),
        "items": [_item(i) for i in order.items],
    }


def _item(item: Item) -> dict[str, Any]:
    a = item.address
    address: dict[str, Any] = {
        "street": a.street, "rt": a.rt, "rw": a.rw, "kelurahan": a.kelurahan, "kecamatan": a.kecamatan,
        "kabupaten_kota": a.kabupaten_kota, "provinsi": a.provinsi, "kode_pos": a.kode_pos,
        "kode_wilayah": a.kode_wilayah,
    }
    if a.lat is not None and a.lng is not None:
        address["lat"], address["lng"] = round(a.lat, 6), round(a.lng, 6)
    entry: dict[str, Any] = {"tracking_number": item.tracking_number, "recipient_name": item.recipient_name,
                             "address": address}
    if item.phone:
        entry["phone"] = courier_phone(item.phone)
    if item.cod_amount:
        entry["cod"] = {"amount": item.cod_amount, "currency": "IDR"}
    if item.cod_amount or item.collect_old_card:
        entry["collect_old_card"] = bool(item.collect_old_card)
    return entry


def courier_phone(no_hp: str) -> str:
    """A card's number as the contract writes it (`"phone": "081234567890"`): a mobile number the intake kept as
    `+628...` goes as `08...`, so that every item of a manifest carries the same form. Anything else goes as kept."""
    if no_hp.startswith("+62") and no_hp[3:].isascii() and no_hp[3:].isdigit():
        return "0" + no_hp[3:]
    return no_hp
