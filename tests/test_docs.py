"""The Python examples in docs/ run as written (each guide in a fresh lake)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOCS = sorted((Path(__file__).parent.parent / "docs").glob("*.md"))


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_doc_examples_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.DOTALL)
    if not blocks:
        pytest.skip("no Python examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLAKE_HOME", str(tmp_path / ".mlake"))
    scope: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, f"{doc.name}", "exec"), scope)
    lake = scope.get("lake")
    assert lake is not None and os.path.isdir(lake.settings.home)  # type: ignore[attr-defined]


README = Path(__file__).parent.parent / "README.md"
# Commands of the README that need what a test cannot give: a running server (serve, curl), the full demo
# build with Studio (make demo; the test builds a smaller demo lake itself), the whole suite (make test).
_NOT_RUN = ("mlake serve", "mlake demo")


def readme_blocks() -> list[tuple[str, str]]:
    """The README's runnable code blocks in order: ("python", code) and ("cli", one mlake command line)."""
    out: list[tuple[str, str]] = []
    for lang, body in re.findall(r"```(python|bash)\n(.*?)```", README.read_text(), re.DOTALL):
        if lang == "python":
            out.append(("python", body))
            continue
        command = ""
        for line in body.splitlines():
            command = f"{command}\n{line}" if command else line
            if command.count('"') % 2:  # a quoted argument goes on over the next line
                continue
            if command.startswith("mlake ") and not command.startswith(_NOT_RUN):
                out.append(("cli", command))
            command = ""
    return out


@pytest.mark.slow
def test_readme_examples_run_against_the_demo_lake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex
    import sys

    import mlake
    from mlake.cli.main import run
    from mlake.demo import build_demo

    blocks = readme_blocks()
    assert sum(kind == "python" for kind, _ in blocks) >= 4 and sum(kind == "cli" for kind, _ in blocks) >= 15
    monkeypatch.chdir(tmp_path)
    with mlake.connect(tmp_path / ".mlake-demo") as demo:
        build_demo(demo, customers=300)
    monkeypatch.setenv("MLAKE_HOME", ".mlake-demo")  # as the README says: export MLAKE_HOME=.mlake-demo
    scope: dict[str, object] = {}
    for kind, code in blocks:
        if kind == "python":
            exec(compile(code, "README.md", "exec"), scope)
            continue
        argv = sys.argv
        sys.argv = ["mlake", "--quiet", *shlex.split(code, comments=True)[1:]]
        status = 0
        try:
            run()
        except SystemExit as exc:
            status = int(exc.code or 0)
        finally:
            sys.argv = argv
        err = capsys.readouterr().err
        if "--suite orders-basics" in code:
            assert status == 1, "the demo's stored suite fails on its dirt, so `mlake check` exits 1"
        elif " check " in code:
            assert status in (0, 1), (code, err)
        else:
            assert status == 0, (code, err)
    assert (tmp_path / "orders-quality.html").exists() and (tmp_path / "customers.html").exists()
