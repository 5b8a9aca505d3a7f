"""Quality dimension scores, each checked against its documented metric."""

from __future__ import annotations

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
