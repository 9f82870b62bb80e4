"""Primitives: the ReLU MLP is T5 v1.0's; the output layer's column subsets."""

import dataclasses

import flax.linen
import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.model.primitives import Mlp, OutputLayer, Projection
from tests.model.helpers import TINY


def test_relu_mlp_is_t5_v1_0_feed_forward():
    cfg = dataclasses.replace(TINY, mlp="relu")
    mlp = Mlp(cfg, mlp_dim=6)
    x = jnp.asarray(np.random.default_rng(3).standard_normal((2, 3, cfg.emb_dim)), jnp.float32)
    params = flax.linen.unbox(mlp.init(jax.random.key(0), x))
    wi = params["params"]["wi"]["kernel"]
    wo = params["params"]["wo"]["kernel"]
    np.testing.assert_allclose(
        mlp.apply(params, x), np.maximum(x @ wi, 0.0) @ wo, rtol=1e-5, atol=1e-6
    )


def test_output_layer_columns_are_the_full_logits_there_with_no_gradient_elsewhere():
    layer = OutputLayer(TINY, vocab_size=10)
    x = jnp.asarray(np.random.default_rng(4).standard_normal((2, 3, 2, TINY.emb_dim)), jnp.float32)
    params = flax.linen.unbox(layer.init(jax.random.key(0), x))
    # The kernel is the one a Projection of the same name and shape would hold.
    proj = Projection(TINY, (TINY.emb_dim,), (10,), ("embed", "vocab"))
    same = flax.linen.unbox(proj.init(jax.random.key(0), x))
    np.testing.assert_array_equal(params["params"]["kernel"], same["params"]["kernel"])
    columns = np.array([[1, 4, 9], [7, 0, 0]])
    full = layer.apply(params, x)
    part = layer.apply(params, x, columns)
    assert part.shape == (2, 3, 2, 3)
    for s in range(2):
        np.testing.assert_allclose(part[..., s, :], full[..., s, columns[s]], rtol=1e-6)
    grad = jax.grad(lambda p: layer.apply(p, x, columns).sum())(params)["params"]["kernel"]
    untouched = np.setdiff1d(np.arange(10), columns)
    assert (np.asarray(grad)[:, untouched] == 0).all()
    assert (np.abs(np.asarray(grad)[:, [1, 4, 9, 7]]) > 0).all()
    # Slot 1 names column 0 twice: its gradient is both uses' sum.
    x1 = np.asarray(x)[..., 1, :].reshape(-1, TINY.emb_dim).sum(0)
    np.testing.assert_allclose(np.asarray(grad)[:, 0], 2 * x1, rtol=1e-5)
