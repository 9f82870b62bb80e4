"""Fixtures shared by the model tests: one tiny model and its parameters per module."""

import jax
import pytest

from tests.model.helpers import tiny_model


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def params(model):
    return model.init(jax.random.key(0))
