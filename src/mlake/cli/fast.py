"""Read-only catalog commands answered from the catalog database and the Iceberg metadata files alone.

Why: opening a :class:`~mlake.lake.Lake` imports pyiceberg, pyarrow, pandas, SQLAlchemy, pydantic and
DuckDB, and the CLI's Typer and rich another few hundred modules. That is 1.5 s before ``mlake tables
list`` prints anything, and 3.5 s or more where bytecode is not cached (every module compiled on every
run). The *catalog commands* below need none of it: the catalog is a small SQLite database and a table's
row count, files, owner and snapshots are in its metadata JSON. So they are answered here with the
standard library (``sqlite3``, ``json``) and printed exactly as the Typer command prints them.

The catalog commands (the ones this module answers; everything else runs the full CLI):

- ``mlake [--home H] [-q] [--debug] tables list [NAMESPACE] [--quarantine|--no-quarantine]``
- ``mlake [--home H] [-q] [--debug] tables history NAME``
- ``mlake --version``

Commands that read rows (``tables show`` with its preview, ``sql``, ``profile``) load the engine and are
not catalog commands; ``--json`` output, and any option this module does not know, also go to the full
CLI.

This path answers only what it can answer *identically*; anything else it leaves (:func:`run` returns False): the full
CLI runs the same command over the full lake, which gives the canonical answer or error. It steps aside
for: a catalog that is not a local SQLite file, metadata not on local disk or compressed, settings it
does not read (any ``MLAKE_*`` setting but the home, a SQLite catalog URL and plain text ones), a lake
that does not exist yet (the full CLI creates it), a missing namespace or table (the full CLI says so
with suggestions), unreadable metadata, output to a terminal or of a width the plain renderer does not
lay out (then rich renders the same rows), and any error at all. ``MLAKE_DEBUG_FAST_PATH=1`` prints why
it stepped aside.

Access: the CLI acts as the lake's owner — whoever may read the lake's files holds its catalog — so the
full path lists every table and describes each without checks that could narrow it (the owner's
:class:`~mlake.governance.access.Access` grants everything and audits nothing). This path gives the
same. Should the CLI ever act as a principal (a token, ``--as``), that option is unknown here and such
an invocation goes to the full CLI, where access is enforced.

Only the standard library is imported at module level, and none of ``typing``, ``pathlib``,
``dataclasses`` or ``datetime`` before they are needed: without cached bytecode every imported module is
compiled, so the number of modules is the start-up time. ``tests/cli/test_startup.py`` keeps it so.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `from typing import TYPE_CHECKING`: typing costs ~60 ms to compile
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

CATALOG_NAME = "mlake"  # as mlake.core.CATALOG_NAME (a test keeps them equal)

# Every field of mlake.settings.Settings (a test keeps the two equal), and those this path may meet in the
# environment or mlake.toml: the home and a SQLite catalog URL it reads, free-text ones that change no
# listing. Any other setting (a warehouse, an engine, stores, limits) sends the command to the full CLI,
# which validates it.
SETTINGS_FIELDS = frozenset(
    {
        "home",
        "catalog_url",
        "warehouse",
        "online_url",
        "s3_endpoint",
        "s3_region",
        "s3_access_key_id",
        "s3_secret_access_key",
        "stream_url",
        "engine",
        "user",
        "memory_limit",
        "ingest_memory_limit",
        "threads",
        "commit_retries",
        "ingest_allowed",
    }
)
_UNDERSTOOD = frozenset({"home", "catalog_url", "user", "memory_limit", "ingest_memory_limit"})
_SECRET_KEYS = frozenset({"token", "s3_secret_access_key"})  # as mlake.settings._SECRET_KEYS

UNLIMITED_WIDTH = 10_000  # as mlake.cli.context.UNLIMITED_WIDTH
QUARANTINE_SUFFIX = "__quarantine"
# Characters rich counts as one cell (printable Latin up to the combining marks at U+0300, and the few
# symbols mlake prints); the plain renderer lays out only these. A test holds it to rich's own layout.
_ONE_CELL = frozenset(
    ch for ch in map(chr, range(0x20, 0x300)) if ch.isprintable() and not 0x7F <= ord(ch) < 0xA0
) | frozenset("—…●×→·")
# The environment variables that make rich treat a pipe as a terminal (colours, other layout).
_RICH_TERMINAL_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES")

LIST_COLUMNS = ["table", "rows", "files", "last updated", "owner", "description"]
HISTORY_COLUMNS = ["snapshot", "committed (UTC)", "operation", "+rows", "-rows", "total", "by", "command"]
HISTORY_LEGEND = "● current   × not in the current history (rolled back)"


class Decline(Exception):
    """This path cannot answer identically; the full CLI runs the command."""


def run(argv: Sequence[str]) -> bool:
    """Answer ``argv`` (without the program name) if it is a catalog command; False: run the full CLI."""
    try:
        command = parse(argv)
        if command is None:
            return False
        if command[0] == "version":
            from mlake import __version__

            sys.stdout.write(f"mlake {__version__}\n")
            return True
        with Catalog(catalog_path(command[1])) as catalog:
            if command[0] == "list":
                columns, rows, legend = LIST_COLUMNS, list_rows(catalog, command[2], command[3]), None
            else:
                columns, rows, legend = HISTORY_COLUMNS, history_rows(catalog, command[2]), HISTORY_LEGEND
        width = plain_width()
        output = None if width is None else render(columns, rows, legend, width)
    except Exception as exc:  # Decline, or anything unexpected (sqlite3, JSON, a file): the full CLI answers
        if os.environ.get("MLAKE_DEBUG_FAST_PATH"):
            print(f"mlake: the catalog fast path left this to the full CLI: {exc!r}", file=sys.stderr)
        return False
    if output is None:
        print_with_rich(columns, rows, legend)
    else:
        sys.stdout.write(output)
        sys.stdout.flush()
    return True


# --- arguments -------------------------------------------------------------------------------------


def parse(argv: Sequence[str]) -> tuple[Any, ...] | None:
    """The command as ``("list", home, namespace, quarantine)``, ``("history", home, name)`` or
    ``("version",)``; None for anything else (left to Typer, which knows every option and error)."""
    args = list(argv)
    if args == ["--version"]:
        return ("version",)
    home = os.environ.get("MLAKE_HOME")  # Typer's envvar for --home; the option wins
    while args and args[0].startswith("-"):
        opt = args.pop(0)
        if opt == "--home" and args:
            home = args.pop(0)
        elif opt.startswith("--home="):
            home = opt[len("--home=") :]
        elif opt not in ("--debug", "--no-debug", "--quiet", "-q"):
            return None
    if home == "":
        return None
    if len(args) < 2 or args[0] != "tables":
        return None
    sub, rest = args[1], args[2:]
    positional = [a for a in rest if not a.startswith("-")]
    options = [a for a in rest if a.startswith("-")]
    if sub == "list":
        if len(positional) > 1 or any(o not in ("--quarantine", "--no-quarantine") for o in options):
            return None
        quarantine = True
        for o in options:
            quarantine = o == "--quarantine"
        return ("list", home, positional[0] if positional else None, quarantine)
    if sub == "history" and not options and len(positional) == 1:
        return ("history", home, positional[0])
    return None


# --- settings and the catalog ------------------------------------------------------------------------


def catalog_path(home_option: str | None) -> str:
    """The SQLite catalog file, resolved as :func:`mlake.settings.load_settings` resolves it (arguments,
    then the environment, then the home's ``mlake.toml``, then defaults) — or Decline."""
    env: dict[str, str] = {}
    for key, value in os.environ.items():
        upper = key.upper()
        if upper.startswith("MLAKE_") and upper[6:].lower() in SETTINGS_FIELDS:
            field = upper[6:].lower()
            if key != upper or field not in _UNDERSTOOD:
                raise Decline(f"setting {key}")
            env[field] = value
    home = home_option if home_option is not None else env.get("home", ".mlake")
    home = os.path.expanduser(home)
    if not os.path.isabs(home):
        home = os.path.join(os.getcwd(), home)
    url = env.get("catalog_url")
    toml_path = os.path.join(home, "mlake.toml")
    if os.path.exists(toml_path):
        import tomllib

        with open(toml_path, "rb") as f:
            data = tomllib.load(f)
        section = data.get("mlake", data)
        for key, value in section.items():
            if key in _SECRET_KEYS or (key in SETTINGS_FIELDS and (key not in _UNDERSTOOD or key == "home")):
                raise Decline(f"mlake.toml sets {key}")
            if key in SETTINGS_FIELDS and not isinstance(value, str):
                raise Decline(f"mlake.toml sets {key} to a {type(value).__name__}")
        if url is None and "catalog_url" in section:
            url = section["catalog_url"]
    if url is None:
        return os.path.join(home, "catalog.db")
    if not url.startswith("sqlite:///") or "?" in url or url[len("sqlite:///") :] in ("", ":memory:"):
        raise Decline(f"catalog {url!r}")
    path = url[len("sqlite:///") :]
    return path if os.path.isabs(path) else os.path.join(os.getcwd(), path)


class Catalog:
    """The Iceberg catalog's own tables in the control-plane SQLite database, read with ``sqlite3``."""

    def __init__(self, path: str) -> None:
        if not os.path.isfile(path):
            raise Decline("no catalog database yet")  # the full CLI creates the lake
        import sqlite3

        self.conn = sqlite3.connect(path, timeout=60)  # as the full CLI: wait for a writer's lock

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    def tables(self) -> list[tuple[str, str, str]]:
        """(namespace, table, metadata location) of every table, sorted as mlake sorts table names."""
        present = {
            r[0]
            for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name IN ('iceberg_tables', 'iceberg_namespace_properties')"
            )
        }
        if len(present) != 2:
            raise Decline("the catalog's tables are not created yet")
        rows = self.conn.execute(
            "SELECT table_namespace, table_name, metadata_location FROM iceberg_tables WHERE catalog_name = ?",
            (CATALOG_NAME,),
        ).fetchall()
        if any("." in r[0] for r in rows):
            raise Decline("nested namespaces")
        return sorted((str(r[0]), str(r[1]), str(r[2])) for r in rows)

    def namespace_exists(self, namespace: str) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ? UNION ALL "
            "SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = ? AND namespace = ? LIMIT 1",
            (CATALOG_NAME, namespace, CATALOG_NAME, namespace),
        ).fetchone()
        return found is not None


def read_metadata(location: str) -> dict[str, Any]:
    """A table's Iceberg metadata JSON from the local disk (Decline for object storage or compression)."""
    if location.startswith("file://"):
        path = location[len("file://") :]
    elif location.startswith("/"):
        path = location
    else:
        raise Decline(f"metadata at {location}")
    if not path.startswith("/") or not path.endswith(".metadata.json") or path.endswith(".gz.metadata.json"):
        raise Decline(f"metadata at {location}")
    import json

    with open(path, "rb") as f:
        meta = json.load(f)
    if not isinstance(meta, dict) or meta.get("format-version") not in (1, 2):
        raise Decline(f"metadata {location} of an unknown format")
    return meta


def _snapshots(meta: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """All snapshots and the current one (None: an empty table), as pyiceberg reads them."""
    snaps = meta.get("snapshots") or []
    current_id = meta.get("current-snapshot-id")
    current = None
    if current_id is not None and current_id != -1:
        current = next((s for s in snaps if s["snapshot-id"] == current_id), None)
    return snaps, current


def _summary_int(snapshot: dict[str, Any], key: str) -> int:
    """As :func:`mlake.tables.table._summary_int`."""
    summary = snapshot.get("summary")
    if summary is None:
        return 0
    value = summary.get(key) if key != "operation" else None
    return int(value) if value is not None else 0


def _utc(timestamp_ms: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def _cell(value: str | int) -> str:
    """As :func:`mlake.formatting.format_value` for the strings and integers these commands show."""
    text = str(value)
    return text if len(text) <= 200 else text[:199] + "…"


def list_rows(catalog: Catalog, namespace: str | None, quarantine: bool) -> list[list[str]]:
    """The rows of ``mlake tables list``: what :meth:`mlake.tables.table.Table.describe` gives the owner."""
    if namespace is not None and ("." in namespace or not catalog.namespace_exists(namespace)):
        raise Decline(f"namespace {namespace!r}")  # the full CLI names the error
    rows = []
    for ns, name, location in catalog.tables():
        if namespace is not None and ns != namespace:
            continue
        if not quarantine and name.endswith(QUARANTINE_SUFFIX):
            continue
        meta = read_metadata(location)
        _, snap = _snapshots(meta)
        props = meta.get("properties") or {}
        last = _utc(snap["timestamp-ms"]).isoformat() if snap else None
        rows.append(
            [
                _cell(f"{ns}.{name}"),
                _cell(f"{_summary_int(snap, 'total-records') if snap else 0:,}"),
                _cell(_summary_int(snap, "total-data-files") if snap else 0),
                _cell((last or "—")[:16].replace("T", " ")),
                _cell(props.get("owner") or ""),
                _cell(props.get("comment") or ""),
            ]
        )
    return rows


_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyz_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")


def _valid_part(part: str) -> bool:
    """As mlake.tables.names: ``[a-z_][a-z0-9_]{0,127}`` (without importing ``re`` for it)."""
    return 0 < len(part) <= 128 and part[0] in _NAME_START and set(part) <= _NAME_CHARS


def history_rows(catalog: Catalog, table: str) -> list[list[str]]:
    """The rows of ``mlake tables history``, as :meth:`mlake.tables.table.Table.history` orders them."""
    cleaned = table.strip().replace('"', "").lower()  # as TableName.parse
    parts = cleaned.split(".")
    if len(parts) != 2 or not all(_valid_part(p) for p in parts):
        raise Decline(f"table name {table!r}")  # the full CLI says what is wrong with it
    location = next((loc for ns, name, loc in catalog.tables() if (ns, name) == (parts[0], parts[1])), None)
    if location is None:
        raise Decline(f"table {table!r}")  # the full CLI says so and suggests close names
    meta = read_metadata(location)
    snaps, current = _snapshots(meta)
    by_id = {s["snapshot-id"]: s for s in snaps}
    ancestors: set[int] = set()
    snap = current
    while snap is not None:
        ancestors.add(snap["snapshot-id"])
        parent = snap.get("parent-snapshot-id")
        snap = by_id.get(parent) if parent else None
    rows = []
    for s in sorted(snaps, key=lambda s: (s["timestamp-ms"], s.get("sequence-number") or 0)):
        summary = s.get("summary")
        props = summary or {}
        op = summary["operation"] if summary else "unknown"
        added, deleted = _summary_int(s, "added-records"), _summary_int(s, "deleted-records")
        if props.get("mlake.operation") == "delete":
            added, deleted = 0, deleted - added
        is_current = current is not None and s["snapshot-id"] == current["snapshot-id"]
        marker = "● " if is_current else "  " if s["snapshot-id"] in ancestors else "× "
        rows.append(
            [
                _cell(marker + str(s["snapshot-id"])),
                _cell(f"{_utc(s['timestamp-ms']):%Y-%m-%d %H:%M:%S}"),
                _cell(props.get("mlake.operation", op)),
                _cell(f"{added:,}"),
                _cell(f"{deleted:,}"),
                _cell(f"{_summary_int(s, 'total-records'):,}"),
                _cell(props.get("mlake.actor") or ""),
                _cell((props.get("mlake.command") or "")[:60]),
            ]
        )
    return rows


# --- output ----------------------------------------------------------------------------------------


def plain_width() -> int | None:
    """The width rich would lay out stdout in when it writes plain text (not a terminal), else None.

    As :func:`mlake.cli.context._width`: ``$COLUMNS`` or no practical limit."""
    stream = sys.stdout
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    if any(os.environ.get(k) for k in _RICH_TERMINAL_ENV):
        return None
    encoding = (getattr(stream, "encoding", None) or "").lower()
    if not encoding.startswith("utf"):
        return None  # rich draws ASCII boxes then
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else UNLIMITED_WIDTH


def render(columns: Sequence[str], rows: Sequence[Sequence[str]], legend: str | None, width: int) -> str | None:
    """The table (and legend) exactly as rich prints them in ``width`` columns of plain text with the CLI's
    table style, or None when rich must lay it out (cells or a width this plain layout does not cover)."""
    cells = [list(columns), *rows]
    if any(not set(text) <= _ONE_CELL for row in cells for text in row):
        return None  # wide, zero-width or control characters: rich decides
    if legend is not None and len(legend) > width:
        return None
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    if sum(widths) + 3 * len(widths) + 1 > width:
        return None  # rich would fold cells to fit
    lines = ["┏" + "┳".join("━" * (w + 2) for w in widths) + "┓"]
    lines.append("┃" + "┃".join(f" {c.ljust(w)} " for c, w in zip(columns, widths, strict=True)) + "┃")
    lines.append("┡" + "╇".join("━" * (w + 2) for w in widths) + "┩")
    lines.extend("│" + "│".join(f" {c.ljust(w)} " for c, w in zip(row, widths, strict=True)) + "│" for row in rows)
    lines.append("└" + "┴".join("─" * (w + 2) for w in widths) + "┘")
    if legend is not None:
        lines.append(legend)
    return "\n".join(lines) + "\n"


def print_with_rich(columns: Sequence[str], rows: Sequence[Sequence[str]], legend: str | None) -> None:
    """The same rows through the CLI's own rich table (a terminal's colours and width): rich, but not
    Typer nor the lake."""
    from mlake.cli.context import console
    from mlake.cli.render import rich_table

    console.print(rich_table(columns, rows))
    if legend is not None:
        console.print(f"[dim]{legend}[/dim]")
