"""Quality dimension scores, each checked against its documented metric."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from mlake.quality import InSet, NotNull, Suite


@pytest.fixture
def people(lake):
    now = datetime.now(UTC)
    return lake.create_table(
        "d.people",
        pa.table(
            {
                "id": [1, 2, 3, 3, 5],
                "email": ["a@x.org", "b@x.org", "", "c@x.org", "oops"],
                "country": ["DE", "FR", None, "DE", "XX"],
                "seen_at": pa.array([now - timedelta(days=d) for d in (9, 8, 7, 3, 2)], pa.timestamp("us", tz="UTC")),
            }
        ),
    )


def test_completeness_uniqueness_validity_timeliness(lake, people):
    d = lake.quality.dimensions("d.people", key=["id"], max_age="1d")
    assert d["completeness"].score == pytest.approx(1 - 2 / 20)  # one empty string, one null, 20 cells
    assert d["uniqueness"].score == pytest.approx(1 - 1 / 5) and "duplicate key" in d["uniqueness"].detail
    # email: 3 of 4 non-empty values are emails (75% < 90%): no dominant pattern, so nothing breaks it
    assert d["validity"].score == 1.0
    assert d["timeliness"].score == pytest.approx(0.5, abs=0.01)  # newest is 2 days old, 1 day allowed
    assert d["accuracy"].score is None and "reference=" in d["accuracy"].detail
    assert d["schema_compatibility"].score is None
    assert d.overall == pytest.approx((0.9 + 0.8 + 1.0 + 0.5) / 4, abs=0.01)
    assert d.to_dict()["scores"][0]["measured"]


def test_validity_from_a_suite_is_the_error_to_data_ratio(lake, people):
    suite = Suite([NotNull("country"), InSet("country", values=["DE", "FR"])])
    d = lake.quality.dimensions("d.people", suite=suite)
    assert d["validity"].numerator == 2 and d["validity"].denominator == 10
    assert d["validity"].score == pytest.approx(0.8)


def test_accuracy_against_a_reference_and_a_rule(lake, people):
    lake.create_table(
        "d.truth",
        pa.table({"id": [1, 2, 5], "country": ["DE", "ES", "XX"], "email": ["a@x.org", "b@x.org", "e@x.org"]}),
    )
    d = lake.quality.dimensions("d.people", reference="d.truth", key=["id"])
    # rows 1, 2, 5 match; compared columns email and country: 6 cells, 2 differ (2's country, 5's email)
    assert d["accuracy"].numerator == 4 and d["accuracy"].denominator == 6
    rule = lake.quality.dimensions("d.people", rule="country IN ('DE', 'FR')")
    assert rule["accuracy"].score == pytest.approx(3 / 5)


def test_schema_compatibility_with_the_previous_snapshot_and_an_expected_schema(lake, people):
    people.add_columns({"score": "double"})
    people.append(pa.table({"id": [9], "score": [1.0]}))
    d = lake.quality.dimensions("d.people")
    assert d["schema_compatibility"].score == 1.0  # a new column keeps the old ones
    expected = {"id": "bigint", "email": "varchar", "country": "integer", "gone": "varchar"}
    e = lake.quality.dimensions("d.people", expected_schema=expected)
    assert e["schema_compatibility"].score == pytest.approx(2 / 4)
    assert "gone missing" in e["schema_compatibility"].detail


def test_ages_read_as_people_say_them(lake):
    from mlake.quality import Freshness
    from mlake.quality.checks import human_duration

    assert [human_duration(s) for s in (1, 45, 600, 3 * 3600, 2.5 * 86400, 40 * 86400)] == [
        "1 second", "45 seconds", "10 minutes", "3 hours", "2.5 days", "40 days"]
    assert human_duration(3989 * 86400 + 3805) == "3,989 days (about 10.9 years)"
    old = datetime.now(UTC) - timedelta(days=3989, seconds=3805)
    lake.create_table("d.old", pa.table({"at": pa.array([old], pa.timestamp("us", tz="UTC"))}))
    timeliness = lake.quality.dimensions("d.old", max_age="1d")["timeliness"]
    assert "is 3,989 days (about 10.9 years) old (max 24 hours)" in timeliness.detail
    check = lake.quality.check("d.old", Suite([Freshness("at", max_age="2d")]), save=False)["freshness(at)"]
    assert "3,989 days (about 10.9 years) old (max 2 days)" in check.message
    assert not re.search(r"\d days?, \d+:\d\d:\d\d", timeliness.detail + check.message)


def test_report_charts_fill_their_cards(lake):
    from mlake import charts

    bars = charts.histogram([1, 5, 3], ["a", "b", "c"], fluid=True, stretch=True)
    assert 'width="100%"' in bars and 'preserveAspectRatio="none"' in bars
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width_in_centimetres"]
    heat = charts.heatmap(names, [[1.0] * 4 for _ in names])
    assert 'width="100%"' in heat
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', heat).group(1))
    last_label_x = 120 + 4 * 22 - 5  # where the last column's label starts, written at 60° up to the right
    assert width >= last_label_x + 0.5 * 6 * len(names[-1][:18])  # its horizontal extent fits
