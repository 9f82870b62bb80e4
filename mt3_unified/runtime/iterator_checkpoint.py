"""An Orbax item for a tf.data iterator's position: tf.train.Checkpoint, one file set a process.

The iterator's state (shuffle buffers included) is written while the save call blocks, so
the loop cannot advance it during an asynchronous save of the arrays; a save that runs after
the loop has moved on saves an `iterator_snapshot` taken in time. The state restores
exactly only for a pipeline without stateful Python ops (py_function, from_generator) and
with fixed seeds.
"""

from __future__ import annotations

import dataclasses
import functools

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


def iterator_snapshot(iterator):
    """The state of a tf.data iterator at its present position, serialized (a few ms), to be
    saved after the original has moved on; None for an iterator that cannot say it. It saves
    under the original's checkpoint names, so the original's pipeline restores from it."""
    serialize = getattr(iterator, "_serialize_to_tensors", None)
    if serialize is None:
        return None
    return _frozen_iterator_class()(serialize())


@functools.cache
def _frozen_iterator_class():
    from tensorflow.python.checkpoint import saveable_compat
    from tensorflow.python.trackable import base as trackable

    # The name tf.data's OwnedIterator saves under: its key is `ITERATOR_STATE`.
    @saveable_compat.legacy_saveable_name("ITERATOR")
    class FrozenIterator(trackable.Trackable):
        """An iterator's serialized state, saved as the iterator would save it."""

        def __init__(self, tensors):
            self._tensors = tensors

        def _serialize_to_tensors(self):
            return self._tensors

    return FrozenIterator


@ocp.args.register_with_handler(DatasetIteratorHandler, for_save=True)
@dataclasses.dataclass
class DatasetIteratorSave(ocp.args.CheckpointArgs):
    iterator: object


@ocp.args.register_with_handler(DatasetIteratorHandler, for_restore=True)
@dataclasses.dataclass
class DatasetIteratorRestore(ocp.args.CheckpointArgs):
    """Restores into `iterator` (made from the same pipeline as the saved one) in place."""

    iterator: object
