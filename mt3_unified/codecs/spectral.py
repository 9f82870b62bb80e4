"""The audio codec's spectral architecture: STFT magnitudes in, STFT magnitudes out.

Both stacks are Vocos's ConvNeXt blocks at the code frame rate (one STFT frame a
code frame, the window a whole number of hops), where the conv architecture's run at
the sample rate. The decoder writes magnitudes, trained by a log-mel loss on them
alone; Griffin-Lim makes the waveform. What the AMT reads, a log-mel spectrogram, is
what the codec learns to keep.
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = Any
# The decoder's log-magnitude is bounded softly here (exp(7) ~ 1100 in a bin), as Vocos
# bounds its magnitudes; a hard clip passes no gradient, so a bin pushed past it stays.
MAX_LOG_MAGNITUDE = 7.0
GRIFFIN_LIM_MOMENTUM = 0.99
# Log-magnitude inputs span about -11.5 (the floor) to +5; divided by this they sit near
# the unit scale the convolutions' initialization assumes.
LOG_INPUT_SCALE = 5.0
# Added to STFT magnitudes before the encoder's log: the floor of its log-magnitudes.
LOG_MAGNITUDE_FLOOR = 1e-5


@functools.cache
def mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's mel filterbank [n_fft / 2 + 1, n_mels], for magnitudes @ basis."""
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).T.astype(np.float32)


def _hann(window: int) -> np.ndarray:
    """Periodic Hann window: its overlap-add at hop window/4 is flat."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(window) / window)).astype(np.float32)


def frame_padding(window: int, hop: int) -> tuple[int, int]:
    """(left, right) zero padding that gives exactly T / hop frames of T samples."""
    # One hop's Hann window starts at zero with nothing overlapping it: not invertible.
    if window % hop or window < 2 * hop:
        raise ValueError(f"STFT window {window} is not a whole number of hops ({hop}), at least 2")
    left = (window - hop) // 2
    return left, window - hop - left


def stft(audio: Array, window: int, hop: int) -> Array:
    """Complex STFT [B, T / hop, window / 2 + 1] of audio [B, T] (T a multiple of hop)."""
    left, right = frame_padding(window, hop)
    x = jnp.pad(audio, ((0, 0), (left, right)))
    count = audio.shape[1] // hop
    index = np.arange(window)[None, :] + hop * np.arange(count)[:, None]
    return jnp.fft.rfft(x[:, index] * _hann(window), axis=-1)


def istft(spectrum: Array, window: int, hop: int) -> Array:
    """Audio [B, frames * hop] from a complex spectrum [B, frames, window / 2 + 1]:
    inverse FFT, Hann synthesis window, overlap-add, divided by the windows' summed
    square, so that istft(stft(x)) == x."""
    frames = spectrum.shape[1]
    overlap = window // hop
    chunks = (jnp.fft.irfft(spectrum, n=window, axis=-1) * _hann(window)).reshape(
        spectrum.shape[0], frames, overlap, hop
    )
    out = sum(
        jnp.pad(chunks[:, :, r], ((0, 0), (r, overlap - 1 - r), (0, 0))) for r in range(overlap)
    )
    out = out.reshape(spectrum.shape[0], (frames + overlap - 1) * hop)
    envelope = np.zeros((frames + overlap - 1) * hop, np.float32)
    for f in range(frames):
        envelope[f * hop : f * hop + window] += _hann(window) ** 2
    left, _ = frame_padding(window, hop)
    keep = slice(left, left + frames * hop)
    return out[:, keep] / np.maximum(envelope[keep], 1e-3)


class ConvNeXtBlock(nn.Module):
    """Depthwise k7 conv, LayerNorm, a 4x-wide GELU MLP, a small learned scale, plus the input
    (the block of ConvNeXt that Vocos runs at the frame rate)."""

    scale: float

    @nn.compact
    def __call__(self, x: Array) -> Array:
        ch = x.shape[-1]
        y = nn.LayerNorm()(nn.Conv(ch, (7,), feature_group_count=ch)(x))
        y = nn.Dense(ch)(nn.gelu(nn.Dense(4 * ch)(y)))
        gamma = self.param("gamma", nn.initializers.constant(self.scale), (ch,))
        return x + gamma * y


class FrameStack(nn.Module):
    """ConvNeXt blocks at the frame rate between LayerNorms.

    The norms matter: with the residual sum unnormalized, one Adam step on a head
    reading it moved every bin's log-magnitude by several units and the codec diverged
    in its first 20 steps."""

    width: int
    layers: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        x = nn.LayerNorm()(nn.Conv(self.width, (7,))(x))
        for _ in range(self.layers):
            x = ConvNeXtBlock(1.0 / self.layers)(x)
        return nn.LayerNorm()(x)


class SpectralEncoder(nn.Module):
    """Audio [B, T, 1] -> latents [B, T / hop, latent_dim] from log-magnitude STFT frames."""

    config: Any  # AudioCodecConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = self.config
        magnitude = jnp.abs(stft(x[..., 0], c.stft_window, c.hop))
        log_magnitude = jnp.log(magnitude + LOG_MAGNITUDE_FLOOR)
        features = log_magnitude / LOG_INPUT_SCALE
        # Most bins of a frame sit at the floor, a component that every frame shares: it
        # made the initial latents of all frames point one way, and their cosine lookup
        # picked 6 of 32 codes. The frame's mean is taken out and given as a channel of
        # its own (the frame's level).
        level = jnp.mean(features, axis=-1, keepdims=True)
        features = jnp.concatenate([features - level, level], axis=-1)
        h = FrameStack(c.frame_dim, c.frame_layers)(features)
        latents = nn.Conv(c.latent_dim, (3,))(h)
        if c.linear_path:  # raw log-magnitudes, whose large inputs a linear map learns fast on
            linear = nn.Dense(c.latent_dim, name="linear_path")
            latents = latents + linear(log_magnitude)
        return latents


class SpectralDecoder(nn.Module):
    """Latents [B, frames, latent_dim] -> each frame's STFT magnitude, and from it the
    waveform [B, frames * hop] by fast Griffin-Lim.

    The decoder writes no phase: trained on magnitudes alone it learns no phase, and a
    learned phase without DAC's adversarial losses left as much mel error (a random
    phase: 0.26 a scale on the demo corpus's audio) as a short Griffin-Lim leaves
    little (0.04 after 30 iterations at the AMT's 2048-sample scale)."""

    config: Any  # AudioCodecConfig

    def setup(self):
        c = self.config
        self.stack = FrameStack(c.frame_dim, c.frame_layers)
        # A small head starts the output near silence (magnitude exp(-5) in every bin), as
        # the conv decoder's small last layer does. It writes log-magnitudes in the
        # encoder's input units (LOG_INPUT_SCALE): in plain units Adam's steps of about
        # the learning rate took thousands of steps to span the 12 units between the
        # floor and a note's partials, and 120 steps left the mel error of the input's
        # own magnitudes passed through unquantized at 1.6.
        small = nn.initializers.variance_scaling(1e-3, "fan_in", "normal")
        self.head = nn.Dense(
            c.stft_window // 2 + 1,
            kernel_init=small,
            bias_init=nn.initializers.constant(-5.0 / LOG_INPUT_SCALE),
        )
        if c.linear_path:
            self.linear_path = nn.Dense(c.stft_window // 2 + 1)

    def magnitude(self, z: Array) -> Array:
        """STFT magnitude [B, frames, window / 2 + 1] of the latents' frames."""
        log_magnitude = LOG_INPUT_SCALE * self.head(self.stack(z))
        if self.config.linear_path:
            log_magnitude = log_magnitude + self.linear_path(z)
        return jnp.exp(MAX_LOG_MAGNITUDE - nn.softplus(MAX_LOG_MAGNITUDE - log_magnitude))

    def __call__(self, z: Array) -> Array:
        c = self.config
        return griffin_lim(self.magnitude(z), c.stft_window, c.hop, c.griffin_lim_iterations)


def griffin_lim(magnitude: Array, window: int, hop: int, iterations: int) -> Array:
    """Audio [B, frames * hop] whose STFT magnitude approaches ``magnitude`` [B, frames, bins]:
    fast Griffin-Lim (Perraudin et al., 2013; momentum 0.99) from zero phase, so that
    the same magnitudes always give the same audio."""

    def project(spectrum):
        rebuilt = stft(istft(spectrum, window, hop), window, hop)
        return magnitude * jnp.exp(1j * jnp.angle(rebuilt))

    def step(_, carry):
        spectrum, previous = carry
        projected = project(spectrum)
        return projected + GRIFFIN_LIM_MOMENTUM * (projected - previous), projected

    start = magnitude.astype(jnp.complex64)
    spectrum, _ = jax.lax.fori_loop(0, iterations, step, (start, start))
    return istft(project(spectrum), window, hop)


def spectral_distance(estimate: Array, reference: Array, sample_rate: int, n_mels: int) -> Array:
    """Mean L1 distance of log10 mel spectra [B, frames, mels] made from STFT magnitudes
    [B, frames, bins] (floored at 1e-5, as `audio.log_mel`)."""
    window = 2 * (estimate.shape[-1] - 1)
    basis = mel_basis(sample_rate, window, n_mels)
    a = jnp.log10(jnp.maximum(estimate @ basis, 1e-5))
    b = jnp.log10(jnp.maximum(reference @ basis, 1e-5))
    return jnp.mean(jnp.abs(a - b))
