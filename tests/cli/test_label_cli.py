"""``mlake label``: create, next, submit, consolidate, progress, export, import and a review loop, in process."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

import mlake
from mlake.cli.context import state
from mlake.cli.main import app

runner = CliRunner()


def invoke(home: Path, *args: str) -> tuple[int, str]:
    try:
        result = runner.invoke(app, ["--home", str(home), "-q", *args])
    finally:
        state.close()
    return result.exit_code, result.output


def test_label_commands(tmp_path: Path) -> None:
    home = tmp_path / "lake"
    with mlake.connect(home) as lake:
        lake.create_table("raw.pets", pa.table({"pid": ["a", "b"], "score": [0.2, 0.9], "pred": ["cat", "dog"]}))
    code, out = invoke(home, "label", "create", "pets", "raw.pets", "pid", "-l", "cat", "-l", "dog")
    assert code == 0 and "labeling.pets__answers" in out, out
    code, out = invoke(home, "label", "next", "pets", "-n", "5")
    assert code == 0 and [json.loads(line)["item_id"] for line in out.splitlines()] == ["a", "b"]
    assert invoke(home, "label", "submit", "pets", "a", "cat", "--seconds", "2")[0] == 0
    code, out = invoke(home, "label", "submit", "pets", "b", "horse")
    assert code != 0  # the message goes to stderr; nothing is recorded (progress below counts 1 answer)
    code, out = invoke(home, "label", "consolidate", "pets")
    assert code == 0 and "1 item(s) labeled by dawid_skene" in out
    code, out = invoke(home, "label", "progress", "pets")
    assert code == 0 and json.loads(out)["answers"] == 1
    exported = tmp_path / "pets.json"
    assert invoke(home, "label", "export", "pets", str(exported))[0] == 0
    assert invoke(home, "label", "create", "pets2", "raw.pets", "pid", "-l", "cat", "-l", "dog")[0] == 0
    code, out = invoke(home, "label", "import", "pets2", str(exported))
    assert code == 0 and "imported 1 answer(s)" in out
    code, out = invoke(home, "label", "review-create", "low", "raw.pets", "pid", "pred", "score", "--threshold", "0.5")
    assert code == 0, out
    code, out = invoke(home, "label", "activate", "low")
    assert code == 0 and "1 row(s) sent for review" in out
    invoke(home, "label", "submit", "low", "a", "dog")
    code, out = invoke(home, "label", "review-results", "low")
    assert code == 0 and json.loads(out)["overruled"] == 1
