"""The eval examples of a run's pairs, read as training's evaluation reads them, and decoded."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from mt3_unified.infer.eval_context import Context, Decoded, EvaluationError
from mt3_unified.text import as_text


def pair_tasks(dataset: str, split: str) -> dict[str, str]:
    """{pair: eval task} of the paper's pairs registered for ``dataset`` with ``split``."""
    import seqio

    from mt3_unified.tasks.registry import EVAL, task_name
    from mt3_unified.tasks.synthetic import PAPER_PAIRS

    out = {}
    for input_modality, output_modality in PAPER_PAIRS:
        name = task_name(dataset, input_modality, output_modality, EVAL)
        if name not in seqio.TaskRegistry.names():
            logging.info("evaluate: %s is not registered; left out", name)
        elif split not in seqio.TaskRegistry.get(name).splits:
            logging.info("evaluate: %s has no %s split; left out", name, split)
        else:
            out[f"{input_modality}_to_{output_modality}"] = name
    return out


def run_dataset(mixture_or_task_name: str | None) -> str:
    """The dataset of a run's tasks (the first one's, e.g. ``synthetic_tiny``)."""
    from mt3_unified.train.evaluation import eval_task_names

    if not mixture_or_task_name:
        raise EvaluationError("the run names no MIXTURE_OR_TASK_NAME: pass dataset=")
    from mt3_unified.tasks.registry import _TASKS

    for name in eval_task_names(mixture_or_task_name):
        if name in _TASKS:
            return _TASKS[name][0]
    raise EvaluationError(f"{mixture_or_task_name}: no registered translation task; pass dataset=")


def read_examples(name: str, split: str, lengths: dict, max_examples: int):
    """(dataset, examples) of the first ``max_examples`` of a task's split, in order."""
    import seqio

    task = seqio.TaskRegistry.get(name)
    ds = task.get_dataset(dict(lengths), split=split, shuffle=False, seed=0)
    ds = ds.take(max_examples).cache()  # one read feeds examples and model rows alike
    return ds, list(ds.as_numpy_iterator())


def decode_dataset(
    run, ds, input_modality: str, batch_size: int, settings: dict | None = None, seed: int = 0
) -> list[np.ndarray]:
    """Decoded frames of every example of a task dataset (batches padded to one shape);
    ``settings``: `model.decoding.DecodingSettings`' fields (default greedy), sampling
    seeded by ``seed``."""
    import jax

    from mt3_unified.infer.predict import model_rows
    from mt3_unified.train import partitioning
    from mt3_unified.train.evaluation import padded_batches

    lengths = run.task_feature_lengths
    rows = model_rows(ds, lengths)
    mesh = partitioning.make_mesh(-1, 1)
    settings = {"max_length": lengths["targets"], **(settings or {})}
    rng = jax.random.key(seed)
    out: list[np.ndarray] = []
    for batch in padded_batches(rows, batch_size):
        rng, key = jax.random.split(rng)
        with partitioning.activation_rules(mesh):
            frames = run.model.predict_batch(run.params, batch, key, **settings)
        out += list(np.asarray(frames))
    return out[: len(rows)]


def decode_pair(ctx: Context, pair: str, name: str) -> Decoded | None:
    """A pair's eval examples decoded and postprocessed; None (the reason in
    ``ctx.skipped``) when its split cannot be read or has no example."""
    import seqio

    input_modality, output_modality = pair.split("_to_")
    try:
        ds, examples = read_examples(
            name, ctx.split, ctx.run.task_feature_lengths, ctx.max_examples
        )
    except (OSError, ValueError) as err:
        # e.g. a symbolic pair whose TFDS corpus was never built beside the baked one
        # (tfds' DatasetNotFoundError and the sources' SourceError are ValueErrors).
        ctx.skipped[name] = f"cannot be read ({str(err).splitlines()[0]})"
        logging.warning("evaluate: %s %s; left out", name, ctx.skipped[name])
        return None
    if not examples:
        ctx.skipped[name] = f"no valid {ctx.split} example"
        logging.warning("evaluate: %s has %s; left out", name, ctx.skipped[name])
        return None
    settings = ctx.decoding_for(output_modality)
    frames = decode_dataset(ctx.run, ds, input_modality, ctx.batch_size, settings, ctx.seed)
    post = seqio.TaskRegistry.get(name).postprocess_fn
    targets = [post(ex["targets"], example=ex, is_target=True) for ex in examples]
    predicted = [
        post(f, example=ex, is_target=False) for f, ex in zip(frames, examples, strict=True)
    ]
    return Decoded(name, input_modality, output_modality, examples, frames, targets, predicted)


def example_key(example: dict) -> tuple[str, float]:
    """(piece_id, start_time) of an example or raw unit: what names its unit."""
    return as_text(example["piece_id"]), round(float(example["start_time"]), 4)


def units_by_key(task_name: str, split: str, keys: set, value_of: Callable[[dict], object]):
    """{(piece_id, start_time): value_of(raw unit)} of the raw units of a task's source
    that the ``keys`` name (the first unit of each key)."""
    import seqio

    source = seqio.TaskRegistry.get(task_name).source
    out: dict = {}
    for raw in source.get_dataset(split=split, shuffle=False).as_numpy_iterator():
        key = example_key(raw)
        if key in keys and key not in out:
            out[key] = value_of(raw)
        if len(out) == len(keys):
            break
    return out
