"""Sorting (step 2 of the flow): cards found damaged are set aside for reprint, and staff withdraw an area.

A withdrawal holds every card of a kelurahan (or of some of its RWs): cards already imported, cards of later print
runs (intake checks `Withdrawal.covers`), cards on a manifest the courier does not have yet (they come off it), and
items the courier already has (they are recalled: `withdraw_and_recall`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards import Actor, Card, CardState, TransitionError, cards_by_blanko, move, move_many
from app.courier.client import CourierClient, Outcome
from app.db import unit_of_work
from app.models import Office
from app.offices import ensure_office
from app.regions import office_regions
from manifests.handover import RecallResult, recall_withdrawn
from manifests.intake.models import Withdrawal
from manifests.recalls import schedule_recall
from manifests.service import withdraw_from_manifests


class SortingError(ValueError):
    """A sorting request that cannot be carried out; the message names the card or field."""


def mark_damaged(session: Session, office: Office, blankos: Iterable[str], actor: Actor, reason: str) -> list[Card]:
    """Set aside cards found damaged at sorting; they are listed for reprint. All or nothing."""
    cards, missing = cards_by_blanko(session, office.id, blankos)
    if not cards and not missing:
        raise SortingError("Isi minimal satu nomor blanko.")
    if not reason.strip():
        raise SortingError("Alasan wajib diisi.")
    if missing:
        raise SortingError(f"Nomor blanko tidak ditemukan di kantor ini: {', '.join(missing[:20])}")
    try:
        for card in cards.values():
            move(session, card, CardState.DAMAGED, actor, f"Rusak saat penyortiran: {reason.strip()}")
    except TransitionError as exc:
        raise SortingError(str(exc)) from exc
    return list(cards.values())


def parse_rws(text: str | Iterable[str] | None) -> list[str]:
    """'3, 05,007' -> ['003', '005', '007']; raises SortingError on anything that is not an RW number."""
    if text is None:
        return []
    parts = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    rws = []
    for p in (p.strip() for p in parts):
        if not p:
            continue
        if not p.isdigit() or not 0 < int(p) < 1000:
            raise SortingError(f"RW '{p}' tidak valid: isi angka 1-999, pisahkan dengan koma.")
        rws.append(f"{int(p):03d}")
    return sorted(set(rws))


def withdraw_area(
    session: Session, office: Office, kelurahan_code: str, rws: list[str], reason: str, actor: Actor,
) -> tuple[Withdrawal, int]:
    """Withhold every card of a kelurahan (or of some of its RWs): now and in later print runs."""
    regions = office_regions(office.code)
    kel = regions.kelurahan.get(kelurahan_code.strip())
    if kel is None:
        raise SortingError(f"Kelurahan '{kelurahan_code}' bukan wilayah {office.name}.")
    if not reason.strip():
        raise SortingError("Alasan penarikan wajib diisi.")
    w = Withdrawal(office_id=office.id, kelurahan_code=kel.code, rws=",".join(rws), reason=reason.strip(),
                   created_by=actor.label)
    session.add(w)
    session.flush()
    def in_area(state: CardState) -> list[int]:
        query = select(Card.id).where(Card.office_id == office.id, Card.kelurahan_code == kel.code,
                                      Card.state == state)
        return list(session.scalars(query.where(Card.rw.in_(rws)) if rws else query))

    # A cleared kelurahan can hold thousands of cards: one bulk move, not one ORM flush per card.
    moved = move_many(session, in_area(CardState.READY), CardState.WITHDRAWN, actor,
                      f"Wilayah ditarik: {w.reason}", expect=[CardState.READY])
    # Cards on a manifest the courier does not have yet come off it; those with the courier are recalled
    # (manifests.handover.recall_withdrawn) once this is committed.
    moved += withdraw_from_manifests(session, office, in_area(CardState.ON_MANIFEST), actor, w.reason)
    return w, moved


@dataclass
class WithdrawalResult:
    withdrawal_id: int
    kelurahan_code: str
    rws: list[str]
    reason: str
    cards_withdrawn: int
    recalls: list[RecallResult] = field(default_factory=list)


def withdraw_and_recall(office_code: str, kelurahan_code: str, rws: list[str], reason: str, actor: Actor,
                        client: CourierClient | None) -> WithdrawalResult:
    """Withdraw an area (committed at once), then, when the courier's API is configured (`client`), ask the
    courier to return the area's items it already has. The page, the JSON API and the command all come here.

    The recall calls the courier outside any transaction, one unit of work per answer (manifests.handover); an
    item the courier did not answer is asked again by `antar manifests recall` / POST /api/v1/recalls.
    """
    with unit_of_work() as session:
        office = ensure_office(session, office_code)
        w, moved = withdraw_area(session, office, kelurahan_code, rws, reason, actor)
        result = WithdrawalResult(w.id, w.kelurahan_code, w.rw_list, w.reason, moved)
    if client is not None:
        result.recalls = list(recall_withdrawn(office_code, actor, client))
        if any(r.answer.outcome not in (Outcome.ACCEPTED, Outcome.CONFLICT) for r in result.recalls):
            with unit_of_work() as session:
                office_id = ensure_office(session, office_code).id
            schedule_recall(office_id, actor)  # asked again later, until the courier has answered each item
    return result


def area_withdrawn(session: Session, office: Office, kelurahan_code: str, rw: str | None) -> bool:
    """Whether an active withdrawal covers this kelurahan (and RW): registered with `app.holds`, so that the address
    review sends a card it places there to its kelurahan instead of the courier."""
    withdrawals = session.scalars(select(Withdrawal).where(
        Withdrawal.office_id == office.id, Withdrawal.kelurahan_code == kelurahan_code, Withdrawal.active))
    return any(w.covers(kelurahan_code, rw) for w in withdrawals)


def damaged_cards(session: Session, office: Office) -> list[Card]:
    return list(session.scalars(
        select(Card).where(Card.office_id == office.id, Card.state == CardState.DAMAGED).order_by(Card.nomor_blanko)))
