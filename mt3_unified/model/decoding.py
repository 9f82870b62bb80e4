"""Cached decoding of frames: greedy, temperature/top-k/top-p sampling and beam search.

Decoding knows the network only through the step functions a model builds for
one batch (`Steps`, from UnifiedModel.decoding_steps), as T5X's decoding takes
a `tokens_to_logits` callable and a cache: `frame_step` runs the decoder over
one frame through its KV cache, and `slot_logits` runs the depth decoder and
the output layer for one depth slot of that frame. The K codes of a frame are
chosen one slot after another; examples stop at their own EOS and their later
frames are PAD. Each function also returns the model's log-likelihood of
what it decoded (temperature and filters shape the choice, not the score).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.primitives import NEG_INF
from mt3_unified.vocab.layout import EOS_ID, PAD_ID

Array = Any


@dataclasses.dataclass(frozen=True)
class DecodingSettings:
    """How predict_batch decodes: greedy (temperature 0), sampling, or beam search
    (num_beams > 1, symbolic targets only, the best beam returned); max_length None
    means ModelConfig.max_target_len."""

    max_length: int | None = None
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    num_beams: int = 1
    length_penalty: float = 0.6


@dataclasses.dataclass(frozen=True)
class Steps:
    """What decoding needs of a model for one batch of B rows.

    frame_step(frame [B, 1, K], cache) -> (hidden [B, 1, D], new cache).
    slot_logits(hidden, codes [B, 1, k + 1], k) -> float32 logits [B, N] of slot
    k over the ids columns[k] (the codes below slot k are the frame's so far).
    cache: the decoder's state before the first frame; every leaf with axes
    holds one row per example along its first axis (beam search reorders
    them), a 0-d leaf (a position) is shared.
    """

    frame_step: Callable[[Array, Any], tuple[Array, Any]]
    slot_logits: Callable[[Array, Array, int], Array]
    columns: np.ndarray  # [S, N] static ids; S = the slots any example may fill
    num_codebooks: Array  # [B] slots each example's frames fill
    first_frame: Array  # [B, 1, K] BOS frames
    cache: Any


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


def _choose_frame(steps: Steps, hidden, rng, sampler):
    """(codes [B, 1, K], their log-likelihood [B]) of one frame, slot after slot.

    Slot k runs the (causal) depth decoder over the first k + 1 positions only,
    and is skipped altogether when no example of the batch fills it (symbolic
    targets, or frames that start with EOS): a symbolic batch pays for one
    depth position and one output projection per frame, not K of each.
    """
    k_max = steps.first_frame.shape[-1]
    codes = jnp.zeros((hidden.shape[0], 1, k_max), jnp.int32)
    score = jnp.zeros((hidden.shape[0],), jnp.float32)

    def choose(state, k):
        codes, score = state
        logits = steps.slot_logits(hidden, codes[..., : k + 1], k)
        index = sampler(jax.random.fold_in(rng, k), logits)
        token = jnp.asarray(steps.columns[k])[index]
        log_p = jnp.take_along_axis(jax.nn.log_softmax(logits), index[:, None], axis=-1)[:, 0]
        # Symbolic frames use slot 0 only; a frame that starts with EOS holds nothing else.
        keep = (k < steps.num_codebooks) & ((k == 0) | (codes[:, 0, 0] != EOS_ID))
        codes = codes.at[:, 0, k].set(jnp.where(keep, token, PAD_ID))
        return codes, score + jnp.where(keep, log_p, 0.0)

    state = choose((codes, score), 0)
    for k in range(1, len(steps.columns)):
        needed = jnp.any((k < steps.num_codebooks) & (state[0][:, 0, 0] != EOS_ID))
        state = jax.lax.cond(needed, functools.partial(choose, k=k), lambda s: s, state)
    return state


def sample(steps: Steps, rng, max_length: int, temperature=0.0, top_k=0, top_p=1.0):
    """(frames [B, max_length, K], log-likelihoods [B]): greedy when temperature is 0,
    else a temperature/top-k/top-p sample."""
    sampler = lambda r, logits: sample_logits(r, logits, temperature, top_k, top_p)
    frame = steps.first_frame
    batch_size, _, k_max = frame.shape
    out = jnp.zeros((batch_size, max_length, k_max), jnp.int32)
    done = jnp.zeros((batch_size,), bool)
    scores = jnp.zeros((batch_size,), jnp.float32)

    def cond(state):
        i, *_, done, _ = state
        return (i < max_length) & ~jnp.all(done)

    def body(state):
        i, frame, cache, out, done, scores = state
        hidden, cache = steps.frame_step(frame, cache)
        codes, log_p = _choose_frame(steps, hidden, jax.random.fold_in(rng, i), sampler)
        codes = jnp.where(done[:, None, None], PAD_ID, codes)
        scores = scores + jnp.where(done, 0.0, log_p)
        out = jax.lax.dynamic_update_slice_in_dim(out, codes, i, axis=1)
        return i + 1, codes, cache, out, done | (codes[:, 0, 0] == EOS_ID), scores

    state = (jnp.zeros((), jnp.int32), frame, steps.cache, out, done, scores)
    _, _, _, out, _, scores = jax.lax.while_loop(cond, body, state)
    return out, scores


def beam_search(steps: Steps, max_length: int, num_beams: int, length_penalty=0.6):
    """(best-of-beams frames [B, max_length, K], their log-likelihoods [B]) for symbolic
    targets (slot 0 only).

    `steps` serve B * num_beams rows, each example's beams side by side (the
    model repeats its inputs). Finished beams compete on their log-likelihood
    divided by ((5 + length) / 6) ** length_penalty; the score returned is the
    plain log-likelihood.
    """
    beams = num_beams
    frame = steps.first_frame
    b = frame.shape[0] // beams
    columns = steps.columns[:1]  # symbolic targets: slot 0's ids
    vocab = columns.shape[-1]
    penalty = lambda n: ((5.0 + n) / 6.0) ** length_penalty
    seqs = jnp.zeros((b, beams, max_length), jnp.int32)
    live_lp = jnp.tile(jnp.array([0.0] + [NEG_INF] * (beams - 1)), (b, 1))
    fin_seqs, fin_scores, fin_lp = seqs, jnp.full((b, beams), NEG_INF), jnp.zeros((b, beams))

    def gather(x, idx):  # x [b*beams, ...] reordered by beam indices idx [b, beams]
        if not x.ndim:
            return x
        x = x.reshape(b, beams, *x.shape[1:])
        x = jnp.take_along_axis(x, idx.reshape(b, beams, *([1] * (x.ndim - 2))), axis=1)
        return x.reshape(b * beams, *x.shape[2:])

    def cond(state):
        i, _, _, _, live_lp, _, fin_scores, _ = state
        best_live = live_lp.max(axis=1) / penalty(max_length)
        return (i < max_length) & ~jnp.all(best_live < fin_scores.min(axis=1))

    def body(state):
        i, frame, cache, seqs, live_lp, fin_seqs, fin_scores, fin_lp = state
        hidden, cache = steps.frame_step(frame, cache)
        codes = jnp.zeros((b * beams, 1, 1), jnp.int32)  # slot 0 reads no earlier code
        logits = steps.slot_logits(hidden, codes, 0)
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
        all_lp = jnp.concatenate([fin_lp, top_lp], axis=1)
        fin_scores, keep = jax.lax.top_k(all_scores, beams)
        fin_seqs = jnp.take_along_axis(all_fin, keep[..., None], axis=1)
        fin_lp = jnp.take_along_axis(all_lp, keep, axis=1)
        live_lp, keep = jax.lax.top_k(jnp.where(is_eos, NEG_INF, top_lp), beams)
        seqs = jnp.take_along_axis(cand_seqs, keep[..., None], axis=1)
        src = jnp.take_along_axis(beam_idx, keep, axis=1)
        cache = jax.tree.map(lambda x: gather(x, src), cache)
        frame = jnp.zeros_like(frame).at[:, 0, 0].set(seqs[:, :, i].reshape(-1))
        return i + 1, frame, cache, seqs, live_lp, fin_seqs, fin_scores, fin_lp

    start = jnp.zeros((), jnp.int32)
    state = (start, frame, steps.cache, seqs, live_lp, fin_seqs, fin_scores, fin_lp)
    _, _, _, seqs, live_lp, fin_seqs, fin_scores, fin_lp = jax.lax.while_loop(cond, body, state)
    # An example with no finished beam falls back to its best live beam.
    has_fin = fin_scores[:, 0] > NEG_INF / 2
    best = jnp.where(has_fin[:, None], fin_seqs[:, 0], seqs[:, 0])
    score = jnp.where(has_fin, fin_lp[:, 0], live_lp[:, 0])
    # Everything after the first EOS becomes PAD.
    after = jnp.cumsum(jnp.cumsum(best == EOS_ID, axis=1), axis=1) > 1
    best = jnp.where(after, PAD_ID, best)
    out = jnp.zeros((b, max_length, frame.shape[-1]), jnp.int32)
    return out.at[:, :, 0].set(best), score
