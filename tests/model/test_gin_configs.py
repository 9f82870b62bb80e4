"""Model gin files: each size parses through its include of base.gin, from any directory,
and gin builds the same UnifiedModel as code does."""

from pathlib import Path

import gin
import jax
import numpy as np
import pytest

from mt3_unified.model.config import ModelConfig
from mt3_unified.model.model import UnifiedModel, gin_model
from mt3_unified.vocab.layout import MODALITIES, VocabularyLayout
from tests.model.helpers import ALL_PAIRS, SMALL_VOCAB, make_batch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


@pytest.mark.parametrize("size", ["tiny", "small", "base", "paper"])
def test_gin_model_configs_parse(size, clean_gin):
    model = gin_model([str(ROOT / "gin" / "models" / f"{size}.gin")])
    config = model.config
    assert config.emb_dim > 0
    if size == "paper":
        assert (config.num_encoder_layers, config.num_decoder_layers) == (12, 12)
        assert (config.emb_dim, config.num_heads, config.mlp_dim) == (1024, 16, 4096)
        assert (config.depth_layers, config.depth_heads) == (1, 8)
        assert model.label_smoothing == 0.1
    else:
        assert model.label_smoothing == 0.0
    assert len(MODALITIES) == 4


def test_tiny_gin_builds_the_model_code_builds(tmp_path, monkeypatch, clean_gin):
    # From another working directory, by its name from the repository's root:
    # the include of gin/models/base.gin resolves all the same.
    monkeypatch.chdir(tmp_path)
    vocab_bindings = [
        f"VocabularyConfig.{field} = {getattr(SMALL_VOCAB, field)}"
        for field in ("image_codebooks", "image_codebook_size")
        + ("audio_codebooks", "audio_codebook_size")
    ]
    from_gin = gin_model(["gin/models/tiny.gin"], vocab_bindings)
    by_hand = UnifiedModel(
        ModelConfig(
            emb_dim=64,
            num_heads=4,
            num_kv_heads=4,
            head_dim=16,
            mlp_dim=128,
            num_encoder_layers=2,
            num_decoder_layers=2,
            depth_layers=1,
            depth_heads=4,
            depth_mlp_dim=128,
            max_input_len=512,
            max_target_len=512,
        ),
        VocabularyLayout(SMALL_VOCAB),
    )
    assert from_gin.config == by_hand.config
    assert from_gin.vocabulary == by_hand.vocabulary
    params = by_hand.init(jax.random.key(0))
    batch = make_batch(ALL_PAIRS)
    loss, _ = jax.jit(from_gin.loss_fn)(params, batch)
    expected, _ = jax.jit(by_hand.loss_fn)(params, batch)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
