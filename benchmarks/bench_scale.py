"""Scale benchmark: a whole office's cycle at --cards (1,000,000) on PostgreSQL, stage by stage, and the query plan of
every statement a page or the courier webhook sends at that size.

A schema of its own (`bench_scale` in database `test`, dropped and re-created, migrated to head by app.migrate), one
office (32.16, Kabupaten Bekasi), a staff user. The stages, each timed (wall and CPU of the process doing the work)
with its peak resident set size, each beside a baseline measured in the same run on the same database:

1. the print-run files: the demo's generator (app.demo.synthetic.generate_print_run), --cards rows in one file
   (NIKs unique), split into print runs of about 125,000 (--print-runs; reported, not a stage of Antar);
2. intake: `antar import FILE` of each run as its own process (start-up included; the kernel's peak RSS of that
   process), ANALYZE after each (as autovacuum would after a commit): every row rule, address normalization and
   location, one card and one history row per card. Baseline: the same file loaded as a process by pandas (chunks
   of 5,000, dtype=str) and SQLAlchemy Core into a plain table of the same columns (as benchmarks/bench_intake.py);
   also reported, not the baseline: PostgreSQL's COPY of the file into such a table (the floor). Addresses left
   for review stay as they are. (One 1,000,000-row file into an empty office is quadratic on PostgreSQL as the
   intake stands: its NIK look-up is planned on the empty table's statistics.);
3. manifests: `manifests.service.build_manifests(..., finalize=True)` for every ready card in one transaction
   (planning by post office and kecamatan, rounds, items with S10 numbers, one move and one history row per card).
   Baseline: a bare SELECT of the ready cards' columns the build reads;
4. handover: `manifests.handover.hand_over` of every manifest (the real function: payload built from the items and
   cards, answer recorded, cards moved WITH_COURIER, the after-handover hooks), with a courier client that answers
   201 in-process instead of PT Pos over HTTP. A few manifests (>= 501 items) are kept for the webhook's plans:
   their items get no events. Baseline: a bare SELECT of the payload's columns (items joined with cards);
5. events: the courier's signed webhook posts of 500 events each, through the real route (`POST
   /api/v1/courier/events` via Flask's test client: signature, schema, `delivery.service.apply_batch`, commit),
   round by round: ACCEPTED, IN_TRANSIT, OUT_FOR_DELIVERY for every item, then DELIVERED (97.8%, location near
   the address, recipient, proof) or DELIVERY_FAILED (NOBODY_HOME) then RETURNED (a courier reason) then
   RETURN_RECEIVED (2.2%). Baseline: the same events INSERTed into a plain table (event id primary key, JSON
   body), 500 per transaction, committed (same durability);
6. returns: the returned cards (back at the office) gathered into one batch per kelurahan
   (`returns.service.build_batches`), dispatched, counted in by an officer of each kelurahan (`confirm_receipt`),
   then officers record what became of about 80% of them (`record_disposition`: holder, family, deceased, not
   collected; the rest wait). No baseline;
7. reconciliation: `app.report.reconciliation` must balance (every printed card in exactly one state); the state
   table is printed. Baseline: its bare GROUP BY.

Then VACUUM ANALYZE (as autovacuum would) and the plans: every statement sent while serving the staff pages
(dashboard, tracking search and detail, manifests list and one manifest, returns pages, address review queue,
reconciliation, problems lists, ...), an officer's kelurahan pages, the citizen's status check, one single-event
webhook post and one 500-event post, captured at the driver's cursor (so the webhook's driver-level statements are
seen too), each run again as EXPLAIN (ANALYZE, BUFFERS) inside a transaction of its own that is rolled back (a
statement that cannot run twice is shown with a plain EXPLAIN; the webhook's write statement, run again, meets its
events stored). Any "Seq Scan on card" or "Seq Scan on tracking_event" is printed in full, and any on manifest_item
or card_history (as many rows as cards); seq scans of other tables are listed.

    .venv/bin/python benchmarks/bench_scale.py [--cards 1000000] [--keep] [--reuse] [--plans-only] [--json FILE]
        [--schema bench_scale] [--print-runs N] [--no-baselines]

--keep keeps the schema; --reuse (or --plans-only) skips the stages and measures the kept schema's plans (each such
run sends 501 of the items kept for the webhook their next event, ACCEPTED to DELIVERED: four runs per item).
--no-baselines imports in this process without the baseline processes (quick checks; tests/test_bench_scale_smoke.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from standardwebhooks.webhooks import Webhook  # noqa: E402

from app import create_app  # noqa: E402
from app.cards import Actor, Card, CardState  # noqa: E402
from app.courier.client import CourierAnswer, Outcome  # noqa: E402
from app.db import unit_of_work  # noqa: E402
from app.models import Office, Role, User  # noqa: E402
from app.offices import ensure_office  # noqa: E402
from app.report import reconciliation  # noqa: E402
from app.users import create_user  # noqa: E402
from benchmarks import bench_dashboard  # noqa: E402
from manifests import handover  # noqa: E402
from manifests import service as manifests_service  # noqa: E402
from manifests.intake.models import PrintRun  # noqa: E402
from manifests.models import Manifest, ManifestItem, ManifestStatus  # noqa: E402
from manifests.service import TrackingRange  # noqa: E402
from returns import service as returns_service  # noqa: E402
from returns.models import BatchStatus, Disposition, HandoverBatch, HandoverItem  # noqa: E402
from returns.service import Scope  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_scale"
URL = f"{PG}?options=-csearch_path%3D{SCHEMA}"
LIBPQ = f"host=127.0.0.1 port=5432 user=postgres dbname=test options=-csearch_path={SCHEMA}"


def use_schema(schema: str) -> None:
    """Work in another schema (the smoke test's own, so that it never meets a benchmark run's)."""
    global SCHEMA, URL, LIBPQ
    SCHEMA = schema
    URL = f"{PG}?options=-csearch_path%3D{SCHEMA}"
    LIBPQ = f"host=127.0.0.1 port=5432 user=postgres dbname=test options=-csearch_path={SCHEMA}"
OFFICE = "32.16"
ANTAR = str(Path(sys.executable).with_name("antar"))
SECRET = "whsec_" + "YmVuY2gtd2ViaG9vay1rZXktMzItYnl0ZXMtLS0tLS0="
WEBHOOK = "/api/v1/courier/events"
BATCH = 500
STAFF_USER, OFFICER_PREFIX, PASSWORD = "skala-staf", "skala-kel-", "bench-skala-2026"
STAFF = Actor("bench:staf")
WIB = dt.timezone(dt.timedelta(hours=7))
RETURNED_PER_MILLE = 22  # 2.2% of the items come back
# The courier's return reasons, weighted the way the demo's returns fall (as benchmarks/bench_dashboard.py).
REASONS = [r for r, w in {"MOVED": 4, "BAD_ADDRESS": 3, "UNCLAIMED": 2, "DECEASED": 1, "REFUSED": 1,
                          "DEMOLISHED_AREA": 1, "DAMAGED": 1}.items() for _ in range(w)]
BIG_TABLES = ("card", "tracking_event")  # a Seq Scan of these on a request path is a finding
# As many rows as cards (or more): a Seq Scan of these is printed in full too, listed apart.
CARD_SIZED = ("manifest_item", "card_history")

BARE_PANDAS = """
import sys, pandas as pd, sqlalchemy as sa
path, url = sys.argv[1], sys.argv[2]
engine = sa.create_engine(url)
columns = pd.read_csv(path, nrows=0).columns
meta = sa.MetaData()
table = sa.Table("bare_print_run", meta, sa.Column("id", sa.Integer, primary_key=True),
                 *(sa.Column(c, sa.String) for c in columns))
meta.drop_all(engine)
meta.create_all(engine)
with engine.begin() as conn:
    for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=5000):
        conn.execute(table.insert(), chunk.to_dict("records"))
"""

BARE_COPY = """
import sys, psycopg
path, dsn = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    columns = f.readline().strip().split(",")
with psycopg.connect(dsn) as conn:
    conn.execute("DROP TABLE IF EXISTS bare_copy")
    conn.execute("CREATE TABLE bare_copy (id serial PRIMARY KEY, " + ", ".join(f'"{c}" text' for c in columns) + ")")
    with conn.cursor().copy("COPY bare_copy (" + ", ".join(f'"{c}"' for c in columns)
                            + ") FROM STDIN WITH (FORMAT csv, HEADER true)") as copy, open(path, "rb") as f:
        while block := f.read(1 << 20):
            copy.write(block)
"""


# --- measuring ----------------------------------------------------------------------------------------------


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5), so a stage's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class Results:
    def __init__(self) -> None:
        self.stages: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}

    @contextmanager
    def stage(self, name: str, **extra: Any) -> Iterator[dict[str, Any]]:
        """A stage measured in this process: wall, CPU (all threads), peak RSS during the stage (and RSS before)."""
        record: dict[str, Any] = {"stage": name, "rss_before_mib": round(_rss_mib(), 1), **extra}
        _reset_peak()
        t0, c0 = time.perf_counter(), _cpu()
        print(f"-- {name} (load average {load_average()})", flush=True)
        yield record
        record.update(wall_s=round(time.perf_counter() - t0, 2), cpu_s=round(_cpu() - c0, 2),
                      peak_rss_mib=round(_peak_mib(), 1), load_average=load_average())
        self.stages.append(record)
        print(f"   {name}: {record['wall_s']:.1f} s wall, {record['cpu_s']:.1f} s CPU, peak RSS "
              f"{record['peak_rss_mib']:.0f} MiB  {_extras(record)}", flush=True)

    def add(self, record: dict[str, Any]) -> None:
        self.stages.append(record)
        print(f"   {record['stage']}: {record['wall_s']:.1f} s wall, {record['cpu_s']:.1f} s CPU, peak RSS "
              f"{record['peak_rss_mib']:.0f} MiB  {_extras(record)}", flush=True)


def _extras(record: dict[str, Any]) -> str:
    skip = {"stage", "wall_s", "cpu_s", "peak_rss_mib", "load_average", "rss_before_mib"}
    return ", ".join(f"{k}={v}" for k, v in record.items() if k not in skip)


def measured(fn: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    """Wall and CPU of an in-process baseline."""
    t0, c0 = time.perf_counter(), _cpu()
    out = fn()
    return {"wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(_cpu() - c0, 2)}, out


# A child's peak RSS (ru_maxrss) counts the image it was forked from: the command runs as the grandchild of a small
# Python process (forked from this one, then exec'd), which reports the grandchild's own resource usage.
_WRAP = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    json.dump([usage.ru_maxrss, usage.ru_utime + usage.ru_stime], f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def child_usage(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Wall, CPU (user + system) and the kernel's peak RSS of one command run as its own process."""
    with tempfile.TemporaryDirectory() as tmp:
        usage_file, out_file, err_file = (Path(tmp) / n for n in ("usage", "out", "err"))
        with open(out_file, "wb") as out, open(err_file, "wb") as err:
            t0 = time.perf_counter()
            code = subprocess.call([sys.executable, "-c", _WRAP, str(usage_file), *cmd], env=env, cwd=ROOT,
                                   stdout=out, stderr=err)
            wall = time.perf_counter() - t0
        stdout, stderr = out_file.read_text(), err_file.read_text()
        if code != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{stdout}\n{stderr}")
        maxrss, cpu = json.loads(usage_file.read_text())
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": round(maxrss / 1024, 1), "out": stdout}


# --- schema and application ---------------------------------------------------------------------------------


def fresh_schema() -> None:
    bench_dashboard.fresh_schema(PG, SCHEMA, URL)


def drop_schema() -> None:
    bench_dashboard.drop_schema(PG, SCHEMA)


def maintenance(sql: str) -> None:
    """A statement outside a transaction; VACUUM and ANALYZE name this schema's tables (bare, they would go through
    every schema of the shared database)."""
    admin = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if sql in ("ANALYZE", "VACUUM ANALYZE"):
            tables = conn.exec_driver_sql(
                "SELECT string_agg(quote_ident(relname), ', ') FROM pg_class WHERE relkind = 'r' "
                "AND relnamespace = current_schema()::regnamespace").scalar()
            sql = f"{sql} {tables}"
        conn.exec_driver_sql(sql)
    admin.dispose()


def make_app(instance: Path) -> Any:
    os.environ["ANTAR_INSTANCE_PATH"] = str(instance)
    return create_app({"DATABASE_URL": URL, "ANTAR_OFFICE": OFFICE, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                       "ANTAR_PASSWORD_HASH": "pbkdf2:sha256:1000", "ANTAR_COURIER_WEBHOOK_SECRETS": SECRET,
                       "RATELIMIT_ENABLED": False})


def antar_env(instance: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": URL, "ANTAR_INSTANCE_PATH": str(instance), "ANTAR_OFFICE": OFFICE,
            "SECRET_KEY": "bench"}


class AcceptingCourier:
    """PT Pos answering 201 to every manifest, in-process (the handover's HTTP call is not what is measured)."""

    def __init__(self) -> None:
        self.manifests = 0
        self.items = 0

    def submit_manifest(self, payload: dict[str, Any]) -> CourierAnswer:
        self.manifests += 1
        self.items += len(payload["items"])
        return CourierAnswer(Outcome.ACCEPTED, 201, {"manifest_number": payload["manifest_number"],
                                                     "accepted_items": len(payload["items"]),
                                                     "pickup_scheduled_at": None})


# --- the stages ---------------------------------------------------------------------------------------------


RUN_SIZE = 125_000  # cards per print run (the Bekasi run has 132,289): an office reaches 1,000,000 in eight


def stage_files(results: Results, work: Path, cards: int, runs: int) -> list[Path]:
    """One file of the demo's generator (seed 4; NIKs unique as in one real print run), split into `runs` files of
    consecutive rows (print runs of one office: separate seeds would reuse NIKs, making a third of the cards
    duplicate prints)."""
    import csv

    from app.demo.synthetic import generate_print_run

    with results.stage(f"0. generate the print-run file, split into {runs} (not Antar)") as r:
        whole = work / "cetakan.csv"
        run = generate_print_run(whole, office_code=OFFICE, cards=cards, seed=4)
        paths = [work / f"cetakan-{i + 1}.csv" for i in range(runs)]
        with open(whole, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            per = -(-(cards + run.bad_rows) // runs)
            out, writer, written = None, None, 0
            for row in reader:
                if writer is None or written == per:
                    if out is not None:
                        out.close()
                    out = open(paths[len([p for p in paths if p.exists()])], "w", newline="", encoding="utf-8")
                    writer, written = csv.writer(out), 0
                    writer.writerow(header)
                writer.writerow(row)
                written += 1
            if out is not None:
                out.close()
        paths = [p for p in paths if p.exists()]
        r.update(rows=run.cards, bad_rows=run.bad_rows, files=len(paths),
                 file_mib=round(whole.stat().st_size / 2**20, 1))
        whole.unlink()
    return paths


def stage_intake(results: Results, paths: list[Path], instance: Path, app: Any, baselines: bool = True) -> None:
    """`antar import` of each file as its own process (and ANALYZE after each, as autovacuum would after a run),
    beside its baselines. Without `baselines` (the smoke test) the same import in this process
    (manifests.intake.cli.run_import, what the command runs), to save the processes' start-up."""
    if not baselines:
        from manifests.intake.cli import run_import

        with app.app_context(), results.stage("1. intake: run_import (in process)") as r:
            for path in paths:
                result = run_import(str(path), OFFICE, quiet=True)
                maintenance("ANALYZE")
            r.update(cards=result.cards_imported, rejected=result.rows_rejected, unclear=result.unclear)
        return
    print(f"-- 1. intake: baselines and `antar import` of {len(paths)} file(s) (load average {load_average()})",
          flush=True)
    py = sys.executable
    totals: dict[str, Any] = {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mib": 0.0, "baseline_wall_s": 0.0,
                              "baseline_cpu_s": 0.0, "baseline_peak_rss_mib": 0.0, "copy_floor_wall_s": 0.0,
                              "copy_floor_cpu_s": 0.0, "analyze_wall_s": 0.0}
    started = child_usage([ANTAR, "import", "--help"], antar_env(instance))
    summaries = []
    for path in paths:
        bare = child_usage([py, "-c", BARE_PANDAS, str(path), URL.replace("+psycopg", "+psycopg2")])
        floor = child_usage([py, "-c", BARE_COPY, str(path), LIBPQ])
        maintenance("DROP TABLE IF EXISTS bare_print_run, bare_copy")
        run = child_usage([ANTAR, "import", str(path)], antar_env(instance))
        summaries.append(run.pop("out").strip().splitlines()[0])
        t0 = time.perf_counter()
        maintenance("ANALYZE")
        totals["analyze_wall_s"] += time.perf_counter() - t0
        for key, value in (("wall_s", run["wall_s"]), ("cpu_s", run["cpu_s"]), ("baseline_wall_s", bare["wall_s"]),
                           ("baseline_cpu_s", bare["cpu_s"]), ("copy_floor_wall_s", floor["wall_s"]),
                           ("copy_floor_cpu_s", floor["cpu_s"])):
            totals[key] += value
        totals["peak_rss_mib"] = max(totals["peak_rss_mib"], run["peak_rss_mib"])
        totals["baseline_peak_rss_mib"] = max(totals["baseline_peak_rss_mib"], bare["peak_rss_mib"])
        print(f"   {path.name}: antar import {run['wall_s']:.1f} s wall, {run['cpu_s']:.1f} s CPU, peak RSS "
              f"{run['peak_rss_mib']:.0f} MiB; baseline {bare['wall_s']:.1f} s wall, {bare['cpu_s']:.1f} s CPU; "
              f"COPY {floor['wall_s']:.1f} s  ({summaries[-1]})", flush=True)
    results.add({"stage": f"1. intake: antar import of {len(paths)} file(s), each its own process",
                 **{k: round(v, 2) for k, v in totals.items()}, "startup_rss_mib": started["peak_rss_mib"],
                 "baseline": "pandas + Core INSERT into a plain table (own process per file)",
                 "summaries": summaries, "load_average": load_average()})


def stage_manifests(results: Results, app: Any) -> None:
    def bare() -> int:
        with unit_of_work() as session:
            return len(session.execute(
                select(Card.id, Card.kelurahan_code, Card.kode_pos, Card.rw, Card.rt, Card.street, Card.lat, Card.lng,
                       Card.nama).where(Card.state == CardState.READY, Card.kelurahan_code.is_not(None))).all())

    with app.app_context():
        base, ready = measured(bare)
        with results.stage("2. manifests: build_manifests(finalize=True)", baseline="bare SELECT of the ready cards",
                           baseline_wall_s=base["wall_s"], baseline_cpu_s=base["cpu_s"], ready_cards=ready) as r:
            with unit_of_work() as session:
                made = manifests_service.build_manifests(
                    session, ensure_office(session, OFFICE), STAFF, finalize=True,
                    tracking=TrackingRange("RB", 10_000_000, 19_999_999), cap=500)
                r.update(manifests=len(made), items=sum(m.item_count for m in made))


def keep_for_plans(session: Any, ids: list[int]) -> list[int]:
    """The last manifests, at least 501 items in all (at most half of them): handed over, no events."""
    counts = dict(session.execute(select(Manifest.id, Manifest.item_count).where(Manifest.id.in_(ids))).all())
    kept, items = [], 0
    for mid in reversed(ids):
        if items >= BATCH + 1 or len(kept) >= max(1, len(ids) // 2):
            break
        kept.append(mid)
        items += counts[mid]
    return kept


def stage_handover(results: Results, app: Any) -> list[int]:
    with app.app_context():
        with unit_of_work() as session:
            office = ensure_office(session, OFFICE)
            ids = list(session.scalars(select(Manifest.id).where(
                Manifest.office_id == office.id, Manifest.status == ManifestStatus.FINALIZED).order_by(Manifest.id)))
            kept = keep_for_plans(session, ids)

        def bare() -> int:
            with unit_of_work() as session:
                return len(session.execute(
                    select(ManifestItem.tracking_number, ManifestItem.cod_amount, Card.nama, Card.no_hp, Card.street,
                           Card.alamat, Card.rt, Card.rw, Card.kelurahan_code, Card.kode_pos, Card.lat, Card.lng)
                    .join(Card, Card.id == ManifestItem.card_id)
                    .where(ManifestItem.manifest_id.in_(ids), ManifestItem.removed_at.is_(None))
                    .order_by(ManifestItem.manifest_id, ManifestItem.seq)).all())

        base, _ = measured(bare)
        courier = AcceptingCourier()
        with results.stage("3. handover: hand_over() of every manifest", baseline="bare SELECT of the payload rows",
                           baseline_wall_s=base["wall_s"], baseline_cpu_s=base["cpu_s"]) as r:
            ok = sum(handover.hand_over(OFFICE, mid, STAFF, courier).answer.ok for mid in ids)
            r.update(manifests=len(ids), handed_over=ok, items=courier.items, kept_without_events=len(kept))
    return kept


def _fate(i: int) -> bool:
    """Whether item i comes back (2.2%, spread evenly)."""
    return (i * 2654435761 >> 8) % 1000 < RETURNED_PER_MILLE


def _event(k: int, status: str, number: str, at: str, lat: float | None, lng: float | None, i: int) -> dict:
    e = {"event_id": f"e{k}_{number}", "tracking_number": number, "status": status, "occurred_at": at,
         "location": {"post_office": "17510", "lat": None, "lng": None}, "attempt": 1, "reason_code": None,
         "recipient": None, "proof": None, "courier_id": "PTR-0192"}
    if status == "DELIVERED":
        if lat is not None and lng is not None:
            e["location"].update(lat=round(lat + ((i % 7) - 3) * 0.0005, 6), lng=round(lng + ((i % 5) - 2) * 0.0005, 6))
        e["recipient"] = {"name": "WARGA", "relationship": "SELF"}
        e["proof"] = {"photo_url": f"https://pos.example/p/{number}.jpg", "signature_url": None}
    elif status == "DELIVERY_FAILED":
        e["reason_code"] = "NOBODY_HOME"
    elif status == "RETURNED":
        e["reason_code"] = REASONS[i % len(REASONS)]
    return e


DELIVERED_PATH = ("ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED")
RETURNED_PATH = ("ACCEPTED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_FAILED", "RETURNED", "RETURN_RECEIVED")


def event_rounds(items: list[tuple[str, float | None, float | None]]) -> Iterator[tuple[int, Iterator[list[dict]]]]:
    """Round k: the k-th event of every item that has one, in batches of 500 (made as they are sent, so that the
    harness does not hold a round's events); each round dated after the one before."""
    last = dt.datetime.now(WIB).replace(microsecond=0) - dt.timedelta(seconds=1)
    for k in range(len(RETURNED_PATH)):
        at_dt = max(dt.datetime.now(WIB).replace(microsecond=0), last + dt.timedelta(seconds=1))
        last = at_dt
        at = at_dt.isoformat(timespec="seconds")
        chosen = [(i, it) for i, it in enumerate(items)
                  if k < (len(RETURNED_PATH) if _fate(i) else len(DELIVERED_PATH))]
        yield k, ([_event(k, (RETURNED_PATH if _fate(i) else DELIVERED_PATH)[k], number, at, lat, lng, i)
                   for i, (number, lat, lng) in chosen[start:start + BATCH]]
                  for start in range(0, len(chosen), BATCH))


def body_of(events: list[dict]) -> str:
    return json.dumps({"type": "tracking.events", "data": {"events": events}}, separators=(",", ":"))


def signed_post(client: Any, msg_id: str, body: str) -> Any:
    now = dt.datetime.now(dt.UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(SECRET).sign(msg_id, now, body), "Content-Type": "application/json"}
    return client.post(WEBHOOK, data=body, headers=headers)


def stage_events(results: Results, app: Any, kept: list[int]) -> None:
    with app.app_context(), unit_of_work() as session:
        items = [tuple(r) for r in session.execute(
            select(ManifestItem.tracking_number, Card.lat, Card.lng).join(Card, Card.id == ManifestItem.card_id)
            .join(Manifest, Manifest.id == ManifestItem.manifest_id)
            .where(Manifest.status == ManifestStatus.HANDED_OVER, ManifestItem.active,
                   ManifestItem.manifest_id.not_in(kept or [0]))
            .order_by(ManifestItem.id)).all()]
    total = sum(len(RETURNED_PATH) if _fate(i) else len(DELIVERED_PATH) for i in range(len(items)))

    # Baseline: the same events, 500 per committed transaction, into a plain table.
    def bare() -> int:
        n = 0
        with psycopg.connect(LIBPQ) as conn:
            conn.execute("DROP TABLE IF EXISTS bare_event")
            conn.execute("CREATE TABLE bare_event (event_id text PRIMARY KEY, tracking_number text, status text, "
                         "occurred_at timestamptz, body jsonb)")
            conn.commit()
            for _k, batches in event_rounds(items):
                for events in batches:
                    with conn.cursor() as cur:
                        cur.executemany("INSERT INTO bare_event VALUES (%s, %s, %s, %s, %s)",
                                        [(e["event_id"], e["tracking_number"], e["status"], e["occurred_at"],
                                          json.dumps(e)) for e in events])
                    conn.commit()
                    n += len(events)
            conn.execute("DROP TABLE bare_event")
            conn.commit()
        return n

    base, n_bare = measured(bare)
    assert n_bare == total, (n_bare, total)
    answers: Counter[str] = Counter()
    posts = 0
    with app.app_context(), results.stage(
            "4. events: signed 500-event posts through the webhook route", events=total, items=len(items),
            baseline="the same events INSERTed into a plain table, 500 per commit",
            baseline_wall_s=base["wall_s"], baseline_cpu_s=base["cpu_s"]) as r:
        client = app.test_client()
        for k, batches in event_rounds(items):
            t0 = time.perf_counter()
            n = b = 0
            for b, events in enumerate(batches, 1):
                n += len(events)
                response = signed_post(client, f"msg_{k}_{b}", body_of(events))
                assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:500])
                answers.update(x["result"] for x in response.get_json()["results"])
                posts += 1
            print(f"   round {k}: {n:,} events in {b:,} posts, {time.perf_counter() - t0:.1f} s "
                  f"({n / max(time.perf_counter() - t0, 1e-9):,.0f} events/s)", flush=True)
        r.update(posts=posts, results=dict(answers))
    rec = results.stages[-1]
    rec["events_per_s"] = round(total / rec["wall_s"])
    rec["baseline_events_per_s"] = round(total / base["wall_s"])


DISPOSITION_OF = {"DECEASED": Disposition.DECEASED}


def _officers(session: Any, office: Office, codes: set[str]) -> dict[str, Actor]:
    actors = {}
    for code in sorted(codes):
        username = OFFICER_PREFIX + code.replace(".", "")
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = create_user(session, username, PASSWORD, Role.OFFICER, office_code=office.code,
                               kelurahan_code=code, full_name=f"Petugas {code}")
            session.flush()
        actors[code] = Actor(user.username, user.id)
    return actors


def stage_returns(results: Results, app: Any) -> None:
    with app.app_context(), results.stage("5. returns: batches to kelurahan, receipts, dispositions") as r:
        deadline = app.config["ANTAR_COLLECTION_DEADLINE_DAYS"]
        with unit_of_work() as session:
            office = ensure_office(session, OFFICE)
            batches = returns_service.build_batches(session, office, STAFF)
            batch_ids = [(b.id, b.kelurahan_code) for b in batches]
            r.update(batches=len(batches), cards=sum(b.item_count for b in batches))
            for bid, _ in batch_ids:
                returns_service.dispatch(session, Scope(office), bid, STAFF)
        with unit_of_work() as session:
            officers = _officers(session, ensure_office(session, OFFICE), {k for _, k in batch_ids})
        recorded: Counter[str] = Counter()
        n = 0
        for bid, kel in batch_ids:
            with unit_of_work() as session:
                office = ensure_office(session, OFFICE)
                scope = Scope(office, kel)
                batch = returns_service.get_batch(session, scope, bid)
                rows = returns_service.batch_items(session, batch)
                returns_service.confirm_receipt(session, scope, bid, len(rows), [], officers[kel])
            with unit_of_work() as session:
                office = ensure_office(session, OFFICE)
                scope = Scope(office, kel)
                batch = returns_service.get_batch(session, scope, bid)
                received_on = batch.received_at.astimezone(WIB).date()
                for item, card in returns_service.batch_items(session, batch):
                    choice, n = n % 10, n + 1
                    if choice >= 8:  # 20% not collected yet: they wait at the kelurahan
                        recorded["WAIT"] += 1
                        continue
                    today = received_on
                    if item.reason == "DECEASED":
                        disposition, fields = Disposition.DECEASED, {}
                    elif choice == 7:
                        disposition, fields = Disposition.NOT_COLLECTED, {}
                        today = received_on + dt.timedelta(days=deadline + 1)
                    elif choice >= 5:
                        disposition = Disposition.FAMILY
                        fields = {"receiver_name": f"KELUARGA {card.nama.split()[0]}", "receiver_relationship": "anak"}
                    else:
                        disposition = Disposition.HOLDER
                        fields = {"receiver_name": card.nama, "id_checked": True}
                    fields["handed_on"] = received_on
                    returns_service.record_disposition(session, scope, item.id, disposition, fields, officers[kel],
                                                       deadline_days=deadline, today=today)
                    recorded[disposition.value] += 1
        r.update(recorded=dict(recorded))


def stage_reconciliation(results: Results, app: Any) -> dict[str, Any]:
    with app.app_context():
        def bare() -> int:
            with unit_of_work() as session:
                return len(session.execute(text(
                    "SELECT kelurahan_code, state, count(*) FROM card GROUP BY kelurahan_code, state")).all())

        base, _ = measured(bare)
        with results.stage("6. reconciliation: app.report.reconciliation", baseline="bare GROUP BY of the cards",
                           baseline_wall_s=base["wall_s"], baseline_cpu_s=base["cpu_s"]) as r:
            with unit_of_work() as session:
                data = reconciliation(session, ensure_office(session, OFFICE))
            r.update(printed=data["printed"], balanced=data["balanced"])
    return data


def print_states(data: dict[str, Any]) -> dict[str, int]:
    states = {s: n for s, n in data["by_state"].items() if n}
    print(f"\nreconciliation: printed {data['printed']:,}, balanced {data['balanced']}; per state:")
    for s, n in states.items():
        print(f"  {s:<20} {n:>10,}  {data['state_labels'].get(s, '')}")
    print(f"  {'total':<20} {sum(data['by_state'].values()):>10,}")
    return states


# --- plans --------------------------------------------------------------------------------------------------

_capturing: list[tuple[str, str, Any]] | None = None
_where = ""


class CapturingCursor(psycopg.Cursor):
    """The driver's cursor, noting every statement while a capture is on (SQLAlchemy's and the webhook's own
    `app.db.pg_execute` statements alike)."""

    def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
        if _capturing is not None:
            _capturing.append((_where, str(query), params))
        return super().execute(query, params, **kw)

    def executemany(self, query: Any, params_seq: Any, **kw: Any) -> Any:
        if _capturing is not None:
            params_seq = list(params_seq)
            _capturing.append((_where, str(query), params_seq[0] if params_seq else None))
        return super().executemany(query, params_seq, **kw)


def install_capture(app: Any) -> None:
    """The capturing cursor on every pool of the application (the courier webhook has a pool of its own)."""
    def factory(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.cursor_factory = CapturingCursor

    engines = {id(e): e for e in (app.extensions.get("antar.engine"), app.extensions.get("antar.lean_engine")) if e}
    for engine in engines.values():
        event.listen(engine, "checkout", factory)


def _login(app: Any, username: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, (username, response.status_code)
    return client


def plan_requests(app: Any) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(who, what, request) of every page and post whose statements are explained."""
    with app.app_context(), unit_of_work() as session:
        office = ensure_office(session, OFFICE)
        o = office.id
        manifest = session.execute(select(Manifest.id, Manifest.number).where(
            Manifest.office_id == o, Manifest.status.in_([ManifestStatus.CLOSED, ManifestStatus.HANDED_OVER]))
            .order_by(Manifest.id.desc()).limit(1)).one()
        delivered = session.execute(select(Card.id, Card.nik, Card.nomor_blanko, ManifestItem.tracking_number)
                                    .join(ManifestItem, ManifestItem.card_id == Card.id)
                                    .where(Card.office_id == o, Card.state == CardState.DELIVERED)
                                    .order_by(Card.id.desc()).limit(1)).one()
        batch = session.execute(select(HandoverBatch.id, HandoverBatch.kelurahan_code).where(
            HandoverBatch.office_id == o, HandoverBatch.status.in_([BatchStatus.RECEIVED, BatchStatus.CLOSED]))
            .order_by(HandoverBatch.item_count.desc()).limit(1)).one()
        item_id = session.scalar(select(HandoverItem.id).where(HandoverItem.batch_id == batch.id)
                                 .order_by(HandoverItem.id).limit(1))
        unclear = session.scalar(select(Card.id).where(Card.office_id == o, Card.state == CardState.ADDRESS_UNCLEAR)
                                 .order_by(Card.id).limit(1))
        run_id = session.scalar(select(PrintRun.id).where(PrintRun.office_id == o).order_by(PrintRun.id).limit(1))
        # Items kept for the webhook (handed over, no event at first): each is sent the next step of a delivery
        # (ACCEPTED first; a run with --reuse sends the step after the one before), the least advanced first.
        step = sa.case(*((ManifestItem.tracking_status == s, i + 1) for i, s in enumerate(DELIVERED_PATH[:-1])),
                       else_=0)
        fresh = session.execute(
            select(ManifestItem.tracking_number, step).join(Card, Card.id == ManifestItem.card_id)
            .where(Card.office_id == o, Card.state.in_([CardState.WITH_COURIER, CardState.IN_TRANSIT]),
                   ManifestItem.active, ManifestItem.final.is_(False),
                   sa.or_(ManifestItem.tracking_status.is_(None),
                          ManifestItem.tracking_status.in_(DELIVERED_PATH[:-1])))
            .order_by(step, ManifestItem.id).limit(BATCH + 1)).all()
        officer = OFFICER_PREFIX + batch.kelurahan_code.replace(".", "")
    if len(fresh) < 2:
        raise SystemExit("no handed-over items in flight left for the webhook's plans (run without --reuse)")
    now = dt.datetime.now(WIB).replace(microsecond=0).isoformat(timespec="seconds")
    stamp = int(time.time())
    events = [_event(stamp, DELIVERED_PATH[k], number, now, None, None, i) for i, (number, k) in enumerate(fresh)]
    single, many = body_of(events[:1]), body_of(events[1:])
    staff_pages = [
        "/dasbor", f"/dasbor/kelurahan/{batch.kelurahan_code}", "/laporan",
        f"/lacak?q={delivered.nomor_blanko}", f"/lacak?q={delivered.nik}", f"/lacak?q={delivered.tracking_number}",
        f"/lacak?q={manifest.number}", f"/lacak/{delivered.tracking_number}",
        "/manifest", "/manifest?status=HANDED_OVER", "/manifest?status=CLOSED", f"/manifest/{manifest.id}",
        f"/manifest/{manifest.id}/items.csv",
        "/pengembalian", "/pengembalian/berkas", f"/pengembalian/berkas/{batch.id}", "/pengembalian/hilang",
        "/pengembalian/meninggal", "/pengembalian/pengingat", "/pengembalian/kembali-ke-kantor",
        "/pengembalian/konflik", "/pengembalian/petugas",
        "/alamat", "/alamat?hal=5", f"/alamat/{unclear}" if unclear else "/alamat",
        "/masalah", *(f"/masalah/{s}" for s in ("senyap", "gagal", "jauh", "ditolak", "ditahan", "ambil-lewat")),
        "/impor", f"/impor/{run_id}", "/penyortiran", "/pesan", "/setoran-cod", "/setoran-cod/setoran",
        "/kartu-lama", "/tugas", "/akses-data",
        "/api/v1/dashboard", f"/api/v1/tracking?q={delivered.nomor_blanko}", "/api/v1/tracking/problems",
        "/api/v1/manifests", f"/api/v1/manifests/{manifest.id}", "/api/v1/returns/report",
        "/api/v1/returns/candidates", f"/api/v1/cards/{delivered.nomor_blanko}",
    ]
    officer_pages = ["/kelurahan", f"/kelurahan/berkas/{batch.id}", f"/kelurahan/kartu/{item_id}",
                     "/kelurahan/pengingat", "/kelurahan/kartu.csv", "/api/v1/kelurahan/cards",
                     "/api/v1/kelurahan/batches"]
    out: list[tuple[str, str, Callable[[Any], Any]]] = []
    out += [("staff", f"GET {p}", lambda c, p=p: c.get(p)) for p in staff_pages]
    out += [("officer:" + officer, f"GET {p}", lambda c, p=p: c.get(p)) for p in officer_pages]
    out.append(("citizen", "GET /cek-status", lambda c: c.get("/cek-status")))
    out.append(("citizen", "POST /cek-status (NIK + resi)", lambda c: c.post("/cek-status", data={
        "nik": delivered.nik, "nomor_resi": delivered.tracking_number})))
    out.append(("courier", f"POST webhook, 1 event ({events[0]['status']})",
                lambda c: signed_post(c, f"plan_single_{stamp}", single)))
    out.append(("courier", f"POST webhook, {len(fresh) - 1} events ("
                + "/".join(sorted({e["status"] for e in events[1:]})) + ")",
                lambda c: signed_post(c, f"plan_batch_{stamp}", many)))
    return out


SCAN = re.compile(r"(Parallel )?(Seq|Index Only|Index|Bitmap Heap) Scan (using \S+ )?on (\w+)")


def explain_all(app: Any, results: Results) -> list[dict[str, Any]]:
    global _capturing, _where
    requests = plan_requests(app)
    clients: dict[str, Any] = {}
    statuses = []
    _capturing = []
    try:
        with app.app_context():
            for who, what, call in requests:
                if who not in clients:
                    if who == "staff":
                        clients[who] = _login(app, STAFF_USER)
                    elif who.startswith("officer:"):
                        clients[who] = _login(app, who.split(":", 1)[1])
                    else:
                        clients[who] = app.test_client()
                _where = f"{who} {what}"
                t0 = time.perf_counter()
                response = call(clients[who])
                statuses.append((who, what, response.status_code, round((time.perf_counter() - t0) * 1000, 1)))
    finally:
        captured, _capturing = _capturing, None
    print(f"\nrequests ({len(statuses)}):")
    for who, what, status, ms in statuses:
        print(f"  {status}  {ms:8.1f} ms  {who:<28} {what}")
    skip = re.compile(r"^\s*(SAVEPOINT|RELEASE|ROLLBACK|COMMIT|BEGIN|SET |SHOW |SELECT pg_advisory|select pg_"
                      r"|select current_schema|select version|show )", re.I)
    seen: set[tuple[str, str]] = set()
    todo = []
    for where, sql, params in captured:
        if skip.match(sql):
            continue
        key = (sql, repr(params))
        if key in seen:
            continue
        seen.add(key)
        todo.append((where, sql, params))
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the {len(todo)} distinct statements ({len(captured)} sent):")
    findings = []
    plans = []
    with psycopg.connect(LIBPQ) as conn:
        for where, sql, params in todo:
            analyzed = True
            try:
                with conn.transaction():
                    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
                    raise _Rollback()
            except _Rollback:
                pass
            except psycopg.Error:
                analyzed = False
                try:
                    with conn.transaction():
                        rows = conn.execute("EXPLAIN " + sql, params).fetchall()
                        raise _Rollback()
                except _Rollback:
                    pass
                except psycopg.Error as exc:
                    rows = [(f"(no plan: {str(exc).splitlines()[0]})",)]
            plan = [r[0] for r in rows]
            execution = next((x for x in plan if x.startswith("Execution Time")), "")
            scans = sorted({(m.group(2), m.group(4)) for line in plan for m in SCAN.finditer(line)})
            seq = sorted({t for kind, t in scans if kind == "Seq"})
            bad = [t for t in seq if t in BIG_TABLES]
            sized = [t for t in seq if t in CARD_SIZED]
            plans.append({"where": where, "sql": _squash(sql), "execution": execution, "analyzed": analyzed,
                          "seq_scans": seq, "scans": [f"{k} {t}" for k, t in scans], "plan": plan})
            print(f"  {execution.removeprefix('Execution Time: ') or ('(plan only)' if not analyzed else ''):>12}  "
                  f"{where[:46]:<46} {_squash(sql)[:80]}")
            if seq:
                print(f"      seq scans: {', '.join(seq)}")
            if bad:
                findings.append({"where": where, "sql": _squash(sql), "plan": plan, "tables": bad})
                print(f"    ** Seq Scan on {', '.join(bad)}:\n" + "\n".join(f"      {x}" for x in plan))
            elif sized:
                print(f"    (card-sized) Seq Scan on {', '.join(sized)}:\n" + "\n".join(f"      {x}" for x in plan))
    print(f"\nSeq Scan on {' / '.join(BIG_TABLES)} in request statements: {len(findings)}")
    print("Seq Scan on card-sized tables (" + ", ".join(CARD_SIZED) + "): "
          + str(sum(1 for p in plans if set(p["seq_scans"]) & set(CARD_SIZED))) + " statements")
    others = Counter(t for p in plans for t in p["seq_scans"] if t not in BIG_TABLES)
    print("other tables scanned sequentially (statements): " + (", ".join(f"{t} {n}" for t, n in
                                                                         others.most_common()) or "none"))
    results.info["plans"] = plans
    results.info["requests"] = [{"who": w, "what": x, "status": s, "ms": ms} for w, x, s, ms in statuses]
    results.info["seq_scan_findings"] = findings
    return findings


class _Rollback(Exception):
    """Leaves a savepoint by rolling it back (nothing an EXPLAIN ANALYZE wrote stays)."""


def _squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def table_sizes() -> dict[str, Any]:
    eng = sa.create_engine(URL)
    with eng.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace "
            "ORDER BY pg_total_relation_size(c.oid) DESC LIMIT 12")).all()
    eng.dispose()
    return {r[0]: {"rows": r[1], "size": r[2]} for r in rows}


# --- summary ------------------------------------------------------------------------------------------------


def summary(results: Results) -> None:
    print(f"\n{'stage':<58} {'wall s':>8} {'CPU s':>8} {'peak MiB':>9} {'base wall':>10} {'base CPU':>9} "
          f"{'ratio wall':>10} {'ratio CPU':>9}")
    for r in results.stages:
        bw, bc = r.get("baseline_wall_s"), r.get("baseline_cpu_s")
        rw = f"{r['wall_s'] / bw:10.2f}" if bw else f"{'-':>10}"
        rc = f"{r['cpu_s'] / bc:9.2f}" if bc else f"{'-':>9}"
        print(f"{r['stage'][:58]:<58} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {r['peak_rss_mib']:9.0f} "
              f"{(f'{bw:10.1f}' if bw is not None else f'{chr(45):>10}')} "
              f"{(f'{bc:9.1f}' if bc is not None else f'{chr(45):>9}')} {rw} {rc}")
    for r in results.stages:
        if r.get("baseline"):
            print(f"  baseline of {r['stage'].split(':')[0]}: {r['baseline']}")


def run(cards: int, *, schema: str = SCHEMA, keep: bool = False, reuse: bool = False, json_path: str | None = None,
        baselines: bool = True, runs: int = 0) -> Results:
    """The whole benchmark; the figures and plans (also written to `json_path`)."""
    use_schema(schema)
    work = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    instance = work / "instance"
    results = Results()
    results.info.update(date=dt.date.today().isoformat(), cards=None if reuse else cards, schema=SCHEMA,
                        load_average_start=load_average(), cpus=os.cpu_count())
    print(f"date {results.info['date']}, {'the kept schema' if reuse else f'{cards:,} cards'}, PostgreSQL schema "
          f"{SCHEMA}, load average "
          f"{load_average()}", flush=True)
    app = None
    try:
        if not reuse:
            fresh_schema()
        app = make_app(instance)
        install_capture(app)
        with app.app_context(), unit_of_work() as session:
            ensure_office(session, OFFICE)
            if session.scalar(select(User.id).where(User.username == STAFF_USER)) is None:
                create_user(session, STAFF_USER, PASSWORD, Role.STAFF, office_code=OFFICE)
        if not reuse:
            paths = stage_files(results, work, cards, runs or max(1, round(cards / RUN_SIZE)))
            stage_intake(results, paths, instance, app, baselines)
            for path in paths:
                path.unlink()
            stage_manifests(results, app)
            kept = stage_handover(results, app)
            stage_events(results, app, kept)
            stage_returns(results, app)
            data = stage_reconciliation(results, app)
            results.info["states"] = print_states(data)
            assert data["balanced"], "the reconciliation does not balance"
            with results.stage("7. VACUUM ANALYZE (as autovacuum would), before the plans"):
                maintenance("VACUUM ANALYZE")
        else:
            with app.app_context(), unit_of_work() as session:
                data = reconciliation(session, ensure_office(session, OFFICE))
            results.info["states"] = print_states(data)
        results.info["balanced"] = data["balanced"]
        results.info["tables"] = table_sizes()
        print("\ntables: " + ", ".join(f"{t} {v['rows']:,} rows {v['size']}" for t, v in
                                       results.info["tables"].items()))
        explain_all(app, results)
        if results.stages:
            summary(results)
        results.info["load_average_end"] = load_average()
        print(f"load average at the end {load_average()}")
    finally:
        if app is not None:
            app.extensions["antar.engine"].dispose()
        if json_path:
            Path(json_path).write_text(json.dumps({"info": results.info, "stages": results.stages}, indent=2,
                                                  default=str))
        if not keep and not reuse:
            drop_schema()
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help=f"keep the schema {SCHEMA} afterwards")
    parser.add_argument("--reuse", action="store_true", help=f"skip the stages: plans of the kept schema {SCHEMA}")
    parser.add_argument("--plans-only", action="store_true", help="the same as --reuse")
    parser.add_argument("--schema", default=SCHEMA, help="the PostgreSQL schema (in database test)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="intake in this process, without its two baseline processes (quick checks)")
    parser.add_argument("--print-runs", type=int, default=0,
                        help=f"print-run files the cards come in (default: one per {RUN_SIZE:,} cards)")
    parser.add_argument("--json", help="write the figures and plans to this file")
    args = parser.parse_args()
    run(args.cards, schema=args.schema, keep=args.keep, reuse=args.reuse or args.plans_only, json_path=args.json,
        baselines=not args.no_baselines, runs=args.print_runs)


if __name__ == "__main__":
    main()
