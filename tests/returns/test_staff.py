"""The Disdukcapil staff's side of returns, through HTTP: batches (returned and withdrawn cards), dispatch, cancel,
remove, corrections, receive-back of moved holders' cards into the next manifest, officer accounts, the deceased
list, reminders, and the returns section of the reconciliation report."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from helpers import card_row, cli, make_user, report, write_csv
from openpyxl import load_workbook
from sqlalchemy import select, update

from address.service import AddressPipeline
from app.cards import Actor, Card
from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Office, Role
from courier_sim.server import CourierSimulator
from manifests import handover
from manifests.models import ManifestItem
from returns import service
from returns.models import Disposition, HandoverBatch
from returns.service import Scope

JATIMULYA = "32.16.06.1001"
LAMBANGSARI = "32.16.06.2002"
MEKARSARI = "32.16.06.2007"
OFFICER = Actor("petugas-kelurahan")
STAFF = Actor("staf")
# The courier's return reason of each returned card: six in Jatimulya, two in Lambangsari.
RETURN_REASONS = {1: "MOVED", 2: "DECEASED", 3: "UNCLAIMED", 4: "UNCLAIMED", 5: "REFUSED", 6: "BAD_ADDRESS",
                  7: "UNCLAIMED", 8: "MOVED"}


@pytest.fixture
def sim():
    with CourierSimulator(api_token="tok") as s:
        yield s


def ev(number: str, status: str, day: int, eid: str, **extra) -> dict:
    # Days counted from a month ago: the courier's events lie in the past (an event from the future is refused).
    at = dt.datetime.combine(dt.date.today() - dt.timedelta(days=30), dt.time(9),
                             dt.timezone(dt.timedelta(hours=7))) + dt.timedelta(days=day)
    return {"event_id": eid, "tracking_number": number, "status": status, "occurred_at": at.isoformat(), **extra}


def apply_events(app, events: list[dict]) -> None:
    from app.courier.tracking import parse_body
    from delivery.service import Settings, apply_batch

    with app.app_context(), unit_of_work() as s:
        results = apply_batch(s, "{}", "test", parse_body({"type": "tracking.events", "data": {"events": events}}),
                              Settings())
    assert {r["result"] for r in results} <= {"applied", "stale"}, results


def return_all(app, runner, sim, path, rows: list[dict], reasons: dict[int, str]) -> None:
    """Import the rows, send them out with the courier, and have the courier bring every one back."""
    assert cli(runner, "import", str(write_csv(path, rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with app.app_context():
        with unit_of_work() as s:
            code = s.scalar(select(Office.code))
        for mid in handover.pending_handover(code):
            assert handover.hand_over(code, mid, STAFF, CourierClient(sim.url, "tok")).answer.ok
        with unit_of_work() as s:
            numbers = dict(s.execute(select(Card.nomor_blanko, ManifestItem.tracking_number)
                                     .join(Card, Card.id == ManifestItem.card_id).where(ManifestItem.active)).all())
    events = []
    for i, row in enumerate(rows):
        number = numbers[row["nomor_blanko"]]
        events += [ev(number, "RETURNED", 1, f"r{i}", reason_code=reasons[int(row["nomor_blanko"][3:])]),
                   ev(number, "RETURN_RECEIVED", 3, f"rr{i}")]
    apply_events(app, events)


@pytest.fixture
def waiting(app, runner, tmp_path, sim, staff):
    """Eight returned cards (Jatimulya 1-6, Lambangsari 7-8) and three of withdrawn Mekarsari (9-11), at the office."""
    rows = [card_row(i) for i in range(1, 7)]
    rows += [card_row(i, kelurahan="LAMBANGSARI", alamat=f"JL. LAMBANGSARI NO. {i}") for i in (7, 8)]
    return_all(app, runner, sim, tmp_path / "a.csv", rows, RETURN_REASONS)
    later = [card_row(i, kelurahan="MEKARSARI", alamat=f"JL. MEKARSARI NO. {i}") for i in (9, 10, 11)]
    assert cli(runner, "import", str(write_csv(tmp_path / "b.csv", later))).exit_code == 0
    r = staff.post("/api/v1/sorting/withdrawals", json={"kelurahan": MEKARSARI, "reason": "proyek jalan tol"})
    assert r.status_code == 201 and r.get_json()["cards_withdrawn"] == 3
    return staff


def officer_account(app, username: str, kelurahan: str) -> None:
    make_user(app, username, Role.OFFICER, kelurahan=kelurahan)


def state(client, blanko: str) -> str:
    return client.get(f"/api/v1/cards/{blanko}").get_json()["state"]


def batches(client, **params) -> dict[str, dict]:
    """The batches by kelurahan code."""
    r = client.get("/api/v1/returns/batches", query_string=params)
    assert r.status_code == 200, r.data
    return {b["kode_wilayah"]: b for b in r.get_json()["batches"]}


def build_all(client) -> dict[str, dict]:
    r = client.post("/api/v1/returns/batches", json={"kelurahan": None})
    assert r.status_code == 201, r.data
    return {b["kode_wilayah"]: b for b in r.get_json()["batches"]}


def receive(app, batch_id: int, kelurahan: str, counted: int, missing: list[str] = ()) -> None:
    """The kelurahan officer counts the batch in (the officer's own pages are another part of the app)."""
    with app.app_context(), unit_of_work() as s:
        service.confirm_receipt(s, Scope(s.scalar(select(Office)), kelurahan), batch_id, counted, list(missing),
                                OFFICER)


def dispose(app, client, batch_id: int, officer_of: str, blanko: str, disposition: Disposition, /, **fields) -> int:
    """The officer of `officer_of` records what became of one card; `fields` as the officer's form sends them."""
    item_id = item_of(client, batch_id, blanko)["item_id"]
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        service.record_disposition(s, Scope(office, officer_of), item_id, disposition, fields, OFFICER,
                                   deadline_days=30, pipeline=AddressPipeline.for_office(s, office.code, app.config))
    return item_id


def item_of(client, batch_id: int, blanko: str) -> dict:
    detail = client.get(f"/api/v1/returns/batches/{batch_id}").get_json()
    return next(i for i in detail["item_list"] if i["nomor_blanko"] == blanko)


def dispatched_and_received(app, client) -> dict[str, dict]:
    """All batches built, Jatimulya's and Lambangsari's dispatched and counted in, Jatimulya's 6 missing."""
    built = build_all(client)
    for kel in (JATIMULYA, LAMBANGSARI):
        assert client.post(f"/api/v1/returns/batches/{built[kel]['id']}/dispatch").status_code == 200
    receive(app, built[JATIMULYA]["id"], JATIMULYA, 5, ["BLK0000006"])
    receive(app, built[LAMBANGSARI]["id"], LAMBANGSARI, 2)
    return built


def test_staff_build_batches_per_kelurahan_with_withdrawn_cards(app, runner, waiting):
    staff = waiting
    r = staff.get("/api/v1/returns/candidates")
    assert r.status_code == 200
    data = r.get_json()
    per_kel = {k["kode_wilayah"]: {x["reason"]: x["cards"] for x in k["by_reason"]} for k in data["kelurahan"]}
    assert data["total"] == 11
    assert per_kel == {JATIMULYA: {"MOVED": 1, "DECEASED": 1, "UNCLAIMED": 2, "REFUSED": 1, "BAD_ADDRESS": 1},
                       LAMBANGSARI: {"UNCLAIMED": 1, "MOVED": 1}, MEKARSARI: {"WITHDRAWN_AREA": 3}}
    page = staff.get("/pengembalian")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Mekarsari" in text and "Wilayah ditarik (tidak dikirim kurir)" in text
    assert 'href="/pengembalian">Pengembalian</a>' in text  # the nav link

    # the selected kelurahan only: the withdrawn cards of Mekarsari, reason WITHDRAWN_AREA
    r = staff.post("/pengembalian/susun", data={"mode": "selected", "kelurahan": [MEKARSARI]})
    assert r.status_code == 302
    (mekarsari,) = batches(staff, status="DRAFT").values()
    assert mekarsari["kode_wilayah"] == MEKARSARI and mekarsari["items"] == 3
    detail = staff.get(f"/api/v1/returns/batches/{mekarsari['id']}").get_json()
    assert {(i["reason"], i["reason_label"], i["state"]) for i in detail["item_list"]} == {
        ("WITHDRAWN_AREA", "Wilayah ditarik (tidak dikirim kurir)", "BATCHED")}
    assert "nik" not in detail["item_list"][0]
    assert staff.post("/pengembalian/susun", data={"mode": "selected"}).status_code == 302  # nothing chosen: no-op
    assert len(batches(staff)) == 1

    # then every other kelurahan
    built = build_all(staff)
    assert set(built) == {JATIMULYA, LAMBANGSARI}
    assert built[JATIMULYA]["items"] == 6 and built[JATIMULYA]["status"] == "DRAFT"
    assert staff.get("/api/v1/returns/candidates").get_json() == {"kelurahan": [], "total": 0}
    r = staff.post("/api/v1/returns/batches", json={"kelurahan": None})
    assert r.status_code == 422 and "Tidak ada kartu" in r.get_json()["error"]["message"]
    assert staff.post("/api/v1/returns/batches", json={"kelurahan": ["32.16.99.9999"]}).status_code == 422
    assert staff.post("/api/v1/returns/batches", json={"kelurahan": JATIMULYA}).status_code == 400
    r = staff.post("/api/v1/returns/batches", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_request"
    assert staff.get("/api/v1/returns/batches?status=NOPE").status_code == 400
    listing = staff.get("/pengembalian/berkas?status=DRAFT").get_data(as_text=True)
    assert built[JATIMULYA]["number"] in listing and mekarsari["number"] in listing
    only = staff.get(f"/pengembalian/berkas?kelurahan={LAMBANGSARI}").get_data(as_text=True)
    assert built[LAMBANGSARI]["number"] in only and built[JATIMULYA]["number"] not in only
    assert report(runner)["balanced"]


def test_staff_remove_cancel_and_dispatch(app, runner, waiting):
    staff = waiting
    built = build_all(staff)
    jati, lambang = built[JATIMULYA]["id"], built[LAMBANGSARI]["id"]
    # remove one card (the form on the detail page): it waits at the office again
    r = staff.post(f"/pengembalian/berkas/{jati}/keluarkan", data={"blanko": "BLK0000005"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/pengembalian/berkas/{jati}")
    assert state(staff, "BLK0000005") == "RETURNED"
    assert staff.get("/api/v1/returns/candidates").get_json()["total"] == 1
    r = staff.post(f"/api/v1/returns/batches/{jati}/remove", json={"nomor_blanko": ["BLK0000007"]})
    assert r.status_code == 422 and "BLK0000007" in r.get_json()["error"]["message"]
    r = staff.post(f"/api/v1/returns/batches/{jati}/remove", json={"nomor_blanko": ["BLK0000004"]})
    assert r.status_code == 200 and r.get_json()["removed"] == 1 and r.get_json()["batch"]["items"] == 4
    assert staff.post(f"/api/v1/returns/batches/{jati}/remove", json={"nomor_blanko": "BLK1"}).status_code == 400

    # cancel needs a reason; cancelled cards wait again
    assert staff.post(f"/api/v1/returns/batches/{lambang}/cancel", json={}).status_code == 422
    r = staff.post(f"/api/v1/returns/batches/{lambang}/cancel", json={"reason": "salah kelurahan"})
    assert r.status_code == 200 and r.get_json()["status"] == "CANCELLED"
    assert state(staff, "BLK0000007") == "RETURNED"

    # dispatch (the button on the page); then it is fixed
    r = staff.post(f"/pengembalian/berkas/{jati}/kirim", follow_redirects=True)
    assert r.status_code == 200 and "ditandai dikirim" in r.get_data(as_text=True)
    assert batches(staff, status="DISPATCHED")[JATIMULYA]["dispatched_at"]
    assert state(staff, "BLK0000001") == "SENT_TO_KELURAHAN"
    assert staff.post(f"/api/v1/returns/batches/{jati}/dispatch").status_code == 422
    assert staff.post(f"/api/v1/returns/batches/{jati}/cancel", json={"reason": "x"}).status_code == 422
    r = staff.post(f"/pengembalian/berkas/{jati}/keluarkan", data={"blanko": "BLK0000001"}, follow_redirects=True)
    assert "sudah dikirim" in r.get_data(as_text=True) and state(staff, "BLK0000001") == "SENT_TO_KELURAHAN"
    page = staff.get(f"/pengembalian/berkas/{jati}").get_data(as_text=True)
    assert "Dikirim ke kelurahan" in page and "Keluarkan" not in page and "3216060512900001" not in page
    history = staff.get(f"/api/v1/returns/batches/{jati}").get_json()["history"]
    assert [h["to"] for h in history if h["to"]] == ["DRAFT", "DISPATCHED"]

    # nothing outside: unknown batch ids are 404 on the API and on the pages
    assert staff.get("/api/v1/returns/batches/9999").status_code == 404
    assert staff.post("/api/v1/returns/batches/9999/dispatch").get_json()["error"]["code"] == "not_found"
    assert staff.get("/pengembalian/berkas/9999").status_code == 404
    assert staff.get("/pengembalian/berkas/9999/daftar.pdf").status_code == 404
    data = report(runner)
    assert data["balanced"] and data["by_state"]["SENT_TO_KELURAHAN"] == 4 and data["by_state"]["RETURNED"] == 4


def test_staff_correct_a_disposition_and_a_missing_card(app, waiting):
    staff = waiting
    built = dispatched_and_received(app, staff)
    jati = built[JATIMULYA]["id"]
    dispose(app, staff, jati, JATIMULYA, "BLK0000002", Disposition.DECEASED, note="surat kematian dari RT")
    holder = dispose(app, staff, jati, JATIMULYA, "BLK0000003", Disposition.HOLDER, receiver_name="WARGA NOMOR 3",
                     id_checked=True)
    page = staff.get(f"/pengembalian/berkas/{jati}").get_data(as_text=True)
    assert "Pemilik meninggal dunia" in page and "Penerima: WARGA NOMOR 3 (pemilik)" in page
    assert "Dilaporkan hilang saat diterima" in page and page.count("Alasan koreksi") == 3  # deceased, holder, missing

    # the missing card turned up: corrected from the missing list
    missing_page = staff.get("/pengembalian/hilang").get_data(as_text=True)
    assert "BLK0000006" in missing_page
    missing_item = item_of(staff, jati, "BLK0000006")["item_id"]
    r = staff.post(f"/pengembalian/kartu/{missing_item}/koreksi", data={"reason": "terselip di map", "back": "hilang"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/pengembalian/hilang")
    assert state(staff, "BLK0000006") == "AT_KELURAHAN"
    assert "Kartu hilang saat serah terima (0)" in staff.get("/pengembalian/hilang").get_data(as_text=True)

    # a wrong disposition is undone, with a reason
    assert staff.post(f"/api/v1/returns/items/{holder}/correct", json={"reason": " "}).status_code == 422
    r = staff.post(f"/api/v1/returns/items/{holder}/correct", json={"reason": "salah kartu"})
    assert r.status_code == 200
    item = r.get_json()["item"]
    assert item["state"] == "AT_KELURAHAN" and item["disposition"] is None and item["receiver_name"] is None
    r = staff.post(f"/api/v1/returns/items/{holder}/correct", json={"reason": "lagi"})
    assert r.status_code == 422 and "tidak ada yang dikoreksi" in r.get_json()["error"]["message"]
    assert staff.post("/api/v1/returns/items/9999/correct", json={"reason": "x"}).status_code == 404
    assert staff.post(f"/api/v1/returns/items/{holder}/correct", json={"reason": 5}).status_code == 400
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000003"))
        assert card.history[-1].actor == "staf" and "salah kartu" in card.history[-1].reason


def test_staff_deceased_list_with_nik_and_csv(app, waiting):
    staff = waiting
    built = dispatched_and_received(app, staff)
    dispose(app, staff, built[JATIMULYA]["id"], JATIMULYA, "BLK0000002", Disposition.DECEASED,
            note="=surat kematian")
    (holder,) = staff.get("/api/v1/returns/deceased").get_json()["holders"]
    assert holder["nik"] == "3216060512900002" and holder["nama"] == "WARGA NOMOR 2"
    assert holder["kelurahan"] == "Jatimulya" and holder["officer"] == "petugas-kelurahan"
    page = staff.get("/pengembalian/meninggal").get_data(as_text=True)
    assert "3216060512900002" in page and "WARGA NOMOR 2" in page
    r = staff.get("/pengembalian/meninggal.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert [(x["nik"], x["nama"], x["kelurahan"], x["petugas"]) for x in rows] == [
        ("3216060512900002", "WARGA NOMOR 2", "Jatimulya", "petugas-kelurahan")]
    assert rows[0]["catatan"] == "'=surat kematian" and rows[0]["dicatat"].endswith("WIB")
    overview = staff.get("/pengembalian").get_data(as_text=True)
    assert 'href="/pengembalian/meninggal">1</a>' in overview and 'href="/pengembalian/hilang">1</a>' in overview


def test_staff_receive_back_a_moved_holders_card_for_the_next_manifest(app, runner, waiting):
    staff = waiting
    built = dispatched_and_received(app, staff)
    jati = built[JATIMULYA]["id"]
    dispose(app, staff, jati, JATIMULYA, "BLK0000001", Disposition.MOVED, alamat="JL. MAWAR NO. 7", rt="2", rw="4",
            kelurahan="CIBENING", kecamatan="SETU")
    later = dt.date.today() + dt.timedelta(days=31)
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        service.record_disposition(s, Scope(office, JATIMULYA), item_of(staff, jati, "BLK0000004")["item_id"],
                                   Disposition.NOT_COLLECTED, {}, OFFICER, deadline_days=30, today=later)
    page = staff.get("/pengembalian/kembali-ke-kantor").get_data(as_text=True)
    assert "BLK0000001" in page and "JL. MAWAR NO. 7" in page and "siap dikirim ulang" in page
    assert "BLK0000004" in page  # not collected: listed, not received back
    assert staff.get("/api/v1/manifests/preview").get_json()["total_items"] == 0

    r = staff.post("/pengembalian/kembali-ke-kantor", data={"blanko": ["BLK0000001"]}, follow_redirects=True)
    assert "1 kartu diterima kembali" in r.get_data(as_text=True)
    assert state(staff, "BLK0000001") == "READY"
    preview = staff.get("/api/v1/manifests/preview").get_json()
    assert preview["total_items"] == 1 and preview["manifests"][0]["post_office"]["code"] == "17320"

    r = staff.post("/api/v1/returns/receive-back", json={"nomor_blanko": ["BLK0000001"]})
    assert r.status_code == 422 and "bukan 'pindah alamat'" in r.get_json()["error"]["message"]
    r = staff.post("/api/v1/returns/receive-back", json={"nomor_blanko": ["BLK0000004"]})
    assert r.status_code == 422  # not collected is not a moved holder's card
    assert staff.post("/api/v1/returns/receive-back", json={"nomor_blanko": ["NOPE"]}).status_code == 422
    assert staff.post("/api/v1/returns/receive-back", json={}).status_code == 400
    assert staff.post("/api/v1/returns/receive-back", data="[]", content_type="application/json").status_code == 400
    assert report(runner)["balanced"]


def test_staff_reminders_per_kelurahan(app, waiting):
    staff = waiting
    officer_account(app, "petugas-jati", JATIMULYA)
    built = dispatched_and_received(app, staff)
    with app.app_context(), unit_of_work() as s:  # Jatimulya's batch arrived three weeks ago
        s.execute(update(HandoverBatch).where(HandoverBatch.id == built[JATIMULYA]["id"])
                  .values(received_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=21)))
    data = staff.get("/api/v1/returns/reminders").get_json()
    assert data["reminder_days"] == 14 and data["total"] == 5
    (jati,) = data["kelurahan"]
    assert jati["kode_wilayah"] == JATIMULYA and jati["cards"] == 5 and jati["officers"] == ["petugas-jati"]
    assert {i["days_waiting"] for i in jati["items"]} == {21}
    assert "BLK0000006" not in {i["nomor_blanko"] for i in jati["items"]}  # missing, not waiting
    page = staff.get("/pengembalian/pengingat").get_data(as_text=True)
    assert "Jatimulya" in page and "Lambangsari" not in page and "petugas-jati" in page
    rows = list(csv.DictReader(io.StringIO(staff.get("/pengembalian/pengingat.csv").data.decode("utf-8-sig"))))
    assert len(rows) == 5 and {r["kelurahan"] for r in rows} == {"Jatimulya"} and rows[0]["hari_menunggu"] == "21"
    app.config["ANTAR_REMINDER_DAYS"] = 0
    assert staff.get("/api/v1/returns/reminders").get_json()["total"] == 7


def test_staff_manage_kelurahan_officer_accounts(app, client, staff):
    r = staff.post("/pengembalian/petugas", data={"username": "petugas-jati", "full_name": "Budi",
                                                   "password": "kuat-sekali-1", "kelurahan": JATIMULYA})
    assert r.status_code == 302
    page = staff.get("/pengembalian/petugas").get_data(as_text=True)
    assert "petugas-jati" in page and "Budi" in page and "Aktif" in page

    officer = app.test_client()
    assert officer.post("/login", data={"username": "petugas-jati", "password": "kuat-sekali-1"}).status_code == 302
    assert officer.get("/api/v1/returns/candidates").status_code == 403  # logged in (not 401), but not staff
    assert officer.get("/pengembalian").status_code == 403

    # a second account for the same kelurahan: allowed, with a warning
    r = staff.post("/pengembalian/petugas", follow_redirects=True, data={
        "username": "petugas-jati-2", "password": "kuat-sekali-2", "kelurahan": JATIMULYA})
    text = r.get_data(as_text=True)
    assert "dibuat" in text and "sudah punya akun petugas aktif (petugas-jati)" in text
    r = staff.post("/pengembalian/petugas", data={"username": "x", "password": "pendek", "kelurahan": JATIMULYA})
    assert r.status_code == 422 and "minimal 8" in r.get_data(as_text=True)
    r = staff.post("/pengembalian/petugas", data={"username": "y", "password": "kuat-sekali-3",
                                                   "kelurahan": "32.75.01.1001"})
    assert r.status_code == 422 and "kode kelurahan" in r.get_data(as_text=True)
    r = staff.post("/pengembalian/petugas", data={"username": "petugas-jati", "password": "kuat-sekali-4",
                                                   "kelurahan": LAMBANGSARI})
    assert r.status_code == 422 and "sudah dipakai" in r.get_data(as_text=True)

    # deactivate: the account can no longer log in; activate again
    with app.app_context(), unit_of_work() as s:
        from app.models import User

        ids = dict(s.execute(select(User.username, User.id)).all())
    assert staff.post(f"/pengembalian/petugas/{ids['petugas-jati']}/status", data={"active": "0"}).status_code == 302
    assert officer.get("/api/v1/returns/candidates").status_code == 401  # the open session ends
    assert app.test_client().post("/login", data={"username": "petugas-jati",
                                                  "password": "kuat-sekali-1"}).status_code == 200
    assert "Nonaktif" in staff.get("/pengembalian/petugas").get_data(as_text=True)
    staff.post(f"/pengembalian/petugas/{ids['petugas-jati']}/status", data={"active": "1"})
    assert app.test_client().post("/login", data={"username": "petugas-jati",
                                                  "password": "kuat-sekali-1"}).status_code == 302
    # only officer accounts of this office
    assert staff.post(f"/pengembalian/petugas/{ids['staf']}/status", data={"active": "0"}).status_code == 404
    assert staff.post("/pengembalian/petugas/9999/status", data={"active": "0"}).status_code == 404


def test_returns_pages_need_staff(app, client):
    assert client.get("/api/v1/returns/candidates").status_code == 401
    assert client.get("/pengembalian").status_code == 302
    officer_account(app, "petugas", JATIMULYA)
    assert client.post("/login", data={"username": "petugas", "password": "rahasia-123"}).status_code == 302
    for url in ("/pengembalian", "/pengembalian/meninggal.csv", "/api/v1/returns/deceased", "/pengembalian/petugas"):
        assert client.get(url).status_code == 403, url


def test_report_has_a_returns_section_and_stays_balanced(app, runner, waiting):
    staff = waiting
    built = dispatched_and_received(app, staff)
    jati = built[JATIMULYA]["id"]
    dispose(app, staff, jati, JATIMULYA, "BLK0000003", Disposition.HOLDER, receiver_name="A", id_checked=True)
    dispose(app, staff, jati, JATIMULYA, "BLK0000004", Disposition.FAMILY, receiver_name="B",
            receiver_relationship="anak")
    dispose(app, staff, jati, JATIMULYA, "BLK0000002", Disposition.DECEASED)

    data = staff.get("/api/v1/report").get_json()
    assert data["balanced"] and sum(data["by_state"].values()) == data["printed"] == 11
    assert {s: n for s, n in data["by_state"].items() if n} == {
        "BATCHED": 3, "AT_KELURAHAN": 4, "MISSING": 1, "HANDED_TO_HOLDER": 2, "HOLDER_DECEASED": 1}
    returns = data["returns"]
    assert returns == staff.get("/api/v1/returns/report").get_json()
    assert {r["reason"]: r["cards"] for r in returns["by_reason"]} == {
        "WITHDRAWN_AREA": 3, "MOVED": 2, "UNCLAIMED": 3, "DECEASED": 1, "REFUSED": 1, "BAD_ADDRESS": 1}
    kel = {k["kode_wilayah"]: k for k in returns["by_kelurahan"]}
    assert (kel[JATIMULYA]["cards"], kel[JATIMULYA]["received"], kel[JATIMULYA]["handed"],
            kel[JATIMULYA]["missing"]) == (6, 5, 2, 1)
    assert kel[JATIMULYA]["handover_rate_pct"] == 40.0 and kel[MEKARSARI]["handover_rate_pct"] is None
    (kec,) = returns["by_kecamatan"]
    assert kec["kecamatan"] == "Tambun Selatan" and (kec["cards"], kec["received"], kec["handed"]) == (11, 7, 2)
    assert report(runner)["returns"]["by_kelurahan"] == returns["by_kelurahan"]  # the CLI shows the same

    page = staff.get("/laporan").get_data(as_text=True)
    assert "Pengembalian ke kelurahan" in page and "Tingkat penyerahan" in page and "40,0 %" in page
    wb = load_workbook(io.BytesIO(staff.get("/laporan.xlsx").data))
    assert "Pengembalian" in wb.sheetnames
    cells = [[c for c in row if c is not None] for row in wb["Pengembalian"].iter_rows(values_only=True)]
    assert ["Wilayah ditarik (tidak dikirim kurir)", 3] in cells
    # kartu, diterima, diserahkan, menunggu, hilang, then per disposition (pemilik, keluarga, meninggal, ...), rate
    assert [JATIMULYA, "Tambun Selatan", "Jatimulya", 6, 5, 2, 2, 1, 1, 1, 1, 0, 0, 40.0] in cells


def test_pages_render_before_anything_came_back(staff):
    for url in ("/pengembalian", "/pengembalian/berkas", "/pengembalian/kembali-ke-kantor", "/pengembalian/meninggal",
                "/pengembalian/hilang", "/pengembalian/pengingat", "/pengembalian/petugas", "/laporan"):
        assert staff.get(url).status_code == 200, url
    assert staff.get("/api/v1/returns/report").get_json()["by_reason"] == []
    r = staff.post("/pengembalian/susun", data={"mode": "all"}, follow_redirects=True)
    assert "Tidak ada kartu kembali" in r.get_data(as_text=True)
    assert staff.get("/pengembalian/meninggal.csv").data.decode("utf-8-sig").startswith("nik,nama,")
