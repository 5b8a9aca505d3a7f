"""Metric history in an Iceberg table, and anomaly detection on synthetic histories with planted jumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from mlake.quality import AnomalyRules, NotNull, Suite
from mlake.quality.history import METRICS_SCHEMA, detect


def history(series: dict[tuple[str, str], list[float]], start: datetime | None = None) -> pa.Table:
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for (column, metric), values in series.items():
        for i, v in enumerate(values):
            rows.append(
                {
                    "run_id": f"r{i}",
                    "run_at": start + timedelta(days=i),
                    "kind": "profile",
                    "target": "t.x",
                    "column_name": column,
                    "metric": metric,
                    "value": v,
                }
            )
    return pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)


def test_planted_jump_in_a_noisy_history_is_found_by_z_score():
    rng = np.random.default_rng(0)
    null_rate = [*np.clip(rng.normal(0.001, 0.0002, 30), 0, 1), 0.12]
    rows = list(rng.normal(10_000, 50, 31))
    found = detect(history({("email", "null_rate"): null_rate, ("", "rows"): rows}))
    assert [(a.column, a.metric, a.rule) for a in found] == [("email", "null_rate", "z-score")]
    a = found[0]
    assert a.z > 100 and a.value == pytest.approx(0.12)
    assert "email null_rate went from 0.1" in a.message and "to 12.00%" in a.message


def test_no_anomaly_without_a_jump_and_only_newest_run_by_default():
    rng = np.random.default_rng(1)
    values = list(rng.normal(0.05, 0.002, 20))
    values[10] = 0.5  # an old jump
    h = history({("c", "null_rate"): values})
    assert detect(h) == []
    old = detect(h, only_last=False)
    assert [a.run_at.day for a in old] == [11]


def test_rate_of_change_with_short_history_and_minimum_change_for_rates():
    assert detect(history({("c", "null_rate"): [0.001, 0.12]}))[0].rule == "rate of change"
    # a rate that doubles from 0.1% to 0.2% is below the minimum absolute change of 1 point
    assert detect(history({("c", "null_rate"): [0.001, 0.002]})) == []
    assert detect(history({("", "rows"): [1000, 400]}))[0].relative_change == pytest.approx(-0.6)


def test_seasonal_option_knows_a_weekly_pattern():
    week = [100, 100, 100, 100, 100, 20, 20]  # daily runs; weekends are quiet
    values = [float(v + i % 3) for i, v in enumerate(week * 4)]  # the next run is a Monday
    seasonal = AnomalyRules(seasonal_period=7)
    # a Monday at 40 is a drop against earlier Mondays, though not against the whole mixed history
    dropped = history({("", "rows"): [*values, 40.0]})
    assert [a.rule for a in detect(dropped, seasonal)] == ["seasonal z-score"]
    assert detect(dropped) == []
    # a normal Monday after a quiet Sunday is not an anomaly with the seasonal option
    assert detect(history({("", "rows"): [*values, 101.0]}), seasonal) == []
    assert detect(history({("", "rows"): [*values, 101.0]}), AnomalyRules(min_history=50)) != []  # rate of change


def test_profiles_and_checks_are_stored_and_a_null_jump_is_reported(lake):
    t = lake.create_table("h.users", pa.table({"id": list(range(100)), "email": [f"u{i}@x.org" for i in range(100)]}))
    for i in range(3):
        t.append(pa.table({"id": [1000 + i], "email": [f"n{i}@x.org"]}))
        lake.quality.profile("h.users")
    t.append(pa.table({"id": list(range(200, 260)), "email": pa.array([None] * 60, pa.string())}))
    lake.quality.profile("h.users")
    lake.quality.check("h.users", Suite([NotNull("email")]))
    stored = lake.quality.history("h.users")
    assert set(stored.column("kind").to_pylist()) == {"profile", "check"}
    assert len(set(stored.column("run_id").to_pylist())) == 5
    assert lake.table_exists("mlake.quality_metrics")
    null_rates = lake.quality.history("h.users", metric="null_rate", column="email").column("value").to_pylist()
    assert null_rates[-1] == pytest.approx(60 / 163)
    found = lake.quality.anomalies("h.users")
    assert any(a.column == "email" and a.metric == "null_rate" for a in found)
    rows = lake.sql("select count(*) from mlake.quality_metrics where target = 'h.users' and kind = 'check'").scalar()
    assert rows >= 2


@pytest.mark.parametrize("period", [7, 12])
def test_seasonal_false_alarm_rate_on_clean_runs_is_stated_and_low(period):
    """Clean runs (a seasonal pattern plus Gaussian noise) are flagged about as rarely as without seasons:
    the z-score's spread is pooled over every phase, not taken from 2 same-phase runs (5.7% flagged)."""
    from mlake.quality.history import detect_series

    rng = np.random.default_rng(7)
    pattern = rng.normal(1000, 200, period)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    trials, flagged, flagged_plain = 3000, 0, 0
    seasonal, plain = AnomalyRules(seasonal_period=period), AnomalyRules()
    for _ in range(trials):
        n = 4 * period + int(rng.integers(0, period))  # any phase, past the three seasons needed
        values = pattern[np.arange(n) % period] + rng.normal(0, 10, n)
        pts = [(start + timedelta(days=i), f"r{i}", float(v)) for i, v in enumerate(values)]
        flagged += bool(detect_series(pts, "rows", seasonal))
        noise = [(p[0], p[1], float(1000 + rng.normal(0, 10))) for p in pts]
        flagged_plain += bool(detect_series(noise, "rows", plain))
    assert flagged / trials < 0.004, flagged / trials  # stated in the docs: about 0.1% at z = 4
    assert flagged <= 3 * flagged_plain + 8  # as rare as the plain z-score on seasonless noise
    # and a real drop is still found
    values = list(pattern[np.arange(4 * period) % period] + rng.normal(0, 10, 4 * period))
    drop = [(start + timedelta(days=i), f"r{i}", float(v)) for i, v in enumerate([*values, pattern[0] * 0.5])]
    assert [r[1] for r in detect_series(drop, "rows", seasonal)] == ["seasonal z-score"]
