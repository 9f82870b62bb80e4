"""An eval dir's results tables read by pair: each pair's rows by system, with what the
reports that set eval dirs side by side need to know of them (split, the model's step and
name, how its outputs were judged)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from mt3_unified.infer.eval_context import MODEL, MODEL_RANDOM, RANDOM, TITLES
from mt3_unified.infer.eval_results import rows_titled

# The rows the reports set side by side: the model, the model paired at random, and the
# random pairing (the floor).
SYSTEMS = (MODEL, MODEL_RANDOM, RANDOM)


@dataclasses.dataclass(frozen=True)
class PairRows:
    """One pair's results table in one eval dir."""

    rows: dict[str, dict]  # {system: {column: value}}: model, random pairing, ...
    split: str
    step: int | None
    model: str  # the run's mixture, else its model dir
    judged: str  # judged_as of the eval dir


def judged_as(results: dict) -> str:
    """Who heard or read the outputs and how they were decoded: figures set side by side
    must agree on it, or they differ in kind."""
    judges = {key: results.get(key) for key in ("transcriber", "reader")}
    return json.dumps({**judges, "decoding": results.get("decoding") or {}}, sort_keys=True)


def read_pairs(eval_dir: str | Path) -> dict[str, PairRows]:
    """{pair: PairRows} of every pair with a results table in the eval dir's results.json
    (the first table of a title counts)."""
    from mt3_unified.report.evaluation import load_results

    results = load_results(Path(eval_dir))
    shared = {
        "split": results.get("split", "?"),
        "step": results.get("step"),
        "model": results.get("mixture") or results.get("model_dir") or "?",
        "judged": judged_as(results),
    }
    found = {}
    for pair, title in TITLES.items():
        rows = rows_titled(results, title)
        if rows:
            found[pair] = PairRows(rows=rows, **shared)
    return found
