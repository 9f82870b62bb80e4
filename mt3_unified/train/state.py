"""The training state (params, optimizer state, step), created already sharded on a mesh."""

from __future__ import annotations

import flax.struct
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mt3_unified.train import partitioning


@flax.struct.dataclass
class TrainState:
    """Everything a step changes. `step` is a 0-d int32 array (Orbax cannot restore a numpy
    scalar), counted in optimizer updates."""

    params: dict
    opt_state: optax.OptState
    step: jax.Array


def state_shardings(model, tx: optax.GradientTransformation, mesh: Mesh) -> TrainState:
    """NamedShardings of every leaf of the state: parameters by the partitioning rules, each
    copy of them inside the optimizer state (Adam's moments, say) likewise, the rest (counts,
    Adafactor's factored rows) replicated."""
    param_shardings = partitioning.logical_to_sharding(model.param_axes(), mesh)
    replicated = NamedSharding(mesh, PartitionSpec())
    abstract = jax.eval_shape(lambda: init_state(model, tx, jax.random.key(0)))
    opt_shardings = optax.tree_map_params(
        tx,
        lambda _, sharding: sharding,
        abstract.opt_state,
        param_shardings,
        transform_non_params=lambda _: replicated,
    )
    return TrainState(params=param_shardings, opt_state=opt_shardings, step=replicated)


def init_state(model, tx, rng, params_fn=None) -> TrainState:
    """A fresh state, unplaced (jit it with out_shardings, or eval_shape it); `params_fn`
    changes the fresh parameters first (e.g. CodebookInit's codec codebooks)."""
    params = model.init(rng)
    if params_fn is not None:
        params = params_fn(params)
    return TrainState(params=params, opt_state=tx.init(params), step=jnp.zeros((), jnp.int32))


def create_train_state(
    model, tx: optax.GradientTransformation, mesh: Mesh, seed: int = 0, params_fn=None
):
    """(state, its shardings): fresh parameters and optimizer state, each array born on the
    devices its sharding names (no host copy of the whole model is ever made); `params_fn`
    as in init_state."""
    shardings = state_shardings(model, tx, mesh)
    init = jax.jit(lambda rng: init_state(model, tx, rng, params_fn), out_shardings=shardings)
    return init(jax.random.key(seed)), shardings


def abstract_state(model, tx: optax.GradientTransformation, shardings: TrainState) -> TrainState:
    """The state's shapes and dtypes, each with its sharding (nothing is allocated): the
    target a checkpoint restores into."""
    shapes = jax.eval_shape(lambda: init_state(model, tx, jax.random.key(0)))
    return jax.tree.map(
        lambda s, sharding: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
        shapes,
        shardings,
    )


def fresh_optimizer_state(params, tx: optax.GradientTransformation, shardings: TrainState):
    """A state around given (e.g. pretrained) parameters with a new optimizer state at step 0."""
    init = jax.jit(
        lambda p: TrainState(params=p, opt_state=tx.init(p), step=jnp.zeros((), jnp.int32)),
        in_shardings=(shardings.params,),
        out_shardings=shardings,
    )
    return init(params)
