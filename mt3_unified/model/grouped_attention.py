"""Grouped-query attention as two batched matmuls, with a backward pass written for XLA on CPU."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

Array = Any

# dot_general dimension numbers over [B, G, rows, cols] operands, batched over (B, G).
_BATCH = ((0, 1), (0, 1))
_A_BT = (((3,), (3,)), _BATCH)  # a @ b^T
_A_B = (((3,), (2,)), _BATCH)  # a @ b
_AT_B = (((2,), (2,)), _BATCH)  # a^T @ b


@functools.partial(jax.custom_vjp, nondiff_argnums=(4,))
def grouped_attention(q: Array, k: Array, v: Array, bias: Array, repeats: int) -> Array:
    """softmax(q k^T + bias) v for queries [B, G, R*L, Dh] (scaled) and keys, values [B, G, S, Dh].

    The R query heads of a key/value group are stacked along the rows, so
    each product is one plain batched matmul over (B, G). `bias` broadcasts
    to [B, L, S] (causal [1, L, S] or padding [B, 1, S]); the softmax runs in
    float32, the products in q's dtype.
    """
    return _forward(q, k, v, bias, repeats)[0]


def _weights(q: Array, k: Array, bias: Array, repeats: int) -> Array:
    """Float32 attention weights [B, G, R*L, S]."""
    b, g, rows, _ = q.shape
    logits = jax.lax.dot_general(q, k.astype(q.dtype), _A_BT).astype(jnp.float32)
    logits = logits.reshape(b, g, repeats, rows // repeats, -1) + bias[:, None, None]
    return jax.nn.softmax(logits, axis=-1).reshape(b, g, rows, -1)


def _forward(q, k, v, bias, repeats):
    weights = _weights(q, k, bias, repeats)
    y = jax.lax.dot_general(weights.astype(q.dtype), v.astype(q.dtype), _A_B)
    return y, (q, k, v, weights, bias)


def _backward(repeats, residuals, dy):
    q, k, v, weights, bias = residuals
    dtype = q.dtype
    d_weights = jax.lax.dot_general(dy, v.astype(dy.dtype), _A_BT).astype(jnp.float32)
    d_logits = weights * (d_weights - jnp.sum(weights * d_weights, axis=-1, keepdims=True))
    d_logits = d_logits.astype(dtype)
    dq = jax.lax.dot_general(d_logits, k.astype(dtype), _A_B)
    weights = weights.astype(dtype)
    dy = dy.astype(dtype)
    if jax.default_backend() != "cpu":  # GPU and TPU libraries take transposed operands in stride
        dk = jax.lax.dot_general(d_logits, q, _AT_B).astype(k.dtype)
        dv = jax.lax.dot_general(weights, dy, _AT_B).astype(v.dtype)
        return dq, dk, dv, jnp.zeros_like(bias)
    # On the CPU, dK and dV (which contract over the query rows) as dots with a
    # transposed operand run at about half the speed of a plain product, and
    # XLA folds every rewrite back into that form unless an optimization
    # barrier keeps explicit transposes (timings in BENCHMARKS.md, "Model").
    weights_t, d_logits_t = jax.lax.optimization_barrier(
        (jnp.swapaxes(weights, 2, 3), jnp.swapaxes(d_logits, 2, 3))
    )
    dk = jax.lax.dot_general(d_logits_t, q, _A_B).astype(k.dtype)
    dv = jax.lax.dot_general(weights_t, dy, _A_B).astype(v.dtype)
    return dq, dk, dv, jnp.zeros_like(bias)


grouped_attention.defvjp(_forward, _backward)
