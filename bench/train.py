"""Training loop speed: the whole `train(...)` loop against its bare jitted step, same run.

Run: python bench/train.py [--quick] [--configs tiny small] [--repeats 3] [--checkpoint-every N]
[--steps N]. For each config (gin/models/),
the bench writes random valid examples of every task as TFRecords and measures, in one
process:
  (a) the bare step: make_train_step + jit_train_step fed batches already on the device,
      steps/s over `steps - log_every` steps after two warm-up steps;
  (b) the whole loop: `train(...)` reading those records (record_dataset), with its metrics,
      summaries, loss history and curves, and an asynchronous checkpoint every
      `checkpoint_every` steps; steps/s is the trainer's own `steps_per_second` summaries
      after the first logging interval (which holds the compilation), combined over the
      intervals; every save but the last falls inside them;
  (c) the seconds each save blocked the loop (the trainer's `checkpoint_seconds` summaries:
      copying the state and the input position, and Orbax's blocking part; mid-run the
      next step runs meanwhile, CheckpointConfig.overlap).
The ratio (b)/(a) is the figure to compare (target >= 0.95): the median over `--repeats` pairs
of (b) then (a), each pair's own ratio. --quick is a smoke run: the
tiny config, short lengths, a few steps; its figures are not the benchmark's.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import glob
import os
import sys
import tempfile
import time
from pathlib import Path

import gin
import jax
import numpy as np

from mt3_unified.model.model import UnifiedModel, gin_model
from mt3_unified.train import partitioning
from mt3_unified.train.checkpoints import CheckpointConfig
from mt3_unified.train.inputs import global_batch, record_dataset, write_example_records
from mt3_unified.train.optimizer import OptimizerConfig
from mt3_unified.train.state import create_train_state
from mt3_unified.train.step import jit_train_step, make_train_step
from mt3_unified.train.trainer import train
from mt3_unified.vocab.layout import MODALITIES, PAD_ID, TASKS

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One config's run: global batch, input and target length, total loop steps, logging and
    checkpoint intervals."""

    batch_size: int
    length: int
    steps: int
    log_every: int
    checkpoint_every: int


SETTINGS = {
    "tiny": Setting(batch_size=8, length=256, steps=50, log_every=10, checkpoint_every=10),
    "small": Setting(batch_size=4, length=256, steps=25, log_every=5, checkpoint_every=5),
}
QUICK = Setting(batch_size=4, length=64, steps=6, log_every=2, checkpoint_every=2)
FIELDS = (
    "config", "batch", "length", "save every", "timed steps", "repeats", "bare step/s",
    "loop step/s", "loop / bare", "ratios (min, max)", "target", "saves",
    "save blocks s (median)", "save blocks s (max)",
)  # fmt: skip


def load_model(size: str) -> UnifiedModel:
    """The model gin/models/<size>.gin builds (default vocabulary)."""
    gin.clear_config()
    model = gin_model([str(ROOT / "gin" / "models" / f"{size}.gin")])
    gin.clear_config()
    return model


def random_examples(model: UnifiedModel, count: int, length: int, seed: int = 0) -> list[dict]:
    """`count` valid examples of MODEL_FEATURES, the tasks in turn, every frame real (no
    padding), input and target `length` frames each."""
    rng = np.random.default_rng(seed)
    vocab, k_max = model.vocabulary, model.k_max

    def frames(modality):
        out = np.full((length, k_max), PAD_ID, np.int32)
        for k in range(vocab.num_codebooks(modality)):
            out[:, k] = rng.integers(*vocab.id_range(modality, k), size=length)
        return out

    examples = []
    for i in range(count):
        task = TASKS[i % len(TASKS)]
        src, tgt = task.split("_to_")
        targets = frames(tgt)
        inputs = np.concatenate([np.full((1, k_max), PAD_ID, np.int32), targets[:-1]])
        inputs[0, 0] = vocab.target_id(tgt)
        weights = np.zeros((length, k_max), np.float32)
        weights[:, : vocab.num_codebooks(tgt)] = 1.0
        examples.append({
            "encoder_input_tokens": frames(src),
            "encoder_input_modality": np.int32(MODALITIES.index(src)),
            "target_modality": np.int32(MODALITIES.index(tgt)),
            "task": np.int32(TASKS.index(task)),
            "decoder_target_tokens": targets,
            "decoder_input_tokens": inputs,
            "decoder_loss_weights": weights,
        })  # fmt: skip
    return examples


def bare_steps_per_second(model, examples, setting: Setting, timed_steps: int) -> float:
    """(a): steps/s of the jitted step alone on pre-made device batches, after 2 warm-up
    steps (the first compiles)."""
    tx = OptimizerConfig().build(setting.steps)
    mesh = partitioning.make_mesh(-1, 1)
    state, shardings = create_train_state(model, tx, mesh, seed=0)
    step = jit_train_step(make_train_step(model, tx), shardings, mesh)
    sharding = partitioning.batch_sharding(mesh)
    b = setting.batch_size
    batches = [
        global_batch({n: np.stack([ex[n] for ex in examples[i : i + b]]) for n in examples[0]},
                     sharding)
        for i in range(0, len(examples) - b + 1, b)
    ]  # fmt: skip
    return step_rate(step, state, batches, timed_steps)


def step_rate(step, state, batches: list[dict], timed_steps: int) -> float:
    """steps/s of a jitted train `step` over `timed_steps` steps cycling through `batches`
    (on the device), after two warm-up steps (the first compiles)."""
    rng = jax.random.key(0)
    for i in range(2):
        state, metrics = step(state, batches[i % len(batches)], rng)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for i in range(timed_steps):
        state, metrics = step(state, batches[i % len(batches)], rng)
    jax.block_until_ready((state, metrics))
    return timed_steps / (time.perf_counter() - start)


def read_scalars(folder: str) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value)]} of a TensorBoard folder's event files."""
    import tensorflow as tf

    out: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(os.path.join(folder, "events.*"))):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                out.setdefault(value.tag, []).append(
                    (event.step, float(tf.make_ndarray(value.tensor)))
                )
    return out


def loop_figures(model, records: str, setting: Setting, model_dir: str) -> dict:
    """(b) and (c): the whole `train(...)` loop's steps/s after its first logging interval,
    and the seconds each save blocked it."""
    train(
        model=model,
        train_dataset_fn=functools.partial(record_dataset, pattern=records),
        model_dir=model_dir,
        steps=setting.steps,
        batch_size=setting.batch_size,
        checkpoint=CheckpointConfig(every=setting.checkpoint_every, keep=2),
        log_every=setting.log_every,
        progress=False,
    )
    scalars = read_scalars(os.path.join(model_dir, "train"))
    rates = scalars["steps_per_second"]
    steps = sum(setting.log_every for _ in rates)
    seconds = sum(setting.log_every / rate for _, rate in rates)
    saves = [value for _, value in scalars["checkpoint_seconds"]]
    return {"loop_rate": steps / seconds, "timed_steps": steps, "saves": saves}


def measure(name: str, model: UnifiedModel, setting: Setting, workdir: str, repeats=1) -> dict:
    """One table row: (a), (b), their ratio and (c), for `model` run as `setting` says; with
    `repeats`, (b) then (a) that many times in turn, the ratio the median of each pair's (a
    pair runs within a minute: the machine's other load changes less within it)."""
    count = max(4 * setting.batch_size, len(TASKS))
    examples = random_examples(model, count, setting.length)
    records = os.path.join(workdir, f"{name}.tfrecord")
    write_example_records(records, examples)
    loops, bares = [], []
    for r in range(repeats):
        loops.append(loop_figures(model, records, setting, os.path.join(workdir, f"{name}_{r}")))
        bares.append(bare_steps_per_second(model, examples, setting, loops[-1]["timed_steps"]))
    ratios = [loop["loop_rate"] / bare for loop, bare in zip(loops, bares, strict=True)]
    saves = [seconds for loop in loops for seconds in loop["saves"]]
    return {
        "config": name,
        "batch": setting.batch_size,
        "length": setting.length,
        "save every": setting.checkpoint_every,
        "timed steps": loops[0]["timed_steps"],
        "repeats": repeats,
        "bare step/s": float(np.median(bares)),
        "loop step/s": float(np.median([loop["loop_rate"] for loop in loops])),
        "loop / bare": float(np.median(ratios)),
        "ratios (min, max)": f"{min(ratios):.3f}, {max(ratios):.3f}",
        "target": ">= 0.95",
        "saves": len(saves),
        "save blocks s (median)": float(np.median(saves)),
        "save blocks s (max)": float(np.max(saves)),
    }


def format_table(rows: list[dict]) -> str:
    """A Markdown table of the rows, FIELDS in order."""

    def cell(value):
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS)]
    lines += ["| " + " | ".join(cell(row[f]) for f in FIELDS) + " |" for row in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny, a few steps")
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"], choices=SETTINGS)
    parser.add_argument("--checkpoint-every", type=int, help="save every N steps instead")
    parser.add_argument("--steps", type=int, help="loop steps instead of the config's")
    parser.add_argument("--repeats", type=int, default=3, help="(b), (a) pairs a config")
    args = parser.parse_args(argv)
    configs = ["tiny"] if args.quick else args.configs
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in configs:
            setting = QUICK if args.quick else SETTINGS[name]
            # On a CPU a save's writing shares the cores with the step: its cost per step
            # falls with the interval (BENCHMARKS.md), which these let one measure.
            overrides = {"checkpoint_every": args.checkpoint_every, "steps": args.steps}
            setting = dataclasses.replace(
                setting, **{k: v for k, v in overrides.items() if v is not None}
            )
            repeats = 1 if args.quick else args.repeats
            rows.append(measure(name, load_model(name), setting, workdir, repeats))
            print(format_table(rows[-1:]), flush=True)
    print(format_table(rows))
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
