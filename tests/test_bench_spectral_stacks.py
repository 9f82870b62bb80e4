"""bench/spectral_stacks.py: PCA's baseline is exact with every component; each body learns."""

import dataclasses

import numpy as np
import pytest

from bench.spectral_stacks import pca_distance, train_body
from tests.codecs.test_spectral import SPECTRAL

BINS = SPECTRAL.stft_window // 2 + 1  # 33


def _tones(seed: int):
    """Endless batches of two tones of random pitch, and one validation batch of them."""
    rng = np.random.default_rng(seed)
    t = np.arange(256) / SPECTRAL.sample_rate

    def batch():
        pitches = rng.uniform(200.0, 3000.0, (2, 1))
        return (0.3 * np.sin(2 * np.pi * pitches * t)).astype(np.float32)

    def endless():
        while True:
            yield batch()

    return endless(), [batch()]


def test_pca_with_every_component_rebuilds_the_spectra_and_with_none_only_their_mean():
    assert pca_distance(SPECTRAL, _tones(0), BINS, batches=8) == pytest.approx(0.0, abs=1e-4)
    assert pca_distance(SPECTRAL, _tones(0), 0, batches=8) > 0.05


@pytest.mark.parametrize(
    "config, kind",
    [(SPECTRAL, "stacks"), (dataclasses.replace(SPECTRAL, linear_path=True), "stacks"),
     (SPECTRAL, "linear")],
)  # fmt: skip
def test_each_body_learns_the_tones(config, kind):
    def distance(steps):
        return train_body(config, kind, _tones(1), steps, schedule=40, learning_rate=3e-3)

    untrained, trained = distance(0), distance(40)
    assert np.isfinite(trained) and 0 < trained < untrained
