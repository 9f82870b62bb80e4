"""The shared Orbax checkpoints: save, resume into a structure, refuse another config's."""

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mt3_unified.errors import CheckpointMismatchError
from mt3_unified.runtime.checkpoints import (
    array_shapes,
    checkpoint_dir,
    checkpoint_manager,
    restore_latest,
    restore_saved,
    save_checkpoint,
)


def _state(width: int, step: int) -> dict:
    return {"params": {"w": jnp.full((width,), float(step))}, "step": jnp.asarray(step, jnp.int32)}


def test_the_latest_checkpoint_is_restored_and_only_the_newest_two_kept(tmp_path):
    workdir = str(tmp_path / "run")
    manager = checkpoint_manager(workdir)
    assert restore_latest(manager, _state(3, 0), workdir)["step"] == 0  # nothing saved yet
    for step in (1, 2, 3):
        save_checkpoint(manager, step, _state(3, step))
    manager.wait_until_finished()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["2", "3"]
    restored = restore_latest(checkpoint_manager(workdir), _state(3, 0), workdir)
    assert int(restored["step"]) == 3
    np.testing.assert_array_equal(restored["params"]["w"], [3.0, 3.0, 3.0])
    step, saved = restore_saved(workdir, step=2)
    assert step == 2 and int(saved["step"]) == 2


def test_a_checkpoint_of_another_shape_is_refused_by_name(tmp_path):
    workdir = str(tmp_path / "run")
    manager = checkpoint_manager(workdir)
    save_checkpoint(manager, 1, _state(3, 1))
    manager.wait_until_finished()
    with pytest.raises(CheckpointMismatchError) as error:
        restore_latest(checkpoint_manager(workdir), _state(4, 0), workdir)
    assert str(error.value) == (
        f"{workdir}: its checkpoint (step 1) does not fit this config (trained with another "
        f"gin file or bindings?); train into a fresh --workdir or delete {checkpoint_dir(workdir)}"
    )


def test_restoring_an_empty_workdir_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"no checkpoint under {tmp_path}/checkpoints"):
        restore_saved(str(tmp_path))


def test_an_optimizer_state_saved_and_live_has_the_same_shapes_by_name(tmp_path):
    params = {"w": jnp.zeros(3)}
    state = {"opt": optax.adam(1e-3).init(params), "step": jnp.asarray(1, jnp.int32)}
    manager = checkpoint_manager(str(tmp_path))
    save_checkpoint(manager, 1, state)
    manager.wait_until_finished()
    expected = {
        "['opt'][0]['count']": (),
        "['opt'][0]['mu']['w']": (3,),
        "['opt'][0]['nu']['w']": (3,),
        "['step']": (),
    }
    assert array_shapes(state) == expected
    assert array_shapes(checkpoint_manager(str(tmp_path)).item_metadata(1)) == expected
