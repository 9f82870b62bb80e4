"""One piece -> its paired examples: each system as PNG, LMX, notes and audio; the whole piece."""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from mt3_unified.corpus.errors import SkipError
from mt3_unified.corpus.notes import note_arrays
from mt3_unified.corpus.perform import PerformanceConfig, PerformedNote, perform
from mt3_unified.corpus.reduce import first_qpm, load_score, reduce_score
from mt3_unified.corpus.render import (
    DEFAULT_SOUNDFONT,
    notes_to_midi_bytes,
    render_midi,
    svg_to_png,
    to_int16,
)
from mt3_unified.corpus.styles import (
    DEFAULT_STYLE,
    RenderingStyle,
    apply_audio_style,
    curve_velocity,
    degrade_png,
    seed_of,
)
from mt3_unified.corpus.systems import LayoutConfig, MeasureSlicer, layout_systems, system_lmx

# Silence between the segments rendered in one fluidsynth run, long enough for the
# piano's release to die away so no segment hears its neighbour.
_RENDER_GAP_SECONDS = 1.0
_QSTAMP_TOLERANCE = 1e-3


@dataclass(frozen=True)
class PieceConfig:
    """Everything that changes the bytes of a piece's examples."""

    image_height: int = 128
    sample_rate: int = 16000
    layout: LayoutConfig = LayoutConfig()
    performance: PerformanceConfig = PerformanceConfig()
    tail_seconds: float = 0.5  # audio kept after a system's last note ends (release)
    seed: int = 0
    soundfont: str = DEFAULT_SOUNDFONT
    max_piece_seconds: float = 900.0  # whole-piece examples stay under ~30 MB at 16 kHz
    # The piece's rendering style (styles.styled_piece_config sets it with the style's
    # layout and program): its velocity curve, image degradations and audio effects.
    style: RenderingStyle | None = None


@dataclass
class PieceResult:
    """A piece's examples (plain dicts of numpy/bytes/str) and the systems left out, why."""

    piece: dict
    systems: list[dict]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (item, stage, reason)
    seconds: dict[str, float] = field(default_factory=dict)  # time spent in each stage


class _Stopwatch:
    """Seconds per stage (read, layout, png, lmx, audio), for bench/corpus.py."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


def piece_seed(seed: int, piece_id: str) -> int:
    """A per-piece seed: the same piece performs alike whatever else is in the build."""
    digest = hashlib.sha256(f"{seed}:{piece_id}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _note_arrays_of(notes: list[PerformedNote]) -> dict[str, np.ndarray]:
    """The `notes` feature of performed notes, in their order, labelled as piano (program
    0): a rendering style's GM program only colours the audio, as a hidden variation that
    no LMX input could predict (and the held-out style's program is never trained)."""
    return note_arrays((n.onset, n.offset, n.pitch, n.velocity, 0, n.is_drum) for n in notes)


def build_piece(path: str | os.PathLike, piece_id: str, config: PieceConfig) -> PieceResult:
    """Build one piece; raises SkipError when the whole piece cannot be used."""
    clock = _Stopwatch()
    with clock("read"):
        score = load_score(path)
        # Reducing a long score costs a minute; its written length at its tempo already
        # says it will be too long (the performance's tempo stays within about +-25%).
        estimate = float(score.highestTime) * 60.0 / first_qpm(score)
        if estimate > 1.3 * config.max_piece_seconds:
            raise SkipError(
                path,
                f"about {estimate:.0f} s long (limit {config.max_piece_seconds:.0f} s)",
                "length",
            )
        reduced = reduce_score(score, path)
    offsets = reduced.measure_offsets
    if not reduced.notes:
        raise SkipError(path, "no notes", "notes")
    performance = perform(
        reduced.notes,
        offsets,
        reduced.measure_lengths,
        reduced.qpm,
        piece_seed(config.seed, piece_id),
        config.performance,
    )
    style = config.style
    if style is not None and style.velocity_exponent != 1.0:
        # The stored notes are the played ones: the curve changes their velocities.
        for n in performance.notes:
            n.velocity = curve_velocity(n.velocity, style.velocity_exponent)
    piece_end = max(performance.measure_times[-1], max(n.offset for n in performance.notes))
    if piece_end > config.max_piece_seconds:  # before the costly layout
        limit = config.max_piece_seconds
        raise SkipError(path, f"{piece_end:.0f} s long (limit {limit:.0f} s)", "length")
    slicer = MeasureSlicer(reduced.musicxml)
    with clock("lmx"):
        measure_count = len(slicer.measures)  # one parse of the score for every slice
    with clock("layout"):
        layouts, qstamps = layout_systems(reduced.musicxml, config.layout, path, measure_count)
    if len(qstamps) != len(offsets) or any(
        abs(a - b) > _QSTAMP_TOLERANCE for a, b in zip(qstamps, offsets, strict=True)
    ):
        raise SkipError(path, "verovio's and music21's measure times disagree", "layout")
    systems, skipped, segments = [], [], [(performance.notes, piece_end)]
    for layout in layouts:
        item = f"{piece_id}#system{layout.index}"
        try:
            system = _system(layout, slicer, offsets, performance, config, path, clock, piece_id)
        except SkipError as e:
            skipped.append((item, e.stage, e.problem))
            continue
        systems.append(system)
        segments.append((system.pop("_notes"), system["duration"]))
    with clock("lmx"):
        piece_lmx = " ".join(system_lmx(slicer, 0, len(offsets), path))
    with clock("audio"):
        audio = _render_segments(segments, config, piece_id)
    piece_notes = _note_arrays_of(performance.notes)
    piece = {
        "piece_id": piece_id,
        "source": os.fspath(path),
        "style": DEFAULT_STYLE if style is None else style.name,
        "lmx": piece_lmx,
        "notes": piece_notes,
        "audio": audio[0],
        "sample_rate": config.sample_rate,
        "num_measures": len(offsets),
        "system_measure_starts": np.asarray([s.start for s in layouts], np.int32),
        "system_start_times": np.asarray(
            [performance.measure_times[s.start] for s in layouts], np.float32
        ),
    }
    for system, samples in zip(systems, audio[1:], strict=True):
        system["audio"] = samples
    return PieceResult(piece, systems, skipped, clock.seconds)


def _system(layout, slicer, measure_offsets, performance, config, source, clock, piece_id) -> dict:
    """The system's image, LMX and notes (times from the system's start, clipped to it)."""
    q_start = measure_offsets[layout.start]
    q_end = measure_offsets[layout.end] if layout.end < len(measure_offsets) else float("inf")
    t_start = performance.measure_times[layout.start]
    duration = performance.measure_times[layout.end] - t_start
    notes = []
    for n in performance.notes:
        if q_start - 1e-9 <= n.score_onset < q_end - 1e-9:
            onset = min(max(n.onset - t_start, 0.0), max(duration - 0.002, 0.0))
            offset = min(max(n.offset - t_start, onset + 0.001), duration)
            notes.append(
                PerformedNote(
                    round(onset, 3), round(offset, 3), n.pitch, n.velocity, n.program, n.is_drum
                )
            )
    if not notes:
        raise SkipError(source, f"measures {layout.start}-{layout.end} hold no notes", "notes")
    with clock("lmx"):
        tokens = system_lmx(slicer, layout.start, layout.end, source)
    with clock("png"):
        png = svg_to_png(layout.svg, config.image_height)
        if config.style is not None:
            seed = seed_of("image", config.seed, config.style.name, piece_id, layout.index)
            png = degrade_png(png, config.style, seed)
    return {
        "system_index": layout.index,
        "measure_start": layout.start,
        "measure_end": layout.end,
        "image": png,
        "lmx": " ".join(tokens),
        "notes": _note_arrays_of(notes),
        "sample_rate": config.sample_rate,
        "start_time": np.float32(t_start),
        "duration": np.float32(duration),
        "_notes": notes,
    }


def _render_segments(segments, config: PieceConfig, piece_id: str = "") -> list[np.ndarray]:
    """Render every segment in one fluidsynth run (one soundfont load), then cut it apart;
    the style's effects apply to each segment alone (no reverb reaches the next one)."""
    sr = config.sample_rate
    merged, starts, lengths = [], [], []
    cursor = 0.0
    for notes, duration in segments:
        starts.append(cursor)
        lengths.append(int(round((duration + config.tail_seconds) * sr)))
        for n in notes:
            merged.append(
                PerformedNote(
                    n.onset + cursor, n.offset + cursor, n.pitch, n.velocity, n.program, n.is_drum
                )
            )
        # Segment starts on the 1 ms grid keep every note time exact in the MIDI file.
        cursor = round(cursor + duration + config.tail_seconds + _RENDER_GAP_SECONDS, 3)
    total = int(round(cursor * sr))
    audio = render_midi(notes_to_midi_bytes(merged), sr, total, config.soundfont)
    out = []
    style = config.style
    for index, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        begin = int(round(start * sr))
        samples = audio[begin : begin + length]
        if style is not None:
            seed = seed_of("audio", config.seed, style.name, piece_id, index)
            samples = apply_audio_style(samples, style, sr, seed)
        out.append(to_int16(samples))
    return out
