"""``mlake access`` and ``mlake serve``'s refusals: commands in process, error output through the real binary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlake.cli.context import state
from mlake.cli.main import app
from mlake.errors import MlakeError

runner = CliRunner()


def invoke(home: Path, *args: str) -> tuple[int, str, BaseException | None]:
    try:
        result = runner.invoke(app, ["--home", str(home), "-q", *args])
    finally:
        state.close()
    return result.exit_code, result.output, result.exception


def test_access_commands(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    assert invoke(home, "access", "add-role", "analyst")[0] == 0
    code, out, _ = invoke(home, "access", "add-user", "bob", "--role", "analyst")
    assert code == 0 and "added user bob" in out
    code, out, _ = invoke(home, "access", "grant", "select", "tag:pii=false", "analyst")
    assert code == 0 and "granted select on tag:pii=false to analyst" in out
    assert invoke(home, "access", "row-filter", "shop.orders", "bob", "amount < 100")[0] == 0
    assert invoke(home, "access", "mask", "shop.customers", "email", "analyst", "email")[0] == 0
    code, out, _ = invoke(home, "access", "token", "bob")
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("mlk_")
    listing = invoke(home, "access", "list")[1]
    assert "bob" in listing and "analyst" in listing and "tag:pii=false" in listing
    assert "amount < 100" in invoke(home, "access", "policies")[1]
    _, _, exc = invoke(home, "access", "grant", "delete", "shop", "bob")
    assert isinstance(exc, MlakeError) and "Unknown privilege" in exc.message
    _, _, exc = invoke(home, "access", "mask", "shop.customers", "email", "bob", "(SELECT 1 FROM glob('*'))")
    assert isinstance(exc, MlakeError) and "Cannot use" in exc.message


@pytest.mark.slow
def test_serve_refuses_unsafe_setups(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    _, _, exc = invoke(home, "serve", "--no-auth", "--host", "0.0.0.0", "--port", "0")
    assert isinstance(exc, MlakeError) and "loopback" in str(exc)
    _, _, exc = invoke(home, "serve", "--port", "0")
    assert isinstance(exc, MlakeError) and "no API tokens" in str(exc)
    # The binary prints such errors as one line and a hint, without a traceback.
    r = subprocess.run(
        [sys.executable, "-m", "mlake", "--home", str(home), "serve", "--no-auth", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1 and "error:" in r.stderr and "loopback" in r.stderr and "Traceback" not in r.stderr
