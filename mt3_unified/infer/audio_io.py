"""Reading users' audio files (mono, resampled), cutting them into segments, joining them back."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mt3_unified.errors import InputFileError

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")


def read_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Mono float32 samples at ``sample_rate`` from a WAV, FLAC, MP3 or OGG file.

    Channels are averaged; any other rate is resampled with soxr's very-high
    quality filter. Raises ``InputFileError`` naming the file for an unknown
    suffix, an unreadable file, no samples, or NaN/infinite samples.
    """
    import soundfile as sf

    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    suffix = Path(path).suffix.lower()
    if suffix not in AUDIO_SUFFIXES:
        raise InputFileError(
            path,
            f"cannot read the audio (unsupported format {suffix or 'without suffix'!r};"
            f" expected one of {', '.join(AUDIO_SUFFIXES)})",
        )
    try:
        samples, file_rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, TypeError, ValueError) as e:
        raise InputFileError(path, f"cannot read the audio ({e})") from e
    return _to_mono_at_rate(samples, file_rate, sample_rate, path)


def _to_mono_at_rate(
    samples: np.ndarray, file_rate: int, sample_rate: int, path: str | os.PathLike
) -> np.ndarray:
    # Mix down before resampling: one channel is cheaper to filter than several.
    mono = samples.mean(axis=1, dtype=np.float32) if samples.ndim == 2 else samples
    if mono.size == 0:
        raise InputFileError(path, "the audio holds no samples")
    bad = ~np.isfinite(mono)
    if bad.any():
        first = int(np.argmax(bad))
        raise InputFileError(
            path,
            f"the audio holds {int(bad.sum())} NaN or infinite samples (first at sample {first})",
        )
    if file_rate != sample_rate:
        import soxr

        mono = soxr.resample(mono, file_rate, sample_rate, quality="VHQ")
    return np.ascontiguousarray(mono, dtype=np.float32)


def segment_starts(num_samples: int, segment_samples: int) -> list[int]:
    """First sample of each consecutive segment of ``segment_samples`` (the last may be shorter)."""
    if segment_samples <= 0:
        raise ValueError(f"segment_samples must be positive, got {segment_samples}")
    return list(range(0, max(num_samples, 0), segment_samples))


def split_audio(audio: np.ndarray, segment_samples: int) -> list[np.ndarray]:
    """Consecutive segments of ``audio`` (views); the last may be shorter; empty audio gives []."""
    return [
        audio[start : start + segment_samples]
        for start in segment_starts(len(audio), segment_samples)
    ]


def _overlaps(lengths: Sequence[int], fade_samples: int) -> list[int]:
    # Each junction may take at most half of either neighbour, so a middle piece's
    # fade-in and fade-out never overlap each other.
    return [
        min(fade_samples, left // 2, right // 2)
        for left, right in zip(lengths[:-1], lengths[1:], strict=True)
    ]


def _equal_power_fades(n: int) -> tuple[np.ndarray, np.ndarray]:
    # Sample midpoints of the quarter period: fade_in**2 + fade_out**2 == 1, so
    # uncorrelated material keeps its loudness through the junction.
    phase = (np.arange(n) + 0.5) / n * (np.pi / 2) if n else np.zeros(0)
    return np.sin(phase), np.cos(phase)


def join_with_crossfade(
    pieces: Sequence[np.ndarray], sample_rate: int, crossfade_seconds: float = 0.05
) -> np.ndarray:
    """Pieces joined in order, consecutive ones overlapping by an equal-power crossfade.

    The crossfade at a junction is shortened to half of the shorter neighbour.
    Output length = sum of lengths - sum of overlaps; with a crossfade of 0 the
    result equals ``np.concatenate(pieces)``.
    """
    if crossfade_seconds < 0:
        raise ValueError(f"crossfade_seconds must be >= 0, got {crossfade_seconds}")
    pieces = [np.asarray(p) for p in pieces]
    dtype = np.result_type(np.float32, *(p.dtype for p in pieces))
    if not pieces:
        return np.zeros(0, dtype=dtype)
    lengths = [len(p) for p in pieces]
    overlaps = _overlaps(lengths, int(round(crossfade_seconds * sample_rate)))
    out = np.zeros(sum(lengths) - sum(overlaps), dtype=dtype)
    start = 0
    for i, piece in enumerate(pieces):
        head = overlaps[i - 1] if i > 0 else 0
        tail = overlaps[i] if i < len(overlaps) else 0
        body = piece.astype(dtype, copy=True)
        fade_in, _ = _equal_power_fades(head)
        _, fade_out = _equal_power_fades(tail)
        body[:head] *= fade_in
        body[len(body) - tail :] *= fade_out
        # The head adds onto the previous piece's faded tail; the rest is fresh
        # output, assigned rather than added so a zero crossfade is exact.
        out[start : start + head] += body[:head]
        out[start + head : start + len(body)] = body[head:]
        start += len(body) - tail
    return out


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> None:
    """A 16-bit PCM WAV file of ``samples`` ([T] or [T, channels]) clipped to [-1, 1]."""
    import soundfile as sf

    samples = np.asarray(samples, dtype=np.float32)
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"{os.fspath(path)}: refusing to write NaN or infinite samples")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(os.fspath(path), np.clip(samples, -1.0, 1.0), sample_rate, subtype="PCM_16")
