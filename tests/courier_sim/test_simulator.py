"""The courier simulator over real HTTP: manifests, idempotency, auth, validation, failures, recall, playback."""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from app.courier.s10 import tracking_number
from app.courier.tracking import FAILURE_REASONS, FINAL, RELATIONSHIPS, RETURN_REASONS, Status
from courier_sim import CourierSimulator
from courier_sim.plan import WIB, resolve_outcomes
from courier_sim.webhook import generate_secret

START = datetime(2026, 11, 23, 9, 0, tzinfo=WIB)
TOKEN = "sim-token"
HOME = (-6.2671, 107.0291)


def make_item(serial: int, **overrides: Any) -> dict[str, Any]:
    item = {
        "tracking_number": tracking_number("RB", serial),
        "recipient_name": f"WARGA NOMOR {serial}",
        "address": {
            "street": f"JL. RAYA JATIMULYA NO. {serial}", "rt": "003", "rw": "005", "kelurahan": "JATIMULYA",
            "kecamatan": "TAMBUN SELATAN", "kabupaten_kota": "KABUPATEN BEKASI", "provinsi": "JAWA BARAT",
            "kode_pos": "17510", "kode_wilayah": "32.16.06.1001", "lat": HOME[0], "lng": HOME[1],
        },
        "phone": "081234567890",
    }
    item.update(overrides)
    return item


def make_manifest(number: str = "MNF-3216-20261123-0001", serials: range = range(1, 4)) -> dict[str, Any]:
    return {
        "manifest_number": number,
        "origin": {"office": "Disdukcapil Kabupaten Bekasi", "kode_wilayah": "32.16"},
        "destination_post_office": {"code": "17510", "name": "KPC Tambun"},
        "created_at": "2026-11-23T09:00:00+07:00",
        "items": [make_item(s) for s in serials],
    }


def post_manifest(sim: CourierSimulator, body: Any, *, token: str | None = TOKEN, key: str | None = "same",
                  timeout: float = 10) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if key == "same":
        key = body["manifest_number"]
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, bytes) else json.dumps(body)
    return requests.post(sim.url + "v1/manifests", data=data, headers=headers, timeout=timeout)


def recall(sim: CourierSimulator, number: str, reason: str = "DEMOLISHED_AREA") -> requests.Response:
    return requests.post(f"{sim.url}v1/items/{number}/recall", json={"reason": reason},
                         headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


@pytest.fixture
def sim():
    with CourierSimulator(start=START, seed=1) as simulator:
        yield simulator


# -- manifests and idempotency -------------------------------------------------------------------------------


def test_manifest_is_accepted(sim: CourierSimulator) -> None:
    r = post_manifest(sim, make_manifest())
    assert r.status_code == 201
    body = r.json()
    assert body["manifest_number"] == "MNF-3216-20261123-0001"
    assert body["accepted"] == 3
    assert body["pickup_scheduled_at"].endswith("+07:00")
    datetime.fromisoformat(body["pickup_scheduled_at"])
    assert list(sim.manifests) == ["MNF-3216-20261123-0001"]
    assert sim.item_state(tracking_number("RB", 1)) is None  # accepted, nothing played yet


def test_replay_returns_409_with_the_original_body(sim: CourierSimulator) -> None:
    first = post_manifest(sim, make_manifest())
    again = post_manifest(sim, make_manifest())
    assert (first.status_code, again.status_code) == (201, 409)
    assert again.content == first.content
    assert len(sim.manifests) == 1


def test_concurrent_identical_posts_create_one_manifest(sim: CourierSimulator) -> None:
    body, n = make_manifest(serials=range(1, 201)), 8
    barrier, responses = threading.Barrier(n), []

    def send() -> None:
        barrier.wait()
        responses.append(post_manifest(sim, body))

    threads = [threading.Thread(target=send) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in responses) == [201] + [409] * (n - 1)
    assert len({r.content for r in responses}) == 1
    assert len(sim.manifests) == 1


def test_reusing_a_key_for_other_items_is_rejected(sim: CourierSimulator) -> None:
    assert post_manifest(sim, make_manifest()).status_code == 201
    r = post_manifest(sim, make_manifest(serials=range(10, 12)))
    assert r.status_code == 422
    assert "already used" in r.json()["errors"][0]["message"]


# -- authentication ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("", 401), ("wrong-token", 403)])
def test_credentials(sim: CourierSimulator, token: str | None, status: int) -> None:
    r = post_manifest(sim, make_manifest(), token=token)
    assert r.status_code == status
    assert sim.manifests == {}


def test_basic_auth_is_not_a_bearer_token(sim: CourierSimulator) -> None:
    r = requests.post(sim.url + "v1/manifests", json=make_manifest(), timeout=10,
                      headers={"Authorization": "Basic c2ltOnRva2Vu", "Idempotency-Key": "MNF-3216-20261123-0001"})
    assert r.status_code == 401


# -- validation ----------------------------------------------------------------------------------------------


def _bad_check_digit(body: dict[str, Any]) -> str:
    good = body["items"][1]["tracking_number"]
    bad = good[:10] + str((int(good[10]) + 1) % 10) + good[11:]
    body["items"][1]["tracking_number"] = bad
    return bad


def test_bad_check_digit_rejects_the_whole_manifest(sim: CourierSimulator) -> None:
    body = make_manifest()
    bad = _bad_check_digit(body)
    r = post_manifest(sim, body)
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [e["tracking_number"] for e in errors] == [bad]
    assert "S10" in errors[0]["message"]
    assert sim.manifests == {}
    with pytest.raises(KeyError):  # the valid items were not taken either
        sim.item_state(body["items"][0]["tracking_number"])


@pytest.mark.parametrize("where", ["item", "address", "top"])
def test_a_nik_anywhere_is_rejected(sim: CourierSimulator, where: str) -> None:
    body = make_manifest()
    if where == "item":
        body["items"][0]["nik"] = "3216060512900001"
    elif where == "address":
        body["items"][0]["address"]["NIK"] = "3216060512900001"
    else:
        body["origin"]["nik"] = "3216060512900001"
    r = post_manifest(sim, body)
    assert r.status_code == 422
    assert "NIK" in r.json()["errors"][0]["message"]
    assert sim.manifests == {}


def test_tracking_number_on_another_manifest_is_rejected(sim: CourierSimulator) -> None:
    assert post_manifest(sim, make_manifest("MNF-1", range(1, 3))).status_code == 201
    r = post_manifest(sim, make_manifest("MNF-2", range(2, 5)))
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert [e["tracking_number"] for e in errors] == [tracking_number("RB", 2)]
    assert "MNF-1" in errors[0]["message"]
    assert list(sim.manifests) == ["MNF-1"]
    with pytest.raises(KeyError):
        sim.item_state(tracking_number("RB", 4))


def test_duplicate_within_a_manifest_is_rejected(sim: CourierSimulator) -> None:
    body = make_manifest()
    body["items"].append(make_item(1))
    r = post_manifest(sim, body)
    assert r.status_code == 422
    assert "more than once" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize("key", [None, "MNF-OTHER"])
def test_idempotency_key_must_match_the_manifest_number(sim: CourierSimulator, key: str | None) -> None:
    r = post_manifest(sim, make_manifest(), key=key)
    assert r.status_code == 422
    assert "Idempotency-Key" in r.json()["errors"][0]["message"]
    assert sim.manifests == {}


@pytest.mark.parametrize(("change", "field"), [
    (lambda b: b.update(created_at="2026-11-23T09:00:00"), "created_at"),
    (lambda b: b.update(items=[]), "items"),
    (lambda b: b["origin"].pop("kode_wilayah"), "origin.kode_wilayah"),
    (lambda b: b["destination_post_office"].update(code="175"), "destination_post_office.code"),
    (lambda b: b["items"][0]["address"].pop("kelurahan"), "items[0].address.kelurahan"),
    (lambda b: b["items"][2]["address"].update(lat="-6.2"), "items[2].address.lat"),
    (lambda b: b["items"][1].update(recipient_name=" "), "items[1].recipient_name"),
])
def test_schema_errors_name_the_field(sim: CourierSimulator, change: Any, field: str) -> None:
    body = make_manifest()
    change(body)
    r = post_manifest(sim, body)
    assert r.status_code == 422
    assert any(e["message"].startswith(field) for e in r.json()["errors"]), r.json()


def test_lat_lng_and_phone_are_optional(sim: CourierSimulator) -> None:
    body = make_manifest()
    del body["items"][0]["address"]["lat"], body["items"][0]["address"]["lng"], body["items"][0]["phone"]
    assert post_manifest(sim, body).status_code == 201


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]"])
def test_malformed_json_is_400(sim: CourierSimulator, raw: bytes) -> None:
    r = post_manifest(sim, raw, key="MNF-3216-20261123-0001")
    assert r.status_code == 400
    assert r.json()["errors"][0]["message"]


# -- failure injection ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "503"])
def test_injected_server_errors(sim: CourierSimulator, kind: str) -> None:
    sim.fail_next(kind, count=2)
    statuses = [post_manifest(sim, make_manifest()).status_code for _ in range(3)]
    assert statuses == [int(kind), int(kind), 201]
    assert [s for *_, s in sim.requests_seen] == statuses
    assert len(sim.manifests) == 1


def test_injected_429_has_retry_after(sim: CourierSimulator) -> None:
    sim.fail_next("429", retry_after=7)
    r = post_manifest(sim, make_manifest())
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "7"
    assert sim.manifests == {}
    assert post_manifest(sim, make_manifest()).status_code == 201


def test_timeout_then_retry_meets_409(sim: CourierSimulator) -> None:
    sim.fail_next("timeout", delay=0.4)
    with pytest.raises(requests.Timeout):
        post_manifest(sim, make_manifest(), timeout=0.1)
    deadline = time.monotonic() + 3
    while not sim.manifests and time.monotonic() < deadline:  # the slow server still processes it
        time.sleep(0.02)
    r = post_manifest(sim, make_manifest())
    assert r.status_code == 409
    assert r.json()["accepted"] == 3
    assert len(sim.manifests) == 1


def test_timeout_with_an_early_retry_still_one_manifest(sim: CourierSimulator) -> None:
    sim.fail_next("timeout", delay=0.5)
    with pytest.raises(requests.Timeout):
        post_manifest(sim, make_manifest(), timeout=0.1)
    assert post_manifest(sim, make_manifest()).status_code == 201  # answered while the first one sleeps
    deadline = time.monotonic() + 3
    while len(sim.requests_seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(s for *_, s in sim.requests_seen) == [201, 409]
    assert len(sim.manifests) == 1


def test_failure_injection_and_state_over_http(sim: CourierSimulator) -> None:
    r = requests.post(sim.url + "_sim/fail", json={"kind": "429", "count": 2, "retry_after": 3}, timeout=10)
    assert r.status_code == 200
    assert r.json()["pending_failures"] == 2
    assert requests.post(sim.url + "_sim/fail", json={"kind": "418"}, timeout=10).status_code == 422
    assert post_manifest(sim, make_manifest()).headers["Retry-After"] == "3"
    state = requests.get(sim.url + "_sim/state", timeout=10).json()
    assert state["pending_failures"] == 1
    assert state["manifests"] == 0
    assert state["requests_seen"] == 1


def test_fail_next_checks_its_arguments(sim: CourierSimulator) -> None:
    with pytest.raises(ValueError):
        sim.fail_next("404")
    with pytest.raises(ValueError):
        sim.fail_next("500", count=0)


# -- recall --------------------------------------------------------------------------------------------------


def test_recall_returns_the_item_with_the_reason(sim: CourierSimulator) -> None:
    assert post_manifest(sim, make_manifest()).status_code == 201
    number = tracking_number("RB", 2)
    sim.advance(1)
    r = recall(sim, number)
    assert r.status_code == 202
    sim.play_all()
    plan = sim.plan_of(number)
    assert [e["status"] for e in plan[-2:]] == ["RETURNED", "RETURN_RECEIVED"]
    assert plan[-2]["reason_code"] == "DEMOLISHED_AREA"
    assert "DELIVERED" not in [e["status"] for e in plan]
    assert sim.item_state(number) == Status.RETURN_RECEIVED


def test_recall_of_a_delivered_item_is_409(sim: CourierSimulator) -> None:
    with CourierSimulator(start=START, outcomes={"delivered": 1, "delivered_after_failures": 0, "returned": 0}) as s:
        assert post_manifest(s, make_manifest()).status_code == 201
        s.play_all()
        number = tracking_number("RB", 1)
        assert s.item_state(number) == Status.DELIVERED
        assert recall(s, number).status_code == 409
        assert s.item_state(number) == Status.DELIVERED


def test_recall_of_an_unknown_item_is_404(sim: CourierSimulator) -> None:
    assert recall(sim, tracking_number("RB", 999)).status_code == 404
    assert post_manifest(sim, make_manifest()).status_code == 201
    assert recall(sim, tracking_number("RB", 1), reason="LOST_IN_SPACE").status_code == 422


# -- playback ------------------------------------------------------------------------------------------------


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat = (a[0] - b[0]) * 111_320
    dlng = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(dlat, dlng)


def _check_event(event: dict[str, Any]) -> None:
    assert event["event_id"].startswith("evt_") and len(event["event_id"]) == 24
    status = Status(event["status"])
    occurred = datetime.fromisoformat(event["occurred_at"])
    assert event["occurred_at"].endswith("+07:00") and occurred.utcoffset() is not None
    assert event["location"]["post_office"] == "17510"
    assert isinstance(event["attempt"], int) and event["attempt"] >= 1
    assert event["courier_id"].startswith("PTR-")
    if status == Status.DELIVERY_FAILED:
        assert event["reason_code"] in FAILURE_REASONS
    elif status == Status.RETURNED:
        assert event["reason_code"] in RETURN_REASONS
    else:
        assert event["reason_code"] is None
    if status == Status.DELIVERED:
        assert event["recipient"]["relationship"] in RELATIONSHIPS and event["recipient"]["name"]
        assert event["proof"]["photo_url"].startswith("https://")
        assert event["proof"]["signature_url"].startswith("https://")
    else:
        assert event["recipient"] is None and event["proof"] is None


def _kind(plan: list[dict[str, Any]]) -> str:
    statuses = [e["status"] for e in plan]
    if statuses[-1] == "RETURN_RECEIVED":
        return "returned"
    return "delivered_after_failures" if "DELIVERY_FAILED" in statuses else "delivered"


def test_playback_without_webhook() -> None:
    outcomes = {"delivered": 0.8, "delivered_after_failures": 0.1, "returned": 0.1}
    with CourierSimulator(start=START, seed=7, outcomes=outcomes) as sim:
        n = 2000
        assert post_manifest(sim, make_manifest(serials=range(1, n + 1))).status_code == 201
        sim.play_all()
        numbers = [tracking_number("RB", s) for s in range(1, n + 1)]
        assert all(sim.item_state(tn) in FINAL for tn in numbers)
        assert sim.state()["items_in_play"] == 0 and sim.state()["events_held"] == 0

        plans = {tn: sim.plan_of(tn) for tn in numbers}
        kinds = Counter(_kind(p) for p in plans.values())
        for kind, share in outcomes.items():
            assert abs(kinds[kind] / n - share) < 0.03, kinds

        planned_ids = {e["event_id"] for p in plans.values() for e in p}
        sent = Counter(e["event_id"] for e in sim.events_sent)
        assert set(sent) == planned_ids  # everything arrives
        assert 0 < sum(c - 1 for c in sent.values()) < 0.06 * len(planned_ids)  # some duplicates

        far = 0
        for plan in plans.values():
            times = [datetime.fromisoformat(e["occurred_at"]) for e in plan]
            assert times == sorted(times)
            for event in plan:
                _check_event(event)
            delivered = [e for e in plan if e["status"] == "DELIVERED"]
            if delivered:
                distance = _distance_m((delivered[0]["location"]["lat"], delivered[0]["location"]["lng"]), HOME)
                assert distance < 100 or distance > 2000
                far += distance > 2000
        assert far < 0.01 * n

        # Late events: some item's events were sent in another order than they happened.
        position = {e["event_id"]: i for i, e in reversed(list(enumerate(sim.events_sent)))}
        assert any([position[e["event_id"]] for e in p] != sorted(position[e["event_id"]] for e in p)
                   for p in plans.values())


def test_default_outcomes_stay_close_to_bekasi() -> None:
    with CourierSimulator(start=START, seed=3) as sim:
        n = 3000
        assert post_manifest(sim, make_manifest(serials=range(1, n + 1))).status_code == 201
        kinds = Counter(_kind(sim.plan_of(tracking_number("RB", s))) for s in range(1, n + 1))
    assert 0.96 < (kinds["delivered"] + kinds["delivered_after_failures"]) / n < 0.99
    assert 0.03 < kinds["delivered_after_failures"] / n < 0.09


def test_same_seed_same_plans() -> None:
    plans = []
    for _ in range(2):
        with CourierSimulator(start=START, seed=5) as sim:
            post_manifest(sim, make_manifest(serials=range(1, 30)))
            plans.append([sim.plan_of(tracking_number("RB", s)) for s in range(1, 30)])
    assert plans[0] == plans[1]


def test_outcomes_are_checked() -> None:
    with pytest.raises(ValueError):
        resolve_outcomes({"lost": 0.1})
    with pytest.raises(ValueError):
        resolve_outcomes({"return_reasons": {"ABDUCTED": 1}})
    with pytest.raises(ValueError):
        resolve_outcomes({"delivered": 0, "delivered_after_failures": 0, "returned": 0})


# -- playback to a webhook -----------------------------------------------------------------------------------


class Receiver:
    """Our side, in miniature: verifies Standard Webhooks signatures and answers as told."""

    def __init__(self, secret: str, *, fail_first: int = 0, fail_status: int = 500) -> None:
        self.webhook = Webhook(secret)
        self.fail_first, self.fail_status = fail_first, fail_status
        self.log: list[tuple[str, bytes, int]] = []  # (webhook-id, body, status answered)
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/api/v1/courier/events"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @Request.application
    def _app(self, request: Request) -> Response:
        body = request.get_data()
        try:
            payload = self.webhook.verify(body, dict(request.headers))
        except WebhookVerificationError:
            with self._lock:
                self.bad_signatures += 1
            return Response("bad signature", 401)
        with self._lock:
            status = self.fail_status if self.fail_first > 0 else 200
            self.fail_first -= 1
            self.log.append((request.headers["webhook-id"], body, status))
        if status != 200:
            return Response("try again", status)
        results = [{"event_id": e["event_id"], "result": "applied"} for e in payload["data"]["events"]]
        return Response(json.dumps({"results": results}), 200, mimetype="application/json")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_playback_to_a_webhook_retries_the_same_message() -> None:
    secret = generate_secret()
    receiver = Receiver(secret, fail_first=1)
    try:
        with CourierSimulator(start=START, webhook_url=receiver.url, webhook_secret=secret, batch_size=10,
                              duplicate_share=0.1, retry_delays=(0.05, 0.05)) as sim:
            assert post_manifest(sim, make_manifest(serials=range(1, 16))).status_code == 201
            sim.play_all()
            planned = {e["event_id"] for s in range(1, 16) for e in sim.plan_of(tracking_number("RB", s))}
            assert sim.failed_messages == []
            assert len(sim.results) == len(sim.events_sent)
            assert {r["event_id"] for r in sim.results} == planned
    finally:
        receiver.stop()
    assert receiver.bad_signatures == 0
    (first_id, first_body, first_status), (second_id, second_body, second_status) = receiver.log[:2]
    assert (first_status, second_status) == (500, 200)
    assert second_id == first_id and second_body == first_body  # a retry keeps its id and body
    assert len({wid for wid, _, _ in receiver.log}) == len(receiver.log) - 1  # every other message is new
    received = [e for _, body, status in receiver.log if status == 200 for e in json.loads(body)["data"]["events"]]
    assert {e["event_id"] for e in received} == planned
    assert all(len(json.loads(body)["data"]["events"]) <= 10 for _, body, _ in receiver.log)


def test_messages_that_keep_failing_are_kept_and_redelivered() -> None:
    secret = generate_secret()
    receiver = Receiver(secret, fail_first=10**6, fail_status=503)
    try:
        with CourierSimulator(start=START, webhook_url=receiver.url, webhook_secret=secret,
                              retry_delays=(0.01, 0.01)) as sim:
            assert post_manifest(sim, make_manifest()).status_code == 201
            sim.advance(1)
            assert sim.failed_messages and all(m.attempts == 3 for m in sim.failed_messages)
            failed_ids = [m.webhook_id for m in sim.failed_messages]
            receiver.fail_first = 0
            assert sim.redeliver_failed() == len(failed_ids)
            assert sim.failed_messages == []
    finally:
        receiver.stop()
    assert [wid for wid, _, status in receiver.log if status == 200] == failed_ids
