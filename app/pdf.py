"""What every printed document of Antar shares: the page footer, the letterhead rule, fonts (dates: app.dates).

Documents (the manifest's Berita Acara, the kelurahan handover list) are A4, Helvetica only (no font files to
ship), and number their pages "Halaman X dari Y".
"""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from app.spreadsheet import PERSONAL_DATA_HEADER, personal_data_header, personal_data_note

FONT, FONT_BOLD = "Helvetica", "Helvetica-Bold"
PAGE_W, PAGE_H = A4
class NumberedCanvas(Canvas):
    """Holds every page back until the end so the footer can say "Halaman X dari Y — <footer>".

    `personal_data` (tokens of app.spreadsheet.PERSONAL_DATA; empty: none) adds a line under it on every page saying
    which personal data the document holds, and the same in the PDF's keywords for programs."""

    def __init__(self, *args, footer: str, personal_data: Iterable[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._personal = None if personal_data is None else list(personal_data)
        self._pages: list[dict] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(FONT, 8)
            self.setFillColor(colors.black)
            self.drawCentredString(PAGE_W / 2, 9 * mm, f"Halaman {number} dari {total} \u2014 {self._footer}")
            if self._personal is not None:
                self._personal_data_line()
            super().showPage()
        if self._personal is not None:  # after the document template set its own metadata
            self.setKeywords(f"{PERSONAL_DATA_HEADER}: {personal_data_header(self._personal)}")
        super().save()

    def _personal_data_line(self) -> None:
        note = personal_data_note(self._personal or ())
        size = 7.0
        while size > 5 and stringWidth(note, FONT, size) > PAGE_W - 20 * mm:
            size -= 0.5
        self.setFont(FONT, size)
        self.drawCentredString(PAGE_W / 2, 5 * mm, note)


class Rule(Flowable):
    """The line under the letterhead."""

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, 4

    def draw(self) -> None:
        self.canv.setLineWidth(1)
        self.canv.line(0, 2, self.width, 2)


# The paragraph styles of every document; a document may override one (the manifest's title is larger).
STYLES: dict[str, ParagraphStyle] = {
    "office": ParagraphStyle("office", fontName=FONT_BOLD, fontSize=12, leading=15),
    "region": ParagraphStyle("region", fontName=FONT, fontSize=9, leading=11),
    "title": ParagraphStyle("title", fontName=FONT_BOLD, fontSize=13, leading=17, alignment=TA_CENTER, spaceBefore=6),
    "subtitle": ParagraphStyle("subtitle", fontName=FONT, fontSize=10, leading=13, alignment=TA_CENTER, spaceAfter=8),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12),
    "label": ParagraphStyle("label", fontName=FONT, fontSize=9, leading=11),
    "value": ParagraphStyle("value", fontName=FONT_BOLD, fontSize=9, leading=11),
    "heading": ParagraphStyle("heading", fontName=FONT_BOLD, fontSize=10, leading=13, spaceBefore=10, spaceAfter=4),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10),
    "head": ParagraphStyle("head", fontName=FONT_BOLD, fontSize=8, leading=10),
    "sign": ParagraphStyle("sign", fontName=FONT, fontSize=9, leading=13),
}
_SIGN = STYLES["sign"]


def signature_boxes(giver: str, receiver: str, receiver_id: str, width: float) -> Flowable:
    """Two boxes side by side for the two parties to sign: "Yang menyerahkan" (our office, NIP) and "Yang
    menerima" (`receiver`, identified by `receiver_id`: NIPPOS for PT Pos, NIP/Jabatan for a kelurahan)."""

    def box(role: str, party: str, staff_id: str) -> list[Flowable]:
        return [
            Paragraph(escape(role), _SIGN),
            Paragraph(escape(party), _SIGN),
            Spacer(1, 48),  # the signature
            Paragraph("Nama: ..............................................", _SIGN),
            Paragraph(escape(f"{staff_id}: .............................................."), _SIGN),
            Paragraph("Tanggal: ...........................................", _SIGN),
        ]

    table = Table([[box("Yang menyerahkan,", giver, "NIP"), box("Yang menerima,", receiver, receiver_id)]],
                  colWidths=(width / 2, width / 2))
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (0, 0), 0.6, colors.black),
        ("BOX", (1, 0), (1, 0), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 8),
        ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
    ]))
    return KeepTogether([Spacer(1, 14), table])
