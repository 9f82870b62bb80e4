"""The baked format: one spec drives writing, numpy reading and the tf.data parse function."""

import numpy as np
import pytest

from mt3_unified.codecs.audio import AudioCodecConfig
from mt3_unified.codecs.baked import (
    CODE_FEATURES,
    BakedFeature,
    codec_description,
    parse_baked,
    read_feature_spec,
    spec_of,
    to_tf_example,
    write_feature_spec,
    write_tfrecord,
)
from mt3_unified.codecs.rqvae import RQVAEConfig

BAKED = {
    "piece_id": b"bach/x.mxl",
    "variant": 1,
    "notes": {"pitch": np.array([60, 64], np.int32), "velocity": np.array([0.5, 1.0])},
    "image_codes": np.arange(24, dtype=np.int32).reshape(6, 4),
    "image_shift": np.array([0, 4], np.int32),
    "audio_codes": np.zeros((0, 4), np.int32),
}


def test_the_spec_names_each_features_dtype_and_rank():
    spec = spec_of(BAKED)
    assert (
        spec["image_codes"]
        == CODE_FEATURES["image_codes"]
        == BakedFeature("int32", 2, CODE_FEATURES["image_codes"].meaning)
    )
    assert (spec["piece_id"].dtype, spec["piece_id"].rank) == ("bytes", 0)
    assert (spec["notes/pitch"].dtype, spec["notes/pitch"].rank) == ("int64", 1)
    assert (spec["notes/velocity"].dtype, spec["notes/velocity"].storage) == ("float32", "float32")
    assert spec["image_codes"].storage == "int64"


def test_parse_baked_gives_tensors_of_the_specs_dtypes_and_shapes(tmp_path):
    import tensorflow as tf

    path = str(tmp_path / "one.tfrecord")
    assert write_tfrecord([BAKED], path) == 1
    write_feature_spec(str(tmp_path), spec_of(BAKED))
    spec = read_feature_spec(str(tmp_path))
    assert spec == spec_of(BAKED)
    (parsed,) = tf.data.TFRecordDataset(path).map(lambda s: parse_baked(s, spec))
    assert parsed["image_codes"].dtype == tf.int32 and parsed["piece_id"].dtype == tf.string
    np.testing.assert_array_equal(parsed["image_codes"], BAKED["image_codes"])
    np.testing.assert_array_equal(parsed["image_shift"], [0, 4])
    np.testing.assert_array_equal(parsed["notes/pitch"], [60, 64])
    np.testing.assert_allclose(parsed["notes/velocity"], [0.5, 1.0])
    assert parsed["audio_codes"].shape == (0, 4) and int(parsed["variant"]) == 1
    assert parsed["piece_id"].numpy() == b"bach/x.mxl"


def test_a_code_feature_of_the_wrong_rank_is_refused():
    with pytest.raises(ValueError, match="baked feature image_codes has rank 1, the spec 2"):
        to_tf_example({"image_codes": np.zeros(4, np.int32)})


def test_codec_descriptions_give_codebooks_and_frame_geometry():
    image = codec_description(RQVAEConfig(channels=(8, 16, 32)), {"workdir": "runs/x", "step": 2})
    assert image == {
        "kind": "image", "num_codebooks": 4, "codebook_size": 1024, "height": 416,
        "downsampling": 8, "workdir": "runs/x", "step": 2,
    }  # fmt: skip
    audio = codec_description(AudioCodecConfig(sample_rate=16000, strides=(2, 4, 8)))
    assert audio == {
        "kind": "audio", "num_codebooks": 4, "codebook_size": 1024, "sample_rate": 16000,
        "hop": 64, "frame_rate": 250.0,
    }  # fmt: skip
