"""The report's sample files: a few examples of each task's input, target and prediction."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from mt3_unified.infer.eval_context import TITLES, Context, Decoded
from mt3_unified.infer.eval_decode import example_key
from mt3_unified.infer.eval_transcribe import decode_clip, note_tuples
from mt3_unified.tasks import postprocess
from mt3_unified.tasks.chain import ContinuousInputs, continuous_input

SAMPLES_DIR = "samples"


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
        return [list(n) for n in note_tuples(ns)]
    if role == "input" and continuous_input(modality):
        return write_continuous_input(ctx, folder, modality, example)
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


def write_continuous_input(ctx: Context, folder: Path, modality: str, example):
    """An input the model read as pixel patches, drawn from them (what it saw); log-mel
    frames have no waveform to write: None."""
    if modality != "image":
        return None
    from mt3_unified.infer.outputs import write_png
    from mt3_unified.preprocessors.continuous import patches_to_image
    from mt3_unified.preprocessors.frames import CONTINUOUS, CONTINUOUS_MARKER

    settings = ContinuousInputs()
    present = np.asarray(example["inputs"])[:, 0] == CONTINUOUS_MARKER
    patches = np.asarray(example[CONTINUOUS])[present, : settings.own_width("image")]
    image = patches_to_image(
        patches,
        image_height=settings.image_height,
        patch_size=settings.patch_size,
        patch_height=settings.patch_height,
    )
    path = folder / "input.png"
    write_png(np.clip(image, 0.0, 1.0), ctx.output_dir / path, "image")
    return "input_image", str(path)
