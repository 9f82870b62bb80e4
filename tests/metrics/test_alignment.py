"""DTW alignment of an estimate's notes onto the reference's time axis: stretched, shifted, tiny."""

import numpy as np
import pytest

from mt3_unified.metrics.alignment import align_notes, note_features, warping_path

FRAME = 1 / 50  # the default frame rate's frame, the promised accuracy


def _melody(seed: int, n: int = 40) -> list[tuple[float, float, int]]:
    # Random pitches and durations, with gaps and repeated pitches as in real music.
    rng = np.random.default_rng(seed)
    t, notes = 0.3, []
    for _ in range(n):
        step = float(rng.choice([0.125, 0.25, 0.375, 0.5]))
        notes.append((t, t + step * float(rng.uniform(0.6, 1.0)), int(rng.integers(55, 80))))
        t += step
    return notes


def _warped(notes, f):
    return [(f(on), f(off), p) for on, off, p in notes]


def _onset_errors(aligned, reference) -> np.ndarray:
    assert [p for *_, p in aligned] == [p for *_, p in reference]
    return np.abs(np.array([a[0] for a in aligned]) - np.array([r[0] for r in reference]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniformly_slower_estimate_aligns_back_within_a_frame(seed):
    reference = _melody(seed)
    aligned = align_notes(reference, _warped(reference, lambda t: 1.5 * t))
    assert _onset_errors(aligned, reference).max() <= FRAME + 1e-9
    assert all(off > on for on, off, _ in aligned)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shifted_estimate_aligns_back_within_a_frame(seed):
    reference = _melody(seed)
    aligned = align_notes(reference, _warped(reference, lambda t: t + 0.5))
    assert _onset_errors(aligned, reference).max() <= FRAME + 1e-9


def test_faster_estimate_with_tempo_drift_aligns_within_a_frame():
    reference = _melody(3)
    aligned = align_notes(reference, _warped(reference, lambda t: t / 1.3 + 0.05 * np.sin(t)))
    assert _onset_errors(aligned, reference).max() <= FRAME + 1e-9


def test_empty_lists():
    assert align_notes([(0.0, 1.0, 60)], []) == []
    # nothing to map onto: the estimate comes back as it was
    assert align_notes([], [(0.5, 1.0, 60)]) == [(0.5, 1.0, 60)]


def test_tiny_case_by_hand():
    # At 10 fps the reference's frames are [C onset, D onset, silence]; the twice
    # slower estimate's are [C onset, C, D onset, D, silence]. DTW pairs each
    # sustain frame with its note's onset frame, so the path is
    # (0,0) (0,1) (1,2) (1,3) (2,4) and each estimate note halves.
    reference = [(0.0, 0.1, 60), (0.1, 0.2, 62)]
    estimate = [(0.0, 0.2, 60), (0.2, 0.4, 62)]
    ref_frames = note_features(reference, 10.0, 3)
    est_frames = note_features(estimate, 10.0, 5)
    np.testing.assert_array_equal(
        warping_path(ref_frames, est_frames), [[0, 0], [0, 1], [1, 2], [1, 3], [2, 4]]
    )
    aligned = align_notes(reference, estimate, frame_rate=10.0)
    np.testing.assert_allclose(aligned, reference, atol=1e-12)


def test_note_features_by_hand():
    features = note_features([(0.0, 0.1, 60), (0.05, 0.3, 74)], 10.0, 4)
    expected = np.zeros((4, 25))
    expected[0, 0] = expected[0, 12] = 1.0  # C onset and sustain
    expected[0, 2] = expected[0:3, 14] = 1.0  # D (74 % 12 == 2) onset, sustain to 0.3 s
    expected[3, 24] = 1.0  # silence
    np.testing.assert_array_equal(features, expected)


def test_warping_path_on_hand_made_frames():
    ref = np.array([[1.0, 0.0], [0.0, 1.0]])
    est = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(warping_path(ref, est), [[0, 0], [0, 1], [1, 2]])
    with pytest.raises(ValueError):
        warping_path(ref, np.zeros((3, 3)))


def test_a_note_squeezed_into_one_frame_keeps_a_positive_duration():
    # The estimate's extra note at 1.0-1.01 s has no counterpart; wherever it
    # lands, its offset stays after its onset, and it keeps its own 10 ms length
    # when it collapses.
    reference = [(0.0, 0.5, 60), (0.5, 1.0, 64)]
    estimate = [(0.0, 0.5, 60), (0.5, 1.0, 64), (1.0, 1.01, 67)]
    aligned = align_notes(reference, estimate)
    assert len(aligned) == 3
    assert all(off > on for on, off, _ in aligned)
    on, off, _ = aligned[2]
    assert off - on <= FRAME + 1e-12
