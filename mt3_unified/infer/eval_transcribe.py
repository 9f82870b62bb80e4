"""The AMT and OMR that score generated audio and images as notes and LMX."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from note_seq.protobuf import music_pb2

from mt3_unified.infer.eval_context import Context
from mt3_unified.tasks import postprocess


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


def resampled(samples: np.ndarray, rate: int, encoder) -> np.ndarray:
    """``samples`` at ``rate`` Hz brought to the sample rate of ``encoder``'s codec."""
    target = encoder.model.config.sample_rate
    samples = np.asarray(samples, np.float32).reshape(-1)
    if rate == target or samples.size == 0:
        return samples
    import librosa

    return librosa.resample(samples, orig_sr=rate, target_sr=target).astype(np.float32)


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


def decode_grouped(
    ctx: Context,
    units: list[dict],
    input_modality: str,
    output_modality: str,
    run=None,
    settings: dict | None = None,
):
    """{piece_id: [segments in order]} of units decoded with ``run`` (default: the
    evaluated run's model), gin holding that run's config while it decodes; ``settings``:
    decoding's (default greedy, what a judge uses)."""
    from mt3_unified.infer.predict import decode_units
    from mt3_unified.infer.restore import config_of

    run = run or ctx.run
    grouped: dict[str, list] = {u["piece_id"].item().decode(): [] for u in units}
    with config_of(run, then=ctx.run):
        for segment in decode_units(
            run, units, input_modality, output_modality, batch_size=ctx.batch_size,
            settings=settings, seed=ctx.seed,
        ):  # fmt: skip
            grouped[segment.piece_id].append(segment)
    return grouped


def transcribe(ctx: Context, clips: Sequence[np.ndarray]) -> list[music_pb2.NoteSequence]:
    """The AMT of each clip (the evaluated model's own, or `ctx.transcriber`'s), re-encoded by
    the codec that AMT reads (clips at the evaluated codec's rate are resampled to its);
    empty clips: no notes."""
    from mt3_unified.infer.outputs import notes_of_segments

    encoder = ctx.transcriber_encoder()
    rate = ctx.encoder("audio").model.config.sample_rate
    units = [
        u
        for i, clip in enumerate(clips)
        for u in audio_units_of_samples(resampled(clip, rate, encoder), encoder, f"{i}")
    ]
    grouped = decode_grouped(ctx, units, "audio", "midi", run=ctx.transcriber)
    return [
        notes_of_segments(grouped[f"{i}"]) if f"{i}" in grouped else music_pb2.NoteSequence()
        for i in range(len(clips))
    ]


def omr(ctx: Context, code_sets: Sequence[np.ndarray], run=None) -> list[list[str]]:
    """The OMR (image -> LMX, greedy) of raw image codes by ``run`` (default: the evaluated
    run's own); no codes: no tokens."""
    units = [image_code_unit(c, f"{i}") for i, c in enumerate(code_sets) if len(c)]
    grouped = decode_grouped(ctx, units, "image", "lmx", run=run)
    return [
        [t for s in grouped.get(f"{i}", []) for t in postprocess.lmx_tokens(s.frames)]
        for i in range(len(code_sets))
    ]


def decode_clip(codes: np.ndarray, encoder) -> np.ndarray:
    """The audio of codes (the codec's decoder); no codes: an empty clip."""
    return postprocess.decode_audio(codes, encoder) if len(codes) else np.zeros(0, np.float32)


def note_tuples(ns: music_pb2.NoteSequence) -> list[tuple[float, float, int]]:
    """(onset, offset, pitch) of each pitched note."""
    return [(n.start_time, n.end_time, n.pitch) for n in ns.notes if not n.is_drum]


def tuples_sequence(notes) -> music_pb2.NoteSequence:
    """A NoteSequence of (onset, offset, pitch) notes at velocity 80: `note_tuples`' inverse."""
    out = music_pb2.NoteSequence(ticks_per_quarter=220)
    for onset, offset, pitch in notes:
        out.notes.add(pitch=pitch, start_time=onset, end_time=offset, velocity=80)
    out.total_time = max((n.end_time for n in out.notes), default=0.0)
    return out
