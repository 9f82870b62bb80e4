"""Positional tables: MT3's sinusoids at the tokens' scale (the default) or small normals;
the image grid's row embeddings."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.model.network import position_init, sinusoids
from mt3_unified.vocab.layout import MODALITIES
from tests.model.helpers import TINY, cached_logits, make_batch, tiny_model


def test_sinusoids_hold_sines_then_cosines_of_geometric_frequencies():
    # 4 features: two frequencies, 1 and 1/10000 (geometric from 1 to 1/10000).
    table = sinusoids(3, 4)
    expected = np.array(
        [
            [0.0, 0.0, 1.0, 1.0],
            [np.sin(1.0), np.sin(1e-4), np.cos(1.0), np.cos(1e-4)],
            [np.sin(2.0), np.sin(2e-4), np.cos(2.0), np.cos(2e-4)],
        ],
        np.float32,
    )
    np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-7)


def test_sinusoid_init_gives_every_modality_the_same_table():
    table = np.asarray(position_init("sinusoid")(jax.random.key(0), (3, 5, 6)))
    for modality in range(3):
        np.testing.assert_array_equal(table[modality], sinusoids(5, 6))


def test_the_model_starts_its_positional_tables_as_configured():
    params = tiny_model().init(jax.random.key(0))
    np.testing.assert_allclose(params["encoder_pos"][0], sinusoids(TINY.max_input_len, 32))
    np.testing.assert_allclose(params["decoder_pos"][2], sinusoids(TINY.max_target_len, 32))
    normal = tiny_model(position_init="normal").init(jax.random.key(0))
    assert 0.05 < float(np.std(normal["encoder_pos"])) < 0.15


def test_unknown_position_init_is_refused():
    with pytest.raises(ValueError, match="position_init must be one of"):
        dataclasses.replace(TINY, position_init="rope")


def test_image_rows_are_off_by_default():
    params = tiny_model().init(jax.random.key(0))
    assert not {"encoder_image_rows", "decoder_image_rows"} & set(params)


def test_image_frames_get_their_grid_row_and_other_modalities_nothing():
    model = tiny_model(image_rows=3)
    params = model.init(jax.random.key(0))
    table = np.asarray(params["encoder_image_rows"])
    assert table.shape == (3, 32) and params["decoder_image_rows"].shape == (3, 32)
    modality = jnp.array([MODALITIES.index("image"), MODALITIES.index("audio")])
    rows = model.module.apply(
        {"params": params},
        jnp.zeros((2, 7, 32)),
        "encoder",
        jnp.arange(7),
        modality,
        method=lambda module, *args: module._add_rows(*args),
    )
    # Frames 0..6 of a column-major grid of 3 rows sit in rows 0 1 2 0 1 2 0.
    np.testing.assert_array_equal(rows[0], table[[0, 1, 2, 0, 1, 2, 0]])
    np.testing.assert_array_equal(rows[1], np.zeros((7, 32)))


def test_cached_decoding_adds_the_rows_the_full_pass_adds():
    model = tiny_model(image_rows=3)
    params = model.init(jax.random.key(1))
    batch = make_batch([("image", "lmx"), ("lmx", "image"), ("audio", "image")])
    full = np.asarray(jax.jit(model.logits)(params, batch))
    cached = np.asarray(jax.jit(lambda p, b: cached_logits(model, p, b))(params, batch))
    valid = full > -1e8
    np.testing.assert_allclose(cached[valid], full[valid], atol=1e-5)


def test_the_rows_change_what_an_image_reader_computes():
    batch = make_batch([("image", "lmx"), ("lmx", "midi")])
    params = tiny_model().init(jax.random.key(2))
    with_rows = tiny_model(image_rows=3)
    rows_params = dict(with_rows.init(jax.random.key(2)), **params)
    plain = np.asarray(tiny_model().logits(params, batch))
    rowed = np.asarray(with_rows.logits(rows_params, batch))
    assert not np.allclose(plain[0], rowed[0])  # the image input's rows moved its logits
    np.testing.assert_allclose(plain[1], rowed[1], atol=1e-6)  # LMX -> MIDI untouched


def test_continuous_image_inputs_get_no_grid_rows():
    batch = make_batch([("image", "lmx"), ("image", "lmx")])
    batch["encoder_continuous_inputs"] = np.ones((2, 12, 6), np.float32)
    config = dict(continuous_input_dim=6, continuous_modalities=("image",))
    params = tiny_model(**config).init(jax.random.key(3))
    with_rows = tiny_model(image_rows=3, **config)
    rows_params = dict(with_rows.init(jax.random.key(3)), **params)
    plain = np.asarray(tiny_model(**config).logits(params, batch))
    rowed = np.asarray(with_rows.logits(rows_params, batch))
    # Strips or patches of pixels are not the codes' grid: the row tables are not added.
    np.testing.assert_allclose(plain, rowed, atol=1e-6)


def test_negative_image_rows_are_refused():
    with pytest.raises(ValueError, match="image_rows must be >= 0"):
        dataclasses.replace(TINY, image_rows=-1)
