"""Reading audio files of every supported format, splitting, crossfading and writing WAV."""

import numpy as np
import pytest
import soundfile as sf

from mt3_unified.errors import InputFileError
from mt3_unified.infer.audio_io import (
    AUDIO_SUFFIXES,
    join_with_crossfade,
    read_audio,
    segment_starts,
    split_audio,
    write_wav,
)

FILE_RATE = 44100
TARGET_RATE = 16000

# (suffix, soundfile format, subtype); MP3 only where this libsndfile can encode it.
FORMATS = [
    (".wav", "WAV", "PCM_16"),
    (".flac", "FLAC", "PCM_16"),
    (".ogg", "OGG", "VORBIS"),
    pytest.param(
        ".mp3",
        "MP3",
        "MPEG_LAYER_III",
        marks=pytest.mark.skipif(
            "MP3" not in sf.available_formats(), reason="libsndfile without MP3 support"
        ),
    ),
]


def _stereo_sine(seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * FILE_RATE)) / FILE_RATE
    left = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([left, 0.8 * left], axis=1).astype(np.float32)


def _peak_frequency(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / sample_rate)[np.argmax(spectrum)])


@pytest.mark.parametrize(("suffix", "fmt", "subtype"), FORMATS)
def test_read_audio_gives_mono_at_the_requested_rate(tmp_path, suffix, fmt, subtype):
    stereo = _stereo_sine()
    path = tmp_path / f"sine{suffix}"
    sf.write(path, stereo, FILE_RATE, format=fmt, subtype=subtype)

    audio = read_audio(path, TARGET_RATE)

    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - round(len(stereo) * TARGET_RATE / FILE_RATE)) <= 1
    assert _peak_frequency(audio, TARGET_RATE) == pytest.approx(440.0, abs=2.0)
    # mixed down: the mean of 0.5 and 0.4 amplitude channels
    assert np.abs(audio).max() == pytest.approx(0.45, abs=0.05)


def test_lossless_lengths_are_exact(tmp_path):
    path = tmp_path / "odd.flac"
    n = 44100 + 123
    sf.write(path, np.zeros((n, 2), dtype=np.float32), FILE_RATE)
    assert len(read_audio(path, TARGET_RATE)) == round(n * TARGET_RATE / FILE_RATE)


def test_same_rate_is_returned_unchanged(tmp_path):
    mono = np.linspace(-0.5, 0.5, 1000, dtype=np.float32)
    path = tmp_path / "same.wav"
    sf.write(path, mono, TARGET_RATE, subtype="FLOAT")
    np.testing.assert_array_equal(read_audio(path, TARGET_RATE), mono)


def test_text_file_renamed_wav_names_the_file(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    with pytest.raises(InputFileError, match=r"notes\.wav: cannot read the audio") as info:
        read_audio(path, TARGET_RATE)
    assert info.value.source == str(path)


def test_missing_file_and_unknown_suffix_are_input_errors(tmp_path):
    with pytest.raises(InputFileError, match="cannot read the audio"):
        read_audio(tmp_path / "absent.wav", TARGET_RATE)
    odd = tmp_path / "clip.aiff"
    sf.write(odd, np.zeros(100, dtype=np.float32), FILE_RATE, format="AIFF")
    with pytest.raises(InputFileError, match="unsupported format '.aiff'"):
        read_audio(odd, TARGET_RATE)


def test_empty_wav_holds_no_samples(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), FILE_RATE)
    with pytest.raises(InputFileError, match="empty.wav: the audio holds no samples"):
        read_audio(path, TARGET_RATE)


def test_nan_samples_are_refused(tmp_path):
    samples = np.zeros(100, dtype=np.float32)
    samples[[10, 20]] = [np.nan, np.inf]
    path = tmp_path / "nan.wav"
    sf.write(path, samples, FILE_RATE, subtype="FLOAT")
    with pytest.raises(InputFileError, match="2 NaN or infinite samples .first at sample 10"):
        read_audio(path, TARGET_RATE)


def test_suffixes():
    assert AUDIO_SUFFIXES == (".wav", ".flac", ".mp3", ".ogg")


def test_segments_are_consecutive_and_the_last_is_shorter():
    audio = np.arange(10, dtype=np.float32)
    assert segment_starts(10, 4) == [0, 4, 8]
    assert segment_starts(8, 4) == [0, 4]
    assert segment_starts(0, 4) == []
    pieces = split_audio(audio, 4)
    assert [len(p) for p in pieces] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(pieces), audio)
    assert split_audio(np.zeros(0, dtype=np.float32), 4) == []
    with pytest.raises(ValueError):
        segment_starts(10, 0)


def test_zero_crossfade_is_concatenation():
    rng = np.random.default_rng(0)
    pieces = [rng.standard_normal(n).astype(np.float32) for n in (5, 7, 3)]
    joined = join_with_crossfade(pieces, 100, crossfade_seconds=0.0)
    np.testing.assert_array_equal(joined, np.concatenate(pieces))
    assert join_with_crossfade([], 100).shape == (0,)


def test_crossfade_length_and_equal_power_fades():
    sr = 1000
    pieces = [np.ones(100, dtype=np.float32), np.ones(100, dtype=np.float32)]
    joined = join_with_crossfade(pieces, sr, crossfade_seconds=0.01)  # 10 samples
    assert len(joined) == 190
    np.testing.assert_array_equal(joined[:90], 1.0)
    np.testing.assert_array_equal(joined[100:], 1.0)
    phase = (np.arange(10) + 0.5) / 10 * np.pi / 2
    np.testing.assert_allclose(joined[90:100], np.cos(phase) + np.sin(phase), rtol=1e-6)
    # equal power: squared gains sum to one; check it with orthogonal pieces
    a = join_with_crossfade([np.ones(100), np.zeros(100)], sr, 0.01)
    b = join_with_crossfade([np.zeros(100), np.ones(100)], sr, 0.01)
    np.testing.assert_allclose(a[90:100] ** 2 + b[90:100] ** 2, 1.0)


def test_crossfade_is_shortened_to_half_a_piece():
    sr = 1000
    pieces = [np.ones(100), np.ones(8), np.ones(100)]
    joined = join_with_crossfade(pieces, sr, crossfade_seconds=0.05)  # 50 > 8 // 2
    assert len(joined) == 208 - 4 - 4
    # the short middle piece is fully used by its two fades, never by one twice
    assert np.all(joined <= np.sqrt(2) + 1e-9)
    assert joined[0] == 1.0 and joined[-1] == 1.0


def test_write_wav_is_16_bit_and_clipped(tmp_path):
    path = tmp_path / "out" / "clip.wav"
    write_wav(path, np.array([0.0, 0.5, 2.0, -3.0], dtype=np.float32), TARGET_RATE)
    info = sf.info(path)
    assert (info.subtype, info.samplerate, info.frames) == ("PCM_16", TARGET_RATE, 4)
    back, _ = sf.read(path, dtype="float32")
    np.testing.assert_allclose(back, [0.0, 0.5, 1.0, -1.0], atol=1 / 32768)
    with pytest.raises(ValueError):
        write_wav(path, np.array([np.nan]), TARGET_RATE)
