"""The `mt3u` command line: each subcommand on small real inputs, and its error exits."""

import argparse
import json
import re

import music21
import pytest

from mt3_unified import cli
from mt3_unified.runtime.gin_config import T5X_FLAG_ALIASES, GinArgumentParser
from tests.corpus.conftest import needs_fluidsynth


@pytest.fixture(scope="module")
def chorale(tmp_path_factory):
    """One real four-part chorale from music21's corpus, written as MusicXML and MIDI."""
    folder = tmp_path_factory.mktemp("chorale")
    score = music21.corpus.parse("bach/bwv66.6")
    xml = score.write("musicxml", fp=folder / "bwv66.musicxml")
    mid = score.write("midi", fp=folder / "bwv66.mid")
    return folder, xml, mid


def _subcommand_parsers(parser: argparse.ArgumentParser):
    """(name, parser) of every subcommand, nested ones included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from _subcommand_parsers(sub)


def test_every_registered_command_has_a_runner_and_a_parser():
    expected = {"lmx", "musicxml", "midi-events", "ser", "note-f1", "vocab", "build", "report"}
    assert expected | {"train", "train-codec"} <= set(cli.COMMANDS)
    parsers = dict(_subcommand_parsers(cli.build_parser()))
    assert set(parsers) == set(cli.COMMANDS)
    for registered in cli.COMMANDS.values():
        assert callable(registered.run) and registered.run is not registered.add_arguments


# DESIGN.md's gin command lines are T5X's (`--gin_file=...`): kept as aliases only.
T5X_GIN_ALIASES = set(T5X_FLAG_ALIASES.values())


def test_every_flag_is_kebab_case():
    kebab = re.compile(r"^(-[a-z]|--[a-z0-9]+(-[a-z0-9]+)*)$")
    odd = [
        (name, flag)
        for name, parser in _subcommand_parsers(cli.build_parser())
        for action in parser._actions
        for flag in action.option_strings
        if not kebab.match(flag) and flag not in T5X_GIN_ALIASES
    ]
    assert odd == []
    aliased = [
        action.option_strings
        for _, parser in _subcommand_parsers(cli.build_parser())
        for action in parser._actions
        if T5X_GIN_ALIASES & set(action.option_strings)
    ]
    assert all(any(kebab.match(flag) for flag in flags) for flags in aliased)


def test_train_parses_the_flags_of_python_m_mt3_unified_train_train():
    """`mt3u train` and the module share one flag definition: T5X's spellings and the
    kebab-case ones give the same namespace."""
    from mt3_unified.train.train import add_arguments

    module_parser = GinArgumentParser()
    add_arguments(module_parser)
    t5x = ["--gin_file=gin/models/tiny.gin", "--gin_file=gin/train.gin", "--gin.TRAIN_STEPS=5",
           "--gin_search_paths=/configs"]  # fmt: skip
    kebab = ["--gin-file", "gin/models/tiny.gin", "--gin-file=gin/train.gin", "--gin",
             "TRAIN_STEPS=5", "--gin-search-path", "/configs"]  # fmt: skip
    hosts = ["--coordinator-address", "10.0.0.1:1234", "--num-processes", "2", "--process-id", "1"]
    expected = {
        "gin_file": ["gin/models/tiny.gin", "gin/train.gin"], "gin_bindings": ["TRAIN_STEPS=5"],
        "gin_search_paths": ["/configs"], "coordinator_address": "10.0.0.1:1234",
        "num_processes": 2, "process_id": 1, "multihost": False,
    }  # fmt: skip
    for flags in (t5x, kebab):
        assert vars(module_parser.parse_args(flags + hosts)) == expected
        via_mt3u = vars(cli.build_parser().parse_args(["train", *flags, *hosts]))
        assert via_mt3u == {"command": "train", **expected}


def test_train_with_part_of_the_multihost_flags_gives_one_line_and_status_2(capsys):
    args = ["train", "--gin-file=gin/models/tiny.gin", "--num-processes", "2"]
    assert cli.main(args) == 2
    assert capsys.readouterr().err == (
        "mt3u train: --coordinator-address, --num-processes and --process-id go together "
        "(or --multihost alone, where JAX detects them)\n"
    )


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


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
    # Pitches masked, a's substitution (D4 -> E4) is no error: 3 of 8.
    assert report == {
        "examples": 2,
        "ser": 50.0,
        "ser_no_tuplets": 50.0,
        "ser_pitch_masked": 37.5,
    }


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


@needs_fluidsynth  # the tiny corpus renders audio
def test_a_train_that_fails_at_its_first_batch_exits_with_its_error(tiny_build, tmp_path):
    """The error is printed and the process exits (it used to hang: the trainer's tf.data
    iterator, left in the error's traceback, was destroyed at interpreter exit)."""
    import subprocess
    import sys
    from pathlib import Path

    data_dir, _ = tiny_build
    command = [
        sys.executable, "-m", "mt3_unified.cli", "train", "--gin-file", "gin/local_cpu.gin",
        "--gin.MIXTURE_OR_TASK_NAME='synthetic_tiny_lmx_to_midi_train'", "--gin.TRAIN_STEPS=2",
        f"--gin.MODEL_DIR='{tmp_path / 'run'}'", f"--gin.DataPaths.data_dir='{data_dir}'",
        # A model that wants log-mel inputs the tasks do not make: the first batch fails.
        "--gin.ModelConfig.continuous_input_dim=8",
        "--gin.train.progress=False", "--gin.seqio_dataset.log_dropped=False",
    ]  # fmt: skip
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=root)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "mt3u train: batch lacks feature 'encoder_continuous_inputs'" in result.stderr
