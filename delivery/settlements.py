"""COD settlements (courier contract 6.3): the courier remits the fees its postmen collected and tells us in a
signed message at the tracking webhook; we record each settlement once and match it to the deliveries.

- `parse_settlement` checks a message against `SETTLEMENT_SCHEMA` (every wrong field named) and reads it;
- `record_settlement` stores it: a new `settlement_id` is `recorded`, the same id with the same `data` again is a
  `duplicate`, the same id with other `data` is a `SettlementConflict` (409): a settlement, once remitted, does
  not change;
- `differences` matches every settlement line to a delivered COD item (by tracking number) and says what does not
  fit, never silently: a line with no delivered COD item (`EXTRA`), an amount other than the fee collected
  (`WRONG_AMOUNT`), an item in more than one line (`SETTLED_TWICE`), a settlement whose total is not the sum of
  its lines (`TOTAL_MISMATCH`), and a delivered COD item in no settlement `SETTLEMENT_DAYS` days after its delivery
  (`MISSING`; a settlement that includes it later does not make that go away). Staff resolve a difference with a
  note (`resolve_difference`: who, when, why); it then stays listed as resolved;
- `cod_report` is the reconciliation's "cod" section (see its docstring for how the figures add up).

The fee due for an item is what the courier said it collected (`cod_collected` on DELIVERED), or the fee on the
card when the courier did not say (contract 6.2: without the fee the card is not handed over).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.api import describe_errors
from app.cards import Actor
from app.courier.tracking import SchemaError, Status, parse_timestamp
from app.dates import as_local, today_local, wib_text
from app.db import utcnow
from app.models import Office
from app.web import PAGE_SIZE, Page
from delivery.models import TrackingEvent
from delivery.money_models import CodResolution, CodSettlement, CodSettlementItem
from manifests.models import Manifest, ManifestItem

MESSAGE_TYPE = "cod.settlement"
MAX_ITEMS = 50_000
MAX_AMOUNT = 100_000_000  # rupiah per item: far above any delivery fee, far below an overflow
MAX_TOTAL = 10**13
# A delivered COD item must be in a settlement by this many days after its delivery (WIB dates), else MISSING.
SETTLEMENT_DAYS = 14
CURRENCY = "IDR"


class Kind(StrEnum):
    EXTRA = "EXTRA"
    WRONG_AMOUNT = "WRONG_AMOUNT"
    SETTLED_TWICE = "SETTLED_TWICE"
    TOTAL_MISMATCH = "TOTAL_MISMATCH"
    MISSING = "MISSING"


KIND_LABELS: dict[Kind, str] = {
    Kind.EXTRA: "Disetor tanpa pengantaran COD",
    Kind.WRONG_AMOUNT: "Jumlah setoran berbeda",
    Kind.SETTLED_TWICE: "Disetor lebih dari sekali",
    Kind.TOTAL_MISMATCH: "Total setoran tidak sama dengan rinciannya",
    Kind.MISSING: f"Belum disetor {SETTLEMENT_DAYS} hari setelah terkirim",
}


class SettlementError(ValueError):
    """Something about settlements staff asked that cannot be done; the message is for people."""


class SettlementConflict(SettlementError):
    """A known settlement_id with other data (HTTP 409)."""


class DifferenceNotFound(SettlementError):
    """No such difference (any more)."""


# --- the message --------------------------------------------------------------------------------------------------

_FILLED_ID = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
              "description": "huruf, angka dan . _ : / - (paling panjang 64)"}
_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "tanggal YYYY-MM-DD"}
SETTLEMENT_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["tracking_number", "amount"],
    "properties": {
        "tracking_number": {"type": "string", "minLength": 1, "maxLength": 40, "pattern": r"^[A-Za-z0-9]+$",
                            "description": "nomor resi (huruf dan angka)"},
        "amount": {"type": "integer", "minimum": 0, "maximum": MAX_AMOUNT},
    },
}
# Objects stay open like the tracking events' (a field the contract adds later is not an error); every field we
# read is typed and bounded. What a schema cannot say (a real calendar date, `from` not after `to`, a timestamp with
# an offset) is checked when the message is read, naming the field the same way.
SETTLEMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "data"],
    "properties": {
        "type": {"type": "string", "const": MESSAGE_TYPE, "description": f"'{MESSAGE_TYPE}'"},
        "data": {"type": "object",
                 "required": ["settlement_id", "period", "remitted_at", "total", "currency", "items"],
                 "properties": {
                     "settlement_id": _FILLED_ID,
                     "period": {"type": "object", "required": ["from", "to"],
                                "properties": {"from": _DATE, "to": _DATE}},
                     "remitted_at": {"type": "string", "minLength": 1, "maxLength": 40,
                                     "description": "waktu ISO 8601 dengan offset, mis. 2026-12-01T10:00:00+07:00"},
                     "total": {"type": "integer", "minimum": 0, "maximum": MAX_TOTAL},
                     "currency": {"type": "string", "enum": [CURRENCY]},
                     "items": {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS,
                               "items": SETTLEMENT_ITEM_SCHEMA},
                 }},
    },
}
SETTLEMENT_RESULT: dict[str, Any] = {
    "type": "object", "required": ["settlement_id", "result"],
    "properties": {"settlement_id": {"type": "string"},
                   "result": {"type": "string", "enum": ["recorded", "duplicate"]}},
}
_VALIDATOR = Draft202012Validator(SETTLEMENT_SCHEMA)
# As for tracking events: the Rust validator only lets a valid message through quickly (50,000 lines); whenever it
# says no, `jsonschema` decides and names every wrong field.
_FAST = jsonschema_rs.Draft202012Validator(SETTLEMENT_SCHEMA)


@dataclass(frozen=True, slots=True)
class Settlement:
    settlement_id: str
    period_from: dt.date
    period_to: dt.date
    remitted_at: dt.datetime  # UTC
    remitted_offset: str
    total: int
    currency: str
    items: tuple[tuple[str, int], ...]  # (tracking number, amount), in the courier's order
    digest: str  # of the canonical `data`: the same settlement sent again has the same digest

    @property
    def items_sum(self) -> int:
        return sum(amount for _, amount in self.items)


def _fast_valid(body: Any) -> bool:
    try:
        return _FAST.is_valid(body)
    except Exception:  # a value Rust cannot take (a lone surrogate): let jsonschema judge it
        return False


def _date(text: str, where: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise SchemaError(f"{where}: bukan tanggal yang sah (YYYY-MM-DD): {text[:20]!r}") from None


def digest_of(data: Any) -> str:
    """The settlement's `data` as values, not as text: keys in any order, and a number written `20000.0` or `2e4`
    (JSON's integers, as the schema reads them) the same as `20000`."""
    canonical = json.dumps(_as_values(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _as_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _as_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_values(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _stored_digest(row: CodSettlement) -> str | None:
    """The digest of a recorded settlement's `data` as `digest_of` makes it now, from the body kept with it: a
    settlement recorded before its digest was over the values (5c53aa6) is still the same settlement sent again."""
    try:
        return digest_of(json.loads(row.body)["data"])
    except (ValueError, KeyError, TypeError):
        return None


def parse_settlement(body: Any) -> Settlement:
    """The settlement in a webhook body, or SchemaError naming every field that is wrong."""
    problem = None if _fast_valid(body) else describe_errors(_VALIDATOR.iter_errors(body))
    if problem:
        raise SchemaError(problem)
    data = body["data"]
    start = _date(data["period"]["from"], "data.period.from")
    end = _date(data["period"]["to"], "data.period.to")
    if end < start:
        raise SchemaError(f"data.period.to: {end.isoformat()} sebelum data.period.from {start.isoformat()}")
    remitted, offset = parse_timestamp(data["remitted_at"], "data.remitted_at")
    items = tuple((i["tracking_number"].upper(), int(i["amount"])) for i in data["items"])
    return Settlement(settlement_id=data["settlement_id"], period_from=start, period_to=end, remitted_at=remitted,
                      remitted_offset=offset, total=int(data["total"]), currency=data["currency"], items=items,
                      digest=digest_of(data))


# --- recording ----------------------------------------------------------------------------------------------------


def _office_of(session: Session, numbers: Sequence[str]) -> int | None:
    """The office most of the settlement's tracking numbers belong to (a sample of the first thousand)."""
    sample = list(dict.fromkeys(numbers))[:1000]
    row = session.execute(
        select(Manifest.office_id, func.count().label("n"))
        .join(ManifestItem, ManifestItem.manifest_id == Manifest.id)
        .where(ManifestItem.tracking_number.in_(sample))
        .group_by(Manifest.office_id).order_by(func.count().desc(), Manifest.office_id).limit(1)).first()
    return row.office_id if row else None


def record_settlement(session: Session, s: Settlement, *, default_office: Office, webhook_id: str, body: str) -> str:
    """Store a settlement: 'recorded', or 'duplicate' when the same settlement was recorded before; a known
    settlement_id with other data raises SettlementConflict. The settlement belongs to the office of most of its
    tracking numbers (`default_office` when none is known: every line is then a difference of that office)."""
    existing = session.scalar(select(CodSettlement).where(CodSettlement.settlement_id == s.settlement_id))
    if existing is not None:
        if existing.digest == s.digest or _stored_digest(existing) == s.digest:
            return "duplicate"
        raise SettlementConflict(
            f"Setoran {s.settlement_id} sudah dicatat pada {wib_text(existing.received_at)} "
            "dengan isi lain; setoran yang sudah dicatat tidak dapat diubah. Kirim koreksi dengan settlement_id baru.")
    office_id = _office_of(session, [n for n, _ in s.items]) or default_office.id
    row = CodSettlement(
        office_id=office_id, settlement_id=s.settlement_id, period_from=s.period_from, period_to=s.period_to,
        remitted_at=s.remitted_at, remitted_offset=s.remitted_offset, total=s.total, items_sum=s.items_sum,
        item_count=len(s.items), currency=s.currency, digest=s.digest, webhook_id=webhook_id[:100],
        received_at=utcnow(), body=body)
    session.add(row)
    session.flush()
    session.execute(insert(CodSettlementItem), [
        {"cod_settlement_id": row.id, "seq": seq, "tracking_number": number, "amount": amount}
        for seq, (number, amount) in enumerate(s.items, start=1)])
    return "recorded"


# --- matching -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resolution:
    resolved_at: dt.datetime
    resolved_by: str
    note: str


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing about the money that does not fit. `key` identifies it within its kind (what a resolution is
    recorded under): the settlement and line for EXTRA and WRONG_AMOUNT, the settlement for TOTAL_MISMATCH, the
    tracking number for SETTLED_TWICE and MISSING."""

    kind: Kind
    key: str
    detail: str
    settlement_id: str | None = None
    tracking_number: str | None = None
    expected: int | None = None  # what should have been remitted
    settled: int | None = None  # what the settlement(s) say
    on: dt.date | None = None  # the settlement's date, or the day a missing fee became overdue
    resolution: Resolution | None = None

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def open(self) -> bool:
        return self.resolution is None

    def jsonable(self) -> dict[str, Any]:
        r = self.resolution
        return {"kind": self.kind.value, "label": self.label, "key": self.key, "detail": self.detail,
                "settlement_id": self.settlement_id, "tracking_number": self.tracking_number,
                "expected": self.expected, "settled": self.settled, "on": self.on and self.on.isoformat(),
                "status": "OPEN" if r is None else "RESOLVED",
                "resolved_at": r and r.resolved_at.isoformat(), "resolved_by": r and r.resolved_by,
                "note": r and r.note}


@dataclass(slots=True)
class _Delivered:
    tracking_number: str
    cod_amount: int
    cod_collected: int | None
    delivered_on: dt.date
    courier_id: str | None

    @property
    def due(self) -> int:
        return self.cod_collected if self.cod_collected is not None else self.cod_amount


@dataclass(frozen=True, slots=True)
class _Line:
    settlement_id: str
    seq: int
    tracking_number: str
    amount: int
    on: dt.date


@dataclass
class Matching:
    """Deliveries and settlements of an office side by side: the differences and the figures of the report."""

    delivered: dict[str, _Delivered]
    settlements: list[CodSettlement]
    lines: list[_Line]
    differences: list[Difference] = field(default_factory=list)
    paid: dict[str, int] = field(default_factory=dict)  # tracking number of a delivered COD item -> sum of lines


def _rupiah(n: int | None) -> str:
    return "-" if n is None else "Rp " + f"{n:,}".replace(",", ".")


def _delivered_cod(session: Session, office: Office) -> dict[str, _Delivered]:
    rows = session.execute(
        select(ManifestItem.tracking_number, ManifestItem.cod_amount, ManifestItem.cod_collected,
               ManifestItem.delivered_at, ManifestItem.status_at, TrackingEvent.courier_id)
        .join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .outerjoin(TrackingEvent, TrackingEvent.event_id == ManifestItem.status_event_id)
        .where(Manifest.office_id == office.id, ManifestItem.cod_amount.is_not(None),
               ManifestItem.tracking_status == Status.DELIVERED.value, ManifestItem.tracking_number.is_not(None)))
    out = {}
    for r in rows:
        when = r.delivered_at or r.status_at or utcnow()
        out[r.tracking_number] = _Delivered(r.tracking_number, r.cod_amount, r.cod_collected,
                                            as_local(when).date(), r.courier_id)
    return out


def _settlement_lines(session: Session, office: Office) -> tuple[list[CodSettlement], list[_Line]]:
    settlements = list(session.scalars(select(CodSettlement).where(CodSettlement.office_id == office.id)
                                       .order_by(CodSettlement.remitted_at, CodSettlement.id)))
    days = {s.id: as_local(s.remitted_at).date() for s in settlements}
    names = {s.id: s.settlement_id for s in settlements}
    rows = session.execute(
        select(CodSettlementItem.cod_settlement_id, CodSettlementItem.seq, CodSettlementItem.tracking_number,
               CodSettlementItem.amount)
        .join(CodSettlement, CodSettlement.id == CodSettlementItem.cod_settlement_id)
        .where(CodSettlement.office_id == office.id)
        .order_by(CodSettlement.remitted_at, CodSettlement.id, CodSettlementItem.seq))
    lines = [_Line(names[r.cod_settlement_id], r.seq, r.tracking_number, r.amount, days[r.cod_settlement_id])
             for r in rows]
    return settlements, lines


def match(session: Session, office: Office, today: dt.date, *, days: int = SETTLEMENT_DAYS) -> Matching:
    """Every settlement line of the office against its delivered COD items, and the differences (with their
    resolutions), in a stable order: per settlement as remitted, then the missing by delivery date."""
    delivered = _delivered_cod(session, office)
    settlements, lines = _settlement_lines(session, office)
    m = Matching(delivered, settlements, lines)
    found: list[Difference] = []
    for s in settlements:
        if s.total != s.items_sum:
            found.append(Difference(
                Kind.TOTAL_MISMATCH, s.settlement_id, settlement_id=s.settlement_id, expected=s.items_sum,
                settled=s.total, on=as_local(s.remitted_at).date(),
                detail=f"Total {_rupiah(s.total)}, jumlah {s.item_count} rinciannya {_rupiah(s.items_sum)} "
                       f"(selisih {_rupiah(s.total - s.items_sum)})."))
    by_number: dict[str, list[_Line]] = defaultdict(list)
    for line in lines:
        by_number[line.tracking_number].append(line)
        d = delivered.get(line.tracking_number)
        key = f"{line.settlement_id}#{line.seq}"
        if d is None:
            found.append(Difference(
                Kind.EXTRA, key, settlement_id=line.settlement_id, tracking_number=line.tracking_number,
                expected=0, settled=line.amount, on=line.on,
                detail=f"Baris {line.seq}: {line.tracking_number} {_rupiah(line.amount)}, padahal tidak ada kiriman "
                       "COD terkirim dengan nomor resi ini di kantor ini."))
        else:
            m.paid[line.tracking_number] = m.paid.get(line.tracking_number, 0) + line.amount
            if line.amount != d.due:
                said = "dipungut menurut kurir" if d.cod_collected is not None else "biaya antar pada kartu"
                found.append(Difference(
                    Kind.WRONG_AMOUNT, key, settlement_id=line.settlement_id, tracking_number=line.tracking_number,
                    expected=d.due, settled=line.amount, on=line.on,
                    detail=f"Baris {line.seq}: disetor {_rupiah(line.amount)}, {said} {_rupiah(d.due)} "
                           f"(selisih {_rupiah(line.amount - d.due)})."))
    for number, same in by_number.items():
        if len(same) > 1 and number in delivered:
            where = ", ".join(f"{x.settlement_id} baris {x.seq}" for x in same)
            found.append(Difference(
                Kind.SETTLED_TWICE, number, tracking_number=number, settlement_id=same[-1].settlement_id,
                expected=delivered[number].due, settled=sum(x.amount for x in same), on=same[-1].on,
                detail=f"Disetor {len(same)} kali: {where}."))
    overdue = []
    for number, d in delivered.items():
        deadline = d.delivered_on + dt.timedelta(days=days)
        if d.due <= 0 or today < deadline:
            continue
        same = by_number.get(number)
        if not same:
            overdue.append(Difference(
                Kind.MISSING, number, tracking_number=number, expected=d.due, settled=0, on=deadline,
                detail=f"Terkirim {d.delivered_on:%d-%m-%Y}, biaya {_rupiah(d.due)} belum ada di setoran mana pun "
                       f"sejak {deadline:%d-%m-%Y}."))
        elif same[0].on >= deadline:
            # Settled, but not within the days: a late remittance stays a difference until staff resolve it (the
            # settlement does not make it go away by itself).
            overdue.append(Difference(
                Kind.MISSING, number, tracking_number=number, expected=d.due, settled=m.paid.get(number, 0),
                on=deadline, settlement_id=same[0].settlement_id,
                detail=f"Terkirim {d.delivered_on:%d-%m-%Y}, biaya {_rupiah(d.due)} baru disetor "
                       f"{same[0].on:%d-%m-%Y} ({same[0].settlement_id}), lewat batas {deadline:%d-%m-%Y}."))
    found += sorted(overdue, key=lambda x: (x.on, x.key))
    resolutions = {(r.kind, r.key): Resolution(r.resolved_at, r.resolved_by, r.note)
                   for r in session.scalars(select(CodResolution).where(CodResolution.office_id == office.id))}
    m.differences = [_with(d, resolutions.get((d.kind.value, d.key))) for d in found]
    return m


def _with(d: Difference, r: Resolution | None) -> Difference:
    if r is None:
        return d
    return Difference(d.kind, d.key, d.detail, d.settlement_id, d.tracking_number, d.expected, d.settled, d.on, r)


def differences(session: Session, office: Office, today: dt.date, *, days: int = SETTLEMENT_DAYS) -> list[Difference]:
    """Every difference between the office's settlements and its delivered COD items, open and resolved."""
    return match(session, office, today, days=days).differences


def filtered(found: Iterable[Difference], *, status: str | None = None, kind: str | None = None) -> list[Difference]:
    """Differences by status ('OPEN', 'RESOLVED') and kind; unknown values are a SettlementError."""
    if status not in (None, "", "OPEN", "RESOLVED"):
        raise SettlementError(f"status harus OPEN atau RESOLVED, bukan {status[:20]!r}.")
    if kind not in (None, "") and kind not in Kind.__members__:
        raise SettlementError(f"alasan harus salah satu dari {', '.join(Kind)}, bukan {kind[:20]!r}.")
    return [d for d in found if (not status or (status == "OPEN") == d.open) and (not kind or d.kind.value == kind)]


def page_of(rows: Sequence[Any], number: int, size: int = PAGE_SIZE) -> Page:
    start = (number - 1) * size
    return Page(list(rows[start:start + size]), number, size, len(rows))


def resolve_difference(session: Session, office: Office, kind: str, key: str, note: str, actor: Actor,
                       today: dt.date, *, days: int = SETTLEMENT_DAYS) -> Difference:
    """Mark a difference resolved, saying why (at least 5 characters): recorded with who and when."""
    note = (note or "").strip()
    if len(note) < 5:
        raise SettlementError("Catatan penyelesaian wajib diisi (paling sedikit 5 karakter): apa yang sudah "
                              "dilakukan atau disepakati dengan kurir.")
    if len(note) > 1000:
        raise SettlementError("Catatan penyelesaian paling panjang 1000 karakter.")
    if any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in note):
        raise SettlementError("Catatan penyelesaian berisi karakter kendali.")
    current = next((d for d in differences(session, office, today, days=days)
                    if d.kind.value == kind and d.key == key), None)
    if current is None:
        raise DifferenceNotFound(f"Selisih {kind} {key[:120]} tidak ada (lagi) di kantor ini.")
    if current.resolution is not None:
        r = current.resolution
        raise SettlementConflict(f"Selisih ini sudah diselesaikan oleh {r.resolved_by} pada "
                                 f"{wib_text(r.resolved_at)}.")
    at = utcnow()
    session.add(CodResolution(office_id=office.id, kind=kind, key=key, resolved_at=at, resolved_by=actor.label,
                              user_id=actor.user_id, note=note))
    session.flush()
    return _with(current, Resolution(at, actor.label, note))


# --- reading ------------------------------------------------------------------------------------------------------


def settlement_json(s: CodSettlement) -> dict[str, Any]:
    return {"settlement_id": s.settlement_id, "period": {"from": s.period_from.isoformat(),
                                                         "to": s.period_to.isoformat()},
            "remitted_at": as_local(s.remitted_at).isoformat(), "total": s.total, "items_sum": s.items_sum,
            "items": s.item_count, "currency": s.currency, "received_at": s.received_at.isoformat(),
            "balanced": s.total == s.items_sum}


def settlements_query(office: Office) -> Any:
    return (select(CodSettlement).where(CodSettlement.office_id == office.id)
            .order_by(CodSettlement.remitted_at.desc(), CodSettlement.id.desc()))


# --- the reconciliation's "cod" section ---------------------------------------------------------------------------


def cod_report(session: Session, office: Office, today: dt.date | None = None, *,
               days: int = SETTLEMENT_DAYS) -> dict[str, Any]:
    """The money of cash on delivery, for the reconciliation. Over the office's delivered COD items and its
    settlements:

    - `expected`: the fees on the delivered COD items; `collected`: what the courier said it collected (the fee
      where it did not say); `shortfall` = expected - collected;
    - `remitted`: every settlement line; it is `remitted_matched` (lines of delivered COD items) + `remitted_extra`
      (lines of nothing delivered COD); `declared` (the settlements' totals) = remitted + `total_mismatch`;
    - collected = remitted_matched + `outstanding` (in no settlement yet, within the days allowed) + `missing`
      (in no settlement past them) + `amount_differences` (for items in settlements: collected - remitted; negative
      when more was remitted, e.g. settled twice).

    `checks` holds each equation, the sums on both sides computed separately (SQL sums against the item-by-item
    matching), so a line counted twice or lost shows up as `balanced: false`.
    """
    today = today or today_local()
    m = match(session, office, today, days=days)
    collected_sql, expected_sql, delivered_sql = session.execute(
        select(func.coalesce(func.sum(func.coalesce(ManifestItem.cod_collected, ManifestItem.cod_amount)), 0),
               func.coalesce(func.sum(ManifestItem.cod_amount), 0), func.count())
        .join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(Manifest.office_id == office.id, ManifestItem.cod_amount.is_not(None),
               ManifestItem.tracking_status == Status.DELIVERED.value,
               ManifestItem.tracking_number.is_not(None))).one()
    remitted_sql, lines_sql = session.execute(
        select(func.coalesce(func.sum(CodSettlementItem.amount), 0), func.count())
        .join(CodSettlement, CodSettlement.id == CodSettlementItem.cod_settlement_id)
        .where(CodSettlement.office_id == office.id)).one()
    declared_sql = session.scalar(select(func.coalesce(func.sum(CodSettlement.total), 0))
                                  .where(CodSettlement.office_id == office.id))

    outstanding = missing = amount_differences = 0
    couriers: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(
        ("items", "expected", "collected", "remitted", "unsettled"), 0))
    for number, d in m.delivered.items():
        paid = m.paid.get(number)
        if paid is None:
            overdue = today >= d.delivered_on + dt.timedelta(days=days)
            if overdue and d.due > 0:
                missing += d.due
            else:
                outstanding += d.due
        else:
            amount_differences += d.due - paid
        c = couriers[d.courier_id or "-"]
        c["items"] += 1
        c["expected"] += d.cod_amount
        c["collected"] += d.due
        c["remitted"] += paid or 0
        c["unsettled"] += d.due - (paid or 0)
    remitted_matched = sum(m.paid.values())
    remitted = sum(line.amount for line in m.lines)
    remitted_extra = remitted - remitted_matched
    declared = sum(s.total for s in m.settlements)
    total_mismatch = sum(s.total - s.items_sum for s in m.settlements)  # from each settlement's own lines, as stored
    collected = sum(d.due for d in m.delivered.values())
    by_kind = {k.value: {"label": KIND_LABELS[k], "open": 0, "resolved": 0} for k in Kind}
    for d in m.differences:
        by_kind[d.kind.value]["open" if d.open else "resolved"] += 1
    checks = {
        "collected = remitted_matched + outstanding + missing + amount_differences":
            int(collected_sql) == remitted_matched + outstanding + missing + amount_differences,
        "remitted = remitted_matched + remitted_extra": int(remitted_sql) == remitted_matched + remitted_extra,
        "declared = remitted + total_mismatch": int(declared_sql) == int(remitted_sql) + total_mismatch,
        "lines": int(lines_sql) == len(m.lines) and int(delivered_sql) == len(m.delivered),
    }
    return {
        "currency": CURRENCY,
        "settlement_days": days,
        "delivered_items": len(m.delivered),
        "expected": int(expected_sql),
        "collected": collected,
        "collected_unreported": sum(1 for d in m.delivered.values() if d.cod_collected is None),
        "shortfall": int(expected_sql) - collected,
        "settlements": len(m.settlements),
        "settlement_lines": len(m.lines),
        "declared": declared,
        "remitted": remitted,
        "remitted_matched": remitted_matched,
        "remitted_extra": remitted_extra,
        "total_mismatch": total_mismatch,
        "outstanding": outstanding,
        "missing": missing,
        "amount_differences": amount_differences,
        "differences": {"open": sum(1 for d in m.differences if d.open),
                        "resolved": sum(1 for d in m.differences if not d.open), "by_kind": by_kind},
        "by_courier": [{"courier_id": cid, **figures} for cid, figures in sorted(couriers.items())],
        "checks": checks,
        "balanced": all(checks.values()),
    }
