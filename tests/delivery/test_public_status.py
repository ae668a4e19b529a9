"""The citizens' status page: the right sentence per state, nothing personal, one answer for every miss, limits."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from helpers import card_row, cli, make_nik, write_csv
from sqlalchemy import event as sa_event
from tracking import WIB, event, handed_over, post_events

from app.cards import CardState
from app.db import utcnow
from delivery.lookup import GENERIC_MESSAGE, PUBLIC_MESSAGES, CardFacts, public_message

BORN = "1990-12-05"  # every card_row's birth date
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=WIB)
API = "/api/v1/public/status"


@pytest.fixture
def public(webhook_app, runner, tmp_path):
    """Five handed-over cards driven to five states; a generous limit (the limit has its own test)."""
    webhook_app.config["ANTAR_PUBLIC_RATE_LIMIT"] = "1000 per minute"
    n = handed_over(webhook_app, runner, tmp_path)
    client = webhook_app.test_client()
    assert post_events(client, [
        event(n[0], "DELIVERED", dt.datetime(2026, 11, 25, 10, 42, tzinfo=WIB), "d1",
              recipient={"name": "SITI AMINAH", "relationship": "SELF"}),
        event(n[1], "ACCEPTED", T0, "a2"),
        event(n[2], "RETURNED", dt.datetime(2026, 11, 27, 15, 0, tzinfo=WIB), "r3", reason_code="MOVED"),
        event(n[3], "RETURN_RECEIVED", dt.datetime(2026, 11, 30, 8, 0, tzinfo=WIB), "rr4"),
    ]).status_code == 200
    return client


def ask(client, nik: str, born: str = BORN, **kw) -> dict:
    response = client.post(API, json={"nik": nik, "tanggal_lahir": born}, **kw)
    assert response.status_code == 200, response.data
    return response.json


def test_each_state_has_its_sentence_and_date(public):
    today = utcnow().astimezone(WIB).date()
    assert ask(public, make_nik(1)) == {"status": "DELIVERED", "date": "2026-11-25",
                                        "message": "Kartu e-KTP Anda sudah diterima pada 25 November 2026."}
    transit = ask(public, make_nik(2))
    assert transit["status"] == "IN_DELIVERY" and transit["date"] == today.isoformat()  # since the handover
    assert "sedang dalam pengantaran oleh PT Pos sejak" in transit["message"]
    returning = ask(public, make_nik(3))
    assert returning["status"] == "RETURNING" and returning["date"] == "2026-11-27"
    returned = ask(public, make_nik(4))
    assert returned == {"status": "RETURNED", "date": "2026-11-30", "message": "Kartu e-KTP Anda kembali ke kantor "
                        "Disdukcapil pada 30 November 2026; silakan hubungi kelurahan."}
    assert ask(public, make_nik(5))["status"] == "IN_DELIVERY"  # handed over, no event yet

    page = public.post("/cek-status", data={"nik": make_nik(1), "tanggal_lahir": BORN})
    assert page.status_code == 200 and "sudah diterima pada 25 November 2026" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"


def test_the_newest_print_of_a_nik_speaks(public, runner, tmp_path):
    # A new card for the delivered NIK 1 (a replacement) and a duplicate print for NIK 2, still in transit.
    rows = [card_row(11, nik=make_nik(1), nomor_blanko="BLK0000011", tanggal_cetak="20-11-2026"),
            card_row(12, nik=make_nik(2), nomor_blanko="BLK0000012", tanggal_cetak="20-11-2026")]
    assert cli(runner, "import", str(write_csv(tmp_path / "reprint.csv", rows))).exit_code == 0
    newest = ask(public, make_nik(1))
    assert newest["status"] == "PREPARING" and newest["date"] == "2026-11-20"
    assert newest["message"] == ("Kartu e-KTP Anda sudah dicetak pada 20 November 2026 dan sedang disiapkan untuk "
                                 "dikirim lewat PT Pos.")
    assert ask(public, make_nik(2))["status"] == "IN_DELIVERY"  # the duplicate print is not the person's card


def test_every_card_state_has_words_and_later_states_fall_back():
    assert set(PUBLIC_MESSAGES) == set(CardState)
    facts = dict(tanggal_cetak=dt.date(2026, 11, 2), state_changed_at=dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC))
    for state in CardState:
        answer = public_message(CardFacts(state.value, **facts))
        assert answer.date is not None and re.search(r"\d{1,2} [A-Z][a-z]+ 2026", answer.message), state
    later = public_message(CardFacts("A_STATE_ADDED_LATER", **facts))
    assert later.status == GENERIC_MESSAGE[0] and "1 Desember 2026" in later.message


def test_unknown_nik_and_wrong_birth_date_are_indistinguishable(public, webhook_app):
    webhook_app.config["WTF_CSRF_ENABLED"] = True
    page = public.get("/cek-status")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True))[1]
    expired = public.post("/cek-status", data={"nik": make_nik(1), "tanggal_lahir": BORN})  # no token
    assert expired.status_code == 400 and "Formulir kedaluwarsa" in expired.get_data(as_text=True)

    statements: list[str] = []
    engine = webhook_app.extensions["antar.engine"]

    def record(_conn, _cursor, statement, params, _context, _many):
        statements.append(statement)

    def answer(nik: str, born: str) -> tuple[int, str, list[str]]:
        statements.clear()
        sa_event.listen(engine, "before_cursor_execute", record)
        try:
            r = public.post("/cek-status", data={"nik": nik, "tanggal_lahir": born, "csrf_token": token})
        finally:
            sa_event.remove(engine, "before_cursor_execute", record)
        return r.status_code, re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", r.get_data(as_text=True)), \
            list(statements)

    unknown = answer(make_nik(77), BORN)
    wrong_date = answer(make_nik(1), "1991-01-01")
    assert unknown[0] == wrong_date[0] == 200
    assert unknown[1] == wrong_date[1] and "Data tidak ditemukan" in unknown[1]
    assert unknown[2] == wrong_date[2] and unknown[2]  # the same queries either way
    assert ask(public, make_nik(77)) == ask(public, make_nik(1), "1991-01-01")


def test_the_answer_shows_nothing_personal(public):
    for nik in (make_nik(1), make_nik(3)):
        for response in (public.post("/cek-status", data={"nik": nik, "tanggal_lahir": BORN}),
                         public.post(API, json={"nik": nik, "tanggal_lahir": BORN})):
            text = response.get_data(as_text=True).upper()
            for secret in ("WARGA", "JATIMULYA", "JL. RAYA", "SITI", "BLK000", "RB1", nik, "17510", "PINDAH"):
                assert secret not in text, (secret, text)


def test_bad_input_is_explained(public):
    page = public.post("/cek-status", data={"nik": "123", "tanggal_lahir": "kemarin"}).get_data(as_text=True)
    assert "NIK harus 16 angka." in page and "Tanggal lahir wajib diisi dengan tanggal yang benar." in page
    assert public.post(API, json={"nik": "123", "tanggal_lahir": BORN}).status_code == 400
    assert public.post(API, json={"nik": make_nik(1), "tanggal_lahir": "05-12-1990"}).status_code == 400
    assert public.post(API, data="x", content_type="application/json").status_code == 400


def test_lookups_are_rate_limited_per_client_and_nothing_else(webhook_app, runner, tmp_path):
    numbers = handed_over(webhook_app, runner, tmp_path)
    webhook_app.config["ANTAR_PUBLIC_RATE_LIMIT"] = "3 per minute"
    client = webhook_app.test_client()
    for _ in range(2):
        assert client.post("/cek-status", data={"nik": make_nik(1), "tanggal_lahir": BORN}).status_code == 200
    assert client.post(API, json={"nik": make_nik(1), "tanggal_lahir": BORN}).status_code == 200  # shared count
    over = client.post("/cek-status", data={"nik": make_nik(1), "tanggal_lahir": BORN})
    assert over.status_code == 429 and "Terlalu banyak permintaan" in over.get_data(as_text=True)
    api = client.post(API, json={"nik": make_nik(1), "tanggal_lahir": BORN})
    assert api.status_code == 429 and api.json["error"]["code"] == "rate_limited" and "Retry-After" in api.headers
    assert client.get("/cek-status").status_code == 200  # the empty form is not a lookup

    other = webhook_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert other.post(API, json={"nik": make_nik(1), "tanggal_lahir": BORN}).status_code == 200
    # The courier's webhook and staff pages from the limited address are not limited.
    for i in range(5):
        assert post_events(client, [event(numbers[0], "ACCEPTED", T0, f"e{i}")], msg_id=f"m{i}").status_code == 200
    assert client.get("/login").status_code == 200
