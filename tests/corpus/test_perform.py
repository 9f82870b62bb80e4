"""The performance model: seeded, bounded, and plainly not a metronome."""

from __future__ import annotations

import numpy as np

from mt3_unified.corpus.perform import PerformanceConfig, perform
from mt3_unified.corpus.reduce import ScoreNote

STRAIGHT = PerformanceConfig().straight(velocity=80)


def _scale(measures: int = 16):
    """Quarter notes, four a measure, with a two-note chord on every downbeat."""
    notes = [ScoreNote(float(q), 1.0, 60 + q % 12) for q in range(4 * measures)]
    notes += [ScoreNote(float(q), 1.0, 48) for q in range(0, 4 * measures, 4)]
    return notes, [4.0 * m for m in range(measures)], [4.0] * measures


def test_straight_config_plays_the_metronome():
    notes, offsets, lengths = _scale()
    played = perform(notes, offsets, lengths, qpm=120.0, seed=1, config=STRAIGHT)
    onsets = sorted({n.onset for n in played.notes})
    assert np.allclose(np.diff(onsets), 0.5)
    assert {n.velocity for n in played.notes} == {80}
    assert np.allclose(np.diff(played.measure_times), 2.0)


def test_performance_is_seeded_and_humanized():
    notes, offsets, lengths = _scale()
    a = perform(notes, offsets, lengths, qpm=120.0, seed=7)
    b = perform(notes, offsets, lengths, qpm=120.0, seed=7)
    c = perform(notes, offsets, lengths, qpm=120.0, seed=8)
    assert a == b
    assert a != c
    beats = np.diff([n.onset for n in a.notes if n.pitch != 48])
    assert beats.std() > 0.005  # tempo drift and jitter, not a grid
    assert 0.25 < beats.mean() < 1.0  # but still about the written tempo
    velocities = [n.velocity for n in a.notes]
    assert len(set(velocities)) > 5 and min(velocities) >= 1 and max(velocities) <= 127


def test_chord_notes_stay_together_and_times_sit_on_the_grid():
    notes, offsets, lengths = _scale()
    played = perform(notes, offsets, lengths, qpm=100.0, seed=3)
    by_onset: dict[float, list[float]] = {}
    for n in played.notes:
        by_onset.setdefault(n.score_onset, []).append(n.onset)
        assert n.offset > n.onset >= 0.0
        assert abs(n.onset * 1000 - round(n.onset * 1000)) < 1e-6
    spreads = [max(v) - min(v) for v in by_onset.values() if len(v) > 1]
    assert max(spreads) <= 2 * PerformanceConfig().max_jitter
    assert np.mean(spreads) < 0.02
