"""Intake benchmark: `antar import` of the demo's 132,289-card print run against a bare load of the same file.

Both run the way a user runs them, as one process each, start-up included (the interpreter, the imports, the
application), one after the other, alternating, on fresh databases of the same kind:

- baseline: a Python process that reads the file with pandas in chunks of 5,000 (dtype=str) and bulk-inserts every
  row with SQLAlchemy Core into a plain table of the same columns, in one transaction, on a database set up as
  Antar's (SQLite: WAL, synchronous=NORMAL, foreign keys on);
- antar: `antar import FILE`: the same read, plus every row rule (NIK structure, birth date and sex against the NIK,
  dates, names, blanko numbers, COD columns, length limits), address normalization and location, region lookup,
  duplicate prints against the database, active withdrawals, one card row and one history row per card (and the
  card table's triggers: a tally row per card), all in one transaction. The database is migrated beforehand (not
  timed: an office's database exists before its first import).

Reported: wall-clock seconds and CPU seconds (user + system, of the process) of each, best of `--repeat`, and the
ratio antar/baseline of each. The machine is shared: the CPU ratio is the steadier of the two.

Peak memory: `antar import` of a 1,000,000-row file (same generator, another seed) in its own process; its maximum
resident set size (the kernel's count for that process), beside that of `antar import --help` (start-up alone).

    .venv/bin/python benchmarks/bench_intake.py [--cards 132289] [--repeat 3] [--memory-rows 1000000]
                                                [--backend sqlite|postgresql] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
ANTAR = str(Path(sys.executable).with_name("antar"))

BARE = """
import sys, pandas as pd, sqlalchemy as sa
from sqlalchemy import event
path, url = sys.argv[1], sys.argv[2]
engine = sa.create_engine(url)
if url.startswith("sqlite"):
    @event.listens_for(engine, "connect")
    def pragmas(conn, _):
        for p in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL"):
            conn.execute("PRAGMA " + p)
columns = pd.read_csv(path, nrows=0).columns
meta = sa.MetaData()
table = sa.Table("bare", meta, sa.Column("id", sa.Integer, primary_key=True),
                 *(sa.Column(c, sa.String) for c in columns))
meta.create_all(engine)
with engine.begin() as conn:
    for chunk in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=5000):
        conn.execute(table.insert(), chunk.to_dict("records"))
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall seconds, CPU seconds and peak RSS (MiB) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out}\n{err}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024, "out": out}


class Databases:
    """Fresh databases of one backend, each dropped when done."""

    def __init__(self, backend: str, work: Path, pg: str = PG) -> None:
        self.backend, self.work, self.pg = backend, work, pg

    def fresh(self) -> tuple[str, Callable[[], None]]:
        if self.backend == "sqlite":
            path = self.work / f"{uuid.uuid4().hex}.sqlite"
            return f"sqlite:///{path}", lambda: [p.unlink(missing_ok=True) for p in self.work.glob(f"{path.name}*")]
        import sqlalchemy as sa

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(self.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

        def drop() -> None:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()

        return f"{self.pg}{'&' if '?' in self.pg else '?'}options=-csearch_path%3D{schema}", drop


def fresh_url(backend: str, work: Path, pg: str = PG) -> tuple[str, Callable[[], None]]:
    """A fresh database of `backend` (PostgreSQL: a schema of its own on `pg`) and the function that drops it (also
    used by bench_manifests.py and bench_webhook.py)."""
    return Databases(backend, work, pg).fresh()


def compile_sources() -> None:
    """Byte-compile antar's own modules, as an installed package has them (pip compiles what it installs): this
    checkout is installed editable, and where PYTHONDONTWRITEBYTECODE is set (as on the CI machine) every start would
    otherwise compile about a hundred modules from source, counted against antar alone (the baseline's pandas and
    SQLAlchemy are compiled in site-packages)."""
    import compileall

    for package in ("address", "app", "courier_sim", "dashboard", "delivery", "manifests", "notify", "notify_sim",
                    "returns"):
        compileall.compile_dir(ROOT / package, quiet=1)


def antar_env(url: str, work: Path) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "ANTAR_INSTANCE_PATH": str(work / "instance"),
            "ANTAR_OFFICE": "32.16", "SECRET_KEY": "bench"}


def bare_load(csv_path: Path, dbs: Databases) -> dict[str, float]:
    url, drop = dbs.fresh()
    try:
        return run([sys.executable, "-c", BARE, str(csv_path), url])
    finally:
        drop()


def antar_import(csv_path: Path, dbs: Databases, work: Path) -> dict[str, float]:
    url, drop = dbs.fresh()
    try:
        env = antar_env(url, work)
        run([ANTAR, "db", "upgrade"], env)
        result = run([ANTAR, "import", str(csv_path)], env)
        if "kartu diimpor" not in result["out"]:
            raise RuntimeError(result["out"])
        result["summary"] = result.pop("out").splitlines()[0]
        return result
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=132_289)
    parser.add_argument("--memory-rows", type=int, default=1_000_000, help="0 to skip the memory run")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from app.demo.synthetic import generate_print_run

    compile_sources()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dbs = Databases(args.backend, work)
        csv_path = work / "run.csv"
        generate_print_run(csv_path, office_code="32.16", cards=args.cards, seed=4)
        rows = sum(1 for _ in open(csv_path, encoding="utf-8")) - 1
        bare, ours = [], []
        for _ in range(args.repeat):
            bare.append(bare_load(csv_path, dbs))
            ours.append(antar_import(csv_path, dbs, work))
        report = {"backend": args.backend, "rows": rows, "antar_summary": ours[-1]["summary"],
                  "load_average": os.getloadavg()}
        for what in ("wall", "cpu"):
            b, o = min(r[what] for r in bare), min(r[what] for r in ours)
            report[what] = {"bare_best": b, "antar_best": o, "ratio_best": o / b,
                            "bare_median": statistics.median(r[what] for r in bare),
                            "antar_median": statistics.median(r[what] for r in ours),
                            "ratio_median": statistics.median(r[what] for r in ours)
                            / statistics.median(r[what] for r in bare)}
        if args.memory_rows:
            big = work / "big.csv"
            generate_print_run(big, office_code="32.16", cards=args.memory_rows, seed=5)
            url, drop = dbs.fresh()
            try:
                env = antar_env(url, work)
                run([ANTAR, "db", "upgrade"], env)
                floor = run([ANTAR, "import", "--help"], env)
                peak = run([ANTAR, "import", str(big)], env)
            finally:
                drop()
            report["memory"] = {"rows": args.memory_rows, "file_mib": big.stat().st_size / 2**20,
                                "peak_rss_mib": peak["rss_mb"], "startup_rss_mib": floor["rss_mb"],
                                "wall": peak["wall"], "cpu": peak["cpu"]}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"backend={args.backend} rows={rows} ({report['antar_summary']})")
    for what, label in (("wall", "wall-clock"), ("cpu", "CPU (user+sys)")):
        r = report[what]
        print(f"{label:15s} bare load (pandas + Core) {r['bare_best']:6.2f} s ({rows / r['bare_best']:8,.0f} rows/s)   "
              f"antar import {r['antar_best']:6.2f} s ({rows / r['antar_best']:8,.0f} rows/s)   "
              f"ratio {r['ratio_best']:.2f} (best of {args.repeat}; medians {r['ratio_median']:.2f})")
    if "memory" in report:
        m = report["memory"]
        print(f"peak RSS importing {m['rows']:,} rows ({m['file_mib']:.0f} MiB file): {m['peak_rss_mib']:.0f} MiB "
              f"(start-up alone: {m['startup_rss_mib']:.0f} MiB); {m['wall']:.0f} s wall, {m['cpu']:.0f} s CPU")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in report['load_average'])}")


if __name__ == "__main__":
    main()
