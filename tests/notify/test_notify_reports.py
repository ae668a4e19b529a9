"""The gateway's delivery reports: signed (Standard Webhooks) at /api/v1/notify/reports, they move a message to
delivered, read or failed, never backwards; bad or unsigned bodies are refused with the reason."""

from __future__ import annotations

import datetime as dt
import json

from notify_testing import NOTIFY_SECRET, intl, messages, one_pass, rows_with_phones
from standardwebhooks.webhooks import Webhook
from tracking import event, handed_over, post_events

from app.db import utcnow

URL = "/api/v1/notify/reports"


def _signed(body: str, msg_id: str, secret: str = NOTIFY_SECRET) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body), "Content-Type": "application/json"}


def _report(client, data: dict, msg_id: str, **kw):
    body = json.dumps({"type": "message.status", "timestamp": "2026-12-03T10:00:00+00:00", "data": data})
    return client.post(URL, data=body, headers=_signed(body, msg_id, **kw))


def test_reports_update_the_status_over_http(notify_app, client, runner, tmp_path, gateway):
    gateway.shares["read"] = 1.0
    gateway.numbers["report_failed"].add(intl(2))
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 3)))
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    one_pass(notify_app)
    assert [m["status"] for m in messages(notify_app)] == ["sent", "sent"]
    assert gateway.flush_reports() == 3  # delivered + read for the first, failed for the second
    first, second = messages(notify_app)
    assert first["status"] == "read" and first["delivered_at"] and first["read_at"]
    assert (second["status"], second["failure"]) == ("failed", "report")
    assert "nomor tidak aktif" in second["error"]
    assert {r.http_status for r in gateway.reports_posted} == {200}

    # A late "delivered" after "read" changes nothing; a redelivered report is recorded once.
    gw_id = first["gateway_id"]
    r = _report(client, {"message_id": gw_id, "status": "delivered", "occurred_at": None, "error": None}, "late-1")
    assert r.status_code == 200 and r.json == {"result": "ignored"}
    again = _report(client, {"message_id": gw_id, "status": "delivered", "occurred_at": None, "error": None},
                    "late-1")
    assert again.json == {"result": "duplicate"}
    assert messages(notify_app)[0]["status"] == "read"
    unknown = _report(client, {"message_id": "gw-nope", "status": "delivered"}, "u-1")
    assert unknown.status_code == 200 and unknown.json == {"result": "unknown"}


def test_a_report_may_name_our_idempotency_key(notify_app, client, runner, tmp_path, gateway):
    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 2)))
    post_events(client, [event(numbers[0], "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), "o")])
    one_pass(notify_app)
    (m,) = messages(notify_app)
    r = _report(client, {"message_id": f"antar-notify-{m['id']}", "status": "delivered",
                         "occurred_at": "2026-12-03T10:15:00+07:00", "error": None}, "k-1")
    assert r.json == {"result": "applied"}
    (m,) = messages(notify_app)
    assert m["status"] == "delivered" and m["delivered_at"] == dt.datetime(2026, 12, 3, 3, 15, tzinfo=dt.UTC)
    # The key of the same message sent as SMS (after the gateway's no_whatsapp) names it too.
    r = _report(client, {"message_id": f"antar-notify-{m['id']}-sms", "status": "read",
                         "occurred_at": "2026-12-03T10:20:00+07:00", "error": None}, "k-2")
    assert r.json == {"result": "applied"} and messages(notify_app)[0]["status"] == "read"


def test_unsigned_malformed_and_other_reports(notify_app, client):
    body = json.dumps({"type": "message.status", "data": {"message_id": "gw-1", "status": "delivered"}})
    assert client.post(URL, data=body, headers={"Content-Type": "application/json"}).status_code == 401
    other = _signed(body, "x-1", secret="whsec_" + "b3RoZXItc2VjcmV0LTMyLWJ5dGVzLWxvbmctLS0tLS0=")
    assert client.post(URL, data=body, headers=other).status_code == 401
    r = _report(client, {"message_id": "gw-1", "status": "bounced"}, "b-1")
    assert r.status_code == 400 and "data.status" in r.json["error"]["message"]
    assert r.json["error"]["fields"] == ["data.status"]
    r = _report(client, {"status": "read"}, "b-2")
    assert r.status_code == 400 and "message_id" in r.json["error"]["message"]
    r = _report(client, {"message_id": "gw-1", "status": "read", "occurred_at": "kemarin"}, "b-3")
    assert r.status_code == 400 and "data.occurred_at" in r.json["error"]["message"]
    raw = json.dumps({"type": "message.status", "data": {}, "extra": 1})
    r = client.post(URL, data=raw, headers=_signed(raw, "b-4"))
    assert r.status_code == 400 and "extra" in r.json["error"]["message"]
    raw = json.dumps({"type": "account.balance", "data": {"credit": 5}})
    assert client.post(URL, data=raw, headers=_signed(raw, "b-5")).json == {"result": "ignored"}
    raw = "{not json"
    assert client.post(URL, data=raw, headers=_signed(raw, "b-6")).status_code == 400
    notify_app.config["ANTAR_NOTIFY_WEBHOOK_SECRET"] = ""
    assert _report(client, {"message_id": "gw-1", "status": "read"}, "b-7").status_code == 503


def test_reports_are_checked_as_the_courier_events_are(notify_app, client):
    """The same Standard Webhooks checks as the courier's events (app.webhooks): the signature over the body's bytes
    before anything reads them (an unsigned body that is not UTF-8 is 401, not 400), and a secret that is not
    whsec_<base64> is a 503 saying so, not another key that verifies nothing."""
    raw = b'{"type": "message.status", "data": {"message_id": "\xff"}}'
    headers = {"Content-Type": "application/json", "webhook-id": "u-1", "webhook-signature": "v1,AAAA",
               "webhook-timestamp": str(int(dt.datetime.now(dt.UTC).timestamp()))}
    assert client.post(URL, data=raw, headers=headers).status_code == 401
    now = dt.datetime.now(dt.UTC)
    signed = {**headers, "webhook-timestamp": str(int(now.timestamp())),
              "webhook-signature": Webhook(NOTIFY_SECRET).sign("u-1", now, raw)}
    answer = client.post(URL, data=raw, headers=signed)
    assert answer.status_code == 400 and "UTF-8" in answer.json["error"]["message"]
    for malformed in (NOTIFY_SECRET.removeprefix("whsec_"), NOTIFY_SECRET[:10] + "!" + NOTIFY_SECRET[11:]):
        notify_app.config["ANTAR_NOTIFY_WEBHOOK_SECRET"] = malformed
        answer = _report(client, {"message_id": "gw-1", "status": "read"}, "u-2")
        assert answer.status_code == 503 and "whsec_" in answer.json["error"]["message"], malformed


def test_a_send_finds_early_reports_by_index_not_by_reading_every_report(notify_app, client, runner, tmp_path,
                                                                         gateway):
    # Each message sent looks for reports that came before its send was recorded. An office receives about two
    # reports per message, so reading them all on every send made sending slower with every message ever sent
    # (migration 0018). The statements of a send are captured and explained: notify_report is read by index.
    import sqlalchemy as sa

    from app.db import engine, unit_of_work

    numbers = handed_over(notify_app, runner, tmp_path, rows_with_phones(range(1, 3)))
    for n in range(40):  # reports of other messages, already applied or never matched
        assert _report(client, {"message_id": f"gw-old-{n}", "status": "delivered"}, f"old-{n}").status_code == 200
    post_events(client, [event(n, "OUT_FOR_DELIVERY", utcnow() - dt.timedelta(minutes=5), f"o-{n}") for n in numbers])
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM notify_report" in statement and "gateway_message_id =" in statement.replace('"', ""):
            seen.append((statement, parameters))

    with notify_app.app_context():
        bind = engine()
        sa.event.listen(bind, "before_cursor_execute", capture)
        try:
            one_pass(notify_app)
        finally:
            sa.event.remove(bind, "before_cursor_execute", capture)
        assert [m["status"] for m in messages(notify_app)] == ["sent", "sent"]
        assert len(seen) == 2, seen
        with unit_of_work() as s:
            conn = s.connection()
            for statement, parameters in seen:
                if conn.dialect.name == "sqlite":
                    plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                              parameters))
                    assert "SCAN notify_report" not in plan and "ix_notify_report_unknown_gateway_message" in plan, plan
                else:
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                    plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
                    assert "Seq Scan" not in plan and "ix_notify_report_unknown_gateway_message" in plan, plan
