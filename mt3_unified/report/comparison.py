"""Single-task against all-task mixtures in one table: OMR SER and AMT onset F1 of the
models each mixture trained, read from the eval dirs `mt3u eval` wrote.

Each single-task eval dir (e.g. the OMR-only model's, evaluated with ``--pairs
image_to_lmx``) gives the left value of a row, the all-task eval dir of the same split
gives the right one; a row is one headline metric on one split (``test``, and the
held-out rendering style ``test_heldout`` where it was evaluated). Only the ``model``
row of each results table counts; the others (random pairing, ...) are floors.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.eval_context import MODEL
from mt3_unified.infer.eval_results import markdown_table
from mt3_unified.report.headlines import read_pairs

# {pair: (task, metric column of its results table, which way is better)}
HEADLINES = {
    "image_to_lmx": ("OMR", "SER (%)", "lower"),
    "audio_to_midi": ("AMT", "onset F1 @50ms", "higher"),
}
SPLIT_NAMES = {"test": "test", "test_heldout": "held-out style (test_heldout)"}
COLUMNS = [
    "task", "metric", "split", "single-task mixture", "all-task mixture", "all - single",
    "examples (single / all)", "step (single / all)",
]  # fmt: skip
SOURCE_COLUMNS = ["task", "split", "single-task model", "eval dir", "all-task model", "eval dir"]


class ComparisonError(Mt3UnifiedError, ValueError):
    """Eval dirs that cannot make the table: the message names the dirs."""


@dataclasses.dataclass(frozen=True)
class Score:
    """One headline value of one eval dir: the model row's metric on one split."""

    value: float | None
    examples: int | None
    step: int | None
    model: str  # the run's mixture, else its model dir
    eval_dir: str


def read_scores(eval_dir: str | Path) -> dict[tuple[str, str], Score]:
    """{(pair, split): Score} of the headline pairs in an eval dir's results.json."""
    out = {}
    for pair, table in read_pairs(eval_dir).items():
        metric = HEADLINES.get(pair, (None, None))[1]
        row = table.rows.get(MODEL)
        if metric is None or row is None or metric not in row:
            continue
        out[(pair, table.split)] = Score(
            value=row[metric],
            examples=row.get("examples"),
            step=table.step,
            model=table.model,
            eval_dir=str(eval_dir),
        )
    return out


def _merged(eval_dirs: Sequence[str | Path], side: str) -> dict[tuple[str, str], Score]:
    merged: dict[tuple[str, str], Score] = {}
    for eval_dir in eval_dirs:
        for key, score in read_scores(eval_dir).items():
            if key in merged:
                raise ComparisonError(
                    f"{side} eval dirs {merged[key].eval_dir} and {eval_dir} both give "
                    f"{key[0]} on {key[1]}: name one of them"
                )
            merged[key] = score
    return merged


def split_order(split: str) -> tuple[int, str]:
    order = list(SPLIT_NAMES)
    return (order.index(split) if split in order else len(order), split)


def compare(single_task: Sequence[str | Path], all_task: Sequence[str | Path]) -> dict:
    """The comparison (what comparison.json holds): one row per headline pair and split
    that a single-task eval dir gives, beside the all-task eval dir's value (None where
    no all-task dir has that split)."""
    singles, alls = _merged(single_task, "single-task"), _merged(all_task, "all-task")
    if not singles:
        raise ComparisonError(
            f"no OMR or AMT model row in the single-task eval dirs {[str(d) for d in single_task]}"
        )
    rows = []
    for pair, (task, metric, better) in HEADLINES.items():
        splits = sorted((split for p, split in singles if p == pair), key=split_order)
        for split in splits:
            single, together = singles[(pair, split)], alls.get((pair, split))
            difference = None
            if together is not None and None not in (single.value, together.value):
                difference = round(together.value - single.value, 4)
            rows.append({
                "task": task, "pair": pair, "metric": metric, "better": better,
                "split": split, "difference": difference,
                "single_task": dataclasses.asdict(single),
                "all_task": None if together is None else dataclasses.asdict(together),
            })  # fmt: skip
    return {"rows": rows}


def markdown(comparison: dict) -> str:
    """comparison.md: the values table, then where each value comes from."""
    values, sources, steps = [], [], set()
    for row in comparison["rows"]:
        single, together = row["single_task"], row["all_task"] or {}
        split = SPLIT_NAMES.get(row["split"], row["split"])
        values.append([
            row["task"], f"{row['metric']}, {row['better']} is better", split,
            single["value"], together.get("value"), row["difference"],
            f"{_shown(single['examples'])} / {_shown(together.get('examples'))}",
            f"{_shown(single['step'])} / {_shown(together.get('step'))}",
        ])  # fmt: skip
        sources.append([
            row["task"], split, single["model"], single["eval_dir"],
            together.get("model"), together.get("eval_dir"),
        ])  # fmt: skip
        steps |= {step for step in (single["step"], together.get("step")) if step is not None}
    lines = [
        "# Single-task against all-task mixture",
        "",
        "Each model trained with the same gin and steps; each single-task model evaluated "
        "on its own pair, the all-task model on every pair, on the same examples.",
        "",
        markdown_table(COLUMNS, values),
    ]
    if len(steps) > 1:
        shown = ", ".join(str(step) for step in sorted(steps))
        lines += ["", f"The models were trained for different steps ({shown}): "
                  "this is not a comparison at the same budget."]  # fmt: skip
    lines += ["", "## Sources", "", markdown_table(SOURCE_COLUMNS, sources)]
    return "\n".join(lines) + "\n"


def _shown(value) -> str:
    return "n/a" if value is None else str(value)


def write_comparison(
    single_task: Sequence[str | Path], all_task: Sequence[str | Path], output: str | Path
) -> tuple[Path, Path]:
    """Writes ``output`` (the Markdown table) and the JSON beside it (``.json``)."""
    comparison = compare(single_task, all_task)
    return write_table(markdown(comparison), comparison, output)


def write_table(text: str, found: dict, output: str | Path) -> tuple[Path, Path]:
    """Writes ``text`` to ``output`` and ``found`` as JSON beside it (``.json``)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    as_json = output.with_suffix(".json")
    as_json.write_text(json.dumps(found, indent=2), encoding="utf-8")
    return output, as_json
