"""The trainer's checkpoints: the input's position, corrupt ones skipped, the restore order."""

import logging
import os

import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow as tf

from mt3_unified.errors import CheckpointMismatchError
from mt3_unified.train.checkpoints import (
    CORRUPT_DIR,
    CheckpointConfig,
    TrainCheckpoints,
    restore_or_init,
)
from mt3_unified.train.state import TrainState
from tests.model.helpers import TINY
from tests.train.helpers import TINY_BINDINGS

TX = optax.adam(0.1)


def state_at(step: int, width: int = 3) -> TrainState:
    params = {"w": jnp.full((width,), float(step))}
    return TrainState(params=params, opt_state=TX.init(params), step=jnp.asarray(step, jnp.int32))


def abstract(width: int = 3) -> TrainState:
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), state_at(0, width))


def shuffled_iterator():
    return iter(tf.data.Dataset.range(100).shuffle(10, seed=1).batch(2))


def save_steps(model_dir, steps, config=None, metrics=None):
    checkpoints = TrainCheckpoints(str(model_dir), config or CheckpointConfig(every=1, keep=5))
    iterator = shuffled_iterator()
    seen = {}
    for step in steps:
        next(iterator)
        checkpoints.save(state_at(step), iterator, metrics=(metrics or {}).get(step))
        seen[step] = next(iterator).numpy().tolist()  # what a resumed run must read next
    checkpoints.wait()
    checkpoints.close()
    return seen


def test_a_save_leaves_the_state_to_the_next_step_and_writes_it_as_it_was(tmp_path):
    # The save copies the arrays to host memory before returning: the next step may donate
    # the state's buffers (overwrite them in place) while the write runs.
    checkpoints = TrainCheckpoints(str(tmp_path), CheckpointConfig(every=1))
    state = state_at(4)
    checkpoints.save(state, shuffled_iterator())
    step = jax.jit(lambda s: jax.tree.map(lambda x: x * 0 + 9, s), donate_argnums=0)
    after = step(state)
    assert state.params["w"].is_deleted()  # donated, not copied for want of it
    checkpoints.wait()
    restored = checkpoints.restore_latest(abstract(), shuffled_iterator())
    np.testing.assert_array_equal(restored.params["w"], [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(after.params["w"], [9.0, 9.0, 9.0])
    checkpoints.close()


def test_a_restored_iterator_continues_where_the_saved_one_was(tmp_path):
    seen = save_steps(tmp_path, [1, 2, 3])
    iterator = shuffled_iterator()
    state = TrainCheckpoints(str(tmp_path), CheckpointConfig()).restore_latest(abstract(), iterator)
    assert int(state.step) == 3
    np.testing.assert_array_equal(state.params["w"], [3.0, 3.0, 3.0])
    assert int(state.opt_state[0].count) == 0
    assert next(iterator).numpy().tolist() == seen[3]


def test_a_save_from_a_snapshot_keeps_the_state_and_input_of_its_step(tmp_path):
    """The loop's overlapped save: the snapshot is taken, the next step donates the state and
    reads a batch, and only then is the snapshot saved."""
    checkpoints = TrainCheckpoints(str(tmp_path), CheckpointConfig(every=1))
    iterator = shuffled_iterator()
    next(iterator)
    state = state_at(1)
    checkpoints.prepare(state)
    saved_state, position = checkpoints.snapshot(state, iterator)
    expected = next(iterator).numpy().tolist()  # the next step's batch, read before the save
    donate = jax.jit(lambda s: jax.tree.map(lambda x: x + 1, s), donate_argnums=0)
    donate(state)
    checkpoints.save(saved_state, position)
    checkpoints.wait()
    checkpoints.close()

    restored_iterator = shuffled_iterator()
    restored = TrainCheckpoints(str(tmp_path), CheckpointConfig()).restore_latest(
        abstract(), restored_iterator
    )
    assert int(restored.step) == 1
    np.testing.assert_array_equal(restored.params["w"], [1.0, 1.0, 1.0])
    assert next(restored_iterator).numpy().tolist() == expected
    no_copy = TrainCheckpoints(str(tmp_path / "b"), CheckpointConfig(overlap=False))
    assert no_copy.snapshot(state_at(1), shuffled_iterator()) is None
    no_copy.close()


@pytest.mark.parametrize("item", ["params", "input"])
def test_a_truncated_latest_checkpoint_is_reported_and_the_one_before_restored(
    tmp_path, caplog, item
):
    """Its arrays, or its input position, cut short: the one before is restored, through the
    same iterator (still usable after the failed restore), and the bad one moved aside."""
    seen = save_steps(tmp_path, [1, 2])
    for folder, _, files in os.walk(tmp_path / "checkpoints" / "2" / item):
        for name in files:
            with open(os.path.join(folder, name), "r+b") as f:
                f.truncate(3)
    iterator = shuffled_iterator()
    with caplog.at_level(logging.WARNING):
        state = TrainCheckpoints(str(tmp_path), CheckpointConfig()).restore_latest(
            abstract(), iterator
        )
    assert int(state.step) == 1
    assert next(iterator).numpy().tolist() == seen[1]
    assert "checkpoint of step 2" in caplog.text and "cannot be read" in caplog.text
    assert os.listdir(tmp_path / CORRUPT_DIR) == ["2"]


def test_a_position_in_another_input_pipeline_is_an_error_that_moves_nothing(tmp_path):
    save_steps(tmp_path, [1, 2])
    other = iter(tf.data.Dataset.range(100).map(lambda x: 2 * x).batch(2))
    with pytest.raises(CheckpointMismatchError, match="another input pipeline") as err:
        TrainCheckpoints(str(tmp_path), CheckpointConfig()).restore_latest(abstract(), other)
    assert "step 2" in str(err.value) and "initial_checkpoint" in str(err.value)
    assert sorted(os.listdir(tmp_path / "checkpoints")) == ["1", "2"]
    assert not (tmp_path / CORRUPT_DIR).exists()


def test_a_checkpoint_of_another_config_names_the_differing_arrays(tmp_path):
    save_steps(tmp_path, [1])
    with pytest.raises(CheckpointMismatchError, match=r"\['w'\]: saved \(3,\), this config \(4,\)"):
        TrainCheckpoints(str(tmp_path), CheckpointConfig()).restore_latest(
            abstract(4), shuffled_iterator()
        )


def test_a_checkpoint_of_another_config_names_the_differing_gin_fields(tmp_path):
    save_steps(tmp_path, [1])
    (tmp_path / "config.gin").write_text("ModelConfig.emb_dim = 3\nTRAIN_STEPS = 1\n")
    run_config = "ModelConfig.emb_dim = 4\nTRAIN_STEPS = 2\n"
    with pytest.raises(CheckpointMismatchError) as raised:
        TrainCheckpoints(str(tmp_path), CheckpointConfig(), run_config=run_config).restore_latest(
            abstract(4), shuffled_iterator()
        )
    assert (
        "gin fields ModelConfig.emb_dim: 3 (checkpoint) vs 4 (this run); "
        "TRAIN_STEPS: 1 (checkpoint) vs 2 (this run); arrays ['w']: saved (3,), this config (4,)"
    ) in str(raised.value)

    with pytest.raises(CheckpointMismatchError, match=r"this run's gin config binds nothing"):
        TrainCheckpoints(str(tmp_path), CheckpointConfig(), run_config="").restore_latest(
            abstract(4), shuffled_iterator()
        )

    (tmp_path / "config.gin").unlink()
    with pytest.raises(CheckpointMismatchError, match=r"no config.gin in .* to name the gin fie"):
        TrainCheckpoints(str(tmp_path), CheckpointConfig(), run_config=run_config).restore_latest(
            abstract(4), shuffled_iterator()
        )


@pytest.fixture
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def gin_run(records, model_dir, *bindings):
    """Two steps of the tiny model as a command line configures it (gin/records.gin)."""
    from mt3_unified.runtime.gin_config import parse_gin
    from mt3_unified.train import inputs, trainer  # noqa: F401  (registers the configurables)

    gin.clear_config()
    parse_gin(
        ["gin/models/tiny.gin", "gin/train.gin", "gin/records.gin"],
        [*TINY_BINDINGS, f"MODEL_DIR='{model_dir}'", f"TRAIN_RECORDS='{records}'",
         "TRAIN_STEPS=2", "BATCH_SIZE=4", "CheckpointConfig.every=2", "train.progress=False",
         *bindings],
    )  # fmt: skip
    return trainer.train(model=gin.query_parameter("%MODEL").scoped_configurable_fn())


def test_a_run_into_a_model_dir_of_another_width_names_the_gin_field(records, tmp_path, clean_gin):
    assert int(gin_run(records, tmp_path).state.step) == 2
    saved_config = (tmp_path / "config.gin").read_text()
    events = os.listdir(tmp_path / "train")

    with pytest.raises(CheckpointMismatchError) as raised:
        gin_run(records, tmp_path, f"ModelConfig.emb_dim={TINY.emb_dim * 2}")
    message = str(raised.value)
    assert f"ModelConfig.emb_dim: {TINY.emb_dim} (checkpoint) vs {TINY.emb_dim * 2} (this run)" in (
        message
    )
    assert "(this run); arrays ['decoder_layers_0']" in message  # then the arrays
    # Raised before the run went on: the model dir keeps the config of its checkpoints, and
    # no summaries (the step's compile seconds are written before its first step).
    assert (tmp_path / "config.gin").read_text() == saved_config
    assert os.listdir(tmp_path / "train") == events


def test_the_last_n_and_the_best_by_a_metric_are_kept(tmp_path):
    config = CheckpointConfig(every=1, keep=2, best_metric="eval/loss", best_mode="min")
    losses = {1: 3.0, 2: 1.0, 3: 2.0, 4: 2.5, 5: 2.6}
    save_steps(tmp_path, [1, 2, 3, 4, 5], config, {s: {"eval/loss": v} for s, v in losses.items()})
    assert sorted(int(p) for p in os.listdir(tmp_path / "checkpoints")) == [2, 4, 5]


def test_restore_order_model_dir_then_initial_checkpoint_then_fresh(tmp_path):
    save_steps(tmp_path / "pretrain", [7])

    def order(model_dir, initial=None):
        checkpoints = TrainCheckpoints(str(model_dir), CheckpointConfig(initial_checkpoint=initial))
        return restore_or_init(
            checkpoints,
            abstract(),
            shuffled_iterator(),
            fresh=lambda: state_at(0),
            around_params=lambda params: TrainState(params, TX.init(params), jnp.asarray(0)),
        )

    state, origin = order(tmp_path / "pretrain")
    assert int(state.step) == 7 and origin.startswith("resumed from step 7")
    state, origin = order(tmp_path / "finetune", initial=str(tmp_path / "pretrain"))
    assert int(state.step) == 0 and origin.startswith("parameters from")
    np.testing.assert_array_equal(state.params["w"], [7.0, 7.0, 7.0])
    state, origin = order(tmp_path / "fresh")
    assert int(state.step) == 0 and origin == "fresh parameters"
