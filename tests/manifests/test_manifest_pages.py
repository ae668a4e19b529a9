"""The manifest pages at full volume, through HTTP: pages of manifests and of items, the build form's errors, the
build as a background job, and everything in words staff read (statuses, history, the courier's answers)."""

from __future__ import annotations

import re

import pytest
from helpers import cli
from job_helpers import finished, import_cards, job_id_of
from sqlalchemy import select

from app.db import unit_of_work
from courier_sim.server import CourierSimulator
from manifests.models import Manifest, ManifestItem, ManifestStatus

NOT_CONFIGURED = "Penyerahan ke kurir belum dapat dilakukan: alamat API PT Pos belum diatur oleh administrator."
NUMBER = re.compile(r"MNF-\d{4}-\d{8}-\d{4}")


def manifests(app) -> list[Manifest]:
    with app.app_context(), unit_of_work() as s:
        return list(s.scalars(select(Manifest).order_by(Manifest.id)))


def test_the_list_comes_in_pages_and_keeps_the_status_filter(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 60)
    assert cli(runner, "manifests", "build", "--max-items", "1").exit_code == 0  # 60 drafts of one card
    first, second = staff.get("/manifest"), staff.get("/manifest?hal=2")
    assert first.status_code == second.status_code == 200
    on_first, on_second = set(NUMBER.findall(first.text)), set(NUMBER.findall(second.text))
    assert len(on_first) == 50 and len(on_second) == 10 and not on_first & on_second
    assert "Halaman 1 dari 2" in first.text and "Halaman 2 dari 2" in second.text
    filtered = staff.get("/manifest?status=DRAFT").text
    assert re.search(r'href="/manifest\?(hal=2&amp;status=DRAFT|status=DRAFT&amp;hal=2)" rel="next"', filtered)
    assert set(NUMBER.findall(staff.get("/manifest?status=DRAFT&hal=2").text)) == on_second
    assert not NUMBER.findall(staff.get("/manifest?status=FINALIZED").text)
    # the JSON API keeps answering with every manifest at once
    assert len(staff.get("/api/v1/manifests").json["manifests"]) == 60
    assert staff.get("/manifest?hal=abc").status_code == 400


def test_a_large_manifest_shows_its_items_page_by_page(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 120)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    (m,) = manifests(app)
    with app.app_context(), unit_of_work() as s:
        numbers = list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.manifest_id == m.id)
                                 .order_by(ManifestItem.seq)))
    first, second = staff.get(f"/manifest/{m.id}").text, staff.get(f"/manifest/{m.id}?hal=2").text
    assert "Item (120)" in first and "Halaman 1 dari 2" in first
    # (the history names the first and the last number on every page: "Final: 120 nomor resi ... s.d. ...")
    assert all(n in first for n in numbers[:100]) and not any(n in first for n in numbers[100:-1])
    assert all(n in second for n in numbers[100:]) and not any(n in second for n in numbers[1:100])
    assert f'href="/manifest/{m.id}?hal=2"' in first
    # totals per kelurahan are over the whole manifest on every page
    assert re.search(r"JATIMULYA · TAMBUN SELATAN</td><td class=\"num\">120<", second)
    assert len(staff.get(f"/api/v1/manifests/{m.id}").json["item_list"]) == 120


@pytest.mark.parametrize("typed,message", [
    ("abc", "Batas item per manifest harus angka bulat"),
    ("0", "Batas item per manifest minimal 1"),
    ("-5", "Batas item per manifest minimal 1"),
])
def test_a_wrong_max_items_re_renders_the_form_with_the_message_beside_the_field(app, staff, runner, tmp_path,
                                                                                typed, message):
    import_cards(runner, tmp_path, 3)
    for response in (staff.post("/manifest/baru", data={"max_items": typed, "finalize": "1"}),
                     staff.get(f"/manifest/baru?preview=1&max_items={typed}")):
        assert response.status_code == 422 and "Location" not in response.headers
        page = response.text
        assert message in page
        assert f'name="max_items" value="{typed}" aria-invalid="true" aria-describedby="max_items-error"' in page
        assert page.index('id="max_items"') < page.index('id="max_items-error"') < page.index("Pratinjau jumlah")
    assert manifests(app) == []


def test_building_runs_as_a_job_and_its_result_leads_to_its_manifests(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 6)
    job_id = job_id_of(staff.post("/manifest/baru", data={"max_items": "2"}))
    job = finished(staff, job_id)
    assert job["status"] == "DONE", job
    assert job["kind_label"] == "Susun manifest" and job["progress"]["counts"] == {"Manifest dibuat": 3}
    assert job["result"]["summary"] == "3 manifest dibuat (6 kartu)."
    assert sorted(job["result"]["manifest_ids"]) == [m.id for m in manifests(app)]
    (link,) = job["result"]["links"]
    assert link["url"] == f"/manifest?tugas={job_id}"
    page = staff.get(link["url"]).text
    assert "Hasil susunan manifest" in page and "Kunci semua draf (3)" in page
    assert len(set(NUMBER.findall(page))) == 3
    assert staff.get("/manifest?tugas=999999").status_code == 404


def test_without_courier_configuration_there_is_no_handover_button_but_words_a_clerk_understands(
        app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 3)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    (m,) = manifests(app)
    detail = staff.get(f"/manifest/{m.id}").text
    assert NOT_CONFIGURED in detail
    assert f'action="/manifest/{m.id}/serahkan"' not in detail and "ANTAR_COURIER_BASE_URL" not in detail
    listing = staff.get("/manifest").text
    assert NOT_CONFIGURED in listing
    assert "/manifest/serahkan-semua" not in listing and "Serahkan semua ke kurir" not in listing
    # a handover posted anyway gets the same words, and nothing changes
    tried = staff.post(f"/manifest/{m.id}/serahkan", follow_redirects=True)
    assert NOT_CONFIGURED in tried.text and "ANTAR_COURIER" not in tried.text
    tried_all = staff.post("/manifest/serahkan-semua", follow_redirects=True)
    assert NOT_CONFIGURED in tried_all.text
    assert manifests(app)[0].status is ManifestStatus.FINALIZED


def test_statuses_history_and_the_couriers_answer_are_in_words(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 3)
    assert cli(runner, "manifests", "build").exit_code == 0
    (m,) = manifests(app)
    assert staff.post(f"/manifest/{m.id}/kunci").status_code == 302
    with CourierSimulator(api_token="tok") as sim:
        app.config.update(ANTAR_COURIER_BASE_URL=sim.url, ANTAR_COURIER_API_TOKEN="tok")
        handed = staff.post(f"/manifest/{m.id}/serahkan", follow_redirects=True).text
    assert "Jawaban kurir: diterima kurir." in handed
    detail = staff.get(f"/manifest/{m.id}").text
    for raw in ("DRAFT", "FINALIZED", "HANDED_OVER", "-&gt;", "[HTTP", "HTTP 201"):
        assert raw not in detail, raw
    assert "Draf → Final (terkunci, bernomor resi)" in detail
    assert "Final (terkunci, bernomor resi) → Diserahkan ke kurir" in detail
    assert "Penyerahan ke kurir: diterima kurir" in detail
    shown = re.sub(r'datetime="[^"]*"', "", detail)  # <time datetime="..."> is for machines, not shown
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", shown)  # no ISO timestamps, also not the pickup time
    assert re.search(r"\d{2} (Januari|Februari|Maret|April|Mei|Juni|Juli|Agustus|September|Oktober|November|"
                     r"Desember) \d{4} \d{2}\.\d{2} WIB", detail)
    listing = staff.get("/manifest").text
    assert "Diserahkan ke kurir" in listing and "HANDED_OVER" not in listing.replace('value="HANDED_OVER"', "")


def test_a_failed_handover_reads_as_words_with_the_couriers_reasons(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 3)
    assert cli(runner, "manifests", "build", "--finalize").exit_code == 0
    (m,) = manifests(app)
    with CourierSimulator(api_token="tok") as sim:
        app.config.update(ANTAR_COURIER_BASE_URL=sim.url, ANTAR_COURIER_API_TOKEN="tok", ANTAR_COURIER_RETRIES=1,
                          ANTAR_COURIER_BACKOFF=0.01, ANTAR_COURIER_BACKOFF_MAX=0.05)
        sim.fail_next("503", 2)
        failed = staff.post(f"/manifest/{m.id}/serahkan", follow_redirects=True).text
    assert "Penyerahan gagal" in failed and "tidak dapat dihubungi setelah 2 percobaan" in failed
    assert "[HTTP" not in failed and "Penyerahan gagal (dapat dicoba lagi)" in staff.get("/manifest").text
