"""The unclear-address review queue: intake holds unclear addresses back; clerks place them (page and API)."""

from __future__ import annotations

from helpers import card_row, login, make_user, write_csv
from sqlalchemy import select

from app.cards import Card, CardState
from app.cli import main
from app.db import unit_of_work
from app.models import Role

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
    ok = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "GG. MAWAR 3"})
    assert ok.status_code == 200 and ok.get_json()["state"] == "READY"
    again = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "GG. MAWAR 3"})
    assert again.status_code == 422 and "tidak sedang menunggu" in again.get_json()["error"]["message"]
    clear_id = _card(app, "BLK0000001").id
    assert staff.post(f"/api/v1/address/review/{clear_id}", json={"kelurahan": JATIMULYA,
                                                                   "street": "x"}).status_code == 422


def test_correction_into_a_withdrawn_area_withdraws_the_card(app, staff, runner, tmp_path):
    _import(runner, tmp_path, [card_row(2, **UNCLEAR)])
    runner.invoke(main, ["sorting", "withdraw", "--kelurahan", JATIMULYA, "--reason", "proyek LRT"])
    card_id = _card(app, "BLK0000002").id
    r = staff.post(f"/api/v1/address/review/{card_id}", json={"kelurahan": JATIMULYA, "street": "JL. RAYA 1"})
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
