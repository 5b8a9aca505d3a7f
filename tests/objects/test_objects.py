"""Object tables on a local warehouse: what is stored, what is extracted, duplicates, bad files, labels,
reading back, thumbnails, and who may do what."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import mlake
from mlake.errors import NotFoundError, PermissionDeniedError
from mlake.lake import Lake
from mlake.objects import ObjectError
from mlake.objects.metadata import extract


def by_name(lake: Lake, table: str) -> dict[str, dict[str, object]]:
    return {Path(str(r["path"])).name: r for r in lake.objects.list(table).to_pylist()}


def test_add_copies_extracts_and_finds_duplicates(lake: Lake, files: Path) -> None:
    report = lake.objects.add(str(files / "**/*"), into="raw.things", label_from="folder")
    assert report.files_seen == 6 and report.rows_written == 6
    rows = by_name(lake, "raw.things")
    a, twin = rows["a.png"], rows["same-as-a.png"]
    assert (a["width"], a["height"], a["format"], a["media_type"]) == (40, 30, "PNG", "image/png")
    assert a["sha256"] == hashlib.sha256((files / "photos/cat/a.png").read_bytes()).hexdigest()
    assert a["size"] == (files / "photos/cat/a.png").stat().st_size
    assert twin["duplicate_of"] == a["id"] and twin["uri"] == a["uri"]  # stored once
    assert report.duplicates == [(str(files / "photos/dog/same-as-a.png"), a["id"])]
    assert report.bytes_stored == sum(
        p.stat().st_size for p in files.rglob("*") if p.is_file() and p.name != "same-as-a.png"
    )
    assert (a["label"], twin["label"], rows["note.txt"]["label"]) == ("cat", "dog", "docs")
    assert (rows["b.jpg"]["width"], rows["b.jpg"]["height"], rows["b.jpg"]["format"]) == (12, 20, "JPEG")
    assert (rows["note.txt"]["text_length"], rows["note.txt"]["line_count"]) == (len("hello\nworld\nthird line"), 3)
    assert (rows["tone.wav"]["duration_s"], rows["tone.wav"]["sample_rate"]) == (1.5, 8000)
    stored = Path(str(a["uri"]).removeprefix("file://"))
    assert stored.is_relative_to(Path(lake.table("raw.things").location.removeprefix("file://")) / "objects")
    assert lake.table("raw.things").lineage().upstream  # written through Table.append: lineage recorded


def test_corrupt_image_gets_a_row_with_a_reason(lake: Lake, files: Path) -> None:
    report = lake.objects.add(str(files / "photos"), into="raw.photos")
    broken = by_name(lake, "raw.photos")["broken.png"]
    assert broken["error"] and "unreadable image" in str(broken["error"]) and broken["width"] is None
    assert report.errors == [(str(files / "photos/dog/broken.png"), broken["error"])]
    assert report.rows_written == 4  # the batch went on
    with pytest.raises(ObjectError, match="not a readable image"):
        lake.objects.thumbnail("raw.photos", str(broken["id"]))


def test_adding_again_is_idempotent_and_new_content_is_new(lake: Lake, files: Path) -> None:
    lake.objects.add(str(files / "docs"), into="raw.docs")
    again = lake.objects.add(str(files / "docs"), into="raw.docs")
    assert (again.rows_written, again.already_present) == (0, 1)
    (files / "docs/note.txt").write_text("changed")
    assert lake.objects.add(str(files / "docs"), into="raw.docs").rows_written == 1
    assert lake.table("raw.docs").count() == 2


def test_open_get_and_thumbnail(lake: Lake, files: Path) -> None:
    lake.objects.add(str(files / "photos/cat/a.png"), into="raw.photos")
    row = lake.objects.list("raw.photos").to_pylist()[0]
    oid = str(row["id"])
    assert lake.objects.open("raw.photos", oid) == (files / "photos/cat/a.png").read_bytes()
    assert lake.objects.read("raw.photos", oid) == lake.objects.open("raw.photos", oid)
    assert lake.objects.get("raw.photos", oid).sha256 == row["sha256"]
    thumb = lake.objects.thumbnail("raw.photos", oid, size=16)
    meta = extract("t.png", thumb)
    assert (meta.width, meta.height) == (16, 12)
    assert lake.objects.thumbnail("raw.photos", oid, size=16) == thumb  # served from the cache
    with pytest.raises(NotFoundError):
        lake.objects.open("raw.photos", "0" * 16)
    with pytest.raises(ObjectError, match="malformed"):
        lake.objects.open("raw.photos", "x' or 1=1 --")


def test_reference_instead_of_copy(lake: Lake, files: Path) -> None:
    report = lake.objects.add(str(files / "docs/note.txt"), into="raw.refs", copy=False)
    row = lake.objects.list("raw.refs").to_pylist()[0]
    assert report.bytes_stored == 0 and row["copied"] is False
    assert row["uri"] == (files / "docs/note.txt").resolve().as_uri()
    assert lake.objects.open("raw.refs", str(row["id"])) == b"hello\nworld\nthird line"


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_labels_from_a_manifest(lake: Lake, files: Path, tmp_path: Path, kind: str) -> None:
    if kind == "csv":
        manifest = tmp_path / "labels.csv"
        manifest.write_text("path,label\ncat/a.png,kitty\nb.jpg,blue\n")
    else:
        manifest = tmp_path / "labels.json"
        manifest.write_text(json.dumps({"cat/a.png": "kitty", "b.jpg": "blue"}))
    lake.objects.add(str(files / "photos"), into="raw.photos", manifest=manifest)
    labels = {k: v["label"] for k, v in by_name(lake, "raw.photos").items()}
    assert labels == {"a.png": "kitty", "b.jpg": "blue", "same-as-a.png": None, "broken.png": None}


def test_bad_input_is_explained(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(ObjectError, match="No files match"):
        lake.objects.add(str(tmp_path / "nothing/*.png"), into="raw.none")
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ObjectError, match="path→label"):
        lake.objects.add(str(tmp_path / "x.txt"), into="raw.none", manifest=bad)


def test_principals_need_an_allowed_source_insert_and_select(tmp_path: Path, files: Path) -> None:
    lake = mlake.connect(tmp_path / "lake", threads=2, user="owner", ingest_allowed=[str(files / "photos")])
    try:
        lake.governance.create_principal("bob")
        lake.governance.create_principal("eve")
        lake.objects.add(str(files / "photos/cat"), into="raw.photos")
        oid = str(lake.objects.list("raw.photos").to_pylist()[0]["id"])
        bob, eve = lake.as_principal("bob"), lake.as_principal("eve")
        with pytest.raises(PermissionDeniedError):
            eve.objects.open("raw.photos", oid)
        with pytest.raises(PermissionDeniedError):
            eve.objects.list("raw.photos")
        with pytest.raises(PermissionDeniedError):
            bob.objects.add(str(files / "photos/dog"), into="raw.photos")  # allowed folder, no insert grant
        with pytest.raises(PermissionDeniedError, match="ingest"):
            bob.objects.add(str(files / "docs"), into="raw.photos")  # not an allowed folder
        lake.governance.grant("bob", "insert", "raw.photos")
        lake.governance.grant("bob", "select", "raw.photos")
        assert bob.objects.add(str(files / "photos/dog"), into="raw.photos").rows_written == 3
        assert bob.objects.open("raw.photos", oid) == (files / "photos/cat/a.png").read_bytes()
        assert len(bob.objects.list("raw.photos").to_pylist()) == 4
    finally:
        lake.close()


def test_object_info_has_the_object_tables_columns() -> None:
    """``objects.get`` returns an ObjectInfo whose fields are the object table's columns, in order."""
    from dataclasses import fields

    from mlake.objects import OBJECT_SCHEMA, ObjectInfo

    assert [f.name for f in fields(ObjectInfo)] == OBJECT_SCHEMA.names
