"""The preprocessor chain of one translation task, from raw examples to frames of unified ids.

    tokenize (pre-cache: Python's event codec)
    | cache point     (seqio repeats here: `get_dataset(num_epochs=...)`)
    | number_passes   (training, code modalities: seqio's repeat as numbered passes, `epoch`)
    | select_variant  (baked sources: a seeded random shift variant; eval: variant 0)
    | segments        (audio <-> MIDI: windows, random in training, all in order in eval;
    |                  otherwise whole units, MIDI of the unit)
    | continuous      (log-mel or patches, where `ContinuousInputs.modalities` asks)
    | drop_invalid    (empty, NaN, out-of-range or too long: dropped; `count_dropped`
    |                  runs the chain up to here and counts them instead)
    | to_frames       (inputs/targets [L, K] with EOS, modality and task indices; in a
    |                  run with continuous inputs, zero ones for the other inputs)

Every step reads the vocabulary (`unified_vocabulary()`) and gin when a dataset
is made. Random choices are keyed hashes of the unit, the pass over the data (the
`epoch` that `variants.number_passes` numbers) and the pipeline's seed
(`pipeline_seed`, `variants.unit_choice`): the same seed gives the same examples,
whatever the sharding, and each pass draws again, so that a unit meets all its
baked variants and many windows in a long run. The `epoch` feature ends at
`to_frames`, which emits the frame features only.
"""

from __future__ import annotations

import dataclasses
import functools

import gin
import seqio
import tensorflow as tf

from mt3_unified.preprocessors import continuous, frames, segments, tokenize, validation, variants
from mt3_unified.vocab.unified import CODE_MODALITIES, SYMBOLIC_MODALITIES, unified_vocabulary


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ContinuousInputs:
    """The gin switch for continuous inputs: ``modalities`` lists those ("audio", "image")
    that enter the encoder as log-mel frames or image patches instead of codes; the other
    fields are `preprocessors.continuous.add_continuous_inputs`'s settings."""

    modalities: tuple[str, ...] = ()
    sample_rate: int = 16000
    frame_rate: float = 100.0
    num_mel_bins: int = 128
    fft_size: int = 1024
    image_height: int = 64
    patch_size: int = 8
    # None: square patches; image_height: whole column strips (one frame a column).
    patch_height: int | None = None
    feature_dim: int | None = None

    def settings(self) -> dict:
        out = dataclasses.asdict(self)
        del out["modalities"]
        return out

    def own_width(self, modality: str) -> int:
        """A modality's features before `feature_dim`'s zero padding: log-mel bins, or a
        patch's pixels."""
        return continuous.feature_width(
            modality,
            num_mel_bins=self.num_mel_bins,
            patch_size=self.patch_size,
            patch_height=self.patch_height,
        )

    def width(self) -> int:
        """D of every example's `continuous_inputs` in this run: `feature_dim`, or else the
        one continuous modality's own (log-mel bins, or a patch's pixels)."""
        if self.feature_dim is not None:
            return self.feature_dim
        own = {self.own_width(m) for m in self.modalities}
        if len(own) != 1:
            raise ValueError(
                f"ContinuousInputs.modalities = {self.modalities} have feature widths "
                f"{sorted(own)}; set ContinuousInputs.feature_dim to one width for all"
            )
        return own.pop()


def continuous_input(modality: str) -> bool:
    """Whether ``modality`` enters the encoder as continuous frames in this run (gin)."""
    return modality in ContinuousInputs().modalities


def continuous_run() -> bool:
    """Whether this run's batches carry continuous inputs (gin): every task's examples then
    do, zero rows where the input is codes or symbols, so that one mixture samples both."""
    return bool(ContinuousInputs().modalities)


@seqio.map_over_dataset(num_seeds=1)
def _map_seed(element, seed):
    del element
    return seed


def pipeline_seed() -> int:
    """The seed of this step of the chain, one int: what seqio's seeded maps
    (`seqio.map_over_dataset(num_seeds=1)`) draw first at this point of the chain. seqio
    derives it from the seed that `get_dataset` was given and advances it per seeded step,
    so the same seed gives the same choices; without a seed it is random.

    Choices key a hash by this int, the unit and its pass (`variants.unit_choice`), not
    by the example's position, so that sharding and restarts do not change them: hence
    one int per step, read once when the dataset is made, rather than a seed per element.
    """
    first, second = _map_seed(tf.data.Dataset.from_tensors(0)).get_single_element()
    return (int(first) * 1_000_003 + int(second)) & (2**63 - 1)


def _lengths(sequence_length, task: str) -> dict:
    if not sequence_length or "inputs" not in sequence_length or "targets" not in sequence_length:
        raise ValueError(
            f"{task}: get_dataset needs sequence_length={{'inputs': L, 'targets': L}}, "
            f"got {sequence_length}"
        )
    return dict(sequence_length)


def preprocessors(source, input_modality: str, output_modality: str, *, training: bool) -> list:
    """The chain (module docstring) of one task on ``source`` (a `sources.TaskSource`)."""
    pair = {input_modality, output_modality}
    task = f"{input_modality}_to_{output_modality}"
    steps = []
    if pair & set(SYMBOLIC_MODALITIES):
        steps.append(_tokenize)
    steps.append(seqio.CacheDatasetPlaceholder())
    if training and pair & set(CODE_MODALITIES):
        # The steps that choose (variants, audio windows) draw again in each pass; it
        # must come first after the cache point, where seqio's repeat is.
        steps.append(variants.number_passes)
    if pair & set(CODE_MODALITIES):
        steps.append(functools.partial(_select_variant, source=source, training=training))
    steps.append(
        functools.partial(
            _segment,
            input_modality=input_modality,
            output_modality=output_modality,
            training=training,
            task=task,
        )
    )
    modalities = dict(input_modality=input_modality, output_modality=output_modality)
    steps.append(functools.partial(_continuous, modality=input_modality))
    steps.append(functools.partial(_drop_invalid, **modalities, task=task))
    steps.append(functools.partial(_frames, **modalities, task=task))
    return steps


def _tokenize(dataset):
    return tokenize.tokenize_symbolic(dataset, vocabulary=unified_vocabulary())


def _select_variant(dataset, *, source, training: bool):
    num_variants = source.num_variants() if training else 1
    return variants.select_variant(
        dataset, training=training, num_variants=num_variants, seed=pipeline_seed()
    )


def _segment(dataset, sequence_length, *, input_modality, output_modality, training, task):
    vocabulary = unified_vocabulary()
    lengths = _lengths(sequence_length, task)
    if {input_modality, output_modality} == {"audio", "midi"}:
        audio_side = "inputs" if input_modality == "audio" else "targets"
        frame_rate = None
        if audio_side == "inputs" and continuous_input("audio"):
            frame_rate = ContinuousInputs().frame_rate
        return segments.segment_audio_and_notes(
            dataset,
            lengths,
            training=training,
            audio_side=audio_side,
            vocabulary=vocabulary,
            frame_rate=frame_rate,
            seed=pipeline_seed(),
        )
    if "midi" in (input_modality, output_modality):
        return segments.unit_midi(dataset, vocabulary=vocabulary)
    return dataset


def _continuous(dataset, *, modality):
    if not continuous_input(modality):  # gin decides when the dataset is made
        return dataset
    return continuous.add_continuous_inputs(
        dataset, modality=modality, **ContinuousInputs().settings()
    )


def validation_settings(sequence_length, *, input_modality, output_modality, task) -> dict:
    """`validation.invalid_reason`'s keyword arguments for one task's examples."""
    # Audio windows fit their side by construction; MIDI of a dense window is trimmed
    # (MT3's way) rather than the window dropped. Whole units that do not fit are dropped.
    windows = {input_modality, output_modality} == {"audio", "midi"}
    return dict(
        input_modality=input_modality,
        output_modality=output_modality,
        vocabulary=unified_vocabulary(),
        sequence_length=None if windows else _lengths(sequence_length, task),
        continuous_input=continuous_input(input_modality),
    )


def _drop_invalid(dataset, sequence_length, **modalities):
    return validation.drop_invalid(dataset, **validation_settings(sequence_length, **modalities))


def is_validation_step(step) -> bool:
    """Whether a step of `preprocessors`' chain is the one that drops invalid examples."""
    return getattr(step, "func", None) is _drop_invalid


def _frames(dataset, sequence_length, *, input_modality, output_modality, task):
    vocabulary = unified_vocabulary()
    lengths = _lengths(sequence_length, task)
    windows = {input_modality, output_modality} == {"audio", "midi"}
    return frames.to_frames(
        dataset,
        lengths,
        input_modality=input_modality,
        output_modality=output_modality,
        vocabulary=vocabulary,
        trim=windows,
        continuous_input=continuous_input(input_modality),
        continuous_width=ContinuousInputs().width() if continuous_run() else 0,
    )


def count_dropped(task: seqio.Task, split: str, sequence_length, seed: int | None = 0) -> dict:
    """{reason: examples} that `task`'s drop_invalid step drops from ``split`` (every one of
    `validation.REASONS`, zeros included, and "valid"): the task's own source and steps up
    to that step, seeded as `get_dataset(seed=seed)` seeds them, read once on the host
    (one pass: a training chain's choices those of its first pass, `epoch` 0)."""
    steps = list(task.preprocessors)
    found = [i for i, step in enumerate(steps) if is_validation_step(step)]
    if not found:
        raise ValueError(f"{task.name} has no drop_invalid step")
    index = found[0]
    # The same source and the same steps in the same places, so seqio seeds them alike;
    # no output features: the examples end before to_frames makes them.
    until_validation = seqio.Task(
        f"{task.name}_until_validation",
        task.source,
        output_features={},
        preprocessors=steps[:index],
    )
    ds = until_validation.get_dataset(
        sequence_length,
        split=split,
        shuffle=False,
        seed=seed,
        num_epochs=1,
        trim_output_features=False,
    )
    settings = validation_settings(sequence_length, **steps[index].keywords)
    return validation.count_invalid(ds, **settings)
