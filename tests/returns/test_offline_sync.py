"""Records a kelurahan officer made without a network, sent when it returns (issue 15), through HTTP.

Each record goes through the officer's JSON API with its own Idempotency-Key and the version of the card (or batch)
the phone had seen: sent once or five times it is recorded once; a card staff corrected or moved meanwhile, or one
recorded otherwise meanwhile, keeps the record as a conflict (409) that both sides see and staff decide, with who,
when and why; nothing the office has is overwritten. Also: the pieces of the app on the phone (session, list of
pages to keep, service worker, manifest), and a page fetched in the background leaving the officer's messages alone.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from helpers import card_row, cli, login, make_user, write_csv
from sqlalchemy import func, select

from app.cards import Actor, Card, CardHistory, CardState
from app.db import unit_of_work
from app.models import Office, Role
from manifests.sorting import withdraw_area
from returns import service
from returns.models import (
    ConflictStatus,
    FormSubmission,
    HandoverBatch,
    HandoverBatchEvent,
    HandoverItem,
    OfflineConflict,
)
from returns.service import Scope

JATIMULYA = "32.16.06.1001"
STAFF = Actor("staf")
OFFICER = "petugas-jatimulya"
TODAY = dt.date.today().isoformat()


def make_batch(app, runner, tmp_path, n: int, *, receive: bool, first: int = 1) -> int:
    rows = [card_row(i) for i in range(first, first + n)]
    assert cli(runner, "import", str(write_csv(tmp_path / f"jatimulya-{first}.csv", rows))).exit_code == 0
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        withdraw_area(s, office, JATIMULYA, [], "uji: kartu untuk kelurahan", STAFF)
        (batch,) = service.build_batches(s, office, STAFF, [JATIMULYA])
        service.dispatch(s, Scope(office), batch.id, STAFF)
        batch_id = batch.id
    if receive:
        with app.app_context(), unit_of_work() as s:
            service.confirm_receipt(s, Scope(s.scalar(select(Office)), JATIMULYA), batch_id, n, [], Actor("x"))
    return batch_id


def items(app, batch_id: int) -> dict[str, int]:
    with app.app_context(), unit_of_work() as s:
        return dict(s.execute(select(Card.nomor_blanko, HandoverItem.id).join(Card, Card.id == HandoverItem.card_id)
                              .where(HandoverItem.batch_id == batch_id)).all())


def version_of(app, blanko: str) -> int:
    """What the phone saw when it kept the card's page: the id of the card's last history row."""
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.max(CardHistory.id)).join(Card, Card.id == CardHistory.card_id)
                        .where(Card.nomor_blanko == blanko))


def batch_version(app, batch_id: int) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.max(HandoverBatchEvent.id)).where(HandoverBatchEvent.batch_id == batch_id))


def state_of(app, blanko: str) -> CardState:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(Card.state).where(Card.nomor_blanko == blanko))


def moves_to(app, blanko: str, state: CardState) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(CardHistory).join(Card, Card.id == CardHistory.card_id)
                        .where(Card.nomor_blanko == blanko, CardHistory.to_state == state))


def conflicts_in_db(app) -> list[OfflineConflict]:
    with app.app_context(), unit_of_work() as s:
        rows = list(s.scalars(select(OfflineConflict).order_by(OfflineConflict.id)))
        s.expunge_all()
        return rows


def post(client, url: str, body: dict, key: str):
    return client.post(url, json=body, headers={"Idempotency-Key": key})


def holder(app, blanko: str, name: str, **extra) -> dict:
    return {"disposition": "HOLDER", "receiver_name": name, "id_checked": True, "handed_on": TODAY,
            "seen_version": version_of(app, blanko), "recorded_at": "2026-12-01T03:04:05.678Z", **extra}


@pytest.fixture
def officer(app):
    make_user(app, OFFICER, Role.OFFICER, kelurahan=JATIMULYA)
    client = app.test_client()
    login(client, OFFICER)
    return client


def test_a_day_recorded_offline_is_recorded_once_however_often_it_is_sent(app, runner, tmp_path, officer):
    """The phone kept a receipt and three dispositions; the network failed halfway several times, so each was sent
    again (the same key, the same body): one receipt, one change per card, one stored answer per key."""
    batch_id = make_batch(app, runner, tmp_path, 4, receive=False)
    ids = items(app, batch_id)
    seen = {b: version_of(app, b) for b in ids}  # what the phone had seen: the batch on its way
    receipt = {"counted": 3, "missing": ["BLK0000004"], "seen_version": batch_version(app, batch_id),
               "recorded_at": "2026-12-01T02:00:00Z"}
    records = [(f"/api/v1/kelurahan/batches/{batch_id}/receipt", receipt, str(uuid.uuid4()))]
    bodies = {
        "BLK0000001": {"disposition": "HOLDER", "receiver_name": "WARGA NOMOR 1", "id_checked": True,
                       "handed_on": TODAY},
        "BLK0000002": {"disposition": "FAMILY", "receiver_name": "SITI AMINAH", "receiver_relationship": "istri",
                       "handed_on": TODAY},
        "BLK0000003": {"disposition": "DECEASED", "note": "surat kematian dari RT"},
    }
    for blanko, body in bodies.items():
        records.append((f"/api/v1/kelurahan/cards/{ids[blanko]}/disposition",
                        {**body, "seen_version": seen[blanko], "recorded_at": "2026-12-01T02:10:00+07:00"},
                        str(uuid.uuid4())))

    first = [post(officer, url, body, key) for url, body, key in records]
    assert [r.status_code for r in first] == [200] * 4, [r.get_json() for r in first]
    for _ in range(2):  # answers lost twice: everything sent again
        again = [post(officer, url, body, key) for url, body, key in records]
        assert [r.status_code for r in again] == [200] * 4
        assert all(r.headers["Idempotent-Replayed"] == "true" for r in again)
        assert [r.get_json() for r in again] == [r.get_json() for r in first]

    assert state_of(app, "BLK0000001") is CardState.HANDED_TO_HOLDER
    assert state_of(app, "BLK0000002") is CardState.HANDED_TO_HOLDER
    assert state_of(app, "BLK0000003") is CardState.HOLDER_DECEASED
    assert state_of(app, "BLK0000004") is CardState.MISSING
    for blanko, target in (("BLK0000001", CardState.HANDED_TO_HOLDER), ("BLK0000002", CardState.HANDED_TO_HOLDER),
                           ("BLK0000003", CardState.HOLDER_DECEASED), ("BLK0000004", CardState.MISSING)):
        assert moves_to(app, blanko, target) == 1
        assert moves_to(app, blanko, CardState.AT_KELURAHAN) == (0 if blanko == "BLK0000004" else 1)
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(FormSubmission)) == 4
        batch = s.get(HandoverBatch, batch_id)
        assert batch.status.value == "CLOSED" and batch.received_by == OFFICER and batch.received_count == 3
    assert conflicts_in_db(app) == []


def test_a_staff_correction_meanwhile_keeps_the_offline_record_as_a_conflict(app, runner, tmp_path, officer, staff):
    """The phone recorded card 1 handed to its holder; meanwhile the office PC recorded it handed to family and staff
    corrected that. The phone's record does not land on the corrected card: staff see it beside the card and
    accept it; the officer sees it waiting, then accepted."""
    batch_id = make_batch(app, runner, tmp_path, 3, receive=True)
    ids = items(app, batch_id)
    offline_body = holder(app, "BLK0000001", "WARGA NOMOR 1")  # the version the phone saw, before all that

    make_user(app, "petugas-2", Role.OFFICER, kelurahan=JATIMULYA)  # a colleague covering, on the office PC
    colleague = app.test_client()
    login(colleague, "petugas-2")
    family = {"disposition": "FAMILY", "receiver_name": "ORANG LAIN", "receiver_relationship": "tetangga"}
    url = f"/api/v1/kelurahan/cards/{ids['BLK0000001']}/disposition"
    assert post(colleague, url, family, "pc-1").status_code == 200
    fixed = staff.post(f"/api/v1/returns/items/{ids['BLK0000001']}/correct",
                       json={"reason": "tetangga bukan keluarga"})
    assert fixed.status_code == 200 and state_of(app, "BLK0000001") is CardState.AT_KELURAHAN

    key = str(uuid.uuid4())
    kept = post(officer, url, offline_body, key)
    assert kept.status_code == 409, kept.get_json()
    answer = kept.get_json()
    assert answer["error"]["code"] == "conflict" and "staf" in answer["error"]["message"]
    reason = answer["conflict"]["reason"]
    assert "diubah oleh staf" in reason and "tetangga bukan keluarga" in reason
    assert answer["conflict"]["status"] == "OPEN" and answer["conflict"]["nomor_blanko"] == "BLK0000001"
    replay = post(officer, url, offline_body, key)  # the answer was lost: sent again
    assert replay.status_code == 409 and replay.get_json() == answer and replay.headers["Idempotent-Replayed"] == "true"
    # nothing overwritten: the card waits as staff left it; the record is kept once, as it was sent
    assert state_of(app, "BLK0000001") is CardState.AT_KELURAHAN
    assert moves_to(app, "BLK0000001", CardState.HANDED_TO_HOLDER) == 1  # the colleague's, corrected
    (conflict,) = conflicts_in_db(app)
    assert json.loads(conflict.record)["receiver_name"] == "WARGA NOMOR 1" and conflict.officer == OFFICER
    assert conflict.recorded_at == dt.datetime(2026, 12, 1, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert conflict.seen_version == offline_body["seen_version"]

    # both sides see it
    mine = officer.get("/api/v1/kelurahan/conflicts").get_json()["conflicts"]
    assert [(c["id"], c["status"]) for c in mine] == [(conflict.id, "OPEN")]
    home = officer.get("/kelurahan").get_data(as_text=True)
    assert "menunggu keputusan staf" in home and "Diserahkan kepada pemilik: WARGA NOMOR 1" in home
    card_page = officer.get(f"/kelurahan/kartu/{ids['BLK0000001']}").get_data(as_text=True)
    assert "Catatan dari perangkat" in card_page and "menunggu keputusan staf" in card_page
    listed = staff.get("/pengembalian/konflik").get_data(as_text=True)
    assert "WARGA NOMOR 1" in listed and "tetangga bukan keluarga" in listed and "Terima catatan petugas" in listed
    assert staff.get("/api/v1/returns/conflicts?status=OPEN").get_json()["conflicts"][0]["id"] == conflict.id
    assert "Konflik catatan luring" in staff.get("/pengembalian").get_data(as_text=True)

    # staff decide: a reason is required, then the record is applied through the service
    refused = staff.post(f"/pengembalian/konflik/{conflict.id}", data={"keputusan": "terima", "alasan": " "})
    assert refused.status_code == 422 and "Alasan keputusan wajib diisi" in refused.get_data(as_text=True)
    done = staff.post(f"/pengembalian/konflik/{conflict.id}", data={"keputusan": "terima",
                                                                     "alasan": "petugas menyerahkan sendiri"})
    assert done.status_code == 302
    assert state_of(app, "BLK0000001") is CardState.HANDED_TO_HOLDER
    with app.app_context(), unit_of_work() as s:
        item = s.get(HandoverItem, ids["BLK0000001"])
        assert (item.receiver_name, item.disposition_by) == ("WARGA NOMOR 1", f"{OFFICER} (disetujui staf)")
        decided = s.get(OfflineConflict, conflict.id)
        assert decided.status is ConflictStatus.ACCEPTED and decided.decided_by == "staf"
        assert decided.decision_note == "petugas menyerahkan sendiri" and decided.decided_at is not None
        notes = list(s.scalars(select(HandoverBatchEvent.note).where(HandoverBatchEvent.batch_id == batch_id)))
        assert any(f"konflik #{conflict.id}" in n for n in notes) and any("diterima" in n for n in notes)
    again = staff.post(f"/api/v1/returns/conflicts/{conflict.id}/decision", json={"decision": "REJECT", "note": "x"})
    assert again.status_code == 422 and "sudah diputuskan" in again.get_json()["error"]["message"]
    shown = officer.get(f"/kelurahan/kartu/{ids['BLK0000001']}").get_data(as_text=True)
    assert "Diterima staf" in shown and "petugas menyerahkan sendiri" in shown


def test_a_card_recorded_otherwise_meanwhile_is_a_conflict_staff_may_reject(app, runner, tmp_path, officer, staff):
    batch_id = make_batch(app, runner, tmp_path, 2, receive=True)
    ids = items(app, batch_id)
    offline_body = holder(app, "BLK0000002", "WARGA NOMOR 2")
    # the same officer, on the office PC, already recorded another outcome
    assert post(officer, f"/api/v1/kelurahan/cards/{ids['BLK0000002']}/disposition",
                {"disposition": "DECEASED", "note": "kabar RT"}, "pc-2").status_code == 200
    kept = post(officer, f"/api/v1/kelurahan/cards/{ids['BLK0000002']}/disposition", offline_body, "hp-2")
    assert kept.status_code == 409
    assert "sudah dicatat: Pemilik meninggal dunia (oleh petugas-jatimulya" in kept.get_json()["conflict"]["reason"]
    assert state_of(app, "BLK0000002") is CardState.HOLDER_DECEASED
    conflict_id = kept.get_json()["conflict"]["id"]
    rejected = staff.post(f"/api/v1/returns/conflicts/{conflict_id}/decision",
                          json={"decision": "REJECT", "note": "surat kematian sudah diperiksa"})
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "REJECTED"
    assert state_of(app, "BLK0000002") is CardState.HOLDER_DECEASED
    assert moves_to(app, "BLK0000002", CardState.HANDED_TO_HOLDER) == 0
    assert officer.get("/api/v1/kelurahan/conflicts").get_json()["conflicts"][0]["decision_note"] == (
        "surat kematian sudah diperiksa")
    assert "Ditolak staf" in officer.get("/kelurahan").get_data(as_text=True)


def test_the_same_record_arriving_again_under_a_new_key_is_not_a_conflict(app, runner, tmp_path, officer):
    """A form whose answer was lost (the card recorded), then the same record kept on the phone and sent from its
    queue: the card already has exactly that from this officer."""
    batch_id = make_batch(app, runner, tmp_path, 1, receive=True)
    item_id = items(app, batch_id)["BLK0000001"]
    body = holder(app, "BLK0000001", "WARGA NOMOR 1")
    assert post(officer, f"/api/v1/kelurahan/cards/{item_id}/disposition", body, "form-lost").status_code == 200
    again = post(officer, f"/api/v1/kelurahan/cards/{item_id}/disposition", {**body, "receiver_name": "warga  nomor 1"},
                 "queue-1")
    assert again.status_code == 200 and again.get_json()["disposition"] == "HOLDER"
    assert moves_to(app, "BLK0000001", CardState.HANDED_TO_HOLDER) == 1 and conflicts_in_db(app) == []


def test_a_card_before_its_batch_is_counted_in_waits(app, runner, tmp_path, officer):
    """The phone sends in order, receipt first; a card whose batch is not in yet (its receipt still in another
    queue) is refused without using its key, and the same record goes through once the batch is in."""
    batch_id = make_batch(app, runner, tmp_path, 2, receive=False)
    item_id = items(app, batch_id)["BLK0000001"]
    record = {"disposition": "DECEASED", "seen_version": version_of(app, "BLK0000001")}
    url = f"/api/v1/kelurahan/cards/{item_id}/disposition"
    early = post(officer, url, record, "kartu-1")
    assert early.status_code == 422 and early.get_json()["error"]["code"] == "not_received"
    assert state_of(app, "BLK0000001") is CardState.SENT_TO_KELURAHAN and conflicts_in_db(app) == []
    receipt = {"counted": 2, "seen_version": batch_version(app, batch_id)}
    assert post(officer, f"/api/v1/kelurahan/batches/{batch_id}/receipt", receipt, "berkas").status_code == 200
    later = post(officer, url, record, "kartu-1")
    assert later.status_code == 200 and "Idempotent-Replayed" not in later.headers
    assert state_of(app, "BLK0000001") is CardState.HOLDER_DECEASED and conflicts_in_db(app) == []
    assert post(officer, url, record, "kartu-1").headers["Idempotent-Replayed"] == "true"
    assert moves_to(app, "BLK0000001", CardState.HOLDER_DECEASED) == 1


def test_a_receipt_already_recorded_elsewhere(app, runner, tmp_path, officer, staff):
    batch_id = make_batch(app, runner, tmp_path, 3, receive=False)
    seen = batch_version(app, batch_id)
    url = f"/api/v1/kelurahan/batches/{batch_id}/receipt"
    assert post(officer, url, {"counted": 3}, "pc").status_code == 200  # counted on the office PC
    same = post(officer, url, {"counted": 3, "missing": [], "seen_version": seen}, "hp-1")
    assert same.status_code == 200  # the phone's receipt says the same: it is that one
    make_user(app, "petugas-2", Role.OFFICER, kelurahan=JATIMULYA)
    colleague = app.test_client()
    login(colleague, "petugas-2")
    other = post(colleague, url, {"counted": 2, "missing": ["BLK0000003"], "seen_version": seen}, "hp-2")
    assert other.status_code == 409
    assert f"sudah dicatat diterima oleh {OFFICER}" in other.get_json()["conflict"]["reason"]
    assert state_of(app, "BLK0000003") is CardState.AT_KELURAHAN  # not overwritten
    conflict_id = other.get_json()["conflict"]["id"]
    accept = staff.post(f"/api/v1/returns/conflicts/{conflict_id}/decision", json={"decision": "ACCEPT", "note": "x"})
    assert accept.status_code == 422 and "penerimaan sudah dicatat" in accept.get_json()["error"]["message"]
    reject = staff.post(f"/pengembalian/konflik/{conflict_id}",
                        data={"keputusan": "tolak", "alasan": "kartu BLK0000003 ada di kantor kelurahan"})
    assert reject.status_code == 302 and conflicts_in_db(app)[0].status is ConflictStatus.REJECTED


def test_accepting_a_move_recorded_offline_normalizes_the_new_address(app, runner, tmp_path, officer, staff):
    batch_id = make_batch(app, runner, tmp_path, 1, receive=True)
    item_id = items(app, batch_id)["BLK0000001"]
    seen = version_of(app, "BLK0000001")
    assert post(officer, f"/api/v1/kelurahan/cards/{item_id}/disposition", {"disposition": "DECEASED"},
                "pc").status_code == 200
    moved = {"disposition": "MOVED", "alamat": "JL. MAWAR NO. 7", "rt": "2", "rw": "4", "kelurahan": "CIBENING",
             "kecamatan": "SETU", "seen_version": seen}
    conflict_id = post(officer, f"/api/v1/kelurahan/cards/{item_id}/disposition", moved, "hp").get_json()[
        "conflict"]["id"]
    done = staff.post(f"/api/v1/returns/conflicts/{conflict_id}/decision",
                      json={"decision": "ACCEPT", "note": "kabar meninggal keliru; pemilik pindah"})
    assert done.status_code == 200, done.get_json()
    assert state_of(app, "BLK0000001") is CardState.READDRESSED
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000001"))
        assert card.kelurahan_code.startswith("32.16.18") and card.rt == "002"
        reasons = list(s.scalars(select(CardHistory.reason).where(CardHistory.card_id == card.id)))
        assert any(f"konflik luring #{conflict_id}" in r for r in reasons)  # the correction says why


def test_bad_offline_fields_are_named(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 1, receive=True)
    url = f"/api/v1/kelurahan/cards/{items(app, batch_id)['BLK0000001']}/disposition"
    for body, field in (({"disposition": "DECEASED", "seen_version": -1}, "seen_version"),
                        ({"disposition": "DECEASED", "seen_version": 1, "recorded_at": "kemarin"}, "recorded_at"),
                        ({"disposition": "DECEASED", "seen_version": 1, "recorded_at": "2026-13-45T99:00:00Z"},
                         "recorded_at")):
        answer = post(officer, url, body, str(uuid.uuid4()))
        assert answer.status_code == 400 and field in answer.get_json()["error"]["message"], answer.get_json()
    assert state_of(app, "BLK0000001") is CardState.AT_KELURAHAN


def test_the_app_on_the_phone(app, runner, tmp_path, officer, client):
    batch_id = make_batch(app, runner, tmp_path, 2, receive=False)
    ids = items(app, batch_id)
    me = officer.get("/api/v1/kelurahan/session")
    assert me.status_code == 200 and me.headers["Cache-Control"] == "no-store"
    assert me.get_json()["user"]["username"] == OFFICER and me.get_json()["kelurahan"]["code"] == JATIMULYA
    assert me.get_json()["csrf_token"]
    assert client.get("/api/v1/kelurahan/session").status_code == 401  # not logged in: the phone asks to log in

    bundle = officer.get("/api/v1/kelurahan/offline").get_json()
    urls = {e["url"]: e["version"] for e in bundle["entries"]}
    assert {"/kelurahan", "/kelurahan/pengingat", f"/kelurahan/berkas/{batch_id}",
            f"/api/v1/kelurahan/batches/{batch_id}"} <= set(urls)
    assert {f"/kelurahan/kartu/{i}" for i in ids.values()} <= set(urls)
    card_url = f"/kelurahan/kartu/{ids['BLK0000001']}"
    before = urls[card_url]
    assert post(officer, f"/api/v1/kelurahan/batches/{batch_id}/receipt", {"counted": 2}, "r").status_code == 200
    after = {e["url"]: e["version"] for e in officer.get("/api/v1/kelurahan/offline").get_json()["entries"]}
    assert after[card_url] != before and after["/kelurahan"] != urls["/kelurahan"]  # fetched again, only then

    for url in ("/kelurahan", card_url, f"/kelurahan/berkas/{batch_id}"):
        page = officer.get(url)
        assert page.headers["X-Antar-Pengguna"] == str(me.get_json()["user"]["id"]), url
        text = page.get_data(as_text=True)
        assert 'rel="manifest"' in text and "/kelurahan/static/officer.js" in text and 'name="antar-petugas"' in text
    card = officer.get(card_url).get_data(as_text=True)
    assert re.search(r'name="versi" value="\d+"', card) and 'data-luring="disposisi"' in card

    worker = client.get("/kelurahan/sw.js")  # no personal data: no login needed
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == "/" and "__VERSION__" not in worker.get_data(as_text=True)
    manifest = client.get("/kelurahan/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = json.loads(manifest.get_data(as_text=True))
    assert data["start_url"] == "/kelurahan" and data["display"] == "standalone"
    for icon in data["icons"]:
        png = client.get(icon["src"])
        assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    for name in ("officer.js", "offline-store.js", "officer.css", "luring.html"):
        assert client.get(f"/kelurahan/static/{name}").status_code == 200


def test_a_dispatched_cards_page_carries_the_form_hidden_for_a_count_made_on_the_phone(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 1, receive=False)
    page = officer.get(f"/kelurahan/kartu/{items(app, batch_id)['BLK0000001']}").get_data(as_text=True)
    assert "Berkas ini belum dihitung dan diterima" in page
    assert re.search(r'<div data-luring-form hidden>\s*<form[^>]*data-luring="disposisi"', page)
    batch = officer.get(f"/kelurahan/berkas/{batch_id}").get_data(as_text=True)
    assert 'id="hitung-luring"' in batch and re.search(r'id="hitung-luring"[^>]*hidden', batch)


def test_a_page_fetched_in_the_background_leaves_the_officers_messages(app, runner, tmp_path, officer):
    """The service worker refreshes kept pages while the officer works: such a fetch must not take the message meant
    for the page the officer is about to see."""
    batch_id = make_batch(app, runner, tmp_path, 1, receive=True)
    item_id = items(app, batch_id)["BLK0000001"]
    page = officer.get(f"/kelurahan/kartu/{item_id}").get_data(as_text=True)
    token = re.search(r'name="token" value="([0-9a-f]{32})"', page).group(1)
    assert officer.post(f"/kelurahan/kartu/{item_id}/disposisi",
                        data={"token": token, "disposition": "DECEASED"}).status_code == 302
    background = officer.get("/kelurahan", headers={"X-Antar-Luring": "1"}).get_data(as_text=True)
    assert "tercatat" not in background
    shown = officer.get(f"/kelurahan/kartu/{item_id}").get_data(as_text=True)
    assert "Pemilik meninggal dunia — tercatat" in shown


def test_purge_clears_the_offline_records_of_closed_cards(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 1, receive=True)
    item_id = items(app, batch_id)["BLK0000001"]
    seen = version_of(app, "BLK0000001")
    assert post(officer, f"/api/v1/kelurahan/cards/{item_id}/disposition", {"disposition": "DECEASED"},
                "pc").status_code == 200
    body = {"disposition": "HOLDER", "receiver_name": "NAMA PENERIMA RAHASIA", "id_checked": True, "seen_version": seen}
    assert post(officer, f"/api/v1/kelurahan/cards/{item_id}/disposition", body, "hp").status_code == 409
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    result = cli(runner, "purge", "--closed-before", tomorrow, "--yes")
    assert result.exit_code == 0, result.output
    (conflict,) = conflicts_in_db(app)
    assert "RAHASIA" not in conflict.record and conflict.record == "{}"
