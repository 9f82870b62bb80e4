"""Evaluation during training: greedy decoding scored by the tasks' own metric functions.

`TaskMetricEvaluator` reads the first `max_examples` of each task's validation split
once (the eval variant of a training task: unshifted, every segment in order), decodes
them with `model.predict_batch` (greedy), postprocesses targets and predictions with the
task's `postprocess_fn` and scores them with its predict metric functions (those of
`tasks.metrics.metric_fns_for` for the project's tasks). Results are named
``eval/<task>/<metric>``, the names `CheckpointConfig.best_metric` can take.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import gin
import jax
import numpy as np

from mt3_unified.train import partitioning

TRAIN_SUFFIX, EVAL_SUFFIX = "_train", "_eval"


def eval_task_names(mixture_or_task_name: str) -> list[str]:
    """The tasks a run evaluates: each task of the mixture (or the task), replaced by its
    registered ``_eval`` twin when it is a ``_train`` task that has one."""
    import seqio

    from mt3_unified.tasks import get_task_or_mixture

    found = get_task_or_mixture(mixture_or_task_name)
    tasks = found.tasks if isinstance(found, seqio.Mixture) else [found]
    registered = set(seqio.TaskRegistry.names())
    names = []
    for task in tasks:
        twin = task.name.removesuffix(TRAIN_SUFFIX) + EVAL_SUFFIX
        use = twin if task.name.endswith(TRAIN_SUFFIX) and twin in registered else task.name
        names.append(use)
    return list(dict.fromkeys(names))


@gin.configurable
class TaskMetricEvaluator:
    """evaluator(model, params, mesh) -> {"eval/<task>/<metric>": value} (module docstring).

    `mixture_or_task_name` and `task_feature_lengths` default to the training input's in
    gin/train.gin; `batch_size` rows are decoded at once (the last batch padded with copies
    of its last example, so every call has one shape); `max_decode_length` defaults to the
    targets' feature length.
    """

    def __init__(
        self,
        *,
        mixture_or_task_name: str = gin.REQUIRED,
        task_feature_lengths: Mapping[str, int] = gin.REQUIRED,
        split: str = "validation",
        max_examples: int = 8,
        batch_size: int = 4,
        max_decode_length: int | None = None,
        continuous: bool | None = None,
    ):
        self.name, self.lengths = mixture_or_task_name, task_feature_lengths
        self.split, self.max_examples, self.batch_size = split, max_examples, batch_size
        self.max_decode_length, self.continuous = max_decode_length, continuous
        self.names: list[str] = []
        self._examples: dict | None = None  # {task: (task examples, model batches)}, read once

    def validate(self) -> None:
        """Raises ValueError for unbound settings and UnknownTaskError for an unknown task;
        the trainer calls it before anything compiles (gin builds this object even when
        the run does not evaluate, so the constructor checks nothing)."""
        if gin.REQUIRED in (self.name, self.lengths):
            raise ValueError(
                "TaskMetricEvaluator: bind mixture_or_task_name and task_feature_lengths in gin"
            )
        if self.max_examples < 1 or self.batch_size < 1:
            raise ValueError(f"max_examples and batch_size must be >= 1, got "
                             f"{self.max_examples}, {self.batch_size}")  # fmt: skip
        self.names = eval_task_names(self.name)
        self.lengths = dict(self.lengths)
        self.max_decode_length = self.max_decode_length or self.lengths["targets"]

    def __call__(self, model, params, mesh) -> dict[str, float]:
        out = {}
        for name, (examples, batches) in self._read().items():
            predictions = self._decode(model, params, mesh, batches)[: len(examples)]
            for metric, value in score_task(name, examples, predictions).items():
                out[f"eval/{name}/{metric}"] = value
        return out

    def _read(self) -> dict:
        if self._examples is None:
            self.validate()
            self._examples = {}
            for name in self.names:
                read = self._read_task(name)
                if read is not None:
                    self._examples[name] = read
        return self._examples

    def _read_task(self, name: str):
        import seqio

        from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
        from mt3_unified.vocab.layout import VocabularyLayout

        task = seqio.TaskRegistry.get(name)
        if self.split not in task.splits:
            logging.info("evaluation: %s has no %s split; left out", name, self.split)
            return None
        ds = task.get_dataset(self.lengths, split=self.split, shuffle=False, seed=0)
        ds = ds.take(self.max_examples).cache()  # one read feeds both lists, in one order
        examples = list(ds.as_numpy_iterator())
        if not examples:
            logging.warning("evaluation: %s has no valid %s example; left out", name, self.split)
            return None
        converter = UnifiedFeatureConverter.for_dataset(VocabularyLayout(), ds, self.continuous)
        rows = list(converter(ds, self.lengths).as_numpy_iterator())
        return examples, padded_batches(rows, self.batch_size)

    def _decode(self, model, params, mesh, batches) -> list[np.ndarray]:
        out = []
        with partitioning.activation_rules(mesh):
            for batch in batches:
                frames = model.predict_batch(params, batch, max_length=self.max_decode_length)
                out += list(np.asarray(jax.device_get(frames)))
        return out


def padded_batches(rows: Sequence[dict], batch_size: int) -> list[dict]:
    """Rows (dicts of one example's arrays) stacked into batches of `batch_size`, the last
    filled up with copies of its last row (one shape: one compiled decoder)."""
    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = list(rows[start : start + batch_size])
        chunk += [chunk[-1]] * (batch_size - len(chunk))
        batches.append({name: np.stack([row[name] for row in chunk]) for name in chunk[0]})
    return batches


def score_task(name: str, examples: Sequence[dict], predictions: Sequence) -> dict[str, float]:
    """A task's predict metric functions on its postprocessed targets and predictions."""
    import seqio

    task = seqio.TaskRegistry.get(name)
    post = task.postprocess_fn
    targets = [post(ex["targets"], example=ex, is_target=True) for ex in examples]
    predicted = [post(p, example=ex, is_target=False) for p, ex in zip(predictions, examples,
                                                                        strict=True)]  # fmt: skip
    scores: dict[str, float] = {}
    for metric_fn in task.predict_metric_fns:
        scores.update({k: float(v) for k, v in metric_fn(targets, predicted).items()})
    return scores
