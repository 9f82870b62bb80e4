"""Scores of generated audio: transcribed note F1 (DTW-aligned for image -> audio) and FAD."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

import numpy as np
from note_seq.protobuf import music_pb2

from mt3_unified.infer.eval_context import (
    AUDIO_COLUMNS,
    CODEC_ROW,
    CODEC_SYSTEMS,
    GT_AUDIO,
    MODEL,
    MODEL_RANDOM,
    MULTI,
    RANDOM,
    Context,
    Decoded,
)
from mt3_unified.infer.eval_decode import example_key, units_by_key
from mt3_unified.infer.eval_tables import (
    note_values,
    onset_values,
    random_pairing,
    row,
    score_notes,
    table,
)
from mt3_unified.infer.eval_transcribe import (
    decode_clip,
    decode_grouped,
    lmx_unit,
    note_tuples,
    notes_unit,
    omr,
    resampled,
    transcribe,
    tuples_sequence,
)
from mt3_unified.tasks import postprocess
from mt3_unified.tasks.chain import continuous_input


def notes_of_inputs(example: dict) -> music_pb2.NoteSequence:
    """The notes a MIDI -> audio example was made of (its MIDI inputs, from 0 s)."""
    return postprocess.midi_note_sequence(example["inputs"])


def performed_notes(raw: dict) -> music_pb2.NoteSequence:
    """The performed notes of a raw unit, seconds from the unit's start."""
    from mt3_unified.preprocessors.raw import NOTE_PREFIX

    prefix = NOTE_PREFIX
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


def aligned(reference: music_pb2.NoteSequence, estimate: music_pb2.NoteSequence):
    """The estimate's notes moved onto the reference's time axis by DTW."""
    from mt3_unified.metrics.alignment import align_notes

    return tuples_sequence(align_notes(note_tuples(reference), note_tuples(estimate)))


# How a far pair's note says its rows were scored (`as_scored`).
WARPED = " after DTW alignment onto each reference, in every row"


def as_scored(truth: Sequence, notes: Sequence, far: bool) -> list:
    """``notes`` as each row of a pair scores them against ``truth``: for a far pair (image
    -> audio, whose audio plays at a tempo of its own) warped onto each reference by DTW.
    Every row of the table goes through it, the random pairing and the codec's upper bound
    too: DTW pulls any notes towards their reference's onsets, so a floor or a bound left
    unwarped would not bound the model's warped row."""
    if not far:
        return list(notes)
    return [aligned(t, e) for t, e in zip(truth, notes, strict=True)]


def floor_and_bound(
    truth: Sequence, codec_notes: Sequence, seed: int, far: bool
) -> tuple[list[float], list[float]]:
    """Onset F1s (50/100/200 ms) of the random pairing and of the codec reconstruction,
    each scored as `as_scored` scores the model's notes.

    The floor is an unrelated real performance heard the same way: the judge's notes of
    another example's ground-truth codes, decoded (the codec row's, re-paired at random),
    as audio -> image's floor is the same reader's readings of other examples' images.
    Ground-truth notes would score a perfect judge instead of the one that hears the model.
    """
    return (
        re_paired(truth, codec_notes, seed, far),
        onset_values(truth, as_scored(truth, codec_notes, far)),
    )


def re_paired(truth: Sequence, notes: Sequence, seed: int, far: bool) -> list[float]:
    """Onset F1s (50/100/200 ms) of ``notes`` paired at random with another example's
    ``truth`` (`random_pairing`'s cycle), scored as `as_scored` scores the model's."""
    return onset_values(truth, as_scored(truth, random_pairing(notes, seed), far))


def fad_or_none(real: Sequence, generated: Sequence, embed: Callable) -> float | None:
    """FAD of the non-empty clips; None (logged) when there are too few frames for it."""
    from mt3_unified.metrics.fad import frechet_audio_distance

    real = [c for c in real if len(c)]
    generated = [c for c in generated if len(c)]
    try:
        return frechet_audio_distance(real, generated, embed)
    except ValueError as err:  # too few frames for a covariance, or no clip at all
        logging.warning("evaluate: FAD left out (%s)", err)
        return None


def score_audio(ctx: Context, decoded: Decoded) -> dict:
    """Own-AMT onset F1 and FAD of generated audio (`infer.evaluate`'s docstring)."""
    encoder = ctx.encoder("audio")
    examples, targets, predictions = decoded.examples, decoded.targets, decoded.predictions
    if decoded.pair == "midi_to_audio":
        truth = [notes_of_inputs(ex) for ex in examples]
        kept = list(range(len(examples)))
        truth_note = "the MIDI inputs of each window"
    else:
        keys = {example_key(ex) for ex in examples}
        found = units_by_key(decoded.task, ctx.split, keys, performed_notes)
        kept = [i for i, ex in enumerate(examples) if example_key(ex) in found]
        truth = [found[example_key(examples[i])] for i in kept]
        truth_note = "the notes of each unit in the corpus"
    generated = [decode_clip(predictions[i], encoder) for i in kept]
    real = [decode_clip(targets[i], encoder) for i in kept]
    heard = transcribe(ctx, generated + real)
    heard_notes, codec_notes = heard[: len(kept)], heard[len(kept) :]
    far = decoded.pair == "image_to_audio"
    model_notes = as_scored(truth, heard_notes, far)
    for j, i in enumerate(kept):
        decoded.sample_notes[i] = {
            "target": [list(t) for t in note_tuples(truth[j])],
            "prediction": [list(t) for t in note_tuples(model_notes[j])],
        }
    embed, embed_label = ctx.embed()
    n = len(kept)
    floor, bound = floor_and_bound(truth, codec_notes, ctx.seed, far)
    rows = [
        row(MODEL, [*onset_values(truth, model_notes), fad_or_none(real, generated, embed)], n),
        row(MODEL_RANDOM, [*re_paired(truth, heard_notes, ctx.seed, far), None], n),
        row(RANDOM, [*floor, None], n),
        row(CODEC_ROW, [*bound, None], n),
    ]
    if far:
        stages = multi_stage(ctx, [examples[i] for i in kept])
        staged = as_scored(truth, stages[1], far)
        rows.append(
            row(MULTI, [*onset_values(truth, staged), fad_or_none(real, stages[0], embed)], n)
        )
    note = (
        f"Generated audio is decoded by the audio codec and transcribed by "
        f"{ctx.transcriber_label()} (audio → MIDI); onset F1 against {truth_note}"
        f"{WARPED if far else ''}. "
        f"FAD against the decoded ground-truth codes, embedder: {embed_label}. "
        f"{CODEC_ROW}: the ground-truth codes decoded and transcribed (the upper bound). "
        f"{RANDOM}: the {CODEC_ROW} transcriptions paired at random with another example's "
        f"notes (seed {ctx.seed}), what an unrelated real performance scores. "
        f"{MODEL_RANDOM}: the model's transcriptions scored against those other examples' "
        "notes, where audio that does not follow its input scores as on its own row."
    )
    if far:
        note += f" {MULTI}: image → LMX → MIDI → audio by this model, then transcribed."
    if len(kept) < len(examples):
        note += f" {len(examples) - len(kept)} examples without ground-truth notes left out."
    return table(decoded.pair, AUDIO_COLUMNS, rows, note)


def score_amt(ctx: Context, decoded: Decoded) -> dict:
    """AMT's note table; where the run reads log-mel frames, with the paper's codec
    upper-bound row besides: the model on the audio codec's reconstruction of each test
    system against the same model on the system's original audio."""
    out = score_notes(ctx, decoded)
    encoder = ctx.encoder("audio")
    if not continuous_input("audio") or encoder is None:
        return out
    keys = {example_key(ex) for ex in decoded.examples}
    found = units_by_key(decoded.task, ctx.split, keys, _notes_and_audio)
    if not found:
        return out
    truth = [notes for notes, _ in found.values()]
    rate = encoder.model.config.sample_rate
    original = [resampled(audio, audio_rate, encoder) for _, (audio, audio_rate) in found.values()]
    rebuilt = [decode_clip(encoder(clip), encoder) for clip in original]
    own = dataclasses.replace(ctx, transcriber=None)  # the evaluated AMT hears both
    heard = transcribe(own, original + rebuilt)
    n = len(truth)
    out["rows"] += [
        row(GT_AUDIO, note_values(truth, heard[:n]), n),
        row(CODEC_SYSTEMS, note_values(truth, heard[n:]), n),
    ]
    out["note"] += (
        f" {GT_AUDIO}: this model on each whole test system the examples start ({n}, "
        f"at {rate} Hz), its windows' notes joined, against the system's performed notes. "
        f"{CODEC_SYSTEMS}: the same on the audio codec's reconstruction of those systems "
        f"({ctx.codec_workdirs.get('audio')}); its ratio to the row above is what the codec "
        "keeps of the notes (the paper's codec upper-bound row)."
    )
    return out


def _notes_and_audio(raw: dict) -> tuple[music_pb2.NoteSequence, tuple[np.ndarray, int]]:
    return performed_notes(raw), (np.asarray(raw["audio"], np.float32), int(raw["sample_rate"]))


def multi_stage(ctx: Context, examples: list[dict]):
    """(audio clips, their own-AMT notes) of image -> LMX -> MIDI -> audio by the model (its
    OMR greedy, as the judge it also is; the two later stages decode as its translations)."""
    from mt3_unified.infer.outputs import decode_audio_segments

    encoder = ctx.encoder("audio")
    codes = [postprocess.code_frames(ex["inputs"], "image") for ex in examples]
    lmx = omr(ctx, codes)
    units = [lmx_unit(tokens, f"{i}") for i, tokens in enumerate(lmx)]
    grouped = decode_grouped(ctx, units, "lmx", "midi", settings=ctx.decoding_for("midi"))
    notes = [
        postprocess.midi_piece([s.frames for s in grouped[f"{i}"]], [0.0] * len(grouped[f"{i}"]))
        for i in range(len(lmx))
    ]
    audio_units = [notes_unit(ns, encoder, f"{i}") for i, ns in enumerate(notes)]
    grouped = decode_grouped(ctx, audio_units, "midi", "audio", settings=ctx.decoding_for("audio"))
    clips = [
        decode_audio_segments(grouped[f"{i}"], encoder, windows=True)[0] for i in range(len(notes))
    ]
    return clips, transcribe(ctx, clips)
