"""The citizens' lookup limit under `antar serve` with several workers: counted once for all of them in Redis, and
a warning when it would be counted per worker (memory://). Before, 74 of 150 rapid lookups passed a limit of 10
with 8 workers, each worker counting on its own.

Real processes on loopback. Each test sends from a loopback address of its own (127.x.y.z: the limit's key is the
client address), so counters left in Redis by other runs cannot mix in.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from pathlib import Path

import pytest
from serving import antar, base_env, free_port, process

REDIS_URL = "redis://127.0.0.1:6379/11"
API = "/api/v1/public/status"
APART = "dihitung terpisah oleh tiap pekerja"  # the warning of `antar serve`
LOOKUP = {"nik": "3216060512900001", "no_kk": "3216060101080001"}


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.ConnectionError:
        pytest.skip("Redis not reachable at 127.0.0.1:6379")


def own_address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def lookup_from(source: str, port: int) -> int:
    """One lookup on a connection of its own from `source`: the HTTP status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        conn.request("POST", API, body=json.dumps(LOOKUP), headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def rapid_lookups(source: str, port: int, n: int) -> list[int]:
    """`n` lookups sent at the same moment, so that they spread over the workers."""
    statuses: list[int] = []
    start = threading.Barrier(n)

    def one() -> None:
        start.wait()
        statuses.append(lookup_from(source, port))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return statuses


def served_by(log: Path, source: str) -> dict[str, list[int]]:
    """The access log's lookups from `source`: statuses by worker pid."""
    workers: dict[str, list[int]] = {}
    for line in log.read_text().splitlines():
        if line.startswith("{") and f'"ip": "{source}"' in line:
            entry = json.loads(line)
            if entry["path"] == API:
                workers.setdefault(entry["pid"], []).append(entry["status"])
    return workers


def logged_lookups(log: Path, source: str, expected: int, timeout: float = 10) -> dict[str, list[int]]:
    """`served_by` once the access log holds `expected` lookups from `source`, or at `timeout`: a gunicorn worker
    writes a request's log line after the response has gone out, so a loaded machine can show the client its answer
    before the line is in the log."""
    deadline = time.monotonic() + timeout
    while True:
        workers = served_by(log, source)
        if sum(len(s) for s in workers.values()) >= expected or time.monotonic() > deadline:
            return workers
        time.sleep(0.1)


def test_the_lookup_limit_holds_across_workers(tmp_path: Path):
    redis_or_skip()
    env = base_env(tmp_path / "instance", ANTAR_REDIS_URL=REDIS_URL, ANTAR_PUBLIC_RATE_LIMIT="5 per minute")
    antar(env, "db", "upgrade")
    port = free_port()
    log = tmp_path / "serve.log"
    # One thread per worker: a worker busy with one lookup cannot take the next, so they spread over all four.
    with process(env, "serve", "--port", str(port), "--workers", "4", "--threads", "1", log=log,
                 ready_url=f"http://127.0.0.1:{port}/readyz"):
        source = own_address()
        statuses = rapid_lookups(source, port, 20)
        assert sorted(statuses) == [200] * 5 + [429] * 15, statuses
        assert lookup_from(own_address(), port) == 200  # another client has its own count
        workers = logged_lookups(log, source, 20)
        # On a fast machine one worker can answer a whole burst before another wakes: more bursts from the same
        # client, until a second worker has answered it too. Every one of them is refused, whichever worker it
        # reaches (a worker counting on its own would let its first five through).
        sent = 20
        while len(workers) < 2 and sent < 200:
            assert rapid_lookups(source, port, 20) == [429] * 20
            sent += 20
            workers = logged_lookups(log, source, sent)
    assert sum(len(s) for s in workers.values()) == sent, workers
    assert len(workers) >= 2, f"all lookups went to one worker: {workers}"
    assert APART not in " ".join(log.read_text().split())


def started_with(tmp_path: Path, name: str, workers: int, **extra: str) -> str:
    """What `antar serve` says when it starts (whitespace joined: the console wraps long lines)."""
    env = base_env(tmp_path / name, **extra)
    antar(env, "db", "upgrade")
    port = free_port()
    log = tmp_path / f"{name}.log"
    with process(env, "serve", "--port", str(port), "--workers", str(workers), log=log,
                 ready_url=f"http://127.0.0.1:{port}/healthz"):
        pass
    return " ".join(log.read_text().split())


def test_serve_warns_when_each_worker_would_count_on_its_own(tmp_path: Path):
    warned = started_with(tmp_path, "memory", 2)
    assert ("Perhatian: batas permintaan (halaman cek status warga, login) disimpan di memori tiap proses "
            "(memory://), jadi dihitung terpisah oleh tiap pekerja: dengan 2 pekerja satu klien mendapat batasnya "
            "hingga 2 kali. Atur ANTAR_REDIS_URL") in warned, warned
    assert APART not in started_with(tmp_path, "one", 1)  # one worker counts for all
    redis_or_skip()
    assert APART not in started_with(tmp_path, "redis", 2, ANTAR_REDIS_URL=REDIS_URL)
