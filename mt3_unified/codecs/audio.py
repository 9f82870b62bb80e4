"""The audio codec: DAC's Snake conv encoder and mirrored decoder (or the spectral pair of
codecs/spectral.py) around a factorized L2-normalized RVQ."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs.audio_layers import ResidualUnit, Snake
from mt3_unified.codecs.autoencoder import RVQAutoencoder
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.rvq import (
    ResidualVQ,
    RVQConfig,
    masked_mse,
    nearest_code,
    perplexity,
)
from mt3_unified.codecs.spectral import (
    SpectralDecoder,
    SpectralEncoder,
    mel_basis,
    spectral_distance,
    stft,
)

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
    # Weight of `spectral_convergence` (conv architecture), 0 leaves it a metric only.
    convergence_weight: float = 0.0
    # Compute exactly as descript-audio-codec's DAC does, so that its weights convert
    # (codecs/dac_convert.py): Snake holds alpha itself, x + sin^2(alpha x) / (alpha + 1e-9),
    # and the quantizer (DACResidualVQ) looks codes up by cosine but projects the raw,
    # unnormalized codebook row back. Needs rvq.learning="loss" and rvq.code_dim.
    dac_compatible: bool = False
    # "conv": DAC's sample-rate conv stacks. "spectral" (codecs/spectral.py): frame_layers
    # ConvNeXt blocks, frame_dim wide, at the frame rate, from STFT magnitudes of
    # `window` samples (0: 4 hops) to STFT magnitudes, trained by a log-mel loss on them
    # (spectral_mels bands, mel_weight; mel_scales measure the waveform) and turned into audio by
    # griffin_lim_iterations of fast Griffin-Lim; strides give only the hop, dilations
    # and the waveform and adversarial terms are unused.
    architecture: str = "conv"
    frame_dim: int = 256
    frame_layers: int = 6
    window: int = 0
    spectral_mels: int = 128  # the log-mel AMT's bands
    griffin_lim_iterations: int = 32
    # The spectral architecture with a linear map beside each frame stack (raw log-magnitudes
    # to latents, latents to log-magnitudes). Unquantized on the demo corpus, the ConvNeXt
    # stacks alone reached a log-mel distance of 0.44 after 300 steps where one linear
    # 64-d autoencoder reached 0.25 (PCA's 64 components: 0.15); with the maps beside them, 0.21.
    linear_path: bool = False

    def __post_init__(self):
        if self.architecture not in ("conv", "spectral"):
            raise ValueError(
                f"AudioCodecConfig.architecture: {self.architecture!r} is not 'conv' or 'spectral'"
            )
        if self.architecture != "conv" and (self.dac_compatible or self.use_discriminator):
            raise ValueError(
                "AudioCodecConfig.dac_compatible and use_discriminator need architecture='conv'"
            )
        if self.linear_path and self.architecture != "spectral":
            raise ValueError("AudioCodecConfig.linear_path needs architecture='spectral'")

    @property
    def hop(self) -> int:
        return math.prod(self.strides)

    @property
    def stft_window(self) -> int:
        return self.window or 4 * self.hop


class AudioEncoder(nn.Module):
    """[B, T, 1] -> latents [B, T / hop, latent_dim]."""

    config: AudioCodecConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = self.config
        dac = c.dac_compatible
        ch = c.encoder_dim
        x = nn.Conv(ch, (7,))(x)
        for stride in c.strides:
            for d in c.dilations:
                x = ResidualUnit(d, dac)(x)
            ch *= 2
            x = nn.Conv(ch, (2 * stride,), strides=(stride,))(Snake(dac)(x))
        return nn.Conv(c.latent_dim, (3,))(Snake(dac)(x))


class AudioDecoder(nn.Module):
    """Latents [B, frames, latent_dim] -> waveform [B, frames * hop] in [-1, 1]."""

    config: AudioCodecConfig

    @nn.compact
    def __call__(self, z: Array) -> Array:
        c = self.config
        dac = c.dac_compatible
        ch = c.decoder_dim
        x = nn.Conv(ch, (7,))(z)
        for stride in reversed(c.strides):
            ch = max(ch // 2, 1)
            x = nn.ConvTranspose(ch, (2 * stride,), strides=(stride,))(Snake(dac)(x))
            for d in c.dilations:
                x = ResidualUnit(d, dac)(x)
        # A small last layer starts the output near silence: a saturated tanh passes
        # no gradient to the waveform loss.
        out = nn.Conv(
            1, (7,), kernel_init=nn.initializers.variance_scaling(1e-3, "fan_in", "normal")
        )
        return jnp.tanh(out(Snake(dac)(x)))[..., 0]


class DACResidualVQ(ResidualVQ):
    """ResidualVQ as DAC's ResidualVectorQuantize computes it (AudioCodecConfig.dac_compatible).

    Codes are looked up by cosine, like ResidualVQ with l2_normalize, but each stage
    projects its raw, unnormalized codebook row back (ResidualVQ projects the unit
    row), and the losses compare that raw row with the raw projection. Codebooks are
    learned by loss (rvq.learning="loss") in the code_dim space (rvq.code_dim).
    """

    def _stage(self, k: int, residual: Array) -> tuple[Array, Array, Array]:
        """(index, raw projection z_e, raw codebook row z_q) of stage k."""
        z_e = self.in_proj[k](residual)
        lookup = jax.lax.stop_gradient(_unit(self.codebook_param[k]))
        index = nearest_code(jax.lax.stop_gradient(_unit(z_e)), lookup)
        return index, z_e, self.codebook_param[k][index]

    def decode(self, codes: Array) -> Array:
        out = 0.0
        for k in range(codes.shape[-1]):
            out = out + self.out_proj[k](self.codebook_param[k][codes[..., k]])
        return out

    def __call__(self, x: Array, train: bool = False, num_codebooks: int | None = None):
        c = self.config
        if c.learning != "loss" or not c.code_dim:
            raise ValueError("DACResidualVQ needs rvq.learning='loss' and an rvq.code_dim")
        n = num_codebooks or c.num_codebooks
        batch_shape = x.shape[:-1]
        kept = self._kept_codebooks(batch_shape, n, train)
        residual, quantized = x, jnp.zeros_like(x)
        codes, ppl = [], []
        commitment = codebook_loss = 0.0
        for k in range(n):
            index, z_e, z_q = self._stage(k, residual)
            mask = jnp.broadcast_to(k < kept, batch_shape).astype(x.dtype)
            commitment = commitment + masked_mse(z_e, jax.lax.stop_gradient(z_q), mask)
            codebook_loss = codebook_loss + masked_mse(jax.lax.stop_gradient(z_e), z_q, mask)
            # Straight-through: the decoder's gradient reaches the encoder unchanged.
            z_st = z_e + jax.lax.stop_gradient(z_q - z_e)
            out = self.out_proj[k](z_st) * mask[..., None]
            quantized, residual = quantized + out, residual - out
            codes.append(index)
            ppl.append(perplexity(index, c.codebook_size, mask))
            if train and not self.is_initializing():
                self._update_stats(k, jax.lax.stop_gradient(z_e), index, mask)
        return quantized, jnp.stack(codes, -1), self._aux(commitment, codebook_loss, ppl)


def _unit(x: Array) -> Array:
    """x / max(|x|, 1e-12) along the last axis, as torch.nn.functional.normalize (DAC) computes."""
    return x / jnp.maximum(jnp.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class AudioCodec(RVQAutoencoder):
    """Encodes [B, T] mono audio into codes [B, ceil(T / hop), K] and decodes them back.

    `encode`: audio [B, T] -> codes [B, ceil(T / hop), K] (int32).
    """

    config: AudioCodecConfig

    def setup(self):
        c = self.config
        spectral = c.architecture == "spectral"
        self.encoder = (SpectralEncoder if spectral else AudioEncoder)(c)
        self.decoder = (SpectralDecoder if spectral else AudioDecoder)(c)
        quantizer = DACResidualVQ if c.dac_compatible else ResidualVQ
        self.quantizer = quantizer(c.rvq, dim=c.latent_dim)

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

    def magnitudes(self, audio: Array, train: bool = False):
        """The spectral architecture's training view: (decoded STFT magnitudes, the audio's
        own), both [B, ceil(T / hop), bins], codes and the quantizer's aux."""
        c = self.config
        quantized, codes, aux = self.quantizer(self._latents(audio), train=train)
        audio = jnp.pad(audio, ((0, 0), (0, -audio.shape[1] % c.hop)))
        reference = jnp.abs(stft(audio, c.stft_window, c.hop))
        return self.decoder.magnitude(quantized), reference, codes, aux


def stft_magnitude(audio: Array, window: int) -> Array:
    """STFT magnitude [B, frames, window / 2 + 1] with a Hann window and hop window/4."""
    hop = max(window // 4, 1)
    pad = window // 2
    x = jnp.pad(audio, ((0, 0), (pad, pad)), mode="reflect")
    count = 1 + (x.shape[1] - window) // hop
    index = jnp.arange(window)[None, :] + hop * jnp.arange(count)[:, None]
    frames = x[:, index] * jnp.hanning(window + 2)[1:-1]
    return jnp.abs(jnp.fft.rfft(frames, axis=-1))


def log_mel(audio: Array, sample_rate: int, window: int, n_mels: int) -> Array:
    """log10 mel magnitude [B, frames, n_mels] with a Hann window and hop window/4."""
    mel = stft_magnitude(audio, window) @ mel_basis(sample_rate, window, n_mels)
    return jnp.log10(jnp.maximum(mel, 1e-5))


def spectral_convergence(reconstruction: Array, reference: Array, config: AudioCodecConfig):
    """||S - S_hat|| / ||S|| of linear STFT magnitudes, averaged over the mel scales' windows
    (Parallel WaveGAN's multi-resolution term). Unlike the log-mel L1, which weighs the
    noise floor between a note's partials as much as the partials, it is ruled by the
    loudest bins: the partials that say which notes sound."""
    total = 0.0
    for window, _ in config.mel_scales:
        a, b = stft_magnitude(reconstruction, window), stft_magnitude(reference, window)
        norm = jnp.sqrt(jnp.sum(b * b, axis=(1, 2)) + 1e-8)
        total = total + jnp.mean(jnp.sqrt(jnp.sum((a - b) ** 2, axis=(1, 2))) / norm)
    return total / len(config.mel_scales)


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


def host_audio_distances(
    estimate: np.ndarray, reference: np.ndarray, config: AudioCodecConfig
) -> tuple[float, float]:
    """(mel distance, SI-SNR dB) of one mono signal against its reference of the same
    length: `mel_distance` and `si_snr` of the pair, jitted.

    Run op by op, every primitive of the multi-scale mel was lowered and compiled again
    for each new signal length (5.5 s a 5-s signal on 2 cores against 0.66 s jitted),
    which made a codec report minutes long. Both signals go through the same compiled
    log-mel, so identical signals are exactly 0 apart."""
    distance = 0.0
    for window, n_mels in config.mel_scales:
        mels = [host_log_mel(x, config.sample_rate, window, n_mels) for x in (estimate, reference)]
        distance += float(np.mean(np.abs(mels[0] - mels[1])))
    snr = _si_snr_jit(jnp.asarray(estimate[None]), jnp.asarray(reference[None]))
    return distance, float(snr[0])


def host_log_mel(samples: np.ndarray, sample_rate: int, window: int, n_mels: int) -> np.ndarray:
    """`log_mel` [frames, n_mels] of one mono signal [T], jitted (compiled once a length)."""
    return np.asarray(_log_mel_jit(jnp.asarray(samples[None]), sample_rate, window, n_mels)[0])


_log_mel_jit = jax.jit(log_mel, static_argnums=(1, 2, 3))
_si_snr_jit = jax.jit(si_snr)


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
    if c.architecture == "spectral":
        return _spectral_loss(model, variables, audio, train, rngs)
    out = model.apply(variables, audio, train=train, rngs=rngs, mutable=mutable)
    (recon, codes, aux), state = out if train else (out, {})
    mel = mel_distance(recon, audio, c)
    l1 = jnp.mean(jnp.abs(recon - audio))
    reconstruction = c.mel_weight * mel + c.waveform_weight * l1
    metrics = {}
    if c.convergence_weight or not train:  # a validation metric; a training term if weighted
        metrics["spectral_convergence"] = spectral_convergence(recon, audio, c)
        reconstruction = reconstruction + c.convergence_weight * metrics["spectral_convergence"]
    loss = reconstruction + aux["vq_loss"]
    metrics |= {
        "loss": loss,
        "reconstruction_loss": reconstruction,
        "mel_distance": mel,
        "waveform_l1": l1,
        "si_snr": jnp.mean(si_snr(recon, audio)),
        "commitment_loss": aux["commitment_loss"],
        "perplexity": jnp.mean(aux["perplexity"]),
    }
    return loss, {"metrics": metrics, "vq": state.get("vq"), "recon": recon, "codes": codes}


def _spectral_loss(model: AudioCodec, variables, audio: Array, train: bool, rngs=None):
    """`audio_loss` of the spectral architecture: the log-mel distance of the decoded
    magnitudes plus the VQ losses. Validation also decodes the waveform (Griffin-Lim) for
    the conv codec's metrics; training skips it."""
    c = model.config
    out = model.apply(
        variables, audio, train=train, rngs=rngs, mutable=["vq"] if train else False,
        method=AudioCodec.magnitudes,
    )  # fmt: skip
    (estimate, reference, codes, aux), state = out if train else (out, {})
    spectral = spectral_distance(estimate, reference, c.sample_rate, c.spectral_mels)
    loss = c.mel_weight * spectral + aux["vq_loss"]
    metrics = {
        "loss": loss,
        "reconstruction_loss": c.mel_weight * spectral,
        "spectral_distance": spectral,
        "commitment_loss": aux["commitment_loss"],
        "perplexity": jnp.mean(aux["perplexity"]),
    }
    recon = None
    if not train:
        recon = model.apply(variables, codes, audio.shape[1], method=AudioCodec.decode)
        metrics["mel_distance"] = mel_distance(recon, audio, c)
        metrics["waveform_l1"] = jnp.mean(jnp.abs(recon - audio))
        metrics["si_snr"] = jnp.mean(si_snr(recon, audio))
    return loss, {"metrics": metrics, "vq": state.get("vq"), "recon": recon, "codes": codes}
