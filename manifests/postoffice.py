"""Destination post offices, derived from the official region list's kode pos.

A kode pos is delivered by the post office of its delivery area: the first four digits, the office's own
code ending in 0 (17511 and 17519 are both delivered from 17510). Our region list has the kode pos of
every kelurahan but no post office names, so an office is named after the kecamatan that holds most of
its kelurahan, without the compass word when it serves several ("KPC Tambun" for Tambun Selatan and
Tambun Utara): what the courier's own staff call it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

from app.regions import office_regions

_COMPASS = ("Utara", "Selatan", "Barat", "Timur", "Pusat", "Tengah")


@dataclass(frozen=True, slots=True)
class PostOffice:
    code: str  # '17510'
    name: str  # 'KPC Tambun'
    kelurahan_codes: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"


def area_of(kode_pos: str) -> str:
    return kode_pos[:4] + "0"


@lru_cache(maxsize=16)
def post_offices(office_code: str) -> dict[str, PostOffice]:
    regions = office_regions(office_code)
    members: dict[str, list[str]] = defaultdict(list)
    for kel in regions.kelurahan.values():
        if kel.kode_pos:
            members[area_of(kel.kode_pos)].append(kel.code)
    result = {}
    for code, kels in sorted(members.items()):
        counts = Counter(regions.kelurahan[k].kecamatan_name for k in kels)
        name = counts.most_common(1)[0][0].title()
        if len(counts) > 1:
            words = name.split()
            name = " ".join(words[:-1]) if len(words) > 1 and words[-1] in _COMPASS else name
        result[code] = PostOffice(code, f"KPC {name}", frozenset(kels))
    return result


def post_office_for(office_code: str, kode_pos: str | None, kelurahan_code: str) -> PostOffice:
    """The post office for a card: its kelurahan's delivery area (the card's own kode pos if it is known)."""
    offices = post_offices(office_code)
    if kode_pos and area_of(kode_pos) in offices:
        return offices[area_of(kode_pos)]
    kel = office_regions(office_code).kelurahan[kelurahan_code]
    return offices[area_of(kel.kode_pos)]
