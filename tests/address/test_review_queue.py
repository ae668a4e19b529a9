"""The unclear-address review queue: intake holds unclear addresses back; clerks place them (page and API) with the
street, RT and RW the courier requires, or send the card to its kelurahan for collection; a ready card without them
never goes on a manifest."""

from __future__ import annotations

import json

from helpers import card_row, login, make_user, write_csv
from sqlalchemy import select, update

from app.cards import Actor, Card, CardState
from app.cli import main
from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Office, Role
from courier_sim.server import CourierSimulator
from manifests import handover
from manifests.models import Manifest, ManifestEvent

JATIMULYA = "32.16.06.1001"
UNCLEAR = {"alamat": "BELUM ADA", "kelurahan": "", "kecamatan": "", "kode_pos": "", "rt": "", "rw": ""}


def _import(runner, tmp_path, rows):
    result = runner.invoke(main, ["import", str(write_csv(tmp_path / "run.csv", rows))])
    assert result.exit_code == 0, result.output
    return result


def _card(app, blanko: str) -> Card:
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card).where(Card.nomor_blanko == blanko))
        card.history  # noqa: B018  (load before the session closes)
        return card


def test_intake_holds_unclear_addresses_back_with_reasons(app, runner, tmp_path):
    result = _import(runner, tmp_path, [card_row(1), card_row(2, **UNCLEAR)])
    assert "1 alamat belum jelas" in result.output
    clear, unclear = _card(app, "BLK0000001"), _card(app, "BLK0000002")
    assert clear.state is CardState.READY and clear.address_status == "CLEAR"
    assert clear.kelurahan_code == JATIMULYA and clear.kode_pos == "17510" and clear.rt == "003"
    assert unclear.state is CardState.ADDRESS_UNCLEAR and unclear.address_status == "UNCLEAR"
    assert "PLACEHOLDER" in unclear.address_flags.split(";")
    assert unclear.kelurahan_code is None
    assert "Alamat belum jelas" in unclear.history[0].reason


def test_queue_page_groups_by_reason_and_the_clerk_places_the_card(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(1), card_row(2, **UNCLEAR), card_row(3, **UNCLEAR)])
    page = staff.get("/alamat").get_data(as_text=True)
    assert "BLK0000002" in page and "BLK0000001" not in page
    assert "<td class=\"num\">2</td>" in page  # one group of two cards
    card_id = _card(app, "BLK0000002").id
    form = staff.get(f"/alamat/{card_id}").get_data(as_text=True)
    assert "Jatimulya" in form and "BELUM ADA" in form
    done = staff.post(f"/alamat/{card_id}", data={"kelurahan": JATIMULYA, "street": "jl. kenanga no 5",
                                                   "rt": "4", "rw": "2", "note": "dikonfirmasi via telepon"},
                      follow_redirects=True)
    assert "diperbaiki" in done.get_data(as_text=True)
    card = _card(app, "BLK0000002")
    assert card.state is CardState.READY and card.kelurahan_code == JATIMULYA
    assert (card.rt, card.rw, card.kode_pos) == ("004", "002", "17510")
    assert card.street and "KENANGA" in card.street.upper()
    last = card.history[-1]
    assert last.actor == "staf" and "Alamat diperbaiki" in last.reason and "dikonfirmasi" in last.reason
    assert "BLK0000002" not in staff.get("/alamat").get_data(as_text=True)


def test_queue_api_and_correction_errors(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(1), card_row(2, **UNCLEAR)])
    body = staff.get("/api/v1/address/review").get_json()
    assert body["total"] == 1 and body["cards"][0]["nomor_blanko"] == "BLK0000002"
    assert body["summary"][0]["flag"] in body["cards"][0]["flags"]
    assert staff.get("/api/v1/address/review?alasan=PLACEHOLDER").get_json()["total"] == 1
    assert staff.get("/api/v1/address/review?alasan=NOPE").status_code == 400
    card_id = body["cards"][0]["id"]
    foreign = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": "32.75.01.1001", "street": "x"})
    assert foreign.status_code == 422 and "daftar resmi" in foreign.get_json()["error"]["message"]
    no_street = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": ""})
    assert no_street.status_code == 422
    ok = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "GG. MAWAR 3",
                                                               "rt": "1", "rw": 4})
    assert ok.status_code == 200 and ok.get_json()["state"] == "READY"
    assert (ok.get_json()["rt"], ok.get_json()["rw"]) == ("001", "004")
    again = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "GG. MAWAR 3",
                                                                  "rt": "1", "rw": "4"})
    assert again.status_code == 422 and "tidak sedang menunggu" in again.get_json()["error"]["message"]
    clear_id = _card(app, "BLK0000001").id
    assert staff.post(f"/api/v1/address/review/{clear_id}", json={"kelurahan": JATIMULYA,
                                                                   "street": "x"}).status_code == 422


def test_correction_into_a_withdrawn_area_withdraws_the_card(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, **UNCLEAR)])
    runner.invoke(main, ["sorting", "withdraw", "--kelurahan", JATIMULYA, "--reason", "proyek LRT"])
    card_id = _card(app, "BLK0000002").id
    r = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "JL. RAYA 1",
                                                              "rt": "2", "rw": "3"})
    assert r.get_json()["state"] == "WITHDRAWN"


def test_queue_is_for_staff_only(app, client, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, **UNCLEAR)])
    make_user(app, "lurah", Role.OFFICER, kelurahan=JATIMULYA)
    login(client, "lurah")
    card_id = _card(app, "BLK0000002").id
    assert client.get("/alamat").status_code == 403
    assert client.get(f"/alamat/{card_id}").status_code == 403
    assert client.get("/api/v1/address/review").status_code == 403
    assert client.post(f"/api/v1/address/review/{card_id}", json={}).status_code == 403


def test_intake_locates_cards_from_loaded_geometry(app, runner, tmp_path):
    from pathlib import Path

    centroids = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wilayah" / "centroids.csv"
    if not centroids.is_file():
        import pytest

        pytest.skip("shared region data not available")
    before = _import(runner, tmp_path, [card_row(1)])
    assert before.exit_code == 0
    assert _card(app, "BLK0000001").geo_precision == "none"
    assert runner.invoke(main, ["regions", "load-geo", str(centroids), "--only", "32.16"]).exit_code == 0
    write_csv(tmp_path / "b.csv", [card_row(2)])
    assert runner.invoke(main, ["import", str(tmp_path / "b.csv")]).exit_code == 0
    card = _card(app, "BLK0000002")
    assert card.geo_precision == "kelurahan" and abs(card.lat - -6.2671) < 0.01 and abs(card.lng - 107.0291) < 0.01


# --- the courier needs a street, RT and RW; or the card goes to its kelurahan for collection --------------------


def test_a_correction_without_rt_rw_or_street_is_refused_naming_the_field(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, **UNCLEAR)])
    card_id = _card(app, "BLK0000002").id
    page = staff.post(f"/alamat/{card_id}", data={"kelurahan": JATIMULYA, "street": "JL. KENANGA NO. 5"},
                      follow_redirects=True).get_data(as_text=True)
    assert "RT wajib diisi" in page and "RW wajib diisi" in page and "ambil di kelurahan" in page
    assert _card(app, "BLK0000002").state is CardState.ADDRESS_UNCLEAR
    api = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "JL. KENANGA 5",
                                                                "rt": "3"})
    assert api.status_code == 422 and api.get_json()["error"]["fields"] == ["rw"]
    assert "RW wajib diisi" in api.get_json()["error"]["message"]
    bad = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "JL. KENANGA 5",
                                                                "rt": "tiga", "rw": "0"})
    message = bad.get_json()["error"]["message"]
    assert bad.status_code == 422 and "RT 'tiga' tidak valid" in message and "RW '0' tidak valid" in message
    for placeholder in ("-", "BELUM ADA", "  "):
        r = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": placeholder,
                                                                  "rt": "3", "rw": "5"})
        assert r.status_code == 422 and r.get_json()["error"]["fields"] == ["street"], placeholder
        assert "Jalan" in r.get_json()["error"]["message"]
    # RT and RW written in the street line count as given
    ok = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA,
                                                               "street": "JL. KENANGA NO. 5 RT 03/RW 05"})
    assert ok.status_code == 200 and (ok.get_json()["rt"], ok.get_json()["rw"]) == ("003", "005")


def test_the_clerk_sends_an_undeliverable_address_to_the_kelurahan_for_collection(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(1), card_row(2, **UNCLEAR), card_row(3, **UNCLEAR)])
    form = staff.get(f"/alamat/{_card(app, 'BLK0000002').id}").get_data(as_text=True)
    assert 'name="tujuan" value="kelurahan"' in form and "formnovalidate" in form and "<script" not in form
    page = staff.post(f"/alamat/{_card(app, 'BLK0000002').id}",
                      data={"kelurahan": JATIMULYA, "street": "", "rt": "", "rw": "", "tujuan": "kelurahan",
                            "note": "pemilik tinggal di kontrakan tanpa alamat tetap"},
                      follow_redirects=True).get_data(as_text=True)
    assert "dikirim ke kelurahan untuk diambil" in page
    card = _card(app, "BLK0000002")
    assert card.state is CardState.FOR_COLLECTION and card.kelurahan_code == JATIMULYA
    last = card.history[-1]
    assert last.actor == "staf" and "Alamat tidak dapat diantar: diambil di kelurahan" in last.reason
    assert "kontrakan" in last.reason
    api = staff.post(f"/api/v1/address/review/{_card(app, 'BLK0000003').id}",
                     json={"kelurahan": JATIMULYA, "collect_at_kelurahan": True})
    assert api.status_code == 200 and api.get_json()["state"] == "FOR_COLLECTION"
    wrong = staff.post(f"/api/v1/address/review/{_card(app, 'BLK0000001').id}",
                       json={"kelurahan": JATIMULYA, "collect_at_kelurahan": "ya"})
    assert wrong.status_code == 400 and wrong.get_json()["error"]["fields"] == ["collect_at_kelurahan"]
    no_kelurahan = staff.post(f"/api/v1/address/review/{_card(app, 'BLK0000003').id}",
                              json={"collect_at_kelurahan": True})
    assert no_kelurahan.status_code == 400  # a kelurahan is always required (the body's schema says so)
    assert no_kelurahan.get_json()["error"]["fields"] == ["kelurahan"]
    # they go the way withdrawn cards go: a handover batch to the kelurahan; the report still adds up
    assert runner.invoke(main, ["returns", "build", "--kelurahan", JATIMULYA]).exit_code == 0
    assert _card(app, "BLK0000002").state is CardState.BATCHED
    assert _card(app, "BLK0000003").state is CardState.BATCHED
    report = json.loads(runner.invoke(main, ["report", "--json"]).output)
    assert report["balanced"] and report["printed"] == 3
    assert report["by_state"]["BATCHED"] == 2 and report["by_state"]["READY"] == 1


def test_a_ready_card_missing_what_the_courier_requires_stays_off_manifests(app, staff, runner, tmp_path):
    """Defensive: however a card became ready without RT/RW (here: intake, an address with no RT/RW anywhere), the
    build leaves it out with a note, so the courier never refuses a whole manifest for it."""
    _import(runner, tmp_path, [card_row(1), card_row(2, rt="", rw=""), card_row(3, rw="")])
    gap = _card(app, "BLK0000002")
    # intake itself sends such an address to the review queue (not deliverable) ...
    assert gap.state is CardState.ADDRESS_UNCLEAR and gap.address_flags == "NOT_DELIVERABLE"
    assert gap.address_candidate == JATIMULYA
    # ... and however a card still became ready without them (a restored backup, a repair by hand), the build
    # leaves it out
    with app.app_context(), unit_of_work() as s:
        s.execute(update(Card).where(Card.nomor_blanko.in_(["BLK0000002", "BLK0000003"]))
                  .values(state=CardState.READY, address_status="CLEAR", kelurahan_code=JATIMULYA))
    preview = staff.get("/api/v1/manifests/preview").get_json()
    assert preview["total_items"] == 1
    assert preview["manifests"][0]["left_out"] == [{"nomor_blanko": "BLK0000002", "missing": ["RT", "RW"]},
                                                   {"nomor_blanko": "BLK0000003", "missing": ["RW"]}]
    built = staff.post("/api/v1/manifests", json={"finalize": True})
    assert built.status_code == 201, built.get_json()
    [m] = built.get_json()["manifests"]
    assert m["items"] == 1
    assert _card(app, "BLK0000002").state is CardState.READY and _card(app, "BLK0000003").state is CardState.READY
    with app.app_context(), unit_of_work() as s:
        notes = " ".join(s.scalars(select(ManifestEvent.note).where(ManifestEvent.manifest_id == m["id"])))
    assert "BLK0000002 (RT, RW kosong)" in notes and "BLK0000003 (RW kosong)" in notes
    # nothing complete is left: the build says which cards wait and why
    again = staff.post("/api/v1/manifests", json={})
    assert again.status_code in (409, 422) and "BLK0000002" in again.get_json()["error"]["message"]
    # the manifest the courier gets is complete: the simulator (which checks the contract) accepts it
    with CourierSimulator(api_token="tok") as sim, app.app_context():
        with unit_of_work() as s:
            code = s.scalar(select(Office.code))
        answer = handover.hand_over(code, m["id"], Actor("staf"), CourierClient(sim.url, "tok")).answer
    assert answer.ok, answer.summary()


def test_adding_a_card_without_rt_to_a_draft_is_refused(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(1), card_row(2, rt="", rw="")])
    with app.app_context(), unit_of_work() as s:  # ready behind the lifecycle's back (intake would not make it so)
        s.execute(update(Card).where(Card.nomor_blanko == "BLK0000002")
                  .values(state=CardState.READY, address_status="CLEAR", kelurahan_code=JATIMULYA))
    assert runner.invoke(main, ["manifests", "build"]).exit_code == 0
    with app.app_context(), unit_of_work() as s:
        mid = s.scalar(select(Manifest.id))
    r = staff.post(f"/api/v1/manifests/{mid}/items/add", json={"nomor_blanko": ["BLK0000002"]})
    assert r.status_code in (400, 409, 422), r.get_json()
    assert "RT, RW kosong" in r.get_json()["error"]["message"]
    assert _card(app, "BLK0000002").state is CardState.READY
