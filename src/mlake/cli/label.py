"""``mlake label ...``: labeling projects from the shell — create, next, submit, consolidate, progress,
auto, export, import, and human review loops (review-create, activate, review-results).

Each command is one call into ``lake.labeling`` (see :mod:`mlake.labeling.projects`); answers are JSON
(``'"cat"'``, ``'["a","b"]'``, ``'[{"x_min":0,...,"label":"car"}]'``) or a bare word for a class.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape

from mlake.cli.context import console, state
from mlake.cli.render import print_json

app = typer.Typer(
    help="Labeling projects over table rows, and human review loops of predictions.", no_args_is_help=True
)

Format = Literal["label_studio", "coco"]


def _json_or_word(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Project name: lower-case letters, digits, '_'.")],
    source_table: Annotated[str, typer.Argument(help="The table whose rows are labeled.")],
    id_column: Annotated[str, typer.Argument(help="The column identifying an item.")],
    task: Annotated[str, typer.Option(help="classification, multilabel, text, rating, spans, boxes, ranking")] = (
        "classification"
    ),
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="A class (repeat).")] = None,
    annotators: Annotated[int, typer.Option(help="Annotators per item (1-9).")] = 1,
    instructions: Annotated[str, typer.Option(help="What annotators are asked.")] = "",
    gold: Annotated[str | None, typer.Option(help='Gold answers as JSON: {"item": answer}.')] = None,
    low: Annotated[float | None, typer.Option(help="rating: lowest value.")] = None,
    high: Annotated[float | None, typer.Option(help="rating: highest value.")] = None,
) -> None:
    """Create a labeling project over a table's rows."""
    bounds = (low, high) if low is not None and high is not None else None
    p = state.lake().labeling.create_project(
        name,
        source_table,
        id_column,
        task,  # type: ignore[arg-type]
        label or [],
        instructions=instructions,
        annotators_per_item=annotators,
        gold=json.loads(gold) if gold else None,
        bounds=bounds,
    )
    console.print(f"created labeling project [bold]{escape(p.name)}[/bold]; answers go to {p.answers_table}")


@app.command("next")
def next_items(name: str, n: Annotated[int, typer.Option("-n", help="How many items.")] = 10) -> None:
    """Print your next items to answer (JSON lines: item_id and row)."""
    for q in state.lake().labeling.next_items(name, n):
        print(json.dumps({"item_id": q.item_id, "row": q.row}, default=str))


@app.command("submit")
def submit(
    name: str,
    item_id: str,
    answer: Annotated[str, typer.Argument(help="JSON, or a bare word for a class.")],
    seconds: Annotated[float | None, typer.Option(help="Time spent on the item.")] = None,
) -> None:
    """Submit your answer to an item (checked against the label schema)."""
    state.lake().labeling.submit(name, item_id, _json_or_word(answer), seconds=seconds)
    console.print(f"answer to {escape(item_id)} recorded")


@app.command("consolidate")
def consolidate(
    name: str, method: Annotated[str | None, typer.Option(help="dawid_skene or majority_vote.")] = None
) -> None:
    """Consolidate the answers into labeling.<project>__labels."""
    result = state.lake().labeling.consolidate(name, method=method)
    console.print(f"{result.labels.num_rows} item(s) labeled by {result.method}")


@app.command("progress")
def progress(name: str) -> None:
    """Items done, agreement and per-annotator accuracy on gold and speed (JSON)."""
    print_json(state.lake().labeling.progress(name).to_dict())


@app.command("auto")
def auto(
    name: str,
    target: Annotated[float, typer.Option(help="Accuracy target of the auto-labels.")] = 0.95,
    min_human: Annotated[int, typer.Option(help="Human labels needed before a model is trained.")] = 1250,
) -> None:
    """Run one auto-labeling round."""
    r = state.lake().labeling.auto_label(name, target_accuracy=target, min_human=min_human)
    console.print(
        f"round {r.round}: {r.status} — {len(r.auto_items)} auto-labeled, {len(r.queue)} queued for people"
        + (f", threshold {r.threshold:.3f}" if r.threshold is not None else "")
    )


@app.command("export")
def export(
    name: str,
    out: Annotated[Path, typer.Argument(help="File to write (JSON).")],
    format: Annotated[str, typer.Option(help="label_studio or coco.")] = "label_studio",
    labels: Annotated[bool, typer.Option("--labels", help="Export consolidated labels, not answers.")] = False,
) -> None:
    """Export answers (or labels) as Label Studio JSON or COCO."""
    data = state.lake().labeling.export(name, format, what="labels" if labels else "answers")  # type: ignore[arg-type]
    out.write_text(json.dumps(data, indent=2, default=str))
    console.print(f"wrote {escape(str(out))}")


@app.command("import")
def import_(
    name: str,
    file: Annotated[Path, typer.Argument(help="A Label Studio JSON export or a COCO file.")],
    format: Annotated[str, typer.Option(help="label_studio or coco.")] = "label_studio",
) -> None:
    """Import answers, all or none (each checked like a submitted one)."""
    n = state.lake().labeling.import_answers(name, json.loads(file.read_text()), format)  # type: ignore[arg-type]
    console.print(f"imported {n} answer(s)")


@app.command("review-create")
def review_create(
    name: str,
    predictions_table: str,
    id_column: str,
    prediction_column: str,
    confidence_column: str,
    threshold: Annotated[float, typer.Option(help="Send rows with confidence below this.")] = 0.5,
    where: Annotated[str | None, typer.Option(help="Also send rows matching this SQL predicate.")] = None,
    audit_percent: Annotated[float, typer.Option(help="Also send this random percentage.")] = 0.0,
    reviewers: Annotated[int, typer.Option(help="Reviewers per row.")] = 1,
    seed: Annotated[int, typer.Option(help="Seed of the audit sample.")] = 0,
) -> None:
    """Create a human review loop over a table of predictions."""
    state.lake().labeling.create_review_loop(
        name,
        predictions_table,
        id_column,
        prediction_column,
        confidence_column,
        threshold=threshold,
        where=where,
        audit_percent=audit_percent,
        reviewers=reviewers,
        seed=seed,
    )
    console.print(f"created review loop [bold]{escape(name)}[/bold]; activate it with: mlake label activate {name}")


@app.command("activate")
def activate(name: str) -> None:
    """Send the rows the loop's rules pick to reviewers."""
    console.print(f"{state.lake().labeling.activate(name).num_rows} row(s) sent for review")


@app.command("review-results")
def review_results(name: str) -> None:
    """Join the reviews back to the predictions; print the overrule metrics (JSON)."""
    print_json(state.lake().labeling.review_results(name).to_dict())
