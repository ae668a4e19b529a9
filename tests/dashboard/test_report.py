"""The report for the regent and the DPRD: a PDF and a workbook whose numbers are the dashboard's figures, for any
date, with the summary written in figures and in words."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from helpers import card_row, cli, make_nik, write_csv
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select
from tracking import SECRET, event, handed_over, post_events

from app.dates import tanggal, today_local
from app.db import unit_of_work
from app.models import Office
from dashboard.queries import Filters, figures
from dashboard.report import counted, regent_pdf, regent_xlsx, summary_paragraph
from manifests.documents import terbilang

NOW = dt.datetime.now(dt.UTC)
FIGURE_AND_WORDS = re.compile(r"(\d{1,3}(?:\.\d{3})*) \(([a-z ]+)\)")


def setia_asih(i: int) -> dict[str, str]:
    """A card in Setia Asih, Tarumajaya: a second kecamatan."""
    return card_row(i, nik=make_nik(i, kec="321601"), nama=f"NYI SETIA ASIH {i}", nomor_blanko=f"BLS{i:07d}",
                    kelurahan="SETIA ASIH", kecamatan="TARUMAJAYA", kode_pos="17215")


@pytest.fixture
def run(app, client, runner, tmp_path):
    """8 cards printed: 7 handed to the courier (5 in Jatimulya, 2 in Setia Asih), then 4 delivered, 2 returned
    (moved, deceased) and 1 still with the courier; the 8th, of a second print run, damaged at sorting."""
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = SECRET
    numbers = handed_over(app, runner, tmp_path, [card_row(i) for i in range(1, 6)] + [setia_asih(101),
                                                                                        setia_asih(102)])
    assert len(numbers) == 7
    late = write_csv(tmp_path / "late.csv", [card_row(8)])
    assert cli(runner, "import", str(late)).exit_code == 0
    assert cli(runner, "sorting", "damaged", "BLK0000008", "--reason", "tergores").exit_code == 0
    events = [event(n, "DELIVERED", NOW, f"d{i}", recipient={"name": "X", "relationship": "SELF"})
              for i, n in enumerate(numbers[:4])]
    events += [event(numbers[4], "RETURNED", NOW, "r1", reason_code="MOVED"),
               event(numbers[5], "RETURNED", NOW, "r2", reason_code="DECEASED")]
    assert post_events(client, events).status_code == 200
    return app


def fig_of(app, filters: Filters | None = None) -> dict:
    with app.app_context(), unit_of_work() as s:
        return figures(s, s.scalar(select(Office)), filters or Filters())


def build(app, maker, filters: Filters | None = None) -> bytes:
    with app.app_context(), unit_of_work() as s:
        return maker(s, s.scalar(select(Office)), filters)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


# --- the paragraph -------------------------------------------------------------------------------------------------


def test_the_paragraph_gives_each_figure_in_figures_and_words(run):
    fig = fig_of(run)
    assert (fig["printed"], fig["sent"], fig["delivered"], fig["returned"], fig["at_courier"]) == (8, 7, 4, 2, 1)
    text = summary_paragraph(fig)
    pairs = FIGURE_AND_WORDS.findall(text)
    assert pairs and all(terbilang(int(figure.replace(".", ""))) == words for figure, words in pairs)
    for phrase in (f"dari {counted(8)} keping e-KTP yang dicetak", f"{counted(1)} rusak",
                   f"{counted(7)} dikirim melalui PT Pos", f"{counted(4)} atau 57,1\u00a0% telah diterima pemiliknya",
                   f"{counted(1)} masih dalam pengantaran", f"{counted(2)} atau 28,6\u00a0% dikembalikan kurir",
                   f"pemilik meninggal dunia {counted(1)}", f"pindah alamat {counted(1)}"):
        assert phrase in text, phrase
    assert "delapan" in text and "cetak ganda" not in text  # nothing of the sort: not named


def test_the_paragraph_follows_the_figures_it_is_given():
    steps = dict.fromkeys(("DAMAGED", "DUPLICATE", "WITHDRAWN", "ADDRESS_UNCLEAR", "WAITING"), 0)
    steps.update(DAMAGED=202, DUPLICATE=91, WITHDRAWN=345)
    fig = {"as_of": "2026-12-01", "printed": 132289, "sent": 131651, "delivered": 127601, "at_courier": 2748,
           "returned": 1302, "delivery_rate_pct": 96.9, "return_rate_pct": 1.0, "handed_at_kelurahan": 900,
           "funnel": [{"key": k, "count": n} for k, n in steps.items()],
           "returns_by_reason": [{"reason": "MOVED", "label": "Pindah alamat", "cards": 1000},
                                 {"reason": "DECEASED", "label": "Meninggal dunia", "cards": 302}]}
    text = summary_paragraph(fig)
    assert text.startswith("Sampai dengan 1 Desember 2026, dari 132.289 (seratus tiga puluh dua ribu dua ratus "
                           "delapan puluh sembilan) keping e-KTP yang dicetak, 202 (dua ratus dua) rusak, 91 "
                           "(sembilan puluh satu) cetak ganda dan 345 (tiga ratus empat puluh lima) ditarik ke "
                           "kelurahan; 131.651 (")
    assert ": karena pindah alamat 1.000 (seribu) dan pemilik meninggal dunia 302 (tiga ratus dua)." in text
    assert text.endswith("900 (sembilan ratus) telah diserahkan kepada pemiliknya di kelurahan.")
    empty = summary_paragraph({**fig, "printed": 0})
    assert empty == "Sampai dengan 1 Desember 2026 belum ada keping e-KTP yang dicetak untuk dikirim melalui pos."


# --- PDF -----------------------------------------------------------------------------------------------------------


def test_the_pdf_holds_the_letterhead_the_paragraph_and_the_kecamatan(run):
    data = build(run, regent_pdf)
    reader = PdfReader(io.BytesIO(data))
    text = flat(pdf_text(data))
    for phrase in ("PEMERINTAH KABUPATEN BEKASI", "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL",
                   "Laporan Pengiriman e-KTP melalui Pos", f"Keadaan per {tanggal(today_local())}",
                   "Bupati Bekasi", "Ketua DPRD Kabupaten Bekasi", "8 (delapan) keping", "7 (tujuh) dikirim",
                   "Tambun Selatan", "Tarumajaya", "Pindah alamat", "Meninggal dunia", "Kepala Dinas", "NIP.",
                   "antar regions load-geo", "Dokumen ini tidak memuat data pribadi.",
                   f"Halaman 1 dari {len(reader.pages)}"):
        assert phrase in text, phrase
    # the kecamatan table's total row: printed, sent, delivered, %, returned, with the courier, handed over
    assert "Jumlah 8 7 4 57,1 % 2 1 0" in text
    assert reader.metadata.title.startswith("Laporan Pengiriman e-KTP melalui Pos")


def test_the_pdf_is_as_at_the_end_of_the_day_asked_for(run):
    yesterday = today_local() - dt.timedelta(days=1)
    data = build(run, regent_pdf, Filters(until=yesterday))
    text = flat(pdf_text(data))
    assert f"Keadaan per {tanggal(yesterday)}" in text
    # every card was printed today: as at the end of yesterday there was none
    assert "belum ada keping e-KTP yang dicetak" in text and "8 (delapan)" not in text
    assert f"Keadaan per {tanggal(today_local())}" not in text


def test_the_pdf_maps_the_kelurahan_once_geometry_is_loaded(run, runner, tmp_path):
    centroids = tmp_path / "centroids.csv"
    centroids.write_text("kode,lat,lng\n32.16.06.1001,-6.267122,107.0291\n32.16.01.2001,-6.1,107.0\n")
    assert cli(runner, "regions", "load-geo", str(centroids)).exit_code == 0
    text = flat(pdf_text(build(run, regent_pdf)))
    assert "antar regions load-geo" not in text
    assert f"Tingkat terkirim, keadaan per {tanggal(today_local())}" in text and "tidak ada kartu" in text


# --- XLSX ----------------------------------------------------------------------------------------------------------


def test_the_workbook_has_every_sheet_and_its_totals_are_the_figures(run):
    fig = fig_of(run)
    wb = load_workbook(io.BytesIO(build(run, regent_xlsx)))
    assert wb.sheetnames == ["Ringkasan", "Kecamatan", "Kelurahan", "Alasan kembali", "Per hari", "Keterangan"]
    assert wb["Keterangan"]["A2"].value == "Dokumen ini tidak memuat data pribadi."

    summary = wb["Ringkasan"]
    assert summary["A7"].value == summary_paragraph(fig).replace("\u00a0", " ")
    assert summary["B3"].value.date() == today_local()
    funnel = {row[0]: row[1:3] for row in summary.iter_rows(min_row=11, values_only=True)}
    assert funnel["Dicetak"] == (8, None) and funnel["Terkirim ke pemilik"] == (4, pytest.approx(4 / 7, abs=1e-3))

    kec = wb["Kecamatan"]
    header = [c.value for c in kec[1]]
    assert header[:9] == ["Kode wilayah", "Kecamatan", "Dicetak", "Dikirim", "Terkirim", "% terkirim", "Dikembalikan",
                          "Di kurir", "Diserahkan di kelurahan"]
    rows = list(kec.iter_rows(min_row=2, values_only=True))
    body, total = rows[:-1], rows[-1]
    assert [r[1] for r in body] == ["Tambun Selatan", "Tarumajaya"]  # by name
    assert total[1] == "Jumlah"
    expected = (fig["printed"], fig["sent"], fig["delivered"], fig["delivery_rate_pct"] / 100, fig["returned"],
                fig["at_courier"], fig["handed_at_kelurahan"])
    assert total[2:9] == pytest.approx(expected)
    for column in (2, 3, 4, 6, 7, 8):
        assert sum(r[column] for r in body) == total[column]
    assert kec.freeze_panes == "C2" and kec["C1"].font.bold and kec["C2"].number_format == "#,##0"
    assert kec["F2"].number_format == "0.0%"

    kel = {r[2]: r for r in wb["Kelurahan"].iter_rows(min_row=2, values_only=True)}
    jatimulya = next(a for a in fig["by_kelurahan"] if a["nama"] == "Jatimulya")
    assert kel["Jatimulya"][:6] == ("32.16.06.1001", "Tambun Selatan", "Jatimulya", 6, 5, jatimulya["terkirim"])
    assert kel["Jatimulya"][6] == pytest.approx(jatimulya["tingkat_terkirim_pct"] / 100)
    reasons = {r[1]: r[2] for r in wb["Alasan kembali"].iter_rows(min_row=2, values_only=True)}
    assert reasons == {"MOVED": 1, "DECEASED": 1, None: 2}  # None: the total row
    days = list(wb["Per hari"].iter_rows(min_row=2, values_only=True))
    assert days[-1] == ("Jumlah", 4, 2, 0) and days[-2][0].date() == today_local()


def test_the_workbook_is_as_at_the_end_of_the_day_asked_for(run):
    yesterday = today_local() - dt.timedelta(days=1)
    wb = load_workbook(io.BytesIO(build(run, regent_xlsx, Filters(until=yesterday))))
    assert wb["Ringkasan"]["B3"].value.date() == yesterday
    assert list(wb["Kecamatan"].iter_rows(min_row=2, values_only=True))[-1][2:5] == (0, 0, 0)
