"""Residual vector quantization: K codebooks, EMA or loss-learned, with dead-code restarts."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp

from mt3_unified.vocab.layout import DEFAULT_CODEBOOK_SIZE, DEFAULT_CODEBOOKS

Array = Any

# XLA on this CPU takes ~13 s to compile one threefry draw (87 s run op by op) and
# a second or so for "rbg"; codec training draws in every step, so its keys use rbg.
PRNG_IMPL = "rbg"


def prng_key(seed: int) -> Array:
    """A PRNG key of the implementation the codecs use (see PRNG_IMPL)."""
    return jax.random.key(seed, impl=PRNG_IMPL)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class RVQConfig:
    """How a ResidualVQ quantizes; the defaults are the paper's 4 x 1024 codebooks."""

    num_codebooks: int = DEFAULT_CODEBOOKS
    codebook_size: int = DEFAULT_CODEBOOK_SIZE
    # Dimension of the lookup space; None quantizes the input space itself. DAC
    # projects to 8 dimensions, which keeps codes from collapsing.
    code_dim: int | None = None
    l2_normalize: bool = False  # compare codes by cosine (DAC) instead of Euclidean distance
    learning: str = "ema"  # "ema": codebooks are running means; "loss": codebook loss + gradients
    ema_decay: float = 0.99
    commitment_weight: float = 0.25
    codebook_weight: float = 1.0
    usage_decay: float = 0.99
    # A code whose running hit count per step falls below this is restarted from a
    # random recent input by `restart_dead_codes`; 0 turns restarts off.
    dead_code_threshold: float = 0.0
    # Probability that a training example uses only the first n ~ U{1..K} codebooks,
    # so that a model trained with it can be decoded from fewer codebooks.
    quantizer_dropout: float = 0.0
    init_scale: float = 1.0


def nearest_code(x: Array, codebook: Array) -> Array:
    """Index of the nearest codebook row (squared Euclidean distance) for each vector in x."""
    distance = (
        jnp.sum(x * x, axis=-1, keepdims=True)
        - 2.0 * x @ codebook.T
        + jnp.sum(codebook * codebook, axis=-1)
    )
    return jnp.argmin(distance, axis=-1)


def residual_quantize(x: Array, codebooks: Array) -> tuple[Array, Array, Array]:
    """Greedy residual quantization of x [..., D] with codebooks [K, N, D].

    Returns the codes [..., K], the quantized sum [..., D] and the residual that
    each stage saw [..., K, D] (stage 0 sees x itself).
    """
    codes, residuals = [], []
    residual, quantized = x, jnp.zeros_like(x)
    for codebook in codebooks:
        residuals.append(residual)
        index = nearest_code(residual, codebook)
        vector = codebook[index]
        codes.append(index)
        residual = residual - vector
        quantized = quantized + vector
    return jnp.stack(codes, -1), quantized, jnp.stack(residuals, -2)


def masked_mse(a: Array, b: Array, mask: Array) -> Array:
    """Mean squared difference over the vectors that ``mask`` [...] keeps."""
    denom = jnp.maximum(mask.sum() * a.shape[-1], 1.0)
    return jnp.sum(jnp.sum((a - b) ** 2, -1) * mask) / denom


def perplexity(codes: Array, codebook_size: int, mask: Array | None = None) -> Array:
    """exp(entropy) of the code histogram: 1 if one code is used, N if all are used evenly."""
    counts = jax.nn.one_hot(codes, codebook_size, dtype=jnp.float32)
    if mask is not None:
        counts = counts * mask[..., None]
    counts = counts.reshape(-1, codebook_size).sum(0)
    p = counts / jnp.maximum(counts.sum(), 1.0)
    return jnp.exp(-jnp.sum(jnp.where(p > 0, p * jnp.log(jnp.maximum(p, 1e-12)), 0.0)))


def _normalize(x: Array) -> Array:
    return x * jax.lax.rsqrt(jnp.maximum(jnp.sum(x * x, axis=-1, keepdims=True), 1e-12))


class ResidualVQ(nn.Module):
    """Quantizes vectors [..., dim] into K codes each; call with mutable=["vq"] when training.

    Variables: `params` hold the projections (and the codebooks when learned by
    loss); the `vq` collection holds running code usage, a buffer of recent
    inputs that `restart_dead_codes` draws replacements from, and the codebooks
    with their EMA statistics when learned by EMA. Training calls need the
    `quantizer` rng.
    """

    config: RVQConfig
    dim: int

    def setup(self):
        c = self.config
        d = c.code_dim or self.dim
        shape = (c.num_codebooks, c.codebook_size, d)
        axes = ("codebooks", "vocab", None)
        init = nn.initializers.normal(c.init_scale)
        if c.code_dim:
            self.in_proj = [nn.Dense(d, name=f"in_proj_{k}") for k in range(c.num_codebooks)]
            self.out_proj = [
                nn.Dense(self.dim, name=f"out_proj_{k}") for k in range(c.num_codebooks)
            ]
        if c.learning == "loss":
            self.codebook_param = self.param(
                "codebooks", nn.with_logical_partitioning(init, axes), shape
            )
        elif c.learning == "ema":
            self.ema_codebooks = self.variable(
                "vq", "codebooks", lambda: init(self.make_rng("params"), shape)
            )
            self.ema_count = self.variable("vq", "ema_count", jnp.ones, shape[:2])
            self.ema_sum = self.variable("vq", "ema_sum", lambda: self.ema_codebooks.value)
        else:
            raise ValueError(f"RVQConfig.learning must be 'ema' or 'loss', got {c.learning!r}")
        # Usage starts at zero, so the first restart fills every codebook from data.
        self.usage = self.variable("vq", "usage", jnp.zeros, shape[:2])
        self.candidates = self.variable("vq", "candidates", jnp.zeros, shape)

    def codebooks(self) -> Array:
        """The K codebooks [K, N, d] in lookup space (unit rows when L2-normalized)."""
        cb = self.codebook_param if self.config.learning == "loss" else self.ema_codebooks.value
        return _normalize(cb) if self.config.l2_normalize else cb

    def _to_lookup(self, k: int, x: Array) -> Array:
        z = self.in_proj[k](x) if self.config.code_dim else x
        return _normalize(z) if self.config.l2_normalize else z

    def _from_lookup(self, k: int, z: Array) -> Array:
        return self.out_proj[k](z) if self.config.code_dim else z

    def decode(self, codes: Array) -> Array:
        """The quantized vectors [..., dim] of codes [..., n] (n <= K codebooks)."""
        codebooks = self.codebooks()
        out = 0.0
        for k in range(codes.shape[-1]):
            out = out + self._from_lookup(k, codebooks[k][codes[..., k]])
        return out

    def __call__(
        self, x: Array, train: bool = False, num_codebooks: int | None = None
    ) -> tuple[Array, Array, dict[str, Array]]:
        """Quantizes x [B, ..., dim]; returns (quantized, codes [B, ..., n], aux losses/metrics)."""
        c = self.config
        n = num_codebooks or c.num_codebooks
        codebooks = self.codebooks()
        batch_shape = x.shape[:-1]
        kept = self._kept_codebooks(batch_shape, n, train)
        residual = x
        quantized = jnp.zeros_like(x)
        codes, ppl = [], []
        commitment = codebook_loss = 0.0
        for k in range(n):
            z_e = self._to_lookup(k, residual)
            index = nearest_code(jax.lax.stop_gradient(z_e), jax.lax.stop_gradient(codebooks[k]))
            z_q = codebooks[k][index]
            mask = jnp.broadcast_to(k < kept, batch_shape).astype(x.dtype)
            commitment = commitment + masked_mse(z_e, jax.lax.stop_gradient(z_q), mask)
            if c.learning == "loss":
                codebook_loss = codebook_loss + masked_mse(jax.lax.stop_gradient(z_e), z_q, mask)
            # Straight-through: the decoder's gradient reaches the encoder unchanged.
            z_st = z_e + jax.lax.stop_gradient(z_q - z_e)
            out = self._from_lookup(k, z_st) * mask[..., None]
            quantized = quantized + out
            residual = residual - out
            codes.append(index)
            ppl.append(perplexity(index, c.codebook_size, mask))
            if train and not self.is_initializing():
                self._update_stats(k, jax.lax.stop_gradient(z_e), index, mask)
        return quantized, jnp.stack(codes, -1), self._aux(commitment, codebook_loss, ppl)

    def _kept_codebooks(self, batch_shape: tuple[int, ...], n: int, train: bool) -> Array:
        """How many of the n codebooks each example keeps, [B, 1, ...]: n, or under
        quantizer dropout (training only) 1 to n for the dropped examples."""
        c = self.config
        kept = jnp.full(batch_shape[:1], n)
        if train and c.quantizer_dropout > 0:
            key_drop, key_n = jax.random.split(self.make_rng("quantizer"))
            drop = jax.random.bernoulli(key_drop, c.quantizer_dropout, batch_shape[:1])
            kept = jnp.where(drop, jax.random.randint(key_n, batch_shape[:1], 1, n + 1), n)
        return kept.reshape(kept.shape + (1,) * (len(batch_shape) - 1))

    def _aux(self, commitment: Array, codebook_loss: Array, ppl: list[Array]) -> dict[str, Array]:
        """The quantizer's losses (summed over its stages) and each stage's perplexity."""
        c = self.config
        return {
            "commitment_loss": commitment,
            "codebook_loss": jnp.asarray(codebook_loss, jnp.float32),
            "vq_loss": c.commitment_weight * commitment + c.codebook_weight * codebook_loss,
            "perplexity": jnp.stack(ppl),
        }

    def _update_stats(self, k: int, z_e: Array, index: Array, mask: Array) -> None:
        c = self.config
        flat = z_e.reshape(-1, z_e.shape[-1])
        onehot = jax.nn.one_hot(index.reshape(-1), c.codebook_size) * mask.reshape(-1, 1)
        counts = onehot.sum(0)
        self.usage.value = self.usage.value.at[k].set(
            c.usage_decay * self.usage.value[k] + (1 - c.usage_decay) * counts
        )
        pick = jax.random.randint(self.make_rng("quantizer"), (c.codebook_size,), 0, flat.shape[0])
        self.candidates.value = self.candidates.value.at[k].set(flat[pick])
        if c.learning == "ema":
            decay = c.ema_decay
            count = decay * self.ema_count.value[k] + (1 - decay) * counts
            total = decay * self.ema_sum.value[k] + (1 - decay) * onehot.T @ flat
            self.ema_count.value = self.ema_count.value.at[k].set(count)
            self.ema_sum.value = self.ema_sum.value.at[k].set(total)
            # Laplace smoothing keeps a rarely hit code from dividing by ~0.
            n = count.sum()
            smoothed = (count + 1e-5) / (n + c.codebook_size * 1e-5) * n
            self.ema_codebooks.value = self.ema_codebooks.value.at[k].set(total / smoothed[:, None])


# Restarts judged for thrashing: the first this many swing while the codebooks fill (one
# refills them, the next finds them refilled), the next this many show whether restarts go
# on replacing codes before they train.
RESTART_WINDOW = 10


def restart_thrashing_warning(
    recent: Sequence[int], total_codes: int, threshold: float
) -> str | None:
    """What to do, where the `recent` restarts (those after the first RESTART_WINDOW)
    replaced more than a quarter of the codes on average, else None.

    A threshold at or above a code's mean hits a step (vectors a batch / codebook size)
    keeps restarting codes that never train: the demo's first 4 x 1,024 audio codec
    inherited 1.0 from the 4 x 32 one and replaced ~1,800 of its 4,096 codes a restart
    after 200 steps (~1,730 at its end); with 0.025 restarts replace ~300 after 200 steps
    and ~40 at the end. Their first restarts swing between ~4,000 and under 250 in both.
    """
    mean = sum(recent) / len(recent)
    if 4 * mean <= total_codes:
        return None
    return (
        f"restarts replaced {mean:.0f} of {total_codes} codes on average (codes hit less "
        f"than {threshold:g} times a step are restarted from random inputs): most never "
        "train. Set RVQConfig.dead_code_threshold well below a code's mean hits a step "
        "(vectors a batch / codebook size)."
    )


def restart_dead_codes(variables: dict, threshold: float) -> tuple[dict, Array]:
    """Replaces every code whose running usage is below ``threshold`` by a recent input.

    Works on the variables of any model holding ResidualVQ modules (finds them by
    the `usage`/`candidates` entries of the `vq` collection) and returns the new
    variables and the number of codes restarted. Jittable.
    """
    params = variables.get("params", {})
    restarted = jnp.zeros((), jnp.int32)

    def walk(vq: dict, par: dict) -> tuple[dict, dict]:
        nonlocal restarted
        vq, par = dict(vq), dict(par)
        if "usage" in vq and "candidates" in vq:
            dead = vq["usage"] < threshold
            restarted = restarted + dead.sum().astype(jnp.int32)
            fresh = lambda old: jnp.where(dead[..., None], vq["candidates"], old)
            if "codebooks" in vq:
                vq["codebooks"] = fresh(vq["codebooks"])
                vq["ema_sum"] = fresh(vq["ema_sum"])
                vq["ema_count"] = jnp.where(dead, 1.0, vq["ema_count"])
            else:
                par["codebooks"] = fresh(par["codebooks"])
            # A restarted code gets ~70 steps (decay 0.99) to be used before it can restart again.
            vq["usage"] = jnp.where(dead, 2.0 * threshold, vq["usage"])
            return vq, par
        for name, sub in vq.items():
            if isinstance(sub, dict):
                vq[name], sub_par = walk(sub, par.get(name, {}))
                if sub_par:
                    par[name] = sub_par
        return vq, par

    vq, params = walk(variables["vq"], params)
    out = dict(variables)
    out["vq"] = vq
    if params:
        out["params"] = params
    return out, restarted
