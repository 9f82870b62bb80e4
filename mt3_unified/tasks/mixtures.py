"""The paper's task mixtures: rates by example count with a temperature, and start steps.

A mixture samples its tasks with `tf.data.Dataset.sample_from_datasets`. Rates
come from `mixing_rate` (examples of a task's split, to the power 1/temperature,
from gin). A task may join at its own step (the paper's curriculum,
`Curriculum.start_steps` from gin): the weights are then a dataset of weight
vectors by example index, step = index // examples_per_step, and a task's
weight is 0 before its start step, so no example of it is drawn before then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import gin
import seqio
import tensorflow as tf

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.preprocessors.frames import CONTINUOUS
from mt3_unified.tasks.chain import count_dropped
from mt3_unified.tasks.registry import registered_pairs, task_name, task_pair
from mt3_unified.vocab.unified import TASK_ALIASES


def for_task(values: Mapping[str, float], task_name: str):
    """The value ``values`` gives a task: by its name, else by its modality pair, the keys
    read as pairs ("image_to_lmx") or aliases ("omr"); None when neither is there."""
    if task_name in values:
        return values[task_name]
    pair = task_pair(task_name)
    if pair is None:
        return None
    return {TASK_ALIASES.get(k, k): v for k, v in values.items()}.get(pair)


@gin.configurable
def mixing_rate(
    task: seqio.Task,
    temperature: float = 1.0,
    maximum: int | None = None,
    scale: float = 1.0,
    weights: Mapping[str, float] | None = None,
) -> float:
    """A task's rate: (scale * min(examples of its train split, maximum)) ** (1 / temperature),
    times its entry in ``weights`` (by task name, pair or alias, as `for_task`; 1 if none).

    Temperature 1 samples in proportion to size; larger temperatures even the tasks out;
    a weight gives one task more (or fewer) of the batches whatever its size.
    """
    rate = seqio.mixing_rate_num_examples(
        task, maximum=maximum, scale=scale, temperature=temperature
    )
    weight = for_task(weights or {}, task.name)
    return rate * (1.0 if weight is None else float(weight))


@gin.configurable
@dataclasses.dataclass(frozen=True)
class Curriculum:
    """When tasks join a run: ``start_steps`` maps a task name, a modality pair
    ("image_to_audio") or an alias ("i2a") to the train step it joins at (tasks not
    named start at 0); ``examples_per_step`` is the batch size each input pipeline
    (host) makes, so that example i of the mixture belongs to step i // examples_per_step.
    """

    start_steps: Mapping[str, int] = dataclasses.field(default_factory=dict)
    examples_per_step: int = 1

    def start_step(self, task_name: str) -> int:
        """The step a task joins at: by its name, else by its modality pair, else 0."""
        return int(for_task(self.start_steps, task_name) or 0)


def curriculum_weights(
    rates: Sequence[float], start_steps: Sequence[int], examples_per_step: int
) -> tf.data.Dataset:
    """An endless dataset of weight vectors: example i weighs task j by rates[j] if
    i // examples_per_step >= start_steps[j], else 0."""
    if examples_per_step < 1:
        raise ValueError(f"examples_per_step must be >= 1, got {examples_per_step}")
    if min(start_steps) > 0:
        raise ValueError(f"some task must start at step 0; the start steps are {start_steps}")
    rates = tf.constant(rates, tf.float32)
    starts = tf.constant(start_steps, tf.int64)

    def weights(index):
        step = index // examples_per_step
        return tf.where(step >= starts, rates, tf.zeros_like(rates))

    return tf.data.Dataset.counter().map(weights)


class CurriculumMixture(seqio.Mixture):
    """A seqio.Mixture whose tasks may join at their own start steps (`Curriculum`).

    The curriculum is read from gin when a dataset is made, so one registered
    mixture serves runs with different schedules.
    """

    def __init__(self, name: str, tasks, default_rate=None, **kwargs):
        super().__init__(name, tasks, default_rate, sample_fn=self._sample, **kwargs)
        self._sampled: list[str] = []

    def get_dataset(self, sequence_length=None, split: str = "train", **kwargs):
        # seqio leaves out tasks without the split; the sampler needs the same list, in order.
        sampled = [task for task in self.tasks if split in task.splits]
        self._sampled = [task.name for task in sampled]
        for task in sampled:
            _require_an_example(task, sequence_length, split, kwargs.get("shard_info"))
        return super().get_dataset(sequence_length, split, **kwargs)

    def get_task_dataset(self, task, output_feature_keys, *args, **kwargs):
        # seqio keeps only the output features of a mixture's examples; log-mel or patch
        # inputs (`ContinuousInputs`) are a feature the tasks add when gin asks: kept too.
        keys = set(output_feature_keys) | {CONTINUOUS}
        return super().get_task_dataset(task, keys, *args, **kwargs)

    def _sample(self, datasets, rates, seed):
        curriculum = Curriculum()
        starts = [curriculum.start_step(name) for name in self._sampled]
        if len(starts) != len(datasets):
            raise RuntimeError(f"{len(datasets)} datasets for tasks {self._sampled}")
        if not any(starts):
            weights = rates
        else:
            weights = curriculum_weights(rates, starts, curriculum.examples_per_step)
        return tf.data.Dataset.sample_from_datasets(
            datasets, weights, seed=seed, stop_on_empty_dataset=True
        )


class EmptyTaskError(Mt3UnifiedError, ValueError):
    """A mixture's task keeps no example of a split at the run's feature lengths."""


def _require_an_example(task: seqio.Task, sequence_length, split: str, shard_info) -> None:
    """Raises EmptyTaskError, with the reasons its examples were dropped, where ``task``
    keeps none: repeated endlessly, such a task would leave the sampler waiting forever."""
    one_pass = task.get_dataset(
        sequence_length, split=split, shuffle=False, num_epochs=1, shard_info=shard_info
    )
    if next(iter(one_pass.take(1)), None) is None:
        dropped = {k: v for k, v in count_dropped(task, split, sequence_length).items() if v}
        raise EmptyTaskError(
            f"{task.name} keeps no example of split {split!r} at feature lengths "
            f"{dict(sequence_length or {})} (per reason: {dropped}); longer lengths or "
            "a mixture without it"
        )


# The paper's mixtures by the modality pairs they hold: the image -> audio direction
# (OMR, then far-modal image -> audio, then MIDI -> audio) and the audio -> image one.
PAPER_MIXTURES: dict[str, tuple[str, ...]] = {
    "omr": ("image_to_lmx",),
    "omr_i2a": ("image_to_lmx", "image_to_audio"),
    "omr_i2a_synth": ("image_to_lmx", "image_to_audio", "midi_to_audio"),
    "amt": ("audio_to_midi",),
    "amt_a2i": ("audio_to_midi", "audio_to_image"),
    "amt_a2i_engrave": ("audio_to_midi", "audio_to_image", "lmx_to_image"),
}
ALL_TASKS = "all"


def mixture_name(prefix: str, recipe: str) -> str:
    """``<prefix>_<recipe>``, e.g. ``synthetic_tiny_omr_i2a``."""
    return f"{prefix}_{recipe}"


def add_mixture(name: str, datasets: Sequence[str], pairs: Sequence[str] | None = None) -> str:
    """Registers the train tasks of ``datasets`` for ``pairs`` (None: every pair they have)
    as one CurriculumMixture rated by `mixing_rate`; returns its name."""
    tasks = [
        task_name(dataset, *pair.split("_to_"))
        for dataset in datasets
        for pair in (pairs or registered_pairs(dataset))
        if pair in registered_pairs(dataset)
    ]
    if not tasks:
        raise ValueError(f"mixture {name}: no registered task of {pairs} in {list(datasets)}")
    seqio.MixtureRegistry.remove(name)
    seqio.MixtureRegistry.add(name, tasks, default_rate=mixing_rate, mixture_cls=CurriculumMixture)
    return name


def add_paper_mixtures(prefix: str, datasets: Sequence[str]) -> list[str]:
    """The paper's six mixtures and the all-task one over ``datasets``, named ``<prefix>_*``."""
    have = {pair for dataset in datasets for pair in registered_pairs(dataset)}
    names = [
        add_mixture(mixture_name(prefix, recipe), datasets, pairs)
        for recipe, pairs in PAPER_MIXTURES.items()
        if have.intersection(pairs)  # a recipe none of the datasets holds is left out
    ]
    names.append(add_mixture(mixture_name(prefix, ALL_TASKS), datasets))
    return names
