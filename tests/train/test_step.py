"""The train step: microbatches add up to the full batch; metrics per task; the RNG per step."""

import jax
import numpy as np
import optax
import pytest

from mt3_unified.train import partitioning
from mt3_unified.train.state import create_train_state, fresh_optimizer_state
from mt3_unified.train.step import (
    count_of,
    jit_train_step,
    make_train_step,
    nonfinite_tasks,
    split_microbatches,
)
from mt3_unified.vocab.layout import TASKS
from tests.model.helpers import ALL_PAIRS, make_batch, tiny_model

# SGD with rate 1: the update is the gradient itself, so parameters compare gradients exactly.
SGD = optax.sgd(1.0)


@pytest.fixture(scope="module")
def mesh():
    return partitioning.make_mesh(data=1, model=1)


def one_step(microbatches, mesh, batch, tx=SGD):
    model = tiny_model()
    state, shardings = create_train_state(model, tx, mesh, seed=0)
    step = jit_train_step(make_train_step(model, tx, microbatches=microbatches), shardings, mesh)
    return step(state, batch, jax.random.key(1))


def test_two_microbatches_equal_the_full_batch(mesh):
    batch = make_batch(ALL_PAIRS[:8])
    full, full_metrics = one_step(1, mesh, batch)
    split, split_metrics = one_step(2, mesh, batch)
    diffs = jax.tree.leaves(jax.tree.map(lambda a, b: float(np.abs(a - b).max()), full, split))
    assert max(diffs) < 1e-5
    assert int(split.step) == 1
    for name in ("loss", "accuracy", "num_tokens", "image_to_lmx/loss", "lmx_to_audio/accuracy"):
        assert float(split_metrics[name]) == pytest.approx(float(full_metrics[name]), abs=1e-5)
    assert float(full_metrics["grad_norm"]) > 1e-3  # the comparison is not vacuous


def test_metrics_count_each_tasks_examples_and_tokens(mesh):
    batch = make_batch(ALL_PAIRS[:3])  # image_to_lmx, image_to_midi, image_to_audio
    batch["decoder_loss_weights"][2] = 0.0  # an all-padding row counts as no example
    _, metrics = one_step(1, mesh, batch)
    counts = {t: float(metrics[f"{t}/num_examples"]) for t in TASKS}
    assert counts == {t: float(t in ("image_to_lmx", "image_to_midi")) for t in TASKS}
    assert float(metrics["num_examples"]) == 2.0
    tokens = batch["decoder_loss_weights"].sum(axis=(1, 2))
    assert float(metrics["image_to_lmx/num_tokens"]) == tokens[0]
    assert float(metrics["num_tokens"]) == tokens.sum()
    assert float(metrics["image_to_audio/loss"]) == 0.0


def test_fresh_optimizer_state_keeps_params_and_restarts_the_count(mesh):
    model = tiny_model()
    tx = optax.adam(1e-3)
    state, shardings = create_train_state(model, tx, mesh, seed=3)
    again = fresh_optimizer_state(state.params, tx, shardings)
    assert int(again.step) == 0
    assert int(again.opt_state[0].count) == 0
    np.testing.assert_array_equal(again.params["token_embed"], state.params["token_embed"])


def test_microbatches_take_every_mth_example():
    batch = {"task": np.arange(6)}
    np.testing.assert_array_equal(split_microbatches(batch, 2)["task"], [[0, 2, 4], [1, 3, 5]])


def test_metric_weights_and_nonfinite_tasks():
    assert count_of("loss") == "num_tokens"
    assert count_of("lmx_to_midi/accuracy") == "lmx_to_midi/num_tokens"
    assert count_of("lmx_to_midi/num_examples") is None
    metrics = {f"{t}/num_tokens": 0.0 for t in TASKS} | {f"{t}/loss": 1.0 for t in TASKS}
    metrics |= {"midi_to_lmx/num_tokens": 5.0, "midi_to_lmx/loss": np.nan}
    metrics |= {"lmx_to_image/loss": np.inf}  # no tokens of that task: not its fault
    assert nonfinite_tasks(metrics) == ["midi_to_lmx"]
