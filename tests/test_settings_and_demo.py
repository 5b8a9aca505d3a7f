"""Settings resolution, and the demo dataset that every later part builds on."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlake
from mlake.demo import build_demo, generate
from mlake.errors import ConfigError
from mlake.settings import load_settings


def test_defaults_live_in_home(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "h")
    assert s.resolved_catalog_url().startswith(f"sqlite:///{tmp_path / 'h' / 'catalog.db'}")
    assert s.resolved_warehouse() == f"file://{tmp_path / 'h' / 'warehouse'}"
    assert s.resolved_online_url() == f"sqlite:///{tmp_path / 'h' / 'online.db'}"


def test_env_toml_and_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "mlake.toml").write_text('[mlake]\nwarehouse = "/data/wh"\nuser = "from-toml"\nmemory_limit = "2GB"\n')
    monkeypatch.setenv("MLAKE_USER", "from-env")
    s = load_settings(home, memory_limit="1GB")
    assert s.warehouse == "/data/wh" and s.user == "from-env" and s.memory_limit == "1GB"
    monkeypatch.setenv("MLAKE_CATALOG_URL", "postgresql://u:secret@db:5432/lake")
    s = load_settings(home)
    assert s.resolved_catalog_url() == "postgresql+psycopg://u:secret@db:5432/lake"
    assert ":secret@" not in str(s.redacted())


def test_bad_settings_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown setting"):
        load_settings(tmp_path, catalog="x")
    with pytest.raises(ConfigError, match="Unsupported catalog URL scheme 'oracle'"):
        load_settings(tmp_path, catalog_url="oracle://x").resolved_catalog_url()
    with pytest.raises(ConfigError, match="Unsupported warehouse"):
        load_settings(tmp_path, warehouse="ftp://x").resolved_warehouse()
    (tmp_path / "mlake.toml").write_text('s3_secret_access_key = "oops"\n')
    with pytest.raises(ConfigError, match="holds secret setting"):
        load_settings(tmp_path)
    (tmp_path / "mlake.toml").write_text("this is = not [toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(tmp_path)
    with pytest.raises(ConfigError, match="Cannot open the catalog database"):
        mlake.connect(tmp_path / "x", catalog_url="postgresql://nobody@127.0.0.1:1/none")


def test_demo_is_deterministic_and_dirty(tmp_path: Path) -> None:
    a, b = generate(300), generate(300)
    assert all(a[k].equals(b[k]) for k in a)
    with mlake.connect(tmp_path / "demo", threads=2) as lake:
        lines = build_demo(lake, customers=300)
        assert any("quarantined" in line for line in lines)
        names = {str(n) for n in lake.list_tables()}
        assert {
            "shop.customers",
            "shop.orders",
            "shop.events",
            "shop.churn_labels",
            "shop.products",
            "shop.customer_stats",
            "shop.orders__quarantine",
        } <= names
        assert lake.sql("select count(*) from shop.orders where amount < 0").scalar() > 0  # outliers
        dup = lake.sql("select count(*) - count(distinct order_id) from shop.orders").scalar()
        assert dup > 0  # duplicates
        assert lake.sql("select count(*) from shop.customers where email is null").scalar() > 0
        assert set(lake.sql("select distinct gender from shop.customers").to_arrow().column(0).to_pylist()) >= {
            "female",
            "male",
        }
        rate = lake.sql("select avg(churned::int) from shop.churn_labels").scalar()
        assert 0.05 < rate < 0.95
        assert lake.table("shop.events").describe().partitioning
        # the clickstream arrived through a stream: every good event once, the two bad lines in the error table
        assert lake.streams.describe("shop-clicks").partitions == 1
        assert lake.sql("select count(*), count(distinct event_id) from shop.events").fetchall()[0] == (
            a["events"].num_rows,
            a["events"].num_rows,
        )
        reasons = lake.sql("select reason from shop.events_errors order by reason").to_arrow().column(0).to_pylist()
        assert [r.split(":")[0] for r in reasons] == ["field 'ts' is not a time", "not JSON"]
        assert {d.name for d in lake.streams.status("shop-clicks").deliveries} == {"shop-events"}
        # a streaming query keeps the live feature "views in the last hour" online, equal to batch SQL
        live = lake.sql(
            "select customer_id, ts, views_1h from features.customer_views_1h "
            "qualify row_number() over (partition by customer_id order by ts desc) = 1"
        ).to_arrow()
        assert live.num_rows > 5
        batch = lake.sql(
            "select l.customer_id, count(e.event_id) from features.customer_views_1h l join shop.events e "
            "on e.customer_id = l.customer_id and e.event_type = 'view' "
            "and e.ts >= l.ts - interval 1 hour and e.ts < l.ts group by l.customer_id, l.ts, l.views_1h "
            "having count(e.event_id) <> l.views_1h"
        ).to_arrow()
        assert batch.num_rows == 0  # every window's count equals the same count in batch over shop.events
        served = lake.features.get_online_features(
            [{"customer_id": c} for c in live.column("customer_id").to_pylist()], ["customer_views_1h:views_1h"]
        )
        assert [v["views_1h"] for v in served.values] == live.column("views_1h").to_pylist()
        assert lake.table("shop.customers").tags["pii"] == "true"
        assert "shop.orders" in lake.lineage("shop.customer_stats").upstream_tables()
        # the recipe cleaned the orders: no duplicates, no refunds, every channel filled and one-hot encoded
        clean = lake.sql("select * from shop.orders_clean").to_pandas()
        assert len(clean) == lake.sql(
            "select count(*) from (select distinct * from shop.orders) where amount > 0 and status = 'completed'"
        ).scalar()
        assert clean.filter(like="channel_").drop(columns="channel_missing").sum(axis=1).eq(1).all()
        assert [r.status for r in lake.pipelines.runs("orders_daily")] == ["succeeded"]
        assert "shop.orders" in lake.lineage("shop.orders_clean").upstream_tables()
        # the labeling project: 3 simulated annotators per customer, consolidated; a review loop that overruled
        progress = lake.labeling.progress("churn_judgement")
        assert progress.items_done >= 60 and progress.answers == 180
        gold = {p["annotator"]: p["gold_answered"] for p in progress.annotators}
        assert gold == {"ann": 3, "bob": 3, "cy": 3}
        labels = lake.sql("select count(*) from labeling.churn_judgement__labels").scalar()
        assert labels == 60
        reviewed = lake.sql("select count(*), count(*) filter (where overruled) from labeling.churn_review__reviewed")
        total, overruled = reviewed.fetchall()[0]
        assert total > 0 and 0 < overruled < total
