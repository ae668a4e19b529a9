"""Dashboard benchmark: the dashboard's server time at 1,000,000 cards on PostgreSQL, against counting the cards.

Set-up (timed per stage, not part of the figures): a schema of its own (`bench_dashboard`, dropped and re-created),
migrated to head; one office (32.16), four print runs, a staff user, the kelurahan boundaries (when the dev file is
there, for the map). The cards are written with set-based SQL *through the real triggers* of migration 0009, so
`card_flow` is made the way production makes it: an `INSERT ... SELECT FROM generate_series` per 100,000 cards, then
the delivery cycle played as bulk UPDATEs of at most 100,000 cards each over ~60 simulated days (on manifest, with the
courier, in transit, then 97.8% delivered and 2.2% brought back with a courier reason, back at the office, to the
kelurahan and handed over; a few hundred unclear, duplicate, withdrawn and damaged), on two connections. A reader's
fold runs whenever 20,000 deltas wait (`tally.fold_if_needed`), and once at the end; VACUUM card after each bulk pass
(as autovacuum would between days), VACUUM ANALYZE at the end. About 3.5 minutes of loading, 6 in all.

Measured, warm, in the same run on the same database (median and p95 of --runs):

- the dashboard's figures: `dashboard.queries.figures(session, office, Filters())`, a fresh session each time;
- the dashboard page: GET /dasbor through Flask's test client, logged in as staff (the whole server side: figures,
  print runs, map geometry, SVG charts and map, template), and the same filtered by print run and by a date;
- baseline: `app.report.reconciliation(session, office)`, the same counts made by scanning the cards (GROUP BY).

Then EXPLAIN (ANALYZE, BUFFERS) of every SELECT three page requests send (any "Seq Scan on card" printed in full) and
a cProfile of five warm /dasbor requests, split by part. Target: page median under 300 ms.

    .venv/bin/python benchmarks/bench_dashboard.py [--cards 1000000] [--runs 20] [--keep] [--reuse]
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import hashlib
import math
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app, tally  # noqa: E402
from app.courier.tracking import RETURN_REASONS  # noqa: E402
from app.dates import today_local  # noqa: E402
from app.db import make_engine, unit_of_work  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import Office, Role  # noqa: E402
from app.offices import ensure_office  # noqa: E402
from app.regions import office_regions  # noqa: E402
from app.report import reconciliation  # noqa: E402
from app.users import create_user  # noqa: E402
from dashboard.queries import DAILY, Filters, figures  # noqa: E402
from manifests.intake.models import PrintRun  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_dashboard"
URL = f"{PG}?options=-csearch_path%3D{SCHEMA}"
OFFICE = "32.16"
GEO_FILE = ROOT.parent / "shared" / "data" / "wilayah" / "bekasi_kelurahan.geojson"
PRINT_RUNS = 4
CHUNK = 100_000
USER, PASSWORD = "bench-staf", "bench-dasbor-2026"
TARGET_MS = 300.0
# The courier's return reasons, weighted the way the demo's returns fall (moved and bad address most often).
REASON_WEIGHTS = {"MOVED": 4, "BAD_ADDRESS": 3, "UNCLAIMED": 2, "DECEASED": 1, "REFUSED": 1, "DEMOLISHED_AREA": 1,
                  "DAMAGED": 1}


# --- the simulated life of every card, as SQL expressions of its id ------------------------------------------------

def _h(salt: int, mod: int) -> str:
    """A deterministic pseudo-random 0..mod-1 per card (hashint4 mixes well; the salt makes draws independent)."""
    return f"((hashint4(id # {salt}) & 2147483647) % {mod})"


class Life:
    """Days (relative to today, WIB) of each step of a card, from its id: print run r is imported on day
    -60 + 14 (r - 1); a card goes on a manifest 1-20 days later, to the courier 1-2 days after, in transit the next
    day, delivered or brought back 0-4 days after; a returned card is back at the office 2-5 days later and goes
    to its kelurahan with the next weekly batch (at least 3 days later; the batch is sent the next day and received
    the day after, as a batch: one day for all its cards), then is handed over within 10 days. A step happens only
    when its day is today or before, so the last print run still has cards ready, on manifests and at the courier."""

    def __init__(self, per_run: int) -> None:
        self.run = f"((id - 1) / {per_run} + 1)"
        self.imported = f"(-60 + 14 * ({self.run} - 1))"
        self.fate = _h(2, 10_000)  # < 3 unclear, < 5 duplicate, < 8 withdrawn, < 10 damaged (per 10,000)
        self.returned_fate = _h(3, 1_000)  # < 22: the courier brings it back (2.2%)
        self.manifest = f"({self.imported} + 1 + {_h(11, 20)})"
        self.courier = f"({self.manifest} + 1 + {_h(12, 2)})"
        self.transit = f"({self.courier} + 1)"
        self.final = f"({self.transit} + {_h(13, 5)})"
        self.back = f"({self.final} + 2 + {_h(14, 4)})"
        # Kelurahan batches go out weekly (days divisible by 7), from the day the card came back or (withdrawn, no
        # reason) from its import.
        ready = f"(CASE WHEN return_reason IS NULL THEN {self.imported} ELSE {self.back} END + 3)"
        self.batch = f"(7 * ceil({ready} / 7.0)::int)"
        self.disposition = f"({self.batch} + 3 + {_h(15, 10)})"

    @staticmethod
    def at(day: str, hour: int) -> str:
        """The moment of a step: its day at a fixed hour per step (WIB morning to afternoon), a few minutes apart."""
        return (f"(date_trunc('day', now()) + ({day}) * interval '1 day' + interval '{hour} hours'"
                f" + {_h(16, 240)} * interval '1 minute')")


def insert_sql(life: Life) -> str:
    # The draws are made once per card in a subquery (OFFSET 0 keeps it from being flattened into the expressions).
    draws = (f"SELECT id, {life.run} AS run, {life.fate} AS fate, 1 + floor(187 * power({_h(1, 100_000)} / 100000.0, "
             f"1.3))::int AS kel, {life.at(life.imported, 1)} AS at, {life.imported} AS imported "
             "FROM generate_series(CAST(:first AS int), CAST(:last AS int)) AS g(id) OFFSET 0")
    return f"""
        INSERT INTO card (id, office_id, print_run_id, line, nomor_blanko, nik, nama, tempat_lahir, tanggal_lahir,
            jenis_kelamin, alamat, rt, rw, kelurahan_raw, kecamatan_raw, kabupaten_kota_raw, provinsi_raw,
            tanggal_cetak, kelurahan_code, address_status, address_flags, street, kode_pos, state, state_changed_at)
        SELECT id, :office, (CAST(:runs AS int[]))[run], id - (run - 1) * :per_run + 1,
            'BLK' || lpad(id::text, 10, '0'),
            '3216' || lpad({_h(5, 100_000_000)}::text, 8, '0') || lpad((id % 10000)::text, 4, '0'),
            'WARGA NOMOR ' || id, 'BEKASI', date '1950-01-01' + {_h(7, 25_000)},
            CASE WHEN id % 2 = 0 THEN 'P' ELSE 'L' END,
            'JL. CONTOH NO. ' || (id % 200 + 1), lpad((id % 12 + 1)::text, 3, '0'), lpad((id % 9 + 1)::text, 3, '0'),
            'KELURAHAN', 'KECAMATAN', 'KAB. BEKASI', 'JAWA BARAT', current_date + imported - 2,
            CASE WHEN fate < 3 THEN NULL ELSE (CAST(:kel AS text[]))[kel] END,
            CASE WHEN fate < 3 THEN 'UNCLEAR' ELSE 'CLEAR' END, '', 'JL. CONTOH NO. ' || (id % 200 + 1),
            CASE WHEN fate < 3 THEN NULL ELSE (CAST(:kode_pos AS text[]))[kel] END,
            CASE WHEN fate < 3 THEN 'ADDRESS_UNCLEAR' WHEN fate < 5 THEN 'DUPLICATE' WHEN fate < 8 THEN 'WITHDRAWN'
                 ELSE 'READY' END, at
        FROM ({draws}) AS d"""


def steps(life: Life) -> list[tuple[str, str, str, bool]]:
    """(name, SET, WHERE, bulk) of each step of the delivery cycle, in order. A bulk step moves nearly every card
    and runs in statements of CHUNK ids; the others move a few thousand and are one statement each (by index)."""
    reasons = [r for r, w in REASON_WEIGHTS.items() for _ in range(w)]
    assert set(reasons) <= set(RETURN_REASONS)
    reason_array = "ARRAY[" + ", ".join(f"'{r}'" for r in reasons) + "]"
    back = f"{life.returned_fate} < 22"
    return [
        ("DAMAGED", f"state = 'DAMAGED', state_changed_at = {life.at(life.imported + ' + 1', 2)}",
         f"state = 'READY' AND {life.fate} BETWEEN 8 AND 9", True),
        ("ON_MANIFEST", f"state = 'ON_MANIFEST', state_changed_at = {life.at(life.manifest, 2)}",
         f"state = 'READY' AND {life.manifest} <= 0", True),
        ("WITH_COURIER", f"state = 'WITH_COURIER', state_changed_at = {life.at(life.courier, 3)}",
         f"state = 'ON_MANIFEST' AND {life.courier} <= 0", True),
        ("IN_TRANSIT", f"state = 'IN_TRANSIT', state_changed_at = {life.at(life.transit, 4)}",
         f"state = 'WITH_COURIER' AND {life.transit} <= 0", True),
        ("DELIVERED / RETURNING",
         f"state = CASE WHEN {back} THEN 'RETURNING' ELSE 'DELIVERED' END, "
         f"return_reason = CASE WHEN {back} THEN ({reason_array})[1 + {_h(4, len(reasons))}] END, "
         f"state_changed_at = {life.at(life.final, 5)}",
         f"state = 'IN_TRANSIT' AND {life.final} <= 0", True),
        ("RETURNED", f"state = 'RETURNED', state_changed_at = {life.at(life.back, 6)}",
         f"state = 'RETURNING' AND {life.back} <= 0", False),
        ("BATCHED", f"state = 'BATCHED', state_changed_at = {life.at(life.batch, 7)}",
         f"state IN ('RETURNED', 'WITHDRAWN') AND {life.batch} <= 0", False),
        ("SENT_TO_KELURAHAN", f"state = 'SENT_TO_KELURAHAN', state_changed_at = {life.at(life.batch + ' + 1', 7)}",
         f"state = 'BATCHED' AND {life.batch} + 1 <= 0", False),
        ("AT_KELURAHAN", f"state = 'AT_KELURAHAN', state_changed_at = {life.at(life.batch + ' + 2', 8)}",
         f"state = 'SENT_TO_KELURAHAN' AND {life.batch} + 2 <= 0", False),
        ("HANDED / DECEASED / NOT_COLLECTED",
         "state = CASE WHEN return_reason = 'DECEASED' THEN 'HOLDER_DECEASED' "
         f"WHEN {_h(17, 10)} = 0 THEN 'NOT_COLLECTED' ELSE 'HANDED_TO_HOLDER' END, "
         f"state_changed_at = {life.at(life.disposition, 9)}",
         f"state = 'AT_KELURAHAN' AND {life.disposition} <= 0", False),
    ]


# --- set-up -------------------------------------------------------------------------------------------------------

# The loader's own connections only (the measured requests run with the server's defaults): sorts of the triggers'
# transition tables in memory, and no JIT, which the triggers' join estimates would otherwise compile for seconds
# per 100,000-row statement (see BENCHMARKS.md). The triggers themselves run unchanged.
LOADER_SETTINGS = ("SET jit = off", "SET work_mem = '64MB'")
LOADERS = 2  # statements on disjoint ids run on two connections (two cores)


class Stages:
    """Prints each stage's time as it ends."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.total = 0.0

    def done(self, what: str) -> None:
        elapsed = time.perf_counter() - self.t0
        self.total += elapsed
        print(f"  {what:<52} {elapsed:7.1f} s", flush=True)
        self.t0 = time.perf_counter()


def fresh_schema(pg: str = PG, schema: str = SCHEMA, url: str = URL) -> None:
    """Schema `schema` dropped, created again and migrated to head (also bench_scale.py's)."""
    drop_schema(pg, schema)
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def drop_schema(pg: str = PG, schema: str = SCHEMA) -> None:
    admin = sa.create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


def setup(app: Any, cards: int, per_run: int) -> dict[str, Any]:
    """The office, its print runs, a staff user and the kelurahan boundaries; the parameters of the card insert."""
    regions = office_regions(OFFICE)
    codes = sorted(regions.kelurahan)
    with app.app_context():
        with unit_of_work() as session:
            office = ensure_office(session, OFFICE)
            runs = []
            for r in range(1, PRINT_RUNS + 1):
                n = min(per_run, cards - (r - 1) * per_run)
                run = PrintRun(office_id=office.id, filename=f"cetak-bekasi-{r}.csv",
                               sha256=hashlib.sha256(f"bench-{r}".encode()).hexdigest(),
                               imported_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=60 - 14 * (r - 1)),
                               imported_by="bench", rows_read=n, cards_imported=n)
                session.add(run)
                runs.append(run)
            session.flush()
            create_user(session, USER, PASSWORD, Role.STAFF, office_code=OFFICE)
            params = {"office": office.id, "runs": [r.id for r in runs], "per_run": per_run, "kel": codes,
                      "kode_pos": [regions.kelurahan[c].kode_pos or "" for c in codes]}
        params["geo"] = None
        if GEO_FILE.exists():
            from address.geocode import load_geo_file

            with unit_of_work() as session:
                params["geo"] = load_geo_file(session, GEO_FILE, only=(OFFICE,)).polygons
    return params


def load(app: Any, cards: int) -> None:
    """Set-up, then the cards and their delivery cycle through the triggers, a reader's fold as deltas pile up."""
    stage = Stages()
    fresh_schema()
    stage.done("schema created and migrated")
    per_run = math.ceil(cards / PRINT_RUNS)
    params = setup(app, cards, per_run)
    geo = params.pop("geo")
    stage.done(f"office, {PRINT_RUNS} print runs, user, " +
               (f"{geo} kelurahan boundaries" if geo is not None else f"no {GEO_FILE} (no map)"))
    engine = sa.create_engine(URL, pool_size=LOADERS)
    maintenance = sa.create_engine(URL, isolation_level="AUTOCOMMIT")
    life = Life(per_run)
    chunks = [(a, min(a + CHUNK - 1, cards)) for a in range(1, cards + 1, CHUNK)]
    insert = text(insert_sql(life))
    _parallel(engine, [(insert, {**params, "first": a, "last": b}) for a, b in chunks])
    _write(engine, text(f"SELECT setval(pg_get_serial_sequence('card', 'id'), {cards})"), {})
    stage.done(f"insert {cards:,} cards ({len(chunks)} statements)")
    for name, assign, where, bulk in steps(life):
        if bulk:
            sql = text(f"UPDATE card SET {assign} WHERE id BETWEEN :first AND :last AND {where}")
            moved = _parallel(engine, [(sql, {"first": a, "last": b}) for a, b in chunks])
            with maintenance.connect() as conn:
                conn.exec_driver_sql("VACUUM card")  # as autovacuum would between days: old versions' space reused
        else:
            moved = _write(engine, text(f"UPDATE card SET {assign} WHERE office_id = :office AND {where}"),
                           {"office": params["office"]})
        stage.done(f"{name}: {moved:,} cards" + (" (and VACUUM card)" if bulk else ""))
    with Session(engine) as session:
        folded = tally.fold(session)
        session.commit()
    stage.done(f"last fold ({folded:,} deltas)")
    with maintenance.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE card, card_flow, card_flow_delta, region_geo, print_run")
    stage.done("VACUUM ANALYZE")
    engine.dispose()
    maintenance.dispose()
    print(f"  {'load in all':<52} {stage.total:7.1f} s", flush=True)


def _parallel(engine: sa.Engine, statements: list[tuple[sa.TextClause, dict[str, Any]]]) -> int:
    with ThreadPoolExecutor(LOADERS) as pool:
        return sum(pool.map(lambda s: _write(engine, *s), statements))


def _write(engine: sa.Engine, statement: sa.TextClause, params: dict[str, Any]) -> int:
    """One statement in its own transaction (as a writer would), then a reader's fold when many deltas wait."""
    with Session(engine) as session:
        for setting in LOADER_SETTINGS:
            session.execute(text(setting))
        n = session.execute(statement, params).rowcount
        session.commit()
        tally.fold_if_needed(session)
    return n


# --- measuring ----------------------------------------------------------------------------------------------------

def measure(fn: Callable[[], Any], runs: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def context(app: Any) -> dict[str, Any]:
    with app.app_context(), unit_of_work() as session:
        office = ensure_office(session, OFFICE)
        rows = dict(session.execute(text(
            "SELECT 'card', count(*) FROM card UNION ALL SELECT 'card_flow', count(*) FROM card_flow "
            "UNION ALL SELECT 'card_flow_delta', count(*) FROM card_flow_delta "
            "UNION ALL SELECT 'region_geo', count(*) FROM region_geo")).all())
        sizes = dict(session.execute(text(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class "
            "WHERE relname IN ('card', 'card_flow') AND relnamespace = current_schema()::regnamespace")).all())
        runs = session.scalars(sa.select(PrintRun.id).where(PrintRun.office_id == office.id)
                               .order_by(PrintRun.id)).all()
        differences = tally.differences(session, office.id)
        fig = figures(session, office, Filters())
        rec = reconciliation(session, office)
        states = {k: v for k, v in fig["by_state"].items() if v}
    return {"office_id": office.id, "rows": rows, "sizes": sizes, "runs": runs, "differences": differences,
            "printed": fig["printed"], "reconciled": rec["printed"], "states": states,
            "delivery_rate": fig["delivery_rate_pct"], "return_rate": fig["return_rate_pct"],
            "agree": fig["by_state"] == rec["by_state"]}


def logged_in(app: Any) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"username": USER, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def get(client: Any, path: str) -> Callable[[], None]:
    def run() -> None:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20, help="measured runs of each figure (after 3 warm-up runs)")
    parser.add_argument("--keep", action="store_true", help=f"keep the schema {SCHEMA} afterwards")
    parser.add_argument("--reuse", action="store_true", help=f"measure the kept schema {SCHEMA} as it is (no load)")
    args = parser.parse_args()
    os.environ["ANTAR_INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-dashboard-")
    app = create_app({"DATABASE_URL": URL, "ANTAR_OFFICE": OFFICE, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "ANTAR_PASSWORD_HASH": "pbkdf2:sha256:1000"})
    print(f"date {dt.date.today().isoformat()}, PostgreSQL schema {SCHEMA}, load average "
          f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    try:
        if not args.reuse:
            print(f"loading {args.cards:,} cards:", flush=True)
            load(app, args.cards)
        ctx = context(app)
        report_context(ctx)
        results = run_measurements(app, ctx, args.runs)
        report_results(results)
        explain_page(app, ctx)
        profile_page(app)
        print(f"load average at the end {'/'.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        app.extensions["antar.engine"].dispose()
        if not args.keep and not args.reuse:
            drop_schema()


def report_context(ctx: dict[str, Any]) -> None:
    print(f"\ncards {ctx['rows']['card']:,} ({ctx['sizes'].get('card')}), card_flow {ctx['rows']['card_flow']:,} rows "
          f"({ctx['sizes'].get('card_flow')}), card_flow_delta {ctx['rows']['card_flow_delta']:,}, "
          f"region_geo {ctx['rows']['region_geo']}")
    print(f"dashboard printed {ctx['printed']:,}, reconciliation printed {ctx['reconciled']:,}, per state equal: "
          f"{ctx['agree']}, tally.differences: {len(ctx['differences'])}; delivered {ctx['delivery_rate']}% and "
          f"returned {ctx['return_rate']}% of sent")
    print("states: " + ", ".join(f"{s} {n:,}" for s, n in ctx["states"].items()))
    assert ctx["printed"] == ctx["reconciled"] and ctx["agree"] and not ctx["differences"], "the figures disagree"


def run_measurements(app: Any, ctx: dict[str, Any], runs: int) -> list[tuple[str, list[float]]]:
    office_id, run_id = ctx["office_id"], ctx["runs"][-1]
    until = (today_local() - dt.timedelta(days=25)).isoformat()

    def fig() -> None:
        with unit_of_work() as session:
            figures(session, session.get(Office, office_id), Filters())

    def baseline() -> None:
        with unit_of_work() as session:
            reconciliation(session, session.get(Office, office_id))

    def bare_count() -> None:
        with unit_of_work() as session:
            session.execute(text("SELECT kelurahan_code, state, count(*) FROM card WHERE office_id = :o "
                                 "GROUP BY kelurahan_code, state"), {"o": office_id}).all()

    def counts() -> None:
        with unit_of_work() as session:
            tally.counts(session, office_id)

    def flows() -> None:
        with unit_of_work() as session:
            tally.day_flows(session, office_id, [s for states in DAILY.values() for s in states])

    results = []
    with app.app_context():
        client = logged_in(app)
        for what, fn in (
            ("baseline: reconciliation() (GROUP BY over the cards)", baseline),
            ("  its bare SQL: SELECT kelurahan, state, count(*) GROUP BY", bare_count),
            ("dashboard figures: figures(Filters())", fig),
            ("  of which tally.counts() (SQL and Count rows)", counts),
            ("  of which tally.day_flows() as _daily calls it", flows),
            ("dashboard page: GET /dasbor", get(client, "/dasbor")),
            (f"page, one print run: GET /dasbor?cetakan={run_id}", get(client, f"/dasbor?cetakan={run_id}")),
            (f"page, as at a day: GET /dasbor?sampai={until}", get(client, f"/dasbor?sampai={until}")),
        ):
            results.append((what, measure(fn, runs)))
            print(f"  measured: {what}", flush=True)
    return results


def report_results(results: list[tuple[str, list[float]]]) -> None:
    base = statistics.median(results[0][1])
    print(f"\n{'what':<58} {'median ms':>10} {'p95 ms':>9} {'ratio to baseline':>18}")
    for what, times in results:
        med = statistics.median(times)
        print(f"{what:<58} {med:10.1f} {p95(times):9.1f} {med / base:18.3f}")
    page = statistics.median(next(t for w, t in results if w.startswith("dashboard page")))
    print(f"\ntarget: page median < {TARGET_MS:.0f} ms: {'PASS' if page < TARGET_MS else 'FAIL'} ({page:.1f} ms)")


# --- plans and profile --------------------------------------------------------------------------------------------

SEQ_SCAN_ON_CARD = re.compile(r"Seq Scan on card\b")


def explain_page(app: Any, ctx: dict[str, Any]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT three page requests send (captured as they were sent)."""
    engine = app.extensions["antar.engine"]
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    until = (today_local() - dt.timedelta(days=25)).isoformat()
    with app.app_context():
        client = logged_in(app)
        event.listen(engine, "before_cursor_execute", capture)
        try:
            for path in ("/dasbor", f"/dasbor?cetakan={ctx['runs'][-1]}", f"/dasbor?sampai={until}"):
                get(client, path)()
        finally:
            event.remove(engine, "before_cursor_execute", capture)
    seen, selects = set(), []
    for statement, parameters in captured:
        key = (statement, repr(parameters))
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and key not in seen:
            seen.add(key)
            selects.append((statement, parameters))
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the {len(selects)} distinct SELECTs of three page requests "
          f"({len(captured)} statements sent):")
    with engine.connect() as conn:
        seq_scans = 0
        for statement, parameters in selects:
            plan = [r[0] for r in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
            execution = next((line for line in plan if line.startswith("Execution Time")), "")
            scans = sorted({m.group(0) for line in plan for m in re.finditer(
                r"(Parallel )?(Seq|Index Only|Index|Bitmap Heap) Scan (using \S+ )?on \w+", line)})
            print(f"  {execution.removeprefix('Execution Time: '):>10}  {_squash(statement)[:70]:<70}  "
                  f"{'; '.join(scans)}")
            if "HAVING sum(n) <> 0" in statement:
                summary = [line for line in plan if not line.lstrip().startswith(("Filter:", "Output"))]
                print("    tally.counts plan (summary):")
                for line in summary[:3] + [x for x in summary[3:] if "Scan" in x or "Buffers" in x][:8] + summary[-2:]:
                    print(f"      {line}")
            if any(SEQ_SCAN_ON_CARD.search(line) for line in plan):
                seq_scans += 1
                print("    ** Seq Scan on card:\n" + "\n".join(f"      {line}" for line in plan))
        conn.rollback()
    print(f"Seq Scan on card in the dashboard's statements: {seq_scans}")


def _squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


PROFILE_PARTS = [
    ("whole request (test client)", "flask/testing.py", "open"),
    ("  view dashboard.routes.home", "dashboard/routes.py", "home"),
    ("    figures()", "dashboard/queries.py", "figures"),
    ("      tally.fold_if_needed", "app/tally.py", "fold_if_needed"),
    ("      tally.counts", "app/tally.py", "counts"),
    ("      tally.flows (via _daily)", "app/tally.py", "flows"),
    ("      _oldest_open (13 index reads)", "dashboard/queries.py", "_oldest_open"),
    ("    print_runs()", "dashboard/queries.py", "print_runs"),
    ("    geo.office_map (geometry, cached)", "dashboard/geo.py", "office_map"),
    ("    _graphics (SVG charts and map)", "dashboard/routes.py", "_graphics"),
    ("      charts.funnel_svg", "dashboard/charts.py", "funnel_svg"),
    ("      charts.bar_chart_svg (2)", "dashboard/charts.py", "bar_chart_svg"),
    ("      charts.daily_chart_svg", "dashboard/charts.py", "daily_chart_svg"),
    ("      geo.map_svg", "dashboard/geo.py", "map_svg"),
    ("    render_template (Jinja)", "flask/templating.py", "render_template"),
    ("every SQL statement: cursor.execute (wait for PostgreSQL)", "sqlalchemy/engine/default.py", "do_execute"),
    ("every fetch of rows", "psycopg/cursor.py", "fetchall"),
]


def profile_page(app: Any, repeat: int = 5) -> None:
    """cProfile over a few warm /dasbor requests: where the server's time goes (per request)."""
    with app.app_context():
        client = logged_in(app)
        page = get(client, "/dasbor")
        page()
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(repeat):
            page()
        profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"\ncProfile of GET /dasbor (mean of {repeat} warm requests; profiling adds overhead):")
    whole = _cumulative(stats, "flask/testing.py", "open") / repeat
    for label, file_part, func in PROFILE_PARTS:
        ms = _cumulative(stats, file_part, func) / repeat
        print(f"  {label:<62} {ms * 1000:8.1f} ms {100 * ms / whole:5.0f}%")
    print("  own time, top 12 functions:")
    top = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:12]
    for (file, line, func), (_cc, calls, own, _cum, _callers) in top:
        where = "/".join(Path(file).parts[-2:]) if file != "~" else ""
        print(f"    {own / repeat * 1000:7.1f} ms  {calls // repeat:>8,} calls  {func} ({where}:{line})")


def _cumulative(stats: pstats.Stats, file_part: str, func: str) -> float:
    return sum(v[3] for (file, _line, name), v in stats.stats.items() if name == func and file_part in file)


if __name__ == "__main__":
    main()
