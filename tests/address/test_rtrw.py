import math

import numpy as np
import pytest

from address.rtrw import normalize_rt_rw, strip_rt_rw


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
