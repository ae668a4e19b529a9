"""What happens becomes one message per kind per card: the scan over tracking events and card history, the texts,
and the cards that cannot be messaged (recorded once, never sent)."""

from __future__ import annotations

import datetime as dt

from helpers import card_row
from notify_testing import intl, messages, one_pass, phone, rows_with_phones
from sqlalchemy import select, update
from tracking import event, handed_over, post_events

from app.cards import Actor, Card, CardState, move
from app.db import unit_of_work
from notify.numbers import e164, mask
from notify.texts import MAX_TEXT, Facts, Kind, compose


def test_a_number_that_cannot_be_messaged_is_not_messaged_and_that_is_recorded(notify_app, client, runner, tmp_path,
                                                                               gateway):
    rows = rows_with_phones(range(1, 3))
    rows[1]["no_hp"] = "021-8834567"  # a landline: the card is imported, the courier sees the number
    a, b = handed_over(notify_app, runner, tmp_path, rows)
    now = dt.datetime.now(dt.UTC)
    post_events(client, [event(a, "OUT_FOR_DELIVERY", now - dt.timedelta(hours=1), "a1"),
                         event(b, "OUT_FOR_DELIVERY", now - dt.timedelta(hours=1), "b1")])
    assert one_pass(notify_app)["made"] == {"queued": 1, "skipped": 1}
    one_pass(notify_app)
    found = {m["blanko"]: m for m in messages(notify_app)}
    assert found["BLK0000001"]["status"] == "sent"
    assert found["BLK0000002"]["status"] == "skipped" and "tidak ada nomor HP" in found["BLK0000002"]["error"]
    assert [m.body["to"] for m in gateway.messages] == [intl(1)]


def test_one_message_per_kind_per_card_even_when_events_repeat(notify_app, client, runner, tmp_path, gateway):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 4), without=(3,)))
    now = dt.datetime.now(dt.UTC)
    a, b, c = numbers
    events = [event(a, "OUT_FOR_DELIVERY", now - dt.timedelta(hours=3), "a1"),
              event(a, "DELIVERY_FAILED", now - dt.timedelta(hours=2), "a2", reason_code="NOBODY_HOME"),
              event(b, "OUT_FOR_DELIVERY", now - dt.timedelta(hours=3), "b1"),
              event(c, "OUT_FOR_DELIVERY", now - dt.timedelta(hours=3), "c1")]
    assert [r["result"] for r in post_events(client, events).json["results"]] == ["applied"] * 4
    first = one_pass(notify_app)
    assert first["made"] == {"queued": 3, "skipped": 1}
    # The courier says it again (a retry of the message), and a second attempt the next morning.
    post_events(client, events, msg_id="m2")
    post_events(client, [event(a, "OUT_FOR_DELIVERY", now - dt.timedelta(hours=1), "a3", attempt=2),
                         event(a, "DELIVERY_FAILED", now - dt.timedelta(minutes=30), "a4", attempt=2,
                               reason_code="NOBODY_HOME")], msg_id="m3")
    second = one_pass(notify_app)
    assert second["made"] == {}
    one_pass(notify_app)

    sent = messages(notify_app)
    assert sorted((m["blanko"], m["kind"], m["status"]) for m in sent) == [
        ("BLK0000001", "delivery_failed", "sent"), ("BLK0000001", "out_for_delivery", "sent"),
        ("BLK0000002", "out_for_delivery", "sent"), ("BLK0000003", "out_for_delivery", "skipped")]
    no_number = next(m for m in sent if m["blanko"] == "BLK0000003")
    assert no_number["phone"] is None and "tidak ada nomor HP" in no_number["error"]
    assert no_number["attempts"] == 0
    # The gateway got exactly one request per message, to the E.164 number, with our id as the idempotency key.
    assert sorted((m.body["to"], m.body["reference"]) for m in gateway.messages) == sorted(
        [(intl(1), a), (intl(1), a), (intl(2), b)])
    assert len(gateway.requests_seen) == 3
    assert {m.key for m in gateway.messages} == {f"antar-notify-{m['id']}" for m in sent if m["status"] == "sent"}
    failed = next(m for m in sent if m["kind"] == "delivery_failed")
    assert a in failed["text"] and "tidak ada orang di rumah" in failed["text"]


def test_texts_never_carry_the_nik_birth_date_or_address_and_fit_480(notify_app, client, runner, tmp_path, gateway):
    rows = rows_with_phones(range(1, 3))
    rows[0]["alamat"] = "JL. RAYA JATIMULYA NO. 1 " + "BLOK Z " * 20
    numbers = handed_over(notify_app, runner, tmp_path, rows)
    now = dt.datetime.now(dt.UTC)
    post_events(client, [event(n, s, now - dt.timedelta(hours=h), f"{n}-{s}", reason_code=r)
                         for n in numbers for s, h, r in (("OUT_FOR_DELIVERY", 3, None),
                                                          ("DELIVERY_FAILED", 2, "ADDRESS_NOT_FOUND"))])
    one_pass(notify_app)
    found = messages(notify_app)
    assert len(found) == 4
    for m in found:
        assert len(m["text"]) <= MAX_TEXT
        assert m["nik"] not in m["text"] and m["nik"][:12] not in m["text"]
        assert m["born"].strftime("%d-%m-%Y") not in m["text"] and "1990" not in m["text"]
        assert "JATIMULYA NO" not in m["text"] and m["alamat"] not in m["text"]
        assert m["text"].startswith("Disdukcapil ") and m["reference"] in m["text"]
    for body in (m.body for m in gateway.messages):
        assert len(body["text"]) <= MAX_TEXT


def test_compose_fits_whatever_the_courier_and_the_register_say():
    long = "X" * 600
    for kind in Kind:
        for f in (Facts(kind, office_name=long, reference="RB123456785ID", cod_amount=10_000_000, collect_old_card=True,
                        reason_code="COD_NOT_PAID", pickup_name=long, pickup_address=long,
                        pickup_until=dt.date(2026, 12, 10), post_office="17510", kelurahan_name=long,
                        kecamatan_name=long, for_collection=True),
                  Facts(kind, office_name="Kabupaten Bekasi", reference="BLK0000001")):
            text = compose(f)
            assert 0 < len(text) <= MAX_TEXT, (kind, len(text))
    cod = compose(Facts(Kind.COD_COMING, "Kabupaten Bekasi", "RB123456785ID", cod_amount=20000,
                        collect_old_card=True))
    assert "Rp 20.000" in cod and "KTP lama" in cod
    pickup = compose(Facts(Kind.AT_POST_OFFICE, "Kabupaten Bekasi", "RB123456785ID", pickup_name="KPC Tambun",
                           pickup_address="Jl. Sultan Hasanudin No. 1, Tambun", pickup_until=dt.date(2026, 12, 10)))
    assert "KPC Tambun" in pickup and "Jl. Sultan Hasanudin" in pickup and "10 Desember 2026" in pickup


def test_phone_numbers_become_e164_or_nothing():
    assert e164("081234567890") == "+6281234567890"
    assert e164("+62 812-3456-7890") == "+6281234567890"
    assert e164("6281234567890") == "+6281234567890"
    assert e164("0812.3456.789") == "+628123456789"
    # 10 to 15 digits as written (the intake's rule), at most 15 as E.164 (the gateway's).
    assert e164("0812345678") == "+62812345678"
    assert e164("08123456789012") == "+628123456789012"
    assert e164("+6281234567") == "+6281234567"
    assert e164("6281234567") == "+6281234567"
    assert e164("+628123456789012") == "+628123456789012"
    for bad in (None, "", "021-8812345", "0812345", "081234567", "+628123456", "081234567890123",
                "+6281234567890123", "08123456789012345", "81234567890", "0812abc67890", "-", "+62212345678",
                "08١٢٣٤٥٦٧٨٩"):
        assert e164(bad) is None, bad
    assert mask("+6281234567890") == "+62812*****890"


def test_every_number_the_intake_takes_and_e164_allows_is_messaged(notify_app, client, runner, tmp_path, gateway):
    """`08...` of 14 digits is +628... of 15, and `+628...` of 10 digits is a number too: both are messaged. An
    `08...` of 15 digits, which the intake takes, would be 16 digits as E.164: not messaged, and that is recorded."""
    written = {1: "08123456789012", 2: "+6281234567", 3: "081234567890123", 4: "0812-3456-7890"}
    numbers = handed_over(notify_app, runner, tmp_path, [card_row(i, no_hp=n) for i, n in written.items()])
    now = dt.datetime.now(dt.UTC)
    post_events(client, [event(n, "OUT_FOR_DELIVERY", now - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    assert one_pass(notify_app)["made"] == {"queued": 3, "skipped": 1}
    found = {m["blanko"]: m for m in messages(notify_app)}
    assert {b: (m["status"], m["phone"]) for b, m in found.items()} == {
        "BLK0000001": ("sent", "+628123456789012"), "BLK0000002": ("sent", "+6281234567"),
        "BLK0000003": ("skipped", None), "BLK0000004": ("sent", "+6281234567890")}
    assert "tidak ada nomor HP" in found["BLK0000003"]["error"]
    assert sorted(m.body["to"] for m in gateway.messages) == sorted(["+628123456789012", "+6281234567",
                                                                     "+6281234567890"])


def test_a_cod_card_handed_to_the_courier_is_told_the_fee_and_the_old_card_rule(notify_app, client, runner, tmp_path,
                                                                                 gateway):
    from helpers import cli, write_csv

    assert cli(runner, "import", str(write_csv(tmp_path / "cod.csv", rows_with_phones(range(1, 3))))).exit_code == 0
    with notify_app.app_context(), unit_of_work() as s:
        s.execute(update(Card).where(Card.nomor_blanko == "BLK0000001").values(cod_amount=20000,
                                                                                collect_old_card=True))
    numbers = handed_over(notify_app, runner, tmp_path, [card_row(9, no_hp=phone(9))])
    one_pass(notify_app)
    found = {(m["blanko"], m["kind"]): m for m in messages(notify_app)}
    assert set(found) == {("BLK0000001", "cod_coming")}  # the ordinary deliveries need no preparing
    text = found["BLK0000001", "cod_coming"]["text"]
    assert "Rp 20.000" in text and "KTP lama" in text and found["BLK0000001", "cod_coming"]["reference"] in numbers
    assert found["BLK0000001", "cod_coming"]["status"] == "sent"
    # Out for delivery the same day: the out-for-delivery message also says what to prepare; cod_coming stays one.
    item = found["BLK0000001", "cod_coming"]["reference"]
    post_events(client, [event(item, "OUT_FOR_DELIVERY", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), "o1")])
    one_pass(notify_app)
    found = {(m["blanko"], m["kind"]): m for m in messages(notify_app)}
    assert set(found) == {("BLK0000001", "cod_coming"), ("BLK0000001", "out_for_delivery")}
    assert "Rp 20.000" in found["BLK0000001", "out_for_delivery"]["text"]


def test_a_card_at_its_kelurahan_or_to_be_collected_there_is_told_where(notify_app, runner, tmp_path, gateway):
    from helpers import cli, write_csv

    rows = rows_with_phones(range(1, 3))
    rows[1].update(kelurahan="ANTAH BERANTAH", kode_pos="")  # unclear: the clerk sends it to the kelurahan
    assert cli(runner, "import", str(write_csv(tmp_path / "kel.csv", rows))).exit_code == 0
    actor = Actor.system("test")
    with notify_app.app_context(), unit_of_work() as s:
        first, second = (s.scalar(select(Card).where(Card.nomor_blanko == b)) for b in ("BLK0000001", "BLK0000002"))
        for state in (CardState.WITHDRAWN, CardState.BATCHED, CardState.SENT_TO_KELURAHAN, CardState.AT_KELURAHAN):
            move(s, first, state, actor, "test")
        assert second.state is CardState.ADDRESS_UNCLEAR
        second.kelurahan_code = "32.16.06.1001"
        move(s, second, CardState.FOR_COLLECTION, actor, "alamat tidak dapat diantar")
    one_pass(notify_app)
    found = {m["blanko"]: m for m in messages(notify_app)}
    assert {b: (m["kind"], m["status"]) for b, m in found.items()} == {
        "BLK0000001": ("at_kelurahan", "sent"), "BLK0000002": ("at_kelurahan", "sent")}
    assert "sudah dapat diambil di Kantor" in found["BLK0000001"]["text"]
    assert "BLK0000001" in found["BLK0000001"]["text"] and "Kartu Keluarga" in found["BLK0000001"]["text"]
    assert "tidak dapat diantar" in found["BLK0000002"]["text"] and "Kelurahan Jatimulya" in found["BLK0000002"]["text"]
    # A staff correction back to "waiting at the kelurahan" later is not news: still one message.
    with notify_app.app_context(), unit_of_work() as s:
        first = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000001"))
        move(s, first, CardState.HANDED_TO_HOLDER, actor, "diserahkan")
        move(s, first, CardState.AT_KELURAHAN, actor, "koreksi")
    assert one_pass(notify_app)["made"] == {}


def test_a_card_waiting_at_a_post_office_is_told_where_and_until_when(notify_app, client, runner, tmp_path, gateway):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 2)))
    now = dt.datetime.now(dt.UTC)
    until = (now + dt.timedelta(days=7)).astimezone(dt.timezone(dt.timedelta(hours=7))).date()
    r = post_events(client, [
        event(numbers[0], "DELIVERY_FAILED", now - dt.timedelta(days=1), "f1", reason_code="NOBODY_HOME"),
        event(numbers[0], "AVAILABLE_FOR_PICKUP", now - dt.timedelta(hours=1), "p1",
              pickup={"post_office": "17510", "name": "KPC Tambun", "address": "Jl. Sultan Hasanudin No. 1, Tambun",
                      "until": until.isoformat()})])
    assert [x["result"] for x in r.json["results"]] == ["applied", "applied"], r.json
    one_pass(notify_app)
    found = {m["kind"]: m for m in messages(notify_app)}
    assert found["at_post_office"]["status"] == "sent", found["at_post_office"]
    text = found["at_post_office"]["text"]
    assert "KPC Tambun" in text and "Jl. Sultan Hasanudin" in text and numbers[0] in text
    from app.dates import tanggal

    assert tanggal(until) in text
    # The failed attempt came before the card went to the counter: it is no longer true, and not sent.
    assert found["delivery_failed"]["status"] == "skipped"
    assert "Menunggu diambil di kantor pos" in found["delivery_failed"]["error"]


def test_news_learnt_too_late_is_recorded_not_sent(notify_app, client, runner, tmp_path, gateway):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 3)))
    now = dt.datetime.now(dt.UTC)
    post_events(client, [event(numbers[0], "OUT_FOR_DELIVERY", now - dt.timedelta(hours=30), "old"),
                         event(numbers[1], "OUT_FOR_DELIVERY", now - dt.timedelta(hours=2), "o2"),
                         event(numbers[1], "DELIVERED", now - dt.timedelta(hours=1), "d2",
                               recipient={"name": "WARGA", "relationship": "SELF"})])
    one_pass(notify_app)
    found = {m["blanko"]: m for m in messages(notify_app)}
    assert found["BLK0000001"]["status"] == "skipped" and "24 jam" in found["BLK0000001"]["error"]
    assert found["BLK0000002"]["status"] == "skipped" and "Terkirim" in found["BLK0000002"]["error"]
    assert gateway.messages == []


def test_an_event_held_before_the_handover_is_told_once_it_counts(notify_app, client, runner, tmp_path, gateway):
    from helpers import cli, write_csv
    from tracking import TOKEN

    from app.courier.client import CourierClient
    from app.models import Office
    from courier_sim.server import CourierSimulator
    from manifests import handover
    from manifests.models import Manifest, ManifestItem

    assert cli(runner, "import", str(write_csv(tmp_path / "h.csv", rows_with_phones(range(1, 2))))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with notify_app.app_context(), unit_of_work() as s:
        number = s.scalar(select(ManifestItem.tracking_number))
        manifest_id, code = s.scalar(select(Manifest.id)), s.scalar(select(Office.code))
    r = post_events(client, [event(number, "OUT_FOR_DELIVERY", dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
                                   "early")])
    assert r.json["results"][0]["result"] == "applied" and r.json["results"][0]["held"]
    assert one_pass(notify_app)["made"] == {}
    with CourierSimulator(api_token=TOKEN) as sim, notify_app.app_context():
        assert handover.hand_over(code, manifest_id, handover.Actor("t"), CourierClient(sim.url, TOKEN)).answer.ok
    one_pass(notify_app)
    assert [(m["kind"], m["status"]) for m in messages(notify_app)] == [("out_for_delivery", "sent")]


def test_only_one_chain_of_send_jobs_is_scheduled(notify_app):
    from notify.service import claim_schedule

    now = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
    with notify_app.app_context(), unit_of_work() as s:
        assert claim_schedule(s, now + dt.timedelta(minutes=5), now)
        assert not claim_schedule(s, now + dt.timedelta(minutes=9), now)  # the earlier one will look again
        assert claim_schedule(s, now + dt.timedelta(minutes=1), now)  # sooner: worth a job
        later = now + dt.timedelta(minutes=2)  # the scheduled moment has passed: a new chain may start
        assert claim_schedule(s, later + dt.timedelta(minutes=30), later)
