"""Where the demo's training time goes: its loop against the bare step, input and evaluations.

Run: python bench/demo_step.py [--model-dir runs/demo/model] [--steps 30] [--batches 200]
[--loop-steps 200] [--save-every 100] [--no-eval] [--bfloat16].
It needs a trained demo run (`bash launch/demo.sh`, or its train stage at least one
checkpoint in): the run's own gin config (config.gin) and parameters are restored, so
that every figure is of that run's model, mixture, feature lengths and batch. In one
process it measures:
  (a) the bare step [baseline]: the trainer's own jitted step (make_train_step +
      jit_train_step, the old state donated) on real batches of the run's mixture,
      already on the device; steps/s over `--steps` steps after two warm-up steps;
  (b) the input alone: batches/s of the run's input (`train.train_dataset_fn`, the demo's
      `seqio_dataset`) after 10 warm-up batches
      (what the loop asks for each step, on the same cores);
  (c) the forward pass alone (the jitted loss, no gradients): its share of (a)'s step;
  (d) one in-training evaluation (the run's TaskMetricEvaluator: greedy decoding of its
      validation examples, scored): seconds of the first call (reading and compiling
      included) and of the second, in steps of (a);
  (e) the loop: the trainer's `train(...)` itself on the run's config for `--loop-steps`
      steps into a scratch folder (input, metrics, logging, a save every
      `--save-every` steps; no evaluation: (d) times it), its steady rate the median of
      its `steps_per_second` intervals after the first (which holds the compilation), and
      the seconds each save blocked it;
  (f) with --bfloat16: (a) again with the model's activations in bfloat16
      (`ModelConfig.dtype`, parameters still float32), whether a CPU's bf16 units (AMX)
      buy the demo steps;
and from (a), (d) and (e) the demo's training time as it should be: TRAIN_STEPS steps at
(e)'s rate, an evaluation every `train.eval_every` steps at (d)'s second call, a save
every `CheckpointConfig.every` steps, to set beside the train stage's measured seconds.
Each figure is printed with its ratio to (a) measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

import gin
import jax
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from train import read_scalars, step_rate  # noqa: E402  (bench/ is a folder of scripts, put on the path above)

from mt3_unified.infer.restore import restore_run  # noqa: E402
from mt3_unified.model.model import UnifiedModel  # noqa: E402
from mt3_unified.train import partitioning  # noqa: E402
from mt3_unified.train.inputs import global_batch, next_host_batch  # noqa: E402
from mt3_unified.train.state import create_train_state  # noqa: E402
from mt3_unified.train.step import jit_train_step, make_train_step  # noqa: E402


def macro(name: str):
    return gin.query_parameter(f"%{name}")


def host_batches(count: int, seed: int = 0) -> tuple[list[dict], float]:
    """`count` batches of the run's input (its `train.train_dataset_fn`) as the trainer
    reads them, and the input's batches/s measured over them (after 10 warm-up batches:
    the first holds the dataset's construction)."""
    dataset_fn = gin.query_parameter("train.train_dataset_fn").scoped_configurable_fn
    iterator = iter(dataset_fn(batch_size=macro("BATCH_SIZE"), seed=seed, shard_index=0,
                               num_shards=1))  # fmt: skip
    for _ in range(10):
        next_host_batch(iterator)
    begin = time.perf_counter()
    batches = [next_host_batch(iterator) for _ in range(count)]
    return batches, count / (time.perf_counter() - begin)


def bare_step_rate(model, batches: list[dict], steps: int) -> float:
    """(a): steps/s of the trainer's jitted step on device batches (two warm-up steps)."""
    from mt3_unified.train.optimizer import OptimizerConfig

    tx = OptimizerConfig().build(macro("TRAIN_STEPS"))
    mesh = partitioning.make_mesh(-1, 1)
    state, shardings = create_train_state(model, tx, mesh, seed=0)
    step = jit_train_step(make_train_step(model, tx), shardings, mesh)
    sharding = partitioning.batch_sharding(mesh)
    device = [global_batch(b, sharding) for b in batches[: max(steps, 2)]]
    return step_rate(step, state, device, steps)


def in_bfloat16(model: UnifiedModel) -> UnifiedModel:
    """(f): the same model with its activations in bfloat16."""
    config = dataclasses.replace(model.config, dtype="bfloat16")
    return UnifiedModel(config, model.vocabulary, label_smoothing=model.label_smoothing,
                        z_loss=model.z_loss, task_weights=model.task_weights)  # fmt: skip


def forward_seconds(model, params, batches: list[dict], steps: int) -> float:
    """(c): seconds of the jitted loss alone (forward pass, no gradients) a batch."""
    loss = jax.jit(lambda p, b: model.loss_fn(p, b)[0])
    device = [jax.device_put(b) for b in batches[: max(steps, 2)]]
    jax.block_until_ready(loss(params, device[0]))
    begin = time.perf_counter()
    for i in range(steps):
        out = loss(params, device[i % len(device)])
    jax.block_until_ready(out)
    return (time.perf_counter() - begin) / steps


def evaluation_seconds(model, params) -> tuple[float, float]:
    """(d): seconds of the run's in-training evaluation, first call and second."""
    from mt3_unified.train.evaluation import TaskMetricEvaluator

    evaluator = TaskMetricEvaluator()
    mesh = partitioning.make_mesh(-1, 1)
    times = []
    for _ in range(2):
        begin = time.perf_counter()
        evaluator(model, params, mesh)
        times.append(time.perf_counter() - begin)
    return times[0], times[1]


def loop_figures(steps: int, save_every: int, workdir: str) -> tuple[float, float]:
    """(e): the trainer's loop on the run's config (gin) for `steps` steps: its median
    steps/s after the first logging interval, and the median seconds a save blocked it."""
    from mt3_unified.train.checkpoints import CheckpointConfig
    from mt3_unified.train.trainer import train

    model = gin.query_parameter("%MODEL").scoped_configurable_fn()
    train(model=model, model_dir=workdir, steps=steps, eval_every=0, progress=False,
          checkpoint=CheckpointConfig(every=save_every, keep=2))  # fmt: skip
    scalars = read_scalars(os.path.join(workdir, "train"))
    rates = [rate for _, rate in sorted(scalars["steps_per_second"])[1:]]
    saves = [seconds for _, seconds in scalars["checkpoint_seconds"]]
    return float(np.median(rates)), float(np.median(saves))


def projected_seconds(step_rate: float, evaluation: float, save: float) -> dict[str, float]:
    """The run's training time as (a), (d) and (e) predict it, by part (seconds)."""
    steps = macro("TRAIN_STEPS")
    eval_every = gin.query_parameter("train.eval_every")
    save_every = gin.query_parameter("CheckpointConfig.every")
    return {
        "steps": steps / step_rate,
        "evaluations": (steps // eval_every if eval_every else 0) * evaluation,
        "saves": steps // save_every * save,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default="runs/demo/model", help="a trained demo run")
    parser.add_argument("--steps", type=int, default=30, help="timed bare steps")
    parser.add_argument("--batches", type=int, default=200, help="timed input batches")
    parser.add_argument("--loop-steps", type=int, default=200, help="(e)'s loop steps")
    parser.add_argument("--save-every", type=int, default=100, help="(e)'s save interval")
    parser.add_argument("--no-eval", action="store_true", help="leave out (d)")
    parser.add_argument("--bfloat16", action="store_true", help="add (f)")
    args = parser.parse_args(argv)
    run = restore_run(args.model_dir)
    model, params = run.model, jax.device_put(run.params)
    batches, input_rate = host_batches(max(args.batches, args.steps))
    bare = bare_step_rate(model, batches, args.steps)
    forward = forward_seconds(model, params, batches, args.steps)
    rows = [
        ("(a) bare step, steps/s [baseline]", bare, 1.0),
        ("(b) input alone, batches/s", input_rate, input_rate / bare),
        ("(c) forward pass alone, share of the step", forward * bare, forward * bare),
    ]
    if args.bfloat16:
        half = bare_step_rate(in_bfloat16(model), batches, args.steps)
        rows.append(("(f) bare step, bfloat16 activations, steps/s", half, half / bare))
    with tempfile.TemporaryDirectory() as workdir:
        steady, save = loop_figures(args.loop_steps, args.save_every, workdir)
    rows += [
        (f"(e) the loop, steady steps/s ({args.loop_steps} steps)", steady, steady / bare),
        ("(e) a save blocks the loop, s (ratio: in steps of (a))", save, save * bare),
    ]
    second = None
    if not args.no_eval:
        first, second = evaluation_seconds(model, params)
        rows += [
            ("(d) one evaluation, first call, s (ratio: in steps of (a))", first, first * bare),
            ("(d) one evaluation, second call, s (ratio: in steps of (a))", second, second * bare),
        ]
    print(f"run {args.model_dir} (step {run.step}): {macro('MIXTURE_OR_TASK_NAME')}, batch "
          f"{macro('BATCH_SIZE')}, lengths {run.task_feature_lengths}")  # fmt: skip
    print("| figure | value | ratio to (a) |\n|---|---|---|")
    for name, value, ratio in rows:
        print(f"| {name} | {value:.3f} | {ratio:.3f} |")
    parts = projected_seconds(steady, second or 0.0, save)
    print(f"the run's {macro('TRAIN_STEPS')} steps as predicted, s: "
          + ", ".join(f"{k} {v:.0f}" for k, v in parts.items())
          + f"; total {sum(parts.values()):.0f} (compilation and the first evaluation's "
          "reading not counted)")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f}; {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
