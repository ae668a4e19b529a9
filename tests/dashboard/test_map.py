"""The office map: projection of loaded region geometry, the SVG the dashboard inlines, the reportlab drawing of the
PDF report, and the color bins. Runs on SQLite and PostgreSQL (the `app` fixture)."""

from __future__ import annotations

import io
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader
from reportlab.graphics import renderPDF
from sqlalchemy import select

from address.geocode import load_geo_file
from address.models import RegionGeo
from app.db import unit_of_work
from dashboard.geo import (
    CIRCLE_AMONG,
    COUNT_COLORS,
    RATE_COLORS,
    MapArea,
    OfficeMap,
    bin_of,
    color_bins,
    map_drawing,
    map_svg,
    office_map,
)

DATA_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "wilayah"
CENTROIDS = DATA_DIR / "centroids.csv"
POLYGONS = DATA_DIR / "bekasi_kelurahan.geojson"

pytestmark = pytest.mark.skipif(not (CENTROIDS.is_file() and POLYGONS.is_file()),
                                reason=f"shared region data not found in {DATA_DIR}")

SVG = "{http://www.w3.org/2000/svg}"
NO_SUCH = "32.16.99.9999"


def load(app: Flask, path: Path, *only: str) -> list[tuple[str, float, float]]:
    """Load a geometry file; the kelurahan rows now in the database as (kode, lat, lng)."""
    with app.app_context(), unit_of_work() as session:
        load_geo_file(session, path, only=only)
        rows = session.execute(select(RegionGeo.kode, RegionGeo.lat, RegionGeo.lng)).all()
    return [(k, lat, lng) for k, lat, lng in rows if k.count(".") == 3]


def map_of(app: Flask, codes: list[str]) -> OfficeMap | None:
    with app.app_context(), unit_of_work() as session:
        return office_map(session, codes)


def centroid_csv(tmp_path: Path, prefix: str, count: int) -> Path:
    """The first `count` kelurahan under `prefix` from the shared centroids."""
    path = tmp_path / "centroids.csv"
    with open(CENTROIDS, newline="", encoding="utf-8") as src, open(path, "w", newline="", encoding="utf-8") as out:
        lines = [line for line in src if line.startswith(prefix) and line.count(",") == 4
                 and line.split(",")[0].count(".") == 3]
        out.write("kode,level,nama,lat,lng\n")
        out.writelines(lines[:count])
    return path


def areas_for(codes: list[str], values: dict[str, float | None]) -> list[MapArea]:
    return [MapArea(c, f"Desa {c[-4:]}", values.get(c), "—" if values.get(c) is None else f"{values[c]:g} %",
                    f"/dasbor/kelurahan/{c}") for c in codes]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


# --- geometry --------------------------------------------------------------------------------------------------


def test_polygon_map_of_kabupaten_bekasi(app: Flask) -> None:
    rows = load(app, POLYGONS, "32.16")
    assert len(rows) == 187 and all(k.startswith("32.16.") for k, _, _ in rows)
    codes = [k for k, _, _ in rows]
    m = map_of(app, codes)
    assert m is not None and m.kind == "polygons"
    assert set(m.shapes) == set(m.points) == set(m.rings) == set(codes)
    assert m.missing == []
    assert max(m.width, m.height) == 640
    corners = [p for rings in m.rings.values() for ring in rings for p in ring] + list(m.points.values())
    assert all(0 <= x <= m.width and 0 <= y <= m.height for x, y in corners)
    # West-east and north-south order survive; y grows downwards.
    by_lng = sorted(rows, key=lambda r: r[2])
    assert all(m.points[a][0] <= m.points[b][0] for (a, _, _), (b, _, _) in zip(by_lng, by_lng[1:], strict=False))
    assert m.points[by_lng[0][0]][0] < m.points[by_lng[-1][0]][0]
    by_lat = sorted(rows, key=lambda r: r[1])
    assert m.points[by_lat[0][0]][1] > m.points[by_lat[-1][0]][1]
    # Longitude shrunk by cos(latitude): Kabupaten Bekasi is 0.33° wide and 0.57° high, i.e. 0.57 as wide as high.
    assert (m.width - 20) / (m.height - 20) == pytest.approx(0.573, abs=0.01)


def test_projection_is_cached_until_geometry_is_reloaded(app: Flask) -> None:
    codes = [k for k, _, _ in load(app, POLYGONS, "32.16")]
    first = map_of(app, codes)
    assert map_of(app, list(reversed(codes))) is first  # same set of codes, same load: no re-projection
    load(app, POLYGONS, "32.16")  # a new load stamps new loaded_at
    again = map_of(app, codes)
    assert again is not first and again == first


def test_codes_without_geometry_are_listed_as_missing(app: Flask) -> None:
    codes = [k for k, _, _ in load(app, POLYGONS, "32.16")][:5]
    m = map_of(app, [*codes, NO_SUCH])
    assert m is not None and m.missing == [NO_SUCH]
    assert NO_SUCH not in m.points and set(m.shapes) == set(codes)


def test_no_geometry_gives_no_map(app: Flask) -> None:
    assert map_of(app, ["32.16.06.1001", NO_SUCH]) is None
    assert map_of(app, []) is None


def test_centroids_only(app: Flask, tmp_path: Path) -> None:
    rows = load(app, centroid_csv(tmp_path, "32.16.", 12))
    assert len(rows) == 12
    codes = [k for k, _, _ in rows]
    m = map_of(app, codes)
    assert m is not None and m.kind == "centroids"
    assert m.shapes == {} and m.rings == {} and set(m.points) == set(codes)
    assert all(0 <= x <= m.width and 0 <= y <= m.height for x, y in m.points.values())
    west, east = min(rows, key=lambda r: r[2])[0], max(rows, key=lambda r: r[2])[0]
    assert m.points[west][0] < m.points[east][0]

    root = parse(map_svg(m, areas_for(codes, dict.fromkeys(codes, 97.0)), scale="rate", title="Peta",
                         legend_title="Keberhasilan"))
    circles = root.findall(f".//{SVG}a/{SVG}circle")
    assert len(circles) == 12 and not root.findall(f".//{SVG}a/{SVG}path")
    assert {c.get("fill") for c in circles} == {RATE_COLORS[3]}
    assert "titik tengah" in root.find(f"{SVG}desc").text
    assert renderPDF.drawToString(map_drawing(m, [], scale="count", title="Peta", legend_title="Kartu",
                                              width_pt=300)).startswith(b"%PDF")


def test_centroid_only_kelurahan_on_a_polygon_map_are_circles(app: Flask, tmp_path: Path) -> None:
    kab = [k for k, _, _ in load(app, POLYGONS, "32.16")]
    kota = [k for k, _, _ in load(app, centroid_csv(tmp_path, "32.75.", 3)) if k.startswith("32.75.")]
    m = map_of(app, kab + kota)
    assert m is not None and m.kind == "polygons"
    assert set(m.shapes) == set(kab) and set(m.points) == set(kab + kota)
    root = parse(map_svg(m, areas_for(kab + kota, {}), scale="count", title="Peta", legend_title="Kartu"))
    circles = {a.get("data-kode"): a.find(f"{SVG}circle") for a in root.iter(f"{SVG}a")}
    assert {k for k, c in circles.items() if c is not None} == set(kota)
    assert all(float(circles[k].get("r")) == CIRCLE_AMONG for k in kota)


# --- SVG -------------------------------------------------------------------------------------------------------


def test_svg_links_tooltips_colors_and_size(app: Flask) -> None:
    codes = sorted(k for k, _, _ in load(app, POLYGONS, "32.16"))
    m = map_of(app, codes)
    assert m is not None
    darkest, lightest, empty, unknown = codes[0], codes[1], codes[2], codes[3]
    values: dict[str, float | None] = {c: 80.0 + i % 20 for i, c in enumerate(codes)}
    values.update({darkest: 99.0, lightest: 42.0, empty: None})
    areas = [a for a in areas_for([*codes, NO_SUCH], values) if a.code != unknown]
    started = time.perf_counter()
    svg = str(map_svg(m, areas, scale="rate", title="Peta keberhasilan", legend_title="Tingkat keberhasilan"))
    assert time.perf_counter() - started < 0.3
    assert len(svg.encode()) < 300_000
    assert "style=" not in svg

    root = parse(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("class") == "map"
    assert root.get("width") is None and len(root.get("viewBox").split()) == 4
    ids = {e.get("id"): e for e in root.iter() if e.get("id")}
    assert [ids[i].tag for i in root.get("aria-labelledby").split()] == [f"{SVG}title", f"{SVG}desc"]
    assert all(e.get("style") is None for e in root.iter())

    links = {a.get("data-kode"): a for a in root.iter(f"{SVG}a")}
    assert set(links) == set(codes) - {unknown}  # NO_SUCH has no geometry, `unknown` no figure
    bins = color_bins([a.value for a in areas], "rate")
    for area in areas[:-1]:
        link = links[area.code]
        assert link.get("href") == area.href and link.get("class") == "map-area"
        assert link.find(f"{SVG}title").text == f"Kelurahan {area.name}: {area.label}"
        fill = link.find(f"{SVG}path").get("fill")
        assert fill == (bin_of(bins, area.value).color if area.value is not None else fill)
    assert links[darkest].find(f"{SVG}path").get("fill") == RATE_COLORS[-1]
    assert links[lightest].find(f"{SVG}path").get("fill") == RATE_COLORS[0]
    hatch = links[empty].find(f"{SVG}path").get("fill")
    assert hatch.startswith("url(#") and ids[hatch[5:-1]].tag == f"{SVG}pattern"
    plain = next(g for g in root.iter(f"{SVG}g") if g.get("data-kode") == unknown)
    assert plain.find(f"{SVG}path").get("fill") == hatch and "tidak ada kartu" in plain.find(f"{SVG}title").text

    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "map-legend")
    texts = [t.text for t in legend.iter(f"{SVG}text")]
    assert texts == ["Tingkat keberhasilan", "≥ 98 %", "95–98 %", "90–95 %", "80–90 %", "< 80 %", "tidak ada kartu"]
    assert [r.get("fill") for r in legend.iter(f"{SVG}rect")] == [*reversed(RATE_COLORS), hatch]


def test_svg_escapes_names_and_links(app: Flask) -> None:
    code = load(app, POLYGONS, "32.16")[0][0]
    m = map_of(app, [code])
    assert m is not None
    area = MapArea(code, 'Kali "Abang" <Tengah> & Co', 5, "5 kartu", "/dasbor/kelurahan?kode=1&x=<2>")
    root = parse(map_svg(m, [area], scale="count", title="A & B", legend_title="<Kartu>"))
    link = root.find(f".//{SVG}a")
    assert link.get("href") == area.href
    assert link.find(f"{SVG}title").text == f"Kelurahan {area.name}: 5 kartu"
    assert root.find(f"{SVG}title").text == "A & B"


# --- color bins --------------------------------------------------------------------------------------------------


def test_rate_bins_are_fixed() -> None:
    for values in ([], [None, None], [99.0], [50.0, 100.0]):
        bins = color_bins(values, "rate")
        assert [(b.lower, b.upper) for b in bins] == [(0, 80), (80, 90), (90, 95), (95, 98), (98, None)]
        assert [b.color for b in bins] == list(RATE_COLORS)
    bins = color_bins([], "rate")
    assert [bin_of(bins, v).label for v in (0, 79.9, 80, 94.99, 97.5, 98, 100)] == [
        "< 80 %", "< 80 %", "80–90 %", "90–95 %", "95–98 %", "≥ 98 %", "≥ 98 %"]
    assert bin_of(bins, None) is None


def test_count_bins_are_rounded_quantiles_without_empty_bins() -> None:
    values = [0] * 40 + list(range(1, 60)) + [75, 120, 130, 240, 1500, 4800, None, None]
    bins = color_bins(values, "count")
    assert len(bins) == 5
    assert bins[0].label == "0" and bins[0].color == COUNT_COLORS[0]
    assert [b.color for b in bins] == list(COUNT_COLORS)
    assert [b.lower for b in bins][:2] == [0, 1]
    assert all(b.lower in (0, 1) or str(int(b.lower)).rstrip("0") in ("1", "2", "25", "3", "4", "5", "6", "8")
               for b in bins)  # nice numbers
    present = [v for v in values if v is not None]
    assert all(any(bin_of(bins, v) is b for v in present) for b in bins)  # no empty bin
    assert bins[-1].upper is None and bins[-1].label.startswith("≥ ")
    assert all(b.upper == n.lower for b, n in zip(bins, bins[1:], strict=False))
    big = color_bins([1, 10, 100, 1000, 10000], "count")
    assert big[-1].label == "10.000" and any("." in b.label for b in big)  # thousands the Indonesian way


def test_count_bins_edge_cases() -> None:
    assert color_bins([None, None], "count") == []
    assert color_bins([], "count") == []
    (same,) = color_bins([7, 7, 7, None], "count")
    assert same.label == "7" and bin_of([same], 7) is same
    (zero,) = color_bins([0], "count")
    assert zero.label == "0" and zero.color == COUNT_COLORS[0]
    (one,) = color_bins([3], "count")
    assert one.label == "3"
    two = color_bins([0, 0, 12], "count")
    assert [b.label for b in two] == ["0", "12"] and bin_of(two, 12).color == COUNT_COLORS[-1]
    with pytest.raises(ValueError):
        color_bins([1], "percent")


# --- the PDF drawing -----------------------------------------------------------------------------------------------


def test_drawing_renders_into_a_pdf(app: Flask) -> None:
    codes = [k for k, _, _ in load(app, POLYGONS, "32.16")]
    m = map_of(app, codes)
    assert m is not None
    areas = areas_for(codes, {c: (None if i % 9 == 0 else float(i % 50)) for i, c in enumerate(codes)})
    drawing = map_drawing(m, areas, scale="count", title="Kartu dikembalikan per kelurahan",
                          legend_title="Kartu dikembalikan", width_pt=480)
    assert drawing.width == 480 and 400 < drawing.height < 700
    pdf = renderPDF.drawToString(drawing)
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    labels = [b.label for b in color_bins([a.value for a in areas], "count")]
    for expected in ["Kartu dikembalikan per kelurahan", "tidak ada kartu", *labels[:-1]]:
        assert expected in text

