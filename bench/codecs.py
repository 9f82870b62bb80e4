"""Codec speed: audio encode/decode as a multiple of real time, image systems per second.

Each figure comes with a baseline measured in the same run, so that numbers from a
busy or a different machine can be compared: the f32 matmul FLOP/s ceiling (the
codec's achieved FLOP/s, from XLA's cost analysis, as a fraction of it) and, for
audio, librosa's mel spectrogram of the same audio (codec speed / mel speed).

    python bench/codecs.py                         # tiny and paper configs
    python bench/codecs.py --tiny                  # tiny only (a minute on two cores)
    python bench/codecs.py --only image --paper    # the paper image codec (416 px)
    python bench/codecs.py --demo                  # the demo's audio codec, conv against
                                                   # spectral (gin/codecs/audio_demo*.gin)

Each function is compiled once ahead of time: the same executable is timed and
gives XLA's FLOP count (compiling twice made the paper configs time out on CPU).
"""

from __future__ import annotations

import argparse
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mt3_unified.codecs.audio import AudioCodec, AudioCodecConfig
from mt3_unified.codecs.host_encoders import apply_decode, apply_encode
from mt3_unified.codecs.rqvae import RQVAE, RQVAEConfig
from mt3_unified.codecs.rvq import RVQConfig, prng_key

# Run as a script (python bench/codecs.py): the shared timing helper sits beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import best_time  # noqa: E402

TINY_AUDIO = AudioCodecConfig(
    sample_rate=16000, strides=(2, 4, 8), encoder_dim=8, decoder_dim=64, latent_dim=32,
    dilations=(1, 3), rvq=RVQConfig(num_codebooks=4, codebook_size=32, code_dim=8,
                                    l2_normalize=True, learning="loss"),
)  # fmt: skip
PAPER_AUDIO = AudioCodecConfig()
TINY_IMAGE = RQVAEConfig(
    channels=(8, 16, 32, 64), res_blocks=1, latent_dim=32, height=48,
    rvq=RVQConfig(num_codebooks=4, codebook_size=64),
)  # fmt: skip
PAPER_IMAGE = RQVAEConfig()


def compiled(fn, *args) -> tuple[object, float]:
    """(executable, FLOPs per call from XLA's cost analysis) of a jitted fn for these args."""
    executable = fn.lower(*args).compile()
    cost = executable.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return executable, float(cost.get("flops", 0.0))


def timed(fn, *args, repeats: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeats`` runs after one warm-up run."""
    out = jax.block_until_ready(fn(*args))
    best, _ = best_time(lambda: jax.block_until_ready(fn(*args)), repeats)
    return best, out


def gin_codec(path: str):
    """The codec config that a gin file of gin/codecs/ binds to CODEC."""
    import gin

    from mt3_unified.codecs.train import configured_codec

    gin.clear_config()
    gin.parse_config_files_and_bindings([path], [])
    return configured_codec()


def matmul_ceiling(n: int = 2048) -> float:
    """f32 FLOP/s of one n x n matmul with XLA."""
    a = jnp.ones((n, n), jnp.float32)
    seconds, _ = timed(jax.jit(jnp.matmul), a, a)
    return 2 * n**3 / seconds


def time_round_trip(model, variables, inputs, repeats: int):
    """(encode seconds, encode FLOPs, decode seconds, decode FLOPs) of a codec's
    `encode` and `decode` methods, each compiled once (the functions the host-side encoders run)."""
    encode, enc_flops = compiled(apply_encode, model, variables, inputs)
    enc_s, codes = timed(encode, variables, inputs, repeats=repeats)
    decode, dec_flops = compiled(apply_decode, model, variables, codes)
    dec_s, _ = timed(decode, variables, codes, repeats=repeats)
    return enc_s, enc_flops, dec_s, dec_flops


def measure_codec(model, inputs, init_inputs, ceiling: float, repeats: int):
    """(parameter count, [(what, seconds, FLOPs, fraction of the matmul ceiling)]) of a
    codec's encode and decode on ``inputs``; its variables are initialized on ``init_inputs``."""
    variables = nn.meta.unbox(jax.jit(model.init)(prng_key(0), jnp.asarray(init_inputs)))
    enc_s, enc_flops, dec_s, dec_flops = time_round_trip(model, variables, inputs, repeats)
    params = sum(x.size for x in jax.tree.leaves(variables["params"]))
    timings = (("encode", enc_s, enc_flops), ("decode", dec_s, dec_flops))
    return params, [(what, secs, flops, flops / secs / ceiling) for what, secs, flops in timings]


def bench_audio(
    name: str, config: AudioCodecConfig, seconds: float, ceiling: float, repeats: int = 3
) -> None:
    import librosa

    model = AudioCodec(config)
    rate = config.sample_rate
    audio = (0.1 * np.random.default_rng(0).standard_normal((1, int(seconds * rate)))).astype(
        np.float32
    )
    params, rows = measure_codec(model, audio, audio[:, :4096], ceiling, repeats)
    # The first call warms librosa's caches; keep the best like `timed`.
    mel_s, _ = best_time(
        lambda: librosa.feature.melspectrogram(y=audio[0], sr=rate, n_fft=2048, hop_length=512),
        4,
    )
    for what, secs, _, util in rows:
        print(
            f"audio {name:13s} {what}: {seconds / secs:8.1f}x real time "
            f"({params / 1e6:.2f}M params, {seconds:.0f} s at {rate} Hz, hop {config.hop}); "
            f"{mel_s / secs:.3f}x librosa mel speed; {util:.3f} of matmul ceiling"
        )


def bench_image(
    name: str, config: RQVAEConfig, width: int, ceiling: float, batch: int, repeats: int = 3
) -> None:
    model = RQVAE(config)
    images = np.random.default_rng(0).random((batch, config.height, width), np.float32)
    params, rows = measure_codec(model, images, images[:1, :, :64], ceiling, repeats)
    for what, secs, flops, util in rows:
        print(
            f"image {name:5s} {what}: {batch / secs:8.2f} systems/s "
            f"({params / 1e6:.2f}M params, {config.height}x{width} px, batch {batch}, "
            f"{flops / batch / 1e9:.1f} GFLOP/system); {util:.3f} of matmul ceiling"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs only")
    parser.add_argument("--paper", action="store_true", help="paper configs only")
    parser.add_argument(
        "--demo", action="store_true", help="the demo's audio codecs only: conv and spectral"
    )
    parser.add_argument("--only", choices=["audio", "image"], help="one codec only")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (tiny configs)")
    parser.add_argument(
        "--paper-repeats", type=int, default=1, help="timed runs of the paper configs"
    )
    args = parser.parse_args()
    print(f"{jax.devices()[0].platform}: matmul ceiling {matmul_ceiling() / 1e9:.1f} GFLOP/s")
    audio, image = args.only in (None, "audio"), args.only in (None, "image")
    runs = []
    if args.demo:
        for name in ("demo", "demo_spectral"):
            config = gin_codec(f"gin/codecs/audio_{name}.gin")
            runs.append((bench_audio, (name, config, 10.0), {"repeats": args.repeats}))
    elif not args.paper:
        if audio:
            runs.append((bench_audio, ("tiny", TINY_AUDIO, 10.0), {"repeats": args.repeats}))
        if image:
            runs.append(
                (bench_image, ("tiny", TINY_IMAGE, 480), {"batch": 8, "repeats": args.repeats})
            )
    if not args.tiny and not args.demo:
        if audio:
            runs.append((bench_audio, ("paper", PAPER_AUDIO, 2.0), {"repeats": args.paper_repeats}))
        if image:
            # A 416 px system is ~1664 px wide at the paper's staff height; one at a time.
            runs.append(
                (
                    bench_image,
                    ("paper", PAPER_IMAGE, 1664),
                    {"batch": 1, "repeats": args.paper_repeats},
                )
            )
    for fn, positional, keywords in runs:
        # On a shared machine the ceiling moves: measure it again next to each codec.
        ceiling = matmul_ceiling()
        print(f"  (matmul ceiling now {ceiling / 1e9:.1f} GFLOP/s, f32 2048^2)")
        name, config, size = positional
        fn(name, config, size, ceiling, **keywords)


if __name__ == "__main__":
    main()
