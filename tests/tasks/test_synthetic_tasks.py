"""The synthetic corpus's tasks end to end: TFDS symbolic pairs, and (slow) every pair baked."""

from __future__ import annotations

import dataclasses

import gin
import numpy as np
import pytest
from note_seq.protobuf import music_pb2

from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
from mt3_unified.tasks import postprocess
from mt3_unified.tasks.registry import get_task_or_mixture, task_name
from mt3_unified.tasks.synthetic import PAPER_PAIRS
from mt3_unified.vocab import midi_events
from mt3_unified.vocab.unified import unified_vocabulary
from tests.corpus.conftest import needs_fluidsynth
from tests.tasks.conftest import gin_bindings

pytestmark = needs_fluidsynth
SYMBOLIC_LENGTHS = {"inputs": 1024, "targets": 1024}


@pytest.mark.parametrize("pair", [("lmx", "midi"), ("midi", "lmx")])
def test_symbolic_tasks_read_the_tfds_corpus_end_to_end(tiny_gin, pair):
    from mt3_unified.codecs.data import load_corpus

    vocab = unified_vocabulary()
    task = get_task_or_mixture(task_name("synthetic_tiny", *pair, "eval"))
    examples = list(
        task.get_dataset(SYMBOLIC_LENGTHS, split="validation", shuffle=False).as_numpy_iterator()
    )
    corpus = list(load_corpus("synthetic_scores/tiny", "validation", str(tiny_gin)))
    assert len(examples) == len(corpus) == 3  # one example a system, none dropped
    by_system = {(c["piece_id"], round(float(c["start_time"]), 3)): c for c in corpus}
    for ex in examples:
        system = by_system[(ex["piece_id"], round(float(ex["start_time"]), 3))]
        lmx_side = ex["inputs"] if pair[0] == "lmx" else ex["targets"]
        midi_side = ex["targets"] if pair[0] == "lmx" else ex["inputs"]
        assert postprocess.lmx_tokens(lmx_side, vocab) == system["lmx"].decode().split()
        ns = postprocess.midi_note_sequence(midi_side, vocab, end_time=60.0)
        # The event codec's own reading of the notes (same-pitch overlaps merged, 10 ms grid).
        expected = midi_events.canonical_notes(_note_sequence(system["notes"]), vocab.config.midi)
        sps = vocab.config.midi.steps_per_second
        assert sorted((n.pitch, round(n.start_time * sps)) for n in ns.notes) == sorted(
            (n.pitch, n.onset_step) for n in expected
        )
    # The task's own postprocessor and metrics score a perfect prediction perfectly.
    targets = [task.postprocess_fn(ex["targets"], example=ex, is_target=True) for ex in examples]
    scores = task.metric_fns[0](targets, targets)
    assert scores.get("ser", 0.0) == 0.0 and scores.get("onset_f1@50ms", 1.0) == 1.0


def _note_sequence(notes):
    ns = music_pb2.NoteSequence()
    for onset, offset, pitch, velocity, program, drum in zip(
        notes["onset"], notes["offset"], notes["pitch"], notes["velocity"],
        notes["program"], notes["is_drum"], strict=True,
    ):  # fmt: skip
        ns.notes.add(
            start_time=float(onset), end_time=float(offset), pitch=int(pitch),
            velocity=int(velocity), program=int(program), is_drum=bool(drum),
        )  # fmt: skip
    ns.total_time = float(max(notes["offset"], default=0.0))
    return ns


@pytest.fixture(scope="module")
def baked_tiny(tiny_build, tmp_path_factory):
    """The tiny corpus baked with the codec tests' tiny codecs, trained for two steps."""
    from mt3_unified.codecs.bake import bake_corpus
    from mt3_unified.codecs.loading import load_encoders
    from tests.codecs.test_bake_corpus import AUDIO_GIN, IMAGE_GIN, _train

    data_dir, _ = tiny_build
    root = tmp_path_factory.mktemp("baked_tiny")
    for gin_file, workdir in ((IMAGE_GIN, root / "rqvae"), (AUDIO_GIN, root / "audio")):
        _train(gin_file, workdir, data_dir)
    image, audio = load_encoders(str(root / "rqvae"), str(root / "audio"))
    out = root / "baked" / "synthetic_scores" / "tiny"
    bake_corpus(
        "synthetic_scores/tiny", None, image, audio, data_dir=str(data_dir), output_dir=str(out)
    )
    return data_dir, root / "baked"


@pytest.mark.slow
@pytest.mark.parametrize("pair", PAPER_PAIRS)
def test_every_synthetic_task_yields_batches_the_model_loss_takes(baked_tiny, pair):
    import jax

    from mt3_unified.model.model import UnifiedModel
    from tests.model.helpers import TINY

    data_dir, baked_dir = baked_tiny
    gin_bindings(data_dir, baked_dir, image_books=4, audio_books=4)
    # rqvae_tiny.gin: 4 x 64 image codes; audio_tiny.gin: 4 x 32 audio codes.
    gin.bind_parameter("VocabularyConfig.image_codebook_size", 64)
    gin.bind_parameter("VocabularyConfig.audio_codebook_size", 32)
    try:
        vocab = unified_vocabulary()
        lengths = {"inputs": 2048, "targets": 2048}
        task = get_task_or_mixture(task_name("synthetic_tiny", *pair))
        ds = task.get_dataset(lengths, split="train", shuffle=False, seed=0)
        converted = UnifiedFeatureConverter(vocab)(ds, lengths)
        batch = next(converted.batch(2).as_numpy_iterator())
        config = dataclasses.replace(TINY, max_input_len=2048, max_target_len=2048)
        model = UnifiedModel(config, vocab)
        loss, _ = model.loss_fn(model.init(jax.random.key(0)), batch)
        assert np.isfinite(float(loss))
    finally:
        gin.clear_config()


@pytest.mark.slow
@pytest.mark.parametrize("pair", [("audio", "image"), ("image", "audio")])
def test_continuous_inputs_to_codes_join_the_tfds_input_to_the_baked_output(baked_tiny, pair):
    import tensorflow as tf

    from mt3_unified.codecs.data import load_corpus
    from mt3_unified.codecs.inputs import image_to_array
    from mt3_unified.preprocessors import continuous
    from mt3_unified.tasks.chain import ContinuousInputs

    data_dir, baked_dir = baked_tiny
    lengths = {"inputs": 2048, "targets": 2048}

    def examples(continuous_inputs: bool) -> dict:
        gin_bindings(data_dir, baked_dir, image_books=4, audio_books=4)
        gin.bind_parameter("VocabularyConfig.image_codebook_size", 64)
        gin.bind_parameter("VocabularyConfig.audio_codebook_size", 32)
        if continuous_inputs:
            gin.bind_parameter("ContinuousInputs.modalities", (pair[0],))
        task = get_task_or_mixture(task_name("synthetic_tiny", *pair, "eval"))
        ds = task.get_dataset(lengths, split="test", shuffle=False)
        found = {
            (ex["piece_id"], round(float(ex["start_time"]), 3)): ex for ex in ds.as_numpy_iterator()
        }
        settings = ContinuousInputs().settings()
        gin.clear_config()
        return found, settings

    try:
        joined, settings = examples(True)
        baked, _ = examples(False)
    finally:
        gin.clear_config()
    corpus = load_corpus("synthetic_scores/tiny", "test", str(data_dir), image_bytes=True)
    units = {(u["piece_id"], round(float(u["start_time"]), 3)): u for u in corpus}
    # Every unit finds its input; the units whose codes do not fit the lengths are dropped:
    # the tiny audio codec's codes of three of four units, as inputs (audio -> image with
    # code inputs) or as outputs (image -> audio, either way).
    if pair[0] == "audio":
        assert joined.keys() == units.keys() and len(baked) == 1
    else:
        assert joined.keys() == baked.keys() and len(baked) == 1
    # The output codes are the bake's, as the task reads them with code inputs.
    for key, ex in baked.items():
        np.testing.assert_array_equal(joined[key]["targets"], ex["targets"])
    for key, ex in joined.items():
        unit = units[key]
        # The input is the TFDS unit's own audio or pixels, as log-mel frames or patches.
        if pair[0] == "audio":
            audio = tf.constant(unit["audio"].astype(np.float32) / 32768.0)
            expected = continuous.log_mel_frames(
                audio,
                **{
                    k: settings[k]
                    for k in ("sample_rate", "frame_rate", "num_mel_bins", "fft_size")
                },
            )
        else:
            expected = continuous.image_patches(
                tf.constant(image_to_array(unit["image"])),
                **{k: settings[k] for k in ("image_height", "patch_size", "patch_height")},
            )
        features, frames = ex["continuous_inputs"], len(expected)
        # float32 FFTs in two graphs agree to ~1e-4 (log scale)
        np.testing.assert_allclose(features[:frames], expected.numpy(), atol=1e-3)
        assert not features[frames:].any()  # the EOS frame's row
