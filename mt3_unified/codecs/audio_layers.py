"""The audio codec's building blocks: Snake activations and dilated residual conv units."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

Array = Any


class Snake(nn.Module):
    """x + sin^2(alpha x) / alpha with a learned alpha per channel: periodic bias for audio."""

    dac: bool = False  # AudioCodecConfig.dac_compatible: a plain `alpha`, as DAC holds it

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if self.dac:
            alpha = self.param("alpha", nn.initializers.ones, (x.shape[-1],))
            return x + jnp.reciprocal(alpha + 1e-9) * jnp.sin(alpha * x) ** 2
        # alpha = exp(log_alpha): a plain alpha can step through 0, where 1/alpha explodes.
        log_alpha = self.param("log_alpha", nn.initializers.zeros, (x.shape[-1],))
        alpha = jnp.exp(log_alpha)
        return x + jnp.sin(alpha * x) ** 2 / alpha


class ResidualUnit(nn.Module):
    """Snake, dilated k7 conv, Snake, k1 conv, plus the input."""

    dilation: int
    dac: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        ch = x.shape[-1]
        y = nn.Conv(ch, (7,), kernel_dilation=(self.dilation,))(Snake(self.dac)(x))
        return x + nn.Conv(ch, (1,))(Snake(self.dac)(y))
