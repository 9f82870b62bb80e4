"""The metrics of the evaluations during training, read back from TensorBoard event files,
drawn against training time in the evaluation report and written as metric_curves.png."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PIL import Image

from mt3_unified.report.evaluation import METRIC_CURVES_FILE, evaluation_report, headline_curves
from mt3_unified.report.events import Point, read_scalars, training_clock


def _write_events(folder: Path, name: str, events: list[tuple[float, int, dict]]) -> None:
    """Event protos with exact wall times: (wall time, step, {tag: value}); an empty
    dict is the file_version event a writer starts with."""
    import tensorflow as tf
    from tensorboard.compat.proto import event_pb2, summary_pb2

    folder.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(folder / f"events.out.tfevents.{name}")) as writer:
        for wall_time, step, scalars in events:
            event = event_pb2.Event(wall_time=wall_time, step=step)
            if not scalars:
                event.file_version = "brain.Event:2"
            for tag, value in scalars.items():
                event.summary.value.add(tag=tag, simple_value=value)
            writer.write(event.SerializeToString())
    del summary_pb2


def test_read_scalars_gives_back_what_clu_wrote(tmp_path):
    from clu import metric_writers

    before = time.time()
    writer = metric_writers.SummaryWriter(str(tmp_path))
    writer.write_scalars(10, {"eval/t_image_to_lmx_eval/ser": 80.5, "eval/loss": 4.25})
    writer.write_scalars(20, {"eval/t_image_to_lmx_eval/ser": 70.0})
    writer.write_texts(20, {"note": "not a scalar"})
    writer.close()
    after = time.time()
    scalars = read_scalars(str(tmp_path))
    series = {
        tag: [(p.step, p.value) for p in points] for tag, points in scalars.items()
    }  # fmt: skip
    assert series == {
        "eval/loss": [(10, 4.25)],
        "eval/t_image_to_lmx_eval/ser": [(10, 80.5), (20, 70.0)],
    }
    walls = [p.wall_time for points in scalars.values() for p in points]
    assert all(before - 1 <= w <= after + 1 for w in walls)
    assert 0 <= training_clock(str(tmp_path))(max(walls)) <= after - before + 1


def test_read_scalars_orders_by_step_and_keeps_a_redone_steps_last_value(tmp_path):
    # A run resumed from its step-100 checkpoint opens a second file and redoes step 200.
    _write_events(tmp_path, "1.a", [(1000.0, 0, {}), (1060.0, 100, {"m": 0.5}),
                                    (1120.0, 200, {"m": 0.6})])  # fmt: skip
    _write_events(tmp_path, "2.b", [(2000.0, 0, {}), (2090.0, 200, {"m": 0.75}),
                                    (2030.0, 150, {"m": 0.625})])  # fmt: skip
    assert read_scalars(str(tmp_path)) == {
        "m": [Point(100, 1060.0, 0.5), Point(150, 2030.0, 0.625), Point(200, 2090.0, 0.75)]
    }
    assert read_scalars(str(tmp_path / "none")) == {}


def test_the_training_clock_leaves_out_the_pause_before_a_resumed_run(tmp_path):
    # The first process wrote from 1000 to 1120 s, the resumed one from 2000 to 2090 s.
    _write_events(tmp_path, "1.a", [(1000.0, 0, {}), (1060.0, 100, {"m": 0.5}),
                                    (1120.0, 200, {"m": 0.6})])  # fmt: skip
    _write_events(tmp_path, "2.b", [(2000.0, 0, {}), (2090.0, 200, {"m": 0.75})])
    clock = training_clock(str(tmp_path))
    assert [clock(t) for t in (1000.0, 1060.0, 1120.0, 1500.0, 2000.0, 2090.0)] == [
        0.0, 60.0, 120.0, 120.0, 120.0, 210.0
    ]  # fmt: skip
    assert training_clock(str(tmp_path / "none")) is None


def _model_dir(root: Path) -> Path:
    model_dir = root / "model"
    _write_events(model_dir / "train", "1.t", [(1000.0, 0, {}), (1001.0, 1, {"loss": 5.0})])
    evaluations = []
    for step, wall, ser, f1, codes in [(100, 1060.0, 80.0, 0.01, 0.1),
                                       (200, 1180.0, 70.0, 0.03, 0.2)]:  # fmt: skip
        evaluations.append((wall, step, {
            "eval/loss": 4.0,
            "eval/d_image_to_lmx_eval/ser": ser,
            "eval/d_image_to_lmx_eval/ser_no_tuplets": ser - 1,
            "eval/d_audio_to_midi_eval/onset_f1@50ms": f1,
            "eval/d_audio_to_midi_eval/onset_f1@100ms": f1 * 2,
            "eval/d_lmx_to_image_eval/code_accuracy_k0": codes * 2,
            "eval/d_lmx_to_image_eval/code_accuracy": codes,
            "eval/d_image_to_lmx_eval/loss": 3.0,
        }))  # fmt: skip
    _write_events(model_dir / "eval", "1.e", [(1000.0, 0, {}), *evaluations])
    return model_dir


def test_headline_curves_pick_each_tasks_metric_against_minutes(tmp_path):
    curves = headline_curves(str(_model_dir(tmp_path)))
    f1 = [pytest.approx(0.01), pytest.approx(0.03)]  # stored as float32
    assert curves == {
        "d_audio_to_midi_eval": {"metric": "onset_f1@50ms", "steps": [100, 200],
                                 "minutes": [1.0, 3.0], "values": f1},
        "d_image_to_lmx_eval": {"metric": "ser", "steps": [100, 200], "minutes": [1.0, 3.0],
                                "values": [80.0, 70.0]},
        "d_lmx_to_image_eval": {"metric": "code_accuracy", "steps": [100, 200],
                                "minutes": [1.0, 3.0], "values": [pytest.approx(0.1),
                                                                  pytest.approx(0.2)]},
    }  # fmt: skip
    assert headline_curves(str(tmp_path / "no_model")) == {}


def test_a_resumed_runs_curve_counts_minutes_of_training_not_the_pause(tmp_path):
    model_dir = _model_dir(tmp_path)  # trained from 1000 s; evaluated at 1060 and 1180 s
    _write_events(model_dir / "train", "2.t", [(5000.0, 0, {}), (5120.0, 300, {"loss": 4.0})])
    _write_events(
        model_dir / "eval", "2.e", [(5120.0, 300, {"eval/d_image_to_lmx_eval/ser": 60.0})]
    )
    curve = headline_curves(str(model_dir))["d_image_to_lmx_eval"]
    # The first process's last event is its eval at 1180 s: the pause is 1180-5000 s.
    assert curve["minutes"] == [1.0, 3.0, 5.0] and curve["values"] == [80.0, 70.0, 60.0]


def test_the_report_draws_them_and_writes_the_png_into_the_eval_dir(tmp_path):
    model_dir = _model_dir(tmp_path)
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    results = {"model_dir": str(model_dir), "step": 200, "split": "test", "tables": []}
    (eval_dir / "results.json").write_text(json.dumps(results))
    text = evaluation_report(eval_dir).read_text()
    section = text[text.index("<h2>Metrics during training</h2>") :]
    assert section.count("<img ") == 1
    columns = ["step", "minutes", "audio_to_midi onset F1 @50ms", "image_to_lmx SER (%)",
               "lmx_to_image code accuracy"]  # fmt: skip
    assert "".join(f"<th>{c}</th>" for c in columns) in section
    assert "<tr><td>100</td><td>1</td><td>0.01</td><td>80</td><td>0.1</td></tr>" in section
    assert "<tr><td>200</td><td>3</td><td>0.03</td><td>70</td><td>0.2</td></tr>" in section
    png = Image.open(eval_dir / METRIC_CURVES_FILE)
    assert png.format == "PNG" and png.width > 3 * png.height / 2  # three panels in a row


def test_no_evaluation_during_training_is_a_line_of_text(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    eval_dir = tmp_path / "eval"
    eval_dir.mkdir()
    (eval_dir / "results.json").write_text(json.dumps({"model_dir": str(model_dir)}))
    text = evaluation_report(eval_dir).read_text()
    assert "No evaluation during training in" in text
    assert not (eval_dir / METRIC_CURVES_FILE).exists()


def test_report_curves_draws_several_runs_and_tables_their_points(tmp_path, capsys):
    from mt3_unified.cli import main

    small, large = _model_dir(tmp_path / "a"), _model_dir(tmp_path / "b")
    output = tmp_path / "out" / "amt.png"
    runs = ["--run", f"tiny={small}", "--run", f"d256={large}"]
    assert main(["report", "curves", *runs, "--task", "audio_to_midi", "-o", str(output)]) == 0
    table = output.with_suffix(".md")
    assert capsys.readouterr().out.strip() == f"curves written to {output} and {table}"
    assert Image.open(output).format == "PNG"
    assert table.read_text().splitlines() == [
        "| run | task | step | minutes | metric | value |",
        "|---|---|---|---|---|---|",
        "| tiny | audio_to_midi | 100 | 1 | onset F1 @50ms | 0.01 |",
        "| tiny | audio_to_midi | 200 | 3 | onset F1 @50ms | 0.03 |",
        "| d256 | audio_to_midi | 100 | 1 | onset F1 @50ms | 0.01 |",
        "| d256 | audio_to_midi | 200 | 3 | onset F1 @50ms | 0.03 |",
    ]


def test_report_curves_names_a_run_without_evaluations(tmp_path, capsys):
    from mt3_unified.cli import main

    model_dir = _model_dir(tmp_path)
    args = ["report", "curves", "--run", f"x={model_dir}", "--task", "midi_to_audio"]
    assert main([*args, "-o", str(tmp_path / "c.png")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"mt3u report: {model_dir}: no evaluation during training of a task containing "
        "'midi_to_audio' (<model_dir>/eval, written every train.eval_every steps)"
    )
    assert main(["report", "curves", "--run", str(model_dir), "-o", str(tmp_path / "c.png")]) == 2
    assert "give --run LABEL=MODEL_DIR" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
