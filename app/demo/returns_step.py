"""The demo's last steps: returned and withdrawn cards through their kelurahan (simulated officers), moved
holders' cards sent again, and a clerk placing a few unclear addresses: a snapshot of an office at work, in which
every card state has cards.

Staff work in waves, so the snapshot has work in flight: the newest returns still wait at the office, one batch
is still being packed, one is on its way, some cards wait at the kelurahan, one card went missing, the second
post of moved holders' cards is partly delivered and partly not yet handed over.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from address.service import AddressPipeline, correct_address
from app.cards import Actor, Card, CardState
from app.dates import as_local
from app.db import unit_of_work
from app.filters import thousands
from app.models import Office, Role, User
from app.regions import office_regions
from app.users import create_user
from manifests import handover
from manifests import service as manifests_service
from manifests.service import TrackingRange
from manifests.sorting import withdraw_area
from returns import service
from returns.models import WITHDRAWN_REASON, Disposition
from returns.service import Scope

STAFF = Actor("demo:staf")
OFFICER_PASSWORD = "antar-kelurahan"


def _officer(session: Session, office: Office, kelurahan_code: str) -> Actor:
    username = f"kel-{kelurahan_code.replace('.', '')}"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        kel = office_regions(office.code).kelurahan[kelurahan_code]
        user = create_user(session, username, OFFICER_PASSWORD, Role.OFFICER, office_code=office.code,
                           kelurahan_code=kelurahan_code, full_name=f"Petugas {kel.name}")
        session.flush()
    return Actor(user.username, user.id)


def _choice(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# What officers record, by why the card came back. "WAIT": nobody came yet.
PLAYBOOK: dict[str, dict[str, float]] = {
    "DECEASED": {"DECEASED": 0.9, "FAMILY": 0.1},
    "MOVED": {"MOVED": 0.8, "FAMILY": 0.1, "WAIT": 0.1},
    WITHDRAWN_REASON: {"HOLDER": 0.75, "FAMILY": 0.15, "WAIT": 0.10},
    "*": {"HOLDER": 0.55, "FAMILY": 0.15, "NOT_COLLECTED": 0.12, "WAIT": 0.18},
}


def run_returns(code: str, seed: int, step: Callable[[str], float], done: Callable[[float, str], None],
                courier_world: Callable, *, resend_start: dt.datetime,
                after_receipts: Callable[[], object] | None = None) -> int:
    """Run steps 7-10; returns how many more cards step 10 withdrew (the late withdrawal, and the unclear addresses
    sent to their kelurahan for collection)."""
    rng = random.Random(f"returns:{seed}")
    regions = office_regions(code)
    deadline = current_app.config["ANTAR_COLLECTION_DEADLINE_DAYS"]

    t0 = step("7. Pengembalian: berkas serah terima ke kelurahan")
    with unit_of_work() as session:
        office = session.scalar(select(Office).where(Office.code == code))
        waiting = sorted(service.candidates(session, office))
        # The newest returns of one kelurahan still wait at the office for next week's batches.
        later = waiting[-1:] if len(waiting) > 3 else []
        batches = service.build_batches(session, office, STAFF, [k for k in waiting if k not in later])
        ids = [b.id for b in batches]
        packing = ids[-1:] if len(ids) > 3 else []  # still being packed
        for bid in ids:
            if bid not in packing:
                service.dispatch(session, Scope(office), bid, STAFF)
        cards_out = sum(b.item_count for b in batches)
    on_the_way = ids[-2:-1] if len(ids) > 3 else []  # dispatched, not yet counted in
    done(t0, f"{len(ids)} berkas ({thousands(cards_out)} kartu) untuk {len(ids)} kelurahan; "
             f"{len(ids) - len(packing)} dikirim, {len(packing)} masih disiapkan; kartu {len(later)} kelurahan "
             "menunggu berkas berikutnya.")

    t0 = step("8. Di kelurahan: petugas menghitung berkas dan mencatat nasib setiap kartu")
    counts: Counter[str] = Counter()
    missing_reported = False
    counted: list[tuple[int, list[str]]] = []
    for bid in ids:  # every batch that arrived is counted in first ...
        if bid in packing or bid in on_the_way:
            continue
        with unit_of_work() as session:
            office, batch, scope, officer, rows = _at_kelurahan(session, code, bid)
            missing = []
            if not missing_reported and len(rows) >= 5:  # one card never arrives
                missing, missing_reported = [rows[-1][1].nomor_blanko], True
            service.confirm_receipt(session, scope, bid, len(rows) - len(missing), missing, officer)
            counts["hilang"] += len(missing)
        counted.append((bid, missing))
    if after_receipts:
        after_receipts()  # the citizens are told their card waits at the kelurahan
    for bid, missing in counted:  # ... then the citizens come, or not
        with unit_of_work() as session:
            office, batch, scope, officer, rows = _at_kelurahan(session, code, bid)
            received_on = as_local(batch.received_at).date()
            pipeline = AddressPipeline.for_office(session, code, current_app.config)
            for item, card in rows:
                if card.nomor_blanko in missing:
                    continue
                action = _choice(rng, PLAYBOOK.get(item.reason, PLAYBOOK["*"]))
                counts[action] += 1
                if action == "WAIT":
                    continue
                fields: dict = {"handed_on": received_on + dt.timedelta(days=rng.randint(1, 10))}
                today = fields["handed_on"]
                if action == "HOLDER":
                    fields.update(receiver_name=card.nama, id_checked=True)
                elif action == "FAMILY":
                    fields.update(receiver_name=f"KELUARGA {card.nama.split()[0]}",
                                  receiver_relationship=rng.choice(["istri", "suami", "anak", "orang tua"]))
                elif action == "MOVED":
                    kel = rng.choice(regions.sorted_kelurahan())
                    fields.update(alamat=f"JL. {kel.name.upper()} RAYA NO. {rng.randint(1, 150)}",
                                  rt=str(rng.randint(1, 12)), rw=str(rng.randint(1, 9)), kelurahan=kel.name,
                                  kecamatan=kel.kecamatan_name)
                elif action == "NOT_COLLECTED":
                    today = received_on + dt.timedelta(days=deadline + 1)
                service.record_disposition(session, scope, item.id, Disposition(action), fields, officer,
                                           deadline_days=deadline, pipeline=pipeline, today=today)
    done(t0, "Dicatat petugas: " + ", ".join(f"{_LABEL[k]} {thousands(n)}" for k, n in counts.most_common()) + ".")

    t0 = step("9. Pemilik pindah: kartu kembali ke kantor, dikirim ulang dengan nomor resi baru")
    with unit_of_work() as session:
        office = session.scalar(select(Office).where(Office.code == code))
        moved = list(session.scalars(select(Card.nomor_blanko).where(
            Card.office_id == office.id, Card.state == CardState.READDRESSED).order_by(Card.id)))
        back = moved[: max(1, len(moved) * 3 // 4)] if moved else []
        if back:
            service.receive_back(session, office, back, STAFF)
    with unit_of_work() as session:
        office = session.scalar(select(Office).where(Office.code == code))
        ready = [m.id for m in (manifests_service.build_manifests(
            session, office, STAFF, tracking=TrackingRange.from_config(current_app.config), finalize=True)
            if _has_ready(session, office) else [])]
    if ready:
        # All but the last manifest go out; the courier's first days are played, then one more manifest is handed
        # over after its last round (no event yet); the last stays at the office, finalized.
        going = ready[:-1] or ready
        with courier_world(seed + 1, resend_start) as world:
            for mid in going[:-1] or going:
                handover.hand_over(code, mid, STAFF, world.client)
            world.sim.advance(6)
            if len(going) > 1:
                handover.hand_over(code, going[-1], STAFF, world.client)
    done(t0, f"{len(moved)} kartu pemilik pindah; {len(back)} sudah kembali di kantor dan masuk {len(ready)} "
             "manifest baru (sebagian sudah diantar).")

    t0 = step("10. Pemeriksaan alamat: petugas menempatkan beberapa alamat yang belum jelas")
    placed = collected = 0
    with unit_of_work() as session:
        office = session.scalar(select(Office).where(Office.code == code))
        pipeline = AddressPipeline.for_office(session, code, current_app.config)
        unclear = list(session.scalars(select(Card).where(
            Card.office_id == office.id, Card.state == CardState.ADDRESS_UNCLEAR,
            Card.address_candidate.is_not(None)).order_by(Card.street.is_(None), Card.id).limit(25)))
        for card in unclear:
            # The courier needs street, RT and RW. The clerk phones a citizen who left a number and writes down
            # the address they give (in this simulated world: a kampung address in the kelurahan); without a
            # number the card goes to the kelurahan for collection.
            street, rt, rw = card.street, card.rt, card.rw
            if card.no_hp and not (street and rt and rw):
                place = regions.kelurahan[card.address_candidate].name
                street = street or f"KP. {place} NO. {card.id % 60 + 1}"
                rt, rw = rt or f"{card.id % 9 + 1:03d}", rw or f"{card.id % 5 + 1:03d}"
            deliverable = bool(street and rt and rw)
            correct_address(session, office, card, kelurahan_code=card.address_candidate,
                            street=street or card.alamat, rt=rt, rw=rw, actor=STAFF,
                            pipeline=pipeline, collect_at_kelurahan=not deliverable,
                            note="dikonfirmasi lewat telepon" if deliverable else "alamat tidak dapat dilengkapi")
            placed += 1
            collected += not deliverable
        # The rail project's second phase: one more RW cleared, where one of those cards lives.
        withdrawn, area = 0, None
        first = next((c for c in unclear if c.rw), None)
        if first is not None:
            _, withdrawn = withdraw_area(session, office, first.kelurahan_code, [first.rw],
                                         "terdampak proyek LRT tahap 2", STAFF)
            area = f"RW {first.rw} {regions.kelurahan[first.kelurahan_code].label}"
    done(t0, f"{placed} alamat ditempatkan; kartunya siap masuk manifest berikutnya"
             + (f" ({collected} tanpa jalan/RT/RW: diambil di kelurahan)" if collected else "")
             + (f"; {area} ditarik (tahap 2): {withdrawn} kartu." if area else "."))
    return withdrawn  # cards sent to the kelurahan for collection are FOR_COLLECTION, not withdrawn


def _at_kelurahan(session: Session, code: str, batch_id: int) -> tuple:
    """A batch as its kelurahan's officer sees it: office, batch, the officer's scope and actor, the batch's rows."""
    office = session.scalar(select(Office).where(Office.code == code))
    batch = service.get_batch(session, Scope(office), batch_id)
    scope = Scope(office, batch.kelurahan_code)
    return office, batch, scope, _officer(session, office, batch.kelurahan_code), service.batch_items(session, batch)


def _has_ready(session: Session, office: Office) -> bool:
    return session.scalar(select(Card.id).where(Card.office_id == office.id, Card.state == CardState.READY)
                          .limit(1)) is not None


_LABEL = {"HOLDER": "diserahkan ke pemilik", "FAMILY": "diserahkan ke keluarga", "DECEASED": "pemilik meninggal",
          "MOVED": "pemilik pindah", "NOT_COLLECTED": "tidak diambil", "WAIT": "masih menunggu diambil",
          "hilang": "hilang"}
