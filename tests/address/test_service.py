"""The address pipeline's card columns (`address.service`): what a placed address writes to its card, and which
placed addresses wait for a clerk because their street is only a temporary entry."""

from __future__ import annotations

import pytest

from address.normalize import AddressInput
from address.service import CARD_ADDRESS_COLUMNS, AddressPipeline, card_address_values

JATIMULYA = dict(kelurahan="JATIMULYA", kecamatan="TAMBUN SELATAN", kabupaten_kota="KAB. BEKASI", provinsi="JAWA BARAT")


@pytest.fixture(scope="module")
def pipeline() -> AddressPipeline:
    return AddressPipeline("32.16", None)


@pytest.mark.parametrize(("alamat", "parts", "status", "first_flag"), [
    ("JL. MAWAR NO. 11", dict(rt="3", rw="7", **JATIMULYA), "CLEAR", None),
    ("BELUM ADA", dict(rt="3", rw="7", **JATIMULYA), "UNCLEAR", "PLACEHOLDER_STREET"),
    ("JL. -", dict(rt="3", rw="7", **JATIMULYA), "UNCLEAR", "PLACEHOLDER_STREET"),
    ("JL. MAWAR NO. 11", dict(rt="3", rw="7"), "UNCLEAR", "NO_KELURAHAN"),
    ("JL. MAWAR NO. 11", dict(rt="3", rw="7", kelurahan="MENTENG", kecamatan="MENTENG",
                              kabupaten_kota="KOTA ADM. JAKARTA PUSAT", provinsi="DKI JAKARTA"),
     "UNCLEAR", "OUTSIDE_OFFICE"),
    ("JL. MAWAR NO. 11", dict(**JATIMULYA), "UNCLEAR", "NOT_DELIVERABLE"),
])
def test_a_placed_address_sets_exactly_the_card_address_columns(pipeline, alamat, parts, status, first_flag):
    values = card_address_values(pipeline.place(AddressInput(alamat=alamat, **parts)))
    # The intake writes an address as these columns in this order (manifests/intake/service.py, `_address_row`).
    assert tuple(values) == CARD_ADDRESS_COLUMNS
    assert values["address_status"] == status
    flags = values["address_flags"].split(";") if values["address_flags"] else []
    assert (flags[0] if flags else None) == first_flag, flags
    if status == "CLEAR":
        assert values["kelurahan_code"] == "32.16.06.1001" and values["address_candidate"] is None
        assert values["street"] and values["rt"] == "003" and values["rw"] == "007"
    else:
        assert values["kelurahan_code"] is None


def test_a_placeholder_street_is_flagged_only_where_the_kelurahan_is_placed(pipeline):
    # No kelurahan at all: the reason a clerk sees first is that one, not the street.
    values = card_address_values(pipeline.place(AddressInput(alamat="BELUM ADA", rt="3", rw="7")))
    assert "PLACEHOLDER_STREET" not in values["address_flags"].split(";")
    # Not for delivery (`antar address normalize`): cleaned and placed, no street rule.
    placed = pipeline.place(AddressInput(alamat="BELUM ADA", rt="3", rw="7", **JATIMULYA), for_delivery=False)
    assert "PLACEHOLDER_STREET" not in card_address_values(placed)["address_flags"].split(";")
