"""Audio embedders for FAD: the project's audio codec's pre-quantization latents, or a user's."""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.errors import Mt3UnifiedError

Embed = Callable[[np.ndarray], np.ndarray]
CODEC = "codec"


class EmbedderError(Mt3UnifiedError, ValueError):
    """An embedder spec that names nothing loadable; the message says what was tried."""


@functools.partial(jax.jit, static_argnums=0)
def _latents(model, variables, audio):
    # The continuous encoder output the quantizer rounds: finer than codes, so FAD
    # sees timbre the codebooks would flatten.
    return model.apply(variables, audio, method=type(model)._latents)


def codec_embedder(encoder) -> Embed:
    """clip [T] at the codec's rate -> latent frames [ceil(T / hop), D] (an AudioCodeEncoder)."""
    from mt3_unified.codecs.host_encoders import bucket_size

    hop = encoder.model.config.hop

    def embed(audio: np.ndarray) -> np.ndarray:
        audio = np.asarray(audio, np.float32).reshape(-1)
        if audio.size == 0:
            raise ValueError("cannot embed an empty clip")
        # Padded to the encoder's buckets like its codes, so one compile serves many lengths.
        padded = np.pad(audio, (0, bucket_size(audio.size, encoder.bucket) - audio.size))
        frames = _latents(encoder.model, encoder.variables, jnp.asarray(padded[None]))
        return np.asarray(frames[0, : -(-audio.size // hop)], np.float32)

    return embed


def load_embedder(spec: str | Callable | None, audio_encoder=None) -> tuple[Embed, str]:
    """(embed, label) of an embedder spec: None or "codec" (the audio codec's latents,
    `audio_encoder` needed), a callable, or ``module:function[=weights]``: the function is
    called with the weights path (when given) and returns the embed callable."""
    if spec is None or spec == CODEC:
        if audio_encoder is None:
            raise EmbedderError("the codec embedder needs the audio codec (--audio-codec)")
        return codec_embedder(audio_encoder), _codec_label(audio_encoder)
    if callable(spec):
        return spec, getattr(spec, "__name__", type(spec).__name__)
    target, _, weights = spec.partition("=")
    module_name, _, function_name = target.partition(":")
    if not module_name or not function_name:
        raise EmbedderError(f"embedder {spec!r}: expected 'codec' or 'module:function[=weights]'")
    if weights and not os.path.isfile(weights):
        raise EmbedderError(f"embedder {spec!r}: no weights file {weights}")
    try:
        factory = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as err:
        raise EmbedderError(f"embedder {spec!r}: cannot import it ({err})") from err
    embed = factory(weights) if weights else factory()
    if not callable(embed):
        raise EmbedderError(f"embedder {spec!r}: {target} returned {type(embed).__name__}")
    return embed, spec


def _codec_label(encoder) -> str:
    source = encoder.source or {}
    where = f" ({source['workdir']}, step {source['step']})" if source else ""
    return f"audio codec encoder latents{where}"
