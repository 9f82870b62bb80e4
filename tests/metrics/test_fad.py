"""Fréchet audio distance against closed forms: identical, 1-D, diagonal and shifted Gaussians."""

import numpy as np
import pytest

from mt3_unified.metrics import fad
from mt3_unified.metrics.fad import (
    embedding_statistics,
    frechet_audio_distance,
    frechet_distance,
)


def _random_covariance(rng, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_identical_gaussians_are_zero_apart():
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(16), _random_covariance(rng, 16)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize(("mu1", "s1", "mu2", "s2"), [(0.0, 1.0, 0.0, 4.0), (1.5, 0.3, -2.0, 2.7)])
def test_one_dimension_closed_form(mu1, s1, mu2, s2):
    expected = (mu1 - mu2) ** 2 + s1 + s2 - 2 * np.sqrt(s1 * s2)
    got = frechet_distance(np.array([mu1]), np.array([[s1]]), np.array([mu2]), np.array([[s2]]))
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # scalars are accepted as 1-D Gaussians
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_diagonal_covariances_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    d1, d2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    # sum over axes of (mu difference)^2 + (sqrt(s1) - sqrt(s2))^2
    expected = np.sum((mu1 - mu2) ** 2 + (np.sqrt(d1) - np.sqrt(d2)) ** 2)
    assert expected == pytest.approx(5.0 + 4.0 + 1.0)
    got = frechet_distance(mu1, np.diag(d1), mu2, np.diag(d2))
    assert got == pytest.approx(expected, rel=1e-10)


def test_a_shift_costs_the_squared_mean_distance():
    rng = np.random.default_rng(1)
    sigma = _random_covariance(rng, 8)
    mu = rng.standard_normal(8)
    shift = rng.standard_normal(8)
    got = frechet_distance(mu, sigma, mu + shift, sigma)
    assert got == pytest.approx(float(shift @ shift), rel=1e-6)


def test_singular_covariances_stay_finite():
    # Fewer frames than dimensions: both covariances are rank-deficient.
    rng = np.random.default_rng(2)
    a = embedding_statistics(rng.standard_normal((5, 20)))
    b = embedding_statistics(rng.standard_normal((6, 20)))
    assert np.isfinite(frechet_distance(*a, *b)) and frechet_distance(*a, *b) > 0
    assert frechet_distance(*a, *a) == pytest.approx(0.0, abs=1e-6)


def test_non_finite_sqrtm_retries_with_a_ridge(monkeypatch):
    calls = []
    real_sqrtm = fad.linalg.sqrtm

    def flaky_sqrtm(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.nan) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(fad.linalg, "sqrtm", flaky_sqrtm)
    sigma = np.diag([1.0, 4.0])
    assert frechet_distance(np.zeros(2), sigma, np.zeros(2), sigma) == pytest.approx(0, abs=1e-5)
    np.testing.assert_allclose(calls[1], (sigma + 1e-6 * np.eye(2)) @ (sigma + 1e-6 * np.eye(2)))


def test_embedding_statistics():
    x = np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])
    mu, sigma = embedding_statistics(x)
    np.testing.assert_allclose(mu, [2.0, 2.0])
    np.testing.assert_allclose(sigma, np.cov(x.T))
    mu1, sigma1 = embedding_statistics(np.array([[1.0], [3.0]]))
    assert mu1.shape == (1,) and sigma1.shape == (1, 1) and sigma1[0, 0] == pytest.approx(2.0)
    with pytest.raises(ValueError):
        embedding_statistics(np.zeros((1, 3)))


def test_frechet_audio_distance_pools_frames_of_every_clip():
    def embed(audio):
        # two "frames" per clip: its first and second halves' means and maxima
        halves = np.array_split(audio, 2)
        return np.array([[h.mean(), h.max()] for h in halves])

    rng = np.random.default_rng(3)
    real = [rng.standard_normal(100) for _ in range(20)]
    generated = [rng.standard_normal(100) + 1.0 for _ in range(20)]
    pooled_real = np.concatenate([embed(c) for c in real])
    pooled_generated = np.concatenate([embed(c) for c in generated])
    expected = frechet_distance(
        *embedding_statistics(pooled_real), *embedding_statistics(pooled_generated)
    )
    assert frechet_audio_distance(real, generated, embed) == pytest.approx(expected)
    assert frechet_audio_distance(real, real, embed) == pytest.approx(0.0, abs=1e-8)
    # both embedding means move by one, the covariances barely: FAD is about 2
    assert expected == pytest.approx(2.0, abs=0.5)


def test_frechet_audio_distance_refuses_mismatched_embeddings():
    with pytest.raises(ValueError, match="no clips"):
        frechet_audio_distance([], [np.zeros(4)], lambda a: np.zeros((2, 3)))
    sizes = iter([3, 3, 4, 4])
    with pytest.raises(ValueError, match="embedding sizes differ"):
        frechet_audio_distance(
            [np.zeros(4), np.ones(4)],
            [np.zeros(4), np.ones(4)],
            lambda a: np.random.default_rng(0).standard_normal((2, next(sizes))),
        )
