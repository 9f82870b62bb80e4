"""`mt3u eval`'s tables: the random-pairing floor, the Markdown writer, the default FAD
embedder, and one end-to-end run of a trained tiny model on a hand-made baked corpus."""

from __future__ import annotations

import html
import json
import re

import gin
import numpy as np
import pytest

from mt3_unified.codecs import baked as baked_format
from mt3_unified.corpus.notes import note_arrays
from mt3_unified.infer.embedders import EmbedderError, codec_embedder, load_embedder
from mt3_unified.infer.eval_audio import as_scored, floor_and_bound, re_paired
from mt3_unified.infer.eval_context import (
    CODEC_ROW,
    CODEC_SYSTEMS,
    GT_AUDIO,
    GT_IMAGE,
    MODEL,
    MODEL_RANDOM,
    MULTI,
    RANDOM,
    TITLES,
    EvaluationError,
)
from mt3_unified.infer.eval_results import RESULTS_JSON, RESULTS_MD, decoding_note, markdown
from mt3_unified.infer.eval_samples import sample_indices
from mt3_unified.infer.eval_tables import (
    emd_values,
    onset_values,
    random_pairing,
    row,
    ser_values,
)
from mt3_unified.infer.eval_transcribe import tuples_sequence
from mt3_unified.infer.evaluate import check_reader_codec, evaluate, select_pairs
from mt3_unified.metrics.fad import frechet_audio_distance
from mt3_unified.report.evaluation import evaluation_report
from mt3_unified.tasks.registry import add_translation_task
from mt3_unified.tasks.sources import Corpus
from mt3_unified.tasks.synthetic import PAPER_PAIRS
from tests.corpus.conftest import needs_fluidsynth

EVALMADE = "evalmade"  # the end-to-end corpus's dataset name
LMX = "measure key:fifths:0 time beats:4 beat-type:4 clef:G2 C4 quarter E4 half G4 quarter"
# (piece, image frames (whole columns of 8 rows), audio frames, notes (onset, offset, pitch))
UNITS = {
    "train": [("a", 16, 12, [(0.0, 0.1, 60)])],
    "test": [("c", 16, 12, [(0.0, 0.15, 65)]), ("d", 8, 10, [(0.02, 0.1, 67), (0.05, 0.12, 71)])],
}


# ------------------------------------------------------------------ small exact checks
def test_random_pairing_is_a_seeded_derangement():
    items = ["a", "b", "c", "d", "e"]
    for seed in range(20):
        paired = random_pairing(items, seed)
        assert sorted(paired) == items
        assert all(p != i for p, i in zip(paired, items, strict=True))
        assert paired == random_pairing(items, seed)
    assert random_pairing(["a", "b"], 0) == ["b", "a"]
    assert random_pairing(["a"], 0) == ["a"] and random_pairing([], 0) == []


def test_random_pairing_row_scores_targets_against_other_targets():
    targets = [["C4", "quarter"], ["D4", "half", "E4", "half"], ["G4", "whole"]]
    order = list(np.random.default_rng(0).permutation(3))
    assert order == [2, 0, 1]  # the cycle 2 <- 0 <- 1 <- 2: each takes the next's tokens
    paired = random_pairing(targets, 0)
    assert paired == [targets[1], targets[2], targets[0]]
    # Levenshtein distances of the pairs: 2 substitutions + 2 insertions; 2 substitutions
    # + 2 deletions; 2 substitutions; over 8 reference tokens.
    expected = 100.0 * (4 + 4 + 2) / 8
    # Pitches masked, only the durations and the lengths differ: 3 + 3 + 1 errors.
    masked = 100.0 * (3 + 3 + 1) / 8
    # Each pair's pitch histograms: C4 against D4 E4 (1.5 steps), D4 E4 against G4 (2.5),
    # G4 against C4 (4); durations one doubling, one, two apart.
    pitch, duration = 8 / 3, 4 / 3
    ser = ser_values(targets, paired)
    assert ser == [
        pytest.approx(expected),
        pytest.approx(expected),
        pytest.approx(masked),
        pytest.approx(pitch),
        pytest.approx(duration),
    ]
    assert row(RANDOM, ser, 3) == [RANDOM, expected, expected, masked, 2.6667, 1.3333, 3]


def test_audio_floor_is_another_performance_heard_and_warped_as_the_model_is():
    # Two systems of the same four pitches, the second played 1.5 times slower: paired at
    # random (two items swap), unwarped only the first onsets meet, warped by DTW all do.
    scale = [60, 62, 64, 65]
    truth = [
        tuples_sequence((0.5 * k * f, 0.5 * k * f + 0.4 * f, p) for k, p in enumerate(scale))
        for f in (1.0, 1.5)
    ]
    assert random_pairing(truth, 0) == [truth[1], truth[0]]
    # A judge that hears every note of the ground-truth audio.
    assert floor_and_bound(truth, truth, 0, far=False) == ([0.25] * 3, [1.0] * 3)
    assert floor_and_bound(truth, truth, 0, far=True) == ([1.0] * 3, [1.0] * 3)
    # A judge that hears nothing: the floor is what that judge hears, not the notes.
    silent = [tuples_sequence([]), tuples_sequence([])]
    assert floor_and_bound(truth, silent, 0, far=True) == ([0.0] * 3, [0.0] * 3)
    assert as_scored(truth, silent, far=False) == silent


def test_model_paired_at_random_tells_audio_that_follows_its_input_from_audio_that_does_not():
    scale = [60, 62, 64, 65]
    truth = [  # the same four onsets, the second system a fifth higher
        tuples_sequence((0.5 * k, 0.5 * k + 0.4, p + shift) for k, p in enumerate(scale))
        for shift in (0, 7)
    ]
    # Audio that follows its input: every note on its own row, none against the other's.
    assert onset_values(truth, truth) == [1.0] * 3
    assert re_paired(truth, truth, 0, far=False) == [0.0] * 3
    # The same audio whatever the input: half its notes meet either reference, so its row
    # and the re-paired row read alike.
    same = [truth[0], truth[0]]
    assert onset_values(truth, same) == re_paired(truth, same, 0, far=False) == [0.5] * 3


def test_emd_row_pairs_each_reading_with_its_own_reference_and_the_sets_apart():
    truth = [["C4", "quarter"], ["E4", "half"], ["G4", "whole"]]
    # Each reading names the next example's note (C4 D4 E4 F4 G4: E4 is 2 steps from
    # C4, G4 2 from E4, C4 4 from G4; one doubling each for duration but whole -> quarter,
    # two): the pairs are 8/3 steps apart on average, the sets' histograms not at all.
    readings = random_pairing(truth, 0)
    assert readings == [truth[1], truth[2], truth[0]]
    assert emd_values(truth, readings) == [
        pytest.approx(8 / 3),
        pytest.approx(4 / 3),
        0.0,
        0.0,
        3,
    ]
    assert emd_values(truth, truth) == [0.0, 0.0, 0.0, 0.0, 3]


def test_markdown_writes_one_table_a_pair_with_its_note():
    results = {
        "model_dir": "/runs/x",
        "step": 7,
        "split": "test",
        "created": "now",
        "tables": [
            {
                "title": "OMR (image → LMX)",
                "columns": ["system", "SER (%)", "examples"],
                "rows": [["model", 12.34567, 4], ["random pairing", None, 4]],
                "note": "a|note",
            }
        ],
    }
    assert markdown(results) == (
        "# Evaluation of /runs/x\n\nstep 7, split test, created now\n\n"
        "## OMR (image → LMX)\n\n"
        "| system | SER (%) | examples |\n|---|---|---|\n"
        "| model | 12.35 | 4 |\n| random pairing | n/a | 4 |\n\na|note\n"
    )


def test_select_pairs_keeps_the_named_pairs_in_the_runs_order():
    found = {"image_to_lmx": "d_image_to_lmx_eval", "audio_to_midi": "d_audio_to_midi_eval",
             "midi_to_lmx": "d_midi_to_lmx_eval"}  # fmt: skip
    assert select_pairs(found, None, "d (test)") == found
    assert select_pairs(found, ["midi_to_lmx", "image_to_lmx"], "d (test)") == {
        "image_to_lmx": "d_image_to_lmx_eval", "midi_to_lmx": "d_midi_to_lmx_eval",
    }  # fmt: skip
    message = (
        "d (test): no pair image_to_midi to evaluate; the pairs are "
        "image_to_lmx, audio_to_midi, midi_to_lmx"
    )
    with pytest.raises(EvaluationError, match=re.escape(message)):
        select_pairs(found, ["image_to_lmx", "image_to_midi"], "d (test)")
    with pytest.raises(EvaluationError, match=re.escape("no pair (none given)")):
        select_pairs(found, [], "d (test)")


def test_sample_indices_are_seeded_sorted_and_capped():
    assert sample_indices(3, 5, 0) == [0, 1, 2]
    assert sample_indices(0, 2, 0) == [] and sample_indices(4, 0, 0) == []
    picked = sample_indices(10, 3, 1)
    assert picked == sorted(picked) and len(set(picked)) == 3
    assert picked == sample_indices(10, 3, 1)


class _FakeConfig:
    hop = 4


class _FakeModel:
    config = _FakeConfig()


def test_load_embedder_specs(tmp_path):
    embed = lambda x: np.zeros((2, 3))  # noqa: E731
    assert load_embedder(embed) == (embed, "<lambda>")
    with pytest.raises(EmbedderError, match="audio codec"):
        load_embedder("codec")
    with pytest.raises(EmbedderError, match="module:function"):
        load_embedder("nonsense")
    with pytest.raises(EmbedderError, match="no weights file"):
        load_embedder(f"numpy:zeros={tmp_path / 'missing.npz'}")
    weights = tmp_path / "w.npy"
    np.save(weights, np.eye(3))
    found, label = load_embedder(f"tests.infer.test_evaluate:_weights_embedder={weights}")
    assert label.endswith(str(weights))
    np.testing.assert_array_equal(found(np.arange(7.0)), [[0, 1, 2], [3, 4, 5]])


def _weights_embedder(path):
    matrix = np.load(path)
    return lambda audio: np.asarray(audio)[:6].reshape(2, 3) @ matrix


# ------------------------------------------------------------------ with the trained run
@pytest.fixture(scope="module")
def audio_encoder():
    """An untrained tiny audio codec (random weights: shapes are what is checked)."""
    import jax

    from mt3_unified.codecs.audio import AudioCodec
    from mt3_unified.codecs.host_encoders import AudioCodeEncoder
    from tests.infer.conftest import AUDIO_CODEC

    model = AudioCodec(AUDIO_CODEC)
    variables = model.init(jax.random.key(0), np.zeros((1, 1024), np.float32))
    return AudioCodeEncoder(model, {"params": variables["params"], "vq": variables["vq"]})


def test_codec_embedder_gives_latent_frames_per_hop(audio_encoder):
    config = audio_encoder.model.config
    embed = codec_embedder(audio_encoder)
    rng = np.random.default_rng(0)
    for length in (config.hop * 5, config.hop * 5 + 1, 3000):
        frames = embed(rng.uniform(-0.5, 0.5, length).astype(np.float32))
        assert frames.shape == (-(-length // config.hop), config.latent_dim)
        assert frames.dtype == np.float32 and np.all(np.isfinite(frames))
    clips = [rng.uniform(-0.5, 0.5, 4000).astype(np.float32) for _ in range(3)]
    assert frechet_audio_distance(clips, clips, embed) == pytest.approx(0.0, abs=1e-4)


def _records(split: str):
    for piece, image_frames, audio_frames, notes in UNITS[split]:
        salt = ord(piece)
        yield {
            "piece_id": piece,
            "system_index": np.int32(0),
            "start_time": np.float32(0.0),
            "lmx": LMX,
            "notes": note_arrays((a, b, p, 80, 0, False) for a, b, p in notes),
            "variant": 0,
            "image_codes": ((np.arange(image_frames * 2).reshape(-1, 2) + salt) % 16).astype(
                np.int32
            ),
            "audio_codes": ((np.arange(audio_frames * 3).reshape(-1, 3) + salt) % 16).astype(
                np.int32
            ),
        }


@pytest.fixture(scope="module")
def evalmade_dir(tmp_path_factory):
    """A baked dir with a two-unit test split, and all eight pairs registered on it."""
    root = tmp_path_factory.mktemp("baked")
    folder = root / EVALMADE
    folder.mkdir()
    spec = {}
    for split in UNITS:
        records = list(_records(split))
        for record in records:
            spec.update(baked_format.spec_of(record))
        baked_format.write_tfrecord(records, str(folder / f"{split}.tfrecord"))
    baked_format.write_feature_spec(str(folder), spec)
    books = {"image": 2, "audio": 3}
    baked_format.write_codec_descriptions(
        str(folder),
        {
            m: {"kind": m, "num_codebooks": k, "codebook_size": 16, "frame_rate": 62.5}
            for m, k in books.items()
        },
    )
    for pair in PAPER_PAIRS:
        add_translation_task(EVALMADE, *pair, source=Corpus(EVALMADE, splits=("train", "test")))
    return root


@pytest.mark.slow
def test_evaluate_end_to_end(trained_run, evalmade_dir, tmp_path):
    out = tmp_path / "eval"
    bindings = [
        f"DataPaths.baked_dir='{evalmade_dir}'",
        f"DataPaths.data_dir='{tmp_path / 'no_tfds'}'",
        # Short sequences keep greedy decoding of the untrained model quick on CPU.
        "TASK_FEATURE_LENGTHS={'inputs': 48, 'targets': 48}",
    ]
    try:
        with pytest.raises(EvaluationError, match="--audio-codec"):
            evaluate(model_dir=trained_run.model_dir, output_dir=str(out), dataset=EVALMADE,
                        bindings=bindings, progress=False)  # fmt: skip
        results = evaluate(
            model_dir=trained_run.model_dir,
            output_dir=str(out),
            dataset=EVALMADE,
            bindings=bindings,
            image_codec=trained_run.codecs["image"],
            audio_codec=trained_run.codecs["audio"],
            max_examples=4,
            batch_size=2,
            samples_per_task=1,
            progress=False,
        )
    finally:
        gin.clear_config()
    assert json.loads((out / RESULTS_JSON).read_text()) == results
    assert (out / RESULTS_MD).read_text() == markdown(results)
    by_title = {t["title"]: t for t in results["tables"]}
    # The symbolic pairs read a TFDS corpus, which this baked-only corpus lacks.
    skipped = {f"{EVALMADE}_{p}_eval" for p in ("lmx_to_midi", "midi_to_lmx")}
    assert set(results["skipped"]) == skipped
    assert set(by_title) == {TITLES[f"{i}_to_{o}"] for i, o in PAPER_PAIRS} - {
        TITLES["lmx_to_midi"],
        TITLES["midi_to_lmx"],
    }
    systems = {title: [r[0] for r in t["rows"]] for title, t in by_title.items()}
    assert systems["OMR (image → LMX)"] == [MODEL, RANDOM]
    assert systems["AMT (audio → MIDI)"] == [MODEL, RANDOM]
    assert systems["Synthesis (MIDI → audio)"] == [MODEL, MODEL_RANDOM, RANDOM, CODEC_ROW]
    assert systems["Image → audio"] == [MODEL, MODEL_RANDOM, RANDOM, CODEC_ROW, MULTI]
    assert systems["Audio → image"] == [MODEL, MODEL_RANDOM, RANDOM, CODEC_ROW, GT_IMAGE]
    for t in results["tables"]:
        assert all(len(r) == len(t["columns"]) for r in t["rows"])
    # Two test units, both valid for whole-unit pairs: every example row counts 2.
    assert by_title["OMR (image → LMX)"]["rows"][0][-1] == 2
    fad = by_title["Synthesis (MIDI → audio)"]["rows"][0][4]
    assert fad is None or fad >= 0
    assert "audio codec encoder latents" in by_title["Synthesis (MIDI → audio)"]["note"]
    assert len(results["samples"]) == len(results["tables"])
    for sample in results["samples"]:
        for path in sample["files"].values():
            assert (out / path).is_file()
    report = evaluation_report(out)
    assert "not a PNG" not in report.read_text() and "missing" not in report.read_text()


@pytest.mark.slow
def test_judges_score_generated_audio_and_images_with_the_named_run(
    trained_run, evalmade_dir, tmp_path
):
    """A transcriber and a reader that are the evaluated run itself, restored again, must give
    the own-AMT and own-OMR figures exactly: generated audio and images reach them through
    the same clips, codes and codecs."""
    bindings = [
        f"DataPaths.baked_dir='{evalmade_dir}'",
        f"DataPaths.data_dir='{tmp_path / 'no_tfds'}'",
        "TASK_FEATURE_LENGTHS={'inputs': 48, 'targets': 48}",
    ]
    common = dict(
        model_dir=trained_run.model_dir, dataset=EVALMADE, bindings=bindings,
        image_codec=trained_run.codecs["image"], audio_codec=trained_run.codecs["audio"],
        max_examples=2, batch_size=2, samples_per_task=0,
        pairs=["midi_to_audio", "audio_to_image"], progress=False,
    )  # fmt: skip
    model_dir = trained_run.model_dir
    try:
        own = evaluate(output_dir=str(tmp_path / "own"), **common)
        judged = evaluate(
            output_dir=str(tmp_path / "judged"), transcriber=model_dir, reader=model_dir, **common
        )
    finally:
        gin.clear_config()
    for own_table, judged_table in zip(own["tables"], judged["tables"], strict=True):
        assert judged_table["rows"] == own_table["rows"]
    assert own["transcriber"] is None and own["reader"] is None
    assert judged["transcriber"] == judged["reader"] == {"model_dir": model_dir, "step": 4}
    (own_audio, own_image), (judged_audio, judged_image) = own["tables"], judged["tables"]
    assert "this model's own AMT" in own_audio["note"]
    assert f"the AMT of {model_dir} (step 4, `--transcriber`)" in judged_audio["note"]
    assert "this model's own OMR" in own_image["note"]
    assert f"the OMR of {model_dir} (step 4, `--reader`)" in judged_image["note"]


def test_a_reader_of_another_image_codec_is_refused(tmp_path):
    (tmp_path / "rqvae_a").mkdir()
    (tmp_path / "rqvae_b").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "rqvae_a")
    check_reader_codec("runs/omr", str(tmp_path / "link"), str(tmp_path / "rqvae_a"))
    check_reader_codec("runs/omr", None, str(tmp_path / "rqvae_a"))  # nothing baked: unknown
    refused = r"--reader runs/omr: its OMR reads the image codes of .*rqvae_b, this "
    with pytest.raises(EvaluationError, match=refused + r"evaluation's images are codes of"):
        check_reader_codec("runs/omr", str(tmp_path / "rqvae_b"), str(tmp_path / "rqvae_a"))


@pytest.mark.slow
@needs_fluidsynth
def test_log_mel_amt_table_has_the_codec_upper_bound_rows(tiny_build, trained_run, tmp_path):
    """A log-mel AMT run is also scored on whole test systems, original and decoded by the
    audio codec: the paper's codec row, one example a system."""
    from mt3_unified.runtime.gin_config import parse_gin
    from mt3_unified.train import trainer

    data_dir, _ = tiny_build
    model_dir = tmp_path / "amt_mel"
    bindings = [
        f"DataPaths.data_dir='{data_dir}'",
        f"DataPaths.baked_dir='{data_dir}/no_bake'",
        "TASK_FEATURE_LENGTHS={'inputs': 320, 'targets': 64}",
    ]
    try:
        parse_gin(["gin/local_cpu.gin"], [
            *bindings, f"MODEL_DIR='{model_dir}'", "MIXTURE_OR_TASK_NAME='synthetic_tiny_amt'",
            "TRAIN_STEPS=2", "BATCH_SIZE=2", "train.progress=False", "train.eval_every=0",
            "ContinuousInputs.modalities=('audio',)", "ModelConfig.continuous_input_dim=128",
            "ModelConfig.continuous_modalities=('audio',)",
        ])  # fmt: skip
        trainer.train(model=gin.query_parameter("%MODEL").scoped_configurable_fn())
        results = evaluate(
            model_dir=str(model_dir), output_dir=str(tmp_path / "eval"), bindings=bindings,
            audio_codec=trained_run.codecs["audio"], pairs=["audio_to_midi"], max_examples=3,
            batch_size=2, samples_per_task=0, progress=False,
        )  # fmt: skip
    finally:
        gin.clear_config()
    (amt,) = results["tables"]
    assert [r[0] for r in amt["rows"]] == [MODEL, RANDOM, GT_AUDIO, CODEC_SYSTEMS]
    systems = amt["rows"][2][-1]
    assert amt["rows"][3][-1] == systems and 1 <= systems <= 3
    assert all(0.0 <= v <= 1.0 for r in amt["rows"] for v in r[1:-1])
    assert trained_run.codecs["audio"] in amt["note"]


@pytest.mark.slow
def test_sampled_decoding_is_seeded_recorded_and_not_greedy(trained_run, evalmade_dir, tmp_path):
    """`--temperature` reaches the model's translations: sampled frames differ from greedy
    ones, the same seed samples the same frames, and the results say how they decoded."""
    from mt3_unified.infer.eval_decode import decode_dataset, read_examples
    from mt3_unified.infer.restore import restore_run

    bindings = [
        f"DataPaths.baked_dir='{evalmade_dir}'",
        f"DataPaths.data_dir='{tmp_path / 'no_tfds'}'",
        "TASK_FEATURE_LENGTHS={'inputs': 48, 'targets': 48}",
    ]
    try:
        results = evaluate(
            model_dir=trained_run.model_dir, output_dir=str(tmp_path / "sampled"),
            dataset=EVALMADE, bindings=bindings, audio_codec=trained_run.codecs["audio"],
            max_examples=2, batch_size=2, samples_per_task=0, pairs=["midi_to_audio"],
            temperature=1.0, num_beams=2, progress=False,
        )  # fmt: skip
        run = restore_run(trained_run.model_dir, bindings=bindings)
        ds, _ = read_examples(f"{EVALMADE}_midi_to_audio_eval", "test", run.task_feature_lengths, 2)
        greedy = decode_dataset(run, ds, "midi", 2)
        sampled = decode_dataset(run, ds, "midi", 2, {"temperature": 1.0}, seed=0)
        again = decode_dataset(run, ds, "midi", 2, {"temperature": 1.0}, seed=0)
    finally:
        gin.clear_config()
    # Beams search symbolic outputs only: the audio pair samples with them asked for.
    assert results["decoding"] == {"temperature": 1.0, "num_beams": 2}
    note = (
        "The model decoded its translations into lmx, midi with temperature 1.0, num_beams 2, "
        "into image, audio with temperature 1.0 (judges: greedy)."
    )
    assert decoding_note(results) == note and note in markdown(results)
    page = evaluation_report(tmp_path / "sampled").read_text()
    assert html.escape(decoding_note(results)) in page
    assert all(np.array_equal(a, b) for a, b in zip(sampled, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(sampled, greedy, strict=True))


def test_decoding_for_keeps_beams_for_symbolic_outputs_only():
    from mt3_unified.infer.eval_context import Context
    from mt3_unified.infer.evaluate import non_greedy

    settings = non_greedy(temperature=0.0, top_k=8, top_p=1.0, num_beams=3)
    assert settings == {"top_k": 8, "num_beams": 3}
    ctx = Context(None, "test", 1, 1, 0, None, 0, {}, decoding=settings)
    assert ctx.decoding_for("lmx") == ctx.decoding_for("midi") == {"top_k": 8, "num_beams": 3}
    assert ctx.decoding_for("audio") == ctx.decoding_for("image") == {"top_k": 8}
    audio_only = Context(None, "test", 1, 1, 0, None, 0, {}, decoding=settings,
                         decoding_outputs=("audio",))  # fmt: skip
    assert audio_only.decoding_for("audio") == {"top_k": 8}
    assert audio_only.decoding_for("lmx") == audio_only.decoding_for("image") == {}
    note = decoding_note({"decoding": settings, "decoding_outputs": ["lmx", "audio"]})
    assert note == (
        "The model decoded its translations into lmx with top_k 8, num_beams 3, "
        "into audio with top_k 8, into midi, image greedily (judges: greedy)."
    )
    assert decoding_note({"decoding": {}, "decoding_outputs": ["audio"]}) is None
    with pytest.raises(EvaluationError, match="--decoding-outputs: unknown modality"):
        evaluate(model_dir="unused", output_dir="unused", decoding_outputs=["wav"])


def test_a_sample_read_as_pixel_strips_is_drawn_from_them(tmp_path):
    from pathlib import Path

    import gin
    from PIL import Image

    from mt3_unified.infer.eval_context import Context
    from mt3_unified.infer.eval_samples import write_sample_file
    from mt3_unified.preprocessors.frames import CONTINUOUS, CONTINUOUS_MARKER

    gin.clear_config()
    for name, value in (("modalities", ("image",)), ("image_height", 4), ("patch_size", 1),
                        ("patch_height", 4), ("feature_dim", 6)):  # fmt: skip
        gin.bind_parameter(f"ContinuousInputs.{name}", value)
    try:
        strips = np.zeros((4, 6), np.float32)  # 3 strips of 4 x 1 pixels, padded to 6; EOS
        strips[1, :4] = 1.0  # the middle column white
        inputs = np.zeros((4, 2), np.int32)
        inputs[:3, 0] = CONTINUOUS_MARKER
        (tmp_path / "s").mkdir()
        ctx = Context(None, "test", 1, 1, 0, tmp_path, 1, {})
        example = {"inputs": inputs, CONTINUOUS: strips}
        written = write_sample_file(ctx, Path("s"), "input", "image", inputs, example)
    finally:
        gin.clear_config()
    assert written == ("input_image", "s/input.png")
    pixels = np.asarray(Image.open(tmp_path / "s" / "input.png"))
    np.testing.assert_array_equal(pixels, [[0, 255, 0]] * 4)
