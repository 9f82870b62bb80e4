"""Turn a written score into a seeded human-like performance: tempo drift, dynamics, jitter."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mt3_unified.corpus.reduce import ScoreNote


@dataclass(frozen=True)
class PerformanceConfig:
    """How far a performance strays from the metronome; `straight()` plays the score as written."""

    tempo_spread: float = 0.12  # the piece's tempo: score tempo x exp(N(0, spread))
    tempo_drift: float = 0.04  # per-measure step of the log-tempo random walk
    tempo_pull: float = 0.8  # how much of the drift each measure keeps (mean reversion)
    final_ritardando: float = 0.15  # slowing over the last two measures
    velocity_range: tuple[int, int] = (55, 90)  # the piece's mean velocity is drawn here
    phrase_depth: float = 12.0  # velocity swell over a phrase of 4-8 measures
    downbeat_accent: float = 8.0
    beat_accent: float = 3.0
    velocity_noise: float = 4.0
    onset_jitter: float = 0.010  # seconds, standard deviation (chords move together)
    chord_spread: float = 0.004  # seconds, each chord note's own jitter
    max_jitter: float = 0.030
    legato_range: tuple[float, float] = (0.85, 0.98)
    grace_seconds: float = 0.06
    program: int = 0  # General MIDI acoustic grand piano
    time_grid: float = 0.001  # times are rounded to this; the MIDI file keeps them exactly

    def straight(self, velocity: int = 80) -> PerformanceConfig:
        """This config with every human touch off: the score's tempo, one velocity, no
        jitter, each note held for its full written length."""
        return dataclasses.replace(
            self,
            velocity_range=(velocity, velocity),
            legato_range=(1.0, 1.0),
            **dict.fromkeys(_HUMAN_TOUCHES, 0.0),
        )


# The PerformanceConfig fields whose zero plays the score as written.
_HUMAN_TOUCHES = (
    "tempo_spread",
    "tempo_drift",
    "final_ritardando",
    "phrase_depth",
    "downbeat_accent",
    "beat_accent",
    "velocity_noise",
    "onset_jitter",
    "chord_spread",
)


@dataclass
class PerformedNote:
    """A rendered note: seconds from the start of its piece (or system), MIDI values."""

    onset: float
    offset: float
    pitch: int
    velocity: int
    program: int = 0
    is_drum: bool = False
    score_onset: float = 0.0  # quarter notes in the written score; assigns notes to systems


@dataclass
class Performance:
    notes: list[PerformedNote]
    measure_times: list[float]  # performed start of each measure, then the end of the last


class TempoMap:
    """Quarter-note position -> seconds, with a tempo constant over each quarter."""

    def __init__(self, seconds_per_quarter: np.ndarray):
        self.spq = seconds_per_quarter
        self.cumulative = np.concatenate([[0.0], np.cumsum(seconds_per_quarter)])

    def __call__(self, q: float) -> float:
        q = max(q, 0.0)
        i = min(int(math.floor(q)), len(self.spq) - 1)
        return float(self.cumulative[i] + (q - i) * self.spq[i])


def tempo_map(
    measure_offsets: Sequence[float],
    measure_lengths: Sequence[float],
    qpm: float,
    rng: np.random.Generator,
    config: PerformanceConfig,
) -> TempoMap:
    """A log-tempo random walk with one value a measure, linearly joined between measures."""
    total = measure_offsets[-1] + measure_lengths[-1]
    n = len(measure_offsets)
    base = qpm * math.exp(rng.normal(0.0, config.tempo_spread))
    walk = np.zeros(n)
    for k in range(1, n):
        walk[k] = config.tempo_pull * walk[k - 1] + rng.normal(0.0, config.tempo_drift)
    last_two = measure_offsets[max(0, n - 2)]
    quarters = np.arange(int(math.ceil(total)) + 1, dtype=np.float64) + 0.5
    log_tempo = np.interp(quarters, np.asarray(measure_offsets) + 0.0, walk)
    ritardando = np.clip((quarters - last_two) / max(total - last_two, 1e-9), 0.0, 1.0)
    qpm_curve = base * np.exp(log_tempo) * (1.0 - config.final_ritardando * ritardando)
    return TempoMap(60.0 / qpm_curve)


def perform(
    notes: Sequence[ScoreNote],
    measure_offsets: Sequence[float],
    measure_lengths: Sequence[float],
    qpm: float,
    seed: int,
    config: PerformanceConfig = PerformanceConfig(),
) -> Performance:
    """Performed notes of a score, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    times = tempo_map(measure_offsets, measure_lengths, qpm, rng, config)
    grid = config.time_grid
    mean_velocity = rng.uniform(*config.velocity_range)
    phrase = rng.uniform(4, 8) * max(measure_lengths[0], 1.0)  # in quarters
    phase = rng.uniform(0, 2 * math.pi)
    legato = rng.uniform(*config.legato_range)
    starts = np.asarray(measure_offsets)
    chord_shift: dict[float, float] = {}
    out = []
    for note in notes:
        if note.onset not in chord_shift:  # notes struck together stay together
            chord_shift[note.onset] = rng.normal(0.0, config.onset_jitter)
        jitter = chord_shift[note.onset] + rng.normal(0.0, config.chord_spread)
        jitter = float(np.clip(jitter, -config.max_jitter, config.max_jitter))
        measure = max(int(np.searchsorted(starts, note.onset + 1e-9, side="right")) - 1, 0)
        in_measure = note.onset - measure_offsets[measure]
        accent = 0.0
        if abs(in_measure) < 1e-6:
            accent = config.downbeat_accent
        elif abs(in_measure - round(in_measure)) < 1e-6:
            accent = config.beat_accent
        velocity = (
            mean_velocity
            + config.phrase_depth * math.sin(2 * math.pi * note.onset / phrase + phase)
            + accent
            + rng.normal(0.0, config.velocity_noise)
        )
        onset = times(note.onset) + jitter
        if note.is_grace:
            onset -= config.grace_seconds
            offset = onset + config.grace_seconds * 0.9
            velocity -= 10
        else:
            held = times(note.onset + note.duration) - times(note.onset)
            offset = onset + max(held * legato, 0.03)
        onset = max(round(onset / grid) * grid, 0.0)
        offset = max(round(offset / grid) * grid, onset + grid)
        out.append(
            PerformedNote(
                onset=onset,
                offset=offset,
                pitch=note.pitch,
                velocity=int(np.clip(round(velocity), 1, 127)),
                program=config.program,
                score_onset=note.onset,
            )
        )
    out.sort(key=lambda n: (n.onset, n.pitch))
    measure_times = [times(q) for q in measure_offsets]
    measure_times.append(times(measure_offsets[-1] + measure_lengths[-1]))
    return Performance(out, [round(t / grid) * grid for t in measure_times])
