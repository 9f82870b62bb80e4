"""Bad image and audio input is converted where the fix is obvious, else refused clearly."""

import io

import numpy as np
import pytest
from PIL import Image

from mt3_unified.codecs.inputs import CodecInputError, audio_to_array, image_to_array


def test_colour_and_transparent_images_become_grayscale_on_white():
    rgb = Image.new("RGB", (5, 3), (255, 0, 0))
    assert image_to_array(rgb).shape == (3, 5)
    np.testing.assert_allclose(image_to_array(rgb), 76 / 255, atol=1e-6)  # ITU-R 601 luma of red
    clear = Image.new("RGBA", (4, 2), (0, 0, 0, 0))
    np.testing.assert_array_equal(image_to_array(clear), 1.0)
    buffer = io.BytesIO()
    Image.new("P", (7, 2)).save(buffer, format="PNG")
    assert image_to_array(buffer.getvalue()).shape == (2, 7)
    assert image_to_array(np.zeros((3, 4, 3), np.uint8)).shape == (3, 4)


def test_zero_width_image_is_refused_with_its_name():
    with pytest.raises(CodecInputError, match=r"^page7\.png: image has zero size 0x10"):
        image_to_array(np.zeros((10, 0), np.float32), "page7.png")
    with pytest.raises(CodecInputError, match="cannot read the image"):
        image_to_array(b"not a png", "x.png")


def test_stereo_is_mixed_down_and_other_rates_resampled():
    stereo = np.stack([np.full(800, 0.5), np.full(800, -0.1)], axis=1)
    mono = audio_to_array(stereo, 16000, 16000)
    assert mono.shape == (800,) and np.allclose(mono, 0.2)
    np.testing.assert_allclose(audio_to_array(stereo.T, 16000, 16000), mono)
    tone = np.sin(2 * np.pi * 440 * np.arange(44100) / 44100).astype(np.float32)
    resampled = audio_to_array(tone, 44100, 16000)
    assert resampled.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(resampled))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1


def test_nan_audio_is_refused_naming_the_input():
    audio = np.zeros(100, np.float32)
    audio[42] = np.nan
    with pytest.raises(CodecInputError, match=r"^take3\.wav: .*1 NaN .*sample 42"):
        audio_to_array(audio, 16000, 16000, "take3.wav")
    with pytest.raises(CodecInputError, match="no samples"):
        audio_to_array(np.zeros(0), 16000, 16000, "empty.wav")


def test_int16_pcm_is_scaled_to_unit_range():
    pcm = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    out = audio_to_array(pcm, 16000, 16000)
    np.testing.assert_allclose(out, [0.0, 0.5, -1.0, 32767 / 32768])
