"""grouped_attention's hand-written backward against autodiff of the plain formula."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.model.attention import causal_bias, padding_bias
from mt3_unified.model.grouped_attention import grouped_attention


def reference(q, k, v, bias, repeats):
    """The textbook formula, one query head at a time: head h reads key/value group h // R."""
    b, g, rows, d = q.shape
    q = q.reshape(b, g, repeats, rows // repeats, d)
    logits = jnp.einsum("bgrld,bgsd->bgrls", q, k) + bias[:, None, None]
    y = jnp.einsum("bgrls,bgsd->bgrld", jax.nn.softmax(logits, axis=-1), v)
    return y.reshape(b, g, rows, d)


@pytest.mark.parametrize("backend", ["cpu", "gpu"])
@pytest.mark.parametrize("kind", ["causal", "padding"])
def test_values_and_gradients_equal_autodiff_of_the_formula(kind, backend, monkeypatch):
    # The backward takes explicit transposes on the CPU and transposed operands
    # elsewhere; both branches run here (the "gpu" one on the CPU).
    monkeypatch.setattr(jax, "default_backend", lambda: backend)
    b, g, r, length, d = 2, 2, 3, 5, 4
    rng = np.random.default_rng(0)
    q, k, v, dy = (
        jnp.asarray(rng.standard_normal(shape), jnp.float32)
        for shape in [
            (b, g, r * length, d),
            (b, g, length, d),
            (b, g, length, d),
            (b, g, r * length, d),
        ]
    )
    if kind == "causal":
        bias = causal_bias(length)
    else:
        bias = padding_bias(jnp.arange(length)[None] < jnp.array([[5], [3]]))
    ours = jax.vjp(lambda q, k, v: grouped_attention(q, k, v, bias, r), q, k, v)
    ref = jax.vjp(lambda q, k, v: reference(q, k, v, bias, r), q, k, v)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5, atol=1e-6)
    for got, want in zip(ours[1](dy), ref[1](dy), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # A padded key gets no gradient: its weight is 0 for every query.
    if kind == "padding":
        _, dk, dv = ours[1](dy)
        assert not np.any(dk[1, :, 3:]) and not np.any(dv[1, :, 3:])
