"""Pipelines: DAGs of steps (checks, recipes, SQL, Python) with recorded runs, cached steps, triggers on
new data, and workers that claim triggered runs exactly once through the catalog database."""

from mlake.pipelines.model import Pipeline, PipelineError, Step, Trigger
from mlake.pipelines.service import PipelineRun, Pipelines, StepRun, Worker

__all__ = ["Pipeline", "PipelineError", "PipelineRun", "Pipelines", "Step", "StepRun", "Trigger", "Worker"]
