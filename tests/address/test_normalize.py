"""The address normalizer: one test per flag, the clear cases of each kind of mess, free text, the street's canonical
form, and the four target figures on the labelled evaluation set (tests/address/data/eval_addresses.csv)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from address.normalize import BLOCKING, FLAG_LABELS, AddressInput, Flag, Normalizer

ROOT = Path(__file__).resolve().parents[2]
SUMBERJAYA = "32.16.06.2010"  # Desa Sumberjaya, Kec. Tambun Selatan, Kabupaten Bekasi, 17510
KARANGASIH = "32.16.09.2003"  # Desa Karangasih, Kec. Cikarang Utara
BINTARA = "32.75.02.1001"  # Kelurahan Bintara, Kec. Bekasi Barat, Kota Bekasi


@pytest.fixture(scope="module")
def kab() -> Normalizer:
    return Normalizer("32.16")


@pytest.fixture(scope="module")
def kota() -> Normalizer:
    return Normalizer("32.75")


def test_issue_example_free_text_only(kab):
    a = kab.normalize(AddressInput(alamat="perum griya asri 2 blok c5 no 7 rt02 rw11 desa sumberjaya tambun sel"))
    assert (a.status, a.flags) == ("CLEAR", [])
    assert (a.kode_wilayah, a.kelurahan, a.kecamatan) == (SUMBERJAYA, "Sumberjaya", "Tambun Selatan")
    assert (a.kabupaten_kota, a.provinsi, a.kode_pos) == ("Kabupaten Bekasi", "Jawa Barat", "17510")
    assert (a.rt, a.rw) == ("002", "011")
    assert a.street == "PERUM GRIYA ASRI 2 BLOK C5 NO. 7"


# --- flags ------------------------------------------------------------------------------------------------------

def test_every_flag_has_a_short_indonesian_label():
    assert set(FLAG_LABELS) == set(Flag)
    assert all(0 < len(label) <= 60 for label in FLAG_LABELS.values())
    assert FLAG_LABELS[Flag.NO_KELURAHAN] == "Kelurahan/desa tidak ditemukan"


def test_blocking_flags():
    assert Flag.KODE_POS_MISMATCH not in BLOCKING  # a warning when the names are clear
    assert {Flag.PLACEHOLDER, Flag.NO_KELURAHAN, Flag.KECAMATAN_MISMATCH, Flag.AMBIGUOUS, Flag.OUTSIDE_OFFICE,
            Flag.KODE_WILAYAH_MISMATCH, Flag.FAR_FROM_KELURAHAN} <= BLOCKING


def _unclear_with(n: Normalizer, flag: Flag, **kw) -> None:
    a = n.normalize(AddressInput(**kw))
    assert flag in a.flags, a
    assert a.status == "UNCLEAR", a


@pytest.mark.parametrize("alamat", ["-", "BELUM ADA", "TIDAK DIKETAHUI", "0", "XXX", "", None, "Tdk tahu", ". ",
                                    "ALAMAT TIDAK DIKETAHUI", "- RT 000/000"])
def test_placeholder(kab, alamat):
    _unclear_with(kab, Flag.PLACEHOLDER, alamat=alamat, rt="1", rw="2", kelurahan="SUMBERJAYA",
                  kecamatan="TAMBUN SELATAN", kabupaten_kota="KAB. BEKASI")
    # The kelurahan is still offered to the clerk as the candidate.
    assert kab.normalize(AddressInput(alamat=alamat, kelurahan="SUMBERJAYA")).kode_wilayah == SUMBERJAYA


def test_no_kelurahan(kab):
    _unclear_with(kab, Flag.NO_KELURAHAN, alamat="DEKAT MASJID AL-IKHLAS", kecamatan="TAMBUN SELATAN",
                  kabupaten_kota="KAB. BEKASI")
    _unclear_with(kab, Flag.NO_KELURAHAN, alamat="KP. BULAK RT 02/03", kelurahan="SUKAMANDALA", kecamatan="CIBITUNG")
    _unclear_with(kab, Flag.NO_KELURAHAN, alamat="JL. RAYA SETU NO 5 KEC. SETU KAB. BEKASI")
    # A kode pos alone is weak evidence: one kode pos covers the whole kecamatan.
    _unclear_with(kab, Flag.NO_KELURAHAN, alamat="KP. PULO RT 1/2", kode_pos="17510")


def test_no_kelurahan_in_a_landmark(kota):
    # A landmark named after a place is not an address there.
    _unclear_with(kota, Flag.NO_KELURAHAN, alamat="DEKAT STASIUN KRANJI", kabupaten_kota="KOTA BEKASI")


def test_kecamatan_mismatch(kab):
    _unclear_with(kab, Flag.KECAMATAN_MISMATCH, alamat="KP. PULO RT 1/2", kelurahan="SUMBERJAYA", kecamatan="CIBITUNG")
    # A kelurahan name that is another village's exact name, with the first one's kecamatan: not a typo to fix.
    _unclear_with(kab, Flag.KECAMATAN_MISMATCH, alamat="KP. PULO", kelurahan="SUKARAJA", kecamatan="CIBITUNG")
    _unclear_with(kab, Flag.KECAMATAN_MISMATCH, alamat="KP. PULO DS. SUMBERJAYA KEC. CIKARANG BARAT")


def test_kode_pos_mismatch_is_a_warning_when_the_names_are_clear(kab, kota):
    a = kab.normalize(AddressInput(alamat="JL. MAWAR 5", kelurahan="SUMBERJAYA", kecamatan="TAMBUN SELATAN",
                                   kode_pos="17520"))
    assert (a.status, a.flags, a.kode_wilayah, a.kode_pos) == ("CLEAR", [Flag.KODE_POS_MISMATCH], SUMBERJAYA, "17510")
    b = kota.normalize(AddressInput(alamat="JL. X 3", kelurahan="PERWIRA", kecamatan="BEKASI UTARA", kode_pos="17121"))
    assert (b.status, b.flags) == ("CLEAR", [Flag.KODE_POS_MISMATCH])


@pytest.mark.parametrize("kelurahan", ["SUMBERJAYA", "SUMBERJYA"])
def test_kode_pos_mismatch_blocks_a_name_nothing_else_confirms(kab, kelurahan):
    # No kecamatan, no kode wilayah, and the kode pos (Cibitung's) puts it in another kecamatan.
    _unclear_with(kab, Flag.KODE_POS_MISMATCH, alamat="KP. PULO", kelurahan=kelurahan, kode_pos="17520")
    assert Flag.AMBIGUOUS in kab.normalize(AddressInput(alamat="KP. PULO", kelurahan=kelurahan,
                                                        kode_pos="17520")).flags
    # The register's code confirms the name: the kode pos is only a warning.
    a = kab.normalize(AddressInput(alamat="KP. PULO", kelurahan=kelurahan, kode_pos="17520", kode_wilayah=SUMBERJAYA))
    assert (a.status, a.flags) == ("CLEAR", [Flag.KODE_POS_MISMATCH])


def test_ambiguous(kab, kota):
    # One letter from Sukajaya (Cibitung) and from Sukaraja (Tambelang), no kecamatan to decide.
    _unclear_with(kab, Flag.AMBIGUOUS, alamat="KP. PONCOL RT 01/01", kelurahan="SUKAJAJA", kabupaten_kota="KAB. BEKASI")
    # The start of two names: Cibarusah Kota, Cibarusah Jaya.
    _unclear_with(kab, Flag.AMBIGUOUS, alamat="KP. CABANG TIGA", kelurahan="CIBARUSAH")
    # A kelurahan that has its kecamatan's name, written alone in free text: the desa or the kecamatan?
    _unclear_with(kab, Flag.AMBIGUOUS, alamat="KP. SAWAH RT 4 RW 2 SUKAWANGI BEKASI")
    _unclear_with(kota, Flag.AMBIGUOUS, alamat="JL. NUSA INDAH NO 88, JATIASIH, BEKASI")


def test_ambiguous_typo_settled_by_the_kecamatan(kab):
    a = kab.normalize(AddressInput(alamat="KP. PONCOL", kelurahan="SUKAJAJA", kecamatan="CIBITUNG"))
    assert (a.status, a.kode_wilayah, a.kelurahan) == ("CLEAR", "32.16.07.2006", "Sukajaya")


def test_outside_office(kab, kota):
    # The kabupaten_kota column names another region.
    _unclear_with(kab, Flag.OUTSIDE_OFFICE, alamat="KP. PULO", kelurahan="SUMBERJAYA", kecamatan="TAMBUN SELATAN",
                  kabupaten_kota="KOTA BEKASI")
    _unclear_with(kota, Flag.OUTSIDE_OFFICE, alamat="JL. X 3", kelurahan="PERWIRA", kecamatan="BEKASI UTARA",
                  kabupaten_kota="KAB. BEKASI")
    # A Kota Bekasi kelurahan on a Kabupaten Bekasi card, and the other way round.
    _unclear_with(kab, Flag.OUTSIDE_OFFICE, alamat="KP. CEGER RT 01 RW 02", kelurahan="JATIMAKMUR",
                  kecamatan="PONDOK GEDE")
    _unclear_with(kota, Flag.OUTSIDE_OFFICE, alamat="JL. SERSAN AJI NO 3", kelurahan="SUMBERJAYA",
                  kecamatan="TAMBUN SELATAN")
    _unclear_with(kab, Flag.OUTSIDE_OFFICE, alamat="JL. NUSANTARA RAYA NO 12 PERUMNAS 3 ARENJAYA BEKASI TIMUR")
    _unclear_with(kab, Flag.OUTSIDE_OFFICE, alamat="KP. PULO", kode_wilayah="32.75.02.1001")


def test_kode_wilayah_mismatch(kab):
    _unclear_with(kab, Flag.KODE_WILAYAH_MISMATCH, alamat="KP. PONCOL RT 01/02", kelurahan="MEKARSARI",
                  kecamatan="TAMBUN SELATAN", kode_wilayah="32.16.06.2010")


def test_far_from_kelurahan_is_defined_for_the_geocoding_step():
    assert Flag("FAR_FROM_KELURAHAN") is Flag.FAR_FROM_KELURAHAN
    assert Flag.FAR_FROM_KELURAHAN in BLOCKING


# --- clear cases, one per kind of mess ----------------------------------------------------------------------------

CLEAR_CASES = [
    ("columns", dict(alamat="JL. MAWAR NO 5", rt="3", rw="5", kelurahan="SUMBERJAYA", kecamatan="TAMBUN SELATAN",
                     kabupaten_kota="KAB. BEKASI", provinsi="JAWA BARAT", kode_pos="17510"), SUMBERJAYA),
    ("case", dict(alamat="jl mawar 5", kelurahan="sumberjaya", kecamatan="Tambun Selatan"), SUMBERJAYA),
    ("marker", dict(alamat="KP. PULO", kelurahan="Ds. Sumberjaya", kecamatan="Kec. Tambun Selatan"), SUMBERJAYA),
    ("split", dict(alamat="KP. PULO", kelurahan="SUMBER JAYA", kecamatan="TAMBUN SELATAN"), SUMBERJAYA),
    ("joined", dict(alamat="KP. PULO", kelurahan="KARANG ASIH", kecamatan="CIKARANG UTARA"), KARANGASIH),
    ("typo1", dict(alamat="KP. PULO", kelurahan="SUMBERJYA", kecamatan="TAMBUN SELATAN"), SUMBERJAYA),
    ("typo1 without kecamatan", dict(alamat="KP. PULO", kelurahan="SUMBRJAYA"), SUMBERJAYA),
    ("typo2", dict(alamat="KP. PULO", kelurahan="SMBERJAY", kecamatan="TAMBUN SELATAN"), SUMBERJAYA),
    ("typo2 in a short name, kecamatan given", dict(alamat="JL. FLAMBOYAN 1", kelurahan="SERNAAG",
                                                    kecamatan="CIKARANG SELATAN"), "32.16.19.2006"),
    ("old spelling", dict(alamat="KP. PULO", kelurahan="SOEMBERDJAJA", kecamatan="TAMBOEN SELATAN"), SUMBERJAYA),
    ("abbrev_kec Tambun Sel", dict(alamat="KP. PULO", kelurahan="SUMBERJAYA", kecamatan="Tambun Sel"), SUMBERJAYA),
    ("abbrev_kec Ckr Barat", dict(alamat="KP. PULO", kelurahan="TELAGA ASIH", kecamatan="Ckr Barat"), "32.16.08.1008"),
    ("abbrev_kec Cikarang Bar.", dict(alamat="KP. PULO", kelurahan="TELAGA ASIH", kecamatan="Cikarang Bar."),
     "32.16.08.1008"),
    ("abbrev_kec Cikarang Utr", dict(alamat="KP. PULO", kelurahan="KARANGASIH", kecamatan="Cikarang Utr"), KARANGASIH),
    ("abbrev_kec Kec. Setu", dict(alamat="KP. PULO", kelurahan="CIBENING", kecamatan="Kec. Setu"), "32.16.18.2005"),
    ("abbrev_kel Krg Asih", dict(alamat="KP. PULO", kelurahan="KRG. ASIH", kecamatan="CIKARANG UTARA"), KARANGASIH),
    ("kecamatan typo", dict(alamat="KP. PULO", kelurahan="SUMBERJAYA", kecamatan="TAMBUN SELTAN"), SUMBERJAYA),
    ("kode_wilayah only, undotted", dict(alamat="JL. MAWAR 5", kode_wilayah="3216062010"), SUMBERJAYA),
    ("kode_wilayah agrees with a misspelt name", dict(alamat="JL. ANGGREK", kelurahan="WULYA",
                                                      kecamatan="CIKARANG UTARA", kode_wilayah="3216092004"),
     "32.16.09.2004"),
    ("excel floats", dict(alamat="KP. PULO", rt=3.0, rw="5.0", kelurahan="SUMBERJAYA", kode_pos=17510.0,
                          kode_wilayah=3216062010), SUMBERJAYA),
    ("kelurahan and kecamatan in one cell", dict(alamat="KP. PULO", kelurahan="DS. SUMBERJAYA KEC. TAMBUN SELATAN"),
     SUMBERJAYA),
    ("swapped columns", dict(alamat="KP. PULO", kelurahan="TAMBUN SELATAN", kecamatan="SUMBERJAYA"), SUMBERJAYA),
    ("free text with markers", dict(alamat="KP. BULAK RT 3/4 DS. SUMBERJAYA KEC. TAMBUN SELATAN KAB. BEKASI 17510"),
     SUMBERJAYA),
    ("free text without markers", dict(alamat="JL. CEMPAKA NO 5, SUMBERJAYA, TAMBUN SELATAN, KAB. BEKASI"),
     SUMBERJAYA),
    ("free text, region first", dict(alamat="Desa Sumberjaya, Kec. Tambun Selatan, Perum Griya Asri 2 Blok C5 No 7"),
     SUMBERJAYA),
    ("free text, misspelt kelurahan", dict(alamat="kp. pulo sumberjya tambun sel"), SUMBERJAYA),
    ("free text, misspelt kecamatan", dict(alamat="KP. PULO SUMBERJAYA TAMBUN SELATN"), SUMBERJAYA),
    ("free text, kelurahan only", dict(alamat="KP. PULO RT 1/2 SUMBERJAYA"), SUMBERJAYA),
    ("street named after another desa", dict(alamat="JL. RAYA SETU NO 5 CIBENING"), "32.16.18.2005"),
    ("kabupaten spelt oddly", dict(alamat="KP. PULO", kelurahan="SUMBERJAYA", kabupaten_kota="KAB. BKS"), SUMBERJAYA),
]


@pytest.mark.parametrize(("kind", "kw", "code"), CLEAR_CASES, ids=[c[0] for c in CLEAR_CASES])
def test_clear(kab, kind, kw, code):
    a = kab.normalize(AddressInput(**kw))
    assert (a.status, a.kode_wilayah) == ("CLEAR", code), a
    assert not [f for f in a.flags if f in BLOCKING]


KOTA_CASES = [
    ("Bks Utara", dict(alamat="JL. X 5", kelurahan="Kaliabang Tgh", kecamatan="Bks Utara"), "32.75.03.1001"),
    ("Pd Gede", dict(alamat="JL. X 5", kelurahan="Jatibening Br", kecamatan="Pd Gede"), "32.75.08.1006"),
    ("free text Kota", dict(alamat="Jl. Kalimalang Gg. Masjid No.12 Kel. Bintara Kec. Bekasi Barat Kota Bekasi 17134"),
     BINTARA),
    ("kode pos settles Jatiasih", dict(alamat="JL. NUSA INDAH NO 5 RT 3/5 JATIASIH BEKASI 17423"), "32.75.09.1002"),
    ("marker before a name starting with Kota", dict(alamat="JL. X NO 3 KEL. KOTA BARU KEC. BEKASI BARAT"),
     "32.75.02.1003"),
]


@pytest.mark.parametrize(("kind", "kw", "code"), KOTA_CASES, ids=[c[0] for c in KOTA_CASES])
def test_clear_kota(kota, kind, kw, code):
    a = kota.normalize(AddressInput(**kw))
    assert (a.status, a.kode_wilayah) == ("CLEAR", code), a


# --- the street and RT/RW -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("alamat", "street"), [
    ("jl raya jatimulya no 12", "JL. RAYA JATIMULYA NO. 12"),
    ("Jln. Raya Jatimulya No.12", "JL. RAYA JATIMULYA NO. 12"),
    ("JALAN RAYA JATIMULYA NOMOR 12", "JL. RAYA JATIMULYA NO. 12"),
    ("gang h muin", "GG. H. MUIN"),
    ("Gg. H Muin", "GG. H. MUIN"),
    ("kampung pulo", "KP. PULO"),
    ("Kp Pulo", "KP. PULO"),
    ("perumahan griya asri 2 blk c5 no7", "PERUM GRIYA ASRI 2 BLOK C5 NO. 7"),
    ("Komplek Griya Asri Blok H No 3", "KOMP. GRIYA ASRI BLOK H NO. 3"),
    ("KP. PULO RT 003/RW 005, DESA SUMBERJAYA", "KP. PULO"),
])
def test_street_canonical(kab, alamat, street):
    a = kab.normalize(AddressInput(alamat=alamat, kelurahan="SUMBERJAYA", kecamatan="TAMBUN SELATAN"))
    assert a.street == street


@pytest.mark.parametrize(("alamat", "street"), [
    ("KAMPUNG LAMBANGSARI TENGAH", "KP. LAMBANGSARI TENGAH"),
    ("KP SUKADAMI TENGAH RT 003/RW 006", "KP. SUKADAMI TENGAH"),
    ("KP. SETIA MEKAR TENGAH", "KP. SETIA MEKAR TENGAH"),
])
def test_street_keeps_a_kampung_named_like_a_kelurahan_outside_the_office(kab, alamat, street):
    """"Tengah" is a kelurahan of Jakarta Timur and of Bogor, and also the middle part of a kampung: beside the
    kelurahan column it is the kampung's name, which the postman needs, not a region to cut from the street."""
    a = kab.normalize(AddressInput(alamat=alamat, kelurahan="JATIMULYA", kecamatan="TAMBUN SELATAN"))
    assert (a.status, a.kode_wilayah, a.street) == ("CLEAR", "32.16.06.1001", street)


def test_street_keeps_a_road_named_after_the_kelurahan(kab):
    a = kab.normalize(AddressInput(alamat="JL. RAYA JATIMULYA NO. 12", kelurahan="JATIMULYA",
                                   kecamatan="TAMBUN SELATAN"))
    assert (a.status, a.street, a.kode_wilayah) == ("CLEAR", "JL. RAYA JATIMULYA NO. 12", "32.16.06.1001")


@pytest.mark.parametrize(("rt", "rw", "alamat"), [
    ("3", "5", "KP. PULO"), ("003", "005", "KP. PULO"), (None, None, "KP. PULO RT 003/RW 005"),
    (None, None, "KP. PULO RT.3 RW.5"), (None, None, "KP. PULO rt03/05"), (3.0, 5.0, "KP. PULO"),
])
def test_rt_rw(kab, rt, rw, alamat):
    a = kab.normalize(AddressInput(alamat=alamat, rt=rt, rw=rw, kelurahan="SUMBERJAYA"))
    assert (a.rt, a.rw, a.street) == ("003", "005", "KP. PULO")


def test_unclear_address_keeps_its_best_candidate_and_parts(kab):
    a = kab.normalize(AddressInput(alamat="KP. PULO RT 1/2", kelurahan="SUMBERJAYA", kecamatan="CIBITUNG"))
    assert (a.status, a.kode_wilayah, a.kelurahan, a.street, a.rt) == ("UNCLEAR", SUMBERJAYA, "Sumberjaya",
                                                                        "KP. PULO", "001")


def test_repeated_calls_are_stable(kab):
    inp = AddressInput(alamat="kp. pulo sumberjya tambun sel", rt="1", rw="2")
    assert kab.normalize(inp) == kab.normalize(inp)


def test_unknown_office_code_is_refused():
    with pytest.raises(ValueError):
        Normalizer("99.99")


# --- the evaluation set ---------------------------------------------------------------------------------------------

def test_targets_on_the_evaluation_set():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_address import TARGETS, evaluate, load_rows, normalizer_answers

    rows = load_rows()
    assert len(rows) >= 2000
    results = evaluate(rows, normalizer_answers(rows))
    for group in ("all", "32.16", "32.75", "odd ids (held out)"):
        f = results[group]
        assert f.accuracy >= TARGETS["accuracy"], (group, f)
        assert f.clear_on_placeable >= TARGETS["clear_on_placeable"], (group, f)
        assert f.unclear_flagged >= TARGETS["unclear_flagged"], (group, f)
        assert f.clear_but_wrong <= TARGETS["clear_but_wrong"], (group, f)
