"""COD settlements (courier contract 6.3) at the courier's webhook: recorded, duplicate, conflict, refused; every
kind of difference against the delivered COD items; resolving one; the reconciliation's "cod" section adds up."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from helpers import card_row, cli
from sqlalchemy import func, select, update
from tracking import WIB, event, handed_over, post_events, signed_headers

from app.db import simulated_clock, unit_of_work
from app.models import Office
from app.report import SECTIONS
from delivery.money_models import CodResolution, CodSettlement, CodSettlementItem
from delivery.settlements import differences
from manifests.models import ManifestItem

URL = "/api/v1/courier/events"
T0 = dt.datetime(2026, 11, 24, 10, 0, tzinfo=WIB)
EXTRA = "RB999999995ID"  # a tracking number never delivered (never even issued)


def settle(client, sid: str, lines: list[tuple[str, int]], *, total: int | None = None, day: int = 1,
           msg_id: str | None = None, **data):
    """Post a signed settlement of these (tracking number, amount) lines; `data` overrides any of its fields."""
    body = json.dumps({"type": "cod.settlement", "data": {
        "settlement_id": sid, "period": {"from": "2026-11-24", "to": "2026-11-30"},
        "remitted_at": f"2026-12-{day:02d}T10:00:00+07:00",
        "total": sum(a for _, a in lines) if total is None else total, "currency": "IDR",
        "items": [{"tracking_number": t, "amount": a} for t, a in lines], **data}})
    return client.post(URL, data=body, headers=signed_headers(body, msg_id=msg_id or f"msg-{sid}"))


def count(app, model) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(model))


def delivered(number: str, event_id: str, *, cod_collected: int | None = None, courier: str = "PTR-0192") -> dict:
    extra = {} if cod_collected is None else {"cod_collected": cod_collected}
    return event(number, "DELIVERED", T0, event_id, recipient={"name": "WARGA", "relationship": "SELF"},
                 courier_id=courier, **extra)


@pytest.fixture
def cod(webhook_app, runner, tmp_path) -> list[str]:
    """Six handed-over items: the first four COD (Rp 20.000) and delivered, the postman saying he collected the fee
    (the fourth by the postman PTR-0200); the fifth delivered without COD; the sixth COD (Rp 25.000), not delivered."""
    numbers = handed_over(webhook_app, runner, tmp_path, [card_row(i) for i in range(1, 7)])
    with webhook_app.app_context(), unit_of_work() as s:
        # What the manifest build copies from the card (intake columns layanan/biaya_antar).
        s.execute(update(ManifestItem).where(ManifestItem.tracking_number.in_(numbers[:4])).values(cod_amount=20000))
        s.execute(update(ManifestItem).where(ManifestItem.tracking_number == numbers[5]).values(cod_amount=25000))
    client = webhook_app.test_client()
    answer = post_events(client, [delivered(n, f"d{i}", cod_collected=20000, courier="PTR-0200" if i == 3 else
                                            "PTR-0192") for i, n in enumerate(numbers[:4])]
                         + [delivered(numbers[4], "d4")], msg_id="deliveries")
    assert {r["result"] for r in answer.json["results"]} == {"applied"}, answer.json
    with webhook_app.app_context(), unit_of_work() as s:  # the fold (delivery/service.py) keeps what was collected
        assert s.scalar(select(ManifestItem.cod_collected).where(ManifestItem.tracking_number == numbers[0])) == 20000
    return numbers


def office_of(s):
    return s.scalar(select(Office))


# --- the message ----------------------------------------------------------------------------------------------------


def test_a_settlement_is_recorded_once_a_repeat_is_duplicate_and_other_data_is_409(webhook_app, client, cod):
    first = settle(client, "STL-17510-20261201", [(cod[0], 20000), (cod[1], 20000)])
    assert first.status_code == 200 and first.json == {"settlement_id": "STL-17510-20261201", "result": "recorded"}
    again = settle(client, "STL-17510-20261201", [(cod[0], 20000), (cod[1], 20000)], msg_id="msg-retry")
    assert again.status_code == 200 and again.json["result"] == "duplicate"
    as_floats = settle(client, "STL-17510-20261201", [(cod[0], 20000.0), (cod[1], 2e4)], total=40000.0,
                       msg_id="msg-floats")  # the same values, written otherwise
    assert as_floats.status_code == 200 and as_floats.json["result"] == "duplicate", as_floats.json
    other = settle(client, "STL-17510-20261201", [(cod[0], 20000), (cod[1], 15000)], msg_id="msg-other")
    assert other.status_code == 409
    assert other.json["error"]["code"] == "conflict" and "STL-17510-20261201" in other.json["error"]["message"]
    assert count(webhook_app, CodSettlement) == 1 and count(webhook_app, CodSettlementItem) == 2
    with webhook_app.app_context(), unit_of_work() as s:
        row = s.scalar(select(CodSettlement))
        assert (row.total, row.items_sum, row.item_count, row.period_from) == (40000, 40000, 2, dt.date(2026, 11, 24))
        assert row.remitted_at == dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC) and row.remitted_offset == "+07:00"


def test_a_settlement_recorded_with_a_digest_of_its_text_is_still_a_duplicate_when_sent_again(webhook_app, client,
                                                                                                cod):
    """Settlements recorded before the digest was over the values (their digest over `data` as written): the same
    settlement sent again is a duplicate, other data still a 409."""
    lines = [(cod[0], 20000.0), (cod[1], 20000.0)]
    assert settle(client, "STL-OLD", lines, total=40000.0).json["result"] == "recorded"
    with webhook_app.app_context(), unit_of_work() as s:  # as the code before 5c53aa6 wrote it
        row = s.scalar(select(CodSettlement))
        data = json.loads(row.body)["data"]
        row.digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"),
                                               ensure_ascii=False).encode()).hexdigest()
    again = settle(client, "STL-OLD", lines, total=40000.0, msg_id="msg-again")
    assert again.status_code == 200 and again.json["result"] == "duplicate", again.json
    other = settle(client, "STL-OLD", [(cod[0], 20000), (cod[1], 15000)], msg_id="msg-other")
    assert other.status_code == 409


def test_an_unsigned_or_badly_signed_settlement_is_401_and_nothing_is_stored(webhook_app, client, cod):
    body = json.dumps({"type": "cod.settlement", "data": {"settlement_id": "STL-1"}})
    assert client.post(URL, data=body, headers={"Content-Type": "application/json"}).status_code == 401
    tampered = signed_headers(body)
    assert client.post(URL, data=body.replace("STL-1", "STL-2"), headers=tampered).status_code == 401
    assert count(webhook_app, CodSettlement) == 0


@pytest.mark.parametrize("data, field", [
    ({"settlement_id": None}, "data.settlement_id"),
    ({"settlement_id": "STL 1"}, "data.settlement_id"),
    ({"currency": "USD"}, "data.currency"),
    ({"total": "40000"}, "data.total"),
    ({"total": -1}, "data.total"),
    ({"items": []}, "data.items"),
    ({"items": [{"tracking_number": "RB1"}]}, "data.items[0].amount"),
    ({"items": [{"tracking_number": "RB1", "amount": 20000.5}]}, "data.items[0].amount"),
    ({"items": [{"tracking_number": "RB 1", "amount": 1}]}, "data.items[0].tracking_number"),
    ({"remitted_at": "2026-12-01T10:00:00"}, "data.remitted_at"),
    ({"remitted_at": "besok"}, "data.remitted_at"),
    ({"period": {"from": "2026-02-30", "to": "2026-03-01"}}, "data.period.from"),
    ({"period": {"from": "2026-11-30", "to": "2026-11-24"}}, "data.period.to"),
    ({"period": {"from": "2026-11-24"}}, "data.period.to"),
])
def test_a_settlement_off_the_contract_is_400_naming_the_field(webhook_app, client, cod, data, field):
    response = settle(client, "STL-17510-20261201", [(cod[0], 20000)], **data)
    assert response.status_code == 400, response.json
    assert field in response.json["error"]["message"], response.json
    assert count(webhook_app, CodSettlement) == 0


def test_a_settlement_of_unknown_numbers_only_belongs_to_the_configured_office(webhook_app, client, cod):
    assert settle(client, "STL-X", [(EXTRA, 5000)]).json["result"] == "recorded"
    with webhook_app.app_context(), unit_of_work() as s:
        found = differences(s, office_of(s), dt.date(2026, 12, 3))
    assert [(d.kind, d.key, d.settled) for d in found] == [("EXTRA", "STL-X#1", 5000)]


# --- differences ----------------------------------------------------------------------------------------------------


@pytest.fixture
def settled(webhook_app, client, cod) -> list[str]:
    """S1: the first correct, the second short, the third, and a line of nothing delivered; S2: the third again,
    under a total that is not its sum. The fourth is in no settlement."""
    s1 = settle(client, "STL-17510-20261201", [(cod[0], 20000), (cod[1], 15000), (cod[2], 20000), (EXTRA, 5000)])
    s2 = settle(client, "STL-17510-20261202", [(cod[2], 20000)], total=25000, day=2)
    assert s1.json["result"] == s2.json["result"] == "recorded"
    return cod


def test_every_kind_of_difference_is_found(webhook_app, staff, settled):
    n = settled
    answer = staff.get("/api/v1/cod/differences")  # today: 3 December, the fourth delivery is 9 days old
    assert answer.status_code == 200
    found = {(d["kind"], d["key"]): d for d in answer.json["differences"]}
    assert set(found) == {("WRONG_AMOUNT", "STL-17510-20261201#2"), ("EXTRA", "STL-17510-20261201#4"),
                          ("SETTLED_TWICE", n[2]), ("TOTAL_MISMATCH", "STL-17510-20261202")}
    wrong = found[("WRONG_AMOUNT", "STL-17510-20261201#2")]
    assert (wrong["tracking_number"], wrong["expected"], wrong["settled"], wrong["status"]) == (n[1], 20000, 15000,
                                                                                               "OPEN")
    assert found[("EXTRA", "STL-17510-20261201#4")]["tracking_number"] == EXTRA
    assert found[("SETTLED_TWICE", n[2])]["settled"] == 40000
    total = found[("TOTAL_MISMATCH", "STL-17510-20261202")]
    assert (total["expected"], total["settled"]) == (20000, 25000)
    with simulated_clock(dt.datetime(2026, 12, 8, 1, 0, tzinfo=dt.UTC)):  # 14 days after 24 November (WIB)
        later = staff.get("/api/v1/cod/differences?kind=MISSING").json["differences"]
    assert [(d["kind"], d["key"], d["expected"], d["on"]) for d in later] == [("MISSING", n[3], 20000, "2026-12-08")]
    with webhook_app.app_context(), unit_of_work() as s:
        day_before = differences(s, office_of(s), dt.date(2026, 12, 7))
    assert "MISSING" not in {d.kind for d in day_before}
    # the page shows each of them with what it is
    with simulated_clock(dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)):
        page = staff.get("/setoran-cod").get_data(as_text=True)
    for text in ("Jumlah setoran berbeda", "Disetor tanpa pengantaran COD", "Disetor lebih dari sekali",
                 "Total setoran tidak sama dengan rinciannya", "Belum disetor 14 hari", EXTRA, n[3],
                 "STL-17510-20261202"):
        assert text in page, text


def test_a_fee_settled_after_the_days_allowed_stays_a_difference_until_staff_resolve_it(webhook_app, client, staff,
                                                                                         cod):
    """Contract 6.3: "a delivery never settled within 14 days" is a difference, never silently accepted: a
    settlement that includes the item later does not make it go away (delivered 24 November, due by 8 December)."""
    assert settle(client, "STL-ONTIME", [(cod[1], 20000)], day=7).json["result"] == "recorded"
    assert settle(client, "STL-LATE", [(cod[0], 20000)], day=10).json["result"] == "recorded"
    with simulated_clock(dt.datetime(2026, 12, 12, 1, 0, tzinfo=dt.UTC)):
        found = staff.get("/api/v1/cod/differences?kind=MISSING").json["differences"]
    late = {d["tracking_number"]: d for d in found}
    assert set(late) == {cod[0], cod[2], cod[3]}  # on time: cod[1]; never settled: cod[2], cod[3]
    assert (late[cod[0]]["settled"], late[cod[0]]["settlement_id"], late[cod[0]]["status"]) == (20000, "STL-LATE",
                                                                                             "OPEN")
    assert "10-12-2026" in late[cod[0]]["detail"] and "08-12-2026" in late[cod[0]]["detail"]
    assert late[cod[2]]["settled"] == 0


def test_a_late_delivery_turns_an_extra_line_into_a_match(webhook_app, client, staff, cod):
    """Matching is done when asked, not when the settlement arrives: the courier's DELIVERED may come late."""
    with webhook_app.app_context(), unit_of_work() as s:
        s.execute(update(ManifestItem).where(ManifestItem.tracking_number == cod[5]).values(cod_amount=25000))
    assert settle(client, "STL-EARLY", [(cod[5], 25000)]).json["result"] == "recorded"
    kinds = [d["kind"] for d in staff.get("/api/v1/cod/differences").json["differences"]]
    assert kinds == ["EXTRA"]
    post_events(client, [delivered(cod[5], "d5", cod_collected=25000)], msg_id="late")
    assert staff.get("/api/v1/cod/differences").json["differences"] == []


def test_a_difference_is_resolved_only_with_a_note_and_stays_listed_as_resolved(webhook_app, staff, settled):
    key = "STL-17510-20261201#2"
    refused = staff.post("/setoran-cod/selisih", data={"kind": "WRONG_AMOUNT", "key": key, "note": " "})
    assert refused.status_code == 422 and "Catatan penyelesaian wajib diisi" in refused.get_data(as_text=True)
    assert count(webhook_app, CodResolution) == 0
    done = staff.post("/setoran-cod/selisih", data={"kind": "WRONG_AMOUNT", "key": key,
                                                    "note": "Kurir menyetor kekurangan Rp 5.000 tunai, kuitansi 12"})
    assert done.status_code == 302
    resolved = staff.get("/api/v1/cod/differences?status=RESOLVED").json["differences"]
    assert [(d["key"], d["resolved_by"], d["note"]) for d in resolved] == [
        (key, "staf", "Kurir menyetor kekurangan Rp 5.000 tunai, kuitansi 12")]
    assert resolved[0]["resolved_at"]
    still_open = staff.get("/api/v1/cod/differences?status=OPEN").json["differences"]
    assert key not in {d["key"] for d in still_open} and len(still_open) == 3
    again = staff.post("/api/v1/cod/differences/resolve", json={"kind": "WRONG_AMOUNT", "key": key,
                                                                "note": "sekali lagi"})
    assert again.status_code == 409 and "sudah diselesaikan oleh staf" in again.json["error"]["message"]
    unknown = staff.post("/api/v1/cod/differences/resolve", json={"kind": "EXTRA", "key": "STL-NONE#1",
                                                                  "note": "tidak ada"})
    assert unknown.status_code == 404
    bad = staff.post("/api/v1/cod/differences/resolve", json={"kind": "EXTRA", "key": "x", "note": "ok"})
    assert bad.status_code == 400 and "note" in bad.json["error"]["message"]
    nul = staff.post("/api/v1/cod/differences/resolve", json={"kind": "EXTRA", "key": "STL-17510-20261201#4",
                                                              "note": "catatan\x00 kurir"})
    assert nul.status_code == 400 and "note" in nul.json["error"]["message"]
    nul = staff.post("/setoran-cod/selisih", data={"kind": "EXTRA", "key": "STL-17510-20261201#4",
                                                   "note": "catatan\x00 kurir"})
    assert nul.status_code == 422 and "karakter kendali" in nul.get_data(as_text=True)
    via_api = staff.post("/api/v1/cod/differences/resolve", json={
        "kind": "EXTRA", "key": "STL-17510-20261201#4", "note": "Resi salah ketik dari kurir, dikoreksi"})
    assert via_api.status_code == 200 and via_api.json["status"] == "RESOLVED"
    assert count(webhook_app, CodResolution) == 2
    page = staff.get("/setoran-cod?status=RESOLVED").get_data(as_text=True)
    assert "Kurir menyetor kekurangan" in page and "Resi salah ketik" in page


def test_settlements_api_and_pages(webhook_app, staff, settled):
    answer = staff.get("/api/v1/cod/settlements")
    assert answer.status_code == 200
    assert [s["settlement_id"] for s in answer.json["settlements"]] == ["STL-17510-20261202", "STL-17510-20261201"]
    assert answer.json["settlements"][0]["balanced"] is False and answer.json["summary"]["balanced"] is True
    assert staff.get("/setoran-cod/setoran").status_code == 200
    assert staff.get("/api/v1/cod/differences?kind=NOPE").status_code == 400
    assert staff.get("/setoran-cod?alasan=NOPE").status_code == 400


# --- the reconciliation ------------------------------------------------------------------------------------------


def test_the_cod_section_adds_up(webhook_app, runner, settled):
    build = SECTIONS["cod"]
    with webhook_app.app_context(), unit_of_work() as s:
        now = build(s, office_of(s))  # today, 3 December: the unsettled fourth is still within 14 days
    with webhook_app.app_context(), simulated_clock(dt.datetime(2026, 12, 10, 1, 0, tzinfo=dt.UTC)), \
            unit_of_work() as s:
        later = build(s, office_of(s))
    for r in (now, later):
        assert r["balanced"] and all(r["checks"].values()), r["checks"]
        assert (r["delivered_items"], r["expected"], r["collected"], r["shortfall"]) == (4, 80000, 80000, 0)
        assert (r["settlements"], r["settlement_lines"], r["declared"], r["remitted"]) == (2, 5, 85000, 80000)
        assert (r["remitted_matched"], r["remitted_extra"], r["total_mismatch"]) == (75000, 5000, 5000)
        # 20.000 + 15.000 + 2 x 20.000 remitted for deliveries: the second 5.000 short, the third 20.000 over
        assert r["amount_differences"] == 5000 - 20000
        assert r["collected"] == r["remitted_matched"] + r["outstanding"] + r["missing"] + r["amount_differences"]
        assert r["remitted"] == r["remitted_matched"] + r["remitted_extra"]
        assert r["declared"] == r["remitted"] + r["total_mismatch"]
    assert (now["outstanding"], now["missing"]) == (20000, 0)
    assert (later["outstanding"], later["missing"]) == (0, 20000)
    assert now["differences"]["open"] == 4 and later["differences"]["open"] == 5
    assert later["differences"]["by_kind"]["MISSING"] == {"label": "Belum disetor 14 hari setelah terkirim",
                                                          "open": 1, "resolved": 0}
    by_courier = {c["courier_id"]: c for c in now["by_courier"]}
    assert by_courier["PTR-0192"] == {"courier_id": "PTR-0192", "items": 3, "expected": 60000, "collected": 60000,
                                      "remitted": 75000, "unsettled": -15000}
    assert by_courier["PTR-0200"]["unsettled"] == 20000
    assert sum(c["collected"] for c in now["by_courier"]) == now["collected"]
    # the same figures on the command line
    result = cli(runner, "cod", "report", "--json")
    assert result.exit_code == 0 and json.loads(result.output)["remitted"] == 80000
    result = cli(runner, "cod", "differences", "--open", "--json")
    assert {d["kind"] for d in json.loads(result.output)} == {"WRONG_AMOUNT", "EXTRA", "SETTLED_TWICE",
                                                              "TOTAL_MISMATCH"}
    result = cli(runner, "cod", "resolve", "SETTLED_TWICE", settled[2], "--note", "Kelebihan dikembalikan ke kurir")
    assert result.exit_code == 0, result.output
    with webhook_app.app_context(), unit_of_work() as s:
        assert build(s, office_of(s))["differences"] == {**now["differences"], "open": 3, "resolved": 1,
                                                         "by_kind": {**now["differences"]["by_kind"],
                                                                     "SETTLED_TWICE": {**now["differences"]["by_kind"]
                                                                                       ["SETTLED_TWICE"],
                                                                                       "open": 0, "resolved": 1}}}
