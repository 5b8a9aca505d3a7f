"""``mlake recipes ...`` end to end on a real lake (the CLI is a thin face over lake.recipes)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from mlake.cli.main import app
from mlake.lake import Lake
from tests.processing.conftest import make_frame
from tests.processing.test_lake_recipes import RECIPE


def test_create_list_run_export(lake: Lake, tmp_path: Path) -> None:
    lake.create_table("shop.orders", make_frame(100, 1).drop(columns=["flag"]))
    home = str(lake.settings.home)
    lake.close()
    path = tmp_path / "r.yaml"
    path.write_text(RECIPE)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--home", home, *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "version 1" in run("recipes", "create", str(path))
    assert json.loads(run("recipes", "list", "--json"))[0]["name"] == "clean_orders"
    ran = json.loads(run("recipes", "run", "clean_orders", "shop.clean", "--json"))
    assert ran["rows"] == 100 and ran["fitted"]
    assert "WITH source AS" in run("recipes", "export", "clean_orders")
    assert "target_encode" in run("recipes", "transforms")
