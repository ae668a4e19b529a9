"""`antar serve` as an office runs it: several workers and no SECRET_KEY, sessions that hold, long imports as
background jobs with progress, the courier's webhooks during an import on SQLite, and one print run per file.

Everything here is a real process on loopback, driven over HTTP like a browser or the courier would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from serving import antar, base_env, csrf_token, free_port, login, process, wait_job
from tracking import SECRET, event, signed_headers

from app.demo.synthetic import generate_print_run


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A fresh SQLite office served by `antar serve` with 2 workers and no SECRET_KEY."""
    root = tmp_path_factory.mktemp("office")
    env = base_env(root / "instance", ANTAR_COURIER_WEBHOOK_SECRETS=SECRET)
    antar(env, "db", "upgrade")
    antar(env, "users", "create", "staf", "--role", "staff")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with process(env, "serve", "--port", str(port), "--workers", "2", log=root / "serve.log",
                 ready_url=f"{base}/readyz"):
        yield {"base": base, "root": root, "env": env}


def test_sessions_hold_across_workers_and_logout_ends_them_on_the_server(office):
    base = office["base"]
    s = login(base, "staf")
    # Two workers, no SECRET_KEY: both sign with the key kept in the instance folder.
    pages = [s.get(f"{base}{path}") for path in ("/impor", "/manifest", "/laporan", "/alamat") * 4]
    assert all(p.status_code == 200 and "/login" not in p.url for p in pages)
    key = Path(office["env"]["ANTAR_INSTANCE_PATH"]) / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600
    cookie = s.cookies.get("session")
    copied = requests.Session()
    copied.cookies.set("session", cookie)
    assert "/login" not in copied.get(f"{base}/impor").url
    token = csrf_token(s.get(f"{base}/impor").text)
    assert s.post(f"{base}/logout", data={"csrf_token": token}).status_code == 200
    # The cookie copied before the logout no longer opens a page: the login session ended on the server.
    assert "/login" in copied.get(f"{base}/impor").url


def test_a_second_server_on_a_port_in_use_stops_with_one_clear_line(office):
    """The workers listen with SO_REUSEPORT (connections spread between them); a second `antar serve` on the same
    port must still refuse to start, not quietly take part of the connections."""
    port = office["base"].rsplit(":", 1)[1]
    proc = antar(office["env"], "serve", "--port", port, "--workers", "2", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"Port {port} di 127.0.0.1 sudah dipakai" in proc.stderr and "--port" in proc.stderr
    assert "Antar melayani" not in proc.stdout
    assert all(requests.get(f"{office['base']}/healthz", timeout=5).status_code == 200 for _ in range(10))


def test_health_and_readiness(office):
    base = office["base"]
    assert requests.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = requests.get(f"{base}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_a_large_upload_answers_at_once_and_webhooks_during_it_get_200_or_503(office):
    base, root = office["base"], office["root"]
    # 30,000 cards: the import holds the write lock for many seconds (progress moves in chunks of 5,000), long enough
    # for the courier's posts below to land while it runs.
    path = root / "run-30k.csv"
    generate_print_run(path, cards=30_000, seed=21)
    s = login(base, "staf")
    token = csrf_token(s.get(f"{base}/impor").text)
    started = time.perf_counter()
    with open(path, "rb") as f:
        r = s.post(f"{base}/impor", data={"csrf_token": token}, files={"file": ("run-30k.csv", f, "text/csv")},
                   allow_redirects=False)
    answered = time.perf_counter() - started
    assert r.status_code == 302 and "/tugas/" in r.headers["Location"]
    assert answered < 2.0, f"the upload took {answered:.1f} s to answer"
    job_id = int(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    # Progress first, watched closely (the import of 30,000 rows takes a few seconds): it moves in chunks.
    progress_seen: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(progress_seen) < 2:
        view = s.get(f"{base}/api/v1/jobs/{job_id}").json()
        done = (view.get("progress") or {}).get("done")
        if done and (not progress_seen or progress_seen[-1] != done):
            progress_seen.append(done)
        if view.get("status") in ("DONE", "FAILED"):
            break
        time.sleep(0.05)
    page = s.get(f"{base}/tugas/{job_id}").text
    assert "Impor run-30k.csv" in page

    # The courier keeps posting while the import holds SQLite's write lock: each post is stored (200) or
    # refused with 503 and Retry-After, so that the courier retries; never a 500.
    statuses: list[tuple[int, str | None]] = []
    occurred = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    for i in range(20):
        done = (s.get(f"{base}/api/v1/jobs/{job_id}").json().get("progress") or {}).get("done")
        if done and (not progress_seen or progress_seen[-1] != done):
            progress_seen.append(done)
        body = json.dumps({"type": "tracking.events", "data": {"events": [
            event("RB100000003ID", "ACCEPTED", occurred, f"during-import-{i}")]}})
        answer = requests.post(f"{base}/api/v1/courier/events", data=body, timeout=60,
                               headers=signed_headers(body, msg_id=f"msg-during-{i}"))
        statuses.append((answer.status_code, answer.headers.get("Retry-After")))
        time.sleep(0.3)
    assert all(code in (200, 503) for code, _ in statuses), statuses
    assert all(retry for code, retry in statuses if code == 503)

    view, seen = wait_job(base, s, job_id)
    assert view["status"] == "DONE", view
    seen = sorted(set(progress_seen + seen))
    assert len(seen) >= 2 and seen[0] < 30_000, f"progress did not move: {progress_seen} then {seen}"
    data_rows = sum(1 for _ in open(path, encoding="utf-8")) - 1  # the header; bad rows come on top of the cards
    assert view["result"]["counts"]["Baris dibaca"] == data_rows >= 30_000
    report = s.get(f"{base}/api/v1/report").json()
    assert report["printed"] == view["result"]["counts"]["Kartu diimpor"] and report["balanced"]


def test_the_same_file_uploaded_twice_at_once_makes_one_print_run(office):
    base, root = office["base"], office["root"]
    path = root / "run-twice.csv"
    generate_print_run(path, cards=1500, seed=22, start_blanko=900_000)
    sessions = [login(base, "staf"), login(base, "staf")]
    tokens = [csrf_token(s.get(f"{base}/impor").text) for s in sessions]
    before = sessions[0].get(f"{base}/api/v1/report").json()
    answers: list[requests.Response] = []
    barrier = threading.Barrier(2)

    def upload(i: int) -> None:
        barrier.wait()
        with open(path, "rb") as f:
            answers.append(sessions[i].post(f"{base}/impor", data={"csrf_token": tokens[i]},
                                            files={"file": ("run-twice.csv", f, "text/csv")}, allow_redirects=False))

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code == 302 for a in answers)
    for a in answers:
        if "/tugas/" in a.headers["Location"]:
            wait_job(base, sessions[0], int(a.headers["Location"].rsplit("/", 1)[1]))
    after = sessions[0].get(f"{base}/api/v1/report").json()
    assert after["print_runs"] == before["print_runs"] + 1
    rejected_in_file = after["rejected_rows"] - before["rejected_rows"]
    assert rejected_in_file > 0  # the synthetic file has bad rows: counted once, not twice
    run = sessions[0].get(f"{base}/api/v1/report").json()
    assert run["balanced"]


def test_an_unmigrated_database_says_what_to_run_in_one_line(tmp_path: Path):
    env = base_env(tmp_path / "instance")
    for args in (["report"], ["import", __file__], ["serve", "--port", str(free_port())],
                 ["report", "--xlsx", str(tmp_path / "out.xlsx")]):
        proc = antar(env, *args, check=False)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        assert len(lines) == 1 and "antar db upgrade" in lines[0] and "Traceback" not in proc.stderr, lines
    assert not (tmp_path / "out.xlsx").exists()


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    pg_url = os.environ.get("ANTAR_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    try:
        sa.create_engine(pg_url, connect_args={"connect_timeout": 3}).connect().close()
    except sa.exc.OperationalError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL not reachable")
    schema = f"antar_serve_{int(time.time() * 1000) % 10**9}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    # The form offices write: postgresql://, which SQLAlchemy 2.1 reads as psycopg 3.
    yield f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    admin.dispose()


def test_a_postgresql_url_works_and_an_empty_database_says_so(tmp_path: Path, pg_schema_url: str):
    env = base_env(tmp_path / "instance", DATABASE_URL=pg_schema_url)
    proc = antar(env, "report", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "antar db upgrade" in proc.stderr
    antar(env, "db", "upgrade")
    assert antar(env, "report", "--json").returncode == 0


def test_gevent_workers_are_refused_without_postgresql_and_redis(tmp_path: Path):
    """`antar serve --worker-class gevent` serves an office on PostgreSQL whose background jobs go to `antar worker`
    (Redis): on SQLite, or without Redis, it stops at once with one line saying what it needs."""
    env = base_env(tmp_path / "instance")
    antar(env, "db", "upgrade")
    proc = antar(env, "serve", "--port", str(free_port()), "--worker-class", "gevent", check=False)
    lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, (proc.stdout, proc.stderr)
    assert len(lines) == 1 and "PostgreSQL" in lines[0] and "ANTAR_REDIS_URL" in lines[0], lines


def test_gevent_serve_checks_its_settings_without_building_the_application(tmp_path: Path, monkeypatch):
    """The process that checks `--worker-class gevent`'s settings, and would start again patched for gevent, builds
    no application (no modules of every domain, no engine): that is done once, where it serves."""
    from click.testing import CliRunner

    import app.db
    from app.cli import main

    built: list = []
    original = app.db.init_app
    monkeypatch.setattr(app.db, "init_app", lambda flask_app: (built.append(flask_app), original(flask_app)))
    env = base_env(tmp_path / "instance")
    antar(env, "db", "upgrade")
    result = CliRunner().invoke(main, ["serve", "--port", str(free_port()), "--worker-class", "gevent"], env=env)
    assert result.exit_code == 1 and "PostgreSQL" in result.output, result.output
    assert built == []


@pytest.mark.parametrize("worker_class", ["gthread", "gevent"])
def test_a_province_on_one_machine_two_servers_two_workers(tmp_path: Path, pg_schema_url: str, worker_class: str):
    """Two `antar serve` (one SECRET_KEY) and two `antar worker` on one PostgreSQL and Redis: a session works on
    both servers, every job runs exactly once, and rate limits count across both servers; with threads as with
    gevent's greenlets."""
    import redis

    redis_url = "redis://127.0.0.1:6379/12"  # its own database: it is emptied here, other tests count in theirs
    try:
        redis.Redis.from_url(redis_url).flushdb()
    except redis.ConnectionError:
        pytest.skip("Redis not reachable")
    env = base_env(tmp_path / "instance", DATABASE_URL=pg_schema_url, ANTAR_REDIS_URL=redis_url,
                   SECRET_KEY="provinsi-" + "k" * 40, ANTAR_PUBLIC_RATE_LIMIT="5 per minute")
    antar(env, "db", "upgrade")
    antar(env, "users", "create", "staf", "--role", "staff")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    files = []
    for i in range(6):
        files.append(tmp_path / f"run-{i}.csv")
        generate_print_run(files[-1], cards=200, seed=30 + i, start_blanko=1_000_000 + i * 1000)
    with (process(env, "serve", "--port", str(ports[0]), "--workers", "2", "--worker-class", worker_class,
                  log=tmp_path / "a.log", ready_url=f"{bases[0]}/readyz"),
          process(env, "serve", "--port", str(ports[1]), "--workers", "2", "--worker-class", worker_class,
                  log=tmp_path / "b.log", ready_url=f"{bases[1]}/readyz"),
          process(env, "worker", log=tmp_path / "w1.log"), process(env, "worker", log=tmp_path / "w2.log")):
        s = login(bases[0], "staf")
        assert "/login" not in s.get(f"{bases[1]}/impor").url  # the cookie of server A opens server B
        job_ids = []
        for i, path in enumerate(files):
            token = csrf_token(s.get(f"{bases[i % 2]}/impor").text)
            with open(path, "rb") as f:
                r = s.post(f"{bases[i % 2]}/api/v1/print-runs", files={"file": (path.name, f, "text/csv")},
                           headers={"Prefer": "respond-async", "X-CSRFToken": token})
            assert r.status_code == 202, r.text
            job_ids.append(r.json()["job_id"])
        views = [wait_job(bases[0], s, j, timeout=120)[0] for j in job_ids]
        assert [v["status"] for v in views] == ["DONE"] * 6
        assert [v["attempts"] for v in views] == [1] * 6
        assert s.get(f"{bases[1]}/api/v1/report").json()["print_runs"] == 6
        # Public status lookups: 5 per minute per client, counted in Redis by both servers together.
        codes = [requests.post(f"{bases[i % 2]}/api/v1/public/status",
                               json={"nik": "3216061212900001", "no_kk": "3216060101080001"}).status_code
                 for i in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429], codes
    engine = sa.create_engine(pg_schema_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        runners = {r for (r,) in conn.execute(sa.text("SELECT runner FROM job"))}
    engine.dispose()
    worker_logs = (tmp_path / "w1.log").read_text() + (tmp_path / "w2.log").read_text()
    assert runners and all(f"pid {r.split(':')[1]})" in worker_logs for r in runners), (runners, worker_logs)
