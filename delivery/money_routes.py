"""Pages and JSON API for what follows a delivery: old cards until destroyed (/kartu-lama) and the courier's COD
settlements (/setoran-cod), plus the settlement message of the courier's webhook (`settlement_message`, called by
delivery/webhook.py after it verified the signature).

Thin: parse, call `delivery.oldcards` or `delivery.settlements` in one unit of work, show the result. A refused
operation re-shows its page with the message beside the form (422); an unknown id is 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from app import api
from app.auth import actor, current_office, roles_required
from app.courier.tracking import SchemaError
from app.dates import today_local
from app.db import unit_of_work
from app.models import Role
from app.offices import ensure_office
from app.regions import office_regions
from app.web import json_error, page_arg, paginate
from delivery import oldcards, settlements
from delivery.oldcards import STAGE_LABELS, OldCardError, Stage
from delivery.settlements import KIND_LABELS, Kind, SettlementConflict, SettlementError

bp = Blueprint("money", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)
SETTLEMENTS_SHOWN = 20


def settlement_days() -> int:
    return int(current_app.config.get("ANTAR_COD_SETTLEMENT_DAYS", settlements.SETTLEMENT_DAYS))


def _blankos(*sources: Any) -> list[str]:
    """Blanko numbers from checkboxes and a text area (one per line, or separated by spaces or commas)."""
    out: list[str] = []
    for source in sources:
        for value in [source] if isinstance(source, str) else (source or []):
            out += value.replace(",", " ").split()
    return list(dict.fromkeys(out))


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"stage_labels": STAGE_LABELS, "Stage": Stage, "kind_labels": KIND_LABELS, "Kind": Kind,
            "rupiah": lambda n: "-" if n is None else "Rp " + f"{n:,}".replace(",", ".")}


# --- the courier's settlement message (contract 6.3) ------------------------------------------------------------


def settlement_message(body: Any, text: str, webhook_id: str) -> Any:
    """A verified webhook body of type cod.settlement: 400 naming the field, 409 for a known settlement_id with
    other data, else 200 with `recorded` or `duplicate` once the settlement is committed."""
    try:
        parsed = settlements.parse_settlement(body)
    except SchemaError as exc:
        return json_error(400, str(exc))
    for attempt in range(2):
        try:
            with unit_of_work() as session:
                office = ensure_office(session, current_app.config["ANTAR_OFFICE"])
                result = settlements.record_settlement(session, parsed, default_office=office,
                                                       webhook_id=webhook_id, body=text)
            return jsonify(settlement_id=parsed.settlement_id, result=result)
        except SettlementConflict as exc:
            return json_error(409, str(exc), settlement_id=parsed.settlement_id)
        except IntegrityError:
            # The same settlement stored by a concurrent request between our check and our insert: look again.
            if attempt:
                break
    return json_error(503, "Setoran yang sama sedang diproses permintaan lain; kirim ulang.")


# --- old cards: pages ---------------------------------------------------------------------------------------------


@bp.route("/kartu-lama")
@roles_required(*STAFF)
def old_cards_page() -> Any:
    return _old_cards_page()


def _old_cards_page(*, error: str | None = None, form: str | None = None, status: int = 200) -> Any:
    stage = request.args.get("status") or None
    q = (request.args.get("q") or "").strip()
    kelurahan = request.args.get("kelurahan") or None
    number = page_arg()
    try:
        with unit_of_work() as session:
            office = current_office(session)
            oldcards.sync_old_cards(session, office)
            figures = oldcards.old_cards_report(session, office)
            page = oldcards.register_page(session, office, number, stage=stage, q=q, kelurahan=kelurahan)
            waiting = oldcards.waiting_for_destruction(session, office)
            done = oldcards.destructions(session, office)
            regions = office_regions(office.code)
    except OldCardError as exc:
        abort(400, description=str(exc))
    g.page_title = "KTP lama"
    return render_template("old_cards.html", figures=figures, page=page, waiting=waiting, destructions=done,
                           regions=regions, stage=stage, q=q, kelurahan=kelurahan, error=error, form=form,
                           values=request.form, method=oldcards.DEFAULT_METHOD), status


@bp.route("/kartu-lama/terima", methods=["POST"])
@roles_required(*STAFF)
def receive_page() -> Any:
    numbers = _blankos(request.form.get("blanko_text"))
    try:
        with unit_of_work() as session:
            result = oldcards.receive_old_cards(session, current_office(session), numbers, actor(),
                                                received_by=request.form.get("received_by"))
    except OldCardError as exc:
        return _old_cards_page(error=str(exc), form="receive", status=422)
    message = f"{len(result.received)} KTP lama dicatat diterima di kantor."
    if result.already:
        message += f" Sudah tercatat diterima sebelumnya: {', '.join(result.already[:20])}."
    flash(message, "success")
    return redirect(url_for("money.old_cards_page"))


@bp.route("/kartu-lama/musnahkan", methods=["POST"])
@roles_required(*STAFF)
def destroy_page() -> Any:
    chosen = None if request.form.get("mode") == "all" else _blankos(request.form.getlist("blanko"),
                                                                        request.form.get("blanko_text"))
    try:
        with unit_of_work() as session:
            d = oldcards.destroy_old_cards(
                session, current_office(session), actor(), witness_name=request.form.get("witness_name", ""),
                witness_position=request.form.get("witness_position", ""), place=request.form.get("place", ""),
                method=request.form.get("method") or None, blankos=chosen, note=request.form.get("note", ""))
    except OldCardError as exc:
        return _old_cards_page(error=str(exc), form="destroy", status=422)
    flash(f"Berita acara pemusnahan {d.number}: {d.card_count} KTP lama dimusnahkan.", "success")
    return redirect(url_for("money.destruction_page", destruction_id=d.id))


@bp.route("/kartu-lama/pemusnahan/<int:destruction_id>")
@roles_required(*STAFF)
def destruction_page(destruction_id: int) -> Any:
    try:
        with unit_of_work() as session:
            d = oldcards.get_destruction(session, current_office(session), destruction_id)
            rows = oldcards.destruction_rows(session, d)
    except oldcards.NotFound as exc:
        return render_template("error.html", code=404, title="Tidak ditemukan", message=str(exc)), 404
    g.page_title = d.number
    return render_template("old_card_destruction.html", d=d, rows=rows)


@bp.route("/kartu-lama/pemusnahan/<int:destruction_id>.pdf")
@roles_required(*STAFF)
def destruction_pdf(destruction_id: int) -> Any:
    try:
        with unit_of_work() as session:
            doc = oldcards.destruction_document(session, current_office(session), destruction_id)
    except oldcards.NotFound as exc:
        return render_template("error.html", code=404, title="Tidak ditemukan", message=str(exc)), 404
    return current_app.response_class(
        oldcards.destruction_pdf(doc), mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=berita-acara-pemusnahan-{doc.number}.pdf"})


# --- COD settlements: pages ---------------------------------------------------------------------------------------


def _differences(session: Any, office: Any, status: str | None, kind: str | None) -> list[settlements.Difference]:
    found = settlements.differences(session, office, today_local(), days=settlement_days())
    return settlements.filtered(found, status=status, kind=kind)


@bp.route("/setoran-cod")
@roles_required(*STAFF)
def cod_page() -> Any:
    return _cod_page()


def _cod_page(*, error: str | None = None, chosen: str | None = None, status_code: int = 200) -> Any:
    status = request.args.get("status") or None
    kind = request.args.get("alasan") or None
    number = page_arg()
    try:
        with unit_of_work() as session:
            office = current_office(session)
            figures = settlements.cod_report(session, office, today_local(), days=settlement_days())
            rows = _differences(session, office, status, kind)
            latest = paginate(session, settlements.settlements_query(office), 1, SETTLEMENTS_SHOWN)
    except SettlementError as exc:
        abort(400, description=str(exc))
    g.page_title = "Setoran COD"
    return render_template("cod_settlements.html", figures=figures, page=settlements.page_of(rows, number),
                           latest=[r[0] for r in latest.rows], settlement_total=latest.total, status=status,
                           kind=kind, error=error, chosen=chosen), status_code


@bp.route("/setoran-cod/setoran")
@roles_required(*STAFF)
def settlement_list_page() -> Any:
    number = page_arg()
    with unit_of_work() as session:
        page = paginate(session, settlements.settlements_query(current_office(session)), number)
    g.page_title = "Daftar setoran COD"
    return render_template("cod_settlement_list.html", page=page, rows=[r[0] for r in page.rows])


@bp.route("/setoran-cod/selisih", methods=["POST"])
@roles_required(*STAFF)
def resolve_page() -> Any:
    kind, key = request.form.get("kind", ""), request.form.get("key", "")
    try:
        with unit_of_work() as session:
            d = settlements.resolve_difference(session, current_office(session), kind, key,
                                               request.form.get("note", ""), actor(), today_local(),
                                               days=settlement_days())
    except settlements.DifferenceNotFound as exc:
        return _cod_page(error=str(exc), status_code=404)
    except SettlementError as exc:
        return _cod_page(error=str(exc), chosen=f"{kind}|{key}", status_code=422)
    flash(f"Selisih diselesaikan: {d.label} {d.tracking_number or d.settlement_id}.", "success")
    return redirect(url_for("money.cod_page"))


# --- COD settlements: JSON API ------------------------------------------------------------------------------------

_SETTLEMENT = {"type": "object", "required": ["settlement_id", "total", "items_sum", "items"],
               "properties": {"settlement_id": {"type": "string"}, "total": {"type": "integer"},
                              "items_sum": {"type": "integer"}, "items": {"type": "integer"}}}
_DIFFERENCE = {"type": "object", "required": ["kind", "key", "status", "detail"],
               "properties": {"kind": {"type": "string", "enum": list(Kind)}, "key": {"type": "string"},
                              "status": {"type": "string", "enum": ["OPEN", "RESOLVED"]},
                              "detail": {"type": "string"}}}


@bp.route("/api/v1/cod/settlements")
@roles_required(*STAFF)
@api.operation("Setoran COD dari kurir (kontrak kurir 6.3), terbaru dulu", tags=["cod"],
               query=api.obj({"hal": api.PAGE}),
               response={"type": "object", "required": ["settlements", "page", "pages", "total"],
                         "properties": {"settlements": {"type": "array", "items": _SETTLEMENT},
                                        "page": {"type": "integer"}, "pages": {"type": "integer"},
                                        "total": {"type": "integer"}}})
def settlements_api(query: dict[str, Any]) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        page = paginate(session, settlements.settlements_query(office), query.get("hal", 1))
        figures = settlements.cod_report(session, office, today_local(), days=settlement_days())
    return jsonify(settlements=[settlements.settlement_json(r[0]) for r in page.rows], page=page.number,
                   pages=page.pages, total=page.total, summary=figures)


@bp.route("/api/v1/cod/differences")
@roles_required(*STAFF)
@api.operation("Selisih setoran COD: setoran tanpa pengantaran, jumlah berbeda, disetor dua kali, total tidak "
               "sama, belum disetor", tags=["cod"],
               query=api.obj({"status": api.enum(["OPEN", "RESOLVED"]), "kind": api.enum(list(Kind)),
                              "hal": api.PAGE}),
               response={"type": "object", "required": ["differences", "page", "pages", "total"],
                         "properties": {"differences": {"type": "array", "items": _DIFFERENCE},
                                        "page": {"type": "integer"}, "pages": {"type": "integer"},
                                        "total": {"type": "integer"}}})
def differences_api(query: dict[str, Any]) -> Any:
    with unit_of_work() as session:
        rows = _differences(session, current_office(session), query.get("status"), query.get("kind"))
    page = settlements.page_of(rows, query.get("hal", 1))
    return jsonify(differences=[d.jsonable() for d in page.rows], page=page.number, pages=page.pages,
                   total=page.total)


@bp.route("/api/v1/cod/differences/resolve", methods=["POST"])
@roles_required(*STAFF)
@api.operation("Tandai satu selisih setoran COD selesai, dengan catatan (siapa dan kapan dicatat)", tags=["cod"],
               body=api.obj({"kind": api.enum(list(Kind)),
                             "key": api.string(120, min_length=1, pattern=r"^[^\x00-\x1f\x7f]*$",
                                               description="kunci selisih, tanpa karakter kendali"),
                             "note": api.string(1000, min_length=5, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
                                                description="catatan, tanpa karakter kendali")},
                            required=["kind", "key", "note"]),
               response=_DIFFERENCE, errors=[404, 409, 422])
def resolve_api(body: dict[str, Any]) -> Any:
    try:
        with unit_of_work() as session:
            d = settlements.resolve_difference(session, current_office(session), body["kind"], body["key"],
                                               body["note"], actor(), today_local(), days=settlement_days())
    except settlements.DifferenceNotFound as exc:
        return json_error(404, str(exc))
    except SettlementConflict as exc:
        return json_error(409, str(exc))
    except SettlementError as exc:
        return json_error(422, str(exc))
    return jsonify(d.jsonable())
