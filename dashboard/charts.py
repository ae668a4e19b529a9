"""Charts for the dashboard: SVG for the pages, reportlab Drawings for the PDF report.

Each chart is laid out once into a small scene of boxes, rules and labels (top-down coordinates, sizes derived
from the font size), then rendered to SVG markup or to a reportlab Drawing, so the page and the PDF show the same
picture. The SVG carries no ``style`` attributes (the site's CSP is ``style-src 'self'``); the page's CSS gives
``svg.chart`` its width. Screen readers get the numbers from the table the page renders next to each chart.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from reportlab.graphics.shapes import Drawing, Group, Hatching, Line, Rect, String
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

TONES = {"default": "#0b5d8c", "good": "#1f7a3a", "bad": "#a4262c", "muted": "#8a97a6"}
# "bad" is also striped, so it stays apart from the other tones when printed in black and white.
HATCH_STRIPE = "#d29396"
INK = "#1d2733"
SOFT_INK = "#5b6776"
GRID = "#d8dee6"
SVG_FONT = "system-ui, sans-serif"
PDF_FONT = "Helvetica"
SVG_WIDTH = 800
SVG_FONT_SIZE = 13
PDF_FONT_SIZE = 8
NO_DATA = "Belum ada data"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")

Measure = Callable[[str, float], float]


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str
    href: str | None = None
    tone: str = "default"


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[int]
    tone: str = "default"


@dataclass(frozen=True, slots=True)
class FunnelStep:
    label: str
    count: int
    pct_text: str
    level: int = 0
    tone: str = "default"


def fmt_int(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def fmt_pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}".replace(".", ",") + " %"


# --- the scene ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    w: float
    h: float
    tone: str = "default"
    kind: str = ""


@dataclass(frozen=True, slots=True)
class _Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str = GRID
    width: float = 1.0
    dashed: bool = False
    kind: str = ""


@dataclass(frozen=True, slots=True)
class _Label:
    x: float
    y: float  # baseline
    text: str
    size: float
    color: str = INK
    anchor: str = "start"
    bold: bool = False
    kind: str = ""
    halo: str | None = None  # an outline in this color, so lines or stripes under the text do not cross it


_Shape = _Box | _Rule | _Label


@dataclass(frozen=True, slots=True)
class _Group:
    items: tuple[_Shape, ...]
    tip: str | None = None
    href: str | None = None


@dataclass(slots=True)
class _Scene:
    width: float
    height: float
    items: list[_Shape | _Group] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where a layout draws: its width, font size, how text is measured, and an optional visible heading."""

    width: float
    fs: float
    measure: Measure
    heading: str | None = None

    def top(self, scene: _Scene) -> float:
        """Draws the heading, if any; returns the y where the chart body starts."""
        if not self.heading:
            return 0.0
        scene.items.append(_Label(0, self.fs * 1.2, self.heading, self.fs * 1.15, bold=True, kind="heading"))
        return self.fs * 2.0


def _svg_measure(text: str, size: float) -> float:
    # An average glyph of system-ui is a little over half the font size; this errs on the wide side.
    return len(text) * size * 0.56


def _pdf_measure(text: str, size: float) -> float:
    return stringWidth(text, PDF_FONT, size)


def _svg_frame(width: float = SVG_WIDTH) -> _Frame:
    """`width` in SVG units at a fixed font size: a chart meant for a narrow panel gets a narrower width, so that its
    text is as large on screen as a wide chart's."""
    return _Frame(width, SVG_FONT_SIZE, _svg_measure)


def _pdf_frame(width_pt: float, title: str) -> _Frame:
    return _Frame(width_pt, PDF_FONT_SIZE, _pdf_measure, heading=title)


def _fit(text: str, max_w: float, size: float, measure: Measure) -> str:
    if measure(text, size) <= max_w:
        return text
    cut = len(text)
    while cut > 1 and measure(text[:cut].rstrip() + "…", size) > max_w:
        cut -= 1
    return text[:cut].rstrip() + "…"


def _no_data(frame: _Frame) -> _Scene:
    scene = _Scene(frame.width, 0)
    y = frame.top(scene)
    scene.items.append(_Label(frame.fs * 0.5, y + frame.fs * 1.6, NO_DATA, frame.fs, SOFT_INK, kind="empty"))
    scene.height = y + frame.fs * 2.5
    return scene


# --- layouts ------------------------------------------------------------------------------------------------------


def _bar_scene(
    bars: Sequence[Bar], frame: _Frame, max_value: float | None, reference: float | None, reference_label: str
) -> _Scene:
    if not bars:
        return _no_data(frame)
    fs, measure, width = frame.fs, frame.measure, frame.width
    pad = fs * 0.5
    scene = _Scene(width, 0)
    top = frame.top(scene) + (fs * 1.8 if reference is not None else pad)
    label_w = min(max(measure(b.label, fs) for b in bars), width * 0.3)
    value_w = max(measure(b.text, fs) for b in bars) + pad
    x0 = label_w + pad * 2
    area = width - x0 - value_w - pad
    peak = max_value if max_value is not None else max([b.value for b in bars] + [reference or 0.0])
    scale = area / peak if peak > 0 else 0.0
    row_h, bar_h = fs * 1.9, fs * 1.25
    bottom = top + row_h * len(bars)
    scene.items.append(_Rule(x0, top, x0, bottom, SOFT_INK, fs / 13))
    if reference is not None:
        # Under the bars: it shows between the rows and never hides a bar's end.
        x = x0 + min(max(reference, 0.0) * scale, area)
        scene.items.append(_Rule(x, top - fs * 0.4, x, bottom, INK, fs / 13, dashed=True, kind="reference"))
        if reference_label:
            tw = measure(reference_label, fs * 0.9)
            anchor = "end" if x + tw / 2 > width else "start" if x - tw / 2 < 0 else "middle"
            scene.items.append(_Label(x, top - fs * 0.7, reference_label, fs * 0.9, INK, anchor, kind="reference"))
    for i, bar in enumerate(bars):
        mid = top + row_h * (i + 0.5)
        w = min(max(bar.value, 0.0) * scale, area)
        w = max(w, fs / 13) if bar.value > 0 else 0.0
        shapes: tuple[_Shape, ...] = (
            _Label(x0 - pad, mid + fs * 0.35, _fit(bar.label, label_w, fs, measure), fs, anchor="end", kind="label"),
            _Box(x0, mid - bar_h / 2, w, bar_h, bar.tone, kind="bar"),
            _Label(x0 + w + pad * 0.6, mid + fs * 0.35, bar.text, fs, kind="value", halo="#ffffff"),
        )
        scene.items.append(_Group(shapes, tip=f"{bar.label}: {bar.text}", href=bar.href))
    scene.height = bottom + pad
    return scene


def _nice_ticks(peak: float) -> list[int]:
    """0 and 3-5 more round steps (1, 2, 2.5 or 5 times a power of ten) covering peak."""
    if peak <= 0:
        return [0, 1]
    raw = peak / 4
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw and (m != 2.5 or mag >= 10))
    step = max(1, round(step))  # counts are whole numbers
    return [i * step for i in range(math.ceil(peak / step) + 1)]


def _day_text(day: datetime.date) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}"


def _daily_scene(
    days: Sequence[datetime.date], series: Sequence[Series], frame: _Frame, height: float | None
) -> _Scene:
    """One panel per series, each with its own y axis: returns (tens a day) next to deliveries (thousands a day)
    would be invisible on a shared axis."""
    if not days or not series:
        return _no_data(frame)
    for s in series:
        if len(s.values) != len(days):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(days)} days")
    fs, measure, width = frame.fs, frame.measure, frame.width
    pad = fs * 0.5
    scene = _Scene(width, 0)
    y = frame.top(scene)
    ticks = [_nice_ticks(max(s.values)) for s in series]
    x0 = max(measure(fmt_int(t[-1]), fs * 0.9) for t in ticks) + pad * 2
    plot_w = width - x0 - pad
    header_h, xlabel_h, gap = fs * 1.7, fs * 1.8, fs * 0.6
    if height is None:
        plot_h = fs * 7.5
    else:
        plot_h = max((height - y - xlabel_h - len(series) * (header_h + gap) + gap) / len(series), fs * 3)
    step = plot_w / len(days)
    col_w = min(step * 0.72, fs * 2.5) if step * 0.72 >= 1.5 else step
    for s, s_ticks in zip(series, ticks, strict=True):
        _legend(scene, s, x0, y, fs)
        top = y + header_h
        base = top + plot_h
        for t in s_ticks:
            ty = base - plot_h * t / s_ticks[-1]
            scene.items.append(_Rule(x0, ty, width - pad, ty, GRID, fs / 13))
            scene.items.append(_Label(x0 - pad, ty + fs * 0.3, fmt_int(t), fs * 0.9, SOFT_INK, "end", kind="tick"))
        for i, (day, v) in enumerate(zip(days, s.values, strict=True)):
            if v <= 0:
                continue
            h = plot_h * v / s_ticks[-1]
            col = _Box(x0 + step * i + (step - col_w) / 2, base - h, col_w, h, s.tone, kind="col")
            tip = f"{_day_text(day)} {day.year} — {s.name}: {fmt_int(v)}"
            scene.items.append(_Group((col,), tip=tip))
        scene.items.append(_Rule(x0, base, width - pad, base, SOFT_INK, fs / 13))
        y = base + gap
    _day_labels(scene, days, x0, step, y - gap, fs, measure)
    scene.height = y - gap + xlabel_h
    return scene


def _legend(scene: _Scene, s: Series, x0: float, y: float, fs: float) -> None:
    scene.items.append(_Box(x0, y + fs * 0.35, fs * 0.9, fs * 0.9, s.tone, kind="swatch"))
    scene.items.append(_Label(x0 + fs * 1.3, y + fs * 1.15, s.name, fs, bold=True, kind="legend"))


def _day_labels(
    scene: _Scene, days: Sequence[datetime.date], x0: float, step: float, base: float, fs: float, measure: Measure
) -> None:
    need = measure("30 Sep", fs * 0.9) + fs
    every = next((n for n in (1, 2, 7, 14, 28) if n * step >= need), math.ceil(need / step))
    for i in range(0, len(days), every):
        x = x0 + step * (i + 0.5)
        text = _day_text(days[i])
        anchor = "end" if x + measure(text, fs * 0.9) / 2 > scene.width else "middle"
        scene.items.append(_Rule(x, base, x, base + fs * 0.35, SOFT_INK, fs / 13))
        scene.items.append(_Label(x, base + fs * 1.35, text, fs * 0.9, SOFT_INK, anchor, kind="day"))


def _funnel_scene(steps: Sequence[FunnelStep], frame: _Frame) -> _Scene:
    if not steps:
        return _no_data(frame)
    fs, measure, width = frame.fs, frame.measure, frame.width
    pad = fs * 0.5
    scene = _Scene(width, 0)
    top = frame.top(scene) + pad
    indent = fs * 2
    full = width - indent * max(s.level for s in steps)
    scale = full / max(steps[0].count, max(s.count for s in steps), 1)
    row_h, bar_h = fs * 2.0, fs * 1.4
    for i, step in enumerate(steps):
        mid = top + row_h * (i + 0.5)
        x = indent * step.level
        w = max(step.count * scale, fs / 6.5) if step.count > 0 else 0.0
        text = f"{step.label} — {fmt_int(step.count)}" + (f" ({step.pct_text})" if step.pct_text else "")
        if step.level > 0:
            # A branch leaving the main flow: a little elbow from the flow's edge to the bar.
            elbow = x - indent * 0.55
            scene.items.append(_Rule(elbow, mid - row_h * 0.5, elbow, mid, SOFT_INK, fs / 13))
            scene.items.append(_Rule(elbow, mid, x - fs * 0.2, mid, SOFT_INK, fs / 13))
        outside = width - (x + w + pad)
        if measure(text, fs) <= outside or outside >= w - pad * 2:
            label = _Label(x + w + pad, mid + fs * 0.35, _fit(text, outside, fs, measure), fs, kind="step-text")
        else:
            color, halo = INK if step.tone == "muted" else "#ffffff", TONES.get(step.tone, TONES["default"])
            fitted = _fit(text, w - pad * 2, fs, measure)
            label = _Label(x + pad, mid + fs * 0.35, fitted, fs, color, kind="step-text", halo=halo)
        box = _Box(x, mid - bar_h / 2, w, bar_h, step.tone, kind="step")
        scene.items.append(_Group((box, label), tip=text))
    scene.height = top + row_h * len(steps) + pad
    return scene


# --- SVG ----------------------------------------------------------------------------------------------------------

_ids = itertools.count(1)


def _n(v: float) -> str:
    return f"{v:.1f}".removesuffix(".0")


def _kind(kind: str) -> str:
    return f' class="{kind}"' if kind else ""


def _svg_shape(shape: _Shape, hatch_id: str) -> str:
    if isinstance(shape, _Box):
        fill = f"url(#{hatch_id})" if shape.tone == "bad" else TONES.get(shape.tone, TONES["default"])
        return (
            f'<rect{_kind(shape.kind)} x="{_n(shape.x)}" y="{_n(shape.y)}" width="{_n(shape.w)}" '
            f'height="{_n(shape.h)}" fill="{fill}"/>'
        )
    if isinstance(shape, _Rule):
        dash = ' stroke-dasharray="5 3"' if shape.dashed else ""
        return (
            f'<line{_kind(shape.kind)} x1="{_n(shape.x1)}" y1="{_n(shape.y1)}" x2="{_n(shape.x2)}" '
            f'y2="{_n(shape.y2)}" stroke="{shape.color}" stroke-width="{_n(shape.width)}"{dash}/>'
        )
    anchor = f' text-anchor="{shape.anchor}"' if shape.anchor != "start" else ""
    weight = ' font-weight="600"' if shape.bold else ""
    halo = f' stroke="{shape.halo}" stroke-width="4" stroke-linejoin="round" paint-order="stroke"' if shape.halo else ""
    return (
        f'<text{_kind(shape.kind)} x="{_n(shape.x)}" y="{_n(shape.y)}" font-family="{SVG_FONT}" '
        f'font-size="{_n(shape.size)}" fill="{shape.color}"{anchor}{weight}{halo}>{escape(shape.text)}</text>'
    )


def _svg(scene: _Scene, title: str, desc: str) -> Markup:
    uid = f"chart-{hashlib.sha1(title.encode()).hexdigest()[:6]}-{next(_ids)}"
    hatch_id = f"{uid}-hatch"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_n(scene.width)} {_n(scene.height)}" '
        f'role="img" aria-labelledby="{uid}-title {uid}-desc">',
        f'<title id="{uid}-title">{escape(title)}</title>',
        f'<desc id="{uid}-desc">{escape(desc)}</desc>',
        f'<defs><pattern id="{hatch_id}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{TONES["bad"]}"/>'
        f'<rect width="2" height="6" fill="{HATCH_STRIPE}"/></pattern></defs>',
    ]
    for item in scene.items:
        if isinstance(item, _Group):
            inner = "".join(_svg_shape(s, hatch_id) for s in item.items)
            tip = f"<title>{escape(item.tip)}</title>" if item.tip else ""
            group = f"<g>{tip}{inner}</g>"
            out.append(f'<a href="{escape(item.href)}">{group}</a>' if item.href else group)
        else:
            out.append(_svg_shape(item, hatch_id))
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart_svg(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str,
    max_value: float | None = None,
    reference: float | None = None,
    reference_label: str = "",
    width: float = SVG_WIDTH,
) -> Markup:
    return _svg(_bar_scene(bars, _svg_frame(width), max_value, reference, reference_label), title, desc)


def daily_chart_svg(days: Sequence[datetime.date], series: Sequence[Series], *, title: str, desc: str,
                    width: float = SVG_WIDTH) -> Markup:
    return _svg(_daily_scene(days, series, _svg_frame(width), None), title, desc)


def funnel_svg(steps: Sequence[FunnelStep], *, title: str, desc: str, width: float = SVG_WIDTH) -> Markup:
    return _svg(_funnel_scene(steps, _svg_frame(width)), title, desc)


# --- reportlab ----------------------------------------------------------------------------------------------------


def _rl_shapes(shape: _Shape, height: float) -> list[Rect | Line | String | Hatching]:
    if isinstance(shape, _Box):
        if shape.w <= 0 or shape.h <= 0:
            return []
        y = height - shape.y - shape.h
        fill = HexColor(TONES.get(shape.tone, TONES["default"]))
        out: list[Rect | Line | String | Hatching] = [
            Rect(shape.x, y, shape.w, shape.h, fillColor=fill, strokeColor=None, strokeWidth=0)
        ]
        if shape.tone == "bad":
            corners = [shape.x, y, shape.x + shape.w, y, shape.x + shape.w, y + shape.h, shape.x, y + shape.h]
            out.append(Hatching(3, 45, corners, strokeColor=HexColor(HATCH_STRIPE), strokeWidth=0.9))
        return out
    if isinstance(shape, _Rule):
        line = Line(shape.x1, height - shape.y1, shape.x2, height - shape.y2)
        line.strokeColor, line.strokeWidth = HexColor(shape.color), shape.width
        line.strokeDashArray = [3, 2] if shape.dashed else None
        return [line]
    font = f"{PDF_FONT}-Bold" if shape.bold else PDF_FONT
    text = String(shape.x, height - shape.y, shape.text, fontName=font, fontSize=shape.size)
    text.fillColor, text.textAnchor = HexColor(shape.color), shape.anchor
    if not shape.halo:
        return [text]
    x1, y1, x2, y2 = text.getBounds()
    halo = Rect(x1 - 1, y1, x2 - x1 + 2, y2 - y1, fillColor=HexColor(shape.halo), strokeColor=None, strokeWidth=0)
    return [halo, text]


def _drawing(scene: _Scene) -> Drawing:
    drawing = Drawing(scene.width, scene.height)
    body = Group()
    for item in scene.items:
        for shape in item.items if isinstance(item, _Group) else (item,):
            for node in _rl_shapes(shape, scene.height):
                body.add(node)
    drawing.add(body)
    return drawing


def bar_chart_drawing(
    bars: Sequence[Bar],
    *,
    title: str,
    width_pt: float,
    max_value: float | None = None,
    reference: float | None = None,
    reference_label: str = "",
) -> Drawing:
    return _drawing(_bar_scene(bars, _pdf_frame(width_pt, title), max_value, reference, reference_label))


def daily_chart_drawing(
    days: Sequence[datetime.date], series: Sequence[Series], *, title: str, width_pt: float, height_pt: float = 160
) -> Drawing:
    return _drawing(_daily_scene(days, series, _pdf_frame(width_pt, title), height_pt))


def funnel_drawing(steps: Sequence[FunnelStep], *, title: str, width_pt: float) -> Drawing:
    return _drawing(_funnel_scene(steps, _pdf_frame(width_pt, title)))
