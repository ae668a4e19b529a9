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
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from app.courier.tracking import FAILURE_REASONS, FINAL, RELATIONSHIPS, RETURN_REASONS, Status

WIB = timezone(timedelta(hours=7), "WIB")
WORK_START = time(8, 0)
WORK_END = time(17, 0)
CLOSED_COMPLEX = "CLOSED_COMPLEX"

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
RELATIONSHIP_WEIGHTS = {"SELF": 0.70, "FAMILY": 0.25, "NEIGHBOUR": 0.02, "RT_RW_OFFICIAL": 0.02, "OTHER": 0.01}
_OTHER_NAMES = ("SRI WAHYUNI", "BUDI SANTOSO", "DEWI LESTARI", "AHMAD HIDAYAT", "NUR HASANAH", "RUDI HARTONO",
                "SITI RAHMAWATI", "AGUS SETIAWAN", "YULIANTI", "DEDI KURNIAWAN")
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
        return_reasons=_weights(merged["return_reasons"], (*RETURN_REASONS, CLOSED_COMPLEX), "return_reasons"),
        failure_reasons=_weights(merged["failure_reasons"], FAILURE_REASONS, "failure_reasons"),
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


@dataclass(slots=True)
class PlannedEvent:
    """One tracking event the courier will emit; `to_wire` gives the contract's JSON."""

    event_id: str
    status: Status
    occurred_at: datetime
    attempt: int
    lat: float | None
    lng: float | None
    reason_code: str | None = None
    recipient: dict[str, str] | None = None


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
    scenario: str = ""
    events: list[PlannedEvent] = field(default_factory=list)
    played: int = 0

    @property
    def last_played(self) -> PlannedEvent | None:
        return self.events[self.played - 1] if self.played else None

    @property
    def is_final(self) -> bool:
        last = self.last_played
        return last is not None and last.status in FINAL

    def has_played(self, status: Status) -> bool:
        return any(e.status == status for e in self.events[: self.played])

    def to_wire(self, event: PlannedEvent) -> dict[str, Any]:
        delivered = event.status == Status.DELIVERED
        proof = None
        if delivered:
            proof = {"photo_url": f"{PROOF_BASE}/{event.event_id}/photo.jpg",
                     "signature_url": f"{PROOF_BASE}/{event.event_id}/signature.png"}
        return {
            "event_id": event.event_id,
            "tracking_number": self.tracking_number,
            "status": event.status.value,
            "occurred_at": event.occurred_at.isoformat(timespec="seconds"),
            "location": {"post_office": self.kode_pos, "lat": event.lat, "lng": event.lng},
            "attempt": event.attempt,
            "reason_code": event.reason_code,
            "recipient": event.recipient if delivered else None,
            "proof": proof,
            "courier_id": self.courier_id,
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

    def __init__(self, rng: random.Random, outcomes: Outcomes, *, far_share: float = 0.002) -> None:
        self.rng = rng
        self.outcomes = outcomes
        self.far_share = far_share
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
        if item.scenario == "delivered":
            self._round(item, tl, 1)
            events.append(self._delivered(item, tl, 1))
        elif item.scenario == "delivered_after_failures":
            failures = 1 if rng.random() < 0.75 else 2
            for attempt in range(1, failures + 1):
                self._round(item, tl, attempt)
                reason = self._draw(self.outcomes.failure_reasons)
                events.append(self._event(item, Status.DELIVERY_FAILED, tl.later_today(30, 300), attempt,
                                          self._near(item.home), reason))
            self._round(item, tl, failures + 1)
            events.append(self._delivered(item, tl, failures + 1))
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

    def _round(self, item: TrackedItem, tl: _Timeline, attempt: int) -> None:
        item.events.append(self._event(item, Status.OUT_FOR_DELIVERY, tl.on_day(1, WORK_START, time(10, 30)),
                                       attempt, item.office))

    def _delivered(self, item: TrackedItem, tl: _Timeline, attempt: int) -> PlannedEvent:
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
        return event

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
