"""The one Orbax CheckpointManager factory (``<workdir>/checkpoints``) and its restore paths."""

from __future__ import annotations

import jax
import orbax.checkpoint as ocp

from mt3_unified.errors import CheckpointMismatchError
from mt3_unified.runtime import files

CHECKPOINT_DIR = "checkpoints"


def array_shapes(tree) -> dict[str, tuple[int, ...]]:
    """{path: shape} of a tree's arrays: real, abstract (eval_shape) or checkpoint metadata."""
    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: hasattr(x, "shape"))[0]
    return {_path_name(path): tuple(leaf.shape) for path, leaf in leaves}


def _path_name(path) -> str:
    """``['a'][0]['b']``: a namedtuple's field is written as a key, as Orbax's metadata
    (which stores namedtuples as dicts) writes it, so saved and live trees compare."""
    return "".join(
        f"[{key.name!r}]"
        if isinstance(key, jax.tree_util.GetAttrKey)
        else jax.tree_util.keystr((key,))
        for key in path
    )


def shape_differences(first: dict, second: dict, labels: tuple[str, str]) -> list[str]:
    """``"path: <label 1> shape, <label 2> shape"`` for each array whose shape differs
    between two `array_shapes` maps (None where one lacks it), sorted by path."""
    return sorted(
        f"{name}: {labels[0]} {first.get(name)}, {labels[1]} {second.get(name)}"
        for name in first.keys() | second.keys()
        if first.get(name) != second.get(name)
    )


def checkpoint_dir(workdir: str) -> str:
    """Where a run's checkpoints live: an absolute path, as Orbax requires (a gs:// URL stays
    as it is)."""
    return files.absolute(files.join(workdir, CHECKPOINT_DIR))


def checkpoint_manager(workdir: str, max_to_keep: int | None = 2) -> ocp.CheckpointManager:
    """A manager of ``<workdir>/checkpoints`` that creates the folder and keeps the newest few."""
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
    # The handler lets item_metadata read a checkpoint's shapes before anything is restored.
    return ocp.CheckpointManager(
        checkpoint_dir(workdir), options=options, item_handlers=ocp.StandardCheckpointHandler()
    )


def save_checkpoint(manager: ocp.CheckpointManager, step: int, state) -> None:
    """Saves a pytree ``state`` (0-d arrays, not numpy scalars: Orbax cannot restore those)."""
    manager.save(step, args=ocp.args.StandardSave(state))


def restore_latest(manager: ocp.CheckpointManager, state, workdir: str):
    """The latest checkpoint restored into ``state``'s structure, or ``state`` itself if none.

    A checkpoint written by another config raises CheckpointMismatchError naming
    the workdir (Orbax's own message lists every missing array instead).
    """
    step = manager.latest_step()
    if step is None:
        return state
    # Compared before restoring: Orbax's own refusal comes mid-read and leaves its
    # reads of the other arrays unfinished.
    if array_shapes(manager.item_metadata(step)) != array_shapes(state):
        raise CheckpointMismatchError(
            f"{workdir}: its checkpoint (step {step}) does not fit this config (trained with "
            "another gin file or bindings?); train into a fresh --workdir or delete "
            f"{checkpoint_dir(workdir)}"
        )
    return manager.restore(step, args=ocp.args.StandardRestore(state))


def restore_saved(workdir: str, step: int | None = None) -> tuple[int, dict]:
    """(step, state) of a saved checkpoint as it was written (the latest unless ``step``)."""
    manager = ocp.CheckpointManager(checkpoint_dir(workdir))
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint under {checkpoint_dir(workdir)}")
    return step, manager.restore(step, args=ocp.args.StandardRestore())
