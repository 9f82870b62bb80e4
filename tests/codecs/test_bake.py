"""Baking: shift variants, documented features, TFRecord output, deterministic codes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.codecs.audio import AudioCodec
from mt3_unified.codecs.bake import (
    AudioEncoder,
    BakeConfig,
    ImageEncoder,
    bake_examples,
    shift_audio,
    shift_image,
    write_tfrecord,
)
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.rqvae import RQVAE
from mt3_unified.codecs.rvq import prng_key
from tests.codecs.test_audio import TINY as AUDIO_TINY
from tests.codecs.test_rqvae import TINY as IMAGE_TINY


@functools.lru_cache(maxsize=1)
def _encoders():
    import flax.linen as nn

    image_model, audio_model = RQVAE(IMAGE_TINY), AudioCodec(AUDIO_TINY)
    image_vars = jax.jit(image_model.init)(prng_key(0), jnp.ones((1, 48, 16)))
    audio_vars = jax.jit(audio_model.init)(prng_key(0), jnp.zeros((1, 64)))
    return (
        ImageEncoder(image_model, nn.meta.unbox(image_vars), bucket=64),
        AudioEncoder(audio_model, nn.meta.unbox(audio_vars), bucket=512),
    )


def test_shifts_pad_with_paper_and_silence():
    image = np.zeros((2, 3), np.float32)
    shifted = shift_image(image, 1, 2)
    assert shifted.shape == (3, 5) and shifted[0].min() == 1.0 and shifted[:, :2].min() == 1.0
    np.testing.assert_array_equal(shift_audio(np.ones(3), 2), [0, 0, 1, 1, 1])


def test_bake_writes_variants_with_codes_and_keeps_other_features(tmp_path):
    image_encoder, audio_encoder = _encoders()
    rng = np.random.default_rng(0)
    example = {
        "id": "piece/3",
        "lmx": "measure key:fifths:0",
        "image": (rng.random((60, 70, 3)) * 255).astype(np.uint8),  # RGB, wrong height
        "audio": rng.standard_normal((300, 2)).astype(np.float32) * 0.1,  # stereo
        "sample_rate": 16000,
    }
    config = BakeConfig(image_shifts=((0, 0), (0, 4)), audio_shifts=(0, 4, 8))
    baked = list(bake_examples([example], image_encoder, audio_encoder, config))
    assert [b["variant"] for b in baked] == [0, 1, 2]
    for b in baked:
        assert b["id"] == "piece/3" and b["lmx"] == example["lmx"] and "image" not in b
        # 60x70 resized to height 48 -> width 56 (+4 when shifted) -> 4 columns of 3 rows.
        assert b["image_grid_rows"] == 3 and b["image_codes"].shape == (3 * 4, 2)
        assert b["audio_codes"].shape[1] == 3
    assert [b["audio_codes"].shape[0] for b in baked] == [38, 38, 39]  # ceil((300 + s) / 8)
    np.testing.assert_array_equal(baked[1]["image_shift"], [0, 4])
    again = list(bake_examples([example], image_encoder, audio_encoder, config))
    np.testing.assert_array_equal(baked[2]["audio_codes"], again[2]["audio_codes"])
    assert write_tfrecord(baked, str(tmp_path / "baked.tfrecord")) == 3


def test_bake_refuses_nan_audio_naming_the_example():
    _, audio_encoder = _encoders()
    example = {"id": "piece/9", "audio": np.full(100, np.nan, np.float32)}
    with pytest.raises(CodecInputError, match=r"^piece/9: audio holds 100 NaN"):
        list(bake_examples([example], None, audio_encoder))
