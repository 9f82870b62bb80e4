"""CodebookInit: code embedding rows start as the codecs' codebooks projected to the model width."""

import dataclasses

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mt3_unified.codecs.audio import AudioCodec
from mt3_unified.codecs.loading import CodecLoadError, save_codec_config
from mt3_unified.codecs.rqvae import RQVAE
from mt3_unified.codecs.rvq import prng_key
from mt3_unified.errors import CodebookMismatchError
from mt3_unified.model.codebook_init import CodebookInit, codec_codebooks
from mt3_unified.model.model import UnifiedModel
from mt3_unified.runtime.checkpoints import checkpoint_manager, save_checkpoint
from mt3_unified.train import partitioning
from mt3_unified.train.state import create_train_state
from mt3_unified.vocab.unified import UnifiedVocabulary
from tests.codecs.test_audio import TINY as AUDIO_TINY
from tests.codecs.test_rqvae import TINY as IMAGE_TINY
from tests.model.helpers import SMALL_VOCAB, TINY, tiny_model, vocab


def _workdir(path, module, config, inputs):
    """A codec workdir with the config and a step-1 checkpoint of freshly made variables."""
    variables = nn.meta.unbox(jax.jit(module(config).init)(prng_key(0), inputs))
    save_codec_config(str(path), config)
    manager = checkpoint_manager(str(path))
    save_checkpoint(manager, 1, {"params": variables["params"], "vq": variables["vq"]})
    manager.wait_until_finished()
    return str(path), variables


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("codecs")
    image = _workdir(root / "image", RQVAE, IMAGE_TINY, jnp.ones((1, 32, 32)))
    audio = _workdir(root / "audio", AudioCodec, AUDIO_TINY, jnp.ones((1, 64)))
    return {"image": image, "audio": audio}


def _projection(books, emb_dim, seed):
    """The documented P, written out: N(0, 1) from the seed, scaled to an RMS of 1."""
    gaussian = np.random.default_rng(seed).standard_normal((books.shape[-1], emb_dim))
    projected = books.reshape(-1, books.shape[-1]).astype(np.float64) @ gaussian
    return (gaussian / np.sqrt(np.mean(projected**2))).astype(np.float32)


def _fresh_embedding(model, params_fn, seed=3):
    mesh = partitioning.make_mesh(-1, 1)
    state, _ = create_train_state(model, optax.adamw(1e-3), mesh, seed, params_fn=params_fn)
    return np.asarray(state.params["token_embed"])


def test_code_rows_are_the_codebooks_times_the_projection(workdirs):
    model = tiny_model()
    init = CodebookInit(
        image_codec_workdir=workdirs["image"][0], audio_codec_workdir=workdirs["audio"][0], seed=5
    )
    table = _fresh_embedding(model, init.params_fn(model))
    plain = _fresh_embedding(model, None)
    # The image codec learns its codebooks by EMA, without L2 normalization: they are the
    # raw `vq` variables. The audio codec's are normalized parameters (codec_codebooks).
    image_books = np.asarray(workdirs["image"][1]["vq"]["quantizer"]["codebooks"], np.float32)
    audio_model = AudioCodec(AUDIO_TINY)
    audio_books = codec_codebooks(audio_model, workdirs["audio"][1])
    assert audio_books.shape == (3, 16, 4)
    np.testing.assert_allclose(np.linalg.norm(audio_books, axis=-1), 1.0, rtol=1e-5)
    changed = np.zeros(len(table), bool)
    for modality, books, seed in (("image", image_books, 5), ("audio", audio_books, 6)):
        projection = _projection(books, TINY.emb_dim, seed)
        assert vocab().num_codebooks(modality) == books.shape[0]
        for k in range(books.shape[0]):
            lo, hi = vocab().id_range(modality, k)
            np.testing.assert_array_equal(table[lo:hi], books[k] @ projection)
            changed[lo:hi] = True
    assert changed.sum() == 2 * 16 + 3 * 16
    np.testing.assert_array_equal(table[~changed], plain[~changed])
    # Every modality's projected rows together have the init's RMS (1.0).
    for modality in ("image", "audio"):
        ranges = [vocab().id_range(modality, k) for k in range(vocab().num_codebooks(modality))]
        rows = np.concatenate([table[lo:hi] for lo, hi in ranges])
        np.testing.assert_allclose(np.sqrt(np.mean(rows.astype(np.float64) ** 2)), 1.0, rtol=1e-5)


def test_one_modality_only_leaves_the_other_rows_alone(workdirs):
    model = tiny_model()
    table = _fresh_embedding(
        model, CodebookInit(audio_codec_workdir=workdirs["audio"][0]).params_fn(model)
    )
    plain = _fresh_embedding(model, None)
    lo, hi = vocab().id_range("image", 0)
    np.testing.assert_array_equal(table[lo:hi], plain[lo:hi])
    lo, hi = vocab().id_range("audio", 0)
    assert not np.array_equal(table[lo:hi], plain[lo:hi])


def test_no_workdir_means_no_change():
    assert CodebookInit().params_fn(tiny_model()) is None


def test_codebook_count_mismatch_names_both(workdirs):
    config = dataclasses.replace(SMALL_VOCAB, image_codebooks=3)
    model = UnifiedModel(TINY, UnifiedVocabulary(config))
    workdir = workdirs["image"][0]
    with pytest.raises(CodebookMismatchError) as err:
        CodebookInit(image_codec_workdir=workdir).params_fn(model)
    assert str(err.value) == (
        "CodebookInit: the vocabulary has 3 image codebooks of 16 codes (VocabularyConfig) "
        f"but the image codec in {workdir} has 2 of 16"
    )


def test_a_workdir_of_the_other_modality_is_an_error(workdirs):
    workdir = workdirs["audio"][0]
    with pytest.raises(CodecLoadError) as err:
        CodebookInit(image_codec_workdir=workdir).params_fn(tiny_model())
    assert str(err.value) == f"CodebookInit.image_codec_workdir {workdir}: holds an audio codec"


def test_gin_binds_the_switch():
    gin.clear_config()
    try:
        gin.parse_config("CodebookInit.image_codec_workdir = '/codecs/image'")
        assert CodebookInit() == CodebookInit(image_codec_workdir="/codecs/image")
    finally:
        gin.clear_config()


def test_the_trainer_starts_fresh_parameters_from_the_gin_bound_codecs(workdirs, tmp_path):
    import functools

    from mt3_unified.train.inputs import record_dataset
    from mt3_unified.train.trainer import train
    from tests.train.helpers import write_records

    records = str(tmp_path / "records.tfrecord")
    write_records(records, seeds=[0])
    image = workdirs["image"][0]
    gin.clear_config()
    try:
        gin.parse_config(f"CodebookInit.image_codec_workdir = '{image}'")
        result = train(
            model=tiny_model(),
            train_dataset_fn=functools.partial(record_dataset, pattern=records),
            model_dir=str(tmp_path / "run"),
            steps=0,
            batch_size=2,
            progress=False,
        )
    finally:
        gin.clear_config()
    assert result.origin == "fresh parameters"
    table = np.asarray(result.state.params["token_embed"])
    # The trainer's seed is 0: the same table as create_train_state's with the switch.
    expected = _fresh_embedding(
        tiny_model(), CodebookInit(image_codec_workdir=image).params_fn(tiny_model()), seed=0
    )
    np.testing.assert_array_equal(table, expected)
    lo, hi = vocab().id_range("image", 1)
    assert not np.array_equal(table[lo:hi], _fresh_embedding(tiny_model(), None, seed=0)[lo:hi])
