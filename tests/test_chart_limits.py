"""The chart kit's limit-aware charts: a threshold line and an acceptable band behind a series, bars with a
threshold tick each, and rows of estimates with intervals and bands — marks counted, limits placed."""

from __future__ import annotations

import re

from mlake import charts


def test_line_draws_its_threshold_and_band_inside_the_value_axis() -> None:
    # the series stays far below its threshold: the threshold still lies inside the picture
    svg = charts.line([0.1, 0.2, 0.15], threshold=0.9, band=(0.0, 0.5), marks=[1], height=50, pad=4)
    (y,) = re.findall(r'class="threshold" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)"', svg)
    assert 4 <= float(y) <= 46
    assert svg.count('class="band"') == 1 and svg.count('class="dot mark"') == 1
    top, height = re.search(r'class="band" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg).groups()
    assert float(top) >= 4 and float(top) + float(height) <= 46.01
    assert "threshold" not in charts.line([1.0, 2.0])  # nothing drawn when not asked


def test_threshold_bars_flag_rows_and_place_each_tick_on_one_scale() -> None:
    rows = [
        charts.Gauge("amount", 0.002, 0.05, True, "amount <drifted>"),
        charts.Gauge("age", 0.6, 0.05, False, "age"),
        charts.Gauge("colour", None, 0.1, False, "colour: not computed"),
    ]
    svg = charts.threshold_bars(rows, width=400)
    assert svg.count('class="bar bad"') == 1 and svg.count('class="bar"') == 1  # no bar without a value
    assert svg.count('class="threshold"') == 3
    assert "&lt;drifted&gt;" in svg and "<drifted>" not in svg
    ticks = [float(x) for x in re.findall(r'class="threshold" x1="([\d.]+)"', svg)]
    assert ticks[0] == ticks[1] < ticks[2]  # the same threshold at the same place; 0.1 further right
    bar_ends = re.findall(r'class="bar[^"]*" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)
    x0, w_age = float(bar_ends[1][0]), float(bar_ends[1][1])
    assert abs((ticks[0] - x0) / w_age - 0.05 / 0.6) < 0.01  # proportional to the values
    assert charts.threshold_bars([]) == ""


def test_interval_rows_shade_the_band_and_flag_values_outside() -> None:
    rows = [
        charts.Interval("DI", 0.6, 0.5, 0.7, 1.0, (0.8, 1.25), "DI"),
        charts.Interval("DPL", 0.05, -0.02, 0.12, 0.0, (-0.1, 0.1), "DPL"),
        charts.Interval("TE", None, None, None, 0.0, (-0.1, 0.1), "TE undefined"),
    ]
    svg = charts.interval_rows(rows)
    assert [r.outside for r in rows] == [True, False, False]
    assert svg.count('class="interval outside"') == 1 and svg.count('class="interval"') == 2
    assert svg.count('class="band"') == 3 and svg.count('class="ci"') == 2 and svg.count('class="dot"') == 2
    assert svg.count('class="bar bad"') == 1 and "undefined" in svg
    shared = charts.interval_rows([charts.Interval("a", 0.5, 0.4, 0.6, None, None, "a")], domain=(0.0, 1.0), width=300)
    (_, w) = re.search(r'class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', shared).groups()
    track = re.search(r'class="track" x1="([\d.]+)" x2="([\d.]+)"', shared).groups()
    assert abs(float(w) / (float(track[1]) - float(track[0])) - 0.5) < 0.01  # from 0 to 0.5 of [0, 1]
