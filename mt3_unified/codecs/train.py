"""Gin-configured training and evaluation of the image and audio codecs, with Orbax resume."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mt3_unified.codecs import data as codec_data
from mt3_unified.codecs.audio import WaveDiscriminator
from mt3_unified.codecs.loading import build_codec, save_codec_config
from mt3_unified.codecs.rqvae import RQVAEConfig
from mt3_unified.codecs.rvq import (
    RESTART_WINDOW,
    perplexity,
    prng_key,
    restart_dead_codes,
    restart_thrashing_warning,
)
from mt3_unified.runtime.checkpoints import checkpoint_manager, restore_latest, save_checkpoint
from mt3_unified.runtime.optimizers import adamw_warmup_cosine
from mt3_unified.runtime.summaries import SummaryWriter


def init_variables(model: nn.Module, example: np.ndarray, seed: int = 0) -> dict:
    """Unboxed variables {'params', 'vq'} for a batch shaped like ``example``."""
    variables = model.init(prng_key(seed), jnp.asarray(example[:1]))
    return nn.meta.unbox(dict(variables))


@gin.configurable
def corpus_data(
    config,
    batch_size: int = gin.REQUIRED,
    crop: int = gin.REQUIRED,
    corpus: str = "synthetic_scores",
    data_dir: str | None = None,
    validation_split: str = "validation",
    seed: int = 0,
):
    """(endless training batches, validation batches) of crops from a TFDS corpus.

    ``crop`` is a width in pixels for images and a length in samples for audio.
    """
    image = isinstance(config, RQVAEConfig)

    def items(split):
        examples = codec_data.load_corpus(corpus, split, data_dir)
        if image:
            return codec_data.image_examples(examples, config.height)
        return codec_data.audio_examples(examples, config.sample_rate)

    fill = 1.0 if image else 0.0
    train = codec_data.random_crops(items("train"), batch_size, crop, fill, seed)
    return train, codec_data.fixed_crops(items(validation_split), batch_size, crop, fill)


def _adversarial(disc: nn.Module, disc_params, fake, real):
    """LSGAN generator loss and L1 feature matching against the real audio's features."""
    adv = feat = 0.0
    for (logit_f, feats_f), (_, feats_r) in zip(
        disc.apply(disc_params, fake), disc.apply(disc_params, real), strict=True
    ):
        adv = adv + jnp.mean((logit_f - 1.0) ** 2)
        for a, b in zip(feats_f, feats_r, strict=True):
            feat = feat + jnp.mean(jnp.abs(a - jax.lax.stop_gradient(b)))
    return adv, feat


def _discriminator_loss(disc, disc_params, fake, real):
    loss = 0.0
    for (logit_f, _), (logit_r, _) in zip(
        disc.apply(disc_params, fake), disc.apply(disc_params, real), strict=True
    ):
        loss = loss + jnp.mean(logit_f**2) + jnp.mean((logit_r - 1.0) ** 2)
    return loss


def evaluate(model: nn.Module, loss_fn: Callable, variables: dict, batches) -> dict[str, float]:
    """Validation metrics averaged over batches, with perplexity over all codes of the split.

    ``perplexity`` is the mean over codebooks of each codebook's perplexity on the
    whole split; ``perplexity_min`` the worst codebook's.
    """
    step = jax.jit(functools.partial(loss_fn, model, train=False))
    sums: dict[str, float] = {}
    codes = []
    for batch in batches:
        _, aux = step(variables, jnp.asarray(batch))
        for name, value in aux["metrics"].items():
            sums[name] = sums.get(name, 0.0) + float(value)
        codes.append(np.asarray(aux["codes"]).reshape(-1, aux["codes"].shape[-1]))
    metrics = {name: total / len(batches) for name, total in sums.items()}
    codes = np.concatenate(codes)
    size = model.config.rvq.codebook_size
    per_book = [float(perplexity(jnp.asarray(codes[:, k]), size)) for k in range(codes.shape[1])]
    metrics["perplexity"] = float(np.mean(per_book))
    metrics["perplexity_min"] = float(np.min(per_book))
    return metrics


@gin.configurable
def train_codec(
    workdir: str | None,
    config=gin.REQUIRED,
    data: tuple[Iterator[np.ndarray], list[np.ndarray]] | None = None,
    steps: int = 1000,
    learning_rate: float = 1e-3,
    warmup_steps: int = 100,
    eval_every: int = 500,
    checkpoint_every: int = 500,
    keep_checkpoints: int | None = 2,
    restart_every: int = 20,
    seed: int = 0,
) -> dict:
    """Trains a codec; returns {'first': metrics at step 0, 'last': final metrics, 'variables'}.

    ``data`` is (endless iterator of training batches, list of validation batches);
    None reads the corpus through `corpus_data`. Images are [B, H, W] in [0, 1],
    audio [B, T]. With a ``workdir`` it writes TensorBoard summaries and Orbax
    checkpoints there (the newest ``keep_checkpoints``; None keeps every one, for a curve
    of a metric against codec steps) and resumes from the latest checkpoint.
    """
    model, loss_fn = build_codec(config)
    train_batches, validation = data if data is not None else corpus_data(config)
    first_batch = next(train_batches)
    variables = init_variables(model, first_batch, seed)
    tx = adamw_warmup_cosine(learning_rate, steps, warmup_steps)
    state = {
        "params": variables["params"],
        "vq": variables["vq"],
        "opt_state": tx.init(variables["params"]),
        "step": jnp.asarray(0, jnp.int32),  # 0-d array: Orbax cannot restore numpy scalars
    }
    use_disc = getattr(config, "use_discriminator", False)
    disc = WaveDiscriminator()
    disc_tx = optax.adam(learning_rate, b1=0.5, b2=0.9)
    if use_disc:
        disc_params = disc.init(prng_key(seed + 1), jnp.asarray(first_batch[:1]))
        state["disc_params"], state["disc_opt_state"] = disc_params, disc_tx.init(disc_params)

    manager = None
    if workdir:
        manager = checkpoint_manager(workdir, keep_checkpoints)
        if manager.latest_step() is not None:
            state = restore_latest(manager, state, workdir)
            logging.info("resumed from step %d", int(state["step"]))
        # Loading reads the config from here, never from gin (see codecs/loading.py).
        save_codec_config(workdir, config, gin.config_str())

    @jax.jit
    def train_step(state, batch, key):
        def objective(params):
            variables = {"params": params, "vq": state["vq"]}
            loss, aux = loss_fn(model, variables, batch, True, {"quantizer": key})
            if use_disc:
                adv, feat = _adversarial(disc, state["disc_params"], aux["recon"], batch)
                loss = loss + config.adversarial_weight * adv + config.feature_weight * feat
                aux["metrics"]["adversarial_loss"] = adv
            return loss, aux

        grads, aux = jax.grad(objective, has_aux=True)(state["params"])
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        new = dict(state, opt_state=opt_state, vq=aux["vq"], step=state["step"] + 1)
        new["params"] = optax.apply_updates(state["params"], updates)
        if use_disc:
            fake = jax.lax.stop_gradient(aux["recon"])
            d_loss, d_grads = jax.value_and_grad(
                lambda p: _discriminator_loss(disc, p, fake, batch)
            )(state["disc_params"])
            d_updates, new["disc_opt_state"] = disc_tx.update(d_grads, state["disc_opt_state"])
            new["disc_params"] = optax.apply_updates(state["disc_params"], d_updates)
            aux["metrics"]["discriminator_loss"] = d_loss
        return new, aux["metrics"]

    threshold = config.rvq.dead_code_threshold
    restart = jax.jit(lambda v: restart_dead_codes(v, threshold))
    total_codes = config.rvq.num_codebooks * config.rvq.codebook_size
    restart_counts = []  # the first 2 x RESTART_WINDOW restarts', judged once
    summaries = SummaryWriter(workdir)

    def variables_of(state):
        return {"params": state["params"], "vq": state["vq"]}

    def run_eval(step):
        metrics = evaluate(model, loss_fn, variables_of(state), validation)
        summaries.write("validation", step, metrics)
        logging.info("step %d validation %s", step, metrics)
        return metrics

    start = int(state["step"])
    first = run_eval(start) if start == 0 else None
    # The batches a resumed run skips: step 0 took `first_batch`, step s > 0 the iterator's
    # s-th next batch, so a resumed run sees the batches an uninterrupted one would have.
    for _ in range(start - 1):
        next(train_batches)
    base_key = prng_key(seed)
    metrics = {}
    try:
        for step in range(start, steps):
            batch = jnp.asarray(first_batch if step == 0 else next(train_batches))
            state, metrics = train_step(state, batch, jax.random.fold_in(base_key, step))
            done = step + 1
            if threshold > 0 and done % restart_every == 0 and done < steps * 0.9:
                new_vars, restarted = restart(variables_of(state))
                state = dict(state, params=new_vars["params"], vq=new_vars["vq"])
                metrics = dict(metrics, restarted_codes=restarted)
                if len(restart_counts) < 2 * RESTART_WINDOW:
                    restart_counts.append(int(restarted))
                    if len(restart_counts) == 2 * RESTART_WINDOW:
                        recent = restart_counts[RESTART_WINDOW:]
                        warning = restart_thrashing_warning(recent, total_codes, threshold)
                        if warning:
                            logging.warning("step %d: %s", done, warning)
            if done % 10 == 0 or done == steps:
                summaries.write("train", done, jax.device_get(metrics))
            if eval_every and done % eval_every == 0 and done != steps:
                run_eval(done)
            if manager and (done % checkpoint_every == 0 or done == steps):
                save_checkpoint(manager, done, state)
    finally:
        # Whatever ends the loop, a save already started is finished, never left half written.
        if manager:
            manager.wait_until_finished()
    last = run_eval(steps)
    return {"first": first, "last": last, "variables": variables_of(state), "model": model}


def configured_codec():
    """The codec config that the parsed gin files bind to the macro CODEC."""
    return gin.query_parameter("%CODEC").scoped_configurable_fn()
