"""Exact residual-VQ cases: hand-made codebooks whose codes and residuals are known."""

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs.rvq import (
    ResidualVQ,
    RVQConfig,
    perplexity,
    prng_key,
    residual_quantize,
    restart_dead_codes,
    restart_thrashing_warning,
)

CODEBOOKS = np.array(
    [[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]]], np.float32
)
X = np.array([[1.4, 0.1], [0.1, 0.9], [0.0, 0.0]], np.float32)


def _hand_made_vq(**overrides):
    config = RVQConfig(num_codebooks=2, codebook_size=3, learning="loss", **overrides)
    vq = ResidualVQ(config, dim=2)
    variables = vq.init(prng_key(0), X)
    variables = jax.tree.map(lambda x: x, variables)
    variables["params"]["codebooks"] = jnp.asarray(CODEBOOKS)
    return vq, variables


def test_residual_quantize_gives_known_codes_and_residuals():
    codes, quantized, residuals = residual_quantize(jnp.asarray(X), jnp.asarray(CODEBOOKS))
    np.testing.assert_array_equal(codes, [[1, 1], [2, 0], [0, 0]])
    np.testing.assert_allclose(quantized, [[1.5, 0.0], [0.0, 1.0], [0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(residuals[:, 1], [[0.4, 0.1], [0.1, -0.1], [0.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(X - quantized, [[-0.1, 0.1], [0.1, -0.1], [0.0, 0.0]], atol=1e-6)


def test_module_matches_pure_function_and_known_losses():
    vq, variables = _hand_made_vq()
    quantized, codes, aux = vq.apply(nn_unbox(variables), jnp.asarray(X))
    np.testing.assert_array_equal(codes, [[1, 1], [2, 0], [0, 0]])
    np.testing.assert_allclose(quantized, [[1.5, 0.0], [0.0, 1.0], [0.0, 0.0]], atol=1e-6)
    # Stage errors (0.17 + 0.02 + 0) / 6 and (0.02 + 0.02 + 0) / 6.
    np.testing.assert_allclose(aux["commitment_loss"], 0.19 / 6 + 0.04 / 6, rtol=1e-5)
    np.testing.assert_allclose(aux["codebook_loss"], 0.23 / 6, rtol=1e-5)
    decoded = vq.apply(nn_unbox(variables), codes, method=ResidualVQ.decode)
    np.testing.assert_allclose(decoded, quantized, atol=1e-6)
    _, first, _ = vq.apply(nn_unbox(variables), jnp.asarray(X), num_codebooks=1)
    np.testing.assert_array_equal(first, [[1], [2], [0]])


def test_straight_through_gradient_is_identity():
    vq, variables = _hand_made_vq()
    grad = jax.grad(lambda x: vq.apply(nn_unbox(variables), x)[0].sum())(jnp.asarray(X))
    np.testing.assert_allclose(grad, np.ones_like(X))


def test_ema_update_moves_codes_to_the_mean_of_their_inputs():
    config = RVQConfig(num_codebooks=1, codebook_size=2, learning="ema", ema_decay=0.5)
    vq = ResidualVQ(config, dim=2)
    x = jnp.array([[0.1, 0.0], [0.9, 1.1], [1.1, 0.9]])
    variables = vq.init(prng_key(0), x)
    book = jnp.array([[[0.0, 0.0], [1.0, 1.0]]])
    variables["vq"].update(codebooks=book, ema_sum=book, ema_count=jnp.ones((1, 2)))
    (_, codes, _), state = vq.apply(
        variables, x, train=True, mutable=["vq"], rngs={"quantizer": prng_key(1)}
    )
    np.testing.assert_array_equal(codes[:, 0], [0, 1, 1])
    # count = 0.5 * 1 + 0.5 * [1, 2]; sum = 0.5 * old + 0.5 * [[.1, 0], [2, 2]].
    np.testing.assert_allclose(state["vq"]["ema_count"], [[1.0, 1.5]])
    np.testing.assert_allclose(state["vq"]["codebooks"], [[[0.05, 0.0], [1.0, 1.0]]], atol=1e-4)
    np.testing.assert_allclose(state["vq"]["usage"], [[0.01, 0.02]], atol=1e-6)


def test_perplexity_counts_evenly_used_codes():
    assert float(perplexity(jnp.array([0, 0, 1, 1]), 4)) == 2.0
    assert float(perplexity(jnp.array([3, 3, 3]), 4)) == 1.0
    np.testing.assert_allclose(perplexity(jnp.arange(8), 8), 8.0, rtol=1e-6)


def test_restart_dead_codes_replaces_only_unused_codes():
    vq, variables = _hand_made_vq(dead_code_threshold=0.5)
    variables = nn_unbox(variables)
    candidates = jnp.full((2, 3, 2), 7.0)
    usage = jnp.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    variables["vq"].update(candidates=candidates, usage=usage)
    new, count = restart_dead_codes(variables, 0.5)
    assert int(count) == 2
    expected = CODEBOOKS.copy()
    expected[0, 1] = expected[1, 0] = 7.0
    np.testing.assert_array_equal(new["params"]["codebooks"], expected)
    np.testing.assert_array_equal(new["vq"]["usage"], [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])


def test_restart_thrashing_warning_only_where_restarts_go_on_replacing_codes():
    # Restarts 11-20 (steps 110-200) of the demo's 4 x 1,024 audio codec, threshold 0.025...
    assert restart_thrashing_warning([568, 393, 370, 332, 274, 263, 235, 163, 229, 214],
                                     4096, 0.025) is None  # fmt: skip
    assert restart_thrashing_warning([1024] * 10, 4096, 0.025) is None  # a quarter: no
    # ... and of the first 4 x 1,024 codec, threshold 1.0.
    message = restart_thrashing_warning([3183, 453, 3097, 549, 2856, 791, 2687, 797, 2682, 844],
                                        4096, 1.0)  # fmt: skip
    assert message.startswith(
        "restarts replaced 1794 of 4096 codes on average (codes hit less than 1 times a step"
    )
    assert "RVQConfig.dead_code_threshold" in message


def test_quantizer_dropout_uses_a_prefix_of_the_codebooks():
    vq, variables = _hand_made_vq(quantizer_dropout=1.0)
    variables = nn_unbox(variables)
    x = jnp.tile(jnp.asarray(X[:1]), (16, 1))
    (quantized, codes, _), _ = vq.apply(
        variables, x, train=True, mutable=["vq"], rngs={"quantizer": prng_key(3)}
    )
    one = vq.apply(variables, codes[:, :1], method=ResidualVQ.decode)
    two = vq.apply(variables, codes, method=ResidualVQ.decode)
    uses_one = np.all(np.isclose(quantized, one), -1)
    uses_two = np.all(np.isclose(quantized, two), -1)
    assert np.all(uses_one | uses_two) and uses_one.any() and uses_two.any()


def test_factorized_l2_lookup_returns_unit_codes():
    config = RVQConfig(
        num_codebooks=3, codebook_size=16, code_dim=4, l2_normalize=True, learning="loss"
    )
    vq = ResidualVQ(config, dim=12)
    x = jax.random.normal(prng_key(0), (2, 5, 12))
    variables = vq.init(prng_key(1), x)
    quantized, codes, aux = vq.apply(variables, x)
    assert quantized.shape == x.shape and codes.shape == (2, 5, 3)
    norms = jnp.linalg.norm(vq.apply(variables, method=ResidualVQ.codebooks), axis=-1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert aux["perplexity"].shape == (3,)


def nn_unbox(variables):
    import flax.linen as nn

    return nn.meta.unbox(variables)
