"""The tables' rows and the scorers of symbolic and image outputs: SER, note F1, codes, EMD."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from mt3_unified.infer.eval_context import (
    CODE_COLUMNS,
    CODEC_FLAGS,
    CODEC_ROW,
    EMD_COLUMNS,
    GT_IMAGE,
    MODEL,
    MODEL_RANDOM,
    NOTE_COLUMNS,
    RANDOM,
    SER_COLUMNS,
    TITLES,
    Context,
    Decoded,
)
from mt3_unified.infer.eval_decode import example_key, units_by_key
from mt3_unified.infer.eval_transcribe import omr
from mt3_unified.tasks import postprocess
from mt3_unified.tasks.chain import continuous_input
from mt3_unified.tasks.metrics import code_metrics, lmx_metrics, midi_metrics


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


def random_note(seed: int) -> str:
    return f"each target scored against another target, paired at random (seed {seed})."


def model_and_random_rows(ctx: Context, decoded: Decoded, values: Callable) -> list[list]:
    """The model's row and the random-pairing row of ``values(targets, predictions)``."""
    n, t = len(decoded.targets), decoded.targets
    return [
        row(MODEL, values(t, decoded.predictions), n),
        row(RANDOM, values(t, random_pairing(t, ctx.seed)), n),
    ]


# ------------------------------------------------------------------ metric values
def ser_values(targets: Sequence, predictions: Sequence) -> list[float | None]:
    """The SER variants, then each prediction's pitch and duration EMD against its own target
    (averaged; emd_values' first two, without the whole sets' EMD it adds)."""
    from mt3_unified.metrics.emd import paired_lmx_emd

    scores = lmx_metrics(targets, predictions)
    ser = [scores["ser"], scores["ser_no_tuplets"], scores["ser_pitch_masked"]]
    return ser + _pitch_and_duration(paired_lmx_emd(targets, predictions))


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
    rows = model_and_random_rows(ctx, decoded, ser_values)
    return table(decoded.pair, SER_COLUMNS, rows, f"{RANDOM}: {random_note(ctx.seed)}")


def score_notes(ctx: Context, decoded: Decoded) -> dict:
    rows = model_and_random_rows(ctx, decoded, note_values)
    note = f"{RANDOM}: {random_note(ctx.seed)}"
    if decoded.pair == "audio_to_midi" and not continuous_input("audio"):
        # The inputs are audio codes: the codec's encoding of the ground-truth audio, so
        # "AMT on codec-reconstructed audio" is exactly the model row; not repeated.
        note += (
            f" No {CODEC_ROW} row: the inputs already are the audio codec's codes of the "
            "ground-truth audio, so it equals the model row."
        )
    return table(decoded.pair, NOTE_COLUMNS, rows, note)


def score_codes(ctx: Context, decoded: Decoded) -> dict:
    encoder = ctx.encoder("image")
    rows = model_and_random_rows(ctx, decoded, lambda t, p: code_values(t, p, encoder))
    note = f"{RANDOM}: {random_note(ctx.seed)}"
    if encoder is None:
        note += f" PSNR needs the image codec ({CODEC_FLAGS['image']})."
    return table(decoded.pair, CODE_COLUMNS, rows, note)


# ------------------------------------------------------------------ audio -> image
def score_emd(ctx: Context, decoded: Decoded) -> dict:
    """EMD of the OMR (the model's own, or `ctx.reader`'s) of generated images against each
    one's ground-truth LMX."""
    keys = {example_key(ex) for ex in decoded.examples}
    truth_by_key = units_by_key(decoded.task, ctx.split, keys, _lmx_tokens)
    kept = [i for i, ex in enumerate(decoded.examples) if example_key(ex) in truth_by_key]
    truth = [truth_by_key[example_key(decoded.examples[i])] for i in kept]
    n = len(kept)

    def values(readings):
        return emd_values(truth, readings)

    def read(code_sets):
        return omr(ctx, code_sets, ctx.reader)

    generated = read([_whole_columns(ctx, decoded.predictions[i]) for i in kept])
    gt_image = read([decoded.targets[i] for i in kept])
    codec = []
    if ctx.encoder("image") is not None:
        reconstructed = read(reencoded(ctx, [decoded.targets[i] for i in kept]))
        codec = [row(CODEC_ROW, values(reconstructed), n)]
    rows = [
        row(MODEL, values(generated), n),
        row(MODEL_RANDOM, values(random_pairing(generated, ctx.seed)), n),
        row(RANDOM, values(random_pairing(gt_image, ctx.seed)), n),
        *codec,
        row(GT_IMAGE, values(gt_image), n),
    ]
    note = (
        f"EMD between the pitch and the duration token histograms of {ctx.reader_label()} "
        "(image → LMX, on the image codes) of each example and of its ground-truth LMX, "
        "averaged over the examples whose reading holds notes (read with notes); set EMD: "
        "between the histograms of all readings and of all the ground-truth LMX, which does "
        "not depend on how examples are paired. "
        f"{GT_IMAGE}: OMR of the ground-truth image codes. {RANDOM}: the {GT_IMAGE} "
        f"readings paired at random with another example's LMX (seed {ctx.seed}). "
        f"{MODEL_RANDOM}: the model's images' readings against those other examples' LMX, "
        "where images that do not follow their input score as on its own row."
    )
    if codec:
        note += (
            f" {CODEC_ROW}: OMR of the ground-truth images decoded and re-encoded by the "
            "image codec."
        )
    else:
        note += f" No {CODEC_ROW} row: it needs the image codec ({CODEC_FLAGS['image']})."
    if n < len(decoded.examples):
        note += f" {len(decoded.examples) - n} examples without ground-truth LMX left out."
    return table(decoded.pair, EMD_COLUMNS, rows, note)


def emd_values(references: Sequence, readings: Sequence) -> list:
    """Each reading against its own reference (averaged), then the whole sets' histograms."""
    from mt3_unified.metrics.emd import lmx_emd, paired_lmx_emd

    paired, whole = paired_lmx_emd(references, readings), lmx_emd(references, readings)
    return [*_pitch_and_duration(paired), *_pitch_and_duration(whole), paired["scored"]]


def _pitch_and_duration(emd: dict) -> list:
    """[pitch EMD, duration EMD] of an EMD result (metrics/emd.py's dicts)."""
    return [emd["emd_pitch"], emd["emd_duration"]]


def _lmx_tokens(raw: dict) -> list[str]:
    return raw["lmx"].decode().split()


def _whole_columns(ctx: Context, codes: np.ndarray) -> np.ndarray:
    # A truncated output ends in a partial code column, which no image ever has.
    encoder = ctx.encoder("image")
    if encoder is None:
        return codes
    rows = encoder.model.config.height // encoder.model.config.factor
    return codes[: len(codes) // rows * rows]


def reencoded(ctx: Context, code_sets: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Image codes decoded to images and encoded again by the image codec."""
    encoder = ctx.encoder("image")
    out = []
    for codes in code_sets:
        image = postprocess.decode_image(codes, encoder)
        out.append(encoder(encoder.prepare(image, "reconstruction"))[0])
    return out
