"""The T5X-style model API of the unified transformer: loss_fn, score_batch, predict_batch.

The features a batch holds are declared in `model/features.py` (MODEL_FEATURES,
which the SeqIO side writes): input and output frames [B, L, K], modality and
task indices [B] and loss weights. A batch may mix modalities: logit masks and
positional tables are gathered per example.

gin builds the model as T5X's configs do (`gin/models/base.gin`):

    MODEL = @UnifiedModel()
    UnifiedModel.config = @ModelConfig()
    UnifiedModel.label_smoothing = 0.1
    VocabularyConfig.audio_codebooks = 4    # the vocabulary's layout

and `gin_model(gin_files, bindings)` parses such files and returns MODEL.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model import decoding
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.features import (
    MODEL_FEATURES,
    BatchError,
    check_features,
    check_indices,
    required_features,
)
from mt3_unified.model.losses import softmax_statistics
from mt3_unified.model.network import UnifiedTransformer
from mt3_unified.model.output_window import OutputWindow, output_window, restrict_masks
from mt3_unified.runtime.gin_config import parse_gin
from mt3_unified.vocab.layout import (
    MODALITIES,
    PAD_ID,
    SYMBOLIC_MODALITIES,
    TASKS,
    VocabularyLayout,
)

# Features the network reads; the others (task, loss weights) only the loss does.
NETWORK_FEATURES = tuple(n for n, spec in MODEL_FEATURES.items() if spec.network)
# What decoding reads: the network's inputs without the targets.
DECODING_FEATURES = tuple(n for n in NETWORK_FEATURES if not MODEL_FEATURES[n].target)


@gin.configurable
class UnifiedModel:
    """Binds a ModelConfig to a vocabulary and the loss's settings, and exposes the functions
    a trainer jits.

    `vocabulary` defaults to the layout of VocabularyConfig() as gin binds it
    (whose codebooks must be those of the codecs that baked the corpus).
    `label_smoothing` spreads that much of each target's mass over the ids its
    modality may emit in its slot; `z_loss` weighs log(Z)^2 (PaLM's
    auxiliary loss); `task_weights` maps task names (vocab.layout.TASKS) to
    the weight of their tokens in the loss, 1 for a task it leaves out.
    """

    def __init__(
        self,
        config: ModelConfig,
        vocabulary: VocabularyLayout | None = None,
        label_smoothing: float = 0.0,
        z_loss: float = 1e-4,
        task_weights: Mapping[str, float] | None = None,
    ):
        vocabulary = VocabularyLayout() if vocabulary is None else vocabulary
        self.config = config
        self.vocabulary = vocabulary
        self.label_smoothing = label_smoothing
        self.z_loss = z_loss
        self.task_weights = _every_task_weight(task_weights or {})
        self._task_weight_vector = np.array(list(self.task_weights.values()), np.float32)
        self.logit_masks = np.stack([vocabulary.modality_masks[m] for m in MODALITIES])
        self.num_codebooks = np.array([vocabulary.num_codebooks(m) for m in MODALITIES], np.int32)
        self.k_max = self.logit_masks.shape[1]
        self.bos_ids = np.array([vocabulary.target_id(m) for m in MODALITIES], np.int32)
        # Modalities whose frames use slots beyond the first (image and audio RVQ codes).
        self.uses_more_slots = self.logit_masks[:, 1:].any(axis=(1, 2))
        self._windows: dict[tuple[int, ...], OutputWindow] = {}
        self.module = UnifiedTransformer(config, self.logit_masks)
        self.train_module = UnifiedTransformer(config, self.logit_masks, deterministic=False)

    # ------------------------------------------------------------- params
    def dummy_batch(self, batch_size=1, input_len=8, target_len=8) -> dict:
        """An all-PAD batch of the right shapes and dtypes (for init and shape inference)."""
        sizes = {
            "batch": batch_size,
            "input_length": input_len,
            "target_length": target_len,
            **self._axis_sizes(),
        }
        names = required_features(targets=True, continuous=bool(self.config.continuous_input_dim))
        specs = {name: MODEL_FEATURES[name] for name in names}
        return {name: np.zeros([sizes[a] for a in s.axes], s.dtype) for name, s in specs.items()}

    def _axis_sizes(self) -> dict[str, int]:
        return {"slot": self.k_max, "continuous": self.config.continuous_input_dim}

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

        Names, shapes and dtypes are checked against MODEL_FEATURES always
        (also on tracers, so a jitted caller fails while tracing, before
        compiling); values (modality and task indices, targets inside their
        modality's ids) are checked when they are concrete.
        """
        cfg = self.config
        names = required_features(targets, continuous=bool(cfg.continuous_input_dim))
        limits = {"input_length": cfg.max_input_len, "target_length": cfg.max_target_len}
        check_features(batch, names, self._axis_sizes(), limits)
        indices = [n for n in names if MODEL_FEATURES[n].indexes]
        if any(isinstance(batch[n], jax.core.Tracer) for n in indices):
            return
        check_indices(batch, indices)
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
        rng = rng if cfg.dropout_rate else None
        stats = self._window_statistics(params, batch, rng, window, self.label_smoothing > 0)
        log_z, target_logit, valid_sum, num_valid, correct = stats
        weights = _window_weights(batch, window)
        nll = log_z - target_logit
        loss = nll
        if self.label_smoothing:
            loss = _smoothed_loss(nll, log_z, valid_sum, num_valid, self.label_smoothing)
        z_loss = self.z_loss * jnp.square(log_z)
        task_w = jnp.asarray(self._task_weight_vector)[batch["task"]][:, None, None]
        num_tokens = jnp.maximum(weights.sum(), 1.0)
        total = jnp.sum((loss + z_loss) * weights * task_w) / num_tokens
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
        log_z, target_logit, *_ = self._window_statistics(params, batch, rng, window, False)
        weights = _window_weights(batch, window)
        return jnp.sum((target_logit - log_z) * weights, axis=(1, 2))

    def _window_statistics(self, params, batch, rng, window: OutputWindow, with_valid: bool):
        """Per target token [B, L, S]: log_z, the target's logit, the sum of the valid
        ids' logits and their count (zeros unless `with_valid`, for label smoothing),
        and whether the argmax is the target (float32). Each of the window's groups
        of slots is computed at its own width (OutputWindow.groups)."""
        # Activation-dtype logits: softmax_statistics reads them as float32 and
        # writes their gradient in their own dtype (no float32 copy of them).
        columns = tuple(group.columns for group in window.groups)
        logits = self._apply(params, batch, rng, columns=columns)  # ([B, L, S_g, N_g], ...)
        ids = batch["decoder_target_tokens"]
        parts = []
        for group, group_logits in zip(window.groups, logits, strict=True):
            slots = len(group.columns)
            targets = jnp.asarray(group.positions)[
                jnp.arange(slots), ids[..., group.start : group.start + slots]
            ]
            masks = None
            if with_valid:
                group_masks = restrict_masks(self.logit_masks, group.columns, group.start)
                masks = jnp.asarray(group_masks)[batch["target_modality"]][:, None]
            log_z, target_logit, valid_sum = softmax_statistics(group_logits, targets, masks)
            num_valid = jnp.zeros_like(log_z) if masks is None else masks.sum(-1)
            correct = (jnp.argmax(group_logits, axis=-1) == targets).astype(jnp.float32)
            parts.append((log_z, target_logit, valid_sum, num_valid, correct))
        return tuple(jnp.concatenate(stat, axis=-1) for stat in zip(*parts, strict=True))

    # --------------------------------------------------------- inference
    def predict_batch(self, params, batch, rng=None, **settings):
        """Decoded frames [B, L, K] (EOS frame, then PAD); `settings` are
        decoding.DecodingSettings' fields (max_length, temperature, top_k, top_p,
        num_beams, length_penalty)."""
        return self.predict_batch_with_aux(params, batch, rng, **settings)[0]

    def predict_batch_with_aux(self, params, batch, rng=None, **settings):
        """(decoded frames [B, L, K], {"scores": [B]}): the scores are the model's
        log-likelihood of each example's decoded frames, what score_batch gives them
        as targets (temperature and filters shape the choice, not the score)."""
        self.validate_batch(batch, targets=False)
        settings = decoding.DecodingSettings(**settings)
        max_length = settings.max_length or self.config.max_target_len
        if max_length > self.config.max_target_len:
            raise ValueError(f"max_length {max_length} exceeds max_target_len")
        if settings.num_beams > 1:
            targets = {MODALITIES[m] for m in np.asarray(batch["target_modality"])}
            if not targets <= set(SYMBOLIC_MODALITIES):
                raise ValueError("beam search decodes symbolic targets only (lmx, midi)")
        settings = dataclasses.replace(settings, max_length=max_length)
        inputs = {n: jnp.asarray(batch[n]) for n in DECODING_FEATURES if n in batch}
        rng = jax.random.key(0) if rng is None else rng
        window = self.decoding_window(batch["target_modality"])
        frames, scores = self._decode(params, inputs, rng, window, settings)
        return frames, {"scores": scores}

    @functools.partial(jax.jit, static_argnums=(0, 4, 5))
    def _decode(self, params, inputs, rng, window, settings):
        beams = settings.num_beams
        if beams > 1:  # each example's beams side by side
            inputs = {name: jnp.repeat(value, beams, axis=0) for name, value in inputs.items()}
        steps = self.decoding_steps(params, inputs, settings.max_length, window)
        if beams > 1:
            return decoding.beam_search(steps, settings.max_length, beams, settings.length_penalty)
        return decoding.sample(
            steps, rng, settings.max_length, settings.temperature, settings.top_k, settings.top_p
        )

    def decoding_window(self, target_modality) -> OutputWindow:
        """The output window decoding a batch's target modalities uses (all of them when
        traced)."""
        if isinstance(target_modality, jax.core.Tracer):
            return self.output_window(range(len(MODALITIES)))
        return self.output_window(np.unique(np.asarray(target_modality)))

    def decoding_steps(self, params, batch, max_length: int, window=None) -> decoding.Steps:
        """The step functions and initial state decoding needs for `batch`'s inputs (see
        decoding.Steps); the encoder runs here, once, and so do the cross-attention keys
        and values, which the step functions close over. Logits cover `window`'s ids
        (default: decoding_window's)."""
        apply = functools.partial(self.module.apply, {"params": params})
        tm = jnp.asarray(batch["target_modality"])
        window = window or self.decoding_window(batch["target_modality"])
        encoded, mask = apply(
            batch["encoder_input_tokens"],
            batch["encoder_input_modality"],
            tm,
            batch.get("encoder_continuous_inputs"),
            method="encode",
        )
        cache = apply(encoded, mask, max_length, method="init_cache")
        fixed = {name: cache[name] for name in ("cross", "cross_mask")}

        def frame_step(frame, self_cache):
            hidden, cache = apply(frame, tm, {**fixed, "self": self_cache}, method="decode_step")
            return hidden, cache["self"]

        def slot_logits(hidden, codes, slot):
            columns = window.columns[: slot + 1]
            logits = apply(hidden, codes, tm, slot, columns=columns, method="depth_logits")
            return logits[:, 0]

        first = jnp.zeros((tm.shape[0], 1, self.k_max), jnp.int32)
        return decoding.Steps(
            frame_step=frame_step,
            slot_logits=slot_logits,
            columns=window.columns,
            num_codebooks=jnp.asarray(self.num_codebooks)[tm],
            first_frame=first.at[:, 0, 0].set(jnp.asarray(self.bos_ids)[tm]),
            cache=cache["self"],
        )


def _network_inputs(batch: dict) -> dict:
    return {name: batch[name] for name in NETWORK_FEATURES if name in batch}


def _every_task_weight(task_weights: Mapping[str, float]) -> dict[str, float]:
    """{task: weight} for every task in TASKS order, 1 where `task_weights` names none."""
    unknown = sorted(set(task_weights) - set(TASKS))
    if unknown:
        raise ValueError(f"task_weights names unknown tasks {unknown}; the tasks are {TASKS}")
    return {task: float(task_weights.get(task, 1.0)) for task in TASKS}


def _window_weights(batch, window):
    """Float32 loss weights [B, L, S] of the window's S slots; later slots carry no weight
    in a batch the window was chosen for."""
    return jnp.asarray(batch["decoder_loss_weights"], jnp.float32)[..., : window.slots]


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


def gin_model(gin_files: Sequence[str], bindings: Sequence[str] = ()) -> UnifiedModel:
    """The UnifiedModel gin's MODEL macro builds after parsing `gin_files` and `bindings`.

    Files and their includes are found as given or under the repository's root
    (e.g. "gin/models/tiny.gin"), whatever the working directory. Parsing adds to
    the process's gin config, as a T5X entry point's does; clear it first for a
    config of these files alone.
    """
    parse_gin(gin_files, bindings)
    return gin.query_parameter("%MODEL").scoped_configurable_fn()


@functools.cache
def count_params(config: ModelConfig, vocabulary: VocabularyLayout) -> int:
    """Number of parameters of a config with a vocabulary (no memory is allocated)."""
    return UnifiedModel(config, vocabulary).num_params()


__all__ = ["BatchError", "UnifiedModel", "count_params", "gin_model", "PAD_ID"]
