"""A randomly initialized DAC (descript-audio-codec's own model) converts into the Flax
codec with equal codes, and latents, quantized latents and audio within 1e-5 (measured
<= 1e-6 on CPU); its weights file converts into a workdir that `load_code_encoder` loads.

Needs the optional PyTorch and `descript-audio-codec` (see dac_convert.py); skipped without,
unless MT3U_REQUIRE_DAC is set (launch/test.sh installs both and sets it): then a failure.
"""

import importlib
import os
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest


def _import_or_skip(name: str):
    """The module, or a skip where it is missing (an ImportError where it is required)."""
    if os.environ.get("MT3U_REQUIRE_DAC"):
        return importlib.import_module(name)
    return pytest.importorskip(name)


torch = _import_or_skip("torch")
# DAC builds its convs with torch.nn.utils.weight_norm, which PyTorch deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm`:FutureWarning")


def _import_dac():
    """``import dac``, with a stand-in for a torchaudio that cannot load.

    dac imports audiotools, which imports torchaudio at module level for file I/O and
    effects that the model never calls; PyPI's torchaudio wheels are CUDA builds, which
    cannot load beside PyTorch's CPU build.
    """
    try:
        import torchaudio  # noqa: F401
    except Exception:
        for name in [m for m in sys.modules if m.split(".")[0] == "torchaudio"]:
            del sys.modules[name]
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
        try:
            return _import_or_skip("dac")
        finally:
            del sys.modules["torchaudio"]
    return _import_or_skip("dac")


dac = _import_dac()

from mt3_unified.codecs.audio import AudioCodec  # noqa: E402
from mt3_unified.codecs.dac_convert import (  # noqa: E402
    DACConversionError,
    convert_dac,
    dac_config,
    dac_kwargs,
    main,
)
from mt3_unified.codecs.loading import load_code_encoder  # noqa: E402

TOLERANCE = 1e-5  # max abs difference of latents and audio (measured <= 1e-6)
LENGTH = 16384  # a multiple of the hop (64), and one AudioCodeEncoder bucket: no padding


@pytest.fixture(scope="module")
def dac_model():
    """A small random DAC, its Snake alphas and biases random too (DAC starts them at 1 and 0)."""
    torch.manual_seed(0)
    model = dac.model.DAC(
        encoder_dim=4, encoder_rates=[2, 4, 8], latent_dim=16, decoder_dim=32,
        decoder_rates=[8, 4, 2], n_codebooks=5, codebook_size=64, codebook_dim=4,
        sample_rate=16000,
    )  # fmt: skip
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("alpha"):
                param.uniform_(0.5, 2.0)
            elif name.endswith("bias"):
                param.normal_(0.0, 0.1)
    return model.eval()


@pytest.fixture(scope="module")
def audio():
    return np.random.default_rng(0).uniform(-0.5, 0.5, (2, LENGTH)).astype(np.float32)


@pytest.fixture(scope="module")
def dac_outputs(dac_model, audio):
    """DAC's latents [B, T, D], quantized latents, codes [B, T, K], losses and audio [B, T]."""
    with torch.no_grad():
        latents = dac_model.encoder(torch.from_numpy(audio)[:, None])
        quantized, codes, _, commitment, codebook = dac_model.quantizer(latents)
        decoded = dac_model.decoder(dac_model.quantizer.from_codes(codes)[0])
    return {
        "latents": latents.numpy().transpose(0, 2, 1),
        "quantized": quantized.numpy().transpose(0, 2, 1),
        "codes": codes.numpy().transpose(0, 2, 1),
        "commitment": float(commitment),
        "codebook": float(codebook),
        "audio": decoded.numpy()[:, 0],
        "codes_torch": codes,
    }


def test_a_converted_dac_gives_dacs_codes_and_its_outputs_within_tolerance(
    dac_model, audio, dac_outputs
):
    config, variables = convert_dac(dac_model)
    assert config.dac_compatible and config.hop == 64 and config.rvq.num_codebooks == 5
    model = AudioCodec(config)

    @jax.jit
    def run(variables, audio):
        latents = model.apply(variables, audio, method=AudioCodec._latents)
        quantized, codes, aux = model.apply(variables, latents, method=lambda m, z: m.quantizer(z))
        decoded = model.apply(variables, codes, method=AudioCodec.decode)
        recon, _, _ = model.apply(variables, audio)
        return latents, quantized, codes, aux, decoded, recon

    latents, quantized, codes, aux, decoded, recon = run(variables, jnp.asarray(audio))
    np.testing.assert_array_equal(np.asarray(codes), dac_outputs["codes"])  # every codebook
    np.testing.assert_allclose(latents, dac_outputs["latents"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(quantized, dac_outputs["quantized"], rtol=0, atol=10 * TOLERANCE)
    np.testing.assert_allclose(decoded, dac_outputs["audio"], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(recon, dac_outputs["audio"], rtol=0, atol=TOLERANCE)
    assert np.abs(dac_outputs["audio"]).max() > 0.1  # not a trivially silent decoder
    np.testing.assert_allclose(aux["commitment_loss"], dac_outputs["commitment"], rtol=1e-4)
    np.testing.assert_allclose(aux["codebook_loss"], dac_outputs["codebook"], rtol=1e-4)


def test_a_dac_weights_file_converts_into_a_workdir_that_load_code_encoder_loads(
    dac_model, audio, dac_outputs, tmp_path
):
    weights = str(tmp_path / "weights.pth")
    dac_model.save(weights, package=False)  # DAC's own weights format
    workdir = str(tmp_path / "codec")
    config = main([weights, workdir])  # python -m mt3_unified.codecs.dac_convert
    assert config.rvq.num_codebooks == 4  # the vocabulary's default, DAC's first 4 of 5

    encoder = load_code_encoder(workdir)
    assert encoder.source == {"workdir": workdir, "step": 0}
    for example in range(2):
        codes = encoder(audio[example])
        np.testing.assert_array_equal(codes, dac_outputs["codes"][example, :, :4])
    with torch.no_grad():
        first_four = dac_outputs["codes_torch"][:1, :4]
        expected = dac_model.decoder(dac_model.quantizer.from_codes(first_four)[0])
    decoded = encoder.decode(dac_outputs["codes"][0, :, :4])
    np.testing.assert_allclose(decoded, expected.numpy()[0, 0], rtol=0, atol=TOLERANCE)
    with pytest.raises(DACConversionError, match="already holds a checkpoint"):
        main([weights, workdir])


def test_what_the_flax_codec_cannot_hold_is_refused_by_name(dac_model):
    with pytest.raises(DACConversionError, match="odd strides"):
        dac_config(encoder_rates=[2, 5], decoder_rates=[5, 2])
    with pytest.raises(DACConversionError, match="not its encoder rates"):
        dac_config(encoder_rates=[2, 4], decoder_rates=[2, 4])
    state_dict = dict(dac_model.state_dict(), **{"extra.weight": torch.zeros(1)})
    with pytest.raises(DACConversionError, match="no place for: \\['extra.weight'\\]"):
        convert_dac(state_dict, **dac_kwargs(dac_model))
