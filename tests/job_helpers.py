"""Helpers for tests of pages that start background jobs (without Redis a job runs in a thread of the app)."""

from __future__ import annotations

import re
import time

from helpers import card_row, cli, write_csv


def import_cards(runner, tmp_path, count: int) -> None:
    rows = [card_row(i) for i in range(1, count + 1)]
    assert cli(runner, "import", str(write_csv(tmp_path / "run.csv", rows))).exit_code == 0


def job_id_of(response) -> int:
    """The job a page answered with (a redirect to its page)."""
    assert response.status_code == 302, response.text
    match = re.search(r"/tugas/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def finished(client, job_id: int, timeout: float = 30) -> dict:
    """Poll the job's JSON until it is finished; its last view."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/v1/jobs/{job_id}").json
        if body["finished"]:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
