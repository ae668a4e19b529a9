import datetime
import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup
from reportlab.graphics import renderPDF

from dashboard.charts import (
    Bar,
    FunnelStep,
    Series,
    bar_chart_drawing,
    bar_chart_svg,
    daily_chart_drawing,
    daily_chart_svg,
    fmt_int,
    fmt_pct,
    funnel_drawing,
    funnel_svg,
)

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: Markup) -> ET.Element:
    return ET.fromstring(str(markup))


def shapes(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if e.get("class") == cls]


def texts(root: ET.Element, cls: str) -> list[str]:
    return [e.text or "" for e in shapes(root, "text", cls)]


def width(e: ET.Element) -> float:
    return float(e.get("width", "nan"))


def bars_svg(bars: list[Bar], **kw) -> ET.Element:
    return parse(bar_chart_svg(bars, title="Tingkat terkirim", desc="per kecamatan", **kw))


# --- bar chart ----------------------------------------------------------------------------------------------------


def test_bar_widths_are_proportional_to_values():
    root = bars_svg([Bar("A", 50, "50"), Bar("B", 100, "100"), Bar("C", 25, "25"), Bar("D", 0, "0")])
    a, b, c, d = (width(r) for r in shapes(root, "rect", "bar"))
    assert a == pytest.approx(b / 2, abs=0.2)
    assert c == pytest.approx(b / 4, abs=0.2)
    assert d == 0


def test_bar_max_value_sets_the_full_length():
    free = bars_svg([Bar("A", 50, "50"), Bar("B", 100, "100")])
    capped = bars_svg([Bar("A", 50, "50"), Bar("B", 100, "100")], max_value=200)
    assert width(shapes(capped, "rect", "bar")[1]) == pytest.approx(width(shapes(free, "rect", "bar")[1]) / 2, abs=0.2)


def test_bar_values_shown_and_links_wrap_their_bar():
    root = bars_svg([Bar("Andir", 92.44, fmt_pct(92.44), href="/k/1?a=1&b=2"), Bar("Cidadap", 88, "88,0 %")])
    assert texts(root, "value") == ["92,4 %", "88,0 %"]
    links = list(root.iter(SVG + "a"))
    assert [a.get("href") for a in links] == ["/k/1?a=1&b=2"]
    assert [t.text for t in links[0].iter(SVG + "text")] == ["Andir", "92,4 %"]
    assert len(list(links[0].iter(SVG + "rect"))) == 1


def test_long_label_is_truncated_with_full_text_in_title():
    long = "Alamat tidak ditemukan atau tidak lengkap menurut petugas pos setempat"
    root = bars_svg([Bar(long, 10, "10"), Bar("Pindah", 5, "5")])
    shown = texts(root, "label")
    assert shown[0].endswith("…") and len(shown[0]) < len(long) and long.startswith(shown[0][:-1])
    assert shown[1] == "Pindah"
    tips = [g.findtext(SVG + "title") for g in root.iter(SVG + "g")]
    assert f"{long}: 10" in tips


def test_reference_line_sits_at_the_reference_value():
    root = bars_svg([Bar("A", 80, "80"), Bar("B", 100, "100")], reference=80, reference_label="Kantor: 80,0 %")
    (line,) = shapes(root, "line", "reference")
    bar_a = shapes(root, "rect", "bar")[0]
    assert float(line.get("x1")) == pytest.approx(float(bar_a.get("x")) + width(bar_a), abs=0.2)
    assert line.get("stroke-dasharray")
    assert texts(root, "reference") == ["Kantor: 80,0 %"]
    assert not shapes(bars_svg([Bar("A", 80, "80")]), "line", "reference")


def test_text_is_escaped_and_no_style_attribute():
    markup = bar_chart_svg([Bar("Lainnya <&>", 3, "3")], title="A & <B>", desc='"x"')
    assert "style=" not in markup
    assert "&lt;&amp;&gt;" in markup
    root = parse(markup)
    assert texts(root, "label") == ["Lainnya <&>"]
    assert root.findtext(SVG + "title") == "A & <B>"


def test_svg_root_is_accessible_and_ids_are_unique():
    first, second = (bars_svg([Bar("A", 1, "1")]) for _ in range(2))
    for root in (first, second):
        assert root.get("class") == "chart" and root.get("role") == "img"
        assert root.get("viewBox", "").startswith("0 0 ") and root.get("width") is None
        title_id, desc_id = root.get("aria-labelledby", "").split()
        assert root.find(SVG + "title").get("id") == title_id
        assert root.find(SVG + "desc").get("id") == desc_id
    assert first.get("aria-labelledby") != second.get("aria-labelledby")


def test_bad_tone_is_hatched_for_black_and_white_print():
    root = bars_svg([Bar("A", 1, "1", tone="bad"), Bar("B", 1, "1", tone="good")])
    bad, good = shapes(root, "rect", "bar")
    assert good.get("fill") == "#1f7a3a"
    pattern_id = bad.get("fill", "").removeprefix("url(#").removesuffix(")")
    assert root.find(f".//{SVG}pattern[@id='{pattern_id}']") is not None


# --- daily chart --------------------------------------------------------------------------------------------------

DAYS = [datetime.date(2024, 11, 3) + datetime.timedelta(days=i) for i in range(60)]


def daily(series: list[Series], days: list[datetime.date] = DAYS) -> ET.Element:
    return parse(daily_chart_svg(days, series, title="Per hari", desc="Terkirim dan dikembalikan"))


def test_one_column_per_day_and_series_with_a_value():
    sent = [0 if i % 7 == 6 else 1500 + i * 20 for i in range(60)]
    back = [30 + i % 50 for i in range(60)]
    root = daily([Series("Terkirim", sent, "good"), Series("Dikembalikan", back, "bad")])
    cols = shapes(root, "rect", "col")
    assert len(cols) == sum(v > 0 for v in sent) + 60
    assert texts(root, "legend") == ["Terkirim", "Dikembalikan"]


def test_column_heights_are_proportional():
    root = daily([Series("Terkirim", [1000, 2000, 500])], DAYS[:3])
    a, b, c = (float(r.get("height")) for r in shapes(root, "rect", "col"))
    assert a == pytest.approx(b / 2, abs=0.2) and c == pytest.approx(b / 4, abs=0.2)
    bottoms = {round(float(r.get("y")) + float(r.get("height")), 1) for r in shapes(root, "rect", "col")}
    assert len(bottoms) == 1


@pytest.mark.parametrize("peak", [1, 7, 80, 81, 999, 2950, 3000, 132289])
def test_y_ticks_are_nice_numbers(peak: int):
    root = daily([Series("Terkirim", [peak, peak // 2])], DAYS[:2])
    ticks = [int(t.replace(".", "")) for t in texts(root, "tick")]
    assert ticks[0] == 0 and ticks[-1] >= peak
    if peak == 1:
        assert ticks == [0, 1]
    else:
        assert 4 <= len(ticks) <= 6
    step = ticks[1]
    assert all(b - a == step for a, b in zip(ticks, ticks[1:], strict=False))
    assert int(str(step).rstrip("0") or "0") in {1, 2, 25, 5}


def test_thousands_use_a_dot_and_days_are_labelled_sparsely():
    root = daily([Series("Terkirim", [2500] * 60)])
    assert "3.000" in texts(root, "tick")
    labels = texts(root, "day")
    assert labels[:3] == ["3 Nov", "10 Nov", "17 Nov"]  # weekly for 60 days
    assert labels[-1] == "29 Des"


def test_empty_daily_chart_says_no_data():
    root = daily([Series("Terkirim", [])], [])
    assert texts(root, "empty") == ["Belum ada data"]
    assert not shapes(root, "rect", "col")


def test_series_must_match_the_days():
    with pytest.raises(ValueError):
        daily([Series("Terkirim", [1, 2])], DAYS[:3])


# --- funnel -------------------------------------------------------------------------------------------------------

STEPS = [
    FunnelStep("Dicetak", 132289, "100,0 %"),
    FunnelStep("Rusak", 412, "0,3 %", 1, "bad"),
    FunnelStep("Dikirim", 126687, "95,8 %"),
    FunnelStep("Terkirim", 118002, "89,2 %", 0, "good"),
    FunnelStep("Dikembalikan: pindah", 3, "0,0 %", 1, "bad"),
    FunnelStep("Ditarik", 0, "0,0 %", 1, "muted"),
]


def test_funnel_widths_follow_counts_relative_to_the_first_step():
    root = parse(funnel_svg(STEPS, title="Alur kartu", desc="dari cetak"))
    rects = shapes(root, "rect", "step")
    widths = [width(r) for r in rects]
    for step, w in zip(STEPS[:4], widths[:4], strict=True):
        assert w == pytest.approx(widths[0] * step.count / STEPS[0].count, abs=0.3)
    assert widths[0] > widths[2] > widths[3] > widths[1]
    assert 0 < widths[4] < 5 and widths[5] == 0  # tiny counts stay visible, nothing shows as nothing


def test_funnel_indents_branches_and_shows_counts_with_percentages():
    root = parse(funnel_svg(STEPS, title="Alur kartu", desc="dari cetak"))
    xs = [float(r.get("x")) for r in shapes(root, "rect", "step")]
    assert xs[0] == xs[2] == xs[3] < xs[1] == xs[4]
    shown = texts(root, "step-text")
    assert shown[0] == "Dicetak — 132.289 (100,0 %)"
    assert shown[1] == "Rusak — 412 (0,3 %)"


def test_empty_funnel_says_no_data():
    assert texts(parse(funnel_svg([], title="Alur", desc="-")), "empty") == ["Belum ada data"]


# --- formatting and PDF -------------------------------------------------------------------------------------------


def test_indonesian_number_formatting():
    assert fmt_int(132289) == "132.289"
    assert fmt_int(999) == "999"
    assert fmt_int(1000000) == "1.000.000"
    assert fmt_pct(92.44) == "92,4 %"
    assert fmt_pct(100) == "100,0 %"
    assert fmt_pct(None) == "–"


@pytest.mark.parametrize(
    "make",
    [
        lambda: bar_chart_drawing(
            [Bar("Andir", 92.4, "92,4 %", tone="bad"), Bar("Lainnya <&>", 88, "88,0 %")],
            title="Tingkat terkirim",
            width_pt=480,
            max_value=100,
            reference=90,
            reference_label="Kantor: 90,0 %",
        ),
        lambda: daily_chart_drawing(
            DAYS,
            [Series("Terkirim", [2000] * 60, "good"), Series("Dikembalikan", [40] * 60, "bad")],
            title="Per hari",
            width_pt=480,
        ),
        lambda: funnel_drawing(STEPS, title="Alur kartu", width_pt=480),
        lambda: bar_chart_drawing([], title="Kosong", width_pt=480),
        lambda: daily_chart_drawing([], [], title="Kosong", width_pt=480),
        lambda: funnel_drawing([], title="Kosong", width_pt=480),
    ],
)
def test_drawings_render_to_pdf(make):
    drawing = make()
    assert drawing.width == 480 and drawing.height > 0
    assert renderPDF.drawToString(drawing).startswith(b"%PDF")


def test_daily_drawing_keeps_the_requested_height():
    drawing = daily_chart_drawing(
        DAYS, [Series("Terkirim", [2000] * 60), Series("Dikembalikan", [40] * 60)], title="Per hari", width_pt=480
    )
    assert drawing.height == pytest.approx(160, abs=1)
