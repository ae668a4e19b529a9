"""Cash on delivery and the old card on the manifest (courier contract 6.1): the item body carries `cod` and
`collect_old_card` only when they apply, the items keep what their card asked at build, and the Berita Acara, CSV and
XLSX show the fee and the old-card rule per item and the COD total of the manifest."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pypdf
import pytest
from helpers import HEADER, card_row, cli, write_csv
from openpyxl import load_workbook
from sqlalchemy import select

from app.cards import Actor
from app.courier import manifest as courier
from app.courier.client import CourierClient
from app.courier.s10 import tracking_number
from app.db import unit_of_work
from courier_sim.server import CourierSimulator
from courier_sim.validation import validate_manifest
from manifests import handover
from manifests.documents import (
    COLUMNS,
    ROWS_FIRST_PAGE,
    ROWS_PER_PAGE,
    DocItem,
    ManifestDoc,
    cod_totals,
    handover_pdf,
    items_csv,
    items_xlsx,
    service_note,
)
from manifests.models import Manifest, ManifestItem

COD_HEADER = [*HEADER, "layanan", "biaya_antar", "tarik_ktp_lama"]
ADDRESS = courier.Address(street="JL. RAYA JATIMULYA NO. 1", rt="003", rw="005", kelurahan="JATIMULYA",
                          kecamatan="TAMBUN SELATAN", kabupaten_kota="KABUPATEN BEKASI", provinsi="JAWA BARAT",
                          kode_pos="17510", kode_wilayah="32.16.06.1001")


def _order(*items: courier.Item) -> courier.ManifestOrder:
    return courier.ManifestOrder(number="MNF-3216-20261203-0001", office_title="Disdukcapil Kabupaten Bekasi",
                                 office_code="32.16", post_office_code="17510", post_office_name="KPC Tambun",
                                 created_at=dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC), items=items)


def _item(serial: int, **extra) -> courier.Item:
    return courier.Item(tracking_number=tracking_number("RB", 12_345_600 + serial), recipient_name=f"WARGA {serial}",
                        address=ADDRESS, **extra)


# --- the item body (contract 6.1) ---------------------------------------------------------------------------------


def test_an_item_carries_cod_and_the_old_card_only_when_they_apply():
    body = courier.manifest_payload(_order(
        _item(1, cod_amount=20000, collect_old_card=True),
        _item(2, cod_amount=15000, collect_old_card=False),
        _item(3, collect_old_card=True),
        _item(4),
        _item(5, cod_amount=None, collect_old_card=False, phone="081234567890"),
    ))
    items = body["items"]
    assert items[0]["cod"] == {"amount": 20000, "currency": "IDR"} and items[0]["collect_old_card"] is True
    assert items[1]["cod"] == {"amount": 15000, "currency": "IDR"} and items[1]["collect_old_card"] is False
    assert "cod" not in items[2] and items[2]["collect_old_card"] is True
    for ordinary in items[3:]:  # exactly what section 2 describes: a side that does not use 6.1 sees nothing new
        assert "cod" not in ordinary and "collect_old_card" not in ordinary
    assert set(items[3]) == {"tracking_number", "recipient_name", "address"}
    # the courier's side (the simulator checks the contract) takes every one of them
    assert validate_manifest(body, accepted_elsewhere={}) == []


# --- the build copies what the card asks to its item; the courier gets it ----------------------------------------


@pytest.fixture
def built(app, runner, tmp_path):
    rows = [card_row(1, layanan="COD", biaya_antar="20000"),
            card_row(2, layanan="COD", biaya_antar="35000", tarik_ktp_lama="N"),
            card_row(3, tarik_ktp_lama="Y"),
            card_row(4)]
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows, header=COD_HEADER))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(Manifest.id))


EXPECTED = {"BLK0000001": (20000, True), "BLK0000002": (35000, False), "BLK0000003": (None, True),
            "BLK0000004": (None, False)}


def test_the_build_copies_the_fee_and_the_old_card_rule_to_the_items(app, built):
    from app.cards import Card

    with app.app_context(), unit_of_work() as s:
        items = {b: (amount, old) for b, amount, old in s.execute(
            select(Card.nomor_blanko, ManifestItem.cod_amount, ManifestItem.collect_old_card)
            .join(Card, Card.id == ManifestItem.card_id))}
    assert items == EXPECTED


def test_the_courier_payload_and_the_documents_of_a_built_manifest(app, staff, built):
    """Needs manifests/handover.py to pass the item's cod_amount/collect_old_card to courier_manifest.Item and
    DocItem (courier_payload, manifest_document, doc_item)."""
    from app.cards import Card
    from app.models import Office

    with app.app_context(), unit_of_work() as s:
        body = handover.courier_payload(s, s.scalar(select(Office)), s.get(Manifest, built))
        names = dict(s.execute(select(Card.nama, Card.nomor_blanko)).all())
    by_blanko = {names[item["recipient_name"]]: item for item in body["items"]}
    assert by_blanko["BLK0000001"]["cod"] == {"amount": 20000, "currency": "IDR"}
    assert by_blanko["BLK0000001"]["collect_old_card"] is True
    assert by_blanko["BLK0000002"]["collect_old_card"] is False
    assert "cod" not in by_blanko["BLK0000003"] and by_blanko["BLK0000003"]["collect_old_card"] is True
    assert "cod" not in by_blanko["BLK0000004"] and "collect_old_card" not in by_blanko["BLK0000004"]
    assert validate_manifest(body, accepted_elsewhere={}) == []
    # PT Pos on loopback takes the manifest (it checks section 6.1 too)
    with CourierSimulator(api_token="tok") as sim, app.app_context():
        with unit_of_work() as s:
            code = s.scalar(select(Office.code))
        answer = handover.hand_over(code, built, Actor("staf"), CourierClient(sim.url, "tok")).answer
        [received] = sim.manifests.values()
    assert answer.ok, answer.summary()
    assert sorted(item.get("cod", {}).get("amount", 0) for item in received.body["items"]) == [0, 0, 20000, 35000]
    rows = list(csv.DictReader(io.StringIO(staff.get(f"/manifest/{built}/items.csv").data.decode("utf-8-sig"))))
    assert sorted((r["cod_amount"], r["collect_old_card"]) for r in rows) == [
        ("", "N"), ("", "Y"), ("20000", "Y"), ("35000", "N")]
    text = " ".join(pypdf.PdfReader(io.BytesIO(staff.get(f"/manifest/{built}/berita-acara.pdf").data))
                    .pages[0].extract_text().split())
    assert "2 kiriman COD, jumlah Rp 55.000" in text and "COD Rp 20.000 + KTP lama" in text


# --- the documents ------------------------------------------------------------------------------------------------


def _doc_item(seq: int, **extra) -> DocItem:
    values = dict(seq=seq, tracking_number=tracking_number("RB", 12_340_000 + seq * 7),
                  recipient_name=f"WARGA NOMOR {seq}", street=f"JL. RAYA JATIMULYA NO. {seq}", rt="003", rw="005",
                  kelurahan="JATIMULYA", kecamatan="TAMBUN SELATAN", kode_pos="17510", kode_wilayah="32.16.06.1001",
                  phone=None, lat=None, lng=None)
    return DocItem(**{**values, **extra})


def _doc(items: tuple[DocItem, ...]) -> ManifestDoc:
    return ManifestDoc(office_title="Disdukcapil Kabupaten Bekasi", office_code="32.16",
                       kabupaten_kota="KABUPATEN BEKASI", provinsi="JAWA BARAT",
                       manifest_number="MNF-3216-20261203-0001", post_office_code="17510",
                       post_office_name="KPC Tambun",
                       created_at=dt.datetime(2026, 12, 3, 1, 30, tzinfo=dt.UTC),
                       finalized_at=dt.datetime(2026, 12, 3, 3, 5, tzinfo=dt.UTC), items=items)


def _pages(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_service_notes_and_totals():
    assert service_note(_doc_item(1, cod_amount=20000, collect_old_card=True)) == "COD Rp 20.000 + KTP lama"
    assert service_note(_doc_item(1, cod_amount=1_250_000)) == "COD Rp 1.250.000"
    assert service_note(_doc_item(1, collect_old_card=True)) == "Tarik KTP lama"
    assert service_note(_doc_item(1)) == ""
    totals = cod_totals((_doc_item(1, cod_amount=20000, collect_old_card=True), _doc_item(2, cod_amount=15000),
                         _doc_item(3, collect_old_card=True), _doc_item(4)))
    assert (totals.items, totals.amount, totals.old_cards) == (2, 35000, 2)


LONG_NAME = "SITI NURHALIZA BINTI MUHAMMAD ABDURRAHMAN WAHYUDIHARJOSUMANTRINEGORO AL-FARUQI SEKARWANGI PUSPITASARI"


def test_the_berita_acara_shows_each_fee_the_old_card_rule_and_the_cod_total():
    # 500 items, every one COD with the old card and a long name on every 9th: the rows keep their height, so each
    # page still holds its own stretch of the round.
    items = tuple(_doc_item(seq, cod_amount=20000, collect_old_card=True,
                            **({"recipient_name": LONG_NAME} if seq % 9 == 0 else {})) for seq in range(1, 501))
    pages = _pages(handover_pdf(_doc(items)))
    bounds = [0, ROWS_FIRST_PAGE, *range(ROWS_FIRST_PAGE + ROWS_PER_PAGE, 500, ROWS_PER_PAGE), 500]
    for page, (start, end) in enumerate(zip(bounds, bounds[1:], strict=False)):
        shown = re.findall(r"RB\d{9}ID", pages[page].replace(" ", ""))
        assert shown == [item.tracking_number for item in items[start:end]], page
        assert pages[page].count("COD Rp 20.000 + KTP lama") == end - start, page
    first, last = pages[0], pages[-1]
    assert "500 kiriman COD, jumlah Rp 10.000.000" in first
    assert "500 kiriman wajib menyerahkan KTP lama" in first
    assert "JUMLAH TOTAL 500" in last and "BIAYA COD (500 kiriman) Rp 10.000.000" in last
    assert "seluruhnya Rp 10.000.000 (sepuluh juta rupiah)" in last
    assert "kartu baru hanya diserahkan setelah penerima menyerahkan KTP-el lamanya" in last
    assert last.index("BIAYA COD") < last.index("Yang menyerahkan")


def test_an_ordinary_manifest_says_nothing_of_cod():
    text = " ".join(_pages(handover_pdf(_doc(tuple(_doc_item(seq) for seq in range(1, 6))))))
    assert "COD" not in text and "KTP lama" not in text


def test_a_mixed_manifest_totals_only_the_cod_items():
    items = (_doc_item(1, cod_amount=20000, collect_old_card=True), _doc_item(2, cod_amount=35000),
             _doc_item(3, collect_old_card=True), _doc_item(4))
    text = " ".join(_pages(handover_pdf(_doc(items))))
    assert "2 kiriman COD, jumlah Rp 55.000" in text and "2 kiriman wajib menyerahkan KTP lama" in text
    assert "COD Rp 35.000" in text and "Tarik KTP lama" in text
    assert "BIAYA COD (2 kiriman) Rp 55.000" in text
    only_old = " ".join(_pages(handover_pdf(_doc((_doc_item(1, collect_old_card=True), _doc_item(2))))))
    assert "1 kiriman wajib menyerahkan KTP lama" in only_old and "BIAYA COD" not in only_old


def test_csv_and_xlsx_carry_the_fee_and_the_old_card_rule():
    items = (_doc_item(1, cod_amount=20000, collect_old_card=True), _doc_item(2, collect_old_card=True),
             _doc_item(3))
    rows = list(csv.DictReader(io.StringIO(items_csv(_doc(items)).decode("utf-8-sig"))))
    assert list(rows[0]) == list(COLUMNS) and COLUMNS[-2:] == ("cod_amount", "collect_old_card")
    assert [(r["cod_amount"], r["collect_old_card"]) for r in rows] == [("20000", "Y"), ("", "Y"), ("", "N")]
    book = load_workbook(io.BytesIO(items_xlsx(_doc(items))))
    sheet = book["Manifest"]
    col = {name: index for index, name in enumerate(COLUMNS)}
    values = [(row[col["cod_amount"]], row[col["collect_old_card"]]) for row in sheet.iter_rows(min_row=2,
                                                                                                 values_only=True)]
    assert values == [(20000, "Y"), (None, "Y"), (None, "N")]
    info = dict(book["Info"].iter_rows(values_only=True))
    assert (info["Kiriman COD"], info["Jumlah biaya COD (rupiah)"], info["Wajib serahkan KTP lama"]) == (1, 20000, 2)
