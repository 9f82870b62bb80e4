"""ModelConfig: the sizes and switches of the unified transformer, bound from gin."""

from __future__ import annotations

import dataclasses

import gin
import jax.numpy as jnp

NORMS = ("rms", "layer")
MLPS = ("gated_gelu", "gelu", "relu")
ATTENTIONS = ("matmul", "jax", "cudnn")
POSITION_INITS = ("sinusoid", "normal")


@gin.configurable
@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything the network's shape depends on except the vocabulary.

    The vocabulary (size, codebooks per modality, logit masks) and the loss's
    settings are UnifiedModel's own arguments, so one config serves any
    codebook layout and any loss.
    """

    emb_dim: int = 512
    num_heads: int = 8
    num_kv_heads: int = 8  # < num_heads gives grouped-query attention
    head_dim: int = 64
    mlp_dim: int = 2048
    num_encoder_layers: int = 6
    num_decoder_layers: int = 6
    depth_layers: int = 1  # RQ-Transformer depth decoder over the K codes of a frame
    depth_heads: int = 8
    depth_mlp_dim: int = 2048
    max_input_len: int = 1024  # rows of the per-modality learned positional tables
    max_target_len: int = 1024
    # How those tables start: "sinusoid" (the fixed sinusoids of MT3's network, at the
    # token embeddings' scale, then learned) or "normal" (std 0.1). Small normal tables
    # leave positions too faint beside the tokens (std 1) for cross-attention to find
    # its place: the tiny demo model then ignored its inputs.
    position_init: str = "sinusoid"
    # Rows of the image code grid (the image codec's height / downsampling); > 0 adds a
    # learned embedding of each image frame's row (frame t of the column-major grid sits
    # in row t mod image_rows) to the encoder's image inputs and the decoder's image
    # targets. A 1-D table knows a row only through t mod 8, which its sinusoids do not
    # carry (no frequency of MT3's table has period 8), and a pitch is a row.
    image_rows: int = 0
    norm: str = "rms"
    mlp: str = "gated_gelu"
    dropout_rate: float = 0.0
    dtype: str = "float32"  # activations; parameters are always float32
    remat: bool = False  # rematerialize each layer in the backward pass
    # How attention is computed: "matmul" (two batched products, tuned for XLA
    # on CPU), "jax" (jax.nn.dot_product_attention with JAX's default, which is
    # XLA today) or "cudnn" (cuDNN's fused flash attention on an NVIDIA GPU; an
    # error where cuDNN can't serve the shapes, e.g. odd lengths in training).
    attention: str = "matmul"
    # Continuous inputs (mel frames or image patches) of these modalities are
    # projected with a linear layer; 0 features switches the path off.
    continuous_input_dim: int = 0
    continuous_modalities: tuple[str, ...] = ()

    def __post_init__(self):
        if self.norm not in NORMS:
            raise ValueError(f"ModelConfig.norm must be one of {NORMS}, got {self.norm!r}")
        if self.mlp not in MLPS:
            raise ValueError(f"ModelConfig.mlp must be one of {MLPS}, got {self.mlp!r}")
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads ({self.num_heads}) must be a multiple of "
                f"num_kv_heads ({self.num_kv_heads})"
            )
        if self.attention not in ATTENTIONS:
            raise ValueError(
                f"ModelConfig.attention must be one of {ATTENTIONS}, got {self.attention!r}"
            )
        if self.position_init not in POSITION_INITS:
            raise ValueError(
                f"ModelConfig.position_init must be one of {POSITION_INITS}, "
                f"got {self.position_init!r}"
            )
        if self.image_rows < 0:
            raise ValueError(f"ModelConfig.image_rows must be >= 0, got {self.image_rows}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ValueError(f"ModelConfig.dtype must be float32 or bfloat16, got {self.dtype!r}")

    @property
    def activation_dtype(self):
        return jnp.bfloat16 if self.dtype == "bfloat16" else jnp.float32
