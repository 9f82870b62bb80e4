"""Batch inference end to end on a trained tiny run: every translation, the manifest, bad
input skipped with its reason, outputs kept unless --overwrite, errors before any work."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import gin
import numpy as np
import pytest
import soundfile as sf

from mt3_unified import cli
from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.infer.batch import OutputDirError
from mt3_unified.infer.infer import infer
from mt3_unified.infer.restore import RunNotFoundError, restore_run
from tests.infer.conftest import AUDIO_CODEC, IMAGE_CODEC
from tests.model.helpers import TINY

SECONDS = 1.5  # the test recording


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A score page of 3 systems (verovio), its MusicXML, a MIDI file and a recording."""
    import music21
    import verovio

    from mt3_unified.corpus.render import notes_to_midi_bytes, svg_to_image

    folder = tmp_path_factory.mktemp("inputs")
    soprano = music21.corpus.parse("bach/bwv66.6").parts[0]
    soprano.write("musicxml", folder / "soprano.musicxml")
    tk = verovio.toolkit()
    tk.setOptions({"pageWidth": 1500, "pageHeight": 2000, "scale": 40, "breaks": "auto",
                   "header": "none", "footer": "none"})  # fmt: skip
    tk.loadData((folder / "soprano.musicxml").read_text())
    svg = tk.renderToSVG(1)
    assert svg.count('class="system"') == 3
    svg_to_image(svg, 800).save(folder / "page.png")
    notes = [
        SimpleNamespace(onset=a, offset=a + 0.4, pitch=p, velocity=80, program=0, is_drum=False)
        for a, p in ((0.0, 60), (0.5, 64), (1.0, 67))
    ]
    (folder / "triad.mid").write_bytes(notes_to_midi_bytes(notes))
    t = np.arange(int(SECONDS * 44100)) / 44100
    sine = 0.3 * np.sin(2 * np.pi * 440 * t)
    sf.write(folder / "tone.wav", np.stack([sine, sine], axis=1), 44100)
    (folder / "broken.png").write_bytes(b"not a png")
    return {p.name: p for p in folder.iterdir()}


def _run(trained_run, translation, inputs, out, model_dir=None, batch_size=4, **kw):
    return infer(model_dir=model_dir or trained_run.model_dir, translation=translation,
                 inputs=[str(p) for p in inputs], output_dir=str(out),
                 image_codec=trained_run.codecs["image"], audio_codec=trained_run.codecs["audio"],
                 progress=False, batch_size=batch_size, **kw)  # fmt: skip


def test_the_model_is_rebuilt_from_the_runs_own_config(trained_run):
    gin.bind_parameter("ModelConfig.emb_dim", 999)  # a caller's binding does not leak in
    run = restore_run(trained_run.model_dir)
    assert run.step == 4
    assert run.model.config.emb_dim == TINY.emb_dim
    assert run.model.config.num_encoder_layers == TINY.num_encoder_layers
    assert run.task_feature_lengths == {
        "inputs": run.model.config.max_input_len, "targets": run.model.config.max_target_len
    }  # fmt: skip
    assert restore_run(trained_run.model_dir, step=2).step == 2
    with pytest.raises(RunNotFoundError, match="no checkpoint of step 3"):
        restore_run(trained_run.model_dir, step=3)


def test_omr_splits_the_page_into_systems_and_skips_bad_files(trained_run, files, tmp_path):
    inputs = [files["page.png"], files["broken.png"], tmp_path / "missing.png", files["triad.mid"]]
    items = _run(trained_run, "omr", inputs, tmp_path)
    assert [i.status for i in items] == ["ok", "failed", "failed", "failed"]
    assert items[0].segments == 3  # one decoded segment per system
    assert len(items[0].scores) == 3
    assert "broken.png: cannot read the image" in items[1].error
    assert items[2].error.endswith("missing.png: no such file")
    assert "omr takes .png, .jpg, .jpeg, .pdf files, not .mid" in items[3].error
    lmx_lines = (tmp_path / "page.lmx").read_text().splitlines()
    assert len(lmx_lines) == 3
    assert (tmp_path / "page.musicxml").read_text().startswith("<?xml")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["task"] == "omr" and manifest["step"] == 4
    assert [i["status"] for i in manifest["items"]] == ["ok", "failed", "failed", "failed"]
    assert manifest["items"][0]["outputs"]["lmx"] == str(tmp_path / "page.lmx")


def test_outputs_already_there_are_kept_unless_overwrite(trained_run, files, tmp_path):
    (tmp_path / "page.lmx").write_text("kept\n")
    items = _run(trained_run, "omr", [files["page.png"]], tmp_path)
    assert items[0].status == "exists"
    assert (tmp_path / "page.lmx").read_text() == "kept\n"
    items = _run(trained_run, "omr", [files["page.png"]], tmp_path, overwrite=True)
    assert items[0].status == "ok"
    assert (tmp_path / "page.lmx").read_text() != "kept\n"


def test_amt_cuts_a_recording_into_mt3_windows_and_writes_midi(trained_run, files, tmp_path):
    items = _run(trained_run, "amt", [files["tone.wav"]], tmp_path)
    assert items[0].status == "ok", items[0].error
    run = restore_run(trained_run.model_dir)
    frames = math.ceil(SECONDS * AUDIO_CODEC.sample_rate / AUDIO_CODEC.hop)
    window = run.task_feature_lengths["inputs"] - 1
    assert items[0].segments == math.ceil(frames / window)
    assert (tmp_path / "tone.mid").read_bytes()[:4] == b"MThd"


def test_synthesis_fills_the_notes_duration(trained_run, files, tmp_path):
    items = _run(trained_run, "synth", [files["triad.mid"]], tmp_path, max_length=16)
    assert items[0].status == "ok", items[0].error
    audio, rate = sf.read(tmp_path / "triad.wav")
    assert rate == AUDIO_CODEC.sample_rate
    # Windows laid end to end at their start times: the last starts before the notes end.
    run = restore_run(trained_run.model_dir)
    window_seconds = (run.task_feature_lengths["targets"] - 1) * AUDIO_CODEC.hop / rate
    assert items[0].segments == math.ceil(2.4 / window_seconds)
    assert len(audio) > (items[0].segments - 1) * window_seconds * rate


@pytest.mark.parametrize(
    "translation, source, output",
    [("engrave", "soprano.musicxml", "soprano.png"), ("i2a", "page.png", "page.wav"),
     ("a2i", "tone.wav", "tone.png")],
)  # fmt: skip
def test_code_outputs_are_decoded_by_the_codecs(trained_run, files, tmp_path, translation,
                                                source, output):  # fmt: skip
    items = _run(trained_run, translation, [files[source]], tmp_path, max_length=24)
    assert items[0].status == "ok", items[0].error
    path = tmp_path / output
    if output.endswith(".png"):
        from PIL import Image

        with Image.open(path) as image:
            assert image.height >= IMAGE_CODEC.height
    else:
        assert sf.info(path).samplerate == AUDIO_CODEC.sample_rate


def test_score2audio_writes_one_file_and_the_exit_code_says_failure(trained_run, files, tmp_path):
    out = tmp_path / "performance.wav"
    argv = ["score2audio", str(files["soprano.musicxml"]), "-o", str(out),
            "--checkpoint", trained_run.model_dir, "--image-codec", trained_run.codecs["image"],
            "--audio-codec", trained_run.codecs["audio"], "--max-length", "12",
            "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 0
    assert sf.info(out).samplerate == AUDIO_CODEC.sample_rate
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["items"][0]["segments"] >= 2  # a system each, joined in order
    argv = ["omr", str(files["broken.png"]), "-o", str(tmp_path / "omr"),
            "--checkpoint", trained_run.model_dir, "--image-codec", trained_run.codecs["image"],
            "--no-progress"]  # fmt: skip
    assert cli.main(argv) == 1


def test_errors_come_before_any_work(trained_run, files, tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    with pytest.raises(RunNotFoundError, match="no config.gin"):
        _run(trained_run, "omr", [files["page.png"]], tmp_path / "out", model_dir=str(empty))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OutputDirError, match="cannot write the output folder"):
        _run(trained_run, "omr", [files["page.png"]], blocker / "out")
    with pytest.raises(Mt3UnifiedError, match="--audio-codec"):
        infer(model_dir=trained_run.model_dir, translation="amt",
              inputs=[str(files["tone.wav"])], output_dir=str(tmp_path / "amt"),
              progress=False)  # fmt: skip


def test_files_decoded_together_get_their_own_segments(trained_run, files, tmp_path):
    import shutil

    twin = tmp_path / "in" / "twin.png"
    twin.parent.mkdir()
    shutil.copy(files["page.png"], twin)
    together = _run(trained_run, "omr", [files["page.png"], twin], tmp_path / "both")
    alone = _run(trained_run, "omr", [files["page.png"]], tmp_path / "alone", batch_size=1)
    assert [i.segments for i in together + alone] == [3, 3, 3]
    expected = (tmp_path / "alone" / "page.lmx").read_text()
    # Greedy decoding of the same systems: the same tokens whoever shares the batch.
    assert (tmp_path / "both" / "page.lmx").read_text() == expected
    assert (tmp_path / "both" / "twin.lmx").read_text() == expected
