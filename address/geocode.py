"""Geocoding: where on the map an address is, and how sure we are.

A chain of geopy geocoders answers, best first:

1. `LocalRegionGeocoder` answers from region geometry an operator loaded (`antar regions load-geo FILE`): the
   centroid of the card's kelurahan. No network, no cache needed.
2. Optionally Nominatim at `ANTAR_NOMINATIM_URL`, through geopy's own client behind geopy's `RateLimiter`.
   Every answer it gives, "no result" included, is stored in `GeocodeCache` and served from there afterwards,
   so an address is never sent twice.

The chain stops at the first answer precise enough (`ANTAR_GEOCODE_MIN_PRECISION`). With no geometry loaded
and no Nominatim configured every answer is simply `Precision.NONE`; nothing else depends on geocoding.

Nominatim is asked in free text ("street, kelurahan, kecamatan, kabupaten/kota, provinsi, Indonesia"), not
with a structured query: a structured query makes each field match one OSM admin level (`city`, `county`),
and Indonesian desa/kelurahan and kecamatan are tagged inconsistently across those; free text lets
Nominatim match them wherever they are. RT/RW and the postal code are left out: OSM does not know RT/RW, and
postal codes are sparse in OSM Indonesia, and a token Nominatim cannot match can make a search fail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from geopy.distance import EARTH_RADIUS, geodesic
from geopy.exc import GeopyError
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from geopy.geocoders.base import DEFAULT_SENTINEL, Geocoder
from geopy.location import Location
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from address.models import GeocodeCache, RegionGeo
from app.db import utcnow

log = logging.getLogger(__name__)

DEFAULT_FAR_KM = 2.0
# Boundaries are simplified (and many follow a road), so a point a few metres outside is still "in" the
# kelurahan: only points farther out than this are flagged.
POLYGON_TOLERANCE_KM = 0.1
NOMINATIM_TIMEOUT_SECONDS = 10
DEFAULT_USER_AGENT = "antar-ektp"

# Indonesia's extent, generously: a point outside is a typo or swapped coordinates, never a real kelurahan.
LAT_RANGE = (-11.0, 6.0)
LNG_RANGE = (95.0, 141.0)


# --- what is asked and what is answered -----------------------------------------------------------------


class Precision(StrEnum):
    HOUSE = "house"
    STREET = "street"
    KELURAHAN = "kelurahan"
    NONE = "none"

    @property
    def rank(self) -> int:
        return _RANK[self]

    # Ordered by how precise, not alphabetically as str would: HOUSE > STREET > KELURAHAN > NONE.
    def __lt__(self, other: object) -> bool:
        return self.rank < other.rank if isinstance(other, Precision) else NotImplemented

    def __le__(self, other: object) -> bool:
        return self.rank <= other.rank if isinstance(other, Precision) else NotImplemented

    def __gt__(self, other: object) -> bool:
        return self.rank > other.rank if isinstance(other, Precision) else NotImplemented

    def __ge__(self, other: object) -> bool:
        return self.rank >= other.rank if isinstance(other, Precision) else NotImplemented


_RANK = {Precision.NONE: 0, Precision.KELURAHAN: 1, Precision.STREET: 2, Precision.HOUSE: 3}

_SPACES = re.compile(r"\s+")
_AREA_MARKER = re.compile(r"^(?:KELURAHAN|KEL|DESA|DS|KECAMATAN|KEC)\b\.?\s*", re.IGNORECASE)
_KABUPATEN = re.compile(r"^(?:KABUPATEN|KAB)\b\.?\s*", re.IGNORECASE)
_PROVINSI = re.compile(r"^(?:PROVINSI|PROV)\b\.?\s*", re.IGNORECASE)
_KEY_MAX = 500


def _clean(value: str | None, marker: re.Pattern[str] | None = None) -> str:
    s = _SPACES.sub(" ", value or "").strip(" ,;")
    return marker.sub("", s).strip(" ,;") if marker else s


@dataclass(frozen=True)
class GeoQuery:
    """A normalized address, as the geocoders see it."""

    kode_wilayah: str | None = None  # the kelurahan's Kemendagri code, when the address was placed
    street: str | None = None  # the address line without RT/RW: 'JL. MAWAR NO. 5'
    rt: str | None = None
    rw: str | None = None
    kelurahan: str | None = None
    kecamatan: str | None = None
    kabupaten_kota: str | None = None
    provinsi: str | None = None
    kode_pos: str | None = None

    def _parts(self) -> list[str]:
        kab = _clean(self.kabupaten_kota)
        if _KABUPATEN.match(kab):  # 'KAB. BEKASI' means nothing to OSM, 'Kabupaten BEKASI' does
            kab = "Kabupaten " + _clean(kab, _KABUPATEN)
        parts = [_clean(self.street), _clean(self.kelurahan, _AREA_MARKER), _clean(self.kecamatan, _AREA_MARKER),
                 kab, _clean(self.provinsi, _PROVINSI)]
        return [p for p in parts if p] + ["Indonesia"]

    def text(self) -> str:
        """Free text for a geocoder: street, kelurahan, kecamatan, kabupaten/kota, provinsi, Indonesia."""
        return ", ".join(self._parts())

    def key(self) -> str:
        """The cache key: what is actually sent, so that case and spacing do not make a second lookup."""
        key = self.text().upper()
        if len(key) > _KEY_MAX:
            key = key[: _KEY_MAX - 41] + "#" + hashlib.sha1(key.encode()).hexdigest()
        return key

    def worth_asking(self) -> bool:
        # Without a street or a kelurahan a remote answer could only be a kecamatan or wider: useless.
        return bool(_clean(self.street) or _clean(self.kelurahan, _AREA_MARKER))


@dataclass(frozen=True)
class GeoResult:
    lat: float | None
    lng: float | None
    precision: Precision
    provider: str  # 'local', 'nominatim', or 'none'


NO_RESULT = GeoResult(None, None, Precision.NONE, "none")


def _result(lat: float | None, lng: float | None, precision: Precision, provider: str) -> GeoResult:
    # A point whose precision we cannot name is not a point we use.
    if precision is Precision.NONE or lat is None or lng is None:
        return GeoResult(None, None, Precision.NONE, provider)
    return GeoResult(lat, lng, precision, provider)


# --- geometry (GeoJSON Polygon / MultiPolygon, positions [lng, lat]) ---------------------------------------

Ring = list[tuple[float, float]]  # (x=lng, y=lat)
Polygons = list[list[Ring]]  # polygons, each an outer ring then its holes


def polygons_of(geometry: Mapping[str, Any]) -> Polygons:
    """The rings of a Polygon or MultiPolygon; ValueError (message in Indonesian) when it is neither."""
    kind = geometry.get("type") if isinstance(geometry, Mapping) else None
    coords = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
    if kind not in ("Polygon", "MultiPolygon") or not isinstance(coords, list):
        raise ValueError(f"geometri harus Polygon atau MultiPolygon (ditemukan: {kind or 'tidak ada'})")
    try:
        polygons = [[[(float(p[0]), float(p[1])) for p in ring] for ring in poly]
                    for poly in (coords if kind == "MultiPolygon" else [coords])]
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError("koordinat poligon tidak valid (harus [lng, lat])") from exc
    if not polygons or any(not poly or any(len(ring) < 4 for ring in poly) for poly in polygons):
        raise ValueError("poligon harus punya cincin dengan sedikitnya 4 titik")
    if not all(math.isfinite(v) for poly in polygons for ring in poly for p in ring for v in p):
        raise ValueError("koordinat poligon tidak valid (bukan angka)")
    return polygons


def _odd_crossings(ring: Ring, x: float, y: float) -> bool:
    inside = False
    xj, yj = ring[-1]
    for xi, yi in ring:
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        xj, yj = xi, yi
    return inside


def contains(polygons: Polygons, lat: float, lng: float) -> bool:
    # Even-odd over all rings of one polygon: inside the outer ring and in no hole.
    return any(sum(_odd_crossings(ring, lng, lat) for ring in poly) % 2 == 1 for poly in polygons)


def great_circle_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The great-circle distance in km between two points in degrees: geopy's `great_circle` (its formula and its
    mean Earth radius, `geopy.distance.EARTH_RADIUS`) without the two `Point` objects it makes and checks, which cost
    nine tenths of its time (4.4 µs a call here): the courier webhook measures every delivery's distance from the
    address while a batch holds its items' locks. Same result as geopy's to the last digits
    (tests/address/test_geocode.py)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    sin1, cos1, sin2, cos2 = math.sin(phi1), math.cos(phi1), math.sin(phi2), math.cos(phi2)
    delta = math.radians(lng2) - math.radians(lng1)
    sin_d, cos_d = math.sin(delta), math.cos(delta)
    return EARTH_RADIUS * math.atan2(math.sqrt((cos2 * sin_d) ** 2 + (cos1 * sin2 - sin1 * cos2 * cos_d) ** 2),
                                     sin1 * sin2 + cos1 * cos2 * cos_d)


def point_in_polygon(geojson_geometry: Mapping[str, Any], lat: float, lng: float) -> bool:
    """Whether (lat, lng) lies inside a GeoJSON Polygon/MultiPolygon, holes excluded (ray casting)."""
    return contains(polygons_of(geojson_geometry), lat, lng)


def _ring_moments(ring: Ring) -> tuple[float, float, float]:
    """Signed area and first moments (area x centroid) of a ring, shifted to its first vertex for precision."""
    x0, y0 = ring[0]
    area = mx = my = 0.0
    xj, yj = ring[-1][0] - x0, ring[-1][1] - y0
    for x, y in ring:
        xi, yi = x - x0, y - y0
        cross = xj * yi - xi * yj
        area += cross
        mx += (xj + xi) * cross
        my += (yj + yi) * cross
        xj, yj = xi, yi
    area /= 2
    return area, mx / 6 + area * x0, my / 6 + area * y0


def _centroid(polygons: Polygons) -> tuple[float, float]:
    total = sx = sy = 0.0
    for poly in polygons:
        for i, ring in enumerate(poly):
            area, mx, my = _ring_moments(ring)
            sign = (1.0 if area >= 0 else -1.0) * (1.0 if i == 0 else -1.0)  # holes subtract, any winding
            total += sign * area
            sx += sign * mx
            sy += sign * my
    if abs(total) < 1e-15:  # degenerate (a line or a point): the vertices' mean will do
        points = [p for poly in polygons for p in poly[0]]
        return sum(p[1] for p in points) / len(points), sum(p[0] for p in points) / len(points)
    return sy / total, sx / total


def centroid_of(geometry: Mapping[str, Any]) -> tuple[float, float]:
    """Area-weighted centroid (lat, lng) of a Polygon/MultiPolygon, holes subtracted.

    Computed in degrees: an area-weighted centroid does not change when one axis is scaled, so the
    longitude shrinking with latitude does not matter at the size of a kelurahan.
    """
    return _centroid(polygons_of(geometry))


def _km_to_boundary(polygons: Polygons, lat: float, lng: float) -> float:
    # Equirectangular around the point: exact enough within a few km.
    kx, ky = 111.320 * math.cos(math.radians(lat)), 110.574
    best = math.inf
    for poly in polygons:
        for ring in poly:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                ax, ay, bx, by = (x1 - lng) * kx, (y1 - lat) * ky, (x2 - lng) * kx, (y2 - lat) * ky
                dx, dy = bx - ax, by - ay
                t = 0.0 if dx == dy == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / (dx * dx + dy * dy)))
                best = min(best, math.hypot(ax + t * dx, ay + t * dy))
    return best


# --- the local geocoder ---------------------------------------------------------------------------------


class LocalRegionGeocoder(Geocoder):
    """Answers from loaded `RegionGeo` rows, held in memory (call `refresh`): a kelurahan's centroid.

    A geopy Geocoder so that it sits in the same chain as the remote ones; it never uses the network.
    """

    provider = "local"

    def __init__(self) -> None:
        super().__init__(user_agent=DEFAULT_USER_AGENT)
        self._points: dict[str, tuple[float, float]] = {}
        self._polygon_json: dict[str, str] = {}
        self._polygons: dict[str, Polygons] = {}

    def refresh(self, session: Session, *, prefixes: Sequence[str] = ()) -> int:
        """(Re)load the geometry, optionally only codes under `prefixes` (e.g. an office's '32.16')."""
        where = [or_(*(RegionGeo.kode.startswith(p) for p in prefixes))] if prefixes else []
        self._points = {k: (la, ln) for k, la, ln in
                        session.execute(select(RegionGeo.kode, RegionGeo.lat, RegionGeo.lng).where(*where))}
        self._polygon_json = {k: text for k, text in session.execute(
            select(RegionGeo.kode, RegionGeo.polygon).where(RegionGeo.polygon.is_not(None), *where))}
        self._polygons = {}
        return len(self._points)

    def __len__(self) -> int:
        return len(self._points)

    @classmethod
    def shared(cls, session: Session) -> LocalRegionGeocoder:
        """One refreshed instance per database for the whole process, reloaded only after a load changed it.

        Chains are built per request or command; reloading 90,000 centroids each time would cost more than
        the geocoding. The check is one aggregate query: every load stamps its rows with a new `loaded_at`.
        """
        stamp = tuple(session.execute(select(func.count(), func.max(RegionGeo.loaded_at))).one())
        url = session.get_bind().engine.url.render_as_string(hide_password=True)
        with _shared_lock:
            held = _shared_local.get(url)
            if held is not None and held[0] == stamp:
                return held[1]
        local = cls()  # built outside the lock; a concurrent duplicate refresh is harmless
        local.refresh(session)
        with _shared_lock:
            _shared_local[url] = (stamp, local)
        return local

    def point(self, kode: str) -> tuple[float, float] | None:
        return self._points.get(kode)

    def polygons(self, kode: str) -> Polygons | None:
        if kode not in self._polygons:
            text = self._polygon_json.get(kode)
            self._polygons[kode] = polygons_of(json.loads(text)) if text else None  # type: ignore[assignment]
        return self._polygons[kode]

    def geocode(self, query: GeoQuery | str, *, exactly_one: bool = True,
                timeout: Any = DEFAULT_SENTINEL) -> Location | list[Location] | None:
        kode = ((query.kode_wilayah if isinstance(query, GeoQuery) else query) or "").strip()
        point = self._points.get(kode) if kode else None
        if point is None:
            return None
        # Only a kelurahan/desa code (4 parts) places a card; a kecamatan's centroid says too little.
        precision = Precision.KELURAHAN if kode.count(".") == 3 else Precision.NONE
        location = Location(kode, point, {"kode": kode, "precision": precision.value})
        return location if exactly_one else [location]


_shared_local: dict[str, tuple[tuple[Any, ...], LocalRegionGeocoder]] = {}
_shared_lock = threading.Lock()


# --- remote geocoders -------------------------------------------------------------------------------------

_NOMINATIM_PRECISION: dict[str, Precision] = {
    **dict.fromkeys(("house", "building", "house_number"), Precision.HOUSE),
    **dict.fromkeys(("road", "highway", "street"), Precision.STREET),
    **dict.fromkeys(("village", "suburb", "neighbourhood", "quarter", "hamlet", "administrative"),
                    Precision.KELURAHAN),
    # Kecamatan and wider: known, but too coarse to deliver by. Listed so that an `addresstype` of 'county'
    # is not overruled by the `type` 'administrative' that follows it.
    **dict.fromkeys(("city", "town", "municipality", "city_district", "district", "county", "state_district",
                     "state", "region", "country", "postcode"), Precision.NONE),
}


def nominatim_precision(raw: Mapping[str, Any]) -> Precision:
    """How precise a Nominatim place is: `addresstype` (newest servers) first, then `type`, then `class`."""
    for name in ("addresstype", "type", "class", "category"):
        value = str(raw.get(name) or "").lower()
        if value in _NOMINATIM_PRECISION:
            return _NOMINATIM_PRECISION[value]
    return Precision.NONE


@dataclass(frozen=True)
class RemoteGeocoder:
    """A remote provider as the chain sees it: its cache name, how to ask it, how to judge its answers."""

    name: str
    ask: Callable[[GeoQuery], Location | None]  # raises GeopyError when the service fails
    precision_of: Callable[[Mapping[str, Any]], Precision]
    client: Geocoder | None = None  # the geopy geocoder and its limiter, for inspection
    limiter: RateLimiter | None = None


_remotes: dict[tuple[str, str, float], RemoteGeocoder] = {}
_remotes_lock = threading.Lock()


def nominatim_remote(url: str, user_agent: str = DEFAULT_USER_AGENT, min_delay: float = 1.0) -> RemoteGeocoder:
    """geopy's Nominatim client behind geopy's RateLimiter, one per server for the whole process.

    Shared because chains are short-lived (one per unit of work): a limiter per chain would let the next
    chain send its first request at once, breaking the server's rate limit.
    """
    key = (url, user_agent, min_delay)
    with _remotes_lock:
        if key not in _remotes:
            _remotes[key] = _build_nominatim(url, user_agent, min_delay)
        return _remotes[key]


def _build_nominatim(url: str, user_agent: str, min_delay: float) -> RemoteGeocoder:
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"ANTAR_NOMINATIM_URL tidak valid: {url!r} (contoh: https://nominatim.example.org).")
    client = Nominatim(domain=parts.netloc + parts.path.rstrip("/"), scheme=parts.scheme, user_agent=user_agent,
                       timeout=NOMINATIM_TIMEOUT_SECONDS)
    # Exceptions are not swallowed: the limiter would return None, and a failure would be cached as
    # "no result" forever. The retry wait scales with the delay (geopy's 5 s at the usual 1 request/s).
    limited = RateLimiter(client.geocode, min_delay_seconds=min_delay, max_retries=2,
                          error_wait_seconds=max(min_delay, 5 * min_delay), swallow_exceptions=False)

    def ask(query: GeoQuery) -> Location | None:
        return limited(query.text(), exactly_one=True, addressdetails=True, country_codes="id", language="id")

    return RemoteGeocoder("nominatim", ask, nominatim_precision, client, limited)


# --- the chain ----------------------------------------------------------------------------------------------


def _float_setting(config: Mapping[str, Any], name: str, default: float) -> float:
    value = config.get(name)
    try:
        return default if value in (None, "") else float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} harus berupa angka (ditemukan: {value!r}).") from exc


def _precision_setting(config: Mapping[str, Any]) -> Precision:
    value = str(config.get("ANTAR_GEOCODE_MIN_PRECISION") or Precision.KELURAHAN.value).strip().lower()
    try:
        return Precision(value)
    except ValueError as exc:
        choices = ", ".join(p.value for p in Precision)
        raise ValueError(f"ANTAR_GEOCODE_MIN_PRECISION harus salah satu dari: {choices}.") from exc


class GeocoderChain:
    """Local geometry first, then remote geocoders, stopping at the first answer precise enough.

    Lives within one unit of work: remote answers are cached through its session, committed with the rest.
    Reuse one refreshed `LocalRegionGeocoder` across chains (`local=`) to avoid reloading the geometry.
    """

    def __init__(self, session: Session, local: LocalRegionGeocoder, remotes: Sequence[RemoteGeocoder] = (), *,
                 min_precision: Precision = Precision.KELURAHAN, far_km: float = DEFAULT_FAR_KM) -> None:
        self.session = session
        self.local = local
        self.remotes = list(remotes)
        self.min_precision = min_precision
        self.far_km = far_km
        self.queries = 0  # geocode() calls
        self.lookups = 0  # requests to remote providers (what costs time and quota)
        self.cache_hits = 0  # remote answers served from GeocodeCache
        self.errors = 0  # remote failures (not cached: asked again next time)
        self._local_answers: dict[str, GeoResult] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any], session: Session, *, remote: bool = True,
                    local: LocalRegionGeocoder | None = None) -> GeocoderChain:
        """The configured chain. `remote=False` leaves remote geocoders out (bulk work: at one request a
        second they would take days); `local=` reuses a geocoder already refreshed (default: the shared one)."""
        local = local if local is not None else LocalRegionGeocoder.shared(session)
        remotes = []
        if remote and config.get("ANTAR_NOMINATIM_URL"):
            remotes.append(nominatim_remote(
                str(config["ANTAR_NOMINATIM_URL"]),
                str(config.get("ANTAR_NOMINATIM_USER_AGENT") or DEFAULT_USER_AGENT),
                _float_setting(config, "ANTAR_NOMINATIM_MIN_DELAY", 1.0),
            ))
        return cls(session, local, remotes, min_precision=_precision_setting(config),
                   far_km=_float_setting(config, "ANTAR_GEO_FAR_KM", DEFAULT_FAR_KM))

    def geocode(self, query: GeoQuery) -> GeoResult:
        """The first answer at least `min_precision`; else the most precise found; else precision NONE."""
        if not self.remotes:
            return self.geocode_code(query.kode_wilayah)
        self.queries += 1
        best: GeoResult | None = None
        for answer in self._answers(query):
            if answer is None or answer.precision is Precision.NONE:
                continue
            if best is None or answer.precision > best.precision:
                best = answer
            if best.precision >= self.min_precision:
                break
        return best or NO_RESULT

    def geocode_code(self, kode_wilayah: str | None) -> GeoResult:
        """`geocode` of any address placed in `kode_wilayah` by a chain without remote geocoders, whose only answer
        is the kelurahan's own point: the same for every address of that kelurahan, so looked up once per code (a
        bulk import asks it for every card without building the query)."""
        self.queries += 1
        key = kode_wilayah or ""
        answer = self._local_answers.get(key)
        if answer is None:
            found = self._local_answer(key)
            answer = found if found is not None and found.precision is not Precision.NONE else NO_RESULT
            self._local_answers[key] = answer
        return answer

    def _local_answer(self, query: GeoQuery | str) -> GeoResult | None:
        location = self.local.geocode(query)
        if not isinstance(location, Location):
            return None
        return _result(location.latitude, location.longitude, Precision(location.raw["precision"]),
                       LocalRegionGeocoder.provider)

    def _answers(self, query: GeoQuery) -> Iterator[GeoResult | None]:
        # A generator, so a remote provider is asked only when the answers before it were not enough.
        local = self._local_answer(query)
        if local is not None:
            yield local
        if query.worth_asking():
            for remote in self.remotes:
                yield self._remote_answer(remote, query)

    def _remote_answer(self, remote: RemoteGeocoder, query: GeoQuery) -> GeoResult | None:
        key = query.key()
        # Columns, not the entity: a bulk run must not fill the session's identity map with cache rows.
        row = self.session.execute(
            select(GeocodeCache.lat, GeocodeCache.lng, GeocodeCache.precision)
            .where(GeocodeCache.provider == remote.name, GeocodeCache.query == key)
        ).first()
        if row is not None:
            self.cache_hits += 1
            return _result(row.lat, row.lng, Precision(row.precision), remote.name)
        self.lookups += 1
        try:
            location = remote.ask(query)
        except GeopyError as exc:
            self.errors += 1
            log.warning("geocoder %s failed for %r: %s", remote.name, key, exc)
            return None
        return self._store(remote, key, location)

    def _store(self, remote: RemoteGeocoder, key: str, location: Location | None) -> GeoResult:
        if location is None:
            lat = lng = None
            precision, raw = Precision.NONE, "[]"
        else:
            lat, lng = location.latitude, location.longitude
            precision, raw = remote.precision_of(location.raw), json.dumps(location.raw, ensure_ascii=False)
        values = {"provider": remote.name, "query": key, "lat": lat, "lng": lng, "precision": precision.value,
                  "raw": raw, "created_at": utcnow()}
        # Another process may have cached the same query meanwhile: its answer is as good as ours.
        stmt = _dialect_insert(self.session)(GeocodeCache).values(values)
        self.session.execute(stmt.on_conflict_do_nothing(index_elements=["provider", "query"]))
        return _result(lat, lng, precision, remote.name)

    def far_from_kelurahan(self, kode: str, lat: float, lng: float, max_km: float | None = None) -> bool | None:
        """`far_from_kelurahan` against this chain's geometry; `max_km` defaults to ANTAR_GEO_FAR_KM."""
        return far_from_kelurahan(self, kode, lat, lng, self.far_km if max_km is None else max_km)


def _dialect_insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the project runs on these two only
        raise NotImplementedError(f"upsert not implemented for {name}")
    return insert


# --- the far check -----------------------------------------------------------------------------------------


def _geometry_for(source: Session | GeocoderChain | LocalRegionGeocoder,
                  kode: str) -> tuple[tuple[float, float] | None, Polygons | None]:
    if isinstance(source, GeocoderChain):
        source = source.local
    if isinstance(source, LocalRegionGeocoder):
        return source.point(kode), source.polygons(kode)
    row = source.get(RegionGeo, kode)
    if row is None:
        return None, None
    return (row.lat, row.lng), polygons_of(json.loads(row.polygon)) if row.polygon else None


def far_from_kelurahan(source: Session | GeocoderChain | LocalRegionGeocoder, kode: str, lat: float, lng: float,
                       max_km: float = DEFAULT_FAR_KM) -> bool | None:
    """Whether a geocoded point is suspiciously far from the kelurahan the card says; None without geometry.

    With a boundary loaded, the boundary decides: outside it (by more than POLYGON_TOLERANCE_KM) is far,
    inside is not, however far from the centroid (in Kabupaten Bekasi 155 of 243 desa reach more than
    2 km from their centroid). Without one, farther than `max_km` from the centroid is far.
    """
    point, polygons = _geometry_for(source, kode)
    if polygons is not None:
        return not contains(polygons, lat, lng) and _km_to_boundary(polygons, lat, lng) > POLYGON_TOLERANCE_KM
    if point is None:
        return None
    return geodesic(point, (lat, lng)).km > max_km


# --- loading geometry files ----------------------------------------------------------------------------------


class GeoFileError(ValueError):
    """A file that cannot be loaded at all; the message is for the operator (Bahasa Indonesia)."""


@dataclass
class LoadResult:
    rows: int = 0  # regions written (inserted or replaced)
    polygons: int = 0  # of which with a boundary
    centroids: int = 0  # of which with a centroid only
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (CSV line or feature number, reason)
    ignored: int = 0  # valid rows outside the `only` prefixes
    unit: str = "baris"  # what a skipped number counts: CSV lines ('baris') or GeoJSON features ('feature')


class _Skip(Exception):
    pass


_KODE = re.compile(r"\d{2}(?:\.\d{2}(?:\.\d{2}(?:\.\d{4})?)?)?")
_CSV_ALIASES = {"latitude": "lat", "lon": "lng", "long": "lng", "longitude": "lng"}


def load_geo_file(session: Session, path: str | Path, *, source: str | None = None,
                  only: Sequence[str] = ()) -> LoadResult:
    """Load centroids (CSV `kode,lat,lng`) or boundaries (GeoJSON features with a `kode` property).

    Upserts by kode: a later load replaces coordinates. A CSV load keeps a boundary loaded earlier (a
    centroid file must not erase boundaries); a GeoJSON load replaces both. The whole file is checked
    before anything is written; the caller's unit of work commits.
    """
    text = _read_text(Path(path))
    result = LoadResult()
    parse = _parse_geojson if text.lstrip().startswith(("{", "[")) else _parse_csv
    records = parse(text, result)
    kept = [r for r in records if not only or r["kode"].startswith(tuple(only))]
    result.ignored = len(records) - len(kept)
    now, source = utcnow(), (source or Path(path).name)[:200]
    for r in kept:
        r.update(source=source, loaded_at=now)
    _upsert(session, [r for r in kept if "polygon" not in r], ["lat", "lng", "source", "loaded_at"])
    _upsert(session, [r for r in kept if "polygon" in r], ["lat", "lng", "polygon", "source", "loaded_at"])
    result.rows = len(kept)
    result.polygons = sum(1 for r in kept if "polygon" in r)
    result.centroids = result.rows - result.polygons
    return result


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"PK"):
        raise GeoFileError("Berkas ini XLSX/ZIP, bukan CSV atau GeoJSON. Simpan sebagai CSV (kode,lat,lng).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GeoFileError("Berkas bukan CSV atau GeoJSON (bukan teks UTF-8).") from exc
    if "\x00" in text:
        raise GeoFileError("Berkas bukan CSV atau GeoJSON (berisi data biner).")
    if not text.strip():
        raise GeoFileError("Berkas kosong.")
    return text


def _checked_kode(value: Any) -> str:
    kode = str(value or "").strip()
    if not kode:
        raise _Skip("kode kosong")
    if not _KODE.fullmatch(kode):
        raise _Skip(f"kode '{kode[:20]}' bukan kode wilayah Kemendagri (contoh: 32.16.06.1001)")
    return kode


def _checked_point(lat: Any, lng: Any) -> tuple[float, float]:
    try:
        la, ln = float(lat), float(lng)
    except (TypeError, ValueError) as exc:
        raise _Skip(f"lat/lng bukan angka ({lat!r}, {lng!r})") from exc
    if not (LAT_RANGE[0] <= la <= LAT_RANGE[1] and LNG_RANGE[0] <= ln <= LNG_RANGE[1]):
        raise _Skip(f"titik ({la}, {ln}) di luar Indonesia (lat {LAT_RANGE[0]}..{LAT_RANGE[1]}, "
                    f"lng {LNG_RANGE[0]}..{LNG_RANGE[1]}); lat dan lng tertukar?")
    return la, ln


def _add(records: dict[str, dict[str, Any]], where: dict[str, str], place: str, record: dict[str, Any]) -> None:
    if record["kode"] in where:
        raise _Skip(f"kode {record['kode']} sudah ada di {where[record['kode']]} (yang pertama dipakai)")
    where[record["kode"]] = place
    records[record["kode"]] = record


def _parse_csv(text: str, result: LoadResult) -> list[dict[str, Any]]:
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [_CSV_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in next(reader)]
    missing = [c for c in ("kode", "lat", "lng") if c not in header]
    if missing:
        raise GeoFileError(f"Kolom wajib tidak ada: {', '.join(missing)}. Berkas CSV harus berkepala "
                           "kode,lat,lng (kolom lain boleh ada), atau berupa GeoJSON.")
    ik, ila, iln = header.index("kode"), header.index("lat"), header.index("lng")
    comma_decimal = delimiter != ","  # a ';' file from a spreadsheet writes -6,2671
    records: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        try:
            if len(row) <= max(ik, ila, iln):
                raise _Skip("kolom kurang")
            lat, lng = (row[i].strip().replace(",", ".") if comma_decimal else row[i].strip() for i in (ila, iln))
            la, ln = _checked_point(lat, lng)
            _add(records, where, f"baris {line}", {"kode": _checked_kode(row[ik]), "lat": la, "lng": ln})
        except _Skip as skip:
            result.skipped.append((line, str(skip)))
    return list(records.values())


def _parse_geojson(text: str, result: LoadResult) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GeoFileError(f"Berkas GeoJSON tidak dapat dibaca: {exc.msg} (baris {exc.lineno}).") from exc
    kind = data.get("type") if isinstance(data, dict) else None
    features = [data] if kind == "Feature" else data.get("features") if kind == "FeatureCollection" else None
    if not isinstance(features, list):
        raise GeoFileError("GeoJSON harus berupa FeatureCollection yang setiap feature-nya punya properti 'kode'.")
    props = [f.get("properties") if isinstance(f, dict) else None for f in features]
    if features and not any(isinstance(p, dict) and p.get("kode") for p in props):
        raise GeoFileError("Tidak ada feature dengan properti 'kode' di GeoJSON ini.")
    result.unit = "feature"
    records: dict[str, dict[str, Any]] = {}
    where: dict[str, str] = {}
    for number, (feature, prop) in enumerate(zip(features, props, strict=True), start=1):
        try:
            record = _feature_record(feature, prop if isinstance(prop, dict) else {})
            _add(records, where, f"feature {number}", record)
        except _Skip as skip:
            result.skipped.append((number, str(skip)))
    return list(records.values())


def _feature_record(feature: Any, prop: dict[str, Any]) -> dict[str, Any]:
    kode = _checked_kode(prop.get("kode"))
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    try:
        polygons = polygons_of(geometry or {})
    except ValueError as exc:
        raise _Skip(str(exc)) from exc
    given = (prop.get("lat"), prop.get("lng", prop.get("lon")))
    la, ln = _checked_point(*given) if None not in given else _checked_point(*_centroid(polygons))
    clean = {"type": geometry["type"], "coordinates": geometry["coordinates"]}  # drop foreign members
    return {"kode": kode, "lat": la, "lng": ln, "polygon": json.dumps(clean, separators=(",", ":"))}


def _upsert(session: Session, rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        return
    stmt = _dialect_insert(session)(RegionGeo)
    stmt = stmt.on_conflict_do_update(index_elements=["kode"], set_={c: stmt.excluded[c] for c in columns})
    # RETURNING, though unused, makes SQLAlchemy batch the rows into multi-row VALUES: without it an ON CONFLICT
    # executemany goes one row at a time on psycopg2 (10 s instead of 3 s for the 91,202 centroids). Core
    # execution on the session's connection (same transaction) skips the ORM's bulk bookkeeping.
    stmt = stmt.returning(RegionGeo.kode)
    connection = session.connection()
    for i in range(0, len(rows), 5000):
        connection.execute(stmt, rows[i: i + 5000]).close()
