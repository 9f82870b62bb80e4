"""Registering translation tasks: one call adds the train and eval seqio.Tasks of one pair.

Shaped like MT3's tasks.py: `task_name` makes every name, `add_translation_task`
registers a (dataset, input modality, output modality) with one preprocessor
chain (train: a random shift variant and a random segment; eval: the unshifted
variant and every segment in order), output features over the run's
vocabulary, and the postprocessor and metric functions of the output modality.
Nothing is read at registration: sources, vocabulary sizes and feature
switches come from gin when a dataset is made.
"""

from __future__ import annotations

import functools

import seqio
import tensorflow as tf

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.tasks.chain import continuous_input, count_dropped, preprocessors
from mt3_unified.tasks.metrics import metric_fns_for
from mt3_unified.tasks.postprocess import postprocessor_for
from mt3_unified.tasks.sources import Corpus, TaskSource
from mt3_unified.vocab.unified import MODALITIES, UnifiedVocabulary, unified_vocabulary

TRAIN, EVAL = "train", "eval"
# (dataset, input modality, output modality) of every task this module registered.
_TASKS: dict[str, tuple[str, str, str]] = {}


class UnknownTaskError(Mt3UnifiedError, KeyError):
    """A task or mixture name that is not registered; the message lists those that are."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def task_name(dataset: str, input_modality: str, output_modality: str, kind: str = TRAIN) -> str:
    """The one spelling of task names: ``<dataset>_<input>_to_<output>_<train|eval>``."""
    for modality in (input_modality, output_modality):
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}; modalities are {MODALITIES}")
    if input_modality == output_modality:
        raise ValueError(f"a translation needs two modalities, got {input_modality} twice")
    if kind not in (TRAIN, EVAL):
        raise ValueError(f"kind is {TRAIN!r} or {EVAL!r}, got {kind!r}")
    return f"{dataset}_{input_modality}_to_{output_modality}_{kind}"


def task_pair(name: str) -> str | None:
    """The modality pair (``image_to_lmx``) of a task registered here; None for others."""
    found = _TASKS.get(name)
    return None if found is None else f"{found[1]}_to_{found[2]}"


def registered_pairs(dataset: str) -> list[str]:
    """The modality pairs registered for a dataset, in registration order."""
    pairs = [f"{i}_to_{o}" for d, i, o in _TASKS.values() if d == dataset]
    return list(dict.fromkeys(pairs))


def registered_datasets() -> list[str]:
    return list(dict.fromkeys(d for d, _, _ in _TASKS.values()))


class RunVocabulary(seqio.Vocabulary):
    """The run's UnifiedVocabulary, looked up from gin (`unified_vocabulary()`) at each use.

    Tasks are registered at import, before a run's gin files are parsed; their
    output features hold this stand-in so that the sizes gin binds later decide.
    """

    def __init__(self):
        super().__init__(extra_ids=0)

    @property
    def current(self) -> UnifiedVocabulary:
        return unified_vocabulary()

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.current, name)

    @property
    def eos_id(self) -> int:
        return self.current.eos_id

    @property
    def unk_id(self) -> int:
        return self.current.unk_id

    @property
    def _base_vocab_size(self) -> int:
        return self.current.vocab_size

    def _encode(self, s):
        return self.current._encode(s)

    def _decode(self, ids):
        return self.current._decode(ids)

    def _encode_tf(self, s):
        return self.current._encode_tf(s)

    def _decode_tf(self, ids):
        return self.current._decode_tf(ids)

    def __eq__(self, other) -> bool:
        return isinstance(other, RunVocabulary)

    def __hash__(self) -> int:
        return hash(RunVocabulary)


RUN_VOCABULARY = RunVocabulary()
# Scalar features index the layout's lists (MODALITIES, TASKS); they hold no tokens.
_INDEX_VOCABULARY = seqio.PassThroughVocabulary(size=0)


def output_features() -> dict[str, seqio.Feature]:
    """Frames [L, K] of unified ids for inputs and targets (EOS frames added by the chain),
    and the modality and task indices the feature converter passes on."""
    frames = functools.partial(seqio.Feature, RUN_VOCABULARY, add_eos=False, dtype=tf.int32, rank=2)
    index = functools.partial(
        seqio.Feature, _INDEX_VOCABULARY, add_eos=False, dtype=tf.int32, rank=0
    )
    return {
        "inputs": frames(),
        "targets": frames(),
        "input_modality": index(),
        "target_modality": index(),
        "task": index(),
    }


def add_translation_task(
    dataset: str,
    input_modality: str,
    output_modality: str,
    *,
    source: Corpus | seqio.DataSource,
    metric_fns=None,
    postprocess_fn=None,
    shuffle_buffer_size: int = 1000,
) -> tuple[str, str]:
    """Registers the train and eval tasks of ``input_modality -> output_modality`` on
    ``source``; returns their names. Registering a name again replaces it.

    ``source`` is a Corpus (read baked or from TFDS, as `sources.TaskSource` decides) or a
    DataSource of raw examples with a ``num_variants()`` (e.g. `folder_source.FolderSource`).
    The postprocessor and metrics default to those of the output modality
    (`tasks.postprocess.postprocessor_for`, `tasks.metrics.metric_fns_for`).
    """
    names = []
    for kind in (TRAIN, EVAL):
        name = task_name(dataset, input_modality, output_modality, kind)
        task_source = (
            source
            if isinstance(source, seqio.DataSource)
            else TaskSource(source, input_modality, output_modality, continuous_input)
        )
        seqio.TaskRegistry.remove(name)
        seqio.TaskRegistry.add(
            name,
            source=task_source,
            output_features=output_features(),
            preprocessors=preprocessors(
                task_source, input_modality, output_modality, training=kind == TRAIN
            ),
            postprocess_fn=postprocess_fn or postprocessor_for(output_modality),
            metric_fns=list(metric_fns or metric_fns_for(output_modality)),
            shuffle_buffer_size=shuffle_buffer_size,
        )
        _TASKS[name] = (dataset, input_modality, output_modality)
        names.append(name)
    return names[0], names[1]


def get_task_or_mixture(name: str) -> seqio.Task | seqio.Mixture:
    """A registered task or mixture; an unknown name is an UnknownTaskError listing them all."""
    if name in seqio.MixtureRegistry.names():
        return seqio.MixtureRegistry.get(name)
    if name in seqio.TaskRegistry.names():
        return seqio.TaskRegistry.get(name)
    tasks = sorted(seqio.TaskRegistry.names())
    mixtures = sorted(seqio.MixtureRegistry.names())
    raise UnknownTaskError(
        f"no task or mixture named {name!r}; registered mixtures: {', '.join(mixtures) or '-'}; "
        f"registered tasks: {', '.join(tasks) or '-'}"
    )


def dropped_counts(name: str, split: str, sequence_length, seed: int | None = 0) -> dict:
    """{task: {reason: examples}} that the pipeline of a task or mixture drops from ``split``
    (`chain.count_dropped`, reasons of `preprocessors.validation.REASONS` and "valid"), for
    the trainer to log at start-up; tasks without the split are left out."""
    found = get_task_or_mixture(name)
    tasks = found.tasks if isinstance(found, seqio.Mixture) else [found]
    return {
        task.name: count_dropped(task, split, sequence_length, seed)
        for task in tasks
        if split in task.splits
    }
