"""mlake.charts, the one chart kit: labels are escaped, axis ends are written, nothing is drawn outside
the picture (text measured at the kit's character width), and shapes carry classes and colours."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mlake import charts

HOSTILE = '<script>alert("x")</script> & "quoted"'


def _view_width(svg: str) -> float:
    m = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg)
    assert m is not None
    return float(m.group(1))


def test_labels_and_titles_are_escaped_everywhere() -> None:
    drawn = [
        charts.bars([1, 2], [HOSTILE, HOSTILE], axis=(HOSTILE, HOSTILE)),
        charts.hbars([(HOSTILE, 3.0)]),
        charts.line([1.0, 2.0], titles=[HOSTILE, HOSTILE]),
        charts.heatmap([HOSTILE, "b"], [[1.0, None], [-0.5, 1.0]]),
        charts.svg([], 10, 10, label=HOSTILE),
    ]
    for svg in drawn:
        assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_histogram_writes_both_axis_ends_inside_the_picture() -> None:
    svg = charts.histogram([3, 0, 5], ["a: 3", "b: 0", "c: 5"], low="2026-01-01", high="2026-12-31", width=200)
    assert svg.count('<rect class="bar"') == 3 and "<title>b: 0</title>" in svg
    assert '<text x="0.00"' in svg and '<text x="200.00"' in svg and 'text-anchor="end"' in svg
    assert 'height="0.00"' in svg  # an empty bin has no bar; a small one keeps at least min_height


def test_empty_input_draws_nothing() -> None:
    assert charts.bars([], []) == charts.hbars([]) == charts.line([None]) == charts.heatmap([], []) == ""


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=40), st.floats(min_value=0, max_value=1e12, allow_nan=False)),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=120, max_value=600),
)
def test_horizontal_bars_leave_room_for_labels_and_values(items: list[tuple[str, float]], width: int) -> None:
    svg = charts.hbars(items, width=width)
    drawn = _view_width(svg)
    assert drawn >= width
    for m in re.finditer(r'<text x="([\d.]+)" y="[\d.]+"( text-anchor="end")?[^>]*>([^<]*)</text>', svg):
        x, end, label = float(m.group(1)), m.group(2), m.group(3)
        extent = charts.text_width(html.unescape(label), 11)
        left, right = (x - extent, x) if end else (x, x + extent)
        assert left >= -0.01 and right <= drawn + 0.01, (label, left, right, drawn)


def test_heatmap_keeps_rotated_column_names_inside() -> None:
    names = ["a_rather_long_column_name_indeed", "b"]
    svg = charts.heatmap(names, [[1.0, 0.2], [0.2, 1.0]])
    label = charts.clip(names[0], 18)
    start_x = 120 + 22 - 5
    assert _view_width(svg) >= start_x + charts.text_width(label, 10) * 0.5  # cos 60° of its length


def test_line_marks_and_hover_dots() -> None:
    svg = charts.line([1.0, None, 3.0, 2.0], titles=["a", "b", "c", "d"], marks={2}, area=True, cls="q-line")
    assert svg.startswith('<svg class="q-line"') and 'class="area"' in svg
    assert svg.count('class="dot mark"') == 1 and svg.count('class="dot"') == 2  # None has no dot
    single = charts.line([5.0])
    assert single.count("<circle") == 1  # one run so far: a dot


def test_meters_clamp_their_share() -> None:
    assert 'width="100.00"' in charts.meter(3.0, "bad") and 'class="q-meter bad"' in charts.meter(0.5, "bad")
    assert 'class="fill neg"' in charts.diverging_meter(-0.4)
