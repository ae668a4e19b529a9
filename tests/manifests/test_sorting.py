"""Sorting outcomes: damaged cards and withdrawn areas, through the CLI and HTTP."""

from __future__ import annotations

from helpers import card_row, cards, cli, report, write_csv
from sqlalchemy import select

from app.cards import Card, CardState
from app.db import unit_of_work

JATIMULYA = "32.16.06.1001"
SETU = "32.16.18"


def load(runner, tmp_path, rows, name="a.csv"):
    result = cli(runner, "import", str(write_csv(tmp_path / name, rows)))
    assert result.exit_code == 0, result.output


def test_damaged_via_cli_records_who_and_why_and_lists_for_reprint(app, runner, tmp_path):
    load(runner, tmp_path, [card_row(1), card_row(2)])
    result = cli(runner, "sorting", "damaged", "BLK0000001", "--reason", "chip retak")
    assert "1 kartu ditandai rusak" in result.output
    card = cards(app)["BLK0000001"]
    assert card.state is CardState.DAMAGED
    with app.app_context(), unit_of_work() as s:
        last = s.get(Card, card.id).history[-1]
        assert (last.from_state, last.to_state) == (CardState.READY, CardState.DAMAGED)
        assert "chip retak" in last.reason and last.actor.startswith("cli:")
    listing = cli(runner, "sorting", "reprint-list").output
    assert "BLK0000001" in listing and "BLK0000002" not in listing
    assert report(runner)["by_state"]["DAMAGED"] == 1


def test_damaged_with_unknown_blanko_changes_nothing(app, runner, tmp_path):
    load(runner, tmp_path, [card_row(1)])
    result = runner.invoke(main_cli(), ["sorting", "damaged", "BLK0000001", "TIDAK-ADA", "--reason", "x"])
    assert result.exit_code != 0 and "TIDAK-ADA" in result.output
    assert cards(app)["BLK0000001"].state is CardState.READY


def test_damaged_twice_is_refused_with_the_state(app, runner, tmp_path):
    load(runner, tmp_path, [card_row(1)])
    cli(runner, "sorting", "damaged", "BLK0000001", "--reason", "retak")
    again = runner.invoke(main_cli(), ["sorting", "damaged", "BLK0000001", "--reason", "retak"])
    assert again.exit_code != 0 and "Rusak" in again.output


def test_damaged_via_api_and_page(app, staff, runner, tmp_path):
    load(runner, tmp_path, [card_row(1), card_row(2)])
    r = staff.post("/api/v1/sorting/damaged", json={"nomor_blanko": ["BLK0000001"], "reason": "buram"})
    assert r.status_code == 200 and r.get_json()["cards"][0]["state"] == "DAMAGED"
    r = staff.post("/api/v1/sorting/damaged", json={"nomor_blanko": ["NOPE"], "reason": "buram"})
    assert r.status_code == 422 and "NOPE" in r.get_json()["error"]["message"]
    r = staff.post("/penyortiran/rusak", data={"blanko": "BLK0000002\n", "reason": "tergores"},
                   follow_redirects=True)
    assert "1 kartu ditandai rusak" in r.get_data(as_text=True)
    assert "BLK0000002" in r.get_data(as_text=True)  # in the reprint list on the page
    history = staff.get("/api/v1/cards/BLK0000002").get_json()["history"]
    assert history[-1]["to"] == "DAMAGED" and history[-1]["actor"] == "staf"


def test_withdraw_kelurahan_now_and_in_later_runs(app, runner, tmp_path):
    setu = {"kelurahan": "LUBANGBUAYA", "kecamatan": "SETU", "kode_wilayah": "", "kode_pos": ""}
    load(runner, tmp_path, [card_row(1), card_row(2, kode_wilayah=JATIMULYA), card_row(3, **setu)])
    result = cli(runner, "sorting", "withdraw", "--kelurahan", JATIMULYA, "--reason", "tergusur proyek LRT")
    assert "2 kartu ditarik" in result.output
    load(runner, tmp_path, [card_row(4), card_row(5, **setu)], name="b.csv")
    got = cards(app)
    assert [got[f"BLK000000{i}"].state for i in range(1, 6)] == [
        CardState.WITHDRAWN, CardState.WITHDRAWN, CardState.READY, CardState.WITHDRAWN, CardState.READY]
    with app.app_context(), unit_of_work() as s:
        first = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000004")).history[0]
        assert "tergusur proyek LRT" in first.reason
    data = report(runner)
    jatimulya = next(k for k in data["by_kelurahan"] if k["kode_wilayah"] == JATIMULYA)
    assert jatimulya["by_state"]["WITHDRAWN"] == 3 and jatimulya["kelurahan"] == "Jatimulya"


def test_withdraw_some_rws_only(app, runner, tmp_path):
    load(runner, tmp_path, [card_row(1, rw="005"), card_row(2, rw="7", rt="1"), card_row(3, rw="", rt="",
                                                                                       alamat="KP. PULO RT 01/RW 09")])
    cli(runner, "sorting", "withdraw", "--kelurahan", JATIMULYA, "--rw", "7, 9", "--reason", "proyek LRT")
    got = cards(app)
    assert [got[f"BLK000000{i}"].state for i in (1, 2, 3)] == [
        CardState.READY, CardState.WITHDRAWN, CardState.WITHDRAWN]


def test_withdraw_rejects_foreign_kelurahan_and_bad_rw(app, runner, tmp_path):
    bad = runner.invoke(main_cli(), ["sorting", "withdraw", "--kelurahan", "32.75.01.1001", "--reason", "x"])
    assert bad.exit_code != 0 and "bukan wilayah Kabupaten Bekasi" in bad.output
    bad = runner.invoke(main_cli(), ["sorting", "withdraw", "--kelurahan", JATIMULYA, "--rw", "abc", "--reason", "x"])
    assert bad.exit_code != 0 and "RW 'abc'" in bad.output


def test_withdraw_via_api(app, staff, runner, tmp_path):
    load(runner, tmp_path, [card_row(1)])
    r = staff.post("/api/v1/sorting/withdrawals", json={"kelurahan": JATIMULYA, "rws": ["5"], "reason": "LRT"})
    assert r.status_code == 201 and r.get_json()["cards_withdrawn"] == 1
    assert staff.get("/penyortiran").status_code == 200
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(Card.state)) is CardState.WITHDRAWN


def main_cli():
    from app.cli import main

    return main
