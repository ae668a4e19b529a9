"""The keyed hash of family card numbers: HMAC-SHA256 of the 16 digits (RFC 2104), whatever the number's formatting."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.pseudonym import kk_digits, kk_hash


def reference(key: str, digits: str) -> str:
    return hmac.new(key.encode("utf-8"), digits.encode("ascii"), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("typed", ["3216012345678901", "3216 0123 4567 8901", "3216.0123.4567.8901",
                                   " 3216012345678901\t", "3216-0123-4567-8901"])
def test_a_number_hashes_as_its_sixteen_digits(typed):
    assert kk_digits(typed) == "3216012345678901"
    assert kk_hash(typed, "kunci-uji") == reference("kunci-uji", "3216012345678901")


@pytest.mark.parametrize("typed", [None, "", "321601234567890", "32160123456789012", "3216O12345678901"])
def test_anything_but_sixteen_digits_has_no_hash(typed):
    assert kk_digits(typed) is None and kk_hash(typed, "kunci-uji") is None


def test_each_key_gives_its_own_hash_and_the_same_one_every_time():
    numbers = [f"32160123456789{n:02d}" for n in range(50)]
    for key in ("kunci-uji", "kunci-lain", "kunci-uji"):  # a key's state is made once: used again, the same answers
        assert [kk_hash(n, key) for n in numbers] == [reference(key, n) for n in numbers]
    assert kk_hash(numbers[0], "kunci-uji") != kk_hash(numbers[0], "kunci-lain")
