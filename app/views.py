"""Kernel pages: the dashboard and the reconciliation report (page, JSON, XLSX)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user

from app import api, jobs
from app.auth import actor, current_office, roles_required
from app.cards import STATE_LABELS, CardState
from app.db import unit_of_work
from app.jobs import JobContext
from app.models import Office, Role
from app.regions import office_regions
from app.report import UNPLACED, reconciliation, write_xlsx

bp = Blueprint("main", __name__)

STAFF = (Role.ADMIN, Role.STAFF)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- pages ------------------------------------------------------------------------------------------------


@bp.route("/")
def index() -> Any:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.role is Role.OFFICER:
        # The officer's work is the kelurahan handover (returns/): its page is shown here directly (no extra
        # round trip on a weak network), looked up by endpoint because the kernel does not import a domain.
        home = current_app.view_functions.get("kelurahan.home")
        return home() if home is not None else render_template("officer_home.html")
    # Staff land on the dashboard (dashboard/) when it is installed, else on the reconciliation.
    return redirect(url_for("dashboard.home" if "dashboard.home" in current_app.view_functions else "main.report"))


# The report page's columns: every card state in one of a few groups, so that an area's row fits a screen. The
# full count per state stays in each cell's tooltip, in the per-state tables and in the XLSX download.
STATE_GROUPS: tuple[tuple[str, tuple[CardState, ...]], ...] = (
    ("Di kantor", (
        CardState.ADDRESS_UNCLEAR, CardState.READY, CardState.DUPLICATE, CardState.DAMAGED, CardState.WITHDRAWN,
        CardState.FOR_COLLECTION, CardState.ON_MANIFEST)),
    ("Di kurir", (CardState.WITH_COURIER, CardState.IN_TRANSIT, CardState.RETURNING, CardState.AT_POST_OFFICE)),
    ("Terkirim", (CardState.DELIVERED,)),
    ("Kembali / di kelurahan", (
        CardState.RETURNED, CardState.BATCHED, CardState.SENT_TO_KELURAHAN, CardState.AT_KELURAHAN,
        CardState.MISSING, CardState.HOLDER_DECEASED, CardState.READDRESSED, CardState.NOT_COLLECTED)),
    ("Diserahkan di kelurahan", (CardState.HANDED_TO_HOLDER,)),
)


@dataclass(frozen=True, slots=True)
class AreaRow:
    """One area of the report page: its total, its count per state group and, per group, the states behind it."""

    code: str
    name: str
    total: int
    groups: list[int]
    details: list[str]  # per group: "Siap dikirim 120 · Rusak (cetak ulang) 3" (the non-zero states)


@dataclass(frozen=True, slots=True)
class KecamatanSection:
    row: AreaRow
    kelurahan: list[AreaRow]


def _area_row(code: str, name: str, row: dict[str, Any]) -> AreaRow:
    counts = row["by_state"]
    groups, details = [], []
    for _, states in STATE_GROUPS:
        groups.append(sum(counts.get(s.value, 0) for s in states))
        details.append(" · ".join(f"{STATE_LABELS[s]} {counts[s.value]:,}".replace(",", ".")
                                  for s in states if counts.get(s.value)))
    return AreaRow(code, name, row["total"], groups, details)


def report_sections(data: dict[str, Any]) -> list[KecamatanSection]:
    """The report's kecamatan, each with its kelurahan under it, by name (cards not yet placed last)."""
    regions = office_regions(data["office"]["code"])
    under: dict[str, list[AreaRow]] = {}
    for kel in data["by_kelurahan"]:
        known = regions.kelurahan.get(kel["kode_wilayah"])
        under.setdefault(known.kecamatan_code if known else UNPLACED, []).append(
            _area_row(kel["kode_wilayah"], kel["kelurahan"], kel))
    sections = [KecamatanSection(_area_row(kec["kode_wilayah"], kec["kecamatan"], kec),
                                 under.get(kec["kode_wilayah"], [])) for kec in data["by_kecamatan"]]
    return sorted(sections, key=lambda s: (s.row.code == UNPLACED, s.row.name))


def _generated_at(data: dict[str, Any]) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(data["generated_at"])
    except (KeyError, TypeError, ValueError):
        return None


@bp.route("/laporan")
@roles_required(*STAFF)
def report() -> Any:
    with unit_of_work() as session:
        data = reconciliation(session, current_office(session))
    g.page_title = "Rekonsiliasi"
    totals = _area_row("", "Jumlah", {"total": data["printed"], "by_state": data["by_state"]})
    used = [s for s, n in data["by_state"].items() if n]  # the per-state detail tables show only these
    return render_template("report.html", r=data, groups=STATE_GROUPS, sections=report_sections(data),
                           totals=totals, used_states=used, generated_at=_generated_at(data))


@bp.route("/api/v1/report")
@roles_required(*STAFF)
@api.operation("Laporan rekonsiliasi: jumlah kartu per status dan wilayah", tags=["laporan"],
               response={"type": "object", "required": ["printed", "by_state", "balanced"],
                         "properties": {"printed": {"type": "integer"}, "by_state": {"type": "object"},
                                        "balanced": {"type": "boolean"}}})
def report_json() -> Any:
    with unit_of_work() as session:
        return jsonify(reconciliation(session, current_office(session)))


@bp.route("/laporan.xlsx")
@roles_required(*STAFF)
def report_xlsx() -> Any:
    with unit_of_work() as session:
        data = reconciliation(session, current_office(session))
    buffer = io.BytesIO()
    write_xlsx(data, buffer)
    buffer.seek(0)
    name = f"rekonsiliasi-{data['office']['code']}.xlsx"
    return send_file(buffer, mimetype=XLSX_MIME, as_attachment=True, download_name=name)


# --- the reconciliation workbook as a background job --------------------------------------------------------

REPORT_JOB = "report.xlsx"


def _export_path(office_id: int, job_id: int) -> Path:
    return Path(current_app.instance_path) / "exports" / str(office_id) / f"rekonsiliasi-{job_id}.xlsx"


def report_job(ctx: JobContext) -> dict[str, Any]:
    """Write the reconciliation workbook into the instance folder; the job page links its download."""
    with unit_of_work() as session:
        data = reconciliation(session, session.get(Office, ctx.office_id))
    path = _export_path(ctx.office_id, ctx.job_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_xlsx(data, path)
    return {"summary": f"Laporan rekonsiliasi {data['office']['name']} siap: {data['printed']:,} kartu."
            .replace(",", "."),
            "links": [{"label": "Unduh XLSX", "url": f"/laporan/unduhan/{ctx.job_id}"}]}  # no request here: no url_for


@bp.route("/laporan/xlsx-tugas", methods=["POST"])
@roles_required(*STAFF)
def report_xlsx_job() -> Any:
    with unit_of_work() as session:
        office_id = current_office(session).id
    submitted = jobs.submit(REPORT_JOB, {}, actor(), office_id=office_id, title="Laporan rekonsiliasi (XLSX)",
                            dedupe_key=f"report:{office_id}")
    return redirect(url_for("jobs.job_page", job_id=submitted.job_id))


@bp.route("/laporan/unduhan/<int:job_id>")
@roles_required(*STAFF)
def report_download(job_id: int) -> Any:
    with unit_of_work() as session:
        office = current_office(session)
        ready = jobs.is_done(session, job_id, office.id, REPORT_JOB)
    path = _export_path(office.id, job_id) if ready else None
    if path is None or not path.is_file():
        abort(404)
    return send_file(path, mimetype=XLSX_MIME, as_attachment=True,
                     download_name=f"rekonsiliasi-{office.code}-tugas-{job_id}.xlsx")
