"""The spectral audio codec: STFT framing, exact inverse STFT, codec shapes and a short training."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mt3_unified.codecs.audio import AudioCodec, AudioCodecConfig
from mt3_unified.codecs.rvq import prng_key
from mt3_unified.codecs.spectral import (
    frame_padding,
    griffin_lim,
    istft,
    spectral_distance,
    stft,
)
from mt3_unified.codecs.train import train_codec
from tests.codecs.test_audio import TINY

SPECTRAL = dataclasses.replace(
    TINY, architecture="spectral", frame_dim=16, frame_layers=2, window=64, spectral_mels=8,
    griffin_lim_iterations=4,
)  # fmt: skip


def test_frame_padding_gives_one_frame_a_hop():
    assert frame_padding(32, 8) == (12, 12)
    assert frame_padding(24, 8) == (8, 8)
    for window in (30, 8):
        with pytest.raises(ValueError, match="not a whole number of hops"):
            frame_padding(window, 8)


def test_stft_frames_are_the_hann_windowed_ffts_of_centred_windows():
    audio = np.random.default_rng(0).normal(size=(1, 64)).astype(np.float32)
    spectrum = np.asarray(stft(jnp.asarray(audio), 32, 8))
    assert spectrum.shape == (1, 8, 17)
    # Frame 3 covers samples 3 * 8 - 12 .. 3 * 8 + 20 (12 zeros of padding on the left).
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(32) / 32)
    expected = np.fft.rfft(audio[0, 12:44] * hann)
    np.testing.assert_allclose(spectrum[0, 3], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("window, hop", [(32, 8), (24, 8), (16, 8)])
def test_istft_inverts_stft(window, hop):
    audio = jnp.asarray(np.random.default_rng(1).normal(size=(2, 96)), jnp.float32)
    np.testing.assert_allclose(istft(stft(audio, window, hop), window, hop), audio, atol=1e-4)


def test_griffin_lim_finds_a_signal_with_the_given_magnitudes_the_same_each_time():
    t = np.arange(2048) / 16000
    audio = jnp.asarray(
        [np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 660 * t + 1.0)], jnp.float32
    )
    magnitude = jnp.abs(stft(audio, 256, 64))
    run = jax.jit(lambda m: griffin_lim(m, 256, 64, 40))
    rebuilt = run(magnitude)
    difference = jnp.abs(stft(rebuilt, 256, 64)) - magnitude
    error = jnp.linalg.norm(difference) / jnp.linalg.norm(magnitude)
    assert rebuilt.shape == audio.shape and float(error) < 0.1
    np.testing.assert_array_equal(rebuilt, run(magnitude))


def test_spectral_distance_is_the_log10_ratio_of_the_mel_energies():
    magnitude = jnp.asarray(np.random.default_rng(2).uniform(0.5, 2.0, (1, 4, 33)), jnp.float32)
    assert float(spectral_distance(magnitude, magnitude, 16000, 8)) == 0.0
    # Ten times every magnitude is ten times every mel band: log10 distance 1.
    assert float(spectral_distance(10 * magnitude, magnitude, 16000, 8)) == pytest.approx(1.0)


def test_config_refuses_an_unknown_architecture_and_a_spectral_dac():
    with pytest.raises(ValueError, match="'wavelet' is not 'conv' or 'spectral'"):
        AudioCodecConfig(architecture="wavelet")
    for flag in ("dac_compatible", "use_discriminator"):
        with pytest.raises(ValueError, match="need architecture='conv'"):
            AudioCodecConfig(architecture="spectral", **{flag: True})
    with pytest.raises(ValueError, match="linear_path needs architecture='spectral'"):
        AudioCodecConfig(linear_path=True)
    assert dataclasses.replace(SPECTRAL, window=0).stft_window == 4 * SPECTRAL.hop == 32
    assert SPECTRAL.stft_window == 64


@pytest.mark.parametrize("length", [101, 1])
def test_spectral_codec_shapes_match_the_conv_codec(length):
    model = AudioCodec(SPECTRAL)
    audio = 0.1 * jax.random.normal(prng_key(1), (2, length))

    @jax.jit
    def run(audio):
        variables = nn.meta.unbox(model.init(prng_key(0), audio))
        codes = model.apply(variables, audio, method=AudioCodec.encode)
        decoded = model.apply(variables, codes, length, method=AudioCodec.decode)
        recon, _, _ = model.apply(variables, audio)
        return variables, codes, decoded, recon

    variables, codes, decoded, recon = run(audio)
    assert codes.shape == (2, -(-length // SPECTRAL.hop), 3) and codes.dtype == jnp.int32
    assert decoded.shape == recon.shape == (2, length)
    # The frame-rate stacks replace the conv codec's: no strided convolutions.
    assert set(variables["params"]["encoder"]) == {"FrameStack_0", "Conv_0"}
    assert set(variables["params"]["decoder"]) == {"stack", "head"}


def test_linear_path_adds_a_linear_map_of_the_log_magnitudes_to_the_stacks():
    audio = 0.1 * jax.random.normal(prng_key(1), (2, 96))
    plain, linear = (
        AudioCodec(SPECTRAL),
        AudioCodec(dataclasses.replace(SPECTRAL, linear_path=True)),
    )
    variables = nn.meta.unbox(linear.init(prng_key(0), audio))
    params = variables["params"]
    # The stacks' parameters are the plain codec's, with a map beside each.
    stacks = {
        "encoder": {k: v for k, v in params["encoder"].items() if k != "linear_path"},
        "decoder": {k: v for k, v in params["decoder"].items() if k != "linear_path"},
        "quantizer": params["quantizer"],
    }
    assert set(params["encoder"]) - set(stacks["encoder"]) == {"linear_path"}
    assert params["decoder"]["linear_path"]["kernel"].shape == (SPECTRAL.latent_dim, 33)
    plain_vars = dict(variables, params=stacks)
    latents = plain.apply(plain_vars, audio, method=lambda m, a: m._latents(a))
    # A map that writes only its bias shifts every latent by that bias, exactly.
    encoder_map = {"kernel": jnp.zeros_like(params["encoder"]["linear_path"]["kernel"]),
                   "bias": jnp.arange(SPECTRAL.latent_dim, dtype=jnp.float32)}  # fmt: skip
    shifted = dict(
        variables, params=dict(params, encoder=dict(params["encoder"], linear_path=encoder_map))
    )
    got = linear.apply(shifted, audio, method=lambda m, a: m._latents(a))
    np.testing.assert_allclose(got, latents + jnp.arange(SPECTRAL.latent_dim), atol=1e-6)
    # A zero map leaves the decoder's magnitudes as the stack writes them.
    decoder_map = jax.tree.map(jnp.zeros_like, params["decoder"]["linear_path"])
    zeroed = dict(
        variables, params=dict(params, decoder=dict(params["decoder"], linear_path=decoder_map))
    )
    z = jnp.ones((2, 3, SPECTRAL.latent_dim))
    magnitude = lambda m, z: m.decoder.magnitude(z)  # noqa: E731
    np.testing.assert_array_equal(
        linear.apply(zeroed, z, method=magnitude), plain.apply(plain_vars, z, method=magnitude)
    )


def test_spectral_codec_learns_a_tone():
    t = np.arange(512) / 16000
    tones = np.stack([0.3 * np.sin(2 * np.pi * f * t) for f in (440.0, 880.0)]).astype(np.float32)

    def batches():
        while True:
            yield tones

    result = train_codec(
        None, config=SPECTRAL, data=(batches(), [tones]), steps=60, learning_rate=3e-3,
        warmup_steps=5, eval_every=0,
    )  # fmt: skip
    first, last = result["first"], result["last"]
    assert last["spectral_distance"] < 0.5 * first["spectral_distance"]
    # Griffin-Lim's audio of the learnt magnitudes is closer to the tones too.
    assert last["mel_distance"] < first["mel_distance"]
