"""What a pipeline is: named steps with dependencies (a DAG), and triggers.

Steps run mlake's own operations — a quality ``check`` (a failing suite stops the steps that depend
on it), a ``monitor`` run (violations stop its dependants, after the monitor's own alert), a saved
``recipe``, a ``sql`` statement (``CREATE TABLE ... AS`` / ``INSERT``), ``maintain`` (apply the
lifecycle policies of ``table``, or of every table, on the pipeline's schedule), or a ``python`` function
(``module:function`` called with the lake and the step's context). A step's *inputs* are the tables
it reads; when none of their snapshots changed since the step last succeeded, the step is skipped
(cached).
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlake.errors import MlakeError


class PipelineError(MlakeError):
    """A pipeline definition or run cannot proceed as asked."""

    code = "pipeline_error"


class Step(BaseModel):
    """One node of the DAG."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["check", "monitor", "recipe", "sql", "python", "maintain"]
    depends_on: list[str] = Field(default_factory=list)
    inputs: list[str] = Field(default_factory=list)  # tables read; the cache key is their snapshots
    output: str | None = None  # the table written (recipe ``into``), recorded with its snapshot
    table: str | None = None  # check: the table checked; maintain: the table (None: every table)
    suite: str | dict[str, Any] | None = None  # check: suite YAML text, a dict, or a stored suite's name
    monitor: str | None = None  # monitor: the stored monitor's name (its target is an input)
    recipe: str | None = None
    version: int | None = None
    sql: str | None = None
    function: str | None = None  # python: "module:function"
    retries: int = 0
    backoff_seconds: float = 0.5
    engine: Literal["duckdb", "ray"] = "duckdb"  # recipe, check: its engine; python: "ray" runs it as a Ray task

    @model_validator(mode="after")
    def _complete(self) -> Step:
        need: dict[str, tuple[str, ...]] = {
            "check": ("table", "suite"),
            "monitor": ("monitor",),
            "recipe": ("recipe", "output"),
            "sql": ("sql",),
            "python": ("function",),
            "maintain": (),
        }
        missing = [f for f in need[self.kind] if getattr(self, f) in (None, "")]
        if missing:
            raise ValueError(f"a {self.kind} step needs {', '.join(missing)}")
        if self.engine == "ray" and self.kind not in ("recipe", "python", "check"):
            raise ValueError(
                f"a {self.kind} step runs in the worker; engine: ray is for recipe, check and python steps"
            )
        return self

    def input_tables(self) -> list[str]:
        found = list(self.inputs)
        if self.kind == "check" and self.table and self.table not in found:  # a maintain step is never cached
            found.append(self.table)
        return found


class Trigger(BaseModel):
    """Start a run when a table gets a new snapshot (``on_new_data``) or on a schedule (``cron``, five
    fields, UTC)."""

    model_config = ConfigDict(extra="forbid")

    on_new_data: str | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Trigger:
        if (self.on_new_data is None) == (self.cron is None):
            raise ValueError("a trigger has exactly one of on_new_data or cron")
        if self.cron is not None:
            from croniter import croniter

            if not croniter.is_valid(self.cron):
                raise ValueError(f"invalid cron expression {self.cron!r} (five fields: minute hour day month weekday)")
        return self


class Pipeline(BaseModel):
    """A named DAG of steps and its triggers."""

    name: str
    steps: list[Step]
    triggers: list[Trigger] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dag(self) -> Pipeline:
        names = [s.name for s in self.steps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"step names must be unique: {', '.join(dupes)}")
        for s in self.steps:
            unknown = [d for d in s.depends_on if d not in names]
            if unknown:
                raise ValueError(f"step {s.name!r} depends on unknown step(s) {', '.join(unknown)}")
        self.order()
        return self

    def order(self) -> list[Step]:
        """The steps in an order where each comes after its dependencies (ValueError on a cycle)."""
        by_name = {s.name: s for s in self.steps}
        done: list[str] = []
        visiting: set[str] = set()

        def visit(name: str, path: tuple[str, ...]) -> None:
            if name in done:
                return
            if name in visiting:
                raise ValueError(f"the steps form a cycle: {' -> '.join((*path, name))}")
            visiting.add(name)
            for dep in by_name[name].depends_on:
                visit(dep, (*path, name))
            visiting.discard(name)
            done.append(name)

        for s in self.steps:
            visit(s.name, ())
        return [by_name[n] for n in done]

    @classmethod
    def from_yaml(cls, text: str) -> Pipeline:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PipelineError(f"Invalid pipeline: {exc}", hint="see docs/processing.md#pipelines") from exc
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Pipeline:
        """A pipeline from its mapping form; a malformed one is a :class:`PipelineError`."""
        from pydantic import ValidationError as PydanticError

        try:
            return cls.model_validate(data)
        except PydanticError as exc:
            raise PipelineError(f"Invalid pipeline: {exc}", hint="see docs/processing.md#pipelines") from exc

    def to_yaml(self) -> str:
        return str(yaml.safe_dump(self.model_dump(exclude_defaults=True), sort_keys=False))
