"""Decoded id frames -> each output's own form: LMX tokens, notes, code frames, pixels or samples.

Training, inference and evaluation share these functions, so that what the
metrics score is what the CLI writes. Every function takes the model's id
frames ([L, K], symbolic outputs in slot 0), a flat id list, or the token
string `UnifiedVocabulary.decode` gives (seqio's evaluator passes strings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from note_seq.protobuf import music_pb2

from mt3_unified.text import as_text
from mt3_unified.vocab import midi_events
from mt3_unified.vocab.lmx import lmx_to_musicxml
from mt3_unified.vocab.unified import (
    EOS_ID,
    MODALITIES,
    PAD_ID,
    VocabularyLayout,
    unified_vocabulary,
)


def id_frames(output, modality: str, vocabulary: VocabularyLayout) -> np.ndarray:
    """Ids of one output as frames [T, K] of ``modality`` (K = 1 for symbolic ones).

    A string is encoded token by token; a flat list of code ids is grouped K by K
    (an incomplete last frame is dropped).
    """
    if isinstance(output, bytes):
        output = output.decode()
    if isinstance(output, str):
        output = vocabulary.encode(output)
    ids = np.asarray(output, np.int32)
    k = vocabulary.num_codebooks(modality)
    if ids.ndim == 2:
        return ids[:, :k]
    if ids.ndim != 1:
        raise ValueError(f"expected ids [L] or frames [L, K], got shape {ids.shape}")
    return ids[: len(ids) // k * k].reshape(-1, k)


def symbol_ids(output, modality: str, vocabulary: VocabularyLayout) -> list[int]:
    """Slot 0 of a symbolic output up to (not including) its EOS; PAD ends it too."""
    out = []
    for i in id_frames(output, modality, vocabulary)[:, 0]:
        if i in (EOS_ID, PAD_ID):
            break
        out.append(int(i))
    return out


def lmx_tokens(output, vocabulary: VocabularyLayout | None = None) -> list[str]:
    """An LMX output as its token strings (ids of other modalities dropped)."""
    vocabulary = vocabulary or unified_vocabulary()
    return vocabulary.decode_lmx(symbol_ids(output, "lmx", vocabulary))


def lmx_musicxml(output, vocabulary: VocabularyLayout | None = None) -> str:
    """An LMX output as a MusicXML document (malformed tokens are repaired, never fatal)."""
    return lmx_to_musicxml(lmx_tokens(output, vocabulary))


def midi_events_of(output, vocabulary: VocabularyLayout | None = None) -> list[int]:
    """A MIDI output as the event codec's ids (0-based)."""
    vocabulary = vocabulary or unified_vocabulary()
    return vocabulary.decode_midi(symbol_ids(output, "midi", vocabulary))


def midi_note_sequence(
    output,
    vocabulary: VocabularyLayout | None = None,
    start_time: float = 0.0,
    end_time: float | None = None,
) -> music_pb2.NoteSequence:
    """One decoded MIDI segment as a NoteSequence (times from ``start_time``).

    Without ``end_time`` notes still sounding at the end are dropped, as
    `midi_events.decode_tokens` does; invalid events are skipped, never fatal.
    """
    vocabulary = vocabulary or unified_vocabulary()
    events = midi_events_of(output, vocabulary)
    ns, _ = midi_events.decode_tokens(events, vocabulary.config.midi, start_time, end_time)
    return ns


def midi_piece(
    outputs: Sequence, start_times: Sequence[float], vocabulary: VocabularyLayout | None = None
) -> music_pb2.NoteSequence:
    """A whole piece from its consecutive MIDI segments, notes joined through their ties."""
    vocabulary = vocabulary or unified_vocabulary()
    segments = [midi_events_of(o, vocabulary) for o in outputs]
    ns, _ = midi_events.decode_segments(segments, vocabulary.config.midi, list(start_times))
    return ns


def stitch_midi(
    outputs: Sequence, examples: Sequence[Mapping], vocabulary: VocabularyLayout | None = None
) -> dict[str, music_pb2.NoteSequence]:
    """{piece id: whole piece} of the MIDI outputs of a piece's windows (any order), each
    placed by its example's ``piece_id`` and ``start_time``, joined through their ties."""
    if len(outputs) != len(examples):
        raise ValueError(f"{len(outputs)} outputs for {len(examples)} examples")
    by_piece: dict[str, list] = {}
    for output, example in zip(outputs, examples, strict=True):
        piece = as_text(example["piece_id"])
        by_piece.setdefault(piece, []).append((_start_time(example), output))
    stitched = {}
    for piece, windows in by_piece.items():
        windows.sort(key=lambda window: window[0])
        starts, ordered = zip(*windows, strict=True)
        stitched[piece] = midi_piece(ordered, starts, vocabulary)
    return stitched


def code_frames(output, modality: str, vocabulary: VocabularyLayout | None = None) -> np.ndarray:
    """An image or audio output as raw codes [T, K] (codebook indices), up to its EOS frame."""
    vocabulary = vocabulary or unified_vocabulary()
    return vocabulary.decode_codes(modality, id_frames(output, modality, vocabulary))


def decode_image(codes: np.ndarray, encoder, width: int | None = None) -> np.ndarray:
    """Raw image codes [T, K] -> pixels [H, W] in [0, 1] with a host ImageCodeEncoder.

    Frames run column by column, ``H / downsampling`` rows a column, so a
    trailing partial column (a truncated output) is dropped.
    """
    config = encoder.model.config
    rows = config.height // config.factor
    codes = np.asarray(codes)[: len(codes) // rows * rows]
    return encoder.decode(codes, rows, width)


def decode_audio(codes: np.ndarray, encoder, length: int | None = None) -> np.ndarray:
    """Raw audio codes [T, K] -> mono samples with a host AudioCodeEncoder."""
    return encoder.decode(np.asarray(codes), length)


def postprocessor_for(modality: str):
    """seqio's ``postprocess_fn`` for outputs of ``modality``: LMX tokens, a NoteSequence
    (placed at the example's ``start_time``), or raw codes [T, K]."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; modalities are {MODALITIES}")

    def postprocess(output, example: Mapping | None = None, is_target: bool = False):
        del is_target  # targets and predictions take the same way
        if modality == "lmx":
            return lmx_tokens(output)
        if modality == "midi":
            return midi_note_sequence(output, start_time=_start_time(example))
        return code_frames(output, modality)

    postprocess.__name__ = f"postprocess_{modality}"
    return postprocess


def _start_time(example: Mapping | None) -> float:
    if not example or "start_time" not in example:
        return 0.0
    return float(np.asarray(example["start_time"]))
