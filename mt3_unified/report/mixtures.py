"""Several mixtures' models side by side, as the paper's mixture tables put them: one table a
pair, a row a labelled model (and, where its table has one, the model paired at random),
a column a headline metric on a split, read from `mt3u eval` dirs; a label's eval dirs of
one pair and split (seeds) shown as their mean and range, the random pairing from the first
label that has it."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.eval_context import MODEL, MODEL_RANDOM, RANDOM, TITLES
from mt3_unified.infer.eval_results import markdown_table
from mt3_unified.report.comparison import split_order, write_table
from mt3_unified.report.headlines import SYSTEMS, read_pairs
from mt3_unified.report.step_curve import spread_cell

# {pair: ((metric column of its results table, which way is better), ...)}: what the
# paper's tables report of each pair, and what says whether a reading gets the pitches.
HEADLINES = {
    "image_to_lmx": (("SER (%)", "lower"), ("SER, pitches masked (%)", "lower"),
                     ("EMD pitch", "lower")),
    "audio_to_midi": (("onset F1 @50ms", "higher"), ("onset F1 @200ms", "higher")),
    "lmx_to_image": (("code accuracy", "higher"),),
    "midi_to_audio": (("onset F1 @50ms", "higher"), ("onset F1 @200ms", "higher")),
    "image_to_audio": (("onset F1 @200ms", "higher"),),
    "audio_to_image": (("EMD pitch", "lower"),),
    "lmx_to_midi": (("onset F1 @50ms", "higher"),),
    "midi_to_lmx": (("SER (%)", "lower"),),
}  # fmt: skip
SHORT_SPLITS = {"test": "test", "test_heldout": "held-out style"}


class MixturesError(Mt3UnifiedError, ValueError):
    """Labelled eval dirs that cannot make the tables: the message names the dir or label."""


def expand(pattern: str) -> list[str]:
    """The eval dirs a --mixture's pattern names (a dir, or a glob of them), sorted."""
    if not any(char in pattern for char in "*?["):
        return [pattern]
    found = sorted(path for path in glob.glob(pattern) if Path(path).is_dir())
    if not found:
        raise MixturesError(f"{pattern!r} matches no eval dir")
    return found


def _cells(eval_dir: str) -> dict[tuple[str, str], dict]:
    """{(pair, split): {'step', 'examples', 'judged', 'values': {system: {metric: value}}}} of
    the headline pairs in one eval dir's results.json."""
    out = {}
    for pair, table in read_pairs(eval_dir).items():
        if pair not in HEADLINES or MODEL not in table.rows:
            continue
        metrics = [metric for metric, _ in HEADLINES[pair]]
        values = {
            system: {metric: table.rows[system].get(metric) for metric in metrics}
            for system in SYSTEMS
            if system in table.rows
        }
        out[(pair, table.split)] = {
            "step": table.step,
            "examples": table.rows[MODEL].get("examples"),
            "judged": table.judged,
            "values": values,
        }
    return out


def _gathered(label: str, eval_dirs: Sequence[str]) -> dict[tuple[str, str], dict]:
    """One label's cells, the eval dirs of one pair and split (seeds) gathered: lists of
    their values; they must share the model's step and how they were judged."""
    cells: dict[tuple[str, str], dict] = {}
    for eval_dir in eval_dirs:
        for key, cell in _cells(eval_dir).items():
            if key not in cells:
                cells[key] = {"dirs": [], "step": cell["step"], "examples": [],
                              "judged": cell["judged"], "values": {}}  # fmt: skip
            gathered = cells[key]
            for field, why in (("step", "the model's steps"), ("judged", "how they were judged")):
                if cell[field] != gathered[field]:
                    raise MixturesError(
                        f"{label}: {eval_dir} and {gathered['dirs'][0]} give {key[0]} on "
                        f"{key[1]} and differ in {why}: label them apart"
                    )
            gathered["dirs"].append(eval_dir)
            gathered["examples"].append(cell["examples"])
            for system, metrics in cell["values"].items():
                for metric, value in metrics.items():
                    gathered["values"].setdefault(system, {}).setdefault(metric, []).append(value)
    return cells


def mixtures(labelled: Sequence[tuple[str, str]]) -> dict:
    """The tables (what mixtures.json holds): {'labels', 'pairs': [{'pair', 'splits',
    'metrics', 'rows': [{'label', 'system', 'cells': {split: {metric: [values]}}, ...}],
    'floor_from', 'judged_alike'}]} from (label, eval dir or glob) in the order given."""
    labels: dict[str, list[str]] = {}
    for label, pattern in labelled:
        labels.setdefault(label, []).extend(expand(pattern))
    gathered = {label: _gathered(label, dirs) for label, dirs in labels.items()}
    pairs = []
    for pair in HEADLINES:
        splits = sorted({s for cells in gathered.values() for p, s in cells if p == pair},
                        key=split_order)  # fmt: skip
        if splits:
            pairs.append(_pair_table(pair, splits, gathered))
    if not pairs:
        raise MixturesError(f"no headline model row in the eval dirs {labels}")
    return {"labels": list(labels), "pairs": pairs}


def _pair_table(pair: str, splits: list[str], gathered: dict[str, dict]) -> dict:
    """One pair's rows: each label's model (and model paired at random) rows, then the random
    pairing of the first label whose eval dirs give it."""
    rows, floor_from, kinds = [], None, set()
    for label, cells in gathered.items():
        mine = {split: cells[(pair, split)] for split in splits if (pair, split) in cells}
        if not mine:
            continue
        kinds |= {cell["judged"] for cell in mine.values()}
        for system in (MODEL, MODEL_RANDOM):
            if any(system in cell["values"] for cell in mine.values()):
                rows.append(_row(label, system, mine))
        if floor_from is None and any(RANDOM in cell["values"] for cell in mine.values()):
            floor_from = label
            floor = _row(label, RANDOM, mine)
    if floor_from is not None:
        rows.append(floor)
    return {
        "pair": pair,
        "title": TITLES[pair],
        "splits": splits,
        "metrics": [list(headline) for headline in HEADLINES[pair]],
        "rows": rows,
        "floor_from": floor_from,
        "judged_alike": len(kinds) == 1,
    }


def _row(label: str, system: str, cells: dict[str, dict]) -> dict:
    return {
        "label": label,
        "system": system,
        "cells": {split: cell["values"].get(system, {}) for split, cell in cells.items()},
        "step": sorted({cell["step"] for cell in cells.values() if cell["step"] is not None}),
        "examples": {split: cell["examples"] for split, cell in cells.items()},
        "dirs": {split: cell["dirs"] for split, cell in cells.items()},
    }


def row_name(row: dict) -> str:
    """A row's name in the Markdown: its label, or what it is beside the label."""
    if row["system"] == MODEL:
        return row["label"]
    if row["system"] == RANDOM:
        return RANDOM
    return f"{row['label']}, {row['system'].removeprefix('model, ')}"


def markdown(tables: dict) -> str:
    """mixtures.md: one table a pair, then which eval dirs each row read."""
    lines = ["# Mixtures side by side", ""]
    lines.append("A cell with several eval dirs (seeds) is their mean and range.")
    sources = []
    for table in tables["pairs"]:
        columns, rows = _table_rows(table)
        sources += [[table["title"], row_name(row), split, ", ".join(dirs)]
                    for row in table["rows"] for split, dirs in row["dirs"].items()]  # fmt: skip
        lines += ["", f"## {table['title']}", "", markdown_table(columns, rows), ""]
        lines.append(_which_way(table["metrics"]))
        if table["floor_from"] is not None:
            lines += ["", f"The random pairing is {table['floor_from']}'s eval dirs'."]
        if not table["judged_alike"]:
            lines += ["", "The rows were judged or decoded differently: compare them with care."]
    lines += ["", "## Sources", "",
              markdown_table(["pair", "row", "split", "eval dirs"], sources)]  # fmt: skip
    return "\n".join(lines) + "\n"


def _table_rows(table: dict) -> tuple[list[str], list[list]]:
    """One pair's Markdown columns and rows: a metric on a split a column, each cell the
    mean and range of the row's eval dirs."""
    columns = ["model"]
    for split in table["splits"]:
        columns += [f"{metric}, {SHORT_SPLITS.get(split, split)}" for metric, _ in table["metrics"]]
    columns += ["examples", "step"]
    rows = []
    for row in table["rows"]:
        cells = []
        for split in table["splits"]:
            values = row["cells"].get(split, {})
            cells += [spread_cell(values.get(metric, [])) for metric, _ in table["metrics"]]
        examples = " / ".join(_counts(row["examples"].get(split)) for split in table["splits"])
        rows.append([row_name(row), *cells, examples, ", ".join(map(str, row["step"]))])
    return columns, rows


def _which_way(metrics: list[list[str]]) -> str:
    """'Lower is better: A, B. Higher is better: C.' of a table's metrics."""
    said = []
    for better in ("lower", "higher"):
        names = [metric for metric, way in metrics if way == better]
        if names:
            said.append(f"{better.capitalize()} is better: {', '.join(names)}.")
    return " ".join(said)


def _counts(examples: list | None) -> str:
    """A cell's examples: the one count its eval dirs share, else each dir's."""
    if not examples:
        return "n/a"
    return str(examples[0]) if len(set(examples)) == 1 else "+".join(map(str, examples))


def write_mixtures(labelled: Sequence[tuple[str, str]], output: str | Path) -> tuple[Path, Path]:
    """Writes ``output`` (the Markdown tables) and the JSON beside it (``.json``)."""
    tables = mixtures(labelled)
    return write_table(markdown(tables), tables, output)
