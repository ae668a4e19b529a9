"""The kernel: migrations, accounts and login, roles, CSRF, the reconciliation report."""

from __future__ import annotations

import io
import json

import pytest
import sqlalchemy as sa
from helpers import PASSWORD, card_row, login, make_nik, make_user, write_csv
from openpyxl import load_workbook

from app.cards import TRANSITIONS, CardState, TransitionError, check_move
from app.cli import main
from app.db import make_engine
from app.migrate import current_revision, upgrade
from app.models import Role


def test_db_upgrade_on_a_fresh_database_creates_every_table(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)
    assert current_revision(engine) is not None
    tables = set(sa.inspect(engine).get_table_names())
    assert {"office", "user_account", "print_run", "card", "card_history", "intake_rejection", "withdrawal"} <= tables


def test_migrations_match_the_models(app):
    """Autogenerate finds nothing to add: the migrations and the ORM models describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from app.db import Base
    from app.migrate import include_object

    with app.extensions["antar.engine"].connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}),
                                Base.metadata)
    assert diff == []


def test_state_machine_refuses_what_it_does_not_allow():
    assert CardState.READY in TRANSITIONS[None]
    with pytest.raises(TransitionError, match="Rusak"):
        check_move("B1", CardState.DAMAGED, CardState.READY)
    for source, targets in TRANSITIONS.items():
        assert source not in targets  # no self-loops: a change is always a change


def test_users_create_and_login(app, runner, client):
    result = runner.invoke(main, ["users", "create", "rina", "--role", "staff", "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    bad = client.post("/login", data={"username": "rina", "password": "salah-sekali"})
    assert "salah" in bad.get_data(as_text=True)
    login(client, "rina")
    assert client.get("/laporan").status_code == 200


def test_users_create_validates(app, runner):
    r = runner.invoke(main, ["users", "create", "x", "--role", "officer", "--password", PASSWORD])
    assert r.exit_code != 0 and "kelurahan" in r.output
    r = runner.invoke(main, ["users", "create", "y", "--role", "staff", "--password", "pendek"])
    assert r.exit_code != 0 and "minimal 8" in r.output


def test_pages_need_login_and_the_right_role(app, client):
    assert client.get("/laporan").status_code == 302
    assert client.get("/api/v1/report").status_code == 401
    make_user(app, "lurah", Role.OFFICER, kelurahan="32.16.06.1001")
    login(client, "lurah")
    for path in ("/laporan", "/impor", "/penyortiran", "/api/v1/report", "/laporan.xlsx"):
        assert client.get(path).status_code == 403, path
    assert client.post("/api/v1/print-runs").status_code == 403


def test_login_redirect_stays_on_site(app, client):
    make_user(app, "staf", Role.STAFF)
    r = client.post("/login?next=https://evil.example/", data={"username": "staf", "password": PASSWORD})
    assert r.headers["Location"] == "/"


def test_csrf_is_enforced_on_forms(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user(app, "staf", Role.STAFF)
    r = client.post("/login", data={"username": "staf", "password": PASSWORD})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


def test_pages_use_only_local_assets(app, staff):
    html = staff.get("/laporan").get_data(as_text=True)
    assert "/static/antar.css" in html
    assert "http://" not in html and "https://" not in html
    assert staff.get("/static/antar.css").status_code == 200


def test_report_adds_up_json_page_and_xlsx(app, runner, staff, tmp_path):
    rows = [card_row(i) for i in range(1, 6)] + [card_row(6, nik=make_nik(1), nomor_blanko="DUP")]
    rows.append(card_row(7, kelurahan="ENTAH DIMANA", kecamatan="", kode_wilayah=""))
    rows.append(card_row(8, nama=""))
    runner.invoke(main, ["import", str(write_csv(tmp_path / "a.csv", rows))])
    runner.invoke(main, ["sorting", "damaged", "BLK0000002", "--reason", "retak"])
    data = json.loads(runner.invoke(main, ["report", "--json", "--xlsx", str(tmp_path / "r.xlsx")]).output)
    assert data["printed"] == 7 and data["rejected_rows"] == 1 and data["balanced"]
    assert data["by_state"] == {"ADDRESS_UNCLEAR": 1, "READY": 4, "DUPLICATE": 1, "DAMAGED": 1, "WITHDRAWN": 0,
                                **{s: 0 for s in data["by_state"] if s not in ("ADDRESS_UNCLEAR", "READY", "DUPLICATE",
                                                                             "DAMAGED", "WITHDRAWN")}}
    assert sum(k["total"] for k in data["by_kelurahan"]) == 7
    assert sum(k["total"] for k in data["by_kecamatan"]) == 7
    unplaced = [k for k in data["by_kelurahan"] if k["kode_wilayah"] == "-"]
    assert unplaced and unplaced[0]["total"] == 1
    assert staff.get("/api/v1/report").get_json()["by_state"] == data["by_state"]
    page = staff.get("/laporan").get_data(as_text=True)
    assert "Seimbang" in page and "Jatimulya" in page
    wb = load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == ["Ringkasan", "Per kecamatan", "Per kelurahan", "Pengembalian", "Keterangan"]
    assert wb["Ringkasan"]["B3"].value == 7
    downloaded = load_workbook(io.BytesIO(staff.get("/laporan.xlsx").data))
    assert downloaded["Ringkasan"]["B3"].value == 7
