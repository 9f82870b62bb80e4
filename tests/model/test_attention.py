"""Attention's single-key and few-keys paths against the general one; AttentionMask's two forms."""

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.attention import Attention, AttentionMask
from mt3_unified.model.primitives import NEG_INF
from tests.model.helpers import TINY


def test_one_key_equals_two_keys_with_the_second_masked():
    # 4 query heads share 2 key/value heads; the one-key path must route each
    # query head to its own group's value, as the general path does.
    attn = Attention(TINY, num_heads=4, num_kv_heads=2)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((2, 3, TINY.emb_dim)), jnp.float32)
    memory = jnp.asarray(rng.standard_normal((2, 2, TINY.emb_dim)), jnp.float32)
    both = lambda module, x, memory: module(x, *module.kv(memory), AttentionMask())
    params = attn.init(jax.random.key(0), x, memory, method=both)
    k, v = attn.apply(params, memory, method="kv")
    two_keys = attn.apply(params, x, k, v, AttentionMask(key_mask=jnp.array([[True, False]])))
    one_key = attn.apply(params, x, k[:, :, :1], v[:, :, :1], AttentionMask())
    np.testing.assert_allclose(one_key, two_keys, rtol=1e-6, atol=1e-6)
    # A masked lone key still gets all the weight (a uniform row of one).
    masked = attn.apply(params, x, k[:, :, :1], v[:, :, :1], AttentionMask(jnp.array([[False]])))
    np.testing.assert_array_equal(masked, one_key)


def test_attention_mask_as_bias_and_as_cudnn_arguments():
    # The matmul path's biases are exactly the ones the network built before
    # AttentionMask: causal [1, L, L], padding [B, 1, S]; the fused path gets
    # cuDNN's own masks.
    causal = AttentionMask(causal=True)
    padding = AttentionMask(jnp.array([[True, True, False], [True, False, False]]))
    np.testing.assert_array_equal(
        causal.bias(3, 3), [[[0, NEG_INF, NEG_INF], [0, 0, NEG_INF], [0, 0, 0]]]
    )
    np.testing.assert_array_equal(padding.bias(2, 3), [[[0, 0, NEG_INF]], [[0, NEG_INF, NEG_INF]]])
    np.testing.assert_array_equal(AttentionMask().bias(2, 3), np.zeros((1, 1, 3)))
    assert causal.fused_args(2) == {"is_causal": True}
    args = padding.fused_args(2)
    assert args["is_causal"] is False
    np.testing.assert_array_equal(args["key_value_seq_lengths"], [2, 1])
    # A decoding step's mask ([1, S]: positions up to the cache index) serves every row.
    step = AttentionMask((jnp.arange(4) <= 1)[None])
    np.testing.assert_array_equal(step.fused_args(3)["key_value_seq_lengths"], [2, 2, 2])


def test_few_keys_path_equals_the_matmul_path():
    # At most FEW_KEYS keys the fused configs attend by broadcast products and
    # sums; with grouped heads, causal and padding masks it must give the matmul
    # path's outputs and gradients.
    import dataclasses

    from mt3_unified.model.attention import FEW_KEYS

    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.standard_normal((2, 5, TINY.emb_dim)), jnp.float32)
    memory = jnp.asarray(rng.standard_normal((2, FEW_KEYS, TINY.emb_dim)), jnp.float32)
    padding = AttentionMask(jnp.arange(FEW_KEYS)[None] < jnp.array([[FEW_KEYS], [3]]))
    cases = ((x, AttentionMask(causal=True)), (memory, padding))
    matmul = Attention(TINY, num_heads=4, num_kv_heads=2)
    few = Attention(dataclasses.replace(TINY, attention="jax"), num_heads=4, num_kv_heads=2)
    run = lambda module, x, keys, mask: module(x, *module.kv(keys), mask)
    params = matmul.init(jax.random.key(0), x, x, AttentionMask(), method=run)
    for keys, mask in cases:
        outputs = []
        for module in (matmul, few):
            loss = lambda p, module=module, keys=keys, mask=mask: jnp.sum(
                jnp.sin(module.apply(p, x, keys, mask, method=run))
            )
            outputs.append(jax.value_and_grad(loss)(params))
        (a, grad_a), (b, grad_b) = outputs
        np.testing.assert_allclose(a, b, rtol=1e-6)
        for ga, gb in zip(jax.tree.leaves(grad_a), jax.tree.leaves(grad_b), strict=True):
            np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-5)
