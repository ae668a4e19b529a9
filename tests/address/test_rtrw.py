import math
import random

import numpy as np
import pytest

from address.rtrw import normalize_rt_rw, rt_rw_and_rest, strip_rt_rw


@pytest.mark.parametrize(
    ("rt", "rw"),
    [
        (3, 5),
        ("003", "005"),
        ("03", "5"),
        (3.0, "5.0"),
        ("3.0", 5),
        (" 3 ", "RW 05"),
        (np.int64(3), np.float64(5)),
    ],
)
def test_column_values(rt, rw):
    assert normalize_rt_rw(rt, rw, None) == ("003", "005")


@pytest.mark.parametrize(
    "alamat",
    [
        "JL. MAWAR NO. 5 RT 003/RW 005",
        "JL. MAWAR NO. 5 RT.3 RW.5",
        "KP. SAWAH RT 03 RW 05 DESA X",
        "kp sawah rt03/05",
        "PERUM GRIYA RT/RW 003/005 BLOK C",
        "GG. H. MAIL RT:3 RW:5",
        "Kp. Sawah Rt 3 Rw 5",
        "KP. SAWAH 003/005",
        "JL. MELATI RT.003/RW.005, CIKARANG",
        "JL. MELATI, RT 03, RW 05, CIKARANG",
        "DUSUN II RT. 003 RW. 005",
    ],
)
def test_found_in_alamat(alamat):
    for empty in (None, "", math.nan, float("nan")):
        assert normalize_rt_rw(empty, empty, alamat) == ("003", "005")


def test_column_wins_over_alamat_and_fills_the_gap():
    assert normalize_rt_rw("7", None, "KP. SAWAH RT 03 RW 05") == ("007", "005")
    assert normalize_rt_rw("", "9", "KP. SAWAH RT 03 RW 05") == ("003", "009")


def test_only_one_of_them():
    assert normalize_rt_rw(None, None, "KP. BARU RW 07") == (None, "007")
    assert normalize_rt_rw(None, None, "KP. BARU RT 2") == ("002", None)


@pytest.mark.parametrize("value", [0, "0", "000", 1000, "1000", "abc", "-", 3.5, True])
def test_invalid_column_values(value):
    assert normalize_rt_rw(value, value, None) == (None, None)


def test_invalid_numbers_in_alamat():
    assert normalize_rt_rw(None, None, "GG. X RT 0 RW 1000") == (None, None)


@pytest.mark.parametrize(
    "alamat",
    [
        "JL. MAWAR NO. 12/03",
        "JL. MAWAR 12/34",
        "LAHIR 17/08/1945",
        "JL PERTAMINA 5",
        "KARTINI RAYA",
        "",
        None,
    ],
)
def test_no_rt_rw_in_alamat(alamat):
    assert normalize_rt_rw(None, None, alamat) == (None, None)


@pytest.mark.parametrize(
    ("alamat", "expected"),
    [
        ("JL. MAWAR NO. 5 RT 003/RW 005", "JL. MAWAR NO. 5"),
        ("JL. MELATI RT.003/RW.005, CIKARANG", "JL. MELATI, CIKARANG"),
        ("JL. MELATI, RT 03, RW 05, CIKARANG", "JL. MELATI, CIKARANG"),
        ("PERUM GRIYA RT/RW 003/005 BLOK C", "PERUM GRIYA BLOK C"),
        ("KP. SAWAH 003/005 DESA X", "KP. SAWAH DESA X"),
        ("kp sawah rt03/05", "kp sawah"),
        ("RT 3 RW 5, KP. SAWAH", "KP. SAWAH"),
        ("JL. MAWAR NO. 12/03", "JL. MAWAR NO. 12/03"),
        ("KARTINI RAYA", "KARTINI RAYA"),
        ("", ""),
    ],
)
def test_strip_rt_rw(alamat, expected):
    assert strip_rt_rw(alamat) == expected


def test_reading_and_stripping_at_once_agrees_with_each_alone():
    """The normalizer reads RT/RW and strips them in one pass (`rt_rw_and_rest`): on the forms above and on texts
    made of their pieces at random (labels, separators, numbers out of range, dates, house numbers), it must answer
    what `normalize_rt_rw` and `strip_rt_rw` answer."""
    rnd = random.Random(16)
    pieces = ["RT", "rt", "RW", "rw", " ", ".", ":", "-", "/", ",", "0", "00", "3", "03", "003", "12", "1234", "999",
              "RT/RW", "RTRW", "NO", "BLOK", "JL MAWAR", "x", "\t", ", ,", "05", "17/08/1945", "RW.", "RT."]
    columns = ["", "3", None, "0", "x", "RT 07", 4.0]
    texts = ["JL. MAWAR NO. 5 RT 003/RW 005", "KP. SAWAH 003/005 DESA X", "GG. X RT 0 RW 1000", "KP. BARU RW 07",
             "JL. MAWAR NO. 12/03", ""]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 10))) for _ in range(20_000)]
    differ = []
    for alamat in texts:
        rt, rw = rnd.choice(columns), rnd.choice(columns)
        expected = (*normalize_rt_rw(rt, rw, alamat or None), strip_rt_rw(alamat) if alamat else "")
        if rt_rw_and_rest(rt, rw, alamat) != expected:
            differ.append((rt, rw, alamat))
    assert not differ, differ[:5]
