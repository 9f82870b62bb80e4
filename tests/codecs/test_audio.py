"""Audio codec: shapes for odd lengths, deterministic codes, loss and metric sanity."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.codecs.audio import (
    AudioCodec,
    AudioCodecConfig,
    WaveDiscriminator,
    host_audio_distances,
    log_mel,
    mel_distance,
    si_snr,
    spectral_convergence,
)
from mt3_unified.codecs.inputs import CodecInputError
from mt3_unified.codecs.rvq import RVQConfig, prng_key
from tests.codecs.helpers import assert_fresh_compile_gives_same_codes

TINY = AudioCodecConfig(
    sample_rate=16000, strides=(2, 4), encoder_dim=4, decoder_dim=16, latent_dim=8,
    dilations=(1,), mel_scales=((64, 10), (256, 20)),
    rvq=RVQConfig(
        num_codebooks=3, codebook_size=16, code_dim=4, l2_normalize=True, learning="loss"
    ),
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def _model_and_variables():
    import flax.linen as nn

    # Jitted: run op by op, the convolutions' many small compilations take minutes.
    model = AudioCodec(TINY)
    return model, nn.meta.unbox(jax.jit(model.init)(prng_key(0), jnp.zeros((1, 64))))


@functools.cache
def _round_trip(length: int):
    """One compiled function per length: encode, decode (all and one codebook), reconstruct."""
    model = AudioCodec(TINY)

    def run(variables, audio):
        codes = model.apply(variables, audio, method=AudioCodec.encode)
        decoded = model.apply(variables, codes, length, method=AudioCodec.decode)
        # Fewer codebooks than trained (what quantizer dropout is for) still decode.
        first = model.apply(variables, codes[..., :1], method=AudioCodec.decode)
        recon, _, _ = model.apply(variables, audio)
        return codes, decoded, first, recon

    return jax.jit(run)


@pytest.mark.parametrize("length", [101, 1])
def test_encode_decode_shapes_for_odd_lengths(length):
    _, variables = _model_and_variables()
    audio = 0.1 * jax.random.normal(prng_key(1), (2, length))
    codes, decoded, first, recon = _round_trip(length)(variables, audio)
    assert codes.shape == (2, -(-length // TINY.hop), 3) and codes.dtype == jnp.int32
    assert decoded.shape == recon.shape == (2, length)
    assert first.shape == (2, codes.shape[1] * TINY.hop)


def test_same_input_and_params_give_same_codes():
    model, variables = _model_and_variables()
    audio = 0.1 * jax.random.normal(prng_key(2), (2, 101))
    codes = _round_trip(101)(variables, audio)[0]
    assert_fresh_compile_gives_same_codes(model, variables, audio, codes)


def test_empty_audio_is_refused():
    model, variables = _model_and_variables()
    with pytest.raises(CodecInputError, match="no samples"):
        model.apply(variables, jnp.zeros((1, 0)), method=AudioCodec.encode)


def test_metrics_are_zero_distance_and_high_snr_for_identical_audio():
    t = np.arange(4000) / 16000
    tone = jnp.asarray(np.sin(2 * np.pi * 440 * t)[None], jnp.float32)
    noise = jnp.asarray(np.sin(2 * np.pi * 1234.5 * t)[None], jnp.float32)

    @jax.jit
    def metrics(tone, noise):
        # SI-SNR ignores scale; adding an orthogonal signal of equal power gives ~0 dB.
        snrs = [si_snr(tone, tone)[0], si_snr(3.0 * tone, tone)[0], si_snr(tone + noise, tone)[0]]
        return mel_distance(tone, tone, TINY), jnp.stack(snrs), log_mel(tone, 16000, 256, 20)

    distance, snrs, mel = metrics(tone, noise)
    assert float(distance) == 0.0
    assert snrs[0] > 60.0 and snrs[1] > 60.0
    np.testing.assert_allclose(snrs[2], 0.0, atol=0.2)
    assert mel.shape == (1, 4000 // 64 + 1, 20)


def test_host_distances_are_the_metrics_of_one_signal_whatever_its_length():
    t = np.arange(4000) / 16000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    noise = np.sin(2 * np.pi * 1234.5 * t).astype(np.float32)
    mel, snr = host_audio_distances(tone + noise, tone, TINY)
    assert mel == pytest.approx(
        float(mel_distance((tone + noise)[None], tone[None], TINY)), rel=1e-5
    )
    assert snr == pytest.approx(float(si_snr((tone + noise)[None], tone[None])[0]), abs=1e-4)
    assert abs(snr) < 0.2  # an orthogonal signal of equal power: ~0 dB
    same_mel, same_snr = host_audio_distances(tone[:3001], tone[:3001], TINY)  # another length
    assert same_mel == pytest.approx(0.0, abs=1e-6) and same_snr > 60.0


def test_spectral_convergence_is_zero_for_the_original_and_one_for_silence():
    t = np.arange(4000) / 16000
    tone = jnp.asarray(np.sin(2 * np.pi * 440 * t)[None], jnp.float32)
    twice = jax.jit(lambda a, b: spectral_convergence(a, b, TINY))
    assert float(twice(tone, tone)) == 0.0
    assert float(twice(jnp.zeros_like(tone), tone)) == pytest.approx(1.0, abs=1e-6)
    # Twice the original's level is its own magnitude away from it at every scale.
    assert float(twice(2.0 * tone, tone)) == pytest.approx(1.0, abs=1e-5)


def test_discriminator_gives_logits_and_features_per_scale():
    disc = WaveDiscriminator(scales=2, channels=2)
    audio = jnp.zeros((2, 512))
    outputs = jax.jit(lambda a: disc.apply(disc.init(prng_key(0), a), a))(audio)
    assert len(outputs) == 2 and all(len(features) == 3 for _, features in outputs)
