"""Actions on many manifests at once, through HTTP, each a background job watched on its page: lock every draft of a
build, hand every waiting manifest to the courier (the simulator on loopback), every Berita Acara in one ZIP."""

from __future__ import annotations

import fcntl
import io
import zipfile
from pathlib import Path

import pytest
from helpers import card_row, cli, login, make_user, write_csv
from job_helpers import finished, import_cards, job_id_of
from pypdf import PdfReader
from sqlalchemy import select

from app.courier import s10
from app.db import unit_of_work
from app.models import Job, Role
from courier_sim.server import CourierSimulator
from manifests.models import Manifest, ManifestItem, ManifestStatus

TOKEN = "tok"


def manifests(app) -> list[Manifest]:
    with app.app_context(), unit_of_work() as s:
        return list(s.scalars(select(Manifest).order_by(Manifest.id)))


def built(staff, **form: str) -> int:
    """Build through the page (a job); the build job's id."""
    job_id = job_id_of(staff.post("/manifest/baru", data=form))
    assert finished(staff, job_id)["status"] == "DONE"
    return job_id


def test_locking_every_draft_of_a_build(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 3)
    assert cli(runner, "manifests", "build").exit_code == 0  # an earlier draft, not of this build
    rows = [card_row(i) for i in range(10, 18)]
    assert cli(runner, "import", str(write_csv(tmp_path / "more.csv", rows))).exit_code == 0
    build = built(staff, max_items="2")
    ours = [m.id for m in manifests(app)][1:]
    assert len(ours) == 4
    assert "Kunci semua draf (4)" in staff.get(f"/manifest?tugas={build}").text
    assert "Kunci semua draf (5)" in staff.get("/manifest").text
    job_id = job_id_of(staff.post("/manifest/kunci-semua", data={"tugas": str(build)}))
    job = finished(staff, job_id)
    assert job["status"] == "DONE", job
    assert job["result"]["finalized"] == 4 and job["result"]["counts"]["Nomor resi diberikan"] == 8
    assert job["progress"]["done"] == job["progress"]["total"] == 4
    by_id = {m.id: m for m in manifests(app)}
    assert all(by_id[i].status is ManifestStatus.FINALIZED for i in ours)
    assert by_id[min(by_id)].status is ManifestStatus.DRAFT  # the other build's draft is untouched
    with app.app_context(), unit_of_work() as s:
        numbers = list(s.scalars(select(ManifestItem.tracking_number).where(ManifestItem.manifest_id.in_(ours))))
    assert len(numbers) == 8 and all(s10.is_valid(n) for n in numbers)
    # nothing left to lock in this build: said so, no job
    again = staff.post("/manifest/kunci-semua", data={"tugas": str(build)}, follow_redirects=True)
    assert "Tidak ada draf untuk dikunci" in again.text


def test_a_double_click_starts_one_job(app, staff, runner, tmp_path, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("holds the SQLite job lock to keep the first job waiting")
    import_cards(runner, tmp_path, 4)
    assert cli(runner, "manifests", "build", "--max-items", "2").exit_code == 0
    lock_path = Path(app.instance_path) / "jobs" / ".sqlite-writer.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the job waits for this: it stays queued while we click again
        first = job_id_of(staff.post("/manifest/kunci-semua", data={}))
        second = staff.post("/manifest/kunci-semua", data={}, follow_redirects=True)
        assert "Tugas yang sama sedang berjalan" in second.text
        assert second.request.path == f"/tugas/{first}"
    assert finished(staff, first)["result"]["finalized"] == 2
    with app.app_context(), unit_of_work() as s:
        assert len(list(s.scalars(select(Job.id).where(Job.kind == "manifests.finalize")))) == 1


@pytest.fixture
def sim(app):
    with CourierSimulator(api_token=TOKEN) as s:
        app.config.update(ANTAR_COURIER_BASE_URL=s.url, ANTAR_COURIER_API_TOKEN=TOKEN, ANTAR_COURIER_RETRIES=1,
                          ANTAR_COURIER_BACKOFF=0.01, ANTAR_COURIER_BACKOFF_MAX=0.05, ANTAR_COURIER_READ_TIMEOUT=2)
        yield s


def test_handing_every_waiting_manifest_to_the_courier(app, staff, runner, tmp_path, sim):
    import_cards(runner, tmp_path, 6)
    assert cli(runner, "manifests", "build", "--finalize", "--max-items", "2").exit_code == 0
    first = manifests(app)[0]
    sim.fail_next("503", 2)  # the first manifest's try and its one retry: it fails, the others go through
    listing = staff.get("/manifest").text
    assert "Serahkan semua ke kurir (3 final atau gagal diserahkan)" in listing
    job_id = job_id_of(staff.post("/manifest/serahkan-semua", data={}))
    job = finished(staff, job_id)
    assert job["status"] == "DONE", job
    result = job["result"]
    assert (result["accepted"], result["failed"]) == (2, 1)
    assert result["counts"] == {"Diterima kurir": 2, "Gagal": 1}
    assert job["progress"]["done"] == job["progress"]["total"] == 3
    assert result["failures"][0]["number"] == first.number
    assert "tidak dapat dihubungi" in result["failures"][0]["message"] and "HTTP" not in result["summary"]
    statuses = [m.status for m in manifests(app)]
    assert statuses == [ManifestStatus.HANDOVER_FAILED, ManifestStatus.HANDED_OVER, ManifestStatus.HANDED_OVER]
    assert set(sim.manifests) == {m.number for m in manifests(app)[1:]}
    # the failed one can be handed over again, from the same button
    retry = finished(staff, job_id_of(staff.post("/manifest/serahkan-semua", data={})))
    assert (retry["result"]["accepted"], retry["result"]["failed"]) == (1, 0)
    assert {m.status for m in manifests(app)} == {ManifestStatus.HANDED_OVER}
    assert len(sim.manifests) == 3


def test_every_berita_acara_of_a_build_in_one_zip_for_the_office_only(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 6)
    build = built(staff, max_items="2", finalize="1")
    ms = manifests(app)
    assert len(ms) == 3
    page = staff.get(f"/manifest?tugas={build}").text
    assert "Unduh semua Berita Acara dalam satu ZIP (3)" in page
    job_id = job_id_of(staff.post("/manifest/berita-acara-semua", data={"tugas": str(build)}))
    job = finished(staff, job_id)
    assert job["status"] == "DONE", job
    (link,) = job["result"]["links"]
    assert link["url"] == f"/manifest/unduhan/{job_id}"
    download = staff.get(link["url"])
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert "attachment" in download.headers["Content-Disposition"]
    bundle = zipfile.ZipFile(io.BytesIO(download.data))
    assert sorted(bundle.namelist()) == sorted(f"{m.number}-berita-acara.pdf" for m in ms)
    for m in ms:
        pdf = PdfReader(io.BytesIO(bundle.read(f"{m.number}-berita-acara.pdf")))
        assert m.number in "".join(p.extract_text() for p in pdf.pages)
    # staff of another office, and nobody logged in, do not get it
    make_user(app, "lain", Role.STAFF, office="32.75")
    other = app.test_client()
    login(other, "lain")
    assert other.get(link["url"]).status_code == 404
    assert other.get(f"/api/v1/jobs/{job_id}").status_code == 404
    assert app.test_client().get(link["url"]).status_code in (302, 401)
    assert staff.get("/manifest/unduhan/999999").status_code == 404


def test_only_the_ticked_manifests_go_in_the_zip_and_drafts_are_left_out(app, staff, runner, tmp_path):
    import_cards(runner, tmp_path, 6)
    assert cli(runner, "manifests", "build", "--finalize", "--max-items", "2").exit_code == 0
    a, b, c = manifests(app)
    job = finished(staff, job_id_of(staff.post("/manifest/berita-acara-semua", data={"ids": [str(a.id), str(c.id)]})))
    bundle = zipfile.ZipFile(io.BytesIO(staff.get(job["result"]["links"][0]["url"]).data))
    assert sorted(bundle.namelist()) == sorted([f"{a.number}-berita-acara.pdf", f"{c.number}-berita-acara.pdf"])
    rows = [card_row(i) for i in range(20, 22)]
    assert cli(runner, "import", str(write_csv(tmp_path / "more.csv", rows))).exit_code == 0
    assert cli(runner, "manifests", "build").exit_code == 0
    draft = manifests(app)[-1]
    refused = staff.post("/manifest/berita-acara-semua", data={"ids": [str(draft.id)]}, follow_redirects=True)
    assert "draf belum punya Berita Acara" in refused.text
