"""The dashboard's figures: kept by the database with every change of a card, equal to a count of the cards, per day
and "as at" any day; the page, its filters, the kelurahan page and the JSON, through HTTP."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from helpers import card_row, cli, login, make_user, write_csv
from sqlalchemy import select, text, update
from tracking import SECRET, WIB, event, handed_over, post_events

from app import tally
from app.cards import Card, CardState
from app.db import simulated_clock, unit_of_work
from app.models import Office, Role
from app.report import reconciliation
from dashboard.queries import Filters, figures

KEL = "32.16.06.1001"  # card_row's kelurahan (Jatimulya, Tambun Selatan)
NOW = dt.datetime.now(dt.UTC)


def _day(ago: int) -> dt.date:
    return (NOW - dt.timedelta(days=ago)).astimezone(WIB).date()


@pytest.fixture
def delivered_run(app, runner, client, tmp_path) -> list[str]:
    """Six cards handed to the courier five days ago; two delivered (two days ago and yesterday), one returned
    (moved, yesterday), one in transit, two still with the courier."""
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = SECRET
    with app.app_context(), simulated_clock(NOW - dt.timedelta(days=5)):
        numbers = handed_over(app, runner, tmp_path, [card_row(i) for i in range(1, 7)])
    local = NOW.astimezone(WIB)  # 10.00 WIB today, or now if earlier: the same WIB day as _day(0), at any hour
    at = min(local.replace(hour=10, minute=0, second=0, microsecond=0), local)
    events = [
        event(numbers[0], "DELIVERED", at - dt.timedelta(days=2), "d1"),
        event(numbers[1], "DELIVERED", at - dt.timedelta(days=1), "d2"),
        event(numbers[2], "RETURNED", at - dt.timedelta(days=1), "r1", reason_code="MOVED"),
        event(numbers[3], "IN_TRANSIT", at - dt.timedelta(days=1), "t1"),
    ]
    assert post_events(client, events).status_code == 200
    return numbers


def _figures(app, filters: Filters | None = None) -> tuple[dict, dict]:
    with app.app_context(), unit_of_work() as s:
        office = s.scalars(select(Office)).one()
        return figures(s, office, filters or Filters()), reconciliation(s, office)


def test_kept_figures_equal_a_count_of_the_cards(app, delivered_run):
    fig, rec = _figures(app)
    assert fig["printed"] == rec["printed"] == 6
    assert fig["by_state"] == rec["by_state"]
    assert (fig["delivered"], fig["returned"], fig["at_courier"], fig["sent"]) == (2, 1, 3, 6)
    assert fig["delivery_rate_pct"] == pytest.approx(33.3)
    assert fig["returns_by_reason"] == [{"reason": "MOVED", "label": "Pindah alamat", "cards": 1}]
    assert [(k["kode_wilayah"], k["dicetak"]) for k in fig["by_kelurahan"]] == [(KEL, 6)]
    assert {k["nama"]: k["dicetak"] for k in fig["by_kecamatan"]} == {k["kecamatan"]: k["total"]
                                                                     for k in rec["by_kecamatan"]}
    # the funnel's main steps and branches add up to what was printed
    steps = {s["key"]: s["count"] for s in fig["funnel"]}
    assert steps["PRINTED"] == sum(steps[k] for k in ("DAMAGED", "DUPLICATE", "WITHDRAWN", "ADDRESS_UNCLEAR",
                                                     "WAITING", "SENT"))
    assert steps["SENT"] == steps["AT_COURIER"] + steps["DELIVERED"] + steps["RETURNED"]
    with app.app_context(), unit_of_work() as s:
        assert tally.differences(s, s.scalars(select(Office.id)).one()) == []
        assert tally.pending(s) > 0
        tally.fold(s)
    with app.app_context(), unit_of_work() as s:
        assert tally.pending(s) == 0
    assert _figures(app)[0]["by_state"] == rec["by_state"]  # folding changes nothing


def test_changes_are_counted_on_the_day_they_happened_and_any_past_day_adds_up(app, delivered_run):
    fig, _ = _figures(app)
    daily = dict(zip(fig["daily"]["days"], zip(fig["daily"]["delivered"], fig["daily"]["returned"], strict=True),
                     strict=True))
    assert daily[_day(2).isoformat()] == (1, 0)
    assert daily[_day(1).isoformat()] == (1, 1)
    assert sum(fig["daily"]["delivered"]) == 2 and sum(fig["daily"]["returned"]) == 1

    as_of = {ago: _figures(app, Filters(until=_day(ago)))[0] for ago in (6, 3, 2)}
    assert as_of[6]["printed"] == 0  # before the print run
    assert as_of[3]["printed"] == 6 and as_of[3]["by_state"]["WITH_COURIER"] == 6 and as_of[3]["delivered"] == 0
    assert as_of[2]["delivered"] == 1 and as_of[2]["by_state"]["WITH_COURIER"] == 5
    assert all(n >= 0 for f in as_of.values() for n in f["by_state"].values())


def test_a_courier_event_dated_before_the_handover_counts_from_the_handover(app, runner, client, tmp_path):
    """A card's changes stay in order: an event the courier dates before Antar handed the card over (a wrong clock)
    counts on the handover's day, so that no past day shows a card in two states or in none."""
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = SECRET
    numbers = handed_over(app, runner, tmp_path, [card_row(1)])
    assert post_events(client, [event(numbers[0], "DELIVERED", NOW - dt.timedelta(days=3), "early")]).status_code \
        == 200
    fig, _ = _figures(app)
    assert fig["daily"]["days"][-1] == _day(0).isoformat() and fig["daily"]["delivered"][-1] == 1
    assert _figures(app, Filters(until=_day(1)))[0]["printed"] == 0


def test_the_figures_follow_a_print_run_and_a_kelurahan(app, runner, client, tmp_path, delivered_run):
    other = dict(alamat="JL. SETIA MEKAR NO. 2", kelurahan="SETIA MEKAR", kode_pos="17510")
    assert cli(runner, "import", str(_csv(tmp_path, [card_row(i, **other) for i in (20, 21)]))).exit_code == 0
    fig, rec = _figures(app)
    assert fig["printed"] == rec["printed"] == 8
    first = _figures(app, Filters(print_run_ids=(1,)))[0]
    assert first["printed"] == 6 and first["delivered"] == 2
    assert _figures(app, Filters(print_run_ids=(2,)))[0]["printed"] == 2
    only = _figures(app, Filters(kelurahan=KEL))[0]
    assert only["printed"] == 6 and [k["kode_wilayah"] for k in only["by_kelurahan"]] == [KEL]
    assert len(fig["by_kelurahan"]) == 2


def _csv(tmp_path, rows):
    from helpers import write_csv

    return write_csv(tmp_path / "second.csv", rows)


def test_check_finds_a_difference_and_rebuild_repairs_it(app, runner, delivered_run):
    assert cli(runner, "dashboard", "check").exit_code == 0
    with app.app_context(), unit_of_work() as s:
        tally.fold(s)
        s.execute(text("DELETE FROM card_flow WHERE to_state = 'DELIVERED'"))
    broken = cli(runner, "dashboard", "check")
    assert broken.exit_code == 1 and "DELIVERED: dasbor 0, kartu 2" in broken.output
    assert "6 kartu" in cli(runner, "dashboard", "rebuild").output
    assert cli(runner, "dashboard", "check").exit_code == 0
    assert _figures(app)[0]["by_state"] == _figures(app)[1]["by_state"]


def test_every_writer_is_counted_even_a_bulk_statement(app, delivered_run):
    """The triggers see what no service call announces: bulk UPDATEs of many cards' state and kelurahan."""
    with app.app_context(), unit_of_work() as s:
        s.execute(update(Card).where(Card.state == CardState.WITH_COURIER).values(state=CardState.IN_TRANSIT))
        s.execute(update(Card).where(Card.state == CardState.IN_TRANSIT).values(kelurahan_code="32.16.06.2002"))
    fig, rec = _figures(app)
    assert fig["by_state"] == rec["by_state"] and fig["printed"] == 6
    assert {k["kode_wilayah"]: k["dicetak"] for k in fig["by_kelurahan"]} == {KEL: 3, "32.16.06.2002": 3}


def test_concurrent_writers_and_folds_lose_nothing(app, database_url, delivered_run):
    """Writers only insert deltas, so concurrent transactions never wait on a counter row; folds running at the
    same time as writers and as each other neither lose nor double a change (PostgreSQL: real concurrency)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serializes writers; the concurrency is PostgreSQL's")
    with app.app_context(), unit_of_work() as s:
        ids = list(s.scalars(select(Card.id)))
    errors: list[BaseException] = []

    def flip(card_id: int, rounds: int) -> None:
        try:
            with app.app_context():
                for i in range(rounds):
                    with unit_of_work() as s:
                        code = "32.16.06.2002" if i % 2 == 0 else KEL
                        s.execute(update(Card).where(Card.id == card_id).values(kelurahan_code=code))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def folder(rounds: int) -> None:
        try:
            with app.app_context():
                for _ in range(rounds):
                    with unit_of_work() as s:
                        tally.fold(s)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=flip, args=(cid, 15)) for cid in ids]
    threads += [threading.Thread(target=folder, args=(20,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with app.app_context(), unit_of_work() as s:
        assert tally.differences(s, s.scalars(select(Office.id)).one()) == []
        tally.fold(s)
    with app.app_context(), unit_of_work() as s:
        assert tally.differences(s, s.scalars(select(Office.id)).one()) == []


def test_the_page_the_kelurahan_page_and_the_json(app, staff, delivered_run):
    page = staff.get("/dasbor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text_ in ("Alur kartu", "Tingkat terkirim per kecamatan", "Alasan dikembalikan", "Kartu per hari",
                  "Kartu belum selesai: yang terlama per status", "Pindah alamat", "Peta belum dapat digambar",
                  "antar regions load-geo"):
        assert text_ in html, text_
    assert html.count('class="chart"') >= 4 and "<table" in html
    assert staff.get("/").headers["Location"].endswith("/dasbor")

    kel = staff.get(f"/dasbor/kelurahan/{KEL}")
    assert kel.status_code == 200 and "Kelurahan " in kel.get_data(as_text=True)
    assert staff.get("/dasbor/kelurahan/32.75.01.1001").status_code == 404  # not this office's

    data = staff.get("/api/v1/dashboard?sampai=" + _day(3).isoformat()).get_json()
    assert data["printed"] == 6 and data["delivered"] == 0 and data["as_of"] == _day(3).isoformat()
    assert staff.get("/api/v1/dashboard?cetakan=1").get_json()["printed"] == 6

    pdf = staff.get("/laporan/bupati.pdf?sampai=" + _day(0).isoformat())
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.headers["X-Antar-Personal-Data"] == "none"
    xlsx = staff.get("/laporan/bupati.xlsx")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")
    assert "attachment" in xlsx.headers["Content-Disposition"]


@pytest.mark.parametrize("query, named", [
    ("dari=2026-12-05&sampai=2026-12-01", "dari"), ("sampai=2026-02-30", "sampai"), ("cetakan=abc", "cetakan"),
    ("peta=bulan", "peta"), ("cetakan=99999999999", "cetakan"),
])
def test_bad_filters_are_a_400_naming_the_parameter(app, staff, query, named):
    for path in ("/dasbor", "/api/v1/dashboard", "/laporan/bupati.pdf"):
        if path.startswith("/api/") and named == "peta":
            continue
        r = staff.get(f"{path}?{query}")
        assert r.status_code == 400, (path, query, r.status_code)
        assert named in r.get_data(as_text=True)


def test_only_staff_see_the_dashboard(app, client):
    make_user(app, "petugas", Role.OFFICER, kelurahan=KEL)
    login(client, "petugas")
    assert client.get("/dasbor").status_code == 403
    assert client.get("/api/v1/dashboard").status_code == 403


def test_a_bulk_change_after_a_single_one_joins_the_trigger_rows_by_hash(app, database_url, runner, tmp_path):
    """PostgreSQL plans the tally trigger's query at its first run on a connection and keeps the plan: after a change
    of one card it must not join a later bulk change's old and new rows pair by pair (n * n; migration 0021). The
    plan the trigger ran is read with auto_explain, sent to this connection."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the trigger with transition tables is PostgreSQL's")
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", [card_row(i) for i in range(1, 41)]))
               ).exit_code == 0
    messages: list[str] = []
    with app.app_context():
        engine = app.extensions["antar.engine"]
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if hasattr(raw, "add_notice_handler"):  # psycopg 3
            raw.add_notice_handler(lambda d: messages.append(d.message_primary))
        cur = raw.cursor()
        cur.execute("LOAD 'auto_explain'")
        cur.execute("SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; "
                    "SET client_min_messages = log")
        cur.execute("UPDATE card SET state = 'DAMAGED' WHERE id = (SELECT min(id) FROM card)")
        if hasattr(raw, "notices"):  # psycopg2
            del raw.notices[:]
        messages.clear()
        cur.execute("UPDATE card SET state = 'WITHDRAWN' WHERE id > (SELECT min(id) FROM card)")
        assert cur.rowcount == 39
        plans = [m for m in [*messages, *getattr(raw, "notices", [])] if "INSERT INTO card_flow_delta" in m]
        raw.commit()
    assert plans, "auto_explain sent no plan of the trigger's query"
    assert "Hash Cond: (o.id = n.id)" in plans[-1] and "Join Filter: (o.id = n.id)" not in plans[-1], plans[-1]
    fig, rec = _figures(app)
    assert fig["by_state"] == rec["by_state"]
