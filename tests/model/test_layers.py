"""Attention's single-key shortcut against the general path."""

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.layers import NEG_INF, Attention
from tests.model.helpers import TINY


def test_one_key_equals_two_keys_with_the_second_masked():
    # 4 query heads share 2 key/value heads; the one-key path must route each
    # query head to its own group's value, as the general path does.
    attn = Attention(TINY, num_heads=4, num_kv_heads=2)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, 3, TINY.emb_dim)), jnp.float32)
    memory = jnp.asarray(rng.standard_normal((2, 2, TINY.emb_dim)), jnp.float32)
    bias = jnp.zeros((1, 1, 2))
    both = lambda module, x, memory: module(x, *module.kv(memory), bias)
    params = attn.init(jax.random.key(0), x, memory, method=both)
    k, v = attn.apply(params, memory, method="kv")
    two_keys = attn.apply(params, x, k, v, jnp.array([0.0, NEG_INF])[None, None])
    one_key = attn.apply(params, x, k[:, :, :1], v[:, :, :1], jnp.zeros((1, 1, 1)))
    np.testing.assert_allclose(one_key, two_keys, rtol=1e-6, atol=1e-6)
    # A masked lone key still gets all the weight (a uniform row of one).
    masked = attn.apply(params, x, k[:, :, :1], v[:, :, :1], jnp.full((1, 1, 1), NEG_INF))
    np.testing.assert_array_equal(masked, one_key)
