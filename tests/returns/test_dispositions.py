"""Returns through the kelurahan, through the Python API: batches, receipt, every disposition, corrections, and a
moved holder's card re-addressed, sent again on a new manifest with a new tracking number, and delivered."""

from __future__ import annotations

import datetime as dt

import pytest
from helpers import card_row, cli, report, write_csv
from sqlalchemy import select

from app.cards import Actor, Card, CardState
from app.courier.client import CourierClient
from app.db import unit_of_work
from app.models import Office
from courier_sim.server import CourierSimulator
from manifests import handover
from manifests import service as batching
from manifests.models import ManifestItem
from manifests.service import TrackingRange
from returns import service
from returns.models import BatchStatus, Disposition, HandoverItem
from returns.service import ReturnsError, Scope

JATIMULYA = "32.16.06.1001"
OFFICER = Actor("petugas-jatimulya")
STAFF = Actor("staf")


def _returned(app, runner, tmp_path, n: int = 6) -> list[str]:
    """n cards of Jatimulya handed to a simulator that returns every one; the tracking numbers."""
    rows = [card_row(i) for i in range(1, n + 1)]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    app.config["ANTAR_COURIER_WEBHOOK_SECRETS"] = "whsec_" + "c2VjcmV0LWtleS1vbmUtMzItYnl0ZXMtbG9uZy0tLS0="
    return rows


def apply_events(app, events: list[dict]) -> None:
    from app.courier.tracking import parse_body
    from delivery.service import Settings, apply_batch

    body = {"type": "tracking.events", "data": {"events": events}}
    with app.app_context(), unit_of_work() as s:
        results = apply_batch(s, "{}", "test", parse_body(body), Settings())
    assert {r["result"] for r in results} <= {"applied", "stale"}, results


def ev(number: str, status: str, day: int, eid: str, **extra) -> dict:
    # Days counted from a month ago: the courier's events lie in the past (an event from the future is refused).
    at = dt.datetime.combine(dt.date.today() - dt.timedelta(days=30), dt.time(9),
                             dt.timezone(dt.timedelta(hours=7))) + dt.timedelta(days=day)
    return {"event_id": eid, "tracking_number": number, "status": status, "occurred_at": at.isoformat(), **extra}


@pytest.fixture
def sim():
    with CourierSimulator(api_token="tok") as s:
        yield s


def hand_over_all(app, sim) -> list[str]:
    with app.app_context():
        with unit_of_work() as s:
            code = s.scalar(select(Office.code))
        client = CourierClient(sim.url, "tok")
        for mid in handover.pending_handover(code):
            assert handover.hand_over(code, mid, STAFF, client).answer.ok
        with unit_of_work() as s:
            return list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.active)
                                  .order_by(ManifestItem.id)))


@pytest.fixture
def received(app, runner, tmp_path, sim):
    """Six returned cards (reasons MOVED, DECEASED, UNCLAIMED x4) in a batch received at Jatimulya."""
    _returned(app, runner, tmp_path)
    numbers = hand_over_all(app, sim)
    reasons = ["MOVED", "DECEASED", "UNCLAIMED", "UNCLAIMED", "UNCLAIMED", "UNCLAIMED"]
    apply_events(app, [e for i, n in enumerate(numbers) for e in (
        ev(n, "RETURNED", 1, f"r{i}", reason_code=reasons[i]), ev(n, "RETURN_RECEIVED", 3, f"rr{i}"))])
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        (batch,) = service.build_batches(s, office, STAFF)
        service.dispatch(s, Scope(office), batch.id, STAFF)
        batch_id = batch.id
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        service.confirm_receipt(s, Scope(office, JATIMULYA), batch_id, 6, [], OFFICER)
    return batch_id


def items(app, batch_id: int) -> dict[str, tuple[HandoverItem, Card]]:
    with app.app_context(), unit_of_work() as s:
        return {c.nomor_blanko: (it, c) for it, c in service.batch_items(s, service.get_batch(
            s, Scope(s.scalar(select(Office))), batch_id))}


def dispose(app, batch_id, blanko, disposition, **fields):
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        from address.service import AddressPipeline
        item = items(app, batch_id)[blanko][0]
        return service.record_disposition(
            s, Scope(office, JATIMULYA), item.id, disposition, fields, OFFICER, deadline_days=30,
            pipeline=AddressPipeline.for_office(s, office.code, app.config),
            today=fields.pop("today", None))


def test_each_disposition_is_recorded_final_and_in_the_history(app, runner, received):
    dispose(app, received, "BLK0000003", Disposition.HOLDER, receiver_name="WARGA NOMOR 3", id_checked=True)
    dispose(app, received, "BLK0000004", Disposition.FAMILY, receiver_name="SITI", receiver_relationship="istri")
    dispose(app, received, "BLK0000002", Disposition.DECEASED, note="surat kematian dari RT")
    with pytest.raises(ReturnsError, match="identitas"):
        dispose(app, received, "BLK0000005", Disposition.HOLDER, receiver_name="X")
    with pytest.raises(ReturnsError, match="Batas waktu pengambilan"):
        dispose(app, received, "BLK0000005", Disposition.NOT_COLLECTED)
    later = dt.date.today() + dt.timedelta(days=31)
    dispose(app, received, "BLK0000005", Disposition.NOT_COLLECTED, today=later)
    with pytest.raises(ReturnsError, match="koreksi staf"):
        dispose(app, received, "BLK0000003", Disposition.DECEASED)
    got = items(app, received)
    assert got["BLK0000003"][1].state is CardState.HANDED_TO_HOLDER and got["BLK0000003"][0].id_checked
    assert got["BLK0000004"][0].receiver_relationship == "istri"
    assert got["BLK0000002"][1].state is CardState.HOLDER_DECEASED
    assert got["BLK0000005"][1].state is CardState.NOT_COLLECTED
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000004"))
        last = card.history[-1]
        assert last.actor == "petugas-jatimulya" and "SITI (istri)" in last.reason
        assert [d.nomor_blanko for _, d, _ in service.deceased(s, s.scalar(select(Office)))] == ["BLK0000002"]
    # staff correct a wrong disposition; the officer records the right one
    with app.app_context(), unit_of_work() as s:
        service.correct(s, Scope(s.scalar(select(Office))), got["BLK0000004"][0].id, STAFF, "salah kartu")
    assert items(app, received)["BLK0000004"][1].state is CardState.AT_KELURAHAN
    dispose(app, received, "BLK0000004", Disposition.HOLDER, receiver_name="WARGA NOMOR 4", id_checked=True)
    assert report(runner)["balanced"]


def test_missing_card_is_reported_not_dropped(app, runner, tmp_path, sim):
    _returned(app, runner, tmp_path, 3)
    numbers = hand_over_all(app, sim)
    apply_events(app, [ev(n, "RETURN_RECEIVED", 2, f"rr{i}") for i, n in enumerate(numbers)])
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        (batch,) = service.build_batches(s, office, STAFF)
        service.dispatch(s, Scope(office), batch.id, STAFF)
        bid = batch.id
    with app.app_context(), unit_of_work() as s:
        scope = Scope(s.scalar(select(Office)), JATIMULYA)
        with pytest.raises(ReturnsError, match="tidak sama"):
            service.confirm_receipt(s, scope, bid, 2, [], OFFICER)
    with app.app_context(), unit_of_work() as s:
        scope = Scope(s.scalar(select(Office)), JATIMULYA)
        b = service.confirm_receipt(s, scope, bid, 2, ["BLK0000002"], OFFICER)
        assert b.missing_count == 1 and b.status is BatchStatus.RECEIVED
        assert [c.nomor_blanko for _, c, _ in service.missing_cards(s, scope.office)] == ["BLK0000002"]
    data = report(runner)
    assert data["by_state"]["MISSING"] == 1 and data["by_state"]["AT_KELURAHAN"] == 2 and data["balanced"]


def test_officer_of_another_kelurahan_sees_nothing(app, received):
    with app.app_context(), unit_of_work() as s:
        other = Scope(s.scalar(select(Office)), "32.16.06.1002")
        with pytest.raises(service.NotFound):
            service.get_batch(s, other, received)
        assert service.list_batches(s, other) == [] and service.waiting(s, other) == []
        item = items(app, received)["BLK0000003"][0]
        with pytest.raises(service.NotFound):
            service.record_disposition(s, other, item.id, Disposition.DECEASED, {}, OFFICER, deadline_days=30)


def test_moved_holder_is_readdressed_sent_again_with_a_new_tracking_number_and_delivered(app, runner, received, sim):
    first = items(app, received)["BLK0000001"][1]
    dispose(app, received, "BLK0000001", Disposition.MOVED, alamat="JL. MAWAR NO. 7", rt="2", rw="4",
            kelurahan="CIBENING", kecamatan="SETU")
    moved = items(app, received)["BLK0000001"]
    assert moved[1].state is CardState.READDRESSED and moved[1].kelurahan_code.startswith("32.16.18")
    assert "JL. MAWAR NO. 7" in moved[0].new_address and moved[1].rt == "002"
    with app.app_context(), unit_of_work() as s:
        office = s.scalar(select(Office))
        service.receive_back(s, office, ["BLK0000001"], STAFF)
        made = batching.build_manifests(s, office, STAFF, tracking=TrackingRange.from_config(app.config),
                                        finalize=True)
        assert [m.item_count for m in made] == [1] and made[0].post_office_code == "17320"
    new_numbers = hand_over_all(app, sim)
    with app.app_context(), unit_of_work() as s:
        tracking = list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.card_id == first.id)
                                  .order_by(ManifestItem.id)))
    assert len(tracking) == 2 and tracking[0] != tracking[1] and tracking[1] in new_numbers
    assert sim.manifests[made[0].number].body["items"][0]["address"]["street"] == "JL. MAWAR NO. 7"
    apply_events(app, [ev(tracking[1], "DELIVERED", 9, "d-again", recipient={"name": "X", "relationship": "SELF"}),
                       ev(tracking[0], "IN_TRANSIT", 10, "late-old")])  # a late event of the old item moves nothing
    with app.app_context(), unit_of_work() as s:
        card = s.get(Card, first.id)
        assert card.state is CardState.DELIVERED
        states = [h.to_state for h in card.history]
        assert states[-5:] == [CardState.READDRESSED, CardState.READY, CardState.ON_MANIFEST,
                               CardState.WITH_COURIER, CardState.DELIVERED]
    assert report(runner)["balanced"]


def test_correcting_a_move_recorded_by_mistake_restores_the_old_address(app, runner, received):
    before = items(app, received)["BLK0000001"][1]
    dispose(app, received, "BLK0000001", Disposition.MOVED, alamat="JL. MAWAR NO. 7", rt="2", rw="4",
            kelurahan="CIBENING", kecamatan="SETU")
    item = items(app, received)["BLK0000001"][0]
    with app.app_context(), unit_of_work() as s:
        service.correct(s, Scope(s.scalar(select(Office))), item.id, STAFF, "salah pilih: pemilik tidak pindah")
    item, card = items(app, received)["BLK0000001"]
    assert card.state is CardState.AT_KELURAHAN and item.disposition is None and item.previous_address is None
    assert (card.kelurahan_code, card.street, card.rt, card.rw) == (before.kelurahan_code, before.street, before.rt,
                                                                    before.rw)
    assert report(runner)["balanced"]
