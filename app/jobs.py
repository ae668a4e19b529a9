"""Background jobs: long work started from a page or the API, run elsewhere, watched on its own page.

A job is a row (`app.models.Job`) plus a function a domain registered under a kind (`register("import", fn)`), so
the kernel runs work without naming any domain. Where it runs:

- with `ANTAR_REDIS_URL`: on an RQ queue, executed by `antar worker` processes (any number, on any machine that
  shares the database); RQ's job id is ours, so a job is enqueued once, and the row is claimed with a conditional
  UPDATE before it runs, so it runs exactly once even if it were delivered twice;
- without Redis (the zero set-up SQLite default): in a thread of the process that started it.

Progress (rows read, cards made, manifests built...) goes to Redis when configured, else to a small JSON file in the
instance folder, never to the database: on SQLite an import holds the write lock for its whole transaction, and a
progress write would wait for it. The final state (done with its result, or failed with its message) goes to the
database once the work has committed. Job functions take a `JobContext` and return a JSON-able result.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import tempfile
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.cards import Actor
from app.db import unit_of_work, utcnow
from app.models import Job, JobStatus

log = logging.getLogger("antar.jobs")
QUEUE = "antar"


class JobError(Exception):
    """A job that cannot do its work; the message is for staff (Bahasa Indonesia) and shown on the job page."""


@dataclass
class JobContext:
    job_id: int
    params: dict[str, Any]
    actor: Actor
    office_id: int | None

    def progress(self, **counts: Any) -> None:
        """Report how far the job is (shown live on its page): e.g. progress(rows_read=5000, total=100000)."""
        write_progress(self.job_id, counts)


JobFunction = Callable[[JobContext], Mapping[str, Any] | None]
_KINDS: dict[str, tuple[JobFunction, str]] = {}


def register(kind: str, fn: JobFunction, label: str) -> None:
    """A domain offers a kind of job (in its init_app)."""
    _KINDS[kind] = (fn, label)


def kind_label(kind: str) -> str:
    return _KINDS[kind][1] if kind in _KINDS else kind


# --- submitting -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    job_id: int
    existing: bool  # the same work was already queued or running: this is that job


def submit(kind: str, params: Mapping[str, Any], actor: Actor, *, office_id: int | None, title: str,
           dedupe_key: str | None = None) -> Submitted:
    """Record a job and hand it to the queue (or a thread). The same `dedupe_key` while a job with it is queued or
    running gives that job back instead of a second one (a database rule, also for two requests at once)."""
    if kind not in _KINDS:
        raise JobError(f"Jenis tugas tidak dikenal: {kind}")
    try:
        with unit_of_work() as session:
            job = Job(kind=kind, title=title[:200], status=JobStatus.QUEUED, dedupe_key=dedupe_key,
                      params=json.dumps(dict(params), ensure_ascii=False), office_id=office_id,
                      created_at=utcnow(), created_by=actor.label, user_id=actor.user_id, attempts=0)
            session.add(job)
            session.flush()
            job_id = job.id
    except IntegrityError:
        with unit_of_work() as session:
            existing = session.scalar(select(Job.id).where(
                Job.dedupe_key == dedupe_key, Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING])))
        if existing is None:  # it finished between our insert and this look-up: ask again
            return submit(kind, params, actor, office_id=office_id, title=title, dedupe_key=dedupe_key)
        return Submitted(existing, True)
    dispatch(job_id)
    return Submitted(job_id, False)


def dispatch(job_id: int) -> None:
    url = current_app.config.get("ANTAR_REDIS_URL")
    if url:
        from rq import Queue

        Queue(QUEUE, connection=redis_connection(url)).enqueue(
            "app.jobs.run_in_worker", job_id, job_id=f"antar-job-{job_id}", job_timeout=6 * 3600,
            result_ttl=24 * 3600, failure_ttl=7 * 24 * 3600)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    threading.Thread(target=_run_in_thread, args=(app, job_id), name=f"antar-job-{job_id}", daemon=True).start()


def schedule(kind: str, params: Mapping[str, Any], actor: Actor, *, office_id: int | None, title: str,
             delay_seconds: float, dedupe_key: str | None = None) -> None:
    """Submit a job later (a recall the courier did not answer is asked again): RQ's scheduler in `antar worker`
    with Redis, a timer in this process without it."""
    args = (kind, dict(params), actor.label, actor.user_id, office_id, title, dedupe_key)
    url = current_app.config.get("ANTAR_REDIS_URL")
    if url:
        import datetime as dt

        from rq import Queue

        Queue(QUEUE, connection=redis_connection(url)).enqueue_in(
            dt.timedelta(seconds=delay_seconds), "app.jobs.submit_scheduled", *args)
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def later() -> None:
        with app.app_context():
            submit_scheduled(*args)

    timer = threading.Timer(delay_seconds, later)
    timer.daemon = True
    timer.start()


def submit_scheduled(kind: str, params: dict[str, Any], actor_label: str, user_id: int | None, office_id: int | None,
                     title: str, dedupe_key: str | None) -> int:
    return submit(kind, params, Actor(actor_label, user_id), office_id=office_id, title=title,
                  dedupe_key=dedupe_key).job_id


def retry(job_id: int, actor: Actor) -> int:
    """Start a failed job again, as a new job with the same parameters; returns the new job's id."""
    with unit_of_work() as session:
        job = session.get(Job, job_id)
        if job is None or job.status is not JobStatus.FAILED:
            raise JobError("Hanya tugas yang gagal yang dapat diulang.")
        kind, params, office_id, title, key = job.kind, json.loads(job.params), job.office_id, job.title, job.dedupe_key
    return submit(kind, params, actor, office_id=office_id, title=title, dedupe_key=key).job_id


# --- running --------------------------------------------------------------------------------------------------


def _run_in_thread(app: Flask, job_id: int) -> None:
    with app.app_context():
        run(job_id)


def run_in_worker(job_id: int) -> None:
    """Entry point on an RQ worker (`antar worker` sets up the application context)."""
    run(job_id)


def run(job_id: int) -> str:
    """Claim the job (only a QUEUED job can be claimed, once) and run it; returns its final status.

    On SQLite jobs run one at a time per database (a file lock beside it): a writer holds the whole database, and
    a second import would only wait for the first and time out."""
    from app import db

    if db.engine().dialect.name != "sqlite":
        return _run(job_id)
    import fcntl

    lock_path = Path(current_app.instance_path) / "jobs" / ".sqlite-writer.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run(job_id)


def _run(job_id: int) -> str:
    runner = f"{socket.gethostname()}:{os.getpid()}"
    with unit_of_work() as session:
        claimed = session.execute(update(Job).where(Job.id == job_id, Job.status == JobStatus.QUEUED)
                                  .values(status=JobStatus.RUNNING, started_at=utcnow(), runner=runner,
                                          attempts=Job.attempts + 1)).rowcount
        job = session.get(Job, job_id)
        if not claimed or job is None:
            log.info("job %s not claimed (already taken or gone)", job_id)
            return job.status.value if job else "missing"
        ctx = JobContext(job_id, json.loads(job.params), Actor(job.created_by, job.user_id), job.office_id)
        kind = job.kind
    write_progress(job_id, {})
    try:
        fn = _KINDS[kind][0]
        result = fn(ctx) or {}
    except Exception as exc:  # noqa: BLE001 - every failure is recorded for staff, the traceback for the log
        message = str(exc) if isinstance(exc, JobError | ValueError) else f"Kesalahan tak terduga: {type(exc).__name__}"
        log.error("job %s (%s) failed: %s", job_id, kind, traceback.format_exc())
        _finish(job_id, JobStatus.FAILED, error=message[:2000])
        return JobStatus.FAILED.value
    _finish(job_id, JobStatus.DONE, result=json.dumps(result, ensure_ascii=False, default=str))
    return JobStatus.DONE.value


def _finish(job_id: int, status: JobStatus, *, result: str | None = None, error: str | None = None) -> None:
    with unit_of_work() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status=status, result=result, error=error,
                                                                   finished_at=utcnow()))


# --- progress -------------------------------------------------------------------------------------------------


def redis_connection(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url)


def _progress_file(job_id: int) -> Path:
    folder = Path(current_app.instance_path) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{job_id}.json"


def write_progress(job_id: int, counts: Mapping[str, Any]) -> None:
    payload = json.dumps({**counts, "updated_at": utcnow().isoformat()}, default=str)
    url = current_app.config.get("ANTAR_REDIS_URL")
    if url:
        redis_connection(url).set(f"antar:job:{job_id}:progress", payload, ex=7 * 24 * 3600)
        return
    path = _progress_file(job_id)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".progress-")
    with os.fdopen(fd, "w") as f:
        f.write(payload)
    os.replace(tmp, path)  # atomic: a reader sees the old or the new progress, never half of it


def read_progress(job_id: int) -> dict[str, Any]:
    url = current_app.config.get("ANTAR_REDIS_URL")
    try:
        if url:
            raw = redis_connection(url).get(f"antar:job:{job_id}:progress")
        else:
            path = _progress_file(job_id)
            raw = path.read_text() if path.exists() else None
        return json.loads(raw) if raw else {}
    except (OSError, ValueError):
        return {}


STALE_AFTER = dt.timedelta(minutes=15)


def _mark_if_stale(session: Any, job: Job) -> None:
    """A RUNNING job whose process died (a restart, a killed worker) would say "running" forever: after STALE_AFTER
    without a sign of life (progress or start) it is marked failed, so that staff see it and can run it again."""
    if job.status is not JobStatus.RUNNING:
        return
    progress = read_progress(job.id)
    last = dt.datetime.fromisoformat(progress["updated_at"]) if progress.get("updated_at") else job.started_at
    if last is not None and utcnow() - last > STALE_AFTER:
        session.execute(update(Job).where(Job.id == job.id, Job.status == JobStatus.RUNNING).values(
            status=JobStatus.FAILED, finished_at=utcnow(),
            error=f"Tugas terhenti: tidak ada kemajuan sejak {int(STALE_AFTER.total_seconds() // 60)} menit "
                  "(proses pekerja berhenti). Jalankan lagi."))
        session.refresh(job)


def job_view(job_id: int, office_id: int | None) -> dict[str, Any] | None:
    """The job as its page and the JSON API show it (None when it is not this office's)."""
    with unit_of_work() as session:
        job = session.get(Job, job_id)
        if job is None or (office_id is not None and job.office_id not in (None, office_id)):
            return None
        _mark_if_stale(session, job)
        return {
            "id": job.id, "kind": job.kind, "kind_label": kind_label(job.kind), "title": job.title,
            "status": job.status.value, "status_label": job.status_label, "created_at": job.created_at,
            "created_by": job.created_by, "started_at": job.started_at, "finished_at": job.finished_at,
            "attempts": job.attempts, "progress": read_progress(job.id),
            "result": json.loads(job.result) if job.result else None, "error": job.error,
            "finished": job.status in (JobStatus.DONE, JobStatus.FAILED),
        }


def is_done(session: Any, job_id: int, office_id: int, kind: str) -> bool:
    """Whether this job is a finished job of this kind for this office: what a download of its output checks."""
    job = session.get(Job, job_id)
    return job is not None and job.office_id == office_id and job.kind == kind and job.status is JobStatus.DONE


def recent_jobs(office_id: int | None, limit: int = 20) -> list[dict[str, Any]]:
    with unit_of_work() as session:
        rows = session.scalars(select(Job).where(Job.office_id == office_id).order_by(Job.id.desc()).limit(limit))
        return [{"id": j.id, "title": j.title, "status": j.status.value, "status_label": j.status_label,
                 "created_at": j.created_at, "created_by": j.created_by} for j in rows]
