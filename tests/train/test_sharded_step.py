"""Three AdamW steps on a 4x2 (data x model) mesh of fake CPU devices equal one device's."""

import textwrap

import pytest

from tests.train.helpers import run_worker

# A fresh interpreter: XLA_FLAGS must be set before jax is first imported.
WORKER = textwrap.dedent(
    """
    import json
    import jax, numpy as np
    from mt3_unified.runtime.optimizers import adamw_warmup_cosine
    from mt3_unified.train import partitioning
    from mt3_unified.train.state import create_train_state
    from mt3_unified.train.step import jit_train_step, make_train_step
    from tests.model.helpers import ALL_PAIRS, make_batch, tiny_model

    assert jax.device_count() == 8, jax.devices()
    model = tiny_model(dropout_rate=0.1)  # dropout: the per-step RNG must agree too
    tx = adamw_warmup_cosine(1e-3, steps=10, warmup_steps=2)
    batches = [make_batch(ALL_PAIRS[:8], seed=s) for s in range(3)]

    def run(mesh):
        state, shardings = create_train_state(model, tx, mesh, seed=0)
        step = jit_train_step(make_train_step(model, tx), shardings, mesh)
        for batch in batches:
            state, metrics = step(state, batch, jax.random.key(7))
        return state, metrics

    one, m1 = run(partitioning.make_mesh(data=1, model=1, devices=jax.devices()[:1]))
    mesh = partitioning.make_mesh(data=4, model=2)
    eight, m8 = run(mesh)
    diff = jax.tree.map(lambda a, b: float(np.abs(np.asarray(a) - np.asarray(b)).max()), one, eight)
    moved = jax.tree.map(lambda a: float(np.abs(np.asarray(a)).max()), one.params)
    wi = eight.params["decoder_layers_0"]["mlp"]["wi_0"]["kernel"]
    mu = eight.opt_state[1][0].mu["decoder_layers_0"]["mlp"]["wi_0"]["kernel"]
    print(json.dumps({
        "max_diff": max(jax.tree.leaves(diff)),
        "loss1": float(m1["loss"]), "loss8": float(m8["loss"]),
        "step": int(eight.step),
        "param_spec": str(wi.sharding.spec), "moment_spec": str(mu.sharding.spec),
        "step_spec": str(eight.step.sharding.spec),
    }))
    """
)


@pytest.fixture(scope="module")
def result():
    return run_worker(WORKER, devices=8, timeout=900)


def test_eight_devices_train_to_one_devices_parameters(result):
    assert result["step"] == 3
    assert result["max_diff"] < 1e-5, result
    assert abs(result["loss1"] - result["loss8"]) < 1e-5


def test_params_and_their_adam_moments_share_the_rules_sharding(result):
    assert result["param_spec"] == "P(None, 'model')"
    assert result["moment_spec"] == result["param_spec"]
    assert result["step_spec"] == "P()"
