"""Tiny configs, vocabularies and batches shared by the model tests."""

from __future__ import annotations

import dataclasses
import functools

import jax.numpy as jnp
import numpy as np

from mt3_unified.model.config import ModelConfig
from mt3_unified.model.model import UnifiedModel
from mt3_unified.vocab.unified import (
    EOS_ID,
    MODALITIES,
    PAD_ID,
    TASKS,
    UnifiedVocabulary,
    VocabularyConfig,
)

SMALL_VOCAB = VocabularyConfig(
    image_codebooks=2, image_codebook_size=16, audio_codebooks=3, audio_codebook_size=16
)
TINY = ModelConfig(
    emb_dim=32,
    num_heads=4,
    num_kv_heads=2,
    head_dim=8,
    mlp_dim=64,
    num_encoder_layers=2,
    num_decoder_layers=2,
    depth_layers=1,
    depth_heads=2,
    depth_mlp_dim=64,
    max_input_len=16,
    max_target_len=16,
)
# UnifiedModel's own arguments; tiny_model passes them there, the rest to ModelConfig.
LOSS_SETTINGS = ("label_smoothing", "z_loss")


@functools.cache
def vocab() -> UnifiedVocabulary:
    return UnifiedVocabulary(SMALL_VOCAB)


@functools.cache
def tiny_model(**overrides) -> UnifiedModel:
    loss = {name: overrides.pop(name) for name in LOSS_SETTINGS if name in overrides}
    return UnifiedModel(dataclasses.replace(TINY, **overrides), vocab(), **loss)


def random_frames(rng, modality: str, length: int, real: int, k_max: int, eos: bool) -> np.ndarray:
    """[length, k_max] frames of `real` random valid frames (+ EOS frame), PAD after."""
    v = vocab()
    frames = np.full((length, k_max), PAD_ID, np.int32)
    for k in range(v.num_codebooks(modality)):
        lo, hi = v.id_range(modality, k)
        frames[:real, k] = rng.integers(lo, hi, size=real)
    if eos:
        frames[real] = PAD_ID
        frames[real, 0] = EOS_ID
    return frames


def make_batch(pairs, in_len=12, out_len=10, seed=0) -> dict:
    """A batch with one example per (input modality, target modality) pair, lengths varied."""
    rng = np.random.default_rng(seed)
    v = vocab()
    k_max = max(v.num_codebooks(m) for m in MODALITIES)
    enc, dec, weights = [], [], []
    for i, (src, tgt) in enumerate(pairs):
        enc.append(random_frames(rng, src, in_len, in_len - 1 - i % 3, k_max, eos=True))
        real = out_len - 2 - i % 4
        frames = random_frames(rng, tgt, out_len, real, k_max, eos=True)
        dec.append(frames)
        w = np.zeros_like(frames, np.float32)
        w[: real + 1, : v.num_codebooks(tgt)] = 1.0
        w[real, 1:] = 0.0  # the EOS frame counts in slot 0 only
        weights.append(w)
    dec = np.stack(dec)
    tgt_mod = np.array([MODALITIES.index(t) for _, t in pairs], np.int32)
    bos = np.zeros_like(dec[:, :1])
    bos[:, 0, 0] = [v.target_id(t) for _, t in pairs]
    dec_in = np.concatenate([bos, dec[:, :-1]], axis=1)
    # A frame after the EOS frame is PAD in the inputs too.
    dec_in = np.where(np.stack(weights)[:, :, :1].cumsum(1) == 0, 0, dec_in).astype(np.int32)
    dec_in[:, 0] = bos[:, 0]
    return {
        "encoder_input_tokens": np.stack(enc),
        "encoder_input_modality": np.array([MODALITIES.index(s) for s, _ in pairs], np.int32),
        "target_modality": tgt_mod,
        "task": np.array([TASKS.index(f"{s}_to_{t}") for s, t in pairs], np.int32),
        "decoder_target_tokens": dec,
        "decoder_input_tokens": dec_in,
        "decoder_loss_weights": np.stack(weights),
    }


ALL_PAIRS = [tuple(t.split("_to_")) for t in TASKS]


def _apply(model, params, method, *args):
    return model.module.apply({"params": params}, *args, method=method)


def cached_logits(model, params, batch):
    """Teacher-forced logits through the KV cache, one frame at a time."""
    tm = batch["target_modality"]
    encoded, mask = _apply(
        model, params, "encode", batch["encoder_input_tokens"], batch["encoder_input_modality"], tm
    )
    length = batch["decoder_input_tokens"].shape[1]
    cache = _apply(model, params, "init_cache", encoded, mask, length)
    out = []
    for t in range(length):
        hidden, cache = _apply(
            model, params, "decode_step", batch["decoder_input_tokens"][:, t : t + 1], tm, cache
        )
        codes = batch["decoder_target_tokens"][:, t : t + 1]
        out.append(_apply(model, params, "depth_logits", hidden, codes, tm))
    return jnp.concatenate(out, axis=1)
