"""softmax_statistics: values on a hand-made case, its gradient against autodiff, the
label-smoothed loss against the KL divergence it stands for."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.model.losses import _statistics, softmax_statistics
from mt3_unified.model.model import UnifiedModel
from mt3_unified.model.primitives import NEG_INF
from tests.model.helpers import ALL_PAIRS, TINY, make_batch, vocab


def test_values_on_a_hand_made_row():
    logits = jnp.array([[0.0, np.log(3.0), NEG_INF, 1.0]])
    valid = jnp.array([[True, True, False, False]])
    log_z, target, valid_sum = softmax_statistics(logits, jnp.array([1]), valid)
    np.testing.assert_allclose(log_z, [np.log(4.0 + np.e)], rtol=1e-6)
    np.testing.assert_allclose(target, [np.log(3.0)], rtol=1e-6)
    np.testing.assert_allclose(valid_sum, [np.log(3.0)], rtol=1e-6)
    assert float(softmax_statistics(logits, jnp.array([3]), None)[2][0]) == 0.0


@pytest.mark.parametrize("with_valid", [True, False])
def test_gradient_equals_autodiff_of_the_formulas(with_valid):
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.standard_normal((3, 5, 7)), jnp.float32)
    targets = jnp.asarray(rng.integers(0, 7, (3, 5)), jnp.int32)
    valid = jnp.asarray(rng.random((3, 1, 7)) < 0.6) if with_valid else None
    cotangents = tuple(jnp.asarray(rng.standard_normal((3, 5)), jnp.float32) for _ in range(3))
    out, vjp = jax.vjp(lambda x: softmax_statistics(x, targets, valid), logits)
    ref_out, ref_vjp = jax.vjp(lambda x: _statistics(x, targets, valid), logits)
    for a, b in zip(out, ref_out, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(vjp(cotangents)[0], ref_vjp(cotangents)[0], atol=1e-6)


def test_bfloat16_logits_get_a_bfloat16_gradient_of_the_float32_values():
    rng = np.random.default_rng(1)
    logits = jnp.asarray(rng.standard_normal((4, 9)), jnp.bfloat16)
    targets = jnp.asarray(rng.integers(0, 9, 4), jnp.int32)
    grad = jax.grad(lambda x: softmax_statistics(x, targets, None)[0].sum())(logits)
    assert grad.dtype == jnp.bfloat16
    ref = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    np.testing.assert_array_equal(grad, ref.astype(jnp.bfloat16))


def test_label_smoothed_loss_is_the_kl_to_the_smoothed_target(params):
    # eps spread over the target modality's valid ids only, the label keeping
    # 1 - eps on top: the loss is KL(soft target || model), weighted per token.
    eps = 0.1
    model = UnifiedModel(TINY, vocab(), label_smoothing=eps, z_loss=0.0)
    batch = make_batch(ALL_PAIRS)
    loss, _ = jax.jit(model.loss_fn)(params, batch)
    log_p = np.asarray(jax.nn.log_softmax(jax.jit(model.logits)(params, batch), axis=-1))
    masks = model.logit_masks[batch["target_modality"]][:, None]  # [B, 1, K, V]
    n = np.maximum(masks.sum(-1, keepdims=True), 1)
    soft = np.broadcast_to(np.where(masks, eps / n, 0.0), log_p.shape).copy()
    np.put_along_axis(
        soft,
        batch["decoder_target_tokens"][..., None],
        np.take_along_axis(soft, batch["decoder_target_tokens"][..., None], -1) + 1 - eps,
        axis=-1,
    )
    kl = np.sum(np.where(soft > 0, soft * (np.log(np.maximum(soft, 1e-30)) - log_p), 0.0), -1)
    weights = batch["decoder_loss_weights"]
    np.testing.assert_allclose(loss, (kl * weights).sum() / weights.sum(), rtol=1e-5)
