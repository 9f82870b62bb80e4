"""Note-level transcription metrics (onset and onset+offset P/R/F1) computed with mir_eval.

Conventions (MT3's, made explicit):

* Matching is mir_eval's (``mir_eval.transcription.match_notes``, the matcher behind
  ``precision_recall_f1_overlap``): one-to-one, pitch within 50 cents, onset within
  the tolerance (50, 100 and 200 ms by default). Onset+offset also asks the offset
  to lie within ``max(offset_ratio * reference duration, offset_min_tolerance)``
  (0.2 and 50 ms).
* Program-agnostic by default: a pitched note of one program may match one of
  another. Drums are onset-only: drum hits match drum hits only, add to the onset
  scores and are left out of the onset+offset scores.
* ``multi_instrument_metrics`` also requires the same program (drums stay one group).
* Counts add up over groups before the ratios are taken:
  precision = matches / estimated notes, recall = matches / reference notes,
  F1 = 2PR / (P + R). A ratio with nothing to count is 1.0 (no false positives /
  nothing missed); F1 is 1.0 when both sides are empty and 0.0 when exactly one
  is. So no NaN ever comes out, and an empty transcription of silence scores 1.
* Notes shorter than 1 ms are lengthened to 1 ms so mir_eval accepts them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import mir_eval
import numpy as np
from note_seq.protobuf import music_pb2

from mt3_unified.vocab.midi_io import load_midi

NoteSource = music_pb2.NoteSequence | str | os.PathLike | bytes

DEFAULT_ONSET_TOLERANCES = (0.05, 0.1, 0.2)
OFFSET_RATIO = 0.2
OFFSET_MIN_TOLERANCE = 0.05
MIN_DURATION = 1e-3


def as_note_sequence(source: NoteSource) -> music_pb2.NoteSequence:
    """A NoteSequence as is, or a MIDI file (path or bytes) read with ``load_midi``."""
    if isinstance(source, music_pb2.NoteSequence):
        return source
    return load_midi(source, allow_empty=True)


def _group_arrays(notes: list) -> tuple[np.ndarray, np.ndarray]:
    intervals = np.array([[n.start_time, n.end_time] for n in notes], dtype=float).reshape(-1, 2)
    intervals[:, 1] = np.maximum(intervals[:, 1], intervals[:, 0] + MIN_DURATION)
    pitches = mir_eval.util.midi_to_hz(np.array([n.pitch for n in notes], dtype=float))
    return intervals, pitches


def _groups(ns: music_pb2.NoteSequence, by_program: bool) -> dict:
    groups: dict = {}
    for n in ns.notes:
        if n.is_drum:
            key = "drums"
        else:
            key = ("program", n.program) if by_program else "pitched"
        groups.setdefault(key, []).append(n)
    return groups


def _ratios(matches: int, n_ref: int, n_est: int) -> tuple[float, float, float]:
    precision = matches / n_est if n_est else 1.0
    recall = matches / n_ref if n_ref else 1.0
    if not n_ref or not n_est:
        f1 = 1.0 if n_ref == n_est else 0.0
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return float(precision), float(recall), float(f1)


def _tolerance_name(tolerance: float) -> str:
    return f"{round(tolerance * 1000):d}ms"


def transcription_metrics(
    reference: NoteSource,
    estimate: NoteSource,
    *,
    by_program: bool = False,
    onset_tolerances: Sequence[float] = DEFAULT_ONSET_TOLERANCES,
    offset_ratio: float = OFFSET_RATIO,
    offset_min_tolerance: float = OFFSET_MIN_TOLERANCE,
) -> dict[str, float]:
    """Program-agnostic note scores, e.g. ``onset_f1@50ms``, ``onset_offset_recall@200ms``.

    For each tolerance: ``onset_{precision,recall,f1}@Nms`` and
    ``onset_offset_{precision,recall,f1}@Nms``; also ``num_reference_notes`` and
    ``num_estimate_notes``. Inputs are NoteSequences or MIDI paths/bytes. With
    ``by_program`` a match also needs the same program and every key carries the
    prefix ``multi_`` (what ``multi_instrument_metrics`` returns).
    """
    prefix = "multi_" if by_program else ""
    ref_groups = _groups(as_note_sequence(reference), by_program)
    est_groups = _groups(as_note_sequence(estimate), by_program)
    arrays = {
        key: (
            _group_arrays(ref_groups.get(key, [])),
            _group_arrays(est_groups.get(key, [])),
        )
        for key in set(ref_groups) | set(est_groups)
    }
    n_ref = sum(len(v) for v in ref_groups.values())
    n_est = sum(len(v) for v in est_groups.values())
    n_ref_pitched = n_ref - len(ref_groups.get("drums", []))
    n_est_pitched = n_est - len(est_groups.get("drums", []))

    out: dict[str, float] = {}
    for tol in onset_tolerances:
        onset_matches = 0
        offset_matches = 0
        for key, ((ref_iv, ref_hz), (est_iv, est_hz)) in arrays.items():
            if not len(ref_iv) or not len(est_iv):
                continue
            onset_matches += len(
                mir_eval.transcription.match_notes(
                    ref_iv, ref_hz, est_iv, est_hz, onset_tolerance=tol, offset_ratio=None
                )
            )
            if key != "drums":
                offset_matches += len(
                    mir_eval.transcription.match_notes(
                        ref_iv,
                        ref_hz,
                        est_iv,
                        est_hz,
                        onset_tolerance=tol,
                        offset_ratio=offset_ratio,
                        offset_min_tolerance=offset_min_tolerance,
                    )
                )
        name = _tolerance_name(tol)
        for kind, matches, nr, ne in (
            ("onset", onset_matches, n_ref, n_est),
            ("onset_offset", offset_matches, n_ref_pitched, n_est_pitched),
        ):
            p, r, f = _ratios(matches, nr, ne)
            out[f"{prefix}{kind}_precision@{name}"] = p
            out[f"{prefix}{kind}_recall@{name}"] = r
            out[f"{prefix}{kind}_f1@{name}"] = f
    out[f"{prefix}num_reference_notes"] = float(n_ref)
    out[f"{prefix}num_estimate_notes"] = float(n_est)
    return out


def multi_instrument_metrics(
    reference: NoteSource, estimate: NoteSource, **options
) -> dict[str, float]:
    """As ``transcription_metrics`` (same options) but a match also needs the same program.

    Keys carry the prefix ``multi_`` (``multi_onset_offset_f1@50ms``, ...).
    """
    return transcription_metrics(reference, estimate, by_program=True, **options)
