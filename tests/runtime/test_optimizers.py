"""The shared optimizer: warmup to the peak rate, cosine down to a tenth of it."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mt3_unified.runtime.optimizers import adamw_warmup_cosine, warmup_cosine_schedule


def test_schedule_starts_at_zero_peaks_after_warmup_and_ends_at_a_tenth():
    schedule = warmup_cosine_schedule(1e-3, steps=100, warmup_steps=10)
    assert float(schedule(0)) == 0.0
    assert float(schedule(5)) == pytest.approx(5e-4)
    assert float(schedule(10)) == pytest.approx(1e-3)
    assert float(schedule(100)) == pytest.approx(1e-4)


def test_tiny_runs_get_one_warmup_and_one_decay_step():
    schedule = warmup_cosine_schedule(1.0, steps=1, warmup_steps=0)
    assert [float(schedule(s)) for s in (0, 1, 2)] == pytest.approx([0.0, 1.0, 0.1])


def test_gradients_are_clipped_to_unit_global_norm_before_adamw():
    tx = adamw_warmup_cosine(1.0, steps=10, warmup_steps=1)
    params = {"w": jnp.zeros(3)}
    huge = {"w": jnp.asarray([300.0, 400.0, 0.0])}
    state = tx.init(params)
    _, state = tx.update(huge, state, params)
    clip_state, adam_state = state[0], state[1]
    assert clip_state == optax.EmptyState()
    # Adam's first moment after one step is (1 - b1) * the clipped gradient (norm 1).
    np.testing.assert_allclose(adam_state[0].mu["w"], [0.06, 0.08, 0.0], rtol=1e-5)
