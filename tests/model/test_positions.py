"""Positional tables: MT3's sinusoids at the tokens' scale (the default) or small normals."""

import dataclasses

import jax
import numpy as np
import pytest

from mt3_unified.model.network import position_init, sinusoids
from tests.model.helpers import TINY, tiny_model


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
