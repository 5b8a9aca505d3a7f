"""Reports (self-contained HTML, JSON) and the CLI commands, on the demo dataset."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlake.cli.main import app
from mlake.demo import build_demo


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlake

    home = tmp_path_factory.mktemp("demo") / "lake"
    with mlake.connect(home, threads=2) as lake:
        build_demo(lake, customers=400)
    return home


def run(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--home", str(home), "--quiet", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_profile_suggest_check_report(demo_home: Path, tmp_path: Path):
    code, out = run(demo_home, "profile", "shop.orders", "--key", "order_id")
    assert code == 0 and "duplicate keys" in out and "channel" in out
    code, out = run(demo_home, "profile", "select amount from shop.orders where amount < 0", "--json")
    profile = json.loads(out)
    assert code == 0 and profile["columns"][0]["max"] < 0

    suite = tmp_path / "orders.yaml"
    code, out = run(demo_home, "suggest", "shop.orders", "-o", str(suite))
    assert code == 0 and suite.exists() and "suggested check" in out
    code, out = run(demo_home, "check", "shop.orders", "--suite", str(suite))
    assert code == 0 and "passed" in out

    strict = tmp_path / "strict.yaml"
    strict.write_text("checks:\n  - unique: order_id\n  - in_range: {column: amount, min: 0}\n")
    code, out = run(demo_home, "check", "shop.orders", "--suite", str(strict), "--json")
    result = json.loads(out)
    assert code == 1 and not result["passed"]
    assert {r["check"] for r in result["results"] if not r["passed"]} == {"unique(order_id)", "in_range(amount)"}

    html_path = tmp_path / "customers.html"
    code, out = run(demo_home, "report", "shop.customers", "-o", str(html_path), "--target", "segment")
    assert code == 0 and "overall quality" in out
    page = html_path.read_text()
    assert "<svg" in page and "ML readiness" in page and "Suggested checks" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no CDN, nothing fetched
    assert "<script" not in page

    json_path = tmp_path / "customers.json"
    code, _ = run(demo_home, "report", "shop.customers", "-o", str(json_path))
    data = json.loads(json_path.read_text())
    assert code == 0 and data["profile"]["rows"] == 400 and data["dimensions"]["scores"]

    code, out = run(demo_home, "quality", "history", "shop.customers", "--json")
    assert code == 0 and json.loads(out)
    code, out = run(demo_home, "quality", "anomalies", "shop.customers")
    assert code == 0
    features = (
        "select c.age, c.country, c.segment, s.orders, s.spend, l.churned from shop.churn_labels l "
        "join shop.customers c using (customer_id) left join shop.customer_stats s using (customer_id)"
    )
    code, out = run(demo_home, "quality", "readiness", features, "--target", "churned")
    assert code == 0 and "sample-size rule" in out


def test_cli_stored_suites(demo_home: Path, tmp_path: Path):
    code, out = run(demo_home, "quality", "suites", "--json")
    stored = {(s["table"], s["name"]): s for s in json.loads(out)}
    assert code == 0 and ("shop.orders", "orders-basics") in stored

    code, out = run(demo_home, "check", "shop.orders", "-s", "orders-basics", "--json")
    result = json.loads(out)
    assert code == 1 and result["suite"] == "orders-basics" and not result["passed"]
    code, out = run(demo_home, "quality", "suites", "shop.orders", "--failing", "--json")
    assert code == 0 and [(s["name"], s["last_passed"]) for s in json.loads(out)] == [("orders-basics", False)]
    code, out = run(demo_home, "quality", "suites")
    assert code == 0 and "failed" in out

    mine = tmp_path / "mine.yaml"
    mine.write_text("checks:\n  - not_null: order_id\n")
    code, out = run(demo_home, "quality", "store-suite", "shop.orders", "ids present", str(mine))
    assert code == 0 and "1 check(s)" in out
    code, out = run(demo_home, "check", "shop.orders", "--suite", "ids present")
    assert code == 0 and "passed" in out
    code, out = run(demo_home, "quality", "suites", "shop.orders", "--json")
    assert {s["name"]: s["last_passed"] for s in json.loads(out)}["ids present"] is True
    code, out = run(demo_home, "report", "shop.orders", "-o", str(tmp_path / "o.json"), "-s", "ids present")
    assert code == 0 and json.loads((tmp_path / "o.json").read_text())["checks"]["suite"] == "ids present"
    code, _ = run(demo_home, "quality", "delete-suite", "shop.orders", "ids present")
    assert code == 0

    from mlake.errors import ValidationError

    with pytest.raises(ValidationError, match="neither a suite file nor a suite stored for shop.orders"):
        run(demo_home, "check", "shop.orders", "-s", "ids present")
    with pytest.raises(ValidationError, match="does not exist"):
        run(demo_home, "check", "shop.orders", "-s", str(tmp_path / "missing.yaml"))


def test_cli_errors_are_one_line(demo_home: Path, tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("checks:\n  - not_null: nope\n")
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "mlake", "--home", str(demo_home), "check", "shop.orders", "--suite", str(bad)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "has no column(s) nope" in proc.stderr and "Traceback" not in proc.stderr
    from mlake.errors import ValidationError

    with pytest.raises(ValidationError, match=r"name it \.html or \.json"):
        run(demo_home, "report", "shop.orders", "-o", str(tmp_path / "r.pdf"))


def test_notebook_html_fragments(demo_home: Path):
    import mlake

    with mlake.connect(demo_home, threads=2) as lake:
        p = lake.quality.profile("shop.products", save=False)
        assert "<svg" in p._repr_html_()
        r = lake.quality.check("shop.products", {"checks": [{"not_null": "price"}]}, save=False)
        assert "pass" in r._repr_html_()
        assert "<table" in lake.quality.dimensions("shop.products")._repr_html_()
        assert "<pre>" in lake.quality.suggest("shop.products")._repr_html_()
