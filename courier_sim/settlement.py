"""COD settlements as PT Pos sends them (courier-partner-api.md 6.3): weekly per post office, with deliberate
differences for our side to find.

Every played `DELIVERED` that carries `cod_collected` is booked to its post office's week (Monday to Sunday in WIB,
by `occurred_at`). At 10.00 WIB the day after a week ends the courier remits that week's fees: one signed
`cod.settlement` message per post office that collected any (`settlement_id` `STL-<post office>-<YYYYMMDD of the
remittance>`), and a `COD_REMITTED` annotation for each item the settlement really settles.

Deliberate differences (`kinds`, all of `DIFFERENCE_KINDS` by default), each made once in a run:

- `missing`: a delivered COD item left out of its settlement and of every later one (and never `COD_REMITTED`);
- `wrong_amount`: an item listed with another amount than the fee collected;
- `extra`: a tracking number never delivered as COD (a non-COD item of the same post office, delivered if there is
  one), listed with a fee; no `COD_REMITTED` goes out for it;
- `total_mismatch`: a settlement whose `total` is not the sum of its items;
- `duplicate`: a settlement sent again the next day, the same body in a new message (the answer must be
  "duplicate").

They are spread over the settlements in that order, one per settlement, each on the first settlement that can carry
it (`missing` needs two items, so that one remains); whatever is still to be made goes on the last settlement the
simulator expects to send. `differences` lists what was made.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from app.courier.tracking import Status
from courier_sim.plan import WIB, PlannedEvent, TrackedItem
from courier_sim.validation import check_digit

DIFFERENCE_KINDS: tuple[str, ...] = ("missing", "wrong_amount", "extra", "total_mismatch", "duplicate")
REMIT_TIME = time(10, 0)
SERVICE = "RB"  # the letters of a fabricated tracking number (`extra` when no real one fits)


def week_of(day: date) -> date:
    """The Monday that starts `day`'s settlement week."""
    return day - timedelta(days=day.weekday())


def remitted_at(week: date) -> datetime:
    """When the week starting on `week` is remitted: 10.00 WIB the day after its Sunday."""
    return datetime.combine(week + timedelta(days=7), REMIT_TIME, WIB)


@dataclass(frozen=True, slots=True)
class Booking:
    """A fee collected: the item and its DELIVERED."""

    item: TrackedItem
    amount: int
    delivered_at: datetime


@dataclass
class Settlement:
    """One settlement as sent; `settles` are the bookings it really remits (each gets a COD_REMITTED)."""

    settlement_id: str
    post_office: str
    period_from: date
    period_to: date
    remitted_at: datetime
    lines: dict[str, int]  # tracking number -> amount, as listed
    settles: list[Booking]
    total_offset: int = 0
    resend: bool = False
    answers: list[str | None] = field(default_factory=list)  # the receiver's `result`, one per message sent

    @property
    def total(self) -> int:
        return sum(self.lines.values()) + self.total_offset

    def data(self) -> dict[str, Any]:
        """The `data` of the `cod.settlement` webhook message."""
        return {
            "settlement_id": self.settlement_id,
            "period": {"from": self.period_from.isoformat(), "to": self.period_to.isoformat()},
            "remitted_at": self.remitted_at.isoformat(timespec="seconds"),
            "total": self.total,
            "currency": "IDR",
            "items": [{"tracking_number": tn, "amount": amount} for tn, amount in sorted(self.lines.items())],
        }


class Settler:
    """Books COD deliveries per post office and week, and builds each week's settlement once it is remitted."""

    def __init__(self, rng: random.Random, items: Mapping[str, TrackedItem],
                 kinds: Collection[str] | None = DIFFERENCE_KINDS) -> None:
        kinds = tuple(kinds or ())
        unknown = set(kinds) - set(DIFFERENCE_KINDS)
        if unknown:
            raise ValueError(f"settlement_differences: unknown {sorted(unknown)}; allowed: {list(DIFFERENCE_KINDS)}")
        self.rng = rng
        self.items = items
        self.kinds = tuple(k for k in DIFFERENCE_KINDS if k in kinds)
        self._to_make = list(self.kinds)
        self._books: dict[tuple[str, date], list[Booking]] = {}
        self.sent: list[Settlement] = []
        self.differences: list[dict[str, Any]] = []

    @property
    def waiting(self) -> bool:
        """Fees booked to a week not yet remitted."""
        return bool(self._books)

    @property
    def not_made(self) -> list[str]:
        return list(self._to_make)

    def book(self, item: TrackedItem, delivered: PlannedEvent) -> None:
        """A DELIVERED with `cod_collected` was played: its fee goes to its post office's week."""
        assert delivered.cod_collected is not None
        post_office = delivered.post_office or (item.post_office.code if item.post_office else item.kode_pos)
        key = (post_office, week_of(delivered.occurred_at.astimezone(WIB).date()))
        self._books.setdefault(key, []).append(Booking(item, delivered.cod_collected, delivered.occurred_at))

    def due(self, clock: datetime, more_to_come: Callable[[], bool]) -> list[Settlement]:
        """The settlements remitted by `clock`, oldest week first; `more_to_come()` says whether COD deliveries are
        still planned (only asked when differences are left to make and no other week is booked)."""
        keys = sorted((k for k in self._books if remitted_at(k[1]) <= clock), key=lambda k: (k[1], k[0]))
        made = []
        for key in keys:
            bookings = self._books.pop(key)
            last = bool(self._to_make) and not self._books and not more_to_come()
            made.append(self._settle(key, bookings, last=last))
        self.sent.extend(made)
        return made

    def summary(self) -> dict[str, Any]:
        answers = Counter(str(a) for s in self.sent for a in s.answers)
        return {
            "sent": len(self.sent), "resent": sum(1 for s in self.sent if s.resend and len(s.answers) > 1),
            "items": sum(len(s.lines) for s in self.sent), "total": sum(s.total for s in self.sent),
            "remitted_items": sum(len(s.settles) for s in self.sent), "answers": dict(answers),
            "differences_made": [d["kind"] for d in self.differences], "differences_not_made": self.not_made,
        }

    def _settle(self, key: tuple[str, date], bookings: list[Booking], *, last: bool) -> Settlement:
        post_office, week = key
        bookings.sort(key=lambda b: (b.delivered_at, b.item.tracking_number))
        at = remitted_at(week)
        settlement = Settlement(
            settlement_id=f"STL-{post_office}-{at:%Y%m%d}", post_office=post_office, period_from=week,
            period_to=week + timedelta(days=6), remitted_at=at,
            lines={b.item.tracking_number: b.amount for b in bookings}, settles=list(bookings))
        made_here = 0
        for kind in list(self._to_make):
            if made_here and not last:
                break
            difference = self._make(kind, settlement)
            if difference is not None:
                self._to_make.remove(kind)
                self.differences.append(difference)
                made_here += 1
        return settlement

    def _make(self, kind: str, s: Settlement) -> dict[str, Any] | None:
        """Put one deliberate difference into `s`; None when `s` cannot carry it."""
        rng = self.rng
        where = {"kind": kind, "settlement_id": s.settlement_id}
        if kind == "missing":
            if len(s.settles) < 2:
                return None
            left_out = rng.choice(s.settles)
            s.settles.remove(left_out)
            del s.lines[left_out.item.tracking_number]
            return {**where, "tracking_number": left_out.item.tracking_number, "amount": left_out.amount,
                    "delivered_at": left_out.delivered_at.isoformat(timespec="seconds")}
        if kind == "wrong_amount":
            if not s.settles:
                return None
            wrong = rng.choice(s.settles)
            amount = wrong.amount + rng.choice((-5_000, 5_000, 10_000))
            if amount <= 0:
                amount = wrong.amount + 5_000
            s.lines[wrong.item.tracking_number] = amount
            return {**where, "tracking_number": wrong.item.tracking_number, "amount": amount, "expected": wrong.amount}
        if kind == "extra":
            number = self._never_cod_delivered(s)
            amount = s.settles[0].amount if s.settles else 20_000
            s.lines[number] = amount
            return {**where, "tracking_number": number, "amount": amount}
        if kind == "total_mismatch":
            items_sum = sum(s.lines.values())
            s.total_offset = rng.choice((10_000, -10_000, 5_000))
            if items_sum + s.total_offset <= 0:
                s.total_offset = 10_000
            return {**where, "total": s.total, "sum_of_items": items_sum}
        s.resend = True  # "duplicate": the server sends it again the next day
        return where

    def _never_cod_delivered(self, s: Settlement) -> str:
        """A tracking number the courier never delivered as COD: a non-COD item of the same post office (delivered
        ones first), else a COD item already returned, else a number the simulator never saw."""
        def office_of(item: TrackedItem) -> str:
            return item.post_office.code if item.post_office else item.kode_pos

        listed = set(s.lines)
        non_cod = [i for i in self.items.values() if i.cod_amount is None and i.tracking_number not in listed]
        for pool in ([i for i in non_cod if office_of(i) == s.post_office and i.has_played(Status.DELIVERED)],
                     [i for i in non_cod if office_of(i) == s.post_office], non_cod,
                     [i for i in self.items.values() if i.cod_amount is not None and i.has_played(Status.RETURNED)
                      and i.tracking_number not in listed]):
            if pool:
                return self.rng.choice(sorted(i.tracking_number for i in pool))
        serial = 99_999_999
        while True:
            number = f"{SERVICE}{serial:08d}{check_digit(f'{serial:08d}')}ID"
            if number not in self.items and number not in listed:
                return number
            serial -= 1

