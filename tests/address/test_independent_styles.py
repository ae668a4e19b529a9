"""The normalizer on addresses in styles it was not tuned on (benchmarks/address_styles.py), and what its speed-ups
must not change: numbers read from the text itself, forms' labels, repeated addresses answered alike."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from address.normalize import AddressInput, Flag, Normalizer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from address_styles import generate  # noqa: E402
from bench_address import TARGETS  # noqa: E402


@pytest.fixture(scope="module")
def kab() -> Normalizer:
    return Normalizer("32.16")


@pytest.mark.parametrize("office", ["32.16", "32.75"])
def test_quality_targets_hold_on_the_independent_styles(office):
    normalizer = Normalizer(office)
    rows = generate(office, 4000, seed=3)
    placeable = [r for r in rows if r.placeable]
    unplaceable = [r for r in rows if not r.placeable]
    answers = {id(r): normalizer.normalize(AddressInput(r.alamat, r.rt, r.rw, r.kelurahan, r.kecamatan,
                                                        r.kabupaten_kota, r.provinsi, r.kode_pos, r.kode_wilayah))
               for r in rows}
    accuracy = sum(answers[id(r)].kode_wilayah == r.expected_kode_wilayah for r in placeable) / len(placeable)
    clear = sum(answers[id(r)].status == "CLEAR" for r in placeable) / len(placeable)
    flagged = sum(answers[id(r)].status == "UNCLEAR" for r in unplaceable) / len(unplaceable)
    wrong = sum(1 for r in rows if answers[id(r)].status == "CLEAR"
                and (not r.placeable or answers[id(r)].kode_wilayah != r.expected_kode_wilayah)) / len(rows)
    assert accuracy >= TARGETS["accuracy"]
    assert clear >= TARGETS["clear_on_placeable"]
    assert flagged >= TARGETS["unclear_flagged"]
    assert wrong <= TARGETS["clear_but_wrong"]


def test_the_generator_is_deterministic_and_labelled():
    first, again = generate("32.16", 300, seed=5), generate("32.16", 300, seed=5)
    assert first == again
    assert {r.style for r in first} >= {"maps", "siak", "chat", "street_only"}
    assert all(r.expected_kode_wilayah.startswith("32.16.") for r in first if r.placeable)
    assert all(r.expected_kode_wilayah == "" for r in first if not r.placeable)


def test_house_numbers_come_from_each_text_itself(kab):
    # Texts that differ only in their digits share one reading (cached); each street keeps its own numbers.
    streets = [kab.normalize(AddressInput(alamat=f"Jl. Mawar No. {n}, Blok C{n % 9 + 1}/{n + 2}, Sumberjaya, "
                                                 "Kec. Tambun Selatan")).street for n in (12, 34, 56, 12)]
    assert streets == ["JL. MAWAR NO. 12, BLOK C4/14", "JL. MAWAR NO. 34, BLOK C8/36", "JL. MAWAR NO. 56, BLOK C3/58",
                       "JL. MAWAR NO. 12, BLOK C4/14"]


def test_kode_pos_written_in_the_text_is_read_from_it(kab):
    # Same text but the kode pos: the one of Sumberjaya, then one of another kecamatan (a warning).
    right = kab.normalize(AddressInput(alamat="Jl. Mawar 5, Sumberjaya, Tambun Selatan 17510"))
    other = kab.normalize(AddressInput(alamat="Jl. Mawar 5, Sumberjaya, Tambun Selatan 17530"))
    assert right.status == other.status == "CLEAR" and right.kode_wilayah == other.kode_wilayah
    assert Flag.KODE_POS_MISMATCH not in right.flags
    assert Flag.KODE_POS_MISMATCH in other.flags


@pytest.mark.parametrize("text", [
    "Gg. Kober No. 114 RT: 6 RW: 15 Kel/Desa: Waluya Kecamatan: Cikarang Utara Kab/Kota: Bekasi",
    "Gg. Kober No. 114, Waluya, Cikarang Utara, Kota/Kab. Bekasi",
])
def test_a_forms_kab_kota_label_names_neither(kab, text):
    a = kab.normalize(AddressInput(alamat=text))
    assert (a.status, a.kode_wilayah, a.flags) == ("CLEAR", "32.16.09.2004", [])


def test_kab_kota_label_in_the_column_names_neither(kab):
    form = kab.normalize(AddressInput(alamat="Jl. Mawar 5", rt="1", rw="2", kelurahan="Waluya",
                                      kecamatan="Cikarang Utara", kabupaten_kota="KAB/KOTA BEKASI"))
    city = kab.normalize(AddressInput(alamat="Jl. Mawar 5", rt="1", rw="2", kelurahan="Waluya",
                                      kecamatan="Cikarang Utara", kabupaten_kota="KOTA BEKASI"))
    assert form.status == "CLEAR"
    assert Flag.OUTSIDE_OFFICE in city.flags


def test_repeated_texts_answer_alike(kab):
    rows = generate("32.16", 600, seed=9)
    inputs = [AddressInput(r.alamat, r.rt, r.rw, r.kelurahan, r.kecamatan, r.kabupaten_kota, r.provinsi, r.kode_pos,
                           r.kode_wilayah) for r in rows]
    first = [kab.normalize(a) for a in inputs]
    again = [kab.normalize(a) for a in inputs]  # every cache warm now
    fresh = Normalizer("32.16")
    assert first == again == [fresh.normalize(a) for a in inputs]
