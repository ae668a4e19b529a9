"""Courier webhook benchmark: `antar serve` on PostgreSQL against a bare Flask endpoint, both driven by `wrk`.

Three servers run side by side with the same gunicorn set-up: `antar serve --workers W --worker-class K` (its own
access log included, each worker listening on a socket of its own), and `gunicorn -w W -k K --reuse-port` with the
same access-log line for the two apps of `benchmarks/bare_app.py`: `app`, a Flask endpoint with the webhook's
URL and answer shape that only parses the JSON (no signature, no schema, no database): **the baseline**; and
`durable_app`, the same plus one durable write per post (an INSERT of the events and a synchronous commit): not a
target, it shows what durability alone costs here. The load is `wrk` (C: the load generator is not the bottleneck),
with `benchmarks/webhook_posts.lua` sending pre-signed posts read from files, none twice:

- **single-event posts**: one new event per post for --single-items items, each ACCEPTED, IN_TRANSIT,
  OUT_FOR_DELIVERY, then DELIVERED (location near the address, recipient, proof), status by status; all events of
  an item are sent by one wrk thread in order, and the posts in flight at one moment are for different items;
- **500-event batches**: batches of 500 new events (one per item) over --batch-items items. By default
  (`--batch-mix cycle`) each batch is one manifest's items at the four stages of a delivery, as a courier's batches
  come on a day of a cycle: 125 ACCEPTED, 125 IN_TRANSIT, 125 OUT_FOR_DELIVERY and 125 DELIVERED, each the item's
  next event (the events before it are applied in the set-up, in-process). `--batch-mix status` sends all items'
  ACCEPTED, then their IN_TRANSIT, and so on: a 10-second phase then sends ACCEPTED batches only (BENCHMARKS.md's
  batch figures before 2026-12-05 15:37 are those).

Each phase is `wrk -t<threads> -c<connections> -d<duration>` against each server in turn, after a warm-up of a few
seconds on events of other items, and after a CHECKPOINT and a sync (no phase pays for the writes of the one
before); --rounds repeats the turns (fresh items each round; round r starts with the server after round r-1's
first, so that no server always follows the durable endpoint's writes) and the median of the rounds'
ratios antar/bare is reported: on a machine shared with other work, the servers of one round saw about the same
load. Durability as in production: PostgreSQL keeps `synchronous_commit=on` and `fsync=on`, and antar's 200 goes out
after the commit. Every answer's results are counted by the Lua script and checked against the rows stored.

Set-up (not timed): a fresh schema migrated to head, the Bekasi kelurahan boundaries loaded (when the file is there),
handed-over items bulk-inserted (cards WITH_COURIER with a kelurahan and a location, manifests HANDED_OVER of 500
items, active items with S10 numbers), then `VACUUM (ANALYZE)` of those tables and a `CHECKPOINT`: the tables as they
are when events come, days after the import (without it, autovacuum worked through the new rows during the first
measured round, which then ran at half the speed of the others).

Also in the output: CPU per post of wrk, the gunicorn processes and the apps' PostgreSQL backends (found by
`application_name`; wrk's includes reading its files), the gunicorn processes' kernel CPU and context switches per
post, the machine's load average and the share of its CPU time left idle during the phase (`machine_idle`: near 0
when a server's posts are bound by CPU; antar's single posts left 17-21% of it idle, the bare endpoint 3-14%, in the
twelfth session's runs: bound by how long a post waits, not by CPU alone), how many posts each of antar's
transactions applied (`posts_per_transaction`: the mean and the count of each size; delivery/webhook.py
`PostGroups`), how wrk's connections were split between the workers (`connections_per_worker`; with one listening
socket shared by the workers, before `--reuse-port`, splits of 0 and 32 left one worker of the bare endpoint, or of
antar, with every connection), and, in-process (Flask test client on the same database), the statements the driver
runs and the commits per single-event post.

    .venv/bin/python benchmarks/bench_webhook.py [--duration 10] [--rounds 1] [--threads 2] [--connections 32]
        [--workers 2] [--worker-class gevent|gthread] [--server-threads 16] [--bare-threads T]
        [--single-items 10000] [--batch-items 200000] [--py-spy DIR] [--json FILE]

The worker class K is gevent by default, as an office on PostgreSQL and Redis runs `antar serve` (README): one
greenlet per connection, and the courier posts of a worker applied together by one greenlet. With gthread (`antar
serve`'s default, also for SQLite), T threads per worker (--server-threads, 16) and --bare-threads for the other two
servers. --bare-threads runs the bare and durable endpoints with another thread count than antar (the same by
default): the bare endpoint answers more with 8 threads than with 16, antar more with 16 (its posts that arrive
together are committed together, delivery/webhook.py `PostGroups`), so both comparisons are worth a run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from address.geocode import load_geo_file  # noqa: E402
from address.models import RegionGeo  # noqa: E402
from app.cards import Card, CardState  # noqa: E402
from app.cli import ACCESS_LOG_FORMAT  # noqa: E402
from app.courier.s10 import tracking_number  # noqa: E402
from app.db import make_engine  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.offices import ensure_office  # noqa: E402
from benchmarks import bench_intake  # noqa: E402
from manifests.intake.models import PrintRun  # noqa: E402
from manifests.models import Manifest, ManifestItem, ManifestStatus  # noqa: E402

OFFICE = "32.16"
SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1rZXktMzItYnl0ZXMtLS0tLS0="
GEO = ROOT.parent / "shared" / "data" / "wilayah" / "bekasi_kelurahan.geojson"
LUA = ROOT / "benchmarks" / "webhook_posts.lua"
PATH = "/api/v1/courier/events"
STATUSES = ("ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")
WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2026, 11, 24, 8, 0, tzinfo=WIB)
MANIFEST_SIZE = 500
BATCH = 500
WARM_ITEMS, PROBE_ITEMS = 2000, 200

# What the figures depend on, recorded with them: durability (both must stay on), and the memory and checkpoint
# settings (README, "PostgreSQL for an office"): with PostgreSQL's defaults (128 MB of shared buffers, a checkpoint
# every 1 GB of WAL) the backends of a run of 200,000 items spend more CPU writing out pages than applying events.
PG_SETTINGS = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "max_wal_size", "checkpoint_timeout",
               "wal_compression")
Item = tuple[str, float, float]  # tracking number, card lat, card lng
PG = os.environ.get("ANTAR_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")


def fresh_url(work: Path) -> tuple[str, Any]:
    """A fresh schema of its own on the benchmark's PostgreSQL database: its URL and the function that drops it."""
    return bench_intake.fresh_url("postgresql", work, PG)


# --- set-up ------------------------------------------------------------------------------------------------


def handed_over_items(url: str, count: int, geo: Path | None) -> list[Item]:
    """`count` handed-over items in a fresh migrated schema."""
    engine = make_engine(url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session, session.begin():
        office_id = ensure_office(session, OFFICE).id
        if geo is not None:
            load_geo_file(session, geo, only=(OFFICE,))
    with engine.begin() as conn:
        places = conn.execute(sa.select(RegionGeo.kode, RegionGeo.lat, RegionGeo.lng)
                              .where(RegionGeo.kode.like(OFFICE + ".%"), RegionGeo.lat.is_not(None))).all()
        places = places or [("32.16.06.1001", -6.2668, 107.0295)]
        run_id = conn.execute(sa.insert(PrintRun).values(
            office_id=office_id, filename="bench.csv", sha256="0" * 64, imported_by="bench", rows_read=count,
            cards_imported=count).returning(PrintRun.id)).scalar_one()
        items = []
        for start in range(0, count, MANIFEST_SIZE):
            ids = range(start + 1, min(start + MANIFEST_SIZE, count) + 1)
            mid = start // MANIFEST_SIZE + 1
            conn.execute(sa.insert(Manifest).values(
                id=mid, office_id=office_id, number=f"MNF-3216-20261123-{mid:04d}", post_office_code="17510",
                post_office_name="Tambun", status=ManifestStatus.HANDED_OVER, item_count=len(ids), created_at=now,
                created_by="bench", finalized_at=now, handed_over_at=now, handover_attempts=1))
            cards, rows = [], []
            for i in ids:
                kode, lat, lng = places[i % len(places)]
                cards.append({"id": i, "office_id": office_id, "print_run_id": run_id, "line": i + 1,
                              "nomor_blanko": f"BLK{i:09d}", "nik": f"3216{i:012d}", "nama": f"WARGA NOMOR {i}",
                              "tempat_lahir": "BEKASI", "tanggal_lahir": dt.date(1990, 1, 1), "jenis_kelamin": "L",
                              "alamat": f"JL. RAYA NO. {i}", "tanggal_cetak": dt.date(2026, 11, 2),
                              "kelurahan_code": kode, "address_status": "CLEAR", "lat": lat, "lng": lng,
                              "geo_precision": "kelurahan", "state": CardState.WITH_COURIER,
                              "state_changed_at": now})
                number = tracking_number("RB", 10_000_000 + i)
                rows.append({"id": i, "manifest_id": mid, "card_id": i, "seq": i - start, "tracking_number": number,
                             "active": True})
                items.append((number, lat, lng))
            conn.execute(sa.insert(Card), cards)
            conn.execute(sa.insert(ManifestItem), rows)
        conn.exec_driver_sql("CREATE TABLE bare_event (event_id text PRIMARY KEY, body text)")  # bare_app.durable_app
        for table in ("manifest", "card", "manifest_item"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    # As an office's tables are when the courier's events come, days after the import: vacuumed (hint bits set,
    # visibility map written) and the import's WAL checkpointed. Otherwise autovacuum takes up the hundreds of
    # thousands of rows just inserted during the first measured round, and that round pays for the set-up.
    vacuumed(engine, "manifest, card, manifest_item, region_geo")
    engine.dispose()
    return items


def vacuumed(engine: sa.Engine, tables: str) -> None:
    """`VACUUM (ANALYZE)` of these tables, then a `CHECKPOINT`: the set-up's writes done with before a phase."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {tables}")
        conn.exec_driver_sql("CHECKPOINT")


def in_process_app(url: str) -> Any:
    """antar's application on the benchmark's database, for Flask's test client (its courier secret and office)."""
    from app import create_app

    return create_app({"DATABASE_URL": url, "ANTAR_COURIER_WEBHOOK_SECRETS": SECRET, "SECRET_KEY": "bench",
                       "ANTAR_OFFICE": OFFICE})


def signed_headers(hook: Webhook, msg_id: str, body: str) -> dict[str, str]:
    """A courier post's headers, signed now."""
    now = dt.datetime.now(dt.UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": hook.sign(msg_id, now, body), "Content-Type": "application/json"}


def event(item: Item, k: int, rng: random.Random) -> dict[str, Any]:
    """The item's k-th event (STATUSES[k]); a DELIVERED carries a location near the address, recipient, proof."""
    number, lat, lng = item
    status = STATUSES[k]
    e = {"event_id": f"evt_{number}_{k}", "tracking_number": number, "status": status,
         "occurred_at": (T0 + dt.timedelta(hours=3 * k, seconds=rng.randint(0, 3600))).isoformat(timespec="seconds"),
         "location": {"post_office": "17510", "lat": None, "lng": None}, "attempt": 1, "reason_code": None,
         "recipient": None, "proof": None, "courier_id": "PTR-0192"}
    if status == "DELIVERED":
        e["location"].update(lat=round(lat + rng.uniform(-0.002, 0.002), 6),  # within about 300 m
                             lng=round(lng + rng.uniform(-0.002, 0.002), 6))
        e["recipient"] = {"name": "WARGA", "relationship": "SELF"}
        e["proof"] = {"photo_url": f"https://pos.example/p/{number}.jpg", "signature_url": None}
    return e


def body_of(events: list[dict[str, Any]]) -> str:
    return json.dumps({"type": "tracking.events", "data": {"events": events}}, separators=(",", ":"))


def single_posts(items: list[Item], threads: int, statuses: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """Per wrk thread, its (message id, body) list: the items i with i % threads == t, status by status."""
    per = [[] for _ in range(threads)]
    for k in range(statuses):
        for i, it in enumerate(items):
            per[i % threads].append((f"msg_{it[0]}_{k}", body_of([event(it, k, rng)])))
    return per


def batch_posts(items: list[Item], threads: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """Per wrk thread, its 500-event batches, status by status (`--batch-mix status`): all items' ACCEPTED, then
    all their IN_TRANSIT, and so on; batch b of a status goes to thread b % threads. A 10-second phase on the
    default 200,000 items sends ACCEPTED batches only."""
    per = [[] for _ in range(threads)]
    for k in range(len(STATUSES)):
        for b, start in enumerate(range(0, len(items), BATCH)):
            events = [event(it, k, rng) for it in items[start:start + BATCH]]
            per[b % threads].append((f"msg_b{k}_{b}_{items[start][0]}", body_of(events)))
    return per


def stage(j: int) -> int:
    """`--batch-mix cycle`: the status (index in STATUSES) the j-th item of a round is sent in the measured phase."""
    return j % len(STATUSES)


def cycle_earlier_posts(items: list[Item], rng: random.Random) -> list[tuple[str, str]]:
    """`--batch-mix cycle`, set-up: the events each item had before the measured phase (those before its `stage`),
    as 500-event batches, status by status: a quarter of the items ends ACCEPTED, a quarter IN_TRANSIT, a quarter
    OUT_FOR_DELIVERY, a quarter not yet accepted."""
    posts = []
    for k in range(len(STATUSES) - 1):
        behind = [it for j, it in enumerate(items) if stage(j) > k]
        for start in range(0, len(behind), BATCH):
            events = [event(it, k, rng) for it in behind[start:start + BATCH]]
            posts.append((f"msg_pre{k}_{behind[start][0]}", body_of(events)))
    return posts


def cycle_posts(items: list[Item], threads: int, rng: random.Random) -> list[list[tuple[str, str]]]:
    """Per wrk thread, its 500-event batches as a courier sends them on a day of a delivery cycle
    (`--batch-mix cycle`): batch b holds the next event of 500 consecutive items (one manifest), each item at its
    own stage: 125 ACCEPTED, 125 IN_TRANSIT, 125 OUT_FOR_DELIVERY and 125 DELIVERED (the earlier events were applied
    in the set-up, `cycle_earlier_posts`). Every event is its item's next, so all are applied, whatever order the
    batches arrive in; batch b goes to thread b % threads."""
    per = [[] for _ in range(threads)]
    for b, start in enumerate(range(0, len(items), BATCH)):
        events = [event(it, stage(start + j), rng) for j, it in enumerate(items[start:start + BATCH])]
        per[b % threads].append((f"msg_c{b}_{items[start][0]}", body_of(events)))
    return per


def apply_in_process(url: str, posts: list[tuple[str, str]]) -> None:
    """Post these batches through Flask's test client on the benchmark's database, each answered 200 with every
    event applied (the set-up of `--batch-mix cycle`: antar's own code, not SQL, brings the items to their stage);
    then vacuum and checkpoint as the set-up does."""
    app = in_process_app(url)
    client = app.test_client()
    hook = Webhook(SECRET)
    for msg_id, body in posts:
        r = client.post(PATH, data=body, headers=signed_headers(hook, msg_id, body))
        results = {x["result"] for x in r.json["results"]} if r.status_code == 200 else set()
        assert results == {"applied"}, r.get_data(as_text=True)[:500]
    engine = app.extensions["antar.engine"]
    vacuumed(engine, "manifest_item, card, card_history, card_flow, tracking_event")
    engine.dispose()


def write_signed(prefix: Path, per_thread: list[list[tuple[str, str]]]) -> None:
    """The files the Lua script reads (PREFIX.0, PREFIX.1, ...), signed now: valid for five minutes."""
    hook = Webhook(SECRET)
    now = dt.datetime.now(dt.UTC)
    stamp = str(int(now.timestamp()))
    for t, posts in enumerate(per_thread):
        with open(f"{prefix}.{t}", "w", encoding="utf-8") as f:
            for msg_id, body in posts:
                f.write(f"{msg_id}\t{stamp}\t{hook.sign(msg_id, now, body)}\t{body}\n")


# --- servers and load ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn server (command line `argv` with {port}) in its own process group, stopped with SIGTERM."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        with open(log, "wb") as out:  # the server keeps its own copy of the descriptor
            self.proc = subprocess.Popen([a.replace("{port}", str(self.port)) for a in argv], cwd=ROOT,
                                         env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if self.proc.poll() is not None:
                    raise RuntimeError(log.read_text())
                requests.get(self.url, timeout=5)
                break
            except requests.RequestException:  # refused, or accepted by the master while workers still load
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{name} never answered") from None
                time.sleep(0.2)
            except BaseException:
                self.stop()
                raise

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
        return [self.proc.pid, *map(int, children)]

    def workers(self) -> list[int]:
        return self.pids()[1:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command's name (which may hold spaces): [11] utime, [12] stime, in
    clock ticks."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def kernel_and_switches(pids: list[int]) -> tuple[float, int]:
    """The processes' CPU seconds in the kernel (stime: sockets, polls, futexes) and their context switches
    (voluntary and involuntary, all threads), to tell where a server's CPU goes besides its Python."""
    kernel, switches = 0, 0
    for pid in pids:
        try:
            kernel += int(_stat(pid)[12])
            for task in Path(f"/proc/{pid}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:
                        switches += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return kernel / os.sysconf("SC_CLK_TCK"), switches


def machine_idle() -> tuple[int, int]:
    """The machine's idle and I/O-wait clock ticks, and all ticks, since boot (the first line of /proc/stat)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return ticks[3] + ticks[4], sum(ticks)


def connections_per_worker(server: Server, after: float) -> list[int]:
    """After `after` seconds of a phase: how many of the client connections each gunicorn worker holds (`ss` from
    iproute2, by owning process), smallest first; empty when `ss` is missing."""
    time.sleep(after)
    if shutil.which("ss") is None:
        return []
    out = subprocess.run(["ss", "-Htnp", "state", "established", f"( sport = :{server.port} )"],
                         capture_output=True, text=True).stdout
    held = Counter(int(pid) for pid in re.findall(r"pid=(\d+)", out))
    return sorted(held.get(pid, 0) for pid in server.workers())


def backend_pids(url: str, application_name: str) -> list[int]:
    """The server processes of the app's own connections (the database is local): their CPU is its share.
    Shared background processes (WAL writer, checkpointer) are left out, as are other users of the server."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        pids = list(conn.exec_driver_sql("SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                                         (application_name,)).scalars())
    engine.dispose()
    return pids


def run_wrk(server: Server, prefix: Path, args: argparse.Namespace, seconds: float, events_per_post: int,
            db_pids: list[int] = (), py_spy: Path | None = None) -> dict[str, Any]:
    """`wrk` against the server for `seconds`; throughput, latency, results, and where the CPU went."""
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{round(seconds)}s", "--timeout", "60s",
            "-s", str(LUA), server.url, "--", str(prefix)]
    spies = []
    if py_spy is not None:  # a sampling profile of each worker while wrk runs (native frames off, idle off)
        spies = [subprocess.Popen([args.py_spy_bin, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                                   "--format", "raw", "--output", str(py_spy / f"{server.name}-{pid}.txt"),
                                   "--nonblocking", *(["--gil"] if args.py_spy_gil else [])],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for pid in server.workers()]
    server_pids = server.pids()
    split: list[int] = []
    counter = threading.Thread(target=lambda: split.extend(connections_per_worker(server, min(3.0, seconds / 3))))
    before = (resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(server_pids), cpu_seconds(db_pids),
              kernel_and_switches(server_pids))
    load0 = os.getloadavg()[0]
    idle0 = machine_idle()
    counter.start()
    done = subprocess.run(argv, capture_output=True, text=True)
    idle1 = machine_idle()
    counter.join()
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr}{done.stdout}")
    out = done.stdout
    after = (resource.getrusage(resource.RUSAGE_CHILDREN), cpu_seconds(server_pids), cpu_seconds(db_pids),
             kernel_and_switches(server_pids))
    for spy in spies:
        spy.wait(timeout=60)
    line = next(x for x in out.splitlines() if x.startswith("WRK_RESULT "))
    r = json.loads(line.removeprefix("WRK_RESULT "))
    seconds_run = r.pop("duration_us") / 1e6
    wrk_cpu = (after[0].ru_utime + after[0].ru_stime) - (before[0].ru_utime + before[0].ru_stime)
    posts = r["answers"]
    cpu = {"wrk": wrk_cpu, "gunicorn": after[1] - before[1], "postgres_backends": after[2] - before[2]}
    return {**r, "seconds": round(seconds_run, 2), "req_per_s": round(posts / seconds_run, 1),
            "events_per_s": round(posts * events_per_post / seconds_run, 1),
            "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
            "cpu_us_per_post": {k: round(1e6 * v / max(posts, 1)) for k, v in cpu.items()},
            # Of the gunicorn processes' CPU, the kernel's part, and their threads' context switches, per post.
            "gunicorn_kernel_us_per_post": round(1e6 * (after[3][0] - before[3][0]) / max(posts, 1)),
            "gunicorn_switches_per_post": round((after[3][1] - before[3][1]) / max(posts, 1), 1),
            # wrk's connections as the workers hold them (the kernel spreads them between the workers' sockets):
            # a worker's posts are applied by its one applying thread, in groups of at most its threads.
            "connections_per_worker": split,
            # The share of the machine's CPU time nobody used: near 0 when the load is bound by CPU.
            "machine_idle": round((idle1[0] - idle0[0]) / max(idle1[1] - idle0[1], 1), 3),
            "load_average": [load0, os.getloadavg()[0]]}


def settle(url: str) -> None:
    """Before each measured phase (not timed): what the phase before wrote is checkpointed and written out (the
    durable endpoint's batches write about half a gigabyte in 10 seconds), so that no phase pays for another's
    writes."""
    engine = sa.create_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()
    os.sync()


def _count(url: str, sql: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.exec_driver_sql(sql).scalar_one()
    engine.dispose()
    return n


def stored_events(url: str) -> int:
    return _count(url, "SELECT count(*) FROM tracking_event")


def last_message_id(url: str) -> int:
    return _count(url, "SELECT coalesce(max(id), 0) FROM webhook_message")


def group_sizes(url: str, after_id: int) -> dict[str, Any]:
    """How many posts each transaction of antar's applied (delivery/webhook.py `PostGroups`), from the messages
    stored after `after_id`: the messages of one group share their `received_at` (the group's one `now`), a post
    applied alone has its own. The mean and how many groups had each size."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT n, count(*) FROM (SELECT count(*) AS n FROM webhook_message WHERE id > %(after)s "
            "GROUP BY received_at) AS g GROUP BY n ORDER BY n", {"after": after_id}).all()
    engine.dispose()
    groups, posts = sum(k for _, k in rows), sum(n * k for n, k in rows)
    return {"mean": round(posts / max(groups, 1), 2), "sizes": {str(n): k for n, k in rows}}


# --- in-process: statements per post ---------------------------------------------------------------------------


def statements_per_post(url: str, items: list[Item]) -> dict[str, Any]:
    """Post each item's ACCEPTED through Flask's test client and count what reaches the database: statements as the
    driver runs them (SQLAlchemy's and those run on the driver's cursor directly; the pool's pre-ping is one), and
    commits; and the endpoint's own wall time per post (median), the first post left out."""
    import psycopg

    app = in_process_app(url)
    counts: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    real_execute = psycopg.Cursor.execute

    def counted(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
        counts["statements"] += 1
        text = query.decode() if isinstance(query, bytes) else str(query)
        kinds[text.split(None, 1)[0].upper()] += 1
        return real_execute(cursor, query, *args, **kwargs)

    with app.app_context():
        # The webhook's own pool (no pre-ping); the code before issue 16's second round had one pool.
        engine = app.extensions.get("antar.lean_engine") or app.extensions["antar.engine"]
    sa.event.listen(engine, "commit", lambda conn: counts.update(["commits"]))
    client = app.test_client()
    hook = Webhook(SECRET)
    rng = random.Random(7)
    times = []
    psycopg.Cursor.execute = counted
    try:
        for n, it in enumerate(items):
            body = body_of([event(it, 0, rng)])
            headers = signed_headers(hook, f"probe_{n}", body)
            if n == 1:
                counts.clear()
                kinds.clear()
            t0 = time.perf_counter()
            r = client.post(PATH, data=body, headers=headers)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json["results"][0]["result"] == "applied", r.get_data(as_text=True)
    finally:
        psycopg.Cursor.execute = real_execute
    app.extensions["antar.engine"].dispose()
    posts = len(items) - 1
    times = sorted(times[1:])
    return {"posts": posts, "per_post": {k: round(v / posts, 2) for k, v in counts.items()},
            "statement_kinds_per_post": {k: round(v / posts, 2) for k, v in kinds.items()},
            "ms_per_post_median": round(1000 * times[len(times) // 2], 2)}


# --- the run -----------------------------------------------------------------------------------------------


def summarize_py_spy(folder: Path, top: int = 25) -> dict[str, Any]:
    """From py-spy's raw (collapsed) stacks of the antar workers: the share of samples in which each of our own
    functions, and each library package, is on the stack."""
    total = 0
    ours: Counter[str] = Counter()
    for path in folder.glob("antar-*.txt"):
        for line in path.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            n = int(n)
            total += n
            seen = set()
            for frame in stack.split(";"):
                name, _, where = frame.partition(" (")
                where = where.rstrip(")")
                key = f"{name} ({where.rsplit('/', 2)[-2] if '/' in where else where})"
                if key not in seen:
                    seen.add(key)
                    ours[key] += n
    return {"samples": total, "inclusive_share": {k: round(v / max(total, 1), 3) for k, v in ours.most_common(top)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per phase, round and server")
    parser.add_argument("--rounds", type=int, default=1,
                        help="rounds of the phases, the servers taking turns (a machine shared with other work: the "
                             "median of the rounds' ratios is reported)")
    parser.add_argument("--warm-up", type=int, default=3, help="seconds of wrk before the phases, per server")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (antar serve's default)")
    parser.add_argument("--server-threads", type=int, default=16, help="threads per worker (antar serve's default)")
    parser.add_argument("--worker-class", choices=("gevent", "gthread"), default="gevent",
                        help="gunicorn's worker class of all three servers (`antar serve --worker-class`; gevent, "
                             "as an office on PostgreSQL and Redis serves, README)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="antar's ANTAR_REDIS_URL (gevent workers need it: background jobs go to `antar worker`)")
    parser.add_argument("--bare-threads", type=int,
                        help="threads per worker of the bare and durable endpoints (default: --server-threads); the "
                             "bare endpoint is fastest with fewer threads than antar")
    parser.add_argument("--single-items", type=int, default=10_000,
                        help="items of the 1-event posts per round (4 posts each)")
    parser.add_argument("--batch-items", type=int,
                        help="items of the 500-event batches per round: enough for 25,000 events/s for 10 s (default "
                             "300,000 with --batch-mix cycle, one event an item; 200,000 with status, four)")
    parser.add_argument("--batch-mix", choices=("cycle", "status"), default="cycle",
                        help="the 500-event batches: `cycle`, each batch a manifest's items at the four stages of a "
                             "delivery (a quarter each; the earlier events applied in the set-up), or `status`, all "
                             "items' ACCEPTED, then their IN_TRANSIT, ... (a 10-second phase sends ACCEPTED only)")
    parser.add_argument("--geo", type=Path, default=GEO if GEO.exists() else None,
                        help="kelurahan boundaries (GeoJSON) to load, so deliveries are checked against them")
    parser.add_argument("--py-spy", type=Path, help="record the antar workers with py-spy into this folder")
    parser.add_argument("--py-spy-gil", action="store_true",
                        help="py-spy samples only the thread holding the GIL: where the workers' CPU goes, without "
                             "the time they wait for PostgreSQL")
    parser.add_argument("--py-spy-bin", default=shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")))
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args()
    args.bare_threads = args.bare_threads or args.server_threads
    args.batch_items = args.batch_items or (300_000 if args.batch_mix == "cycle" else 200_000)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    setup_url, drop = fresh_url(work)
    schema = setup_url.rsplit("%3D", 1)[1]
    app_names = {"antar": f"bench_{schema}", "durable": f"bare_{schema}"}
    # The servers as deployed: psycopg 3 (what `postgresql://` means to antar).
    plain_url = setup_url.replace("postgresql+psycopg2://", "postgresql://")
    servers: dict[str, Server] = {}
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        n_single, n_batch = args.rounds * args.single_items, args.rounds * args.batch_items
        items = handed_over_items(setup_url, PROBE_ITEMS + WARM_ITEMS + n_single + n_batch, args.geo)
        probe, warm = items[:PROBE_ITEMS], items[PROBE_ITEMS:PROBE_ITEMS + WARM_ITEMS]
        rest = items[PROBE_ITEMS + WARM_ITEMS:]
        rng = random.Random(4)
        plans: dict[str, list[list[tuple[str, str]]]] = {"warm": single_posts(warm, args.threads, 1, rng)}
        earlier: list[tuple[str, str]] = []
        for r in range(args.rounds):
            single = rest[r * args.single_items:(r + 1) * args.single_items]
            batch = rest[n_single + r * args.batch_items:n_single + (r + 1) * args.batch_items]
            plans[f"single{r}"] = single_posts(single, args.threads, len(STATUSES), rng)
            if args.batch_mix == "cycle":
                earlier.extend(cycle_earlier_posts(batch, rng))
                plans[f"batch{r}"] = cycle_posts(batch, args.threads, rng)
            else:
                plans[f"batch{r}"] = batch_posts(batch, args.threads, rng)
        if earlier:
            apply_in_process(plain_url, earlier)
        setup_s = time.perf_counter() - t0
        engine = sa.create_engine(setup_url)
        with engine.connect() as conn:
            pg = {k: conn.exec_driver_sql(f"SHOW {k}").scalar() for k in PG_SETTINGS}
        engine.dispose()
        print(f"PostgreSQL: {pg}", file=sys.stderr, flush=True)
        if pg["shared_buffers"] == "128MB":
            print("warning: PostgreSQL runs with its default shared_buffers (128MB); the README's settings for an "
                  "office are not in place, and the figures will show it", file=sys.stderr, flush=True)
        print(f"set-up {setup_s:.0f} s: {len(items)} items; load average {os.getloadavg()}", file=sys.stderr,
              flush=True)

        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        bare_argv = [gunicorn, "-w", str(args.workers), "--threads", str(args.bare_threads), "-k", args.worker_class,
                     "-b", "127.0.0.1:{port}", "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
                     "--graceful-timeout", "10", "--reuse-port"]
        antar_argv = [str(Path(sys.executable).with_name("antar")), "serve", "--host", "127.0.0.1", "--port",
                      "{port}", "--workers", str(args.workers), "--threads", str(args.server_threads),
                      "--worker-class", args.worker_class]
        specs = {
            "bare": ([*bare_argv, "benchmarks.bare_app:app"], {}),
            "durable": ([*bare_argv, "benchmarks.bare_app:durable_app"],
                        {"BARE_DSN": f"{plain_url}&application_name={app_names['durable']}"}),
            "antar": (antar_argv, {"DATABASE_URL": f"{plain_url}&application_name={app_names['antar']}",
                                   "ANTAR_COURIER_WEBHOOK_SECRETS": SECRET, "SECRET_KEY": "bench",
                                   "ANTAR_OFFICE": OFFICE, "ANTAR_INSTANCE_PATH": str(work / "instance"),
                                   **({"ANTAR_REDIS_URL": args.redis_url} if args.worker_class == "gevent" else {})}),
        }
        for name, (argv, env) in specs.items():
            servers[name] = Server(name, argv, env, work / f"{name}.log")
        runs: dict[str, list[dict[str, Any]]] = {}

        def run(name: str, phase: str, plan: str, seconds: int) -> dict[str, Any]:
            server = servers[name]
            prefix = work / f"{name}-{plan}"
            write_signed(prefix, plans[plan])  # signed just before: timestamps are checked (5 minutes)
            db_pids = backend_pids(setup_url, app_names[name]) if name in app_names else []
            before = stored_events(setup_url) if name == "antar" else 0
            last_id = last_message_id(setup_url) if name == "antar" else 0
            settle(setup_url)
            spy = args.py_spy if (name == "antar" and plan == "single0") else None
            r = run_wrk(server, prefix, args, seconds, BATCH if phase == "batch" else 1, db_pids, spy)
            if name == "antar":
                time.sleep(2)  # the requests wrk left in flight finish
                r["stored"] = stored_events(setup_url) - before
                r["posts_per_transaction"] = group_sizes(setup_url, last_id)
                if phase != "warm":
                    check(r, phase, args.connections)
            groups = f", {r['posts_per_transaction']['mean']} posts a transaction" if name == "antar" else ""
            print(f"{name} {plan}: {r['req_per_s']} req/s, {r['events_per_s']} events/s, {r['results']}, "
                  f"non-200 {r['non200']}{groups}, connections per worker {r['connections_per_worker']}, "
                  f"machine idle {r['machine_idle']}, "
                  f"load {r['load_average']}", file=sys.stderr, flush=True)
            runs.setdefault(f"{name}_{phase}", []).append(r)
            return r

        for name in servers:
            run(name, "warm", "warm", args.warm_up)
        for phase in ("single", "batch"):
            for r in range(args.rounds):
                names = list(servers)
                for name in names[r % len(names):] + names[:r % len(names)]:  # each server first in turn
                    run(name, phase, f"{phase}{r}", args.duration)

        in_process = statements_per_post(plain_url, probe)
        summary = {"date": dt.date.today().isoformat(), "postgres": pg, "cores": os.cpu_count(),
                   "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration}s", "rounds": args.rounds,
                   "gunicorn": (f"{args.workers} workers (gevent)" if args.worker_class == "gevent" else
                                f"{args.workers} workers x {args.server_threads} threads (gthread)"),
                   "bare_threads": args.bare_threads,
                   "single": phase_summary(runs, "single", "req_per_s", 0.5),
                   "batch_500": {**phase_summary(runs, "batch", "events_per_s", None), "target_events_per_s": 20_000,
                                 "mix": args.batch_mix},
                   "in_process_single_post": in_process}
        out: dict[str, Any] = {"summary": summary, "setup_s": round(setup_s, 1), "runs": runs}
        if args.py_spy:
            out["py_spy_antar_single"] = summarize_py_spy(args.py_spy)
        text = json.dumps(out, indent=2)
        if args.json:
            args.json.write_text(text)
        print(text)
        for phase, key, unit in (("single", "single", "req/s"), ("batch", "batch_500", "events/s")):
            p = summary[key]
            print(f"{phase}: bare {p['bare']} {unit}, bare+durable write {p['durable']}, antar {p['antar']}; "
                  f"ratio antar/bare {p['ratio']} (per round {p['ratios']}), durable/bare {p['durable_ratio']}")
    finally:
        for server in servers.values():
            server.stop()
        drop()
        shutil.rmtree(work, ignore_errors=True)


def check(r: dict[str, Any], phase: str, connections: int) -> None:
    """Every answer a 200, every event new and stored, none sent twice (wrk never ran out of posts)."""
    new = sum(v for k, v in r["results"].items() if k != "duplicate")
    assert r["non200"] == 0 and r["socket_errors"] == 0, r
    assert set(r["results"]) <= {"applied", "stale"}, r["results"]
    # Requests still in flight when wrk stopped are stored but not counted: at most one per connection.
    in_flight = connections * (BATCH if phase == "batch" else 1)
    assert new <= r["stored"] <= new + in_flight, (phase, r["stored"], r["results"])
    assert r["wrapped"] == 0, f"{phase}: wrk ran out of posts; give more items"


def phase_summary(runs: dict[str, list[dict[str, Any]]], phase: str, key: str, target: float | None) -> dict[str, Any]:
    """Each server's figure (median of the rounds) and antar's ratio to the bare endpoint: per round (the servers
    take turns, so a round's figures saw about the same load) and their median."""
    figures = {name: statistics.median(r[key] for r in runs[f"{name}_{phase}"])
               for name in ("bare", "durable", "antar")}
    ratios = [round(a[key] / b[key], 3) for a, b in zip(runs[f"antar_{phase}"], runs[f"bare_{phase}"], strict=True)]
    durable = [d[key] / b[key] for d, b in zip(runs[f"durable_{phase}"], runs[f"bare_{phase}"], strict=True)]
    return {**{k: round(v, 1) for k, v in figures.items()}, "ratio": round(statistics.median(ratios), 3),
            "ratios": ratios, "durable_ratio": round(statistics.median(durable), 3),
            **({"target_ratio": target} if target else {})}


if __name__ == "__main__":
    main()
