"""Background jobs seen from the job page: a job whose process died is not "running" forever."""

from __future__ import annotations

import datetime as dt

from app.cards import Actor
from app.db import unit_of_work
from app.models import Job, JobStatus, Office
from app.offices import ensure_office


def test_a_job_whose_process_died_is_shown_failed_and_can_run_again(app, staff):
    with app.app_context(), unit_of_work() as s:
        office: Office = ensure_office(s, app.config["ANTAR_OFFICE"])
        job = Job(kind="report.xlsx", title="Laporan rekonsiliasi (XLSX)", status=JobStatus.RUNNING, params="{}",
                  created_by=Actor("staf").label, attempts=1, office_id=office.id,
                  started_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        s.add(job)
        s.flush()
        job_id = job.id
    view = staff.get(f"/api/v1/jobs/{job_id}").json
    assert view["status"] == "FAILED" and "terhenti" in view["error"]
    again = staff.post(f"/tugas/{job_id}/ulang")
    assert again.status_code == 302 and f"/tugas/{job_id}" not in again.headers["Location"]


def test_a_running_job_with_recent_progress_stays_running(app, staff):
    with app.app_context(), unit_of_work() as s:
        job = Job(kind="report.xlsx", title="x", status=JobStatus.RUNNING, params="{}", created_by="staf",
                  attempts=1, started_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2))
        s.add(job)
        s.flush()
        job_id = job.id
    assert staff.get(f"/api/v1/jobs/{job_id}").json["status"] == "RUNNING"
