"""Staff tracking search and timeline, pages and JSON API: every search key, office scope, event order, 404s."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from helpers import make_nik
from sqlalchemy import select
from tracking import WIB, event, handed_over, post_events

from app.cards import Card
from app.courier import s10
from app.db import unit_of_work, utcnow
from app.models import Office, Role
from app.users import create_user
from manifests.models import Manifest, ManifestItem, ManifestStatus

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)


@pytest.fixture
def numbers(webhook_app, staff, runner, tmp_path) -> list[str]:
    return handed_over(webhook_app, runner, tmp_path)


def logged_in(app, username: str, role: Role, office: str, kelurahan: str | None = None):
    """A new client logged in as a new user of `office`."""
    with app.app_context(), unit_of_work() as s:
        create_user(s, username, "sandi-rahasia", role, office_code=office, kelurahan_code=kelurahan)
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "sandi-rahasia"}).status_code == 302
    return client


def manifest_number(app) -> str:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(Manifest.number))


def found(client, q: str) -> list[dict]:
    response = client.get("/api/v1/tracking", query_string={"q": q})
    assert response.status_code == 200, response.json
    return response.json["results"]


def test_search_finds_items_by_every_key(webhook_app, staff, numbers):
    assert post_events(staff, [event(numbers[0], "ACCEPTED", T0, "e1")]).status_code == 200

    by_number = found(staff, numbers[0].lower())  # case-insensitive
    assert [r["tracking_number"] for r in by_number] == [numbers[0]]
    assert by_number[0]["nama"] == "WARGA NOMOR 1" and by_number[0]["tracking_status"] == "ACCEPTED"
    assert by_number[0]["card_state_label"] == "Dalam pengantaran"
    assert by_number[0]["last_event_at"] == T0.astimezone(dt.UTC).isoformat()
    assert [r["nama"] for r in found(staff, make_nik(2))] == ["WARGA NOMOR 2"]
    assert [r["nama"] for r in found(staff, "blk0000003")] == ["WARGA NOMOR 3"]
    assert [r["nama"] for r in found(staff, "nomor 4")] == ["WARGA NOMOR 4"]
    assert len(found(staff, "warga")) == 5
    assert sorted(r["tracking_number"] for r in found(staff, manifest_number(webhook_app).lower())) == sorted(numbers)
    assert found(staff, "tidak ada orang ini") == [] and found(staff, make_nik(99)) == []

    page = staff.get("/lacak", query_string={"q": numbers[0]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "WARGA NOMOR 1" in html and "Dalam pengantaran" in html and "Diterima di kantor pos" in html
    assert "24-11-2026 09:00 WIB" in html and f'href="/lacak/{numbers[0]}"' in html


def test_too_short_a_text_is_explained(staff, numbers):
    assert staff.get("/api/v1/tracking", query_string={"q": "ab"}).status_code == 400
    assert staff.get("/api/v1/tracking").status_code == 400
    html = staff.get("/lacak", query_string={"q": "ab"}).get_data(as_text=True)
    assert "minimal 3 huruf" in html
    assert staff.get("/lacak").status_code == 200  # the empty search box


def test_another_office_finds_nothing_and_gets_404(webhook_app, numbers):
    other = logged_in(webhook_app, "lain", Role.STAFF, "32.75")  # Kota Bekasi
    for q in (numbers[0], make_nik(1), "BLK0000001", "warga", manifest_number(webhook_app)):
        assert found(other, q) == [], q
    assert "Tidak ada kartu" in other.get("/lacak", query_string={"q": "warga"}).get_data(as_text=True)
    assert other.get(f"/lacak/{numbers[0]}").status_code == 404
    assert other.get(f"/api/v1/tracking/{numbers[0]}").status_code == 404


def test_unknown_number_is_404_and_staff_only(webhook_app, staff, numbers):
    page = staff.get("/lacak/RB999999990ID")
    assert page.status_code == 404 and "RB999999990ID tidak ditemukan" in page.get_data(as_text=True)
    api = staff.get("/api/v1/tracking/RB999999990ID")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"
    anonymous = webhook_app.test_client()
    assert anonymous.get("/api/v1/tracking", query_string={"q": "warga"}).status_code == 401
    assert anonymous.get(f"/lacak/{numbers[0]}").status_code == 302
    officer = logged_in(webhook_app, "petugas", Role.OFFICER, "32.16", kelurahan="32.16.06.1001")
    assert officer.get("/masalah").status_code == 403 and officer.get(f"/lacak/{numbers[0]}").status_code == 403


def test_timeline_orders_events_by_occurred_at_whatever_the_arrival(webhook_app, staff, numbers):
    n = numbers[0]
    delivered = event(n, "DELIVERED", T0 + dt.timedelta(days=2), "e4",
                      recipient={"name": "SITI AMINAH", "relationship": "FAMILY"},
                      proof={"photo_url": "https://bukti.example/foto.jpg", "signature_url": "javascript:alert(1)"})
    # Out of order: the delivery first, then the earlier steps (stale), one of them sent in WITA (+08:00).
    assert post_events(staff, [delivered], msg_id="m1").status_code == 200
    wita = event(n, "OUT_FOR_DELIVERY", T0 + dt.timedelta(days=1), "e3")
    wita["occurred_at"] = (T0 + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    failed = event(n, "DELIVERY_FAILED", T0 + dt.timedelta(days=1, hours=2), "e3b", reason_code="NOBODY_HOME")
    assert post_events(staff, [wita, failed, event(n, "ACCEPTED", T0, "e1")], msg_id="m2").status_code == 200

    api = staff.get(f"/api/v1/tracking/{n.lower()}").json
    assert [e["event_id"] for e in api["events"]] == ["e1", "e3", "e3b", "e4"]
    assert [e["result"] for e in api["events"]] == ["stale", "stale", "stale", "applied"]
    assert api["events"][1]["courier_time"] == "25-11-2026 10:00 +08:00"
    assert api["events"][2]["reason_label"] == "tidak ada orang di rumah"
    assert api["card"]["nik_masked"] == "*" * 12 + make_nik(1)[-4:] and make_nik(1) not in str(api)
    assert api["item"]["tracking_status"] == "DELIVERED" and api["item"]["attempts"] == 1
    assert api["item"]["recipient_name"] == "SITI AMINAH" and api["item"]["recipient_relationship_label"] == "keluarga"
    assert [(h["from_state"], h["to_state"]) for h in api["card_history"]][-2:] == [
        ("ON_MANIFEST", "WITH_COURIER"), ("WITH_COURIER", "DELIVERED")]
    assert api["card_history"][-1]["to_label"] == "Terkirim ke pemilik"

    html = staff.get(f"/lacak/{n}").get_data(as_text=True)
    events = html[html.index("Kabar kurir (4)"):html.index("Riwayat kartu")]
    order = [events.index(label) for label in ("Diterima di kantor pos", "Dibawa pengantar",
                                               "Gagal antar (dicoba lagi)", "Terkirim")]
    assert order == sorted(order)
    assert "25-11-2026 09:00 WIB" in html and "waktu kurir 25-11-2026 10:00 +08:00" in html
    assert 'href="https://bukti.example/foto.jpg"' in html and "javascript:" not in html
    assert "JL. RAYA JATIMULYA NO. 1" in html and "BLK0000001" in html and make_nik(1) not in html
    with webhook_app.app_context(), unit_of_work() as s:
        manifest_id = s.scalar(select(Manifest.id))
    assert f'href="/manifest/{manifest_id}"' in html
    assert "Terkirim ke pemilik" in html and "sistem:kurir" in html  # the card's history: to, who


def test_a_card_sent_again_shows_all_its_items(webhook_app, staff, numbers):
    """A card returned and sent again on a new manifest: either number shows both items and all events."""
    first = numbers[0]
    assert post_events(staff, [event(first, "RETURNED", T0, "r1", reason_code="MOVED")], msg_id="m1").status_code == 200
    second = s10.tracking_number("RB", 19999999)
    with webhook_app.app_context(), unit_of_work() as s:
        old = s.scalar(select(ManifestItem).where(ManifestItem.tracking_number == first))
        old.active = False
        s.flush()
        office = s.scalar(select(Office))
        m = Manifest(office_id=office.id, number="MNF-3216-20261201-0009", post_office_code="17510",
                     post_office_name="Tambun", status=ManifestStatus.HANDED_OVER, item_count=1, created_by="t",
                     handed_over_at=utcnow())
        s.add(m)
        s.flush()
        s.add(ManifestItem(manifest_id=m.id, card_id=old.card_id, seq=1, tracking_number=second))
    later = T0 + dt.timedelta(days=7)  # after the return, and before today (a future event is refused)
    assert post_events(staff, [event(second, "ACCEPTED", later, "a2")], msg_id="m2").status_code == 200

    for n in (first, second):
        api = staff.get(f"/api/v1/tracking/{n}").json
        assert api["item"]["tracking_number"] == n
        assert [i["tracking_number"] for i in api["items"]] == [first, second]
        assert [(e["tracking_number"], e["status"]) for e in api["events"]] == [(first, "RETURNED"),
                                                                              (second, "ACCEPTED")]
    html = staff.get(f"/lacak/{first}").get_data(as_text=True)
    assert "MNF-3216-20261201-0009" in html and "pindah alamat" in html and "tidak aktif" in html
    assert len(re.findall(r"WARGA NOMOR 1\b", html)) == 1  # one card
    assert {r["tracking_number"] for r in found(staff, "BLK0000001")} == {first, second}


def test_search_row_for_a_card_on_no_manifest(webhook_app, staff, numbers, runner, tmp_path):
    from helpers import card_row, cli, write_csv

    rows = [card_row(7, tanggal_cetak="03-11-2026")]
    assert cli(runner, "import", str(write_csv(tmp_path / "more.csv", rows))).exit_code == 0
    [row] = found(staff, make_nik(7))
    assert row["tracking_number"] is None and row["card_state"] == "READY" and row["manifest_number"] is None
    with webhook_app.app_context(), unit_of_work() as s:
        assert s.scalar(select(Card.state).where(Card.nik == make_nik(7))) == "READY"


def test_a_name_search_can_use_the_trigram_index_on_postgresql(webhook_app, staff, numbers):
    # At a million cards a substring of the name must not read every card (migration 0017; benchmarks/bench_scale.py
    # shows the search's plan at that size). Here, on a handful of rows, sequential scans are switched off to see that
    # the index serves the search's name condition as the search writes it.
    with webhook_app.app_context(), unit_of_work() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("pg_trgm is PostgreSQL's")
        s.execute(sa.text("SET LOCAL enable_seqscan = off"))
        name = select(Card.id).where(sa.func.upper(Card.nama).contains("NOMOR 4", autoescape=True))
        sql = str(name.compile(s.get_bind(), compile_kwargs={"literal_binds": True}))
        plan = "\n".join(r[0] for r in s.connection().exec_driver_sql("EXPLAIN " + sql.replace("%", "%%"), {}))
        assert "ix_card_nama_trgm" in plan, plan
    assert [r["nama"] for r in found(staff, "omor 4")] == ["WARGA NOMOR 4"]
