"""Task names, what is registered, unknown names, and the vocabulary gin decides."""

from __future__ import annotations

import gin
import pytest
import seqio

from mt3_unified.tasks import registry
from mt3_unified.tasks.sources import (
    Corpus,
    JoinedRawSource,
    TaskSource,
    _baked_to_raw,
    record_key,
    source_kind,
    tfds_to_raw,
    unit_key,
)
from mt3_unified.tasks.synthetic import PAPER_PAIRS


def test_task_names_have_one_spelling():
    assert (
        registry.task_name("synthetic_tiny", "image", "lmx") == "synthetic_tiny_image_to_lmx_train"
    )
    assert registry.task_name("bpsd", "audio", "midi", "eval") == "bpsd_audio_to_midi_eval"
    with pytest.raises(ValueError, match="unknown modality 'text'"):
        registry.task_name("bpsd", "text", "midi")
    with pytest.raises(ValueError, match="two modalities"):
        registry.task_name("bpsd", "midi", "midi")


def test_every_dataset_registers_the_pairs_its_data_holds():
    paper = [f"{a}_to_{b}" for a, b in PAPER_PAIRS]
    for config in ("tiny", "full", "paper"):
        assert registry.registered_pairs(f"synthetic_{config}") == paper
    assert registry.registered_pairs("olimpic") == ["image_to_lmx", "lmx_to_image"]
    assert registry.registered_pairs("maestro") == ["audio_to_midi", "midi_to_audio"]
    assert registry.registered_pairs("musicnet_em") == ["audio_to_midi", "midi_to_audio"]
    assert registry.registered_pairs("ytsv") == ["image_to_audio", "audio_to_image"]
    assert len(registry.registered_pairs("bpsd")) == 12
    for pair in paper:
        for kind in ("train", "eval"):
            name = registry.task_name("synthetic_tiny", *pair.split("_to_"), kind)
            assert name in seqio.TaskRegistry.names()


def test_an_unknown_name_is_an_error_listing_the_registered_ones():
    with pytest.raises(registry.UnknownTaskError) as error:
        registry.get_task_or_mixture("synthetic_tiny_omr_typo")
    message = str(error.value)
    assert "no task or mixture named 'synthetic_tiny_omr_typo'" in message
    assert "synthetic_tiny_omr," in message and "synthetic_tiny_image_to_lmx_train" in message


def test_which_tasks_read_the_bake():
    assert source_kind("image", "lmx", continuous_input=False) == "baked"
    assert source_kind("image", "lmx", continuous_input=True) == "tfds"
    assert source_kind("lmx", "audio", continuous_input=False) == "baked"
    assert source_kind("lmx", "audio", continuous_input=True) == "baked"
    assert source_kind("lmx", "midi", continuous_input=False) == "tfds"
    assert source_kind("audio", "image", continuous_input=True) == "joined"
    assert source_kind("image", "audio", continuous_input=False) == "baked"


def test_a_unit_has_one_key_in_the_tfds_corpus_and_in_the_bake():
    """The join finds a baked record's TFDS example by this key: read from the unit's naming
    features alone, it must equal the key of the whole raw example either source makes."""
    import tensorflow as tf

    from mt3_unified.codecs import baked as baked_format

    example = {
        "piece_id": tf.constant("bach/bwv66.6"),
        "system_index": tf.constant(3, tf.int64),
        "start_time": tf.constant(2.50004, tf.float64),
        "audio": tf.zeros([16], tf.int16),
        "sample_rate": tf.constant(16000, tf.int64),
    }
    assert record_key(example).numpy() == b"bach/bwv66.6|3|2.5000"
    assert unit_key(tfds_to_raw(example)).numpy() == b"bach/bwv66.6|3|2.5000"
    feature = tf.train.Feature
    record = tf.train.Example(
        features=tf.train.Features(
            feature={
                "piece_id": feature(bytes_list=tf.train.BytesList(value=[b"bach/bwv66.6"])),
                "system_index": feature(int64_list=tf.train.Int64List(value=[3])),
                "start_time": feature(float_list=tf.train.FloatList(value=[2.50004])),
            }
        )
    ).SerializeToString()
    spec = {
        "piece_id": baked_format.BakedFeature("bytes", 0),
        "system_index": baked_format.BakedFeature("int64", 0),
        "start_time": baked_format.BakedFeature("float32", 0),
    }
    assert record_key(baked_format.parse_baked(record, spec)).numpy() == b"bach/bwv66.6|3|2.5000"
    assert unit_key(_baked_to_raw(record, spec, 0.0)).numpy() == b"bach/bwv66.6|3|2.5000"
    assert record_key({}).numpy() == b"|0|0.0000"


def test_a_task_joins_its_own_baked_and_tfds_sources():
    source = TaskSource(Corpus("synthetic_scores/tiny"), "audio", "image", lambda _: True)
    joined = source._sources["joined"]
    assert isinstance(joined, JoinedRawSource)
    assert joined._baked is source._sources["baked"] and joined._tfds is source._sources["tfds"]
    assert "joined" not in TaskSource(Corpus("t"), "lmx", "image", lambda _: True)._sources


def test_output_features_take_the_vocabulary_gin_binds_when_used():
    features = registry.get_task_or_mixture("synthetic_tiny_image_to_audio_train").output_features
    gin.clear_config()
    default_size = features["targets"].vocabulary.vocab_size
    try:
        gin.bind_parameter("VocabularyConfig.audio_codebook_size", 64)
        smaller = features["targets"].vocabulary
        assert smaller.vocab_size < default_size
        assert smaller.id_range("audio", 1)[1] - smaller.id_range("audio", 1)[0] == 64
    finally:
        gin.clear_config()
