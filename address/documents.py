"""The letter to a citizen whose card cannot be delivered by post: where to collect it, and what to bring.

A card whose address the postman cannot find (no street, or only a temporary entry) is sent to its kelurahan/desa
for collection (FOR_COLLECTION, address/service.py). The letter tells the holder so: one A4 page per card, with the
office's letterhead (app/pdf.py), the holder's name, the NIK masked as on every page (`app.filters.mask_nik`) and the
blanko number to match the card at the counter. No full NIK and no street: the letter travels by hand (the RT, the
kelurahan) and its envelope names the RT/RW and the kelurahan, nothing more.

Plain dataclasses in, bytes out: no database, no Flask.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
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

from app.dates import tanggal
from app.filters import mask_nik
from app.pdf import PAGE_H, PAGE_W, STYLES, NumberedCanvas, Rule

__all__ = ["CollectionLetter", "LetterSet", "collection_letters_pdf"]


@dataclass(frozen=True, slots=True)
class CollectionLetter:
    nama: str
    nik: str  # printed masked only
    nomor_blanko: str
    rt: str | None
    rw: str | None
    kelurahan: str  # "Jatimulya"
    kelurahan_kind: str  # "kelurahan" or "desa"
    kecamatan: str  # "Tambun Selatan"


@dataclass(frozen=True, slots=True)
class LetterSet:
    office_title: str  # "Disdukcapil Kabupaten Bekasi"
    office_code: str  # "32.16"
    kabupaten_kota: str  # "KABUPATEN BEKASI"
    provinsi: str  # "JAWA BARAT"
    dated: dt.date
    deadline_days: int  # how long the kelurahan keeps a card nobody collects (ANTAR_COLLECTION_DEADLINE_DAYS)
    letters: tuple[CollectionLetter, ...]
    footer: str  # "Surat pengambilan e-KTP BLK0000002", or the kelurahan's for a bundle


_MARGIN = 20 * mm
_BOTTOM = 18 * mm
_WIDTH = PAGE_W - 2 * _MARGIN
_STYLES = {
    **STYLES,
    "body": ParagraphStyle("letter-body", parent=STYLES["body"], fontSize=10, leading=14, spaceAfter=6),
    "item": ParagraphStyle("letter-item", parent=STYLES["body"], fontSize=10, leading=14, leftIndent=14,
                           bulletIndent=2),
    "right": ParagraphStyle("letter-right", parent=STYLES["body"], fontSize=10, leading=14, alignment=2),
}

# The documents the kelurahan officer asks for before handing a card over (returns: "identitas diperiksa").
_BRING = (
    "surat pemberitahuan ini;",
    "Kartu Keluarga (KK) asli atau fotokopinya;",
    "KTP-el lama atau surat keterangan (bila ada);",
    "bila diwakilkan: surat kuasa dari pemilik kartu dan KTP-el wakil yang mengambil (sebaiknya anggota keluarga yang "
    "tercantum dalam KK yang sama).",
)


def _p(text: str, style: str) -> Paragraph:
    # Every Paragraph goes through here: names may carry '&' or '<'.
    return Paragraph(escape(text), _STYLES[style])


def _place(letter: CollectionLetter) -> str:
    kind = "Desa" if letter.kelurahan_kind == "desa" else "Kelurahan"
    return f"Kantor {kind} {letter.kelurahan}, Kecamatan {letter.kecamatan}"


def _letter(doc: LetterSet, letter: CollectionLetter) -> list[Flowable]:
    kind = "Desa" if letter.kelurahan_kind == "desa" else "Kelurahan"
    neighbourhood = f"RT {letter.rt or '-'} / RW {letter.rw or '-'}, " if letter.rt or letter.rw else ""
    details = Table([
        [_p("Nama", "label"), _p(letter.nama, "value")],
        [_p("NIK", "label"), _p(f"{mask_nik(letter.nik)} (disamarkan)", "value")],
        [_p("Nomor blanko kartu", "label"), _p(letter.nomor_blanko, "value")],
        [_p("Tempat pengambilan", "label"), _p(_place(letter), "value")],
    ], colWidths=(120, _WIDTH - 120))
    details.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.6, colors.black), ("LEFTPADDING", (0, 0), (-1, -1), 6),
        ("TOPPADDING", (0, 0), (-1, -1), 3), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return [
        _p(doc.office_title, "office"),
        _p(f"{doc.kabupaten_kota}, {doc.provinsi} \u2014 kode kantor {doc.office_code}", "region"),
        Rule(),
        Spacer(1, 4),
        _p(tanggal(doc.dated), "right"),
        _p("Kepada Yth.", "body"),
        _p(f"Sdr./Sdri. {letter.nama}", "value"),
        _p(f"{neighbourhood}{kind} {letter.kelurahan}, Kecamatan {letter.kecamatan}", "label"),
        _p("SURAT PEMBERITAHUAN PENGAMBILAN KARTU e-KTP", "title"),
        Spacer(1, 6),
        _p("Kartu e-KTP Saudara/Saudari sudah selesai dicetak. Alamat yang tercatat tidak dapat dijangkau pengantar "
           f"pos, sehingga kartu tidak diantar ke rumah: kartu dapat diambil di {_place(letter)}.", "body"),
        details,
        Spacer(1, 8),
        _p("Yang perlu dibawa saat mengambil kartu:", "body"),
        *[Paragraph(escape(text), _STYLES["item"], bulletText=f"{i}.") for i, text in enumerate(_BRING, start=1)],
        Spacer(1, 6),
        _p("Kartu diserahkan setelah petugas kelurahan/desa mencocokkan identitas Saudara/Saudari dengan data kartu. "
           f"Kartu yang tidak diambil dalam {doc.deadline_days} hari setelah tiba di kantor {kind.lower()} "
           f"dikembalikan ke {doc.office_title}. Bila alamat Saudara/Saudari sudah lengkap atau berubah, hubungi "
           f"{doc.office_title} agar kartu dapat diantar.", "body"),
        Spacer(1, 18),
        _p(doc.office_title, "sign"),
        Spacer(1, 42),
        _p("(.............................................)", "sign"),
        _p("NIP. ........................................", "sign"),
    ]


def collection_letters_pdf(doc: LetterSet) -> bytes:
    """One page per card: letterhead, the holder, where to collect the card and what to bring, the signature."""
    story: list[Flowable] = []
    for number, letter in enumerate(doc.letters):
        if number:
            story.append(PageBreak())
        story += _letter(doc, letter)
    if not doc.letters:
        story.append(_p("Tidak ada kartu yang menunggu diambil.", "body"))
    out = io.BytesIO()
    frame = Frame(_MARGIN, _BOTTOM, _WIDTH, PAGE_H - _MARGIN - _BOTTOM,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    template = BaseDocTemplate(
        out, pagesize=A4, pageTemplates=[PageTemplate(frames=[frame])],
        title="Surat Pemberitahuan Pengambilan Kartu e-KTP", author=doc.office_title, subject=doc.footer,
        creator="Antar")
    # Name and RT/RW with the kelurahan, nothing more: said in every page's footer.
    template.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=doc.footer,
                                                        personal_data=("nama", "alamat")))
    return out.getvalue()
