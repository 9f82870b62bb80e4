"""The feature spec: dummy batches are made from it; unknown and missing features are named."""

import numpy as np
import pytest

from mt3_unified.model.features import MODEL_FEATURES, BatchError, required_features


def test_dummy_batch_is_made_from_the_spec_and_fits_it(model):
    batch = model.dummy_batch(batch_size=2, input_len=5, target_len=3)
    assert list(batch) == required_features(targets=True, continuous=False)
    for name, value in batch.items():
        assert value.ndim == MODEL_FEATURES[name].rank, name
        assert value.dtype == MODEL_FEATURES[name].dtype, name
    assert batch["decoder_input_tokens"].shape == (2, 3, model.k_max)
    model.validate_batch(batch)


def test_a_feature_the_model_does_not_take_is_refused(model):
    batch = dict(model.dummy_batch(), inputs_pretokenized=np.zeros((1,), np.int32))
    with pytest.raises(BatchError, match=r"unexpected features \['inputs_pretokenized'\]"):
        model.validate_batch(batch)


def test_predicting_needs_no_targets_but_may_be_given_them(model):
    batch = model.dummy_batch()
    inputs = {name: value for name, value in batch.items() if not MODEL_FEATURES[name].target}
    model.validate_batch(inputs, targets=False)
    model.validate_batch(batch, targets=False)
    with pytest.raises(BatchError, match="lacks feature 'decoder_target_tokens'"):
        model.validate_batch(inputs)


def test_features_sharing_an_axis_must_agree_on_its_size(model):
    batch = model.dummy_batch(input_len=5, target_len=3)
    batch["decoder_loss_weights"] = batch["decoder_loss_weights"][:, :2]
    with pytest.raises(BatchError, match=r"'decoder_loss_weights'.*target_length 3"):
        model.validate_batch(batch)
