"""One pair's evaluation rows against the evaluated model's training steps: a metric of the
model, of the model paired at random and of the random pairing (e.g. image -> audio's onset
F1 @200ms after DTW), the eval dirs of one step (seeds) as their mean and range, drawn as a
curve (PNG) with its points as Markdown beside it: whether more steps carry a model past its
floor."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.eval_context import MODEL, RANDOM, TITLES
from mt3_unified.infer.eval_results import markdown_table
from mt3_unified.report.headlines import SYSTEMS, read_pairs
from mt3_unified.report.plots import curves_png

RATIO = f"{MODEL} / {RANDOM}"


class StepCurveError(Mt3UnifiedError, ValueError):
    """Eval dirs that cannot make the curve: the message names the dir and what it lacks."""


def step_point(eval_dir: str | Path, pair: str, metric: str) -> tuple[int, dict, str]:
    """(the model's step, {system: the metric or None}, judged_as) of one eval dir."""
    table = read_pairs(eval_dir).get(pair)
    if table is None or MODEL not in table.rows:
        raise StepCurveError(
            f"{eval_dir}: no {TITLES[pair]!r} table (evaluate with `mt3u eval --pairs {pair}`)"
        )
    if metric not in table.rows[MODEL]:
        columns = [c for c in table.rows[MODEL] if c not in ("system", "examples")]
        raise StepCurveError(f"{eval_dir}: no column {metric!r} (it has {columns})")
    if not isinstance(table.step, int):
        raise StepCurveError(f"{eval_dir}: results.json names no step of the model")
    values = {system: table.rows.get(system, {}).get(metric) for system in SYSTEMS}
    return table.step, values, table.judged


def step_curve(eval_dirs: Sequence[str | Path], pair: str, metric: str) -> list[dict]:
    """One point a step, in step order: {'step', 'dirs', each system's values (one an eval
    dir, None where its table lacks the row), RATIO's values}; every dir judged and
    decoded alike."""
    points: dict[int, dict] = {}
    kinds = set()
    for eval_dir in eval_dirs:
        step, values, kind = step_point(eval_dir, pair, metric)
        kinds.add(kind)
        if step not in points:
            points[step] = {"step": step, "dirs": [], **{s: [] for s in (*SYSTEMS, RATIO)}}
        point = points[step]
        point["dirs"].append(str(eval_dir))
        for system, value in values.items():
            point[system].append(value)
        model, floor = values[MODEL], values[RANDOM]
        point[RATIO].append(model / floor if model is not None and floor else None)
    if len(kinds) > 1:
        raise StepCurveError(f"the eval dirs were judged or decoded differently: {sorted(kinds)}")
    return [points[step] for step in sorted(points)]


def spread(values: Sequence[float | None]) -> tuple[float, float, float] | None:
    """(mean, min, max) of the values given, None if none is."""
    known = [v for v in values if v is not None]
    return (sum(known) / len(known), min(known), max(known)) if known else None


def spread_cell(values: Sequence[float | None]) -> str | None:
    """'mean (min-max)' to 3 decimals, the one value where there is one, None for none."""
    found = spread(values)
    if found is None:
        return None
    mean, low, high = found
    return f"{mean:.3f}" if low == high else f"{mean:.3f} ({low:.3f}-{high:.3f})"


def target_said(curve: list[dict], target: float) -> str:
    """Whether the model's mean reaches the target, and at which step: lower is better when
    the target lies below the random pairing (a target is always better than chance)."""
    said = f"Target: {target:g} (dashed)."
    floor = next((found[0] for p in curve if (found := spread(p[RANDOM]))), None)
    means = [(p["step"], found[0]) for p in curve if (found := spread(p[MODEL]))]
    if floor is None or floor == target or not means:
        return said
    lower = target < floor
    for step, mean in means:
        if (mean <= target) if lower else (mean >= target):
            return f"{said} The model reaches it at step {step} ({mean:.3f})."
    step, mean = means[-1]
    return f"{said} The model does not reach it: {mean:.3f} at step {step}, its last point."


def write_step_curve(
    eval_dirs: Sequence[str | Path],
    pair: str,
    metric: str,
    output: Path,
    target: float | None = None,
) -> tuple[Path, Path]:
    """The curve as ``output`` (PNG: each system's mean, its range shaded, the target dashed)
    and its points as a Markdown table beside it (``.md``), with whether the model reaches
    the target."""
    curve = step_curve(eval_dirs, pair, metric)
    lines, ranges = {}, {}
    for system in SYSTEMS:
        found = [(p["step"], known) for p in curve if (known := spread(p[system]))]
        if found:
            steps = [step for step, _ in found]
            lines[system] = (steps, [s[0] for _, s in found])
            ranges[system] = ([s[1] for _, s in found], [s[2] for _, s in found])
    png = curves_png(
        lines,
        ylabel=metric,
        xlabel="the model's training step",
        title=f"{TITLES[pair]}: {metric} against training steps (mean and range over eval dirs)",
        markers=True,
        spreads=ranges,
        references=None if target is None else {"target": target},
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(png)
    columns = ["step", "eval dirs", *SYSTEMS, RATIO]
    rows = [
        [p["step"], len(p["dirs"]), *(spread_cell(p[name]) for name in (*SYSTEMS, RATIO))]
        for p in curve
    ]
    table = output.with_suffix(".md")
    text = markdown_table(columns, rows) + "\n"
    if target is not None:
        text += f"\n{target_said(curve, target)}\n"
    table.write_text(text, encoding="utf-8")
    return output, table
