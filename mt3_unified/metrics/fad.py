"""Fréchet audio distance between the frame embeddings of a real and a generated set of clips.

FAD (Kilgour et al., 2019) fits one Gaussian to the pooled frame embeddings of
each set and reports the Fréchet (2-Wasserstein) distance between them:

    |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))

The embedding network is a parameter (see ``Embedder``), so this module needs
no weights of its own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
from scipy import linalg

# What the reference implementations (FAD's and pytorch-fid's) add to both
# covariance diagonals when the product's square root is not finite.
SINGULAR_EPS = 1e-6
# The largest imaginary part on sqrtm's diagonal that is still rounding noise.
IMAGINARY_TOLERANCE = 1e-3


class Embedder(Protocol):
    """Maps one mono clip [T] to frame embeddings [frames, D].

    The project's default is the encoder of its own audio codec (wired up
    elsewhere); a user may plug any other network, e.g. VGGish restored from a
    local weights file, as long as every clip comes out with the same D.
    """

    def __call__(self, audio: np.ndarray) -> np.ndarray: ...


def embedding_statistics(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] (unbiased, rows are observations) of embeddings [N, D]."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2:
        raise ValueError(f"expected embeddings [N, D], got shape {embeddings.shape}")
    if embeddings.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 frames, got {embeddings.shape[0]}")
    mu = embeddings.mean(axis=0)
    # atleast_2d: np.cov of a single dimension is a 0-d array.
    sigma = np.atleast_2d(np.cov(embeddings, rowvar=False))
    return mu, sigma


def _sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    # Nearly singular covariances (fewer frames than dimensions) make sqrtm
    # return non-finite values; a small ridge on both diagonals fixes that.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.all(np.isfinite(covmean)):
        ridge = np.eye(sigma1.shape[0]) * SINGULAR_EPS
        covmean = linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
    if np.iscomplexobj(covmean):
        # The product of two PSD matrices has a real, nonnegative spectrum; an
        # imaginary part beyond rounding noise means the inputs are not covariances.
        largest = np.max(np.abs(np.diagonal(covmean).imag))
        if largest > IMAGINARY_TOLERANCE:
            raise ValueError(f"sqrtm of the covariance product is complex (imag {largest:.3g})")
        covmean = covmean.real
    return covmean


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); never negative."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1 = np.atleast_2d(sigma1).astype(np.float64)
    sigma2 = np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(
            f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}"
        )
    if sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(f"sigma {sigma1.shape} does not fit mu {mu1.shape}")
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2)
    distance -= 2.0 * np.trace(_sqrtm_product(sigma1, sigma2))
    # Rounding can take a true 0 slightly below it.
    return max(float(distance), 0.0)


def _pooled_embeddings(clips: Sequence[np.ndarray], embed: Callable, name: str) -> np.ndarray:
    frames = [np.asarray(embed(np.asarray(clip)), dtype=np.float64) for clip in clips]
    if not frames:
        raise ValueError(f"the {name} set holds no clips")
    for i, f in enumerate(frames):
        if f.ndim != 2 or f.shape[1] != frames[0].shape[1]:
            raise ValueError(
                f"{name} clip {i}: expected embeddings [frames, {frames[0].shape[-1]}],"
                f" got shape {f.shape}"
            )
    return np.concatenate(frames, axis=0)


def frechet_audio_distance(
    real: Sequence[np.ndarray],
    generated: Sequence[np.ndarray],
    embed: Callable[[np.ndarray], np.ndarray],
) -> float:
    """FAD between two sets of clips, the frames of every clip of a set pooled into one Gaussian.

    Pooling frames (rather than averaging each clip first) is what FAD does with
    VGGish's per-second embeddings, so long clips weigh more than short ones.
    """
    real_frames = _pooled_embeddings(real, embed, "real")
    generated_frames = _pooled_embeddings(generated, embed, "generated")
    if real_frames.shape[1] != generated_frames.shape[1]:
        raise ValueError(
            f"embedding sizes differ: real {real_frames.shape[1]},"
            f" generated {generated_frames.shape[1]}"
        )
    return frechet_distance(
        *embedding_statistics(real_frames), *embedding_statistics(generated_frames)
    )
