"""The tiny gin configs learn real score images and synthesized audio; checkpoints resume."""

import os
from pathlib import Path

import gin
import jax
import numpy as np
import pytest

from mt3_unified.codecs import data as codec_data
from mt3_unified.codecs.bake import BakeConfig, bake_examples
from mt3_unified.codecs.host_encoders import ImageCodeEncoder
from mt3_unified.codecs.loading import load_codec
from mt3_unified.codecs.train import configured_codec, train_codec
from mt3_unified.errors import CheckpointMismatchError
from tests.codecs.scores import render_audio, render_systems

GIN_DIR = Path(__file__).resolve().parents[2] / "gin" / "codecs"
TRAIN_PIECES = ("bach/bwv66.6", "bach/bwv1.6")
HELD_OUT_PIECE = "bach/bwv10.7"
FLAT_GRAY_MARGIN_DB = 2.0


def _psnr(reconstruction: np.ndarray, reference: np.ndarray) -> float:
    return float(10.0 * np.log10(1.0 / max(np.mean((reconstruction - reference) ** 2), 1e-10)))


def _gin_config(name: str):
    gin.clear_config()
    gin.parse_config_file(str(GIN_DIR / name))
    return configured_codec()


@pytest.mark.slow
def test_tiny_image_codec_learns_uses_its_codes_and_resumes(tmp_path):
    config = _gin_config("rqvae_tiny.gin")
    train = [s for piece in TRAIN_PIECES for s in render_systems(piece, tmp_path, config.height)]
    held_out = render_systems(HELD_OUT_PIECE, tmp_path, config.height)[:4]
    data = (
        codec_data.random_crops(train, 8, 128, fill=1.0),
        codec_data.fixed_crops(held_out, 8, 128, fill=1.0),
    )
    workdir = str(tmp_path / "rqvae")
    result = train_codec(workdir, data=data)
    first, last = result["first"], result["last"]
    print(f"image codec: first {first}\nlast {last}")
    assert last["reconstruction_loss"] <= 0.5 * first["reconstruction_loss"]
    assert last["perplexity"] > config.rvq.codebook_size / 2
    assert last["psnr"] > first["psnr"] + 3.0
    # Scores are mostly white paper: the codec must beat a flat image of each crop's
    # mean gray (the level a gray blur reaches), here by FLAT_GRAY_MARGIN_DB; PSNR
    # per batch as `evaluate` computes it.
    flat = np.mean([_psnr(b.mean(axis=(1, 2), keepdims=True), b) for b in data[1]])
    print(f"image codec: PSNR {last['psnr']:.2f} dB, flat mean gray {flat:.2f} dB")
    assert last["psnr"] > flat + FLAT_GRAY_MARGIN_DB

    # Resuming at the final step trains nothing and evaluates the same weights.
    again = train_codec(workdir, data=data)
    assert again["first"] is None
    np.testing.assert_allclose(again["last"]["reconstruction_loss"], last["reconstruction_loss"])
    model, variables = load_codec(workdir)
    encoder = ImageCodeEncoder(model, variables)
    example = {"id": "bwv10.7/0", "image": held_out[0]}
    baked = list(
        bake_examples([example], encoder, config=BakeConfig(image_shifts=((0, 0), (0, 4))))
    )
    again = list(bake_examples([example], ImageCodeEncoder(*load_codec(workdir))))[0]
    np.testing.assert_array_equal(baked[0]["image_codes"], again["image_codes"])
    assert baked[0]["image_grid_rows"] == config.height // config.factor

    # A workdir trained with another config is refused by name, not restored half-way.
    gin.bind_parameter("RQVAEConfig.channels", (8, 16))
    with pytest.raises(CheckpointMismatchError, match="rqvae: its checkpoint"):
        train_codec(workdir, data=data)
    gin.clear_config()


@pytest.mark.slow
def test_tiny_audio_codec_learns_and_uses_its_codes(tmp_path):
    config = _gin_config("audio_tiny.gin")
    rate = config.sample_rate
    train = [render_audio(piece, tmp_path, rate) for piece in TRAIN_PIECES]
    held_out = [render_audio(HELD_OUT_PIECE, tmp_path, rate)[: 3 * rate]]
    data = (
        codec_data.random_crops(train, 8, 4096, fill=0.0),
        codec_data.fixed_crops(held_out, 8, 4096, fill=0.0),
    )
    result = train_codec(None, data=data)
    first, last = result["first"], result["last"]
    print(f"audio codec: first {first}\nlast {last}")
    assert last["reconstruction_loss"] <= 0.5 * first["reconstruction_loss"]
    assert last["perplexity"] > config.rvq.codebook_size / 2
    # The waveform, not only its spectrum: audio_tiny.gin weighs the waveform L1 up
    # (at DAC's weight 1 this was -20.8 dB after the same 200 steps).
    assert last["si_snr"] > 0.0
    gin.clear_config()


class _InterruptedError(Exception):
    """Stands for a kill: the run stops in the middle of a step's batch."""


def _dies_after(batches, count: int):
    for i, batch in enumerate(batches):
        if i == count:
            raise _InterruptedError
        yield batch


def test_an_interrupted_codec_run_resumes_to_the_same_parameters(tmp_path):
    config = _gin_config("rqvae_tiny.gin")
    rng = np.random.default_rng(0)
    images = [rng.uniform(size=(config.height, 96)).astype(np.float32) for _ in range(4)]
    settings = dict(steps=6, eval_every=0, checkpoint_every=2, warmup_steps=2)

    def data(stop_at=None):
        crops = codec_data.random_crops(images, 2, 32, fill=1.0, seed=3)
        batches = crops if stop_at is None else _dies_after(crops, stop_at)
        return batches, codec_data.fixed_crops(images[:2], 2, 32, fill=1.0)

    whole = train_codec(str(tmp_path / "whole"), data=data(), keep_checkpoints=None, **settings)
    resumed_dir = str(tmp_path / "resumed")
    with pytest.raises(_InterruptedError):  # during step 4, after the step-2 and step-4 saves began
        train_codec(resumed_dir, data=data(stop_at=5), **settings)
    resumed = train_codec(resumed_dir, data=data(), **settings)
    assert resumed["first"] is None
    for a, b in zip(
        jax.tree.leaves(whole["variables"]), jax.tree.leaves(resumed["variables"]), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # keep_checkpoints=None kept every checkpoint (a curve's points); the default the newest 2.
    assert sorted(os.listdir(tmp_path / "whole" / "checkpoints"), key=int) == ["2", "4", "6"]
    assert sorted(os.listdir(Path(resumed_dir) / "checkpoints"), key=int) == ["4", "6"]


def test_a_dead_code_threshold_that_restarts_most_codes_is_warned_of(tmp_path, caplog):
    _gin_config("rqvae_tiny.gin")
    # Far above a code's mean hits a step, with usage forgotten in a step or two: every
    # code is restarted at every restart, judged over restarts 11-20 (steps 22-40).
    gin.bind_parameter("RVQConfig.dead_code_threshold", 100.0)
    gin.bind_parameter("RVQConfig.usage_decay", 0.5)
    config = configured_codec()
    rng = np.random.default_rng(0)
    images = [rng.uniform(size=(config.height, 96)).astype(np.float32) for _ in range(2)]
    data = (
        codec_data.random_crops(images, 2, 32, fill=1.0, seed=3),
        codec_data.fixed_crops(images, 2, 32, fill=1.0),
    )
    with caplog.at_level("WARNING"):
        train_codec(None, data=data, steps=48, eval_every=0, warmup_steps=2, restart_every=2)
    total = config.rvq.num_codebooks * config.rvq.codebook_size
    warnings = [m for r in caplog.records if "restarted from random" in (m := r.getMessage())]
    assert warnings == [
        f"step 40: restarts replaced {total} of {total} codes on average (codes hit less than "
        "100 times a step are restarted from random inputs): most never train. Set "
        "RVQConfig.dead_code_threshold well below a code's mean hits a step (vectors a "
        "batch / codebook size)."
    ]
    gin.clear_config()
