"""Courier manifests: batching, round order, S10 numbering, draft editing, cancel, withdrawal; CLI, HTTP, PDF."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest
from helpers import card_row, cli, report, write_csv
from markupsafe import escape
from sqlalchemy import func, select

from app.cards import Card, CardState
from app.cli import main
from app.courier import s10
from app.db import unit_of_work
from app.demo.synthetic import generate_print_run
from app.models import Office
from app.regions import office_regions
from manifests import service as batching
from manifests.models import Manifest, ManifestItem, ManifestStatus, TrackingCounter
from manifests.postoffice import post_office_for
from manifests.service import ManifestError, TrackingRange

OFFICE = "32.16"


def import_synthetic(runner, tmp_path: Path, cards: int = 1200, seed: int = 7) -> None:
    path = tmp_path / "run.csv"
    generate_print_run(path, office_code=OFFICE, cards=cards, seed=seed, unclear_share=0.0, bad_row_share=0.0)
    result = cli(runner, "import", str(path))
    assert result.exit_code == 0, result.output


def ready_count(app) -> int:
    with app.app_context(), unit_of_work() as s:
        return s.scalar(select(func.count()).select_from(Card).where(Card.state == CardState.READY))


def items_by_manifest(app) -> dict[int, list[tuple]]:
    with app.app_context(), unit_of_work() as s:
        rows = s.execute(select(ManifestItem.manifest_id, ManifestItem.seq, ManifestItem.tracking_number, Card)
                         .join(Card, Card.id == ManifestItem.card_id).where(ManifestItem.active)
                         .order_by(ManifestItem.manifest_id, ManifestItem.seq)).all()
    out: dict[int, list[tuple]] = {}
    for mid, seq, tn, card in rows:
        out.setdefault(mid, []).append((seq, tn, card))
    return out


def manifests(app) -> list[Manifest]:
    with app.app_context(), unit_of_work() as s:
        return list(s.scalars(select(Manifest).order_by(Manifest.id)))


def test_build_puts_every_ready_card_on_one_manifest_per_post_office_capped_and_in_round_order(app, runner, tmp_path):
    import_synthetic(runner, tmp_path)
    ready = ready_count(app)
    preview = json.loads(cli(runner, "manifests", "preview", "--max-items", "60", "--json").output)
    assert sum(p["items"] for p in preview) == ready

    result = cli(runner, "manifests", "build", "--max-items", "60")
    assert result.exit_code == 0, result.output
    made = manifests(app)
    assert len(made) == len(preview) and all(m.status is ManifestStatus.DRAFT for m in made)
    items = items_by_manifest(app)
    card_ids = [card.id for rows in items.values() for _, _, card in rows]
    assert len(card_ids) == len(set(card_ids)) == ready
    regions = office_regions(OFFICE)
    for m in made:
        rows = items[m.id]
        assert 0 < len(rows) <= 60 and m.item_count == len(rows)
        assert [seq for seq, _, _ in rows] == list(range(1, len(rows) + 1))
        assert {post_office_for(OFFICE, c.kode_pos, c.kelurahan_code).code for _, _, c in rows} == {m.post_office_code}
        if m.kecamatan_code:  # a split post office: one kecamatan per manifest
            assert {c.kelurahan_code[:8] for _, _, c in rows} == {m.kecamatan_code}
        cards_ = [c for _, _, c in rows]
        assert [batching.round_key(regions.kelurahan[c.kelurahan_code].name, c) for c in cards_] == sorted(
            batching.round_key(regions.kelurahan[c.kelurahan_code].name, c) for c in cards_)
        assert m.number.startswith("MNF-3216-")
    # a large post office was split and capped; the kecamatan split is recorded
    assert any(m.kecamatan_code for m in made)
    data = report(runner)
    assert data["by_state"]["ON_MANIFEST"] == ready and data["by_state"]["READY"] == 0 and data["balanced"]
    # nothing left: a second build says so and changes nothing
    again = cli(runner, "manifests", "build")
    assert again.exit_code != 0 and "Tidak ada kartu siap kirim" in again.output


def test_round_order_within_a_street_follows_house_numbers():
    class C:
        def __init__(self, id, street, rt="001", rw="001"):  # noqa: A002
            self.id, self.street, self.rt, self.rw, self.lat, self.lng, self.nama = id, street, rt, rw, None, None, "X"

    cards_ = [C(1, "JL. MAWAR NO. 12"), C(2, "JL. MAWAR NO. 2"), C(3, "JL. MAWAR NO 7A"), C(4, "JL. ANGGREK NO. 30"),
              C(5, "JL. MAWAR NO. 1", rt="002"), C(6, "JL. ANGGREK NO. 4", rw="000")]
    ordered = [c.id for c in sorted(cards_, key=lambda c: batching.round_key("K", c))]
    assert ordered == [6, 4, 2, 3, 1, 5]


def test_finalize_numbers_items_with_valid_consecutive_s10_numbers_never_reused(app, runner, tmp_path):
    import_synthetic(runner, tmp_path, cards=300)
    app.config.update(ANTAR_TRACKING_PREFIX="RB", ANTAR_TRACKING_FIRST=12345670, ANTAR_TRACKING_LAST=12399999)
    assert cli(runner, "manifests", "build", "--max-items", "100").exit_code == 0
    first, *rest = manifests(app)
    out = cli(runner, "manifests", "finalize", str(first.id))
    assert out.exit_code == 0, out.output
    numbers = [tn for _, tn, _ in items_by_manifest(app)[first.id]]
    assert all(s10.is_valid(n) for n in numbers)
    assert [s10.serial_of(n) for n in numbers] == list(range(12345670, 12345670 + len(numbers)))
    # cancelling a finalized manifest retires its numbers: the next one continues after them
    assert cli(runner, "manifests", "cancel", first.number, "--reason", "salah susun").exit_code == 0
    assert cli(runner, "manifests", "finalize", "--all-drafts").exit_code == 0
    later = [tn for mid, rows in items_by_manifest(app).items() for _, tn, _ in rows]
    assert min(s10.serial_of(n) for n in later) == 12345670 + len(numbers)
    assert not set(later) & set(numbers)
    with app.app_context(), unit_of_work() as s:
        cancelled = s.get(Manifest, first.id)
        assert cancelled.status is ManifestStatus.CANCELLED
        # its cards were ready again and went onto a new manifest (rebuilt below)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    all_numbers = [tn for rows in items_by_manifest(app).values() for _, tn, _ in rows]
    assert len(all_numbers) == len(set(all_numbers)) == report(runner)["by_state"]["ON_MANIFEST"]
    assert not set(all_numbers) & set(numbers)


def test_two_offices_in_one_database_never_get_the_same_number(app, runner, tmp_path):
    """The range is the deployment's (ANTAR_TRACKING_*): a second office in the same database numbers its cards
    after the first office's, never again from the range's start (contract 1: a number is never reused)."""
    import_synthetic(runner, tmp_path, cards=60)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    path = tmp_path / "kota.csv"
    generate_print_run(path, office_code="32.75", cards=40, seed=8, unclear_share=0.0, bad_row_share=0.0,
                       start_blanko=5_000_000)
    assert "40 kartu diimpor" in cli(runner, "import", str(path), "--office", "32.75").output
    result = runner.invoke(main, ["manifests", "build", "--finalize", "--office", "32.75"])
    assert result.exit_code == 0, result.output
    with app.app_context(), unit_of_work() as s:
        rows = s.execute(select(Manifest.office_id, ManifestItem.tracking_number)
                         .join(Manifest, Manifest.id == ManifestItem.manifest_id)).all()
    offices = {office for office, _ in rows}
    numbers = [tn for _, tn in rows]
    assert len(offices) == 2 and len(numbers) == len(set(numbers)) > 60
    assert all(s10.is_valid(tn) for tn in numbers)


def test_exhausted_range_stops_the_build_before_anything_is_numbered(app, runner, tmp_path):
    import_synthetic(runner, tmp_path, cards=200)
    ready = ready_count(app)
    app.config.update(ANTAR_TRACKING_FIRST=10000000, ANTAR_TRACKING_LAST=10000000 + ready - 2)
    result = cli(runner, "manifests", "build", "--finalize")
    assert result.exit_code != 0
    assert f"tersisa {ready - 1}, dibutuhkan {ready}" in result.output
    assert "Tidak ada yang diberi nomor" in result.output
    assert manifests(app) == [] and ready_count(app) == ready
    with app.app_context(), unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(TrackingCounter)) == 0
    # drafts can still be built; finalizing one that fits works and uses the range from its start
    app.config.update(ANTAR_TRACKING_LAST=10000000 + ready - 1)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    numbers = sorted(s10.serial_of(tn) for rows in items_by_manifest(app).values() for _, tn, _ in rows)
    assert numbers == list(range(10000000, 10000000 + ready))


def test_draft_can_be_edited_over_http_and_is_locked_once_finalized(app, staff, runner, tmp_path):
    rows = [card_row(i) for i in range(1, 6)] + [
        card_row(9, alamat="JL. SETU RAYA NO. 1", kelurahan="CIBENING", kecamatan="SETU", kode_pos="17320")]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    response = staff.post("/api/v1/manifests", json={"post_office": "17510"})
    assert response.status_code == 201, response.json
    (m,) = response.json["manifests"]
    assert m["items"] == 5 and m["post_office"] == {"code": "17510", "name": "KPC Tambun"}
    mid = m["id"]
    removed = staff.post(f"/api/v1/manifests/{mid}/items/remove", json={"nomor_blanko": ["BLK0000002"]})
    assert removed.status_code == 200 and removed.json["items"] == 4
    with app.app_context(), unit_of_work() as s:
        card = s.scalar(select(Card).where(Card.nomor_blanko == "BLK0000002"))
        assert card.state is CardState.READY
        assert "Dikeluarkan dari manifest" in card.history[-1].reason
    wrong = staff.post(f"/api/v1/manifests/{mid}/items/add", json={"nomor_blanko": ["BLK0000009"]})
    assert wrong.status_code == 422 and "17320" in wrong.json["error"]["message"]
    added = staff.post(f"/api/v1/manifests/{mid}/items/add", json={"nomor_blanko": ["BLK0000002"]})
    assert added.status_code == 200 and added.json["items"] == 5
    detail = staff.get(f"/api/v1/manifests/{mid}").json
    assert [i["seq"] for i in detail["item_list"]] == [1, 2, 3, 4, 5]
    # JL. RAYA JATIMULYA NO. 1..5 in one RT/RW: the round goes up the house numbers
    assert [i["address"].split(",")[0] for i in detail["item_list"]] == [
        f"JL. RAYA JATIMULYA NO. {n}" for n in range(1, 6)]
    assert staff.get(f"/api/v1/manifests/{mid}/berita-acara.pdf").status_code == 409  # a draft has no numbers
    assert staff.post(f"/api/v1/manifests/{mid}/finalize").json["status"] == "FINALIZED"
    locked = staff.post(f"/api/v1/manifests/{mid}/items/remove", json={"nomor_blanko": ["BLK0000003"]})
    assert locked.status_code == 422 and "terkunci" in locked.json["error"]["message"]
    history = staff.get(f"/api/v1/manifests/{mid}").json["history"]
    assert [h["to"] for h in history if h["to"]] == ["DRAFT", "FINALIZED"]
    assert all(h["actor"] == "staf" for h in history)


def test_pages_list_preview_build_detail_and_documents_without_nik(app, staff, runner, tmp_path):
    rows = [card_row(i, no_hp="081234567890") for i in range(1, 4)]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    page = staff.get("/manifest/baru?preview=1&max_items=500")
    assert page.status_code == 200 and "17510 KPC Tambun" in page.text and "Buat 1 manifest" in page.text
    built = staff.post("/manifest/baru", data={"max_items": "500", "finalize": "1"}, follow_redirects=True)
    assert "1 manifest dibuat (3 kartu)" in built.text
    (m,) = manifests(app)
    listing = staff.get("/manifest").text
    assert m.number in listing and "Final (terkunci, bernomor resi)" in listing
    detail = staff.get(f"/manifest/{m.id}").text
    assert "Berita Acara (PDF)" in detail and "Serahkan ke kurir" in detail
    assert str(escape("JL. RAYA JATIMULYA")) in detail
    niks = [r["nik"] for r in rows]
    pdf = staff.get(f"/manifest/{m.id}/berita-acara.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    from io import BytesIO

    from pypdf import PdfReader
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf.data)).pages)
    assert m.number in text and "WARGA NOMOR 1" in text
    for kind in ("items.csv", "items.xlsx"):
        response = staff.get(f"/manifest/{m.id}/{kind}")
        assert response.status_code == 200
    csv_text = staff.get(f"/manifest/{m.id}/items.csv").data.decode("utf-8-sig")
    assert "WARGA NOMOR 2" in csv_text
    for nik in niks:
        assert nik not in text and nik not in csv_text and nik.encode() not in pdf.data
    assert staff.get("/manifest/999999").status_code == 404


def test_withdrawing_an_area_takes_its_cards_off_unsent_manifests(app, staff, runner, tmp_path):
    rows = [card_row(i) for i in range(1, 5)] + [card_row(i, rw="007") for i in range(5, 7)]
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    response = staff.post("/api/v1/sorting/withdrawals",
                          json={"kelurahan": "32.16.06.1001", "rws": ["5"], "reason": "proyek LRT"})
    assert response.status_code == 201 and response.json["cards_withdrawn"] == 4
    (m,) = manifests(app)
    assert m.item_count == 2
    data = report(runner)
    assert data["by_state"]["WITHDRAWN"] == 4 and data["by_state"]["ON_MANIFEST"] == 2 and data["balanced"]
    assert len(items_by_manifest(app)[m.id]) == 2


def test_database_refuses_a_card_on_two_open_manifests(app, runner, tmp_path):
    assert cli(runner, "import", str(write_csv(tmp_path / "a.csv", [card_row(1)]))).exit_code == 0
    assert cli(runner, "manifests", "build").exit_code == 0
    from sqlalchemy.exc import IntegrityError
    with app.app_context(), pytest.raises(IntegrityError), unit_of_work() as s:
        item = s.scalar(select(ManifestItem))
        other = Manifest(office_id=item.manifest.office_id, number="MNF-X", post_office_code="17510",
                         post_office_name="KPC Tambun", status=ManifestStatus.DRAFT, created_by="test")
        s.add(other)
        s.flush()
        s.add(ManifestItem(manifest_id=other.id, card_id=item.card_id, seq=1, active=True))
        s.flush()


def test_two_builds_at_once_never_put_a_card_on_two_manifests(app, runner, tmp_path, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrency runs on PostgreSQL")
    import_synthetic(runner, tmp_path, cards=800)
    ready = ready_count(app)
    errors: list[str] = []
    barrier = threading.Barrier(4)

    def build(kwargs):
        barrier.wait()
        try:
            with app.app_context(), unit_of_work() as s:
                office = s.scalar(select(Office))
                batching.build_manifests(s, office, batching.Actor("t"), tracking=TrackingRange("RB", 10000000,
                                                                                                 19999999), **kwargs)
        except ManifestError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=build, args=(kw,)) for kw in
               ({"cap": 50}, {"cap": 70, "finalize": True}, {"cap": 500}, {"post_office": "17530"})]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = items_by_manifest(app)
    card_ids = Counter(c.id for rows in items.values() for _, _, c in rows)
    assert card_ids and max(card_ids.values()) == 1
    assert sum(card_ids.values()) == ready and ready_count(app) == 0
    assert all("Tidak ada kartu siap kirim" in e for e in errors)
    numbers = [tn for rows in items.values() for _, tn, _ in rows if tn]
    assert len(numbers) == len(set(numbers))
