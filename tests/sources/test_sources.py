"""Sources and licenses: a registry, sources attached at ingest, provenance through lineage, and uses a
source's terms forbid refused (or overridden with a reason the audit log keeps)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from mlake.errors import AlreadyExistsError, NotFoundError, PermissionDeniedError, UseForbiddenError, ValidationError
from mlake.lake import Lake

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def three(lake: Lake, tmp_path: Path) -> Lake:
    """Three tables from three sources: customers (internal), a bought price list, a public holiday list."""
    src = lake.sources
    src.register("crm", kind="internal", provider="our CRM", license="internal", personal_data=True)
    src.register(
        "acme-prices",
        kind="purchased",
        provider="Acme Data Ltd",
        license="LicenseRef-Acme-Research",
        terms_url="https://acme.example/terms",
        allowed_uses=["research"],
        contact="sales@acme.example",
        acquired="2025-01-01",
        expires=(date.today() + timedelta(days=365)).isoformat(),
    )
    src.register(
        "holidays",
        kind="public",
        provider="gov",
        license="CC-BY-4.0",
        allowed_uses=["commercial", "model_training", "research"],
    )
    customers = write_csv(tmp_path / "customers.csv", "customer_id,region\n1,north\n2,south\n3,north\n")
    prices = write_csv(tmp_path / "prices.csv", "region,price\nnorth,1.5\nsouth,2.5\n")
    holidays = write_csv(tmp_path / "holidays.csv", "region,holidays\nnorth,10\nsouth,12\n")
    lake.ingest(customers, into="raw.customers", source="crm")
    lake.ingest(prices, into="raw.prices", source="acme-prices")
    lake.ingest(holidays, into="raw.holidays", source="holidays")
    return lake


def test_registry_round_trip_and_errors(lake: Lake) -> None:
    made = lake.sources.register("s1", kind="public", license="MIT", acquired=date(2025, 1, 2))
    assert lake.sources.get("s1").to_dict() | {"created_at": None} == made.to_dict() | {"created_at": None}
    assert [s.name for s in lake.sources.list()] == ["s1"]
    with pytest.raises(AlreadyExistsError):
        lake.sources.register("s1", kind="public")
    assert lake.sources.register("s1", kind="internal", replace=True).kind == "internal"
    with pytest.raises(ValidationError, match="kind"):
        lake.sources.register("s2", kind="stolen")
    with pytest.raises(ValidationError, match="date"):
        lake.sources.register("s2", kind="public", expires="next year")
    with pytest.raises(NotFoundError, match="s1"):
        lake.sources.get("nope")
    lake.sources.remove("s1")
    assert lake.sources.list() == []


def test_an_unknown_source_fails_the_ingest_before_it_reads(lake: Lake, tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "a.csv", "x\n1\n")
    with pytest.raises(NotFoundError, match="not registered"):
        lake.ingest(csv, into="raw.a", source="nowhere")
    assert not lake.table_exists("raw.a")


def test_provenance_follows_lineage_through_derived_tables(three: Lake) -> None:
    lake = three
    assert [u.source.name for u in lake.table("raw.prices").provenance().sources] == ["acme-prices"]
    lake.sql(
        "create table mart.region_costs as select p.region, p.price, h.holidays "
        "from raw.prices p join raw.holidays h using (region)"
    )
    lake.sql("create table mart.final as select * from mart.region_costs where price > 1")
    prov = lake.table("mart.final").provenance()
    assert [u.source.name for u in prov.sources] == ["acme-prices", "holidays"]
    assert prov.licenses == ["CC-BY-4.0", "LicenseRef-Acme-Research"]
    assert {u.source.name: u.tables for u in prov.sources}["holidays"] == ["raw.holidays"]
    assert json.loads(json.dumps(prov.to_dict()))["sources"][0]["source"]["terms_url"] == "https://acme.example/terms"


def training_set_from_three_sources(lake: Lake, **options: object) -> object:
    lake.features.create_group(
        "region_price", entities={"region": "string"}, event_time="ts", features={"price": "double"}, online=False
    )
    lake.features.create_group(
        "region_holidays", entities={"region": "string"}, event_time="ts", features={"holidays": "long"}, online=False
    )
    at = "TIMESTAMPTZ '2025-01-01 00:00:00+00' AS ts"
    lake.features.write("region_price", lake.sql(f"select region, price, {at} from raw.prices"))
    lake.features.write("region_holidays", lake.sql(f"select region, holidays, {at} from raw.holidays"))
    lake.sql(
        "create table ml.entities as select customer_id, region, TIMESTAMPTZ '2025-02-01 00:00:00+00' as at from raw.customers"
    )
    return lake.features.training_set(
        "ml.entities", ["region_price:price", "region_holidays:holidays"], name="churn", **options
    )


def test_a_training_set_from_three_sources_lists_all_three(three: Lake) -> None:
    ts = training_set_from_three_sources(three)
    prov = ts.provenance()  # type: ignore[attr-defined]
    assert [u.source.name for u in prov.sources] == ["acme-prices", "crm", "holidays"]
    assert prov.personal_data  # the CRM source holds personal data
    assert len(ts.to_arrow()) == 3  # type: ignore[attr-defined]


def test_a_forbidden_use_is_refused_and_an_override_is_audited(three: Lake) -> None:
    with pytest.raises(UseForbiddenError, match="acme-prices") as refused:
        training_set_from_three_sources(three, use="model_training")
    assert "research" in str(refused.value) and "override" in (refused.value.hint or "")
    assert three.features.training_sets() == []  # nothing was saved

    ts = three.features.training_set(
        "ml.entities",
        ["region_price:price", "region_holidays:holidays"],
        use="model_training",
        override="Acme amendment 2 (2025-03) permits training of internal models",
    )
    assert ts.spec["use"] == "model_training"
    (event,) = three.governance.audit_events(action="source.use_override")
    detail = json.loads(event.detail or "{}")
    assert detail == {
        "use": "model_training",
        "reason": "Acme amendment 2 (2025-03) permits training of internal models",
        "sources": ["acme-prices"],
    }
    assert event.principal == "tester" and "ml.entities" in event.tables
    # a use every source allows needs no override
    three.features.training_set("ml.entities", ["region_holidays:holidays"], use="research", save=False)


def test_expired_terms_refuse_every_use(lake: Lake, tmp_path: Path) -> None:
    lake.sources.register("old", kind="purchased", license="proprietary", expires="2020-01-01")
    lake.ingest(write_csv(tmp_path / "o.csv", "x\n1\n"), into="raw.old", source="old")
    with pytest.raises(UseForbiddenError, match="expired on 2020-01-01"):
        lake.sources.require_use("raw.old", "research")


def test_principals(three: Lake) -> None:
    three.governance.create_principal("ann")
    ann = three.as_principal("ann")
    with pytest.raises(PermissionDeniedError):
        ann.sources.register("mine", kind="public")
    with pytest.raises(PermissionDeniedError):
        ann.table("raw.prices").provenance()
    three.sql("create table mart.costs as select * from raw.prices")
    three.governance.grant("ann", "select", "mart.costs")
    prov = ann.table("mart.costs").provenance()
    assert [(u.source.name, u.tables) for u in prov.sources] == [("acme-prices", ["(a table you may not read)"])]
    with pytest.raises(PermissionDeniedError):
        ann.sources.attach("mart.costs", "holidays")


def test_cli_registers_attaches_and_shows_provenance(lake: Lake, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlake.cli.main import app

    home = str(lake.settings.home)
    csv = write_csv(tmp_path / "w.csv", "city,temp\noslo,3\n")
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--home", home, *args], catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        return result.output

    run("sources", "add", "weather", "--kind", "public", "--license", "CC-BY-4.0", "--allow", "research")
    assert "weather" in run("sources", "list") and "CC-BY-4.0" in run("sources", "show", "weather")
    run("ingest", str(csv), "--into", "raw.weather", "--source", "weather")
    out = run("sources", "provenance", "raw.weather", "--use", "model_training")
    assert "weather" in out and "refused" in out
    assert json.loads(run("sources", "provenance", "raw.weather", "--json"))["licenses"] == ["CC-BY-4.0"]
