"""Numbers as a person reads them: in the CLI's tables, in Studio's data grid (its JavaScript, run by
Node) and in Studio's profile: no exponent for a sum of money, no thousands separator on a year or an id."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlake.cli.main import run
from mlake.lake import Lake
from mlake.results import format_value
from mlake.server.studio.quality_views import column_view

STUDIO_JS = Path(__file__).resolve().parent.parent / "src" / "mlake" / "server" / "static" / "studio.js"


def test_cli_tables_show_money_in_full(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    argv = sys.argv
    sys.argv = [
        "mlake",
        "--home",
        str(tmp_path / "lake"),
        "--quiet",
        "sql",
        "select 2524201.37::DOUBLE AS revenue, 2009 AS year, 0.1 + 0.2 AS f, 1e-7::DOUBLE AS tiny, "
        "123456789012.345::DECIMAL(18, 3) AS exact",
    ]
    try:
        run()
    except SystemExit as exc:
        assert not exc.code
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    for shown in ("2524201.37", "2009", "0.3", "1e-07", "123456789012.345"):
        assert shown in out, shown
    assert "e+06" not in out and "2,009" not in out


@given(st.floats(min_value=1e-4, max_value=1e15 - 1, allow_nan=False) | st.floats(max_value=-1e-4, min_value=-1e15 + 1))
def test_floats_are_positional_and_keep_ten_significant_digits(x: float) -> None:
    text = format_value(x)
    assert "e" not in text and "," not in text
    assert float(text) == float(f"{x:.10g}")


def test_special_floats() -> None:
    assert [format_value(v) for v in (0.0, float("nan"), float("inf"), -float("inf"), 1e20)] == [
        "0",
        "NaN",
        "inf",
        "-inf",
        "1e+20",
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run Studio's JavaScript")
def test_studio_grid_formats_numbers_like_the_cli() -> None:
    source = STUDIO_JS.read_text()
    m = re.search(r"\n  function fmt\(v, kind\) \{\n.*?\n  \}\n", source, re.DOTALL)
    assert m, "fmt() not found in studio.js"
    values = [2524201.37, 2009, 0.1 + 0.2, 1e-7, 1234.5678, -0.25, 3e20]
    script = m.group(0) + f"\nconsole.log(JSON.stringify({json.dumps(values)}.map((v) => fmt(v, 'number'))));"
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["2524201.37", "2009", "0.3", "1.00000e-7", "1234.5678", "-0.25", "300000000000000000000"]


def test_studio_profile_shows_years_and_ids_without_separators(lake: Lake) -> None:
    years = list(range(1990, 2030)) * 3
    lake.create_table(
        "c.films",
        pa.table({"year": pa.array(years, pa.int64()), "budget": pa.array([2524201.37 + i for i in range(len(years))])}),
    )
    profile = lake.quality.profile("c.films", save=False)
    year = column_view(profile["year"])
    facts = dict(year.facts)
    assert facts["min"] == "1990" and facts["max"] == "2029" and facts["median"].startswith("20")
    assert not any("," in v for v in (facts["min"], facts["max"], facts["median"], facts["mean"]))
    assert year.axis is None or "," not in "".join(year.axis)
    assert all("," not in t.label for t in year.top)
    assert column_view(profile["year"]).distinct == "40"  # a count
    budget = dict(column_view(profile["budget"]).facts)
    assert "," not in budget["min"] and "e+" not in budget["min"]
