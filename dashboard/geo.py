"""The office map: each kelurahan shaded by one figure, as inline SVG for the dashboard and as a reportlab Drawing
for the PDF report.

Geometry comes from `region_geo` (`antar regions load-geo FILE`): boundaries where loaded, else centroids drawn
as circles. The projection is equirectangular, longitude scaled by the cosine of the middle latitude: at the size
of one kabupaten the distortion is far below what a reader of the map could see.

The SVG is colored by presentation attributes only (the site's Content-Security-Policy blocks `style="..."`);
palettes are ColorBrewer sequential ones, colorblind-safe and still ordered when printed in grayscale.
"""

from __future__ import annotations

import hashlib
import json
import math
import textwrap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from reportlab.graphics.shapes import Drawing, Group, Hatching, Path, String
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from address.geocode import polygons_of
from address.models import RegionGeo

MAP_SIZE = 640.0  # the longer side of the projected map, in SVG user units
MARGIN = 10.0
MIN_SPAN_DEG = 0.02  # a map of one or two centroids still shows a couple of km around them
CIRCLE_ALONE = 7.0  # radius of a centroid on a centroids-only map
CIRCLE_AMONG = 4.0  # radius of a centroid-only kelurahan on a map of boundaries

SCALES = ("rate", "count")
RATE_COLORS = ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")  # Blues: darker = more delivered
COUNT_COLORS = ("#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603")  # Oranges: darker = more returns/open
RATE_BREAKS = (80.0, 90.0, 95.0, 98.0)
NO_DATA_FILL, NO_DATA_HATCH = "#f0f0f0", "#a8a8a8"
NO_DATA_LABEL = "tidak ada kartu"
BORDER, CIRCLE_EDGE, TEXT = "#ffffff", "#525252", "#252525"
_NICE = (1.0, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class MapArea:
    code: str  # kelurahan code
    name: str  # kelurahan name (shown in the tooltip/title)
    value: float | None  # the metric (None: no cards there -> drawn as 'no data')
    label: str  # the value as text for the tooltip, e.g. "92,4 %" or "1.204 kartu"
    href: str  # where a click goes (the kelurahan's figures page)


@dataclass(frozen=True)
class OfficeMap:
    """The projected geometry of an office's kelurahan. Shared through a cache: treat it as read-only."""

    kind: str  # "polygons" or "centroids"
    width: float  # SVG user units of the projected map
    height: float
    shapes: dict[str, str]  # code -> SVG path data (kind polygons), rounded to 0.1
    points: dict[str, Point]  # code -> projected centroid (label/marker position)
    rings: dict[str, list[list[Point]]]  # code -> projected rings, even-odd (for the reportlab drawing)
    missing: list[str]  # codes asked for that have no geometry at all


@dataclass(frozen=True, slots=True)
class Bin:
    lower: float
    upper: float | None  # exclusive; None: no upper bound
    color: str  # hex
    label: str  # Indonesian: "90–95 %", "5–9", "≥ 120"


# --- geometry ----------------------------------------------------------------------------------------------------

_cache: dict[tuple[Any, ...], OfficeMap] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 64


def office_map(session: Session, kelurahan_codes: Sequence[str]) -> OfficeMap | None:
    """The map of these kelurahan; None when none of them has any geometry loaded.

    Boundaries when at least one code has one (codes with only a centroid become small circles), else centroids.
    Projected once per set of codes and geometry load: the cache key holds the rows' count and latest `loaded_at`,
    which every load changes.
    """
    codes = tuple(sorted(set(kelurahan_codes)))
    if not codes:
        return None
    where = RegionGeo.kode.in_(codes)
    count, loaded = session.execute(select(func.count(), func.max(RegionGeo.loaded_at)).where(where)).one()
    if not count:
        return None
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), codes, loaded, count)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    rows = session.execute(select(RegionGeo.kode, RegionGeo.lat, RegionGeo.lng, RegionGeo.polygon)
                           .where(where).order_by(RegionGeo.kode))
    built = _project(codes, rows)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.pop(next(iter(_cache)))
        _cache[key] = built
    return built


def _parsed(text: str | None) -> list[list[list[Point]]] | None:
    if not text:
        return None
    try:
        return polygons_of(json.loads(text))
    except ValueError:  # loaded through load_geo_file it is valid; a hand-edited row becomes a centroid
        return None


def _project(codes: Sequence[str], rows: Any) -> OfficeMap:
    centroids: dict[str, Point] = {}
    polygons: dict[str, list[list[list[Point]]]] = {}
    for kode, lat, lng, text in rows:
        centroids[kode] = (lng, lat)
        if (parsed := _parsed(text)) is not None:
            polygons[kode] = parsed
    outer = [p for parts in polygons.values() for poly in parts for p in poly[0]]
    lngs = [p[0] for p in centroids.values()] + [x for x, _ in outer]
    lats = [p[1] for p in centroids.values()] + [y for _, y in outer]
    kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lngs) - min(lngs)) * kx, MIN_SPAN_DEG * kx)
    span_y = max(max(lats) - min(lats), MIN_SPAN_DEG)
    scale = (MAP_SIZE - 2 * MARGIN) / max(span_x, span_y)
    width, height = round(span_x * scale + 2 * MARGIN, 1), round(span_y * scale + 2 * MARGIN, 1)
    cx, cy = (min(lngs) + max(lngs)) / 2 * kx, (min(lats) + max(lats)) / 2

    def tenths(lng: float, lat: float) -> tuple[int, int]:  # y down; integers so that deltas stay exact
        return round(((lng * kx - cx) * scale + width / 2) * 10), round(((cy - lat) * scale + height / 2) * 10)

    shapes: dict[str, str] = {}
    rings: dict[str, list[list[Point]]] = {}
    for kode, parts in polygons.items():
        projected = [ring for poly in parts for ring in (_tenths_ring(r, tenths) for r in poly) if ring]
        if projected:  # a kelurahan smaller than a tenth of a unit stays a circle
            shapes[kode] = "".join(_path_data(r) for r in projected)
            rings[kode] = [[(x / 10, y / 10) for x, y in r] for r in projected]
    points = {k: (x / 10, y / 10) for k, (x, y) in ((k, tenths(*p)) for k, p in centroids.items())}
    return OfficeMap(kind="polygons" if shapes else "centroids", width=width, height=height, shapes=shapes,
                     points=points, rings=rings, missing=[c for c in codes if c not in centroids])


def _tenths_ring(ring: Sequence[Point], tenths: Any) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for lng, lat in ring:
        p = tenths(lng, lat)
        if not out or p != out[-1]:
            out.append(p)
    if len(out) > 1 and out[0] == out[-1]:
        out.pop()
    return out if len(out) >= 3 else []


def _num(tenths: int) -> str:
    whole, frac = divmod(abs(tenths), 10)
    text = (str(whole) if whole or not frac else "") + (f".{frac}" if frac else "")
    return ("-" if tenths < 0 else "") + text


def _path_data(ring: list[tuple[int, int]]) -> str:
    # Relative moves: small deltas take about half the bytes of absolute coordinates.
    parts = [f"M{_num(ring[0][0])} {_num(ring[0][1])}l"]
    sep = ""
    for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False):
        for d in (x1 - x0, y1 - y0):
            text = _num(d)
            parts.append(text if text.startswith("-") or not sep else sep + text)
            sep = " "
    return "".join(parts) + "z"


# --- colors --------------------------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A number the Indonesian way: 1.204 and 92,4."""
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def color_bins(values: Sequence[float | None], scale: str) -> list[Bin]:
    """The legend's bins for these values, lightest first.

    "rate" (percent, 0-100): always the same five bins, so maps of different months compare. "count": up to five
    bins at rounded quantiles, an own bin for 0 when there are zeros, no empty bins; none when every value is None.
    """
    if scale == "rate":
        lowers = (0.0, *RATE_BREAKS)
        labels = ["< 80 %", "80–90 %", "90–95 %", "95–98 %", "≥ 98 %"]
        return [Bin(lo, hi, color, label) for lo, hi, color, label
                in zip(lowers, (*RATE_BREAKS, None), RATE_COLORS, labels, strict=True)]
    if scale != "count":
        raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
    present = sorted(float(v) for v in values if v is not None)
    if not present:
        return []
    integral = all(v.is_integer() for v in present)
    positive = [v for v in present if v > 0]
    zero = len(positive) < len(present)
    rest = positive if zero else present
    lowers = ([0.0] if zero else []) + (_quantile_lowers(rest, 4 if zero else 5, integral) if rest else [])
    colors = ([COUNT_COLORS[0]] if zero else []) + list(COUNT_COLORS[len(COUNT_COLORS) - (len(lowers) - zero):])
    uppers: list[float | None] = [*lowers[1:], None]
    labels = [_count_label(lo, hi, present[-1], integral) for lo, hi in zip(lowers, uppers, strict=True)]
    if zero:  # the zero bin reaches up to the smallest positive value, which it never holds
        labels[0] = "0"
    return [Bin(*bin_) for bin_ in zip(lowers, uppers, colors, labels, strict=True)]


def _quantile_lowers(values: list[float], most: int, integral: bool) -> list[float]:
    lowers = [values[0]]
    for i in range(1, most):
        t = _nice(values[i * len(values) // most], integral)
        # Keep a break only when the bin it closes and the one it opens both hold a value.
        if t > lowers[-1] and any(lowers[-1] <= v < t for v in values) and values[-1] >= t:
            lowers.append(t)
    return lowers


def _nice(value: float, integral: bool) -> float:
    if integral and value < 10:
        return float(round(value))
    magnitude = 10 ** math.floor(math.log10(value))
    return min(_NICE, key=lambda n: abs(n * magnitude - value)) * magnitude


def _count_label(lower: float, upper: float | None, top: float, integral: bool) -> str:
    if upper is None:
        return number_text(lower) if lower == top else f"≥ {number_text(lower)}"
    last = upper - 1 if integral else upper
    return number_text(lower) if last == lower else f"{number_text(lower)}–{number_text(last)}"


def bin_of(bins: Sequence[Bin], value: float | None) -> Bin | None:
    """The bin a value falls in; None for no value (or no bins). Below the first bin counts as the first."""
    if value is None or not bins:
        return None
    return next((b for b in bins if b.upper is None or value < b.upper), bins[-1])


# --- layout shared by the SVG and the PDF ------------------------------------------------------------------------

_ROW, _SWATCH, _FONT, _TITLE_FONT, _LEGEND_W = 22.0, 16.0, 13.0, 13.0, 190.0
_SVG_FONT = "system-ui, sans-serif"


@dataclass(frozen=True)
class _Layout:
    width: float
    height: float
    legend_x: float
    legend_y: float
    title_lines: list[str]


def _layout(m: OfficeMap, bins: Sequence[Bin], legend_title: str) -> _Layout:
    # A tall office (Kabupaten Bekasi is 0.6 wide for 1 high) gets its legend at the right, a wide one below.
    lines = textwrap.wrap(legend_title, 24) or [""]
    legend_h = len(lines) * (_TITLE_FONT + 4) + 6 + (len(bins) + 1) * _ROW
    if m.height > 0.8 * m.width:
        return _Layout(m.width + _LEGEND_W, max(m.height, legend_h + 2 * MARGIN), m.width + 10, MARGIN, lines)
    return _Layout(m.width, m.height + legend_h + MARGIN, MARGIN, m.height + 4, lines)


def _legend_rows(bins: Sequence[Bin]) -> list[tuple[str | None, str]]:
    # Darkest (highest) first, as readers expect; None is the hatched 'no data' swatch.
    return [(b.color, b.label) for b in reversed(bins)] + [(None, NO_DATA_LABEL)]


# --- SVG -----------------------------------------------------------------------------------------------------


def map_svg(m: OfficeMap, areas: Sequence[MapArea], *, scale: str, title: str, legend_title: str) -> Markup:
    """The map as an inline `<svg class="map">`: each kelurahan a link with its figure as tooltip, a legend inside."""
    bins = color_bins([a.value for a in areas], scale)
    by_code = {a.code: a for a in areas if a.code in m.points}
    lay = _layout(m, bins, legend_title)
    uid = hashlib.sha1(f"{title}|{legend_title}|{scale}".encode()).hexdigest()[:8]
    hatch = f"map-nodata-{uid}"
    no_data = sum(1 for c in m.points if (a := by_code.get(c)) is None or a.value is None)
    desc = f"Peta {len(m.points)} kelurahan, diwarnai menurut {legend_title}; {no_data} kelurahan tanpa kartu."
    if m.kind == "centroids":
        desc += " Hanya titik tengah kelurahan yang dimuat, bukan batas wilayah."
    out = [
        Markup('<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {} {}" role="img" '
               'aria-labelledby="map-title-{} map-desc-{}">').format(lay.width, lay.height, uid, uid),
        Markup('<title id="map-title-{}">{}</title><desc id="map-desc-{}">{}</desc>').format(uid, title, uid, desc),
        Markup('<defs><pattern id="{}" patternUnits="userSpaceOnUse" width="5" height="5" '
               'patternTransform="rotate(45)"><rect width="5" height="5" fill="{}"/>'
               '<line x1="0" y1="0" x2="0" y2="5" stroke="{}" stroke-width="1.4"/></pattern></defs>')
        .format(hatch, NO_DATA_FILL, NO_DATA_HATCH),
        Markup('<g class="map-areas" stroke="{}" stroke-width="0.6" stroke-linejoin="round">').format(BORDER),
    ]
    circles = [c for c in m.points if c not in m.shapes]
    radius = CIRCLE_ALONE if m.kind == "centroids" else CIRCLE_AMONG
    for code in [*m.shapes, *circles]:
        area = by_code.get(code)
        b = bin_of(bins, area.value if area else None)
        fill = b.color if b else f"url(#{hatch})"
        if code in m.shapes:
            shape = Markup('<path d="{}" fill="{}" fill-rule="evenodd"/>').format(m.shapes[code], fill)
        else:
            x, y = m.points[code]
            shape = Markup('<circle cx="{}" cy="{}" r="{}" fill="{}" stroke="{}" stroke-width="0.8"/>').format(
                x, y, radius, fill, CIRCLE_EDGE)
        out.append(_area_svg(code, area, shape))
    out.append(Markup("</g>"))
    out.append(_legend_svg(lay, bins, hatch))
    out.append(Markup("</svg>"))
    return Markup("").join(out)


def _area_svg(code: str, area: MapArea | None, shape: Markup) -> Markup:
    if area is None:  # geometry of the office without a figure: shown, not a link
        return Markup('<g class="map-area" data-kode="{}"><title>Kelurahan {}: {}</title>{}</g>').format(
            code, code, NO_DATA_LABEL, shape)
    return Markup('<a class="map-area" data-kode="{}" href="{}"><title>Kelurahan {}: {}</title>{}</a>').format(
        code, area.href, area.name, area.label, shape)


def _legend_svg(lay: _Layout, bins: Sequence[Bin], hatch: str) -> Markup:
    x, y = lay.legend_x, lay.legend_y
    out = [Markup('<g class="map-legend" font-family="{}" font-size="{}" fill="{}">').format(_SVG_FONT, _FONT, TEXT)]
    for line in lay.title_lines:
        y += _TITLE_FONT + 4
        out.append(Markup('<text x="{}" y="{}" font-weight="bold">{}</text>').format(x, y - 4, line))
    y += 6
    for color, label in _legend_rows(bins):
        out.append(Markup('<rect x="{}" y="{}" width="{}" height="{}" fill="{}" stroke="{}" stroke-width="0.6"/>'
                          '<text x="{}" y="{}">{}</text>').format(
            x, y, _SWATCH, _SWATCH, color or f"url(#{hatch})", CIRCLE_EDGE, x + _SWATCH + 8, y + _SWATCH - 3, label))
        y += _ROW
    out.append(Markup("</g>"))
    return Markup("").join(out)


# --- reportlab -------------------------------------------------------------------------------------------------

_PDF_TITLE_BAND = 26.0  # layout units above the map for the title line
_PDF_FONT, _PDF_FONT_BOLD, _PDF_FONT_MAX = "Helvetica", "Helvetica-Bold", 9.0  # the report's body size at most

Rings = list[list[tuple[float, float]]]


def map_drawing(m: OfficeMap, areas: Sequence[MapArea], *, scale: str, title: str, legend_title: str,
                width_pt: float) -> Drawing:
    """The same map for the PDF report, `title` as its first line (a caption the report need not repeat), the same
    colors and legend, scaled to `width_pt`. No-data kelurahan are hatched too, so the map reads in grayscale."""
    bins = color_bins([a.value for a in areas], scale)
    values = {a.code: a.value for a in areas}
    lay = _layout(m, bins, legend_title)
    k = width_pt / lay.width
    height = (lay.height + _PDF_TITLE_BAND) * k
    drawing = Drawing(width_pt, height)

    def pt(p: Point) -> tuple[float, float]:  # layout units (y down, below the title band) -> points (y up)
        return p[0] * k, height - (p[1] + _PDF_TITLE_BAND) * k

    size = min((_TITLE_FONT + 2) * k, _PDF_FONT_MAX + 1)
    while size > 6 and stringWidth(title, _PDF_FONT_BOLD, size) > width_pt:
        size -= 0.5
    drawing.add(String(0, height - size, title, fontName=_PDF_FONT_BOLD, fontSize=size, fillColor=HexColor(TEXT)))
    radius = (CIRCLE_ALONE if m.kind == "centroids" else CIRCLE_AMONG) * k
    for code in [*m.rings, *(c for c in m.points if c not in m.rings)]:
        b = bin_of(bins, values.get(code))
        if code in m.rings:
            rings, edge = [[pt(p) for p in ring] for ring in m.rings[code]], BORDER
        else:  # a centroid: a 24-gon, so that it can be hatched like a polygon
            (x, y), edge = pt(m.points[code]), CIRCLE_EDGE
            rings = [[(x + radius * math.cos(a * math.pi / 12), y + radius * math.sin(a * math.pi / 12))
                      for a in range(24)]]
        drawing.add(_pdf_area(rings, b.color if b else None, edge, k))
    _pdf_legend(drawing, lay, bins, pt, k)
    return drawing


def _pdf_area(rings: Rings, color: str | None, edge: str, k: float) -> Group:
    path = Path(fillColor=HexColor(color or NO_DATA_FILL), strokeColor=HexColor(edge), strokeWidth=0.6 * k)
    for ring in rings:  # even-odd (Path's default): holes stay open
        path.moveTo(*ring[0])
        for p in ring[1:]:
            path.lineTo(*p)
        path.closePath()
    if color is not None:
        return Group(path)
    hatch = Hatching(spacings=5 * k, angles=45, xyLists=[[v for p in ring for v in p] for ring in rings],
                     strokeColor=HexColor(NO_DATA_HATCH), strokeWidth=1.2 * k)
    return Group(path, hatch)


def _pdf_legend(drawing: Drawing, lay: _Layout, bins: Sequence[Bin], pt: Any, k: float) -> None:
    x, y = lay.legend_x, lay.legend_y
    for line in lay.title_lines:
        y += _TITLE_FONT + 4
        drawing.add(String(*pt((x, y - 4)), line, fontName=_PDF_FONT_BOLD,
                           fontSize=min(_TITLE_FONT * k, _PDF_FONT_MAX), fillColor=HexColor(TEXT)))
    y += 6
    for color, label in _legend_rows(bins):
        (sx, sy), side = pt((x, y + _SWATCH)), _SWATCH * k
        box = [(sx, sy), (sx + side, sy), (sx + side, sy + side), (sx, sy + side)]
        drawing.add(_pdf_area([box], color, CIRCLE_EDGE, k))
        # Helvetica has no "≥": reportlab takes that glyph from Symbol by itself.
        drawing.add(String(*pt((x + _SWATCH + 8, y + _SWATCH - 3)), label, fontName=_PDF_FONT,
                           fontSize=min(_FONT * k, _PDF_FONT_MAX), fillColor=HexColor(TEXT)))
        y += _ROW
