"""Bad input: undecodable images, dropped-example counts per task and reason, seeded choices."""

from __future__ import annotations

import io

import gin
import numpy as np
import pytest

from mt3_unified.codecs import baked as baked_format
from mt3_unified.preprocessors.validation import REASONS, VALID
from mt3_unified.tasks.registry import (
    add_translation_task,
    dropped_counts,
    get_task_or_mixture,
    task_name,
)
from mt3_unified.tasks.sources import Corpus, JoinedRawSource, SourceError, decode_image_or_empty
from tests.corpus.conftest import needs_fluidsynth
from tests.tasks.conftest import (
    AUDIO_BOOKS,
    CODES,
    FRAME_RATE,
    HANDMADE,
    IMAGE_BOOKS,
    LMX,
    VARIANTS,
    gin_bindings,
    unit_codes,
)

LENGTHS = {"inputs": 32, "targets": 40}
BAD = "handmade_bad"  # the baked corpus of this file's units, one problem each
# (piece id, image frames, audio frames, image codes offset: 90 puts codes out of range)
BAD_UNITS = [
    ("p", 6, 20, 0),  # valid
    ("q", 0, 10, 0),  # no image frames: image_empty
    ("r", 6, 10, 90),  # codes outside the codebook: codes_out_of_range
    ("s", 40, 10, 0),  # 40 + EOS frames do not fit 32: too_long
    ("t", 6, 0, 0),  # no audio frames: no_audio
]
CORRUPT_TFDS = "corrupt_scores"  # a TFDS corpus holding one PNG that does not decode


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


GOOD_PNG = _png(np.full((4, 6), 204, np.uint8))
CORRUPT_PNG = GOOD_PNG[:24] + b"\x00" * 40  # the signature and a header, then garbage


def _bad_records():
    for piece, image_frames, audio_frames, offset in BAD_UNITS:
        for variant in range(VARIANTS):
            image = unit_codes(image_frames, IMAGE_BOOKS, variant, 0) + offset
            yield {
                "piece_id": piece,
                "system_index": np.int32(0),
                "start_time": np.float32(0.0),
                "lmx": LMX,
                "variant": variant,
                "image_codes": image.astype(np.int32),
                "audio_codes": unit_codes(audio_frames, AUDIO_BOOKS, variant, 0),
            }


@pytest.fixture(scope="module")
def bad_baked(tmp_path_factory):
    root = tmp_path_factory.mktemp("baked_bad")
    folder = root / BAD
    folder.mkdir()
    records = list(_bad_records())
    spec = {}
    for record in records:
        spec.update(baked_format.spec_of(record))
    baked_format.write_tfrecord(records, str(folder / "train.tfrecord"))
    baked_format.write_feature_spec(str(folder), spec)
    books = {"num_codebooks": IMAGE_BOOKS, "codebook_size": CODES}
    audio = {"num_codebooks": AUDIO_BOOKS, "codebook_size": CODES, "frame_rate": FRAME_RATE}
    baked_format.write_codec_descriptions(
        str(folder), {"image": {"kind": "image", **books}, "audio": {"kind": "audio", **audio}}
    )
    add_translation_task(BAD, "image", "audio", source=Corpus(BAD, splits=("train",)))
    gin_bindings(root / "no_tfds", root)
    yield root
    gin.clear_config()


def _counts(**nonzero) -> dict:
    return {name: nonzero.get(name, 0) for name in (*REASONS, VALID)}


def test_dropped_counts_name_each_task_and_reason(bad_baked):
    name = task_name(BAD, "image", "audio")
    expected = _counts(no_audio=1, image_empty=1, codes_out_of_range=1, too_long=1, valid=1)
    assert dropped_counts(name, "train", LENGTHS) == {name: expected}
    kept = get_task_or_mixture(name).get_dataset(LENGTHS, split="train", shuffle=False, seed=0)
    assert [ex["piece_id"] for ex in kept.as_numpy_iterator()] == [b"p"]


def test_dropped_counts_of_a_mixture_list_its_tasks_with_the_split(handmade_gin):
    import seqio

    tasks = [task_name(HANDMADE, "image", "audio"), task_name(HANDMADE, "audio", "midi")]
    seqio.MixtureRegistry.remove("handmade_counted")
    seqio.MixtureRegistry.add("handmade_counted", tasks, default_rate=1.0)
    counts = dropped_counts("handmade_counted", "train", LENGTHS)
    assert counts == {tasks[0]: _counts(valid=3), tasks[1]: _counts(valid=3)}


def test_same_seed_same_batches_another_seed_another_choice(handmade_gin):
    from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
    from mt3_unified.vocab.unified import unified_vocabulary

    task = get_task_or_mixture(task_name(HANDMADE, "image", "audio"))
    converter = UnifiedFeatureConverter(unified_vocabulary())

    def batches(seed, shuffle):
        ds = task.get_dataset(LENGTHS, split="train", shuffle=shuffle, seed=seed)
        return [
            b["encoder_input_tokens"] for b in converter(ds, LENGTHS).batch(3).as_numpy_iterator()
        ]

    for shuffle in (False, True):
        np.testing.assert_array_equal(batches(7, shuffle), batches(7, shuffle))
    assert not np.array_equal(batches(7, False), batches(8, False))


def test_undecodable_bytes_give_an_empty_image():
    decoded = decode_image_or_empty(GOOD_PNG).numpy()
    np.testing.assert_allclose(decoded, np.full((4, 6), 0.8, np.float32))
    assert decode_image_or_empty(CORRUPT_PNG).numpy().shape == (0, 0)
    assert decode_image_or_empty(b"").numpy().shape == (0, 0)


def test_a_tfds_corpus_with_a_corrupt_png_drops_and_counts_it(tmp_path):
    import tensorflow_datasets as tfds

    features = tfds.features.FeaturesDict(
        {
            "piece_id": tfds.features.Text(),
            "lmx": tfds.features.Text(),
            "image": tfds.features.Image(shape=(None, None, 1)),
        }
    )
    rows = [("good", GOOD_PNG), ("corrupt", CORRUPT_PNG)]
    examples = [(p, {"piece_id": p, "lmx": LMX, "image": io.BytesIO(png)}) for p, png in rows]
    tfds.dataset_builders.store_as_tfds_dataset(
        CORRUPT_TFDS, "1.0.0", features, {"train": examples}, data_dir=str(tmp_path)
    )
    add_translation_task(
        CORRUPT_TFDS, "image", "lmx", source=Corpus(CORRUPT_TFDS, splits=("train",))
    )
    gin_bindings(tmp_path, tmp_path / "no_baked")
    gin.bind_parameter("ContinuousInputs.modalities", ("image",))
    gin.bind_parameter("ContinuousInputs.image_height", 16)
    try:
        name = task_name(CORRUPT_TFDS, "image", "lmx")
        task = get_task_or_mixture(name)
        kept = task.get_dataset(LENGTHS, split="train", shuffle=False, seed=0)
        assert [ex["piece_id"] for ex in kept.as_numpy_iterator()] == [b"good"]
        assert dropped_counts(name, "train", LENGTHS) == {name: _counts(image_empty=1, valid=1)}
    finally:
        gin.clear_config()


def test_a_mixture_task_that_keeps_no_example_is_an_error_naming_it(bad_baked):
    import seqio

    from mt3_unified.tasks.mixtures import CurriculumMixture, EmptyTaskError

    gin_bindings(bad_baked / "no_tfds", bad_baked)  # other tests of this module clear gin
    name = task_name(BAD, "image", "audio")
    seqio.MixtureRegistry.remove("bad_only")
    seqio.MixtureRegistry.add("bad_only", [name], default_rate=1.0, mixture_cls=CurriculumMixture)
    # At these lengths the one good unit is too long as well: every example is dropped,
    # and the endless sampler would otherwise wait for one forever.
    tiny = {"inputs": 2, "targets": 2}
    with pytest.raises(EmptyTaskError, match=rf"{name} keeps no example of split 'train'") as err:
        get_task_or_mixture("bad_only").get_dataset(tiny, split="train", num_epochs=None)
    assert "'too_long': 2" in str(err.value) and "'no_audio': 1" in str(err.value)


@needs_fluidsynth
def test_a_baked_unit_missing_from_the_tfds_corpus_is_an_error_naming_it(tiny_build, handmade_dir):
    data_dir, _ = tiny_build
    gin_bindings(data_dir, handmade_dir)
    try:
        # The hand-made bake's units (pieces a, b, c) were not baked from the tiny corpus.
        corpus = Corpus("synthetic_scores/tiny", ("train", "test"), baked_name=HANDMADE)
        with pytest.raises(SourceError) as error:
            JoinedRawSource(corpus, "audio").get_dataset("test", shuffle=False)
    finally:
        gin.clear_config()
    message = str(error.value)
    assert "1 units of the bake" in message and "handmade/test.tfrecord" in message
    assert "(first: 'c|0|0.0000')" in message and "bake it again" in message
