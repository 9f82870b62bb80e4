"""A researcher's own folder of files registered as tasks: batches, the cache, bad input."""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import gin
import numpy as np
import pytest
from PIL import Image

from mt3_unified.model.model import UnifiedModel
from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
from mt3_unified.tasks import postprocess
from mt3_unified.tasks.folder_source import CACHE_DIR, MANIFEST
from mt3_unified.tasks.pairs import PairsError
from mt3_unified.tasks.registry import get_task_or_mixture
from mt3_unified.tasks.sources import SourceError
from mt3_unified.tasks.user import UserTaskError, register_translation_task
from mt3_unified.vocab.lmx import list_parts, musicxml_to_lmx
from mt3_unified.vocab.unified import MODALITIES, TASKS, unified_vocabulary
from tests.corpus.conftest import needs_fluidsynth
from tests.model.helpers import TINY

SAMPLE_RATE = 16000
# Two measures of quarter notes: C D E F | G A B C, at 120 quarters a minute.
PITCHES = (60, 62, 64, 65, 67, 69, 71, 72)
SECONDS_PER_QUARTER = 0.5


def _score():
    import music21

    score = music21.stream.Score()
    part = music21.stream.Part(id="P1")
    for bar in (PITCHES[:4], PITCHES[4:]):
        measure = music21.stream.Measure()
        for pitch in bar:
            measure.append(music21.note.Note(pitch, quarterLength=1.0))
        part.append(measure)
    part.measure(1).insert(0, music21.meter.TimeSignature("4/4"))
    part.measure(1).insert(0, music21.clef.TrebleClef())
    score.append(part)
    return score


def _write_midi(path: Path) -> None:
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate(PITCHES):
        start = i * SECONDS_PER_QUARTER
        piano.notes.append(pretty_midi.Note(90, pitch, start, start + SECONDS_PER_QUARTER))
    midi.instruments.append(piano)
    midi.write(str(path))


def _write_png(musicxml: Path, path: Path) -> None:
    from mt3_unified.corpus.render import svg_to_png
    from mt3_unified.corpus.systems import layout_systems

    systems, _ = layout_systems(musicxml.read_bytes(), source=musicxml)
    assert len(systems) == 1
    path.write_bytes(svg_to_png(systems[0].svg, 128))


def _write_wav(midi: Path, path: Path) -> None:
    import soundfile as sf

    from mt3_unified.corpus.render import render_midi

    seconds = len(PITCHES) * SECONDS_PER_QUARTER + 0.5
    audio = render_midi(midi.read_bytes(), SAMPLE_RATE, int(seconds * SAMPLE_RATE))
    sf.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """score.musicxml, its MIDI, its engraved PNG and (with fluidsynth) its WAV, a two-part
    score, and pairs CSVs over them."""
    root = tmp_path_factory.mktemp("my_pairs")
    (root / "scores").mkdir()
    musicxml = root / "scores" / "score.musicxml"
    _score().write("musicxml", fp=str(musicxml))
    _write_midi(root / "score.mid")
    _write_png(musicxml, root / "score.png")
    duet = _score()
    duet.insert(0, _score().parts[0])
    duet.write("musicxml", fp=str(root / "scores" / "duet.musicxml"))
    (root / "pairs.csv").write_text("input,output\nscores/score.musicxml,score.mid\n")
    (root / "omr.csv").write_text(
        "input,output,split\nscore.png,scores/score.musicxml,train\n"
        "score.png,scores/score.musicxml,test\n"
    )
    return root


@pytest.fixture
def clean_gin():
    gin.clear_config()
    yield
    gin.clear_config()


def _batch(name, lengths, split="train", continuous=False):
    task = get_task_or_mixture(name)
    ds = task.get_dataset(lengths, split=split, shuffle=False, seed=3)
    examples = list(ds.as_numpy_iterator())
    converter = UnifiedFeatureConverter(unified_vocabulary(), continuous=continuous)
    batch = next(converter(ds, lengths).batch(len(examples)).as_numpy_iterator())
    return examples, batch


def _loss(batch, lengths, **config) -> float:
    import jax

    config = dataclasses.replace(
        TINY, max_input_len=lengths["inputs"], max_target_len=lengths["targets"], **config
    )
    model = UnifiedModel(config, unified_vocabulary())
    loss, _ = model.loss_fn(model.init(jax.random.key(0)), batch)
    return float(loss)


def test_an_lmx_to_midi_folder_gives_the_files_tokens_and_model_batches(folder, clean_gin):
    train, evaluation = register_translation_task("my_pairs", folder, "lmx", "midi")
    assert (train, evaluation) == ("my_pairs_lmx_to_midi_train", "my_pairs_lmx_to_midi_eval")
    assert not (folder / CACHE_DIR).exists()  # registering reads nothing

    lengths = {"inputs": 96, "targets": 64}
    examples, batch = _batch(train, lengths)
    assert len(examples) == 1
    example, vocab = examples[0], unified_vocabulary()
    assert example["piece_id"] == b"scores/score.musicxml#2"
    expected = musicxml_to_lmx(folder / "scores" / "score.musicxml")
    assert postprocess.lmx_tokens(example["inputs"], vocab) == expected
    ns = postprocess.midi_note_sequence(example["targets"], vocab, end_time=10.0)
    assert [(n.pitch, round(n.start_time, 2)) for n in ns.notes] == [
        (p, i * SECONDS_PER_QUARTER) for i, p in enumerate(PITCHES)
    ]
    assert batch["task"].tolist() == [TASKS.index("lmx_to_midi")]
    assert batch["target_modality"].tolist() == [MODALITIES.index("midi")]
    assert np.isfinite(_loss(batch, lengths))

    # Without a split column, `validation` holds the same pairs, for the eval task.
    source = get_task_or_mixture(evaluation).source
    assert source.splits == ("train", "validation")
    again, _ = _batch(evaluation, lengths, split="validation")
    np.testing.assert_array_equal(again[0]["targets"], example["targets"])


def test_the_cache_is_written_once_and_remade_when_a_file_changes(folder, clean_gin):
    name, _ = register_translation_task("cached", folder, "lmx", "midi")
    source = get_task_or_mixture(name).source
    entry = source.materialize()
    assert entry.folder.parent == folder / CACHE_DIR and entry.counts == {"train": 1}
    written = (entry.folder / MANIFEST).stat().st_mtime_ns
    assert source.materialize() == entry
    assert (entry.folder / MANIFEST).stat().st_mtime_ns == written
    midi = folder / "score.mid"
    stat = midi.stat()
    os.utime(midi, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert source.materialize().folder != entry.folder
    gin.bind_parameter("FolderSettings.cache_dir", str(folder / "elsewhere"))
    assert source.materialize().folder.parent == folder / "elsewhere"


def test_an_image_to_lmx_folder_with_continuous_inputs_gives_model_batches(folder, clean_gin):
    name, _ = register_translation_task("my_omr", folder / "omr.csv", "image", "lmx")
    gin.bind_parameter("ContinuousInputs.modalities", ("image",))
    source = get_task_or_mixture(name).source
    assert source.splits == ("train", "test")
    lengths = {"inputs": 512, "targets": 96, "continuous_inputs": 512}
    examples, batch = _batch(name, lengths, split="test", continuous=True)
    assert len(examples) == 1 and examples[0]["piece_id"] == b"score.png#3"
    expected = musicxml_to_lmx(folder / "scores" / "score.musicxml")
    assert postprocess.lmx_tokens(examples[0]["targets"], unified_vocabulary()) == expected
    patches = examples[0]["continuous_inputs"]
    # The 128 px PNG at 64 px (ContinuousInputs.image_height): 8 rows of 8x8 patches a
    # column, then the EOS frame's zeros.
    with Image.open(folder / "score.png") as png:
        width = math.ceil(png.width * 64 / png.height)  # as continuous.image_patches
    columns = math.ceil(width / 8)
    assert patches.shape == (8 * columns + 1, 64)
    assert patches[:-1].min() < 0.5 < patches[:-1].max()  # ink on paper
    assert not patches[-1].any()
    loss = _loss(batch, lengths, continuous_modalities=("image",), continuous_input_dim=64)
    assert np.isfinite(loss)


def test_code_inputs_without_a_codec_are_refused_saying_what_to_pass(folder, clean_gin):
    name, _ = register_translation_task("no_codec", folder / "omr.csv", "image", "lmx")
    with pytest.raises(SourceError, match="pass image_codec=<codec workdir>"):
        get_task_or_mixture(name).get_dataset({"inputs": 8, "targets": 8}, split="train")
    with pytest.raises(UserTaskError, match="audio outputs are codes; pass audio_codec="):
        register_translation_task("no_codec", folder, "midi", "audio")
    with pytest.raises(UserTaskError, match="image_codec given, but lmx -> midi has no image"):
        register_translation_task("no_codec", folder, "lmx", "midi", image_codec="runs/x")
    with pytest.raises(UserTaskError, match="TFDS has no dataset 'no_such_dataset'"):
        register_translation_task("no_codec", "no_such_dataset", "lmx", "midi")


def test_a_missing_file_is_an_error_naming_it_and_its_csv_line(folder, clean_gin):
    csv = folder / "broken.csv"
    csv.write_text("input,output\nscores/score.musicxml,score.mid\nscores/gone.musicxml,lost.mid\n")
    name, _ = register_translation_task("broken", csv, "lmx", "midi")
    with pytest.raises(PairsError) as error:
        get_task_or_mixture(name).get_dataset({"inputs": 8, "targets": 8}, split="train")
    assert str(error.value) == (
        f"{folder / 'scores' / 'gone.musicxml'}: no such file (broken.csv line 3, input); "
        f"also missing: {folder / 'lost.mid'} (broken.csv line 3, output)"
    )


def test_a_score_of_several_parts_needs_a_part_column(folder, clean_gin):
    csv = folder / "duet.csv"
    csv.write_text("input,output\nscores/duet.musicxml,score.mid\n")
    name, _ = register_translation_task("duet", csv, "lmx", "midi")
    lengths = {"inputs": 96, "targets": 64}
    with pytest.raises(PairsError) as error:
        get_task_or_mixture(name).get_dataset(lengths, split="train")
    message = str(error.value)
    assert message.startswith(f"{folder / 'scores' / 'duet.musicxml'}: the score has 2 parts")
    assert message.endswith("name it in a `part` column (duet.csv line 2, input)")
    second = list_parts(folder / "scores" / "duet.musicxml")[1][0]  # music21 makes the ids
    csv.write_text(f"input,output,part\nscores/duet.musicxml,score.mid,{second}\n")
    examples, _ = _batch(name, lengths)
    expected = musicxml_to_lmx(folder / "scores" / "duet.musicxml", second)
    assert postprocess.lmx_tokens(examples[0]["inputs"], unified_vocabulary()) == expected


@pytest.fixture(scope="module")
def codecs(folder, wav, tmp_path_factory) -> tuple[Path, Path]:
    """(image, audio) workdirs of the tiny codecs trained two steps on the folder's files."""
    from mt3_unified.codecs import data as codec_data
    from mt3_unified.codecs.inputs import audio_to_array, image_to_array
    from mt3_unified.codecs.train import configured_codec, train_codec

    root = tmp_path_factory.mktemp("user_codecs")
    gin_dir = Path(__file__).resolve().parents[2] / "gin" / "codecs"
    image = image_to_array(folder / "score.png")
    audio = audio_to_array(wav, None, SAMPLE_RATE)
    for gin_file, workdir, make_data in (
        (
            "rqvae_tiny.gin",
            root / "rqvae",
            lambda c: [codec_data.resize_to_height(image, c.height)],
        ),
        ("audio_tiny.gin", root / "audio", lambda c: [audio]),
    ):
        gin.clear_config()
        gin.parse_config_file(str(gin_dir / gin_file))
        config = configured_codec()
        crop, fill = (128, 1.0) if gin_file.startswith("rqvae") else (4096, 0.0)
        arrays = make_data(config)
        data = (
            codec_data.random_crops(arrays, 2, crop, fill=fill),
            codec_data.fixed_crops(arrays, 2, crop, fill=fill),
        )
        train_codec(str(workdir), data=data, steps=2)
    gin.clear_config()
    return root / "rqvae", root / "audio"


@pytest.fixture(scope="module")
def wav(folder) -> Path:
    """The folder's score.wav: its MIDI through the project's fluidsynth renderer."""
    _write_wav(folder / "score.mid", folder / "score.wav")
    return folder / "score.wav"


@pytest.mark.slow
@needs_fluidsynth
@pytest.mark.parametrize(
    "pair, files",
    [
        (("image", "lmx"), ("score.png", "scores/score.musicxml")),
        (("lmx", "image"), ("scores/score.musicxml", "score.png")),
        (("audio", "midi"), ("score.wav", "score.mid")),
        (("midi", "audio"), ("score.mid", "score.wav")),
    ],
)
def test_code_tasks_of_a_folder_encode_as_the_bake_and_feed_the_model(
    folder, wav, codecs, clean_gin, pair, files
):
    from mt3_unified.codecs.bake import bake_examples
    from mt3_unified.codecs.loading import load_encoders

    csv = folder / f"{'_'.join(pair)}.csv"
    csv.write_text(f"input,output\n{files[0]},{files[1]}\n")
    image_codec, audio_codec = codecs
    train, evaluation = register_translation_task(
        f"coded_{'_'.join(pair)}",
        csv,
        *pair,
        image_codec=image_codec if "image" in pair else None,
        audio_codec=audio_codec if "audio" in pair else None,
    )
    # rqvae_tiny.gin: 4 x 64 image codes; audio_tiny.gin: 4 x 32 audio codes.
    gin.bind_parameter("VocabularyConfig.image_codebook_size", 64)
    gin.bind_parameter("VocabularyConfig.audio_codebook_size", 32)
    vocab = unified_vocabulary()
    lengths = {"inputs": 256, "targets": 256}
    _, batch = _batch(train, lengths)
    assert np.isfinite(_loss(batch, lengths))
    assert batch["task"].tolist() == [TASKS.index("_to_".join(pair))]

    # The codes are those `mt3u bake` writes for the same file (its unshifted variant).
    modality = "image" if "image" in pair else "audio"
    side = "inputs" if pair[0] == modality else "targets"
    image_encoder, audio_encoder = load_encoders(str(image_codec), str(audio_codec))
    if modality == "image":
        source = {"id": "score", "image": (folder / "score.png").read_bytes()}
        baked = next(bake_examples([source], image_encoder))["image_codes"]
    else:
        samples, rate = audio_to_int16(wav)
        source = {"id": "score", "audio": samples, "sample_rate": rate}
        baked = next(bake_examples([source], audio_encoder=audio_encoder))["audio_codes"]
    examples, _ = _batch(evaluation, lengths, split="validation")  # in order, from 0 s
    frames = examples[0][side][:-1, : baked.shape[1]]  # without the EOS frame
    lows = [vocab.id_range(modality, k)[0] for k in range(baked.shape[1])]
    np.testing.assert_array_equal(frames - lows, baked[: len(frames)])


def audio_to_int16(path: Path) -> tuple[np.ndarray, int]:
    from mt3_unified.corpus.builders.common import read_audio

    return read_audio(path, SAMPLE_RATE), SAMPLE_RATE
