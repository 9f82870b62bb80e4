"""Codec speed: audio encode/decode as a multiple of real time, image systems per second.

Each figure comes with a baseline measured in the same run, so that numbers from a
busy or a different machine can be compared: the f32 matmul FLOP/s ceiling (the
codec's achieved FLOP/s, from XLA's cost analysis, as a fraction of it) and, for
audio, librosa's mel spectrogram of the same audio (codec speed / mel speed).

    python bench/codecs.py            # tiny and paper configs
    python bench/codecs.py --tiny     # tiny only (a minute on two cores)
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


def timed(fn, *args, repeats: int = 3) -> tuple[float, object]:
    """Best wall time of ``repeats`` runs after one warm-up (compile) run."""
    out = jax.block_until_ready(fn(*args))
    best, _ = best_time(lambda: jax.block_until_ready(fn(*args)), repeats)
    return best, out


def flops_of(fn, *args) -> float:
    cost = fn.lower(*args).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return float(cost.get("flops", 0.0))


def matmul_ceiling(n: int = 2048) -> float:
    """f32 FLOP/s of one n x n matmul with XLA."""
    a = jnp.ones((n, n), jnp.float32)
    seconds, _ = timed(jax.jit(jnp.matmul), a, a)
    return 2 * n**3 / seconds


def bench_audio(name: str, config: AudioCodecConfig, seconds: float, ceiling: float) -> None:
    import librosa

    model = AudioCodec(config)
    rate = config.sample_rate
    audio = (0.1 * np.random.default_rng(0).standard_normal((1, int(seconds * rate)))).astype(
        np.float32
    )
    variables = nn.meta.unbox(jax.jit(model.init)(prng_key(0), jnp.asarray(audio[:, :4096])))
    encode = jax.jit(lambda v, x: model.apply(v, x, method=AudioCodec.encode))
    decode = jax.jit(lambda v, c: model.apply(v, c, method=AudioCodec.decode))
    enc_s, codes = timed(encode, variables, audio)
    dec_s, _ = timed(decode, variables, codes)
    # The first call warms librosa's caches; keep the best like `timed`.
    mel_s, _ = best_time(
        lambda: librosa.feature.melspectrogram(y=audio[0], sr=rate, n_fft=2048, hop_length=512),
        4,
    )
    params = sum(x.size for x in jax.tree.leaves(variables["params"]))
    for what, secs, fn, arg in (("encode", enc_s, encode, audio), ("decode", dec_s, decode, codes)):
        util = flops_of(fn, variables, arg) / secs / ceiling
        print(
            f"audio {name:5s} {what}: {seconds / secs:8.1f}x real time "
            f"({params / 1e6:.2f}M params, {seconds:.0f} s at {rate} Hz, hop {config.hop}); "
            f"{mel_s / secs:.3f}x librosa mel speed; {util:.3f} of matmul ceiling"
        )


def bench_image(name: str, config: RQVAEConfig, width: int, ceiling: float, batch: int) -> None:
    model = RQVAE(config)
    images = np.random.default_rng(0).random((batch, config.height, width), np.float32)
    variables = nn.meta.unbox(jax.jit(model.init)(prng_key(0), jnp.asarray(images[:1, :, :64])))
    encode = jax.jit(lambda v, x: model.apply(v, x, method=RQVAE.encode))
    decode = jax.jit(lambda v, c: model.apply(v, c, method=RQVAE.decode))
    enc_s, codes = timed(encode, variables, images)
    dec_s, _ = timed(decode, variables, codes)
    params = sum(x.size for x in jax.tree.leaves(variables["params"]))
    for what, secs, fn, arg in (
        ("encode", enc_s, encode, images),
        ("decode", dec_s, decode, codes),
    ):
        util = flops_of(fn, variables, arg) / secs / ceiling
        print(
            f"image {name:5s} {what}: {batch / secs:8.2f} systems/s "
            f"({params / 1e6:.2f}M params, {config.height}x{width} px, batch {batch}); "
            f"{util:.3f} of matmul ceiling"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs only")
    args = parser.parse_args()
    ceiling = matmul_ceiling()
    print(f"{jax.devices()[0].platform}: matmul ceiling {ceiling / 1e9:.1f} GFLOP/s (f32, 2048^2)")
    bench_audio("tiny", TINY_AUDIO, 10.0, ceiling)
    bench_image("tiny", TINY_IMAGE, 480, ceiling, batch=8)
    if not args.tiny:
        bench_audio("paper", PAPER_AUDIO, 2.0, ceiling)
        bench_image("paper", PAPER_IMAGE, 1664, ceiling, batch=1)


if __name__ == "__main__":
    main()
