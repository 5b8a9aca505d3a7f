"""``lake.bias.report`` and ``mlake bias report``: the core's report on lake tables and SQL, governed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mlake.bias import Facet, Outcome, bias_report
from mlake.cli.main import app
from mlake.errors import NotFoundError, PermissionDeniedError, ValidationError
from mlake.lake import Lake


def applicants(n: int = 600) -> pa.Table:
    rng = np.random.default_rng(3)
    sex = rng.choice(["Female", "Male"], n)
    age = rng.integers(20, 65, n)
    hired = (rng.random(n) < np.where(sex == "Female", 0.3, 0.5)).astype(int)
    score = np.clip(0.4 * hired + rng.normal(0.3, 0.2, n), 0, 1)
    return pa.table({"sex": sex, "age": age, "hired": hired, "score": score})


def test_lake_report_equals_the_core_on_the_same_rows(lake: Lake) -> None:
    data = applicants()
    lake.create_table("hr.applicants", data)
    got = lake.bias.report(
        "hr.applicants",
        facet="sex",
        facet_values=["Female"],
        label="hired",
        positive_values=[1],
        predicted="score",
        predicted_threshold=0.5,
        resamples=100,
    )
    want = bias_report(
        data,
        Facet.of("sex", values=["Female"]),
        Outcome.of("hired", positive_values=[1]),
        predicted_label=Outcome.of("score", threshold=0.5),
        resamples=100,
    )
    assert got.values() == pytest.approx(want.values(), nan_ok=True)
    assert got.metric("DPL").ci == want.metric("DPL").ci
    older = lake.bias.report(
        "SELECT * FROM hr.applicants WHERE age > 40",
        facet="sex",
        facet_values=["Female"],
        label="hired",
        positive_values=[1],
        resamples=0,
    )
    assert older.rows == int(np.sum(np.asarray(data["age"]) > 40))
    with pytest.raises(ValidationError):
        lake.bias.report("hr.applicants", facet="sex", label="hired", positive_values=[1])  # no facet group


def test_a_principal_without_grant_is_refused(lake: Lake) -> None:
    lake.create_table("hr.applicants", applicants())
    lake.governance.create_principal("eve")
    eve = lake.as_principal("eve")
    for source in ("hr.applicants", "SELECT * FROM hr.applicants"):
        with pytest.raises((NotFoundError, PermissionDeniedError)):
            eve.bias.report(source, facet="sex", facet_values=["Female"], label="hired", positive_values=[1])


def test_cli_prints_metrics_with_intervals(lake: Lake, tmp_path: Path) -> None:
    lake.create_table("hr.applicants", applicants())
    args = [
        "--home",
        str(lake.settings.home),
        "bias",
        "report",
        "hr.applicants",
        "--facet",
        "sex",
        "--facet-value",
        "Female",
        "--label",
        "hired",
        "--positive",
        "1",
        "--predicted",
        "score",
        "--predicted-threshold",
        "0.5",
        "--resamples",
        "50",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    for code in ("CI", "DPL", "DPPL", "DI", "CI low"):
        assert code in result.output
    page = tmp_path / "bias.html"
    as_json = CliRunner().invoke(app, [*args, "--json", "--html", str(page)])
    assert as_json.exit_code == 0 and '"DPL"' in as_json.output
    assert page.read_text().count('<svg class="ci-bar"') == len(json.loads(as_json.output)["metrics"])
