"""Sending through the gateway simulator over real HTTP: quiet hours, retries with backoff honouring Retry-After,
credentials that are not retried, WhatsApp falling back to SMS, and the job that sends from the page."""

from __future__ import annotations

import datetime as dt

import pytest
from job_helpers import finished, job_id_of
from notify_testing import ACCEPTED, NO_WHATSAPP, WIB, attempts, intl, messages, one_pass, rows_with_phones
from tracking import event, handed_over, post_events

from app.db import simulated_clock, utcnow


def _on_the_road(app, client, runner, tmp_path, count: int = 1, *, at: dt.datetime | None = None) -> list[str]:
    numbers = handed_over(app, runner, tmp_path, rows_with_phones(range(1, count + 1)))
    at = at or utcnow()
    post_events(client, [event(n, "OUT_FOR_DELIVERY", at - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    return numbers


def test_quiet_hours_hold_a_message_until_seven_in_the_morning(notify_app, client, runner, tmp_path, gateway):
    notify_app.config["ANTAR_NOTIFY_QUIET_HOURS"] = "21:00-07:00"
    tomorrow = (dt.datetime.now(WIB) + dt.timedelta(days=1)).date()
    evening = dt.datetime.combine(tomorrow, dt.time(22, 0), tzinfo=WIB)
    with simulated_clock(evening - dt.timedelta(hours=3)):
        numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 2)))
    with simulated_clock(evening):
        post_events(client, [event(numbers[0], "DELIVERY_FAILED", evening - dt.timedelta(minutes=10), "late",
                                   reason_code="NOBODY_HOME")])
        result = one_pass(notify_app)
    assert result["made"] == {"queued": 1} and result["sent"] == {}
    (m,) = messages(notify_app)
    seven = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(7, 0), tzinfo=WIB)
    assert m["status"] == "queued" and m["send_after"] == seven and m["next_attempt_at"] == seven
    assert result["next_at"] == seven
    with simulated_clock(seven - dt.timedelta(minutes=2)):
        assert one_pass(notify_app)["sent"] == {}
    assert gateway.requests_seen == []
    with simulated_clock(seven + dt.timedelta(minutes=1)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}
    (m,) = messages(notify_app)
    assert m["status"] == "sent" and seven <= m["sent_at"] < seven + dt.timedelta(minutes=5)
    assert len(gateway.messages) == 1


def test_a_retry_that_would_fall_in_quiet_hours_waits_for_the_morning(notify_app, client, runner, tmp_path, gateway):
    notify_app.config.update(ANTAR_NOTIFY_QUIET_HOURS="21:00-07:00", ANTAR_NOTIFY_BACKOFF=60.0)
    tomorrow = (dt.datetime.now(WIB) + dt.timedelta(days=1)).date()
    late = dt.datetime.combine(tomorrow, dt.time(20, 59, 50), tzinfo=WIB)
    with simulated_clock(late - dt.timedelta(hours=2)):
        numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 2)))
    gateway.fail_next("503")
    with simulated_clock(late):
        post_events(client, [event(numbers[0], "DELIVERY_FAILED", late - dt.timedelta(minutes=1), "f")])
        one_pass(notify_app)
    (m,) = messages(notify_app)
    seven = dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time(7, 0), tzinfo=WIB)
    assert m["status"] == "queued" and m["attempts"] == 1 and m["next_attempt_at"] == seven


def test_a_503_is_retried_later_and_then_sent_once(notify_app, client, runner, tmp_path, gateway):
    _on_the_road(notify_app, client, runner, tmp_path)
    gateway.fail_next("503")
    before = utcnow()
    assert one_pass(notify_app)["sent"] == {"queued": 1}
    (m,) = messages(notify_app)
    assert m["status"] == "queued" and m["attempts"] == 1
    # Backoff 1 s (the test setting) with jitter: between half of it and all of it.
    assert before + dt.timedelta(seconds=0.5) <= m["next_attempt_at"] <= utcnow() + dt.timedelta(seconds=1)
    assert "503" in m["error"]
    with simulated_clock(utcnow() + dt.timedelta(seconds=5)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}
    (m,) = messages(notify_app)
    assert m["status"] == "sent" and m["attempts"] == 2 and m["error"] is None and m["gateway_id"].startswith("gw-")
    tried = attempts(notify_app, m["id"])
    assert [(a["number"], a["outcome"], a["http_status"]) for a in tried] == [(1, "retry", 503), (2, "accepted", 202)]
    # Both requests carried the same idempotency key: the citizen gets one message.
    assert [key for key, *_ in gateway.requests_seen] == [f"antar-notify-{m['id']}"] * 2
    assert len(gateway.messages) == 1


def test_429_waits_at_least_retry_after_and_attempts_are_bounded(notify_app, client, runner, tmp_path, gateway):
    notify_app.config["ANTAR_NOTIFY_MAX_ATTEMPTS"] = 3
    _on_the_road(notify_app, client, runner, tmp_path)
    gateway.fail_next("429", retry_after=40)
    one_pass(notify_app)
    (m,) = messages(notify_app)
    assert m["next_attempt_at"] >= utcnow() + dt.timedelta(seconds=38)
    gateway.fail_next("500", count=5)
    for minutes in (2, 4):
        with simulated_clock(utcnow() + dt.timedelta(minutes=minutes)):
            one_pass(notify_app)
    (m,) = messages(notify_app)
    assert m["status"] == "failed" and m["failure"] == "gave_up" and m["attempts"] == 3
    assert "3 percobaan" in m["error"]
    with simulated_clock(utcnow() + dt.timedelta(hours=3)):
        one_pass(notify_app)
    assert len(gateway.requests_seen) == 3  # bounded: nothing after the last attempt


def test_a_retry_after_longer_than_the_backoff_cap_is_waited_for_in_full(notify_app, client, runner, tmp_path,
                                                                         gateway):
    """The gateway asks for two hours, more than ANTAR_NOTIFY_BACKOFF_MAX (one hour) but within the message's whole
    retrying (3 attempts x one hour): the retry goes when asked, not sooner, and the message is not failed for it."""
    notify_app.config.update(ANTAR_NOTIFY_BACKOFF_MAX=3600, ANTAR_NOTIFY_MAX_ATTEMPTS=3)
    _on_the_road(notify_app, client, runner, tmp_path)
    gateway.fail_next("429", retry_after=7200)
    before = utcnow()
    assert one_pass(notify_app)["sent"] == {"queued": 1}
    (m,) = messages(notify_app)
    assert m["status"] == "queued" and m["next_attempt_at"] >= before + dt.timedelta(seconds=7200)
    for minutes in (61, 119):  # nothing goes before the time it asked for
        with simulated_clock(before + dt.timedelta(minutes=minutes)):
            assert one_pass(notify_app)["sent"] == {}
    with simulated_clock(before + dt.timedelta(minutes=121)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}
    assert [status for *_, status in gateway.requests_seen] == [429, 202]


def test_a_retry_after_past_the_whole_retrying_fails_the_message_saying_why(notify_app, client, staff, runner,
                                                                            tmp_path, gateway):
    """Longer than the message's whole retrying (3 attempts x one hour): coming back sooner than asked would be
    refused again, waiting however long it says would not be bounded. The message fails, saying why; staff may
    queue it again."""
    notify_app.config.update(ANTAR_NOTIFY_BACKOFF_MAX=3600, ANTAR_NOTIFY_MAX_ATTEMPTS=3)
    _on_the_road(notify_app, client, runner, tmp_path)
    gateway.fail_next("429", retry_after=20000)
    assert one_pass(notify_app)["sent"] == {"failed": 1}
    (m,) = messages(notify_app)
    assert (m["status"], m["failure"], m["attempts"], m["next_attempt_at"]) == ("failed", "gave_up", 1, None)
    assert "20000 detik" in m["error"] and "Retry-After" in m["error"] and "10800" in m["error"]
    assert "20000 detik" in staff.get("/pesan").get_data(as_text=True)
    with simulated_clock(utcnow() + dt.timedelta(hours=6)):
        assert one_pass(notify_app)["sent"] == {}
    assert [status for *_, status in gateway.requests_seen] == [429]
    assert staff.post("/pesan/ulang").status_code == 302
    with simulated_clock(utcnow() + dt.timedelta(hours=6)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}


def test_a_retry_after_up_to_the_cap_is_waited_for_in_full(notify_app, client, runner, tmp_path, gateway):
    notify_app.config["ANTAR_NOTIFY_BACKOFF_MAX"] = 3600
    _on_the_road(notify_app, client, runner, tmp_path)
    gateway.fail_next("429", retry_after=3600)
    before = utcnow()
    assert one_pass(notify_app)["sent"] == {"queued": 1}
    (m,) = messages(notify_app)
    assert m["next_attempt_at"] >= before + dt.timedelta(seconds=3600)
    with simulated_clock(before + dt.timedelta(minutes=59)):
        assert one_pass(notify_app)["sent"] == {}
    with simulated_clock(before + dt.timedelta(minutes=61)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}


def test_a_retry_after_as_an_http_date_is_honoured_on_the_gateways_clock(notify_app, client, runner, tmp_path,
                                                                         stub_gateway):
    """`Retry-After: <HTTP date>` is a moment on the gateway's clock, here ten minutes behind ours: it asks for twenty
    minutes (its `Date` plus 1200 s), and twenty minutes it gets, not the ten our clock would make of it."""
    notify_app.config["ANTAR_NOTIFY_BACKOFF_MAX"] = 3600

    def answer(body):
        if len(stub.requests) == 1:
            return 429, {"error": "rate_limited"}, {"Retry-After": stub.http_date(1200)}
        return ACCEPTED

    stub = stub_gateway(answer, skew=-600)
    _on_the_road(notify_app, client, runner, tmp_path)
    before = utcnow()
    assert one_pass(notify_app)["sent"] == {"queued": 1}
    (m,) = messages(notify_app)
    assert m["next_attempt_at"] >= before + dt.timedelta(seconds=1199)
    with simulated_clock(before + dt.timedelta(minutes=15)):
        assert one_pass(notify_app)["sent"] == {}
    with simulated_clock(before + dt.timedelta(minutes=21)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}
    assert len(stub.requests) == 2


def test_a_retry_after_as_an_http_date_from_a_gateway_clock_ahead_of_ours_is_its_own_wait(
        notify_app, client, runner, tmp_path, stub_gateway):
    """The gateway's clock two hours ahead of ours, asking for thirty seconds (its `Date` plus 30 s): thirty seconds
    it is, measured on its clock, not the two hours and a half our clock would make of it."""
    notify_app.config.update(ANTAR_NOTIFY_BACKOFF_MAX=3600, ANTAR_NOTIFY_MAX_ATTEMPTS=3)

    def answer(body):
        if len(stub.requests) == 1:
            return 429, {"error": "rate_limited"}, {"Retry-After": stub.http_date(30)}
        return ACCEPTED

    stub = stub_gateway(answer, skew=7200)
    _on_the_road(notify_app, client, runner, tmp_path)
    before = utcnow()
    assert one_pass(notify_app)["sent"] == {"queued": 1}
    (m,) = messages(notify_app)
    assert before + dt.timedelta(seconds=29) <= m["next_attempt_at"] <= before + dt.timedelta(minutes=2)
    with simulated_clock(before + dt.timedelta(minutes=3)):
        assert one_pass(notify_app)["sent"] == {"sent": 1}


def test_a_retry_after_as_an_http_date_beyond_the_cap_fails_the_message(notify_app, client, runner, tmp_path,
                                                                         stub_gateway):
    notify_app.config.update(ANTAR_NOTIFY_BACKOFF_MAX=3600, ANTAR_NOTIFY_MAX_ATTEMPTS=2)

    def answer(body):
        return 503, {"error": "maintenance"}, {"Retry-After": stub.http_date(3 * 3600)}

    stub = stub_gateway(answer)
    _on_the_road(notify_app, client, runner, tmp_path)
    assert one_pass(notify_app)["sent"] == {"failed": 1}
    (m,) = messages(notify_app)
    assert (m["status"], m["failure"]) == ("failed", "gave_up") and "Retry-After" in m["error"]
    with simulated_clock(utcnow() + dt.timedelta(minutes=61)):
        assert one_pass(notify_app)["sent"] == {}
    assert len(stub.requests) == 1


def test_a_retry_after_too_large_to_be_a_date_fails_the_message_without_breaking_the_pass(notify_app, client, runner,
                                                                                          tmp_path, stub_gateway):
    stub = stub_gateway(lambda body: (429, {"error": "rate_limited"}, {"Retry-After": "9" * 400}))
    _on_the_road(notify_app, client, runner, tmp_path, count=2)
    assert one_pass(notify_app)["sent"] == {"failed": 2}
    assert {(m["status"], m["failure"]) for m in messages(notify_app)} == {("failed", "gave_up")}
    assert len(stub.requests) == 2


@pytest.mark.parametrize("channel", ["whatsapp", "sms"])
def test_a_no_whatsapp_answer_to_an_sms_fails_the_message_and_it_is_never_sent_again(
        notify_app, client, staff, runner, tmp_path, stub_gateway, channel):
    """A 422 is a message the gateway calls wrong: no_whatsapp to the SMS (after the WhatsApp fallback, or with
    ANTAR_NOTIFY_CHANNEL=sms) leaves no channel to try, and it is not retried when its lease runs out."""
    notify_app.config.update(ANTAR_NOTIFY_CHANNEL=channel, ANTAR_NOTIFY_MAX_ATTEMPTS=3)
    stub = stub_gateway(lambda body: NO_WHATSAPP)
    _on_the_road(notify_app, client, runner, tmp_path)
    expected = {"failed": 1, "sms_fallback": 1} if channel == "whatsapp" else {"failed": 1}
    assert one_pass(notify_app)["sent"] == expected
    (m,) = messages(notify_app)
    assert (m["status"], m["failure"], m["channel"], m["next_attempt_at"]) == ("failed", "rejected", "sms", None)
    assert "no_whatsapp" in m["error"] and "tidak dicoba lagi" in m["error"]
    tried = [(a["channel"], a["outcome"], a["http_status"]) for a in attempts(notify_app, m["id"])]
    assert tried == [("whatsapp", "no_whatsapp", 422)] * (channel == "whatsapp") + [("sms", "no_whatsapp", 422)]
    assert [c for _, c in stub.requests] == [c for c, *_ in tried]
    # Long past its lease (2 minutes) and any backoff: nothing more goes out; staff see it among the failures, and
    # "queue again" (for our side's failures) leaves it be.
    for minutes in (3, 10, 60 * 5):
        with simulated_clock(utcnow() + dt.timedelta(minutes=minutes)):
            assert one_pass(notify_app)["sent"] == {}
    html = staff.get("/pesan").get_data(as_text=True)
    assert "Gagal terakhir" in html and "no_whatsapp" in html
    assert staff.post("/pesan/ulang").status_code == 302
    one_pass(notify_app)
    assert len(stub.requests) == len(tried)
    assert messages(notify_app)[0]["status"] == "failed"


def test_401_is_not_retried_and_stops_sending_until_the_token_changes(notify_app, client, staff, runner, tmp_path,
                                                                       gateway):
    _on_the_road(notify_app, client, runner, tmp_path, count=2)
    notify_app.config["ANTAR_NOTIFY_API_TOKEN"] = "salah"
    result = one_pass(notify_app)
    assert result["sent"] == {"failed": 1, "blocked": 1}
    first, second = messages(notify_app)
    assert (first["status"], first["failure"], first["attempts"]) == ("failed", "credentials", 1)
    assert "ANTAR_NOTIFY_API_TOKEN" in first["error"]
    assert second["status"] == "queued" and second["attempts"] == 0
    with simulated_clock(utcnow() + dt.timedelta(hours=2)):
        assert one_pass(notify_app)["sent"] == {"blocked": 1}
    assert [status for *_, status in gateway.requests_seen] == [401]
    page = staff.get("/pesan").get_data(as_text=True)
    assert "menolak kredensial" in page
    # The administrator fixes the token: sending resumes; staff queue the failed one again.
    notify_app.config["ANTAR_NOTIFY_API_TOKEN"] = "gw-token"
    assert one_pass(notify_app)["sent"] == {"sent": 1}
    r = staff.post("/pesan/ulang")
    assert r.status_code == 302
    assert one_pass(notify_app)["sent"] == {"sent": 1}
    assert [m["status"] for m in messages(notify_app)] == ["sent", "sent"]


def test_a_number_without_whatsapp_gets_an_sms(notify_app, client, runner, tmp_path, gateway):
    gateway.numbers["no_whatsapp"].add(intl(1))
    _on_the_road(notify_app, client, runner, tmp_path, count=2)
    assert one_pass(notify_app)["sent"] == {"sent": 2, "sms_fallback": 1}
    first, second = messages(notify_app)
    assert (first["status"], first["channel"]) == ("sent", "sms")
    assert (second["status"], second["channel"]) == ("sent", "whatsapp")
    assert [(a["channel"], a["outcome"], a["http_status"]) for a in attempts(notify_app, first["id"])] == [
        ("whatsapp", "no_whatsapp", 422), ("sms", "accepted", 202)]
    assert {(m.body["to"], m.body["channel"]) for m in gateway.messages} == {(intl(1), "sms"), (intl(2), "whatsapp")}
    # The SMS has a key of its own: a gateway that kept the refused WhatsApp message's key would otherwise answer
    # 409 ("already sent") and no SMS would go out.
    key = f"antar-notify-{first['id']}"
    assert [(k, channel) for k, _, channel, _ in gateway.requests_seen if k.startswith(key)] == [
        (key, "whatsapp"), (f"{key}-sms", "sms")]


def test_a_message_the_gateway_calls_wrong_fails_without_retry(notify_app, client, runner, tmp_path, gateway):
    _on_the_road(notify_app, client, runner, tmp_path)
    gateway.api_token = "gw-token"
    notify_app.config["ANTAR_NOTIFY_BASE_URL"] = gateway.url
    from notify.gateway import GatewayClient

    answer = GatewayClient(gateway.url, "gw-token").send(99, "+62812", "whatsapp", "x", "RB1")
    assert answer.outcome == "rejected" and "to" in answer.error
    one_pass(notify_app)
    assert [m["status"] for m in messages(notify_app)] == ["sent"]


def test_the_send_job_runs_from_the_page(notify_app, client, staff, runner, tmp_path, gateway):
    _on_the_road(notify_app, client, runner, tmp_path, count=2)
    job = finished(staff, job_id_of(staff.post("/pesan/kirim")))
    assert job["status"] == "DONE", job
    assert "2 terkirim ke gateway" in job["result"]["summary"]
    assert [m["status"] for m in messages(notify_app)] == ["sent", "sent"]


def test_without_a_gateway_nothing_is_sent_and_the_page_says_so(notify_app, client, staff, runner, tmp_path):
    _on_the_road(notify_app, client, runner, tmp_path)
    result = one_pass(notify_app)
    assert result["made"] == {"queued": 1} and result["sent"] == {"not_configured": 1}
    assert "ANTAR_NOTIFY_BASE_URL" in staff.get("/pesan").get_data(as_text=True)
    r = staff.post("/pesan/kirim")
    assert r.status_code == 302 and r.headers["Location"].endswith("/pesan")
    assert staff.get("/api/v1/notify/messages").json["gateway"]["configured"] is False


def test_one_pass_catches_up_with_a_backlog_in_rounds(notify_app, client, runner, tmp_path, gateway, monkeypatch):
    """A courier batch larger than a round of scanning or of sending is still one pass: the job reads rounds of
    events and sends rounds of messages until it has caught up (each message once), instead of one round a minute."""
    import notify.service as service

    monkeypatch.setattr(service, "SCAN_BATCH", 3)
    monkeypatch.setattr(service, "REPLAY_IDS", 1)  # (each round reads again the last ids before its mark)
    monkeypatch.setattr(service, "SEND_BATCH", 2)
    _on_the_road(notify_app, client, runner, tmp_path, count=7)
    result = one_pass(notify_app)
    assert result["made"] == {"queued": 7} and result["sent"] == {"sent": 7}
    assert sorted(m["to"] for m in (a.body for a in gateway.messages)) == sorted(intl(i) for i in range(1, 8))
    assert {m["status"] for m in messages(notify_app)} <= {"sent", "delivered", "read"}
    monkeypatch.setattr(service, "MAX_ROUNDS", 1)  # bounded: one round each, the rest next pass
    post_events(client, [event(n, "DELIVERY_FAILED", utcnow() - dt.timedelta(minutes=1), f"f-{n}",
                               reason_code="NOBODY_HOME") for n in [m["reference"] for m in messages(notify_app)]])
    assert one_pass(notify_app)["sent"] == {"sent": 2}
    assert one_pass(notify_app)["sent"] == {"sent": 2}


def test_concurrency_is_a_setting_with_bounds():
    import pytest

    from notify.service import Settings

    assert Settings.from_config({"ANTAR_NOTIFY_CONCURRENCY": "3"}).concurrency == 3
    for bad in ("0", "65", "banyak"):
        with pytest.raises(ValueError, match="ANTAR_NOTIFY_CONCURRENCY"):
            Settings.from_config({"ANTAR_NOTIFY_CONCURRENCY": bad})
