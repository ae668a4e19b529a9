"""Throughput of `antar address normalize` on a 100,000-row file, against lokal-id's `parse_alamat`.

The input (`--input`): `styles` (default), addresses of Kabupaten Bekasi in the styles of
benchmarks/address_styles.py, which neither the demo's generator nor the evaluation set writes, with their labels
(the accuracy of the command's output is printed too); or `synthetic`, a synthetic print run's address columns (id,
alamat, rt, rw, kelurahan, kecamatan, kabupaten_kota, kode_pos, kode_wilayah), with the mess of a real register. The
command runs as a user runs it, pinned to one core (`taskset -c 0` when available), start-up included. The baseline
is `parse_alamat` (as a user of that library calls it: the columns joined into one address) on the same rows, in the
same run, also on one core.

    .venv/bin/python benchmarks/bench_normalize_cli.py [--rows 100000] [--input styles|synthetic]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from app.demo.synthetic import generate_print_run  # noqa: E402

FIELDS = ["alamat", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota", "kode_pos", "kode_wilayah"]


def make_input(work: Path, rows: int) -> Path:
    run = work / "run.csv"
    generate_print_run(run, cards=rows, seed=21, bad_row_share=0.0)
    out = work / "addresses.csv"
    with open(run, encoding="utf-8") as src, open(out, "w", newline="", encoding="utf-8") as dst:
        reader = csv.DictReader(src)
        writer = csv.writer(dst)
        writer.writerow(["id", *FIELDS])
        for i, row in enumerate(reader, start=1):
            writer.writerow([i, *(row[f] for f in FIELDS)])
    return out


STYLE_FIELDS = ["alamat", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota", "provinsi", "kode_pos",
                "kode_wilayah"]


def make_styles_input(work: Path, rows: int) -> tuple[Path, dict[str, tuple[str, bool]]]:
    """The independent styles as the command's input, and each id's label (expected code, placeable)."""
    from address_styles import generate

    out = work / "addresses.csv"
    labels = {}
    with open(out, "w", newline="", encoding="utf-8") as dst:
        writer = csv.writer(dst)
        writer.writerow(["id", *STYLE_FIELDS])
        for i, row in enumerate(generate("32.16", rows), start=1):
            writer.writerow([i, *(getattr(row, f) for f in STYLE_FIELDS)])
            labels[str(i)] = (row.expected_kode_wilayah, row.placeable)
    return out, labels


def output_figures(path: Path, labels: dict[str, tuple[str, bool]]) -> dict[str, float]:
    """The command's output graded against the labels (the figures of bench_address.py)."""
    placeable = right = clear = unplaceable = flagged = wrong = 0
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            expected, can = labels[row["id"]]
            ok = row["status"] == "CLEAR"
            if can:
                placeable += 1
                right += row["kode_wilayah"] == expected
                clear += ok
            else:
                unplaceable += 1
                flagged += not ok
            wrong += ok and (not can or row["kode_wilayah"] != expected)
    return {"accuracy": right / placeable, "clear_on_placeable": clear / placeable,
            "unclear_flagged": flagged / max(unplaceable, 1), "clear_but_wrong": wrong / (placeable + unplaceable)}


def one_core(cmd: list[str]) -> list[str]:
    return ["taskset", "-c", "0", *cmd] if shutil.which("taskset") else cmd


PARSE_ALAMAT = """
import csv, sys, time
import lokal.wilayah
from lokal.wilayah import parse_alamat
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))[: int(sys.argv[2])]
texts = [", ".join(p for p in (r["alamat"], f"RT {r['rt']}/RW {r['rw']}" if r["rt"] or r["rw"] else "",
         r["kelurahan"], r["kecamatan"], r["kabupaten_kota"], r["kode_pos"]) if p) for r in rows]
parse_alamat(texts[0])
t0 = time.perf_counter()
for t in texts:
    parse_alamat(t)
print(len(texts) / (time.perf_counter() - t0))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=10_000, help="rows timed for parse_alamat")
    parser.add_argument("--input", choices=["styles", "synthetic"], default="styles")
    args = parser.parse_args()
    antar = str(Path(sys.executable).with_name("antar"))
    labels = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.input == "styles":
            src, labels = make_styles_input(work, args.rows)
        else:
            src = make_input(work, args.rows)
        env = {**os.environ, "ANTAR_INSTANCE_PATH": str(work / "instance"),
               "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite'}"}
        subprocess.run([antar, "db", "upgrade"], env=env, check=True, capture_output=True)
        t0 = time.perf_counter()
        subprocess.run(one_core([antar, "address", "normalize", str(src), "-o", str(work / "out.csv")]),
                       env=env, check=True, capture_output=True)
        elapsed = time.perf_counter() - t0
        ours = args.rows / elapsed
        grades = output_figures(work / "out.csv", labels) if labels else None
        proc = subprocess.run(one_core([sys.executable, "-c", PARSE_ALAMAT, str(src), str(args.baseline_rows)]),
                              check=True, capture_output=True, text=True)
        theirs = float(proc.stdout.strip())
    print(f"input: {args.input} ({src.name}, {args.rows:,} rows, Kabupaten Bekasi)")
    print(f"antar address normalize: {args.rows:,} rows in {elapsed:.2f} s (start-up included): {ours:,.0f} rows/s")
    if grades:
        print("output against the labels: " + ", ".join(f"{k.replace('_', ' ')} {v:.2%}" for k, v in grades.items()))
    print(f"lokal-id parse_alamat:   {theirs:,.0f} rows/s (timed on {args.baseline_rows:,} of the same rows)")
    print(f"ratio antar/parse_alamat: {ours / theirs:.1f}")


if __name__ == "__main__":
    main()
