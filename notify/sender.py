"""The sender as a background job (app/jobs.py): one pass (scan, then send what is due), and while messages wait
(a retry later, the end of quiet hours) the job schedules itself again for the earliest of them.

What starts passes: `antar notify run` (a loop, or `--once` from cron) on the office's server, and the button on
/pesan, which starts this job; the job then keeps itself going while anything waits. Only one chain of scheduled
jobs is kept (notify.service.claim_schedule), however often the button is pressed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from app import jobs
from app.cards import Actor
from app.db import unit_of_work, utcnow
from app.jobs import JobContext, JobError
from notify.service import Settings, blocked_since, claim_schedule, run_pass, summary
from notify.texts import STATUS_LABELS, MessageStatus

KIND = "notify.send"
TITLE = "Kirim pesan ke warga"
MIN_DELAY = 15.0  # seconds: a retry due "now" is not worth a job of its own sooner than this


def send_job(ctx: JobContext) -> dict[str, Any]:
    settings = Settings.from_config(current_app.config)
    if not settings.configured:
        raise JobError("Gateway pesan belum diatur (ANTAR_NOTIFY_BASE_URL): pesan disiapkan tetapi tidak dikirim.")

    def progress(counts: Any) -> None:
        ctx.progress(counts={_label(k): v for k, v in counts.items()})

    result = run_pass(settings, progress=progress)
    schedule_next(settings, result["next_at"], ctx.actor, ctx.office_id)
    counts = {f"Pesan baru: {_label(k)}": v for k, v in result["made"].items()}
    counts.update({f"Pengiriman: {_label(k)}": v for k, v in result["sent"].items()})
    return {"summary": summary(result), "counts": counts}


def _label(key: str) -> str:
    try:
        return STATUS_LABELS[MessageStatus(key)]
    except ValueError:
        return {"deferred": "menunggu akhir jam tenang", "sms_fallback": "dikirim ulang sebagai SMS",
                "blocked": "berhenti (kredensial ditolak)", "skipped": "tidak dikirim",
                "not_configured": "gateway belum diatur"}.get(key, key)


def schedule_next(settings: Settings, next_at: dt.datetime | None, actor: Actor, office_id: int | None) -> bool:
    """Run the job again when the earliest waiting message is due; False when nothing waits or it is scheduled."""
    if next_at is None or not settings.configured:
        return False
    now = utcnow()
    with unit_of_work() as session:
        if blocked_since(session, settings):
            return False
        delay = max(MIN_DELAY, (next_at - now).total_seconds())
        if not claim_schedule(session, now + dt.timedelta(seconds=delay), now):
            return False
    jobs.schedule(KIND, {}, actor, office_id=office_id, title=TITLE, delay_seconds=delay, dedupe_key=KIND)
    return True


def start(actor: Actor, office_id: int | None) -> jobs.Submitted:
    return jobs.submit(KIND, {}, actor, office_id=office_id, title=TITLE, dedupe_key=KIND)
