"""Intake benchmark: `antar import` of a 132,289-row print run against a bare load of the same file.

Baseline, measured in the same run on the same kind of database: pandas reads the file in chunks
(dtype=str) and SQLAlchemy Core bulk-inserts every row into a plain table with the same columns.
Antar does that plus validation (NIK, dates, sex), region lookup, duplicate detection, withdrawal
checks and one history row per card, all in one transaction.

Peak memory: a separate process imports a 1,000,000-row file; its maximum RSS is reported, beside
that of a process that only imports the modules (the floor).

    .venv/bin/python benchmarks/bench_intake.py [--cards 132289] [--memory-rows 1000000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.cards import Actor  # noqa: E402
from app.db import make_engine, unit_of_work  # noqa: E402
from app.demo.synthetic import generate_print_run  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.offices import ensure_office  # noqa: E402
from manifests.intake import service  # noqa: E402

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def fresh_url(backend: str, work: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        path = work / f"{uuid.uuid4().hex}.sqlite"
        return f"sqlite:///{path}", lambda: None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')

    return f"{PG}?options=-csearch_path%3D{schema}", drop


def bare_load(csv_path: Path, url: str) -> float:
    engine = make_engine(url)
    meta = sa.MetaData()
    columns = pd.read_csv(csv_path, nrows=0).columns
    table = sa.Table("bare", meta, sa.Column("id", sa.Integer, primary_key=True),
                     *(sa.Column(c, sa.String) for c in columns))
    meta.create_all(engine)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        for chunk in pd.read_csv(csv_path, dtype=str, keep_default_na=False, chunksize=5000):
            conn.execute(table.insert(), chunk.to_dict("records"))
    elapsed = time.perf_counter() - t0
    engine.dispose()
    return elapsed


def antar_import(csv_path: Path, url: str) -> tuple[float, int]:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        with unit_of_work() as s:
            ensure_office(s, "32.16")
        t0 = time.perf_counter()
        with unit_of_work() as s:
            result = service.import_print_run(s, csv_path, office=ensure_office(s, "32.16"),
                                              actor=Actor("benchmark"))
        elapsed = time.perf_counter() - t0
        app.extensions["antar.engine"].dispose()
    return elapsed, result.cards_imported


def peak_rss_mb(code: str) -> float:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])["rss_mb"]


MEMORY_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
from app import create_app
from app.cards import Actor
from app.db import make_engine, unit_of_work
from app.migrate import upgrade
from app.offices import ensure_office
from manifests.intake import service
url = {url!r}
if {run!r}:
    upgrade(make_engine(url))
    app = create_app({{"DATABASE_URL": url, "SECRET_KEY": "bench"}})
    with app.app_context(), unit_of_work() as s:
        r = service.import_print_run(s, {path!r}, office=ensure_office(s, "32.16"), actor=Actor("benchmark"))
        assert r.cards_imported > 0
print(json.dumps({{"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=132_289)
    parser.add_argument("--memory-rows", type=int, default=1_000_000, help="0 to skip the memory run")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        csv_path = work / "run.csv"
        generate_print_run(csv_path, office_code="32.16", cards=args.cards, seed=4)
        rows = sum(1 for _ in open(csv_path, encoding="utf-8")) - 1
        bare, ours = [], []
        for _ in range(args.repeat):
            url, drop = fresh_url(args.backend, work)
            bare.append(bare_load(csv_path, url))
            drop()
            url, drop = fresh_url(args.backend, work)
            t, n = antar_import(csv_path, url)
            ours.append(t)
            drop()
        b, o = min(bare), min(ours)
        print(f"backend={args.backend} rows={rows} cards={n}")
        print(f"bare load (pandas + Core bulk insert): {b:.2f} s  ({rows / b:,.0f} rows/s)")
        print(f"antar import:                          {o:.2f} s  ({rows / o:,.0f} rows/s)")
        print(f"ratio antar/bare: {o / b:.2f}")
        if args.memory_rows:
            big = work / "big.csv"
            generate_print_run(big, office_code="32.16", cards=args.memory_rows, seed=5)
            url, drop = fresh_url(args.backend, work)
            floor = peak_rss_mb(MEMORY_CHILD.format(root=str(ROOT), url=url, run=False, path=str(big)))
            peak = peak_rss_mb(MEMORY_CHILD.format(root=str(ROOT), url=url, run=True, path=str(big)))
            drop()
            size = big.stat().st_size / 2**20
            print(f"peak RSS importing {args.memory_rows:,} rows ({size:.0f} MiB file): {peak:.0f} MiB "
                  f"(modules alone: {floor:.0f} MiB)")


if __name__ == "__main__":
    main()
