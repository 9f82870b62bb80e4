"""The chain's continuous-input switch: one feature width for every example of a run."""

import pytest

from mt3_unified.tasks.chain import ContinuousInputs


def test_the_width_is_the_one_continuous_modalitys_own_or_feature_dim():
    assert ContinuousInputs(modalities=("audio",), num_mel_bins=96).width() == 96
    strips = ContinuousInputs(modalities=("image",), patch_size=2, patch_height=128)
    assert strips.width() == strips.own_width("image") == 256
    assert ContinuousInputs(modalities=("image",), patch_size=8).width() == 64
    both = ContinuousInputs(modalities=("audio", "image"), patch_size=16, feature_dim=256)
    assert both.width() == 256


def test_two_modalities_of_different_widths_need_feature_dim():
    both = ContinuousInputs(modalities=("audio", "image"), num_mel_bins=128, patch_size=8)
    with pytest.raises(ValueError, match=r"widths \[64, 128\]; set ContinuousInputs.feature_dim"):
        both.width()
