"""The CLI's start-up: read-only catalog commands import none of the lake's dependencies (nor Typer) and
print exactly what the Typer command prints; everything they cannot answer identically goes to Typer.

Each command runs in a subprocess: ``python -X importtime -m mlake ...`` (the ``mlake`` entry point, with
its fast path) against ``python -c 'mlake.cli.app.run()'`` (the Typer app alone, the output as it was
before the fast path), comparing standard output, standard error and the exit code.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

import mlake
from mlake.cli import fast

# Modules a catalog command must not import: the lake's dependencies and the full CLI's.
DENY = (
    "pyiceberg",
    "pyarrow",
    "pandas",
    "polars",
    "numpy",
    "sqlalchemy",
    "duckdb",
    "pydantic",
    "pydantic_settings",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "click",
    "rich",
    "mlake.lake",
    "mlake.core",
    "mlake.settings",
    "mlake.cli.app",
)

CATALOG_COMMANDS = [
    ["tables", "list"],
    ["tables", "list", "shop"],
    ["tables", "list", "--no-quarantine"],
    ["-q", "tables", "list", "--quarantine", "shop"],
    ["tables", "history", "shop.orders"],
    ["tables", "history", "Shop.Orders"],
    ["tables", "history", "shop.empty"],
    ["--version"],
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MLAKE_") and k != "COLUMNS"}
    env.update(PYTHONIOENCODING="utf-8", **extra)
    return env


def entry(home: Path, args: list[str], **env: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``mlake --home HOME ARGS`` through the entry point, with the modules it imported."""
    argv = args if args == ["--version"] else ["--home", str(home), *args]
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlake", *argv], capture_output=True, text=True, env=_env(**env)
    )
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    proc.stderr = "".join(line + "\n" for line in proc.stderr.splitlines() if not line.startswith("import time:"))
    return proc, imported


def typer_app(home: Path, args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """The same command through the Typer app alone (no fast path): the output before it existed."""
    argv = args if args == ["--version"] else ["--home", str(home), *args]
    code = "import sys; sys.argv = ['mlake', *sys.argv[1:]]; from mlake.cli.app import run; run()"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=_env(**env))


def heavy(imported: set[str]) -> list[str]:
    return sorted(m for m in imported if m in DENY or m.split(".")[0] in DENY)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with what the commands show: namespaces, owners, descriptions, a quarantine table, an empty
    table, a table with a delete and a rollback (every history marker), non-ASCII text (rich lays it out)."""
    home = tmp_path_factory.mktemp("startup") / "lake"
    with mlake.connect(str(home)) as lake:
        orders = lake.create_table(
            "shop.orders",
            pa.table({"order_id": [1, 2, 3], "amount": [9.5, 12.0, 7.25]}),
            description="Orders, one row each",
            owner="sales",
        )
        first = orders.history()[0].snapshot_id
        orders.append(pa.table({"order_id": [4], "amount": [1.0]}))
        orders.delete("order_id = 2")
        orders.rollback(first)
        orders.append(pa.table({"order_id": [5], "amount": [3.0]}))
        lake.create_table("shop.orders__quarantine", pa.table({"line": [7], "reason": ["bad amount"]}))
        lake.create_table("shop.empty", schema=pa.schema([("x", pa.int64())]))
        lake.create_table("crm.kunden", pa.table({"id": [1]}), description="Kundenstamm für München")
    return home


@pytest.mark.parametrize("columns", ["", "60"], ids=["wide characters", "COLUMNS=60"])
def test_what_the_plain_layout_does_not_cover_is_laid_out_by_rich(tmp_path: Path, columns: str) -> None:
    """Cells rich measures otherwise than by their length, or a width that makes rich fold cells: printed
    through the CLI's rich table (rich, but neither Typer nor the lake)."""
    home = tmp_path / "lake"
    with mlake.connect(str(home)) as lake:
        lake.create_table("a.t", pa.table({"x": [1]}), description="顧客 (customers)" if not columns else "d" * 80)
    env = {"COLUMNS": columns} if columns else {}
    fast_run, imported = entry(home, ["tables", "list"], **env)
    before = typer_app(home, ["tables", "list"], **env)
    assert (fast_run.returncode, fast_run.stdout, fast_run.stderr) == (before.returncode, before.stdout, before.stderr)
    assert "a.t" in fast_run.stdout and "rich.table" in imported
    assert [m for m in heavy(imported) if not m.startswith("rich")] == []


@pytest.mark.parametrize("args", CATALOG_COMMANDS, ids=" ".join)
def test_catalog_command_prints_what_typer_prints_without_heavy_imports(home: Path, args: list[str]) -> None:
    fast_run, imported = entry(home, args)
    before = typer_app(home, args)
    assert (fast_run.returncode, fast_run.stdout, fast_run.stderr) == (before.returncode, before.stdout, before.stderr)
    assert fast_run.returncode == 0 and fast_run.stdout
    assert heavy(imported) == [], f"`mlake {' '.join(args)}` imported {heavy(imported)}"


def test_history_shows_every_marker(home: Path) -> None:
    out = entry(home, ["tables", "history", "shop.orders"])[0].stdout
    assert "● " in out and "× " in out and "delete" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 4  # create, append, delete (rolled back), append


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["tables", "list", "--json"], {}),  # JSON output: the full describe()
        (["tables", "list", "nosuch"], {}),  # the error names the namespace
        (["tables", "history", "shop.nosuch"], {}),  # the error suggests close names
        (["tables", "history", "nodots"], {}),
        (["tables", "list"], {"MLAKE_ENGINE": "bogus"}),  # a setting the full CLI validates
        (["tables", "list", "--bogus"], {}),  # Typer's usage error
        (["tables", "show", "shop.orders", "--rows", "0"], {}),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else ",".join(v),
)
def test_what_the_fast_path_cannot_answer_goes_to_typer(home: Path, args: list[str], env: dict[str, str]) -> None:
    fast_run, imported = entry(home, args, **env)
    before = typer_app(home, args, **env)
    assert (fast_run.returncode, fast_run.stdout, fast_run.stderr) == (before.returncode, before.stdout, before.stderr)
    assert "typer" in imported


def test_broken_metadata_goes_to_typer(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    with mlake.connect(str(home)) as lake:
        lake.create_table("a.good", pa.table({"x": [1]}))
        broken = lake.create_table("a.broken", pa.table({"x": [1]}))
        location = broken.iceberg.metadata_location
    Path(location.removeprefix("file://")).write_text("{not json")
    fast_run, imported = entry(home, ["tables", "list"])
    before = typer_app(home, ["tables", "list"])
    assert (fast_run.returncode, fast_run.stdout) == (before.returncode, before.stdout)
    assert "a.good" in fast_run.stdout and "unreadable" in fast_run.stdout and "typer" in imported


def test_catalog_url_from_mlake_toml(tmp_path: Path) -> None:
    """The catalog named in the home's mlake.toml is the one read, as load_settings resolves it."""
    home = tmp_path / "lake"
    home.mkdir()
    (home / "mlake.toml").write_text(f'catalog_url = "sqlite:///{tmp_path / "elsewhere.db"}"\n')
    with mlake.connect(str(home)) as lake:
        lake.create_table("a.t", pa.table({"x": [1, 2]}), owner="me")
    assert (tmp_path / "elsewhere.db").exists() and not (home / "catalog.db").exists()
    fast_run, imported = entry(home, ["tables", "list"])
    assert fast_run.stdout == typer_app(home, ["tables", "list"]).stdout
    assert "a.t" in fast_run.stdout and heavy(imported) == []


def test_a_new_lake_is_created_by_the_full_cli(tmp_path: Path) -> None:
    fast_run, imported = entry(tmp_path / "new", ["tables", "list"])
    assert fast_run.returncode == 0 and (tmp_path / "new" / "catalog.db").exists() and "typer" in imported


def test_principal_options_never_take_the_fast_path() -> None:
    """The CLI acts as the lake's owner; an option that would make it act otherwise is not the fast path's
    to interpret, so any option it does not know leaves the command to Typer (where access is enforced)."""
    assert fast.parse(["tables", "list"]) is not None
    for argv in (
        ["--as", "bob", "tables", "list"],
        ["--token", "x", "tables", "list"],
        ["tables", "list", "--as", "bob"],
        ["tables", "history", "a.t", "--token", "x"],
        ["tables", "list", "--json"],
        ["tables", "show", "a.t"],
        ["sql", "select 1"],
        ["tables", "list", "a", "b"],
    ):
        assert fast.parse(argv) is None, argv


@given(st.text(alphabet="abz_09-.A é", max_size=12))
def test_name_parts_are_checked_as_table_names_are(part: str) -> None:
    from mlake.errors import ValidationError
    from mlake.tables.names import check_part

    try:
        check_part(part, "table")
        valid = True
    except ValidationError:
        valid = False
    assert fast._valid_part(part) == valid


def test_constants_mirror_the_core() -> None:
    from mlake.cli.context import UNLIMITED_WIDTH
    from mlake.core import CATALOG_NAME
    from mlake.settings import _SECRET_KEYS, Settings

    assert set(Settings.model_fields) == fast.SETTINGS_FIELDS
    assert fast.CATALOG_NAME == CATALOG_NAME
    assert fast._SECRET_KEYS == _SECRET_KEYS
    assert fast.UNLIMITED_WIDTH == UNLIMITED_WIDTH


_text = st.text(alphabet=st.sampled_from(list("ab Zz09.,:-_[]/—…●×→·é漢\t")), max_size=14)


@settings(max_examples=300, deadline=None)
@given(
    columns=st.lists(st.text(alphabet="abc d", min_size=1, max_size=8), min_size=1, max_size=5),
    data=st.data(),
    width=st.sampled_from([10_000, 80, 40]),
)
def test_plain_layout_is_rich_layout(columns: list[str], data: st.DataObject, width: int) -> None:
    """Where the plain renderer lays a table out, it is rich's layout character for character."""
    from mlake.cli.render import rich_table

    rows = data.draw(st.lists(st.lists(_text, min_size=len(columns), max_size=len(columns)), max_size=4))
    legend = data.draw(st.sampled_from([None, fast.HISTORY_LEGEND]))
    expected = io.StringIO()
    console = Console(file=expected, highlight=False, width=width)
    console.print(rich_table(columns, rows))
    if legend:
        console.print(f"[dim]{legend}[/dim]")
    mine = fast.render(columns, rows, legend, width)
    if mine is not None:
        assert mine == expected.getvalue()


@given(st.one_of(st.text(max_size=300), st.integers()))
def test_cells_are_formatted_as_the_cli_formats_them(value: str | int) -> None:
    from mlake.formatting import format_value

    assert fast._cell(value) == format_value(value)


def test_list_json_still_lists_every_table(home: Path) -> None:
    names = [t["name"] for t in json.loads(entry(home, ["tables", "list", "--json"])[0].stdout)]
    assert names == ["crm.kunden", "shop.empty", "shop.orders", "shop.orders__quarantine"]
