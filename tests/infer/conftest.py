"""A real trained run for the inference tests: tiny codecs and a tiny model, trained a few
steps into temporary folders through the same entry points a researcher uses."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import gin
import numpy as np
import pytest

from mt3_unified.codecs.audio import AudioCodecConfig
from mt3_unified.codecs.rqvae import RQVAEConfig
from mt3_unified.codecs.rvq import RVQConfig
from mt3_unified.runtime.gin_config import parse_gin
from tests.model.helpers import SMALL_VOCAB
from tests.train.helpers import TINY_BINDINGS, write_records

# The codecs' codebooks are the vocabulary's (SMALL_VOCAB): 2 x 16 image, 3 x 16 audio.
IMAGE_CODEC = RQVAEConfig(
    channels=(8, 16), res_blocks=1, latent_dim=16, height=32,
    rvq=RVQConfig(num_codebooks=SMALL_VOCAB.image_codebooks, codebook_size=16),
)  # fmt: skip
AUDIO_CODEC = AudioCodecConfig(
    sample_rate=16000, strides=(4, 8, 8), encoder_dim=4, decoder_dim=16, latent_dim=16,
    dilations=(1,), mel_scales=((256, 20),),
    rvq=RVQConfig(num_codebooks=SMALL_VOCAB.audio_codebooks, codebook_size=16, code_dim=4),
)  # fmt: skip
MODEL_STEPS = 4


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    model_dir: str
    codecs: dict[str, str]  # {modality: codec workdir}


def _train_codec(workdir: Path, config, shape) -> str:
    from mt3_unified.codecs.train import train_codec

    rng = np.random.default_rng(0)
    batches = (rng.uniform(0.0, 1.0, shape).astype(np.float32) for _ in itertools.count())
    if len(shape) == 2:  # audio in [-1, 1]
        batches = (2.0 * b - 1.0 for b in batches)
    validation = [next(batches)]
    train_codec(str(workdir), config, data=(batches, validation), steps=2,
                eval_every=2, checkpoint_every=2, warmup_steps=1)  # fmt: skip
    return str(workdir)


def _train_model(model_dir: Path, records: str) -> None:
    from mt3_unified.train import trainer

    gin.clear_config()
    bindings = [*TINY_BINDINGS, f"MODEL_DIR='{model_dir}'", f"TRAIN_RECORDS='{records}'",
                f"TRAIN_STEPS={MODEL_STEPS}", "BATCH_SIZE=4", "CheckpointConfig.every=2",
                "train.progress=False", "train.log_every=1", "train.eval_every=0"]  # fmt: skip
    try:
        parse_gin(["gin/models/tiny.gin", "gin/train.gin", "gin/records.gin"], bindings)
        model = gin.query_parameter("%MODEL").scoped_configurable_fn()
        trainer.train(model=model)
    finally:
        gin.clear_config()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> TrainedRun:
    root = tmp_path_factory.mktemp("trained_run")
    codecs = {
        "image": _train_codec(root / "image_codec", IMAGE_CODEC, (2, IMAGE_CODEC.height, 64)),
        "audio": _train_codec(root / "audio_codec", AUDIO_CODEC, (2, 4096)),
    }
    records = str(root / "train.tfrecord")
    write_records(records)
    _train_model(root / "model", records)
    return TrainedRun(model_dir=str(root / "model"), codecs=codecs)
