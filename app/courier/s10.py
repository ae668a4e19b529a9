"""UPU S10 tracking numbers ("resi"): two service letters, eight serial digits, a check digit, 'ID'.

The contract (courier-partner-api.md, section 1): weights 8 6 4 2 3 5 9 7 over the serial,
c = 11 - (sum mod 11); 10 gives 0 and 11 gives 5.
"""

from __future__ import annotations

import re

WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
COUNTRY = "ID"
_PATTERN = re.compile(r"^([A-Z]{2})(\d{8})(\d)([A-Z]{2})$")


def check_digit(serial: str) -> str:
    if len(serial) != 8 or not serial.isdigit():
        raise ValueError(f"serial S10 harus 8 angka, bukan {serial!r}")
    c = 11 - sum(int(d) * w for d, w in zip(serial, WEIGHTS, strict=True)) % 11
    return "0" if c == 10 else "5" if c == 11 else str(c)


def tracking_number(prefix: str, serial: int) -> str:
    if not (len(prefix) == 2 and prefix.isalpha() and prefix.isupper()):
        raise ValueError(f"awalan S10 harus dua huruf besar, bukan {prefix!r}")
    if not 0 <= serial <= 99_999_999:
        raise ValueError(f"serial S10 di luar 00000000-99999999: {serial}")
    digits = f"{serial:08d}"
    return f"{prefix}{digits}{check_digit(digits)}{COUNTRY}"


def is_valid(number: str) -> bool:
    m = _PATTERN.match(number or "")
    return bool(m) and m.group(4) == COUNTRY and check_digit(m.group(2)) == m.group(3)


def serial_of(number: str) -> int:
    if not is_valid(number):
        raise ValueError(f"nomor resi {number!r} bukan S10 yang sah")
    return int(number[2:10])
