"""Handing manifests to the courier over real HTTP (the simulator on loopback), with every answer the contract has."""

from __future__ import annotations

import json
import time

import pytest
from helpers import card_row, cli, report, write_csv
from sqlalchemy import select

from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Job, JobStatus, Office
from courier_sim.server import CourierSimulator
from manifests.handover import courier_payload
from manifests.models import Manifest, ManifestItem, ManifestStatus

TOKEN = "rahasia-kurir"


@pytest.fixture
def sim():
    with CourierSimulator(api_token=TOKEN, seed=1) as s:
        yield s


@pytest.fixture
def courier_app(app, sim):
    app.config.update(ANTAR_COURIER_BASE_URL=sim.url, ANTAR_COURIER_API_TOKEN=TOKEN, ANTAR_COURIER_RETRIES=3,
                      ANTAR_COURIER_BACKOFF=0.01, ANTAR_COURIER_BACKOFF_MAX=0.05, ANTAR_COURIER_READ_TIMEOUT=0.5,
                      ANTAR_COURIER_CONNECT_TIMEOUT=0.5, ANTAR_COURIER_RETRY_AFTER_MAX=5)
    return app


@pytest.fixture
def manifest(courier_app, runner, tmp_path) -> Manifest:
    rows = [card_row(i, no_hp="081234567890") for i in range(1, 6)]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with courier_app.app_context(), unit_of_work() as s:
        return s.scalar(select(Manifest))


def state(app, manifest_id: int) -> Manifest:
    with app.app_context(), unit_of_work() as s:
        m = s.get(Manifest, manifest_id)
        _ = m.events
        return m


def manifest_posts(sim) -> list[tuple]:
    return [r for r in sim.requests_seen if r[1] == "/v1/manifests"]


def test_handover_succeeds_and_cards_go_with_the_courier(courier_app, staff, sim, manifest, runner):
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "HANDED_OVER" and body["courier"]["outcome"] == "accepted"
    assert body["courier"]["http_status"] == 201 and body["courier"]["body"]["accepted"] == 5
    m = state(courier_app, manifest.id)
    assert m.status is ManifestStatus.HANDED_OVER and m.pickup_scheduled_at and m.handed_over_at
    accepted = sim.manifests[manifest.number]
    assert len(sim.manifests) == 1 and len(accepted.body["items"]) == 5
    assert manifest_posts(sim)[0][2] == manifest.number  # Idempotency-Key
    sent = accepted.body["items"][0]
    assert "nik" not in str(accepted.body).lower() and sent["phone"] == "081234567890"
    assert sent["address"]["kode_wilayah"] == "32.16.06.1001" and sent["address"]["kelurahan"] == "JATIMULYA"
    assert accepted.body["origin"] == {"office": "Disdukcapil Kabupaten Bekasi", "kode_wilayah": "32.16"}
    data = report(runner)
    assert data["by_state"]["WITH_COURIER"] == 5 and data["balanced"]
    # handing over again is refused locally: it is no longer waiting
    again = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert again.status_code == 409 and len(manifest_posts(sim)) == 1


def test_every_phone_goes_to_the_courier_in_the_contracts_form(courier_app, runner, tmp_path):
    """Contract 2's `"phone": "081234567890"`: a number the intake keeps as +62... (written 62..., 0062... or +62 in
    the file) goes as 08..., like those written 08...; a card without one has no phone."""
    rows = [card_row(1, no_hp="+62 812-3456-7890"), card_row(2, no_hp="6281234567891"),
            card_row(3, no_hp="0812 3456 7892"), card_row(4, no_hp="")]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with courier_app.app_context(), unit_of_work() as s:
        payload = courier_payload(s, s.scalar(select(Office)), s.scalar(select(Manifest)))
    phones = {i["recipient_name"]: i.get("phone") for i in payload["items"]}
    assert phones == {"WARGA NOMOR 1": "081234567890", "WARGA NOMOR 2": "081234567891",
                      "WARGA NOMOR 3": "081234567892", "WARGA NOMOR 4": None}


def test_409_replay_counts_as_success(courier_app, sim, manifest, runner):
    with courier_app.app_context(), unit_of_work() as s:
        payload = courier_payload(s, s.scalar(select(Office)), s.get(Manifest, manifest.id))
        assert CourierClient(sim.url, TOKEN).submit_manifest(payload).http_status == 201  # e.g. an earlier try
    result = cli(runner, "manifests", "handover", manifest.number)
    assert result.exit_code == 0, result.output
    assert "sudah diterima kurir sebelumnya (409)" in result.output
    assert state(courier_app, manifest.id).status is ManifestStatus.HANDED_OVER
    assert len(sim.manifests) == 1


def test_422_leaves_the_manifest_failed_with_the_couriers_errors(courier_app, staff, sim, manifest):
    with courier_app.app_context(), unit_of_work() as s:
        taken = s.scalar(select(ManifestItem.tracking_number).where(ManifestItem.manifest_id == manifest.id))
    # someone else's manifest already used one of our numbers at the courier
    other = {"manifest_number": "MNF-LAIN", "origin": {"office": "X", "kode_wilayah": "32.75"},
             "destination_post_office": {"code": "17510", "name": "KPC Tambun"},
             "created_at": "2026-11-23T09:00:00+07:00",
             "items": [{"tracking_number": taken, "recipient_name": "A", "address": {
                 "street": "JL. A", "rt": "001", "rw": "001", "kelurahan": "K", "kecamatan": "C",
                 "kabupaten_kota": "KOTA BEKASI", "provinsi": "JAWA BARAT", "kode_pos": "17510",
                 "kode_wilayah": "32.75.01.1001"}}]}
    assert CourierClient(sim.url, TOKEN).submit_manifest(other).http_status == 201
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 502
    courier = response.json["courier"]
    assert courier["outcome"] == "rejected" and courier["errors"][0]["tracking_number"] == taken
    assert courier["attempts"] == 1  # never retried
    m = state(courier_app, manifest.id)
    assert m.status is ManifestStatus.HANDOVER_FAILED and taken in m.last_error
    assert manifest.number not in sim.manifests
    page = staff.get(f"/manifest/{manifest.id}").text
    assert "Penyerahan gagal" in page and taken in page


def test_every_reason_of_a_422_is_shown_to_staff(courier_app, staff, sim, runner, tmp_path):
    """Contract 2: a 422 lists the courier's reasons per tracking number. The one-line answer names the first ten
    and how many more there are; the manifest's page and `antar manifests show` list every one."""
    rows = [card_row(i) for i in range(1, 14)]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    with courier_app.app_context(), unit_of_work() as s:
        manifest = s.scalar(select(Manifest))
    with courier_app.app_context(), unit_of_work() as s:
        numbers = list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.manifest_id == manifest.id)
                                 .order_by(ManifestItem.seq)))
    assert len(numbers) > 10
    address = {"street": "JL. A", "rt": "001", "rw": "001", "kelurahan": "K", "kecamatan": "C",
               "kabupaten_kota": "KOTA BEKASI", "provinsi": "JAWA BARAT", "kode_pos": "17510",
               "kode_wilayah": "32.75.01.1001"}
    other = {"manifest_number": "MNF-LAIN", "origin": {"office": "X", "kode_wilayah": "32.75"},
             "destination_post_office": {"code": "17510", "name": "KPC Tambun"},
             "created_at": "2026-11-23T09:00:00+07:00",
             "items": [{"tracking_number": n, "recipient_name": "A", "address": address} for n in numbers]}
    assert CourierClient(sim.url, TOKEN).submit_manifest(other).http_status == 201
    assert staff.post(f"/api/v1/manifests/{manifest.id}/handover").status_code == 502
    m = state(courier_app, manifest.id)
    assert f"dan {len(numbers) - 10} kesalahan lain" in m.last_error
    page = staff.get(f"/manifest/{manifest.id}").text
    assert f"Ditolak kurir: {len(numbers)} kesalahan" in page and all(n in page for n in numbers)
    shown = cli(runner, "manifests", "show", str(manifest.id)).output
    assert all(f"ditolak kurir {n}:" in shown for n in numbers), shown


@pytest.mark.parametrize("token,status", [("salah", 403), (None, 401)])
def test_bad_credentials_are_not_retried(courier_app, sim, manifest, runner, token, status):
    from manifests import handover
    client = CourierClient(sim.url, "x", retries=3, backoff=0.01)
    if token is None:
        del client.session.headers["Authorization"]
    else:
        client.session.headers["Authorization"] = f"Bearer {token}"
    with courier_app.app_context():
        result = handover.hand_over("32.16", manifest.id, handover.Actor("t"), client)
    assert result.answer.outcome.value == "credentials" and result.answer.http_status == status
    assert result.status is ManifestStatus.HANDOVER_FAILED and "ANTAR_COURIER_API_TOKEN" in result.answer.summary()
    assert len(manifest_posts(sim)) == 1 and not sim.manifests


def test_server_errors_then_success_is_one_handover(courier_app, staff, sim, manifest):
    sim.fail_next("500", 2)
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 200 and response.json["courier"]["attempts"] == 3
    assert [r[3] for r in manifest_posts(sim)] == [500, 500, 201]
    assert len(sim.manifests) == 1


def test_timeout_then_success_never_creates_a_second_manifest(courier_app, staff, sim, manifest):
    sim.fail_next("timeout", 1, delay=1.0)  # our read timeout is 0.5 s; the courier still processes it later
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 200, response.json
    assert response.json["courier"]["outcome"] in ("accepted", "replayed")
    time.sleep(0.8)  # let the slow first request finish at the courier
    assert len(sim.manifests) == 1
    assert state(courier_app, manifest.id).status is ManifestStatus.HANDED_OVER


def test_429_honours_retry_after(courier_app, staff, sim, manifest):
    sim.fail_next("429", 1, retry_after=1)
    started = time.monotonic()
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 200
    assert time.monotonic() - started >= 1.0  # backoff alone is 0.01-0.05 s
    assert [r[3] for r in manifest_posts(sim)] == [429, 201]


def test_an_unparseable_retry_after_does_not_fail_the_handover(courier_app, staff, sim, manifest):
    sim.fail_next("429", 1, retry_after="soon")  # neither seconds nor an HTTP-date: ignored, the usual backoff
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 200, response.json
    assert response.json["courier"]["outcome"] == "accepted" and response.json["courier"]["attempts"] == 2
    assert [r[3] for r in manifest_posts(sim)] == [429, 201] and len(sim.manifests) == 1


def test_gives_up_after_the_bound_then_a_later_retry_succeeds(courier_app, staff, sim, manifest, runner):
    sim.fail_next("503", 4)  # 1 try + 3 retries, all failing
    response = staff.post(f"/api/v1/manifests/{manifest.id}/handover")
    assert response.status_code == 502
    assert response.json["courier"]["outcome"] == "gave_up" and response.json["courier"]["attempts"] == 4
    m = state(courier_app, manifest.id)
    assert m.status is ManifestStatus.HANDOVER_FAILED and "4 percobaan" in m.last_error
    assert report(runner)["by_state"]["ON_MANIFEST"] == 5
    listing = cli(runner, "manifests", "list", "--status", "HANDOVER_FAILED", "--json").output
    assert manifest.number in listing
    retried = cli(runner, "manifests", "handover", "--all")
    assert retried.exit_code == 0, retried.output
    assert state(courier_app, manifest.id).status is ManifestStatus.HANDED_OVER
    assert len(sim.manifests) == 1 and len(manifest_posts(sim)) == 5
    events = [(e.from_status, e.to_status) for e in state(courier_app, manifest.id).events]
    assert events[-2:] == [(ManifestStatus.FINALIZED, ManifestStatus.HANDOVER_FAILED),
                           (ManifestStatus.HANDOVER_FAILED, ManifestStatus.HANDED_OVER)]


def test_connection_refused_is_a_failed_handover(courier_app, manifest, runner):
    courier_app.config["ANTAR_COURIER_BASE_URL"] = "http://127.0.0.1:9/"
    result = cli(runner, "manifests", "handover", "--all")
    assert result.exit_code == 1 and "tidak dapat dihubungi" in result.output
    assert state(courier_app, manifest.id).status is ManifestStatus.HANDOVER_FAILED


def test_area_withdrawn_after_handover_is_recalled(courier_app, staff, sim, manifest, runner):
    assert staff.post(f"/api/v1/manifests/{manifest.id}/handover").status_code == 200
    with courier_app.app_context(), unit_of_work() as s:
        numbers = list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.manifest_id == manifest.id)))
    w = staff.post("/api/v1/sorting/withdrawals", json={"kelurahan": "32.16.06.1001", "reason": "proyek LRT"})
    assert w.status_code == 201 and w.json["cards_withdrawn"] == 0  # all five are with the courier: recalled
    assert sorted(r["tracking_number"] for r in w.json["recalls"]) == sorted(numbers)
    assert {r["http_status"] for r in w.json["recalls"]} == {202}
    sim.play_all()
    assert {str(sim.item_state(n)) for n in numbers} == {"RETURN_RECEIVED"}
    returned = [e for e in sim.events_sent if e["status"] == "RETURNED"]
    assert {e["reason_code"] for e in returned} == {"DEMOLISHED_AREA"}
    # asked once: a second recall run has nothing to do
    assert staff.post("/api/v1/recalls").json["recalls"] == []


def test_a_recall_the_courier_did_not_answer_is_asked_again_later(courier_app, staff, sim, manifest):
    assert staff.post(f"/api/v1/manifests/{manifest.id}/handover").status_code == 200
    courier_app.config["ANTAR_COURIER_BASE_URL"] = "http://127.0.0.1:9/"  # the courier is unreachable
    w = staff.post("/api/v1/sorting/withdrawals", json={"kelurahan": "32.16.06.1001", "reason": "proyek LRT"})
    assert w.status_code == 201 and {r["outcome"] for r in w.json["recalls"]} == {"gave_up"}
    courier_app.config["ANTAR_COURIER_BASE_URL"] = sim.url
    later = staff.post("/api/v1/recalls").json["recalls"]
    assert len(later) == 5 and {r["http_status"] for r in later} == {202}
    history = staff.get(f"/api/v1/manifests/{manifest.id}").json["history"]
    assert any("tidak dapat dihubungi" in h["note"] for h in history)


def test_an_unanswered_recall_is_asked_again_on_a_schedule(courier_app, staff, sim, manifest):
    """Nobody has to remember `antar manifests recall`: a background job asks again until the courier answered."""
    assert staff.post(f"/api/v1/manifests/{manifest.id}/handover").status_code == 200
    courier_app.config["ANTAR_RECALL_RETRY_MINUTES"] = 0.02  # 1.2 s instead of half an hour
    courier_app.config["ANTAR_COURIER_BASE_URL"] = "http://127.0.0.1:9/"  # the courier is unreachable
    w = staff.post("/api/v1/sorting/withdrawals", json={"kelurahan": "32.16.06.1001", "reason": "proyek LRT"})
    assert {r["outcome"] for r in w.json["recalls"]} == {"gave_up"}
    courier_app.config["ANTAR_COURIER_BASE_URL"] = sim.url  # back before the scheduled retry
    deadline = time.monotonic() + 30
    done = None
    while time.monotonic() < deadline and done is None:
        time.sleep(0.3)
        with courier_app.app_context(), unit_of_work() as s:
            done = s.scalar(select(Job).where(Job.kind == "manifests.recall", Job.status == JobStatus.DONE))
            result = done and json.loads(done.result)
    assert done is not None, "no scheduled recall job ran"
    assert result["counts"] == {"Diminta": 5, "Dijawab kurir": 5, "Belum dijawab": 0}
    assert staff.post("/api/v1/recalls").json["recalls"] == []
