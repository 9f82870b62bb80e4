"""Codec loading: the config comes back from the workdir's JSON, the caller's gin is untouched."""

import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.codecs.host_encoders import ImageCodeEncoder
from mt3_unified.codecs.loading import (
    CodecLoadError,
    codec_location,
    load_code_encoder,
    load_codec,
    load_codec_config,
    load_encoders,
    save_codec_config,
)
from mt3_unified.codecs.rqvae import RQVAE
from mt3_unified.codecs.rvq import prng_key
from mt3_unified.model.config import ModelConfig
from mt3_unified.runtime.checkpoints import checkpoint_manager, save_checkpoint
from tests.codecs.test_audio import TINY as AUDIO_TINY
from tests.codecs.test_rqvae import TINY as IMAGE_TINY


@pytest.fixture
def image_workdir(tmp_path):
    """A workdir holding the tiny image codec's config and a step-3 checkpoint."""
    import flax.linen as nn

    model = RQVAE(IMAGE_TINY)
    variables = nn.meta.unbox(jax.jit(model.init)(prng_key(0), jnp.ones((1, 32, 32))))
    workdir = str(tmp_path / "image")
    save_codec_config(workdir, IMAGE_TINY, "RQVAEConfig.height = 48\n")
    manager = checkpoint_manager(workdir)
    save_checkpoint(manager, 3, {"params": variables["params"], "vq": variables["vq"]})
    manager.wait_until_finished()
    return workdir, variables


def test_configs_round_trip_through_json(tmp_path):
    for config in (IMAGE_TINY, AUDIO_TINY):
        save_codec_config(str(tmp_path), config)
        assert load_codec_config(str(tmp_path)) == config


def test_loading_a_codec_leaves_the_callers_gin_bindings_alone(image_workdir):
    workdir, variables = image_workdir
    gin.clear_config()
    gin.bind_parameter("ModelConfig.emb_dim", 24)
    gin.bind_parameter("RVQConfig.codebook_size", 7)  # would change the codec if gin were read
    try:
        model, loaded = load_codec(workdir)
        assert model.config == IMAGE_TINY
        assert gin.query_parameter("ModelConfig.emb_dim") == 24
        assert ModelConfig().emb_dim == 24
    finally:
        gin.clear_config()
    np.testing.assert_array_equal(
        jax.tree.leaves(loaded["params"])[0], jax.tree.leaves(variables["params"])[0]
    )


def test_a_loaded_encoder_says_which_checkpoint_it_holds(image_workdir):
    workdir, _ = image_workdir
    encoder = load_code_encoder(workdir)
    assert isinstance(encoder, ImageCodeEncoder)
    assert encoder.source == {"workdir": workdir, "step": 3}
    with pytest.raises(CodecLoadError, match="holds an image codec"):
        load_encoders(audio_workdir=workdir)


def test_a_workdir_without_a_saved_config_is_refused_by_name(tmp_path):
    with pytest.raises(CodecLoadError, match="codec_config.json: missing; train the codec"):
        load_codec(str(tmp_path))


def test_a_codec_path_may_name_one_of_its_checkpoints(image_workdir, tmp_path):
    workdir, variables = image_workdir
    later = jax.tree.map(lambda v: v + 1.0, {"params": variables["params"], "vq": variables["vq"]})
    manager = checkpoint_manager(workdir)
    save_checkpoint(manager, 5, later)
    manager.wait_until_finished()
    assert codec_location(workdir) == (workdir, None)
    assert codec_location(f"{workdir}/checkpoints/3/") == (workdir, 3)
    assert codec_location("checkpoints/3") == (".", 3)
    assert codec_location(str(tmp_path / "checkpoints2" / "3")) == (
        str(tmp_path / "checkpoints2" / "3"),
        None,
    )
    encoder = load_code_encoder(f"{workdir}/checkpoints/3")
    assert encoder.source == {"workdir": workdir, "step": 3}
    assert load_code_encoder(workdir).source == {"workdir": workdir, "step": 5}
    first = jax.tree.leaves(variables["params"])[0]
    np.testing.assert_array_equal(jax.tree.leaves(encoder.variables["params"])[0], first)
