"""The T5X-style model API of the unified transformer: loss_fn, score_batch, predict_batch.

Batch convention (the SeqIO side produces exactly these features):

    encoder_input_tokens    int32 [B, L_in, K]   input frames; K = the vocabulary's
                            largest codebook count; symbolic inputs fill slot 0 and
                            leave PAD (0) in the other slots; PAD frames are padding
    encoder_input_modality  int32 [B]            index into MODALITIES
    target_modality         int32 [B]            index into MODALITIES
    task                    int32 [B]            index into TASKS (per-task weights, metrics)
    decoder_target_tokens   int32 [B, L_out, K]  output frames, slot use as above; the
                            last real frame is the EOS frame [EOS, PAD, ...]
    decoder_input_tokens    int32 [B, L_out, K]  targets shifted right by one frame; the
                            first frame is the BOS frame [<to:target>, PAD, ...], the
                            target-modality token of VocabularyLayout.target_id
    decoder_loss_weights    float [B, L_out, K]  1 on real target slots, 0 elsewhere
    encoder_continuous_inputs  float [B, L_in, F]  only when ModelConfig.continuous_input_dim

A batch may mix modalities: logit masks and positional tables are gathered per example.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.model import decoding
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.losses import softmax_statistics
from mt3_unified.model.network import UnifiedTransformer
from mt3_unified.model.output_window import OutputWindow, output_window, restrict_masks
from mt3_unified.vocab.layout import MODALITIES, PAD_ID, TASKS, VocabularyLayout

INT_FEATURES = ("encoder_input_modality", "target_modality", "task")
FRAME_FEATURES = ("encoder_input_tokens", "decoder_target_tokens", "decoder_input_tokens")


class BatchError(Mt3UnifiedError, ValueError):
    """A batch whose features do not fit the model's config."""


class UnifiedModel:
    """Binds a ModelConfig to a vocabulary and exposes the functions a trainer jits."""

    def __init__(self, config: ModelConfig, vocab: VocabularyLayout):
        self.config = config
        self.vocab = vocab
        self.logit_masks = np.stack([vocab.modality_masks[m] for m in MODALITIES])
        self.num_codebooks = np.array([vocab.num_codebooks(m) for m in MODALITIES], np.int32)
        self.k_max = self.logit_masks.shape[1]
        self.bos_ids = np.array([vocab.target_id(m) for m in MODALITIES], np.int32)
        if config.task_weights and len(config.task_weights) != len(TASKS):
            raise ValueError(f"task_weights needs {len(TASKS)} entries (TASKS order)")
        self.task_weights = np.array(config.task_weights or [1.0] * len(TASKS), np.float32)
        # Modalities whose frames use slots beyond the first (image and audio RVQ codes).
        self.uses_more_slots = self.logit_masks[:, 1:].any(axis=(1, 2))
        self._windows: dict[tuple[int, ...], OutputWindow] = {}
        self.module = UnifiedTransformer(config, self.logit_masks)
        self.train_module = UnifiedTransformer(config, self.logit_masks, deterministic=False)

    # ------------------------------------------------------------- params
    def dummy_batch(self, batch_size=1, input_len=8, target_len=8) -> dict:
        """An all-PAD batch of the right shapes and dtypes (for init and shape inference)."""
        k, f = self.k_max, self.config.continuous_input_dim
        batch = {
            "encoder_input_tokens": np.zeros((batch_size, input_len, k), np.int32),
            "decoder_target_tokens": np.zeros((batch_size, target_len, k), np.int32),
            "decoder_input_tokens": np.zeros((batch_size, target_len, k), np.int32),
            "decoder_loss_weights": np.zeros((batch_size, target_len, k), np.float32),
            **{name: np.zeros((batch_size,), np.int32) for name in INT_FEATURES},
        }
        if f:
            batch["encoder_continuous_inputs"] = np.zeros((batch_size, input_len, f), np.float32)
        return batch

    def _init_boxed(self, rng):
        return self.module.init(rng, **_network_inputs(self.dummy_batch()))["params"]

    def init(self, rng) -> dict:
        """Fresh float32 parameters as a plain pytree (logical names via `param_axes`)."""
        return nn.unbox(self._init_boxed(rng))

    def param_axes(self):
        """PartitionSpecs of logical axis names, one per parameter (same tree as `init`)."""
        return nn.get_partition_spec(jax.eval_shape(self._init_boxed, jax.random.key(0)))

    def num_params(self) -> int:
        shapes = jax.eval_shape(self.init, jax.random.key(0))
        return int(sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)))

    # --------------------------------------------------------- validation
    def validate_batch(self, batch: dict, targets: bool = True) -> None:
        """Raises BatchError naming the feature and the expectation; runs before tracing.

        Shapes and dtypes are checked always (also on tracers, so a jitted
        caller fails while tracing, before compiling); values (modality ranges,
        targets inside their modality's ids) are checked when they are concrete.
        """
        cfg, k = self.config, self.k_max
        names = list(INT_FEATURES) + ["encoder_input_tokens"]
        if targets:
            names += ["decoder_target_tokens", "decoder_input_tokens", "decoder_loss_weights"]
        if cfg.continuous_input_dim:
            names.append("encoder_continuous_inputs")
        for name in names:
            if name not in batch:
                raise BatchError(f"batch lacks feature {name!r}; expected {names}")
        b = batch["encoder_input_tokens"].shape[0] if batch["encoder_input_tokens"].ndim else 0
        l_in = cfg.max_input_len
        l_out = cfg.max_target_len
        expect = {n: (("B",), "int") for n in INT_FEATURES}
        expect["encoder_input_tokens"] = (("B", f"<={l_in}", k), "int")
        if targets:
            tgt_len = batch["decoder_target_tokens"].shape[1:2] or (None,)
            for n in ("decoder_target_tokens", "decoder_input_tokens", "decoder_loss_weights"):
                kind = "float" if n == "decoder_loss_weights" else "int"
                expect[n] = (
                    ("B", f"<={l_out}" if n == "decoder_target_tokens" else tgt_len[0], k),
                    kind,
                )
        if cfg.continuous_input_dim:
            in_len = batch["encoder_input_tokens"].shape[1:2] or (None,)
            expect["encoder_continuous_inputs"] = (
                ("B", in_len[0], cfg.continuous_input_dim),
                "float",
            )
        for name, (dims, kind) in expect.items():
            _check_feature(name, batch[name], dims, kind, b)
        values = {n: batch[n] for n in INT_FEATURES}
        if any(isinstance(v, jax.core.Tracer) for v in values.values()):
            return
        for name, limit in (
            ("encoder_input_modality", len(MODALITIES)),
            ("target_modality", len(MODALITIES)),
            ("task", len(TASKS)),
        ):
            v = np.asarray(batch[name])
            if v.size and (v.min() < 0 or v.max() >= limit):
                raise BatchError(f"{name} must index {limit} entries, got values {np.unique(v)}")
        if targets and not isinstance(batch["decoder_target_tokens"], jax.core.Tracer):
            self._check_target_ids(batch)

    def _check_target_ids(self, batch):
        tgt = np.asarray(batch["decoder_target_tokens"])
        weights = np.asarray(batch["decoder_loss_weights"]) > 0
        mod = np.asarray(batch["target_modality"])
        slots = np.arange(self.k_max)[None, None, :]
        ok = self.logit_masks[mod[:, None, None], slots, tgt]
        bad = weights & ~ok
        if bad.any():
            e, t, s = np.argwhere(bad)[0]
            raise BatchError(
                f"decoder_target_tokens[{e}, {t}, {s}] = {tgt[e, t, s]} has loss weight but is "
                f"not a valid {MODALITIES[mod[e]]} id for slot {s}"
            )

    # ---------------------------------------------------------- training
    def slots_needed(self, target_modality) -> int:
        """Depth slots a batch's loss needs (host-side): 1 if every target is symbolic, else K.

        Symbolic targets fill slot 0 only; their other slots are fully masked
        and carry no loss weight, so computing them is pure waste.
        """
        uses_more = self.uses_more_slots[np.asarray(target_modality)]
        return self.k_max if uses_more.any() else 1

    def output_window(self, modalities) -> OutputWindow:
        """The output columns (and depth slots) a loss over targets of `modalities`
        (indices into MODALITIES) needs; cached per set."""
        key = tuple(sorted({int(m) for m in modalities}))
        if key not in self._windows:
            slots = self.slots_needed(list(key))
            self._windows[key] = output_window(self.logit_masks, key, slots)
        return self._windows[key]

    def logits(self, params, batch, rng=None, slots=None):
        """Teacher-forced float32 logits [B, L_out, S, V] (S = slots, default K), masked
        outside valid ids."""
        self.validate_batch(batch)
        return self._apply(params, batch, rng, slots=slots).astype(jnp.float32)

    def _apply(self, params, batch, rng, slots=None, columns=None):
        module = self.module if rng is None else self.train_module
        rngs = {} if rng is None else {"rngs": {"dropout": rng}}
        inputs = _network_inputs(batch)
        return module.apply({"params": params}, **inputs, slots=slots, columns=columns, **rngs)

    def loss_fn(self, params, batch, rng=None, modalities=None):
        """(loss, metrics): token cross-entropy with label smoothing and z-loss, task-weighted.

        The loss is normalized by the number of weighted target tokens; per-task
        metrics (`<task>/loss`, `<task>/accuracy`, `<task>/num_tokens`) come
        from the unsmoothed cross-entropy. Only the output columns and depth
        slots the batch's target modalities can use are computed (see
        `output_window`): those present, for a concrete batch; for a traced
        one, `modalities` (static names, e.g. a mixture's target modalities;
        default all), narrowed by a `lax.cond` to its symbolic ones when no
        target uses more than slot 0. A traced batch with a target modality
        outside `modalities` gets a loss of ~1e9 on those tokens.
        Differentiate through `loss_and_grad` rather than `jax.grad(loss_fn)`:
        autodiff through a traced cond keeps the residuals of both branches,
        which made a symbolic training step about twice as slow.
        """
        self.validate_batch(batch)
        return self._dispatch(self._loss, params, batch, rng, modalities)

    def loss_and_grad(self, params, batch, rng=None, modalities=None):
        """((loss, metrics), grads of params): what a training step needs.

        The choice of window happens outside autodiff, so each branch is a
        plain forward and backward pass of its own.
        """
        self.validate_batch(batch)

        def grad_fn(params, batch, rng, window):
            return jax.value_and_grad(self._loss, has_aux=True)(params, batch, rng, window)

        return self._dispatch(grad_fn, params, batch, rng, modalities)

    def _dispatch(self, fn, params, batch, rng, modalities):
        """fn(params, batch, rng, window) with the output window fixed: the present target
        modalities' (host-side) or, traced, `modalities`' or their symbolic ones' (cond)."""
        allowed = tuple(range(len(MODALITIES)))
        if modalities is not None:
            unknown = sorted(set(modalities) - set(MODALITIES))
            if unknown:
                raise ValueError(f"unknown target modalities {unknown}; expected {MODALITIES}")
            allowed = tuple(sorted({MODALITIES.index(m) for m in modalities}))
        target_modality = batch["target_modality"]
        if not isinstance(target_modality, jax.core.Tracer):
            present = {int(m) for m in np.unique(np.asarray(target_modality))}
            if not present <= set(allowed):
                names = sorted(MODALITIES[m] for m in present - set(allowed))
                raise BatchError(f"target_modality holds {names}, not among {modalities}")
            return fn(params, batch, rng, window=self.output_window(present))
        symbolic = tuple(m for m in allowed if not self.uses_more_slots[m])
        if not symbolic or len(symbolic) == len(allowed):
            return fn(params, batch, rng, window=self.output_window(allowed))
        uses_more = jnp.any(jnp.asarray(self.uses_more_slots)[target_modality])
        return jax.lax.cond(
            uses_more,
            functools.partial(fn, window=self.output_window(allowed)),
            functools.partial(fn, window=self.output_window(symbolic)),
            params,
            batch,
            rng,
        )

    def _loss(self, params, batch, rng, window: OutputWindow):
        cfg = self.config
        # Activation-dtype logits: softmax_statistics reads them as float32 and
        # writes their gradient in their own dtype (no float32 copy of them).
        rng = rng if cfg.dropout_rate else None
        logits = self._apply(params, batch, rng, columns=window.columns)  # [B, L, S, N]
        targets, weights = _window_targets(batch, window)
        masks = None
        if cfg.label_smoothing:
            window_masks = restrict_masks(self.logit_masks, window.columns)  # [M, S, N]
            masks = jnp.asarray(window_masks)[batch["target_modality"]][:, None]
        log_z, target_logit, valid_sum = softmax_statistics(logits, targets, masks)
        nll = log_z - target_logit
        loss = nll
        if cfg.label_smoothing:
            loss = _smoothed_loss(nll, log_z, valid_sum, masks.sum(-1), cfg.label_smoothing)
        z_loss = cfg.z_loss * jnp.square(log_z)
        task_w = jnp.asarray(self.task_weights)[batch["task"]][:, None, None]
        num_tokens = jnp.maximum(weights.sum(), 1.0)
        total = jnp.sum((loss + z_loss) * weights * task_w) / num_tokens
        correct = (jnp.argmax(logits, axis=-1) == targets).astype(jnp.float32)
        metrics = {
            "loss": total,
            "cross_entropy": jnp.sum(nll * weights) / num_tokens,
            "z_loss": jnp.sum(z_loss * weights) / num_tokens,
            "accuracy": jnp.sum(correct * weights) / num_tokens,
            "num_tokens": weights.sum(),
        }
        per_task = jax.nn.one_hot(batch["task"], len(TASKS), dtype=jnp.float32)  # [B, T]
        count = per_task.T @ weights.sum(axis=(1, 2))
        task_nll = per_task.T @ jnp.sum(nll * weights, axis=(1, 2))
        task_acc = per_task.T @ jnp.sum(correct * weights, axis=(1, 2))
        for i, task in enumerate(TASKS):
            metrics[f"{task}/loss"] = task_nll[i] / jnp.maximum(count[i], 1.0)
            metrics[f"{task}/accuracy"] = task_acc[i] / jnp.maximum(count[i], 1.0)
            metrics[f"{task}/num_tokens"] = count[i]
        return total, metrics

    def score_batch(self, params, batch, modalities=None):
        """Log-likelihood [B] of each example's weighted target tokens (logits over the
        output window, chosen as in loss_fn)."""
        self.validate_batch(batch)
        return self._dispatch(self._scores, params, batch, None, modalities)

    def _scores(self, params, batch, rng, window: OutputWindow):
        logits = self._apply(params, batch, rng, columns=window.columns)
        targets, weights = _window_targets(batch, window)
        log_z, target_logit, _ = softmax_statistics(logits, targets, None)
        return jnp.sum((target_logit - log_z) * weights, axis=(1, 2))

    # --------------------------------------------------------- inference
    def predict_batch(self, params, batch, rng=None, **decode_args):
        """Decoded frames [B, L, K] (EOS frame, then PAD); see decoding.decode for the args."""
        self.validate_batch(batch, targets=False)
        return decoding.decode(self, params, batch, rng, **decode_args)


def _network_inputs(batch: dict) -> dict:
    names = (
        "encoder_input_tokens",
        "encoder_input_modality",
        "target_modality",
        "decoder_input_tokens",
        "decoder_target_tokens",
        "encoder_continuous_inputs",
    )
    return {n: batch[n] for n in names if n in batch}


def _window_targets(batch, window):
    """(targets as columns of the window [B, L, S], float32 loss weights [B, L, S]) of the
    window's S slots; later slots carry no weight in a batch the window was chosen for."""
    slots = window.slots
    ids = batch["decoder_target_tokens"][..., :slots]
    targets = jnp.asarray(window.positions)[jnp.arange(slots), ids]
    weights = jnp.asarray(batch["decoder_loss_weights"], jnp.float32)[..., :slots]
    return targets, weights


def _smoothed_loss(nll, log_z, valid_sum, num_valid, eps):
    """KL to a target that keeps 1-eps on the label and spreads eps over the valid ids only.

    valid_sum is the sum of the valid ids' logits, so the mean of their
    log-probabilities is valid_sum / n - log_z. The constant entropy of the
    soft target is subtracted so a perfect model scores 0.
    """
    n_valid = jnp.maximum(num_valid, 1).astype(jnp.float32)  # [B,1,K]
    mean_valid = (valid_sum - num_valid * log_z) / n_valid
    on = 1.0 - eps + eps / n_valid
    off = eps / n_valid
    entropy = -(on * jnp.log(on) + (n_valid - 1) * off * jnp.log(jnp.maximum(off, 1e-20)))
    return (1.0 - eps) * nll - eps * mean_valid - entropy


def _check_feature(name, value, dims, kind, batch_size):
    shape = tuple(getattr(value, "shape", ()))
    dtype = getattr(value, "dtype", None)
    want = "[" + ", ".join(str(d) for d in dims) + "]"
    ok = len(shape) == len(dims)
    for got, d in zip(shape, dims, strict=False):
        if d == "B":
            ok &= got == batch_size
        elif isinstance(d, str) and d.startswith("<="):
            ok &= 0 < got <= int(d[2:])
        elif d is not None:
            ok &= got == d
    if not ok:
        raise BatchError(f"feature {name!r} has shape {shape}; expected {want} (B = {batch_size})")
    family = jnp.integer if kind == "int" else jnp.floating
    if dtype is None or not jnp.issubdtype(dtype, family):
        raise BatchError(f"feature {name!r} has dtype {dtype}; expected an {kind} dtype")


@functools.cache
def count_params(config: ModelConfig, vocab: VocabularyLayout) -> int:
    """Number of parameters of a config with a vocabulary (no memory is allocated)."""
    return UnifiedModel(config, vocab).num_params()


__all__ = ["BatchError", "UnifiedModel", "count_params", "PAD_ID"]
