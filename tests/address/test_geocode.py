"""Geocoding: loading region geometry, the local geocoder, Nominatim through geopy against a loopback stub,
the cache, and the far-from-kelurahan check. Runs on SQLite and PostgreSQL (the `app` fixture)."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from geopy.distance import geodesic, great_circle
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from geopy.geocoders.base import Geocoder
from nominatim_stub import NominatimStub
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from address.geocode import (
    GeocoderChain,
    GeoFileError,
    GeoQuery,
    LocalRegionGeocoder,
    Precision,
    centroid_of,
    far_from_kelurahan,
    great_circle_km,
    load_geo_file,
    nominatim_precision,
    nominatim_remote,
    point_in_polygon,
)
from address.models import GeocodeCache, RegionGeo
from app.db import unit_of_work

DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wilayah"
CENTROIDS = DATA_DIR / "centroids.csv"
POLYGONS = DATA_DIR / "bekasi_kelurahan.geojson"

pytestmark = pytest.mark.skipif(not (CENTROIDS.is_file() and POLYGONS.is_file()),
                                reason=f"shared region data not found in {DATA_DIR}")

JATIMULYA = "32.16.06.1001"  # Jatimulya, Tambun Selatan, Kabupaten Bekasi
JATIMULYA_AT = (-6.267122, 107.0291)  # its centroid in centroids.csv
BIG_DESA = "32.16.17.2004"  # a desa reaching 8 km from its centroid


def jatimulya(street: str | None = None, kode: str | None = JATIMULYA) -> GeoQuery:
    return GeoQuery(kode_wilayah=kode, street=street, rt="003", rw="005", kelurahan="JATIMULYA",
                    kecamatan="TAMBUN SELATAN", kabupaten_kota="KAB. BEKASI", provinsi="JAWA BARAT", kode_pos="17510")


@pytest.fixture
def geo_app(app: Flask) -> Flask:
    return app


@pytest.fixture
def bekasi_csv(tmp_path: Path) -> Path:
    """The shared centroids of Kabupaten and Kota Bekasi only (280 rows): fast to load in every test."""
    path = tmp_path / "bekasi_centroids.csv"
    with open(CENTROIDS, newline="", encoding="utf-8") as src, open(path, "w", newline="", encoding="utf-8") as out:
        lines = [line for i, line in enumerate(src) if i == 0 or line.startswith(("32.16", "32.75"))]
        out.writelines(lines)
    return path


def load(app: Flask, path: Path) -> None:
    with app.app_context(), unit_of_work() as session:
        load_geo_file(session, path)


@contextmanager
def chain_in(app: Flask, **config: Any) -> Iterator[tuple[GeocoderChain, Session]]:
    """A chain from the app's configuration plus `config`, inside one unit of work (committed at the end)."""
    with app.app_context(), unit_of_work() as session:
        yield GeocoderChain.from_config({**app.config, **config}, session), session


def region_count(app: Flask, *, polygons: bool = False) -> int:
    with app.app_context(), unit_of_work() as session:
        where = [RegionGeo.polygon.is_not(None)] if polygons else []
        return session.scalar(select(func.count()).select_from(RegionGeo).where(*where))


def nominatim(stub: NominatimStub, **extra: Any) -> dict[str, Any]:
    return {"ANTAR_NOMINATIM_URL": stub.url, "ANTAR_NOMINATIM_MIN_DELAY": 0.01, **extra}


# --- loading -------------------------------------------------------------------------------------------------


def test_load_geo_csv_through_cli(geo_app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["regions", "load-geo", str(CENTROIDS)])
    assert result.exit_code == 0, result.output
    assert "91202 wilayah dimuat (0 dengan batas wilayah, 91202 titik tengah saja), 0 baris dilewati." in result.output
    assert region_count(geo_app) == 91202
    with geo_app.app_context(), unit_of_work() as session:
        row = session.get(RegionGeo, JATIMULYA)
        assert (row.lat, row.lng) == JATIMULYA_AT
        assert row.polygon is None and row.source == "centroids.csv" and row.loaded_at.tzinfo is not None


def test_load_geo_geojson_through_cli_and_csv_keeps_boundaries(
    geo_app: Flask, runner: FlaskCliRunner, bekasi_csv: Path
) -> None:
    result = runner.invoke(args=["regions", "load-geo", str(POLYGONS), "--source", "cahyadsn 2025.7"])
    assert result.exit_code == 0, result.output
    assert "243 wilayah dimuat (243 dengan batas wilayah, 0 titik tengah saja), 0 baris dilewati." in result.output
    with geo_app.app_context(), unit_of_work() as session:
        row = session.get(RegionGeo, JATIMULYA)
        assert row.source == "cahyadsn 2025.7"
        # The centroid is computed from the boundary, close to the published one and inside the boundary.
        assert geodesic((row.lat, row.lng), JATIMULYA_AT).km < 0.5
        assert point_in_polygon(json.loads(row.polygon), row.lat, row.lng)

    result = runner.invoke(args=["regions", "load-geo", str(bekasi_csv)])
    assert result.exit_code == 0, result.output
    assert "280 wilayah dimuat" in result.output
    assert region_count(geo_app) == 280  # 243 kelurahan upserted, 2 kabupaten/kota and 35 kecamatan added
    assert region_count(geo_app, polygons=True) == 243  # a centroid file does not erase boundaries
    with geo_app.app_context(), unit_of_work() as session:
        row = session.get(RegionGeo, JATIMULYA)
        assert (row.lat, row.lng) == JATIMULYA_AT and row.polygon is not None


def test_load_geo_only_prefix(geo_app: Flask, runner: FlaskCliRunner, bekasi_csv: Path) -> None:
    result = runner.invoke(args=["regions", "load-geo", str(bekasi_csv), "--only", "32.75"])
    assert result.exit_code == 0, result.output
    assert region_count(geo_app) == 1 + 12 + 56  # Kota Bekasi, its kecamatan and kelurahan
    assert "di luar --only" in result.output


def test_bad_rows_are_skipped_with_a_reason(geo_app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "wilayah.csv"
    path.write_text(
        "kode;nama;lat;lng\n"  # ';' and decimal commas, as a spreadsheet in Indonesian writes them
        "32.16.06.1001;Jatimulya;-6,267122;107,0291\n"   # line 2: good
        "32.16.06.1002;Tertukar;107,0291;-6,267122\n"    # 3: lat/lng swapped
        "32.16.06;Tambun Selatan;abc;107\n"               # 4: not a number
        "3216061003;Tanpa titik;-6,2;107\n"               # 5: kode without dots
        ";Tanpa kode;-6,2;107\n"                          # 6: no kode
        "\n"                                               # 7: blank, ignored
        "32.16.06.1001;Lagi;-6,3;107,1\n"                 # 8: duplicate
        "32.75.01.1001;Pendek\n"                          # 9: too few columns
        "32.16;Kabupaten Bekasi;-6,2;107,1\n",            # 10: good
        encoding="utf-8",
    )
    result = runner.invoke(args=["regions", "load-geo", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 wilayah dimuat (0 dengan batas wilayah, 2 titik tengah saja), 6 baris dilewati." in result.output
    for line, words in [(3, "tertukar"), (4, "bukan angka"), (5, "bukan kode wilayah"), (6, "kode kosong"),
                        (8, "sudah ada di baris 2"), (9, "kolom kurang")]:
        assert any(f"baris {line}: " in out and words in out for out in result.output.splitlines()), (line, words)
    with geo_app.app_context(), unit_of_work() as session:
        assert (session.get(RegionGeo, JATIMULYA).lat, session.get(RegionGeo, JATIMULYA).lng) == JATIMULYA_AT


def test_bad_geojson_features_are_skipped(geo_app: Flask, tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[107.0, -6.3], [107.01, -6.3], [107.01, -6.29], [107.0, -6.3]]]}
    features = [
        {"type": "Feature", "properties": {"kode": "32.16.06.1001"}, "geometry": square},
        {"type": "Feature", "properties": {"kode": "32.16.06.1002"}, "geometry": {"type": "Point",
                                                                                   "coordinates": [107, -6.3]}},
        {"type": "Feature", "properties": {"kode": "32.16.06.1003"},
         "geometry": {"type": "Polygon", "coordinates": [[[-6.3, 107.0], [-6.3, 107.01], [-6.29, 107.0],
                                                          [-6.3, 107.0]]]}},  # [lat, lng]: wrong order
        {"type": "Feature", "properties": {"nama": "tanpa kode"}, "geometry": square},
    ]
    path = tmp_path / "batas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    with geo_app.app_context(), unit_of_work() as session:
        result = load_geo_file(session, path)
    assert (result.rows, result.polygons, result.unit) == (1, 1, "feature")
    reasons = dict(result.skipped)
    assert set(reasons) == {2, 3, 4}
    assert "Polygon atau MultiPolygon" in reasons[2] and "tertukar" in reasons[3] and "kode kosong" in reasons[4]


@pytest.mark.parametrize(("content", "message"), [
    (b"PK\x03\x04 not really a zip", "XLSX/ZIP"),
    (b"kode,lat\n32.16.06.1001,-6.2\n", "Kolom wajib tidak ada: lng"),
    (b"nik,nama\n1,2\n", "Kolom wajib tidak ada: kode, lat, lng"),
    (b'{"type": "FeatureCollection", "features": [', "GeoJSON tidak dapat dibaca"),
    (b'{"type": "Polygon", "coordinates": []}', "FeatureCollection"),
    (b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"nama": "x"}}]}',
     "properti 'kode'"),
    (b"\xff\xfe\x00k\x00o", "bukan teks UTF-8"),
    (b"  \n", "kosong"),
])
def test_bad_file_gives_a_clear_error_and_loads_nothing(
    geo_app: Flask, runner: FlaskCliRunner, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "wilayah.csv"
    path.write_bytes(content)
    result = runner.invoke(args=["regions", "load-geo", str(path)])
    assert result.exit_code == 1
    assert message in result.output and "Tidak ada yang dimuat." in result.output
    assert region_count(geo_app) == 0
    with geo_app.app_context(), unit_of_work() as session, pytest.raises(GeoFileError):
        load_geo_file(session, path)


def test_file_with_only_bad_rows_fails(geo_app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = tmp_path / "wilayah.csv"
    path.write_text("kode,lat,lng\n32.16.06.1001,0,0\n", encoding="utf-8")
    result = runner.invoke(args=["regions", "load-geo", str(path)])
    assert result.exit_code == 1 and "baris 2: " in result.output and "Tidak ada wilayah" in result.output


# --- the local geocoder ----------------------------------------------------------------------------------------


def test_local_geocoder_answers_at_kelurahan_precision(geo_app: Flask, bekasi_csv: Path) -> None:
    load(geo_app, bekasi_csv)
    with geo_app.app_context(), unit_of_work() as session:
        local = LocalRegionGeocoder()
        assert isinstance(local, Geocoder)
        assert local.refresh(session) == 280
        assert local.refresh(session, prefixes=["32.75"]) == 69
        local.refresh(session)
    location = local.geocode(jatimulya())
    assert (location.latitude, location.longitude) == JATIMULYA_AT
    assert location.raw == {"kode": JATIMULYA, "precision": "kelurahan"}
    assert local.geocode(JATIMULYA).point == location.point
    assert local.geocode(JATIMULYA, exactly_one=False) == [location]
    assert local.geocode("32.16.06").raw["precision"] == "none"  # a kecamatan is too coarse to deliver by
    assert local.geocode("99.99.99.9999") is None and local.geocode(jatimulya(kode=None)) is None

    with chain_in(geo_app) as (chain, _session):
        result = chain.geocode(jatimulya("JL. RAYA JATIMULYA NO. 1"))
    assert (result.lat, result.lng, result.precision, result.provider) == (*JATIMULYA_AT, "kelurahan", "local")


def test_shared_local_geocoder_reloads_after_a_load(geo_app: Flask, bekasi_csv: Path) -> None:
    with geo_app.app_context(), unit_of_work() as session:
        first = LocalRegionGeocoder.shared(session)
        assert len(first) == 0 and LocalRegionGeocoder.shared(session) is first
    load(geo_app, bekasi_csv)
    with geo_app.app_context(), unit_of_work() as session:
        assert len(LocalRegionGeocoder.shared(session)) == 280


def test_without_geo_data_or_nominatim_nothing_breaks(geo_app: Flask) -> None:
    with chain_in(geo_app) as (chain, session):
        result = chain.geocode(jatimulya("JL. RAYA JATIMULYA NO. 1"))
        assert (result.lat, result.lng, result.precision, result.provider) == (None, None, Precision.NONE, "none")
        assert chain.geocode(GeoQuery()).precision is Precision.NONE
        assert chain.far_from_kelurahan(JATIMULYA, -6.26, 107.03) is None
        assert far_from_kelurahan(session, JATIMULYA, -6.26, 107.03) is None
        assert chain.lookups == 0 and chain.remotes == []


# --- Nominatim through geopy, and the cache -----------------------------------------------------------------


def test_nominatim_street_precision_and_cache(geo_app: Flask, bekasi_csv: Path) -> None:
    load(geo_app, bekasi_csv)
    query = jatimulya("JL. RAYA JATIMULYA NO. 1")
    with NominatimStub(DATA_DIR) as stub:
        config = nominatim(stub, ANTAR_GEOCODE_MIN_PRECISION="street")
        with chain_in(geo_app, **config) as (chain, _session):
            first = chain.geocode(query)
            assert (first.precision, first.provider) == (Precision.STREET, "nominatim")
            assert 0.09 < geodesic((first.lat, first.lng), JATIMULYA_AT).km < 0.31
            assert len(stub.requests) == 1
            sent = stub.requests[0]
            assert sent["q"] == "JL. RAYA JATIMULYA NO. 1, JATIMULYA, TAMBUN SELATAN, Kabupaten BEKASI, JAWA BARAT, " \
                                "Indonesia"  # no RT/RW, no postal code
            assert (sent["format"], sent["limit"], sent["countrycodes"]) == ("json", "1", "id")

            # The same address again, however typed: from the cache.
            again = chain.geocode(jatimulya(" jl.  raya jatimulya no. 1 "))
            assert again == first and len(stub.requests) == 1
            assert (chain.queries, chain.lookups, chain.cache_hits) == (2, 1, 1)

        # A new chain (a later request or command) finds the committed answer.
        with chain_in(geo_app, **config) as (chain, session):
            assert chain.geocode(query) == first and chain.cache_hits == 1 and chain.lookups == 0
            row = session.execute(select(GeocodeCache)).scalar_one()
            assert (row.provider, row.query, row.precision) == ("nominatim", query.key(), "street")
            assert json.loads(row.raw)["addresstype"] == "road"
        assert len(stub.requests) == 1


def test_nominatim_only_when_local_has_nothing(geo_app: Flask, bekasi_csv: Path) -> None:
    load(geo_app, bekasi_csv)
    with NominatimStub(DATA_DIR) as stub, chain_in(geo_app, **nominatim(stub)) as (chain, _session):
        # Default minimum precision 'kelurahan': the loaded centroid is enough, Nominatim is not asked.
        assert chain.geocode(jatimulya("JL. RAYA JATIMULYA NO. 1")).provider == "local"
        assert stub.requests == []
        # A kelurahan the operator has no geometry for: Nominatim's answer is used.
        result = chain.geocode(jatimulya("JL. RAYA JATIMULYA NO. 1", kode="32.16.06.9999"))
        assert (result.precision, result.provider) == (Precision.STREET, "nominatim")
        result = chain.geocode(jatimulya(None, kode=None))
        assert (result.precision, result.provider) == (Precision.KELURAHAN, "nominatim")
        assert (result.lat, result.lng) == JATIMULYA_AT  # the stub answers a village with its centroid
        assert len(stub.requests) == 2


def test_best_answer_when_none_is_precise_enough(geo_app: Flask, bekasi_csv: Path) -> None:
    load(geo_app, bekasi_csv)
    with NominatimStub(DATA_DIR) as stub, \
            chain_in(geo_app, **nominatim(stub, ANTAR_GEOCODE_MIN_PRECISION="house")) as (chain, _session):
        assert chain.geocode(jatimulya("JL. RAYA JATIMULYA NO. 1")).precision is Precision.STREET
        # Nominatim knows only the village: equal precision, so the first geocoder's answer stands.
        assert chain.geocode(jatimulya(None)).provider == "local"
        assert len(stub.requests) == 2


def test_no_result_is_cached_too(geo_app: Flask) -> None:
    query = GeoQuery(street="JL. ENTAH DI MANA", kelurahan="TIDAK ADA", kecamatan="ENTAH")
    with NominatimStub(DATA_DIR) as stub:
        with chain_in(geo_app, **nominatim(stub)) as (chain, session):
            assert chain.geocode(query).precision is Precision.NONE
            assert chain.geocode(query).precision is Precision.NONE
            assert len(stub.requests) == 1 and chain.cache_hits == 1
        with chain_in(geo_app, **nominatim(stub)) as (chain, session):
            assert chain.geocode(query).precision is Precision.NONE
            row = session.execute(select(GeocodeCache)).scalar_one()
            assert (row.lat, row.lng, row.precision, row.raw) == (None, None, "none", "[]")
        assert len(stub.requests) == 1


def test_a_failing_server_is_not_cached(geo_app: Flask) -> None:
    query = GeoQuery(street="JL. GANGGU", kelurahan="JATIMULYA")
    with NominatimStub(DATA_DIR) as stub, chain_in(geo_app, **nominatim(stub)) as (chain, session):
        assert chain.geocode(query).precision is Precision.NONE
        assert len(stub.requests) == 3 and chain.errors == 1  # RateLimiter: 1 try + 2 retries
        assert session.scalar(select(func.count()).select_from(GeocodeCache)) == 0
        chain.geocode(query)
        assert len(stub.requests) == 6


def test_requests_go_through_the_rate_limiter(geo_app: Flask) -> None:
    with NominatimStub(DATA_DIR) as stub:
        remote = nominatim_remote(stub.url, "antar-test", 0.2)
        assert isinstance(remote.limiter, RateLimiter) and remote.limiter.min_delay_seconds == 0.2
        started = time.monotonic()
        for street in ("JL. SATU", "JL. DUA"):
            with chain_in(geo_app, **nominatim(stub, ANTAR_NOMINATIM_MIN_DELAY=0.2,
                                               ANTAR_NOMINATIM_USER_AGENT="antar-test")) as (chain, _session):
                chain.geocode(GeoQuery(street=street, kelurahan="JATIMULYA"))
                chain.geocode(GeoQuery(street=street + " NO. 2", kelurahan="JATIMULYA"))
        # Four requests at least 0.2 s apart, across chain instances: the limiter is shared per server.
        assert len(stub.requests) == 4 and time.monotonic() - started >= 0.6


# --- the far check ----------------------------------------------------------------------------------------------


def test_far_check_with_boundaries(geo_app: Flask) -> None:
    load(geo_app, POLYGONS)
    with NominatimStub(DATA_DIR) as stub, \
            chain_in(geo_app, **nominatim(stub, ANTAR_GEOCODE_MIN_PRECISION="street")) as (chain, session):
        near = chain.geocode(jatimulya("JL. RAYA JATIMULYA NO. 1"))
        wrong = chain.geocode(jatimulya("JL. SALAH KAMPUNG"))
        assert near.precision is wrong.precision is Precision.STREET
        assert geodesic((wrong.lat, wrong.lng), JATIMULYA_AT).km > 9
        assert chain.far_from_kelurahan(JATIMULYA, near.lat, near.lng) is False
        assert chain.far_from_kelurahan(JATIMULYA, wrong.lat, wrong.lng) is True
        assert far_from_kelurahan(session, JATIMULYA, wrong.lat, wrong.lng) is True
        assert far_from_kelurahan(session, JATIMULYA, near.lat, near.lng) is False
        # Inside a large desa but 5 km from its centroid: the boundary decides, not the distance.
        polygon = json.loads(session.get(RegionGeo, BIG_DESA).polygon)
        lat, lng = _inside_far_from_centroid(polygon, centroid_of(polygon), 5.0)
        assert far_from_kelurahan(session, BIG_DESA, lat, lng, 2.0) is False
        # A few metres outside a (simplified) boundary is still in the kelurahan.
        vertex_lng, vertex_lat = polygon["coordinates"][0][0]
        assert far_from_kelurahan(session, BIG_DESA, vertex_lat + 0.0002, vertex_lng) is False


def _inside_far_from_centroid(polygon: dict, centre: tuple[float, float], km: float) -> tuple[float, float]:
    for lng, lat in polygon["coordinates"][0]:
        if geodesic(centre, (lat, lng)).km > km + 0.5:
            # Step back towards the centre until inside.
            for t in (0.95, 0.9, 0.85, 0.8):
                p = (centre[0] + (lat - centre[0]) * t, centre[1] + (lng - centre[1]) * t)
                if point_in_polygon(polygon, *p) and geodesic(centre, p).km > km:
                    return p
    raise AssertionError("no such point")


def test_far_check_by_distance_without_boundaries(geo_app: Flask, bekasi_csv: Path) -> None:
    load(geo_app, bekasi_csv)
    lat, lng = JATIMULYA_AT
    north_1_5 = geodesic(kilometers=1.5).destination(JATIMULYA_AT, 0)
    north_3 = geodesic(kilometers=3).destination(JATIMULYA_AT, 0)
    with chain_in(geo_app) as (chain, session):
        assert chain.far_km == 2.0
        assert chain.far_from_kelurahan(JATIMULYA, north_1_5.latitude, north_1_5.longitude) is False
        assert chain.far_from_kelurahan(JATIMULYA, north_3.latitude, north_3.longitude) is True
        assert far_from_kelurahan(session, JATIMULYA, north_3.latitude, north_3.longitude, max_km=5) is False
        assert far_from_kelurahan(chain.local, JATIMULYA, lat, lng) is False
    with chain_in(geo_app, ANTAR_GEO_FAR_KM=1.0) as (chain, _session):
        assert chain.far_from_kelurahan(JATIMULYA, north_1_5.latitude, north_1_5.longitude) is True


# --- pure functions ----------------------------------------------------------------------------------------------

SQUARE_WITH_HOLE = {"type": "Polygon", "coordinates": [
    [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]],
    [[2, 2], [2, 4], [4, 4], [4, 2], [2, 2]],  # a hole, wound the other way
]}


def test_point_in_polygon() -> None:
    assert point_in_polygon(SQUARE_WITH_HOLE, 5, 5)
    assert not point_in_polygon(SQUARE_WITH_HOLE, 3, 3)  # in the hole
    assert not point_in_polygon(SQUARE_WITH_HOLE, 5, 11)
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE_WITH_HOLE["coordinates"],
                                                     [[[20, 20], [21, 20], [21, 21], [20, 20]]]]}
    assert point_in_polygon(multi, lat=20.2, lng=20.8) and point_in_polygon(multi, 5, 5)
    assert not point_in_polygon(multi, lat=20.8, lng=20.2)
    with pytest.raises(ValueError):
        point_in_polygon({"type": "Point", "coordinates": [1, 2]}, 1, 2)
    with pytest.raises(ValueError):
        point_in_polygon({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [0, 0]]]}, 1, 2)


def test_centroid_is_area_weighted() -> None:
    square = {"type": "Polygon", "coordinates": [[[106, -7], [108, -7], [108, -5], [106, -5], [106, -7]]]}
    assert centroid_of(square) == pytest.approx((-6, 107))
    lat, lng = centroid_of(SQUARE_WITH_HOLE)  # area 96; the hole (area 4 at (3, 3)) pulls it away
    assert (lat, lng) == pytest.approx(((100 * 5 - 4 * 3) / 96, (100 * 5 - 4 * 3) / 96))
    big_and_small = {"type": "MultiPolygon", "coordinates": [
        [[[0, 0], [3, 0], [3, 3], [0, 3], [0, 0]]], [[[10, 0], [11, 0], [11, 1], [10, 1], [10, 0]]]]}
    assert centroid_of(big_and_small) == pytest.approx(((9 * 1.5 + 0.5) / 10, (9 * 1.5 + 10.5) / 10))


def test_precision_order_and_nominatim_mapping() -> None:
    assert Precision.HOUSE > Precision.STREET > Precision.KELURAHAN > Precision.NONE
    assert max([Precision.KELURAHAN, Precision.HOUSE, Precision.NONE]) is Precision.HOUSE
    assert nominatim_precision({"addresstype": "road", "class": "highway", "type": "residential"}) == "street"
    assert nominatim_precision({"class": "highway", "type": "residential"}) == "street"  # no addresstype
    assert nominatim_precision({"class": "building", "type": "yes"}) == "house"
    assert nominatim_precision({"addresstype": "village", "class": "boundary", "type": "administrative"}) \
        == "kelurahan"
    assert nominatim_precision({"addresstype": "county", "class": "boundary", "type": "administrative"}) == "none"
    assert nominatim_precision({"category": "amenity", "type": "school"}) == "none"


def test_query_text_and_key() -> None:
    q = GeoQuery(street="JL.  MAWAR NO. 5 ", rt="003", rw="005", kelurahan="DESA SUKAMAJU",
                 kecamatan="KEC. CIBITUNG", kabupaten_kota="KAB. BEKASI", provinsi="PROV. JAWA BARAT",
                 kode_pos="17520")
    assert q.text() == "JL. MAWAR NO. 5, SUKAMAJU, CIBITUNG, Kabupaten BEKASI, JAWA BARAT, Indonesia"
    assert q.key() == q.text().upper()
    assert GeoQuery(street="jl. mawar no. 5", kelurahan="sukamaju", kecamatan="cibitung",
                    kabupaten_kota="kabupaten bekasi", provinsi="jawa barat").key() == q.key()
    assert len(GeoQuery(street="X" * 900).key()) == 500
    assert not GeoQuery(kecamatan="CIBITUNG").worth_asking()


def test_config_errors_are_clear(geo_app: Flask) -> None:
    with geo_app.app_context(), unit_of_work() as session:
        with pytest.raises(ValueError, match="ANTAR_GEOCODE_MIN_PRECISION"):
            GeocoderChain.from_config({"ANTAR_GEOCODE_MIN_PRECISION": "rumah"}, session)
        with pytest.raises(ValueError, match="ANTAR_NOMINATIM_URL"):
            GeocoderChain.from_config({"ANTAR_NOMINATIM_URL": "ftp://x"}, session)
        assert GeocoderChain.from_config({"ANTAR_NOMINATIM_URL": "http://x"}, session, remote=False).remotes == []
    remote = nominatim_remote("https://example.org/nominatim/", "antar-test", 0.5)
    assert isinstance(remote.client, Nominatim) and remote.client.api == "https://example.org/nominatim/search"


def test_great_circle_km_is_geopys_great_circle() -> None:
    rng = random.Random(16)
    pairs = [((-6.2668, 107.0295), (-6.2668, 107.0295)), ((0.0, 0.0), (0.0, 180.0)), ((90.0, 0.0), (-90.0, 0.0)),
             ((-6.2, 179.9), (-6.3, -179.9))]
    pairs += [((rng.uniform(-90, 90), rng.uniform(-180, 180)), (rng.uniform(-90, 90), rng.uniform(-180, 180)))
              for _ in range(500)]
    pairs += [((lat, lng), (lat + rng.uniform(-0.05, 0.05), lng + rng.uniform(-0.05, 0.05)))  # a delivery's metres
              for lat, lng in ((rng.uniform(-8, -5), rng.uniform(105, 109)) for _ in range(500))]
    for a, b in pairs:
        assert great_circle_km(*a, *b) == pytest.approx(great_circle(a, b).km, rel=1e-12, abs=1e-9), (a, b)
