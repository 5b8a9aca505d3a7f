"""Intersectional facets in the CLI: ``--facet sex=Female --facet age>40`` gives the Python core's report
for ``Facet.all_of(...)`` on the same rows; the bare ``--facet COLUMN --facet-value V`` form still works."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from mlake.bias import Condition, Facet, Outcome, bias_report
from mlake.cli.main import app
from mlake.errors import ValidationError
from mlake.lake import Lake


def people(n: int = 800) -> pa.Table:
    rng = np.random.default_rng(11)
    sex = rng.choice(["Female", "Male"], n)
    age = rng.integers(20, 65, n)
    hired = (rng.random(n) < np.where((sex == "Female") & (age > 40), 0.25, 0.5)).astype(int)
    score = np.clip(0.4 * hired + rng.normal(0.3, 0.2, n), 0, 1)
    return pa.table({"sex": sex, "age": age, "hired": hired, "score": score})


def test_conditions_parse_as_the_faces_write_them() -> None:
    assert Condition.parse("sex=Female") == Condition("sex", ("Female",))
    assert Condition.parse(" race = Black, Asian ") == Condition("race", ("Black", "Asian"))
    assert Condition.parse("age>40") == Condition("age", threshold=40.0)
    facet = Facet.parse(["sex=Female", "age>40"])
    assert facet == Facet.all_of(Condition("sex", ("Female",)), Condition("age", threshold=40.0))
    assert Facet.from_dicts(facet.to_dicts()) == facet
    for bad in ("sex", "age>old", "age>inf", "sex="):
        with pytest.raises(ValidationError):
            Condition.parse(bad)


def test_cli_intersectional_facet_equals_the_core(lake: Lake) -> None:
    data = people()
    lake.create_table("hr.people", data)
    home = ["--home", str(lake.settings.home), "bias", "report", "hr.people"]
    rest = ["--label", "hired", "--positive", "1", "--predicted", "score", "--predicted-threshold", "0.5"]
    result = CliRunner().invoke(
        app, [*home, "--facet", "sex=Female", "--facet", "age>40", *rest, "--resamples", "50", "--json"]
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    want = bias_report(
        data,
        Facet.all_of(Condition("sex", ("Female",)), Condition("age", threshold=40)),
        Outcome.of("hired", positive_values=[1]),
        predicted_label=Outcome.of("score", threshold=0.5),
        resamples=50,
    ).to_dict()
    assert got == want
    d_rows = int(np.sum((np.asarray(data["sex"]) == "Female") & (np.asarray(data["age"]) > 40)))
    assert next(g for g in got["groups"] if g["facet"] == "d")["rows"] == d_rows
    assert got["facet"] == "sex in {Female} and age > 40"
    # the table view names the facet too; the one-column forms give the one-column report
    text = CliRunner().invoke(app, [*home, "--facet", "sex=Female", "--facet", "age>40", *rest, "--resamples", "0"])
    assert text.exit_code == 0 and "sex in {Female} and age > 40" in text.output
    bare = CliRunner().invoke(
        app, [*home, "--facet", "age", "--facet-threshold", "40", *rest, "--resamples", "0", "--json"]
    )
    short = CliRunner().invoke(app, [*home, "--facet", "age>40", *rest, "--resamples", "0", "--json"])
    assert bare.exit_code == short.exit_code == 0 and json.loads(bare.output) == json.loads(short.output)
    mixed = CliRunner().invoke(app, [*home, "--facet", "sex=Female", "--facet-value", "Male", *rest])
    assert isinstance(mixed.exception, ValidationError) and "--facet-value" in str(mixed.exception)
