"""`mt3u report mixtures`: labelled models side by side, from hand-made eval dirs."""

from __future__ import annotations

import json

import pytest

from mt3_unified.cli import main
from mt3_unified.report.mixtures import MixturesError, markdown, mixtures
from tests.report.test_comparison import _amt, _eval_dir, _midi_to_lmx

SER = ["system", "SER (%)", "SER w/o tuplets (%)", "SER, pitches masked (%)", "EMD pitch",
       "EMD duration", "examples"]  # fmt: skip
AUDIO = ["system", "onset F1 @50ms", "onset F1 @100ms", "onset F1 @200ms", "FAD", "examples"]


def _omr(ser: float, pitch: float, examples: int) -> dict:
    rows = [["model", ser, ser, ser - 10.0, pitch, 0.3, examples],
            ["random pairing", 81.5, 81.0, 67.25, 2.5, 0.4, examples]]  # fmt: skip
    return {"title": "OMR (image → LMX)", "columns": SER, "rows": rows}


def _image_to_audio(f1: float, at_random: float, floor: float) -> dict:
    rows = [["model", 0.0, 0.0, f1, None, 32], ["model, paired at random", 0.0, 0.0, at_random,
            None, 32], ["random pairing", 0.0, 0.0, floor, None, 32]]  # fmt: skip
    return {"title": "Image → audio", "columns": AUDIO, "rows": rows}


@pytest.fixture
def labelled(tmp_path):
    """OMR alone (two splits), OMR beside image -> audio (two splits and three seeds)."""
    alone = [
        _eval_dir(tmp_path, "omr", "test", "m_omr", 4500, [_omr(63.25, 1.5, 136)]),
        _eval_dir(tmp_path, "omr_h", "test_heldout", "m_omr", 4500, [_omr(65.0, 1.25, 139)]),
    ]
    both = [
        _eval_dir(tmp_path, "i2a", "test", "m_i2a", 4500, [_omr(66.5, 1.75, 136)]),
        _eval_dir(tmp_path, "i2a_h", "test_heldout", "m_i2a", 4500, [_omr(71.5, 1.8, 139)]),
    ]
    for seed, (f1, at_random, floor) in enumerate([(0.09, 0.1, 0.15), (0.1, 0.09, 0.1),
                                                    (0.08, 0.11, 0.125)]):  # fmt: skip
        _eval_dir(tmp_path, f"i2a_seed{seed}", "test", "m_i2a", 4500,
                  [_image_to_audio(f1, at_random, floor)])  # fmt: skip
    return [*(("OMR alone", d) for d in alone), *(("+ image -> audio", d) for d in both),
            ("+ image -> audio", str(tmp_path / "i2a_seed*"))]  # fmt: skip


def test_each_pair_gets_a_table_of_the_labels_with_seeds_as_mean_and_range(labelled):
    text = markdown(mixtures(labelled))
    omr = """## OMR (image → LMX)

| model | SER (%), test | SER, pitches masked (%), test | EMD pitch, test | SER (%), held-out style | SER, pitches masked (%), held-out style | EMD pitch, held-out style | examples | step |
|---|---|---|---|---|---|---|---|---|
| OMR alone | 63.250 | 53.250 | 1.500 | 65.000 | 55.000 | 1.250 | 136 / 139 | 4500 |
| + image -> audio | 66.500 | 56.500 | 1.750 | 71.500 | 61.500 | 1.800 | 136 / 139 | 4500 |
| random pairing | 81.500 | 67.250 | 2.500 | 81.500 | 67.250 | 2.500 | 136 / 139 | 4500 |

Lower is better: SER (%), SER, pitches masked (%), EMD pitch.

The random pairing is OMR alone's eval dirs'.
"""  # noqa: E501
    audio = """## Image → audio

| model | onset F1 @200ms, test | examples | step |
|---|---|---|---|
| + image -> audio | 0.090 (0.080-0.100) | 32 | 4500 |
| + image -> audio, paired at random | 0.100 (0.090-0.110) | 32 | 4500 |
| random pairing | 0.125 (0.100-0.150) | 32 | 4500 |

Higher is better: onset F1 @200ms.
"""
    assert omr in text
    assert audio in text
    assert text.index(omr) < text.index(audio)  # pairs in the order of the headlines
    seeds = ", ".join(labelled[-1][1].replace("*", str(seed)) for seed in range(3))
    assert f"| Image → audio | random pairing | test | {seeds} |" in text


def test_the_json_keeps_every_value_and_the_command_writes_both(labelled, tmp_path):
    output = tmp_path / "out" / "mixtures.md"
    words = sum((["--mixture", f"{label}={path}"] for label, path in labelled), [])
    assert main(["report", "mixtures", *words, "-o", str(output)]) == 0
    assert output.read_text() == markdown(mixtures(labelled))
    found = json.loads(output.with_suffix(".json").read_text())
    assert found["labels"] == ["OMR alone", "+ image -> audio"]
    audio = found["pairs"][1]
    assert [(row["label"], row["system"]) for row in audio["rows"]] == [
        ("+ image -> audio", "model"), ("+ image -> audio", "model, paired at random"),
        ("+ image -> audio", "random pairing"),
    ]  # fmt: skip
    assert audio["rows"][0]["cells"] == {"test": {"onset F1 @200ms": [0.09, 0.1, 0.08]}}


def test_seeds_of_other_steps_or_judges_and_empty_globs_are_refused(tmp_path):
    one = _eval_dir(tmp_path, "a", "test", "m", 4500, [_amt(0.1, 32)])
    other = _eval_dir(tmp_path, "b", "test", "m", 9000, [_amt(0.2, 32)])
    with pytest.raises(MixturesError, match=r"x: .*b and .*a give audio_to_midi on test and "
                       "differ in the model's steps"):  # fmt: skip
        mixtures([("x", one), ("x", other)])
    assert len(mixtures([("x", one), ("y", other)])["pairs"][0]["rows"]) == 3
    judged = tmp_path / "c"
    judged.mkdir()
    results = json.loads((tmp_path / "a" / "results.json").read_text())
    (judged / "results.json").write_text(json.dumps({**results, "transcriber": "runs/judge"}))
    with pytest.raises(MixturesError, match="differ in how they were judged"):
        mixtures([("x", one), ("x", str(judged))])
    assert "judged or decoded differently" in markdown(mixtures([("x", one), ("y", str(judged))]))
    with pytest.raises(MixturesError, match="matches no eval dir"):
        mixtures([("x", str(tmp_path / "nothing*"))])
    m2l = _eval_dir(tmp_path, "m2l", "test", "m", 1, [_midi_to_lmx()])
    assert mixtures([("x", m2l)])["pairs"][0]["pair"] == "midi_to_lmx"
    with pytest.raises(MixturesError, match="no headline model row"):
        mixtures([("x", _eval_dir(tmp_path, "empty", "test", "m", 1, []))])


def test_the_command_asks_for_what_it_lacks(tmp_path, capsys):
    assert main(["report", "mixtures", "--mixture", str(tmp_path), "-o", "t.md"]) == 2
    assert "give --mixture LABEL=EVAL_DIR" in capsys.readouterr().err
    assert main(["report", "mixtures", "--mixture", f"x={tmp_path}"]) == 2
