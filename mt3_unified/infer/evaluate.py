"""The paper's evaluation tables of one checkpoint on one split, with samples, in an eval dir.

`evaluate` decodes each registered pair's ``_eval`` task (greedy, the first
``max_examples`` of the split, read as `train.evaluation.TaskMetricEvaluator` reads
them), scores them as the paper does and writes ``results.json`` (the format
`report.evaluation` reads), ``results.md`` and ``samples/<task>/<i>/`` files:

- image -> LMX (OMR), MIDI -> LMX: SER and SER without tuplets;
- audio -> MIDI (AMT), LMX -> MIDI: note onset and onset-offset F1 (mir_eval);
- MIDI -> audio, image -> audio: the generated audio is transcribed by the model's own
  AMT (decoded, re-encoded by the audio codec) and scored against the ground-truth
  notes (image -> audio after DTW alignment, `metrics.alignment`); FAD against the
  decoded ground-truth codes;
- audio -> image: EMD of pitch and duration token histograms of the model's own OMR of
  the generated images against the ground-truth LMX;
- LMX -> image: code accuracy and PSNR of the decoded images.

Every table has a "random pairing" floor (targets scored against a seeded permutation
of the targets) where the metric pairs examples; other reference rows are named in
each table's note. A row that could not be computed is left out and the note says why.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import gin
import numpy as np
from note_seq.protobuf import music_pb2

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.tasks import postprocess
from mt3_unified.tasks.metrics import code_metrics, lmx_metrics, midi_metrics

RESULTS_JSON, RESULTS_MD, SAMPLES_DIR = "results.json", "results.md", "samples"
MODEL, RANDOM, CODEC_ROW, GT_IMAGE, MULTI = (
    "model",
    "random pairing",
    "codec reconstruction",
    "GT image",
    "multi-stage",
)
# The codec each pair cannot be scored without, and the flag that supplies it.
NEEDS_CODEC = {"midi_to_audio": "audio", "image_to_audio": "audio"}
CODEC_FLAGS = {"image": "--image-codec (image_codec=)", "audio": "--audio-codec (audio_codec=)"}
SER_COLUMNS = ["system", "SER (%)", "SER w/o tuplets (%)", "examples"]
NOTE_COLUMNS = [
    "system",
    "onset F1 @50ms",
    "onset-offset F1 @50ms",
    "onset F1 @100ms",
    "onset F1 @200ms",
    "examples",
]
AUDIO_COLUMNS = [
    "system",
    "onset F1 @50ms",
    "onset F1 @100ms",
    "onset F1 @200ms",
    "FAD",
    "examples",
]
EMD_COLUMNS = ["system", "EMD pitch", "EMD duration", "examples"]
CODE_COLUMNS = ["system", "code accuracy", "code length ratio", "PSNR (dB)", "examples"]
TITLES = {
    "image_to_lmx": "OMR (image → LMX)",
    "lmx_to_image": "Engraving (LMX → image)",
    "audio_to_midi": "AMT (audio → MIDI)",
    "midi_to_audio": "Synthesis (MIDI → audio)",
    "image_to_audio": "Image → audio",
    "audio_to_image": "Audio → image",
    "lmx_to_midi": "LMX → MIDI",
    "midi_to_lmx": "MIDI → LMX",
}


class EvaluationError(Mt3UnifiedError, ValueError):
    """An evaluation that cannot start: the message names the flag or folder to fix."""


# ------------------------------------------------------------------ the run's pairs
@dataclasses.dataclass
class Decoded:
    """One pair's eval examples, the model's frames and both postprocessed."""

    task: str
    input_modality: str
    output_modality: str
    examples: list[dict]
    frames: list[np.ndarray]
    targets: list
    predictions: list
    # {example index: {"target": notes, "prediction": notes}} the scoring found (audio
    # outputs: ground truth and the own-AMT transcription) for the samples' piano rolls.
    sample_notes: dict = dataclasses.field(default_factory=dict)

    @property
    def pair(self) -> str:
        return f"{self.input_modality}_to_{self.output_modality}"


@dataclasses.dataclass
class Context:
    """What every pair's scoring shares: the run, codecs (loaded once, on first use)."""

    run: object
    split: str
    max_examples: int
    batch_size: int
    seed: int
    output_dir: Path
    samples_per_task: int
    codec_workdirs: dict[str, str | None]
    embedder: object = None
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # {task: why}
    _encoders: dict = dataclasses.field(default_factory=dict)
    _embed: tuple | None = None

    def encoder(self, modality: str):
        """The host encoder of the image or audio codec; None when there is none."""
        if modality not in self._encoders:
            from mt3_unified.codecs.loading import load_code_encoder

            workdir = self.codec_workdirs.get(modality)
            self._encoders[modality] = load_code_encoder(workdir) if workdir else None
        return self._encoders[modality]

    def embed(self) -> tuple[Callable, str]:
        if self._embed is None:
            from mt3_unified.infer.embedders import load_embedder

            self._embed = load_embedder(self.embedder, self.encoder("audio"))
        return self._embed


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


def decode_dataset(run, ds, input_modality: str, batch_size: int) -> list[np.ndarray]:
    """Greedy frames of every example of a task dataset (batches padded to one shape)."""
    from mt3_unified.infer.predict import model_rows
    from mt3_unified.train import partitioning
    from mt3_unified.train.evaluation import padded_batches

    lengths = run.task_feature_lengths
    rows = model_rows(ds, input_modality, lengths)
    mesh = partitioning.make_mesh(-1, 1)
    out: list[np.ndarray] = []
    for batch in padded_batches(rows, batch_size):
        with partitioning.activation_rules(mesh):
            frames = run.model.predict_batch(run.params, batch, max_length=lengths["targets"])
        out += list(np.asarray(frames))
    return out[: len(rows)]


def decode_pair(ctx: Context, pair: str, name: str) -> Decoded | None:
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
    frames = decode_dataset(ctx.run, ds, input_modality, ctx.batch_size)
    post = seqio.TaskRegistry.get(name).postprocess_fn
    targets = [post(ex["targets"], example=ex, is_target=True) for ex in examples]
    predicted = [
        post(f, example=ex, is_target=False) for f, ex in zip(frames, examples, strict=True)
    ]
    return Decoded(name, input_modality, output_modality, examples, frames, targets, predicted)


# ------------------------------------------------------------------ rows and tables
def random_pairing(items: Sequence, seed: int) -> list:
    """The items re-paired at random (the floor): a seeded random cycle through all of
    them, so each target is scored against another's whenever there are two or more
    (a plain permutation would leave some, or with two items often all, in place)."""
    order = np.random.default_rng(seed).permutation(len(items))
    out = list(items)
    for k, i in enumerate(order):
        out[i] = items[order[(k + 1) % len(order)]]
    return out


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


def row(system: str, values: Sequence, examples: int) -> list:
    return [system, *(_number(v) for v in values), int(examples)]


def table(pair: str, columns: list[str], rows: list[list], note: str) -> dict:
    return {"title": TITLES.get(pair, pair), "columns": columns, "rows": rows, "note": note}


def ser_values(targets: Sequence, predictions: Sequence) -> list[float]:
    scores = lmx_metrics(targets, predictions)
    return [scores["ser"], scores["ser_no_tuplets"]]


def note_values(targets: Sequence, predictions: Sequence) -> list[float]:
    scores = midi_metrics(targets, predictions)
    return [
        scores["onset_f1@50ms"],
        scores["onset_offset_f1@50ms"],
        scores["onset_f1@100ms"],
        scores["onset_f1@200ms"],
    ]


def onset_values(targets: Sequence, predictions: Sequence) -> list[float]:
    scores = midi_metrics(targets, predictions)
    return [scores[f"onset_f1@{ms}ms"] for ms in (50, 100, 200)]


def code_values(targets: Sequence, predictions: Sequence, image_encoder) -> list[float | None]:
    from mt3_unified.tasks.metrics import decoded_image_metrics

    scores = code_metrics(targets, predictions)
    psnr = None
    if image_encoder is not None:
        psnr = decoded_image_metrics(targets, predictions, image_encoder)["decoded_psnr_db"]
    return [scores["code_accuracy"], scores["code_length_ratio"], psnr]


# ------------------------------------------------------------------ symbolic outputs
def score_ser(ctx: Context, decoded: Decoded) -> dict:
    n, t = len(decoded.targets), decoded.targets
    rows = [
        row(MODEL, ser_values(t, decoded.predictions), n),
        row(RANDOM, ser_values(t, random_pairing(t, ctx.seed)), n),
    ]
    return table(decoded.pair, SER_COLUMNS, rows, f"{RANDOM}: {_random_note(ctx.seed)}")


def score_notes(ctx: Context, decoded: Decoded) -> dict:
    n, t = len(decoded.targets), decoded.targets
    rows = [
        row(MODEL, note_values(t, decoded.predictions), n),
        row(RANDOM, note_values(t, random_pairing(t, ctx.seed)), n),
    ]
    note = f"{RANDOM}: {_random_note(ctx.seed)}"
    if decoded.pair == "audio_to_midi":
        # The inputs are audio codes: the codec's encoding of the ground-truth audio, so
        # "AMT on codec-reconstructed audio" is exactly the model row; not repeated.
        note += (
            f" No {CODEC_ROW} row: the inputs already are the audio codec's codes of the "
            "ground-truth audio, so it equals the model row."
        )
    return table(decoded.pair, NOTE_COLUMNS, rows, note)


def score_codes(ctx: Context, decoded: Decoded) -> dict:
    n, t = len(decoded.targets), decoded.targets
    encoder = ctx.encoder("image")
    rows = [
        row(MODEL, code_values(t, decoded.predictions, encoder), n),
        row(RANDOM, code_values(t, random_pairing(t, ctx.seed), encoder), n),
    ]
    note = f"{RANDOM}: {_random_note(ctx.seed)}"
    if encoder is None:
        note += f" PSNR needs the image codec ({CODEC_FLAGS['image']})."
    return table(decoded.pair, CODE_COLUMNS, rows, note)


def _random_note(seed: int) -> str:
    return f"each target scored against another target, paired at random (seed {seed})."


# ------------------------------------------------------------------ units for own decoding
def _unit(piece_id: str) -> dict:
    from mt3_unified.tasks.folder_source import empty_raw_numpy

    unit = empty_raw_numpy()
    unit["piece_id"] = np.asarray(piece_id.encode("utf-8"))
    return unit


def audio_units_of_samples(samples: np.ndarray, encoder, piece_id: str) -> list[dict]:
    """One raw unit of a clip at the codec's rate, as `infer.inputs.audio_units` makes
    of a whole recording (codes, frame rate, int16 samples); [] for an empty clip."""
    samples = np.asarray(samples, np.float32).reshape(-1)
    if samples.size == 0:
        return []
    config = encoder.model.config
    unit = _unit(piece_id)
    unit["audio_codes"] = encoder(samples)
    unit["audio_frame_rate"] = np.float32(config.sample_rate / config.hop)
    unit["audio"] = np.round(np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    unit["sample_rate"] = np.int32(config.sample_rate)
    return [unit]


def image_code_unit(codes: np.ndarray, piece_id: str) -> dict:
    unit = _unit(piece_id)
    unit["image_codes"] = np.asarray(codes, np.int32)
    return unit


def lmx_unit(tokens: Sequence[str], piece_id: str) -> dict:
    unit = _unit(piece_id)
    unit["lmx"] = np.asarray(" ".join(tokens).encode("utf-8"))
    return unit


def notes_unit(ns: music_pb2.NoteSequence, audio_encoder, piece_id: str) -> dict:
    """A unit of notes with silent audio codes as long as them (plus a second), as
    `infer.inputs.midi_units` makes for synthesis."""
    from mt3_unified.preprocessors.raw import NOTE_PREFIX

    unit = _unit(piece_id)
    notes = list(ns.notes)
    fields = {
        "pitch": [n.pitch for n in notes],
        "onset": [n.start_time for n in notes],
        "offset": [n.end_time for n in notes],
        "velocity": [n.velocity or 80 for n in notes],
        "program": [n.program for n in notes],
        "is_drum": [n.is_drum for n in notes],
    }
    for field, values in fields.items():
        unit[NOTE_PREFIX + field] = np.asarray(values, unit[NOTE_PREFIX + field].dtype)
    config = audio_encoder.model.config
    rate = config.sample_rate / config.hop
    seconds = max((n.end_time for n in notes), default=0.0) + 1.0
    unit["audio_codes"] = np.zeros((math.ceil(seconds * rate), config.rvq.num_codebooks), np.int32)
    unit["audio_frame_rate"] = np.float32(rate)
    return unit


def decode_grouped(ctx: Context, units: list[dict], input_modality: str, output_modality: str):
    """{piece_id: [segments in order]} of units decoded with the run's model."""
    from mt3_unified.infer.predict import decode_units

    grouped: dict[str, list] = {u["piece_id"].item().decode(): [] for u in units}
    for segment in decode_units(
        ctx.run, units, input_modality, output_modality, batch_size=ctx.batch_size
    ):
        grouped[segment.piece_id].append(segment)
    return grouped


def transcribe(ctx: Context, clips: Sequence[np.ndarray]) -> list[music_pb2.NoteSequence]:
    """The model's own AMT of each clip (re-encoded by the audio codec); empty clips: no notes."""
    from mt3_unified.infer.outputs import notes_of_segments

    encoder = ctx.encoder("audio")
    units = [
        u for i, clip in enumerate(clips) for u in audio_units_of_samples(clip, encoder, f"{i}")
    ]
    grouped = decode_grouped(ctx, units, "audio", "midi")
    return [
        notes_of_segments(grouped[f"{i}"]) if f"{i}" in grouped else music_pb2.NoteSequence()
        for i in range(len(clips))
    ]


def omr(ctx: Context, code_sets: Sequence[np.ndarray]) -> list[list[str]]:
    """The model's own OMR (image -> LMX) of raw image codes; no codes: no tokens."""
    units = [image_code_unit(c, f"{i}") for i, c in enumerate(code_sets) if len(c)]
    grouped = decode_grouped(ctx, units, "image", "lmx")
    return [
        [t for s in grouped.get(f"{i}", []) for t in postprocess.lmx_tokens(s.frames)]
        for i in range(len(code_sets))
    ]


def decode_clip(codes: np.ndarray, encoder) -> np.ndarray:
    return postprocess.decode_audio(codes, encoder) if len(codes) else np.zeros(0, np.float32)


# ------------------------------------------------------------------ audio outputs
def notes_of_inputs(example: dict) -> music_pb2.NoteSequence:
    """The notes a MIDI -> audio example was made of (its MIDI inputs, from 0 s)."""
    return postprocess.midi_note_sequence(example["inputs"])


def unit_notes(task_name: str, split: str, keys: set) -> dict:
    """{(piece_id, start_time): NoteSequence} of the raw units of a task's source that
    the ``keys`` name (the performed notes, seconds from the unit's start)."""
    import seqio

    from mt3_unified.preprocessors.raw import NOTE_PREFIX

    source = seqio.TaskRegistry.get(task_name).source
    out: dict = {}
    for raw in source.get_dataset(split=split, shuffle=False).as_numpy_iterator():
        key = (raw["piece_id"].decode(), round(float(raw["start_time"]), 4))
        if key in keys and key not in out:
            out[key] = notes_of_raw(raw, NOTE_PREFIX)
        if len(out) == len(keys):
            break
    return out


def notes_of_raw(raw: dict, prefix: str) -> music_pb2.NoteSequence:
    ns = music_pb2.NoteSequence(ticks_per_quarter=220)
    for i in range(len(raw[prefix + "pitch"])):
        note = ns.notes.add(
            pitch=int(raw[prefix + "pitch"][i]),
            start_time=float(raw[prefix + "onset"][i]),
            end_time=float(raw[prefix + "offset"][i]),
            velocity=int(raw[prefix + "velocity"][i]) or 80,
            program=int(raw[prefix + "program"][i]),
        )
        note.is_drum = bool(raw[prefix + "is_drum"][i])
    ns.total_time = max((n.end_time for n in ns.notes), default=0.0)
    return ns


def example_key(example: dict) -> tuple[str, float]:
    piece = example["piece_id"]
    piece = piece.decode() if isinstance(piece, bytes) else str(piece)
    return piece, round(float(example["start_time"]), 4)


def aligned(reference: music_pb2.NoteSequence, estimate: music_pb2.NoteSequence):
    """The estimate's notes moved onto the reference's time axis by DTW."""
    from mt3_unified.metrics.alignment import align_notes

    notes = align_notes(_note_tuples(reference), _note_tuples(estimate))
    out = music_pb2.NoteSequence(ticks_per_quarter=220)
    for onset, offset, pitch in notes:
        out.notes.add(pitch=pitch, start_time=onset, end_time=offset, velocity=80)
    out.total_time = max((n.end_time for n in out.notes), default=0.0)
    return out


def _note_tuples(ns: music_pb2.NoteSequence) -> list[tuple[float, float, int]]:
    return [(n.start_time, n.end_time, n.pitch) for n in ns.notes if not n.is_drum]


def fad_or_none(real: Sequence, generated: Sequence, embed: Callable) -> float | None:
    from mt3_unified.metrics.fad import frechet_audio_distance

    real = [c for c in real if len(c)]
    generated = [c for c in generated if len(c)]
    try:
        return frechet_audio_distance(real, generated, embed)
    except ValueError as err:  # too few frames for a covariance, or no clip at all
        logging.warning("evaluate: FAD left out (%s)", err)
        return None


def score_audio(ctx: Context, decoded: Decoded) -> dict:
    """Own-AMT onset F1 and FAD of generated audio (module docstring)."""
    encoder = ctx.encoder("audio")
    examples, targets, predictions = decoded.examples, decoded.targets, decoded.predictions
    if decoded.pair == "midi_to_audio":
        truth = [notes_of_inputs(ex) for ex in examples]
        kept = list(range(len(examples)))
        truth_note = "the MIDI inputs of each window"
    else:
        keys = {example_key(ex) for ex in examples}
        found = unit_notes(decoded.task, ctx.split, keys)
        kept = [i for i, ex in enumerate(examples) if example_key(ex) in found]
        truth = [found[example_key(examples[i])] for i in kept]
        truth_note = "the notes of each unit in the corpus"
    generated = [decode_clip(predictions[i], encoder) for i in kept]
    real = [decode_clip(targets[i], encoder) for i in kept]
    heard = transcribe(ctx, generated + real)
    model_notes, codec_notes = heard[: len(kept)], heard[len(kept) :]
    far = decoded.pair == "image_to_audio"
    if far:
        # Image -> audio plays at a tempo of its own: warp onto the reference first.
        model_notes = [aligned(t, e) for t, e in zip(truth, model_notes, strict=True)]
    for j, i in enumerate(kept):
        decoded.sample_notes[i] = {
            "target": [list(t) for t in _note_tuples(truth[j])],
            "prediction": [list(t) for t in _note_tuples(model_notes[j])],
        }
    embed, embed_label = ctx.embed()
    n = len(kept)
    rows = [
        row(MODEL, [*onset_values(truth, model_notes), fad_or_none(real, generated, embed)], n),
        row(RANDOM, [*onset_values(truth, random_pairing(truth, ctx.seed)), None], n),
        row(CODEC_ROW, [*onset_values(truth, codec_notes), None], n),
    ]
    if far:
        stages = multi_stage(ctx, [examples[i] for i in kept])
        staged = [aligned(t, e) for t, e in zip(truth, stages[1], strict=True)]
        rows.append(
            row(MULTI, [*onset_values(truth, staged), fad_or_none(real, stages[0], embed)], n)
        )
    note = (
        f"Generated audio is decoded by the audio codec and transcribed by this model's own "
        f"AMT (audio → MIDI); onset F1 against {truth_note}"
        f"{' after DTW alignment of the transcription' if far else ''}. "
        f"FAD against the decoded ground-truth codes, embedder: {embed_label}. "
        f"{RANDOM}: ground-truth notes scored against another example's, paired at random "
        f"(seed {ctx.seed}). {CODEC_ROW}: the ground-truth codes decoded and transcribed "
        "(the upper bound)."
    )
    if far:
        note += f" {MULTI}: image → LMX → MIDI → audio by this model, then transcribed."
    if len(kept) < len(examples):
        note += f" {len(examples) - len(kept)} examples without ground-truth notes left out."
    return table(decoded.pair, AUDIO_COLUMNS, rows, note)


def multi_stage(ctx: Context, examples: list[dict]):
    """(audio clips, their own-AMT notes) of image -> LMX -> MIDI -> audio by the model."""
    from mt3_unified.infer.outputs import decode_audio_segments

    encoder = ctx.encoder("audio")
    codes = [postprocess.code_frames(ex["inputs"], "image") for ex in examples]
    lmx = omr(ctx, codes)
    units = [lmx_unit(tokens, f"{i}") for i, tokens in enumerate(lmx)]
    grouped = decode_grouped(ctx, units, "lmx", "midi")
    notes = [
        postprocess.midi_piece([s.frames for s in grouped[f"{i}"]], [0.0] * len(grouped[f"{i}"]))
        for i in range(len(lmx))
    ]
    audio_units = [notes_unit(ns, encoder, f"{i}") for i, ns in enumerate(notes)]
    grouped = decode_grouped(ctx, audio_units, "midi", "audio")
    clips = [
        decode_audio_segments(grouped[f"{i}"], encoder, windows=True)[0] for i in range(len(notes))
    ]
    return clips, transcribe(ctx, clips)


# ------------------------------------------------------------------ audio -> image
def score_emd(ctx: Context, decoded: Decoded) -> dict:
    """EMD of the model's own OMR of generated images against the ground-truth LMX."""
    from mt3_unified.metrics.emd import lmx_emd

    keys = {example_key(ex) for ex in decoded.examples}
    truth_by_key = unit_lmx(decoded.task, ctx.split, keys)
    kept = [i for i, ex in enumerate(decoded.examples) if example_key(ex) in truth_by_key]
    truth = [truth_by_key[example_key(decoded.examples[i])] for i in kept]
    generated = omr(ctx, [_whole_columns(ctx, decoded.predictions[i]) for i in kept])
    gt_image = omr(ctx, [decoded.targets[i] for i in kept])
    n = len(kept)

    def values(hypotheses):
        scores = lmx_emd(truth, hypotheses)
        return [scores["emd_pitch"], scores["emd_duration"]]

    rows = [row(MODEL, values(generated), n), row(GT_IMAGE, values(gt_image), n)]
    encoder = ctx.encoder("image")
    note = (
        "EMD between pitch and duration token histograms of this model's own OMR "
        "(image → LMX, on the image codes) and the ground-truth LMX. "
        f"{GT_IMAGE}: OMR of the ground-truth image codes. No {RANDOM} row: a histogram of "
        "the whole set does not depend on how examples are paired."
    )
    if encoder is not None:
        rows.insert(
            1,
            row(CODEC_ROW, values(omr(ctx, reencoded(ctx, [decoded.targets[i] for i in kept]))), n),
        )
        note += (
            f" {CODEC_ROW}: OMR of the ground-truth images decoded and re-encoded by the "
            "image codec."
        )
    else:
        note += f" No {CODEC_ROW} row: it needs the image codec ({CODEC_FLAGS['image']})."
    if n < len(decoded.examples):
        note += f" {len(decoded.examples) - n} examples without ground-truth LMX left out."
    return table(decoded.pair, EMD_COLUMNS, rows, note)


def unit_lmx(task_name: str, split: str, keys: set) -> dict:
    """{(piece_id, start_time): LMX tokens} of the raw units the keys name."""
    import seqio

    source = seqio.TaskRegistry.get(task_name).source
    out: dict = {}
    for raw in source.get_dataset(split=split, shuffle=False).as_numpy_iterator():
        key = (raw["piece_id"].decode(), round(float(raw["start_time"]), 4))
        if key in keys and key not in out:
            out[key] = raw["lmx"].decode().split()
        if len(out) == len(keys):
            break
    return out


def _whole_columns(ctx: Context, codes: np.ndarray) -> np.ndarray:
    # A truncated output ends in a partial code column, which no image ever has.
    encoder = ctx.encoder("image")
    if encoder is None:
        return codes
    rows = encoder.model.config.height // encoder.model.config.factor
    return codes[: len(codes) // rows * rows]


def reencoded(ctx: Context, code_sets: Sequence[np.ndarray]) -> list[np.ndarray]:
    encoder = ctx.encoder("image")
    out = []
    for codes in code_sets:
        image = postprocess.decode_image(codes, encoder)
        out.append(encoder(encoder.prepare(image, "reconstruction"))[0])
    return out


SCORERS = {
    "image_to_lmx": score_ser,
    "midi_to_lmx": score_ser,
    "audio_to_midi": score_notes,
    "lmx_to_midi": score_notes,
    "lmx_to_image": score_codes,
    "midi_to_audio": score_audio,
    "image_to_audio": score_audio,
    "audio_to_image": score_emd,
}


# ------------------------------------------------------------------ samples
def sample_indices(count: int, wanted: int, seed: int) -> list[int]:
    """``wanted`` example indices drawn with the seed, in order."""
    if wanted <= 0 or count == 0:
        return []
    return sorted(np.random.default_rng(seed).choice(count, min(wanted, count), replace=False))


def write_samples(ctx: Context, decoded: Decoded) -> list[dict]:
    """Files of a few examples under ``samples/<task>/<i>/``; their results.json entries."""
    out = []
    for i in sample_indices(len(decoded.examples), ctx.samples_per_task, ctx.seed):
        folder = Path(SAMPLES_DIR) / decoded.task / str(i)
        (ctx.output_dir / folder).mkdir(parents=True, exist_ok=True)
        example = decoded.examples[i]
        files: dict[str, str] = {}
        notes: dict[str, list] = {}
        items = (
            ("input", decoded.input_modality, example["inputs"]),
            ("target", decoded.output_modality, example["targets"]),
            ("prediction", decoded.output_modality, decoded.frames[i]),
        )
        for role, modality, frames in items:
            written = write_sample_file(ctx, folder, role, modality, frames, example)
            if isinstance(written, tuple):
                files[written[0]] = written[1]
            elif written is not None and role != "input":
                notes[role] = written
        notes.update(decoded.sample_notes.get(i, {}))
        piece, start = example_key(example)
        out.append(
            {
                "task": decoded.task,
                "piece_id": piece,
                "title": f"{TITLES.get(decoded.pair, decoded.pair)}: {piece} at {start:g} s",
                "input_modality": decoded.input_modality,
                "output_modality": decoded.output_modality,
                "files": files,
                "notes": notes,
            }
        )
    return out


def write_sample_file(ctx: Context, folder: Path, role: str, modality: str, frames, example):
    """(files key, relative path) of one written file; a notes list for MIDI; None when
    the codec to decode it is missing or there is nothing to draw."""
    if modality == "lmx":
        path = folder / f"{role}.lmx"
        text = " ".join(postprocess.lmx_tokens(frames)) + "\n"
        (ctx.output_dir / path).write_text(text, encoding="utf-8")
        return f"{role}_lmx", str(path)
    if modality == "midi":
        start = 0.0 if role == "input" else float(example["start_time"])
        ns = postprocess.midi_note_sequence(frames, start_time=start)
        return [list(n) for n in _note_tuples(ns)]
    encoder = ctx.encoder(modality)
    codes = postprocess.code_frames(frames, modality)
    if encoder is None:
        return None
    if modality == "audio":
        from mt3_unified.infer.audio_io import write_wav

        path = folder / f"{role}.wav"
        write_wav(
            ctx.output_dir / path, decode_clip(codes, encoder), encoder.model.config.sample_rate
        )
        return f"{role}_audio", str(path)
    from mt3_unified.infer.outputs import decode_image_segments, write_png

    path = folder / f"{role}.png"
    segment = dataclasses.make_dataclass("Frames", ["frames"])(frames)
    write_png(decode_image_segments([segment], encoder), ctx.output_dir / path, "image")
    return f"{role}_image", str(path)


# ------------------------------------------------------------------ results files
def markdown(results: dict) -> str:
    """results.md: a header line, then one Markdown table per pair with its note."""
    lines = [
        f"# Evaluation of {results.get('model_dir', '?')}",
        "",
        f"step {results.get('step', '?')}, split {results.get('split', '?')}, "
        f"created {results.get('created', '?')}",
    ]
    for name, why in results.get("skipped", {}).items():
        lines += ["", f"Left out: {name}: {why}."]
    for found in results.get("tables", []):
        lines += ["", f"## {found['title']}", "", markdown_table(found["columns"], found["rows"])]
        if found.get("note"):
            lines += ["", found["note"]]
    return "\n".join(lines) + "\n"


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    def cell(value) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    out = ["| " + " | ".join(cell(c) for c in columns) + " |"]
    out.append("|" + "|".join("---" for _ in columns) + "|")
    out += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(out)


def write_results(output_dir: Path, results: dict) -> None:
    (output_dir / RESULTS_JSON).write_text(json.dumps(results, indent=2), encoding="utf-8")
    (output_dir / RESULTS_MD).write_text(markdown(results), encoding="utf-8")


# ------------------------------------------------------------------ checks before work
def check_output_dir(output_dir: Path) -> None:
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe = output_dir / ".mt3u_write_check"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise EvaluationError(f"{output_dir}: cannot write the eval dir ({err})") from err


def check_codecs(pairs: Sequence[str], workdirs: dict[str, str | None]) -> None:
    for pair in pairs:
        modality = NEEDS_CODEC.get(pair)
        if modality and not workdirs.get(modality):
            raise EvaluationError(
                f"{pair} is scored on decoded {modality}: pass the {modality} codec's workdir "
                f"with {CODEC_FLAGS[modality]} (the run's corpus names none)"
            )
        workdir = workdirs.get(modality) if modality else None
        if workdir and not os.path.isdir(workdir):
            raise EvaluationError(f"{workdir}: no such {modality} codec workdir")


# ------------------------------------------------------------------ entry point
@gin.configurable
def evaluate(
    *,
    model_dir: str = gin.REQUIRED,
    output_dir: str = gin.REQUIRED,
    split: str = "test",
    dataset: str | None = None,
    checkpoint_step: int | None = None,
    max_examples: int = 64,
    batch_size: int = 8,
    samples_per_task: int = 2,
    image_codec: str | None = None,
    audio_codec: str | None = None,
    embedder=None,
    seed: int = 0,
    progress: bool = True,
    bindings: Sequence[str] = (),
) -> dict:
    """Evaluates checkpoint ``checkpoint_step`` (latest) of ``model_dir`` on ``split`` of
    ``dataset`` (the run's) into ``output_dir``; returns the results.json dict.

    ``image_codec``/``audio_codec``: codec workdirs (default: those that baked the run's
    corpus); ``embedder``: FAD's (`infer.embedders.load_embedder`); ``bindings``: gin
    bindings added to the run's config (e.g. ``DataPaths.baked_dir``).
    """
    from tqdm import tqdm

    from mt3_unified.infer.restore import restore_run

    if max_examples < 1 or batch_size < 1:
        raise EvaluationError(f"max_examples and batch_size must be >= 1, got "
                              f"{max_examples}, {batch_size}")  # fmt: skip
    output = Path(output_dir)
    check_output_dir(output)
    run = restore_run(model_dir, checkpoint_step, bindings=bindings)
    dataset = dataset or run_dataset(run.mixture_or_task_name)
    pairs = pair_tasks(dataset, split)
    if not pairs:
        raise EvaluationError(f"{dataset}: no registered pair has a {split!r} split")
    baked = run.codec_workdirs()
    workdirs = {
        "image": image_codec or baked.get("image"),
        "audio": audio_codec or baked.get("audio"),
    }
    check_codecs(list(pairs), workdirs)
    ctx = Context(
        run, split, max_examples, batch_size, seed, output, samples_per_task, workdirs, embedder
    )
    tables, samples = [], []
    for pair, name in tqdm(pairs.items(), desc="evaluate", unit="task", disable=not progress):
        decoded = decode_pair(ctx, pair, name)
        if decoded is None:
            continue
        tables.append(SCORERS[pair](ctx, decoded))
        samples += write_samples(ctx, decoded)
    results = {
        "model_dir": str(model_dir),
        "step": run.step,
        "split": split,
        "dataset": dataset,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "tables": tables,
        "samples": samples,
        "skipped": ctx.skipped,
    }
    write_results(output, results)
    return results


# ------------------------------------------------------------------ command line
def run_evaluate(args) -> int:
    """Runs the flags' evaluation and prints the Markdown tables and where they are."""
    from mt3_unified.runtime.gin_config import parse_gin

    parse_gin(args.gin_file, args.gin_bindings, args.gin_search_paths)
    given = {
        "checkpoint_step": args.step, "split": args.split, "dataset": args.dataset,
        "max_examples": args.max_examples, "batch_size": args.batch_size,
        "samples_per_task": args.samples, "image_codec": args.image_codec,
        "audio_codec": args.audio_codec, "embedder": args.embedder,
    }  # fmt: skip
    results = evaluate(
        model_dir=args.checkpoint,
        output_dir=args.output,
        progress=not args.no_progress,
        **{key: value for key, value in given.items() if value is not None},
    )
    print(markdown(results))
    print(f"results in {Path(args.output) / RESULTS_JSON}; HTML: mt3u report eval {args.output}")
    return 0


def main(argv=None) -> int:
    from mt3_unified.infer.flags import add_eval_arguments
    from mt3_unified.runtime.gin_config import GinArgumentParser

    parser = GinArgumentParser(prog="python -m mt3_unified.infer.evaluate", description=__doc__)
    add_eval_arguments(parser)
    return run_evaluate(parser.parse_args(argv))


if __name__ == "__main__":
    import sys

    from mt3_unified.hostmalloc import reexec_with_retaining_malloc

    reexec_with_retaining_malloc()
    sys.exit(main())
