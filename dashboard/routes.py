"""The head of office's pages: the dashboard (staff home), a kelurahan's figures, the regent's report, the JSON."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Blueprint, abort, g, jsonify, render_template, request, send_file, url_for
from markupsafe import Markup

from app import api
from app.auth import current_office, roles_required
from app.dates import today_local
from app.db import unit_of_work
from app.models import Role
from app.regions import office_regions
from app.spreadsheet import PERSONAL_DATA_HEADER, personal_data_header
from dashboard import charts, geo
from dashboard.queries import Filters, figures, print_runs

bp = Blueprint("dashboard", __name__, template_folder="templates")
STAFF = (Role.ADMIN, Role.STAFF)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# What the map colours the kelurahan by: (label, figure, scale of dashboard.geo).
MAP_METRICS: dict[str, tuple[str, str, str]] = {
    "terkirim": ("Tingkat terkirim", "tingkat_terkirim_pct", "rate"),
    "kembali": ("Kartu dikembalikan kurir", "dikembalikan", "count"),
    "terbuka": ("Kartu belum selesai", "terbuka", "count"),
}
PANEL = 560  # SVG width of a chart in a half-width panel (the full width is charts.SVG_WIDTH)
QUERY = api.obj({
    "cetakan": api.integer(1, api.MAX_ID, description="id print run"),
    "dari": api.DATE, "sampai": api.DATE,
})


def _filters(args: dict[str, Any], kelurahan: str | None = None) -> Filters:
    since, until = (dt.date.fromisoformat(args[k]) if args.get(k) else None for k in ("dari", "sampai"))
    if since and until and since > until:
        abort(400, description="Parameter 'dari' harus sebelum atau sama dengan 'sampai'.")
    run = args.get("cetakan")
    return Filters(print_run_ids=(int(run),) if run else None, since=since, until=until, kelurahan=kelurahan)


def _page_args() -> dict[str, Any]:
    # The values were checked against the page parameter table (app.api.PAGE_PARAMETERS) before the view runs.
    return {k: v for k, v in request.args.items() if v}


@bp.route("/dasbor")
@roles_required(*STAFF)
def home() -> Any:
    args = _page_args()
    metric = args.get("peta", "terkirim")
    with unit_of_work() as session:
        office = current_office(session)
        fig = figures(session, office, _filters(args))
        runs = print_runs(session, office)
        office_map = geo.office_map(session, sorted(office_regions(office.code).kelurahan))
    g.page_title = "Dasbor"
    return render_template("dashboard.html", f=fig, runs=runs, args=args, metric=metric, metrics=MAP_METRICS,
                           graphics=_graphics(fig, office_map, metric, args), office_map=office_map)


@bp.route("/dasbor/kelurahan/<kode_wilayah>")
@roles_required(*STAFF)
def kelurahan(kode_wilayah: str) -> Any:
    code = kode_wilayah
    args = _page_args()
    with unit_of_work() as session:
        office = current_office(session)
        kel = office_regions(office.code).kelurahan.get(code)
        if kel is None:
            abort(404, description=f"Kelurahan {code[:20]} tidak termasuk wilayah kantor ini.")
        fig = figures(session, office, _filters(args, kelurahan=code))
    g.page_title = f"Kelurahan {kel.name}"
    area = fig["by_kelurahan"][0] if fig["by_kelurahan"] else None
    return render_template("dashboard_kelurahan.html", f=fig, kel=kel, area=area, args=args,
                           graphics=_graphics(fig, None, None, args))


@bp.route("/api/v1/dashboard")
@roles_required(*STAFF)
@api.operation("Angka dasbor: corong, tingkat terkirim per wilayah, alasan kembali, per hari", tags=["laporan"],
               query=QUERY, errors=[400],
               response={"type": "object", "required": ["printed", "funnel", "by_kecamatan", "daily"],
                         "properties": {"printed": {"type": "integer"}, "funnel": {"type": "array"},
                                        "by_kecamatan": {"type": "array"}, "daily": {"type": "object"}}})
def dashboard_json(query: dict[str, Any]) -> Any:
    with unit_of_work() as session:
        return jsonify(figures(session, current_office(session), _filters(query)))


@bp.route("/laporan/bupati.<any(pdf, xlsx):kind>")
@roles_required(*STAFF)
def regent_report(kind: str) -> Any:
    from dashboard import report

    args = _page_args()
    with unit_of_work() as session:
        office = current_office(session)
        filters = _filters(args)
        data = (report.regent_pdf if kind == "pdf" else report.regent_xlsx)(session, office, filters)
    day = (filters.until or today_local()).isoformat()
    mime = "application/pdf" if kind == "pdf" else XLSX_MIME
    response = send_file(io.BytesIO(data), mimetype=mime, as_attachment=kind == "xlsx",
                         download_name=f"laporan-bupati-{office.code}-{day}.{kind}")
    response.headers[PERSONAL_DATA_HEADER] = personal_data_header(())  # counts only
    return response


def _graphics(fig: dict[str, Any], office_map: geo.OfficeMap | None, metric: str | None,
              args: dict[str, Any]) -> dict[str, Markup]:
    """The SVG charts (and the map) of a page, drawn from the same figures as its tables."""
    kept = {k: v for k, v in args.items() if k in ("cetakan", "dari", "sampai")}
    out = {"funnel": charts.funnel_svg(
        [charts.FunnelStep(s["label"], s["count"], charts.fmt_pct(s["pct"]), s["level"], s["tone"])
         for s in fig["funnel"]], title="Alur kartu", desc="Dari dicetak sampai diserahkan, dengan persentase.",
        width=PANEL)}
    kec = [k for k in fig["by_kecamatan"] if k["dikirim"]]
    out["kecamatan"] = charts.bar_chart_svg(
        # below the office's rate: hatched (it lags), so that it shows in black and white too
        [charts.Bar(k["nama"], k["tingkat_terkirim_pct"] or 0, charts.fmt_pct(k["tingkat_terkirim_pct"]),
                    tone="bad" if (k["tingkat_terkirim_pct"] or 0) < (fig["delivery_rate_pct"] or 0) else "good")
         for k in sorted(kec, key=lambda k: k["tingkat_terkirim_pct"] or 0)],
        title="Tingkat terkirim per kecamatan", desc="Kartu terkirim dibanding kartu yang dikirim, per kecamatan.",
        max_value=100, reference=fig["delivery_rate_pct"],
        reference_label=f"kabupaten {charts.fmt_pct(fig['delivery_rate_pct'])}", width=PANEL)
    out["reasons"] = charts.bar_chart_svg(
        [charts.Bar(r["label"], r["cards"], charts.fmt_int(r["cards"]), tone="bad") for r in fig["returns_by_reason"]],
        title="Alasan kartu dikembalikan kurir", desc="Jumlah kartu dikembalikan, per alasan dari kurir.",
        width=PANEL)
    d = fig["daily"]
    out["daily"] = charts.daily_chart_svg(
        [dt.date.fromisoformat(x) for x in d["days"]],
        [charts.Series("Terkirim", d["delivered"], "good"), charts.Series("Dikembalikan", d["returned"], "bad"),
         charts.Series("Diserahkan di kelurahan", d["handed"], "default")],
        title="Kartu per hari", desc="Kartu terkirim, dikembalikan kurir dan diserahkan di kelurahan, per hari (WIB).")
    if office_map is not None and metric is not None:
        label, key, scale = MAP_METRICS[metric]
        rows = {k["kode_wilayah"]: k for k in fig["by_kelurahan"]}
        regions = office_regions(fig["office"]["code"])
        areas = []
        for code in office_map.points:
            row = rows.get(code)
            value = row[key] if row and row["dicetak"] else None
            text = ("–" if value is None else charts.fmt_pct(value) if scale == "rate"
                    else f"{charts.fmt_int(value)} kartu")
            kel = regions.kelurahan.get(code)
            areas.append(geo.MapArea(code, kel.name if kel else code, value, text,
                                     url_for("dashboard.kelurahan", kode_wilayah=code, **kept)))
        out["map"] = geo.map_svg(office_map, areas, scale=scale, title=f"Peta: {label.lower()} per kelurahan",
                                 legend_title=label)
    return out

