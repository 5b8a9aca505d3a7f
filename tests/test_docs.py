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
