"""`mt3u report codec-spectra`: one tiny-corpus example's log-mel above a codec's
reconstruction of it, with the distance between them computed independently."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.cli import main
from mt3_unified.codecs.audio import AudioCodec, host_log_mel
from mt3_unified.codecs.loading import load_code_encoder, save_codec_config
from mt3_unified.codecs.rvq import prng_key
from mt3_unified.report.codec_spectra import (
    BANDS,
    WINDOW,
    CodecSpectraError,
    codec_spectra,
    corpus_example,
)
from mt3_unified.runtime.checkpoints import checkpoint_manager, save_checkpoint
from tests.codecs.test_audio import TINY

CORPUS = "synthetic_scores/tiny"


@pytest.fixture
def audio_workdir(tmp_path):
    """A workdir holding the tiny audio codec's config and a step-2 checkpoint (random)."""
    import flax.linen as nn

    model = AudioCodec(TINY)
    variables = nn.meta.unbox(jax.jit(model.init)(prng_key(0), jnp.zeros((1, 64))))
    workdir = str(tmp_path / "audio")
    save_codec_config(workdir, TINY)
    manager = checkpoint_manager(workdir)
    save_checkpoint(manager, 2, {key: variables[key] for key in variables})
    manager.wait_until_finished()
    return workdir


def test_the_original_comes_first_and_each_codec_is_measured_against_it(tiny_build, audio_workdir):
    data_dir, _ = tiny_build
    name, example = corpus_example(CORPUS, "test", 1, str(data_dir))
    rows = codec_spectra(example, name, {"random": audio_workdir, "again": audio_workdir})
    assert [row["label"] for row in rows] == [f"{name}, original", "random", "again"]
    encoder = load_code_encoder(audio_workdir)
    audio = encoder.prepare(example["audio"], example["sample_rate"], name)
    original = host_log_mel(audio, 16000, WINDOW, BANDS)
    rebuilt = host_log_mel(encoder.decode(encoder(audio), audio.shape[0]), 16000, WINDOW, BANDS)
    np.testing.assert_array_equal(rows[0]["mel"], original)
    assert rows[0]["mel"].shape == (len(audio) // (WINDOW // 4) + 1, BANDS)
    assert rows[1]["distance"] == pytest.approx(float(np.mean(np.abs(rebuilt - original))))
    assert rows[1]["distance"] == rows[2]["distance"] > 0.0
    assert rows[1]["shape"] == f"{-(-len(audio) // 8)} x 3"  # hop 2 * 4, three codebooks


def test_the_cli_writes_the_picture_and_its_table(tiny_build, audio_workdir, tmp_path):
    data_dir, _ = tiny_build
    output = tmp_path / "out" / "spectra.png"
    argv = ["report", "codec-spectra", "--config", "tiny", "--data-dir", str(data_dir),
            "--codec", f"random codec={audio_workdir}", "-o", str(output)]  # fmt: skip
    assert main(argv) == 0
    assert output.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = output.with_suffix(".md").read_text().splitlines()
    assert lines[4].endswith(", original |  |  | 0 |")
    assert lines[5].startswith(f"| random codec | {audio_workdir} | ")
    assert main(argv[:-4] + ["-o", str(output)]) == 2  # no codec named


def test_an_example_past_the_split_is_refused_by_name(tiny_build):
    data_dir, _ = tiny_build
    with pytest.raises(CodecSpectraError, match=r"synthetic_scores/tiny/test has no example 999"):
        corpus_example(CORPUS, "test", 999, str(data_dir))
