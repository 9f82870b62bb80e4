"""Input pipeline speed: examples a second of each task and mixture against what a train step eats.

Run: python bench/tasks.py [--quick]. For each synthetic task of a baked tiny
corpus and for the all-task mixture, the pipeline (`get_dataset` +
`UnifiedFeatureConverter`, batched) is timed on its first pass (cold: the
iterator's start, reading, tokenizing) and on later epochs; a jitted train step
(`UnifiedModel.loss_and_grad` + AdamW) of the `tiny` and `small` configs is
timed in the same run on that task's own batches, and the ratio pipeline/step
(target >= 3) is printed. It needs `launch/demo.sh`'s outputs: the built corpus
under --data-dir and its bake under --baked.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
TARGET = 3.0  # the pipeline must supply at least this many times what a step consumes


def bind_corpus(data_dir: str, baked_dir: str, corpus: str = "tiny") -> None:
    """Gin bindings that point the synthetic_<corpus> tasks at a built corpus and its bake
    (`<baked_dir>/synthetic_scores/<corpus>`, where the demo bakes), with the vocabulary's
    codebooks those of the codecs that baked it."""
    import gin

    from mt3_unified.codecs.vocabulary_check import vocabulary_config_for

    gin.bind_parameter("DataPaths.data_dir", str(data_dir))
    gin.bind_parameter("DataPaths.baked_dir", str(baked_dir))
    baked = os.path.join(baked_dir, "synthetic_scores", corpus)
    for name, value in vocabulary_bindings(vocabulary_config_for(baked)).items():
        gin.bind_parameter(f"VocabularyConfig.{name}", value)


def vocabulary_bindings(config) -> dict:
    fields = ("image_codebooks", "image_codebook_size", "audio_codebooks", "audio_codebook_size")
    return {name: getattr(config, name) for name in fields}


def batches(name: str, lengths: dict, batch_size: int, seed: int = 0):
    """An endless iterator of model batches of a task or mixture's train split."""
    from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
    from mt3_unified.tasks.registry import get_task_or_mixture
    from mt3_unified.vocab.unified import unified_vocabulary

    found = get_task_or_mixture(name)
    # As the trainer reads it (train/inputs.seqio_dataset): no seqio in-memory cache.
    ds = found.get_dataset(lengths, split="train", shuffle=True, seed=seed, num_epochs=None,
                           try_in_mem_cache=False)  # fmt: skip
    converter = UnifiedFeatureConverter(unified_vocabulary())
    return converter(ds, lengths).batch(batch_size, drop_remainder=True).as_numpy_iterator()


def pipeline_rates(name: str, lengths: dict, batch_size: int, per_epoch: int, warm: int):
    """(cold, warm) examples a second: the batches of the first epoch from the iterator's
    creation, then `warm` batches more; and one batch (for the step)."""
    start = time.perf_counter()
    iterator = batches(name, lengths, batch_size)
    cold_batches = max(1, math.ceil(per_epoch / batch_size))
    for _ in range(cold_batches):
        batch = next(iterator)
    cold = cold_batches * batch_size / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(warm):
        next(iterator)
    return cold, warm * batch_size / (time.perf_counter() - start), batch


def valid_examples(name: str, lengths: dict) -> dict[str, int]:
    """{task: examples of its train split that the pipeline keeps}."""
    from mt3_unified.tasks.registry import dropped_counts

    counts = dropped_counts(name, "train", lengths)
    return {task: reasons["valid"] for task, reasons in counts.items()}


def step_runner(size: str, batch: dict):
    """A callable running one compiled train step of the `size` config on batches like
    `batch` (the output window chosen at run time, as in a mixture's step)."""
    import gin
    import jax
    import model as model_bench  # bench/model.py

    from mt3_unified.model.model import gin_model
    from mt3_unified.vocab.unified import VocabularyConfig

    vocab = vocabulary_bindings(VocabularyConfig())
    bindings = [f"VocabularyConfig.{k} = {v!r}" for k, v in vocab.items()]
    saved = gin.config_str()
    model = gin_model([f"gin/models/{size}.gin"], bindings)
    gin.clear_config()
    gin.parse_config(saved)
    params = model.init(jax.random.key(0))
    opt, step = model_bench.train_step_fn(model)
    state = opt.init(params)
    compiled = jax.jit(step).lower(params, state, jax.device_put(batch)).compile()
    return lambda b: jax.block_until_ready(compiled(params, state, jax.device_put(b)))


def step_rate(run, batch: dict, repeats: int) -> float:
    """Examples a second a compiled step consumes (best of `repeats`, after one warm-up)."""
    import timing

    wall, _ = timing.best_time(lambda: run(batch), repeats, warmup=True)
    return len(batch["task"]) / wall


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--baked-dir", default="data/baked")
    parser.add_argument("--corpus", default="tiny")
    parser.add_argument("--length", type=int, default=512, help="inputs and targets frames")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--warm-batches", type=int, default=40)
    parser.add_argument("--models", default="tiny,small")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, tiny only")
    args = parser.parse_args(argv)
    if args.quick:
        args.length, args.batch_size, args.warm_batches = 128, 2, 3
        args.models, args.repeats = "tiny", 1
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mt3_unified.tasks  # noqa: F401  (registers the tasks)
    from mt3_unified.tasks.mixtures import ALL_TASKS, add_mixture, mixture_name
    from mt3_unified.tasks.registry import task_pair
    from mt3_unified.tasks.synthetic import synthetic_dataset

    bind_corpus(args.data_dir, args.baked_dir, args.corpus)
    lengths = {"inputs": args.length, "targets": args.length}
    mixture = mixture_name(synthetic_dataset(args.corpus), ALL_TASKS)
    valid = valid_examples(mixture, lengths)
    rows = []  # (name, examples an epoch, cold, warm, batch)
    for task, count in valid.items():
        if count == 0:
            print(f"{task}: no example fits {lengths}; left out", flush=True)
            continue
        rows.append(
            (task, count, *pipeline_rates(task, lengths, args.batch_size, count, args.warm_batches))
        )
        print(f"{task}: cold {rows[-1][2]:.1f}, warm {rows[-1][3]:.1f} examples/s", flush=True)
    # The all-task mixture of the tasks that keep examples at these lengths (one that keeps
    # none is an error in a mixture: mixtures.EmptyTaskError).
    kept = [task for task, count in valid.items() if count]
    if len(kept) < len(valid):
        mixture = add_mixture(f"{mixture}_fitting", [synthetic_dataset(args.corpus)],
                              [task_pair(task) for task in kept])  # fmt: skip
    total = sum(valid.values())
    rates = pipeline_rates(mixture, lengths, args.batch_size, total, args.warm_batches)
    rows.append((mixture, total, *rates))
    print(f"{mixture}: cold {rows[-1][2]:.1f}, warm {rows[-1][3]:.1f} examples/s", flush=True)
    sizes = args.models.split(",")
    steps = {}
    for size in sizes:
        run = step_runner(size, rows[0][4])
        steps[size] = [step_rate(run, row[4], args.repeats) for row in rows]
        print(f"{size} step: " + ", ".join(f"{r:.1f}" for r in steps[size]), flush=True)
    header = ["what", "examples/epoch", "cold ex/s", "warm ex/s", "warm/cold"]
    header += [cell for s in sizes for cell in (f"{s} step ex/s", f"pipeline / {s} step")]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for i, (name, count, cold, warm, _) in enumerate(rows):
        cells = [name, str(count), f"{cold:.1f}", f"{warm:.1f}", f"{warm / cold:.1f}x"]
        for size in sizes:
            ratio = warm / steps[size][i]
            mark = "" if ratio >= TARGET else " (< 3x)"
            cells += [f"{steps[size][i]:.1f}", f"**{ratio:.1f}x**{mark}"]
        print("| " + " | ".join(cells) + " |")
    print(f"lengths {lengths}, batch {args.batch_size}; target: pipeline >= {TARGET:g}x step")


if __name__ == "__main__":
    main()
