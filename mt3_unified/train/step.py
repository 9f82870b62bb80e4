"""One jitted training step: gradients summed over microbatches, the update, per-task metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mt3_unified.train import partitioning
from mt3_unified.train.state import TrainState
from mt3_unified.vocab.layout import TASKS

# Metrics that count (summed over microbatches); every other metric is a mean over target
# tokens, weighted by the count named here (the task's own tokens for a per-task metric).
COUNTS = ("num_tokens", "num_examples")


def count_of(name: str) -> str | None:
    """The count a metric's microbatch values are weighted by; None for a count itself."""
    task, _, what = name.rpartition("/")
    if what in COUNTS:
        return None
    return f"{task}/num_tokens" if task else "num_tokens"


def examples_per_task(batch) -> jax.Array:
    """[T] examples of each task with any weighted target token (padding rows count nowhere)."""
    real = (batch["decoder_loss_weights"].sum(axis=(1, 2)) > 0).astype(jnp.float32)
    return jax.nn.one_hot(batch["task"], len(TASKS), dtype=jnp.float32).T @ real


def split_microbatches(batch: dict, microbatches: int) -> dict:
    """[B, ...] -> [M, B/M, ...], example i in microbatch i % M: each microbatch keeps an equal
    part of every data shard, so splitting moves no data between devices."""

    def split(x):
        return x.reshape(x.shape[0] // microbatches, microbatches, *x.shape[1:]).swapaxes(0, 1)

    return jax.tree.map(split, batch)


def make_train_step(
    model, tx: optax.GradientTransformation, *, microbatches: int = 1, modalities=None
) -> Callable:
    """train_step(state, batch, rng) -> (state, metrics), pure and unjitted.

    The run's `rng` is folded with the step (and the microbatch), so a resumed run draws the
    same dropout masks as one never stopped. Gradients of microbatches are summed with weights
    n_i / N (their share of the batch's target tokens): the sum equals the full batch's
    gradient, whose loss is normalized by N. `modalities`: the target modalities the batches
    can hold (see UnifiedModel.loss_fn), default all.
    """

    def grads_of(params, batch, rng):
        (_, metrics), grads = model.loss_and_grad(params, batch, rng, modalities)
        return grads, metrics

    def accumulate(params, batch, rng):
        if microbatches == 1:
            return grads_of(params, batch, rng)

        def add(carry, micro_and_index):
            micro, index = micro_and_index
            grads, metrics = grads_of(params, micro, jax.random.fold_in(rng, index))
            grad_sum, sums = carry
            tokens = jnp.maximum(metrics["num_tokens"], 1.0)
            grad_sum = jax.tree.map(lambda s, g: s + g * tokens, grad_sum, grads)
            return (grad_sum, add_weighted(sums, metrics)), None

        micro = split_microbatches(batch, microbatches)
        zero_grads = jax.tree.map(jnp.zeros_like, params)
        shapes = jax.eval_shape(grads_of, params, jax.tree.map(lambda x: x[0], micro), rng)[1]
        zero_sums = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        (grad_sum, sums), _ = jax.lax.scan(
            add, (zero_grads, zero_sums), (micro, jnp.arange(microbatches))
        )
        total = jnp.maximum(sums["num_tokens"], 1.0)
        return jax.tree.map(lambda g: g / total, grad_sum), weighted_means(sums)

    def train_step(state: TrainState, batch: dict, rng):
        rng = jax.random.fold_in(rng, state.step)
        grads, metrics = accumulate(state.params, batch, rng)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        counts = examples_per_task(batch)
        for i, task in enumerate(TASKS):
            metrics[f"{task}/num_examples"] = counts[i]
        metrics["num_examples"] = counts.sum()
        metrics["grad_norm"] = optax.global_norm(grads)
        return TrainState(params=params, opt_state=opt_state, step=state.step + 1), metrics

    return train_step


def add_weighted(sums: dict, metrics: dict) -> dict:
    """sums + each mean metric times its token count (counts added as they are); an empty
    `sums` starts the sum. Works on device and host values alike."""
    out = {}
    for name, value in metrics.items():
        count = count_of(name)
        out[name] = sums.get(name, 0.0) + (value if count is None else value * metrics[count])
    return out


def weighted_means(sums: dict) -> dict:
    """The means `add_weighted`'s sums stand for (counts stay sums)."""
    return {
        name: value if count_of(name) is None else value / jnp.maximum(sums[count_of(name)], 1.0)
        for name, value in sums.items()
    }


def jit_train_step(
    train_step: Callable, shardings: TrainState, mesh: Mesh
) -> Callable[[TrainState, dict, jax.Array], tuple[TrainState, dict]]:
    """The step jitted with explicit shardings (state by the rules, batch split by example,
    rng and metrics replicated) and the old state donated; traced under the mesh's logical
    axis rules, so activation constraints take effect."""
    replicated = NamedSharding(mesh, PartitionSpec())
    jitted = jax.jit(
        train_step,
        in_shardings=(shardings, partitioning.batch_sharding(mesh), replicated),
        out_shardings=(shardings, replicated),
        donate_argnums=(0,),
    )

    def step(state, batch, rng):
        with partitioning.activation_rules(mesh):
            return jitted(state, batch, rng)

    step.jitted = jitted
    return step


def check_divisible(batch_size: int, microbatches: int, mesh: Mesh) -> None:
    """Raises ValueError unless every microbatch splits evenly over the data axis."""
    data = mesh.shape["data"]
    if batch_size % (microbatches * data):
        raise ValueError(
            f"batch_size {batch_size} does not split into {microbatches} microbatches of "
            f"{data} data shards each"
        )


def nonfinite_tasks(metrics: dict, tasks: Sequence[str] = TASKS) -> list[str]:
    """Tasks with target tokens in the batch whose loss is NaN or Inf (host-side metrics)."""
    return [
        task
        for task in tasks
        if metrics[f"{task}/num_tokens"] > 0 and not jnp.isfinite(metrics[f"{task}/loss"])
    ]
