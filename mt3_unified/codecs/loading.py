"""Codec configs saved beside their checkpoints, and trained codecs loaded back without gin.

`train_codec` writes ``codec_config.json`` into its workdir (the frozen codec
config with its RVQConfig, as JSON) and ``config.gin`` (the gin text it ran with,
for people). Loading rebuilds the config from the JSON alone, so it never reads
or changes the caller's gin state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from mt3_unified.codecs.audio import AudioCodec, AudioCodecConfig, audio_loss
from mt3_unified.codecs.host_encoders import AudioCodeEncoder, ImageCodeEncoder
from mt3_unified.codecs.rqvae import RQVAE, RQVAEConfig, image_loss
from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.runtime.checkpoints import CHECKPOINT_DIR, restore_saved

CONFIG_FILE = "codec_config.json"
GIN_FILE = "config.gin"
# kind -> (config class, module class, loss function, host-side encoder class)
CODEC_KINDS = {
    "image": (RQVAEConfig, RQVAE, image_loss, ImageCodeEncoder),
    "audio": (AudioCodecConfig, AudioCodec, audio_loss, AudioCodeEncoder),
}


class CodecLoadError(Mt3UnifiedError, ValueError):
    """A codec workdir that cannot be loaded: no saved config, or one of an unknown kind."""


def codec_kind(config) -> str:
    """'image' for an RQVAEConfig, 'audio' for an AudioCodecConfig."""
    for kind, (config_class, *_) in CODEC_KINDS.items():
        if isinstance(config, config_class):
            return kind
    raise TypeError(f"not a codec config: {type(config).__name__}")


def build_codec(config) -> tuple[nn.Module, Callable]:
    """The codec module and its loss function for an RQVAEConfig or AudioCodecConfig."""
    _, module_class, loss, _ = CODEC_KINDS[codec_kind(config)]
    return module_class(config), loss


def save_codec_config(workdir: str, config, gin_text: str = "") -> str:
    """Writes the codec config as JSON (and the gin text, if any) into ``workdir``."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, CONFIG_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"kind": codec_kind(config), "config": dataclasses.asdict(config)}, f, indent=2)
    if gin_text:
        with open(os.path.join(workdir, GIN_FILE), "w", encoding="utf-8") as f:
            f.write(gin_text)
    return path


def load_codec_config(workdir: str):
    """The codec config that `save_codec_config` wrote into ``workdir``."""
    path = os.path.join(workdir, CONFIG_FILE)
    if not os.path.exists(path):
        raise CodecLoadError(f"{path}: missing; train the codec with `mt3u train-codec` first")
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    if saved.get("kind") not in CODEC_KINDS:
        raise CodecLoadError(f"{path}: unknown codec kind {saved.get('kind')!r}")
    return _dataclass_from_json(CODEC_KINDS[saved["kind"]][0], saved["config"])


def _dataclass_from_json(cls, fields: dict):
    # Every field is passed explicitly, so gin bindings of the (configurable) class
    # cannot fill any of them in.
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in fields:
            continue
        value = fields[field.name]
        hint = hints[field.name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            values[field.name] = _dataclass_from_json(hint, value)
        else:
            values[field.name] = _tuples(value)
    return cls(**values)


def _tuples(value):
    """JSON lists back to the tuples that frozen configs hold (nested: mel scales)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def codec_location(path: str) -> tuple[str, int | None]:
    """(workdir, step) named by a codec path: a workdir (its latest checkpoint, step None) or
    one of its checkpoints, ``WORKDIR/checkpoints/STEP``, so a flag that takes a codec
    workdir can also take any kept checkpoint of it."""
    parent, name = os.path.split(os.path.normpath(path))
    workdir, folder = os.path.split(parent)
    if name.isdigit() and folder == CHECKPOINT_DIR:
        return workdir or ".", int(name)
    return str(path), None


def _restore(path: str, step: int | None):
    """(model, variables, workdir, step) of the codec checkpoint that ``path`` and ``step``
    name."""
    workdir, named_step = codec_location(path)
    step = named_step if step is None else step
    model, _ = build_codec(load_codec_config(workdir))
    step, state = restore_saved(workdir, step)
    variables = jax.tree.map(jnp.asarray, {"params": state["params"], "vq": state["vq"]})
    return model, variables, workdir, step


def load_codec(workdir: str, step: int | None = None):
    """(model, variables) of a codec trained in ``workdir`` (latest checkpoint unless ``step``
    or a checkpoint path names one, see codec_location)."""
    model, variables, _, _ = _restore(workdir, step)
    return model, variables


def load_code_encoder(workdir: str, step: int | None = None):
    """The host-side encoder (ImageCodeEncoder or AudioCodeEncoder) of a trained codec.

    ``workdir`` may name one of its checkpoints (codec_location). Its ``source``
    ({'workdir', 'step'}) says which checkpoint it holds.
    """
    model, variables, workdir, step = _restore(workdir, step)
    encoder_class = CODEC_KINDS[codec_kind(model.config)][3]
    return encoder_class(model, variables, source={"workdir": workdir, "step": int(step)})


def load_encoders(
    image_workdir: str | None = None, audio_workdir: str | None = None
) -> tuple[ImageCodeEncoder | None, AudioCodeEncoder | None]:
    """Host-side encoders of the codecs trained in the workdirs (None where none is given)."""
    encoders = []
    for kind, workdir in (("image", image_workdir), ("audio", audio_workdir)):
        encoder = load_code_encoder(workdir) if workdir else None
        if encoder is not None and codec_kind(encoder.model.config) != kind:
            raise CodecLoadError(f"{workdir}: holds an {codec_kind(encoder.model.config)} codec")
        encoders.append(encoder)
    return encoders[0], encoders[1]
