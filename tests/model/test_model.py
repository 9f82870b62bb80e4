"""Network and loss: shapes for every modality pair, masks, causality, bad batches, overfitting."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mt3_unified.model.model import BatchError, UnifiedModel
from mt3_unified.model.primitives import NEG_INF
from mt3_unified.vocab.unified import MODALITIES, PAD_ID, TASKS
from tests.model.helpers import ALL_PAIRS, TINY, make_batch, tiny_model, vocab


@pytest.fixture(scope="module")
def batch():
    return make_batch(ALL_PAIRS)


@pytest.fixture(scope="module")
def logits(model, params, batch):
    return np.asarray(jax.jit(model.logits)(params, batch))


def test_shapes_for_every_modality_pair(model, logits, batch):
    assert logits.shape == (len(ALL_PAIRS), 10, model.k_max, vocab().vocab_size)
    assert logits.dtype == np.float32
    assert np.isfinite(logits).all()


def test_no_probability_outside_the_target_range(logits, batch):
    probs = jax.nn.softmax(logits, axis=-1)
    for i, (_, tgt) in enumerate(ALL_PAIRS):
        for k in range(vocab().num_codebooks(tgt)):
            outside = ~vocab().logit_mask(tgt, k)
            assert float(probs[i, :, k][:, outside].max()) == 0.0, (tgt, k)


def test_changing_a_future_target_never_changes_earlier_logits(model, params, batch, logits):
    t = 4
    changed = {k: v.copy() for k, v in batch.items()}
    rng = np.random.default_rng(1)
    for i, (_, tgt) in enumerate(ALL_PAIRS):
        for k in range(vocab().num_codebooks(tgt)):
            lo, hi = vocab().id_range(tgt, k)
            changed["decoder_target_tokens"][i, t:, k] = rng.integers(lo, hi, size=10 - t)
    changed["decoder_input_tokens"][:, t + 1 :] = changed["decoder_target_tokens"][:, t:-1]
    new = np.asarray(jax.jit(model.logits)(params, changed))
    np.testing.assert_array_equal(new[:, :t], logits[:, :t])
    # Within frame t the first slot sees only earlier frames.
    np.testing.assert_array_equal(new[:, t, 0], logits[:, t, 0])
    assert not np.allclose(new[:, t + 1 :], logits[:, t + 1 :])


def test_depth_decoder_slot_k_sees_only_codes_below_k(model, params, batch, logits):
    changed = {k: v.copy() for k, v in batch.items()}
    audio = [i for i, (_, t) in enumerate(ALL_PAIRS) if t == "audio"]
    lo, hi = vocab().id_range("audio", 1)
    changed["decoder_target_tokens"][audio, 2, 1] = lo + (
        batch["decoder_target_tokens"][audio, 2, 1] - lo + 1
    ) % (hi - lo)
    new = np.asarray(jax.jit(model.logits)(params, changed))
    np.testing.assert_array_equal(new[audio, 2, :2], logits[audio, 2, :2])
    assert not np.allclose(new[audio, 2, 2], logits[audio, 2, 2])


def test_loss_metrics_per_task(model, params, batch):
    loss, metrics = jax.jit(model.loss_fn)(params, batch)
    assert np.isfinite(loss)
    for task in TASKS:
        assert metrics[f"{task}/num_tokens"] > 0
        assert np.isfinite(metrics[f"{task}/loss"])
    # Zeroing a task's weight removes exactly its share from the loss.
    model0 = UnifiedModel(TINY, vocab(), task_weights={"image_to_lmx": 0.0})
    loss0, _ = jax.jit(model0.loss_fn)(params, batch)
    assert loss0 < loss


def test_task_weights_are_named_and_a_task_left_out_weighs_one():
    model = UnifiedModel(TINY, vocab(), task_weights={"lmx_to_midi": 0.5})
    assert model.task_weights["lmx_to_midi"] == 0.5
    assert {w for t, w in model.task_weights.items() if t != "lmx_to_midi"} == {1.0}
    with pytest.raises(ValueError, match=r"unknown tasks \['score_to_lmx'\].*image_to_lmx"):
        UnifiedModel(TINY, vocab(), task_weights={"score_to_lmx": 2.0})


def test_label_smoothing_keeps_a_finite_nonnegative_loss(params, batch):
    smooth = UnifiedModel(TINY, vocab(), label_smoothing=0.1, z_loss=0.0)
    loss, metrics = jax.jit(smooth.loss_fn)(params, batch)
    assert np.isfinite(loss) and loss > 0


def test_score_batch_sums_target_log_probs(model, params, batch, logits):
    # Over the window's columns only (traced: the cond's; on the host: the
    # batch's own, e.g. slot 0's symbolic ids for the symbolic rows).
    log_p = jax.nn.log_softmax(logits)
    tok = np.take_along_axis(log_p, batch["decoder_target_tokens"][..., None], -1)[..., 0]
    expected = (tok * batch["decoder_loss_weights"]).sum((1, 2))
    scores = np.asarray(jax.jit(model.score_batch)(params, batch))
    np.testing.assert_allclose(scores, expected, rtol=1e-5)
    sub, rows = _symbolic_rows(batch)
    np.testing.assert_allclose(model.score_batch(params, sub), expected[rows], rtol=1e-5)


def test_remat_and_bfloat16(model, params, batch):
    loss, _ = jax.jit(model.loss_fn)(params, batch)
    remat = tiny_model(remat=True)
    grad = jax.jit(jax.grad(lambda p: remat.loss_fn(p, batch)[0]))(params)
    ref = jax.jit(jax.grad(lambda p: model.loss_fn(p, batch)[0]))(params)
    for a, b in zip(jax.tree.leaves(grad), jax.tree.leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    bf16 = tiny_model(dtype="bfloat16")
    loss16, _ = jax.jit(bf16.loss_fn)(params, batch)
    assert abs(float(loss16) - float(loss)) < 0.05 * float(loss)


def test_continuous_inputs_reach_the_encoder():
    cont = tiny_model(continuous_input_dim=6, continuous_modalities=("audio",))
    params = cont.init(jax.random.key(0))
    batch = make_batch([("audio", "midi"), ("lmx", "midi")])
    feats = np.random.default_rng(0).normal(size=(2, 12, 6)).astype(np.float32)
    grads = jax.jit(
        jax.grad(lambda f: cont.loss_fn(params, {**batch, "encoder_continuous_inputs": f})[0])
    )(feats)
    assert np.abs(grads[0]).max() > 0  # the audio example reads its features
    assert np.abs(grads[1]).max() == 0  # the LMX example does not


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda b: b.pop("task"), "'task'"),
        (
            lambda b: b.update(encoder_input_tokens=b["encoder_input_tokens"][..., :1]),
            "'encoder_input_tokens'",
        ),
        (
            lambda b: b.update(decoder_target_tokens=b["decoder_target_tokens"].astype(np.float32)),
            "'decoder_target_tokens' has dtype float32",
        ),
        (lambda b: b.update(target_modality=b["target_modality"] + 4), "target_modality must"),
        (lambda b: b.update(encoder_input_tokens=np.zeros((12, 40, 3), np.int32)), "<=16"),
        (
            lambda b: b.update(decoder_input_tokens=b["decoder_input_tokens"][:, :5]),
            "'decoder_input_tokens'",
        ),
        (lambda b: b["decoder_target_tokens"].__setitem__((0, 0, 0), 5), "not a valid lmx id"),
    ],
)
def test_bad_batches_name_the_feature(model, params, batch, change, needle):
    bad = {k: v.copy() for k, v in batch.items()}
    change(bad)
    with pytest.raises(BatchError, match=needle.replace("[", r"\[")):
        model.loss_fn(params, bad)


def test_bad_shapes_fail_while_tracing_under_jit(model, params, batch):
    bad = dict(batch, decoder_loss_weights=batch["decoder_loss_weights"][:, :, :1])
    with pytest.raises(BatchError, match="decoder_loss_weights"):
        jax.jit(model.loss_fn)(params, bad)


def test_tiny_model_overfits_one_batch_of_every_task():
    model = tiny_model()
    batch = make_batch(ALL_PAIRS, in_len=8, out_len=6, seed=3)
    params = model.init(jax.random.key(1))
    opt = optax.adam(1e-2)
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        (loss, metrics), grads = jax.value_and_grad(model.loss_fn, has_aux=True)(params, batch)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, metrics

    for _ in range(300):
        params, state, metrics = step(params, state)
    assert metrics["cross_entropy"] < 0.05, metrics["cross_entropy"]
    for task in TASKS:
        assert metrics[f"{task}/accuracy"] == 1.0, task


def _symbolic_rows(batch):
    symbolic = [MODALITIES.index(m) for m in ("lmx", "midi")]
    rows = np.flatnonzero(np.isin(batch["target_modality"], symbolic))
    assert 0 < len(rows) < len(batch["task"])
    return {name: value[rows] for name, value in batch.items()}, rows


def test_symbolic_only_batches_take_the_short_path_with_the_same_logits(
    model, params, batch, logits
):
    # A batch whose targets are all symbolic needs slot 0 only; its logits
    # there must equal those the full path gives the same examples, and the
    # full path's other slots must be fully masked.
    sub, rows = _symbolic_rows(batch)
    assert model.slots_needed(sub["target_modality"]) == 1
    assert model.slots_needed(batch["target_modality"]) == model.k_max
    short = np.asarray(jax.jit(functools.partial(model.logits, slots=1))(params, sub))
    assert short.shape == (len(rows), 10, 1, vocab().vocab_size)
    np.testing.assert_allclose(short, logits[rows][:, :, :1], atol=1e-5)
    assert (logits[rows][:, :, 1:] <= NEG_INF / 2).all()


def _full_vocabulary_loss(model, params, batch):
    """The loss written plainly over all V ids and K slots of model.logits (test reference)."""
    eps = model.label_smoothing
    log_p = jax.nn.log_softmax(model.logits(params, batch), axis=-1)  # [B, L, K, V]
    log_z = jax.nn.logsumexp(model.logits(params, batch), axis=-1)
    targets = batch["decoder_target_tokens"]
    nll = -jnp.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
    loss = nll
    if eps:  # KL to 1-eps on the label plus eps spread over the valid ids
        valid = model.logit_masks[batch["target_modality"]][:, None]  # [B, 1, K, V]
        n = np.maximum(valid.sum(-1), 1)
        soft = np.where(valid, eps / n[..., None], 0.0)
        soft = soft + (1 - eps) * jax.nn.one_hot(targets, log_p.shape[-1])
        safe = np.where(soft > 0, soft, 1.0)
        loss = jnp.sum(soft * (np.log(safe) - jnp.where(valid, log_p, 0.0)), axis=-1)
    weights = batch["decoder_loss_weights"]
    task_w = np.array([model.task_weights[t] for t in TASKS])[batch["task"]][:, None, None]
    per_token = (loss + model.z_loss * jnp.square(log_z)) * weights * task_w
    return jnp.sum(per_token) / max(weights.sum(), 1.0), jnp.sum(nll * weights) / weights.sum()


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("symbolic_only", [True, False])
def test_loss_and_grad_equal_the_full_vocabulary_loss_every_way_of_choosing_the_window(
    params, batch, symbolic_only, smoothing
):
    # The loss computes only the output columns (and slots) its window holds;
    # host-side choice, the traced cond, and a static list of modalities all
    # equal the loss over every id and slot, in value and gradient.
    model = tiny_model(label_smoothing=smoothing)
    data = _symbolic_rows(batch)[0] if symbolic_only else batch
    ref_loss, ref_nll = _full_vocabulary_loss(model, params, data)
    ref_grads = jax.grad(lambda p: _full_vocabulary_loss(model, p, data)[0])(params)
    present = sorted({MODALITIES[m] for m in data["target_modality"]})
    host = model.loss_fn(params, data)
    traced = jax.jit(model.loss_fn)(params, data)
    (loss, metrics), grads = jax.jit(model.loss_and_grad)(params, data)
    static = jax.jit(functools.partial(model.loss_and_grad, modalities=present))
    (static_loss, _), static_grads = static(params, data)
    for got in (host[0], traced[0], loss, static_loss):
        np.testing.assert_allclose(got, ref_loss, rtol=1e-5)
    np.testing.assert_allclose(metrics["cross_entropy"], ref_nll, rtol=1e-5)
    np.testing.assert_allclose(metrics["num_tokens"], data["decoder_loss_weights"].sum())
    for got in (grads, static_grads):
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ref_grads), strict=True):
            np.testing.assert_allclose(a, b, atol=2e-6)


def test_output_window_holds_each_slots_valid_ids_and_a_pad_column(model):
    lmx, audio = MODALITIES.index("lmx"), MODALITIES.index("audio")
    window = model.output_window([lmx])
    ids = np.flatnonzero(model.logit_masks[lmx, 0])
    assert window.slots == 1
    assert window.columns.shape == (1, ids.size + 1)
    np.testing.assert_array_equal(window.columns[0, :-1], ids)
    assert window.columns[0, -1] == PAD_ID
    np.testing.assert_array_equal(window.positions[0, ids], np.arange(ids.size))
    assert window.positions[0, PAD_ID] == ids.size  # outside the window: the PAD column
    both = model.output_window([audio, lmx])
    assert both.slots == model.k_max
    for s in range(model.k_max):  # every slot: the union of both modalities' ids, then PAD
        union = np.flatnonzero(model.logit_masks[[lmx, audio], s].any(axis=0))
        np.testing.assert_array_equal(both.columns[s, : union.size], union)
        assert (both.columns[s, union.size :] == PAD_ID).all()
    assert model.output_window([lmx, lmx]) is window  # cached per set


def test_output_window_groups_runs_of_slots_at_their_own_width(model):
    lmx, audio = MODALITIES.index("lmx"), MODALITIES.index("audio")
    (only,) = model.output_window([lmx]).groups  # one slot: one group, the window itself
    np.testing.assert_array_equal(only.columns, model.output_window([lmx]).columns)
    both = model.output_window([audio, lmx])
    first, rest = both.groups
    n_lmx, n_code = (vocab().id_range(m)[1] - vocab().id_range(m)[0] for m in ("lmx", "audio"))
    # Slot 0 holds lmx, the first codebook and EOS; slots 1.. one codebook each; then PAD.
    assert (first.start, first.columns.shape) == (0, (1, n_lmx + n_code + 2))
    assert (rest.start, rest.columns.shape) == (1, (model.k_max - 1, n_code + 1))
    np.testing.assert_array_equal(first.columns, both.columns[:1])
    np.testing.assert_array_equal(rest.columns, both.columns[1:, : n_code + 1])
    assert (both.columns[1:, n_code + 1 :] == PAD_ID).all()
    codes = np.arange(*vocab().id_range("audio", 1))
    np.testing.assert_array_equal(rest.positions[0, codes], np.arange(n_code))
    assert rest.positions[0, vocab().id_range("lmx")[0]] == n_code  # not in slot 1: PAD
    eos_slot, codes_only = model.output_window([audio]).groups  # EOS widens slot 0
    assert (eos_slot.columns.shape, codes_only.columns.shape) == (
        (1, n_code + 2),
        (model.k_max - 1, n_code + 1),
    )


def test_a_target_modality_outside_the_callers_list_is_refused(model, params, batch):
    with pytest.raises(BatchError, match=r"target_modality holds \['audio'"):
        model.loss_fn(params, batch, modalities=("lmx", "midi", "image"))
    with pytest.raises(ValueError, match=r"unknown target modalities \['score'\]"):
        model.loss_fn(params, batch, modalities=("lmx", "score"))


def test_dot_product_attention_path_equals_the_matmul_path(model, params, batch, logits):
    # attention="jax" (jax.nn.dot_product_attention, XLA on CPU) computes the
    # same function with grouped heads, causal and padding biases: logits, loss
    # and gradients agree; cached decoding (one query) keeps the matmul path.
    fused = tiny_model(attention="jax")
    np.testing.assert_allclose(jax.jit(fused.logits)(params, batch), logits, atol=1e-5)
    (loss, _), grads = jax.jit(fused.loss_and_grad)(params, batch)
    (ref_loss, _), ref_grads = jax.jit(model.loss_and_grad)(params, batch)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_unknown_attention_is_refused():
    with pytest.raises(ValueError, match="attention must be one of"):
        dataclasses.replace(TINY, attention="flash")
