"""Model benchmarks on this machine: train-step FLOP/s vs matmul, cached decoding, memory.

Run: python bench/model.py [--quick]. Every ratio is against a baseline timed in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mt3_unified.model.config import ModelConfig
from mt3_unified.model.model import UnifiedModel
from mt3_unified.vocab.unified import EOS_ID, MODALITIES, TASKS, unified_vocabulary

ROOT = Path(__file__).resolve().parents[1]


def load_config(size: str, **overrides) -> ModelConfig:
    gin.clear_config()
    gin.parse_config_file(str(ROOT / "gin" / "models" / f"{size}.gin"))
    config = ModelConfig()
    gin.clear_config()
    return dataclasses.replace(config, **overrides)


def best_time(fn, repeat=3):
    jax.block_until_ready(fn())  # compile and warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_flops(n=4096):
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(jnp.matmul)
    return 2 * n**3 / best_time(lambda: f(a, a))


def symbolic_batch(model, b, l_in, l_out, src="lmx", tgt="midi", seed=0):
    rng = np.random.default_rng(seed)
    vocab, k = model.vocab, model.k_max

    def frames(modality, length):
        out = np.zeros((b, length, k), np.int32)
        for s in range(vocab.num_codebooks(modality)):
            lo, hi = vocab.id_range(modality, s)
            out[:, :, s] = rng.integers(lo, hi, size=(b, length))
        return out

    tgt_frames = frames(tgt, l_out)
    bos = np.zeros_like(tgt_frames[:, :1])
    bos[:, 0, 0] = vocab.target_id(tgt)
    weights = (tgt_frames > 0).astype(np.float32)
    return {
        "encoder_input_tokens": frames(src, l_in),
        "encoder_input_modality": np.full((b,), MODALITIES.index(src), np.int32),
        "target_modality": np.full((b,), MODALITIES.index(tgt), np.int32),
        "task": np.full((b,), TASKS.index(f"{src}_to_{tgt}"), np.int32),
        "decoder_target_tokens": tgt_frames,
        "decoder_input_tokens": np.concatenate([bos, tgt_frames[:, :-1]], axis=1),
        "decoder_loss_weights": weights,
    }


def train_step_fn(model):
    opt = optax.adamw(1e-4)

    def step(params, state, batch):
        grads = jax.grad(lambda p: model.loss_fn(p, batch)[0])(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return opt, step


def bench_train(model, batch):
    params = model.init(jax.random.key(0))
    opt, step = train_step_fn(model)
    state = opt.init(params)
    compiled = jax.jit(step).lower(params, state, batch).compile()
    flops = compiled.cost_analysis()["flops"]
    seconds = best_time(lambda: compiled(params, state, batch), repeat=2)
    return flops, seconds


def uncached_greedy(model, params, batch, length):
    """Greedy symbolic decoding that recomputes the whole prefix every step (the baseline)."""

    @jax.jit
    def run(params, batch):
        tgt = jnp.zeros_like(batch["decoder_target_tokens"][:, :length])
        bos = jnp.zeros_like(tgt[:, :1]).at[:, 0, 0].set(batch["decoder_input_tokens"][:, 0, 0])

        def body(i, tgt):
            dec_in = jnp.concatenate([bos, tgt[:, :-1]], axis=1)
            full = dict(batch, decoder_target_tokens=tgt, decoder_input_tokens=dec_in)
            full["decoder_loss_weights"] = jnp.zeros(tgt.shape, jnp.float32)
            logits = model.module.apply({"params": params}, **_inputs(full))
            token = jnp.argmax(logits[:, i, 0], axis=-1).astype(jnp.int32)
            return tgt.at[:, i, 0].set(token)

        return jax.lax.fori_loop(0, length, body, tgt)

    return run(params, batch)


def _inputs(batch):
    keys = (
        "encoder_input_tokens",
        "encoder_input_modality",
        "target_modality",
        "decoder_input_tokens",
        "decoder_target_tokens",
    )
    return {k: batch[k] for k in keys}


def no_eos(model):
    # Random weights would stop at an arbitrary EOS; forbid it so every run has full length.
    masks = model.logit_masks.copy()
    masks[:, :, EOS_ID] = False
    from mt3_unified.model.network import UnifiedTransformer

    model.logit_masks = masks
    model.module = UnifiedTransformer(model.config, masks)
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="skip the paper-size memory check")
    args = parser.parse_args()
    vocab = unified_vocabulary()
    print(f"devices: {jax.devices()}")
    peak = matmul_flops()
    print(f"matmul 4096^2 f32: {peak / 1e9:.1f} GFLOP/s")

    small = UnifiedModel(load_config("small"), vocab)
    flops, sec = bench_train(small, symbolic_batch(small, 8, 512, 256))
    print(
        f"small train step (b8, 512->256): {sec:.2f} s, {flops / sec / 1e9:.1f} GFLOP/s, "
        f"{flops / sec / peak:.2f} of matmul"
    )

    for size, batch_size in (("tiny", 8), ("small", 8)):
        model = no_eos(UnifiedModel(load_config(size, max_target_len=1024), vocab))
        params = model.init(jax.random.key(0))
        for length in (256, 1024):
            batch = symbolic_batch(model, batch_size, 256, length)
            cached = best_time(lambda: model.predict_batch(params, batch, max_length=length), 1)  # noqa: B023
            print(
                f"{size} cached greedy b{batch_size} L={length}: {cached:.2f} s, "
                f"{batch_size * length / cached:.0f} tokens/s"
            )
            if size == "tiny":
                full = best_time(lambda: uncached_greedy(model, params, batch, length), 1)  # noqa: B023
                print(f"  uncached: {full:.2f} s -> cache speedup {full / cached:.1f}x")

    tiny = no_eos(UnifiedModel(load_config("tiny"), vocab))
    params = tiny.init(jax.random.key(0))
    batch = symbolic_batch(tiny, 8, 256, 256, src="midi", tgt="audio")
    sec = best_time(lambda: tiny.predict_batch(params, batch, max_length=256), 1)
    print(f"tiny audio decoding (depth decoder, K=4) b8: {8 * 256 / sec:.0f} frames/s")

    if not args.quick:
        for remat in (False, True):
            paper = UnifiedModel(load_config("paper", remat=remat), vocab)
            batch = symbolic_batch(paper, 1, 1750, 1400, src="audio", tgt="lmx")
            params = jax.eval_shape(paper.init, jax.random.key(0))
            opt, step = train_step_fn(paper)
            state = jax.eval_shape(opt.init, params)
            mem = jax.jit(step).lower(params, state, batch).compile().memory_analysis()
            print(
                f"paper train step b1 audio 1750 -> lmx 1400, remat={remat}: "
                f"temp {mem.temp_size_in_bytes / 2**30:.2f} GiB, "
                f"args {mem.argument_size_in_bytes / 2**30:.2f} GiB"
            )


if __name__ == "__main__":
    main()
