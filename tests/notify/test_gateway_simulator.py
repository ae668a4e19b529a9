"""The gateway simulator over real HTTP: token, body checks naming the field, idempotency, the injected troubles
(no WhatsApp, a 503 once, a 429 once), deterministic shares, and signed reports a receiver can verify."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from click.testing import CliRunner
from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from notify_sim import GatewaySimulator, generate_secret

TOKEN = "sim-token"
BODY = {"to": "+6281200000001", "channel": "whatsapp", "text": "Halo", "reference": "RB123456785ID"}


def send(sim: GatewaySimulator, body=BODY, *, key: str | None = "k1", token: str | None = TOKEN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    return requests.post(sim.url + "v1/messages", data=json.dumps(body), headers=headers, timeout=10)


@pytest.fixture
def sim():
    with GatewaySimulator(api_token=TOKEN) as s:
        yield s


def test_token_body_and_idempotency(sim):
    assert send(sim, token=None).status_code == 401
    assert send(sim, token="salah").status_code == 401
    for change, field in (({"to": "081200000001"}, "to"), ({"channel": "telegram"}, "channel"),
                          ({"text": "x" * 481}, "text"), ({"reference": ""}, "reference"), ({"extra": 1}, "extra")):
        r = send(sim, {**BODY, **change})
        assert r.status_code == 400 and field in r.json()["message"], change
    assert send(sim, key=None).status_code == 400
    first = send(sim)
    assert first.status_code == 202 and first.json()["status"] == "queued"
    again = send(sim)
    assert again.status_code == 409 and again.json() == first.json()
    other = send(sim, {**BODY, "text": "lain"})
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert len(sim.messages) == 1
    listed = requests.get(sim.url + "_sim/messages", timeout=5).json()["messages"]
    assert [(m["message_id"], m["to"], m["idempotency_key"]) for m in listed] == [
        (first.json()["message_id"], BODY["to"], "k1")]
    assert requests.get(sim.url + "_sim/state", timeout=5).json()["messages"] == 1


def test_the_troubles_a_gateway_has():
    with GatewaySimulator(api_token=TOKEN, no_whatsapp=["+6281200000002"], fail_once=["+6281200000003"],
                          throttle_once=["+6281200000004"], retry_after=7) as sim:
        r = send(sim, {**BODY, "to": "+6281200000002"}, key="a")
        assert (r.status_code, r.json()) == (422, {"error": "no_whatsapp"})
        assert send(sim, {**BODY, "to": "+6281200000002", "channel": "sms"}, key="a").status_code == 202
        assert send(sim, {**BODY, "to": "+6281200000003"}, key="b").status_code == 503
        assert send(sim, {**BODY, "to": "+6281200000003"}, key="b").status_code == 202
        r = send(sim, {**BODY, "to": "+6281200000004"}, key="c")
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        assert send(sim, {**BODY, "to": "+6281200000004"}, key="c").status_code == 202
        sim.fail_next("503", count=2)
        assert [send(sim, key="d").status_code for _ in range(3)] == [503, 503, 202]
        r = requests.post(sim.url + "_sim/fail", json={"kind": "403"}, timeout=5)
        assert r.status_code == 200 and send(sim, key="e").status_code == 403
        assert requests.post(sim.url + "_sim/fail", json={"kind": "418"}, timeout=5).status_code == 422


def test_shares_pick_the_same_numbers_for_the_same_seed():
    numbers = [f"+62812{n:08d}" for n in range(400)]

    def picked(seed: int) -> list[str]:
        sim = GatewaySimulator(no_whatsapp_share=0.25, seed=seed)
        return [n for n in numbers if sim._has("no_whatsapp", n)]

    assert picked(1) == picked(1) and picked(1) != picked(2)
    assert 60 < len(picked(1)) < 140


def test_reports_are_signed_and_posted_to_the_target():
    secret = generate_secret()
    received: list[tuple[dict, dict]] = []

    def receiver(environ, start_response):
        request = Request(environ)
        text = request.get_data(as_text=True)
        Webhook(secret).verify(text, {k: request.headers[k] for k in ("webhook-id", "webhook-timestamp",
                                                                     "webhook-signature")})
        received.append((json.loads(text), dict(request.headers)))
        return Response('{"result": "applied"}', 200, mimetype="application/json")(environ, start_response)

    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/notify/reports"
        with GatewaySimulator(api_token=TOKEN, report_url=url, report_secret=secret, auto_report=False,
                              read_share=1.0, report_failed=["+6281200000009"]) as sim:
            gw = send(sim).json()["message_id"]
            bad = send(sim, {**BODY, "to": "+6281200000009"}, key="k2").json()["message_id"]
            assert received == [] and sim.state()["reports_pending"] == 3
            assert requests.post(sim.url + "_sim/reports", timeout=10).json() == {"posted": 3}
    finally:
        server.shutdown()
        server.server_close()
    bodies = [body for body, _ in received]
    assert [(b["type"], b["data"]["message_id"], b["data"]["status"]) for b in bodies] == [
        ("message.status", gw, "delivered"), ("message.status", gw, "read"), ("message.status", bad, "failed")]
    assert bodies[2]["data"]["error"] and bodies[0]["data"]["occurred_at"].endswith("+07:00")


def test_the_command_is_there_without_a_database():
    from app.cli import main

    r = CliRunner().invoke(main, ["notify-sim", "--help"])
    assert r.exit_code == 0 and "--target" in r.output and "--token" in r.output
