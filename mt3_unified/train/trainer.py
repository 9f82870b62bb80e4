"""The training loop: `train(...)`, keyword-only and configurable by gin, callable from tests."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence

import gin
import jax
import numpy as np

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.model.codebook_init import CodebookInit
from mt3_unified.runtime import files
from mt3_unified.runtime.summaries import SummaryWriter
from mt3_unified.train import curves, partitioning
from mt3_unified.train.checkpoints import CheckpointConfig, TrainCheckpoints, restore_or_init
from mt3_unified.train.config_diff import CONFIG_FILE
from mt3_unified.train.inputs import global_batch, next_host_batch
from mt3_unified.train.optimizer import OptimizerConfig
from mt3_unified.train.state import (
    TrainState,
    abstract_state,
    create_train_state,
    fresh_optimizer_state,
    state_shardings,
)
from mt3_unified.train.step import (
    add_weighted,
    check_divisible,
    jit_train_step,
    make_train_step,
    nonfinite_tasks,
    weighted_means,
)
from mt3_unified.vocab.layout import TASKS

OPERATIVE_CONFIG_FILE = "operative_config.gin"


class NonFiniteLossError(Mt3UnifiedError, FloatingPointError):
    """A step's loss became NaN or Inf; the run stopped and its last checkpoint is kept."""


@dataclasses.dataclass
class TrainResult:
    state: TrainState
    origin: str  # where the state started from (resumed, initial checkpoint, fresh)
    stopped_early: bool  # by SIGTERM (or a pod's preemption notice), after saving
    metrics: dict  # the last step's, on the host


@gin.configurable(denylist=["model"])
def train(
    *,
    model,
    train_dataset_fn: Callable = gin.REQUIRED,
    model_dir: str = gin.REQUIRED,
    steps: int = gin.REQUIRED,
    batch_size: int = gin.REQUIRED,
    optimizer: OptimizerConfig | None = None,
    checkpoint: CheckpointConfig | None = None,
    codebook_init: CodebookInit | None = None,
    mesh_shape: Sequence[int] = (-1, 1),
    microbatches: int = 1,
    modalities: Sequence[str] | None = None,
    seed: int = 0,
    eval_dataset_fn: Callable | None = None,
    metric_evaluator: Callable | None = None,
    eval_every: int = 0,
    eval_batches: int = 8,
    log_every: int = 10,
    progress: bool = True,
) -> TrainResult:
    """Trains `model` for `steps` optimizer steps of `batch_size` examples (the global batch).

    `train_dataset_fn(batch_size=, seed=, shard_index=, num_shards=)` returns this process's
    endless tf.data.Dataset of batches (see train/inputs.py). `mesh_shape` is (data, model);
    -1 takes the devices left. A run in a model dir that holds checkpoints resumes from the
    latest (see train/checkpoints.py for the order); SIGTERM saves and returns with
    stopped_early; a NaN or Inf loss raises NonFiniteLossError naming the step and tasks.
    Every `eval_every` steps: the loss on `eval_batches` batches of `eval_dataset_fn`'s data
    and `metric_evaluator(model, params, mesh)`'s metrics (train/evaluation.py: greedy
    decoding scored by the tasks' metric functions), written under eval/ and kept with the
    checkpoint saved then (`CheckpointConfig.best_metric` names one of them).
    `codebook_init` (model/codebook_init.py) starts the image and audio code embeddings of
    fresh parameters from trained codecs' codebooks.
    `optimizer`, `checkpoint` and `codebook_init` default to their configs as gin binds them.

    The model dir gets this run's gin config (config.gin) once its checkpoint is known to fit:
    a checkpoint of another config raises CheckpointMismatchError naming the arrays and the
    gin fields that differ from the config.gin of the run that saved it, before anything
    compiles. Summaries under train/ include `compile_seconds` (the train step lowered and
    compiled ahead of the first step, timed) and `checkpoint_seconds` (how long each save
    blocked the loop; mid-run, with `CheckpointConfig.overlap`, while the next step runs).
    `model_dir` may be remote (gs://): its own files go through runtime/files.py.
    Each step's loss comes to the host one step late (the device keeps a step queued); the
    other metrics every `log_every` steps.
    """
    require_bound("train", model_dir=model_dir, steps=steps, batch_size=batch_size,
                  train_dataset_fn=train_dataset_fn)  # fmt: skip
    if eval_every and hasattr(metric_evaluator, "validate"):
        metric_evaluator.validate()  # an unknown task or unbound setting: before compiling
    optimizer = optimizer or OptimizerConfig()
    checkpoint = checkpoint or CheckpointConfig()
    codebook_init = codebook_init or CodebookInit()
    # ---- setup: model dir, mesh, state shardings, input
    # One process writes the model dir's files (configs, summaries, loss history, curves);
    # every process writes its own part of each checkpoint.
    writes_files = jax.process_index() == 0
    _prepare_model_dir(model_dir, check_writable=writes_files)
    mesh = partitioning.make_mesh(*mesh_shape)
    check_divisible(batch_size, microbatches, mesh)
    tx = optimizer.build(steps)
    schedule = optimizer.schedule(steps)
    shardings = state_shardings(model, tx, mesh)
    iterator = iter(_dataset(train_dataset_fn, batch_size, seed))
    batch_sharding = partitioning.batch_sharding(mesh)

    # ---- state: resumed, finetuned from another run's parameters, or fresh
    # The model dir's config.gin is still the saving run's: a checkpoint that does not fit
    # is reported with the gin fields that differ; this run's is written once it fits.
    checkpoints = TrainCheckpoints(model_dir, checkpoint, run_config=gin.config_str())
    state, origin = restore_or_init(
        checkpoints,
        abstract_state(model, tx, shardings),
        iterator,
        fresh=lambda: create_train_state(
            model, tx, mesh, seed, params_fn=codebook_init.params_fn(model)
        )[0],
        around_params=lambda params: fresh_optimizer_state(params, tx, shardings),
    )
    logging.info("%s: %s", model_dir, origin)
    start = int(state.step)
    checkpoints.prepare(state)
    if writes_files:
        _write_config(model_dir)
        curves.truncate_history(model_dir, start)
    step_fn = jit_train_step(make_train_step(model, tx, microbatches=microbatches,
                                             modalities=modalities), shardings, mesh)  # fmt: skip
    evaluate = _evaluator(model, eval_dataset_fn, eval_batches, seed, batch_size, mesh,
                          metric_evaluator)  # fmt: skip
    # Asynchronous: written in a thread of clu's (TensorFlow's writer flushes every 2 minutes
    # and at the end; each write's flush on gs:// would upload the whole file again).
    summaries = SummaryWriter(model_dir if writes_files else None, splits=("train", "eval"),
                              asynchronous=True)  # fmt: skip
    rng = jax.random.key(seed)

    # ---- the loop: dispatch step n+1, then look at step n (keeps the device busy)
    step, metrics, deferred = start, {}, None
    with (
        _StopSignal() as stop,
        _progress(progress, start, steps) as bar,
        _finished(checkpoints),
        contextlib.closing(summaries),
        curves.HistoryWriter(model_dir if writes_files else None) as history,
    ):
        log = _Logger(model_dir, summaries, history, _learning_rates(schedule, steps), log_every)
        save = functools.partial(_checkpoint, checkpoints, summaries, history, evaluate)
        while step < steps:
            batch = global_batch(next_host_batch(iterator), batch_sharding)
            if step == start:
                seconds = _compile_seconds(step_fn, mesh, state, batch, rng)
                logging.info("the train step compiled in %.2f s", seconds)
                summaries.write("train", step + 1, {"compile_seconds": seconds})
            state, device_metrics = step_fn(state, batch, rng)
            step += 1
            log.add(step, device_metrics, bar)  # waits for the step before, not for this one
            if deferred:  # the step before's save: its loss is now known to be finite
                save(*deferred)
                deferred = None
            if step == start + 1 and writes_files:
                _write_operative_config(model_dir)
            evaluating = evaluate is not None and eval_every and step % eval_every == 0
            stopping = stop.requested or _preempted(checkpoints, step)
            if step % checkpoint.every == 0 or step == steps or evaluating or stopping:
                # ---- checkpoint: written once this step's loss is known to be finite. Mid-run,
                # from copies (checkpoints.snapshot) while the next step runs; else it waits.
                last = step == steps or stopping
                begin = time.perf_counter()
                copied = None if last else checkpoints.snapshot(state, iterator)
                if copied:
                    deferred = (step, *copied, evaluating, last, time.perf_counter() - begin)
                else:
                    metrics = log.settle(bar)
                    save(step, state, iterator, evaluating, last)
            if stopping:
                logging.warning("stop requested: saved step %d, exiting", step)
                break
    return TrainResult(state=state, origin=origin, stopped_early=step < steps, metrics=metrics)


def require_bound(where: str, **values) -> None:
    """Raises ValueError naming each value still gin.REQUIRED (a %gin.REQUIRED macro that a
    run left unbound reaches the function as that object; gin does not stop it)."""
    missing = [name for name, value in values.items() if value is gin.REQUIRED]
    if missing:
        raise ValueError(
            f"{where}: {', '.join(missing)} not set; bind them in gin (gin/train.gin names "
            "MODEL_DIR, TRAIN_STEPS, BATCH_SIZE and MIXTURE_OR_TASK_NAME, e.g. "
            "--gin.MODEL_DIR=\"'/runs/x'\")"
        )


def _dataset(dataset_fn, batch_size, seed):
    processes = jax.process_count()
    if batch_size % processes:
        raise ValueError(f"batch_size {batch_size} does not split over {processes} processes")
    return dataset_fn(batch_size=batch_size // processes, seed=seed,
                      shard_index=jax.process_index(), num_shards=processes)  # fmt: skip


def _compile_seconds(step_fn, mesh, state, batch, rng) -> float:
    """Seconds jit_train_step's step takes to trace, lower and compile for these arguments,
    ahead of the first step (whose call then finds the executable in jax's caches)."""
    begin = time.perf_counter()
    with partitioning.activation_rules(mesh):
        step_fn.jitted.lower(state, batch, rng).compile()
    return time.perf_counter() - begin


def _save(checkpoints: TrainCheckpoints, state, iterator, eval_metrics) -> float:
    """Starts a save; returns the seconds it blocked the loop."""
    begin = time.perf_counter()
    checkpoints.save(state, iterator, metrics=eval_metrics)
    return time.perf_counter() - begin


def _checkpoint(checkpoints, summaries, history, evaluate, step, state, iterator, evaluating,
                last, waited=0.0) -> None:  # fmt: skip
    """Saves one step's state (and input position), evaluated first at evaluation steps;
    `waited`: the seconds the loop already spent on this save (copying its inputs)."""
    eval_metrics = evaluate(state.params) if evaluating else None
    seconds = waited + _save(checkpoints, state, iterator, eval_metrics)
    summaries.write("train", step, {"checkpoint_seconds": seconds})
    if eval_metrics:
        summaries.write("eval", step, eval_metrics)
    # The PNG is redrawn at evaluations and at the end, not at every save: drawing it cost
    # the tiny config's loop ~10% of its steps (BENCHMARKS.md); in its thread it still takes
    # CPU time.
    if eval_metrics or last:
        history.draw()


@contextlib.contextmanager
def _finished(checkpoints: TrainCheckpoints):
    """Lets saves in flight finish however the loop ends (a NaN error keeps the last good
    checkpoint whole)."""
    try:
        yield
    finally:
        checkpoints.wait()
        checkpoints.close()


def _preempted(checkpoints: TrainCheckpoints, step: int) -> bool:
    """A multi-host run's preemption notice (Orbax's; it needs jax.distributed)."""
    return jax.process_count() > 1 and checkpoints.manager.reached_preemption(step)


class _Logger:
    """Looks at finished steps: each step's loss comes to the host (the NaN check, progress),
    all its metrics only every `every` steps (summaries, loss history) and at saves."""

    def __init__(self, model_dir, summaries, history, learning_rates, every):
        self.model_dir, self.summaries, self.history = model_dir, summaries, history
        self.learning_rates, self.every = learning_rates, every
        self.pending: list = []  # (step, its metrics on the device): dispatched, not looked at
        self.last_time, self.last_step = time.perf_counter(), None

    def add(self, step: int, device_metrics, bar) -> None:
        """Takes a dispatched step and looks at the ones before it (waiting for them to
        finish, while it runs)."""
        *earlier, latest = [*self.pending, (step, device_metrics)]
        self.pending = [latest]
        for entry in earlier:
            self._look(*entry, bar)

    def settle(self, bar) -> dict:
        """Looks at every dispatched step; returns the last one's metrics on the host."""
        pending, self.pending = self.pending, []
        metrics = {}
        for i, entry in enumerate(pending):
            metrics = self._look(*entry, bar, everything=i == len(pending) - 1)
        return metrics

    def _look(self, step: int, device_metrics, bar, everything=False) -> dict:
        loss = float(device_metrics["loss"])
        if not np.isfinite(loss):
            tasks = nonfinite_tasks(_on_host(device_metrics)) or ["(no single task: the total)"]
            raise NonFiniteLossError(
                f"{self.model_dir}: the loss at step {step} is {loss} "
                f"(tasks {', '.join(tasks)}); the run stopped and keeps its last checkpoint"
            )
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        if step % self.every and not everything:
            return {"loss": loss}
        metrics = _on_host(device_metrics)
        if step % self.every == 0:
            now = time.perf_counter()
            if self.last_step is not None:
                metrics["steps_per_second"] = (step - self.last_step) / (now - self.last_time)
            self.last_time, self.last_step = now, step
            metrics["learning_rate"] = float(self.learning_rates[step - 1])
            self.summaries.write("train", step, metrics)
            self.history.append(
                step, {t: metrics[f"{t}/loss"] for t in TASKS if metrics[f"{t}/num_tokens"] > 0}
            )
        return metrics


def _learning_rates(schedule, steps: int) -> np.ndarray:
    """The schedule's rate at each step (index step - 1), computed once: evaluated at a log
    step, it queued behind the step in flight and the loop waited for that step (on the tiny
    config ~0.3 s of idle device at every log step)."""
    return np.asarray(jax.device_get(schedule(np.arange(max(steps, 1)))))


def _on_host(device_metrics) -> dict[str, float]:
    return {name: float(v) for name, v in jax.device_get(device_metrics).items()}


def _evaluator(model, dataset_fn, num_batches, seed, batch_size, mesh, metric_evaluator):
    """evaluate(params) -> the eval losses (`_loss_evaluator`) and the metric evaluator's
    metrics in one dict; None (no function) when neither is configured."""
    losses = _loss_evaluator(model, dataset_fn, num_batches, seed, batch_size, mesh)
    if metric_evaluator is None:
        return losses

    def evaluate(params):
        return {**(losses(params) if losses else {}), **metric_evaluator(model, params, mesh)}

    return evaluate


def _loss_evaluator(model, dataset_fn, num_batches, seed, batch_size, mesh):
    """evaluate(params) -> {"eval/loss", "eval/<task>/loss", "eval/accuracy", ...} over the
    first `num_batches` batches of the eval data, weighted by target tokens; None (no
    function) without data."""
    if dataset_fn is None:
        return None
    sharding = partitioning.batch_sharding(mesh)
    dataset = _dataset(dataset_fn, batch_size, seed).take(num_batches)

    @jax.jit
    def loss(params, batch):
        return model.loss_fn(params, batch)[1]

    def evaluate(params):
        sums: dict = {}
        with partitioning.activation_rules(mesh):
            for local in dataset:
                batch = global_batch({k: v.numpy() for k, v in local.items()}, sharding)
                sums = add_weighted(sums, jax.device_get(loss(params, batch)))
        return {f"eval/{name}": float(value) for name, value in weighted_means(sums).items()}

    return evaluate


def _prepare_model_dir(model_dir: str, check_writable: bool = True) -> None:
    """Creates the model dir; (`check_writable`) an unwritable one fails here, before
    anything compiles. The gin config is written after the restore (`_write_config`): until
    then config.gin is the previous run's, which a mismatched checkpoint is compared with."""
    try:
        files.makedirs(model_dir)
        if check_writable:
            files.check_writable(model_dir)
    except OSError as err:
        raise Mt3UnifiedError(f"{model_dir}: cannot write the model dir ({err})") from err


def _write_config(model_dir: str) -> None:
    """This run's gin config (gin.config_str()) as the model dir's config.gin."""
    try:
        files.write_text(files.join(model_dir, CONFIG_FILE), gin.config_str())
    except OSError as err:
        raise Mt3UnifiedError(f"{model_dir}: cannot write the model dir ({err})") from err


def _write_operative_config(model_dir: str) -> None:
    """The values gin actually handed out (known once the first step has been built)."""
    files.write_text(files.join(model_dir, OPERATIVE_CONFIG_FILE), gin.operative_config_str())


class _StopSignal:
    """While active, SIGTERM asks the loop to save and stop instead of killing the process."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._request)
        return self

    def _request(self, signum, frame):
        self.requested = True

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _progress(enabled: bool, start: int, steps: int):
    """tqdm's bar: step, steps/s, time left, and the loss as a postfix."""
    from tqdm import tqdm

    return tqdm(total=steps, initial=start, unit="step", disable=not enabled, dynamic_ncols=True)
