"""``mlake features ...``: define groups, write, materialize, build training sets, read online, check skew."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from mlake.cli.context import console, err_console, state
from mlake.cli.render import print_arrow, print_json, rich_table, write_data
from mlake.errors import ValidationError

app = typer.Typer(help="Feature store: groups, training sets, online features.", no_args_is_help=True)


def _typed_specs(specs: list[str] | None, what: str) -> dict[str, Any]:
    """``name:type[:description]`` options as {name: (type, description)}."""
    out: dict[str, Any] = {}
    for spec in specs or []:
        parts = spec.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValidationError(
                f"Cannot read the {what} {spec!r}", hint=f"write the {what} as name:type[:description]"
            )
        out[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    return out


def _value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def _entities(specs: list[str]) -> list[dict[str, Any]]:
    entities = []
    for spec in specs:
        pairs = [p.split("=", 1) for p in spec.split(",") if p]
        if not pairs or any(len(p) != 2 for p in pairs):
            raise ValidationError(f"Cannot read the entity {spec!r}", hint="write it as key=value[,key2=value2]")
        entities.append({k.strip(): _value(v.strip()) for k, v in pairs})
    return entities


def _source(source: str) -> Any:
    """A file (Parquet, CSV, JSON lines) is read into Arrow; anything else is a table name or SQL."""
    from mlake.tables.inputs import read_data

    return read_data(source)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Group name, e.g. customer_orders.")],
    entity: Annotated[list[str], typer.Option(help="Entity key as name[:type]; repeatable.")],
    event_time: Annotated[str, typer.Option(help="Column with each value's event time.")],
    feature: Annotated[list[str] | None, typer.Option(help="Feature as name:type[:description]; repeatable.")] = None,
    source: Annotated[
        str | None, typer.Option("--from", help="Table, SQL or file to take types from and write.")
    ] = None,
    ttl: Annotated[str | None, typer.Option(help="How long a value stays valid: 90s, 12h, 30d ...")] = None,
    description: Annotated[str | None, typer.Option(help="What the group is about.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner (a person or team).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag as key=value or key; repeatable.")] = None,
    online: Annotated[bool, typer.Option(help="Serve the group from the online store.")] = True,
) -> None:
    """Define a feature group (and write its first data with --from)."""
    keys: dict[str, Any] = {}
    for e in entity:
        key, _, dtype = e.partition(":")
        keys[key] = dtype or None
    entities: Any = keys if all(keys.values()) else list(keys)
    tags = dict(([*t.split("=", 1), ""])[:2] for t in tag or [])
    group = state.lake().features.create_group(
        name,
        entities=entities,
        event_time=event_time,
        features=_typed_specs(feature, "feature") or None,
        data=_source(source) if source else None,
        ttl=ttl,
        description=description,
        owner=owner,
        tags=tags,
        online=online,
    )
    console.print(f"[green]created[/green] feature group {group.name} ({len(group.features)} feature(s))")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Group.")],
    feature: Annotated[list[str], typer.Option(help="Feature as name:type[:description]; repeatable.")],
) -> None:
    """Add features to a group (no data is rewritten; older rows read them as NULL)."""
    group = state.lake().features.add_features(name, _typed_specs(feature, "feature"))
    console.print(f"{group.name} is now at version {group.version} with {len(group.features)} feature(s)")


@app.command("list")
def list_groups(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List feature groups."""
    groups = state.lake().features.groups()
    if as_json:
        print_json([g.to_dict() for g in groups])
        return
    rows = [
        (
            g.name,
            ", ".join(g.key_names),
            len(g.features),
            g.to_dict()["ttl"],
            "yes" if g.online else "no",
            g.owner or "",
            g.description or "",
        )
        for g in groups
    ]
    console.print(rich_table(["group", "entities", "features", "ttl", "online", "owner", "description"], rows))


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Group.")],
    stats: Annotated[bool, typer.Option(help="Compute statistics of the offline data.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A group's schema, statistics, lineage, training sets and online state."""
    info = state.lake().features.describe(name, statistics=stats).to_dict()
    if as_json:
        print_json(info)
        return
    console.print(f"[bold]{info['name']}[/bold] v{info['version']} · table {info['table']} · ttl {info['ttl']}")
    for key in ("description", "owner"):
        if info[key]:
            console.print(f"{key}: {info[key]}", markup=False)
    if info["tags"]:
        console.print("tags: " + ", ".join(f"{k}={v}" if v else k for k, v in info["tags"].items()))
    console.print(f"entities: {', '.join(e['name'] + ' ' + e['type'] for e in info['entities'])}")
    console.print(f"event time: {info['event_time']}")
    fstats = (info.get("statistics") or {}).get("features", {})
    rows = []
    for f in info["features"]:
        s = fstats.get(f["name"], {})
        nulls = f"{s['null_fraction']:.1%}" if s.get("null_fraction") is not None else ""
        rows.append((f["name"], f["type"], f["description"] or "", nulls, s.get("mean", "")))
    console.print(rich_table(["feature", "type", "description", "nulls", "mean"], rows))
    st = info.get("statistics")
    if st and st.get("rows"):
        console.print(
            f"{st['rows']:,} rows · {st['entities']:,} entities · events {st['first_event']} … {st['last_event']}"
            f" · {st['writes']} write(s), last {st['last_write']}"
        )
    if info["lineage"]["upstream_tables"]:
        console.print("fed by: " + ", ".join(info["lineage"]["upstream_tables"]))
    if info["training_sets"]:
        console.print("used by training sets: " + ", ".join(t["name"] or t["id"] for t in info["training_sets"]))
    for s in info["online"]["stores"]:
        mark = "up to date" if s["up_to_date"] else "behind"
        console.print(f"online: {s['store']} at snapshot {s['snapshot_id']} ({mark})")


@app.command("search")
def search(
    text: Annotated[str | None, typer.Argument(help="Words to find in names, descriptions, tags, owners.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only groups with this tag (key or key=value).")] = None,
    owner: Annotated[str | None, typer.Option(help="Only groups of this owner.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Find feature groups and features."""
    hits = state.lake().features.search(text, tag=tag, owner=owner)
    if as_json:
        print_json([h.to_dict() for h in hits])
        return
    rows = [(h.group, h.feature or "", h.matched, h.text[:80]) for h in hits]
    console.print(rich_table(["group", "feature", "matched", "text"], rows))


@app.command("write")
def write(
    name: Annotated[str, typer.Argument(help="Group.")],
    source: Annotated[str, typer.Argument(help="A table (ns.table), SQL, or a Parquet/CSV/JSON-lines file.")],
    online: Annotated[
        bool | None, typer.Option(help="Also update the online store (default: the group's setting).")
    ] = None,
) -> None:
    """Append feature rows to a group's offline store (and online store)."""
    summary = state.lake().features.write(name, _source(source), online=online)
    extra = f", {summary.online_entities:,} entit(ies) online" if summary.online_entities is not None else ""
    console.print(f"wrote {summary.rows_written:,} row(s) to {name} (snapshot {summary.snapshot_id}{extra})")


@app.command("materialize")
def materialize(
    name: Annotated[str | None, typer.Argument(help="Group (default: every online group).")] = None,
    full: Annotated[bool, typer.Option(help="Send everything again, not only what changed.")] = False,
) -> None:
    """Copy the latest values per entity from the offline store into the online store."""
    store = state.lake().features
    reports = [store.materialize(name, full=full)] if name else store.materialize_all(full=full)
    for r in reports:
        console.print(r.summary())


@app.command("training-set")
def training_set(
    entities: Annotated[str, typer.Option(help="Entity rows: a table (ns.table), SQL, or a file.")],
    feature: Annotated[list[str], typer.Option(help="Feature as group:feature or group:*; repeatable.")],
    entity_time: Annotated[str | None, typer.Option(help="The entity rows' time column.")] = None,
    as_of: Annotated[str | None, typer.Option(help="Only values known (written) by this time.")] = None,
    name: Annotated[
        str | None, typer.Option(help="Save under this name (again: its next version); unnamed sets are not saved.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the rows to this file.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")] = "table",
    engine: Annotated[
        str, typer.Option(help="duckdb (in process) or ray (the joins by entity-key buckets on Ray; same rows).")
    ] = "duckdb",
) -> None:
    """Build a point-in-time correct training set; with --name, save it to rebuild later."""
    ts = state.lake().features.training_set(
        _source(entities),
        feature,
        entity_time=entity_time,
        as_of=as_of,
        name=name,
        save=name is not None,
        engine=engine,
    )
    if name:
        console.print(f"[green]training set[/green] {ts.id} ({escape(name)} v{ts.version})", highlight=False)
    else:
        err_console.print("training set built, not saved (pass --name to keep it)", style="dim")
    _export(ts, output, format)


def _export(ts: Any, output: Path | None, format: str) -> None:
    if format == "table" and output is None:
        print_arrow(ts.to_arrow(), title=f"training set {ts.id or '(not saved)'}", max_rows=20)
        return
    if format == "table":
        format = "parquet" if output and output.suffix == ".parquet" else "csv"
    reader = ts.result.reader()
    rows = write_data(reader, reader.schema, format, output)
    if output:
        console.print(f"wrote {rows:,} row(s) to {output}")


@app.command("training-sets")
def training_sets(
    group: Annotated[str | None, typer.Option(help="Only training sets that use this group.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List saved training sets."""
    sets = state.lake().features.training_sets(group)
    if as_json:
        print_json([t.to_dict() for t in sets])
        return
    rows = [
        (
            t.id,
            t.name or "",
            t.version or "",
            f"{t.created_at:%Y-%m-%d %H:%M}",
            t.created_by,
            ", ".join(t.spec["features"]),
        )
        for t in sets
    ]
    console.print(rich_table(["id", "name", "version", "created (UTC)", "by", "features"], rows))


@app.command("export")
def export(
    training_set_id: Annotated[str, typer.Argument(help="Training set id or name.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the rows to this file.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")] = "table",
) -> None:
    """Rebuild a saved training set exactly as it was, and write it out."""
    _export(state.lake().features.load_training_set(training_set_id), output, format)


@app.command("get")
def get(
    feature: Annotated[list[str], typer.Argument(help="Features as group:feature or group:*.")],
    entity: Annotated[list[str], typer.Option(help="Entity as key=value[,key2=value2]; repeatable.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read online features (value and status) for one or more entities."""
    result = state.lake().features.get_online_features(_entities(entity), feature)
    if as_json:
        print_json(result.to_dict())
        return
    rows = []
    for e, values, statuses in zip(result.entities, result.values, result.statuses, strict=True):
        for f in result.features:
            rows.append((", ".join(f"{k}={v}" for k, v in e.items()), f, values[f], statuses[f]))
    console.print(rich_table(["entity", "feature", "value", "status"], rows))


@app.command("skew")
def skew(
    name: Annotated[str, typer.Argument(help="Group.")],
    sample: Annotated[int, typer.Option(help="Entities to check.")] = 100,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare online values with the offline point-in-time values for a sample of entities."""
    report = state.lake().features.skew(name, sample=sample, seed=seed)
    if as_json:
        print_json(report.to_dict())
        return
    console.print(report.summary())
    if report.mismatches:
        rows = [
            (m["entity"], m["feature"], m["online_value"], m["online_status"], m["offline_value"], m["offline_status"])
            for m in report.mismatches[:50]
        ]
        console.print(rich_table(["entity", "feature", "online", "status", "offline", "status"], rows))
    if report.mismatches:
        raise typer.Exit(1)


@app.command("drop")
def drop(
    name: Annotated[str, typer.Argument(help="Group.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Drop a group with its offline table and online records."""
    if not yes:
        typer.confirm(f"Drop feature group {name} and its data?", abort=True)
    state.lake().features.drop_group(name)
    console.print(f"dropped {name}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8765,
) -> None:
    """Serve online features over HTTP (POST /api/v1/features/online), without access control."""
    import uvicorn

    from mlake.server.serving import create_app

    console.print(f"serving features on http://{host}:{port}/api/v1/features/online")
    console.print("no access control here: `mlake serve` serves the same endpoint with tokens and grants")
    uvicorn.run(create_app(state.lake()), host=host, port=port, log_level="warning")
