"""Model FLOPs utilization (MFU) of the paper config's bf16 training step on an accelerator.

Run: python bench/model_gpu.py [--variants ...] [--budget-s 330] [--out results.json]

MFU = the step's analytic model FLOPs (bench/model.py `model_flops`: 6 x the
weight-matmul and attention FLOPs of the tokens the task needs, the output
layer over the ids its target may emit, which is all the loss computes; rematerialized
recomputation is not counted, as in PaLM's definition) / seconds per step, with
`--steps` steps dispatched back to back as a training loop runs / the chip's
dense bf16 peak from its datasheet (`--peak-tflops` sets it for a chip the
table lacks). XLA's own cost analysis is no use here: on a GPU it leaves out
the cuBLAS and cuDNN calls (it counted 3.3 of 42.4 TFLOP in one paper step).
The same run times a large bf16 matmul, so each figure is also given as a
fraction of what this chip's matmul reaches today.

Each variant is `task:batch:attention[:remat][:dropout]`, e.g.
`midi_to_audio:8:jax:remat`: attention is a ModelConfig.attention value
("matmul", "jax", "cudnn"); dropout trains with the paper's 0.1 dropout and
a fresh key per step. Variants run in order until `--budget-s` is spent; one
that fails (out of memory, cuDNN refusing a shape) is reported and skipped.
`--check cudnn` first compares that attention's bf16 gradients with the
matmul path's against float32 (small config; six compiles, about 2 min on a
fresh GPU, counted in the budget); `--trace DIR` profiles two steps of the
first variant into a perfetto trace. The model imports neither TensorFlow nor
seqio, so this runs on a GPU host with only JAX, Flax, Optax and gin.
`--quick` runs a tiny config on any device to check the script itself; its
figures mean nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import (  # noqa: E402
    load_model,
    matmul_flops,
    model_flops,
    output_columns,
    symbolic_batch,
    train_step_fn,
)

from mt3_unified.model.config import ATTENTIONS  # noqa: E402

# Dense bf16 peak FLOP/s by device kind, from the vendors' datasheets (no sparsity).
DATASHEET_BF16_PEAK = {
    "H100": 989.4e12,  # SXM; the PCIe card is 756
    "H200": 989.4e12,
    "A100": 312e12,
    "L4": 121e12,
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5p": 459e12,
}
DEFAULT_VARIANTS = (  # the headline first: a short budget still measures it
    "midi_to_audio:8:cudnn",
    "midi_to_audio:16:cudnn",
    "midi_to_audio:8:cudnn:dropout",
    "lmx_to_midi:8:cudnn",
    "midi_to_audio:8:matmul",
)
PAPER_LENGTHS = (1400, 1750)  # the paper's longest input and output (audio frames)


@dataclasses.dataclass(frozen=True)
class Variant:
    task: str
    batch: int
    attention: str
    remat: bool = False
    dropout: bool = False

    @classmethod
    def parse(cls, text: str) -> Variant:
        fields = text.split(":")
        task, batch, attention = (fields + ["", ""])[:3]
        flags = set(fields[3:])
        if (
            "_to_" not in task
            or not batch.isdigit()
            or attention not in ATTENTIONS
            or flags - {"remat", "dropout"}
        ):
            raise SystemExit(
                f"bad variant {text!r}: want task:batch:attention[:remat][:dropout], "
                f"attention one of {ATTENTIONS}"
            )
        return cls(task, int(batch), attention, "remat" in flags, "dropout" in flags)


def datasheet_peak(device) -> float | None:
    kind = device.device_kind
    for name, peak in DATASHEET_BF16_PEAK.items():
        if name.lower() in kind.lower():
            return peak
    return None


def run_variant(
    variant: Variant, size: str, lengths, steps: int, trace_dir: str | None = None
) -> dict:
    """Compile and time one variant (then profile two steps into trace_dir); its figures."""
    src, tgt = variant.task.split("_to_")
    overrides = dict(dtype="bfloat16", remat=variant.remat, attention=variant.attention)
    if not variant.dropout:
        overrides["dropout_rate"] = 0.0
    model = load_model(size, **overrides)
    l_in, l_out = lengths
    batch = jax.device_put(symbolic_batch(model, variant.batch, l_in, l_out, src=src, tgt=tgt))
    columns = output_columns(model, tgt)
    params = model.init(jax.random.key(0))
    opt, step = train_step_fn(model, modalities=(tgt,))
    step = jax.jit(step, donate_argnums=(0, 1))
    state = opt.init(params)
    keys = jax.random.split(jax.random.key(2, impl="rbg"), steps + 2)
    if not variant.dropout:
        keys = [None] * len(keys)  # no key, no dropout
    start = time.perf_counter()
    compiled = step.lower(params, state, batch, keys[0]).compile()
    compile_s = time.perf_counter() - start
    hlo = compiled.as_text()
    for i in range(2):  # warm-up: allocator, autotuning leftovers
        params, state = compiled(params, state, batch, keys[i])
    jax.block_until_ready(params)
    waited = []  # each step waited for: adds the host's launch gap to every step
    for i in range(steps):
        start = time.perf_counter()
        params, state = compiled(params, state, batch, keys[i + 2])
        jax.block_until_ready(params)
        waited.append(time.perf_counter() - start)
    start = time.perf_counter()  # back to back, as a training loop runs: the MFU's time
    for i in range(steps):
        params, state = compiled(params, state, batch, keys[i + 2])
    jax.block_until_ready(params)
    sec = (time.perf_counter() - start) / steps
    if trace_dir:  # a perfetto trace with every kernel's time, for ui.perfetto.dev
        with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
            for key in keys[:2]:
                params, state = compiled(params, state, batch, key)
            jax.block_until_ready(params)
    memory = jax.devices()[0].memory_stats() or {}  # the process's peak so far
    analysis = compiled.memory_analysis()
    return {
        "variant": dataclasses.asdict(variant),
        "lengths": [l_in, l_out],
        "slots": len(columns),
        "output_columns": columns,
        "params": model.num_params(),
        "compile_s": compile_s,
        "step_s": sec,
        "step_s_waited": statistics.median(waited),
        "model_flops": model_flops(model.config, columns, variant.batch, l_in, l_out),
        "cudnn_fused_attention": "cudnn$fmha" in hlo,
        "peak_bytes_in_use": memory.get("peak_bytes_in_use"),
        "temp_bytes": getattr(analysis, "temp_size_in_bytes", None),
        "tokens_per_s": variant.batch * (l_in + l_out) / sec,
    }


def attention_agreement(attention: str) -> dict[str, float]:
    """Relative L2 error of bf16 loss gradients against float32 matmul attention (small
    config; one symbolic and one RVQ batch, worst of the two) for the matmul path and
    `attention`: a fused kernel must be as accurate before its speed means anything."""
    errors = dict.fromkeys(("matmul", attention), 0.0)
    for src, tgt in (("lmx", "midi"), ("midi", "audio")):

        def grads(dtype, impl):
            model = load_model("small", dtype=dtype, attention=impl)
            batch = symbolic_batch(model, 4, 256, 128, src=src, tgt=tgt)  # noqa: B023
            _, g = jax.jit(model.loss_and_grad)(model.init(jax.random.key(0)), batch)
            return jnp.concatenate([x.ravel() for x in jax.tree.leaves(g)])

        ref = grads("float32", "matmul")
        for impl in errors:
            err = float(jnp.linalg.norm(grads("bfloat16", impl) - ref) / jnp.linalg.norm(ref))
            errors[impl] = max(errors[impl], err)
    return errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", nargs="*", default=list(DEFAULT_VARIANTS))
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant (median)")
    parser.add_argument("--budget-s", type=float, default=330, help="start no variant after this")
    parser.add_argument("--peak-tflops", type=float, help="dense bf16 peak, for chips not listed")
    parser.add_argument("--out", help="write every figure as JSON here")
    parser.add_argument("--trace", help="profile two steps of the first variant into this folder")
    parser.add_argument(
        "--check", default="", help="first compare this attention's gradients with matmul's"
    )
    parser.add_argument("--quick", action="store_true", help="tiny config: checks the script only")
    args = parser.parse_args()
    variants = [Variant.parse(text) for text in args.variants]  # refuse a typo before compiling
    began = time.perf_counter()
    device = jax.devices()[0]
    print(
        f"device: {device.device_kind} ({device.platform}), jax {jax.__version__}, "
        f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}",
        flush=True,
    )
    size, lengths = ("tiny", (32, 16)) if args.quick else ("paper", PAPER_LENGTHS)
    ceiling = matmul_flops(512 if args.quick else 8192, jnp.bfloat16, 3 if args.quick else 20)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else datasheet_peak(device)
    peak_text = f"{peak / 1e12:.1f} TFLOP/s" if peak else "unknown (give --peak-tflops)"
    print(f"bf16 matmul here: {ceiling / 1e12:.1f} TFLOP/s; datasheet peak {peak_text}", flush=True)
    if args.check:
        errors = attention_agreement(args.check)
        print(
            "bf16 gradients vs float32 matmul attention (small config, rel L2): "
            + ", ".join(f"{impl} {err:.2e}" for impl, err in errors.items())
        )
    results = []
    for text, variant in zip(args.variants, variants, strict=True):
        if time.perf_counter() - began > args.budget_s:
            print(f"{text}: skipped, past the {args.budget_s:.0f} s budget")
            continue
        try:
            steps = 2 if args.quick else args.steps
            trace = args.trace if not results else None
            r = run_variant(variant, size, lengths, steps, trace)
        except Exception as err:  # noqa: BLE001 (report an OOM or a refused shape and go on)
            print(f"{text}: failed: {type(err).__name__}: {str(err)[:300]}", flush=True)
            continue
        achieved = r["model_flops"] / r["step_s"]
        r.update(
            mfu=achieved / peak if peak else None,
            of_matmul=achieved / ceiling,
        )
        results.append(r)
        mfu = f"MFU {r['mfu']:.3f}" if peak else "MFU n/a"
        print(
            f"{text}: {r['step_s'] * 1e3:.1f} ms/step back to back "
            f"({r['step_s_waited'] * 1e3:.1f} waiting on each), "
            f"{achieved / 1e12:.1f} TFLOP/s model = {mfu}, {r['of_matmul']:.3f} of matmul; "
            f"{r['tokens_per_s']:.0f} tokens/s; "
            f"cuDNN fused attention {r['cudnn_fused_attention']}; "
            f"temporaries {(r['temp_bytes'] or 0) / 2**30:.1f} GiB; compile {r['compile_s']:.0f} s",
            flush=True,
        )
    summary = {
        "device": device.device_kind,
        "jax": jax.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "matmul_bf16_flops": ceiling,
        "datasheet_peak": peak,
        "results": results,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1, default=float))
    print(f"total {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
