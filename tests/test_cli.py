"""The `mt3u` command line: each subcommand on small real inputs, and its error exits."""

import json

import music21
import pytest

from mt3_unified import cli


@pytest.fixture(scope="module")
def chorale(tmp_path_factory):
    """One real four-part chorale from music21's corpus, written as MusicXML and MIDI."""
    folder = tmp_path_factory.mktemp("chorale")
    score = music21.corpus.parse("bach/bwv66.6")
    xml = score.write("musicxml", fp=folder / "bwv66.musicxml")
    mid = score.write("midi", fp=folder / "bwv66.mid")
    return folder, xml, mid


def test_vocab_prints_layout(capsys):
    assert cli.main(["vocab"]) == 0
    out = capsys.readouterr().out
    assert "20 .. 246    lmx" in out
    assert out.strip().endswith("vocab_size = 9984 (9953 in use)")


def test_lmx_needs_a_part_for_multi_part_scores(chorale, capsys):
    _, xml, _ = chorale
    assert cli.main(["lmx", str(xml)]) == 2
    err = capsys.readouterr().err
    assert str(xml) in err and "P1" in err


def test_lmx_then_musicxml_then_lmx_round_trips(chorale, tmp_path):
    _, xml, _ = chorale
    first = tmp_path / "soprano.lmx"
    assert cli.main(["lmx", str(xml), "--part", "0", "-o", str(first)]) == 0
    tokens = first.read_text().split()
    assert tokens[0] == "measure" and "clef:G2" in tokens
    rebuilt = tmp_path / "soprano.musicxml"
    assert cli.main(["musicxml", str(first), "-o", str(rebuilt)]) == 0
    again = tmp_path / "again.lmx"
    assert cli.main(["lmx", str(rebuilt), "-o", str(again)]) == 0
    assert again.read_text().split() == tokens


def test_midi_events_writes_segments(chorale, tmp_path):
    _, _, mid = chorale
    out = tmp_path / "events.txt"
    assert cli.main(["midi-events", str(mid), "--segment-seconds", "2", "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) > 5
    assert all("pitch:" in line for line in lines[:3])


def test_ser_scores_folders(tmp_path, capsys):
    refs, preds = tmp_path / "refs", tmp_path / "preds"
    refs.mkdir(), preds.mkdir()
    (refs / "a.lmx").write_text("measure C4 quarter D4 quarter")
    (refs / "b.lmx").write_text("measure rest whole")
    (preds / "a.lmx").write_text("measure C4 quarter E4 quarter")
    assert cli.main(["ser", str(refs), str(preds)]) == 0
    report = json.loads(capsys.readouterr().out)
    # a: 1 substitution; b: missing, so 3 deletions; 4 errors over 8 reference tokens.
    assert report == {"examples": 2, "ser": 50.0, "ser_no_tuplets": 50.0}


def test_note_f1_of_a_file_against_itself(chorale, capsys):
    _, _, mid = chorale
    assert cli.main(["note-f1", str(mid), str(mid)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["onset_f1@50ms"] == 1.0


def test_bad_file_gives_one_line_and_status_2(tmp_path, capsys):
    bad = tmp_path / "broken.musicxml"
    bad.write_text("<score-partwise><part id='P1'><measure>")
    assert cli.main(["lmx", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]


@pytest.mark.slow
def test_build_then_report_the_tiny_corpus(tmp_path, capsys):
    """The README's main job, end to end: build the tiny corpus, then its HTML report."""
    data = tmp_path / "data"
    assert cli.main(["build", "synthetic", "--config", "tiny", "--data-dir", str(data)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pieces"] == 4 and summary["pieces_skipped"] == 0
    assert set(summary["datasets"]) == {"tiny", "tiny_pieces"}
    report = tmp_path / "corpus.html"
    args = ["report", "corpus", "--config", "tiny", "--data-dir", str(data), "-o", str(report)]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip() == f"report written to {report}"
    html = report.read_text()
    assert html.count("<audio controls") == 9  # 3 systems from each of 3 splits
    assert "<td>train</td>" in html and "<td>validation</td>" in html
    # A second build resumes: nothing is rebuilt and the data is kept.
    assert cli.main(["build", "synthetic", "--config", "tiny", "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out)["systems"] == summary["systems"]
