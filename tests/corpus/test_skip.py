"""Bad input is left out with its reason; the build goes on."""

from __future__ import annotations

import music21

from mt3_unified.corpus import synthetic
from mt3_unified.corpus.piece import build_piece
from mt3_unified.corpus.systems import LayoutConfig

from .conftest import TINY_PIECE_CONFIG, needs_fluidsynth

pytestmark = needs_fluidsynth


def _rests_then_notes(path):
    """12 measures of rests, then two of notes: the first systems hold no notes."""
    part = music21.stream.Part()
    for i in range(14):
        m = music21.stream.Measure(number=i + 1)
        if i == 0:
            m.timeSignature = music21.meter.TimeSignature("4/4")
        if i < 12:
            m.append(music21.note.Rest(quarterLength=4))
        else:
            m.append([music21.note.Note("C4"), music21.note.Note("E4")])
            m.append(music21.note.Note("G4", quarterLength=2))
        part.append(m)
    score = music21.stream.Score([part])
    score.write("musicxml", fp=str(path))
    return path


def test_systems_without_notes_are_skipped_with_their_reason(tmp_path):
    path = _rests_then_notes(tmp_path / "rests.musicxml")
    config = TINY_PIECE_CONFIG
    result = build_piece(path, "rests", config)
    assert result.systems, "the measures with notes still make a system"
    assert result.skipped
    for item, stage, reason in result.skipped:
        assert item.startswith("rests#system") and stage == "notes"
        assert "hold no notes" in reason


def test_a_bad_score_is_skipped_and_the_build_goes_on(tmp_path, chorale_path):
    bad = tmp_path / "broken.xml"
    bad.write_text("<score-partwise><part id='P1'><measure>", encoding="utf-8")
    empty = tmp_path / "empty.krn"
    empty.write_text("", encoding="utf-8")
    config = synthetic.SyntheticConfig(
        "test", TINY_PIECE_CONFIG.__class__(layout=LayoutConfig(page_width=1500))
    )
    sources = [("broken.xml", bad), ("empty.krn", empty), ("bwv66.6", chorale_path)]
    summary = synthetic.prepare(config, tmp_path / "data", progress=False, sources=sources)
    assert summary["pieces"] == 1 and summary["pieces_skipped"] == 2
    assert summary["systems"] == 3
    with open(summary["skipped_file"], encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0] == "item\tstage\treason"
    reasons = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    assert set(reasons) == {"broken.xml", "empty.krn"}
    assert all(r[2] for r in reasons.values())
    # Resumable: a second run rebuilds nothing and reports the same.
    cached = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "data").rglob("*.pkl"))
    again = synthetic.prepare(config, tmp_path / "data", progress=False, sources=sources)
    assert again == summary
    assert cached == sorted(
        (p.name, p.stat().st_mtime_ns) for p in (tmp_path / "data").rglob("*.pkl")
    )
