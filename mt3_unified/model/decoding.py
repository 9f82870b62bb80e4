"""Cached autoregressive decoding: greedy, temperature/top-k/top-p sampling, beam search.

The encoder runs once; each decoder step reads one frame through per-layer KV
caches (cross-attention keys/values are computed once, too), then the depth
decoder chooses the frame's K codes one after another. Examples stop at their
own EOS; their later frames are PAD.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.layers import NEG_INF
from mt3_unified.vocab.layout import EOS_ID, MODALITIES, PAD_ID, SYMBOLIC_MODALITIES


def sample_logits(rng, logits, temperature=0.0, top_k=0, top_p=1.0):
    """One id per row of logits [B, V]: argmax when temperature is 0, else a filtered sample."""
    if temperature == 0.0:
        return jnp.argmax(logits, axis=-1).astype(jnp.int32)
    logits = logits / temperature
    if top_k:
        kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
        logits = jnp.where(logits < kth, NEG_INF, logits)
    if top_p < 1.0:
        order = jnp.sort(logits, axis=-1)[:, ::-1]
        probs = jax.nn.softmax(order, axis=-1)
        # Keep the smallest prefix whose mass reaches top_p (the first id always stays).
        before = jnp.cumsum(probs, axis=-1) - probs
        cutoff = jnp.min(jnp.where(before < top_p, order, jnp.inf), axis=-1, keepdims=True)
        logits = jnp.where(logits < cutoff, NEG_INF, logits)
    return jax.random.categorical(rng, logits, axis=-1).astype(jnp.int32)


def _choose_frame(model, params, hidden, target_modality, rng, sampler, window):
    """The K codes [B, 1, K] of one frame, slot after slot through the depth decoder.

    Slot k runs the (causal) depth decoder over the first k + 1 positions only,
    and is skipped altogether when no example of the batch fills it (symbolic
    targets, or frames that start with EOS): a symbolic batch pays for one
    depth position and one output projection per frame, not K of each. Each
    slot's logits cover only the ids of `window` (model.output_window), the
    only ones the batch's target modalities may emit.
    """
    k_max = model.k_max
    num_books = jnp.asarray(model.num_codebooks)[target_modality]
    codes = jnp.zeros((hidden.shape[0], 1, k_max), jnp.int32)

    def choose(codes, k):
        logits = model.module.apply(
            {"params": params},
            hidden,
            codes[..., : k + 1],
            target_modality,
            k,
            columns=window.columns[: k + 1],
            method="depth_logits",
        )[:, 0]
        index = sampler(jax.random.fold_in(rng, k), logits)
        token = jnp.asarray(window.columns[k])[index]
        # Symbolic frames use slot 0 only; a frame that starts with EOS holds nothing else.
        keep = (k < num_books) & ((k == 0) | (codes[:, 0, 0] != EOS_ID))
        return codes.at[:, 0, k].set(jnp.where(keep, token, PAD_ID))

    for k in range(window.slots):
        if k == 0:
            codes = choose(codes, 0)
            continue
        needed = jnp.any((k < num_books) & (codes[:, 0, 0] != EOS_ID))
        codes = jax.lax.cond(needed, functools.partial(choose, k=k), lambda c: c, codes)
    return codes


def output_window_of(model, target_modality):
    """The output window of a batch's target modalities (all of them when traced)."""
    if isinstance(target_modality, jax.core.Tracer):
        return model.output_window(range(len(MODALITIES)))
    return model.output_window(np.unique(np.asarray(target_modality)))


def _start(model, params, batch, max_length):
    tm = jnp.asarray(batch["target_modality"])
    encoded, mask = model.module.apply(
        {"params": params},
        batch["encoder_input_tokens"],
        batch["encoder_input_modality"],
        tm,
        batch.get("encoder_continuous_inputs"),
        method="encode",
    )
    cache = model.module.apply({"params": params}, encoded, mask, max_length, method="init_cache")
    bos = jnp.zeros((tm.shape[0], 1, model.k_max), jnp.int32)
    bos = bos.at[:, 0, 0].set(jnp.asarray(model.bos_ids)[tm])
    return tm, cache, bos


def decode(
    model,
    params,
    batch,
    rng=None,
    max_length=None,
    temperature=0.0,
    top_k=0,
    top_p=1.0,
    num_beams=1,
    length_penalty=0.6,
):
    """Decoded frames [B, max_length, K]: greedy (temperature 0), sampling, or beam search.

    Beam search (num_beams > 1) is for symbolic targets only and returns the best beam.
    """
    inputs = (
        "encoder_input_tokens",
        "encoder_input_modality",
        "target_modality",
        "encoder_continuous_inputs",
    )
    window = output_window_of(model, batch["target_modality"])
    batch = {k: jnp.asarray(batch[k]) for k in inputs if k in batch}
    max_length = max_length or model.config.max_target_len
    if max_length > model.config.max_target_len:
        raise ValueError(f"max_length {max_length} exceeds max_target_len")
    if num_beams > 1:
        return beam_search(model, params, batch, max_length, num_beams, length_penalty, window)
    rng = jax.random.key(0) if rng is None else rng
    return _sample_loop(model, params, batch, rng, max_length, temperature, top_k, top_p, window)


@functools.partial(jax.jit, static_argnums=(0, 4, 5, 6, 7, 8))
def _sample_loop(model, params, batch, rng, max_length, temperature, top_k, top_p, window):
    sampler = lambda r, logits: sample_logits(r, logits, temperature, top_k, top_p)
    tm, cache, frame = _start(model, params, batch, max_length)
    batch_size = tm.shape[0]
    out = jnp.zeros((batch_size, max_length, model.k_max), jnp.int32)
    done = jnp.zeros((batch_size,), bool)

    def cond(state):
        i, _, _, _, done = state
        return (i < max_length) & ~jnp.all(done)

    def body(state):
        i, frame, cache, out, done = state
        hidden, cache = model.module.apply(
            {"params": params}, frame, tm, cache, method="decode_step"
        )
        rng_i = jax.random.fold_in(rng, i)
        codes = _choose_frame(model, params, hidden, tm, rng_i, sampler, window)
        codes = jnp.where(done[:, None, None], PAD_ID, codes)
        out = jax.lax.dynamic_update_slice_in_dim(out, codes, i, axis=1)
        return i + 1, codes, cache, out, done | (codes[:, 0, 0] == EOS_ID)

    state = (jnp.zeros((), jnp.int32), frame, cache, out, done)
    return jax.lax.while_loop(cond, body, state)[3]


def beam_search(model, params, batch, max_length, num_beams, length_penalty=0.6, window=None):
    """Best-of-beams frames [B, max_length, K] for symbolic targets (slot 0 only)."""
    tm = np.asarray(batch["target_modality"])
    if any(MODALITIES[m] not in SYMBOLIC_MODALITIES for m in tm):
        raise ValueError("beam search decodes symbolic targets only (lmx, midi)")
    window = window or output_window_of(model, tm)
    return _beam_loop(model, params, batch, max_length, num_beams, length_penalty, window)


@functools.partial(jax.jit, static_argnums=(0, 3, 4, 5, 6))
def _beam_loop(model, params, batch, max_length, beams, alpha, window):
    expand = lambda x: jnp.repeat(x, beams, axis=0)
    batch = {k: expand(jnp.asarray(v)) for k, v in batch.items()}
    tm, cache, frame = _start(model, params, batch, max_length)
    b = tm.shape[0] // beams
    columns = window.columns[:1]  # symbolic targets: slot 0's ids
    vocab = columns.shape[-1]
    penalty = lambda n: ((5.0 + n) / 6.0) ** alpha
    seqs = jnp.zeros((b, beams, max_length), jnp.int32)
    live_lp = jnp.tile(jnp.array([0.0] + [NEG_INF] * (beams - 1)), (b, 1))
    fin_seqs, fin_scores = seqs, jnp.full((b, beams), NEG_INF)

    def gather(x, idx):  # x [b*beams, ...] reordered by beam indices idx [b, beams]
        x = x.reshape(b, beams, *x.shape[1:])
        x = jnp.take_along_axis(x, idx.reshape(b, beams, *([1] * (x.ndim - 2))), axis=1)
        return x.reshape(b * beams, *x.shape[2:])

    def cond(state):
        i, _, _, _, live_lp, _, fin_scores = state
        best_live = live_lp.max(axis=1) / penalty(max_length)
        return (i < max_length) & ~jnp.all(best_live < fin_scores.min(axis=1))

    def body(state):
        i, frame, cache, seqs, live_lp, fin_seqs, fin_scores = state
        hidden, cache = model.module.apply(
            {"params": params}, frame, tm, cache, method="decode_step"
        )
        codes = jnp.zeros((b * beams, 1, 1), jnp.int32)  # slot 0 reads no earlier code
        logits = model.module.apply(
            {"params": params}, hidden, codes, tm, 0, columns=columns, method="depth_logits"
        )[:, 0]
        cand = live_lp[..., None] + jax.nn.log_softmax(logits).reshape(b, beams, vocab)
        top_lp, top_idx = jax.lax.top_k(cand.reshape(b, beams * vocab), 2 * beams)
        beam_idx, token = top_idx // vocab, jnp.asarray(columns[0])[top_idx % vocab]
        cand_seqs = jnp.take_along_axis(seqs, beam_idx[..., None], axis=1)
        cand_seqs = cand_seqs.at[:, :, i].set(token)
        is_eos = token == EOS_ID
        # Finished candidates compete with earlier finished beams on length-penalized score.
        all_fin = jnp.concatenate([fin_seqs, cand_seqs], axis=1)
        all_scores = jnp.concatenate(
            [fin_scores, jnp.where(is_eos, top_lp / penalty(i + 1.0), NEG_INF)], axis=1
        )
        fin_scores, keep = jax.lax.top_k(all_scores, beams)
        fin_seqs = jnp.take_along_axis(all_fin, keep[..., None], axis=1)
        live_lp, keep = jax.lax.top_k(jnp.where(is_eos, NEG_INF, top_lp), beams)
        seqs = jnp.take_along_axis(cand_seqs, keep[..., None], axis=1)
        src = jnp.take_along_axis(beam_idx, keep, axis=1)
        cache = {
            **cache,
            "self": [
                {**c, "k": gather(c["k"], src), "v": gather(c["v"], src)} for c in cache["self"]
            ],
        }
        frame = jnp.zeros_like(frame).at[:, 0, 0].set(seqs[:, :, i].reshape(-1))
        return i + 1, frame, cache, seqs, live_lp, fin_seqs, fin_scores

    state = (jnp.zeros((), jnp.int32), frame, cache, seqs, live_lp, fin_seqs, fin_scores)
    _, _, _, seqs, live_lp, fin_seqs, fin_scores = jax.lax.while_loop(cond, body, state)
    # An example with no finished beam falls back to its best live beam.
    has_fin = fin_scores[:, 0] > NEG_INF / 2
    best = jnp.where(has_fin[:, None], fin_seqs[:, 0], seqs[:, 0])
    # Everything after the first EOS becomes PAD.
    after = jnp.cumsum(jnp.cumsum(best == EOS_ID, axis=1), axis=1) > 1
    best = jnp.where(after, PAD_ID, best)
    out = jnp.zeros((b, max_length, model.k_max), jnp.int32)
    return out.at[:, :, 0].set(best)
