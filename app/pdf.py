"""What every printed document of Antar shares: the page footer, the letterhead rule, fonts (dates: app.dates).

Documents (the manifest's Berita Acara, the kelurahan handover list) are A4, Helvetica only (no font files to
ship), and number their pages "Halaman X dari Y".
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

FONT, FONT_BOLD = "Helvetica", "Helvetica-Bold"
PAGE_W, PAGE_H = A4
class NumberedCanvas(Canvas):
    """Holds every page back until the end so the footer can say "Halaman X dari Y — <footer>"."""

    def __init__(self, *args, footer: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
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
            super().showPage()
        super().save()


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
