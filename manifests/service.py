"""Courier manifests: plan, build, edit, number (UPU S10), finalize and cancel.

A manifest holds the ready cards of one destination post office; a large post office is split by
kecamatan and capped (ANTAR_MANIFEST_MAX_ITEMS). Items are in the postman's round order. These functions
take a session and never commit (the caller's unit of work does), and take a per-office lock first, so two
staff building at the same moment are serialized; the partial unique index on active items is the
database's own guarantee that a card is on at most one open manifest. The background jobs at the end (a build,
locking many drafts) are entry points like a command: they open their own units of work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import Select, func, insert, or_, select, update
from sqlalchemy.orm import Session

from address.normalize import is_placeholder_street
from app import handover_hooks, jobs
from app.cards import Actor, Card, CardState, TransitionError, cards_by_blanko, move_many
from app.courier import s10
from app.db import unit_of_work, utcnow
from app.lifecycle import Lifecycle, next_document_numbers
from app.models import Office
from app.offices import lock_office as _lock_office
from app.regions import office_regions
from manifests.models import (
    MANIFEST_STATUS_LABELS,
    MANIFEST_TRANSITIONS,
    Manifest,
    ManifestEvent,
    ManifestItem,
    ManifestStatus,
    TrackingCounter,
)
from manifests.postoffice import PostOffice, post_office_for, post_offices


class ManifestError(ValueError):
    """A manifest operation that cannot be carried out; the message (Bahasa Indonesia) names what and why."""


class RangeExhausted(ManifestError):
    """The courier's serial range for the office has not enough numbers left."""


@dataclass(frozen=True, slots=True)
class TrackingRange:
    prefix: str
    first: int
    last: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrackingRange:
        r = cls(config["ANTAR_TRACKING_PREFIX"], int(config["ANTAR_TRACKING_FIRST"]),
                int(config["ANTAR_TRACKING_LAST"]))
        for name, serial in (("ANTAR_TRACKING_FIRST", r.first), ("ANTAR_TRACKING_LAST", r.last)):
            try:
                s10.tracking_number(r.prefix, serial)  # validates prefix and serial bounds
            except ValueError as exc:
                raise ManifestError(f"Pengaturan nomor resi tidak sah (ANTAR_TRACKING_PREFIX "
                                    f"{r.prefix!r}, {name} {serial}): {exc}") from None
        if r.first > r.last:
            raise ManifestError(f"Rentang nomor resi terbalik: {r.first} > {r.last}.")
        return r

    @property
    def label(self) -> str:
        return f"{s10.tracking_number(self.prefix, self.first)} s.d. {s10.tracking_number(self.prefix, self.last)}"


# --- round order -------------------------------------------------------------------------------------------

_HOUSE_NO = re.compile(r"\b(?:NO|NOMOR|NOMER)\.?\s*:?\s*(\d+)\s*([A-Z]?)\b")
_BLOK = re.compile(r"\bBLOK\s+([A-Z0-9]+)")


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    kelurahan_code: str
    kode_pos: str | None
    rw: str | None
    rt: str | None
    street: str | None
    lat: float | None
    lng: float | None
    nama: str
    alamat: str | None = None
    nomor_blanko: str = ""


# What the courier contract (section 2) requires of every item's address and a card may lack: one card without it
# makes the courier refuse the whole manifest (422), so such a card never goes on one.
_RT_RW = re.compile(r"\d{1,3}")
_KODE_POS = re.compile(r"\d{5}")
_WORD = re.compile(r"[^\W_]")


def courier_gaps(c: Any, kelurahan_kode_pos: str | None) -> tuple[str, ...]:
    """The address parts the courier requires that card `c` lacks ('jalan', 'RT', 'RW', 'kode pos'); none: fine.

    The street is what the courier would get (the card's street, else its alamat); one that is only a temporary entry
    ("BELUM ADA", "-") is no street: intake sends such a card to the review queue, and however one still became
    ready, a build leaves it out."""
    gaps = []
    street = c.street or c.alamat or ""
    if not _WORD.search(street) or is_placeholder_street(street):
        gaps.append("jalan")
    for name, value in (("RT", c.rt), ("RW", c.rw)):
        if not (value and _RT_RW.fullmatch(value) and int(value) > 0):
            gaps.append(name)
    if not _KODE_POS.fullmatch(c.kode_pos or kelurahan_kode_pos or ""):
        gaps.append("kode pos")
    return tuple(gaps)


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A ready card kept off the manifests: its address lacks what the courier requires."""

    nomor_blanko: str
    missing: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.nomor_blanko} ({', '.join(self.missing)} kosong)"


def left_out_note(left: Sequence[LeftOut], limit: int = 20) -> str:
    """The words staff read: which ready cards stay out and why."""
    shown = "; ".join(x.label for x in left[:limit])
    if len(left) > limit:
        shown += f"; dan {len(left) - limit} lainnya"
    return (f"{len(left)} kartu siap kirim tidak dimasukkan: alamatnya belum lengkap untuk kurir (PT Pos mewajibkan "
            f"jalan, RT, RW dan kode pos per kiriman; satu kiriman tanpa itu membuat seluruh manifest ditolak): "
            f"{shown}")


def round_key(kelurahan_name: str, c: Any) -> tuple:
    """The postman's round: kelurahan, RW, RT, street, house number; then by location where known."""
    street = (c.street or "").upper()
    m = _HOUSE_NO.search(street)
    number = (int(m.group(1)), m.group(2)) if m else (10**9, "")
    base = _HOUSE_NO.sub("", street).strip(" ,.")
    blok = _BLOK.search(street)
    return (kelurahan_name, c.rw or "999", c.rt or "999", base, blok.group(1) if blok else "", number,
            c.lat if c.lat is not None else 99.0, c.lng if c.lng is not None else 999.0, c.nama, c.id)


# --- planning ----------------------------------------------------------------------------------------------


@dataclass
class PlannedManifest:
    post_office: PostOffice
    kecamatan_code: str | None
    kecamatan_name: str | None
    card_ids: list[int] = field(default_factory=list)
    kelurahan: dict[str, int] = field(default_factory=dict)  # kelurahan name -> cards
    # Ready cards of this post office kept out (incomplete address for the courier): on its first plan only.
    left_out: list[LeftOut] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = {"post_office": {"code": self.post_office.code, "name": self.post_office.name},
               "kecamatan": self.kecamatan_name, "items": len(self.card_ids), "kelurahan": self.kelurahan}
        if self.left_out:
            out["left_out"] = [{"nomor_blanko": x.nomor_blanko, "missing": list(x.missing)} for x in self.left_out]
        return out


def plan_manifests(session: Session, office: Office, *, post_office: str | None = None,
                   kecamatan: str | None = None, cap: int = 500) -> list[PlannedManifest]:
    """Which manifests a build would make now (nothing is written): the preview and the build use this."""
    if cap < 1:
        raise ManifestError("Batas item per manifest harus minimal 1.")
    regions = office_regions(office.code)
    offices = post_offices(office.code)
    if post_office and post_office not in offices:
        raise ManifestError(f"Kantor pos tujuan '{post_office}' tidak melayani wilayah {office.name}.")
    if kecamatan and kecamatan not in regions.kecamatan:
        raise ManifestError(f"Kecamatan '{kecamatan}' bukan wilayah {office.name}.")
    by_office, left_out = _ready_candidates(session, office, regions, post_office=post_office, kecamatan=kecamatan)
    plans: list[PlannedManifest] = []
    for code in sorted(by_office):
        cards = by_office.pop(code)  # each post office's keys are let go once planned
        po = offices[code]
        if len(cards) <= cap:
            groups: list[tuple[str | None, list[tuple[tuple, str]]]] = [(None, cards)]
        else:
            per_kec: dict[str, list[tuple[tuple, str]]] = defaultdict(list)
            for c in cards:
                per_kec[regions.kelurahan[c[1]].kecamatan_code].append(c)
            groups = sorted(per_kec.items())
        for kec_code, members in groups:
            members.sort()  # by round key (`round_key`: the card's id last, so no two are equal)
            # Even chunks in round order: 1,200 cards make three of 400, not 500 + 500 + 200.
            n = math.ceil(len(members) / cap)
            size = math.ceil(len(members) / n)
            for i in range(0, len(members), size):
                chunk = members[i : i + size]
                plan = PlannedManifest(po, kec_code, regions.kecamatan.get(kec_code) if kec_code else None,
                                       [key[-1] for key, _ in chunk])
                for key, _ in chunk:
                    plan.kelurahan[key[0]] = plan.kelurahan.get(key[0], 0) + 1
                plans.append(plan)
    for plan in plans:
        plan.left_out = left_out.pop(plan.post_office.code, [])
    return plans


_STREAM_ROWS = 5000  # rows fetched at a time while planning


def _ready_candidates(session: Session, office: Office, regions: Any, *, post_office: str | None,
                      kecamatan: str | None) -> tuple[dict[str, list[tuple[tuple, str]]], dict[str, list[LeftOut]]]:
    """The office's ready cards by destination post office, each as (its `round_key`, its kelurahan code), and those
    kept out (`courier_gaps`) by post office.

    The rows are streamed (a server-side cursor on PostgreSQL) and each card is kept only as its round key, the RT,
    RW and codes shared: a build of a million cards holds its keys, not a million rows of every column."""
    query = select(Card.id, Card.kelurahan_code, Card.kode_pos, Card.rw, Card.rt, Card.street, Card.lat,
                   Card.lng, Card.nama, Card.alamat, Card.nomor_blanko).where(
        Card.office_id == office.id, Card.state == CardState.READY, Card.kelurahan_code.is_not(None))
    if kecamatan:
        query = query.where(Card.kelurahan_code.startswith(kecamatan + "."))
    by_office: dict[str, list[tuple[tuple, str]]] = defaultdict(list)
    left_out: dict[str, list[LeftOut]] = defaultdict(list)
    shared: dict[str, str] = {}  # one string object per distinct RT, RW, kode pos and kelurahan code
    for row in session.execute(query.execution_options(yield_per=_STREAM_ROWS)):
        c = _Candidate(*(shared.setdefault(v, v) if isinstance(v, str) else v for v in row[:5]), *row[5:])
        po = post_office_for(office.code, c.kode_pos, c.kelurahan_code)
        if post_office is not None and po.code != post_office:
            continue
        kel = regions.kelurahan.get(c.kelurahan_code)
        gaps = courier_gaps(c, kel.kode_pos if kel else None)
        if gaps:
            left_out[po.code].append(LeftOut(c.nomor_blanko, gaps))
        else:
            by_office[po.code].append((round_key(regions.kelurahan[c.kelurahan_code].name, c), c.kelurahan_code))
    return by_office, left_out


def left_out_cards(session: Session, office: Office, *, post_office: str | None = None,
                   kecamatan: str | None = None) -> list[LeftOut]:
    """Ready cards no build takes because their address lacks what the courier requires (`courier_gaps`)."""
    _, left_out = _ready_candidates(session, office, office_regions(office.code), post_office=post_office,
                                    kecamatan=kecamatan)
    return sorted((x for xs in left_out.values() for x in xs), key=lambda x: x.nomor_blanko)


# --- building ----------------------------------------------------------------------------------------------


def lock_office(session: Session, office: Office) -> None:
    """Serialize manifest builds and numbering for one office until the transaction ends."""
    _lock_office(session, office, "manifests")


def build_manifests(session: Session, office: Office, actor: Actor, *, tracking: TrackingRange,
                    post_office: str | None = None, kecamatan: str | None = None, cap: int = 500,
                    finalize: bool = False) -> list[Manifest]:
    """Build draft manifests from every ready card (optionally of one post office/kecamatan); finalize them too.

    All or nothing: with `finalize`, an exhausted tracking range stops the build before anything is written.
    """
    lock_office(session, office)
    plans = plan_manifests(session, office, post_office=post_office, kecamatan=kecamatan, cap=cap)
    if not plans:
        _nothing_to_build(session, office, post_office=post_office, kecamatan=kecamatan)
    return build_planned(session, office, actor, plans, tracking=tracking, finalize=finalize)


def _nothing_to_build(session: Session, office: Office, *, post_office: str | None, kecamatan: str | None) -> None:
    left = left_out_cards(session, office, post_office=post_office, kecamatan=kecamatan)
    if left:
        raise ManifestError("Tidak ada kartu siap kirim yang alamatnya lengkap untuk pilihan ini. "
                            + left_out_note(left))
    raise ManifestError("Tidak ada kartu siap kirim untuk pilihan ini.")


def build_planned(session: Session, office: Office, actor: Actor, plans: Sequence[PlannedManifest], *,
                  tracking: TrackingRange, finalize: bool = False,
                  progress: Callable[[int, int], None] | None = None) -> list[Manifest]:
    """Write the planned manifests (the caller holds the office lock and planned in this transaction); `progress`
    hears (manifests built, manifests planned) after each one."""
    if not plans:
        raise ManifestError("Tidak ada kartu siap kirim untuk pilihan ini.")
    numbers: list[str] = []
    if finalize:
        numbers = allocate_numbers(session, office, tracking, sum(len(p.card_ids) for p in plans))
    now = utcnow()
    manifest_numbers = next_document_numbers(session, Manifest.number, "MNF", office.code, len(plans), at=now)
    manifests = []
    offset = 0
    for number, plan in zip(manifest_numbers, plans, strict=True):
        m = Manifest(office_id=office.id, number=number,
                     post_office_code=plan.post_office.code, post_office_name=plan.post_office.name,
                     kecamatan_code=plan.kecamatan_code, status=ManifestStatus.DRAFT,
                     item_count=len(plan.card_ids), created_at=now, created_by=actor.label)
        session.add(m)
        session.flush()
        LIFECYCLE.start(session, m, ManifestStatus.DRAFT, actor,
                        f"Dibuat dengan {len(plan.card_ids)} kartu untuk {plan.post_office.label}"
                        + (f", Kec. {plan.kecamatan_name}" if plan.kecamatan_name else ""))
        if plan.left_out:
            note(session, m, actor, left_out_note(plan.left_out))
        chunk = numbers[offset : offset + len(plan.card_ids)] if finalize else None
        _insert_items(session, m, plan.card_ids, start_seq=1, numbers=chunk)
        offset += len(plan.card_ids)
        move_many(session, plan.card_ids, CardState.ON_MANIFEST, actor, f"Masuk manifest {m.number}",
                  expect=[CardState.READY])
        if finalize:
            set_status(session, m, ManifestStatus.FINALIZED, actor,
                        f"Final: {len(plan.card_ids)} nomor resi {chunk[0]} s.d. {chunk[-1]}")
            m.finalized_at = now
        manifests.append(m)
        if progress is not None:
            progress(len(manifests), len(plans))
    return manifests


def _insert_items(session: Session, m: Manifest, card_ids: Sequence[int], start_seq: int,
                  numbers: Sequence[str] | None) -> None:
    """The items, each with what its card asks of the postman (courier contract 6.1): the COD fee and the old card,
    copied so that the manifest keeps what was handed over whatever happens to the card later."""
    service = _service_of(session, card_ids)
    rows = [{"manifest_id": m.id, "card_id": cid, "seq": start_seq + i, "active": True,
             "tracking_number": numbers[i] if numbers else None,
             "cod_amount": service.get(cid, (None, False))[0], "collect_old_card": service.get(cid, (None, False))[1]}
            for i, cid in enumerate(card_ids)]
    if rows:
        session.execute(insert(ManifestItem.__table__), rows)


_IN_BATCH = 2000  # SQLite allows 32,766 bound parameters per statement


def _service_of(session: Session, card_ids: Sequence[int]) -> dict[int, tuple[int | None, bool]]:
    """card id -> (cod_amount, collect_old_card) of the cards among `card_ids` that have either (most have none)."""
    out: dict[int, tuple[int | None, bool]] = {}
    for i in range(0, len(card_ids), _IN_BATCH):
        out.update((cid, (amount, bool(old))) for cid, amount, old in session.execute(
            select(Card.id, Card.cod_amount, Card.collect_old_card).where(
                Card.id.in_(card_ids[i : i + _IN_BATCH]),
                or_(Card.cod_amount.is_not(None), Card.collect_old_card.is_(True)))))
    return out


def allocate_numbers(session: Session, office: Office, tracking: TrackingRange, count: int) -> list[str]:
    """Take the next `count` serials of the configured range, or raise RangeExhausted having taken none.

    The range is the deployment's (ANTAR_TRACKING_*), and several offices may share one database: each counts its
    own serials, but the next serial comes after the last one any office took with that prefix (their counters are
    locked together), so that no number is given twice in the database."""
    counters = list(session.scalars(select(TrackingCounter).where(TrackingCounter.prefix == tracking.prefix)
                                    .order_by(TrackingCounter.office_id).with_for_update()))
    counter = next((c for c in counters if c.office_id == office.id), None)
    if counter is None:
        counter = TrackingCounter(office_id=office.id, prefix=tracking.prefix, last_serial=tracking.first - 1)
        session.add(counter)
        session.flush()
    start = max(max((c.last_serial for c in counters), default=tracking.first - 1) + 1, tracking.first)
    remaining = max(tracking.last - start + 1, 0)
    if count > remaining:
        raise RangeExhausted(
            f"Rentang nomor resi dari PT Pos ({tracking.label}) tidak cukup: tersisa {remaining}, dibutuhkan "
            f"{count}. Tidak ada yang diberi nomor. Minta rentang baru ke PT Pos lalu atur ANTAR_TRACKING_FIRST "
            f"dan ANTAR_TRACKING_LAST.")
    counter.last_serial = start + count - 1
    return [s10.tracking_number(tracking.prefix, serial) for serial in range(start, start + count)]


# --- lifecycle ---------------------------------------------------------------------------------------------


# The manifest's lifecycle (MANIFEST_TRANSITIONS): every status change and every event goes through it.
LIFECYCLE: Lifecycle[ManifestStatus] = Lifecycle(
    noun="Manifest", transitions=MANIFEST_TRANSITIONS, labels=MANIFEST_STATUS_LABELS, event_model=ManifestEvent,
    owner_key="manifest_id", error=ManifestError)


def set_status(session: Session, m: Manifest, target: ManifestStatus, actor: Actor, note_text: str) -> None:
    LIFECYCLE.set_status(session, m, target, actor, note_text)


def note(session: Session, m: Manifest, actor: Actor, text_: str) -> None:
    """Record something that happened to a manifest without a status change (a recall, a replayed answer)."""
    LIFECYCLE.note(session, m, actor, text_)


def close_complete(session: Session, manifest_ids: set[int], actor: Actor, *,
                   at: dt.datetime | None = None) -> list[int]:
    """Close handed-over manifests whose every active item is final (delivered, or back at the office)."""
    open_counts = dict(session.execute(
        select(ManifestItem.manifest_id, func.count()).where(
            ManifestItem.manifest_id.in_(manifest_ids), ManifestItem.active, ManifestItem.final.is_(False))
        .group_by(ManifestItem.manifest_id)).all())
    done = [mid for mid in manifest_ids if not open_counts.get(mid)]
    if not done:
        return []
    at = at or utcnow()
    return LIFECYCLE.set_status_many(session, Manifest, done, ManifestStatus.HANDED_OVER, ManifestStatus.CLOSED,
                                     actor, "Selesai: setiap item terkirim atau sudah kembali di kantor", at=at,
                                     values={"closed_at": at})


def release_items(session: Session, card_id: int) -> None:
    """A card that came back and goes out again: its old item no longer holds it (the card may go on a new
    manifest, with a new tracking number)."""
    session.execute(update(ManifestItem).where(ManifestItem.card_id == card_id, ManifestItem.active)
                    .values(active=False))


def get_manifest(session: Session, office: Office, manifest_id: int, *, lock: bool = False) -> Manifest:
    m = session.get(Manifest, manifest_id, with_for_update=lock or None)
    if m is None or m.office_id != office.id:
        raise ManifestError(f"Manifest #{manifest_id} tidak ditemukan.")
    return m


def active_items(session: Session, m: Manifest) -> list[ManifestItem]:
    return list(session.scalars(select(ManifestItem).where(ManifestItem.manifest_id == m.id,
                                                           ManifestItem.active).order_by(ManifestItem.seq)))


def finalize(session: Session, office: Office, manifest_id: int, actor: Actor, tracking: TrackingRange) -> Manifest:
    """Lock a draft and give each of its items the next tracking number, in round order."""
    lock_office(session, office)
    m = get_manifest(session, office, manifest_id, lock=True)
    if m.status is not ManifestStatus.DRAFT:
        raise ManifestError(f"Manifest {m.number} bukan draf ({m.status_label}).")
    items = active_items(session, m)
    if not items:
        raise ManifestError(f"Manifest {m.number} kosong; tambahkan kartu atau batalkan.")
    numbers = allocate_numbers(session, office, tracking, len(items))
    session.execute(update(ManifestItem), [{"id": it.id, "tracking_number": n} for it, n in zip(items, numbers,
                                                                                              strict=True)])
    m.finalized_at = utcnow()
    m.item_count = len(items)
    set_status(session, m, ManifestStatus.FINALIZED, actor, f"Final: {len(items)} nomor resi {numbers[0]} s.d. "
                                                              f"{numbers[-1]}")
    return m


def _cards_by_blanko(session: Session, office: Office, blankos: Iterable[str]) -> dict[str, Card]:
    cards, missing = cards_by_blanko(session, office.id, blankos)
    if not cards and not missing:
        raise ManifestError("Isi minimal satu nomor blanko.")
    if missing:
        raise ManifestError(f"Nomor blanko tidak ditemukan: {', '.join(missing[:20])}")
    return cards


def remove_cards(session: Session, office: Office, manifest_id: int, blankos: Iterable[str], actor: Actor) -> int:
    """Take cards off a draft; they are ready again for another manifest."""
    lock_office(session, office)
    m = get_manifest(session, office, manifest_id, lock=True)
    if m.status is not ManifestStatus.DRAFT:
        raise ManifestError(f"Manifest {m.number} sudah terkunci ({m.status_label}); kartu tidak dapat dikeluarkan.")
    cards = _cards_by_blanko(session, office, blankos)
    items = {it.card_id: it for it in active_items(session, m)}
    absent = [b for b, c in cards.items() if c.id not in items]
    if absent:
        raise ManifestError(f"Kartu tidak ada di manifest {m.number}: {', '.join(absent[:20])}")
    for c in cards.values():
        session.delete(items[c.id])
    session.flush()
    move_many(session, [c.id for c in cards.values()], CardState.READY, actor, f"Dikeluarkan dari manifest {m.number}",
              expect=[CardState.ON_MANIFEST])
    m.item_count -= len(cards)
    note(session, m, actor, f"{len(cards)} kartu dikeluarkan: {', '.join(list(cards)[:20])}")
    return len(cards)


def add_cards(session: Session, office: Office, manifest_id: int, blankos: Iterable[str], actor: Actor) -> int:
    """Put ready cards of the manifest's post office on a draft; the round order is recomputed."""
    lock_office(session, office)
    m = get_manifest(session, office, manifest_id, lock=True)
    if m.status is not ManifestStatus.DRAFT:
        raise ManifestError(f"Manifest {m.number} sudah terkunci ({m.status_label}); kartu tidak dapat ditambah.")
    cards = _cards_by_blanko(session, office, blankos)
    regions = office_regions(office.code)
    for b, c in cards.items():
        if c.state is not CardState.READY:
            raise ManifestError(f"Kartu {b} berstatus '{c.state_label}', bukan siap kirim.")
        kel = regions.kelurahan.get(c.kelurahan_code or "")
        gaps = courier_gaps(c, kel.kode_pos if kel else None)
        if gaps:
            raise ManifestError(f"Kartu {b}: {', '.join(gaps)} kosong; PT Pos menolak seluruh manifest bila satu "
                                "kiriman tanpa jalan, RT, RW dan kode pos. Lengkapi alamatnya dulu.")
        po = post_office_for(office.code, c.kode_pos, c.kelurahan_code)
        if po.code != m.post_office_code:
            raise ManifestError(f"Kartu {b} untuk {po.label}, bukan {m.post_office_code} {m.post_office_name}.")
    items = active_items(session, m)
    top = max((it.seq for it in items), default=0)
    _insert_items(session, m, [c.id for c in cards.values()], start_seq=top + 1, numbers=None)
    move_many(session, [c.id for c in cards.values()], CardState.ON_MANIFEST, actor, f"Masuk manifest {m.number}",
              expect=[CardState.READY])
    m.item_count += len(cards)
    _resequence(session, office, m)
    note(session, m, actor, f"{len(cards)} kartu ditambahkan: {', '.join(list(cards)[:20])}")
    return len(cards)


def _resequence(session: Session, office: Office, m: Manifest) -> None:
    regions = office_regions(office.code)
    rows = session.execute(
        select(ManifestItem.id, Card.id, Card.kelurahan_code, Card.kode_pos, Card.rw, Card.rt, Card.street,
               Card.lat, Card.lng, Card.nama)
        .join(Card, Card.id == ManifestItem.card_id)
        .where(ManifestItem.manifest_id == m.id, ManifestItem.active)).all()
    ordered = sorted(rows, key=lambda r: round_key(regions.kelurahan[r[2]].name, _Candidate(*r[1:])))
    session.execute(update(ManifestItem), [{"id": r[0], "seq": i + 1} for i, r in enumerate(ordered)])


def cancel(session: Session, office: Office, manifest_id: int, actor: Actor, reason: str) -> Manifest:
    """Cancel a manifest the courier has not accepted; its cards are ready again, its numbers are retired."""
    if not reason.strip():
        raise ManifestError("Alasan pembatalan wajib diisi.")
    lock_office(session, office)
    m = get_manifest(session, office, manifest_id, lock=True)
    items = active_items(session, m)
    set_status(session, m, ManifestStatus.CANCELLED, actor, f"Dibatalkan: {reason.strip()}")
    now = utcnow()
    session.execute(update(ManifestItem).where(ManifestItem.manifest_id == m.id, ManifestItem.active)
                    .values(active=False, removed_at=now))
    handover_hooks.released(session, [it.id for it in items],
                            f"manifest {m.number} dibatalkan sebelum diserahkan: {reason.strip()}")
    ids = [it.card_id for it in items]
    on_manifest = list(session.scalars(select(Card.id).where(Card.id.in_(ids), Card.state == CardState.ON_MANIFEST)))
    move_many(session, on_manifest, CardState.READY, actor, f"Manifest {m.number} dibatalkan: {reason.strip()}",
              expect=[CardState.ON_MANIFEST])
    return m


def withdraw_from_manifests(session: Session, office: Office, card_ids: Sequence[int], actor: Actor,
                            reason: str) -> int:
    """Take cards of a withdrawn area off manifests the courier does not have yet; they become withdrawn."""
    if not card_ids:
        return 0
    rows = session.execute(
        select(ManifestItem.id, ManifestItem.card_id, Manifest.id, Manifest.number)
        .join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(ManifestItem.card_id.in_(card_ids), ManifestItem.active,
               Manifest.status.in_([ManifestStatus.DRAFT, ManifestStatus.FINALIZED,
                                    ManifestStatus.HANDOVER_FAILED]))).all()
    if not rows:
        return 0
    now = utcnow()
    session.execute(update(ManifestItem), [{"id": r[0], "active": False, "removed_at": now} for r in rows])
    handover_hooks.released(session, [r[0] for r in rows],
                            f"kartu dikeluarkan dari manifest sebelum diserahkan karena wilayahnya ditarik: {reason}")
    per_manifest: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        per_manifest[r[2]].append(r[1])
    for mid, cards in per_manifest.items():
        m = session.get(Manifest, mid)
        m.item_count -= len(cards)
        note(session, m, actor, f"{len(cards)} kartu dikeluarkan karena wilayahnya ditarik: {reason}")
    try:
        return move_many(session, [r[1] for r in rows], CardState.WITHDRAWN, actor, f"Wilayah ditarik: {reason}",
                         expect=[CardState.ON_MANIFEST])
    except TransitionError as exc:
        raise ManifestError(str(exc)) from exc


def manifest_summary(session: Session, office: Office, *, status: ManifestStatus | None = None,
                     limit: int = 200) -> list[Manifest]:
    query = select(Manifest).where(Manifest.office_id == office.id)
    if status is not None:
        query = query.where(Manifest.status == status)
    return list(session.scalars(query.order_by(Manifest.id.desc()).limit(limit)))


# --- many manifests at once: the list's scope, and the build and finalize jobs ---------------------------------

BUILD_JOB = "manifests.build"
FINALIZE_JOB = "manifests.finalize"


def check_build_choice(office: Office, *, post_office: str | None, kecamatan: str | None) -> dict[str, str]:
    """The build form's choices that cannot be right, by field (checked before a build job is started)."""
    problems: dict[str, str] = {}
    if post_office and post_office not in post_offices(office.code):
        problems["post_office"] = f"Kantor pos tujuan '{post_office}' tidak melayani wilayah {office.name}."
    if kecamatan and kecamatan not in office_regions(office.code).kecamatan:
        problems["kecamatan"] = f"Kecamatan '{kecamatan}' bukan wilayah {office.name}."
    return problems


def manifests_query(office: Office, *, status: ManifestStatus | None = None,
                    ids: Sequence[int] | None = None) -> Select[tuple[Manifest]]:
    """The office's manifests, newest first, optionally of one status and/or among `ids` (a build's manifests)."""
    query = select(Manifest).where(Manifest.office_id == office.id)
    if status is not None:
        query = query.where(Manifest.status == status)
    if ids is not None:
        query = query.where(Manifest.id.in_(list(ids)))
    return query.order_by(Manifest.id.desc())


def status_counts(session: Session, office: Office, *,
                  ids: Sequence[int] | None = None) -> dict[ManifestStatus, tuple[int, int]]:
    """(manifests, cards) per status, of the office or among `ids`."""
    query = select(Manifest.status, func.count(), func.coalesce(func.sum(Manifest.item_count), 0)).where(
        Manifest.office_id == office.id)
    if ids is not None:
        query = query.where(Manifest.id.in_(list(ids)))
    return {status: (n, items) for status, n, items in session.execute(query.group_by(Manifest.status))}


def scoped_ids(session: Session, office: Office, statuses: Iterable[ManifestStatus], *,
               status: ManifestStatus | None = None, ids: Sequence[int] | None = None) -> list[int]:
    """The office's manifests in `statuses` (and `status`, and among `ids` when given), oldest first: what a bulk
    action on the list works on."""
    wanted = set(statuses) if status is None else set(statuses) & {status}
    if not wanted:
        return []
    query = select(Manifest.id).where(Manifest.office_id == office.id, Manifest.status.in_(wanted))
    if ids is not None:
        query = query.where(Manifest.id.in_(list(ids)))
    return list(session.scalars(query.order_by(Manifest.id)))


def ids_key(ids: Iterable[int]) -> str:
    """A short fingerprint of a set of manifests, for a job's dedupe key (a double click asks for the same set)."""
    return hashlib.sha1(",".join(str(i) for i in sorted(set(ids))).encode()).hexdigest()


def range_remaining(session: Session, office: Office, tracking: TrackingRange) -> int:
    """How many tracking numbers the range has left for the office (nothing is taken; `allocate_numbers`)."""
    used = session.scalar(select(func.max(TrackingCounter.last_serial))
                          .where(TrackingCounter.prefix == tracking.prefix))
    start = max(used + 1 if used is not None else tracking.first, tracking.first)
    return max(tracking.last - start + 1, 0)


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def start_build(office: Office, actor: Actor, *, post_office: str | None, kecamatan: str | None, cap: int,
                finalize: bool) -> jobs.Submitted:
    """Start a build as a background job; the same choice clicked twice is one job."""
    params = {"post_office": post_office, "kecamatan": kecamatan, "cap": cap, "finalize": finalize}
    where = ", ".join(p for p in (f"kantor pos {post_office}" if post_office else "",
                                  f"kecamatan {office_regions(office.code).kecamatan.get(kecamatan, kecamatan)}"
                                  if kecamatan else "") if p) or "semua kartu siap kirim"
    choice = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()
    return jobs.submit(BUILD_JOB, params, actor, office_id=office.id, title=f"Susun manifest ({where})",
                       dedupe_key=f"{BUILD_JOB}:{office.id}:{choice}")


def build_job(ctx: jobs.JobContext) -> dict[str, Any]:
    """The build as a job: plan, then write the manifests in one transaction, reporting each manifest built."""
    p = ctx.params
    tracking = TrackingRange.from_config(current_app.config)
    with unit_of_work() as session:
        office = session.get(Office, ctx.office_id)
        lock_office(session, office)
        plans = plan_manifests(session, office, post_office=p.get("post_office"), kecamatan=p.get("kecamatan"),
                               cap=int(p["cap"]))
        if not plans:
            _nothing_to_build(session, office, post_office=p.get("post_office"), kecamatan=p.get("kecamatan"))
        ctx.progress(done=0, total=len(plans), unit="manifest", counts={"Manifest dibuat": 0})

        def report(done: int, total: int) -> None:
            ctx.progress(done=done, total=total, unit="manifest", counts={"Manifest dibuat": done})

        made = build_planned(session, office, ctx.actor, plans, tracking=tracking, finalize=bool(p.get("finalize")),
                             progress=report)
        ids = [m.id for m in made]
        cards = sum(m.item_count for m in made)
        drafts = sum(1 for m in made if m.status is ManifestStatus.DRAFT)
        left = left_out_cards(session, office, post_office=p.get("post_office"), kecamatan=p.get("kecamatan"))
    counts = {"Manifest dibuat": len(ids), "Kartu": cards}
    if drafts:
        counts["Masih draf"] = drafts
    else:
        counts["Dikunci, bernomor resi"] = len(ids)
    if left:
        counts["Tidak dimasukkan (alamat belum lengkap untuk kurir)"] = len(left)
    return {
        "summary": f"{_thousands(len(ids))} manifest dibuat ({_thousands(cards)} kartu)."
                   + (f" {left_out_note(left, 10)}." if left else ""),
        "manifest_ids": ids, "cards": cards, "counts": counts,
        "links": [{"label": f"Manifest hasil susunan ini ({_thousands(len(ids))}): kunci semua draf, serahkan ke kurir,"
                            " unduh Berita Acara", "url": f"/manifest?tugas={ctx.job_id}"}],
    }


def start_finalize(office: Office, actor: Actor, ids: Sequence[int]) -> jobs.Submitted:
    """Start locking the given drafts as a background job; the same set clicked twice is one job."""
    return jobs.submit(FINALIZE_JOB, {"manifest_ids": list(ids)}, actor, office_id=office.id,
                       title=f"Kunci {_thousands(len(ids))} draf manifest",
                       dedupe_key=f"{FINALIZE_JOB}:{office.id}:{ids_key(ids)}")


def finalize_job(ctx: jobs.JobContext) -> dict[str, Any]:
    """Lock each draft (one transaction per manifest, so the page shows real progress and a manifest that cannot be
    locked does not hold back the others). The numbers they need are checked first: a range too small stops the
    job before anything is numbered."""
    ids = [int(i) for i in ctx.params["manifest_ids"]]
    tracking = TrackingRange.from_config(current_app.config)
    with unit_of_work() as session:
        office = session.get(Office, ctx.office_id)
        needed = session.scalar(select(func.count()).select_from(ManifestItem).join(Manifest).where(
            Manifest.id.in_(ids), Manifest.office_id == office.id, Manifest.status == ManifestStatus.DRAFT,
            ManifestItem.active)) or 0
        left = range_remaining(session, office, tracking)
    if needed > left:
        raise jobs.JobError(f"Rentang nomor resi dari PT Pos ({tracking.label}) tidak cukup: tersisa "
                            f"{_thousands(left)}, dibutuhkan {_thousands(needed)}. Tidak ada yang dikunci. "
                            "Minta rentang baru ke PT Pos.")
    done = skipped = numbered = 0
    problems: list[dict[str, str]] = []

    def counts() -> dict[str, int]:
        out = {"Draf dikunci": done, "Nomor resi diberikan": numbered}
        if skipped:
            out["Dilewati (sudah bukan draf)"] = skipped
        if problems:
            out["Tidak dapat dikunci"] = len(problems)
        return out

    for position, mid in enumerate(ids, start=1):
        try:
            with unit_of_work() as session:
                office = session.get(Office, ctx.office_id)
                m = get_manifest(session, office, mid)
                if m.status is not ManifestStatus.DRAFT:
                    skipped += 1
                else:
                    numbered += finalize(session, office, mid, ctx.actor, tracking).item_count
                    done += 1
        except RangeExhausted as exc:
            problems.append({"manifest_id": str(mid), "message": str(exc)})
            break
        except ManifestError as exc:
            problems.append({"manifest_id": str(mid), "message": str(exc)})
        ctx.progress(done=position, total=len(ids), unit="manifest", counts=counts())
    summary = f"{_thousands(done)} draf dikunci ({_thousands(numbered)} nomor resi)."
    if problems:
        summary += f" {len(problems)} tidak dapat dikunci: " + "; ".join(p["message"] for p in problems[:5])
    return {"summary": summary, "finalized": done, "skipped": skipped, "problems": problems, "counts": counts(),
            "links": [{"label": "Manifest final yang siap diserahkan", "url": "/manifest?status=FINALIZED"}]}
