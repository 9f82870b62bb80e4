"""DAC-style audio codec: Snake conv encoder, factorized L2-normalized RVQ, mirrored decoder."""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import gin
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs.autoencoder import RVQAutoencoder
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.rvq import RVQConfig

Array = Any

# DAC's quantizer: the paper's codebook shape (RVQConfig's defaults) in 8-d cosine lookup.
DAC_RVQ = RVQConfig(
    code_dim=8,
    l2_normalize=True,
    learning="loss",
    quantizer_dropout=0.5,
)


@gin.configurable
@dataclasses.dataclass(frozen=True)
class AudioCodecConfig:
    """Sizes and losses of the audio codec; the defaults are the paper's 44.1 kHz DAC shape."""

    sample_rate: int = 44100
    strides: tuple[int, ...] = (2, 4, 8, 8)  # hop = product = 512 samples (~86 frames/s)
    encoder_dim: int = 64  # doubles at every stride
    decoder_dim: int = 1536  # halves at every stride
    latent_dim: int = 1024
    dilations: tuple[int, ...] = (1, 3, 9)
    rvq: RVQConfig = DAC_RVQ
    # Multi-scale mel loss: (window length, mel bands) pairs, as in DAC.
    mel_scales: tuple[tuple[int, int], ...] = (
        (32, 5), (64, 10), (128, 20), (256, 40), (512, 80), (1024, 160), (2048, 320),
    )  # fmt: skip
    mel_weight: float = 15.0
    waveform_weight: float = 1.0
    use_discriminator: bool = False
    adversarial_weight: float = 1.0
    feature_weight: float = 2.0

    @property
    def hop(self) -> int:
        return math.prod(self.strides)


class Snake(nn.Module):
    """x + sin^2(alpha x) / alpha with a learned alpha per channel: periodic bias for audio."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        # alpha = exp(log_alpha): a plain alpha can step through 0, where 1/alpha explodes.
        log_alpha = self.param("log_alpha", nn.initializers.zeros, (x.shape[-1],))
        alpha = jnp.exp(log_alpha)
        return x + jnp.sin(alpha * x) ** 2 / alpha


class ResidualUnit(nn.Module):
    """Snake, dilated k7 conv, Snake, k1 conv, plus the input."""

    dilation: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        ch = x.shape[-1]
        y = nn.Conv(ch, (7,), kernel_dilation=(self.dilation,))(Snake()(x))
        return x + nn.Conv(ch, (1,))(Snake()(y))


class AudioEncoder(nn.Module):
    """[B, T, 1] -> latents [B, T / hop, latent_dim]."""

    config: AudioCodecConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = self.config
        ch = c.encoder_dim
        x = nn.Conv(ch, (7,))(x)
        for stride in c.strides:
            for d in c.dilations:
                x = ResidualUnit(d)(x)
            ch *= 2
            x = nn.Conv(ch, (2 * stride,), strides=(stride,))(Snake()(x))
        return nn.Conv(c.latent_dim, (3,))(Snake()(x))


class AudioDecoder(nn.Module):
    """Latents [B, frames, latent_dim] -> waveform [B, frames * hop] in [-1, 1]."""

    config: AudioCodecConfig

    @nn.compact
    def __call__(self, z: Array) -> Array:
        c = self.config
        ch = c.decoder_dim
        x = nn.Conv(ch, (7,))(z)
        for stride in reversed(c.strides):
            ch = max(ch // 2, 1)
            x = nn.ConvTranspose(ch, (2 * stride,), strides=(stride,))(Snake()(x))
            for d in c.dilations:
                x = ResidualUnit(d)(x)
        # A small last layer starts the output near silence: a saturated tanh passes
        # no gradient to the waveform loss.
        out = nn.Conv(
            1, (7,), kernel_init=nn.initializers.variance_scaling(1e-3, "fan_in", "normal")
        )
        return jnp.tanh(out(Snake()(x)))[..., 0]


class AudioCodec(RVQAutoencoder):
    """Encodes [B, T] mono audio into codes [B, ceil(T / hop), K] and decodes them back.

    `encode`: audio [B, T] -> codes [B, ceil(T / hop), K] (int32).
    """

    config: AudioCodecConfig
    encoder_class = AudioEncoder
    decoder_class = AudioDecoder

    def _latents(self, audio: Array) -> Array:
        t = audio.shape[1]
        if t == 0:
            raise CodecInputError(None, "audio batch holds no samples")
        # Zero padding to whole hops is silence, the obvious neutral content.
        audio = jnp.pad(audio, ((0, 0), (0, -t % self.config.hop)))
        return self.encoder(audio[..., None])

    def decode(self, codes: Array, length: int | None = None) -> Array:
        """Codes [B, frames, n] -> audio [B, length or frames * hop]."""
        return self.decoder(self.quantizer.decode(codes))[:, :length]

    def __call__(self, audio: Array, train: bool = False, num_codebooks: int | None = None):
        """Reconstruction [B, T], codes and the quantizer's aux."""
        quantized, codes, aux = self.quantizer(
            self._latents(audio), train=train, num_codebooks=num_codebooks
        )
        return self.decoder(quantized)[:, : audio.shape[1]], codes, aux


@functools.cache
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).T.astype(np.float32)


def log_mel(audio: Array, sample_rate: int, window: int, n_mels: int) -> Array:
    """log10 mel magnitude [B, frames, n_mels] with a Hann window and hop window/4."""
    hop = max(window // 4, 1)
    pad = window // 2
    x = jnp.pad(audio, ((0, 0), (pad, pad)), mode="reflect")
    count = 1 + (x.shape[1] - window) // hop
    index = jnp.arange(window)[None, :] + hop * jnp.arange(count)[:, None]
    frames = x[:, index] * jnp.hanning(window + 2)[1:-1]
    magnitude = jnp.abs(jnp.fft.rfft(frames, axis=-1))
    mel = magnitude @ _mel_basis(sample_rate, window, n_mels)
    return jnp.log10(jnp.maximum(mel, 1e-5))


def mel_distance(reconstruction: Array, reference: Array, config: AudioCodecConfig) -> Array:
    """Mean L1 distance of log mel spectrograms, summed over the configured scales."""
    total = 0.0
    for window, n_mels in config.mel_scales:
        a = log_mel(reconstruction, config.sample_rate, window, n_mels)
        b = log_mel(reference, config.sample_rate, window, n_mels)
        total = total + jnp.mean(jnp.abs(a - b))
    return total


def si_snr(estimate: Array, reference: Array) -> Array:
    """Scale-invariant SNR in dB per example [B] (zero-mean signals)."""
    estimate = estimate - estimate.mean(-1, keepdims=True)
    reference = reference - reference.mean(-1, keepdims=True)
    scale = jnp.sum(estimate * reference, -1, keepdims=True) / (
        jnp.sum(reference**2, -1, keepdims=True) + 1e-8
    )
    target = scale * reference
    noise = estimate - target
    return 10.0 * jnp.log10((jnp.sum(target**2, -1) + 1e-8) / (jnp.sum(noise**2, -1) + 1e-8))


class WaveDiscriminator(nn.Module):
    """Multi-scale waveform discriminator (MelGAN-style): logits and features per scale."""

    scales: int = 3
    channels: int = 16

    @nn.compact
    def __call__(self, audio: Array) -> list[tuple[Array, list[Array]]]:
        outputs = []
        x = audio[..., None]
        for s in range(self.scales):
            if s:
                x = nn.avg_pool(x, (4,), strides=(2,), padding="SAME")
            h, features = x, []
            for i, ch in enumerate((self.channels, self.channels * 4, self.channels * 16)):
                h = nn.leaky_relu(
                    nn.Conv(ch, (15 if i == 0 else 41,), strides=(1 if i == 0 else 4,))(h), 0.2
                )
                features.append(h)
            outputs.append((nn.Conv(1, (3,))(h)[..., 0], features))
        return outputs


def audio_loss(model: AudioCodec, variables, audio: Array, train: bool, rngs=None):
    """Multi-scale mel + waveform L1 + VQ losses; returns (loss, aux) like `image_loss`.

    The adversarial terms, when configured, are added by the trainer, which owns
    the discriminator's parameters.
    """
    c = model.config
    mutable = ["vq"] if train else False
    out = model.apply(variables, audio, train=train, rngs=rngs, mutable=mutable)
    (recon, codes, aux), state = out if train else (out, {})
    mel = mel_distance(recon, audio, c)
    l1 = jnp.mean(jnp.abs(recon - audio))
    loss = c.mel_weight * mel + c.waveform_weight * l1 + aux["vq_loss"]
    metrics = {
        "loss": loss,
        "reconstruction_loss": c.mel_weight * mel + c.waveform_weight * l1,
        "mel_distance": mel,
        "waveform_l1": l1,
        "si_snr": jnp.mean(si_snr(recon, audio)),
        "commitment_loss": aux["commitment_loss"],
        "perplexity": jnp.mean(aux["perplexity"]),
    }
    return loss, {"metrics": metrics, "vq": state.get("vq"), "recon": recon, "codes": codes}
