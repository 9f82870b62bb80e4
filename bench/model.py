"""Model benchmarks on this machine: train-step FLOP/s vs matmul, cached decoding, memory, HF T5.

Run: python bench/model.py [--quick] [--no-hf]. It re-executes itself with a
malloc that keeps freed memory (mt3_unified.hostmalloc; MT3U_MALLOC=system
runs with glibc's defaults). Every ratio is against a baseline timed in the
same run (this CPU is shared, so absolute times drift; ratios drift less).
--quick shrinks lengths and repeats for a smoke run and skips the paper-size
memory check; its figures are not the benchmark's.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mt3_unified.hostmalloc import reexec_with_retaining_malloc
from mt3_unified.model.config import ModelConfig
from mt3_unified.model.model import UnifiedModel, gin_model
from mt3_unified.model.network import UnifiedTransformer
from mt3_unified.vocab.layout import EOS_ID, MODALITIES, PAD_ID, TASKS, VocabularyLayout

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import timing  # noqa: E402  (bench/ is a folder of scripts, put on the path above)

# What HuggingFace's T5 is compared at (T5-small v1.0 shapes: plain ReLU MLP 2048).
HF_DIMS = dict(d_model=512, layers=6, heads=8, d_ff=2048)


def load_model(size: str, **overrides) -> UnifiedModel:
    """The model gin/models/<size>.gin builds (its config and loss settings, the default
    vocabulary), with ModelConfig fields overridden."""
    bindings = [f"ModelConfig.{name} = {value!r}" for name, value in overrides.items()]
    gin.clear_config()
    model = gin_model([f"gin/models/{size}.gin"], bindings)
    gin.clear_config()
    return model


def hf_matched_config(**overrides) -> ModelConfig:
    """Our model at the HF T5 comparison's dimensions and with its plain ReLU MLP (T5 v1.0).

    The same activation keeps the comparison about the implementations (GELU's
    tanh costs our step a little more; BENCHMARKS.md).
    """
    d, layers, heads, d_ff = (HF_DIMS[k] for k in ("d_model", "layers", "heads", "d_ff"))
    config = ModelConfig(
        emb_dim=d,
        num_heads=heads,
        num_kv_heads=heads,
        head_dim=d // heads,
        mlp_dim=d_ff,
        mlp="relu",
        num_encoder_layers=layers,
        num_decoder_layers=layers,
        depth_layers=1,
        depth_heads=heads,
        depth_mlp_dim=d_ff,
        max_input_len=512,
        max_target_len=1024,
    )
    return dataclasses.replace(config, **overrides)


def best_time(fn, repeat=3):
    """Best wall seconds of a JAX computation, after one compiling run."""
    return timing.best_time(lambda: jax.block_until_ready(fn()), repeat, warmup=True)[0]


def matmul_flops(n=4096, dtype=jnp.float32, repeat=5):
    """FLOP/s of an n^3 jnp.matmul on the default device: the ceiling ratios are taken against."""
    a = jnp.asarray(np.random.default_rng(0).standard_normal((n, n), np.float32), dtype)
    f = jax.jit(jnp.matmul)
    return 2 * n**3 / best_time(lambda: f(a, a), repeat=repeat)


def model_flops(cfg: ModelConfig, columns: list[int], b: int, l_in: int, l_out: int):
    """Analytic FLOPs of one training step: 3 x forward matmul FLOPs (forward + backward).

    Counts every weight matmul (2 FLOPs per multiply-add per token) and the two
    attention products (QK^T and AV); embeddings gathers, norms, softmax and the
    optimizer are not counted. `columns` holds, per depth slot a frame needs
    (1 for symbolic targets, K for RVQ ones), how many ids the target may
    emit there (`output_columns`): the model FLOPs the task needs, not what
    an implementation happens to compute (logits of ids the mask rules out
    are not counted).
    """
    slots = len(columns)
    d, h, g, dh = cfg.emb_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
    mlp_mats = 3 if cfg.mlp == "gated_gelu" else 2
    q_o = 2 * d * h * dh
    k_v = 2 * d * g * dh
    enc = cfg.num_encoder_layers * (
        l_in * (q_o + k_v + mlp_mats * d * cfg.mlp_dim) + 2 * l_in * l_in * h * dh
    )
    dec = cfg.num_decoder_layers * (
        l_out * (2 * q_o + k_v + mlp_mats * d * cfg.mlp_dim)  # self q/k/v/o, cross q/o, MLP
        + l_in * k_v  # cross-attention keys/values of the encoder output
        + 2 * l_out * l_out * h * dh
        + 2 * l_out * l_in * h * dh
    )
    depth_tokens = l_out * slots
    dd = cfg.depth_heads * dh
    depth = cfg.depth_layers * (
        depth_tokens * (4 * d * dd + mlp_mats * d * cfg.depth_mlp_dim)
        + 2 * l_out * slots * slots * dd
    )
    logits = l_out * d * sum(columns)
    forward = 2 * b * (enc + dec + depth + logits)
    return 3 * forward


def symbolic_batch(model, b, l_in, l_out, src="lmx", tgt="midi", seed=0):
    rng = np.random.default_rng(seed)
    vocab, k = model.vocabulary, model.k_max

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


def output_columns(model, target: str) -> list[int]:
    """Per depth slot a `target` frame needs, how many ids it may emit there."""
    window = model.output_window([MODALITIES.index(target)])
    return [int(n) for n in (window.columns != PAD_ID).sum(axis=-1)]


def train_step_fn(model, modalities=None):
    """(optimizer, step): forward, backward and AdamW; the output window and depth slots
    are chosen at run time among the target `modalities` (static names; None: all).

    step(params, state, batch, key=None): a key turns the config's dropout on.
    """
    opt = optax.adamw(1e-4)

    def step(params, state, batch, key=None):
        _, grads = model.loss_and_grad(params, batch, key, modalities=modalities)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    return opt, step


def compiled_train_step(model, batch, modalities=None):
    """(XLA-counted FLOPs, a callable running one compiled training step and waiting for it);
    `modalities` as in train_step_fn."""
    cfg = model.config
    assert cfg.dtype == "float32" and not cfg.remat, "XLA on CPU gains nothing from bf16 or remat"
    params = model.init(jax.random.key(0))
    opt, step = train_step_fn(model, modalities)
    state = opt.init(params)
    batch = jax.device_put(batch)
    compiled = jax.jit(step).lower(params, state, batch).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list | tuple) else cost
    run = lambda: jax.block_until_ready(compiled(params, state, batch))
    return float(cost.get("flops", float("nan"))), run


def bench_train(model, batch, modalities=None, repeat=2):
    """(XLA-counted FLOPs, best seconds) of one jitted training step (forward, backward, AdamW)."""
    flops, run = compiled_train_step(model, batch, modalities)
    return flops, best_time(run, repeat=repeat)


def uncached_greedy_fn(model, length, window):
    """Greedy symbolic decoding that reruns the decoder over the whole prefix every step.

    The baseline for the KV cache: the encoder runs once (as in cached decoding),
    then step i runs the decoder teacher-forced over all `length` frames (fixed
    shapes, as a jitted loop must) and the depth decoder / output layer on frame
    i's slot 0 only. Running over `length` rather than i + 1 frames doubles its
    work on average; the benchmark prints the ratio halved too. Its logits
    cover the same `window` of ids as cached decoding's, so the ratio is the
    cache's alone.
    """
    module = model.module

    @jax.jit
    def run(params, batch):
        apply = lambda *a, **k: module.apply({"params": params}, *a, **k)
        tm = batch["target_modality"]
        encoded, mask = apply(
            batch["encoder_input_tokens"], batch["encoder_input_modality"], tm, method="encode"
        )
        b, k_max = tm.shape[0], model.k_max
        bos = jnp.zeros((b, 1, k_max), jnp.int32).at[:, 0, 0].set(jnp.asarray(model.bos_ids)[tm])
        tgt = jnp.zeros((b, length, k_max), jnp.int32)

        def body(i, tgt):
            dec_in = jnp.concatenate([bos, tgt[:, :-1]], axis=1)
            hidden = apply(encoded, mask, dec_in, tm, method="decode")
            h_i = jax.lax.dynamic_slice_in_dim(hidden, i, 1, axis=1)
            logits = apply(
                h_i, tgt[:, :1, :1], tm, 0, columns=window.columns[:1], method="depth_logits"
            )[:, 0]
            token = jnp.asarray(window.columns[0])[jnp.argmax(logits, axis=-1)]
            return tgt.at[:, i, 0].set(token)

        return jax.lax.fori_loop(0, length, body, tgt)

    return run


def no_eos(model):
    # Random weights would stop at an arbitrary EOS; forbid it so every run has full length.
    masks = model.logit_masks.copy()
    masks[:, :, EOS_ID] = False
    model.logit_masks = masks
    model.module = UnifiedTransformer(model.config, masks)
    return model


# XLA's CPU scheduler by default orders for concurrency and ignores memory, which
# hides what rematerialization saves (the GPU and TPU schedulers are memory-aware).
MEMORY_SCHEDULER = {"xla_cpu_scheduler_type": "CPU_SCHEDULER_TYPE_MEMORY_OPTIMIZED"}


def memory_report(remat: bool, scheduler=None, b=1, src="midi", tgt="audio", l_in=1400, l_out=1750):
    """memory_analysis of one paper-config training step (params and optimizer state donated,
    as a trainer does), compiled with the given XLA compiler options, never run."""
    paper = load_model("paper", remat=remat)
    batch = jax.eval_shape(lambda: symbolic_batch(paper, b, l_in, l_out, src=src, tgt=tgt))
    params = jax.eval_shape(paper.init, jax.random.key(0))
    opt, step = train_step_fn(paper, modalities=(tgt,))
    state = jax.eval_shape(opt.init, params)
    lowered = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, batch)
    return lowered.compile(compiler_options=scheduler or {}).memory_analysis(), paper.num_params()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smoke run: short lengths, no memory")
    parser.add_argument("--no-hf", action="store_true", help="skip the HuggingFace T5 baseline")
    parser.add_argument("--train-repeat", type=int, default=2, help="timed training steps")
    parser.add_argument(
        "--sections", default="abcde", help="which parts to run, e.g. 'e' for the HF comparison"
    )
    args = parser.parse_args()
    quick = args.quick
    # A small-config step takes about a minute on a shared 2-core machine: one warm-up, then
    # the best of `train_repeat` timed steps.
    train_repeat = args.train_repeat
    vocab = VocabularyLayout()  # the default layout, which the model gin files use too
    vocab_size = vocab.vocab_size
    print(f"devices: {jax.devices()}; load average {os.getloadavg()}")
    # Both models run in this process, so both get the same malloc (see hostmalloc).
    print(
        f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')!r} "
        "(MT3U_MALLOC=system: glibc's defaults)"
    )
    k_max = max(vocab.num_codebooks(m) for m in MODALITIES)
    print(f"unified vocabulary: {vocab_size} ids, K = {k_max}")
    peak = matmul_flops(2048 if quick else 4096)
    print(f"[baseline] jnp.matmul f32 {2048 if quick else 4096}^2: {peak / 1e9:.1f} GFLOP/s")

    # (a) training-step throughput of the small config against the matmul ceiling.
    b, l_in, l_out = (2, 128, 64) if quick else (8, 512, 256)
    if "a" in args.sections:
        small = load_model("small")
        batch = symbolic_batch(small, b, l_in, l_out, src="midi", tgt="lmx")
        # The task's target modality, static, as a trainer of one task passes it.
        xla_flops, sec = bench_train(small, batch, ("lmx",), repeat=train_repeat)
        columns = output_columns(small, "lmx")
        useful = model_flops(small.config, columns, b, l_in, l_out)
        print(
            f"(a) small train step (b{b}, midi->lmx {l_in}->{l_out}, f32, no remat): {sec:.2f} s\n"
            f"    analytic model FLOPs {useful / 1e9:.0f} G (6*matmul params*tokens + attention, "
            f"1 depth slot, {columns[0]} output ids): {useful / sec / 1e9:.1f} GFLOP/s = "
            f"{useful / sec / peak:.2f} of matmul\n"
            f"    XLA cost analysis {xla_flops / 1e9:.0f} G: "
            f"{xla_flops / sec / 1e9:.1f} GFLOP/s = {xla_flops / sec / peak:.2f} of matmul"
        )

    # (b) cached greedy decoding against recomputing the prefix (tiny config, batch 8).
    tiny = no_eos(load_model("tiny", max_target_len=1024))
    params = tiny.init(jax.random.key(0))
    if "b" in args.sections:
        for length in (32, 64) if quick else (256, 1024):
            batch = symbolic_batch(tiny, 8, 256, length, src="lmx", tgt="midi")
            cached = best_time(lambda: tiny.predict_batch(params, batch, max_length=length), 1)  # noqa: B023
            run = uncached_greedy_fn(tiny, length, tiny.decoding_window(batch["target_modality"]))
            full = best_time(lambda: run(params, batch), 1)  # noqa: B023
            print(
                f"(b) tiny greedy b8 lmx->midi L={length}: cached {cached:.2f} s "
                f"({8 * length / cached:.0f} tokens/s), full-prefix {full:.2f} s -> "
                f"cache speedup {full / cached:.1f}x "
                f"(vs a prefix-exact baseline ~{full / cached / 2:.1f}x)"
            )

    # (c) audio frames per second through the depth decoder (tiny config).
    if "c" in args.sections:
        length = 32 if quick else 256
        batch = symbolic_batch(tiny, 8, 256, length, src="midi", tgt="audio")
        sec = best_time(lambda: tiny.predict_batch(params, batch, max_length=length), 1)
        print(
            f"(c) tiny midi->audio b8, {length} frames x K=4 codes (depth decoder): "
            f"{8 * length / sec:.0f} frames/s"
        )

    # (e) against HuggingFace T5 at the same dimensions, timed in this run.
    if "e" in args.sections:
        new_tokens = 32 if quick else 256
        ours = UnifiedModel(hf_matched_config(), vocab)
        print(
            f"(e) our model at HF dims {HF_DIMS}: {ours.num_params() / 1e6:.1f} M params "
            f"(vocabulary {vocab_size}, both models)"
        )
        batch = symbolic_batch(ours, b, l_in, l_out, src="midi", tgt="lmx")
        steps = {"ours": compiled_train_step(ours, batch, ("lmx",))[1]}
        if not args.no_hf:
            import hf_t5_baseline as hf
            import torch

            steps["hf"] = hf.train_step_fn(vocab_size, b, l_in, l_out, **HF_DIMS)
        # The two steps take turns, so that both see the same spells of load,
        # after two untimed rounds each: sharing one heap, the two frameworks'
        # step buffers settle in the retaining malloc only over the first few
        # steps (BENCHMARKS.md has the rounds). A training run lives in the
        # steady state.
        step_seconds = timing.best_times_interleaved(steps, train_repeat, warmup_rounds=2)
        our_step = step_seconds["ours"]
        dec_model = no_eos(UnifiedModel(hf_matched_config(), vocab))
        dec_params = dec_model.init(jax.random.key(0))
        batch = symbolic_batch(dec_model, 8, l_in, new_tokens, src="midi", tgt="lmx")
        our_dec = best_time(
            lambda: dec_model.predict_batch(dec_params, batch, max_length=new_tokens), 2
        )
        our_tps = 8 * new_tokens / our_dec
        print(f"    ours: train step {our_step:.2f} s; cached greedy b8 {our_tps:.0f} tokens/s")
        if not args.no_hf:
            hf_step = step_seconds["hf"]
            hf_dec = hf.generate_seconds(vocab_size, 8, l_in, new_tokens, repeat=2, **HF_DIMS)
            hf_tps = 8 * new_tokens / hf_dec
            print(
                f"    HF T5 (torch {torch.__version__}, {torch.get_num_threads()} threads): "
                f"train step {hf_step:.2f} s; generate b8 {hf_tps:.0f} tokens/s"
            )
            print(
                f"    ratio train step HF/ours = {hf_step / our_step:.2f} (>= 1: ours no slower); "
                f"decoding ours/HF = {our_tps / hf_tps:.2f} (>= 1: ours at least as fast)"
            )

    # (d) peak memory of one paper-config training step, compiled, not run.
    if not quick and "d" in args.sections:
        for scheduler in (None, MEMORY_SCHEDULER):
            for remat in (False, True):
                mem, n = memory_report(remat, scheduler)
                total = (
                    mem.temp_size_in_bytes
                    + mem.argument_size_in_bytes
                    + mem.output_size_in_bytes
                    - mem.alias_size_in_bytes
                )
                print(
                    f"(d) paper ({n / 1e6:.0f} M params) train step b1 midi 1400 -> audio 1750 "
                    f"(K=4), XLA CPU scheduler {'memory' if scheduler else 'default'}, "
                    f"remat={remat}: temp {mem.temp_size_in_bytes / 2**30:.2f} GiB, "
                    f"args {mem.argument_size_in_bytes / 2**30:.2f} GiB, "
                    f"out {mem.output_size_in_bytes / 2**30:.2f} GiB "
                    f"(aliased {mem.alias_size_in_bytes / 2**30:.2f}), "
                    f"peak {total / 2**30:.2f} GiB"
                )
    peak2 = matmul_flops(2048 if quick else 4096)
    print(
        f"[baseline again] jnp.matmul: {peak2 / 1e9:.1f} GFLOP/s "
        f"(drift {peak2 / peak:.2f}x); load average {os.getloadavg()}"
    )


if __name__ == "__main__":
    reexec_with_retaining_malloc()
    main()
