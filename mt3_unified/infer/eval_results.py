"""The eval dir's results.json and its Markdown rendering, results.md."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

RESULTS_JSON, RESULTS_MD = "results.json", "results.md"


def decoding_note(results: dict) -> str | None:
    """How the model decoded its translations into each output modality (results.json's
    ``decoding`` and ``decoding_outputs``), as results.md and the report say it; None
    when all of them decoded greedily."""
    from mt3_unified.infer.eval_context import OUTPUT_MODALITIES, settings_for

    if not results.get("decoding"):
        return None
    outputs = results.get("decoding_outputs") or OUTPUT_MODALITIES
    how: dict[str, list[str]] = {}  # {"with temperature 0.7" or "greedily": [modality]}
    for modality in OUTPUT_MODALITIES:
        settings = settings_for(results["decoding"], outputs, modality)
        given = ", ".join(f"{key} {value}" for key, value in settings.items())
        how.setdefault(f"with {given}" if given else "greedily", []).append(modality)
    parts = sorted(how.items(), key=lambda item: item[0] == "greedily")
    said = ", ".join(f"into {', '.join(modalities)} {way}" for way, modalities in parts)
    return f"The model decoded its translations {said} (judges: greedy)."


def markdown(results: dict) -> str:
    """results.md: a header line, then one Markdown table per pair with its note."""
    lines = [
        f"# Evaluation of {results.get('model_dir', '?')}",
        "",
        f"step {results.get('step', '?')}, split {results.get('split', '?')}, "
        f"created {results.get('created', '?')}",
    ]
    if note := decoding_note(results):
        lines += ["", note]
    for name, why in results.get("skipped", {}).items():
        lines += ["", f"Left out: {name}: {why}."]
    for found in results.get("tables", []):
        lines += ["", f"## {found['title']}", "", markdown_table(found["columns"], found["rows"])]
        if found.get("note"):
            lines += ["", found["note"]]
    return "\n".join(lines) + "\n"


def rows_by_system(table: dict) -> dict[str, dict]:
    """{system: {column: value}} of one results table (its rows are named by their first
    cell: model, random pairing, ...); the first row of a name counts."""
    rows: dict[str, dict] = {}
    for row in table["rows"]:
        rows.setdefault(row[0], dict(zip(table["columns"], row, strict=False)))
    return rows


def rows_titled(results: dict, title: str) -> dict[str, dict]:
    """rows_by_system of the first of results.json's tables with this title; {} if none."""
    tables = [t for t in results.get("tables", []) if t.get("title") == title]
    return rows_by_system(tables[0]) if tables else {}


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    def cell(value) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    out = ["| " + " | ".join(cell(c) for c in columns) + " |"]
    out.append("|" + "|".join("---" for _ in columns) + "|")
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def write_results(output_dir: Path, results: dict) -> None:
    (output_dir / RESULTS_JSON).write_text(json.dumps(results, indent=2), encoding="utf-8")
    (output_dir / RESULTS_MD).write_text(markdown(results), encoding="utf-8")
