"""The hand-written GELU backward pass against autodiff of jax.nn.gelu."""

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.activations import gelu


def test_gelu_value_and_gradient_equal_jax_nn_gelu():
    x = jnp.linspace(-6.0, 6.0, 241)
    np.testing.assert_array_equal(gelu(x), jax.nn.gelu(x, approximate=True))
    ours = jax.grad(lambda x: jnp.sum(gelu(x) * jnp.cos(x)))(x)
    want = jax.grad(lambda x: jnp.sum(jax.nn.gelu(x, approximate=True) * jnp.cos(x)))(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)
    # Known slopes: 0.5 at 0, ~1 far right, ~0 far left.
    slope = jax.grad(lambda x: jnp.sum(gelu(x)))(jnp.array([0.0, 6.0, -6.0]))
    np.testing.assert_allclose(slope, [0.5, 1.0, 0.0], atol=1e-6)
    # Under jit, on a batch of rows.
    rows = jnp.reshape(x[:240], (4, 60))
    jitted = jax.jit(jax.grad(lambda x: jnp.sum(gelu(x) ** 2)))(rows)
    plain = jax.grad(lambda x: jnp.sum(jax.nn.gelu(x, approximate=True) ** 2))(rows)
    np.testing.assert_allclose(jitted, plain, rtol=1e-5, atol=1e-5)


def test_bfloat16_gelu_gradient_is_the_float32_one_rounded_once():
    x = jnp.linspace(-4.0, 4.0, 161).astype(jnp.bfloat16)
    grad = jax.grad(lambda x: jnp.sum(gelu(x).astype(jnp.float32)))(x)
    assert grad.dtype == jnp.bfloat16
    want = jax.grad(lambda x: jnp.sum(jax.nn.gelu(x, approximate=True)))(x.astype(jnp.float32))
    np.testing.assert_allclose(grad.astype(jnp.float32), want, rtol=8e-3, atol=4e-3)


def residual_arrays(fn, *args):
    """What the backward pass keeps: the arrays inside the VJP closure."""
    _, vjp = jax.vjp(fn, *args)
    return [(leaf.shape, leaf.dtype) for leaf in jax.tree_util.tree_leaves(vjp)]


def test_backward_pass_keeps_only_the_input():
    # Autodiff of jax.nn.gelu keeps five tensors the input's size; this keeps the input.
    x = jnp.ones((3, 5, 32), jnp.bfloat16)
    assert residual_arrays(gelu, x) == [((3, 5, 32), jnp.bfloat16)]
    plain = lambda x: jax.nn.gelu(x, approximate=True)
    assert len([r for r in residual_arrays(plain, x) if r[0] == (3, 5, 32)]) == 5
