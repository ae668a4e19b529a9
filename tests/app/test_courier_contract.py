"""The courier contract's S10 numbers: the specification's own example, made by the kernel and checked by the
simulator's independent implementation (it must not validate with the function that makes the numbers)."""

from __future__ import annotations

import pytest

from app.courier import s10
from courier_sim import validation


def test_the_specification_example_number() -> None:
    assert s10.tracking_number("RB", 12345678) == "RB123456785ID"
    assert s10.is_valid("RB123456785ID")
    assert validation.is_valid("RB123456785ID")


@pytest.mark.parametrize("number", ["RB123456784ID", "RB123456785MY", "rb123456785ID", "RB12345678ID", "",
                                    "RB1234567855ID"])
def test_both_sides_refuse_a_wrong_number(number: str) -> None:
    assert not s10.is_valid(number)
    assert not validation.is_valid(number)


def test_both_sides_agree_on_every_check_digit_case() -> None:
    # Serials whose sum mod 11 gives each possible check value, 10 -> 0 and 11 -> 5 included.
    seen = set()
    for serial in range(10_000_000, 10_003_000):
        number = s10.tracking_number("RB", serial)
        assert validation.is_valid(number), number
        seen.add(number[10])
        wrong = number[:10] + str((int(number[10]) + 1) % 10) + "ID"
        assert not validation.is_valid(wrong)
    assert seen == set("0123456789")
