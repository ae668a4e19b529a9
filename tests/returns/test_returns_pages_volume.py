"""Returns pages at the volume of a run, through HTTP: the batch list and a long batch page by page, strict page
numbers, an officer counting a long batch in by scanning blanko numbers (counted in the session, unknown numbers
explained, the uncounted reported missing), and staff forms that come back with the message beside the field."""

from __future__ import annotations

import re

import pytest
from helpers import card_row, cli, login, make_user, write_csv
from sqlalchemy import select

from app.cards import Actor, Card, CardState
from app.db import unit_of_work
from app.models import Office, Role
from manifests.sorting import withdraw_area
from returns import service
from returns.models import BatchStatus, HandoverBatch
from returns.service import Scope

JATIMULYA = "32.16.06.1001"
LAMBANGSARI = "32.16.06.2002"
STAFF = Actor("staf")
INDONESIAN_MOMENT = re.compile(r"\d{2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November"
                               r"|Desember) \d{4} \d{2}\.\d{2} WIB")


def make_batch(app, runner, tmp_path, n: int, *, first: int = 1, dispatch: bool = True) -> int:
    """n withdrawn cards of Jatimulya (BLK<first>...) in one batch, sent to the kelurahan when `dispatch`."""
    rows = [card_row(i) for i in range(first, first + n)]
    assert cli(runner, "import", str(write_csv(tmp_path / f"jatimulya-{first}.csv", rows))).exit_code == 0
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        withdraw_area(s, office, JATIMULYA, [], "uji: kartu untuk kelurahan", STAFF)
        (batch,) = service.build_batches(s, office, STAFF, [JATIMULYA])
        if dispatch:
            service.dispatch(s, Scope(office), batch.id, STAFF)
        return batch.id


def batch_number(app, batch_id: int) -> str:
    with app.app_context(), unit_of_work() as s:
        return s.get(HandoverBatch, batch_id).number


def state_of(app, blanko: str) -> CardState:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(Card.state).where(Card.nomor_blanko == blanko))


def names(html: str) -> list[str]:
    return re.findall(r"WARGA NOMOR \d+", html)


def flashes(client) -> list[str]:
    with client.session_transaction() as sess:
        return [m for _, m in sess.get("_flashes", [])]


# --- staff: the batch list and a long batch ------------------------------------------------------------------------


def test_batch_list_and_a_long_batch_come_page_by_page(app, runner, tmp_path, staff):
    batch_id = make_batch(app, runner, tmp_path, 60)
    with app.app_context(), unit_of_work() as s:
        office_id = s.scalar(select(Office.id))
        for i in range(55):  # older batches of another kelurahan, cancelled long ago
            s.add(HandoverBatch(office_id=office_id, kelurahan_code=LAMBANGSARI, number=f"SRT-3216-UJI-{i:04d}",
                                status=BatchStatus.CANCELLED, item_count=0, created_by="uji"))

    numbers = re.compile(r'href="/pengembalian/berkas/\d+">(SRT-[^<]+)</a>')
    first = staff.get("/pengembalian/berkas").get_data(as_text=True)
    second = staff.get("/pengembalian/berkas?hal=2").get_data(as_text=True)
    assert len(numbers.findall(first)) == 50 and len(numbers.findall(second)) == 6
    assert not set(numbers.findall(first)) & set(numbers.findall(second))
    assert numbers.findall(first)[0] == "SRT-3216-UJI-0054" and batch_number(app, batch_id) in second  # newest first
    assert "56 berkas" in first and "Halaman 1 dari 2" in first
    filtered = staff.get("/pengembalian/berkas?status=CANCELLED").get_data(as_text=True)
    assert len(numbers.findall(filtered)) == 50 and "status=CANCELLED" in filtered and "hal=2" in filtered
    assert len(staff.get("/api/v1/returns/batches").get_json()["batches"]) == 56  # the API as it was: all of them

    page = staff.get(f"/pengembalian/berkas/{batch_id}").get_data(as_text=True)
    assert "Kartu (60)" in page and len(set(names(page))) == 50 and "Halaman 1 dari 2" in page
    later = staff.get(f"/pengembalian/berkas/{batch_id}?hal=2").get_data(as_text=True)
    assert len(set(names(later))) == 10 and not set(names(page)) & set(names(later))
    assert '<td class="num">51</td>' in later  # the numbering goes on from page 1
    totals = later[later.index("Per alasan kembali"):]
    assert re.search(r'Wilayah ditarik[^<]*</td><td class="num">60</td>', totals)
    assert INDONESIAN_MOMENT.search(page)  # dispatched, created: in Indonesian


@pytest.mark.parametrize("bad", ["²", "99999999999999999999", "0", "x"])
def test_page_numbers_are_strict_on_returns_pages(app, runner, tmp_path, staff, bad):
    batch_id = make_batch(app, runner, tmp_path, 2)
    for url in ("/pengembalian/berkas", f"/pengembalian/berkas/{batch_id}", "/pengembalian/hilang",
                "/pengembalian/meninggal", "/pengembalian/kembali-ke-kantor"):
        response = staff.get(url, query_string={"hal": bad})
        assert response.status_code == 400 and "hal" in response.get_data(as_text=True), url
    response = staff.get("/pengembalian/kembali-ke-kantor", query_string={"hal_tidak": bad})
    assert response.status_code == 400 and "hal_tidak" in response.get_data(as_text=True)


def test_staff_forms_come_back_with_the_message_beside_the_field(app, runner, tmp_path, staff):
    batch_id = make_batch(app, runner, tmp_path, 3, dispatch=False)
    refused = staff.post(f"/pengembalian/berkas/{batch_id}/batal", data={"reason": "   "})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(r'id="reason"[^>]*aria-invalid="true"[^>]*aria-describedby="batal-error"', html)
    assert re.search(r'id="batal-error" role="alert">Alasan pembatalan wajib diisi\.<', html)
    assert "WARGA NOMOR 1" in html  # the page itself, not a redirect to it

    typed = "NOPE-1\nBLK0000002"
    back = staff.post("/pengembalian/kembali-ke-kantor", data={"blanko_text": typed})
    html = back.get_data(as_text=True)
    assert back.status_code == 422 and "Nomor blanko tidak ditemukan: NOPE-1" in html
    assert f">{typed}</textarea>" in html and 'id="tiba-error"' in html

    built = staff.post("/pengembalian/susun", data={"mode": "all"})
    assert built.status_code == 422 and 'id="susun-error"' in built.get_data(as_text=True)


# --- the officer: counting a long batch in by its blanko numbers --------------------------------------------------


@pytest.fixture
def officer(app, client):
    make_user(app, "petugas-jatimulya", Role.OFFICER, kelurahan=JATIMULYA)
    login(client, "petugas-jatimulya")
    return client


def scan(client, batch_id: int, blanko: str, **extra):
    return client.post(f"/kelurahan/berkas/{batch_id}/pindai", data={"blanko": blanko, **extra})


def uncounted(html: str) -> list[str]:
    """The names in the list of cards still to count (each row names its card twice: text and button label)."""
    return list(dict.fromkeys(names(html[html.index('id="belum"'):html.index('id="simpan"')])))


def token_of(html: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]{32})"', html)
    assert found, "the receipt form carries no one-time token"
    return found.group(1)


def test_officer_counts_a_long_batch_by_scanning(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 60)
    other = make_batch(app, runner, tmp_path, 1, first=100)  # a second batch on its way to the same kelurahan
    url = f"/kelurahan/berkas/{batch_id}"
    page = officer.get(url).get_data(as_text=True)
    assert "<b>0</b> dari 60 kartu dihitung" in page
    assert re.search(r'<input id="blanko" type="text" name="blanko"[^>]*autofocus', page)
    assert 'name="missing"' not in page and "daftar=semua" in page  # no 60-card checklist unless asked for
    assert len(uncounted(page)) == 50 and "hal. 1/2" in page

    counted = scan(officer, batch_id, " blk0000003 ")  # a scanner's number, typed in lower case
    assert counted.status_code == 200 and "BLK0000003 (WARGA NOMOR 3) dihitung: 1 dari 60 kartu." in counted.text
    page = officer.get(url).get_data(as_text=True)  # a reload: the count is kept
    assert "<b>1</b> dari 60 kartu dihitung" in page and "WARGA NOMOR 3" not in uncounted(page)
    again = scan(officer, batch_id, "BLK0000003")
    assert again.status_code == 200 and "sudah dihitung sebelumnya" in again.text and "<b>1</b> dari 60" in again.text

    unknown = scan(officer, batch_id, "BLK9999999")
    assert unknown.status_code == 422 and "\u201cBLK9999999\u201d tidak ada di berkas ini" in unknown.text
    assert 'role="alert"' in unknown.text and "<b>1</b> dari 60" in unknown.text
    elsewhere = scan(officer, batch_id, "BLK0000100")
    assert elsewhere.status_code == 422 and f"ada di berkas {batch_number(app, other)}" in elsewhere.text
    assert scan(officer, batch_id, "   ").status_code == 422

    undone = scan(officer, batch_id, "BLK0000003", batal="1")
    assert undone.status_code == 200 and "hitungan dibatalkan" in undone.text and "<b>0</b> dari 60" in undone.text
    for i in range(1, 59):  # every card but the last two
        assert scan(officer, batch_id, f"BLK{i:07d}").status_code == 200
    page = officer.get(url).get_data(as_text=True)
    assert "<b>58</b> dari 60 kartu dihitung" in page and uncounted(page) == ["WARGA NOMOR 59", "WARGA NOMOR 60"]
    assert "Simpan: 58 diterima, 2 hilang" in page
    assert 'name="missing"' in officer.get(url, query_string={"daftar": "semua"}).text  # the checklist on request

    receipt = {"token": token_of(page), "hitungan": "1"}
    unconfirmed = officer.post(f"{url}/terima", data=receipt)
    assert unconfirmed.status_code == 422 and "2 kartu belum dihitung" in unconfirmed.text
    assert 'id="simpan-pesan" role="alert"' in unconfirmed.text and token_of(unconfirmed.text) == receipt["token"]
    assert state_of(app, "BLK0000001") is CardState.SENT_TO_KELURAHAN  # nothing recorded

    done = officer.post(f"{url}/terima", data={**receipt, "yakin": "1"})
    assert done.status_code == 302 and done.headers["Location"].endswith(url)
    assert flashes(officer) == [f"Berkas {batch_number(app, batch_id)} diterima: 58 kartu; 2 kartu dilaporkan hilang."]
    assert [state_of(app, f"BLK{i:07d}") for i in (1, 58, 59, 60)] == [
        CardState.AT_KELURAHAN, CardState.AT_KELURAHAN, CardState.MISSING, CardState.MISSING]
    with officer.session_transaction() as sess:
        assert str(batch_id) not in (sess.get("antar.counted") or {})  # the count is done with
    received = officer.get(url).get_data(as_text=True)
    assert 'name="blanko"' not in received and "Diterima kelurahan" in received and "hal. 1/2" in received
    late = scan(officer, batch_id, "BLK0000059")
    assert late.status_code == 422 and "penghitungannya sudah selesai" in late.text
    assert officer.get(url, query_string={"hal": "²"}).status_code == 400


def test_a_short_batch_keeps_its_checklist_beside_the_scanner(app, runner, tmp_path, officer):
    batch_id = make_batch(app, runner, tmp_path, 3)
    page = officer.get(f"/kelurahan/berkas/{batch_id}").get_data(as_text=True)
    assert 'name="blanko"' in page and 'name="counted"' in page and page.count('name="missing"') == 3
    assert scan(officer, batch_id, "BLK0000001").status_code == 200
    assert scan(officer, batch_id, "BLK0000002").status_code == 200
    assert scan(officer, batch_id, "BLK0000003").status_code == 200
    page = officer.get(f"/kelurahan/berkas/{batch_id}").get_data(as_text=True)
    assert "semua ada" in page and "Simpan penerimaan: 3 kartu" in page and 'name="yakin"' not in page
    done = officer.post(f"/kelurahan/berkas/{batch_id}/terima", data={"token": token_of(page), "hitungan": "1"})
    assert done.status_code == 302 and state_of(app, "BLK0000003") is CardState.AT_KELURAHAN


def test_an_officer_cannot_count_another_kelurahans_batch(app, runner, tmp_path, client):
    batch_id = make_batch(app, runner, tmp_path, 2)
    make_user(app, "petugas-lambangsari", Role.OFFICER, kelurahan=LAMBANGSARI)
    login(client, "petugas-lambangsari")
    assert scan(client, batch_id, "BLK0000001").status_code == 404
    assert client.post(f"/kelurahan/berkas/{batch_id}/terima",
                       data={"token": "0" * 32, "hitungan": "1", "yakin": "1"}).status_code == 404
    assert state_of(app, "BLK0000001") is CardState.SENT_TO_KELURAHAN
