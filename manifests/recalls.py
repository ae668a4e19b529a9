"""Recalls as a background job, asked again on a schedule until the courier has answered every item.

Withdrawing an area recalls at once the items of it the courier already has (manifests.sorting); an item the
courier did not answer (timeouts, 5xx after the client's retries) stays un-recalled. This job asks for all of them
and, while any is left, schedules itself again (`ANTAR_RECALL_RETRY_MINUTES`), so nobody has to remember to.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from app import jobs
from app.courier.client import CourierClient, Outcome
from app.db import unit_of_work
from app.jobs import JobContext, JobError
from app.models import Office
from manifests.handover import items_to_recall, recall_withdrawn

KIND = "manifests.recall"


def recall_job(ctx: JobContext) -> dict[str, Any]:
    client = CourierClient.configured(current_app.config)
    if client is None:
        raise JobError("Penarikan ke kurir belum dapat dilakukan: alamat API PT Pos belum diatur oleh administrator.")
    with unit_of_work() as session:
        office = session.get(Office, ctx.office_id)
        code = office.code
    results = recall_withdrawn(code, ctx.actor, client)
    answered = sum(1 for r in results if r.answer.outcome in (Outcome.ACCEPTED, Outcome.CONFLICT))
    with unit_of_work() as session:
        left = len(items_to_recall(session, session.get(Office, ctx.office_id)))
    if left:
        schedule_recall(ctx.office_id, ctx.actor)
    return {"summary": f"{len(results)} kartu diminta ditarik kembali; {answered} dijawab kurir; {left} ditanyakan "
                       "lagi nanti." if results else "Tidak ada kartu yang perlu ditarik dari kurir.",
            "counts": {"Diminta": len(results), "Dijawab kurir": answered, "Belum dijawab": left}}


def schedule_recall(office_id: int | None, actor: Any) -> None:
    minutes = float(current_app.config.get("ANTAR_RECALL_RETRY_MINUTES", 30))
    jobs.schedule(KIND, {}, actor, office_id=office_id, title="Tarik kembali kartu wilayah yang ditarik (ulang)",
                  delay_seconds=minutes * 60, dedupe_key=f"recall:{office_id}")


def start_recall(office_id: int, actor: Any) -> int:
    return jobs.submit(KIND, {}, actor, office_id=office_id, title="Tarik kembali kartu wilayah yang ditarik",
                       dedupe_key=f"recall:{office_id}").job_id
