"""Citizens opt out on the status page (after a lookup) or staff by command; an opted-out number gets nothing more,
and what would have gone to it is recorded as not sent. The number is kept only as a keyed hash."""

from __future__ import annotations

import datetime as dt

from helpers import card_row, cli, write_csv
from notify_testing import intl, messages, one_pass, phone, rows_with_phones
from sqlalchemy import select
from tracking import event, handed_over, post_events

from app.cards import Card
from app.db import unit_of_work, utcnow
from notify.models import NotifyOptOut
from notify.numbers import phone_hash
from notify.public import optout_form, optout_token


def _card_id(app, blanko: str) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(Card.id).where(Card.nomor_blanko == blanko))


def test_opting_out_on_the_status_page_stops_messages(notify_app, client, runner, tmp_path, gateway):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 3)))
    card = _card_id(notify_app, "BLK0000001")
    with notify_app.test_request_context("/cek-status"):
        button = str(optout_form(card))
        token = optout_token(card)
    assert "Jangan kirimi saya pesan" in button and token in button
    r = client.post("/cek-status/berhenti-pesan", data={"token": token})
    assert r.status_code == 200 and "tidak akan menerima pesan lagi" in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-store"
    with notify_app.app_context(), unit_of_work() as s:
        stored = s.scalars(select(NotifyOptOut.phone_hash)).all()
        assert stored == [phone_hash(intl(1))] and phone(1)[1:] not in stored[0]
    with notify_app.test_request_context("/cek-status"):
        assert "Jangan kirimi" not in str(optout_form(card)) and "sudah tidak menerima" in str(optout_form(card))

    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    one_pass(notify_app)
    first, second = messages(notify_app)
    assert (first["status"], first["error"]) == ("skipped", "Tidak dikirim: pemilik nomor memilih tidak menerima pesan")
    assert second["status"] == "sent"
    assert [m.body["to"] for m in gateway.messages] == [intl(2)]


def test_a_forged_or_stale_button_changes_nothing(notify_app, client, runner, tmp_path):
    write_csv(tmp_path / "r.csv", [card_row(1, no_hp=phone(1)), card_row(2)])
    assert cli(runner, "import", str(tmp_path / "r.csv")).exit_code == 0
    for token in ("", "1", "x" * 300, optout_token_with_other_key(notify_app, 1)):
        r = client.post("/cek-status/berhenti-pesan", data={"token": token})
        assert r.status_code == 400 and "kedaluwarsa" in r.get_data(as_text=True)
    with notify_app.test_request_context("/cek-status"):
        assert str(optout_form(_card_id(notify_app, "BLK0000002"))) == ""  # no number: no button
        assert str(optout_form(None)) == ""
        no_number = optout_token(_card_id(notify_app, "BLK0000002"))
    r = client.post("/cek-status/berhenti-pesan", data={"token": no_number})
    assert r.status_code == 200 and "tidak memuat nomor HP" in r.get_data(as_text=True)
    with notify_app.app_context(), unit_of_work() as s:
        assert s.scalars(select(NotifyOptOut)).all() == []


def optout_token_with_other_key(app, card_id: int) -> str:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer("another-key", salt="antar.notify.optout").dumps(card_id)


def test_opt_out_by_command_also_skips_what_is_queued_and_opt_in_undoes_it(notify_app, client, runner, tmp_path):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 3)))
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    one_pass(notify_app)  # no gateway configured: both stay queued
    assert [m["status"] for m in messages(notify_app)] == ["queued", "queued"]
    r = cli(runner, "notify", "opt-out", "+62 " + phone(2)[1:])
    assert r.exit_code == 0 and "1 pesan antre dibatalkan" in r.output
    assert [m["status"] for m in messages(notify_app)] == ["queued", "skipped"]
    assert cli(runner, "notify", "opt-out", phone(2)).output.startswith("Sudah tercatat")
    bad = cli(runner, "notify", "opt-out", "021-555")
    assert bad.exit_code != 0 and "NO_HP" in bad.output
    assert "menerima pesan lagi" in cli(runner, "notify", "opt-in", phone(2)).output
    with notify_app.app_context(), unit_of_work() as s:
        assert s.scalars(select(NotifyOptOut)).all() == []


def test_the_commands_take_every_number_that_can_be_messaged_and_refuse_the_rest(notify_app, client, runner,
                                                                                  tmp_path):
    rows = [card_row(1, no_hp="08123456789012"), card_row(2, no_hp="+6281234567")]
    numbers = handed_over(notify_app, runner, tmp_path, rows)
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    one_pass(notify_app)  # no gateway configured: both stay queued
    for written in ("0812-3456-7890-12", "+62 81234567"):
        r = cli(runner, "notify", "opt-out", written)
        assert r.exit_code == 0 and "1 pesan antre dibatalkan" in r.output, r.output
    assert [m["status"] for m in messages(notify_app)] == ["skipped", "skipped"]
    with notify_app.app_context(), unit_of_work() as s:
        assert sorted(s.scalars(select(NotifyOptOut.phone_hash))) == sorted(
            [phone_hash("+628123456789012"), phone_hash("+6281234567")])
    assert cli(runner, "notify", "opt-out", "628123456789012").output.startswith("Sudah tercatat")
    for bad in ("081234567890123", "+6281234567890123", "081234567"):  # 16 digits as E.164; 9 digits
        r = cli(runner, "notify", "opt-out", bad)
        assert r.exit_code != 0 and "NO_HP" in r.output and "10-14" in r.output, bad
    assert "menerima pesan lagi" in cli(runner, "notify", "opt-in", "+628123456789012").output


def test_a_button_whose_form_expired_gets_the_citizens_page(notify_app, client):
    notify_app.config["WTF_CSRF_ENABLED"] = True
    r = client.post("/cek-status/berhenti-pesan", data={"token": "x"})
    assert r.status_code == 400 and "kedaluwarsa" in r.get_data(as_text=True)
    assert "Cek status e-KTP" in r.get_data(as_text=True)
