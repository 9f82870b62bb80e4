"""seqio metric functions by target modality: (targets, predictions) -> {name: value}.

Inputs are what `tasks.postprocess` makes: LMX token lists, NoteSequences, raw
code frames [T, K]. Every metric pools over the whole set (sums before ratios),
as SER and MT3's note scores do, so long examples weigh more than short ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from note_seq.protobuf import music_pb2

from mt3_unified.metrics.ser import ser_metrics
from mt3_unified.metrics.transcription import (
    DEFAULT_ONSET_TOLERANCES,
    OFFSET_MIN_TOLERANCE,
    as_note_sequence,
    transcription_metrics,
)
from mt3_unified.vocab.unified import MODALITIES

# Silence between examples laid end to end: longer than any onset or offset tolerance
# (200 ms, and an offset tolerance a fraction of a note that starts within it), so that
# no note of one example can match one of another and the pooled counts are the sums.
EXAMPLE_GAP_SECONDS = 10.0


def lmx_metrics(targets: Sequence, predictions: Sequence) -> dict[str, float]:
    """SER, SER without tuplet tokens and SER with pitches masked (percent), pooled."""
    return ser_metrics(targets, predictions)


def concatenate_notes(sequences: Sequence, starts: Sequence[float]) -> music_pb2.NoteSequence:
    """The notes of several NoteSequences in one, each moved to start at its given time."""
    out = music_pb2.NoteSequence(ticks_per_quarter=220)
    for ns, start in zip(sequences, starts, strict=True):
        for note in ns.notes:
            moved = out.notes.add()
            moved.CopyFrom(note)
            moved.start_time += start
            moved.end_time += start
    out.total_time = max((n.end_time for n in out.notes), default=0.0)
    return out


def _extent(ns: music_pb2.NoteSequence) -> float:
    return max([ns.total_time] + [n.end_time for n in ns.notes])


def midi_metrics(
    targets: Sequence, predictions: Sequence, onset_tolerances=DEFAULT_ONSET_TOLERANCES
) -> dict[str, float]:
    """Note onset and onset-offset precision, recall and F1 at 50/100/200 ms (mir_eval).

    Examples are laid end to end with `EXAMPLE_GAP_SECONDS` between them and scored
    once, which pools the matches exactly as summing per-example counts would.
    """
    refs = [as_note_sequence(t) for t in targets]
    ests = [as_note_sequence(p) for p in predictions]
    if len(refs) != len(ests):
        raise ValueError(f"{len(refs)} targets but {len(ests)} predictions")
    starts, start = [], 0.0
    gap = max(EXAMPLE_GAP_SECONDS, 2 * max(onset_tolerances) + OFFSET_MIN_TOLERANCE)
    for ref, est in zip(refs, ests, strict=True):
        starts.append(start)
        start += max(_extent(ref), _extent(est)) + gap
    return transcription_metrics(
        concatenate_notes(refs, starts),
        concatenate_notes(ests, starts),
        onset_tolerances=onset_tolerances,
    )


def code_metrics(targets: Sequence, predictions: Sequence) -> dict[str, float]:
    """Per-codebook accuracy of code frames [T, K], pooled over the set.

    Frame t of a prediction is compared with frame t of its target; target frames the
    prediction lacks count as wrong, extra predicted frames are ignored (the length
    is `code_length_ratio`: predicted frames / target frames).
    """
    correct, total, predicted = None, 0, 0
    for target, prediction in zip(targets, predictions, strict=True):
        target, prediction = np.asarray(target), np.asarray(prediction)
        if correct is None:
            correct = np.zeros(target.shape[1], np.int64)
        n = min(len(target), len(prediction))
        if n:
            correct += np.sum(target[:n] == prediction[:n, : target.shape[1]], axis=0)
        total += len(target)
        predicted += len(prediction)
    if correct is None or total == 0:
        raise ValueError("code accuracy is undefined: no target frames")
    out = {f"code_accuracy_k{k}": float(c / total) for k, c in enumerate(correct)}
    out["code_accuracy"] = float(correct.sum() / (total * len(correct)))
    out["code_length_ratio"] = predicted / total
    return out


def metric_fns_for(modality: str) -> list[Callable[[Sequence, Sequence], dict]]:
    """The metric functions of a task whose output is ``modality``."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; modalities are {MODALITIES}")
    return [{"lmx": lmx_metrics, "midi": midi_metrics}.get(modality, code_metrics)]


def decoded_image_metrics(targets: Sequence, predictions: Sequence, encoder) -> dict[str, float]:
    """PSNR (dB) of images decoded from predicted codes against those of the target codes,
    over the pixels of all examples (predictions cropped or padded white to the target)."""
    from mt3_unified.tasks.postprocess import decode_image

    errors, pixels = 0.0, 0
    for target, prediction in zip(targets, predictions, strict=True):
        reference = decode_image(target, encoder)
        if len(prediction) >= encoder.model.config.height // encoder.model.config.factor:
            image = decode_image(prediction, encoder)
        else:
            image = np.ones((reference.shape[0], 0), np.float32)
        width = reference.shape[1]
        image = np.pad(
            image[:, :width], ((0, 0), (0, max(width - image.shape[1], 0))), constant_values=1.0
        )
        errors += float(np.sum((image - reference) ** 2))
        pixels += reference.size
    mse = errors / max(pixels, 1)
    return {"decoded_psnr_db": 10.0 * float(np.log10(1.0 / max(mse, 1e-10)))}


def decoded_audio_metrics(targets: Sequence, predictions: Sequence, encoder) -> dict[str, float]:
    """Mean mel distance of audio decoded from predicted codes against that of the targets
    (the codec's own multi-scale log-mel L1; predictions cut or padded with silence)."""
    from mt3_unified.codecs.audio import host_audio_distances
    from mt3_unified.tasks.postprocess import decode_audio

    distances = []
    for target, prediction in zip(targets, predictions, strict=True):
        reference = decode_audio(target, encoder)
        sound = decode_audio(prediction, encoder) if len(prediction) else np.zeros(0, np.float32)
        sound = np.pad(sound[: len(reference)], (0, max(len(reference) - len(sound), 0)))
        distances.append(host_audio_distances(sound, reference, encoder.model.config)[0])
    return {"decoded_mel_distance": float(np.mean(distances))}
