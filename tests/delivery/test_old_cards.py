"""Old cards (courier contract 6.1/6.2): collected on delivery, received at the office (the courier's annotation or a
clerk), destroyed with a numbered Berita Acara Pemusnahan; the reconciliation's "old_cards" section adds up."""

from __future__ import annotations

import datetime as dt
import io
import json

import pypdf
import pytest
from helpers import card_row, cli, make_nik
from sqlalchemy import func, select, update
from tracking import WIB, event, handed_over, post_events

from app.cards import Card, CardState
from app.db import unit_of_work
from app.filters import mask_nik
from app.models import Office
from app.report import SECTIONS
from delivery.money_models import OldCard, OldCardDestruction
from delivery.oldcards import sync_old_cards
from manifests.models import ManifestItem

T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=WIB)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def office_of(s):
    return s.scalar(select(Office))


@pytest.fixture
def flow(webhook_app, runner, tmp_path) -> dict[str, str]:
    """Six cards on a handed-over manifest, by blanko number -> tracking number. BLK1-3 must surrender the old card:
    BLK1 and BLK2 were delivered with it, BLK3 without (the courier delivered anyway). BLK4 delivered, no old card
    required; BLK5 still on its way (its old card to be taken); BLK6 on its way, nothing required."""
    handed_over(webhook_app, runner, tmp_path, [card_row(i) for i in range(1, 7)])
    with webhook_app.app_context(), unit_of_work() as s:
        rows = s.execute(select(Card.nomor_blanko, ManifestItem.tracking_number)
                         .join(ManifestItem, ManifestItem.card_id == Card.id)).all()
        numbers = {b: t for b, t in rows}
        # What the manifest build copies from the card (intake column tarik_ktp_lama).
        s.execute(update(ManifestItem).where(ManifestItem.tracking_number.in_(
            [numbers[f"BLK{i:07d}"] for i in (1, 2, 3, 5)])).values(collect_old_card=True))

    def delivered(i: int, **extra) -> dict:
        return event(numbers[f"BLK{i:07d}"], "DELIVERED", T0, f"d{i}",
                     recipient={"name": f"WARGA NOMOR {i}", "relationship": "SELF"}, **extra)

    answer = post_events(webhook_app.test_client(), [
        delivered(1, old_card_collected=True), delivered(2, old_card_collected=True), delivered(3), delivered(4)],
        msg_id="deliveries")
    assert {r["result"] for r in answer.json["results"]} == {"applied"}, answer.json
    with webhook_app.app_context(), unit_of_work() as s:  # the fold (delivery/service.py) keeps what was collected
        assert s.scalar(select(ManifestItem.old_card_collected)
                        .where(ManifestItem.tracking_number == numbers["BLK0000001"])) is True
    return numbers


def blk(i: int) -> str:
    return f"BLK{i:07d}"


def section(app) -> dict:
    with app.app_context(), unit_of_work() as s:
        return SECTIONS["old_cards"](s, office_of(s))


def old_card(app, blanko: str) -> OldCard | None:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(OldCard).join(Card, Card.id == OldCard.card_id).where(Card.nomor_blanko == blanko))


def test_an_old_card_goes_from_collected_to_received_to_destroyed_with_its_berita_acara(webhook_app, staff, flow):
    page = staff.get("/kartu-lama")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert blk(1) in text and blk(2) in text and blk(3) not in text and blk(4) not in text
    assert mask_nik(make_nik(1)) in text and make_nik(1) not in text
    assert old_card(webhook_app, blk(1)).received_at is None
    assert section(webhook_app) | {"checks": None} == {
        "required": 3, "required_collected": 2, "not_surrendered": 1, "collected": 2, "in_transit": 2,
        "received": 0, "awaiting_destruction": 0, "destroyed": 0, "outstanding": 2, "destructions": 0,
        "pending_delivery": 1, "checks": None, "balanced": True}

    # the courier says BLK1's old card reached the office
    annotation = event(flow[blk(1)], "OLD_CARD_RECEIVED", T0 + dt.timedelta(days=3), "oc1",
                       old_card={"received_by": "SRI (loket arsip)"})
    assert post_events(staff, [annotation], msg_id="oc").json["results"][0]["result"] not in ("rejected", "duplicate")
    staff.get("/kartu-lama")
    first = old_card(webhook_app, blk(1))
    assert first.received_at == T0 + dt.timedelta(days=3) and first.received_by == "SRI (loket arsip)"
    assert first.receipt_source == "courier"

    # BLK2's annotation never comes: a clerk records it by the new card's blanko number
    refused = staff.post("/kartu-lama/terima", data={"blanko_text": f"{blk(2)}\n{blk(4)}\nBLK9999999\n{blk(5)}"})
    assert refused.status_code == 422
    message = refused.get_data(as_text=True)
    assert f"{blk(4)}: pengantarannya tidak menarik KTP lama" in message
    assert "BLK9999999: tidak ada di kantor ini" in message and f"{blk(5)}: belum terkirim" in message
    assert old_card(webhook_app, blk(2)).received_at is None  # all or nothing
    done = staff.post("/kartu-lama/terima", data={"blanko_text": f"{blk(2)}, {blk(1)}"}, follow_redirects=True)
    assert done.status_code == 200 and "1 KTP lama dicatat diterima" in done.get_data(as_text=True)
    assert f"Sudah tercatat diterima sebelumnya: {blk(1)}" in done.get_data(as_text=True)
    second = old_card(webhook_app, blk(2))
    assert (second.received_by, second.receipt_source, second.receipt_recorded_by) == ("staf", "staff", "staf")
    assert old_card(webhook_app, blk(1)).receipt_source == "courier"  # unchanged

    # BLK3 was delivered without the old card: a clerk who has it in hand records it anyway (it was required)
    assert staff.post("/kartu-lama/terima", data={"blanko_text": blk(3), "received_by": "ANDI"}).status_code == 302
    assert old_card(webhook_app, blk(3)).received_by == "ANDI"
    r = section(webhook_app)
    assert (r["required"], r["required_collected"], r["not_surrendered"]) == (3, 3, 0)
    assert (r["collected"], r["in_transit"], r["received"], r["awaiting_destruction"]) == (3, 0, 3, 3)

    # destruction: the witness is required, then all that wait
    no_witness = staff.post("/kartu-lama/musnahkan", data={"mode": "all", "witness_name": "",
                                                          "witness_position": "Kasi", "place": "Gudang arsip"})
    assert no_witness.status_code == 422 and "Nama saksi: wajib diisi" in no_witness.get_data(as_text=True)
    assert [old_card(webhook_app, blk(i)).destroyed_at for i in (1, 2, 3)] == [None, None, None]
    chosen = staff.post("/kartu-lama/musnahkan", data={
        "mode": "selected", "blanko": [blk(1), blk(2)], "witness_name": "DRS. HARTONO",
        "witness_position": "Kepala Seksi Pengelolaan Informasi", "place": "Halaman belakang kantor Disdukcapil"})
    assert chosen.status_code == 302
    with webhook_app.app_context(), unit_of_work() as s:
        d = s.scalar(select(OldCardDestruction))
        assert d.number.startswith("BAP-3216-") and d.number.endswith("-0001") and d.card_count == 2
        assert (d.destroyed_by, d.witness_name) == ("staf", "DRS. HARTONO")
    assert chosen.headers["Location"].endswith(f"/kartu-lama/pemusnahan/{d.id}")
    detail = staff.get(f"/kartu-lama/pemusnahan/{d.id}").get_data(as_text=True)
    assert d.number in detail and blk(1) in detail and blk(2) in detail and blk(3) not in detail
    pdf = staff.get(f"/kartu-lama/pemusnahan/{d.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    for expected in (blk(1), blk(2), "DRS. HARTONO", "Kepala Seksi Pengelolaan Informasi", d.number,
                     "BERITA ACARA PEMUSNAHAN", "WARGA NOMOR 1", mask_nik(make_nik(2)), "Saksi", "staf"):
        assert expected in text, expected
    assert blk(3) not in text and make_nik(1) not in text and make_nik(2) not in text
    assert "Memuat data pribadi" in text

    # a card cannot be destroyed twice, nor one not yet received
    twice = staff.post("/kartu-lama/musnahkan", data={"mode": "selected", "blanko_text": blk(1),
                                                      "witness_name": "X", "witness_position": "Y", "place": "Z"})
    assert twice.status_code == 422 and f"{blk(1)}: sudah dimusnahkan ({d.number})" in twice.get_data(as_text=True)
    listed = staff.get("/kartu-lama?status=DESTROYED").get_data(as_text=True)
    assert blk(1) in listed and blk(2) in listed and d.number in listed
    rest = staff.post("/kartu-lama/musnahkan", data={"mode": "all", "witness_name": "DRS. HARTONO",
                                                     "witness_position": "Kasi", "place": "Gudang"})
    assert rest.status_code == 302
    nothing = staff.post("/kartu-lama/musnahkan", data={"mode": "all", "witness_name": "DRS. HARTONO",
                                                        "witness_position": "Kasi", "place": "Gudang"})
    assert nothing.status_code == 422 and "menunggu dimusnahkan" in nothing.get_data(as_text=True)
    r = section(webhook_app)
    assert (r["collected"], r["received"], r["destroyed"], r["outstanding"], r["destructions"]) == (3, 3, 3, 0, 2)
    assert r["balanced"] and all(r["checks"].values())
    with webhook_app.app_context(), unit_of_work() as s:  # the new cards themselves are untouched
        assert set(s.scalars(select(Card.state).where(Card.nomor_blanko.in_([blk(1), blk(2), blk(3)])))) == {
            CardState.DELIVERED}


def test_the_register_is_built_idempotently(webhook_app, flow):
    with webhook_app.app_context(), unit_of_work() as s:
        first = sync_old_cards(s, office_of(s))
    with webhook_app.app_context(), unit_of_work() as s:
        second = sync_old_cards(s, office_of(s))
        count = s.scalar(select(func.count()).select_from(OldCard))
    assert (first.registered, second.registered, second.received, count) == (2, 0, 0, 2)


def test_an_annotation_alone_says_the_old_card_was_collected(webhook_app, staff, flow):
    """BLK3 was delivered without `old_card_collected`; the courier's OLD_CARD_RECEIVED later says otherwise."""
    annotation = event(flow[blk(3)], "OLD_CARD_RECEIVED", T0 + dt.timedelta(days=2), "oc3",
                       old_card={"received_by": "SRI"})
    assert post_events(staff, [annotation], msg_id="oc3").json["results"][0]["result"] not in ("rejected", "duplicate")
    r = section(webhook_app)  # right before any sync
    assert (r["required_collected"], r["not_surrendered"], r["collected"], r["received"]) == (3, 0, 3, 1)
    assert r["balanced"]
    staff.get("/kartu-lama")
    assert old_card(webhook_app, blk(3)).received_by == "SRI"


def test_the_commands(webhook_app, runner, tmp_path, flow):
    listed = cli(runner, "old-cards", "list", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert {c["nomor_blanko"] for c in data["old_cards"]} == {blk(1), blk(2)}
    assert {c["status"] for c in data["old_cards"]} == {"IN_TRANSIT"} and data["figures"]["in_transit"] == 2
    assert make_nik(1) not in listed.output
    refused = runner.invoke(args=["old-cards", "receive", blk(4)])
    assert refused.exit_code != 0 and "tidak menarik KTP lama" in refused.output
    assert cli(runner, "old-cards", "receive", blk(1), blk(2), "--received-by", "GUDANG").exit_code == 0
    no_choice = runner.invoke(args=["old-cards", "destroy", "--witness", "A", "--witness-position", "B",
                                    "--place", "C"])
    assert no_choice.exit_code != 0
    pdf = tmp_path / "bap.pdf"
    destroyed = cli(runner, "old-cards", "destroy", "--all", "--witness", "IR. SUKMA", "--witness-position",
                    "Sekretaris Dinas", "--place", "Kantor Disdukcapil", "--pdf", str(pdf))
    assert destroyed.exit_code == 0, destroyed.output
    assert "2 KTP lama dimusnahkan" in destroyed.output
    text = pdf_text(pdf.read_bytes())
    assert blk(1) in text and blk(2) in text and "IR. SUKMA" in text
    listed = json.loads(cli(runner, "old-cards", "list", "--status", "DESTROYED", "--json").output)
    assert len(listed["old_cards"]) == 2 and listed["figures"]["destroyed"] == 2


def test_unknown_destructions_are_404_the_register_is_searched_and_bad_input_is_named(webhook_app, staff, flow):
    staff.get("/kartu-lama")
    assert staff.get("/kartu-lama/pemusnahan/999").status_code == 404
    assert staff.get("/kartu-lama/pemusnahan/999.pdf").status_code == 404
    assert staff.get("/kartu-lama?status=NOPE").status_code == 400
    page = staff.get(f"/kartu-lama?q={blk(2)}").get_data(as_text=True)
    assert blk(2) in page and blk(1) not in page
    page = staff.get("/kartu-lama?q=nomor 1").get_data(as_text=True)
    assert blk(1) in page and blk(2) not in page
    page = staff.get("/kartu-lama?status=RECEIVED").get_data(as_text=True)
    assert blk(1) not in page and "Tidak ada KTP lama yang cocok" in page
    nul = staff.post("/kartu-lama/terima", data={"blanko_text": f"{blk(1)} BLK\x000002"})
    assert nul.status_code == 422 and "Nomor blanko ke-2" in nul.get_data(as_text=True)
    nul = staff.post("/kartu-lama/terima", data={"blanko_text": blk(1), "received_by": "SRI\x00"})
    assert nul.status_code == 422 and "Diterima oleh: berisi karakter kendali" in nul.get_data(as_text=True)
    staff.post("/kartu-lama/terima", data={"blanko_text": blk(1)})
    nul = staff.post("/kartu-lama/musnahkan", data={"mode": "all", "witness_name": "A", "witness_position": "B\x00",
                                                   "place": "C"})
    assert nul.status_code == 422 and "Jabatan saksi: berisi karakter kendali" in nul.get_data(as_text=True)
