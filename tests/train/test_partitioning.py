"""Loss and gradients on a 4x2 (data x model) mesh of fake CPU devices equal one-device values."""

import textwrap

import pytest

from tests.train.helpers import run_worker

# Runs in a fresh interpreter: XLA_FLAGS must be set before jax is first imported,
# and other test modules of this session have imported jax already.
WORKER = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import PartitionSpec as P
    from mt3_unified.train import partitioning
    from tests.model.helpers import ALL_PAIRS, make_batch, tiny_model

    assert jax.device_count() == 8, jax.devices()
    model = tiny_model()
    params = model.init(jax.random.key(0))
    batch = make_batch(ALL_PAIRS[:8])
    # The training path: loss_and_grad, with its run-time choice of depth slots.
    def grad_fn(p, b):
        (loss, _), grads = model.loss_and_grad(p, b)
        return loss, grads

    loss1, grads1 = jax.jit(grad_fn)(params, batch)

    mesh = partitioning.make_mesh(data=4, model=2)
    axes = model.param_axes()
    sharded = partitioning.shard_params(params, axes, mesh)
    sharded_batch = partitioning.shard_batch(batch, mesh)
    with partitioning.activation_rules(mesh):
        loss8, grads8 = jax.jit(grad_fn)(sharded, sharded_batch)
    diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), grads1, grads8)
    emb = sharded["token_embed"]
    wi = sharded["decoder_layers_0"]["mlp"]["wi_0"]["kernel"]
    print(json.dumps({
        "loss1": float(loss1), "loss8": float(loss8),
        "max_grad_diff": max(jax.tree.leaves(diff)),
        "max_grad": max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(grads1)),
        "embed_spec": str(emb.sharding.spec), "embed_shard": emb.addressable_shards[0].data.shape,
        "embed_shape": emb.shape, "mlp_spec": str(wi.sharding.spec),
        "grad_embed_spec": str(grads8["token_embed"].sharding.spec),
        "batch_spec": str(sharded_batch["encoder_input_tokens"].sharding.spec),
    }))
    """
)


@pytest.fixture(scope="module")
def result():
    return run_worker(WORKER, devices=8, timeout=600)


def test_loss_and_grads_match_one_device(result):
    assert abs(result["loss1"] - result["loss8"]) < 1e-5
    assert result["max_grad_diff"] < 1e-5, result
    assert result["max_grad"] > 1e-3  # the comparison is not vacuous


def test_params_and_batch_are_split(result):
    assert result["embed_spec"] == "P('model', None)"
    vocab, dim = result["embed_shape"]
    assert result["embed_shard"] == [vocab // 2, dim]
    assert "model" in result["mlp_spec"]
    assert "data" in result["batch_spec"]
