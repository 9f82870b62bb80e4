"""The vocabulary's code ranges against the codecs that made the codes."""

import json

import pytest

from mt3_unified.codecs.rqvae import RQVAEConfig
from mt3_unified.codecs.rvq import RVQConfig
from mt3_unified.codecs.vocabulary_check import (
    check_image_rows,
    check_vocabulary,
    vocabulary_config_for,
)
from mt3_unified.errors import CodebookMismatchError
from mt3_unified.vocab.layout import VocabularyConfig
from tests.codecs.test_audio import TINY as AUDIO_TINY

IMAGE_64 = RQVAEConfig(rvq=RVQConfig(num_codebooks=4, codebook_size=64))


def test_a_vocabulary_that_fits_the_codecs_passes():
    check_vocabulary(VocabularyConfig(), {"image": RQVAEConfig()})
    check_vocabulary(VocabularyConfig(image_codebook_size=64), {"image": IMAGE_64, "audio": None})


def test_a_mismatch_names_both_sides():
    with pytest.raises(CodebookMismatchError) as error:
        check_vocabulary(VocabularyConfig(), {"image": IMAGE_64})
    assert str(error.value) == (
        "vocabulary has 4 image codebooks of 1024 codes (VocabularyConfig) but the image codec "
        "in the given RQVAEConfig has 4 of 64"
    )


def test_a_baked_directory_is_checked_against_its_codecs_json(tmp_path):
    codecs = {"audio": {"kind": "audio", "num_codebooks": 3, "codebook_size": 16,
                        "workdir": "runs/x/audio", "step": 200}}  # fmt: skip
    (tmp_path / "codecs.json").write_text(json.dumps(codecs))
    with pytest.raises(CodebookMismatchError) as error:
        check_vocabulary(VocabularyConfig(), tmp_path)
    assert str(error.value) == (
        "vocabulary has 4 audio codebooks of 1024 codes (VocabularyConfig) but the audio codec "
        "in runs/x/audio has 3 of 16"
    )
    derived = vocabulary_config_for(str(tmp_path))
    assert (derived.audio_codebooks, derived.audio_codebook_size) == (3, 16)
    check_vocabulary(derived, tmp_path)


def test_the_vocabulary_config_is_derived_from_the_codec_configs():
    derived = vocabulary_config_for({"image": IMAGE_64, "audio": AUDIO_TINY})
    assert (derived.image_codebooks, derived.image_codebook_size) == (4, 64)
    assert (derived.audio_codebooks, derived.audio_codebook_size) == (3, 16)
    assert derived.midi == VocabularyConfig().midi


def test_the_image_rows_a_model_embeds_are_checked_against_the_image_codec(tmp_path):
    codecs = {"image": {"kind": "image", "num_codebooks": 4, "codebook_size": 64,
                        "height": 64, "downsampling": 8}}  # fmt: skip
    check_image_rows(8, codecs, str(tmp_path))  # 64 px / 8
    check_image_rows(0, codecs, str(tmp_path))  # a model without row embeddings reads any codec
    with pytest.raises(CodebookMismatchError) as error:
        check_image_rows(13, codecs, str(tmp_path))
    assert str(error.value) == (
        "the model embeds 13 image rows (ModelConfig.image_rows) but the image codec in "
        f"{tmp_path / 'codecs.json'} writes 8 (64 px / 8)"
    )
