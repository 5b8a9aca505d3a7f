"""``remote.features``: the feature store's API against an mlake server.

The same calls as :class:`~mlake.features.store.FeatureStore` — groups, search, describe, online reads,
writes, materialization and training sets — over the REST API, with the same return types where they
matter (:class:`~mlake.features.groups.FeatureGroup`, :class:`~mlake.features.lookup.OnlineFeatures`,
write and materialization reports, training sets that convert to Arrow, pandas and polars). The
server applies the caller's grants, masks and row filters, as for every other read.

Frames given as data or entity rows travel as JSON rows (at most 100,000 per call, the server's limit);
for more, write them to a table first and name the table.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.client.tables import stream_batches
from mlake.errors import ValidationError
from mlake.features.groups import Feature, FeatureGroup, group_from_dict
from mlake.features.lookup import OnlineFeatures, normalize_keys
from mlake.features.materialize import MaterializeReport
from mlake.features.models import GroupDescription
from mlake.features.offline import WriteSummary
from mlake.features.search import SearchHit
from mlake.features.skew import SkewReport
from mlake.features.types import format_ttl, type_name
from mlake.tables.names import TableName, is_query

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from mlake.client.remote import RemoteLake
    from mlake.sources.registry import Provenance


def _plain(value: Any) -> Any:
    """A Python value as JSON: times as ISO 8601 (the server reads them back as UTC timestamps)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _source(data: Any) -> dict[str, Any]:
    """A table name, SQL, or a frame (sent as rows)."""
    if isinstance(data, TableName):
        return {"table": str(data)}
    if isinstance(data, str):
        return {"sql": data} if is_query(data) else {"table": str(TableName.parse(data))}
    from mlake.tables.frames import to_arrow

    return {"rows": _plain(to_arrow(data).to_pylist())}


def _typed(columns: Sequence[str] | Mapping[str, Any], types: Mapping[str, pa.DataType], what: str) -> dict[str, str]:
    """Column types by name: given ones as they are, the others from the data's types."""
    if isinstance(columns, Mapping):
        return {str(k): str(v) for k, v in columns.items()}
    out = {}
    for c in columns:
        if c not in types:
            raise ValidationError(
                f"The type of {what} {c!r} is not known", hint=f"give it ({{{c!r}: 'long'}}) or pass data that has it"
            )
        out[c] = type_name(types[c])
    return out


def _features_spec(
    features: Mapping[str, Any] | Sequence[Feature | str], types: Mapping[str, pa.DataType] | None = None
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if not isinstance(features, Mapping):
        names = [f for f in features if isinstance(f, str)]
        out = {n: {"type": t} for n, t in _typed(names, types or {}, "feature").items()}
    items = (
        features.items() if isinstance(features, Mapping) else ((f.name, f) for f in features if isinstance(f, Feature))
    )
    for name, spec in items:
        if isinstance(spec, Feature):
            out[name] = {"type": spec.dtype, "description": spec.description}
        elif isinstance(spec, tuple | list):
            out[name] = {"type": str(spec[0]), "description": spec[1] if len(spec) > 1 else None}
        elif isinstance(spec, Mapping):
            out[name] = {"type": str(spec["type"]), "description": spec.get("description")}
        else:
            out[name] = {"type": str(spec)}
    return out


def _materialize_report(body: dict[str, Any]) -> MaterializeReport:
    body.pop("up_to_date", None)
    return MaterializeReport(**body)


def _ttl(ttl: timedelta | str | float | None) -> str | None:
    if ttl is None or isinstance(ttl, str):
        return ttl
    return format_ttl(ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl))


class RemoteFeatureStore:
    """The feature store of a lake on an mlake server."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    # --- groups -------------------------------------------------------------------------------------

    def groups(self) -> list[FeatureGroup]:
        return [group_from_dict(g) for g in self._lake._json("GET", "/features/groups")]

    def group(self, name: str) -> FeatureGroup:
        return self.describe(name, statistics=False).group

    def describe(self, group: str, *, statistics: bool = True, distributions: bool = False) -> GroupDescription:
        params = {"statistics": statistics, "distributions": distributions}
        return GroupDescription.from_dict(self._lake._json("GET", f"/features/groups/{group}", params=params))

    def search(self, text: str | None = None, *, tag: str | None = None, owner: str | None = None) -> list[SearchHit]:
        params = {k: v for k, v in {"q": text, "tag": tag, "owner": owner}.items() if v}
        return [SearchHit(**h) for h in self._lake._json("GET", "/features/search", params=params)]

    def create_group(
        self,
        name: str,
        *,
        entities: Sequence[str] | Mapping[str, Any] | str,
        event_time: str,
        features: Mapping[str, Any] | Sequence[Feature | str] | None = None,
        data: Any = None,
        ttl: timedelta | str | float | None = None,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | Sequence[str] | None = None,
        online: bool = True,
        recipe: str | None = None,
    ) -> FeatureGroup:
        """Define a group, then write ``data`` if given. As locally, types not given (entity names as a
        list, feature names, or no features: every other column) are taken from ``data``'s columns.
        ``recipe``: an on-demand group, computed on the server by a saved, fitted recipe (as locally)."""
        common: dict[str, Any] = {
            "event_time": event_time,
            "ttl": _ttl(ttl),
            "description": description,
            "owner": owner,
            "tags": dict(tags) if isinstance(tags, Mapping) else dict.fromkeys(tags or (), ""),
            "online": online,
        }
        if recipe is not None:
            if data is not None or features is not None:
                raise ValidationError(
                    f"Feature group {name!r}: a recipe's group takes its rows and features from the recipe",
                    hint="give a recipe, or data and features, not both",
                )
            names = [entities] if isinstance(entities, str) else list(entities)
            body = {"name": name, "entities": names, "recipe": recipe, **common}
            return group_from_dict(self._lake._json("POST", "/features/groups/from-recipe", json=body))
        types = self._data_types(data) if data is not None else {}
        keys = [entities] if isinstance(entities, str) else entities
        body = {
            "name": name,
            "entities": _typed(keys, types, "entity"),
            "features": _features_spec(
                features if features is not None else [c for c in types if c not in {*keys, event_time}], types
            ),
            **common,
        }
        group = group_from_dict(self._lake._json("POST", "/features/groups", json=body))
        if data is not None:
            self.write(name, data)
        return group

    def _data_types(self, data: Any) -> dict[str, pa.DataType]:
        """The column types of ``data``: a frame's own, or those of a table or query on the server."""
        from mlake.client.tables import RemoteResult

        if isinstance(data, RemoteResult):
            schema = data.page(0).schema
        elif isinstance(data, TableName) or (isinstance(data, str) and not is_query(data)):
            schema = self._lake.table(data).query(limit=0).to_arrow().schema
        elif isinstance(data, str):
            schema = self._lake.sql(data).page(0).schema
        else:
            from mlake.tables.frames import to_arrow

            schema = to_arrow(data).schema
        return {f.name: f.type for f in schema}

    def add_features(self, group: str, features: Mapping[str, Any] | Sequence[Feature]) -> FeatureGroup:
        body = {"features": _features_spec(features)}
        return group_from_dict(self._lake._json("POST", f"/features/groups/{group}/features", json=body))

    def update_group(self, group: str, **values: Any) -> FeatureGroup:
        """Change ``description``, ``owner``, ``tags``, ``ttl`` (None removes it) or ``online``."""
        if "ttl" in values:
            values["ttl"] = _ttl(values["ttl"]) or "none"
        return group_from_dict(self._lake._json("PATCH", f"/features/groups/{group}", json=values))

    def drop_group(self, group: str, *, purge: bool = True) -> None:
        """Drop a group with its offline table (``purge``: and its files) and its online values."""
        self._lake._json("DELETE", f"/features/groups/{group}", params={"purge": purge})

    # --- writing ------------------------------------------------------------------------------------

    def write(self, group: str, data: Any, *, online: bool | None = None) -> WriteSummary:
        """Append rows from a table name, SQL (both read on the server as you), or a frame."""
        body = {**_source(data), "online": online}
        r = self._lake._json("POST", f"/features/groups/{group}/write", json=body)
        return WriteSummary(
            r["group"],
            r["rows_written"],
            r["snapshot_id"],
            datetime.fromisoformat(r["write_time"]),
            r["online_entities"],
        )

    def materialize(self, group: str, *, full: bool = False) -> MaterializeReport:
        return _materialize_report(
            self._lake._json("POST", f"/features/groups/{group}/materialize", json={"full": full})
        )

    def sync_online(self, group: str) -> MaterializeReport | None:
        """Catch the online store up to rows other writers appended offline (None: not served online)."""
        body = self._lake._json("POST", f"/features/groups/{group}/sync-online")
        return _materialize_report(body) if body is not None else None

    def materialize_all(self, *, full: bool = False) -> list[MaterializeReport]:
        """Materialize every online group this client may alter."""
        return [_materialize_report(r) for r in self._lake._json("POST", "/features/materialize", json={"full": full})]

    def skew(self, group: str, *, sample: int = 100, seed: int = 0, now: datetime | None = None) -> SkewReport:
        """Compare a sample of online values with the offline table (unrestricted readers only)."""
        params: dict[str, Any] = {"sample": sample, "seed": seed}
        if now is not None:
            params["now"] = _plain(now)
        r = self._lake._json("GET", f"/features/groups/{group}/skew", params=params)
        r.pop("lagging", None)
        r.pop("mismatch_rate", None)
        r["checked_at"] = datetime.fromisoformat(r["checked_at"])
        return SkewReport(**r)

    # --- online reads -------------------------------------------------------------------------------

    def get_online_features(
        self, keys: Any, features: Sequence[str] | str, *, now: datetime | None = None, request: Any = None
    ) -> OnlineFeatures:
        """Values (as JSON has them: times as ISO text) and a status per value, for one or many entities;
        ``now`` is the time TTLs are judged at (default: the server's clock); ``request``: request-time
        values (one dict per entity) that recipe-defined groups compute their features from."""
        entities = normalize_keys(keys)
        body = {"features": [features] if isinstance(features, str) else list(features), "entities": _plain(entities)}
        if now is not None:
            body["now"] = _plain(now)
        if request is not None:
            body["request"] = _plain([request] if isinstance(request, Mapping) else list(request))
        r = self._lake._json("POST", "/features/online", json=body)
        results = r["results"]
        return OnlineFeatures(
            [x["entity"] for x in results],
            list(r["features"]),
            [x["values"] for x in results],
            [x["statuses"] for x in results],
            [{g: datetime.fromisoformat(t) if t else None for g, t in x["event_times"].items()} for x in results],
        )

    # --- training sets ------------------------------------------------------------------------------

    def training_set(
        self,
        entities: Any,
        features: Sequence[str] | str,
        *,
        as_of: datetime | str | None = None,
        entity_time: str | None = None,
        name: str | None = None,
        description: str | None = None,
        save: bool = True,
        use: str | None = None,
        override: str | None = None,
        engine: str = "duckdb",
    ) -> RemoteTrainingSet:
        """Built on the server (point-in-time correct, through your grants, masks and row filters); ``use`` is
        refused there when a source's terms forbid it, unless ``override`` gives a reason; ``engine``
        (``duckdb`` or ``ray``) is the server's compute for the joins (see
        :meth:`mlake.features.store.FeatureStore.training_set`)."""
        body = {
            "features": [features] if isinstance(features, str) else list(features),
            "entities": _source(entities),
            "entity_time": entity_time,
            "as_of": _plain(as_of),
            "name": name,
            "description": description,
            "use": use,
            "override": override,
            "engine": engine,
        }
        info = self._lake._json("POST", "/features/training-sets", params={"save": save}, json=body)
        return RemoteTrainingSet(self._lake, info)

    def load_training_set(self, training_set_id: str) -> RemoteTrainingSet:
        return RemoteTrainingSet(self._lake, self._lake._json("GET", f"/features/training-sets/{training_set_id}"))

    def training_sets(self, group: str | None = None) -> list[RemoteTrainingSet]:
        """The saved training sets this client could load, newest first."""
        params = {"group": group} if group else {}
        return [
            RemoteTrainingSet(self._lake, t) for t in self._lake._json("GET", "/features/training-sets", params=params)
        ]


class RemoteTrainingSet:
    """A saved training set on the server; its rows download (Arrow IPC) when first converted."""

    def __init__(self, lake: RemoteLake, info: dict[str, Any]) -> None:
        self._lake = lake
        self.info = info
        self.id: str | None = info["id"]
        self.name: str | None = info["name"]
        self.spec = {k: info[k] for k in ("features", "entity_time", "as_of")}
        self.snapshots: dict[str, int | None] = info["snapshots"]
        self._arrow: pa.Table | None = None

    @property
    def description(self) -> str | None:
        return self.info.get("description")

    @property
    def entities(self) -> dict[str, Any]:
        """Where the entity rows came from (a table and snapshot, a query, or kept rows)."""
        found: dict[str, Any] = self.info.get("entities") or {}
        return found

    @property
    def created_by(self) -> str | None:
        return self.info.get("created_by")

    @property
    def created_at(self) -> datetime | None:
        at = self.info.get("created_at")
        return datetime.fromisoformat(at) if at else None

    @property
    def version(self) -> int | None:
        return self.info.get("version")

    def _download_check(self) -> None:
        if self.id is None:
            raise ValidationError("This training set was not saved", hint="build it with save=True to download it")

    def _download(self, fmt: str) -> bytes:
        self._download_check()
        return self._lake.request("GET", f"/features/training-sets/{self.id}/export", params={"format": fmt}).content

    def to_arrow(self) -> pa.Table:
        if self._arrow is None:
            import pyarrow.ipc as ipc

            self._arrow = ipc.open_stream(self._download("arrow")).read_all()
        return self._arrow

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """The rows in order, streamed as they arrive (memory bounded by a few batches)."""
        if self._arrow is not None:
            yield from self._arrow.to_batches(batch_size)
            return
        self._download_check()
        path = f"/features/training-sets/{self.id}/export"
        yield from stream_batches(self._lake, "GET", path, batch_size, params={"format": "arrow"})

    def loader(self, batch_size: int = 1024, **options: Any) -> Any:
        """A :class:`mlake.loader.Loader` over the saved set's rows, streamed from the server once (see
        :mod:`mlake.client.loader`)."""
        from mlake.client.loader import stream_loader

        self._download_check()
        columns, cache = options.pop("columns", None), options.pop("cache", None)
        path = f"/features/training-sets/{self.id}/export"
        what = f"training set {self.name or self.id}"
        options["batch_size"] = batch_size
        wanted = list(columns) if columns is not None else None
        return stream_loader(self._lake, "GET", path, what, wanted, cache, options, params={"format": "arrow"})

    def provenance(self) -> Provenance:
        """Every registered source (and license) the set's rows derive from, computed on the server."""
        from mlake.sources.registry import Provenance

        self._download_check()
        return Provenance.from_dict(self._lake._json("GET", f"/features/training-sets/{self.id}/provenance"))

    def _details(self) -> dict[str, Any]:
        """The columns and row count (listed training sets come without them: fetched once)."""
        if "columns" not in self.info:
            self.info = self._lake._json("GET", f"/features/training-sets/{self.id}")
        return self.info

    def to_parquet(self, path: str | Path) -> int:
        """Download the training set as one Parquet file (written by the server); returns its rows."""
        Path(path).write_bytes(self._download("parquet"))
        return int(self._details()["rows"])

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self._details()["columns"]]

    def __len__(self) -> int:
        return int(self._details()["rows"])

    def to_dict(self) -> dict[str, Any]:
        return dict(self.info)

    def __repr__(self) -> str:
        return f"<mlake RemoteTrainingSet {self.id or '(unsaved)'} {len(self.spec['features'])} feature(s)>"
