"""The unified encoder-decoder: frame embedders, encoder, decoder and the RVQ depth decoder."""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.attention import AttentionMask
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.layers import DecoderLayer, EncoderLayer
from mt3_unified.model.output_window import restrict_masks
from mt3_unified.model.primitives import (
    NEG_INF,
    Norm,
    OutputLayer,
    constrain,
    dense_init,
    param_with_axes,
)
from mt3_unified.vocab.layout import MODALITIES, PAD_ID

IMAGE = MODALITIES.index("image")
# The standard deviation the token embedding table starts with (model/codebook_init.py scales
# codec codebooks projected into it to the same size).
TOKEN_EMBED_STD = 1.0


def sinusoids(length: int, features: int) -> np.ndarray:
    """[length, features] float32: sin of position times each frequency in the first
    half, cos in the second (frequencies geometric from 1 to 1/10000, as MT3's table)."""
    half = features // 2
    scale = np.log(10000.0) / max(half - 1, 1)
    rates = np.exp(-scale * np.arange(half))
    angles = np.arange(length)[:, None] * rates[None, :]
    table = np.zeros((length, features), np.float32)
    table[:, :half] = np.sin(angles)
    table[:, half : 2 * half] = np.cos(angles)
    return table


def position_init(kind: str):
    """The initializer of a [modalities, length, features] positional table."""
    if kind == "normal":
        return nn.initializers.normal(0.1)

    def init(key, shape, dtype=jnp.float32):
        del key
        table = sinusoids(shape[1], shape[2])
        return jnp.broadcast_to(jnp.asarray(table, dtype), shape)

    return init


class UnifiedTransformer(nn.Module):
    """Encoder over input frames, decoder over output frames, depth decoder within a frame.

    Every sequence is a stack of frames [B, L, K]: symbolic tokens fill slot 0
    and leave PAD in the others, RVQ frames fill their K codebooks. Since the
    codebooks own disjoint id ranges of the one vocabulary, one embedding table
    serves them all and a frame embeds as the sum of its non-PAD codes.

    `logit_masks` [num_modalities, K, vocab] (from VocabularyLayout.modality_masks)
    says which ids each modality may emit in each slot; it is gathered per
    example, so one batch may mix target modalities.
    """

    config: ModelConfig
    logit_masks: np.ndarray
    deterministic: bool = True

    def setup(self):
        cfg = self.config
        num_modalities, k_max, vocab_size = self.logit_masks.shape
        d = cfg.emb_dim
        emb = lambda name, shape, axes, std: self.param(
            name, param_with_axes(nn.initializers.normal(std), axes), shape
        )
        self.token_embed = emb("token_embed", (vocab_size, d), ("vocab", "embed"), TOKEN_EMBED_STD)
        pos = lambda name, length: self.param(
            name,
            param_with_axes(position_init(cfg.position_init), ("modality", "length", "embed")),
            (num_modalities, length, d),
        )
        self.encoder_pos = pos("encoder_pos", cfg.max_input_len)
        self.decoder_pos = pos("decoder_pos", cfg.max_target_len)
        self.target_modality_embed = emb(
            "target_modality_embed", (num_modalities, d), ("modality", "embed"), 0.1
        )
        self.depth_pos = emb("depth_pos", (k_max, d), ("codebook", "embed"), 0.1)
        if cfg.image_rows:
            # At the tokens' scale: positions far fainter than the tokens went unused
            # (ModelConfig.position_init).
            rows = lambda name: emb(name, (cfg.image_rows, d), ("length", "embed"), TOKEN_EMBED_STD)
            self.encoder_image_rows = rows("encoder_image_rows")
            self.decoder_image_rows = rows("decoder_image_rows")
        if cfg.continuous_input_dim:
            self.continuous_proj = nn.Dense(
                d,
                dtype=cfg.activation_dtype,
                kernel_init=param_with_axes(dense_init(), ("features", "embed")),
                bias_init=param_with_axes(nn.initializers.zeros, ("embed",)),
            )
        enc_cls = nn.remat(EncoderLayer) if cfg.remat else EncoderLayer
        dec_cls = nn.remat(DecoderLayer) if cfg.remat else DecoderLayer
        det = self.deterministic
        self.encoder_layers = [
            enc_cls(cfg, cfg.num_heads, cfg.num_kv_heads, cfg.mlp_dim, det)
            for _ in range(cfg.num_encoder_layers)
        ]
        self.decoder_layers = [dec_cls(cfg, det) for _ in range(cfg.num_decoder_layers)]
        self.depth_layers = [
            enc_cls(cfg, cfg.depth_heads, cfg.depth_heads, cfg.depth_mlp_dim, det)
            for _ in range(cfg.depth_layers)
        ]
        self.encoder_norm = Norm(cfg)
        self.decoder_norm = Norm(cfg)
        self.depth_norm = Norm(cfg)
        # Untied output layer (T5 1.1): the input table also carries positional mixes.
        self.logits_dense = OutputLayer(cfg, vocab_size)
        self.dropout = nn.Dropout(cfg.dropout_rate)

    # -------------------------------------------------------------- embedders
    def embed_codes(self, tokens):
        """[..., K] ids -> [..., K, D] embeddings; PAD embeds as zero."""
        emb = jnp.take(self.token_embed, tokens, axis=0)
        return (emb * (tokens != PAD_ID)[..., None]).astype(self.config.activation_dtype)

    def embed_frames(self, tokens):
        """[B, L, K] frames -> [B, L, D]: the sum of each frame's code embeddings."""
        return self.embed_codes(tokens).sum(axis=-2)

    def _add_rows(self, x, side, positions, modality):
        """x [B, L, D] plus each image frame's row embedding at `positions` [L] (frame t sits
        in row t mod image_rows) from the `side` ("encoder" or "decoder") table, for the
        examples whose `modality` [B] is image; x as it is without ModelConfig.image_rows."""
        rows = self.config.image_rows
        if not rows:
            return x
        table = self.encoder_image_rows if side == "encoder" else self.decoder_image_rows
        embedded = table[positions % rows].astype(x.dtype)
        return x + jnp.where((modality == IMAGE)[:, None, None], embedded[None], 0)

    def _drop(self, x):
        return self.dropout(x, deterministic=self.deterministic)

    # ---------------------------------------------------------------- encoder
    def encode(self, tokens, input_modality, target_modality, continuous=None):
        """Input frames [B, L, K] -> (encoded [B, L, D], mask [B, L]).

        A position is present when slot 0 is not PAD. Continuous inputs (when
        configured) are projected and added for examples whose input modality
        is listed in `continuous_modalities`; their token slot 0 then only marks
        which frames are present.
        """
        cfg = self.config
        length = tokens.shape[1]
        x = self.embed_frames(tokens)
        x = x + self.encoder_pos[input_modality, :length].astype(x.dtype)
        x = x + self.target_modality_embed[target_modality][:, None].astype(x.dtype)
        code_modality = input_modality  # of the examples whose inputs are codes or symbols
        if cfg.continuous_input_dim and continuous is not None:
            ids = jnp.array([MODALITIES.index(m) for m in cfg.continuous_modalities], jnp.int32)
            use = jnp.isin(input_modality, ids)
            x = x + jnp.where(
                use[:, None, None], self.continuous_proj(continuous.astype(x.dtype)), 0
            )
            code_modality = jnp.where(use, -1, input_modality)
        # Rows of the image codes' grid; patches or strips of pixels are not laid out in it.
        x = self._add_rows(x, "encoder", jnp.arange(length), code_modality)
        x = constrain(self._drop(x), ("batch", "length", "embed"))
        mask = tokens[..., 0] != PAD_ID
        padding = AttentionMask(key_mask=mask)
        for layer in self.encoder_layers:
            x = layer(x, padding)
        return self.encoder_norm(x), mask

    # ---------------------------------------------------------------- decoder
    def decode(self, encoded, encoder_mask, decoder_input_tokens, target_modality):
        """Teacher-forced decoder over all frames: [B, L_out, K] -> hidden [B, L_out, D]."""
        length = decoder_input_tokens.shape[1]
        x = self.embed_frames(decoder_input_tokens)
        x = x + self.decoder_pos[target_modality, :length].astype(x.dtype)
        # Position p predicts target frame p (its input is frame p - 1 after BOS).
        x = self._add_rows(x, "decoder", jnp.arange(length), target_modality)
        x = constrain(self._drop(x), ("batch", "length", "embed"))
        cross_mask = AttentionMask(key_mask=encoder_mask)
        for layer in self.decoder_layers:
            x, _ = layer(x, encoded, cross_mask)
        return self.decoder_norm(x)

    def depth_logits(
        self, hidden, codes, target_modality, slot=None, as_float32=True, columns=None
    ):
        """Logits of each frame's K codes, masked (NEG_INF added) outside the target's
        valid ids.

        hidden [B, L, D]; codes [B, L, K'] (only codes below slot k feed slot k).
        K' may be less than the vocabulary's K: the depth decoder is causal, so
        the first K' slots need only the first K' codes (decoding passes k + 1
        slots to choose slot k). Returns [B, L, K', V], or [B, L, V] for one
        `slot`, in float32, or with `as_float32` False in the activation dtype
        the output layer computed them in (casting adds no precision; see
        __call__). `columns` (static ids [K', N]) computes only those columns
        of each slot's logits (see OutputLayer): the last axis is then N. A
        tuple of them (consecutive runs of slots, OutputWindow.groups'
        columns) gives a tuple of logits, each run at its own width.
        """
        seq = self.depth_states(hidden, codes)
        if isinstance(columns, tuple):
            logits, start = [], 0
            for group in columns:
                run = seq[:, :, start : start + len(group)]
                logits.append(self._masked_logits(run, target_modality, start, group, as_float32))
                start += len(group)
            return tuple(logits)
        if slot is not None:
            seq = seq[:, :, slot : slot + 1]
            columns = None if columns is None else columns[slot : slot + 1]
            logits = self._masked_logits(seq, target_modality, slot, columns, as_float32)
            return constrain(logits[:, :, 0], ("batch", "length", "vocab"))
        return self._masked_logits(seq, target_modality, 0, columns, as_float32)

    def depth_states(self, hidden, codes):
        """The depth decoder's output [B, L, K', D] for each frame's K' slots."""
        batch, length, k_max = codes.shape
        earlier = self.embed_codes(codes[..., :-1])
        seq = jnp.concatenate([hidden[:, :, None].astype(earlier.dtype), earlier], axis=2)
        seq = seq + self.depth_pos[:k_max].astype(seq.dtype)
        seq = seq.reshape(batch * length, k_max, -1)
        causal = AttentionMask(causal=True)
        for layer in self.depth_layers:
            seq = layer(seq, causal)
        return self.depth_norm(seq).reshape(batch, length, k_max, -1)

    def _masked_logits(self, seq, target_modality, start, columns, as_float32):
        """Logits [B, L, S, V or N] of slots start.. (seq [B, L, S, D]), masked for
        each example's target modality."""
        slots = seq.shape[2]
        if columns is None:
            masks = self.logit_masks[:, start : start + slots]  # [M, S, V]
        else:
            masks = restrict_masks(self.logit_masks, columns, start)  # [M, S, N]
        logits = self.logits_dense(seq, columns)
        if as_float32:
            logits = logits.astype(jnp.float32)
        # An additive mask, as attention's: its gradient is the incoming one
        # as is, where a select would cost another pass over the logits'
        # gradients, the largest tensor of a step (the loss's gradient there is 0).
        bias = jnp.where(jnp.asarray(masks)[target_modality], 0.0, NEG_INF)  # [B, S, N]
        logits = logits + bias[:, None].astype(logits.dtype)
        return constrain(logits, ("batch", "length", "codebook", "vocab"))

    def __call__(
        self,
        encoder_input_tokens,
        encoder_input_modality,
        target_modality,
        decoder_input_tokens,
        decoder_target_tokens,
        encoder_continuous_inputs=None,
        slots: int | None = None,
        columns=None,
    ):
        """Teacher-forced logits [B, L_out, S, V] of the first S slots of the target frames,
        in the activation dtype.

        The loss reads them in float32 inside its own kernels: in bfloat16 a
        float32 copy of the logits (the largest tensor of a step) would be
        written and read again for values the bfloat16 output layer already
        rounded. `slots` (static; default all K) is how many
        depth-decoder slots to run.
        A batch of symbolic targets fills slot 0 only, so its caller passes 1
        and saves (K-1)/K of the depth decoder and the output layer; the slots
        left out are exactly the fully masked ones (see UnifiedModel.slots_needed).
        `columns` (static ids [S, N], which sets S) limits each slot's logits to
        those ids: [B, L_out, S, N] (see UnifiedModel.output_window); a tuple
        of them, runs of consecutive slots, gives a tuple of logits (see
        depth_logits).
        """
        encoded, mask = self.encode(
            encoder_input_tokens, encoder_input_modality, target_modality, encoder_continuous_inputs
        )
        hidden = self.decode(encoded, mask, decoder_input_tokens, target_modality)
        k_max = decoder_target_tokens.shape[-1]
        if self.is_initializing():
            slots, columns = k_max, None
        elif isinstance(columns, tuple):
            slots = sum(len(group) for group in columns)
        elif columns is not None:
            slots = len(columns)
        slots = k_max if slots is None else slots
        if not 1 <= slots <= k_max:
            raise ValueError(f"slots must be in [1, {k_max}], got {slots}")
        return self.depth_logits(
            hidden,
            decoder_target_tokens[..., :slots],
            target_modality,
            as_float32=False,
            columns=columns,
        )

    # -------------------------------------------------------- cached decoding
    def init_cache(self, encoded, encoder_mask, max_length: int):
        """Decoding state: per-layer cross keys/values (computed once) and empty self caches."""
        cfg = self.config
        batch = encoded.shape[0]
        shape = (batch, cfg.num_kv_heads, max_length, cfg.head_dim)  # heads-major
        zeros = jnp.zeros(shape, cfg.activation_dtype)
        return {
            "cross": [layer.cross_kv(encoded) for layer in self.decoder_layers],
            "cross_mask": AttentionMask(key_mask=encoder_mask),
            "self": [
                {"k": zeros, "v": zeros, "index": jnp.zeros((), jnp.int32)}
                for _ in self.decoder_layers
            ],
        }

    def decode_step(self, frame, target_modality, cache):
        """One frame [B, 1, K] at the cache's position -> (hidden [B, 1, D], new cache)."""
        index = cache["self"][0]["index"]
        x = self.embed_frames(frame)
        x = x + self.decoder_pos[target_modality, index][:, None].astype(x.dtype)
        x = self._add_rows(x, "decoder", index[None], target_modality)
        new_self = []
        for layer, self_cache, cross in zip(
            self.decoder_layers, cache["self"], cache["cross"], strict=True
        ):
            x, self_cache = layer(x, cross, cache["cross_mask"], self_cache)
            new_self.append(self_cache)
        return self.decoder_norm(x), {**cache, "self": new_self}
