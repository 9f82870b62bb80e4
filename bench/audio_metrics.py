"""The codec report's audio metrics per signal: `host_audio_distances` (jitted) against the
same metrics run op by op (how the report computed them before), on signals of distinct
lengths as a corpus's systems come, each length new to both.

    python bench/audio_metrics.py [--signals 6] [--seconds 5] [--paper]

The demo's audio codec's metrics by default (16 kHz, mel scales 64/256/1024, as
gin/codecs/audio_demo.gin trains it); --paper: AudioCodecConfig's own (44.1 kHz, 7 scales).

Prints seconds a signal for each path and their ratio (op by op / jitted); both are timed
in the same run, so the ratio holds on a busy machine where the seconds do not.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mt3_unified.codecs.audio import (  # noqa: E402
    AudioCodecConfig,
    host_audio_distances,
    mel_distance,
    si_snr,
)


def op_by_op(estimate: np.ndarray, reference: np.ndarray, config) -> tuple[float, float]:
    import jax.numpy as jnp

    pair = jnp.asarray(estimate[None]), jnp.asarray(reference[None])
    return float(mel_distance(*pair, config)), float(si_snr(*pair)[0])


def seconds_per_signal(metrics, signals, config) -> float:
    begin = time.perf_counter()
    for estimate, reference in signals:
        metrics(estimate, reference, config)
    return (time.perf_counter() - begin) / len(signals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--paper", action="store_true", help="44.1 kHz and 7 mel scales")
    args = parser.parse_args()
    config = AudioCodecConfig()
    if not args.paper:
        config = AudioCodecConfig(sample_rate=16000, mel_scales=((64, 10), (256, 40), (1024, 80)))
    rng = np.random.default_rng(0)
    base = int(args.seconds * config.sample_rate)

    def signals(offset: int):  # distinct lengths, and distinct from the other path's
        lengths = [base + 997 * (2 * i + offset) for i in range(args.signals)]
        return [rng.normal(0, 0.1, (2, n)).astype(np.float32) for n in lengths]

    jitted = seconds_per_signal(host_audio_distances, signals(0), config)
    eager = seconds_per_signal(op_by_op, signals(1), config)
    print(f"{args.signals} signals of ~{args.seconds:g} s at {config.sample_rate} Hz, "
          f"mel scales {config.mel_scales}")  # fmt: skip
    print(f"  op by op (before): {eager:.3f} s a signal")
    print(f"  host_audio_distances: {jitted:.3f} s a signal")
    print(f"  ratio (op by op / jitted): {eager / jitted:.1f}x")


if __name__ == "__main__":
    main()
