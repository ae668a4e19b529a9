"""A small Nominatim-compatible HTTP server on loopback, answering `/search` from the shared region files.

So that tests drive geopy's real Nominatim client over real HTTP. Answers, deterministically:

- a query naming a kelurahan of Kabupaten/Kota Bekasi: its centroid, `addresstype` 'village';
- ... with a street ('JL.', 'JLN', 'JALAN'): a point 100-300 m from the centroid, inside the kelurahan's
  boundary, `addresstype` 'road';
- ... with 'SALAH' in the street: a point about 10 km away ('road'), for the far check;
- 'GANGGU' anywhere: HTTP 503, for failures;
- anything else: `[]`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from geopy.distance import geodesic

from address.geocode import point_in_polygon

PREFIXES = ("32.16", "32.75")
STRUCTURED = ("street", "city", "county", "state", "country", "postalcode")
_NOISE = re.compile(r"[^A-Z0-9]+")
_STREET = re.compile(r"\b(?:JL|JLN|JALAN)\b")


def _words(text: str) -> str:
    return " " + _NOISE.sub(" ", text.upper()).strip() + " "


@dataclass(frozen=True)
class Place:
    kode: str
    name: str
    kecamatan: str
    lat: float
    lng: float
    polygon: dict[str, Any] | None


class NominatimStub:
    def __init__(self, data_dir: Path, prefixes: tuple[str, ...] = PREFIXES) -> None:
        self.places = _load_places(Path(data_dir).resolve(), prefixes)
        self.requests: list[dict[str, str]] = []  # the query parameters of every /search request
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use NominatimStub as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> NominatimStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                stub._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for the loop to notice (0.5 s per test by default).
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        if parts.path.rstrip("/") != "/search":
            return _send(handler, 404, {"error": "not found"})
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            self.requests.append(params)
        text = params.get("q") or ", ".join(params[k] for k in STRUCTURED if params.get(k))
        if "GANGGU" in text.upper():
            return _send(handler, 503, {"error": "Service Unavailable"})
        street = params.get("street") or (text if _STREET.search(text.upper()) else "")
        answer = self.answer(text, street)
        fmt = params.get("format", "xml")
        _send(handler, 200, [_render(answer, fmt, "addressdetails" in params)] if answer else [])

    def answer(self, text: str, street: str) -> dict[str, Any] | None:
        place = self.find(text)
        if place is None:
            return None
        if not street:
            return {"place": place, "lat": place.lat, "lng": place.lng, "kind": "village", "name": place.name}
        seed = int(hashlib.sha1(street.upper().encode()).hexdigest(), 16)
        if "SALAH" in street.upper():
            lat, lng = _offset(place.lat, place.lng, 10.0, seed % 360)
        else:
            lat, lng = self._near(place, seed)
        return {"place": place, "lat": lat, "lng": lng, "kind": "road", "name": street.split(",")[0].strip()}

    def find(self, text: str) -> Place | None:
        """The kelurahan named in the text; its kecamatan named too breaks ties, then the longest name."""
        words = _words(text)
        named = [p for p in self.places if _words(p.name) in words]
        if not named:
            return None
        return max(named, key=lambda p: (_words(p.kecamatan) in words, len(p.name), p.kode))

    def _near(self, place: Place, seed: int) -> tuple[float, float]:
        # 100-300 m away, turning until the point is inside the kelurahan (small kelurahan in Kota Bekasi).
        km = 0.1 + (seed % 201) / 1000
        for turn in range(0, 360, 15):
            lat, lng = _offset(place.lat, place.lng, km, (seed + turn) % 360)
            if place.polygon is None or point_in_polygon(place.polygon, lat, lng):
                return lat, lng
        return _offset(place.lat, place.lng, 0.1, seed % 360)


def _offset(lat: float, lng: float, km: float, bearing: float) -> tuple[float, float]:
    point = geodesic(kilometers=km).destination((lat, lng), bearing)
    return round(point.latitude, 7), round(point.longitude, 7)


def _render(answer: dict[str, Any], fmt: str, details: bool) -> dict[str, Any]:
    place: Place = answer["place"]
    road = answer["kind"] == "road"
    category, kind = ("highway", "residential") if road else ("boundary", "administrative")
    out: dict[str, Any] = {
        "place_id": int(place.kode.replace(".", "")) * (2 if road else 1),
        "licence": "Data from the shared wilayah files (test stub)",
        "osm_type": "way" if road else "relation",
        "osm_id": int(place.kode.replace(".", "")),
        "lat": str(answer["lat"]), "lon": str(answer["lng"]),
        "place_rank": 26 if road else 16,
        "importance": 0.3,
        "addresstype": answer["kind"],
        "name": answer["name"],
        "display_name": ", ".join(x for x in (answer["name"] if road else "", place.name, place.kecamatan,
                                              "Jawa Barat", "Indonesia") if x),
        "boundingbox": [str(answer["lat"] - 0.001), str(answer["lat"] + 0.001),
                        str(answer["lng"] - 0.001), str(answer["lng"] + 0.001)],
    }
    if fmt == "jsonv2":
        out.update(category=category, type=kind)
    else:
        out.update({"class": category, "type": kind})
    if details:
        out["address"] = {**({"road": answer["name"]} if road else {}), "village": place.name,
                          "city_district": place.kecamatan, "state": "Jawa Barat", "country": "Indonesia",
                          "country_code": "id"}
    return out


def _send(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


@lru_cache(maxsize=4)  # one read of the 91,202-row file per test session, not per test
def _load_places(data_dir: Path, prefixes: tuple[str, ...]) -> list[Place]:
    polygons: dict[str, dict[str, Any]] = {}
    geojson = data_dir / "bekasi_kelurahan.geojson"
    if geojson.exists():
        for feature in json.loads(geojson.read_text(encoding="utf-8"))["features"]:
            polygons[feature["properties"]["kode"]] = feature["geometry"]
    kecamatan: dict[str, str] = {}
    places = []
    with open(data_dir / "centroids.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kode = row["kode"]
            if not kode.startswith(prefixes):
                continue
            if row["level"] == "kecamatan":
                kecamatan[kode] = row["nama"]
            elif kode.count(".") == 3:
                places.append((kode, row["nama"], float(row["lat"]), float(row["lng"])))
    return [Place(k, n, kecamatan.get(k.rsplit(".", 1)[0], ""), la, ln, polygons.get(k)) for k, n, la, ln in places]
