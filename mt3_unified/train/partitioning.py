"""Device mesh and the one table that maps logical axis names to mesh axes (T5X style)."""

from __future__ import annotations

import contextlib

import flax.linen as nn
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

# Logical axis -> mesh axis. Weights split along their wide axis (vocab, mlp,
# heads) over "model"; activations split their batch over "data"; embed stays
# whole so residual adds and norms need no communication.
LOGICAL_AXIS_RULES: tuple[tuple[str, str | None], ...] = (
    ("batch", "data"),
    ("vocab", "model"),
    ("mlp", "model"),
    ("heads", "model"),
    ("kv_heads", "model"),
    ("kv", None),
    ("embed", None),
    ("length", None),
    ("modality", None),
    ("codebook", None),
    ("features", None),
)


def make_mesh(data: int = -1, model: int = 1, devices=None) -> Mesh:
    """A (data, model) mesh over `devices` (all by default); data=-1 takes what model leaves.

    Built with Mesh directly: jax.make_mesh now defaults to Explicit axis types,
    while the logical-constraint machinery here needs Auto.
    """
    devices = np.asarray(jax.devices() if devices is None else devices)
    if data == -1:
        if devices.size % model:
            raise ValueError(f"{devices.size} devices do not split into model={model}")
        data = devices.size // model
    if data * model != devices.size:
        raise ValueError(f"mesh {data}x{model} needs {data * model} devices, have {devices.size}")
    return Mesh(devices.reshape(data, model), ("data", "model"))


def logical_to_sharding(axes_tree, mesh: Mesh, rules=LOGICAL_AXIS_RULES):
    """PartitionSpecs of logical names (e.g. UnifiedModel.param_axes()) -> NamedShardings."""
    return nn.logical_to_mesh_sharding(axes_tree, mesh, rules)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Every batch feature splits its leading (example) axis over "data"."""
    return NamedSharding(mesh, PartitionSpec("data"))


def shard_params(params, axes_tree, mesh: Mesh, rules=LOGICAL_AXIS_RULES):
    """Places a parameter pytree on the mesh according to its logical axes."""
    return jax.device_put(params, logical_to_sharding(axes_tree, mesh, rules))


def shard_batch(batch: dict, mesh: Mesh):
    """Places a batch (a dict of host arrays) on the mesh, split by example."""
    return jax.device_put(batch, batch_sharding(mesh))


@contextlib.contextmanager
def activation_rules(mesh: Mesh, rules=LOGICAL_AXIS_RULES):
    """Context in which nn.with_logical_constraint on activations takes effect."""
    with jax.set_mesh(mesh), nn.logical_axis_rules(rules):
        yield
