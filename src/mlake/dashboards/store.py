"""Saved queries, dashboards and their tiles in the control-plane database (migration area ``dashboards``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from mlake.errors import NotFoundError, PermissionDeniedError, ValidationError
from mlake.metastore import Migration, metadata

CHART_TYPES = ("table", "bar", "line", "area", "scatter")

queries_table = sa.Table(
    "mlake_saved_queries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("sql", sa.Text, nullable=False),
    sa.Column("chart", sa.Text, nullable=False),  # JSON: {"type": "bar", "x": "col", "y": ["col", ...]}
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
dashboards_table = sa.Table(
    "mlake_dashboards",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("refresh_seconds", sa.Integer, nullable=False, default=0),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
tiles_table = sa.Table(
    "mlake_dashboard_tiles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("dashboard_id", sa.Integer, sa.ForeignKey("mlake_dashboards.id"), nullable=False, index=True),
    sa.Column("query_id", sa.Integer, sa.ForeignKey("mlake_saved_queries.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("width", sa.Integer, nullable=False, default=1),
)


def _create(conn: Connection) -> None:
    for t in (queries_table, dashboards_table, tiles_table):
        t.create(conn, checkfirst=True)


MIGRATIONS = [Migration("dashboards", 1, "saved queries, dashboards, tiles", _create)]


def check_chart(chart: dict[str, Any] | None) -> dict[str, Any]:
    chart = dict(chart or {"type": "table"})
    kind = chart.get("type", "table")
    if kind not in CHART_TYPES:
        raise ValidationError(f"Unknown chart type {kind!r}", hint=f"use one of {', '.join(CHART_TYPES)}")
    y = chart.get("y") or []
    if isinstance(y, str):
        y = [y]
    if not isinstance(y, list) or not all(isinstance(v, str) for v in y):
        raise ValidationError("Chart 'y' must be a column name or a list of them")
    x = chart.get("x")
    if x is not None and not isinstance(x, str):
        raise ValidationError("Chart 'x' must be a column name")
    return {"type": kind, "x": x, "y": y}


@dataclass
class SavedQuery:
    id: int
    name: str
    sql: str
    chart: dict[str, Any]
    owner: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["updated_at"] = self.updated_at.isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SavedQuery:
        return cls(
            d["id"],
            d["name"],
            d["sql"],
            d["chart"],
            d["owner"],
            datetime.fromisoformat(d["created_at"]),
            datetime.fromisoformat(d["updated_at"]),
        )


@dataclass
class Tile:
    id: int
    query: SavedQuery
    position: int
    width: int

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "position": self.position, "width": self.width, "query": self.query.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tile:
        return cls(d["id"], SavedQuery.from_dict(d["query"]), d["position"], d["width"])


@dataclass
class Dashboard:
    id: int
    name: str
    description: str | None
    refresh_seconds: int
    owner: str
    created_at: datetime
    tiles: list[Tile] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "refresh_seconds": self.refresh_seconds,
            "owner": self.owner,
            "created_at": self.created_at.isoformat(),
            "tiles": [t.to_dict() for t in self.tiles],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Dashboard:
        tiles = [Tile.from_dict(t) for t in d["tiles"]]
        created = datetime.fromisoformat(d["created_at"])
        return cls(d["id"], d["name"], d["description"], d["refresh_seconds"], d["owner"], created, tiles)


def _aware(v: datetime) -> datetime:
    return v if v.tzinfo else v.replace(tzinfo=UTC)


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError("A name must have 1 to 200 characters")
    return name


class DashboardStore:
    """CRUD for saved queries and dashboards; owners and superusers change them.

    A store is bound to one actor (``lake.dashboards`` binds the lake's principal), who owns what it
    saves and may change what it owns (a superuser: everything), so the same calls serve every face and
    the remote client (:mod:`mlake.client.dashboards`) without anyone passing who they are.

    A saved query is shown — its name, its SQL, as a tile of a dashboard — only to whom ``can_read_sql``
    allows: ``lake.dashboards`` passes the actor's rule, under which a principal sees a query only when
    it may read every table its SQL names (the SQL itself would name tables it may not know of)."""

    def __init__(
        self,
        engine: Engine,
        can_read_sql: Callable[[str], bool] | None = None,
        *,
        actor: str = "owner",
        superuser: bool = True,
    ) -> None:
        self._engine = engine
        self._visible = can_read_sql or (lambda sql: True)
        self._actor = actor
        self._superuser = superuser

    def _may_change(self, owner: str, what: str) -> None:
        if self._actor != owner and not self._superuser:
            raise PermissionDeniedError(f"Only {owner!r} (its owner) or a superuser may change this {what}")

    # --- saved queries ----------------------------------------------------------------------------

    @staticmethod
    def _query(r: Any) -> SavedQuery:
        return SavedQuery(r.id, r.name, r.sql, json.loads(r.chart), r.owner, _aware(r.created_at), _aware(r.updated_at))

    def save_query(self, name: str, sql: str, chart: dict[str, Any] | None = None) -> SavedQuery:
        """Save a query with its chart (``{"type": "bar", "x": col, "y": [cols]}``); the actor owns it."""
        if not sql or not sql.strip():
            raise ValidationError("A saved query needs SQL")
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            result = conn.execute(
                queries_table.insert().values(
                    name=_name(name),
                    sql=sql.strip(),
                    chart=json.dumps(check_chart(chart)),
                    owner=self._actor,
                    created_at=now,
                    updated_at=now,
                )
            )
            new_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
        return self.query(new_id)

    def query(self, query_id: int) -> SavedQuery:
        with self._engine.connect() as conn:
            r = conn.execute(sa.select(queries_table).where(queries_table.c.id == query_id)).first()
        if r is None or not self._visible(r.sql):
            raise NotFoundError(f"No saved query with id {query_id} (or it reads tables you may not read)")
        return self._query(r)

    def queries(self) -> list[SavedQuery]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(queries_table).order_by(queries_table.c.name))
            return [self._query(r) for r in rows if self._visible(r.sql)]

    def update_query(
        self,
        query_id: int,
        *,
        name: str | None = None,
        sql: str | None = None,
        chart: dict[str, Any] | None = None,
    ) -> SavedQuery:
        q = self.query(query_id)
        self._may_change(q.owner, "saved query")
        values: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if name is not None:
            values["name"] = _name(name)
        if sql is not None:
            if not sql.strip():
                raise ValidationError("A saved query needs SQL")
            values["sql"] = sql.strip()
        if chart is not None:
            values["chart"] = json.dumps(check_chart(chart))
        with self._engine.begin() as conn:
            conn.execute(queries_table.update().where(queries_table.c.id == query_id).values(**values))
        return self.query(query_id)

    def delete_query(self, query_id: int) -> None:
        q = self.query(query_id)
        self._may_change(q.owner, "saved query")
        with self._engine.begin() as conn:
            conn.execute(tiles_table.delete().where(tiles_table.c.query_id == query_id))
            conn.execute(queries_table.delete().where(queries_table.c.id == query_id))

    # --- dashboards -------------------------------------------------------------------------------

    def create_dashboard(self, name: str, description: str | None = None, refresh_seconds: int = 60) -> Dashboard:
        if refresh_seconds < 0 or refresh_seconds > 86_400:
            raise ValidationError("refresh_seconds must be between 0 (never) and 86400")
        with self._engine.begin() as conn:
            result = conn.execute(
                dashboards_table.insert().values(
                    name=_name(name),
                    description=description,
                    refresh_seconds=refresh_seconds,
                    owner=self._actor,
                    created_at=datetime.now(UTC),
                )
            )
            new_id = int(result.inserted_primary_key[0]) if result.inserted_primary_key else 0
        return self.dashboard(new_id)

    def dashboards(self) -> list[Dashboard]:
        with self._engine.connect() as conn:
            ids = [r.id for r in conn.execute(sa.select(dashboards_table.c.id).order_by(dashboards_table.c.name))]
        return [self.dashboard(i) for i in ids]

    def dashboard(self, dashboard_id: int) -> Dashboard:
        with self._engine.connect() as conn:
            r = conn.execute(sa.select(dashboards_table).where(dashboards_table.c.id == dashboard_id)).first()
            if r is None:
                raise NotFoundError(f"No dashboard with id {dashboard_id}")
            tiles = list(
                conn.execute(
                    sa.select(tiles_table, queries_table)
                    .join(queries_table, tiles_table.c.query_id == queries_table.c.id)
                    .where(tiles_table.c.dashboard_id == dashboard_id)
                    .order_by(tiles_table.c.position, tiles_table.c.id)
                )
            )
        board = Dashboard(r.id, r.name, r.description, r.refresh_seconds, r.owner, _aware(r.created_at))
        for t in tiles:
            m = t._mapping
            q = SavedQuery(
                m[queries_table.c.id],
                m[queries_table.c.name],
                m[queries_table.c.sql],
                json.loads(m[queries_table.c.chart]),
                m[queries_table.c.owner],
                _aware(m[queries_table.c.created_at]),
                _aware(m[queries_table.c.updated_at]),
            )
            if self._visible(q.sql):  # a tile over tables the viewer may not read is left out, name and all
                board.tiles.append(Tile(m[tiles_table.c.id], q, m[tiles_table.c.position], m[tiles_table.c.width]))
        return board

    def update_dashboard(
        self,
        dashboard_id: int,
        *,
        name: str | None = None,
        description: str | None = None,
        refresh_seconds: int | None = None,
    ) -> Dashboard:
        d = self.dashboard(dashboard_id)
        self._may_change(d.owner, "dashboard")
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = _name(name)
        if description is not None:
            values["description"] = description
        if refresh_seconds is not None:
            if refresh_seconds < 0 or refresh_seconds > 86_400:
                raise ValidationError("refresh_seconds must be between 0 (never) and 86400")
            values["refresh_seconds"] = refresh_seconds
        if values:
            with self._engine.begin() as conn:
                conn.execute(dashboards_table.update().where(dashboards_table.c.id == dashboard_id).values(**values))
        return self.dashboard(dashboard_id)

    def delete_dashboard(self, dashboard_id: int) -> None:
        d = self.dashboard(dashboard_id)
        self._may_change(d.owner, "dashboard")
        with self._engine.begin() as conn:
            conn.execute(tiles_table.delete().where(tiles_table.c.dashboard_id == dashboard_id))
            conn.execute(dashboards_table.delete().where(dashboards_table.c.id == dashboard_id))

    def pin(self, dashboard_id: int, query_id: int, width: int = 1) -> Dashboard:
        """Add a saved query's chart to a dashboard (at the end)."""
        d = self.dashboard(dashboard_id)
        self._may_change(d.owner, "dashboard")
        self.query(query_id)
        if width not in (1, 2, 3):
            raise ValidationError("A tile's width is 1, 2 or 3 columns")
        position = max((t.position for t in d.tiles), default=-1) + 1
        with self._engine.begin() as conn:
            conn.execute(
                tiles_table.insert().values(
                    dashboard_id=dashboard_id, query_id=query_id, position=position, width=width
                )
            )
        return self.dashboard(dashboard_id)

    def unpin(self, dashboard_id: int, tile_id: int) -> Dashboard:
        d = self.dashboard(dashboard_id)
        self._may_change(d.owner, "dashboard")
        if not any(t.id == tile_id for t in d.tiles):
            raise NotFoundError(f"Dashboard {dashboard_id} has no tile {tile_id}")
        with self._engine.begin() as conn:
            conn.execute(tiles_table.delete().where(tiles_table.c.id == tile_id))
        return self.dashboard(dashboard_id)
