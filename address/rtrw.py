"""RT/RW (neighbourhood / community unit) numbers: from their own columns or from inside the address text.

Register exports are inconsistent: the columns may hold `3`, `003`, `3.0` (a spreadsheet turned it into a
float) or be empty with the numbers written into `alamat` in one of many hand-typed forms. Both functions
here run once per imported row (up to a million), so the patterns are compiled once and the common cases
(plain digits in the columns, no RT/RW text in the address) take a fast path.
"""

from __future__ import annotations

import math
import re

__all__ = ["normalize_rt_rw", "over_three_digits", "rt_rw_and_rest", "strip_rt_rw"]

# Between a label and its number: "RT 3", "RT.3", "RT:3", "RT. 003", "RT-03", "rt03".
_SEP = r"[\s.:\-]*"
_NUM = r"(\d{1,4})"  # one digit too many on purpose: "RT 1234" is read, then rejected as > 999
_END = r"(?![\d])"

# "RT/RW 003/005", "RT.RW 3-5", "RTRW: 03/05"
_COMBINED = rf"\bRT\s*[/.\-]?\s*RW{_SEP}{_NUM}\s*[/\-]\s*{_NUM}{_END}"
# "RT 003/RW 005", "RT.3 RW.5", "RT 03, RW 05", "RT.003/RW.005", "rt03/05", "RT 3" (RW absent)
_RT_FIRST = rf"\bRT{_SEP}{_NUM}{_END}(?:\s*[/,\-]?\s*RW{_SEP}{_NUM}{_END}|\s*/\s*{_NUM}{_END})?"
_LABELLED = re.compile(rf"{_COMBINED}|{_RT_FIRST}", re.IGNORECASE | re.ASCII)
_RW_ONLY = re.compile(rf"\bRW{_SEP}{_NUM}{_END}", re.IGNORECASE | re.ASCII)
# Unlabelled "003/005": 2-3 digits each and a leading zero on one side, so that a house number like
# "12/34" or a date like "17/08/1945" is not taken for it.
_BARE = re.compile(r"(?<![\w/.\-])(\d{2,3})\s*/\s*(\d{2,3})(?![\w/.\-])", re.ASCII)
_HOUSE_NUMBER_BEFORE = re.compile(r"\b(?:NO|NOMOR|NMR|BLOK|BLK|KAV)\.?\s*\Z", re.IGNORECASE | re.ASCII)

# A column value: "3", "003", "00005", "3.0", "RT 03", "rw.5"; any number of digits ("1234" is over the limit).
_COLUMN = re.compile(r"(?:R[TW])?[\s.:\-]*(\d+)(?:[.,]0+)?", re.IGNORECASE | re.ASCII)

_TIDY_COMMAS = re.compile(r"\s*,(?:\s*,)+\s*|\s+,")
_TIDY_SPACES = re.compile(r"\s{2,}")
_TIDY_EDGES = " ,;/-"

_column_cache: dict[str, str | None] = {}
_COLUMN_CACHE_MAX = 20_000


def _three_digits(number: int) -> str | None:
    return f"{number:03d}" if 0 < number <= 999 else None


def _column_number(value: object) -> int | None:
    """The number an RT or RW column holds, whatever its size, or None when it holds none."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = _COLUMN.fullmatch(value.strip())
        return int(match.group(1)) if match else None
    if isinstance(value, float):  # pandas NaN for an empty cell, 3.0 for a cell Excel saw as a number
        return None if math.isnan(value) or not value.is_integer() else int(value)
    if hasattr(value, "__index__"):  # int, numpy integers
        return value.__index__()
    return None


def _from_column(value: object) -> str | None:
    if isinstance(value, str):
        cached = _column_cache.get(value)
        if cached is not None or value in _column_cache:
            return cached
    number = _column_number(value)
    result = None if number is None else _three_digits(number)
    if isinstance(value, str):
        if len(_column_cache) >= _COLUMN_CACHE_MAX:
            _column_cache.clear()
        _column_cache[value] = result
    return result


def _labelled_span(alamat: str) -> tuple[str | None, str | None]:
    return _labelled_groups(_LABELLED.search(alamat), alamat)


def _labelled_groups(match: re.Match[str] | None, alamat: str) -> tuple[str | None, str | None]:
    """RT and RW of the first labelled form (`match`), the RW from a lone "RW 5" in `alamat` when that has none."""
    rt = rw = None
    if match:
        a, b, c, d, e = match.groups()
        if a is not None:
            rt, rw = _three_digits(int(a)), _three_digits(int(b))
        else:
            rt = _three_digits(int(c))
            second = d if d is not None else e
            rw = _three_digits(int(second)) if second is not None else None
    if rw is None:
        rw_match = _RW_ONLY.search(alamat)
        if rw_match:
            rw = _three_digits(int(rw_match.group(1)))
    return rt, rw


def _bare_matches(alamat: str):
    for match in _BARE.finditer(alamat):
        rt, rw = match.groups()
        if (rt[0] == "0" or rw[0] == "0") and not _HOUSE_NUMBER_BEFORE.search(alamat, 0, match.start()):
            yield match


def _bare_rt_rw(alamat: str) -> tuple[str | None, str | None]:
    """RT and RW of the first unlabelled "003/005" whose numbers are both valid."""
    for match in _bare_matches(alamat):
        rt, rw = _three_digits(int(match.group(1))), _three_digits(int(match.group(2)))
        if rt is not None and rw is not None:
            return rt, rw
    return None, None


def _without_bare(alamat: str) -> str | None:
    """The text without its first unlabelled "003/005" (blanked), or None when it has none."""
    match = next(_bare_matches(alamat), None)
    return f"{alamat[:match.start()]} {alamat[match.end():]}" if match else None


def _tidied(text: str) -> str:
    """A text with its RT/RW blanked out: the commas and spaces left behind tidied up."""
    if "," in text:
        text = _TIDY_COMMAS.sub(", ", text)
    text = _TIDY_SPACES.sub(" ", text)
    return text.strip(_TIDY_EDGES + "\t")


def _from_alamat(alamat: str) -> tuple[str | None, str | None]:
    # Most addresses carry no RT/RW at all: skip the regexes unless a label or a slash is present.
    lowered = alamat.lower()
    if "rt" in lowered or "rw" in lowered:
        rt, rw = _labelled_span(alamat)
        if rt is not None or rw is not None:
            return rt, rw
    if "/" in alamat:
        return _bare_rt_rw(alamat)
    return None, None


def over_three_digits(value: object) -> bool:
    """Whether an RT or RW column value is a number above 999 (more than three digits once leading zeros are gone):
    the intake format's length limit, a rejected row naming the column (`normalize_rt_rw` reads it as absent)."""
    number = _column_number(value)
    return number is not None and number > 999


def normalize_rt_rw(rt: object, rw: object, alamat: str | None) -> tuple[str | None, str | None]:
    """RT and RW as three-digit strings ("003"), or None when absent or invalid (0 or above 999).

    A column value wins; an empty or unusable column is looked for in the address text.
    """
    rt_value = _from_column(rt)
    rw_value = _from_column(rw)
    if (rt_value is None or rw_value is None) and alamat and isinstance(alamat, str):
        found_rt, found_rw = _from_alamat(alamat)
        if rt_value is None:
            rt_value = found_rt
        if rw_value is None:
            rw_value = found_rw
    return rt_value, rw_value


def strip_rt_rw(alamat: str) -> str:
    """The address without its RT/RW part, with the commas and spaces left behind tidied up."""
    if not alamat:
        return alamat
    text = alamat
    removed = 0
    lowered = text.lower()
    if "rt" in lowered or "rw" in lowered:
        text, labelled = _LABELLED.subn(" ", text)
        text, rw_only = _RW_ONLY.subn(" ", text)
        removed = labelled + rw_only
    if not removed and "/" in text:
        # Same rule as normalize_rt_rw: the unlabelled form counts only when no labelled one exists.
        bare = _without_bare(text)
        if bare is not None:
            text, removed = bare, 1
    if not removed:
        return alamat
    return _tidied(text)


def rt_rw_and_rest(rt: object, rw: object, alamat: str) -> tuple[str | None, str | None, str]:
    """`normalize_rt_rw(rt, rw, alamat)` and `strip_rt_rw(alamat)` in one reading of the text (the normalizer needs
    both for every address)."""
    rt_value = _from_column(rt)
    rw_value = _from_column(rw)
    if not alamat:
        return rt_value, rw_value, alamat
    need = rt_value is None or rw_value is None
    found_rt = found_rw = None
    text = alamat
    removed = 0
    lowered = alamat.lower()
    if "rt" in lowered or "rw" in lowered:
        first: list[re.Match[str]] = []

        def blank(match: re.Match[str]) -> str:
            if not first:
                first.append(match)
            return " "

        text, labelled = _LABELLED.subn(blank, alamat)
        if need:
            found_rt, found_rw = _labelled_groups(first[0] if first else None, alamat)
        text, rw_only = _RW_ONLY.subn(" ", text)
        removed = labelled + rw_only
    if "/" in alamat:
        if need and found_rt is None and found_rw is None:
            found_rt, found_rw = _bare_rt_rw(alamat)
        if not removed:
            bare = _without_bare(alamat)
            if bare is not None:
                text, removed = bare, 1
    if rt_value is None:
        rt_value = found_rt
    if rw_value is None:
        rw_value = found_rw
    return rt_value, rw_value, _tidied(text) if removed else alamat
