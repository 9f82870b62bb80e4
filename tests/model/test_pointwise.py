"""The hand-written norm and GELU backward passes against autodiff of the plain formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.model.pointwise import gelu, normalize


def plain_norm(x, scale, bias, centered, out_dtype):
    y = x.astype(jnp.float32)
    if centered:
        y = y - jnp.mean(y, axis=-1, keepdims=True)
    y = y * jax.lax.rsqrt(jnp.mean(jnp.square(y), axis=-1, keepdims=True) + 1e-6)
    y = y * scale
    return (y if bias is None else y + bias).astype(out_dtype)


def norm_inputs(dtype, seed=0):
    rng = np.random.default_rng(seed)
    # An offset and a spread per row, so that centring and scaling both matter.
    x = rng.standard_normal((3, 5, 32)) * rng.uniform(0.5, 3, (3, 5, 1)) + rng.normal(
        0, 2, (3, 5, 1)
    )
    scale = rng.uniform(0.5, 1.5, 32)
    bias = rng.normal(0, 0.3, 32)
    dy = rng.standard_normal((3, 5, 32))
    return (
        jnp.asarray(x, dtype),
        jnp.asarray(scale, jnp.float32),
        jnp.asarray(bias, jnp.float32),
        jnp.asarray(dy, jnp.float32),
    )


def grads(norm, x, scale, bias, dy, centered, out_dtype):
    def loss(x, scale, bias):
        y = norm(x, scale, bias if centered else None, centered, out_dtype)
        return jnp.sum(y.astype(jnp.float32) * dy)

    return jax.grad(loss, argnums=(0, 1, 2))(x, scale, bias)


@pytest.mark.parametrize("centered", [False, True], ids=["rms", "layer"])
def test_norm_values_and_gradients_equal_autodiff_of_the_formula(centered):
    x, scale, bias, dy = norm_inputs(jnp.float32)
    b = bias if centered else None
    np.testing.assert_allclose(
        normalize(x, scale, b, centered, jnp.float32),
        plain_norm(x, scale, b, centered, jnp.float32),
        rtol=1e-6,
        atol=1e-6,
    )
    ours = grads(normalize, x, scale, bias, dy, centered, jnp.float32)
    want = grads(plain_norm, x, scale, bias, dy, centered, jnp.float32)
    for got, expected in zip(ours, want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    if not centered:  # RMSNorm has no bias, so its gradient is nothing
        np.testing.assert_array_equal(ours[2], np.zeros(32))
    # Under jit too, and the gradient really depends on the centring (the
    # LayerNorm answer differs from the RMSNorm one on these shifted rows).
    jitted = jax.jit(grads, static_argnums=(0, 5, 6))(
        normalize, x, scale, bias, dy, centered, jnp.float32
    )
    np.testing.assert_allclose(jitted[0], want[0], rtol=1e-5, atol=1e-5)
    other = grads(plain_norm, x, scale, bias, dy, not centered, jnp.float32)
    assert np.max(np.abs(np.asarray(other[0]) - np.asarray(want[0]))) > 1e-2


def test_bfloat16_norm_returns_the_formula_rounded_once():
    # bfloat16 in and out, float32 inside: values and input gradient within one
    # bfloat16 rounding of the formula's; scale and bias gradients in float32.
    x, scale, bias, dy = norm_inputs(jnp.bfloat16, seed=1)
    y = normalize(x, scale, bias, True, jnp.bfloat16)
    assert y.dtype == jnp.bfloat16
    want_y = plain_norm(x.astype(jnp.float32), scale, bias, True, jnp.float32)
    np.testing.assert_allclose(y.astype(jnp.float32), want_y, rtol=8e-3, atol=8e-3)
    ours = grads(normalize, x, scale, bias, dy, True, jnp.bfloat16)
    want = grads(plain_norm, x, scale, bias, dy, True, jnp.bfloat16)
    assert ours[0].dtype == jnp.bfloat16 and ours[1].dtype == jnp.float32
    np.testing.assert_allclose(
        ours[0].astype(jnp.float32), want[0].astype(jnp.float32), rtol=8e-3, atol=8e-3
    )
    np.testing.assert_allclose(ours[1], want[1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours[2], want[2], rtol=1e-6, atol=1e-6)


def test_gelu_value_and_gradient_equal_jax_nn_gelu():
    x = jnp.linspace(-6.0, 6.0, 241)
    np.testing.assert_array_equal(gelu(x), jax.nn.gelu(x, approximate=True))
    ours = jax.grad(lambda x: jnp.sum(gelu(x) * jnp.cos(x)))(x)
    want = jax.grad(lambda x: jnp.sum(jax.nn.gelu(x, approximate=True) * jnp.cos(x)))(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)
    # Known slopes: 0.5 at 0, ~1 far right, ~0 far left.
    slope = jax.grad(lambda x: jnp.sum(gelu(x)))(jnp.array([0.0, 6.0, -6.0]))
    np.testing.assert_allclose(slope, [0.5, 1.0, 0.0], atol=1e-6)


def residual_arrays(fn, *args):
    """What the backward pass keeps: the arrays inside the VJP closure."""
    _, vjp = jax.vjp(fn, *args)
    return [(leaf.shape, leaf.dtype) for leaf in jax.tree_util.tree_leaves(vjp)]


def test_backward_passes_keep_only_the_input_and_row_statistics():
    # Autodiff of the plain LayerNorm keeps three float32 copies of a bfloat16
    # [3, 5, 32] input and of the plain GELU five full-size tensors; these keep
    # the input itself plus two numbers a row (mean, 1/std).
    x, scale, bias, _ = norm_inputs(jnp.bfloat16)
    layer = lambda x, s, b: normalize(x, s, b, True, jnp.bfloat16)
    full = [r for r in residual_arrays(layer, x, scale, bias) if r[0] == (3, 5, 32)]
    assert full == [((3, 5, 32), jnp.bfloat16)]
    rows = [r for r in residual_arrays(layer, x, scale, bias) if r[0] == (3, 5, 1)]
    assert rows == [((3, 5, 1), jnp.float32)] * 2
    plain = lambda x, s, b: plain_norm(x, s, b, True, jnp.bfloat16)
    assert len([r for r in residual_arrays(plain, x, scale, bias) if r[0] == (3, 5, 32)]) > 1
    assert residual_arrays(gelu, x) == [((3, 5, 32), jnp.bfloat16)]
    rms = lambda x, s: normalize(x, s, None, False, jnp.bfloat16)
    assert [r for r in residual_arrays(rms, x, scale) if r[0] == (3, 5, 1)] == [
        ((3, 5, 1), jnp.float32)
    ]
