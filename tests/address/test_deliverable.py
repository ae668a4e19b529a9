"""Deliverable addresses only: a card whose street part is empty or a temporary entry never goes on a manifest. Intake
holds it in the review queue with its own reason (even when its kelurahan is clear), a clerk's correction with such a
street is refused naming the street, and a card whose address cannot be completed waits for collection at its
kelurahan (FOR_COLLECTION), goes there in a handover batch, and its holder gets a letter."""

from __future__ import annotations

import io

import pypdf
import pytest
from helpers import card_row, cli, login, make_nik, make_user, write_csv
from sqlalchemy import select, update

from address.normalize import FLAG_LABELS, Flag, is_placeholder_street
from app.cards import Actor, Card, CardHistory, CardState
from app.db import unit_of_work
from app.filters import mask_nik
from app.models import Office, Role
from manifests.models import ManifestEvent, ManifestItem
from returns import service as returns
from returns.models import HandoverItem
from returns.service import COLLECTION_REASON, Scope

JATIMULYA = "32.16.06.1001"
LAMBANGSARI = "32.16.06.2002"
STAFF = Actor("staf")
# Streets the postman cannot find, as registers write them: the kelurahan columns are clear.
PLACEHOLDER_ALAMAT = ["BELUM ADA", "TIDAK DIKETAHUI", "-", "--", "TIDAK ADA", "BLM ADA", "?", "XXX", "0", "tdk ada.",
                      "Belum Ada, Jatimulya", "TIDAK DIKETAHUI DESA JATIMULYA", "JL. -", "NO. 0", "KEL. JATIMULYA"]


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def _import(runner, tmp_path, rows, name="run.csv"):
    result = cli(runner, "import", str(write_csv(tmp_path / name, rows)))
    assert result.exit_code == 0, result.output
    return result


def _card(app, blanko: str) -> Card:
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card).where(Card.nomor_blanko == blanko))
        card.history  # noqa: B018  (load before the session closes)
        return card


def _office(s) -> Office:
    return s.scalar(select(Office))


# --- what a placeholder street is --------------------------------------------------------------------------------


@pytest.mark.parametrize("street", [None, "", " ", "-", "--", "?", "...", "0", "00", "XXX", "x", "BELUM ADA",
                                    "belum ada", "Blm. Ada", "TIDAK DIKETAHUI", "Tidak Ada!", "TDK TAHU",
                                    "ALAMAT TIDAK DIKETAHUI", "JL. -", "JL", "KP. ?", "NO. 0", "BELUM ADA NO. 0",
                                    "(belum ada)", "N/A", "NULL"])
def test_placeholder_streets(street):
    assert is_placeholder_street(street)


@pytest.mark.parametrize("street", ["JL. RAYA JATIMULYA NO. 12", "KP. DUKUH", "GG. MAWAR 3", "BLOK C5 NO. 7",
                                    "PERUM GRIYA ASRI 2 BLOK C5 NO. 7", "NO. 5", "KP. SAWAH", "JL. ADA APA NO. 1",
                                    "DEKAT PASAR", "KOMP. PEMDA"])
def test_deliverable_streets(street):
    assert not is_placeholder_street(street)


def test_the_reason_has_its_own_label():
    assert FLAG_LABELS[Flag.PLACEHOLDER_STREET] == "Jalan/alamat hanya isian kosong"


# --- intake: to the review queue with its own reason, never onto a manifest ---------------------------------------


def test_a_placeholder_street_waits_in_the_queue_with_its_reason_even_when_the_kelurahan_is_clear(
        app, staff, runner, tmp_path):
    rows = [card_row(1)] + [card_row(i, alamat=alamat) for i, alamat in enumerate(PLACEHOLDER_ALAMAT, start=2)]
    result = _import(runner, tmp_path, rows)
    assert f"{len(PLACEHOLDER_ALAMAT)} alamat belum jelas" in result.output, result.output
    assert _card(app, "BLK0000001").state is CardState.READY
    for i, alamat in enumerate(PLACEHOLDER_ALAMAT, start=2):
        card = _card(app, f"BLK{i:07d}")
        assert card.state is CardState.ADDRESS_UNCLEAR, alamat
        assert card.address_flags.split(";")[0] == "PLACEHOLDER_STREET", (alamat, card.address_flags)
        assert card.address_candidate == JATIMULYA and card.kelurahan_code is None, alamat
        assert "Jalan/alamat hanya isian kosong" in card.history[0].reason, alamat
    # the queue groups them under their reason; the older reason PLACEHOLDER does not find them
    body = staff.get("/api/v1/address/review?alasan=PLACEHOLDER_STREET").get_json()
    assert body["total"] == len(PLACEHOLDER_ALAMAT)
    assert staff.get("/api/v1/address/review?alasan=PLACEHOLDER").get_json()["total"] == 0
    assert body["summary"] == [{"flag": "PLACEHOLDER_STREET", "label": "Jalan/alamat hanya isian kosong",
                                "kelurahan_code": JATIMULYA, "kelurahan": "Jatimulya, Kec. Tambun Selatan",
                                "count": len(PLACEHOLDER_ALAMAT)}]
    page = staff.get("/alamat").get_data(as_text=True)
    assert "Jalan/alamat hanya isian kosong" in page
    # the build takes only the deliverable card
    built = staff.post("/api/v1/manifests", json={"finalize": True})
    assert built.status_code == 201, built.get_json()
    assert [m["items"] for m in built.get_json()["manifests"]] == [1]
    with app.app_context(), unit_of_work() as s:
        on_manifests = set(s.scalars(select(Card.nomor_blanko).join(ManifestItem, ManifestItem.card_id == Card.id)))
    assert on_manifests == {"BLK0000001"}


def test_the_build_leaves_out_a_ready_card_whose_street_is_a_placeholder(app, staff, runner, tmp_path):
    """Belt and braces: however a card became ready with a placeholder street (data from before this rule, a repair
    by hand), the build leaves it out and says so."""
    _import(runner, tmp_path, [card_row(1), card_row(2, alamat="BELUM ADA, JATIMULYA"), card_row(3, alamat="-")])
    with app.app_context(), unit_of_work() as s:
        s.execute(update(Card).where(Card.nomor_blanko.in_(["BLK0000002", "BLK0000003"]))
                  .values(state=CardState.READY, address_status="CLEAR", kelurahan_code=JATIMULYA))
    preview = staff.get("/api/v1/manifests/preview").get_json()
    assert preview["total_items"] == 1
    assert preview["manifests"][0]["left_out"] == [{"nomor_blanko": "BLK0000002", "missing": ["jalan"]},
                                                   {"nomor_blanko": "BLK0000003", "missing": ["jalan"]}]
    built = staff.post("/api/v1/manifests", json={})
    assert built.status_code == 201
    [m] = built.get_json()["manifests"]
    assert m["items"] == 1
    with app.app_context(), unit_of_work() as s:
        notes = " ".join(s.scalars(select(ManifestEvent.note).where(ManifestEvent.manifest_id == m["id"])))
    assert "BLK0000002 (jalan kosong)" in notes and "BLK0000003 (jalan kosong)" in notes
    added = staff.post(f"/api/v1/manifests/{m['id']}/items/add", json={"nomor_blanko": ["BLK0000002"]})
    assert added.status_code in (400, 409, 422) and "jalan kosong" in added.get_json()["error"]["message"]
    assert _card(app, "BLK0000002").state is CardState.READY


# --- the clerk's correction --------------------------------------------------------------------------------------


@pytest.mark.parametrize("street", ["BELUM ADA", "tidak diketahui", "blm ada", "?", "XXX", "0", "NO. 0", "JL. -",
                                    "TIDAK ADA JATIMULYA", "-- rt 3 rw 5"])
def test_a_correction_with_a_placeholder_street_is_refused_naming_the_street(app, staff, runner, tmp_path, street):
    _import(runner, tmp_path, [card_row(2, alamat="BELUM ADA")])
    card_id = _card(app, "BLK0000002").id
    r = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": street,
                                                              "rt": "3", "rw": "5"})
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["error"]["fields"] == ["street"]
    assert "Jalan" in r.get_json()["error"]["message"] and "tidak dapat diantar" in r.get_json()["error"]["message"]
    assert _card(app, "BLK0000002").state is CardState.ADDRESS_UNCLEAR


def test_routing_to_the_kelurahan_for_collection_records_who_when_and_why(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, alamat="BELUM ADA"), card_row(3, alamat="-")])
    card_id = _card(app, "BLK0000002").id
    page = staff.post(f"/alamat/{card_id}", data={"kelurahan": JATIMULYA, "street": "", "rt": "", "rw": "",
                                                  "tujuan": "kelurahan", "note": "tinggal di bedeng proyek"},
                      follow_redirects=True).get_data(as_text=True)
    assert "dikirim ke kelurahan untuk diambil" in page
    # the queue page, after routing, links the letters of the kelurahan
    assert "Menunggu diambil di kelurahan" in page and f"/alamat/surat-ambil.pdf?kelurahan={JATIMULYA}" in page
    card = _card(app, "BLK0000002")
    assert card.state is CardState.FOR_COLLECTION and card.kelurahan_code == JATIMULYA
    last = card.history[-1]
    assert (last.from_state, last.to_state, last.actor) == (CardState.ADDRESS_UNCLEAR, CardState.FOR_COLLECTION,
                                                            "staf")
    assert "Alamat tidak dapat diantar: diambil di kelurahan Jatimulya" in last.reason
    assert "tinggal di bedeng proyek" in last.reason and last.at is not None and last.user_id is not None
    # the card's page links its letter and offers no second routing
    form = staff.get(f"/alamat/{card_id}").get_data(as_text=True)
    assert f"/alamat/surat-ambil/{card_id}.pdf" in form and 'value="kelurahan"' not in form
    # the API answers the same and gives the letter's address
    api = staff.post(f"/api/v1/address/review/{_card(app, 'BLK0000003').id}",
                     json={"kelurahan": JATIMULYA, "collect_at_kelurahan": True})
    assert api.status_code == 200 and api.get_json()["state"] == "FOR_COLLECTION"
    assert api.get_json()["collection_letter"] == f"/alamat/surat-ambil/{api.get_json()['id']}.pdf"
    again = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA,
                                                                  "collect_at_kelurahan": True})
    assert again.status_code == 422 and "sudah menunggu diambil" in again.get_json()["error"]["message"]
    # the reconciliation counts it, and still adds up
    report = cli(runner, "report", "--json")
    import json

    data = json.loads(report.output)
    assert data["balanced"] and data["by_state"]["FOR_COLLECTION"] == 2


def test_a_deliverable_address_found_later_sends_the_card_by_post_after_all(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, alamat="BELUM ADA")])
    card_id = _card(app, "BLK0000002").id
    assert staff.post(f"/api/v1/address/review/{card_id}",
                      json={"kelurahan": JATIMULYA, "collect_at_kelurahan": True}).status_code == 200
    refused = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "BELUM ADA",
                                                                    "rt": "1", "rw": "2"})
    assert refused.status_code == 422 and refused.get_json()["error"]["fields"] == ["street"]
    ok = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "GG. MAWAR NO. 3",
                                                               "rt": "1", "rw": "2", "note": "pemilik datang"})
    assert ok.status_code == 200 and ok.get_json()["state"] == "READY"
    history = _card(app, "BLK0000002").history
    assert [h.to_state for h in history] == [CardState.ADDRESS_UNCLEAR, CardState.FOR_COLLECTION, CardState.READY]


# --- the letter --------------------------------------------------------------------------------------------------


def test_the_letter_names_the_kelurahan_and_never_the_full_nik_or_street(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, alamat="TIDAK DIKETAHUI", nama="SITI & <AMINAH>"),
                               card_row(3, alamat="-", rt="007", rw="002"), card_row(4, alamat="BELUM ADA"),
                               card_row(5)])
    ids = {}
    for n in (2, 3):
        ids[n] = _card(app, f"BLK{n:07d}").id
        assert staff.post(f"/api/v1/address/review/{ids[n]}", json={
            "kelurahan": JATIMULYA, "collect_at_kelurahan": True}).status_code == 200
    r = staff.get(f"/alamat/surat-ambil/{ids[2]}.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert "attachment" in r.headers["Content-Disposition"] and "BLK0000002" in r.headers["Content-Disposition"]
    assert r.headers["X-Antar-Personal-Data"] == "nama, alamat"
    pages, text = pdf_text(r.data)
    assert pages == 1
    flat = " ".join(text.split())
    assert "Kantor Kelurahan Jatimulya, Kecamatan Tambun Selatan" in flat
    assert "SITI & <AMINAH>" in flat and "BLK0000002" in flat
    assert mask_nik(make_nik(2)) in flat and make_nik(2) not in text.replace(" ", "")
    assert "DIKETAHUI" not in flat  # no street: the letter goes by hand
    assert "Kartu Keluarga" in flat and "surat kuasa" in flat  # what to bring
    assert "Disdukcapil Kabupaten Bekasi" in flat
    # every card of the kelurahan waiting for collection, one page each, by RW and RT
    bulk = staff.get(f"/alamat/surat-ambil.pdf?kelurahan={JATIMULYA}")
    assert bulk.status_code == 200
    pages, text = pdf_text(bulk.data)
    assert pages == 2 and text.index("BLK0000003") < text.index("BLK0000002")  # RW 002 before RW 005
    assert "BLK0000004" not in text and "BLK0000005" not in text
    assert not any(make_nik(n) in text.replace(" ", "") for n in range(1, 6))
    # what cannot be a letter is a clear 4xx
    assert staff.get("/alamat/surat-ambil.pdf").status_code == 400
    assert "kelurahan" in staff.get("/alamat/surat-ambil.pdf").get_data(as_text=True)
    assert staff.get("/alamat/surat-ambil.pdf?kelurahan=32.75.01.1001").status_code == 400
    assert staff.get("/alamat/surat-ambil.pdf?kelurahan=3216061001").status_code == 400
    assert staff.get(f"/alamat/surat-ambil.pdf?kelurahan={LAMBANGSARI}").status_code == 404
    assert staff.get(f"/alamat/surat-ambil/{_card(app, 'BLK0000004').id}.pdf").status_code == 409
    assert staff.get(f"/alamat/surat-ambil/{_card(app, 'BLK0000005').id}.pdf").status_code == 409
    assert staff.get("/alamat/surat-ambil/999999.pdf").status_code == 404


def test_the_letter_is_for_staff_only(app, client, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, alamat="BELUM ADA")])
    make_user(app, "staf", Role.STAFF)
    login(client, "staf")
    card_id = _card(app, "BLK0000002").id
    client.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "collect_at_kelurahan": True})
    client.post("/logout")
    assert client.get(f"/alamat/surat-ambil/{card_id}.pdf").status_code in (302, 401)
    make_user(app, "lurah", Role.OFFICER, kelurahan=JATIMULYA)
    login(client, "lurah")
    assert client.get(f"/alamat/surat-ambil/{card_id}.pdf").status_code == 403
    assert client.get(f"/alamat/surat-ambil.pdf?kelurahan={JATIMULYA}").status_code == 403


# --- to the kelurahan in a handover batch ------------------------------------------------------------------------


def test_cards_for_collection_are_handover_candidates_and_go_back_when_taken_out(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, alamat="BELUM ADA"), card_row(3, alamat="-"), card_row(4)])
    for n in (2, 3):
        staff.post(f"/api/v1/address/review/{_card(app, f'BLK{n:07d}').id}",
                   json={"kelurahan": JATIMULYA, "collect_at_kelurahan": True})
    cli(runner, "sorting", "withdraw", "--kelurahan", JATIMULYA, "--reason", "proyek LRT")
    with app.app_context(), unit_of_work() as s:
        office = _office(s)
        assert returns.candidates(s, office) == {JATIMULYA: {COLLECTION_REASON: 2, "WITHDRAWN_AREA": 1}}
        [batch] = returns.build_batches(s, office, STAFF, [JATIMULYA])
        batch_id = batch.id
        reasons = dict(s.execute(select(Card.nomor_blanko, HandoverItem.reason)
                                 .join(HandoverItem, HandoverItem.card_id == Card.id)).all())
    assert reasons == {"BLK0000002": COLLECTION_REASON, "BLK0000003": COLLECTION_REASON,
                       "BLK0000004": "WITHDRAWN_AREA"}
    assert {_card(app, f"BLK{n:07d}").state for n in (2, 3, 4)} == {CardState.BATCHED}
    # the letter can still be printed while the card is on its way to the kelurahan
    assert staff.get(f"/alamat/surat-ambil/{_card(app, 'BLK0000002').id}.pdf").status_code == 200
    # the batch list names the reason
    listing = staff.get(f"/pengembalian/berkas/{batch_id}/daftar.pdf")
    assert listing.status_code == 200
    assert "Alamat tidak dapat diantar: diambil di kelurahan" in " ".join(pdf_text(listing.data)[1].split())
    with app.app_context(), unit_of_work() as s:
        returns.remove_cards(s, Scope(_office(s)), batch_id, ["BLK0000002"], STAFF)
    assert _card(app, "BLK0000002").state is CardState.FOR_COLLECTION
    with app.app_context(), unit_of_work() as s:
        returns.cancel_batch(s, Scope(_office(s)), batch_id, STAFF, "salah susun")
    assert _card(app, "BLK0000003").state is CardState.FOR_COLLECTION
    assert _card(app, "BLK0000004").state is CardState.WITHDRAWN
    with app.app_context(), unit_of_work() as s:
        last = s.scalars(select(CardHistory).join(Card).where(Card.nomor_blanko == "BLK0000002")
                         .order_by(CardHistory.id)).all()[-1]
    assert (last.from_state, last.to_state) == (CardState.BATCHED, CardState.FOR_COLLECTION)
    # a new batch takes them again
    assert cli(runner, "returns", "build", "--kelurahan", JATIMULYA).exit_code == 0
    assert {_card(app, f"BLK{n:07d}").state for n in (2, 3, 4)} == {CardState.BATCHED}
