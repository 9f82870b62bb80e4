"""Plots people would rather look at than read: piano rolls and training curves, as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def piano_roll_png(
    notes: Sequence[tuple[float, float, int]],
    *,
    reference: Sequence[tuple[float, float, int]] | None = None,
    title: str = "",
) -> bytes:
    """(onset s, offset s, pitch) notes as a piano roll; a reference is drawn beneath in grey."""
    figure, axes = plt.subplots(figsize=(10, 3))
    layers = [(reference, "#bbbbbb", "reference")] if reference is not None else []
    layers.append((notes, "#1f5fa8", "notes"))
    for layer, color, label in layers:
        for i, (onset, offset, pitch) in enumerate(layer):
            axes.barh(
                pitch,
                max(offset - onset, 0.01),
                left=onset,
                height=0.8,
                color=color,
                label=label if i == 0 else None,
            )
    axes.set_xlabel("time (s)")
    axes.set_ylabel("MIDI pitch")
    if title:
        axes.set_title(title)
    if reference is not None:
        axes.legend(loc="upper right")
    return _png(figure)


def curves_png(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    ylabel: str,
    title: str = "",
    xlabel: str = "step",
    references: Mapping[str, float] | None = None,
    markers: bool = False,
    spreads: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
) -> bytes:
    """Named (steps, values) curves on one axis, e.g. training and validation loss; each
    named reference value (a target) as a dashed level; ``markers`` dots each point (for
    curves of a few measured points); ``spreads`` shades a curve's (lows, highs) at its
    steps (the range over seeds)."""
    figure, axes = plt.subplots(figsize=(7, 3.5))
    for name, (steps, values) in curves.items():
        (line,) = axes.plot(
            steps, values, label=name, marker="o" if markers else None, markersize=4
        )
        if spreads and name in spreads:
            lows, highs = spreads[name]
            axes.fill_between(steps, lows, highs, color=line.get_color(), alpha=0.15)
    for name, value in (references or {}).items():
        axes.axhline(value, linestyle="--", color="#888888", linewidth=1, label=name)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title:
        axes.set_title(title)
    if curves:
        axes.legend()
    axes.grid(alpha=0.3)
    return _png(figure)


def metric_curves_png(
    panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[int], Sequence[float]]]],
    *,
    title: str = "",
    max_step_ticks: int = 7,
    step_axis: bool = True,
) -> bytes:
    """One panel a metric ({y label: {curve name: (minutes, steps, values)}}): each curve's
    values against training time in minutes, with the steps of its points on the top axis
    (curves of one run); without ``step_axis`` (runs whose steps take different times),
    each curve's last point is labelled with its step instead."""
    figure, grid = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for axes, (ylabel, curves) in zip(grid[0], panels.items(), strict=True):
        minute_of_step: dict[int, float] = {}
        for name, (minutes, steps, values) in curves.items():
            axes.plot(minutes, values, marker="o", markersize=3, label=name)
            for step, minute in zip(steps, minutes, strict=True):
                minute_of_step.setdefault(step, minute)
            if not step_axis and steps:
                axes.annotate(f"step {steps[-1]}", (minutes[-1], values[-1]), fontsize="small",
                              textcoords="offset points", xytext=(4, 4))  # fmt: skip
        axes.set_xlim(left=0)  # training began at 0
        axes.set_xlabel("training time (min)")
        axes.set_ylabel(ylabel)
        axes.grid(alpha=0.3)
        if curves:
            axes.legend(fontsize="small")
        if not step_axis:
            continue
        top = axes.twiny()  # the steps, at the minutes they were evaluated at
        top.set_xlim(axes.get_xlim())
        ticks = sorted(minute_of_step.items())
        every = -(-len(ticks) // max_step_ticks) if ticks else 1
        ticks = ticks[::every]
        top.set_xticks([minute for _, minute in ticks])
        top.set_xticklabels([str(step) for step, _ in ticks], fontsize="small")
        top.set_xlabel("step")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _png(figure)


def spectrograms_png(
    panels: Sequence[tuple[str, object]], *, frames_per_second: float, title: str = ""
) -> bytes:
    """Named log-magnitude spectrograms [frames, bands], one above another on the first
    panel's colour scale (its 5th to 99.5th percentile), so that what a later panel lost
    or added reads against the first."""
    import numpy as np

    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 2.2 * len(panels)), squeeze=False)
    low, high = np.percentile(np.asarray(panels[0][1]), [5.0, 99.5])
    for ax, (name, spectrogram) in zip(axes[:, 0], panels, strict=True):
        values = np.asarray(spectrogram)
        ax.imshow(values.T, origin="lower", aspect="auto", vmin=low, vmax=high,
                  extent=(0.0, len(values) / frames_per_second, 0, values.shape[1]))  # fmt: skip
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("mel band")
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return _png(figure)
