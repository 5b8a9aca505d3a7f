"""Feature groups: what a set of features is, stored in the metastore.

A group names its entity key column(s), its event-time column (when a value became true), its features
with types and descriptions, a TTL (how long a value stays valid after its event time, offline and
online alike), an owner, tags and whether it is served online. Adding features bumps the group's
version and adds nullable columns to its offline Iceberg table: old files read them as NULL and are
never rewritten.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa

from mlake.errors import AlreadyExistsError, NotFoundError, ValidationError
from mlake.features.metastore import features_table, groups_table
from mlake.features.types import KEY_TYPES, arrow_type, canonical_type, format_ttl, parse_ttl
from mlake.tables.names import TableName

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

OFFLINE_NAMESPACE = "features"
WRITE_TIME = "write_time"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True)
class Feature:
    """One feature of a group."""

    name: str
    dtype: str
    description: str | None = None
    added_in_version: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.dtype,
            "description": self.description,
            "added_in_version": self.added_in_version,
        }


@dataclass(frozen=True)
class EntityKey:
    name: str
    dtype: str


@dataclass(frozen=True)
class FeatureGroup:
    """A group of features about one kind of entity, with one event time."""

    name: str
    entities: tuple[EntityKey, ...]
    event_time: str
    features: tuple[Feature, ...]
    ttl: timedelta | None = None
    description: str | None = None
    owner: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    online: bool = True
    version: int = 1
    created_by: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def table_name(self) -> TableName:
        """The offline store: one Iceberg table per group."""
        return TableName(OFFLINE_NAMESPACE, self.name)

    @property
    def key_names(self) -> list[str]:
        return [k.name for k in self.entities]

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> Feature:
        for f in self.features:
            if f.name == name:
                return f
        raise NotFoundError(
            f"Feature group {self.name!r} has no feature {name!r}",
            hint=f"its features are {', '.join(self.feature_names)}",
        )

    @property
    def ttl_us(self) -> int | None:
        return None if self.ttl is None else int(self.ttl / timedelta(microseconds=1))

    def offline_schema(self) -> pa.Schema:
        """Keys, event time, features, then the write time that makes the store bitemporal."""
        fields = [pa.field(k.name, arrow_type(k.dtype), nullable=False) for k in self.entities]
        fields.append(pa.field(self.event_time, pa.timestamp("us", tz="UTC"), nullable=False))
        fields += [pa.field(f.name, arrow_type(f.dtype)) for f in self.features]
        fields.append(pa.field(WRITE_TIME, pa.timestamp("us", tz="UTC"), nullable=False))
        return pa.schema(fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "table": str(self.table_name),
            "entities": [{"name": k.name, "type": k.dtype} for k in self.entities],
            "event_time": self.event_time,
            "features": [f.to_dict() for f in self.features],
            "ttl": format_ttl(self.ttl),
            "ttl_seconds": self.ttl.total_seconds() if self.ttl else None,
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
            "online": self.online,
            "version": self.version,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def group_from_dict(data: Mapping[str, Any]) -> FeatureGroup:
    """A group from its ``to_dict()`` form (what the REST API sends)."""

    def when(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return FeatureGroup(
        name=data["name"],
        entities=tuple(EntityKey(k["name"], k["type"]) for k in data["entities"]),
        event_time=data["event_time"],
        features=tuple(
            Feature(f["name"], f["type"], f.get("description"), f.get("added_in_version", 1)) for f in data["features"]
        ),
        ttl=timedelta(seconds=data["ttl_seconds"]) if data.get("ttl_seconds") is not None else None,
        description=data.get("description"),
        owner=data.get("owner"),
        tags=dict(data.get("tags") or {}),
        online=bool(data.get("online", True)),
        version=int(data.get("version", 1)),
        created_by=data.get("created_by") or "",
        created_at=when(data.get("created_at")),
        updated_at=when(data.get("updated_at")),
    )


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValidationError(
            f"Invalid feature group name {name!r}",
            hint="use lower-case letters, digits and underscores, starting with a letter (at most 63 characters)",
        )
    return name


def _check_column(name: str, what: str) -> str:
    if not _COLUMN.match(name):
        raise ValidationError(
            f"Invalid {what} name {name!r}", hint="use letters, digits and underscores, not starting with a digit"
        )
    if name.lower() == WRITE_TIME:
        raise ValidationError(
            f"{what.capitalize()} name {name!r} is reserved",
            hint=f"the offline store adds a {WRITE_TIME!r} column itself (when a value was learned); rename yours",
        )
    return name


def parse_features(
    features: Mapping[str, Any] | Sequence[Feature | str] | None, types: Mapping[str, pa.DataType], version: int
) -> list[Feature]:
    """Features from ``{"name": "double"}``, ``{"name": ("double", "description")}``, Feature objects, or names
    whose types come from ``types`` (the schema of data given alongside)."""
    out: list[Feature] = []
    items: list[tuple[str, Any]]
    if features is None:
        return out
    if isinstance(features, Mapping):
        items = list(features.items())
    else:
        items = [(f.name, f) if isinstance(f, Feature) else (f, None) for f in features]
    for name, spec in items:
        _check_column(name, "feature")
        description: str | None = None
        dtype: Any
        if isinstance(spec, Feature):
            dtype, description = spec.dtype, spec.description
        elif isinstance(spec, tuple | list):
            dtype, description = spec[0], (spec[1] if len(spec) > 1 else None)
        elif isinstance(spec, dict):
            dtype, description = spec.get("type"), spec.get("description")
        else:
            dtype = spec
        if dtype is None:
            if name not in types:
                raise ValidationError(
                    f"Feature {name!r} needs a type", hint='give it, e.g. {"orders_30d": "long"}, or pass data with it'
                )
            dtype = types[name]
        out.append(Feature(name, canonical_type(dtype), description, version))
    seen: set[str] = set()
    for f in out:
        if f.name.lower() in seen:
            raise ValidationError(f"Feature {f.name!r} is given twice")
        seen.add(f.name.lower())
    return out


class GroupRegistry:
    """Create, read, change and drop group definitions in the metastore."""

    def __init__(self, engine: Engine, user: str) -> None:
        self._engine = engine
        self._user = user

    def create(
        self,
        name: str,
        *,
        entities: Sequence[str] | Mapping[str, Any],
        event_time: str,
        features: Mapping[str, Any] | Sequence[Feature | str] | None,
        data_types: Mapping[str, pa.DataType],
        ttl: timedelta | str | float | None,
        description: str | None,
        owner: str | None,
        tags: Mapping[str, str] | Sequence[str] | None,
        online: bool,
    ) -> FeatureGroup:
        _check_name(name)
        if isinstance(entities, str):
            entities = [entities]
        key_items = list(entities.items()) if isinstance(entities, Mapping) else [(e, None) for e in entities]
        if not key_items:
            raise ValidationError(f"Feature group {name!r} needs at least one entity key column")
        keys = []
        for key, dtype in key_items:
            _check_column(key, "entity key")
            if dtype is None:
                if key not in data_types:
                    raise ValidationError(
                        f"Entity key {key!r} needs a type", hint='give it, e.g. entities={"customer_id": "long"}'
                    )
                dtype = data_types[key]
            canonical = canonical_type(dtype)
            if canonical not in KEY_TYPES:
                raise ValidationError(
                    f"Entity key {key!r} has type {canonical}",
                    hint=f"keys must be one of {', '.join(sorted(KEY_TYPES))}",
                )
            keys.append(EntityKey(key, canonical))
        _check_column(event_time, "event-time column")
        if event_time in data_types and not (
            pa.types.is_timestamp(data_types[event_time]) or pa.types.is_date(data_types[event_time])
        ):
            raise ValidationError(
                f"Event-time column {event_time!r} is {data_types[event_time]}, not a timestamp or date",
                hint="cast it to a timestamp first",
            )
        if features is None:
            reserved = {k.name for k in keys} | {event_time}
            features = [c for c in data_types if c not in reserved]
        parsed = parse_features(features, data_types, 1)
        if not parsed:
            raise ValidationError(f"Feature group {name!r} needs at least one feature")
        clash = {f.name for f in parsed} & ({k.name for k in keys} | {event_time})
        if clash:
            raise ValidationError(f"{', '.join(sorted(clash))} cannot be both a feature and a key or the event time")
        tag_map = dict(tags) if isinstance(tags, Mapping) else dict.fromkeys(tags or (), "")
        now = datetime.now(UTC)
        group = FeatureGroup(
            name=name,
            entities=tuple(keys),
            event_time=event_time,
            features=tuple(parsed),
            ttl=parse_ttl(ttl),
            description=description,
            owner=owner or self._user,
            tags=tag_map,
            online=online,
            version=1,
            created_by=self._user,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._engine.begin() as conn:
                conn.execute(groups_table.insert().values(**self._row(group)))
                self._insert_features(conn, group.name, parsed, 0)
        except sa.exc.IntegrityError as exc:
            raise AlreadyExistsError(
                f"Feature group {name!r} already exists", hint="add features to it with add_features(), or drop it"
            ) from exc
        return group

    @staticmethod
    def _row(group: FeatureGroup) -> dict[str, Any]:
        return {
            "name": group.name,
            "entities": json.dumps([[k.name, k.dtype] for k in group.entities]),
            "event_time": group.event_time,
            "ttl_seconds": group.ttl.total_seconds() if group.ttl else None,
            "description": group.description,
            "owner": group.owner,
            "tags": json.dumps(group.tags),
            "online": group.online,
            "version": group.version,
            "created_by": group.created_by,
            "created_at": group.created_at,
            "updated_at": group.updated_at,
        }

    @staticmethod
    def _insert_features(conn: sa.Connection, group: str, features: Sequence[Feature], start: int) -> None:
        conn.execute(
            features_table.insert(),
            [
                {
                    "group_name": group,
                    "name": f.name,
                    "position": start + i,
                    "dtype": f.dtype,
                    "description": f.description,
                    "added_in_version": f.added_in_version,
                }
                for i, f in enumerate(features)
            ],
        )

    def get(self, name: str) -> FeatureGroup:
        groups = self._load(name)
        if not groups:
            import difflib

            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(close)}?" if close else "`mlake features list` shows the groups"
            raise NotFoundError(f"Feature group {name!r} does not exist", hint=hint)
        return groups[0]

    def exists(self, name: str) -> bool:
        return bool(self._load(name))

    def names(self) -> list[str]:
        with self._engine.connect() as conn:
            return [r.name for r in conn.execute(sa.select(groups_table.c.name).order_by(groups_table.c.name))]

    def all(self) -> list[FeatureGroup]:
        return self._load(None)

    def _load(self, name: str | None) -> list[FeatureGroup]:
        query = sa.select(groups_table).order_by(groups_table.c.name)
        fquery = sa.select(features_table).order_by(features_table.c.group_name, features_table.c.position)
        if name is not None:
            query = query.where(groups_table.c.name == name)
            fquery = fquery.where(features_table.c.group_name == name)
        with self._engine.connect() as conn:
            rows = list(conn.execute(query))
            feats: dict[str, list[Feature]] = {}
            for f in conn.execute(fquery):
                feats.setdefault(f.group_name, []).append(Feature(f.name, f.dtype, f.description, f.added_in_version))
        return [
            FeatureGroup(
                name=r.name,
                entities=tuple(EntityKey(k, t) for k, t in json.loads(r.entities)),
                event_time=r.event_time,
                features=tuple(feats.get(r.name, [])),
                ttl=timedelta(seconds=r.ttl_seconds) if r.ttl_seconds is not None else None,
                description=r.description,
                owner=r.owner,
                tags=json.loads(r.tags or "{}"),
                online=bool(r.online),
                version=r.version,
                created_by=r.created_by,
                created_at=_utc(r.created_at),
                updated_at=_utc(r.updated_at),
            )
            for r in rows
        ]

    def add_features(self, group: FeatureGroup, features: Sequence[Feature]) -> FeatureGroup:
        existing = {f.name.lower() for f in group.features} | {k.name.lower() for k in group.entities}
        existing.add(group.event_time.lower())
        taken = [f.name for f in features if f.name.lower() in existing]
        if taken:
            raise AlreadyExistsError(f"Feature group {group.name!r} already has {', '.join(taken)}")
        version = group.version + 1
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            self._insert_features(
                conn,
                group.name,
                [Feature(f.name, f.dtype, f.description, version) for f in features],
                len(group.features),
            )
            conn.execute(
                groups_table.update().where(groups_table.c.name == group.name).values(version=version, updated_at=now)
            )
        return self.get(group.name)

    def update(self, group: FeatureGroup, **values: Any) -> FeatureGroup:
        """Change description, owner, tags, TTL or the online flag (not keys, event time or features)."""
        row: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        for key, value in values.items():
            if key == "tags":
                row["tags"] = json.dumps(dict(value) if isinstance(value, Mapping) else dict.fromkeys(value, ""))
            elif key == "ttl":
                parsed = parse_ttl(value)
                row["ttl_seconds"] = parsed.total_seconds() if parsed else None
            elif key in ("description", "owner", "online"):
                row[key] = value
            else:
                raise ValidationError(f"Cannot change {key!r} of a feature group", hint="create a new group instead")
        with self._engine.begin() as conn:
            conn.execute(groups_table.update().where(groups_table.c.name == group.name).values(**row))
        return self.get(group.name)

    def drop(self, name: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(features_table.delete().where(features_table.c.group_name == name))
            conn.execute(groups_table.delete().where(groups_table.c.name == name))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
