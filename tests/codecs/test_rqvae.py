"""Image RQ-VAE: shapes for odd sizes, deterministic codes, the documented reading order."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.rqvae import RQVAE, RQVAEConfig, codes_to_frames, frames_to_codes
from mt3_unified.codecs.rvq import RVQConfig, prng_key
from tests.codecs.helpers import assert_fresh_compile_gives_same_codes

TINY = RQVAEConfig(
    channels=(4, 8, 8, 8), res_blocks=1, latent_dim=8, height=48,
    rvq=RVQConfig(num_codebooks=2, codebook_size=16),
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _model_and_variables():
    import flax.linen as nn

    # Jitted: run op by op, the convolutions' many small compilations take minutes.
    model = RQVAE(TINY)
    variables = jax.jit(model.init)(prng_key(0), jnp.ones((1, 32, 32)))
    return model, nn.meta.unbox(variables)


@functools.cache
def _round_trip(height: int, width: int):
    """One compiled function per shape: encode, decode (all and one codebook), reconstruct."""
    model = RQVAE(TINY)

    def run(variables, images):
        codes = model.apply(variables, images, method=RQVAE.encode)
        decoded = model.apply(variables, codes, height, width, method=RQVAE.decode)
        first = model.apply(variables, codes[..., :1], height, width, method=RQVAE.decode)
        recon, _, _ = model.apply(variables, images)
        return codes, decoded, first, recon

    return jax.jit(run)


@pytest.mark.parametrize("height,width", [(37, 53), (16, 1)])
def test_encode_decode_shapes_for_odd_sizes(height, width):
    _, variables = _model_and_variables()
    images = jax.random.uniform(prng_key(1), (2, height, width))
    codes, decoded, first, recon = _round_trip(height, width)(variables, images)
    assert codes.shape == (2, -(-height // 16), -(-width // 16), 2)
    assert codes.dtype == jnp.int32
    assert decoded.shape == first.shape == recon.shape == (2, height, width)


def test_same_input_and_params_give_same_codes():
    model, variables = _model_and_variables()
    images = jax.random.uniform(prng_key(2), (2, 37, 53))
    codes = _round_trip(37, 53)(variables, images)[0]
    assert_fresh_compile_gives_same_codes(model, variables, images, codes)


def test_zero_width_image_is_refused():
    model, variables = _model_and_variables()
    with pytest.raises(CodecInputError, match="zero size"):
        model.apply(variables, jnp.ones((1, 48, 0)), method=RQVAE.encode)


def test_reading_order_is_column_major():
    # grid[b, row, col, k] = 10 * row + col (+ 100 for codebook 1).
    grid = np.array([[[[10 * r + c, 100 + 10 * r + c] for c in range(3)] for r in range(2)]])
    frames = codes_to_frames(jnp.asarray(grid))
    np.testing.assert_array_equal(frames[0, :, 0], [0, 10, 1, 11, 2, 12])
    np.testing.assert_array_equal(frames[0, :, 1], [100, 110, 101, 111, 102, 112])
    np.testing.assert_array_equal(frames_to_codes(frames, rows=2), grid)
    with pytest.raises(ValueError, match="whole columns"):
        frames_to_codes(frames, rows=4)
