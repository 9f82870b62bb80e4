"""The transformer's two layer types: the encoder's (also the depth decoder's) and the decoder's."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from mt3_unified.model.attention import Attention, AttentionMask
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.primitives import Array, Mlp, Norm, constrain


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
