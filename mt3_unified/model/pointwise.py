"""RMSNorm/LayerNorm and tanh-GELU with hand-written backward passes that keep only their inputs.

Autodiff of the plain formulas keeps float32 intermediates of every norm (the
centred input, its square) and the tanh of every GELU for the backward pass,
and splits each backward into a chain of small passes over the activations.
These versions keep the (bfloat16) input and two float32 numbers per row, and
recompute the rest inside the backward pass: less memory per layer and fewer
reads and writes of [batch, length, features] tensors, which is what these
memory-bound operations cost on an accelerator. Values are the plain formulas'.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

NORM_EPSILON = 1e-6
# tanh-GELU: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), as jax.nn.gelu.
_GELU_C = 0.7978845608028654
_GELU_A = 0.044715


def _row_stats(xf: jax.Array, centered: bool) -> tuple[jax.Array | None, jax.Array]:
    """Per-row mean (None for RMSNorm) and 1 / sqrt(variance + eps) over the last axis, float32."""
    mean = jnp.mean(xf, axis=-1, keepdims=True) if centered else None
    xc = xf - mean if centered else xf
    rstd = jax.lax.rsqrt(jnp.mean(jnp.square(xc), axis=-1, keepdims=True) + NORM_EPSILON)
    return mean, rstd


@functools.partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def normalize(x, scale, bias, centered: bool, out_dtype):
    """LayerNorm (centered) or RMSNorm of x over its last axis in float32, times scale plus bias.

    bias may be None (RMSNorm has none). The result has dtype out_dtype.
    """
    return _normalize_forward(x, scale, bias, centered, out_dtype)[0]


def _normalize_forward(x, scale, bias, centered, out_dtype):
    xf = x.astype(jnp.float32)
    mean, rstd = _row_stats(xf, centered)
    y = (xf - mean if centered else xf) * rstd * scale
    if bias is not None:
        y = y + bias
    return y.astype(out_dtype), (x, mean, rstd, scale, bias)


def _normalize_backward(centered, out_dtype, residuals, dy):
    x, mean, rstd, scale, bias = residuals
    dyf = dy.astype(jnp.float32)
    xc = x.astype(jnp.float32)
    if centered:
        xc = xc - mean
    leading = tuple(range(x.ndim - 1))
    d_scale = jnp.sum(dyf * xc * rstd, axis=leading)
    d_bias = None if bias is None else jnp.sum(dyf, axis=leading)
    g = dyf * scale
    # With xhat = xc rstd: dx = rstd (g - xhat mean(g xhat)) - rstd mean(g), the last term
    # for LayerNorm only. Written with xc and rstd^3 so that xhat is never a tensor of its
    # own (XLA on CPU kept it as one, and the backward pass ran ~15% slower).
    dx = rstd * g - (rstd * rstd * rstd * jnp.mean(g * xc, axis=-1, keepdims=True)) * xc
    if centered:
        dx = dx - rstd * jnp.mean(g, axis=-1, keepdims=True)
    return dx.astype(x.dtype), d_scale, d_bias


normalize.defvjp(_normalize_forward, _normalize_backward)


@jax.custom_vjp
def gelu(x):
    """jax.nn.gelu (tanh approximation) whose backward pass keeps only x and recomputes tanh."""
    return jax.nn.gelu(x, approximate=True)


def _gelu_forward(x):
    return jax.nn.gelu(x, approximate=True), x


def _gelu_backward(x, dy):
    xf = x.astype(jnp.float32)
    t = jnp.tanh(_GELU_C * (xf + _GELU_A * xf * xf * xf))
    slope = 0.5 * (1 + t) + 0.5 * xf * (1 - t * t) * _GELU_C * (1 + 3 * _GELU_A * xf * xf)
    return ((dy.astype(jnp.float32) * slope).astype(x.dtype),)


gelu.defvjp(_gelu_forward, _gelu_backward)
