"""Attention: which keys a query may see (AttentionMask) and multi-head attention over them.

Attention.__call__ picks one of four ways to compute the same function: two
batched products with a hand-written backward (`grouped_attention`, the
"matmul" default), jax.nn.dot_product_attention ("jax", or cuDNN's fused
flash attention with "cudnn"), broadcast products over a few keys, and the
exact shortcut for a single key.
"""

from __future__ import annotations

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp

from mt3_unified.model.config import ModelConfig
from mt3_unified.model.grouped_attention import grouped_attention
from mt3_unified.model.primitives import NEG_INF, Array, Projection, constrain

# At most this many keys (the depth decoder's K codes of a frame), the fused
# paths compute attention as elementwise products: cuDNN's kernels work in
# tiles of 64 queries and keys, which a frame's few codes would leave mostly
# padding (the time it cost is in BENCHMARKS.md, "The paper step on a GPU").
FEW_KEYS = 8


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
        masks rather than a bias, which cuDNN would also read in every head,
        differentiate and follow with a separate dQ pass (the kernel times
        are in BENCHMARKS.md). One-query steps (cached decoding) keep the
        matmul path: there is nothing to fuse.
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
        first slot of every RVQ frame it decodes. It skips the query, the logits
        and XLA's [B*L*H] batch of 1 x 1 products (what that saves a training
        step is in BENCHMARKS.md).
        """
        b, length = x.shape[:2]
        h, groups = self.num_heads, self.num_kv_heads
        y = jnp.repeat(v[:, :, 0].astype(self.config.activation_dtype), h // groups, axis=1)
        return jnp.broadcast_to(y[:, None], (b, length, h, y.shape[-1]))
