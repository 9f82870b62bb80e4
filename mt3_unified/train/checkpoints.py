"""The trainer's checkpoints: params, optimizer state, step and input position, and the
order a run restores in.

Restore order (`restore_or_init`):
  1. the latest readable checkpoint in the model dir (a run resumes exactly where it stopped;
     an unreadable newer one is reported and moved to `<model_dir>/corrupt_checkpoints/`);
  2. else `initial_checkpoint` (finetuning): its parameters only, with a fresh optimizer
     state, step 0 and the input from its start;
  3. else fresh parameters from the seed.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import math
from collections.abc import Callable

import gin
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils
from orbax.checkpoint import checkpoint_managers as policies

from mt3_unified.errors import CheckpointMismatchError
from mt3_unified.runtime import files
from mt3_unified.runtime.checkpoints import array_shapes, checkpoint_dir, shape_differences
from mt3_unified.runtime.iterator_checkpoint import (
    DatasetIteratorHandler,
    DatasetIteratorRestore,
    DatasetIteratorSave,
    iterator_snapshot,
)
from mt3_unified.train.config_diff import (
    CONFIG_FILE,
    describe_differences,
    parse_bindings,
    read_saved_config,
)
from mt3_unified.train.state import TrainState

CORRUPT_DIR = "corrupt_checkpoints"


@gin.configurable
@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """What a run keeps: a checkpoint every `every` steps (and at the end), the last `keep`
    of them, and the `keep_best` best by `best_metric` (a name the evaluation writes, e.g.
    "eval/loss"; `best_mode` "min" or "max"). `initial_checkpoint`: a model dir (or its
    checkpoints folder) whose latest parameters start a fresh run (finetuning).
    `overlap`: the loop starts the next step before a save's blocking part, which then reads a
    copy of the state kept on the devices until it has copied it to the host (one more state's
    device memory for about a step; a device whose memory statistics say it has no room saves
    without the copy, as with False: the loop then waits for the saved step to finish)."""

    every: int = 1000
    keep: int = 3
    best_metric: str | None = None
    best_mode: str = "min"
    keep_best: int = 1
    initial_checkpoint: str | None = None
    asynchronous: bool = True
    overlap: bool = True

    def __post_init__(self):
        if self.every < 1 or self.keep < 1:
            raise ValueError(f"checkpoint every and keep must be >= 1, got {self}")
        if self.best_mode not in ("min", "max"):
            raise ValueError(f"best_mode must be 'min' or 'max', got {self.best_mode!r}")


def _manager(directory: str, config: CheckpointConfig, read_only: bool = False):
    policy = policies.LatestN(n=config.keep)
    best_fn = None
    if config.best_metric:
        best_fn = functools.partial(_metric, config.best_metric)
        best = policies.BestN(
            get_metric_fn=best_fn,
            reverse=config.best_mode == "min",  # BestN keeps the end of the sorted list
            n=config.keep_best,
            keep_checkpoints_without_metrics=False,
        )
        policy = policies.AnyPreservationPolicy([policy, best])
    options = ocp.CheckpointManagerOptions(
        preservation_policy=policy,
        # The manager writes a save's metrics (and reads them back) only with a best_fn.
        best_fn=best_fn,
        best_mode=config.best_mode,
        enable_async_checkpointing=config.asynchronous,
        create=not read_only,
        read_only=read_only,
    )
    # Named handlers let the manager read an item's metadata before restoring it.
    handlers = {
        "params": ocp.StandardCheckpointHandler(),
        "optimizer": ocp.StandardCheckpointHandler(),
        "input": DatasetIteratorHandler(),
    }
    return ocp.CheckpointManager(directory, options=options, item_handlers=handlers)


def _on_host(tree):
    """The tree's arrays fetched to host memory in one batched transfer when every one is
    whole on this process (a multi-process run's are left to Orbax, which copies shard by
    shard). Orbax's own copy of jax arrays goes array by array through Python: for the tiny
    config's 195 arrays that was 0.1 s of the loop's time and 40% of a save's CPU
    (BENCHMARKS.md). On a CPU backend these are views of the device buffers; Orbax copies
    numpy arrays before its save returns, after which the views are gone and the next step
    may donate the buffers."""
    if not all(getattr(x, "is_fully_addressable", True) for x in jax.tree.leaves(tree)):
        return tree
    return jax.device_get(tree)


def _metric(name: str, metrics: dict) -> float:
    """The best_metric of a checkpoint's saved metrics (a KeyError names the ones there)."""
    if name not in metrics:
        raise KeyError(f"best_metric {name!r} is not among the evaluation's {sorted(metrics)}")
    return metrics[name]


def _checkpoints_of(path: str) -> str:
    """A model dir's checkpoints folder; a path that is one already stays as it is."""
    inner = checkpoint_dir(path)
    return inner if files.isdir(inner) else files.absolute(path)


class TrainCheckpoints:
    """Saves and restores a run's TrainState and input iterator under `<model_dir>/checkpoints`.

    `run_config`: this run's gin config (gin.config_str()); with it, a checkpoint that does
    not fit is reported with the gin fields its run's config.gin differs in.
    """

    def __init__(self, model_dir: str, config: CheckpointConfig, run_config: str | None = None):
        self.model_dir = model_dir
        self.config = config
        self.run_config = run_config
        self.manager = _manager(checkpoint_dir(model_dir), config)
        self._state_bytes: collections.Counter | None = None  # per device, for `snapshot`
        self._copy = None  # the state's jitted copy, for `snapshot`
        self._warned_no_room = False

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, state: TrainState, iterator, metrics: dict | None = None) -> None:
        """Starts saving (asynchronously, unless configured otherwise); the state's arrays are
        copied to host memory and the iterator's position (or a `snapshot`'s) written before
        this returns, so that the next step may donate the state."""
        state = _on_host(state)
        args = ocp.args.Composite(
            params=ocp.args.StandardSave(state.params),
            optimizer=ocp.args.StandardSave({"opt_state": state.opt_state, "step": state.step}),
            input=DatasetIteratorSave(iterator),
        )
        self.manager.save(int(state.step), args=args, metrics=metrics, force=True)

    def snapshot(self, state: TrainState, iterator):
        """(state, iterator) copied for a save that runs once the next step has started: the
        state on its devices (the next step donates the original's buffers), the iterator at
        its present position. None when `overlap` is off, the iterator cannot be copied, or a
        device has no room for a second state (on any process: they all decide alike, as
        their saves meet in collective steps)."""
        if not self.config.overlap:
            return None
        fits = self._fits_twice(state)
        if jax.process_count() > 1:
            fits = bool(np.all(multihost_utils.process_allgather(np.asarray(fits))))
        if not fits:
            return None
        position = iterator_snapshot(iterator)
        if position is None:
            return None
        self.prepare(state)
        return self._copy(state), position

    def prepare(self, state: TrainState) -> None:
        """Compiles `snapshot`'s copy of the state (one dispatch for all arrays) ahead, so
        that the loop's first overlapped save finds it in jax's caches."""
        if self.config.overlap and self._copy is None:
            shardings = jax.tree.map(lambda x: x.sharding, state)
            self._copy = jax.jit(lambda s: jax.tree.map(jnp.copy, s), out_shardings=shardings)
            self._copy.lower(state).compile()

    def _fits_twice(self, state: TrainState) -> bool:
        """Whether each device's memory holds another copy of its part of the state on top of
        the run's peak so far (a device without memory statistics, a CPU, is taken to)."""
        if self._state_bytes is None:
            self._state_bytes = collections.Counter()
            for leaf in jax.tree.leaves(state):
                shard = math.prod(leaf.sharding.shard_shape(leaf.shape)) * leaf.dtype.itemsize
                for device in leaf.sharding.addressable_devices:
                    self._state_bytes[device] += shard
        for device, needed in self._state_bytes.items():
            stats = device.memory_stats() or {}
            if "bytes_limit" not in stats:
                continue
            used = stats.get("peak_bytes_in_use", stats.get("bytes_in_use", 0))
            if used + needed > stats["bytes_limit"]:
                if not self._warned_no_room:
                    logging.info(
                        "%s has no room for a copy of the state (%d of %d bytes used, %d "
                        "needed): saves wait for their step", device, used,
                        stats["bytes_limit"], needed,
                    )  # fmt: skip
                    self._warned_no_room = True
                return False
        return True

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()

    def restore_latest(self, abstract: TrainState, iterator) -> TrainState | None:
        """The newest readable checkpoint restored (iterator in place), or None if none.

        A checkpoint whose arrays differ from `abstract` in names or shapes raises
        CheckpointMismatchError naming them (and the gin fields, see `_check_fits`); one that
        cannot be read otherwise (truncated, corrupt) is reported, moved aside, and the one
        before it tried.
        """
        for step in sorted(self.manager.all_steps(), reverse=True):
            _check_fits(self.manager, step, abstract.params, self.model_dir, self.run_config)
            try:
                return self._restore(step, abstract, iterator)
            except Exception as err:  # noqa: BLE001 - any read failure means an unusable step
                if _other_pipeline(err):
                    raise CheckpointMismatchError(
                        f"{self.model_dir}: the checkpoint of step {step} holds its place in "
                        "another input pipeline (the mixture, its tasks, feature lengths, batch "
                        "or the preprocessors changed since it was saved), so the run cannot go "
                        "on from it exactly; nothing was moved. Resume with the code and gin "
                        "that saved it, or start a new model dir with CheckpointConfig."
                        f"initial_checkpoint = '{self.model_dir}' to keep its parameters (a "
                        f"fresh optimizer and input). ({str(err).splitlines()[0][:300]})"
                    ) from err
                moved = self._move_aside(step)
                logging.warning(
                    "checkpoint of step %d in %s cannot be read (%s: %s); moved it to %s and "
                    "trying the one before",
                    step, self.manager.directory, type(err).__name__, err, moved,
                )  # fmt: skip
        return None

    def _restore(self, step: int, abstract: TrainState, iterator) -> TrainState:
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                params=ocp.args.StandardRestore(abstract.params),
                optimizer=ocp.args.StandardRestore(
                    {"opt_state": abstract.opt_state, "step": abstract.step}
                ),
                input=DatasetIteratorRestore(iterator),
            ),
        )
        optimizer = restored["optimizer"]
        return TrainState(
            params=restored["params"], opt_state=optimizer["opt_state"], step=optimizer["step"]
        )

    def _move_aside(self, step: int) -> str:
        target = files.join(self.model_dir, CORRUPT_DIR, str(step))
        files.makedirs(files.parent(target))
        files.move(files.join(self.manager.directory, str(step)), target)
        self.manager.reload()
        return target


def _other_pipeline(err: Exception) -> bool:
    """Whether a restore failed because the saved input position belongs to a tf.data
    pipeline of another shape (TensorFlow's message says so), not to a damaged file."""
    return "dataset definition has not changed" in str(err)


def restore_initial_params(
    path: str, abstract_params, config: CheckpointConfig, run_config: str | None = None
):
    """The latest parameters of another run (its model dir or checkpoints folder);
    `run_config` as TrainCheckpoints takes it."""
    directory = _checkpoints_of(path)
    manager = _manager(directory, dataclasses.replace(config, best_metric=None), read_only=True)
    step = manager.latest_step()
    if step is None:
        raise FileNotFoundError(f"initial_checkpoint {path}: no checkpoint under {directory}")
    _check_fits(manager, step, abstract_params, path, run_config)
    restored = manager.restore(
        step, args=ocp.args.Composite(params=ocp.args.StandardRestore(abstract_params))
    )
    logging.info("parameters of step %d restored from %s", step, directory)
    return restored["params"]


def saved_params(model_dir: str, step: int | None = None) -> tuple[int, dict]:
    """(step, parameters as saved) of a run's checkpoint, the latest unless `step`."""
    directory = _checkpoints_of(model_dir)
    manager = _manager(directory, CheckpointConfig(), read_only=True)
    step = manager.latest_step() if step is None else step
    if step is None:
        raise FileNotFoundError(f"no checkpoint under {directory}")
    restored = manager.restore(step, args=ocp.args.Composite(params=ocp.args.StandardRestore()))
    return step, restored["params"]


def _check_fits(
    manager, step: int, abstract_params, where: str, run_config: str | None = None
) -> None:
    """Raises CheckpointMismatchError when the saved parameters' names or shapes differ.

    With `run_config` (this run's gin config), the message first names the gin fields the
    config.gin beside the checkpoints (the run that saved them) binds otherwise, e.g.
    ``ModelConfig.emb_dim: 64 (checkpoint) vs 128 (this run)``; without that file it says
    so. The arrays that differ are listed either way.
    """
    try:
        saved = manager.item_metadata(step)["params"]
    except Exception:  # noqa: BLE001 - unreadable metadata: restoring will say it is corrupt
        return
    if saved is None:
        return
    differ = shape_differences(
        array_shapes(saved), array_shapes(abstract_params), ("saved", "this config")
    )
    if differ:
        more = f"; and {len(differ) - 8} more" if len(differ) > 8 else ""
        listed = "; ".join(differ[:8]) + more
        fields = "" if run_config is None else _gin_fields(manager.directory, run_config)
        raise CheckpointMismatchError(
            f"{where}: its checkpoint (step {step}) does not fit this config (trained with "
            f"another gin file or bindings?): {fields}arrays {listed}. Train into a fresh "
            f"model dir or delete {manager.directory}"
        )


def _gin_fields(checkpoints_dir, run_config: str) -> str:
    """The start of a mismatch's message: the gin fields the saving run's config.gin (in the
    model dir that holds `checkpoints_dir`) and this run's config differ in."""
    model_dir = files.parent(checkpoints_dir)
    saved = read_saved_config(model_dir)
    if saved is None:
        return f"no {CONFIG_FILE} in {model_dir} to name the gin fields that differ; "
    # A run of train(...) called without gin writes an empty config: nothing to compare.
    if not parse_bindings(saved) or not parse_bindings(run_config):
        side = "its" if not parse_bindings(saved) else "this run's"
        return f"{side} gin config binds nothing to compare; "
    fields = describe_differences(saved, run_config)
    if not fields:
        return f"its {CONFIG_FILE} binds the same gin fields as this run; "
    return f"gin fields {fields}; "


def restore_or_init(
    checkpoints: TrainCheckpoints,
    abstract: TrainState,
    iterator,
    fresh: Callable[[], TrainState],
    around_params: Callable[[dict], TrainState],
) -> tuple[TrainState, str]:
    """(state, where it came from), in the order the module docstring writes down.

    `fresh()` makes a new state; `around_params(params)` a new optimizer state around
    restored parameters.
    """
    state = checkpoints.restore_latest(abstract, iterator)
    if state is not None:
        return state, f"resumed from step {int(state.step)} in {checkpoints.manager.directory}"
    initial = checkpoints.config.initial_checkpoint
    if initial:
        params = restore_initial_params(
            initial, abstract.params, checkpoints.config, checkpoints.run_config
        )
        return around_params(params), f"parameters from {initial}, fresh optimizer"
    return fresh(), "fresh parameters"
