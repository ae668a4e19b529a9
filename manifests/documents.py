"""The courier handover documents of a manifest: the PDF "Berita Acara Serah Terima", CSV and XLSX.

Plain dataclasses in, bytes out: no database, no Flask. The service layer fills `ManifestDoc`; the
routes and CLI only choose which rendering to send. No NIK appears here, by design: what leaves the
Disdukcapil office for PT Pos is the resi, the name and the address, nothing more.

The PDF paginates itself in fixed chunks (`ROWS_FIRST_PAGE`, then `ROWS_PER_PAGE`) with fixed row
heights, so page N always holds the same items and a printed page can be matched against the
postman's round. Cell texts are cut to three lines to keep that promise.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import lokal
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.dates import WEEKDAYS, as_local, tanggal
from app.pdf import (
    FONT,
    FONT_BOLD,
    PAGE_H,
    PAGE_W,
    STYLES,
    NumberedCanvas,
    Rule,
    signature_boxes,
)
from app.spreadsheet import csv_bytes, personal_data_of, personal_data_sheet, text_cell

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell


@dataclass(frozen=True, slots=True)
class DocItem:
    seq: int  # position in the postman's round, 1-based
    tracking_number: str  # UPU S10, e.g. "RB123456785ID"
    recipient_name: str
    street: str | None  # "JL. RAYA JATIMULYA NO. 12"
    rt: str | None  # "003"
    rw: str | None  # "005"
    kelurahan: str  # "JATIMULYA"
    kecamatan: str  # "TAMBUN SELATAN"
    kode_pos: str | None
    kode_wilayah: str  # "32.16.06.1001"
    phone: str | None
    lat: float | None
    lng: float | None
    # Courier contract 6.1: the fee the postman collects (whole rupiah) and whether the old e-KTP must be surrendered.
    cod_amount: int | None = None
    collect_old_card: bool = False


@dataclass(frozen=True, slots=True)
class ManifestDoc:
    office_title: str  # "Disdukcapil Kabupaten Bekasi"
    office_code: str  # "32.16"
    kabupaten_kota: str  # "KABUPATEN BEKASI"
    provinsi: str  # "JAWA BARAT"
    manifest_number: str  # "MNF-3216-20261123-0001"
    post_office_code: str  # "17510"
    post_office_name: str  # "KPC Tambun"
    created_at: dt.datetime  # timezone-aware (UTC); printed in WIB (UTC+7)
    finalized_at: dt.datetime | None
    items: tuple[DocItem, ...]


def rupiah(amount: int) -> str:
    """20000 -> "Rp 20.000"."""
    return "Rp " + f"{amount:,}".replace(",", ".")


def service_note(item: DocItem) -> str:
    """What the postman must do besides handing the card over: "COD Rp 20.000 + KTP lama", "" for an ordinary item."""
    parts = [f"COD {rupiah(item.cod_amount)}"] if item.cod_amount else []
    if item.collect_old_card:
        parts.append("KTP lama" if parts else "Tarik KTP lama")
    return " + ".join(parts)


@dataclass(frozen=True, slots=True)
class CodTotals:
    items: int  # items with a fee
    amount: int  # their fees, whole rupiah
    old_cards: int  # items whose old card must be surrendered


def cod_totals(items: tuple[DocItem, ...]) -> CodTotals:
    cod = [item.cod_amount for item in items if item.cod_amount]
    return CodTotals(len(cod), sum(cod), sum(1 for item in items if item.collect_old_card))


def short_address(item: DocItem) -> str:
    """The street, then RT/RW: "JL. RAYA JATIMULYA NO. 12, RT 003/RW 005"; missing parts are left out."""
    neighbourhood = "/".join(f"{label} {value}" for label, value in (("RT", item.rt), ("RW", item.rw)) if value)
    return ", ".join(part for part in (item.street, neighbourhood) if part)


# --- Dates and numbers in Indonesian ----------------------------------------------------------------------------

def terbilang(n: int) -> str:
    """A count in Indonesian words, as a berita acara writes it next to the figure: 500 -> "lima ratus"."""
    if n < 0:
        raise ValueError(f"terbilang hanya untuk bilangan cacah, bukan {n}")
    return lokal.terbilang(n)


# --- PDF layout ----------------------------------------------------------------------------------------------------

ROWS_FIRST_PAGE = 20  # the first page also carries the letterhead and the opening statement
ROWS_PER_PAGE = 25

_PAGE_W, _PAGE_H = PAGE_W, PAGE_H
_MARGIN = 15 * mm
_BOTTOM = 16 * mm
_ROW_H = 28
_HEADER_H = 16
_CELL_FONT_SIZE, _CELL_LEADING, _CELL_PAD = 7, 8, 2
_MAX_LINES = 3  # 3 x 8pt leading + 2 x 2pt padding = 28pt row
_COL_WIDTHS = (22, 163, 110, 130, 85.2)  # No, resi, nama, alamat, kelurahan: 510.2pt = A4 minus margins

# Code 128 that decodes from a 150-200 dpi rendering or scan: 0.9pt modules are 1.9-2.5 px there (0.8pt modules
# mostly failed below 160 dpi). A resi (2 letters, 9 digits, "ID") is 156 modules, 140pt of bars; the 10-module
# quiet zones keep the bars clear of the grid lines.
_BAR_WIDTH = 0.9
_BAR_HEIGHT = 16
_BAR_LEAN = 0.2  # see _Code128
_QUIET = 10 * _BAR_WIDTH
_HR_SIZE = 6.5  # the human-readable line under the bars
_HR_GAP = 1.5

_STYLES = {
    **STYLES,
    "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=14, leading=18, alignment=TA_CENTER, spaceBefore=6),
}


def _p(text: str, style: str) -> Paragraph:
    # Every Paragraph goes through here: names and office titles may carry '&' or '<'.
    return Paragraph(escape(text), _STYLES[style])


class _Code128(Code128):
    """Code 128 whose bars lean 0.2pt over their height: under one degree, invisible on paper.

    pdfium (Chrome's viewer, pypdfium2) snaps axis-aligned rectangles to whole pixels without anti-aliasing, so a
    2.2-px module comes out as 2 or 3 px: with plain rectangles zxing missed 100 of 60 codes x 61 resolutions
    (145-205 dpi). A parallelogram is anti-aliased like any other path, and the same sweep read every code.
    """

    def draw(self) -> None:
        self._path = self.canv.beginPath()
        super().draw()
        self.canv.drawPath(self._path, stroke=0, fill=1)

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        path = self._path
        path.moveTo(x, y)
        path.lineTo(x + w, y)
        path.lineTo(x + w + _BAR_LEAN, y + h)
        path.lineTo(x + _BAR_LEAN, y + h)
        path.close()


class _ResiBarcode(Flowable):
    """A Code 128 resi with its number printed under the bars, inside its own bounding box.

    reportlab's own human-readable line is drawn below the flowable's origin, over the cell padding.
    """

    def __init__(self, value: str) -> None:
        super().__init__()
        self.value = value
        self._bars = _Code128(
            value,
            barWidth=_BAR_WIDTH,
            barHeight=_BAR_HEIGHT,
            humanReadable=False,
            quiet=True,
            lquiet=_QUIET,
            rquiet=_QUIET,
        )
        self.width = self._bars.width
        self.height = _BAR_HEIGHT + _HR_GAP + _HR_SIZE

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        self._bars.drawOn(self.canv, 0, _HR_SIZE + _HR_GAP)
        self.canv.setFont(FONT, _HR_SIZE)
        self.canv.drawCentredString(self.width / 2, 0.5, self.value)


def _fit(text: str, width: float, max_lines: int = _MAX_LINES) -> str:
    """Word-wrap `text` to `width` and cut it to `max_lines`, ending in an ellipsis when cut."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if stringWidth(candidate, FONT, _CELL_FONT_SIZE) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while stringWidth(word, FONT, _CELL_FONT_SIZE) > width:  # a word wider than the cell: break it anywhere
            cut = len(word) - 1
            while cut > 1 and stringWidth(word[:cut], FONT, _CELL_FONT_SIZE) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and stringWidth(last + "\u2026", FONT, _CELL_FONT_SIZE) > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last.rstrip() + "\u2026"]
    return "\n".join(lines)


def _pages_of(items: tuple[DocItem, ...]) -> list[tuple[DocItem, ...]]:
    chunks = [items[:ROWS_FIRST_PAGE]]
    chunks += [items[i : i + ROWS_PER_PAGE] for i in range(ROWS_FIRST_PAGE, len(items), ROWS_PER_PAGE)]
    return [chunk for chunk in chunks if chunk]


def _items_table(chunk: tuple[DocItem, ...]) -> Table:
    text_w = [w - 2 * _CELL_PAD for w in _COL_WIDTHS]
    rows: list[list] = [["No", "Nomor resi", "Nama", "Alamat singkat", "Kelurahan"]]
    for item in chunk:
        note = service_note(item)
        # The fee and the old card on the name's last line: the row keeps its fixed height.
        name = (_fit(item.recipient_name, text_w[2], _MAX_LINES - 1) + "\n" + _fit(note, text_w[2], 1) if note
                else _fit(item.recipient_name, text_w[2]))
        rows.append(
            [
                str(item.seq),
                _ResiBarcode(item.tracking_number),
                name,
                _fit(short_address(item) or "-", text_w[3]),
                _fit(item.kelurahan, text_w[4], 2) + "\n" + _fit(f"Kec. {item.kecamatan}", text_w[4], 1),
            ]
        )
    table = Table(rows, colWidths=_COL_WIDTHS, rowHeights=[_HEADER_H] + [_ROW_H] * len(chunk), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 10),
                ("FONT", (0, 1), (-1, -1), FONT, _CELL_FONT_SIZE, _CELL_LEADING),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.88, 0.88, 0.88)),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (1, -1), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PAD),
                ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PAD),
                ("TOPPADDING", (0, 0), (-1, -1), _CELL_PAD),
                ("BOTTOMPADDING", (0, 0), (-1, -1), _CELL_PAD),
            ]
        )
    )
    return table


def _letterhead(doc: ManifestDoc) -> list[Flowable]:
    moment = doc.finalized_at or doc.created_at
    local = as_local(moment)
    count = len(doc.items)
    post_office = f"{doc.post_office_code} \u2014 {doc.post_office_name}"
    status = "Final" if doc.finalized_at else "DRAF \u2014 manifest belum difinalisasi"
    info = [
        [
            _p("Kantor pos tujuan", "label"),
            _p(post_office, "value"),
            _p("Tanggal", "label"),
            _p(f"{tanggal(moment)}, pukul {local:%H.%M} WIB", "value"),
        ],
        [
            _p("Jumlah kiriman", "label"),
            _p(f"{count} ({terbilang(count)}) kartu e-KTP", "value"),
            _p("Status", "label"),
            _p(status, "value"),
        ],
    ]
    totals = cod_totals(doc.items)
    if totals.items or totals.old_cards:
        info.append([
            _p("Bayar di tempat", "label"),
            _p(f"{totals.items} kiriman COD, jumlah {rupiah(totals.amount)}" if totals.items else "-", "value"),
            _p("KTP lama", "label"),
            _p(f"{totals.old_cards} kiriman wajib menyerahkan KTP lama" if totals.old_cards else "-", "value"),
        ])
    info_table = Table(info, colWidths=(80, 185, 50, 195.2))
    info_table.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    statement = (
        f"Pada hari ini, {WEEKDAYS[local.weekday()]}, tanggal {tanggal(moment)}, {doc.office_title} menyerahkan "
        f"kepada PT Pos Indonesia ({post_office}) kartu e-KTP sebanyak {count} ({terbilang(count)}) buah untuk "
        "diantarkan kepada penerima sesuai daftar berikut."
    )
    return [
        _p(doc.office_title, "office"),
        _p(f"{doc.kabupaten_kota}, {doc.provinsi} \u2014 kode kantor {doc.office_code}", "region"),
        Rule(),
        _p("BERITA ACARA SERAH TERIMA KARTU e-KTP", "title"),
        _p(f"Nomor manifest: {doc.manifest_number}", "subtitle"),
        info_table,
        Spacer(1, 6),
        _p(statement, "body"),
        Spacer(1, 6),
    ]


def kelurahan_totals(items: tuple[DocItem, ...]) -> list[tuple[str, str, int]]:
    """(kelurahan, kecamatan, count), sorted by kecamatan then kelurahan."""
    counts = Counter((item.kecamatan, item.kelurahan) for item in items)
    return [(kel, kec, n) for (kec, kel), n in sorted(counts.items())]


def _totals_table(doc: ManifestDoc) -> Table:
    rows: list[list[str]] = [["No", "Kelurahan", "Kecamatan", "Jumlah"]]
    rows += [[str(i), kel, kec, str(n)] for i, (kel, kec, n) in enumerate(kelurahan_totals(doc.items), start=1)]
    rows.append(["", "JUMLAH TOTAL", "", str(len(doc.items))])
    totals = cod_totals(doc.items)
    if totals.items:  # the money the post office owes the office for this manifest (settled later, section 6.3)
        rows.append(["", f"BIAYA COD ({totals.items} kiriman)", "", rupiah(totals.amount)])
    table = Table(rows, colWidths=(26, 210, 210, 64.2), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8, 10),
                ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 10),
                ("FONT", (0, len(rows) - 1 - bool(totals.items)), (-1, -1), FONT_BOLD, 8, 10),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.88, 0.88, 0.88)),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
                ("SPAN", (1, -1), (2, -1)),
                *([("SPAN", (1, -2), (2, -2))] if totals.items else []),
                ("ALIGN", (0, 0), (0, -1), "CENTER"),
                ("ALIGN", (3, 0), (3, -1), "RIGHT"),
            ]
        )
    )
    return table


def _cod_terms(doc: ManifestDoc) -> list[Flowable]:
    """What the marks on the list ask of the postman, and the money due: after the totals (the first page has no room
    to spare: its rows are fixed)."""
    totals = cod_totals(doc.items)
    terms = []
    if totals.items:
        count = f"{totals.items} ({terbilang(totals.items)}) kiriman"
        terms.append(
            f"Kiriman bertanda \"COD\" ({count}) dibayar di tempat: pengantar menagih biaya antar yang tertulis pada "
            f"daftar kepada penerima sebelum kartu diserahkan, seluruhnya {rupiah(totals.amount)} "
            f"({terbilang(totals.amount)} rupiah), disetorkan PT Pos kepada {doc.office_title}.")
    if totals.old_cards:
        count = f"{totals.old_cards} ({terbilang(totals.old_cards)}) kiriman"
        terms.append(
            f"Kiriman bertanda \"KTP lama\" ({count}): kartu baru hanya diserahkan setelah penerima menyerahkan KTP-el "
            f"lamanya kepada pengantar; KTP-el lama dikembalikan kepada {doc.office_title} untuk dimusnahkan.")
    return [Spacer(1, 6), *(_p(text, "body") for text in terms)] if terms else []


def _signatures(doc: ManifestDoc) -> Flowable:
    return signature_boxes(doc.office_title, f"PT Pos Indonesia ({doc.post_office_name})", "NIPPOS", 510.2)


def handover_pdf(doc: ManifestDoc) -> bytes:
    """The "Berita Acara Serah Terima" for the post office: letterhead, items with barcodes, totals, signatures."""
    story: list[Flowable] = _letterhead(doc)
    pages = _pages_of(doc.items)
    for number, chunk in enumerate(pages):
        if number:
            story.append(PageBreak())
        story.append(_items_table(chunk))
    if not pages:
        story.append(_p("Tidak ada kiriman dalam manifest ini.", "body"))
    story += [_p("Rekapitulasi per kelurahan", "heading"), _totals_table(doc), *_cod_terms(doc), _signatures(doc)]

    out = io.BytesIO()
    # No frame padding: the tables are sized to the full width between the margins.
    frame = Frame(
        _MARGIN,
        _BOTTOM,
        _PAGE_W - 2 * _MARGIN,
        _PAGE_H - _MARGIN - _BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )
    template = BaseDocTemplate(
        out,
        pagesize=A4,
        pageTemplates=[PageTemplate(frames=[frame])],
        title=f"Berita Acara Serah Terima {doc.manifest_number}",
        author=doc.office_title,
        subject=f"Manifest {doc.manifest_number} untuk {doc.post_office_name}",
        creator="Antar",
    )
    template.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=doc.manifest_number,
                                                        personal_data=PDF_PERSONAL_DATA))
    return out.getvalue()


# --- CSV and XLSX --------------------------------------------------------------------------------------------------

# The personal data each rendering holds (app.spreadsheet.PERSONAL_DATA), said in the document itself (PDF footer,
# XLSX "Keterangan" sheet; the CSV's download says it in its HTTP header, read from the column names).
PDF_PERSONAL_DATA = ("nama", "alamat")

COLUMNS = (
    "seq",
    "tracking_number",
    "recipient_name",
    "street",
    "rt",
    "rw",
    "kelurahan",
    "kecamatan",
    "kabupaten_kota",
    "provinsi",
    "kode_pos",
    "kode_wilayah",
    "lat",
    "lng",
    "phone",
    "manifest_number",
    "post_office_code",
    "cod_amount",
    "collect_old_card",
)

def _values(doc: ManifestDoc, item: DocItem) -> dict[str, str | int | float | None]:
    return {
        "seq": item.seq,
        "tracking_number": item.tracking_number,
        "recipient_name": item.recipient_name,
        "street": item.street,
        "rt": item.rt,
        "rw": item.rw,
        "kelurahan": item.kelurahan,
        "kecamatan": item.kecamatan,
        "kabupaten_kota": doc.kabupaten_kota,
        "provinsi": doc.provinsi,
        "kode_pos": item.kode_pos,
        "kode_wilayah": item.kode_wilayah,
        "lat": item.lat,
        "lng": item.lng,
        "phone": item.phone,
        "manifest_number": doc.manifest_number,
        "post_office_code": doc.post_office_code,
        "cod_amount": item.cod_amount,
        "collect_old_card": "Y" if item.collect_old_card else "N",
    }


def items_csv(doc: ManifestDoc) -> bytes:
    """The items as UTF-8 CSV with a BOM (so Excel picks the encoding), one row per item, `COLUMNS` as header."""
    return csv_bytes(COLUMNS, ([_values(doc, item)[column] for column in COLUMNS] for item in doc.items))


_XLSX_WIDTHS = {
    "seq": 6,
    "tracking_number": 16,
    "recipient_name": 30,
    "street": 36,
    "rt": 5,
    "rw": 5,
    "kelurahan": 20,
    "kecamatan": 20,
    "kabupaten_kota": 20,
    "provinsi": 16,
    "kode_pos": 9,
    "kode_wilayah": 15,
    "lat": 11,
    "lng": 12,
    "phone": 17,
    "manifest_number": 24,
    "post_office_code": 10,
    "cod_amount": 12,
    "collect_old_card": 10,
}


def items_xlsx(doc: ManifestDoc) -> bytes:
    """The items in a "Manifest" sheet (the table only, header frozen) and the manifest's details in "Info".

    Text stays text: resi, RT/RW, postal codes and phone numbers keep their leading zeros and '+', and a name
    like "=HYPERLINK(...)" is stored as a text cell with Excel's quote prefix, which Excel never evaluates.
    """
    # openpyxl when a sheet is made (as app.report and the dashboard do): it is about a tenth of a second of every
    # command's and worker's start otherwise.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Manifest"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row_number, item in enumerate(doc.items, start=2):
        values = _values(doc, item)
        for col_number, column in enumerate(COLUMNS, start=1):
            _xlsx_cell(sheet.cell(row=row_number, column=col_number), column, values[column])
    for col_number, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(col_number)].width = _XLSX_WIDTHS[column]
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(doc.items) + 1}"

    info = workbook.create_sheet("Info")
    for key, value in _info_rows(doc):
        info.append([key, value])
        info.cell(row=info.max_row, column=1).font = Font(bold=True)
    info.column_dimensions["A"].width = 20
    info.column_dimensions["B"].width = 40
    workbook.properties.title = f"Manifest {doc.manifest_number}"
    workbook.properties.creator = "Antar"
    personal_data_sheet(workbook, personal_data_of(COLUMNS))

    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_cell(cell: Cell, column: str, value: str | int | float | None) -> None:
    if value is None:
        return
    if column in ("lat", "lng"):
        cell.value = value
        cell.number_format = "0.000000"
        return
    if isinstance(value, int):
        cell.value = value
        return
    text_cell(cell, value)


def _info_rows(doc: ManifestDoc) -> list[tuple[str, str | int]]:
    def stamp(moment: dt.datetime | None) -> str:
        return f"{tanggal(moment)} {as_local(moment):%H.%M} WIB" if moment else "belum difinalisasi"

    return [
        ("Kantor", doc.office_title),
        ("Kode kantor", doc.office_code),
        ("Kabupaten/kota", doc.kabupaten_kota),
        ("Provinsi", doc.provinsi),
        ("Nomor manifest", doc.manifest_number),
        ("Kantor pos tujuan", f"{doc.post_office_code} {doc.post_office_name}"),
        ("Dibuat", stamp(doc.created_at)),
        ("Difinalisasi", stamp(doc.finalized_at)),
        ("Jumlah kiriman", len(doc.items)),
        *_cod_info(doc),
    ]


def _cod_info(doc: ManifestDoc) -> list[tuple[str, str | int]]:
    totals = cod_totals(doc.items)
    if not (totals.items or totals.old_cards):
        return []
    return [("Kiriman COD", totals.items), ("Jumlah biaya COD (rupiah)", totals.amount),
            ("Wajib serahkan KTP lama", totals.old_cards)]
