"""One typed public API: the embedded classes and the remote client offer the same members, with the same
parameters and return types, and both provide the protocols of :mod:`mlake.api`.

Everything is read by introspection (``dir``, ``inspect.signature``, ``typing.get_type_hints``), so a
public method added to one side fails here until the other side has it too — or until the allowlists
below say why it cannot. The allowlists are checked for staleness as well: an entry whose difference is
gone fails, so they only shrink. (The type checker proves the protocols' return types: see the
``TYPE_CHECKING`` block at the end of ``mlake/connection.py``.)
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
import types
import typing
from functools import cache, cached_property
from typing import Any, Union, get_args, get_origin

import pytest

from mlake import api
from mlake.bias.api import Bias
from mlake.client.bias import RemoteBias
from mlake.client.dashboards import RemoteDashboards
from mlake.client.features import RemoteFeatureStore, RemoteTrainingSet
from mlake.client.governance import RemoteGovernance
from mlake.client.labeling import RemoteLabeling
from mlake.client.monitoring import RemoteMonitoring
from mlake.client.objects import RemoteObjects
from mlake.client.pipelines import RemotePipelines
from mlake.client.quality import RemoteQuality, RemoteSuiteStore
from mlake.client.recipes import RemoteRecipes
from mlake.client.remote import RemoteLake
from mlake.client.sources import RemoteSourceRegistry
from mlake.client.storage import RemoteStorage
from mlake.client.streams import RemoteConsumerGroup, RemoteStreams
from mlake.client.tables import RemoteResult, RemoteTable
from mlake.dashboards.store import DashboardStore
from mlake.features.store import FeatureStore
from mlake.features.training import TrainingSet
from mlake.governance.service import Governance, GovernanceAdmin, GuardedGovernance
from mlake.labeling.projects import LabelingProjects
from mlake.lake import Lake
from mlake.lifecycle import LakeStorage
from mlake.monitor.monitors import Monitoring
from mlake.objects.service import LakeObjects
from mlake.pipelines.service import Pipelines
from mlake.processing.api import Recipes
from mlake.quality.api import Quality
from mlake.quality.store import SuiteStore
from mlake.results import Result
from mlake.sources.registry import SourceRegistry
from mlake.streams.lake_streams import LakeStreams
from mlake.streams.service import ConsumerGroup
from mlake.tables.table import Table

# (local, remote, protocol): the local side of governance is its administration protocol, which the
# owner's Governance and a principal's GuardedGovernance both implement.
PAIRS: list[tuple[type, type, type]] = [
    (Lake, RemoteLake, api.LakeAPI),
    (Table, RemoteTable, api.TableAPI),
    (Result, RemoteResult, api.ResultAPI),
    (FeatureStore, RemoteFeatureStore, api.FeatureStoreAPI),
    (TrainingSet, RemoteTrainingSet, api.TrainingSetAPI),
    (Quality, RemoteQuality, api.QualityAPI),
    (SuiteStore, RemoteSuiteStore, api.SuiteStoreAPI),
    (SourceRegistry, RemoteSourceRegistry, api.SourceRegistryAPI),
    (LakeStorage, RemoteStorage, api.StorageAPI),
    (Recipes, RemoteRecipes, api.RecipesAPI),
    (Pipelines, RemotePipelines, api.PipelinesAPI),
    (Monitoring, RemoteMonitoring, api.MonitoringAPI),
    (Bias, RemoteBias, api.BiasAPI),
    (GovernanceAdmin, RemoteGovernance, GovernanceAdmin),
    (LakeObjects, RemoteObjects, api.ObjectsAPI),
    (LakeStreams, RemoteStreams, api.StreamsAPI),
    (ConsumerGroup, RemoteConsumerGroup, api.ConsumerGroupAPI),
    (LabelingProjects, RemoteLabeling, api.LabelingAPI),
    (DashboardStore, RemoteDashboards, api.DashboardsAPI),
]

# A local type in a signature matches its remote counterpart.
COUNTERPART: dict[Any, Any] = {local: remote for local, remote, _ in PAIRS}

# Public members of a local class that have no remote twin, and why each cannot (or need not) exist remotely.
LOCAL_ONLY: dict[str, str] = {
    # the owner's plumbing: it bypasses access control, so a server never hands it out
    "Lake.catalog": "the pyiceberg catalog itself (bypasses access control; the owner's, in process)",
    "Lake.catalog_for_write": "hands out the live catalog to commit through (the in-process write choke point)",
    "Lake.stream_backend": "the raw stream backend (bypasses stream grants; the owner's, in process)",
    "Lake.iceberg_table": "returns a live pyiceberg Table (the in-process metadata choke point)",
    "Lake.lineage_store": "the lineage database object (owner's plumbing; remote: lineage(), recent_writes())",
    "Lake.metadata_engine": "a SQLAlchemy engine on the control-plane database (owner's plumbing)",
    "Lake.governance_service": "the server-side access-control service itself (token checks, sandbox limits)",
    "Lake.events": "the in-process event bus (subscribers are Python callables)",
    "Lake.progress": "where in-process long work reports (a rich progress bar in the CLI)",
    "Lake.as_principal": "a server decides the principal from the caller's token; a client cannot become another",
    "Lake.audited": "context manager recording a block of in-process work; the server audits each request itself",
    "Lake.policy": "the resolved AccessPolicy object of the in-process access check (remote: me() lists grants)",
    "Lake.client": "the client label the server puts in its audit log for a connection",
    "Lake.not_found": "builds the error a face raises for a missing table; remote errors come from the server",
    "LakeStreams.backend": "the raw stream backend (bypasses stream grants; the owner's, in process)",
    "LakeStreams.delivery": "a delivery is a loop run in process beside the lake (it commits with the lake's "
    "handle); no REST route starts one yet (docs/streams.md, what is not built yet)",
    "LakeStreams.query": "a streaming query is a loop run in process beside the lake, like a delivery",
    "LakeStreams.capture": "change data capture connects to PostgreSQL from the process that runs it",
    "Bias.explain": "takes the model object (SHAP runs where the model is); remote: compute attributions beside "
    "the model and write them with append/create_table",
    "Bias.partial_dependence": "takes the model object (it is called where the model is); remote: compute the "
    "curves beside the model with mlake.bias.explain.partial_dependence and write them with create_table",
    "Table.iceberg": "returns the live pyiceberg Table (commits on it would bypass mlake)",
    "Table.evolve_for": "ingest's schema-evolution step; remote appends and ingests evolve the schema on the server",
    "Table.snapshot_properties": "a static helper for writers that commit on their own (in-process plumbing)",
    "Result.relation": "the live DuckDB relation the result is bound to",
    "Result.writes_with_duckdb": "tells the in-process saver whether DuckDB may COPY the result itself",
    "FeatureStore.close": "closes the in-process online store connection (the server owns it)",
    "FeatureStore.online_store": "the live online store object (Redis, SQLite ...) of the server",
    "FeatureStore.use_online_store": "swaps the server's online store: the owner's, in process",
    "FeatureStore.save_entity_rows": "training-set builder's hook to keep entity rows (runs where the set is built)",
    "FeatureStore.training_result": "training-set builder's hook to bound a result (runs where the set is built)",
    "FeatureStore.reads_stored_times": "training-set builder's hook: may it trust the file statistics of a group's "
    "times (runs where the set is built)",
    "TrainingSet.lake": "the in-process lake the set was built on",
    "TrainingSet.result": "the live local Result the rows come from (remote: to_arrow/batches stream them)",
    "Lake.settings": "the lake's Settings: the server's paths, URLs and secrets",
    "Lake.access": "the in-process access object every choke point asks",
    "Lake.engine": "the in-process SQL engine (DuckDB)",
    "Result.lake": "the in-process lake the result is bound to",
    "Result.lineage_inputs": "resolved when the query is bound in process; over HTTP the server records "
    "lineage when the result is saved",
    "SuiteStore.record_run": "check()'s hook to keep a run as the suite's last result (runs where the check ran)",
    "Quality.source": "returns a Source bound to the in-process engine (pass it to several calls to pin one read)",
    "Quality.gate": "a gate object for lake.ingest(gate=...), which runs in process",
    "Quality.resolve_suite": "check()'s in-process resolution of suite files and names",
    "FeatureStore.registry": "the in-process registry of group definitions (rows of the metadata database)",
}

REMOTE_ONLY: dict[str, str] = {
    "RemoteLake.request": "the HTTP transport (a problem response becomes the matching MlakeError)",
    "RemoteLake.stream": "the HTTP transport for bodies read as they arrive",
    "RemoteResult.as_of": "a remote result runs lazily at the time it was asked for; a local one is bound when made",
    "RemoteGovernance.principal": "Governance.principal(name) exists locally too, but a principal's GuardedGovernance "
    "uses the name for the acting principal, so it is not part of the shared protocol",
    "RemoteTrainingSet.info": "the server's description of the set (columns, row count) it was built from",
    "RemoteLake.url": "the server's address",
}

# Parameters that differ on purpose: (member, parameter) -> why. They are left out of the comparison.
PARAMETER_DIFFERENCES: dict[tuple[str, str], str] = {
    ("Table.append", "precondition"): "a callable over the live pyiceberg table, run inside the commit",
    ("Table.apply_changes", "precondition"): "a callable over the live pyiceberg table, run inside the commit",
    ("Table.overwrite", "where"): "locally also a pyiceberg BooleanExpression; over HTTP the filter is SQL-like text",
    ("Table.delete", "where"): "locally also a pyiceberg BooleanExpression; over HTTP the filter is SQL-like text",
    ("Quality.dimensions", "profile_result"): "a profile computed in process; the server profiles the table itself",
    ("Monitoring.create", "model"): "a model object (for attribution drift) stays in process",
    ("Monitoring.run", "model"): "a model object (for attribution drift) stays in process",
    ("Quality.dimensions", "checks"): "a check run made in process; the server runs the suite itself",
    ("LabelingProjects.auto_label", "model"): "a model object of one's own stays in process; remotely the "
    "server trains its default classifier",
    ("LabelingProjects.auto_label", "embed"): "an embedding function stays in process; remotely only a built-in "
    "embedding's name (image_pixels) travels",
}

EXTRA_DUNDERS = ("__len__", "__arrow_c_stream__", "__enter__", "__exit__")


def _name(cls: type) -> str:
    return cls.__name__


def public_members(cls: type) -> set[str]:
    """Public names of a class (inherited included): its class attributes, its dataclass fields and the
    attributes its ``__init__`` sets, plus the dunders that are part of the API."""
    if getattr(cls, "_is_protocol", False):
        return set(typing._get_protocol_attrs(cls))  # type: ignore[attr-defined]
    names = {n for n in dir(cls) if not n.startswith("_")}
    names |= {d for d in EXTRA_DUNDERS if any(d in vars(k) for k in cls.__mro__ if k is not object)}
    names |= {n for n in getattr(cls, "__dataclass_fields__", {}) if not n.startswith("_")}
    names |= instance_attributes(cls)
    return names


@cache
def instance_attributes(cls: type) -> set[str]:
    """Public attributes that ``__init__`` (of the class or a base) assigns on ``self``."""
    found: set[str] = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None or not inspect.isfunction(init):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(init)))
        except (OSError, TypeError):  # generated (a dataclass's): its fields are read from the class
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            for t in targets:
                is_self = isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                if is_self and not t.attr.startswith("_"):
                    found.add(t.attr)
    return found


@cache
def typing_namespace(module_name: str) -> dict[str, Any]:
    """The module's globals plus the names it imports only for type checkers (``if TYPE_CHECKING:``),
    so that string annotations resolve."""
    module = sys.modules[module_name]
    ns = dict(vars(module))
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                if isinstance(stmt, ast.Import):
                    for alias in stmt.names:
                        top = alias.name.split(".")[0]
                        ns[alias.asname or top] = importlib.import_module(alias.name if alias.asname else top)
                elif isinstance(stmt, ast.ImportFrom) and stmt.module:
                    target = importlib.import_module(stmt.module)
                    for alias in stmt.names:
                        ns[alias.asname or alias.name] = getattr(target, alias.name)
    return ns


def _function(cls: type, name: str) -> Any:
    """The function behind a member: a method, a property's getter or a cached property's function."""
    for klass in cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            break
    else:
        return None
    if isinstance(attr, property):
        return attr.fget
    if isinstance(attr, cached_property):
        return attr.func
    if isinstance(attr, staticmethod | classmethod):
        return attr.__func__
    return attr if callable(attr) else None


def _kind(cls: type, name: str) -> str:
    for klass in cls.__mro__:
        if name in vars(klass):
            attr = vars(klass)[name]
            if isinstance(attr, property | cached_property):
                return "property"
            return "method" if callable(attr) else "attribute"
    return "attribute"  # an annotation only (a protocol's or a dataclass's field)


def _hints(func: Any) -> dict[str, Any]:
    return typing.get_type_hints(func, globalns=typing_namespace(func.__module__))


def same_type(local: Any, remote: Any) -> bool:
    """Whether two resolved annotations match, a local class matching its remote counterpart."""
    local = COUNTERPART.get(local, local)
    if local == remote:
        return True
    lo, ro = get_origin(local), get_origin(remote)
    unions = {Union, types.UnionType}
    if lo in unions and ro in unions:
        la, ra = get_args(local), get_args(remote)
        return len(la) == len(ra) and all(any(same_type(a, b) for b in ra) for a in la)
    if lo is None or lo != ro:
        return False
    la, ra = get_args(local), get_args(remote)
    return len(la) == len(ra) and all(same_type(a, b) for a, b in zip(la, ra, strict=True))


def signature_differences(local_cls: type, remote_cls: type, name: str) -> list[str]:
    """What differs between the two members (kind, parameters, annotations); [] when they match."""
    key = f"{_name(local_cls)}.{name}"
    lk, rk = _kind(local_cls, name), _kind(remote_cls, name)
    if lk != rk and {lk, rk} != {"attribute", "property"}:
        return [f"{key}: {lk} locally, {rk} remotely"]
    lf, rf = _function(local_cls, name), _function(remote_cls, name)
    if lf is None or rf is None:
        return []  # plain attributes: their presence is what is compared
    lh, rh = _hints(lf), _hints(rf)
    out = []
    if not same_type(lh.get("return"), rh.get("return")):
        out.append(f"{key}: returns {lh.get('return')} locally, {rh.get('return')} remotely")
    if lk == "property":
        return out
    skip = {p for (member, p) in PARAMETER_DIFFERENCES if member == key}
    lp = [p for p in list(inspect.signature(lf).parameters.values())[1:] if p.name not in skip]
    rp = [p for p in list(inspect.signature(rf).parameters.values())[1:] if p.name not in skip]
    if [(p.name, p.kind, p.default) for p in lp] != [(p.name, p.kind, p.default) for p in rp]:
        out.append(f"{key}: parameters {[str(p) for p in lp]} locally, {[str(p) for p in rp]} remotely")
    for p in lp:
        if p.name in rh and not same_type(lh.get(p.name), rh.get(p.name)):
            out.append(f"{key}({p.name}): {lh.get(p.name)} locally, {rh.get(p.name)} remotely")
    return out


@pytest.mark.parametrize(("local", "remote", "protocol"), PAIRS, ids=[_name(p[0]) for p in PAIRS])
def test_local_and_remote_offer_the_same_members(local: type, remote: type, protocol: type) -> None:
    lm, rm = public_members(local), public_members(remote)
    missing_remotely = sorted(n for n in lm - rm if f"{_name(local)}.{n}" not in LOCAL_ONLY)
    missing_locally = sorted(n for n in rm - lm if f"{_name(remote)}.{n}" not in REMOTE_ONLY)
    assert missing_remotely == [], f"add to {_name(remote)} (or to LOCAL_ONLY, saying why it cannot exist)"
    assert missing_locally == [], f"add to {_name(local)} (or to REMOTE_ONLY, saying why)"


@pytest.mark.parametrize(("local", "remote", "protocol"), PAIRS, ids=[_name(p[0]) for p in PAIRS])
def test_signatures_and_return_types_match(local: type, remote: type, protocol: type) -> None:
    differences = [
        d
        for n in sorted(public_members(local) & public_members(remote))
        for d in signature_differences(local, remote, n)
    ]
    assert differences == []


@pytest.mark.parametrize(("local", "remote", "protocol"), PAIRS, ids=[_name(p[0]) for p in PAIRS])
def test_both_sides_provide_the_protocol(local: type, remote: type, protocol: type) -> None:
    """Every protocol member exists on both sides with at least the protocol's parameters; and every
    member the two sides share is in the protocol (so code typed against it can use it)."""
    members = public_members(protocol)
    implementations = [local, remote] + ([Governance, GuardedGovernance] if protocol is GovernanceAdmin else [])
    for cls in implementations:
        absent = sorted(m for m in members if m not in public_members(cls))
        assert absent == [], f"{_name(cls)} lacks {absent} of {_name(protocol)}"
        for m in members:
            pf, cf = _function(protocol, m), _function(cls, m)
            if pf is None or cf is None or _kind(protocol, m) != "method":
                continue
            wanted = [(p.name, p.kind) for p in inspect.signature(pf).parameters.values()]
            offered = [(p.name, p.kind) for p in inspect.signature(cf).parameters.values()]
            assert all(w in offered for w in wanted), f"{_name(cls)}.{m}{inspect.signature(cf)} vs {_name(protocol)}"
    shared = (public_members(local) & public_members(remote)) - members
    if protocol is not GovernanceAdmin:
        assert sorted(shared) == [], f"add to {_name(protocol)}: both sides have them"


def test_the_allowlists_are_not_stale() -> None:
    """An allowlisted difference that no longer exists fails, so the lists only shrink."""
    classes = {_name(c): c for pair in PAIRS for c in pair[:2]}
    for key in LOCAL_ONLY:
        cls_name, member = key.split(".")
        local = classes[cls_name]
        remote = COUNTERPART[local]
        assert member in public_members(local), f"{key} is no longer a public member: remove it from LOCAL_ONLY"
        assert member not in public_members(remote), f"{key} exists remotely now: remove it from LOCAL_ONLY"
    remote_to_local = {v: k for k, v in COUNTERPART.items()}
    for key in REMOTE_ONLY:
        cls_name, member = key.split(".")
        remote = classes[cls_name]
        assert member in public_members(remote), f"{key} is gone: remove it from REMOTE_ONLY"
        assert member not in public_members(remote_to_local[remote]), f"{key} exists locally: remove it"
    for (key, param), _ in PARAMETER_DIFFERENCES.items():
        cls_name, member = key.split(".")
        local = classes[cls_name]
        remote = COUNTERPART[local]
        lp = inspect.signature(_function(local, member)).parameters
        rp = inspect.signature(_function(remote, member)).parameters
        differs = (param in lp) != (param in rp) or (
            param in lp
            and not same_type(_hints(_function(local, member))[param], _hints(_function(remote, member))[param])
        )
        assert differs, f"{key}({param}) matches now: remove it from PARAMETER_DIFFERENCES"


def test_a_new_method_on_one_side_fails() -> None:
    """The check itself: a method added to the local table and not to the remote one is reported."""

    class Wider(Table):
        def brand_new(self, x: int) -> int:
            return x

    COUNTERPART[Wider] = RemoteTable
    try:
        assert "brand_new" in public_members(Wider) - public_members(RemoteTable)
        assert signature_differences(Wider, RemoteTable, "count") == []
    finally:
        del COUNTERPART[Wider]
