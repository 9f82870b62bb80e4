"""What both codecs are: an encoder, a residual VQ over its latents, and a decoder."""

from __future__ import annotations

from typing import Any, ClassVar

import flax.linen as nn
import jax.numpy as jnp

from mt3_unified.codecs.rvq import ResidualVQ

Array = Any


class RVQAutoencoder(nn.Module):
    """Base of RQVAE and AudioCodec: they declare ``config`` (with ``rvq`` and
    ``latent_dim``), their encoder and decoder classes (or a ``setup`` that picks them),
    and ``_latents(inputs)``."""

    encoder_class: ClassVar[type[nn.Module]]
    decoder_class: ClassVar[type[nn.Module]]

    def setup(self):
        self.encoder = self.encoder_class(self.config)
        self.decoder = self.decoder_class(self.config)
        self.quantizer = ResidualVQ(self.config.rvq, dim=self.config.latent_dim)

    def encode(self, inputs: Array, num_codebooks: int | None = None) -> Array:
        """Inputs -> codes (int32), K per latent position: see the subclass for shapes."""
        _, codes, _ = self.quantizer(self._latents(inputs), num_codebooks=num_codebooks)
        return codes.astype(jnp.int32)
