"""Personal data (UU PDP 27/2022): the NIK masked where the task does not need it, who opened full NIKs, what every
export says it holds, and `antar purge`, which removes the personal data of closed cards and keeps every count."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pypdf
import pytest
from helpers import card_row, cli, login, make_nik, make_user, report, write_csv
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, update

from app.cards import Actor, Card, CardState
from app.courier.client import CourierClient
from app.courier.tracking import parse_body
from app.dates import WIB
from app.db import unit_of_work, utcnow
from app.filters import mask_nik
from app.models import AccessLog, Office, Role
from app.privacy import Purge, redact, redact_courier_body
from app.spreadsheet import PERSONAL_DATA_HEADER, personal_data_header, personal_data_of, personal_data_sheet
from courier_sim.server import CourierSimulator
from delivery.models import TrackingEvent, WebhookMessage
from delivery.service import Settings, apply_batch
from manifests import handover
from manifests.intake.models import PrintRun
from manifests.models import Manifest, ManifestItem
from returns import service as returns_service
from returns.models import Disposition, HandoverItem
from returns.service import Scope

JATIMULYA = "32.16.06.1001"
STAFF = Actor("staf")
OFFICER = Actor("petugas-jatimulya")
RECIPIENTS = {1: ("WARGA NOMOR 1", "SELF"), 2: ("WARGA NOMOR 2", "SELF"), 3: ("IBU SITI RAHAYU", "FAMILY"),
              4: ("TETANGGA BUDI SANTOSO", "NEIGHBOUR")}
RETURNS = {5: "MOVED", 6: "UNCLAIMED", 7: "DECEASED", 8: "REFUSED"}
BAD_NIK = make_nik(50)  # the rejected row: its birth date disagrees with its NIK, which the reason quotes
CLOSED = {1, 2, 3, 4, 5, 6, 7, 11}  # delivered 1-4, handed over 5-6, deceased 7, damaged 11
OPEN = {8, 9, 10}  # waiting at the kelurahan 8, with the courier 9-10


def blanko(i: int) -> str:
    return f"BLK{i:07d}"


def ev(number: str, status: str, day: int, eid: str, **extra) -> dict:
    at = dt.datetime.combine(dt.date.today() - dt.timedelta(days=30), dt.time(9), WIB) + dt.timedelta(days=day)
    return {"event_id": eid, "tracking_number": number, "status": status, "occurred_at": at.isoformat(), **extra}


def post_events(app, events: list[dict]) -> None:
    body = {"type": "tracking.events", "data": {"events": events}}
    with app.app_context(), unit_of_work() as s:
        results = apply_batch(s, json.dumps(body), f"msg-{events[0]['event_id']}", parse_body(body),
                              Settings(far_km=50))
    assert {r["result"] for r in results} <= {"applied", "stale"}, results


@pytest.fixture
def flow(app, runner, tmp_path):
    """Eleven cards of Jatimulya and a rejected row, taken through the courier and the kelurahan: 1-4 delivered
    (recipient, proof, point), 5-8 returned, of which 5 handed to the holder, 6 to family, 7 deceased and 8 waiting;
    9-10 still with the courier; 11 damaged."""
    rows = [card_row(i, no_hp=f"08123456{i:04d}") for i in range(1, 12)]
    rows.append(card_row(50, tanggal_lahir="06-12-1990"))
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows))).exit_code == 0
    assert cli(runner, "sorting", "damaged", blanko(11), "--reason", "tergores").exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with CourierSimulator(api_token="tok") as sim, app.app_context():
        with unit_of_work() as s:
            code = s.scalar(select(Office.code))
        for mid in handover.pending_handover(code):
            assert handover.hand_over(code, mid, STAFF, CourierClient(sim.url, "tok")).answer.ok
    with app.app_context(), unit_of_work() as s:
        numbers = dict(s.execute(select(Card.nomor_blanko, ManifestItem.tracking_number)
                                 .join(Card, Card.id == ManifestItem.card_id).where(ManifestItem.active)).all())
    events = []
    for i, (name, relationship) in RECIPIENTS.items():
        events.append(ev(numbers[blanko(i)], "DELIVERED", 2, f"d{i}", recipient={"name": name, "relationship":
                         relationship}, proof={"photo_url": f"https://pos.example/foto/{i}", "signature_url":
                         f"https://pos.example/ttd/{i}"}, location={"post_office": "17510", "lat": -6.2668,
                                                                   "lng": 107.0295}))
    for i, reason in RETURNS.items():
        events += [ev(numbers[blanko(i)], "RETURNED", 1, f"r{i}", reason_code=reason),
                   ev(numbers[blanko(i)], "RETURN_RECEIVED", 3, f"rr{i}")]
    events += [ev(numbers[blanko(i)], "IN_TRANSIT", 1, f"t{i}") for i in (9, 10)]
    post_events(app, events)
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        (batch,) = returns_service.build_batches(s, office, STAFF, [JATIMULYA])
        returns_service.dispatch(s, Scope(office), batch.id, STAFF)
        batch_id = batch.id
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        returns_service.confirm_receipt(s, Scope(office, JATIMULYA), batch_id, 4, [], OFFICER)
    items = item_ids(app, batch_id)
    dispositions = {5: (Disposition.HOLDER, {"receiver_name": "WARGA NOMOR 5", "id_checked": "1"}),
                    6: (Disposition.FAMILY, {"receiver_name": "ANAK KANDUNG RINI", "receiver_relationship": "anak",
                                             "note": "dijemput di balai desa"}),
                    7: (Disposition.DECEASED, {"note": "surat kematian dari Pak RT Wahyudi"})}
    for i, (disposition, fields) in dispositions.items():
        with app.app_context(), unit_of_work() as s:
            office = s.scalar(select(Office))
            returns_service.record_disposition(s, Scope(office, JATIMULYA), items[blanko(i)], disposition, fields,
                                               OFFICER, deadline_days=30)
    with app.app_context(), unit_of_work() as s:
        states = dict(s.execute(select(Card.nomor_blanko, Card.state)).all())
        run_id = s.scalar(select(PrintRun.id))
        manifest_id = s.scalar(select(Manifest.id))
    assert {i for i in range(1, 12) if states[blanko(i)] in (
        CardState.DELIVERED, CardState.HANDED_TO_HOLDER, CardState.HOLDER_DECEASED, CardState.DAMAGED)} == CLOSED
    assert states[blanko(8)] is CardState.AT_KELURAHAN
    return {"numbers": numbers, "batch_id": batch_id, "items": items, "run_id": run_id, "manifest_id": manifest_id}


def item_ids(app, batch_id: int) -> dict[str, int]:
    with app.app_context(), unit_of_work() as s:
        return dict(s.execute(select(Card.nomor_blanko, HandoverItem.id).join(Card, Card.id == HandoverItem.card_id)
                              .where(HandoverItem.batch_id == batch_id)).all())


def access_log(app) -> list[AccessLog]:
    with app.app_context(), unit_of_work() as s:
        return list(s.scalars(select(AccessLog).order_by(AccessLog.id)))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


# --- masking ----------------------------------------------------------------------------------------------------


def test_mask_nik_keeps_the_first_six_and_last_four_digits():
    assert mask_nik("3216060512900001") == "321606******0001"
    assert mask_nik("") == "" and mask_nik(None) == ""
    assert mask_nik("12345") == "*2345" and mask_nik("123") == "***"


def test_no_page_shows_a_full_nik_but_the_rejected_rows_and_the_deceased_list(app, client, flow):
    """Every page, list, API answer and document staff and officers open, with the one NIK a page may show."""
    niks = [make_nik(i) for i in range(1, 12)] + [BAD_NIK]
    allowed = {"intake.run_page": BAD_NIK, "intake.run_rejections_csv": BAD_NIK,
               "returns.deceased_page": make_nik(7), "returns.deceased_csv": make_nik(7),
               "returns.deceased_api": make_nik(7)}
    make_user(app, "staf", Role.STAFF)
    make_user(app, "petugas-jatimulya", Role.OFFICER, kelurahan=JATIMULYA)
    number = flow["numbers"][blanko(1)]
    staff_urls = [r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and not r.arguments
                  and r.endpoint not in ("auth.login", "static", "health.readyz")]
    staff_urls += [f"/impor/{flow['run_id']}", f"/impor/{flow['run_id']}/ditolak.csv",
                   f"/manifest/{flow['manifest_id']}", f"/api/v1/manifests/{flow['manifest_id']}",
                   f"/lacak/{number}", f"/api/v1/tracking/{number}",
                   f"/lacak?q={make_nik(1)}", f"/api/v1/tracking?q={make_nik(3)}", f"/api/v1/cards/{blanko(7)}",
                   f"/pengembalian/berkas/{flow['batch_id']}", f"/api/v1/returns/batches/{flow['batch_id']}",
                   "/masalah/jauh", "/masalah/senyap"]
    officer_urls = ["/kelurahan", f"/kelurahan/berkas/{flow['batch_id']}", "/kelurahan/kartu.csv",
                    f"/kelurahan/kartu/{flow['items'][blanko(8)]}", "/api/v1/kelurahan/cards",
                    f"/api/v1/kelurahan/batches/{flow['batch_id']}", "/kelurahan/pengingat"]
    checked = 0
    for user, urls in (("staf", staff_urls), ("petugas-jatimulya", officer_urls)):
        login(client, user)
        for url in urls:
            response = client.get(url)
            assert response.status_code < 500, url
            if response.status_code != 200:
                continue
            endpoint = app.url_map.bind("localhost").match(url.split("?")[0])[0]
            text = response.data.decode("utf-8", "replace")
            shown = [n for n in niks if n in text]
            if "q=" in url:  # a search may show what staff typed (in its box and links), nothing more
                assert set(shown) <= {url.split("q=")[1]}, (url, shown)
            else:
                assert shown == ([allowed[endpoint]] if endpoint in allowed else []), (url, shown)
            checked += 1
        client.post("/logout")
    # documents: the Berita Acara and the kelurahan handover list name people, never their NIK
    login(client, "staf")
    for url in (f"/manifest/{flow['manifest_id']}/berita-acara.pdf",
                f"/pengembalian/berkas/{flow['batch_id']}/daftar.pdf"):
        text = pdf_text(client.get(url).data)
        assert "WARGA NOMOR" in text and not [n for n in niks if n in text], url
    xlsx = load_workbook(io.BytesIO(client.get(f"/manifest/{flow['manifest_id']}/items.xlsx").data))
    cells = " ".join(str(c) for ws in xlsx for row in ws.iter_rows(values_only=True) for c in row if c is not None)
    assert "WARGA NOMOR" in cells and not [n for n in niks if n in cells]
    assert checked > 40


def test_kelurahan_officer_sees_the_nik_masked_to_compare_with_the_card_in_hand(app, client, flow):
    make_user(app, "petugas-jatimulya", Role.OFFICER, kelurahan=JATIMULYA)
    login(client, "petugas-jatimulya")
    text = client.get(f"/kelurahan/kartu/{flow['items'][blanko(8)]}").get_data(as_text=True)
    assert mask_nik(make_nik(8)) in text and make_nik(8) not in text


# --- access log -------------------------------------------------------------------------------------------------


def test_opening_full_niks_is_recorded_and_staff_read_the_log(app, client, flow, runner):
    make_user(app, "staf", Role.STAFF)
    make_user(app, "admin", Role.ADMIN)
    make_user(app, "petugas-jatimulya", Role.OFFICER, kelurahan=JATIMULYA)
    make_user(app, "staf-lain", Role.STAFF, office="32.75")
    login(client, "staf")
    assert access_log(app) == []
    assert BAD_NIK in client.get(f"/impor/{flow['run_id']}").get_data(as_text=True)
    assert make_nik(7) in client.get("/pengembalian/meninggal").get_data(as_text=True)
    assert client.get("/pengembalian/meninggal.csv").status_code == 200
    assert client.get(f"/impor/{flow['run_id']}/ditolak.csv").status_code == 200
    assert client.get("/api/v1/returns/deceased").status_code == 200
    client.get("/pengembalian")  # a page without full NIKs leaves no entry
    entries = access_log(app)
    assert [(e.username, e.path, e.records) for e in entries] == [
        ("staf", f"/impor/{flow['run_id']}", 1), ("staf", "/pengembalian/meninggal", 1),
        ("staf", "/pengembalian/meninggal.csv", 1), ("staf", f"/impor/{flow['run_id']}/ditolak.csv", 1),
        ("staf", "/api/v1/returns/deceased", 1)]
    assert "Baris ditolak print run" in entries[0].what and "meninggal" in entries[1].what
    with app.app_context(), unit_of_work() as s:
        office_id = s.scalar(select(Office.id).where(Office.code == "32.16"))
    assert {e.office_id for e in entries} == {office_id} and all(e.user_id and e.ip == "127.0.0.1" for e in entries)
    assert all(e.at > utcnow() - dt.timedelta(minutes=5) for e in entries)

    page = client.get("/akses-data")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/akses-data"' in text  # in the menu
    # newest first
    assert text.index("/api/v1/returns/deceased") < text.index("/pengembalian/meninggal.csv") < text.index(
        f"/impor/{flow['run_id']}<")
    client.post("/logout")

    # an admin's opening is recorded for the office the admin works for, and the admin reads the log too
    login(client, "admin")
    client.get("/pengembalian/meninggal")
    assert access_log(app)[-1].office_id == office_id and access_log(app)[-1].username == "admin"
    assert client.get("/akses-data").status_code == 200
    client.post("/logout")

    # staff of another office see nothing of this office's log; officers are not let in
    login(client, "staf-lain")
    text = client.get("/akses-data").get_data(as_text=True)
    assert "/pengembalian/meninggal" not in text and "Belum ada" in text
    client.post("/logout")
    login(client, "petugas-jatimulya")
    assert client.get("/akses-data").status_code == 403

    result = cli(runner, "privacy", "access-log", "--json", "--limit", "2")
    assert result.exit_code == 0, result.output
    assert [e["username"] for e in json.loads(result.output)] == ["admin", "staf"]


def test_access_log_page_is_paginated(app, staff):
    with app.app_context(), unit_of_work() as s:
        office_id = s.scalar(select(Office.id))
        start = utcnow() - dt.timedelta(days=1)
        s.add_all(AccessLog(at=start + dt.timedelta(minutes=i), office_id=office_id, username="staf",
                            what=f"Halaman uji {i:03d}", path="/uji", records=i) for i in range(60))
    first = staff.get("/akses-data").get_data(as_text=True)
    assert "Halaman uji 059" in first and "Halaman uji 010" in first and "Halaman uji 009" not in first
    second = staff.get("/akses-data?hal=2").get_data(as_text=True)
    assert "Halaman uji 009" in second and "Halaman uji 000" in second and "Halaman uji 010" not in second
    assert staff.get("/akses-data?hal=x").status_code == 400


# --- what every export holds ------------------------------------------------------------------------------------


def test_every_download_says_which_personal_data_it_holds(app, client, flow):
    make_user(app, "staf", Role.STAFF)
    make_user(app, "petugas-jatimulya", Role.OFFICER, kelurahan=JATIMULYA)
    login(client, "staf")
    m, b = flow["manifest_id"], flow["batch_id"]
    expected = {
        f"/manifest/{m}/items.csv": ("nama, alamat, no_hp, lokasi", "seq,tracking_number,recipient_name"),
        f"/api/v1/manifests/{m}/items.csv": ("nama, alamat, no_hp, lokasi", "seq,"),
        "/pengembalian/meninggal.csv": ("nik, nama, tanggal_lahir, catatan", "nik,nama,"),
        f"/impor/{flow['run_id']}/ditolak.csv": ("nik, baris_ditolak", "baris,kolom,alasan"),
        "/pengembalian/pengingat.csv": ("nama", "kode_wilayah,"),
    }
    for url, (header, first_line) in expected.items():
        r = client.get(url)
        assert r.status_code == 200 and r.headers[PERSONAL_DATA_HEADER] == header, url
        # no line above the header row: the programs that read these files keep working
        assert r.data.decode("utf-8-sig").startswith(first_line), url
    # PDF: a line in every page's footer, and the same in its keywords; XLSX: a "Keterangan" sheet
    for url, note in ((f"/manifest/{m}/berita-acara.pdf", "nama, alamat."),
                      (f"/pengembalian/berkas/{b}/daftar.pdf", "nama, alamat.")):
        data = client.get(url).data
        reader = pypdf.PdfReader(io.BytesIO(data))
        for page in reader.pages:
            assert f"Memuat data pribadi (UU PDP 27/2022): {note}" in page.extract_text(), url
        assert reader.metadata["/Keywords"] == f"{PERSONAL_DATA_HEADER}: nama, alamat"
    book = load_workbook(io.BytesIO(client.get(f"/manifest/{m}/items.xlsx").data))
    assert book.sheetnames == ["Manifest", "Info", "Keterangan"]
    lines = [row[0] for row in book["Keterangan"].iter_rows(values_only=True)]
    assert lines[0] == "Data pribadi" and "nama, alamat, nomor HP, titik lokasi" in lines[1]
    assert lines[2] == f"{PERSONAL_DATA_HEADER}: nama, alamat, no_hp, lokasi"
    client.post("/logout")
    login(client, "petugas-jatimulya")
    r = client.get("/kelurahan/kartu.csv")
    assert r.headers[PERSONAL_DATA_HEADER] == "nama, alamat, penerima, catatan"
    assert r.data.decode("utf-8-sig").startswith("berkas,nomor_blanko,nama,")


def test_personal_data_vocabulary():
    assert personal_data_of(["seq", "Nama", "rt", "no_hp"]) == ["nama", "alamat", "no_hp"]
    assert personal_data_of(["baris", "kode_wilayah"]) == [] and personal_data_header([]) == "none"
    book = Workbook()
    personal_data_sheet(book, [])
    assert book["Keterangan"]["A2"].value == "Dokumen ini tidak memuat data pribadi."


# --- purge ------------------------------------------------------------------------------------------------------


def snapshot(app) -> dict:
    """Everything the purge may touch, by blanko number."""
    with app.app_context(), unit_of_work() as s:
        cards = {c.nomor_blanko: {k: getattr(c, k) for k in ("nik", "nama", "alamat", "street", "rt", "rw", "no_hp",
                                                              "tanggal_lahir", "tempat_lahir", "lat", "state",
                                                              "kelurahan_code", "return_reason")}
                 for c in s.scalars(select(Card))}
        history = {b: [(h.from_state, h.to_state, h.at, h.actor, h.reason) for h in hs] for b, hs in (
            (c.nomor_blanko, c.history) for c in s.scalars(select(Card)))}
        items = {b: (r, p) for b, r, p in s.execute(
            select(Card.nomor_blanko, HandoverItem.receiver_name, HandoverItem.note)
            .join(Card, Card.id == HandoverItem.card_id))}
        recipients = {b: (m, e) for b, m, e in s.execute(
            select(Card.nomor_blanko, ManifestItem.recipient_name, TrackingEvent.recipient_name)
            .join(Card, Card.id == ManifestItem.card_id).join(TrackingEvent, TrackingEvent.item_id == ManifestItem.id)
            .where(TrackingEvent.status == "DELIVERED"))}
        bodies = [json.loads(b) for b in s.scalars(select(WebhookMessage.body))]
    return {"cards": cards, "history": history, "items": items, "recipients": recipients, "bodies": bodies}


def without_time(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "generated_at"}


def test_purge_removes_personal_data_of_closed_cards_and_keeps_every_count(app, runner, flow):
    before_report, before = report(runner), snapshot(app)
    tomorrow = (dt.datetime.now(WIB).date() + dt.timedelta(days=1)).isoformat()

    # nothing closed before yesterday; without --yes only a count
    result = cli(runner, "purge", "--closed-before", dt.date.today().replace(year=2020).isoformat(), "--yes")
    assert result.exit_code == 0 and "Data pribadi 0 kartu dihapus" in result.output
    dry = cli(runner, "purge", "--closed-before", tomorrow)
    assert dry.exit_code == 0 and "8 kartu" in dry.output and "--yes" in dry.output
    assert snapshot(app) == before

    done = cli(runner, "purge", "--closed-before", tomorrow, "--yes")
    assert done.exit_code == 0, done.output
    assert "Data pribadi 8 kartu dihapus" in done.output
    after = snapshot(app)
    assert without_time(report(runner)) == without_time(before_report)

    for i in range(1, 12):
        old, new = before["cards"][blanko(i)], after["cards"][blanko(i)]
        # state, area and return reason (what the report counts) never change
        assert (new["state"], new["kelurahan_code"], new["return_reason"]) == (
            old["state"], old["kelurahan_code"], old["return_reason"])
        if i in OPEN:
            assert new == old and after["history"][blanko(i)] == before["history"][blanko(i)]
            continue
        assert new["nik"] == "" and new["nama"] == new["alamat"] == "[dihapus]" and new["tempat_lahir"] == ""
        assert new["street"] is new["rt"] is new["rw"] is new["no_hp"] is new["lat"] is None
        assert new["tanggal_lahir"] == dt.date(1900, 1, 1)
        # history: every row kept (states, time, actor), the personal texts taken out of its reasons
        old_rows, new_rows = before["history"][blanko(i)], after["history"][blanko(i)]
        assert [r[:4] for r in new_rows] == [r[:4] for r in old_rows]
        text = " ".join(r[4] for r in new_rows)
        for secret in (old["nik"], old["nama"], old["alamat"], old["street"], old["no_hp"], "ANAK KANDUNG RINI",
                       "Wahyudi", "dijemput di balai desa"):
            assert not secret or secret.lower() not in text.lower(), (i, secret, text)
    assert after["history"][blanko(6)][-1][4].startswith("Diserahkan kepada keluarga: [dihapus] (anak)")
    assert "meninggal" in after["history"][blanko(7)][-1][4].lower()

    # the domains' tables: the courier's recipients, the kelurahan's receivers and notes, the webhook bodies
    assert all(v == (None, None) for v in after["recipients"].values()) and before["recipients"][blanko(3)] == (
        "IBU SITI RAHAYU", "IBU SITI RAHAYU")
    assert after["items"][blanko(5)] == after["items"][blanko(6)] == after["items"][blanko(7)] == (None, None)
    assert after["items"][blanko(8)] == before["items"][blanko(8)]
    bodies = json.dumps(after["bodies"])
    for name, _ in RECIPIENTS.values():
        assert name not in bodies
    assert "pos.example" not in bodies and "107.0295" not in bodies and "RETURN_RECEIVED" in bodies
    assert json.dumps(before["bodies"]).count("IBU SITI RAHAYU") == 1

    # recorded: who, when, how many; a second run finds nothing left
    runs = [e for e in access_log(app) if e.path.startswith("antar purge")]
    assert [e.records for e in runs] == [0, 8]  # every run that may remove something is recorded
    entry = runs[1]
    assert entry.records == 8 and entry.username.startswith("cli:") and entry.user_id is None
    assert entry.path == f"antar purge --closed-before {tomorrow}" and "8 kartu" in entry.what
    again = cli(runner, "purge", "--closed-before", tomorrow, "--yes")
    assert "Data pribadi 0 kartu dihapus" in again.output
    assert without_time(report(runner)) == without_time(before_report)


def test_purged_cards_still_show_on_the_pages(app, runner, staff, flow):
    tomorrow = (dt.datetime.now(WIB).date() + dt.timedelta(days=1)).isoformat()
    assert cli(runner, "purge", "--closed-before", tomorrow, "--yes").exit_code == 0
    for url in (f"/lacak/{flow['numbers'][blanko(3)]}", "/pengembalian/meninggal", f"/manifest/{flow['manifest_id']}",
                f"/pengembalian/berkas/{flow['batch_id']}", f"/manifest/{flow['manifest_id']}/berita-acara.pdf",
                "/laporan"):
        assert staff.get(url).status_code == 200, url
    assert "[dihapus]" in staff.get("/pengembalian/meninggal").get_data(as_text=True)


def test_a_purged_card_cannot_be_reopened_by_a_correction(app, runner, staff, flow):
    item = flow["items"][blanko(5)]  # handed to the holder: closed, and purged below
    tomorrow = (dt.datetime.now(WIB).date() + dt.timedelta(days=1)).isoformat()
    assert cli(runner, "purge", "--closed-before", tomorrow, "--yes").exit_code == 0
    r = staff.post(f"/api/v1/returns/items/{item}/correct", json={"reason": "salah catat"})
    assert r.status_code == 422 and "sudah dihapus" in r.get_json()["error"]["message"]
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(Card.state).where(Card.nomor_blanko == blanko(5))) is CardState.HANDED_TO_HOLDER


def test_purge_takes_only_cards_closed_before_the_date(app, runner, flow):
    """A card closed on the day itself (WIB) is kept; moving its closing back a day puts it in."""
    today = dt.datetime.now(WIB).date().isoformat()
    assert cli(runner, "purge", "--closed-before", today).output.startswith("0 kartu")
    with app.app_context(), unit_of_work() as s:
        s.execute(update(Card).where(Card.nomor_blanko == blanko(1))
                  .values(state_changed_at=utcnow() - dt.timedelta(days=2)))
    assert "Data pribadi 1 kartu dihapus" in cli(runner, "purge", "--closed-before", today, "--yes").output
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(Card).where(Card.nik == "")) == 1
        assert s.scalar(select(Card.nik).where(Card.nomor_blanko == blanko(2))) == make_nik(2)


def test_redaction_helpers():
    assert redact("Diserahkan kepada keluarga: Ani (ibu). Catatan: ANI titip", {"Ani"}) == (
        "Diserahkan kepada keluarga: [dihapus] (ibu). Catatan: [dihapus] titip")
    assert redact("DANIEL dan NIK 3216060512900001", {"ANI"}) == "DANIEL dan NIK [dihapus]"
    purge = Purge(1, utcnow())
    purge.forget(7, None, "", "ab", json.dumps({"street": "JL. MAWAR NO. 7", "rt": "002", "lat": 1.5}), "SITI")
    assert purge.texts[7] == {"JL. MAWAR NO. 7", "002", "SITI"}
    body = json.dumps({"type": "tracking.events", "data": {"events": [
        {"tracking_number": "A", "recipient": {"name": "X Y", "relationship": "SELF"}, "proof": {"photo_url": "u"},
         "location": {"post_office": "17510", "lat": 1.0, "lng": 2.0}},
        {"tracking_number": "B", "recipient": {"name": "Z Z", "relationship": "SELF"}}]}})
    redacted = json.loads(redact_courier_body(body, {"A"}))["data"]["events"]
    assert redacted[0]["recipient"] == {"name": None, "relationship": "SELF"} and redacted[0]["proof"] is None
    assert redacted[0]["location"] == {"post_office": "17510", "lat": None, "lng": None}
    assert redacted[1]["recipient"]["name"] == "Z Z"
    assert redact_courier_body("not json", {"A"}) == "not json" and redact_courier_body(body, {"C"}) == body
    assert re.fullmatch(r"\d{6}\*{6}\d{4}", mask_nik(make_nik(1)))
