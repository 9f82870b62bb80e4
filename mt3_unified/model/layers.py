"""Transformer building blocks with logical axis names: norms, MLPs, (grouped) attention, layers."""

from __future__ import annotations

import math
from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from mt3_unified.model.activations import gelu
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.grouped_attention import grouped_attention

# Finite so that a fully masked row (the unused slots of a symbolic frame) gives
# a uniform softmax instead of NaN; bfloat16 holds it too.
NEG_INF = -1e9
# At most this many keys (the depth decoder's K codes of a frame), the fused
# paths compute attention as elementwise products: cuDNN's kernels work in
# tiles of 64 queries and keys, and on an H200 its forward and backward over
# the paper's 4 codes took ~5 ms of a ~100 ms training step.
FEW_KEYS = 8

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
    backward pass with a transposing copy of the activations, and the 2-D form
    (free reshapes) made an MLP block's forward and backward ~1.5x faster.
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


class Attention(nn.Module):
    """Multi-head attention with optional grouped key/value heads.

    Keys and values are projected by `kv` separately from the attention itself,
    so a decoder can cache them (self-attention) or compute them once per
    sequence (cross-attention over the encoder output).
    """

    config: ModelConfig
    num_heads: int
    num_kv_heads: int

    def setup(self):
        cfg = self.config
        d, h, g, dh = cfg.emb_dim, self.num_heads, self.num_kv_heads, cfg.head_dim
        self.query = Projection(cfg, (d,), (h, dh), ("embed", "heads", "kv"))
        self.key = Projection(cfg, (d,), (g, dh), ("embed", "kv_heads", "kv"))
        self.value = Projection(cfg, (d,), (g, dh), ("embed", "kv_heads", "kv"))
        self.out = Projection(cfg, (h, dh), (d,), ("heads", "kv", "embed"))

    def kv(self, x: Array) -> tuple[Array, Array]:
        """Keys and values [B, G, S, Dh] of a sequence (heads-major, so that each
        head's attention is a contiguous batched matmul and a decoding cache
        grows along its third axis)."""
        k = jnp.swapaxes(self.key(x), 1, 2)
        v = jnp.swapaxes(self.value(x), 1, 2)
        k = constrain(k, ("batch", "kv_heads", "length", "kv"))
        v = constrain(v, ("batch", "kv_heads", "length", "kv"))
        return k, v

    def __call__(self, x: Array, k: Array, v: Array, mask: AttentionMask) -> Array:
        """Attends queries from x [B, L, D] to the keys and values k, v [B, G, S, Dh] that
        `mask` lets each query see."""
        cfg = self.config
        if k.shape[2] == 1 and not self.is_initializing():
            return self.out(self._single_key(x, v))
        if cfg.attention != "matmul" and x.shape[1] > 1:
            if k.shape[2] <= FEW_KEYS:
                return self.out(self._few_keys(x, k, v, mask))
            return self.out(self._fused(x, k, v, mask))
        q = self.query(x) * (cfg.head_dim**-0.5)
        q = constrain(q, ("batch", "length", "heads", "kv"))
        b, length, h, d = q.shape
        groups = self.num_kv_heads
        r = h // groups
        # Heads of one group share a key/value head: queries [B, G, R*L, Dh], so
        # both products are plain batched matmuls over (B, G). XLA on CPU lowers
        # these well, where a general einsum over a [B, S, G, Dh] cache first
        # transposes the whole cache (the cost of every decoding step).
        q = q.reshape(b, length, groups, r, d).transpose(0, 2, 3, 1, 4)
        q = q.reshape(b, groups, r * length, d)
        bias = mask.bias(length, k.shape[2])
        y = grouped_attention(q, k, v, bias, r).astype(cfg.activation_dtype)
        y = y.reshape(b, groups, r, length, d).transpose(0, 3, 1, 2, 4).reshape(b, length, h, d)
        return self.out(y)

    def _fused(self, x: Array, k: Array, v: Array, mask: AttentionMask) -> Array:
        """The same attention through jax.nn.dot_product_attention, [B, L, H, Dh].

        With "cudnn" it runs cuDNN's fused flash attention, which never writes
        the [B, H, L, S] weights to memory. The mask goes in as cuDNN's own
        masks rather than a bias: on an H200 that took the paper step's
        attention kernels from 72 to 29 ms (with a bias, cuDNN also computed
        its gradient and a separate dQ pass). One-query steps (cached
        decoding) keep the matmul path: there is nothing to fuse.
        """
        cfg = self.config
        dtype = cfg.activation_dtype
        q = constrain(self.query(x), ("batch", "length", "heads", "kv")).astype(dtype)
        k, v = (jnp.swapaxes(t, 1, 2).astype(dtype) for t in (k, v))  # [B, S, G, Dh]
        implementation = "cudnn" if cfg.attention == "cudnn" else None
        return jax.nn.dot_product_attention(
            q, k, v, implementation=implementation, **mask.fused_args(q.shape[0])
        )

    def _few_keys(self, x: Array, k: Array, v: Array, mask: AttentionMask) -> Array:
        """The same attention over at most FEW_KEYS keys as broadcast products and sums,
        [B, L, H, Dh].

        XLA fuses each product into its sum, so the few [B, L, S, H] weights are
        all that is written, in a handful of memory-bound kernels instead of
        matmul or flash-attention kernels whose tiles would be mostly padding.
        """
        cfg = self.config
        length, keys = x.shape[1], k.shape[2]
        repeats = self.num_heads // self.num_kv_heads
        q = self.query(x).astype(jnp.float32) * (cfg.head_dim**-0.5)  # [B, L, H, Dh]
        k, v = (
            jnp.repeat(jnp.swapaxes(t, 1, 2), repeats, axis=2).astype(jnp.float32) for t in (k, v)
        )  # [B, S, H, Dh]
        logits = jnp.sum(q[:, :, None] * k[:, None], axis=-1)  # [B, L, S, H]
        weights = jax.nn.softmax(logits + mask.bias(length, keys)[..., None], axis=2)
        y = jnp.sum(weights[..., None] * v[:, None], axis=2)
        return y.astype(cfg.activation_dtype)

    def _single_key(self, x: Array, v: Array) -> Array:
        """Attention over one key, [B, L, H, Dh]: every query's weight on it is exactly 1.

        A softmax over one logit is 1 whatever the query and the bias (a masked
        key too: the row is uniform), so each head returns its group's value.
        The depth decoder meets this at a symbolic frame's only slot and at the
        first slot of every RVQ frame it decodes. Skipping the query, the logits
        and XLA's [B*L*H] batch of 1 x 1 products took the depth decoder's cost in
        a symbolic training step at T5-small dims from 0.52 s to 0.41 s.
        """
        b, length = x.shape[:2]
        h, groups = self.num_heads, self.num_kv_heads
        y = jnp.repeat(v[:, :, 0].astype(self.config.activation_dtype), h // groups, axis=1)
        return jnp.broadcast_to(y[:, None], (b, length, h, y.shape[-1]))


def causal_bias(length: int) -> Array:
    """[1, L, L] additive bias that hides later positions."""
    keep = jnp.tril(jnp.ones((length, length), dtype=bool))
    return jnp.where(keep, 0.0, NEG_INF)[None]


def padding_bias(key_mask: Array) -> Array:
    """[B, 1, S] additive bias that hides padded keys."""
    return jnp.where(key_mask, 0.0, NEG_INF)[:, None, :]


@flax.struct.dataclass
class AttentionMask:
    """Which keys a query may see: those at or before its own position (`causal`),
    among the real keys (`key_mask` [B or 1, S], True for a real key).

    The matmul path turns it into an additive bias; the fused path hands it to
    cuDNN as its own masks (`is_causal`, per-row key counts), so no bias is
    read or differentiated.
    """

    key_mask: Array | None = None
    causal: bool = flax.struct.field(pytree_node=False, default=False)

    def bias(self, length: int, keys: int) -> Array:
        """Additive float32 bias broadcasting to [B, L, S]."""
        bias = jnp.zeros((1, 1, keys))
        if self.causal:
            bias = causal_bias(length)
        if self.key_mask is not None:
            bias = bias + padding_bias(self.key_mask)
        return bias

    def fused_args(self, batch: int) -> dict:
        """The mask as jax.nn.dot_product_attention arguments. Key counts stand for
        the key mask, so real keys must come first (as SeqIO pads)."""
        args = {"is_causal": self.causal}
        if self.key_mask is not None:
            lengths = jnp.sum(self.key_mask, axis=-1, dtype=jnp.int32)
            args["key_value_seq_lengths"] = jnp.broadcast_to(lengths, (batch,))
        return args


class EncoderLayer(nn.Module):
    """Pre-norm self-attention + MLP block (also the depth decoder's layer, with a causal mask)."""

    config: ModelConfig
    num_heads: int
    num_kv_heads: int
    mlp_dim: int
    deterministic: bool = True

    @nn.compact
    def __call__(self, x: Array, mask: AttentionMask) -> Array:
        cfg = self.config
        drop = nn.Dropout(cfg.dropout_rate, deterministic=self.deterministic)
        attn = Attention(cfg, self.num_heads, self.num_kv_heads, name="attention")
        h = Norm(cfg, name="pre_attention_norm")(x)
        x = x + drop(attn(h, *attn.kv(h), mask))
        h = Norm(cfg, name="pre_mlp_norm")(x)
        x = x + drop(Mlp(cfg, self.mlp_dim, name="mlp")(h))
        return constrain(x, ("batch", "length", "embed"))


class DecoderLayer(nn.Module):
    """Pre-norm causal self-attention, cross-attention and MLP, with an optional KV cache.

    `cache` None means a full teacher-forced pass (causal over the whole target).
    Otherwise x is one frame [B, 1, D] at position `cache["index"]`; its key and
    value are written into the cache and attention sees positions <= index.
    `cross` is either the encoder output (keys/values projected here) or a
    precomputed (k, v) pair from `cross_kv`, which decoding computes once.
    """

    config: ModelConfig
    deterministic: bool = True

    def setup(self):
        cfg = self.config
        self.self_attention = Attention(cfg, cfg.num_heads, cfg.num_kv_heads)
        self.cross_attention = Attention(cfg, cfg.num_heads, cfg.num_kv_heads)
        self.mlp = Mlp(cfg, cfg.mlp_dim)
        self.pre_self_attention_norm = Norm(cfg)
        self.pre_cross_attention_norm = Norm(cfg)
        self.pre_mlp_norm = Norm(cfg)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    def cross_kv(self, encoded: Array) -> tuple[Array, Array]:
        return self.cross_attention.kv(encoded)

    def __call__(self, x, cross, cross_mask: AttentionMask, cache=None):
        drop = lambda y: self.dropout(y, deterministic=self.deterministic)
        h = self.pre_self_attention_norm(x)
        k, v = self.self_attention.kv(h)
        if cache is None:
            self_mask = AttentionMask(causal=True)
        else:
            # Caches are [B, G, T, Dh]: this frame's key/value land at T = index.
            index = cache["index"]
            k = jax.lax.dynamic_update_slice_in_dim(
                cache["k"], k.astype(cache["k"].dtype), index, 2
            )
            v = jax.lax.dynamic_update_slice_in_dim(
                cache["v"], v.astype(cache["v"].dtype), index, 2
            )
            cache = {"k": k, "v": v, "index": index + 1}
            self_mask = AttentionMask(key_mask=(jnp.arange(k.shape[2]) <= index)[None])
        x = x + drop(self.self_attention(h, k, v, self_mask))
        h = self.pre_cross_attention_norm(x)
        ck, cv = self.cross_attention.kv(cross) if not isinstance(cross, tuple) else cross
        x = x + drop(self.cross_attention(h, ck, cv, cross_mask))
        x = x + drop(self.mlp(self.pre_mlp_norm(x)))
        return constrain(x, ("batch", "length", "embed")), cache
