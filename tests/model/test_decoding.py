"""Cached decoding: equal to the full forward pass, EOS per example, sampling, beam search."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.model import decoding
from mt3_unified.model.model import UnifiedModel
from mt3_unified.model.network import UnifiedTransformer
from mt3_unified.vocab.unified import EOS_ID, MODALITIES, PAD_ID
from tests.model.helpers import cached_logits, make_batch, tiny_model, vocab

PAIRS = [("image", "lmx"), ("audio", "midi"), ("lmx", "image"), ("midi", "audio")]


@pytest.fixture(scope="module")
def batch():
    return make_batch(PAIRS)


@pytest.fixture(scope="module")
def greedy(model, params, batch):
    return np.asarray(model.predict_batch(params, batch, max_length=10))


_cached_logits = jax.jit(functools.partial(cached_logits, tiny_model()))


def test_cached_logits_equal_the_full_forward_pass(model, params, batch):
    full = np.asarray(jax.jit(model.logits)(params, batch))
    cached = np.asarray(_cached_logits(params, batch))
    valid = full > -1e8  # compare the unmasked entries; masked ones are the same constant
    np.testing.assert_array_equal(valid, cached > -1e8)
    for i, (_, tgt) in enumerate(PAIRS):  # symbolic and RVQ targets alike
        np.testing.assert_allclose(cached[i][valid[i]], full[i][valid[i]], atol=1e-5, err_msg=tgt)


def _teacher_batch(batch, decoded):
    """A batch whose targets are the decoded frames (to rescore them in one pass)."""
    tm = batch["target_modality"]
    bos = np.zeros_like(decoded[:, :1])
    bos[:, 0, 0] = [vocab().target_id(MODALITIES[m]) for m in tm]
    return dict(
        batch,
        decoder_target_tokens=decoded,
        decoder_input_tokens=np.concatenate([bos, decoded[:, :-1]], axis=1),
        decoder_loss_weights=np.zeros(decoded.shape, np.float32),
    )


def _check_frames(decoded, target_modality):
    for i, m in enumerate(target_modality):
        modality = MODALITIES[m]
        k = vocab().num_codebooks(modality)
        ended = False
        for frame in decoded[i]:
            if ended:
                assert (frame == PAD_ID).all()
                continue
            if frame[0] == EOS_ID:
                assert (frame[1:] == PAD_ID).all()
                ended = True
                continue
            for s in range(k):
                lo, hi = vocab().id_range(modality, s)
                assert lo <= frame[s] < hi, (modality, s, frame)
            assert (frame[k:] == PAD_ID).all()


def test_greedy_decoding_is_the_argmax_of_the_full_pass(model, params, batch, greedy):
    decoded = greedy
    assert decoded.shape == (len(PAIRS), 10, model.k_max)
    _check_frames(decoded, batch["target_modality"])
    full = np.asarray(jax.jit(model.logits)(params, _teacher_batch(batch, decoded)))
    best = full.argmax(-1)
    for i, m in enumerate(batch["target_modality"]):
        k = vocab().num_codebooks(MODALITIES[m])
        live = np.cumsum(decoded[i, :, 0] == EOS_ID) - (decoded[i, :, 0] == EOS_ID) == 0
        np.testing.assert_array_equal(best[i, live, 0], decoded[i, live, 0])
        frames = live & (decoded[i, :, 0] != EOS_ID)
        np.testing.assert_array_equal(best[i, frames, :k], decoded[i, frames, :k])


def test_examples_stop_at_their_own_eos(model, params, batch, greedy):
    # A model whose LMX outputs may only be EOS: that example ends at once while
    # its batchmates go on, decoding exactly what they decode without it.
    masks = model.logit_masks.copy()
    lmx = MODALITIES.index("lmx")
    masks[lmx, 0] = False
    masks[lmx, 0, EOS_ID] = True
    stopper = UnifiedModel(model.config, vocab())
    stopper.logit_masks = masks
    stopper.module = UnifiedTransformer(model.config, masks)
    decoded = np.asarray(stopper.predict_batch(params, batch, max_length=10))
    reference = greedy
    _check_frames(decoded, batch["target_modality"])
    assert decoded[0, 0, 0] == EOS_ID and (decoded[0, 1:] == PAD_ID).all()
    np.testing.assert_array_equal(decoded[1:], reference[1:])


def test_sampling_filters(model, params, batch, greedy):
    rng = jax.random.key(3)
    top1 = model.predict_batch(params, batch, rng, max_length=10, temperature=1.0, top_k=1)
    np.testing.assert_array_equal(np.asarray(top1), greedy)
    sampled = np.asarray(model.predict_batch(params, batch, rng, max_length=10, temperature=1.5))
    _check_frames(sampled, batch["target_modality"])
    assert not np.array_equal(sampled, greedy)


def test_sample_logits_top_p_keeps_the_nucleus():
    logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
    draws = jax.vmap(lambda r: decoding.sample_logits(r, logits, 1.0, 0, 0.7))(
        jax.random.split(jax.random.key(0), 200)
    )
    assert set(np.unique(draws).tolist()) == {0, 1}


def test_beam_search_for_symbolic_targets(model, params, batch, greedy):
    symbolic = {k: v[:2] for k, v in batch.items()}
    beams = np.asarray(model.predict_batch(params, symbolic, max_length=10, num_beams=3))
    _check_frames(beams, symbolic["target_modality"])
    # One beam is greedy search (up to the length penalty, which cannot reorder one beam).
    steps = model.decoding_steps(params, symbolic, max_length=10)
    one = np.asarray(decoding.beam_search(steps, 10, num_beams=1, length_penalty=0.6)[0])
    np.testing.assert_array_equal(one, greedy[:2])
    with pytest.raises(ValueError, match="symbolic"):
        model.predict_batch(params, batch, max_length=10, num_beams=2)


def test_a_batch_decodes_the_same_in_any_window(model, params, batch, greedy):
    # Logits cover only the ids of the batch's own target modalities (one LMX
    # row: its 1 slot's ids); each example decodes exactly what it decodes in
    # the mixed batch, whose window holds every modality's ids and K slots.
    lmx = int(np.flatnonzero(batch["target_modality"] == MODALITIES.index("lmx"))[0])
    alone = {k: v[lmx : lmx + 1] for k, v in batch.items()}
    assert model.decoding_window(alone["target_modality"]).slots == 1
    assert model.decoding_window(batch["target_modality"]).slots == model.k_max
    decoded = np.asarray(model.predict_batch(params, alone, max_length=10))
    np.testing.assert_array_equal(decoded, greedy[lmx : lmx + 1])


def _decoded_as_targets(batch, decoded):
    """_teacher_batch with loss weight on every decoded code (PAD is never decoded)."""
    return dict(
        _teacher_batch(batch, decoded), decoder_loss_weights=(decoded != PAD_ID).astype(np.float32)
    )


def test_aux_scores_are_score_batch_of_the_decoded_frames(model, params, batch, greedy):
    # Symbolic (slot 0) and RVQ (every codebook) targets alike, greedy and sampled:
    # the scores are the model's log-likelihood of what was decoded.
    for settings in ({}, {"temperature": 1.5}):
        decoded, aux = model.predict_batch_with_aux(params, batch, max_length=10, **settings)
        if not settings:
            np.testing.assert_array_equal(decoded, greedy)
        expected = model.score_batch(params, _decoded_as_targets(batch, np.asarray(decoded)))
        np.testing.assert_allclose(aux["scores"], expected, rtol=1e-5, atol=1e-5)


def test_beam_search_scores_are_score_batch_of_the_best_beam(model, params, batch):
    symbolic = {k: v[:2] for k, v in batch.items()}
    decoded, aux = model.predict_batch_with_aux(params, symbolic, max_length=10, num_beams=3)
    expected = model.score_batch(params, _decoded_as_targets(symbolic, np.asarray(decoded)))
    np.testing.assert_allclose(aux["scores"], expected, rtol=1e-5, atol=1e-5)
