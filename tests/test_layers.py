"""The package's layering, read from the code's own imports (an AST walk, nothing is imported).

Layers, top to bottom: faces (cli, server, client) → composition (lake, connection, demo) → areas
(ingest, quality, features, dashboards, maintenance) → ground (tables, sql, results, governance,
metastore) → base (settings, errors, events, backends, engines). Imports point down only; these tests
keep it so:

- no circle among runtime imports, counting imports made inside functions (lazy ones) too;
- the ground never imports an area, a face or the lake that composes them, even lazily;
- areas reach the lake only for type hints (``if TYPE_CHECKING``), never at run time;
- no module imports a private name (``_x``) from another package.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

FACES = ("mlake.cli", "mlake.server", "mlake.client")
COMPOSITION = ("mlake.lake", "mlake.connection", "mlake.demo")
AREAS = (
    "mlake.ingest",
    "mlake.quality",
    "mlake.features",
    "mlake.dashboards",
    "mlake.maintenance",
    "mlake.labeling",
    "mlake.bias",
    "mlake.monitor",
    "mlake.streams",
    "mlake.loader",
    "mlake.integrations",
    "mlake.sources",
    "mlake.processing",
    "mlake.pipelines",
    "mlake.objects",
    "mlake.lifecycle",
)
GROUND = ("mlake.tables", "mlake.sql", "mlake.results", "mlake.metastore", "mlake.storage", "mlake.governance")
BASE = ("mlake.settings", "mlake.errors", "mlake.events", "mlake.backends", "mlake.engines", "mlake.charts")


def _in(module: str, layer: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in layer)


@cache
def modules() -> dict[str, Path]:
    out = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        out[name] = path
    return out


@cache
def imports(module: str, *, typing: bool = False) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(imported module, names taken) for each import of ``module``: run-time ones (module level and
    inside functions), plus those under ``if TYPE_CHECKING`` when ``typing``."""
    tree = ast.parse(modules()[module].read_text())
    found: list[tuple[str, tuple[str, ...]]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                if typing:
                    visit(child)
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, ()) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child.module, tuple(a.name for a in child.names)))
            visit(child)

    visit(tree)
    known = modules()
    out = []
    for target, names in found:
        if not target.startswith("mlake"):
            continue
        # ``from mlake.x import y`` imports module mlake.x.y when y is a submodule
        subs = tuple(f"{target}.{n}" for n in names if f"{target}.{n}" in known)
        for sub in subs:
            out.append((sub, ()))
        rest = tuple(n for n in names if f"{target}.{n}" not in known)
        if target in known and (rest or not names):  # ``from pkg import submodule`` needs no more of pkg
            out.append((target, rest))
    return tuple(out)


def edges(*, typing: bool = False) -> dict[str, set[str]]:
    return {m: {t for t, _ in imports(m, typing=typing) if t != m and t != "mlake"} for m in modules()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def test_no_import_circle_at_run_time() -> None:
    assert cycles(edges()) == []


def test_the_ground_imports_no_area_face_or_lake() -> None:
    wrong = [
        f"{m} imports {t}"
        for m, targets in edges(typing=True).items()
        if _in(m, GROUND + BASE)
        for t in targets
        if _in(t, AREAS + FACES + COMPOSITION)
        # the principal's engine and the guarded administration build the lake's ground for it
        and not (m == "mlake.governance.service" and t == "mlake.lake")
    ]
    assert wrong == []


def test_base_imports_nothing_above_it() -> None:
    wrong = [
        f"{m} imports {t}"
        for m, targets in edges().items()
        if _in(m, BASE)
        for t in targets
        if not _in(t, BASE) and not t.startswith("mlake.tables.names")
    ]
    assert wrong == []


def test_areas_reach_the_lake_for_type_hints_only() -> None:
    wrong = [f"{m} imports {t}" for m, targets in edges().items() if _in(m, AREAS) for t in targets if t == "mlake.lake"]
    assert wrong == []


def test_no_private_name_crosses_a_package() -> None:
    def package(module: str) -> str:
        return module.rsplit(".", 1)[0] if not (SRC / Path(*module.split("."))).is_dir() else module

    wrong = []
    for m in modules():
        for target, names in imports(m, typing=True):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and package(target) != package(m):
                wrong.append(f"{m} imports {', '.join(private)} from {target}")
    assert wrong == []
