"""An Orbax item for a tf.data iterator's position: tf.train.Checkpoint, one file set a process.

The iterator's state (shuffle buffers included) is written while the save call blocks, so
the loop cannot advance it during an asynchronous save of the arrays. The state restores
exactly only for a pipeline without stateful Python ops (py_function, from_generator) and
with fixed seeds.
"""

from __future__ import annotations

import dataclasses

import jax
import orbax.checkpoint as ocp
from etils import epath


def _prefix(directory: epath.Path) -> str:
    return str(directory / f"process_{jax.process_index()}-of-{jax.process_count()}")


class DatasetIteratorHandler(ocp.CheckpointHandler):
    """Saves and restores a tf.data iterator (`iter(dataset)`, not `as_numpy_iterator`)."""

    def save(self, directory: epath.Path, args: DatasetIteratorSave) -> None:
        import tensorflow as tf

        tf.train.Checkpoint(iterator=args.iterator).write(_prefix(directory))

    def restore(self, directory: epath.Path, args: DatasetIteratorRestore):
        import tensorflow as tf

        tf.train.Checkpoint(iterator=args.iterator).read(_prefix(directory)).assert_consumed()
        return args.iterator

    def metadata(self, directory: epath.Path) -> None:
        return None


@ocp.args.register_with_handler(DatasetIteratorHandler, for_save=True)
@dataclasses.dataclass
class DatasetIteratorSave(ocp.args.CheckpointArgs):
    iterator: object


@ocp.args.register_with_handler(DatasetIteratorHandler, for_restore=True)
@dataclasses.dataclass
class DatasetIteratorRestore(ocp.args.CheckpointArgs):
    """Restores into `iterator` (made from the same pipeline as the saved one) in place."""

    iterator: object
