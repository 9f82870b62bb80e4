"""Descript Audio Codec (DAC) weights into the project's Flax AudioCodec, as a codec workdir.

The paper's audio codec is DAC (`descript-audio-codec`, PyTorch). A user who has its
weights (``weights.pth``, as ``DAC.save(path, package=False)`` and the released
checkpoints store them) converts them once::

    python -m mt3_unified.codecs.dac_convert weights.pth WORKDIR [--num-codebooks 4]

and bakes with ``mt3u bake --audio-workdir WORKDIR``: the workdir holds
``codec_config.json`` and an Orbax checkpoint, as `mt3u train-codec` writes them.

The Flax codec computes as DAC does when ``AudioCodecConfig.dac_compatible`` is set
(Snake's plain alpha; the quantizer projects raw codebook rows back, see
`audio.DACResidualVQ`). Weight norm is folded into plain kernels, conv kernels are
transposed to Flax's [width, in, out] layout (transposed convs also flipped). DAC
models with odd strides (its 16 and 24 kHz models' 5) are refused: DAC pads those
asymmetrically and its decoder returns one sample less per odd stride.

Reading weights needs only PyTorch (``pip install -e .[dac]``); `convert_dac` also
takes a DAC module built by the ``dac`` package, or a state dict of numpy arrays.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs.audio import AudioCodec, AudioCodecConfig
from mt3_unified.codecs.rvq import RVQConfig, prng_key
from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.runtime.checkpoints import array_shapes, shape_differences
from mt3_unified.vocab.layout import DEFAULT_CODEBOOKS

INSTALL_HINT = "pip install -e .[dac]"
# DAC.__init__'s defaults (dac 1.0.0): its 44.1 kHz model, which the paper uses.
DAC_DEFAULTS = {
    "encoder_dim": 64,
    "encoder_rates": [2, 4, 8, 8],
    "latent_dim": None,
    "decoder_dim": 1536,
    "decoder_rates": [8, 8, 4, 2],
    "n_codebooks": 9,
    "codebook_size": 1024,
    "codebook_dim": 8,
    "quantizer_dropout": False,
    "sample_rate": 44100,
}
DAC_DILATIONS = (1, 3, 9)  # DAC's ResidualUnits per block


class DACConversionError(Mt3UnifiedError, ValueError):
    """DAC weights that the Flax codec cannot hold: odd strides, unknown or missing arrays."""


def _torch():
    try:
        import torch
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"reading DAC weights needs PyTorch: {INSTALL_HINT}") from err
    return torch


def dac_kwargs(dac_model: Any = None, **kwargs) -> dict:
    """DAC's constructor arguments, complete: from a DAC module, else ``kwargs`` over defaults."""
    out = dict(DAC_DEFAULTS)
    if dac_model is not None:
        for name in DAC_DEFAULTS:
            if hasattr(dac_model, name):
                out[name] = getattr(dac_model, name)
        quantizer = getattr(dac_model, "quantizer", None)
        out["quantizer_dropout"] = getattr(quantizer, "quantizer_dropout", False)
    out.update({k: v for k, v in kwargs.items() if k in DAC_DEFAULTS})
    if out["latent_dim"] is None:
        out["latent_dim"] = out["encoder_dim"] * 2 ** len(out["encoder_rates"])
    return out


def dac_config(
    dac_model: Any = None, num_codebooks: int | None = None, **kwargs
) -> AudioCodecConfig:
    """The Flax AudioCodecConfig computing as the DAC module (or DAC's ``kwargs``) does.

    ``num_codebooks`` keeps DAC's first codebooks (all by default): residual codes
    of the first n stages are the same whether or not later stages follow.
    """
    k = dac_kwargs(dac_model, **kwargs)
    rates = tuple(int(r) for r in k["encoder_rates"])
    if any(r % 2 for r in rates):
        raise DACConversionError(
            f"DAC strides {rates}: odd strides are not supported (DAC pads them asymmetrically)"
        )
    if tuple(int(r) for r in k["decoder_rates"]) != rates[::-1]:
        raise DACConversionError(
            f"DAC decoder rates {tuple(k['decoder_rates'])} are not its encoder rates "
            f"{rates} reversed, which the Flax decoder assumes"
        )
    dims = k["codebook_dim"]
    dims = [int(d) for d in dims] if isinstance(dims, Sequence) else [int(dims)]
    if len(set(dims)) != 1:
        raise DACConversionError(f"DAC codebook dims {dims}: the Flax RVQ needs one dim for all")
    available = int(k["n_codebooks"])
    n = available if num_codebooks is None else int(num_codebooks)
    if not 1 <= n <= available:
        raise DACConversionError(f"num_codebooks {n}: the DAC has {available} codebooks")
    return AudioCodecConfig(
        sample_rate=int(k["sample_rate"]),
        strides=rates,
        encoder_dim=int(k["encoder_dim"]),
        decoder_dim=int(k["decoder_dim"]),
        latent_dim=int(k["latent_dim"]),
        dilations=DAC_DILATIONS,
        rvq=RVQConfig(
            num_codebooks=n,
            codebook_size=int(k["codebook_size"]),
            code_dim=dims[0],
            l2_normalize=True,
            learning="loss",
            quantizer_dropout=float(k["quantizer_dropout"]),
        ),
        dac_compatible=True,
    )


class _StateDict:
    """DAC's arrays as float numpy, each taken at most once (leftovers mean a mismatch)."""

    def __init__(self, state_dict: Mapping[str, Any]):
        self.arrays = dict(state_dict)
        self.used: set[str] = set()

    def take(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise DACConversionError(f"DAC weights lack {key!r}")
        self.used.add(key)
        value = self.arrays[key]
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().double().numpy()
        return np.asarray(value, np.float64)

    def weight(self, prefix: str) -> np.ndarray:
        """A (weight-normed) conv's effective weight g * v / |v| (norm over all but dim 0)."""
        for g_key, v_key in (
            ("weight_g", "weight_v"),  # torch.nn.utils.weight_norm
            ("parametrizations.weight.original0", "parametrizations.weight.original1"),
        ):
            if f"{prefix}.{v_key}" in self.arrays:
                g, v = self.take(f"{prefix}.{g_key}"), self.take(f"{prefix}.{v_key}")
                norm = np.sqrt(np.sum(v * v, axis=tuple(range(1, v.ndim)), keepdims=True))
                return g * v / norm
        return self.take(f"{prefix}.weight")

    def conv(self, prefix: str) -> dict:
        """Conv1d (out, in, width) -> Flax Conv {kernel (width, in, out), bias}."""
        kernel = self.weight(prefix).transpose(2, 1, 0)
        return {"kernel": _f32(kernel), "bias": _f32(self.take(f"{prefix}.bias"))}

    def conv_transpose(self, prefix: str) -> dict:
        """ConvTranspose1d (in, out, width) -> Flax ConvTranspose {kernel (width, in, out)}.

        Flax's ConvTranspose (transpose_kernel=False) correlates the stride-dilated
        input with its kernel; PyTorch's is the gradient of a conv, which flips it.
        """
        kernel = self.weight(prefix)[:, :, ::-1].transpose(2, 0, 1)
        return {"kernel": _f32(kernel), "bias": _f32(self.take(f"{prefix}.bias"))}

    def dense(self, prefix: str) -> dict:
        """A width-1 Conv1d (out, in, 1) -> Flax Dense {kernel (in, out), bias}."""
        kernel = self.weight(prefix)[:, :, 0].T
        return {"kernel": _f32(kernel), "bias": _f32(self.take(f"{prefix}.bias"))}

    def snake(self, prefix: str) -> dict:
        return {"alpha": _f32(self.take(f"{prefix}.alpha").reshape(-1))}

    def residual_unit(self, prefix: str) -> dict:
        return {
            "Snake_0": self.snake(f"{prefix}.block.0"),
            "Conv_0": self.conv(f"{prefix}.block.1"),
            "Snake_1": self.snake(f"{prefix}.block.2"),
            "Conv_1": self.conv(f"{prefix}.block.3"),
        }


def _f32(x: np.ndarray) -> jnp.ndarray:
    return jnp.asarray(np.ascontiguousarray(x, np.float32))


def _params(sd: _StateDict, config: AudioCodecConfig, n_dac_codebooks: int) -> dict:
    units = len(config.dilations)
    blocks = len(config.strides)
    encoder = {"Conv_0": sd.conv("encoder.block.0")}
    for i in range(blocks):
        block = f"encoder.block.{i + 1}.block"
        for j in range(units):
            encoder[f"ResidualUnit_{units * i + j}"] = sd.residual_unit(f"{block}.{j}")
        encoder[f"Snake_{i}"] = sd.snake(f"{block}.{units}")
        encoder[f"Conv_{i + 1}"] = sd.conv(f"{block}.{units + 1}")
    encoder[f"Snake_{blocks}"] = sd.snake(f"encoder.block.{blocks + 1}")
    encoder[f"Conv_{blocks + 1}"] = sd.conv(f"encoder.block.{blocks + 2}")

    decoder = {"Conv_0": sd.conv("decoder.model.0")}
    for i in range(blocks):
        block = f"decoder.model.{i + 1}.block"
        decoder[f"Snake_{i}"] = sd.snake(f"{block}.0")
        decoder[f"ConvTranspose_{i}"] = sd.conv_transpose(f"{block}.1")
        for j in range(units):
            decoder[f"ResidualUnit_{units * i + j}"] = sd.residual_unit(f"{block}.{2 + j}")
    decoder[f"Snake_{blocks}"] = sd.snake(f"decoder.model.{blocks + 1}")
    decoder["Conv_1"] = sd.conv(f"decoder.model.{blocks + 2}")

    quantizer, books = {}, []
    for k in range(n_dac_codebooks):
        prefix = f"quantizer.quantizers.{k}"
        in_proj, out_proj = sd.dense(f"{prefix}.in_proj"), sd.dense(f"{prefix}.out_proj")
        book = sd.take(f"{prefix}.codebook.weight")
        if k < config.rvq.num_codebooks:  # later stages are read (checked), not kept
            quantizer[f"in_proj_{k}"], quantizer[f"out_proj_{k}"] = in_proj, out_proj
            books.append(book)
    quantizer["codebooks"] = _f32(np.stack(books))
    return {"encoder": encoder, "decoder": decoder, "quantizer": quantizer}


def convert_dac(
    source: Any, num_codebooks: int | None = None, **kwargs
) -> tuple[AudioCodecConfig, dict]:
    """(AudioCodecConfig, Flax variables {'params', 'vq'}) of a DAC.

    ``source`` is a DAC module of the ``dac`` package, or its state dict (torch tensors
    or numpy arrays) with DAC's constructor ``kwargs`` (DAC's defaults where absent).
    Every array of the DAC must be used, and every Flax parameter filled with the
    shape the Flax model declares, or DACConversionError says which is not.
    """
    if hasattr(source, "state_dict"):
        state_dict, full = source.state_dict(), dac_kwargs(source, **kwargs)
    else:
        state_dict, full = source, dac_kwargs(None, **kwargs)
    config = dac_config(None, num_codebooks, **full)
    sd = _StateDict(state_dict)
    params = _params(sd, config, int(full["n_codebooks"]))
    unused = sorted(set(sd.arrays) - sd.used)
    if unused:
        raise DACConversionError(f"DAC arrays the Flax codec has no place for: {unused[:8]}")
    rvq = config.rvq
    vq = {
        "quantizer": {
            "usage": jnp.zeros((rvq.num_codebooks, rvq.codebook_size), jnp.float32),
            "candidates": jnp.zeros(
                (rvq.num_codebooks, rvq.codebook_size, rvq.code_dim), jnp.float32
            ),
        }
    }
    variables = {"params": params, "vq": vq}
    _check_shapes(config, variables)
    return config, variables


def _check_shapes(config: AudioCodecConfig, variables: dict) -> None:
    """Raises DACConversionError unless ``variables`` have the Flax model's own tree and shapes."""
    import flax.linen as nn

    model = AudioCodec(config)
    expected = jax.eval_shape(model.init, prng_key(0), jnp.zeros((1, config.hop)))
    want, got = array_shapes(nn.meta.unbox(expected)), array_shapes(variables)
    details = shape_differences(want, got, ("Flax", "converted"))
    if details:
        raise DACConversionError(
            "converted DAC does not fit the Flax codec: " + "; ".join(details[:8])
        )


def load_dac_weights(weights_path: str, trust_pickle: bool = False) -> tuple[dict, dict]:
    """(state dict, DAC constructor kwargs) of a DAC weights file.

    Reads ``{'state_dict', 'metadata': {'kwargs'}}`` files (what ``DAC.save(path,
    package=False)`` writes and the released weights hold) with PyTorch alone, as
    plain data (``weights_only``) unless ``trust_pickle``, which unpickles anything in
    the file (and so runs any code it names): for trusted files only. Other files
    (torch.package models) go through the ``dac`` package's ``DAC.load``.
    """
    torch = _torch()
    saved, load_error = None, None
    try:
        saved = torch.load(weights_path, map_location="cpu", weights_only=not trust_pickle)
    except Exception as err:  # not plain data: a torch.package model, say
        load_error = err
    if isinstance(saved, Mapping) and "state_dict" in saved:
        kwargs = dict((saved.get("metadata") or {}).get("kwargs") or {})
        return dict(saved["state_dict"]), kwargs
    reason = f"{type(load_error).__name__}: {load_error}" if saved is None else "no 'state_dict'"
    try:
        import dac
    except ImportError as err:
        raise DACConversionError(
            f"{weights_path}: not DAC weights that PyTorch reads as data ({reason}); if you "
            "trust the file, pass trust_pickle (--trust-pickle); a torch.package DAC needs "
            "the `descript-audio-codec` package"
        ) from err
    model = dac.DAC.load(weights_path)
    return model.state_dict(), dac_kwargs(model)


def convert_dac_checkpoint(
    weights_path: str,
    workdir: str,
    num_codebooks: int | None = DEFAULT_CODEBOOKS,
    trust_pickle: bool = False,
) -> AudioCodecConfig:
    """Converts a DAC weights file into a codec ``workdir`` that `load_code_encoder` loads.

    Keeps DAC's first ``num_codebooks`` codebooks (the vocabulary's default audio
    codebooks; None keeps all). Refuses a workdir that already holds a checkpoint.
    ``trust_pickle``: see `load_dac_weights`.
    """
    from mt3_unified.codecs.loading import save_codec_config
    from mt3_unified.runtime.checkpoints import checkpoint_manager, save_checkpoint

    state_dict, kwargs = load_dac_weights(weights_path, trust_pickle)
    if num_codebooks is not None:
        num_codebooks = min(num_codebooks, int(dac_kwargs(None, **kwargs)["n_codebooks"]))
    config, variables = convert_dac(state_dict, num_codebooks, **kwargs)
    manager = checkpoint_manager(workdir)
    if manager.latest_step() is not None:
        raise DACConversionError(f"{workdir}: already holds a checkpoint; convert into a new one")
    state = {**variables, "step": jnp.asarray(0, jnp.int32)}
    save_checkpoint(manager, 0, state)
    manager.wait_until_finished()
    save_codec_config(workdir, config)
    return config


def main(argv: list[str] | None = None) -> AudioCodecConfig:
    """``python -m mt3_unified.codecs.dac_convert WEIGHTS.pth WORKDIR``."""
    parser = argparse.ArgumentParser(description=convert_dac_checkpoint.__doc__)
    parser.add_argument("weights", help="DAC weights (.pth), e.g. weights_44khz_8kbps_0.0.1.pth")
    parser.add_argument("workdir", help="codec workdir to write (for mt3u bake --audio-workdir)")
    parser.add_argument(
        "--num-codebooks",
        type=int,
        default=DEFAULT_CODEBOOKS,
        help=f"DAC's first codebooks to keep (default {DEFAULT_CODEBOOKS}, the vocabulary's "
        "audio_codebooks; 0 keeps all)",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="unpickle the file fully (it can run code): only for weights you trust that "
        "PyTorch will not read as plain data",
    )
    args = parser.parse_args(argv)
    config = convert_dac_checkpoint(
        args.weights, args.workdir, args.num_codebooks or None, args.trust_pickle
    )
    print(
        f"{args.workdir}: DAC at {config.sample_rate} Hz, hop {config.hop}, "
        f"{config.rvq.num_codebooks} x {config.rvq.codebook_size} codes "
        f"(~{config.sample_rate / config.hop:.1f} frames/s)"
    )
    return config


if __name__ == "__main__":
    main()
