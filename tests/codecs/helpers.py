"""Checks that the image and audio codec tests share."""

import jax
import numpy as np


def assert_fresh_compile_gives_same_codes(model, variables, inputs, codes) -> None:
    """A separately compiled `encode`, as another process loading the checkpoint would use,
    gives the same ``codes`` for the same inputs and parameters."""
    encode = jax.jit(lambda v, x: model.apply(v, x, method=type(model).encode))
    again = encode(jax.tree.map(np.asarray, variables), np.asarray(inputs))
    np.testing.assert_array_equal(codes, again)
