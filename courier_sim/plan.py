"""What happens to each item at the courier: a plan of tracking events drawn from a seeded random generator.

An item's plan is decided when its manifest is accepted (and rewritten by a recall). Events carry their
simulated `occurred_at`; the simulator plays them when its clock passes that moment.

Outcomes (`outcomes=` of `CourierSimulator`, merged over `DEFAULT_OUTCOMES`; weights need not sum to 1):

- `delivered`: delivered on the first attempt.
- `delivered_after_failures`: one or two `DELIVERY_FAILED` attempts (reason drawn from `failure_reasons`),
  each followed the next day by a new `OUT_FOR_DELIVERY`, then `DELIVERED`.
- `returned`: the courier gives up; `return_reasons` weighs how. Keys are the contract's `RETURN_REASONS`
  plus the scenario `CLOSED_COMPLEX` (attempts failing with `CLOSED_COMPLEX`, then `RETURNED` as `UNCLAIMED`
  or `BAD_ADDRESS`). `DEMOLISHED_AREA` has weight 0 by default: it comes from a recall.
- `failure_reasons`: weights of the `FAILURE_REASONS` codes for failed attempts before a delivery.

The defaults follow the Bekasi run: of 130,402 items 127,601 delivered (97.85%), 6% of those after failed
attempts; the 2.15% returns split as below. A `return_reasons` or `failure_reasons` given by the caller
replaces the default weights as a whole.

Section 6 of the contract (`LastMile`, shares between 0 and 1; `last_mile=` of `CourierSimulator`):

- `pickup_share`: of the items whose attempts at the door are over, the share that waits at the post office
  (`AVAILABLE_FOR_PICKUP` with `pickup: {post_office, name, address, until}`, `until` 7 days later). A
  `delivered_after_failures` item is then collected at the counter (`DELIVERED`, recipient SELF, location at the
  post office); an `UNCLAIMED` (or `CLOSED_COMPLEX`) return is `RETURNED` as `UNCLAIMED` the day after `until`.
- `cod_refusal_share`: of the items with `cod`, the share whose citizen will not pay: one or two
  `DELIVERY_FAILED` `COD_NOT_PAID`, then `RETURNED` `COD_NOT_PAID`. Every other delivery of a COD item carries
  `cod_collected` (the fee).
- `old_card_refusal_share`: the same for `collect_old_card` items and `OLD_CARD_NOT_SURRENDERED`. Every other
  delivery of such an item carries `old_card_collected: true`.
- `old_card_received_share`: of the old cards collected, the share whose arrival at the Disdukcapil office the
  courier reports (`OLD_CARD_RECEIVED`, 2 to 7 days after the delivery); the office records the rest by hand.

The last-mile reason codes are not keys of `failure_reasons` / `return_reasons`: they only ever come from the
shares above, for the items they apply to. A share of 0 draws nothing, so that with every share 0 and no COD
items a seed gives the plans it gave before section 6.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from app.courier.tracking import (
    ANNOTATIONS,
    FAILURE_REASONS,
    FINAL,
    LAST_MILE_REASONS,
    RELATIONSHIPS,
    RETURN_REASONS,
    Status,
)

WIB = timezone(timedelta(hours=7), "WIB")
WORK_START = time(8, 0)
WORK_END = time(17, 0)
CLOSED_COMPLEX = "CLOSED_COMPLEX"
COD_NOT_PAID = "COD_NOT_PAID"
OLD_CARD_NOT_SURRENDERED = "OLD_CARD_NOT_SURRENDERED"
PICKUP_DAYS = 7

DEFAULT_OUTCOMES: dict[str, Any] = {
    "delivered": 0.9198,
    "delivered_after_failures": 0.0587,
    "returned": 0.0215,
    "return_reasons": {
        "MOVED": 0.35, "BAD_ADDRESS": 0.25, "UNCLAIMED": 0.15, "DECEASED": 0.10, CLOSED_COMPLEX: 0.08,
        "REFUSED": 0.05, "DAMAGED": 0.02, "DEMOLISHED_AREA": 0.0,
    },
    "failure_reasons": {"NOBODY_HOME": 0.60, "ADDRESS_NOT_FOUND": 0.15, "CLOSED_COMPLEX": 0.15, "REFUSED": 0.02,
                        "OTHER": 0.08},
}
SCENARIOS = ("delivered", "delivered_after_failures", "returned")
# The reasons a caller may weigh: the last-mile ones belong to the shares of `LastMile`.
DOOR_FAILURES = tuple(r for r in FAILURE_REASONS if r not in LAST_MILE_REASONS)
DOOR_RETURNS = tuple(r for r in RETURN_REASONS if r not in LAST_MILE_REASONS)
RELATIONSHIP_WEIGHTS = {"SELF": 0.70, "FAMILY": 0.25, "NEIGHBOUR": 0.02, "RT_RW_OFFICIAL": 0.02, "OTHER": 0.01}
_OTHER_NAMES = ("SRI WAHYUNI", "BUDI SANTOSO", "DEWI LESTARI", "AHMAD HIDAYAT", "NUR HASANAH", "RUDI HARTONO",
                "SITI RAHMAWATI", "AGUS SETIAWAN", "YULIANTI", "DEDI KURNIAWAN")
# Who signs for the old cards at the Disdukcapil office's counter.
_OFFICE_CLERKS = ("RINA MARLINA", "HENDRA GUNAWAN", "WULAN SARI", "TEGUH PRASETYO")
PROOF_BASE = "https://sim.pos.example/proof"
_METRES_PER_DEGREE = 111_320.0

assert set(RELATIONSHIP_WEIGHTS) == set(RELATIONSHIPS)


@dataclass(frozen=True)
class Outcomes:
    """Normalised outcome weights (see the module docstring)."""

    scenarios: dict[str, float]
    return_reasons: dict[str, float]
    failure_reasons: dict[str, float]


def resolve_outcomes(overrides: Mapping[str, Any] | None = None) -> Outcomes:
    """Merge `overrides` over `DEFAULT_OUTCOMES`, check every key and weight, normalise."""
    merged = {**DEFAULT_OUTCOMES, **(overrides or {})}
    unknown = set(merged) - {*SCENARIOS, "return_reasons", "failure_reasons"}
    if unknown:
        raise ValueError(f"unknown outcome keys: {sorted(unknown)}")
    return Outcomes(
        scenarios=_weights({k: merged[k] for k in SCENARIOS}, SCENARIOS, "outcomes"),
        return_reasons=_weights(merged["return_reasons"], (*DOOR_RETURNS, CLOSED_COMPLEX), "return_reasons"),
        failure_reasons=_weights(merged["failure_reasons"], DOOR_FAILURES, "failure_reasons"),
    )


def _weights(weights: Mapping[str, float], allowed: tuple[str, ...], name: str) -> dict[str, float]:
    unknown = set(weights) - set(allowed)
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}; allowed: {list(allowed)}")
    if any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights.values()):
        raise ValueError(f"{name}: weights must be non-negative numbers")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError(f"{name}: at least one weight must be positive")
    return {k: w / total for k, w in weights.items() if w > 0}


@dataclass(frozen=True)
class LastMile:
    """Shares for section 6 of the contract (see the module docstring)."""

    pickup_share: float = 0.5
    cod_refusal_share: float = 0.05
    old_card_refusal_share: float = 0.04
    old_card_received_share: float = 0.9

    def __post_init__(self) -> None:
        for f in fields(self):
            share = getattr(self, f.name)
            if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
                raise ValueError(f"{f.name} must be a number between 0 and 1, not {share!r}")


@dataclass(frozen=True, slots=True)
class PostOffice:
    """The post office that delivers a manifest (its `destination_post_office`): where items wait for pickup."""

    code: str
    name: str
    address: str


@dataclass(slots=True)
class PlannedEvent:
    """One tracking event the courier will emit; `to_wire` gives the contract's JSON.

    The section 6 fields are None when the event does not carry them, and then left out of the JSON.
    """

    event_id: str
    status: Status
    occurred_at: datetime
    attempt: int
    lat: float | None
    lng: float | None
    reason_code: str | None = None
    recipient: dict[str, str] | None = None
    post_office: str | None = None  # location.post_office when it is not the item's kode pos (at the counter)
    pickup: dict[str, str] | None = None
    cod_collected: int | None = None
    old_card_collected: bool | None = None
    old_card: dict[str, str] | None = None
    settlement_id: str | None = None


@dataclass(slots=True)
class TrackedItem:
    """An accepted item: what the courier knows of it, its plan, and how far the plan has been played."""

    tracking_number: str
    manifest_number: str
    recipient_name: str
    kode_pos: str
    rt: str
    home: tuple[float, float] | None
    office: tuple[float, float] | None
    courier_id: str
    post_office: PostOffice | None = None
    cod_amount: int | None = None
    collect_old_card: bool = False
    scenario: str = ""
    events: list[PlannedEvent] = field(default_factory=list)
    played: int = 0
    held_until_day: int = 0  # the last simulated day one of its events is held back to (late events)

    @property
    def last_played(self) -> PlannedEvent | None:
        return self.events[self.played - 1] if self.played else None

    @property
    def state(self) -> Status | None:
        """The status of the last played step of the delivery (annotations are not steps); None before the first."""
        for event in reversed(self.events[: self.played]):
            if event.status not in ANNOTATIONS:
                return event.status
        return None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL

    def has_played(self, status: Status, reason_code: str | None = None) -> bool:
        return any(e.status == status and (reason_code is None or e.reason_code == reason_code)
                   for e in self.events[: self.played])

    def plans(self, status: Status) -> bool:
        """Whether `status` is anywhere in the plan, played or still to come."""
        return any(e.status == status for e in self.events)

    def to_wire(self, event: PlannedEvent) -> dict[str, Any]:
        delivered = event.status == Status.DELIVERED
        proof = None
        if delivered:
            proof = {"photo_url": f"{PROOF_BASE}/{event.event_id}/photo.jpg",
                     "signature_url": f"{PROOF_BASE}/{event.event_id}/signature.png"}
        wire = {
            "event_id": event.event_id,
            "tracking_number": self.tracking_number,
            "status": event.status.value,
            "occurred_at": event.occurred_at.isoformat(timespec="seconds"),
            "location": {"post_office": event.post_office or self.kode_pos, "lat": event.lat, "lng": event.lng},
            "attempt": event.attempt,
            "reason_code": event.reason_code,
            "recipient": event.recipient if delivered else None,
            "proof": proof,
            "courier_id": self.courier_id,
        }
        for name in ("pickup", "cod_collected", "old_card_collected", "old_card", "settlement_id"):
            value = getattr(event, name)
            if value is not None:
                wire[name] = value
        return wire


def tally(items: Iterable[TrackedItem]) -> dict[str, dict[str, int]]:
    """What section 6 has come to so far (played events only): pickups, fees, old cards."""
    pickups, cod, old_cards = Counter[str](), Counter[str](), Counter[str]()
    for item in items:
        delivered = item.has_played(Status.DELIVERED)
        if item.has_played(Status.AVAILABLE_FOR_PICKUP):
            pickups["collected" if delivered else "unclaimed" if item.has_played(Status.RETURNED) else "waiting"] += 1
        if item.cod_amount is not None:
            cod["items"] += 1
            if delivered:
                cod["paid"] += 1
                cod["collected"] += item.cod_amount
            elif item.has_played(Status.RETURNED, COD_NOT_PAID):
                cod["refused"] += 1
            cod["failed_attempts"] += sum(1 for e in item.events[: item.played]
                                          if e.status == Status.DELIVERY_FAILED and e.reason_code == COD_NOT_PAID)
        if item.collect_old_card:
            old_cards["items"] += 1
            if delivered:
                old_cards["surrendered"] += 1
                if item.has_played(Status.OLD_CARD_RECEIVED):
                    old_cards["received_reported"] += 1
                elif not item.plans(Status.OLD_CARD_RECEIVED):
                    old_cards["never_reported"] += 1  # the office records these by hand
            elif item.has_played(Status.RETURNED, OLD_CARD_NOT_SURRENDERED):
                old_cards["not_surrendered"] += 1
    return {
        "pickups": {k: pickups[k] for k in ("waiting", "collected", "unclaimed")},
        "cod": {k: cod[k] for k in ("items", "paid", "refused", "failed_attempts", "collected")},
        "old_cards": {k: old_cards[k] for k in ("items", "surrendered", "not_surrendered", "received_reported",
                                                "never_reported")},
    }


def pickup_time(accepted_at: datetime) -> datetime:
    """When the courier collects a manifest: this afternoon if accepted before noon, else tomorrow morning."""
    local = accepted_at.astimezone(WIB)
    if local.time() < time(12, 0):
        return datetime.combine(local.date(), time(13, 0), WIB)
    return datetime.combine(local.date() + timedelta(days=1), time(9, 0), WIB)


class _Timeline:
    """A cursor moving forward through working hours; every step is strictly later than the one before."""

    def __init__(self, rng: random.Random, cursor: datetime) -> None:
        self.rng = rng
        self.cursor = cursor

    def later_today(self, min_minutes: int, max_minutes: int) -> datetime:
        t = self.cursor + timedelta(minutes=self.rng.randint(min_minutes, max_minutes))
        if t.date() != self.cursor.date() or t.time() > WORK_END:
            return self.on_day(1, WORK_START, time(10, 0))
        if t.time() < WORK_START:
            t = datetime.combine(t.date(), WORK_START, WIB) + timedelta(minutes=self.rng.randint(0, 60))
        self.cursor = t
        return t

    def on_day(self, days_later: int, earliest: time = WORK_START, latest: time = WORK_END) -> datetime:
        """A moment between `earliest` and `latest` on the day `days_later` after the cursor's day."""
        if days_later <= 0:
            return self.later_today(30, 180)
        day: date = self.cursor.date() + timedelta(days=days_later)
        span = (datetime.combine(day, latest) - datetime.combine(day, earliest)).seconds // 60
        t = datetime.combine(day, earliest, WIB) + timedelta(minutes=self.rng.randint(0, span))
        self.cursor = t
        return t


class Planner:
    """Draws each item's plan; owns the random generator so a seed reproduces the whole run."""

    def __init__(self, rng: random.Random, outcomes: Outcomes, *, far_share: float = 0.002,
                 last_mile: LastMile | None = None) -> None:
        self.rng = rng
        self.outcomes = outcomes
        self.far_share = far_share
        self.last_mile = last_mile or LastMile()
        self._event_ids: set[str] = set()

    def plan(self, item: TrackedItem, accepted_at: datetime) -> None:
        """Give a freshly accepted item its whole plan."""
        rng = self.rng
        item.scenario = self._draw(self.outcomes.scenarios)
        tl = _Timeline(rng, pickup_time(accepted_at))
        events = item.events = []
        events.append(self._event(item, Status.ACCEPTED, tl.later_today(60, 240), 1, item.office))
        events.append(self._event(item, Status.IN_TRANSIT, tl.on_day(rng.choice((0, 1, 1)), time(9, 0)), 1,
                                  item.office))
        refusal = self._refusal(item)
        if refusal is not None:
            item.scenario = "returned"
            self._plan_refusal(item, tl, refusal)
        elif item.scenario == "delivered":
            self._round(item, tl, 1)
            self._deliver(item, tl, 1)
        elif item.scenario == "delivered_after_failures":
            failures = 1 if rng.random() < 0.75 else 2
            for attempt in range(1, failures + 1):
                self._round(item, tl, attempt)
                reason = self._draw(self.outcomes.failure_reasons)
                events.append(self._event(item, Status.DELIVERY_FAILED, tl.later_today(30, 300), attempt,
                                          self._near(item.home), reason))
            if self._chance(self.last_mile.pickup_share):
                self._plan_pickup(item, tl, failures, collected=True)
            else:
                self._round(item, tl, failures + 1)
                self._deliver(item, tl, failures + 1)
        else:
            self._plan_return(item, tl, self._draw(self.outcomes.return_reasons))

    def recall(self, item: TrackedItem, reason: str, now: datetime) -> None:
        """Replace what is left of the plan by RETURNED(`reason`) then RETURN_RECEIVED."""
        kept = item.events[: item.played]
        # Not yet collected: the courier still takes the item in before sending it back.
        kept += [e for e in item.events[item.played:] if e.status == Status.ACCEPTED]
        cursor = max([now, *(e.occurred_at for e in kept)])
        attempt = kept[-1].attempt if kept else 1
        tl = _Timeline(self.rng, cursor)
        item.events = kept
        item.events.append(self._event(item, Status.RETURNED, tl.later_today(30, 240), attempt, item.office, reason))
        item.events.append(self._event(item, Status.RETURN_RECEIVED, tl.on_day(self.rng.randint(2, 5), time(9, 0),
                                                                               time(15, 0)), attempt, item.office))

    def remitted(self, item: TrackedItem, at: datetime, settlement_id: str) -> PlannedEvent:
        """The COD_REMITTED annotation of an item whose fee settlement `settlement_id` remitted."""
        attempt = item.last_played.attempt if item.last_played else 1
        event = self._event(item, Status.COD_REMITTED, at, attempt, None)
        event.post_office, event.settlement_id = self._post_office(item).code, settlement_id
        return event

    def _plan_return(self, item: TrackedItem, tl: _Timeline, scenario: str) -> None:
        """Failed attempts as fit the reason, then RETURNED, then RETURN_RECEIVED a few days later."""
        rng = self.rng
        reason = scenario
        failures: list[str] = []
        at_door = False  # the postman learns the reason at the door (no failed attempt on that round)
        if scenario in ("DECEASED", "REFUSED"):
            at_door = True
        elif scenario == "MOVED":
            failures, at_door = ["NOBODY_HOME"] * rng.randint(0, 1), True
        elif scenario == "BAD_ADDRESS":
            failures = ["ADDRESS_NOT_FOUND"] * rng.randint(1, 2)
        elif scenario == "UNCLAIMED":
            failures = ["NOBODY_HOME"] * rng.randint(2, 3)
        elif scenario == "DEMOLISHED_AREA":
            failures = ["ADDRESS_NOT_FOUND"]
        elif scenario == CLOSED_COMPLEX:
            failures = [CLOSED_COMPLEX] * rng.randint(2, 3)
            reason = rng.choice(("UNCLAIMED", "BAD_ADDRESS"))
        attempt = 1
        for attempt, failure in enumerate(failures, start=1):
            self._round(item, tl, attempt)
            item.events.append(self._event(item, Status.DELIVERY_FAILED, tl.later_today(30, 300), attempt,
                                           self._near(item.home), failure))
        if scenario in ("UNCLAIMED", CLOSED_COMPLEX) and self._chance(self.last_mile.pickup_share):
            self._plan_pickup(item, tl, attempt, collected=False)
            return
        if at_door:
            attempt = len(failures) + 1
            self._round(item, tl, attempt)
            returned_at, where = tl.later_today(30, 300), self._near(item.home)
        elif scenario == "DAMAGED":
            returned_at, where = tl.later_today(30, 240), item.office
        else:  # held at the post office for the recipient to collect, then sent back
            returned_at, where = tl.on_day(rng.randint(1, 3)), item.office
        item.events.append(self._event(item, Status.RETURNED, returned_at, attempt, where, reason))
        item.events.append(self._event(item, Status.RETURN_RECEIVED,
                                       tl.on_day(rng.randint(2, 5), time(9, 0), time(15, 0)), attempt, item.office))

    def _plan_pickup(self, item: TrackedItem, tl: _Timeline, attempt: int, *, collected: bool) -> None:
        """The attempts are over: the item waits PICKUP_DAYS days at the post office. Collected at the counter within
        that time, or RETURNED as UNCLAIMED the morning after `until` (then RETURN_RECEIVED a few days later)."""
        office = self._post_office(item)
        available = self._event(item, Status.AVAILABLE_FOR_PICKUP, tl.on_day(1, WORK_START, time(11, 0)), attempt,
                                item.office)
        until = available.occurred_at.date() + timedelta(days=PICKUP_DAYS)
        available.post_office = office.code
        available.pickup = {"post_office": office.code, "name": office.name, "address": office.address,
                            "until": until.isoformat()}
        item.events.append(available)
        if collected:
            # on_day(0) stays on the same day: the item was put out by 11.00, so 3 more hours end before 17.00.
            at = tl.on_day(self.rng.randint(0, PICKUP_DAYS - 1), WORK_START, time(15, 0))
            counter = self._event(item, Status.DELIVERED, at, attempt, self._near(item.office))
            counter.post_office = office.code
            counter.recipient = {"name": item.recipient_name, "relationship": "SELF"}
            self._hand_over(item, tl, counter)
            return
        returned = self._event(item, Status.RETURNED, tl.on_day((until - tl.cursor.date()).days + 1, WORK_START,
                                                                time(10, 0)), attempt, item.office, "UNCLAIMED")
        returned.post_office = office.code
        item.events.append(returned)
        item.events.append(self._event(item, Status.RETURN_RECEIVED,
                                       tl.on_day(self.rng.randint(2, 5), time(9, 0), time(15, 0)), attempt,
                                       item.office))

    def _refusal(self, item: TrackedItem) -> str | None:
        """Whether the citizen will refuse the fee or keep the old card (drawn only for items that have them)."""
        if item.cod_amount is not None and self._chance(self.last_mile.cod_refusal_share):
            return COD_NOT_PAID
        if item.collect_old_card and self._chance(self.last_mile.old_card_refusal_share):
            return OLD_CARD_NOT_SURRENDERED
        return None

    def _plan_refusal(self, item: TrackedItem, tl: _Timeline, reason: str) -> None:
        """One or two attempts the citizen turns down for `reason`, then the courier sends the card back."""
        rng = self.rng
        failures = rng.randint(1, 2)
        for attempt in range(1, failures + 1):
            self._round(item, tl, attempt)
            item.events.append(self._event(item, Status.DELIVERY_FAILED, tl.later_today(30, 300), attempt,
                                           self._near(item.home), reason))
        item.events.append(self._event(item, Status.RETURNED, tl.on_day(rng.randint(1, 2)), failures, item.office,
                                       reason))
        item.events.append(self._event(item, Status.RETURN_RECEIVED,
                                       tl.on_day(rng.randint(2, 5), time(9, 0), time(15, 0)), failures, item.office))

    def _round(self, item: TrackedItem, tl: _Timeline, attempt: int) -> None:
        item.events.append(self._event(item, Status.OUT_FOR_DELIVERY, tl.on_day(1, WORK_START, time(10, 30)),
                                       attempt, item.office))

    def _deliver(self, item: TrackedItem, tl: _Timeline, attempt: int) -> None:
        far = self.rng.random() < self.far_share
        event = self._event(item, Status.DELIVERED, tl.later_today(20, 300), attempt,
                            self._near(item.home or item.office, far=far))
        relationship = self._draw(RELATIONSHIP_WEIGHTS)
        if relationship == "SELF":
            name = item.recipient_name
        elif relationship == "RT_RW_OFFICIAL":
            name = f"KETUA RT {item.rt}"
        else:
            name = self.rng.choice(_OTHER_NAMES)
        event.recipient = {"name": name, "relationship": relationship}
        self._hand_over(item, tl, event)

    def _hand_over(self, item: TrackedItem, tl: _Timeline, delivered: PlannedEvent) -> None:
        """Append the delivery: the fee and the old card change hands; most old cards are reported at the office."""
        delivered.cod_collected = item.cod_amount
        item.events.append(delivered)
        if not item.collect_old_card:
            return
        delivered.old_card_collected = True
        if self._chance(self.last_mile.old_card_received_share):
            received = self._event(item, Status.OLD_CARD_RECEIVED,
                                   tl.on_day(self.rng.randint(2, 7), time(9, 0), time(15, 0)), delivered.attempt, None)
            received.post_office = delivered.post_office
            received.old_card = {"received_by": self.rng.choice(_OFFICE_CLERKS)}
            item.events.append(received)

    def _post_office(self, item: TrackedItem) -> PostOffice:
        return item.post_office or PostOffice(item.kode_pos, f"KPC {item.kode_pos}", f"Kantor Pos {item.kode_pos}")

    def _chance(self, share: float) -> bool:
        """True with probability `share`; a share of 0 or 1 draws nothing (a run without section 6 is unchanged)."""
        if share <= 0:
            return False
        return share >= 1 or self.rng.random() < share

    def _event(self, item: TrackedItem, status: Status, at: datetime, attempt: int,
               where: tuple[float, float] | None, reason: str | None = None) -> PlannedEvent:
        lat, lng = where if where else (None, None)
        return PlannedEvent(self._event_id(item.tracking_number), status, at, attempt, lat, lng, reason)

    def _event_id(self, tracking_number: str) -> str:
        # Seeded, yet distinct across runs with the same seed: the tracking number (never reused) is mixed in.
        while True:
            digest = hashlib.sha256(f"{tracking_number}:{self.rng.getrandbits(64)}".encode()).hexdigest()
            event_id = f"evt_{digest[:20]}"
            if event_id not in self._event_ids:
                self._event_ids.add(event_id)
                return event_id

    def _near(self, where: tuple[float, float] | None, *, far: bool = False) -> tuple[float, float] | None:
        """A GPS fix a few tens of metres from `where` (or 2.5-6 km away when `far`)."""
        if where is None:
            return None
        metres = self.rng.uniform(2500, 6000) if far else min(abs(self.rng.gauss(0, 20)), 80)
        bearing = self.rng.uniform(0, 2 * math.pi)
        lat, lng = where
        dlat = metres * math.cos(bearing) / _METRES_PER_DEGREE
        dlng = metres * math.sin(bearing) / (_METRES_PER_DEGREE * math.cos(math.radians(lat)))
        return round(lat + dlat, 6), round(lng + dlng, 6)

    def _draw(self, weights: Mapping[str, float]) -> str:
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]
