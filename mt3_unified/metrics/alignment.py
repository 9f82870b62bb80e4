"""Dynamic-time-warping alignment of a transcribed performance onto its reference's time axis.

Image-to-audio output is played at a tempo of its own, so before note metrics
compare its transcription with the ground truth, the paper warps the
transcription's times onto the reference's. Both note lists become frame
features at ``frame_rate``; DTW (librosa, cosine cost) pairs the frames, and
the estimate's onsets and offsets are moved along the path by piecewise-linear
interpolation.

Features per frame (25-d): 12 pitch-class *onset* dims (a note's first frame),
12 pitch-class *sustain* dims (every frame it sounds) and one *silence* dim.
Onset dims let repeated or legato notes of one pitch be told apart; the
silence dim keeps every frame nonzero, as the cosine distance requires.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Note = tuple[float, float, int]

DEFAULT_FRAME_RATE = 50.0
_PITCH_CLASSES = 12
_FEATURE_SIZE = 2 * _PITCH_CLASSES + 1
_SNAP = 1e-6  # frames


def _frame(t: float, frame_rate: float, rounding) -> int:
    # Snap to a frame boundary first: 0.2 + 0.7 s at 50 fps is 44.99999999999999
    # in floats, and flooring that would put a note one frame early.
    position = t * frame_rate
    nearest = round(position)
    return int(nearest if abs(position - nearest) < _SNAP else rounding(position))


def note_features(notes: Sequence[Note], frame_rate: float, num_frames: int) -> np.ndarray:
    """Onset/sustain pitch-class roll plus a silence flag, [num_frames, 25]."""
    features = np.zeros((num_frames, _FEATURE_SIZE))
    for onset, offset, pitch in notes:
        first = min(max(_frame(onset, frame_rate, math.floor), 0), num_frames - 1)
        # At least one frame, so a very short note still leaves a trace.
        last = max(first + 1, _frame(offset, frame_rate, math.ceil))
        pc = int(pitch) % _PITCH_CLASSES
        features[first, pc] += 1.0
        features[first:last, _PITCH_CLASSES + pc] += 1.0
    silent = ~features.any(axis=1)
    features[silent, -1] = 1.0
    return features


def _num_frames(notes: Sequence[Note], frame_rate: float) -> int:
    # One frame past the last offset: every note time, offsets included, then
    # lies within the frame axis, and both sequences end on a silent frame.
    end = max((max(on, off) for on, off, _ in notes), default=0.0)
    return _frame(end, frame_rate, math.ceil) + 1


def warping_path(ref_frames: np.ndarray, est_frames: np.ndarray) -> np.ndarray:
    """DTW path [N, 2] of (reference frame, estimate frame) pairs from (0, 0) to both ends.

    Frames are [time, dims]; the cost is the cosine distance, so no frame may be
    all zeros. The path is monotone in both columns and runs start to end.
    """
    import librosa

    ref_frames, est_frames = np.asarray(ref_frames), np.asarray(est_frames)
    if ref_frames.ndim != 2 or est_frames.ndim != 2 or ref_frames.shape[1] != est_frames.shape[1]:
        raise ValueError(
            f"expected frames [time, dims] of one size, got {ref_frames.shape}, {est_frames.shape}"
        )
    _, path = librosa.sequence.dtw(ref_frames.T, est_frames.T, metric="cosine")
    # librosa backtracks from the end.
    return np.ascontiguousarray(path[::-1])


def _time_map(path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (estimate positions, reference positions), both strictly increasing, in frames.

    Frame k spans [k, k + 1). A diagonal step of the path starts a new frame on
    both axes at once, so its lower-left corner is a point the two time axes
    share; so are (0, 0) and the far corner. Between such corners the path runs
    along one axis (one frame of one sequence against several of the other),
    and the interval is spread linearly rather than collapsed onto one frame.
    """
    steps = np.diff(path, axis=0)
    diagonal = np.flatnonzero((steps[:, 0] > 0) & (steps[:, 1] > 0)) + 1
    corners = np.concatenate([path[:1], path[diagonal], path[-1:] + 1])
    return corners[:, 1].astype(float), corners[:, 0].astype(float)


def align_notes(
    reference: Sequence[Note], estimate: Sequence[Note], frame_rate: float = DEFAULT_FRAME_RATE
) -> list[Note]:
    """The estimate's notes, in their order, with times moved onto the reference's time axis.

    Times are mapped through the DTW path by piecewise-linear interpolation;
    a mapped offset that does not exceed its mapped onset is put back at
    ``onset + min(duration, one frame)``. An empty estimate gives []; with an
    empty reference there is no time axis to map to and the estimate is
    returned unchanged.

    DTW keeps several [N, M] arrays over the two frame counts (a few GB for two
    5-minute pieces at 50 fps): align long pieces segment by segment or at a
    lower frame rate.
    """
    if frame_rate <= 0:
        raise ValueError(f"frame_rate must be positive, got {frame_rate}")
    estimate = [(float(on), float(off), int(p)) for on, off, p in estimate]
    if not estimate or not reference:
        return estimate
    ref_features = note_features(reference, frame_rate, _num_frames(reference, frame_rate))
    est_features = note_features(estimate, frame_rate, _num_frames(estimate, frame_rate))
    est_axis, ref_axis = _time_map(warping_path(ref_features, est_features))

    def warp(t: float) -> float:
        return float(np.interp(t * frame_rate, est_axis, ref_axis)) / frame_rate

    aligned = []
    for onset, offset, pitch in estimate:
        new_onset, new_offset = warp(onset), warp(offset)
        if new_offset <= new_onset:
            # The whole note fell inside one reference frame: keep it no longer
            # than it was, and no longer than that frame.
            duration, frame = offset - onset, 1.0 / frame_rate
            new_offset = new_onset + (duration if 0 < duration < frame else frame)
        aligned.append((new_onset, new_offset, pitch))
    return aligned
