"""Address normalizer benchmark: quality on the labelled evaluation set, against lokal-id's `parse_alamat`, and speed.

Quality, per office and overall, and for the tuning half (even ids) and the held-out half (odd ids) separately:

- accuracy: placeable rows whose predicted kode wilayah is the expected one (CLEAR or not);
- CLEAR on placeable: placeable rows that come out CLEAR (a clerk does not have to look at them);
- unclear flagged: unplaceable rows that come out UNCLEAR;
- CLEAR but wrong: all rows that come out CLEAR with another code than expected, or CLEAR although unplaceable
  (each one a card sent to the wrong place).

Baseline: `lokal.wilayah.parse_alamat`, called as a user of that library would: the row's columns joined into one
address string; its `kelurahan_desa.code` is the answer, `confidence == 'high'` its CLEAR (also reported with
'medium' counted as CLEAR).

Speed: rows/s of `Normalizer.normalize` over 100,000 rows built by varying the evaluation rows (house numbers,
RT/RW, case), the same through CSV (read, normalize, write), and `parse_alamat` on a sample; with their ratio.

Independent styles (`benchmarks/address_styles.py`: map, marketplace, form and chat layouts, SIAK printouts, typos,
none of them written by the demo's generator or the evaluation set's): the same quality figures on `--styles-rows`
rows per office, and the speed of `Normalizer.normalize` on them in a fresh process pinned to one core
(`taskset -c 0`; the rows read from a CSV first, the addresses then made one at a time, default garbage collection):
addresses/s by the process's CPU time (the steadier figure on a shared machine) and by the clock.

    .venv/bin/python benchmarks/bench_address.py [--rows 100000] [--baseline-sample 3000] [--styles-rows 100000]
                                                 [--json]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import lokal.wilayah as wilayah  # noqa: E402  (before lokal.alamat: circular import in lokal-id 0.7.2)

from address.normalize import AddressInput, Normalizer  # noqa: E402

EVAL_SET = ROOT / "tests" / "address" / "data" / "eval_addresses.csv"
TARGETS = {"accuracy": 0.995, "clear_on_placeable": 0.97, "unclear_flagged": 0.98, "clear_but_wrong": 0.003}


def load_rows(path: Path = EVAL_SET) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def to_input(row: dict) -> AddressInput:
    return AddressInput(alamat=row["alamat"], rt=row["rt"], rw=row["rw"], kelurahan=row["kelurahan"],
                        kecamatan=row["kecamatan"], kabupaten_kota=row["kabupaten_kota"], kode_pos=row["kode_pos"],
                        kode_wilayah=row["kode_wilayah"])


@dataclass
class Figures:
    rows: int
    placeable: int
    unplaceable: int
    accuracy: float
    clear_on_placeable: float
    unclear_flagged: float
    clear_but_wrong: float

    def meets_targets(self) -> bool:
        return (self.accuracy >= TARGETS["accuracy"] and self.clear_on_placeable >= TARGETS["clear_on_placeable"]
                and self.unclear_flagged >= TARGETS["unclear_flagged"]
                and self.clear_but_wrong <= TARGETS["clear_but_wrong"])


def figures(rows: list[dict], answers: list[tuple[str | None, bool]]) -> Figures:
    """answers[i] = (predicted code, CLEAR?) for rows[i]."""
    placeable = [(r, a) for r, a in zip(rows, answers, strict=True) if r["expected_placeable"] == "1"]
    unplaceable = [(r, a) for r, a in zip(rows, answers, strict=True) if r["expected_placeable"] != "1"]
    right = sum(1 for r, (code, _) in placeable if code == r["expected_kode_wilayah"])
    clear = sum(1 for _, (_, ok) in placeable if ok)
    flagged = sum(1 for _, (_, ok) in unplaceable if not ok)
    wrong = sum(1 for r, (code, ok) in zip(rows, answers, strict=True)
                if ok and (r["expected_placeable"] != "1" or code != r["expected_kode_wilayah"]))
    return Figures(len(rows), len(placeable), len(unplaceable), right / max(len(placeable), 1),
                   clear / max(len(placeable), 1), flagged / max(len(unplaceable), 1), wrong / max(len(rows), 1))


def normalizer_answers(rows: list[dict]) -> list[tuple[str | None, bool]]:
    normalizers: dict[str, Normalizer] = {}
    out = []
    for row in rows:
        n = normalizers.get(row["office"]) or normalizers.setdefault(row["office"], Normalizer(row["office"]))
        a = n.normalize(to_input(row))
        out.append((a.kode_wilayah, a.status == "CLEAR"))
    return out


def joined_address(row: dict) -> str:
    """The row as one address string, the way a user of parse_alamat would write it."""
    parts = [row["alamat"]]
    rt, rw = row["rt"].removesuffix(".0"), row["rw"].removesuffix(".0")
    if rt or rw:
        parts.append(" ".join(p for p in (rt and f"RT {rt}", rw and f"RW {rw}") if p))
    parts += [row[c] for c in ("kelurahan", "kecamatan", "kabupaten_kota")]
    parts.append(row["kode_pos"].removesuffix(".0"))
    return ", ".join(p for p in parts if p and p.strip())


def parse_alamat_answers(rows: list[dict], accept: Iterable[str] = ("high",)) -> list[tuple[str | None, bool]]:
    accepted = set(accept)
    out = []
    for row in rows:
        p = wilayah.parse_alamat(joined_address(row))
        code = p.kelurahan_desa.code if p.kelurahan_desa else None
        out.append((code, p.confidence in accepted))
    return out


def evaluate(rows: list[dict], answers: list[tuple[str | None, bool]]) -> dict[str, Figures]:
    """Figures overall, per office, and for the even (tuning) and odd (held-out) ids."""
    groups: dict[str, Callable[[dict], bool]] = {
        "all": lambda r: True, "32.16": lambda r: r["office"] == "32.16", "32.75": lambda r: r["office"] == "32.75",
        "even ids (tuning)": lambda r: int(r["id"]) % 2 == 0, "odd ids (held out)": lambda r: int(r["id"]) % 2 == 1,
    }
    out = {}
    for name, keep in groups.items():
        picked = [(r, a) for r, a in zip(rows, answers, strict=True) if keep(r)]
        out[name] = figures([r for r, _ in picked], [a for _, a in picked])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Throughput

_NUMBER = re.compile(r"\d{1,3}")


def varied_rows(rows: list[dict], n: int, seed: int = 7) -> list[dict]:
    """n rows made from the evaluation rows: house numbers, RT/RW and case changed, as a print run would."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        row = dict(rows[i % len(rows)])
        if i >= len(rows):
            alamat = _NUMBER.sub(lambda m: str(rng.randint(1, 150)) if len(m.group()) < 3 or rng.random() < 0.5
                                 else m.group(), row["alamat"]) if rng.random() < 0.7 else row["alamat"]
            row["alamat"] = alamat.upper() if rng.random() < 0.7 else alamat
            if row["rt"]:
                row["rt"] = str(rng.randint(1, 15)).zfill(rng.choice((1, 3)))
            if row["rw"]:
                row["rw"] = str(rng.randint(1, 25)).zfill(rng.choice((1, 3)))
        out.append(row)
    return out


def throughput(rows: list[dict], sample: int) -> dict[str, float]:
    by_office: dict[str, list[AddressInput]] = {}
    for row in rows:
        by_office.setdefault(row["office"], []).append(to_input(row))
    t0 = time.perf_counter()
    normalizers = {office: Normalizer(office) for office in by_office}
    init = (time.perf_counter() - t0) / len(normalizers)
    t0 = time.perf_counter()
    for office, inputs in by_office.items():
        normalize = normalizers[office].normalize
        for a in inputs:
            normalize(a)
    elapsed = time.perf_counter() - t0
    csv_rate = csv_round_trip(rows)
    picked = rows[:: max(1, len(rows) // sample)][:sample]
    t0 = time.perf_counter()
    for row in picked:
        wilayah.parse_alamat(joined_address(row))
    baseline = len(picked) / (time.perf_counter() - t0)
    rate = len(rows) / elapsed
    return {"init_s": init, "normalize_rows_per_s": rate, "csv_rows_per_s": csv_rate,
            "parse_alamat_rows_per_s": baseline, "ratio": rate / baseline}


def csv_round_trip(rows: list[dict]) -> float:
    """Rows/s reading a CSV of the rows, normalizing each (fresh normalizers: cold caches) and writing the result."""
    source = io.StringIO()
    writer = csv.DictWriter(source, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    text = source.getvalue()
    normalizers = {office: Normalizer(office) for office in {r["office"] for r in rows}}
    t0 = time.perf_counter()
    out = io.StringIO()
    w = csv.writer(out)
    for row in csv.DictReader(io.StringIO(text)):
        a = normalizers[row["office"]].normalize(to_input(row))
        w.writerow((row["id"], a.status, ";".join(a.flags), a.kode_wilayah, a.street, a.rt, a.rw, a.kode_pos))
    return len(rows) / (time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------------------------
# Independent styles


def styles_rows(office: str, n: int) -> list[dict]:
    """The independent set as rows of the evaluation set's shape (for `figures`), with the style as `kind`."""
    from address_styles import generate

    return [{"office": r.office, "alamat": r.alamat, "rt": r.rt, "rw": r.rw, "kelurahan": r.kelurahan,
             "kecamatan": r.kecamatan, "kabupaten_kota": r.kabupaten_kota, "provinsi": r.provinsi,
             "kode_pos": r.kode_pos, "kode_wilayah": r.kode_wilayah, "expected_kode_wilayah": r.expected_kode_wilayah,
             "expected_placeable": "1" if r.placeable else "0", "kind": r.style} for r in generate(office, n)]


def styles_answers(rows: list[dict]) -> list[tuple[str | None, bool]]:
    normalizer = Normalizer(rows[0]["office"])
    out = []
    for row in rows:
        a = normalizer.normalize(AddressInput(row["alamat"], row["rt"], row["rw"], row["kelurahan"], row["kecamatan"],
                                              row["kabupaten_kota"], row["provinsi"], row["kode_pos"],
                                              row["kode_wilayah"]))
        out.append((a.kode_wilayah, a.status == "CLEAR"))
    return out


def by_kind(picked: list[tuple[dict, tuple[str | None, bool]]]) -> dict[str, float]:
    """One style's rows (all placeable or all not): the share handled as labelled (CLEAR in the expected kelurahan,
    or UNCLEAR) and the share CLEAR but wrong."""
    placeable = picked[0][0]["expected_placeable"] == "1"
    handled = sum(1 for r, (code, ok) in picked
                  if ((ok and code == r["expected_kode_wilayah"]) if placeable else not ok))
    wrong = sum(1 for r, (code, ok) in picked if ok and (not placeable or code != r["expected_kode_wilayah"]))
    return {"rows": len(picked), "placeable": placeable, "handled": handled / len(picked),
            "clear_but_wrong": wrong / len(picked)}


STYLES_SPEED = """
import csv, sys, time
sys.path.insert(0, {root!r})
from address.normalize import AddressInput, Normalizer
with open({path!r}, newline="", encoding="utf-8") as f:
    rows = [tuple(r) for r in csv.reader(f)][1:]
normalizer = Normalizer({office!r})
inputs = [AddressInput(*r) for r in rows][:{limit}]
c0, t0 = time.process_time(), time.perf_counter()
for a in inputs:
    normalizer.normalize(a)
print(len(inputs) / max(time.process_time() - c0, 1e-9), len(inputs) / (time.perf_counter() - t0))
"""
_INPUT_COLUMNS = ("alamat", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota", "provinsi", "kode_pos",
                  "kode_wilayah")


def _styles_csv(rows: list[dict], folder: Path) -> Path:
    """The rows' input columns as the CSV that STYLES_SPEED reads."""
    path = folder / "styles.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(_INPUT_COLUMNS)
        writer.writerows([r[c] for c in _INPUT_COLUMNS] for r in rows)
    return path


def styles_speed(office: str, rows: list[dict], repeat: int = 3) -> dict[str, float]:
    """Addresses/s of Normalizer.normalize on these rows in a fresh process on one core (the rows read from a CSV
    before the clock starts), by its CPU time and by the clock: the best and the median of `repeat` processes (this
    machine's speed swings by a third from one minute to the next; the best run is the one least slowed by it)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _styles_csv(rows, Path(tmp))
        cmd = [sys.executable, "-c", STYLES_SPEED.format(root=str(ROOT), path=str(path), office=office, limit=None)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", "0", *cmd]
        runs = [tuple(map(float, subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split()))
                for _ in range(repeat)]
    cpu = sorted(r[0] for r in runs)
    wall = sorted(r[1] for r in runs)
    return {"rows": len(rows), "runs": repeat, "rows_per_cpu_s": cpu[-1], "rows_per_s": wall[-1],
            "median_rows_per_cpu_s": statistics.median(cpu), "median_rows_per_s": statistics.median(wall),
            "every_rows_per_cpu_s": [r[0] for r in runs]}


# ---------------------------------------------------------------------------------------------------------------

def table(results: dict[str, dict[str, Figures]]) -> str:
    lines = ["| group | method | rows | accuracy | CLEAR on placeable | unclear flagged | CLEAR but wrong |",
             "|---|---|---|---|---|---|---|"]
    for group in next(iter(results.values())):
        for method, figs in results.items():
            f = figs[group]
            lines.append(f"| {group} | {method} | {f.rows} | {f.accuracy:.2%} | {f.clear_on_placeable:.2%} | "
                         f"{f.unclear_flagged:.2%} | {f.clear_but_wrong:.2%} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--baseline-sample", type=int, default=3000)
    ap.add_argument("--styles-rows", type=int, default=100_000, help="rows per office of the independent styles")
    ap.add_argument("--styles-repeat", type=int, default=3, help="processes per office for the styles' speed")
    ap.add_argument("--styles-only", action="store_true", help="only the independent styles (quality and speed)")
    ap.add_argument("--instructions", type=int, default=0, metavar="ROWS",
                    help="with --styles-only: instructions per address on the first ROWS rows (callgrind; slow: "
                         "about 4 minutes per 20,000 rows) instead of the clock")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.styles_only:
        styles_report(args)
        return
    rows = load_rows()
    results = {
        "antar Normalizer": evaluate(rows, normalizer_answers(rows)),
        "parse_alamat (high)": evaluate(rows, parse_alamat_answers(rows, ("high",))),
        "parse_alamat (high+medium)": evaluate(rows, parse_alamat_answers(rows, ("high", "medium"))),
    }
    speed = throughput(varied_rows(rows, args.rows), args.baseline_sample)
    styles: dict[str, Figures] = {}
    styles_by_kind: dict[str, dict[str, float]] = {}
    styles_speeds: dict[str, dict[str, float]] = {}
    if args.styles_rows:
        every = []
        for office in ("32.16", "32.75"):
            office_rows = styles_rows(office, args.styles_rows)
            answers = styles_answers(office_rows)
            styles[office] = figures(office_rows, answers)
            every += list(zip(office_rows, answers, strict=True))
            styles_speeds[office] = styles_speed(office, office_rows, args.styles_repeat)
        styles["all"] = figures([r for r, _ in every], [a for _, a in every])
        for kind in sorted({r["kind"] for r, _ in every}):
            picked = [(r, a) for r, a in every if r["kind"] == kind]
            styles_by_kind[kind] = by_kind(picked)
    if args.json:
        print(json.dumps({m: {g: vars(f) for g, f in figs.items()} for m, figs in results.items()} | {"speed": speed}
                         | {"styles": {g: vars(f) for g, f in styles.items()},
                            "styles_by_kind": styles_by_kind,
                            "styles_speed": styles_speeds}, indent=2))
        return
    print(f"Evaluation set: {len(rows)} rows ({EVAL_SET.relative_to(ROOT)})\n")
    print(table(results))
    ours = results["antar Normalizer"]
    print(f"\nTargets: accuracy >= {TARGETS['accuracy']:.1%}, "
          f"CLEAR on placeable >= {TARGETS['clear_on_placeable']:.0%}, "
          f"unclear flagged >= {TARGETS['unclear_flagged']:.0%}, CLEAR but wrong <= {TARGETS['clear_but_wrong']:.1%}: "
          + ", ".join(f"{g} {'met' if f.meets_targets() else 'NOT met'}" for g, f in ours.items()))
    print(f"\nSpeed ({args.rows:,} rows): Normalizer.normalize {speed['normalize_rows_per_s']:,.0f} rows/s "
          f"(Normalizer() {speed['init_s'] * 1000:.0f} ms per office, region list already loaded); "
          f"with CSV read+write {speed['csv_rows_per_s']:,.0f} rows/s; "
          f"parse_alamat {speed['parse_alamat_rows_per_s']:,.0f} rows/s (sample of {args.baseline_sample:,}); "
          f"ratio {speed['ratio']:.1f}x")
    if styles:
        print(f"\nIndependent styles (benchmarks/address_styles.py), {args.styles_rows:,} rows per office:\n")
        print("| office | rows | accuracy | CLEAR on placeable | unclear flagged | CLEAR but wrong | targets |")
        print("|---|---|---|---|---|---|---|")
        for group, f in styles.items():
            print(f"| {group} | {f.rows} | {f.accuracy:.2%} | {f.clear_on_placeable:.2%} | {f.unclear_flagged:.2%} | "
                  f"{f.clear_but_wrong:.2%} | {'met' if f.meets_targets() else 'NOT met'} |")
        print("\nBy style: placeable styles CLEAR in their own kelurahan, unplaceable ones flagged UNCLEAR.\n")
        print("| style | rows | placeable | handled as labelled | CLEAR but wrong |")
        print("|---|---|---|---|---|")
        for kind, k in styles_by_kind.items():
            print(f"| {kind} | {k['rows']:,} | {'yes' if k['placeable'] else 'no'} | {k['handled']:.2%} | "
                  f"{k['clear_but_wrong']:.2%} |")
        for office, sp in styles_speeds.items():
            print(f"Speed {office}, one core (taskset -c 0), best of {sp['runs']} processes: Normalizer.normalize "
                  f"{sp['rows_per_cpu_s']:,.0f} addresses/s of CPU time (median {sp['median_rows_per_cpu_s']:,.0f}; "
                  f"each: {', '.join(f'{r:,.0f}' for r in sp['every_rows_per_cpu_s'])}), "
                  f"{sp['rows_per_s']:,.0f} addresses/s by the clock ({sp['rows']:,} rows)")


def styles_instructions(office: str, rows: list[dict]) -> float:
    """Instructions per address of Normalizer.normalize on these rows, counted by valgrind's callgrind (repeatable
    whatever else the machine does, unlike its clock): a process that normalizes them minus one that only loads the
    same rows and office."""
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        path = _styles_csv(rows, Path(tmp))
        for limit in (0, None):
            out = Path(tmp) / f"callgrind.{limit}"
            subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c",
                            STYLES_SPEED.format(root=str(ROOT), path=str(path), office=office, limit=limit)],
                           check=True, capture_output=True, text=True)
            counts.append(int(next(line for line in out.read_text().splitlines()
                                   if line.startswith("summary:")).split()[1]))
    return (counts[1] - counts[0]) / len(rows)


def styles_report(args: argparse.Namespace) -> None:
    """`--styles-only`: the independent styles' figures and speed per office, without the evaluation set."""
    for office in ("32.16", "32.75"):
        office_rows = styles_rows(office, args.styles_rows)
        if args.instructions:
            if not shutil.which("valgrind"):
                sys.exit("--instructions needs valgrind (apt-get install valgrind)")
            print(f"{office}: {styles_instructions(office, office_rows[:args.instructions]):,.0f} instructions per "
                  f"address (callgrind, the first {args.instructions:,} rows)")
            continue
        f = figures(office_rows, styles_answers(office_rows))
        sp = styles_speed(office, office_rows, args.styles_repeat)
        print(f"{office}: {f.rows:,} rows, accuracy {f.accuracy:.2%}, CLEAR on placeable {f.clear_on_placeable:.2%}, "
              f"unclear flagged {f.unclear_flagged:.2%}, CLEAR but wrong {f.clear_but_wrong:.2%} "
              f"({'targets met' if f.meets_targets() else 'targets NOT met'}); one core, best of {sp['runs']} "
              f"processes: {sp['rows_per_cpu_s']:,.0f} addresses/s of CPU time (median "
              f"{sp['median_rows_per_cpu_s']:,.0f}; each: {', '.join(f'{r:,.0f}' for r in sp['every_rows_per_cpu_s'])})"
              f", target 15,000")


if __name__ == "__main__":
    main()
