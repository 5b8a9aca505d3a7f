"""Online reads: the latest values of some features for one or many entities, with a status for each.

Status per value:
- ``present``: the store has the entity's latest row; the value may be NULL (the row had NULL, or the
  feature was added to the group after that row was written — offline reads it as NULL too);
- ``missing``: the store knows nothing about the entity in that group;
- ``expired``: the latest value is older than the group's TTL at the moment of the read — the same rule
  as offline, where a value with ``t - event_time > ttl`` is NULL. Expired values are returned as NULL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.errors import ValidationError
from mlake.features.groups import FeatureGroup
from mlake.features.online.base import OnlineStore, entity_key
from mlake.features.types import decode_value

if TYPE_CHECKING:
    import pandas as pd

PRESENT, MISSING, EXPIRED = "present", "missing", "expired"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class OnlineFeatures:
    """Values and statuses, one row per entity asked for, in the order asked."""

    entities: list[dict[str, Any]]
    features: list[str]  # output names, in the order asked
    values: list[dict[str, Any]]
    statuses: list[dict[str, str]]
    event_times: list[dict[str, datetime | None]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "results": [
                {
                    "entity": e,
                    "values": v,
                    "statuses": s,
                    "event_times": {k: (t.isoformat() if t else None) for k, t in et.items()},
                }
                for e, v, s, et in zip(self.entities, self.values, self.statuses, self.event_times, strict=True)
            ],
        }

    def to_arrow(self) -> pa.Table:
        rows = [{**e, **v} for e, v in zip(self.entities, self.values, strict=True)]
        return pa.Table.from_pylist(rows)

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def __len__(self) -> int:
        return len(self.entities)


def normalize_keys(keys: Any) -> list[dict[str, Any]]:
    """Entities as a list of {key column: value}: accepts one dict, a list of dicts, or a dict of lists."""
    if keys.__class__ is dict and not any(v.__class__ in (list, tuple) for v in keys.values()):
        return [keys.copy()]  # one entity as a plain dict: the common online read
    if isinstance(keys, Mapping):
        values = list(keys.values())
        if values and all(isinstance(v, list | tuple) for v in values):
            lengths = {len(v) for v in values}
            if len(lengths) != 1:
                raise ValidationError("Entity key lists have different lengths")
            names = list(keys)
            return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
        return [dict(keys)]
    if isinstance(keys, Sequence) and not isinstance(keys, str):
        out = []
        for k in keys:
            if not isinstance(k, Mapping):
                raise ValidationError(
                    f"Cannot read the entity {k!r}", hint='give entities as dicts, e.g. [{"customer_id": 1}]'
                )
            out.append(dict(k))
        return out
    raise ValidationError("Cannot read the entities", hint='give a dict or a list of dicts, e.g. [{"customer_id": 1}]')


# Payloads are the store's own compact JSON objects, so the C scanner is called directly (``json.loads``
# adds a Python layer and two whitespace matches per call). The second parses every JSON integer as a
# float: for a payload whose requested features are all doubles it does in C what ``_as_double`` would do
# per value (the other features of the payload are not read).
def _scanner(decoder: json.JSONDecoder) -> Callable[[str, int], tuple[Any, int]]:
    """The decoder's C scanner: (text, index) -> (object, end index)."""
    scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]  # set in __init__
    return scan


_scan_payload = _scanner(json.JSONDecoder())
_scan_doubles = _scanner(json.JSONDecoder(parse_int=float))


@dataclass(frozen=True)
class GroupPlan:
    group: FeatureGroup
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    decoders: tuple[Callable[[Any], Any], ...]
    key_names: tuple[str, ...]
    ttl_us: int | None
    # The hot path's view of the same plan, worked out once so a read allocates little: (feature, output
    # name, decoder or None where the JSON value is already the answer) and the payload parser to use.
    columns: tuple[tuple[str, str, Callable[[Any], Any] | None], ...] = ()
    scan: Callable[[str, int], tuple[Any, int]] = _scan_payload  # (payload, 0) -> (object, end)
    plain: bool = False  # no value needs a decoder: the payload's values are the answer
    present: Mapping[str, str] = field(default_factory=dict)  # output name -> PRESENT, copied into each row


@dataclass(frozen=True)
class ReadPlan:
    """What an online read needs, worked out once per feature list (see FeatureStore._read_plan)."""

    groups: tuple[GroupPlan, ...]
    features: tuple[str, ...]


def _identity(value: Any) -> Any:
    return value


def _as_double(value: Any) -> Any:
    """A double stored as a JSON integer (``1`` for ``1.0``) read back as a float."""
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


_PASS_THROUGH = ("string", "long", "int", "bool")
_DOUBLES = ("double", "float")


def _decoder(dtype: str) -> Callable[[Any], Any]:
    if dtype in _PASS_THROUGH:
        return _identity
    if dtype in _DOUBLES:
        return _as_double
    return lambda v: decode_value(v, dtype)


def _group_plan(group: FeatureGroup, feats: list[str], outs: list[str]) -> GroupPlan:
    dtypes = [group.feature(f).dtype for f in feats]
    all_doubles = bool(dtypes) and all(d in _DOUBLES for d in dtypes)
    columns = tuple(
        (f, out, None if all_doubles or d in _PASS_THROUGH else _decoder(d))
        for f, out, d in zip(feats, outs, dtypes, strict=True)
    )
    return GroupPlan(
        group,
        tuple(feats),
        tuple(outs),
        tuple(_decoder(d) for d in dtypes),
        tuple(group.key_names),
        group.ttl_us,
        columns,
        _scan_doubles if all_doubles else _scan_payload,
        all(decode is None for _, _, decode in columns),
        dict.fromkeys(outs, PRESENT),
    )


def plan_read(selected: list[tuple[FeatureGroup, list[str]]], names: list[list[str]]) -> ReadPlan:
    groups = tuple(_group_plan(group, feats, outs) for (group, feats), outs in zip(selected, names, strict=True))
    return ReadPlan(groups, tuple(o for outs in names for o in outs))


def _now_us(now: datetime | None) -> int:
    if now is None:
        return time.time_ns() // 1000
    return int(reading_instant(now).timestamp() * 1_000_000)


def reading_instant(now: datetime | None) -> datetime:
    """The moment an online read is judged at (TTLs): now, or ``now`` given, a naive value read as UTC."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


_ABSENT = object()

RowPolicy = Callable[["GroupPlan", list[dict[str, Any]], list[Any]], dict[int, dict[str, Any]]]
"""A reader's masks and row filters over one group's stored rows: (group plan, entities, stored records)
-> {entity index: the visible row (event time and features, masked)}; an entity left out is hidden."""


@dataclass(frozen=True)
class GroupPolicy:
    """How one group is read for a reader with masks, row filters or column limits on its offline table."""

    rows: RowPolicy
    shows_event_time: bool  # whether the reader may read the event-time column


def _keys_of(gp: GroupPlan, entities: list[dict[str, Any]]) -> list[str]:
    if len(entities) == 1 and len(gp.key_names) == 1:  # one entity, one key: the common online read
        value = entities[0].get(gp.key_names[0], _ABSENT)
        if value.__class__ in (int, str):
            return [str(value)]
    keys = []
    for e in entities:
        try:
            keys.append(entity_key([e[k] for k in gp.key_names]))
        except KeyError as exc:
            raise ValidationError(
                f"Entity {e!r} lacks {exc.args[0]!r}, a key of feature group {gp.group.name!r}",
                hint=f"{gp.group.name} is keyed by {', '.join(gp.key_names)}",
            ) from None
    return keys


def read_online(
    store: OnlineStore,
    plan: ReadPlan,
    entities: list[dict[str, Any]],
    now: datetime | None = None,
    policies: Mapping[str, GroupPolicy] | None = None,
) -> OnlineFeatures:
    """The values of ``plan`` for ``entities``; a group named in ``policies`` is read through the reader's
    masks and row filters (a row they hide is ``missing``, as if the store had none)."""
    now_us = _now_us(now)
    result = OnlineFeatures(
        entities, list(plan.features), [{} for _ in entities], [{} for _ in entities], [{} for _ in entities]
    )
    for gp in plan.groups:
        stored = store.read(gp.group.name, _keys_of(gp, entities))
        policy = policies.get(gp.group.name) if policies else None
        if policy is None:
            _fill(gp, stored, now_us, result)
        else:
            _fill_visible(gp, policy, stored, now_us, result)
    return result


def _fill(gp: GroupPlan, stored: list[Any], now_us: int, result: OnlineFeatures) -> None:
    """The stored values as they are (the hot path: no masks or filters)."""
    name, ttl_us, columns, scan = gp.group.name, gp.ttl_us, gp.columns, gp.scan
    values, statuses, times = result.values, result.statuses, result.event_times
    for i, record in enumerate(stored):
        row_values, row_status = values[i], statuses[i]
        if record is None:
            for _, out, _ in columns:
                row_values[out] = None
                row_status[out] = MISSING
            times[i][name] = None
            continue
        event_us = record.event_time_us
        times[i][name] = _EPOCH + timedelta(microseconds=event_us)
        if ttl_us is not None and now_us - event_us > ttl_us:
            for _, out, _ in columns:
                row_values[out] = None
                row_status[out] = EXPIRED
            continue
        payload = scan(record.payload, 0)[0]
        row_status.update(gp.present)
        if gp.plain:
            row_values.update(zip(gp.outputs, map(payload.get, gp.features), strict=True))
            continue
        get = payload.get
        for f, out, decode in columns:
            value = get(f)
            row_values[out] = value if decode is None or value is None else decode(value)


def _fill_visible(gp: GroupPlan, policy: GroupPolicy, stored: list[Any], now_us: int, result: OnlineFeatures) -> None:
    """The stored values run through a reader's masks and row filters."""
    group, values, statuses, times = gp.group, result.values, result.statuses, result.event_times
    visible = policy.rows(gp, result.entities, stored)
    for i, record in enumerate(stored):
        row = visible.get(i)
        if record is None or row is None:
            status = MISSING
        elif gp.ttl_us is not None and now_us - record.event_time_us > gp.ttl_us:
            status = EXPIRED
        else:
            status = PRESENT
        for f, out in zip(gp.features, gp.outputs, strict=True):
            values[i][out] = row[f] if status == PRESENT and row is not None else None
            statuses[i][out] = status
        shown = row.get(group.event_time) if row is not None and policy.shows_event_time else None
        times[i][group.name] = shown if isinstance(shown, datetime) else None
