"""RQ-VAE for grayscale score-system images: conv encoder/decoder around a residual VQ.

Reading order. A [H, W] image (both padded with white up to multiples of the
downsampling factor f, 16 by default) becomes a code grid [H/f, W/f, K]. The
sequence model reads it as frames of K codes in **column-major** order: frame
t = column * (H/f) + row, i.e. top to bottom within a column, columns left to
right, so that a frame sequence runs through the system in the music's time
direction and a crop of whole columns is a crop in time.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import gin
import jax.numpy as jnp

from mt3_unified.codecs.autoencoder import RVQAutoencoder
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.rvq import RVQConfig

Array = Any


@gin.configurable
@dataclasses.dataclass(frozen=True)
class RQVAEConfig:
    """Sizes of the image codec; the defaults are the paper's (16x down, 4 x 1024 codes)."""

    channels: tuple[int, ...] = (64, 128, 256, 256)  # one per 2x downsampling stage
    res_blocks: int = 2
    latent_dim: int = 256
    rvq: RVQConfig = RVQConfig(dead_code_threshold=0.01)
    height: int = 416  # the height systems are resized to before encoding
    # Scores are ~92% white paper, so plain pixel MSE is met best early on by a
    # gray blur. The loss weighs each pixel by 1 + ink_weight * (1 - pixel), i.e.
    # ink pixels (0) count 1 + ink_weight times as much as paper (1).
    ink_weight: float = 0.0
    # Encode and decode ink = 1 - pixel (paper 0, ink 1) instead of the pixel in
    # [-1, 1] (paper 1): the page's blank ~92% is then zero input and a zero
    # output, so the convolutions' work goes to the ink from the first step.
    ink_space: bool = False

    @property
    def factor(self) -> int:
        return 2 ** len(self.channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a skip connection (pre-activation)."""

    @nn.compact
    def __call__(self, x: Array) -> Array:
        ch = x.shape[-1]
        y = nn.Conv(ch, (3, 3))(nn.swish(x))
        y = nn.Conv(ch, (3, 3))(nn.swish(y))
        return x + y


class ImageEncoder(nn.Module):
    """[B, H, W, 1] in [-1, 1] -> latents [B, H/f, W/f, latent_dim]."""

    config: RQVAEConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c = self.config
        x = nn.Conv(c.channels[0], (3, 3))(x)
        for ch in c.channels:
            x = nn.Conv(ch, (4, 4), strides=(2, 2))(x)
            for _ in range(c.res_blocks):
                x = ResBlock()(x)
        return nn.Conv(c.latent_dim, (1, 1))(nn.swish(x))


class ImageDecoder(nn.Module):
    """Latents [B, h, w, latent_dim] -> [B, h*f, w*f, 1] in [-1, 1] space (unclipped)."""

    config: RQVAEConfig

    @nn.compact
    def __call__(self, z: Array) -> Array:
        c = self.config
        x = nn.Conv(c.channels[-1], (3, 3))(z)
        for ch in reversed(c.channels):
            for _ in range(c.res_blocks):
                x = ResBlock()(x)
            x = nn.ConvTranspose(ch, (4, 4), strides=(2, 2))(nn.swish(x))
        return nn.Conv(1, (3, 3))(nn.swish(x))


def pad_to_multiple(images: Array, factor: int) -> Array:
    """Pads [B, H, W] with white (1.0) at the bottom and right up to multiples of factor."""
    _, h, w = images.shape
    if h == 0 or w == 0:
        raise CodecInputError(None, f"image batch has zero size {w}x{h}")
    ph, pw = -h % factor, -w % factor
    return jnp.pad(images, ((0, 0), (0, ph), (0, pw)), constant_values=1.0)


def codes_to_frames(codes: Array) -> Array:
    """Code grid [B, rows, cols, K] -> frames [B, cols * rows, K] in column-major order."""
    b, rows, cols, k = codes.shape
    return jnp.swapaxes(codes, 1, 2).reshape(b, cols * rows, k)


def frames_to_codes(frames: Array, rows: int) -> Array:
    """Frames [B, cols * rows, K] (column-major) -> code grid [B, rows, cols, K]."""
    b, t, k = frames.shape
    if t % rows:
        raise ValueError(f"{t} frames do not fill whole columns of {rows} rows")
    return jnp.swapaxes(frames.reshape(b, t // rows, rows, k), 1, 2)


class RQVAE(RVQAutoencoder):
    """Encodes [B, H, W] grayscale images in [0, 1] into code grids and decodes them back.

    `encode`: images [B, H, W] -> codes [B, ceil(H/f), ceil(W/f), K] (int32).
    """

    config: RQVAEConfig
    encoder_class = ImageEncoder
    decoder_class = ImageDecoder

    def _latents(self, images: Array) -> Array:
        x = pad_to_multiple(images, self.config.factor)
        x = 1.0 - x if self.config.ink_space else x * 2.0 - 1.0
        return self.encoder(x[..., None])

    def decode(self, codes: Array, height: int | None = None, width: int | None = None) -> Array:
        """Codes [B, h, w, n] -> images [B, height, width] in [0, 1] (cropped from h*f x w*f)."""
        images = self._reconstruct(self.quantizer.decode(codes))
        return jnp.clip(images[:, :height, :width], 0.0, 1.0)

    def _reconstruct(self, quantized: Array) -> Array:
        y = self.decoder(quantized)[..., 0]
        return 1.0 - y if self.config.ink_space else (y + 1.0) / 2.0

    def __call__(
        self, images: Array, train: bool = False, num_codebooks: int | None = None
    ) -> tuple[Array, Array, dict[str, Array]]:
        """Reconstruction [B, H, W] (unclipped, for the loss), codes and the quantizer's aux."""
        _, h, w = images.shape
        quantized, codes, aux = self.quantizer(
            self._latents(images), train=train, num_codebooks=num_codebooks
        )
        return self._reconstruct(quantized)[:, :h, :w], codes, aux


def image_loss(model: RQVAE, variables, images: Array, train: bool, rngs=None):
    """Pixel MSE plus VQ losses; returns (loss, aux) with metrics, new vq state, recon, codes."""
    mutable = ["vq"] if train else False
    out = model.apply(variables, images, train=train, rngs=rngs, mutable=mutable)
    (recon, codes, aux), state = out if train else (out, {})
    squared = (recon - images) ** 2
    mse = jnp.mean(squared)
    ink_weight = model.config.ink_weight
    if ink_weight:
        weight = 1.0 + ink_weight * (1.0 - images)
        pixel_loss = jnp.sum(weight * squared) / jnp.sum(weight)
    else:
        pixel_loss = mse
    loss = pixel_loss + aux["vq_loss"]
    metrics = {
        "loss": loss,
        "reconstruction_loss": mse,
        "psnr": psnr(jnp.clip(recon, 0, 1), images),
        "commitment_loss": aux["commitment_loss"],
        "perplexity": jnp.mean(aux["perplexity"]),
    }
    return loss, {"metrics": metrics, "vq": state.get("vq"), "recon": recon, "codes": codes}


def psnr(reconstruction: Array, reference: Array) -> Array:
    """Peak signal-to-noise ratio in dB for images in [0, 1] (mean over the batch's pixels)."""
    mse = jnp.mean((reconstruction - reference) ** 2)
    return 10.0 * jnp.log10(1.0 / jnp.maximum(mse, 1e-10))
