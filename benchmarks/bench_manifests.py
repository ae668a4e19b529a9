"""Manifest benchmark: building (and finalizing) manifests for every ready card against a bare SELECT of them.

Set-up (not timed): a synthetic print run of --cards rows is imported with the real intake, so the cards are
what a real office has (normalized addresses across every kelurahan; a few are unclear, duplicate or
withdrawn and so not ready).

Baseline, in the same run on the same database: a bare `SELECT` of the ready cards, fetching the columns the
build reads (id, kelurahan, kode pos, RW, RT, street, location, name). Measured: `build_manifests(...,
finalize=True)` in one transaction and its commit: planning by post office and kecamatan, round ordering,
manifests, items with S10 numbers, one state change and one history row per card, manifest events.

    .venv/bin/python benchmarks/bench_manifests.py [--cards 132289] [--backend sqlite|postgresql] [--repeat 3]
        [--memory]

`--memory` also builds once more in a process of its own and reports its RSS just before the build (start-up, the
app and the region data loaded) and its peak during the build: what the build itself holds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.cards import Actor, Card, CardState  # noqa: E402
from app.db import make_engine, unit_of_work  # noqa: E402
from app.demo.synthetic import generate_print_run  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.offices import ensure_office  # noqa: E402
from benchmarks.bench_intake import fresh_url  # noqa: E402
from manifests import service as batching  # noqa: E402
from manifests.intake import service  # noqa: E402
from manifests.service import TrackingRange  # noqa: E402

OFFICE = "32.16"


def bare_select(url: str) -> tuple[float, int]:
    engine = make_engine(url)
    t0 = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Card.id, Card.kelurahan_code, Card.kode_pos, Card.rw, Card.rt, Card.street, Card.lat, Card.lng,
                      Card.nama).where(Card.state == CardState.READY, Card.kelurahan_code.is_not(None))).all()
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed, len(rows)


def build(url: str) -> tuple[float, int, int]:
    app = create_app({"DATABASE_URL": url, "ANTAR_OFFICE": OFFICE, "SECRET_KEY": "bench"})
    with app.app_context():
        t0 = time.perf_counter()
        with unit_of_work() as session:
            made = batching.build_manifests(session, ensure_office(session, OFFICE), Actor("bench"), finalize=True,
                                            tracking=TrackingRange("RB", 10000000, 19999999), cap=500)
            counts = len(made), sum(m.item_count for m in made)
        elapsed = time.perf_counter() - t0
    app.extensions["antar.engine"].dispose()
    return elapsed, *counts


MEMORY = """
import os, sys, threading
sys.path.insert(0, {root!r})
from benchmarks.bench_manifests import build, create_app, OFFICE
create_app({{"DATABASE_URL": {url!r}, "ANTAR_OFFICE": OFFICE, "SECRET_KEY": "bench"}})
from app.regions import office_regions
from manifests.postoffice import post_offices
office_regions(OFFICE), post_offices(OFFICE)
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
peak, done = [rss()], threading.Event()
def sample():
    while not done.wait(0.01):
        peak.append(rss())
before = peak[0]
threading.Thread(target=sample, daemon=True).start()
_, _, items = build({url!r})
done.set()
print(before, max(peak), items)
"""


def build_memory(url: str) -> dict[str, float]:
    """RSS (MiB) of a process just before the build (start-up, app and region data loaded) and its peak during the
    build (sampled every 10 ms from /proc/self/statm; a peak reached before the build does not hide this one)."""
    import subprocess

    out = subprocess.run([sys.executable, "-c", MEMORY.format(root=str(ROOT), url=url)], check=True,
                         capture_output=True, text=True).stdout.split()
    before, after, items = int(out[0]) / 2**20, int(out[1]) / 2**20, int(out[2])
    return {"items": items, "rss_before_mib": round(before), "rss_peak_mib": round(after),
            "build_mib": round(after - before)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=132_289)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also the build's peak RSS, in a process of its own")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-manifests-"))
    try:
        csv_path = work / "run.csv"
        generate_print_run(csv_path, office_code=OFFICE, cards=args.cards, seed=4)
        results = []
        template_url, template_drop = fresh_url(args.backend, work)
        upgrade(make_engine(template_url))
        app = create_app({"DATABASE_URL": template_url, "ANTAR_OFFICE": OFFICE, "SECRET_KEY": "bench"})
        with app.app_context(), unit_of_work() as session:
            service.import_print_run(session, str(csv_path), office=ensure_office(session, OFFICE),
                                     actor=Actor("bench"))
        app.extensions["antar.engine"].dispose()
        for i in range(args.repeat):
            # Each round starts from the same imported state: a copy of the file on SQLite; on PostgreSQL
            # a fresh import into a new schema would dominate the run, so the build is undone by a rollback copy.
            if args.backend == "sqlite":
                path = work / f"round{i}.sqlite"
                shutil.copy(template_url.removeprefix("sqlite:///"), path)
                url, drop = f"sqlite:///{path}", (lambda: None)
            else:
                url, drop = _pg_clone(template_url, work)
            select_s, ready = bare_select(url)
            build_s, manifests, items = build(url)
            assert items == ready, (items, ready)
            results.append({"select_s": select_s, "build_s": build_s, "ratio": build_s / select_s,
                            "ready_cards": ready, "manifests": manifests})
            drop()
        memory = None
        if args.memory:
            if args.backend == "sqlite":
                path = work / "memory.sqlite"
                shutil.copy(template_url.removeprefix("sqlite:///"), path)
                url, drop = f"sqlite:///{path}", (lambda: None)
            else:
                url, drop = _pg_clone(template_url, work)
            memory = build_memory(url)
            drop()
        template_drop()
        med = statistics.median(r["ratio"] for r in results)
        print(json.dumps({"backend": args.backend, "cards_printed": args.cards, "rounds": results,
                          "median_ratio": round(med, 1)} | ({"memory": memory} if memory else {}), indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pg_clone(template_url: str, work: Path) -> tuple[str, callable]:
    """A copy of the template schema's tables in a new schema (CREATE TABLE ... AS plus the indexes the build uses)."""
    url, drop = fresh_url("postgresql", work)
    src = template_url.split("search_path%3D")[1]
    dst = url.split("search_path%3D")[1]
    engine = sa.create_engine(template_url.split("?")[0], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{dst}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{dst}"')
    engine.dispose()
    upgrade(make_engine(url))
    engine = sa.create_engine(template_url.split("?")[0], isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        tables = [t for t in sa.inspect(conn).get_table_names(schema=src) if t != "alembic_version"]
        order = ["office", "user_account", "print_run", "card", "card_history", "intake_rejection", "withdrawal"]
        for t in sorted(tables, key=lambda t: order.index(t) if t in order else len(order)):
            conn.exec_driver_sql(f'INSERT INTO "{dst}"."{t}" SELECT * FROM "{src}"."{t}"')
        for t in tables:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('\"{dst}\".\"{t}\"', 'id'), "
                f"coalesce((SELECT max(id) FROM \"{dst}\".\"{t}\"), 1))"
                if _has_id(conn, src, t) else "SELECT 1")
        conn.exec_driver_sql(f'ANALYZE "{dst}"."card"')
    engine.dispose()
    return url, drop


def _has_id(conn: sa.Connection, schema: str, table: str) -> bool:
    return any(c["name"] == "id" for c in sa.inspect(conn).get_columns(table, schema=schema))


if __name__ == "__main__":
    main()
