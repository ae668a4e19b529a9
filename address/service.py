"""Address operations: normalize and locate addresses in bulk, and the clerk's correction of an unclear one.

The pipeline is the same for intake, for `antar address normalize` and for a clerk's correction:
normalize against the official list (address/normalize.py), then locate with the geocoder chain
(address/geocode.py), then check the point against the kelurahan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from address.geocode import NO_RESULT, GeocoderChain, GeoQuery, GeoResult, Precision
from address.normalize import (
    BLOCKING,
    FLAG_LABELS,
    AddressInput,
    Flag,
    NormalizedAddress,
    Normalizer,
    is_placeholder_street,
)
from app.cards import Actor, Card, CardHistory, CardState, move
from app.holds import held_back
from app.models import Office
from app.regions import office_regions


@dataclass(slots=True)
class Placed:
    address: NormalizedAddress
    geo: GeoResult


class AddressPipeline:
    """Normalizer and geocoder chain of one office, built once and used for many addresses."""

    def __init__(self, office_code: str, chain: GeocoderChain | None, far_km: float = 2.0) -> None:
        self.normalizer = Normalizer(office_code)
        self.chain = chain
        self.far_km = far_km

    @classmethod
    def for_office(cls, session: Session, office_code: str, config: Mapping[str, Any], *,
                   remote: bool = False) -> AddressPipeline:
        """`remote=False` (intake, bulk) answers from the loaded region geometry only: a remote geocoder at
        one request a second would hold an import of 130,000 cards for a day and a half."""
        chain = GeocoderChain.from_config(config, session, remote=remote)
        return cls(office_code, chain, float(config.get("ANTAR_GEO_FAR_KM") or 2.0))

    def place(self, inp: AddressInput, *, for_delivery: bool = True) -> Placed:
        """Normalize and locate an address. `for_delivery` (a card's address): one the courier cannot deliver to
        (no street, RT or RW) is not clear; `antar address normalize` only cleans and locates (False)."""
        norm = self.normalizer.normalize(inp)
        if for_delivery:
            _flag_placeholder_street(norm)
        geo = NO_RESULT
        if self.chain is not None and norm.kode_wilayah and norm.status == "CLEAR":
            # Without a remote geocoder only the kelurahan's code matters: no query to build.
            chain = self.chain
            geo = chain.geocode(query_of(norm)) if chain.remotes else chain.geocode_code(norm.kode_wilayah)
            if geo.lat is not None and geo.precision is not Precision.KELURAHAN:
                far = chain.far_from_kelurahan(norm.kode_wilayah, geo.lat, geo.lng, self.far_km)
                if far:
                    norm.flags.append(Flag.FAR_FROM_KELURAHAN)
                    norm.status = "UNCLEAR"
        if for_delivery and norm.status == "CLEAR" and not (norm.street and norm.rt and norm.rw):
            # Placed, but the courier needs a street, RT and RW (contract, section 2): a clerk completes it or sends
            # the card to its kelurahan for collection (the review queue), instead of a manifest the courier refuses.
            norm.flags.append(Flag.NOT_DELIVERABLE)
            norm.status = "UNCLEAR"
        return Placed(norm, geo)


# Flags that keep a street from being looked at (an intake asks for every address: a set test, not a generator).
_BLOCKING_BUT_PLACEHOLDER = BLOCKING - {Flag.PLACEHOLDER}


def _flag_placeholder_street(norm: NormalizedAddress) -> None:
    """A placed kelurahan (or one placed but for a placeholder alamat) with a street part the postman cannot find:
    empty or only a temporary entry. Such a card waits for a clerk with its own reason, first, even though its
    kelurahan is clear: a clerk enters a deliverable street or sends it to its kelurahan for collection."""
    if not norm.kode_wilayah or (norm.flags and not _BLOCKING_BUT_PLACEHOLDER.isdisjoint(norm.flags)):
        return
    if Flag.PLACEHOLDER in norm.flags or is_placeholder_street(norm.street):
        norm.flags.insert(0, Flag.PLACEHOLDER_STREET)
        norm.status = "UNCLEAR"


def query_of(norm: NormalizedAddress) -> GeoQuery:
    return GeoQuery(kode_wilayah=norm.kode_wilayah, street=norm.street, rt=norm.rt, rw=norm.rw,
                    kelurahan=norm.kelurahan, kecamatan=norm.kecamatan, kabupaten_kota=norm.kabupaten_kota,
                    provinsi=norm.provinsi, kode_pos=norm.kode_pos)


# The card columns an address sets (`card_address_values`'s keys, in its order).
CARD_ADDRESS_COLUMNS = ("address_status", "address_flags", "kelurahan_code", "address_candidate", "street", "rt",
                        "rw", "kode_pos", "lat", "lng", "geo_precision")


def card_address_values(placed: Placed) -> dict[str, Any]:
    """The card columns an address sets (`CARD_ADDRESS_COLUMNS`; the state is decided by the caller)."""
    a, g = placed.address, placed.geo
    clear = a.status == "CLEAR"
    return {
        "address_status": a.status, "address_flags": ";".join([f.value for f in a.flags]) if a.flags else "",
        "kelurahan_code": a.kode_wilayah if clear else None,
        "address_candidate": None if clear else a.kode_wilayah,
        "street": a.street, "rt": a.rt, "rw": a.rw, "kode_pos": a.kode_pos,
        "lat": g.lat, "lng": g.lng, "geo_precision": g.precision.value,
    }


def flag_labels(codes: str) -> list[str]:
    return [FLAG_LABELS[Flag(c)] for c in codes.split(";") if c]


# --- the review queue ----------------------------------------------------------------------------------


class ReviewError(ValueError):
    """A correction that cannot be applied; the message names the field (`fields`: the form's names of them)."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


# The card's history line when a clerk sends it to its kelurahan for collection instead of by post.
COLLECT_REASON = "Alamat tidak dapat diantar: diambil di kelurahan"
_COLLECT_HINT = (" Bila alamat tidak dapat dilengkapi, pilih 'Tidak dapat diantar: ambil di kelurahan' (kartu dikirim "
                 "ke kelurahan untuk diambil pemiliknya).")


def review_summary(session: Session, office: Office) -> list[dict[str, Any]]:
    """Unclear cards counted by reason and by candidate kelurahan, largest groups first."""
    regions = office_regions(office.code)
    rows = session.execute(
        select(Card.address_flags, Card.address_candidate, func.count())
        .where(Card.office_id == office.id, Card.state == CardState.ADDRESS_UNCLEAR)
        .group_by(Card.address_flags, Card.address_candidate)
    ).all()
    groups: dict[tuple[str, str | None], int] = {}
    for flags, candidate, n in rows:
        reason = (flags or "").split(";")[0] or Flag.NO_KELURAHAN.value
        groups[(reason, candidate)] = groups.get((reason, candidate), 0) + n
    out = []
    for (reason, candidate), n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1] or "")):
        kel = regions.kelurahan.get(candidate or "")
        out.append({"flag": reason, "label": FLAG_LABELS[Flag(reason)], "kelurahan_code": candidate,
                    "kelurahan": kel.label if kel else "-", "count": n})
    return out


def review_cards(session: Session, office: Office, *, flag: str | None = None, kelurahan: str | None = None,
                 limit: int = 50, offset: int = 0) -> tuple[int, list[Card]]:
    query = select(Card).where(Card.office_id == office.id, Card.state == CardState.ADDRESS_UNCLEAR)
    if flag:  # the main reason is the first flag (PLACEHOLDER must not find PLACEHOLDER_STREET)
        query = query.where(or_(Card.address_flags == flag, Card.address_flags.like(f"{flag};%")))
    if kelurahan:
        query = query.where(Card.address_candidate == kelurahan)
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    cards = session.scalars(query.order_by(Card.id).limit(limit).offset(offset)).all()
    return total or 0, list(cards)


def correct_address(
    session: Session, office: Office, card: Card, *, kelurahan_code: str, street: str, rt: object,
    rw: object, actor: Actor, pipeline: AddressPipeline, note: str = "", collect_at_kelurahan: bool = False,
) -> Card:
    """A clerk places an unclear address: the kelurahan comes from the official list, the rest is normalized.

    The courier requires a street, RT and RW for every item (contract section 2) and refuses a whole manifest for
    one item without them, so a correction for delivery by post needs all three, and a street that is only a
    temporary entry ("BELUM ADA", "-") is refused naming the street. An address that cannot be completed goes another
    way (`collect_at_kelurahan`): the card waits for collection at its kelurahan (FOR_COLLECTION: a handover batch to
    the kelurahan's officer, like a withdrawn area's cards, and a letter to the citizen, address/documents.py). A card
    already sent that way may still be corrected for delivery when a deliverable address turns up.
    """
    if card.office_id != office.id:
        raise ReviewError("Kartu bukan milik kantor ini.")
    if card.state is CardState.FOR_COLLECTION and collect_at_kelurahan:
        raise ReviewError(f"Kartu {card.nomor_blanko} sudah menunggu diambil di kelurahan.")
    if card.state not in (CardState.ADDRESS_UNCLEAR, CardState.FOR_COLLECTION):
        raise ReviewError(f"Kartu {card.nomor_blanko} tidak sedang menunggu pemeriksaan alamat.")
    kel = office_regions(office.code).kelurahan.get((kelurahan_code or "").strip())
    if kel is None:
        raise ReviewError(f"Pilih kelurahan/desa dari daftar resmi {office.name}.", ("kelurahan",))
    street = (street or "").strip()
    if collect_at_kelurahan:  # what the clerk leaves empty stays as registered: the letter names the RT and RW
        street = street or card.street or ""
        rt = card.rt if rt is None or str(rt).strip() == "" else rt
        rw = card.rw if rw is None or str(rw).strip() == "" else rw
    placed = pipeline.place(AddressInput(alamat=street, rt=rt, rw=rw, kelurahan=kel.name,
                                         kecamatan=kel.kecamatan_name, kode_wilayah=kel.code))
    if not collect_at_kelurahan:
        check_deliverable(placed.address, street=street, rt=rt, rw=rw)
    held = held_back(session, office, kel.code, placed.address.rw)
    if card.state is CardState.FOR_COLLECTION and held:
        raise ReviewError(f"Wilayah {kel.label} ditarik: kartu tetap diambil di kelurahan.", ("kelurahan",))
    # The clerk's choice of kelurahan is the decision; the normalizer only cleans the street and RT/RW.
    placed.address.status, placed.address.flags = "CLEAR", []
    placed.address.kode_wilayah, placed.address.kode_pos = kel.code, kel.kode_pos
    old = f"{card.alamat} | {card.kelurahan_raw or '-'}, {card.kecamatan_raw or '-'}"
    for key, value in card_address_values(placed).items():
        setattr(card, key, value)
    new = f"{card.street or '-'} RT {card.rt or '-'}/RW {card.rw or '-'}, {kel.label}"
    remark = f" ({note.strip()})" if note.strip() else ""
    if collect_at_kelurahan:
        move(session, card, CardState.FOR_COLLECTION, actor,
             f"{COLLECT_REASON} {kel.label} (alamat tercatat '{old}', ditempatkan '{new}'){remark}"[:500])
        return card
    why = f"Alamat diperbaiki: '{old}' menjadi '{new}'{remark}"[:500]
    move(session, card, CardState.WITHDRAWN if held else CardState.READY, actor, why)
    return card


def check_deliverable(address: NormalizedAddress, *, street: str, rt: object, rw: object) -> None:
    """A street the postman can find (not empty, not placeholder text) and an RT and RW: what the courier
    requires of every item. Raises ReviewError naming each field that is missing or unusable."""
    problems: list[str] = []
    fields: list[str] = []
    if not street:
        problems.append("Jalan wajib diisi: nama jalan, gang atau perumahan dan nomor rumah")
        fields.append("street")
    elif (not address.street or Flag.PLACEHOLDER in address.flags or Flag.PLACEHOLDER_STREET in address.flags
          or is_placeholder_street(address.street)):
        problems.append(f"Jalan '{street[:60]}' tidak dapat diantar (kosong atau isian sementara): isi nama jalan, "
                        "gang atau perumahan dan nomor rumah")
        fields.append("street")
    for label, name, raw, value in (("RT", "rt", rt, address.rt), ("RW", "rw", rw, address.rw)):
        if value is not None:
            continue
        text = "" if raw is None else str(raw).strip()
        problems.append(f"{label} wajib diisi (angka 1 sampai 999, mis. 003): PT Pos menolak kiriman tanpa {label}"
                        if not text else f"{label} '{text}' tidak valid: isi angka 1 sampai 999, mis. 003")
        fields.append(name)
    if problems:
        raise ReviewError("; ".join(problems) + "." + _COLLECT_HINT, tuple(fields))


# --- cards waiting for collection at their kelurahan ------------------------------------------------------------


def collection_summary(session: Session, office: Office) -> list[dict[str, Any]]:
    """Cards waiting to be collected at their kelurahan (not yet in a handover batch), counted per kelurahan."""
    regions = office_regions(office.code)
    rows = session.execute(
        select(Card.kelurahan_code, func.count())
        .where(Card.office_id == office.id, Card.state == CardState.FOR_COLLECTION)
        .group_by(Card.kelurahan_code)).all()
    out = []
    for code, n in rows:
        kel = regions.kelurahan.get(code or "")
        out.append({"kelurahan_code": code, "kelurahan": kel.label if kel else "-", "count": n})
    return sorted(out, key=lambda r: (r["kelurahan"], r["kelurahan_code"] or ""))


def collection_cards(session: Session, office: Office, kelurahan_code: str) -> list[Card]:
    """A kelurahan's cards waiting to be collected there, by RW, RT and name (the order letters go out in)."""
    return list(session.scalars(
        select(Card).where(Card.office_id == office.id, Card.state == CardState.FOR_COLLECTION,
                           Card.kelurahan_code == kelurahan_code)
        .order_by(Card.rw, Card.rt, Card.nama, Card.id)))


# While a card sent for collection is still on its way to the holder, its letter can be printed again.
_COLLECTION_WAY = (CardState.FOR_COLLECTION, CardState.BATCHED, CardState.SENT_TO_KELURAHAN, CardState.AT_KELURAHAN)


def awaits_collection(session: Session, card: Card) -> bool:
    """Whether the card was sent to its kelurahan for collection and has not reached its holder yet."""
    if card.state is CardState.FOR_COLLECTION:
        return True
    if card.state not in _COLLECTION_WAY:
        return False
    last = session.scalar(select(CardHistory.to_state).where(
        CardHistory.card_id == card.id, CardHistory.to_state.in_([CardState.FOR_COLLECTION, CardState.READY,
                                                                  CardState.WITHDRAWN, CardState.RETURNED]))
        .order_by(CardHistory.id.desc()).limit(1))
    return last is CardState.FOR_COLLECTION
