"""Softmax statistics of masked logits whose gradient is written in the logits' own dtype."""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def softmax_statistics(logits, targets, valid):
    """(log_z, target_logit, valid_sum), each float32 [...], of logits [..., V].

    log_z is the log-partition, target_logit the logit at `targets` [...] and
    valid_sum the sum of the logits where `valid` (bool, broadcasting to
    logits) is True; `valid` None, when no loss term needs it, gives zeros.
    The cross-entropy, the z-loss and label smoothing over the valid ids are
    functions of these three.

    Math runs in float32 whatever the logits' dtype. The point is the backward
    pass: autodiff of the same formulas keeps a float32 copy of the logits (or
    of their exponentials) for it, the largest tensor of a bf16 training step
    (BENCHMARKS.md gives the paper step's size); here the residual is the
    logits as they came and the gradient is one elementwise pass that writes
    the logits' dtype.
    """
    return _statistics(logits, targets, valid)


def _statistics(logits, targets, valid):
    x = logits.astype(jnp.float32)
    log_z = jax.nn.logsumexp(x, axis=-1)
    target_logit = jnp.take_along_axis(x, targets[..., None], axis=-1)[..., 0]
    if valid is None:
        valid_sum = jnp.zeros_like(log_z)
    else:
        valid_sum = jnp.sum(jnp.where(valid, x, 0.0), axis=-1)
    return log_z, target_logit, valid_sum


def _forward(logits, targets, valid):
    out = _statistics(logits, targets, valid)
    return out, (logits, targets, valid, out[0])


def _backward(residuals, cotangents):
    logits, targets, valid, log_z = residuals
    g_log_z, g_target, g_valid = cotangents
    x = logits.astype(jnp.float32)
    grad = g_log_z[..., None] * jnp.exp(x - log_z[..., None])
    ids = jax.lax.broadcasted_iota(targets.dtype, x.shape, x.ndim - 1)
    grad = grad + jnp.where(ids == targets[..., None], g_target[..., None], 0.0)
    if valid is not None:
        grad = grad + jnp.where(valid, g_valid[..., None], 0.0)
    return grad.astype(logits.dtype), None, None


softmax_statistics.defvjp(_forward, _backward)
