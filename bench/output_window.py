"""The training step on a batch that mixes tasks: the output window in runs of slots at
their own width against one rectangular window (the widest slot's width), timed in the
same run.

A batch that mixes symbolic and code targets needs every symbolic id and the first
codebooks in slot 0, one codebook in each later slot. One rectangular window computes
the later slots at slot 0's width; `OutputWindow.groups` computes each run of equally
wide slots at its own width. Both give the same loss (printed): the columns left out
are masked PAD columns.

    python bench/output_window.py                 # gin/demo.gin's model and vocabulary
    python bench/output_window.py --codebook-size 32

The batch is half OMR (image -> LMX) and half MIDI -> audio, at the demo's lengths.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from pathlib import Path

import gin
import jax
import numpy as np

from mt3_unified.model.model import UnifiedModel, gin_model
from mt3_unified.model.output_window import OutputWindow, WindowGroup
from mt3_unified.vocab.layout import MODALITIES

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import model as model_bench  # noqa: E402  (bench/ is a folder of scripts, put on the path above)

# The demo's task feature lengths (gin/local_cpu.gin) and batch size (gin/demo.gin).
LENGTH, BATCH = 320, 8


def rectangular(window: OutputWindow) -> OutputWindow:
    """The window as one group at its widest slot's width: how every slot was computed
    before the groups."""
    return dataclasses.replace(window, groups=(WindowGroup(0, window.columns, window.positions),))


def with_rectangular_windows(model: UnifiedModel) -> UnifiedModel:
    """A copy of `model` whose output windows are rectangular (see `rectangular`)."""
    rect = copy.copy(model)  # the same loss settings (label smoothing, z-loss, weights)
    rect.output_window = lambda modalities: rectangular(model.output_window(modalities))
    return rect


def mixed_batch(model: UnifiedModel, batch: int, length: int) -> dict:
    """Half image -> LMX, half MIDI -> audio examples of `length` input and target frames."""
    halves = [
        model_bench.symbolic_batch(model, batch // 2, length, length, src, tgt, seed=i)
        for i, (src, tgt) in enumerate((("image", "lmx"), ("midi", "audio")))
    ]
    return {key: np.concatenate([h[key] for h in halves]) for key in halves[0]}


def demo_model(codebook_size: int) -> UnifiedModel:
    """gin/demo.gin's model with audio codebooks of `codebook_size` codes."""
    gin.clear_config()
    bindings = [f"VocabularyConfig.audio_codebook_size = {codebook_size}"]
    model = gin_model(["gin/demo.gin"], bindings)
    gin.clear_config()
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--codebook-size", type=int, default=1024, help="audio codes a codebook")
    parser.add_argument("--repeat", type=int, default=5, help="timed steps (the best is kept)")
    args = parser.parse_args(argv)
    model = demo_model(args.codebook_size)
    batch = mixed_batch(model, BATCH, LENGTH)
    # A traced batch (a jitted step) gets the window of every target modality, as a
    # trainer on the all-task mixture does.
    window = model.output_window(range(len(MODALITIES)))
    widths = [g.columns.shape for g in window.groups]
    print(f"devices: {jax.devices()}; vocabulary {model.vocabulary.vocab_size} ids")
    print(f"window (slots, width): rectangular {window.columns.shape}, groups {widths}")
    params = model.init(jax.random.key(0))
    rect = with_rectangular_windows(model)
    losses = [float(jax.jit(m.loss_fn)(params, batch)[0]) for m in (rect, model)]
    print(f"loss: rectangular {losses[0]:.6f}, groups {losses[1]:.6f}")
    _, base = model_bench.bench_train(rect, batch, repeat=args.repeat)
    _, grouped = model_bench.bench_train(model, batch, repeat=args.repeat)
    print(
        f"train step b{BATCH} (half image->lmx, half midi->audio, {LENGTH} frames): "
        f"rectangular window {base * 1e3:.0f} ms [baseline], groups {grouped * 1e3:.0f} ms, "
        f"ratio {grouped / base:.2f}"
    )


if __name__ == "__main__":
    main()
