"""The kelurahan officer's side through HTTP: counting a batch in, every disposition by the page form, forms and API
calls sent twice recorded once, reminders, the CSV export, and never the full NIK."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid

import pytest
from helpers import card_row, cli, login, make_user, write_csv
from sqlalchemy import func, select, update

from app.cards import Actor, Card, CardHistory, CardState
from app.db import unit_of_work, utcnow
from app.models import Office, Role, User
from manifests.sorting import withdraw_area
from returns import forms, service
from returns.models import BatchStatus, FormSubmission, HandoverBatch, HandoverBatchEvent, HandoverItem
from returns.service import Scope

JATIMULYA = "32.16.06.1001"
STAFF = Actor("staf")
OFFICER_NAME = "petugas-jatimulya"

def make_officer(app, username: str, kelurahan: str) -> None:
    make_user(app, username, Role.OFFICER, kelurahan=kelurahan)


def make_batch(app, runner, tmp_path, n: int, *, receive: bool, first: int = 1) -> int:
    """n withdrawn cards of Jatimulya in a batch sent to the kelurahan (and counted in when `receive`)."""
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


def age(app, batch_id: int, days: int) -> None:
    """As if the batch had been received `days` days ago."""
    with app.app_context(), unit_of_work() as s:
        s.execute(update(HandoverBatch).where(HandoverBatch.id == batch_id)
                  .values(received_at=utcnow() - dt.timedelta(days=days, minutes=5)))


def item_ids(app, batch_id: int) -> dict[str, int]:
    with app.app_context(), unit_of_work() as s:
        return dict(s.execute(select(Card.nomor_blanko, HandoverItem.id).join(Card, Card.id == HandoverItem.card_id)
                              .where(HandoverItem.batch_id == batch_id)).all())


def state_of(app, blanko: str) -> CardState:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(Card.state).where(Card.nomor_blanko == blanko))


def moves_to(app, blanko: str, state: CardState) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(CardHistory).join(Card, Card.id == CardHistory.card_id)
                        .where(Card.nomor_blanko == blanko, CardHistory.to_state == state))


def token_of(html: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]{32})"', html)
    assert found, "the form carries no one-time token"
    return found.group(1)


def flashes(client) -> list[str]:
    with client.session_transaction() as sess:
        return [m for _, m in sess.get("_flashes", [])]


def post_twice(client, url: str, data: dict) -> tuple:
    """The same form sent twice (a retry after a timeout): both answers and their flashes."""
    first = client.post(url, data=data)
    first_flash = flashes(client)
    client.get("/kelurahan")  # the flashes are shown and consumed
    second = client.post(url, data=data)
    return first, first_flash, second, flashes(client)


@pytest.fixture
def officer(app, client):
    make_officer(app, OFFICER_NAME, JATIMULYA)
    login(client, OFFICER_NAME)
    return client


@pytest.fixture
def received(app, runner, tmp_path):
    return make_batch(app, runner, tmp_path, 6, receive=True)


def test_home_and_receipt_with_a_wrong_count_then_a_missing_card(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 3, receive=False)
    for url in ("/", "/kelurahan"):
        page = officer.get(url).get_data(as_text=True)
        assert "Jatimulya" in page and "Hitung dan terima" in page and f"/kelurahan/berkas/{batch_id}" in page
    page = officer.get(f"/kelurahan/berkas/{batch_id}").get_data(as_text=True)
    assert "WARGA NOMOR 2" in page and "tidak ada (hilang)" in page and 'name="counted"' in page
    token = token_of(page)
    url = f"/kelurahan/berkas/{batch_id}/terima"
    wrong = officer.post(url, data={"token": token, "counted": "2"})
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "tidak sama dengan daftar" in body
    assert 'value="2"' in body and token_of(body) == token  # the form is kept, its token unused
    with_missing = {"token": token, "counted": "2", "missing": ["BLK0000002"]}
    kept = officer.post(url, data={**with_missing, "counted": "3"})
    assert kept.status_code == 422 and re.search(r'value="BLK0000002"\s+checked', kept.get_data(as_text=True))
    done = officer.post(url, data=with_missing)
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/kelurahan/berkas/{batch_id}")
    assert flashes(officer) == [f"Berkas {_number(app, batch_id)} diterima: 2 kartu; 1 kartu dilaporkan hilang."]
    assert state_of(app, "BLK0000002") is CardState.MISSING and state_of(app, "BLK0000001") is CardState.AT_KELURAHAN
    page = officer.get(f"/kelurahan/berkas/{batch_id}").get_data(as_text=True)
    assert "Diterima kelurahan" in page and "Hilang (dilaporkan saat serah terima)" in page
    assert 'name="counted"' not in page


def _number(app, batch_id: int) -> str:
    with app.app_context(), unit_of_work() as s:
        return s.get(HandoverBatch, batch_id).number


def test_receipt_sent_twice_is_recorded_once(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 2, receive=False)
    token = token_of(officer.get(f"/kelurahan/berkas/{batch_id}").get_data(as_text=True))
    first, first_flash, second, second_flash = post_twice(
        officer, f"/kelurahan/berkas/{batch_id}/terima", {"token": token, "counted": "2"})
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert first_flash == second_flash and len(first_flash) == 1
    assert moves_to(app, "BLK0000001", CardState.AT_KELURAHAN) == 1
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(HandoverBatchEvent).where(
            HandoverBatchEvent.batch_id == batch_id, HandoverBatchEvent.to_status == BatchStatus.RECEIVED)) == 1
        assert s.scalar(select(func.count()).select_from(FormSubmission)) == 1


def test_a_form_without_its_token_is_refused(app, officer, received):
    ids = item_ids(app, received)
    for data in ({}, {"token": "not-a-token"}):
        response = officer.post(f"/kelurahan/kartu/{ids['BLK0000001']}/disposisi",
                                data={**data, "disposition": "DECEASED"})
        assert response.status_code == 400 and "token" in response.get_data(as_text=True)
    assert state_of(app, "BLK0000001") is CardState.AT_KELURAHAN


def dispose(client, item_id: int, **fields):
    page = client.get(f"/kelurahan/kartu/{item_id}").get_data(as_text=True)
    return client.post(f"/kelurahan/kartu/{item_id}/disposisi", data={"token": token_of(page), **fields})


def test_every_disposition_through_the_page_form(app, officer, received):
    ids = item_ids(app, received)
    page = officer.get(f"/kelurahan/kartu/{ids['BLK0000001']}").get_data(as_text=True)
    assert 'value="HOLDER"' in page and 'value="WARGA NOMOR 1"' in page  # the receiver is prefilled
    assert 'value="NOT_COLLECTED"' not in page and "Dapat dicatat mulai" in page  # not before the deadline
    refused = dispose(officer, ids["BLK0000001"], disposition="HOLDER", holder_name="WARGA NOMOR 1")
    assert refused.status_code == 422 and "identitas" in refused.get_data(as_text=True)
    assert 'value="HOLDER" required checked' in refused.get_data(as_text=True)

    today = dt.date.today().isoformat()
    answers = [
        dispose(officer, ids["BLK0000001"], disposition="HOLDER", holder_name="WARGA NOMOR 1",
                holder_id_checked="1", holder_handed_on=today),
        dispose(officer, ids["BLK0000002"], disposition="FAMILY", family_name="SITI AMINAH",
                family_relationship="istri", family_handed_on=today),
        dispose(officer, ids["BLK0000003"], disposition="DECEASED", deceased_note="surat kematian dari RT"),
        dispose(officer, ids["BLK0000004"], disposition="MOVED", moved_alamat="JL. MAWAR NO. 7", moved_rt="2",
                moved_rw="4", moved_kelurahan="CIBENING", moved_kecamatan="SETU"),
    ]
    assert [a.status_code for a in answers] == [302] * 4
    assert answers[0].headers["Location"].endswith(f"/kelurahan/kartu/{ids['BLK0000001']}")
    assert state_of(app, "BLK0000001") is CardState.HANDED_TO_HOLDER
    assert state_of(app, "BLK0000002") is CardState.HANDED_TO_HOLDER
    assert state_of(app, "BLK0000003") is CardState.HOLDER_DECEASED
    assert state_of(app, "BLK0000004") is CardState.READDRESSED
    with app.app_context(), unit_of_work() as s:
        family = s.get(HandoverItem, ids["BLK0000002"])
        assert (family.receiver_name, family.receiver_relationship) == ("SITI AMINAH", "istri")
        moved = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000004"))
        assert moved.kelurahan_code.startswith("32.16.18") and moved.rt == "002"
        assert s.scalar(select(CardHistory.actor).where(CardHistory.card_id == family.card_id)
                        .order_by(CardHistory.id.desc()).limit(1)) == OFFICER_NAME

    shown = officer.get(f"/kelurahan/kartu/{ids['BLK0000002']}").get_data(as_text=True)
    assert "Tercatat: Diserahkan kepada keluarga" in shown and "SITI AMINAH (istri)" in shown
    assert "Koreksi hanya oleh staf Disdukcapil" in shown and 'name="disposition"' not in shown
    again = officer.post(f"/kelurahan/kartu/{ids['BLK0000002']}/disposisi",  # a stale form: the service refuses
                         data={"token": uuid.uuid4().hex, "disposition": "DECEASED"})
    assert again.status_code == 422 and "koreksi staf" in again.get_data(as_text=True)

    age(app, received, 31)
    page = officer.get(f"/kelurahan/kartu/{ids['BLK0000005']}").get_data(as_text=True)
    assert 'value="NOT_COLLECTED"' in page
    assert dispose(officer, ids["BLK0000005"], disposition="NOT_COLLECTED").status_code == 302
    assert state_of(app, "BLK0000005") is CardState.NOT_COLLECTED


def test_disposition_sent_twice_is_recorded_once(app, officer, received):
    item_id = item_ids(app, received)["BLK0000003"]
    token = token_of(officer.get(f"/kelurahan/kartu/{item_id}").get_data(as_text=True))
    data = {"token": token, "disposition": "HOLDER", "holder_name": "WARGA NOMOR 3", "holder_id_checked": "1"}
    first, first_flash, second, second_flash = post_twice(officer, f"/kelurahan/kartu/{item_id}/disposisi", data)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert first_flash == second_flash == ["Kartu BLK0000003 (WARGA NOMOR 3): Diserahkan kepada pemilik — tercatat."]
    assert moves_to(app, "BLK0000003", CardState.HANDED_TO_HOLDER) == 1
    # the same token on another form is not a retry of it
    other = item_ids(app, received)["BLK0000004"]
    reused = officer.post(f"/kelurahan/kartu/{other}/disposisi", data={**data, "holder_name": "WARGA NOMOR 4"})
    assert reused.status_code == 400 and state_of(app, "BLK0000004") is CardState.AT_KELURAHAN


def test_two_identical_submissions_at_once_run_the_operation_once(app):
    """The second waits for the first transaction (PostgreSQL: the key; SQLite: the write lock), then replays."""
    make_officer(app, OFFICER_NAME, JATIMULYA)
    with app.app_context(), unit_of_work() as s:
        user_id = s.scalar(select(User.id))
    token, inside, go, runs, results = uuid.uuid4().hex, threading.Event(), threading.Event(), [], {}

    def slow(session) -> dict:
        runs.append(1)
        inside.set()
        assert go.wait(10)
        return {"redirect": "/kelurahan", "flash": [["success", "sekali"]]}

    def submit(name: str) -> None:
        with app.app_context():
            results[name] = forms.run_once(token, user_id, slow, request="same")

    first = threading.Thread(target=submit, args=("first",))
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=submit, args=("second",))
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the twin did not wait for the first transaction"
    go.set()
    first.join(10)
    second.join(10)
    assert len(runs) == 1
    assert not results["first"].replayed and results["second"].replayed
    assert results["first"].result == results["second"].result


def test_card_page_never_shows_the_full_nik(app, officer, received):
    item_id = item_ids(app, received)["BLK0000001"]
    with app.app_context(), unit_of_work() as s:
        nik = s.scalar(select(Card.nik).where(Card.nomor_blanko == "BLK0000001"))
    page = officer.get(f"/kelurahan/kartu/{item_id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "WARGA NOMOR 1" in text and "BLK0000001" in text
    assert "RT 003/RW 005" in text and "JL. RAYA JATIMULYA NO. 1" in text
    assert nik not in text and nik[:12] not in text and nik[-4:] in text
    for url in ("/kelurahan", f"/kelurahan/berkas/{received}", "/kelurahan/kartu.csv", "/api/v1/kelurahan/cards",
                f"/api/v1/kelurahan/batches/{received}"):
        assert nik[:12] not in officer.get(url).get_data(as_text=True), url


def test_reminders_list_the_long_waiting_cards_oldest_first(app, runner, tmp_path, officer):
    old = make_batch(app, runner, tmp_path, 2, receive=True)
    older = make_batch(app, runner, tmp_path, 1, receive=True, first=10)
    fresh = make_batch(app, runner, tmp_path, 1, receive=True, first=20)
    age(app, old, 15)
    age(app, older, 40)
    page = officer.get("/kelurahan/pengingat").get_data(as_text=True)
    listed = re.findall(r"WARGA NOMOR \d+", page)
    assert listed == ["WARGA NOMOR 10", "WARGA NOMOR 1", "WARGA NOMOR 2"]  # oldest first; the fresh one not
    assert page.count("lewat batas pengambilan") == 1
    home = officer.get("/kelurahan").get_data(as_text=True)
    assert "<b>3</b> kartu menunggu 14 hari atau lebih" in home and "<b>1</b> kartu lewat batas" in home
    app.config["ANTAR_REMINDER_DAYS"] = 30
    assert re.findall(r"WARGA NOMOR \d+", officer.get("/kelurahan/pengingat").get_data(as_text=True)) == [
        "WARGA NOMOR 10"]
    assert fresh


def test_csv_export_has_own_cards_waiting_and_done_without_nik(app, officer, received):
    ids = item_ids(app, received)
    dispose(officer, ids["BLK0000001"], disposition="DECEASED", deceased_note="kabar RT")
    response = officer.get("/kelurahan/kartu.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("berkas,nomor_blanko,nama,") and "nik" not in lines[0]
    assert len(lines) == 7
    done = next(line for line in lines if "BLK0000001" in line)
    assert "Pemilik meninggal dunia" in done and "kabar RT" in done
    with app.app_context(), unit_of_work() as s:
        niks = list(s.scalars(select(Card.nik)))
    assert not any(n in response.get_data(as_text=True) for n in niks)


def test_api_receipt_and_disposition_with_idempotency_key(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 3, receive=False)
    listed = officer.get("/api/v1/kelurahan/batches").get_json()
    assert listed["kelurahan"]["code"] == JATIMULYA
    assert [(b["id"], b["status"]) for b in listed["batches"]] == [(batch_id, "DISPATCHED")]
    detail = officer.get(f"/api/v1/kelurahan/batches/{batch_id}").get_json()
    assert len(detail["item_list"]) == 3 and "nik" not in detail["item_list"][0]

    url = f"/api/v1/kelurahan/batches/{batch_id}/receipt"
    key = {"Idempotency-Key": "terima-1"}
    assert officer.post(url, json={"counted": 2, "missing": ["BLK0000002"]}).status_code == 400  # no key
    assert officer.post(url, data="{", content_type="application/json", headers=key).status_code == 400
    assert officer.post(url, json={"counted": "2"}, headers=key).status_code == 400
    wrong = officer.post(url, json={"counted": 3, "missing": ["BLK0000002"]}, headers=key)
    assert wrong.status_code == 422 and "tidak sama" in wrong.get_json()["error"]["message"]
    body = {"counted": 2, "missing": ["BLK0000002"]}
    first, second = officer.post(url, json=body, headers=key), officer.post(url, json=body, headers=key)
    assert first.status_code == second.status_code == 200 and first.get_json() == second.get_json()
    assert first.get_json()["status"] == "RECEIVED" and first.get_json()["missing_count"] == 1
    assert "Idempotent-Replayed" not in first.headers and second.headers["Idempotent-Replayed"] == "true"
    assert moves_to(app, "BLK0000001", CardState.AT_KELURAHAN) == 1
    reused = officer.post(url, json={"counted": 3}, headers=key)
    assert reused.status_code == 422

    waiting = officer.get("/api/v1/kelurahan/cards?state=AT_KELURAHAN").get_json()["cards"]
    assert sorted(c["nomor_blanko"] for c in waiting) == ["BLK0000001", "BLK0000003"]
    assert officer.get("/api/v1/kelurahan/cards?state=NONSENSE").status_code == 400
    item_id = next(c["id"] for c in waiting if c["nomor_blanko"] == "BLK0000001")
    durl = f"/api/v1/kelurahan/cards/{item_id}/disposition"
    key = {"Idempotency-Key": "serah-1"}
    assert officer.post(durl, json={"disposition": "HOLDER", "receiver_name": "WARGA NOMOR 1"},
                        headers=key).status_code == 422  # identity not checked
    assert officer.post(durl, json={"disposition": "HOLDER", "id_checked": "ya"}, headers=key).status_code == 400
    lost = officer.post(durl, json={"disposition": "LOST"}, headers=key)  # outside the schema's enum
    assert lost.status_code == 400 and "disposition" in lost.get_json()["error"]["message"]
    assert officer.post(durl, json=["HOLDER"], headers=key).status_code == 400
    body = {"disposition": "HOLDER", "receiver_name": "WARGA NOMOR 1", "id_checked": True,
            "handed_on": dt.date.today().isoformat()}
    first, second = officer.post(durl, json=body, headers=key), officer.post(durl, json=body, headers=key)
    assert first.status_code == second.status_code == 200 and first.get_json() == second.get_json()
    assert first.get_json()["disposition"] == "HOLDER" and first.get_json()["id_checked"] is True
    assert moves_to(app, "BLK0000001", CardState.HANDED_TO_HOLDER) == 1
    done = officer.get("/api/v1/kelurahan/cards?state=HANDED_TO_HOLDER").get_json()["cards"]
    assert [c["nomor_blanko"] for c in done] == ["BLK0000001"]


def test_only_officers_reach_the_kelurahan_pages(app, client, staff, received):
    assert staff.get("/kelurahan").status_code == 403
    assert staff.get("/api/v1/kelurahan/batches").status_code == 403
    staff.post("/logout")
    assert client.get("/kelurahan").status_code == 302
    assert client.get("/api/v1/kelurahan/batches").status_code == 401


def test_home_finds_a_card_by_name_and_pages_long_lists(app, officer, received, monkeypatch):
    found = officer.get("/kelurahan", query_string={"q": "nomor 3"}).get_data(as_text=True)
    assert re.findall(r"WARGA NOMOR \d+", found) == ["WARGA NOMOR 3"] and "1 kartu cocok" in found
    by_blanko = officer.get("/kelurahan", query_string={"q": "blk0000005"}).get_data(as_text=True)
    assert re.findall(r"WARGA NOMOR \d+", by_blanko) == ["WARGA NOMOR 5"]
    monkeypatch.setattr("returns.officer_routes.PAGE_SIZE", 4)
    first = officer.get("/kelurahan").get_data(as_text=True)
    assert len(re.findall(r"WARGA NOMOR \d+", first)) == 4 and "hal. 1/2" in first and "hal=2" in first
    second = officer.get("/kelurahan?hal=2").get_data(as_text=True)
    assert len(re.findall(r"WARGA NOMOR \d+", second)) == 2 and "hal=1" in second
    assert officer.get("/kelurahan?hal=99").status_code == 200


def test_forms_and_api_need_the_csrf_token(app, officer, received):
    app.config["WTF_CSRF_ENABLED"] = True
    item_id = item_ids(app, received)["BLK0000001"]
    form = officer.post(f"/kelurahan/kartu/{item_id}/disposisi",
                        data={"token": uuid.uuid4().hex, "disposition": "DECEASED"})
    api = officer.post(f"/api/v1/kelurahan/cards/{item_id}/disposition", json={"disposition": "DECEASED"},
                       headers={"Idempotency-Key": "k1"})
    assert form.status_code == api.status_code == 400 and "CSRF" in api.get_json()["error"]["message"]
    assert state_of(app, "BLK0000001") is CardState.AT_KELURAHAN
