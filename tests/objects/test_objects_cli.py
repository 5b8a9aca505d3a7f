"""``mlake objects add|list|show|get`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import mlake


def test_add_list_show_get(capsys: pytest.CaptureFixture[str], tmp_path: Path, files: Path) -> None:
    home = tmp_path / "lake"
    code, out, _ = mlake(
        capsys,
        home,
        "objects",
        "add",
        str(files / "photos/**/*.png"),
        "--into",
        "raw.photos",
        "--label-from-folder",
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["rows_written"] == 3 and len(report["duplicates"]) == 1 and len(report["errors"]) == 1
    code, out, _ = mlake(capsys, home, "objects", "list", "raw.photos", "--json")
    rows = {Path(r["path"]).name: r for r in json.loads(out)}
    assert code == 0 and rows["a.png"]["label"] == "cat"
    oid = rows["a.png"]["id"]
    code, out, _ = mlake(capsys, home, "objects", "show", "raw.photos", oid, "--json")
    assert code == 0 and json.loads(out)["width"] == 40
    target = tmp_path / "out.png"
    code, _, _ = mlake(capsys, home, "objects", "get", "raw.photos", oid, "-o", str(target))
    assert code == 0 and target.read_bytes() == (files / "photos/cat/a.png").read_bytes()
    code, _, err = mlake(capsys, home, "objects", "get", "raw.photos", "nothex")
    assert code != 0 and "malformed" in err
