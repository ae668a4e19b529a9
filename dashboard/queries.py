"""The dashboard's figures: the funnel, rates per area, returns by reason, changes per day, the oldest open cards.

Counts come from the kept aggregates (`app.tally`), never from a scan of the cards, so a request costs the same at
10,000 cards as at 1,000,000; only the oldest open cards are read from `card`, through an index, a few per state.
Every figure is a partition of the cards by their state (and, for the kelurahan steps, whether the courier brought
them back), so the funnel adds up to the number printed and agrees with the reconciliation, which counts the cards.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import tally
from app.cards import HOLDS_NIK, STATE_LABELS, Card, CardState
from app.courier.tracking import REASON_LABELS
from app.dates import as_local, today_local
from app.models import Office
from app.regions import office_regions
from manifests.intake.models import PrintRun

S = CardState
AT_COURIER = frozenset({S.WITH_COURIER, S.IN_TRANSIT, S.AT_POST_OFFICE})
BACK_AT_OFFICE = frozenset({S.RETURNING, S.RETURNED})
# The kelurahan's part: cards the courier brought back (a return reason) or that never went out (withdrawn).
KELURAHAN_STEPS = frozenset({S.BATCHED, S.SENT_TO_KELURAHAN, S.AT_KELURAHAN, S.MISSING, S.HANDED_TO_HOLDER,
                             S.HOLDER_DECEASED, S.READDRESSED, S.NOT_COLLECTED})
WAITING = frozenset({S.READY, S.ON_MANIFEST})
OLDEST_PER_STATE = 10
STATE_VALUES = tuple(s.value for s in CardState)
OPEN_VALUES = frozenset(s.value for s in HOLDS_NIK)
UNPLACED = ""


def category(state: CardState, return_reason: str) -> str:
    """Where a card stands in the funnel: one of CATEGORY_LABELS's keys."""
    if state in (S.DAMAGED, S.DUPLICATE, S.ADDRESS_UNCLEAR, S.DELIVERED):
        return state.value
    if state in WAITING:
        return "WAITING"
    if state in AT_COURIER:
        return "AT_COURIER"
    if state in BACK_AT_OFFICE or (state in KELURAHAN_STEPS and return_reason):
        return "RETURNED"
    return "WITHDRAWN"  # WITHDRAWN, FOR_COLLECTION, and the kelurahan steps of such a card


CATEGORY_LABELS = {
    "DAMAGED": "Rusak (cetak ulang)", "DUPLICATE": "Cetak ganda (disisihkan)",
    "WITHDRAWN": "Ke kelurahan, tidak dikirim",
    "ADDRESS_UNCLEAR": "Alamat belum jelas",
    "WAITING": "Menunggu dikirim (siap / dalam manifest)",
    "AT_COURIER": "Masih di kurir (termasuk di kantor pos)",
    "DELIVERED": "Terkirim ke pemilik", "RETURNED": "Dikembalikan kurir",
}
SENT = ("AT_COURIER", "DELIVERED", "RETURNED")


@dataclass
class AreaFigures:
    """One area's cards by funnel category, and what the kelurahan did with returned and withdrawn cards."""

    code: str
    name: str
    kecamatan: str = ""
    printed: int = 0
    by_category: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORY_LABELS, 0))
    by_state: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATE_VALUES, 0))
    handed: int = 0  # handed to the holder at the kelurahan, whatever brought the card there

    def add(self, state: CardState, reason: str, n: int, kind: str) -> None:
        """n cards in `state` of funnel category `kind` (`category(state, reason)`, worked out once per row)."""
        self.printed += n
        self.by_category[kind] += n
        self.by_state[state.value] += n
        if state is S.HANDED_TO_HOLDER:
            self.handed += n

    @property
    def sent(self) -> int:
        return sum(self.by_category[c] for c in SENT)

    @property
    def delivered(self) -> int:
        return self.by_category["DELIVERED"]

    @property
    def returned(self) -> int:
        return self.by_category["RETURNED"]

    @property
    def open(self) -> int:
        return sum(n for s, n in self.by_state.items() if s in OPEN_VALUES)

    @property
    def delivery_rate(self) -> float | None:
        return pct(self.delivered, self.sent)

    @property
    def return_rate(self) -> float | None:
        return pct(self.returned, self.sent)

    def as_dict(self) -> dict[str, Any]:
        kec = {"kecamatan": self.kecamatan} if self.kecamatan else {}
        return {"kode_wilayah": self.code, "nama": self.name, **kec,
                "dicetak": self.printed, "dikirim": self.sent, "terkirim": self.delivered,
                "dikembalikan": self.returned, "di_kurir": self.by_category["AT_COURIER"], "terbuka": self.open,
                "diserahkan_di_kelurahan": self.handed, "tingkat_terkirim_pct": self.delivery_rate,
                "tingkat_kembali_pct": self.return_rate, "per_kategori": dict(self.by_category),
                "per_status": dict(self.by_state)}


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass(frozen=True)
class Filters:
    print_run_ids: tuple[int, ...] | None = None  # None: every print run of the office
    since: dt.date | None = None  # the per-day chart's first day (default: the first day with a change)
    until: dt.date | None = None  # figures as at the end of this day (default: now)
    kelurahan: str | None = None  # one kelurahan's figures only


def figures(session: Session, office: Office, filters: Filters | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, as plain values (the page, the JSON API and the report read the same)."""
    filters = filters or Filters()
    tally.fold_if_needed(session)
    regions = office_regions(office.code)
    runs = list(filters.print_run_ids) if filters.print_run_ids is not None else None
    counts = tally.counts(session, office.id, print_run_ids=runs, kelurahan=filters.kelurahan, until=filters.until)
    total = AreaFigures(office.code, office.name)
    kel: dict[str, AreaFigures] = {}
    kec: dict[str, AreaFigures] = {}
    reasons: dict[str, int] = defaultdict(int)
    for c in counts:
        kind = category(c.state, c.return_reason)
        total.add(c.state, c.return_reason, c.n, kind)
        k = regions.kelurahan.get(c.kelurahan_code)
        kel_code, kec_code = (k.code, k.kecamatan_code) if k is not None else (UNPLACED, UNPLACED)
        area = kel.get(kel_code)
        if area is None:
            area = kel[kel_code] = (AreaFigures(k.code, k.name, k.kecamatan_name) if k is not None
                                    else AreaFigures(UNPLACED, "Belum dikenali", "Belum dikenali"))
        kec_area = kec.get(kec_code)
        if kec_area is None:
            kec_area = kec[kec_code] = (AreaFigures(k.kecamatan_code, k.kecamatan_name) if k is not None
                                        else AreaFigures(UNPLACED, "Belum dikenali"))
        area.add(c.state, c.return_reason, c.n, kind)
        kec_area.add(c.state, c.return_reason, c.n, kind)
        if kind == "RETURNED":
            reasons[c.return_reason or "-"] += c.n
    by_name = sorted(kel.values(), key=lambda a: (a.code == UNPLACED, a.kecamatan, a.name))
    daily = _daily(session, office, runs, filters)
    return {
        "office": {"code": office.code, "name": office.name},
        "filters": {"print_runs": runs, "dari": daily["days"][0] if daily["days"] else _iso(filters.since),
                    "sampai": _iso(filters.until)},
        "as_of": _iso(filters.until or today_local()),
        "printed": total.printed,
        "sent": total.sent, "delivered": total.delivered, "returned": total.returned,
        "at_courier": total.by_category["AT_COURIER"], "open": total.open, "handed_at_kelurahan": total.handed,
        "delivery_rate_pct": total.delivery_rate, "return_rate_pct": total.return_rate,
        "by_state": total.by_state,
        "state_labels": {s.value: STATE_LABELS[s] for s in CardState},
        "funnel": _funnel(total, reasons),
        "by_kecamatan": [a.as_dict() for a in sorted(kec.values(), key=lambda a: (a.code == UNPLACED, a.name))],
        "by_kelurahan": [a.as_dict() for a in by_name],
        "returns_by_reason": [{"reason": r, "label": reason_label(r), "cards": n}
                              for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        "most_returns": [a.as_dict() for a in sorted(by_name, key=lambda a: (-a.returned, a.name))[:10]
                         if a.returned],
        "daily": daily,
        "oldest_open": [] if filters.until else _oldest_open(session, office, runs, filters.kelurahan, regions,
                                                             total.by_state),
    }


def reason_label(code: str) -> str:
    label = REASON_LABELS.get(code, "tanpa alasan tercatat" if code == "-" else code)
    return label[:1].upper() + label[1:]


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _funnel(total: AreaFigures, reasons: dict[str, int]) -> list[dict[str, Any]]:
    """The run from printed to handed over: main steps (level 0) and what leaves the flow (level 1), each with its
    share of the step it comes from."""
    c = total.by_category
    printed, sent, returned = total.printed, total.sent, total.returned

    def step(key: str, label: str, count: int, of: int, level: int, tone: str) -> dict[str, Any]:
        return {"key": key, "label": label, "count": count, "pct": pct(count, of), "level": level, "tone": tone}

    rows = [step("PRINTED", "Dicetak", printed, printed, 0, "default")]
    rows += [step(k, CATEGORY_LABELS[k], c[k], printed, 1, "muted")
             for k in ("DAMAGED", "DUPLICATE", "WITHDRAWN", "ADDRESS_UNCLEAR", "WAITING")]
    rows.append(step("SENT", "Dikirim lewat PT Pos", sent, printed, 0, "default"))
    rows.append(step("AT_COURIER", CATEGORY_LABELS["AT_COURIER"], c["AT_COURIER"], sent, 1, "muted"))
    rows.append(step("DELIVERED", CATEGORY_LABELS["DELIVERED"], c["DELIVERED"], sent, 0, "good"))
    rows.append(step("RETURNED", CATEGORY_LABELS["RETURNED"], returned, sent, 0, "bad"))
    rows += [step(f"RETURNED:{r}", reason_label(r), n, returned, 1, "bad")
             for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    at_kelurahan = returned + c["WITHDRAWN"]
    rows.append(step("HANDED", "Diserahkan di kelurahan (dari kartu kembali dan ditarik)", total.handed,
                     at_kelurahan, 0, "good"))
    return rows


DAILY = {"delivered": (S.DELIVERED,), "returned": (S.RETURNING, S.RETURNED), "handed": (S.HANDED_TO_HOLDER,)}
_DAILY_OF = {state.value: key for key, states in DAILY.items() for state in states}


def _daily(session: Session, office: Office, runs: list[int] | None, filters: Filters) -> dict[str, Any]:
    """Cards delivered, brought back by the courier and handed over at the kelurahan, per day (WIB)."""
    targets = [s for states in DAILY.values() for s in states]
    rows = tally.day_flows(session, office.id, targets, print_run_ids=runs, kelurahan=filters.kelurahan,
                           since=filters.since, until=filters.until)
    per: dict[str, dict[dt.date, int]] = {k: defaultdict(int) for k in DAILY}
    for f in rows:
        if f.to_state == S.RETURNED.value and f.from_state == S.RETURNING.value:
            continue  # a return counts once, on the day the courier reported it
        per[_DAILY_OF[f.to_state]][f.day] += f.n
    seen = sorted({d for p in per.values() for d in p})
    if not seen:
        return {"days": [], **{k: [] for k in DAILY}}
    first = filters.since or seen[0]
    last = filters.until or max(seen[-1], today_local())
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    return {"days": [d.isoformat() for d in days], **{k: [per[k].get(d, 0) for d in days] for k in DAILY}}


def _oldest_open(session: Session, office: Office, runs: list[int] | None, kelurahan: str | None,
                 regions: Any, open_counts: dict[str, int]) -> list[dict[str, Any]]:
    """Per state that still needs someone to act: how many cards wait in it and the one waiting longest (read by
    index, one row per state), longest first."""
    out = []
    today = today_local()
    for state in HOLDS_NIK:
        if not open_counts.get(state.value):
            continue
        q = (select(Card.nomor_blanko, Card.kelurahan_code, Card.state_changed_at)
             .where(Card.office_id == office.id, Card.state == state)
             .order_by(Card.state_changed_at, Card.id).limit(1))
        if runs is not None:
            q = q.where(Card.print_run_id.in_(runs or [-1]))
        if kelurahan is not None:
            q = q.where(Card.kelurahan_code == kelurahan)
        oldest = session.execute(q).first()
        if oldest is None:
            continue
        k = regions.kelurahan.get(oldest.kelurahan_code or "")
        since = as_local(oldest.state_changed_at).date()
        out.append({"status": state.value, "status_label": STATE_LABELS[state], "kartu": open_counts[state.value],
                    "nomor_blanko": oldest.nomor_blanko, "kelurahan": k.name if k else "Belum dikenali",
                    "kecamatan": k.kecamatan_name if k else "", "sejak": since.isoformat(),
                    "hari": (today - since).days})
    return sorted(out, key=lambda r: (r["sejak"], r["status"]))


def print_runs(session: Session, office: Office) -> list[tuple[int, str]]:
    """The office's print runs for the filter: (id, label), newest first."""
    rows = session.execute(select(PrintRun.id, PrintRun.filename, PrintRun.imported_at)
                           .where(PrintRun.office_id == office.id).order_by(PrintRun.id.desc())).all()
    return [(r.id, f"#{r.id} {r.filename} ({as_local(r.imported_at):%d-%m-%Y})") for r in rows]
