"""The CLI as a user runs it: real commands, output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mlake.cli.main import run


def mlake(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process (fast); returns exit code, stdout, stderr."""
    argv = sys.argv
    sys.argv = ["mlake", "--home", str(home), "--quiet", *args]
    code = 0
    try:
        run()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "lake"


def test_tour(capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path) -> None:
    code, out, _ = mlake(capsys, home, "init")
    assert code == 0 and "lake ready" in out
    (tmp_path / "o.csv").write_text("id,amount,channel\n1,10.5,web\n2,oops,app\n3,7,web\n")
    code, out, _ = mlake(
        capsys, home, "ingest", str(tmp_path / "o.csv"), "--into", "shop.orders", "--type", "amount=double"
    )
    assert code == 0 and "2 row(s) written" in out and "1 quarantined" in out
    code, out, _ = mlake(capsys, home, "ingest", str(tmp_path / "o.csv"), "--into", "shop.orders", "--json")
    assert json.loads(out)["files_skipped"] == [str(tmp_path / "o.csv")]
    code, out, _ = mlake(capsys, home, "sql", "select channel, count(*) n from shop.orders group by 1 order by 1")
    assert code == 0 and "web" in out and "1 row(s)" in out
    code, out, _ = mlake(capsys, home, "sql", "select id, amount from shop.orders order by id", "--format", "csv")
    assert out.splitlines() == ['"id","amount"', "1,10.5", "3,7"]
    code, out, _ = mlake(capsys, home, "sql", "select id from shop.orders order by id", "-f", "json")
    assert [json.loads(line) for line in out.splitlines()] == [{"id": 1}, {"id": 3}]
    target = tmp_path / "out.parquet"
    code, _, err = mlake(capsys, home, "sql", "select * from shop.orders", "-f", "parquet", "-o", str(target))
    assert code == 0 and pq.read_table(target).num_rows == 2 and "wrote 2 row(s)" in err
    code, out, _ = mlake(capsys, home, "tables", "list")
    assert "shop.orders" in out and "shop.orders__quarantine" in out
    code, out, _ = mlake(
        capsys,
        home,
        "tables",
        "set",
        "shop.orders",
        "--description",
        "Orders",
        "--owner",
        "sales",
        "--tag",
        "pii=false",
        "--column",
        "amount=EUR",
    )
    assert code == 0
    code, out, _ = mlake(capsys, home, "tables", "show", "shop.orders", "--json")
    info = json.loads(out)
    assert info["owner"] == "sales" and info["tags"] == {"pii": "false"} and info["columns"][1]["doc"] == "EUR"
    code, out, _ = mlake(capsys, home, "tables", "show", "shop.orders")
    assert "Orders" in out and "preview" in out
    code, out, _ = mlake(capsys, home, "tables", "history", "shop.orders", "--json")
    snaps = json.loads(out)
    assert len(snaps) == 1 and snaps[0]["operation"] == "ingest"
    mlake(capsys, home, "sql", "insert into shop.orders select 4, 1.0, 'x'")
    code, out, _ = mlake(capsys, home, "tables", "rollback", "shop.orders", str(snaps[0]["snapshot_id"]))
    assert code == 0 and "now at snapshot" in out
    code, out, _ = mlake(capsys, home, "sql", "select count(*) from shop.orders", "-f", "csv")
    assert out.splitlines()[1] == "2"
    mlake(capsys, home, "sql", "create table mart.t as select * from shop.orders")
    code, out, _ = mlake(capsys, home, "lineage", "mart.t")
    assert "upstream" in out and "shop.orders" in out and "o.csv" in out
    code, out, _ = mlake(capsys, home, "lineage", "shop.orders", "--json")
    assert json.loads(out)["downstream"][0]["target"] == "mart.t"
    code, out, _ = mlake(
        capsys, home, "maintain", "shop.orders", "--older-than", "0s", "--orphan-grace", "0s", "--retain-last", "1"
    )
    assert code == 0 and "shop.orders" in out
    code, out, _ = mlake(capsys, home, "tables", "drop", "mart.t", "--yes")
    assert code == 0 and "dropped" in out


def test_errors_are_one_line_with_exit_code(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, _, err = mlake(capsys, home, "sql", "select * from shop.nope")
    assert code == 1
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[0].startswith("error: Table shop.nope does not exist") and len(lines) <= 2
    assert "Traceback" not in err
    code, _, err = mlake(capsys, home, "ingest", "/no/such.csv", "--into", "a.b")
    assert code == 1 and "no such file" in err
    code, _, err = mlake(capsys, home, "sql", "select 1", "--format", "xml")
    assert code == 1 and "Unknown format" in err
    code, _, err = mlake(capsys, home, "--debug", "sql", "select * from shop.nope")
    assert code == 1 and "Traceback" in err


def test_check_exits_1_when_an_error_check_fails(
    capsys: pytest.CaptureFixture[str], home: Path, tmp_path: Path
) -> None:
    (tmp_path / "t.csv").write_text("id,x\n1,5\n2,-1\n")
    mlake(capsys, home, "ingest", str(tmp_path / "t.csv"), "--into", "a.t")
    (tmp_path / "error.yaml").write_text("checks:\n  - in_range: {column: x, min: 0}\n")
    (tmp_path / "warn.yaml").write_text("checks:\n  - in_range: {column: x, min: 0, severity: warn}\n")
    code, out, _ = mlake(capsys, home, "check", "a.t", "--suite", str(tmp_path / "error.yaml"))
    assert code == 1 and "failed" in out
    code, out, _ = mlake(capsys, home, "check", "a.t", "--suite", str(tmp_path / "warn.yaml"))
    assert code == 0 and "passed" in out  # a failing warning reports, it does not fail the run
    mlake(capsys, home, "quality", "store-suite", "a.t", "basics", str(tmp_path / "error.yaml"))
    code, out, _ = mlake(capsys, home, "check", "a.t", "--suite", "basics", "--json")
    assert code == 1 and json.loads(out)["passed"] is False
    env = {**os.environ, "MLAKE_HOME": str(home)}  # and as a shell (a CI job) sees it
    proc = subprocess.run([sys.executable, "-m", "mlake", "check", "a.t", "--suite", "basics"], env=env, capture_output=True)
    assert proc.returncode == 1


def test_install_hints_and_bracketed_text_keep_their_brackets(
    capsys: pytest.CaptureFixture[str], home: Path
) -> None:
    import re

    from mlake.cli.render import print_error
    from mlake.errors import ConfigError

    src = Path(__file__).resolve().parent.parent / "src" / "mlake"
    hints = {m for f in src.rglob("*.py") for m in re.findall(r"pip install '[^']+'", f.read_text())}
    assert {"pip install 'mlake[ml]'", "pip install 'mlake[s3]'"} <= hints  # every install hint in the code
    for hint in sorted(hints):
        print_error(ConfigError("needs [extra] packages", hint=f"install it with {hint}"))
        err = capsys.readouterr().err
        assert hint in err and "needs [extra] packages" in err
    code, out, _ = mlake(capsys, home, "sql", "select 'mlake[ml]' AS hint, '[bold]x[/bold]' AS markup")
    assert code == 0 and "mlake[ml]" in out and "[bold]x[/bold]" in out  # data are shown as they are


@pytest.mark.slow
def test_output_to_a_pipe_is_not_folded_at_80_columns(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["MLAKE_HOME"] = str(tmp_path / "lake")
    script = (
        "from types import SimpleNamespace\n"
        "from pathlib import Path\n"
        "from mlake.cli.context import console\n"
        "from mlake.demo import next_steps\n"
        f"console.print(next_steps(SimpleNamespace(settings=SimpleNamespace(home=Path({str(tmp_path)!r})))))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True).stdout
    from mlake.demo import next_steps

    commands = [ln.strip() for ln in next_steps(type("L", (), {"settings": type("S", (), {"home": tmp_path})})()).splitlines()
                if ln.strip().startswith("mlake ")]
    assert commands and max(len(c) for c in commands) > 80
    lines = [ln.strip() for ln in out.splitlines()]
    for command in commands:
        assert command in lines, command  # each suggested command on one line, as it can be copied
    described = "A description longer than eighty characters, which a pipe must not fold into a column of shreds."
    (tmp_path / "t.csv").write_text("id\n1\n")
    subprocess.run([sys.executable, "-m", "mlake", "ingest", str(tmp_path / "t.csv"), "--into", "a.t"], env=env, check=True,
                   capture_output=True)
    subprocess.run([sys.executable, "-m", "mlake", "tables", "set", "a.t", "--description", described], env=env,
                   check=True, capture_output=True)
    shown = subprocess.run([sys.executable, "-m", "mlake", "tables", "show", "a.t"], env=env, capture_output=True,
                           text=True, check=True).stdout
    assert f"description: {described}" in shown.splitlines()


@pytest.mark.slow
def test_a_delete_that_matches_nothing_warns_nobody(tmp_path: Path) -> None:
    script = (
        "import mlake\n"
        f"lake = mlake.connect({str(tmp_path / 'lake')!r})\n"
        "t = lake.create_table('a.t', {'x': [1, 2]})\n"
        "t.delete('x = 99')\n"
        "t.overwrite({'x': [3]}, where='x = 42')\n"
        "print(lake.sql('select count(*) from a.t').scalar())\n"
    )
    proc = subprocess.run([sys.executable, "-W", "default", "-c", script], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "3" and "Warning" not in proc.stderr, proc.stderr


def test_module_entry_point_and_exit_codes(tmp_path: Path) -> None:
    env = {**os.environ, "MLAKE_HOME": str(tmp_path / "lake")}
    ok = subprocess.run(
        [sys.executable, "-m", "mlake", "sql", "select 42 as answer", "-f", "csv"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ok.returncode == 0 and ok.stdout.splitlines() == ['"answer"', "42"]
    bad = subprocess.run(
        [sys.executable, "-m", "mlake", "tables", "show", "x.y"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 1 and "error: Table x.y does not exist" in bad.stderr


def test_interactive_sql_shell(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "MLAKE_HOME": str(tmp_path / "lake"), "TERM": "dumb"}
    child = pexpect.spawn(sys.executable, ["-m", "mlake", "sql"], env=env, encoding="utf-8", timeout=30)
    child.expect("mlake>")
    child.sendline("select 6 * 7")
    child.expect(r"\.\.>")  # statement continues until ';'
    child.sendline("  as answer;")
    child.expect("42")
    child.expect("mlake>")
    child.sendline("select * from nope.nothing;")
    child.expect("error:")
    child.sendline(".quit")
    child.expect(pexpect.EOF)
    assert (tmp_path / "lake" / "sql_history").exists()


def test_help_does_not_load_the_lake() -> None:
    """`mlake --help` stays quick: the CLI imports pyiceberg, pandas and DuckDB only to open a lake."""
    import subprocess
    import sys

    code = (
        "import sys, mlake.cli.main; "
        "heavy = [m for m in ('pyiceberg', 'pandas', 'duckdb', 'sqlalchemy') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
    import mlake

    assert mlake.connect.__module__ == "mlake.connection" and mlake.Lake.__name__ == "Lake"  # loaded on first use
