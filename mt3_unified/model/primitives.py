"""Building blocks under attention and the layers: logical axis names, norms, projections, MLPs."""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from mt3_unified.model.activations import gelu
from mt3_unified.model.config import ModelConfig

# Finite so that a fully masked row (the unused slots of a symbolic frame) gives
# a uniform softmax instead of NaN; bfloat16 holds it too.
NEG_INF = -1e9

Array = Any


def param_with_axes(init, axes: tuple[str | None, ...]):
    """An initializer whose parameter carries logical axis names for the partitioner."""
    return nn.with_logical_partitioning(init, axes)


def constrain(x: Array, axes: tuple[str | None, ...]) -> Array:
    """Names an activation's axes so the partitioner can shard it (a no-op without rules)."""
    return nn.with_logical_constraint(x, axes)


def dense_init(scale: float = 1.0):
    return nn.initializers.variance_scaling(scale, "fan_in", "truncated_normal")


class Norm(nn.Module):
    """RMSNorm (T5) or LayerNorm over the last axis, computed in float32."""

    config: ModelConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        dim = x.shape[-1]
        scale = self.param("scale", param_with_axes(nn.initializers.ones, ("embed",)), (dim,))
        y = x.astype(jnp.float32)
        if self.config.norm == "layer":
            y = y - jnp.mean(y, axis=-1, keepdims=True)
        y = y * jax.lax.rsqrt(jnp.mean(jnp.square(y), axis=-1, keepdims=True) + 1e-6)
        y = y * scale
        if self.config.norm == "layer":
            y = y + self.param("bias", param_with_axes(nn.initializers.zeros, ("embed",)), (dim,))
        return y.astype(self.config.activation_dtype)


class Mlp(nn.Module):
    """Gated-GELU (T5 1.1), plain GELU, or plain ReLU (T5 1.0) feed-forward block."""

    config: ModelConfig
    mlp_dim: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        cfg = self.config
        d = x.shape[-1]
        dense = lambda name, n_in, n_out, axes: Projection(cfg, (n_in,), (n_out,), axes, name=name)
        if cfg.mlp == "gated_gelu":
            h = gelu(dense("wi_0", d, self.mlp_dim, ("embed", "mlp"))(x))
            h = h * dense("wi_1", d, self.mlp_dim, ("embed", "mlp"))(x)
        else:
            activation = nn.relu if cfg.mlp == "relu" else gelu
            h = activation(dense("wi", d, self.mlp_dim, ("embed", "mlp"))(x))
        h = constrain(h, ("batch", "length", "mlp"))
        return dense("wo", self.mlp_dim, d, ("mlp", "embed"))(h)


class Projection(nn.Module):
    """x[..., *in_shape] @ kernel[*in_shape, *out_shape] without bias.

    The kernel keeps its real shape (nn.DenseGeneral would flatten it and lose
    its logical axis names), but the product runs as one 2-D matmul over
    flattened tokens: XLA on CPU lowers a [B, L, D] x [D, F] dot_general's
    backward pass with a transposing copy of the activations, which the 2-D
    form (free reshapes) avoids (BENCHMARKS.md, "Model").
    """

    config: ModelConfig
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    axes: tuple[str | None, ...]

    @nn.compact
    def __call__(self, x: Array) -> Array:
        n_in = len(self.in_shape)
        init = nn.initializers.variance_scaling(
            1.0,
            "fan_in",
            "truncated_normal",
            in_axis=tuple(range(n_in)),
            out_axis=tuple(range(n_in, n_in + len(self.out_shape))),
        )
        kernel = self.param(
            "kernel", param_with_axes(init, self.axes), self.in_shape + self.out_shape
        )
        dtype = self.config.activation_dtype
        size_in, size_out = math.prod(self.in_shape), math.prod(self.out_shape)
        lead = x.shape[: x.ndim - n_in]
        flat = x.astype(dtype).reshape(-1, size_in)
        y = flat @ kernel.astype(dtype).reshape(size_in, size_out)
        return y.reshape(*lead, *self.out_shape)


class OutputLayer(nn.Module):
    """The output layer, x [..., S, D] @ kernel [D, V]: logits over every id, or per slot
    over a chosen subset of the vocabulary's columns.

    The kernel is the one a Projection (D,) -> (V,) would hold, under the same
    name, so parameters and checkpoints do not depend on which form runs.
    """

    config: ModelConfig
    vocab_size: int

    @nn.compact
    def __call__(self, x: Array, columns=None) -> Array:
        """[..., S, V] logits, or with `columns` (static ids [S, N]) [..., S, N], where
        [..., s, n] is the logit of id columns[s, n].

        A gathered kernel gives the same logits as the full one at those ids
        and a zero gradient elsewhere, at N/V of the output layer's cost.
        """
        d = x.shape[-1]
        kernel = self.param(
            "kernel", param_with_axes(dense_init(), ("embed", "vocab")), (d, self.vocab_size)
        )
        dtype = self.config.activation_dtype
        x = x.astype(dtype)
        if columns is None:
            return (x.reshape(-1, d) @ kernel.astype(dtype)).reshape(*x.shape[:-1], -1)
        if len(columns) != x.shape[-2]:
            raise ValueError(f"columns has {len(columns)} slots, x has {x.shape[-2]}")
        # One 2-D product per slot over flattened tokens (see Projection); a
        # frame has at most a few slots.
        lead = x.shape[:-2]
        per_slot = [
            x[..., s, :].reshape(-1, d) @ jnp.take(kernel, ids, axis=1).astype(dtype)
            for s, ids in enumerate(columns)
        ]
        return jnp.stack([y.reshape(*lead, -1) for y in per_slot], axis=-2)
