"""How well the spectral audio codec's bodies learn a corpus's spectra with no quantizer.

Each body (encoder then decoder, the codes' bottleneck left out) trains on the corpus's
crops with the codec's own loss, optimizer and schedule for ``--steps`` steps, and its
validation log-mel distance (`spectral.spectral_distance`, 128 bands) is printed beside
the baseline computed in the same run: PCA of the training crops' log-magnitude frames
with as many components as the codec's latent (the best linear code of that width,
in the squared-error sense), and the ratio of the two.

    python bench/spectral_stacks.py --data-dir data               # the demo corpus
    python bench/spectral_stacks.py --data-dir data --steps 1000

Bodies: the codec's ConvNeXt stacks (`SpectralEncoder`, `SpectralDecoder`), the same
with `AudioCodecConfig.linear_path`, and one linear map each way on the raw
log-magnitudes. The corpus must be built (`mt3u build synthetic --config demo`).
"""

from __future__ import annotations

import argparse
import dataclasses

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mt3_unified.codecs import train as codec_train
from mt3_unified.codecs.spectral import (
    LOG_MAGNITUDE_FLOOR,
    SpectralDecoder,
    SpectralEncoder,
    spectral_distance,
    stft,
)
from mt3_unified.runtime.optimizers import adamw_warmup_cosine


class Body(nn.Module):
    """Audio [B, T] -> (decoded STFT magnitudes, the audio's own), both [B, frames, bins]."""

    config: object
    kind: str  # "stacks" | "linear"

    @nn.compact
    def __call__(self, audio):
        c = self.config
        audio = jnp.pad(audio, ((0, 0), (0, -audio.shape[1] % c.hop)))
        reference = jnp.abs(stft(audio, c.stft_window, c.hop))
        if self.kind == "linear":
            latents = nn.Dense(c.latent_dim)(jnp.log(reference + LOG_MAGNITUDE_FLOOR))
            return jnp.exp(nn.Dense(reference.shape[-1])(latents)), reference
        latents = SpectralEncoder(c)(audio[..., None])
        return SpectralDecoder(c).magnitude(latents), reference


def train_body(
    config, kind: str, data, steps: int, schedule: int, learning_rate: float, warmup: int = 20
):
    """Validation spectral distance of a body after ``steps`` of the ``schedule`` steps of the
    codec's loss and learning-rate schedule."""
    train_batches, validation = data
    model = Body(config, kind)
    params = model.init(jax.random.key(0), jnp.asarray(next(train_batches)[:1]))["params"]
    tx = adamw_warmup_cosine(learning_rate, schedule, warmup)
    opt_state = tx.init(params)

    def distance(params, batch):
        estimate, reference = model.apply({"params": params}, batch)
        return spectral_distance(estimate, reference, config.sample_rate, config.spectral_mels)

    @jax.jit
    def step(params, opt_state, batch):
        grads = jax.grad(lambda p: config.mel_weight * distance(p, batch))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    for _ in range(steps):
        params, opt_state = step(params, opt_state, jnp.asarray(next(train_batches)))
    score = jax.jit(distance)
    return float(np.mean([float(score(params, jnp.asarray(b))) for b in validation]))


def pca_distance(config, data, components: int, batches: int = 60) -> float:
    """Validation spectral distance of log-magnitude frames projected on the training
    frames' first ``components`` principal axes."""
    train_batches, validation = data
    bins = config.stft_window // 2 + 1

    def magnitudes(batch):
        return np.asarray(jnp.abs(stft(jnp.asarray(batch), config.stft_window, config.hop)))

    frames = np.concatenate(
        [
            np.log(magnitudes(next(train_batches)) + LOG_MAGNITUDE_FLOOR).reshape(-1, bins)
            for _ in range(batches)
        ]
    )
    mean = frames.mean(0)
    axes = np.linalg.svd(frames - mean, full_matrices=False)[2][:components]
    scores = []
    for batch in validation:
        reference = magnitudes(batch)
        logs = np.log(reference + LOG_MAGNITUDE_FLOOR) - mean
        estimate = np.maximum(np.exp(mean + logs @ axes.T @ axes) - LOG_MAGNITUDE_FLOOR, 0.0)
        distance = spectral_distance(
            jnp.asarray(estimate), jnp.asarray(reference), config.sample_rate,
            config.spectral_mels,
        )  # fmt: skip
        scores.append(float(distance))
    return float(np.mean(scores))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gin-file", default="gin/codecs/audio_demo_spectral.gin")
    parser.add_argument("--corpus", default="synthetic_scores/demo")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args(argv)
    gin.parse_config_files_and_bindings(
        [args.gin_file],
        [f"corpus_data.corpus={args.corpus!r}", f"corpus_data.data_dir={args.data_dir!r}"],
    )
    config = codec_train.configured_codec()
    schedule = gin.query_parameter("train_codec.steps")
    learning_rate = gin.query_parameter("train_codec.learning_rate")
    warmup = gin.query_parameter("train_codec.warmup_steps")
    baseline = pca_distance(config, codec_train.corpus_data(config), config.latent_dim)
    print(f"{args.corpus}, {args.steps} steps of {schedule}, latent {config.latent_dim}")
    print("| body | validation log-mel distance | PCA baseline (same run) | ratio |")
    print("|---|---|---|---|")
    bodies = [
        ("ConvNeXt stacks", dataclasses.replace(config, linear_path=False), "stacks"),
        ("stacks + linear_path", dataclasses.replace(config, linear_path=True), "stacks"),
        ("one linear map each way", config, "linear"),
    ]
    for name, body_config, kind in bodies:
        data = codec_train.corpus_data(config)  # the same crops for every body
        got = train_body(body_config, kind, data, args.steps, schedule, learning_rate, warmup)
        print(f"| {name} | {got:.3f} | {baseline:.3f} | {got / baseline:.2f} |", flush=True)


if __name__ == "__main__":
    main()
