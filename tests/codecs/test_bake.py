"""Baking: shift variants, documented features, TFRecord output, deterministic codes."""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs.audio import AudioCodec
from mt3_unified.codecs.bake import BakeConfig, bake_examples, shift_audio, shift_image
from mt3_unified.codecs.baked import read_baked, write_tfrecord
from mt3_unified.codecs.host_encoders import AudioCodeEncoder, ImageCodeEncoder, bucket_size
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
        ImageCodeEncoder(image_model, nn.meta.unbox(image_vars), bucket=64),
        AudioCodeEncoder(audio_model, nn.meta.unbox(audio_vars), bucket=512),
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


def test_bake_skips_nan_audio_naming_the_example_and_keeps_the_rest():
    _, audio_encoder = _encoders()
    examples = [
        {"piece_id": b"bach/x.mxl", "system_index": 2, "audio": np.full(100, np.nan, np.float32)},
        {"id": "piece/10", "audio": np.zeros(100, np.float32)},
    ]
    skipped = []
    config = BakeConfig(audio_shifts=(0,))
    baked = list(
        bake_examples(examples, None, audio_encoder, config, on_skip=lambda *s: skipped.append(s))
    )
    assert skipped == [
        ("bach/x.mxl#2", "audio holds 100 NaN or infinite samples (first at sample 0)")
    ]
    assert [b["id"] for b in baked] == ["piece/10"]


def test_bake_refuses_an_unreadable_image_by_name():
    image_encoder, _ = _encoders()
    skipped = []
    examples = [{"id": "piece/4", "image": b"not a png"}]
    assert list(bake_examples(examples, image_encoder, on_skip=lambda *s: skipped.append(s))) == []
    assert skipped[0][0] == "piece/4" and skipped[0][1].startswith("cannot read the image")


def test_bucket_sizes_grow_by_quarter_octaves():
    assert [bucket_size(n, 2) for n in (1, 2, 3, 16, 17, 20, 21, 33, 64, 65)] == [
        2, 2, 4, 16, 20, 20, 24, 40, 64, 80,
    ]  # fmt: skip


def test_baked_examples_read_back_with_their_shapes_and_types(tmp_path):
    baked = {
        "piece_id": b"bach/x.mxl",
        "variant": 1,
        "duration": np.float32(2.5),
        "notes": {"pitch": np.array([60, 64], np.int32), "is_drum": np.array([False, True])},
        "image_codes": np.arange(24, dtype=np.int32).reshape(6, 4),
        "empty": np.zeros((0, 4), np.int32),
    }
    path = str(tmp_path / "one.tfrecord")
    assert write_tfrecord([baked], path) == 1
    (back,) = read_baked(path)
    assert sorted(back) == [
        "duration", "empty", "image_codes", "notes/is_drum", "notes/pitch", "piece_id", "variant",
    ]  # fmt: skip
    assert back["piece_id"] == b"bach/x.mxl" and back["variant"] == 1 and back["duration"] == 2.5
    np.testing.assert_array_equal(back["notes/pitch"], [60, 64])
    np.testing.assert_array_equal(back["notes/is_drum"], [0, 1])
    np.testing.assert_array_equal(back["image_codes"], baked["image_codes"])
    assert back["image_codes"].dtype == np.int32 and back["empty"].shape == (0, 4)
