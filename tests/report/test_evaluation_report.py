"""The evaluation report shows every table, sample and curve, embedded, and loads in a browser."""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from mt3_unified.report.evaluation import evaluation_report
from mt3_unified.report.html import HtmlReport

TABLES = [
    {
        "title": "OMR (image -> LMX)",
        "columns": ["row", "SER", "SER without tuplets", "examples"],
        "rows": [["model", 35.1, 34.0, 12], ["random pairing", 95.2, 95.5, 12]],
        "note": "SER in percent, lower is better",
    },
    {
        "title": "Transcription (audio -> MIDI)",
        "columns": ["row", "onset F1", "examples"],
        "rows": [["model", 0.875, 7], ["silence", 0.0, 7]],
    },
]
# What the fixture's files add up to: curves 1; sample 0: input, target,
# prediction, piano roll; sample 1: target, prediction, piano roll.
IMAGES = 8
# Sample 1: input, target and generated audio.
AUDIO = 3


def _shown(cell: object) -> str:
    # HtmlReport.table writes floats to 4 significant digits (34.0 -> "34").
    return f"{cell:.4g}" if isinstance(cell, float) else str(cell)


def _png(path: Path, color: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (60, 20), color).save(path)


def _wav(path: Path, hz: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tone = 0.2 * np.sin(2 * np.pi * hz * np.arange(8000) / 8000)
    soundfile.write(path, tone.astype(np.float32), 8000)


def _make_eval_dir(tmp_path: Path) -> Path:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    with open(model_dir / "loss_history.jsonl", "w") as f:
        for step in (0, 100, 200):
            f.write(
                json.dumps({"step": step, "losses": {"omr": 3 - step / 100, "amt": 2.5}}) + "\n"
            )
    eval_dir = tmp_path / "eval"
    for name, color in [("input", "white"), ("target", "gray"), ("prediction", "blue")]:
        _png(eval_dir / f"samples/0/{name}.png", color)
        _png(eval_dir / f"samples/1/{name}.png", color)
    for name, hz in [("input", 220), ("target", 440), ("prediction", 660)]:
        _wav(eval_dir / f"samples/1/{name}.wav", hz)
    (eval_dir / "samples/0/target.lmx").write_text("measure key:fifths:0 G4 quarter")
    (eval_dir / "samples/0/prediction.lmx").write_text("measure key:fifths:0 A4 <quarter>")
    notes = {"target": [[0.0, 0.5, 60], [0.5, 1.0, 64]], "prediction": [[0.01, 0.5, 60]]}
    samples = [
        {
            "task": "synthetic_scores_image_to_lmx_eval",
            "piece_id": "bwv66.6#0",
            "title": "bwv66.6 system 0",
            "input_modality": "image",
            "output_modality": "lmx",
            "files": {
                "input_image": "samples/0/input.png",
                "target_image": "samples/0/target.png",
                "prediction_image": "samples/0/prediction.png",
                "target_lmx": "samples/0/target.lmx",
                "prediction_lmx": "samples/0/prediction.lmx",
            },
            "notes": notes,
        },
        {
            "task": "synthetic_scores_audio_to_image_eval",
            "piece_id": "bwv66.6#1",
            "title": "bwv66.6 system 1",
            "input_modality": "audio",
            "output_modality": "image",
            "files": {
                "input_audio": "samples/1/input.wav",
                "target_audio": "samples/1/target.wav",
                "prediction_audio": "samples/1/prediction.wav",
                "target_image": "samples/1/target.png",
                "prediction_image": "samples/1/prediction.png",
            },
            "notes": notes,
        },
    ]
    results = {
        "model_dir": str(model_dir),
        "step": 1200,
        "split": "test",
        "created": "2026-12-01T18:00:00Z",
        "tables": TABLES,
        "samples": samples,
    }
    (eval_dir / "results.json").write_text(json.dumps(results))
    return eval_dir


def test_report_shows_every_table_value_and_embeds_all_media(tmp_path):
    eval_dir = _make_eval_dir(tmp_path)
    path = evaluation_report(eval_dir)
    assert path == eval_dir / "report.html"
    text = path.read_text()
    for table in TABLES:
        assert table["title"].replace(">", "&gt;") in text
        for column in table["columns"]:
            assert f"<th>{column}</th>" in text
        for row in table["rows"]:
            for cell in row:
                assert f"<td>{_shown(cell)}</td>" in text
    assert "SER in percent, lower is better" in text
    assert "<td>1200</td>" in text and "<td>test</td>" in text and "2026-12-01T18:00:00Z" in text
    assert text.count("<img ") == IMAGES
    assert text.count("<audio ") == AUDIO
    sources = re.findall(r"src=[\"']?([^\"' >]*)", text)
    assert len(sources) == IMAGES + AUDIO
    assert all(src.startswith("data:") for src in sources)
    assert "<pre>measure key:fifths:0 A4 &lt;quarter&gt;</pre>" in text
    assert 'class="bad"' not in text


def test_audio_is_embedded_byte_for_byte(tmp_path):
    eval_dir = _make_eval_dir(tmp_path)
    text = evaluation_report(eval_dir).read_text()
    embedded = re.findall(r"data:audio/wav;base64,([A-Za-z0-9+/=]+)", text)
    files = [eval_dir / f"samples/1/{name}.wav" for name in ("input", "target", "prediction")]
    assert [base64.b64decode(e) for e in embedded] == [f.read_bytes() for f in files]


def test_missing_or_wrong_file_gives_a_bad_line_and_the_report_still_writes(tmp_path):
    eval_dir = _make_eval_dir(tmp_path)
    (eval_dir / "samples/1/prediction.wav").unlink()
    (eval_dir / "samples/0/target.png").write_bytes(b"not a png")
    output = tmp_path / "elsewhere" / "r.html"
    text = evaluation_report(eval_dir, output=output).read_text()
    bad = re.findall(r'<p class="bad">([^<]*)</p>', text)
    assert len(bad) == 2
    assert any("prediction_audio" in line and "samples/1/prediction.wav" in line for line in bad)
    assert any("target_image" in line and "not a PNG file" in line for line in bad)
    # The line stands where the player would have been: after the target's player.
    assert text.index("target audio</figcaption>") < text.index("missing prediction_audio")
    assert text.count("<img ") == IMAGES - 1 and text.count("<audio ") == AUDIO - 1


def test_no_history_is_a_line_of_text_not_a_curve(tmp_path):
    eval_dir = _make_eval_dir(tmp_path)
    (tmp_path / "model" / "loss_history.jsonl").unlink()
    text = evaluation_report(eval_dir).read_text()
    assert "No training loss history" in text
    assert text.count("<img ") == IMAGES - 1


def test_model_dir_that_is_not_here_skips_the_curves(tmp_path):
    eval_dir = _make_eval_dir(tmp_path)
    shutil.rmtree(tmp_path / "model")
    text = evaluation_report(eval_dir).read_text()
    assert "No model dir here" in text


def test_explicit_model_dir_wins(tmp_path):
    eval_dir = _make_eval_dir(tmp_path)
    other = tmp_path / "moved_model"
    (tmp_path / "model").rename(other)
    text = evaluation_report(eval_dir, model_dir=str(other)).read_text()
    assert text.count("<img ") == IMAGES and str(other) in text


def test_image_row_and_audio_file_keep_captions():
    text = HtmlReport("t").image_row([(b"\x89PNG", "a<b")]).audio_file(b"RIFF", "t&a").render()
    assert '<div class="row"><figure><img src="data:image/png;base64,' in text
    assert "<figcaption>a&lt;b</figcaption>" in text and "<figcaption>t&amp;a</figcaption>" in text


needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None or shutil.which("chromedriver") is None,
    reason="needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)",
)


@needs_chromium
def test_report_loads_in_headless_chromium(tmp_path):
    from mt3_unified.report.browser import check_in_browser

    report = evaluation_report(_make_eval_dir(tmp_path))
    screenshot = tmp_path / "report.png"
    result = check_in_browser(report, screenshot)
    assert result == {"images": IMAGES, "audio": AUDIO, "errors": []}
    assert screenshot.stat().st_size > 0
    assert Image.open(screenshot).format == "PNG"


@needs_chromium
def test_browser_check_catches_a_broken_image_and_player(tmp_path):
    from mt3_unified.report.browser import check_in_browser

    # The check is only worth something if it can fail: bytes that are no PNG or WAV.
    page = HtmlReport("broken").image(b"\x89PNG not really", alt="fake").audio_file(b"RIFF junk")
    result = check_in_browser(page.write(tmp_path / "broken.html"), tmp_path / "broken.png")
    assert result["images"] == 1 and result["audio"] == 1
    assert any("image 0 (fake) did not load" in e for e in result["errors"])
    assert any(e.startswith("audio 0 did not load") for e in result["errors"])


def test_browser_check_names_what_is_missing(tmp_path, monkeypatch):
    from mt3_unified.report import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(browser.BrowserUnavailableError, match="chromium and chromedriver"):
        browser.check_in_browser(tmp_path / "r.html", tmp_path / "r.png")
