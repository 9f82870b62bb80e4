"""The `mt3u` command: one subcommand per job (linearize, tokenize, score, build, ...)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mt3_unified.errors import Mt3UnifiedError
from mt3_unified.hostmalloc import reexec_with_retaining_malloc
from mt3_unified.runtime.gin_config import GinArgumentParser
from mt3_unified.vocab.layout import DEFAULT_CODEBOOK_SIZE, DEFAULT_CODEBOOKS

# TensorFlow's C++ start-up chatter hides the command's own output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# note_seq imports pydub, which warns about ffmpeg; nothing here decodes audio with it.
warnings.filterwarnings("ignore", message="Couldn't find ffmpeg")


@dataclass(frozen=True)
class Command:
    """A subcommand: what adds its flags to its parser, what runs it, its help line."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    help: str
    # Runs XLA on the host: as a program it re-executes with a malloc that keeps its
    # memory between steps (see mt3_unified.hostmalloc).
    runs_xla: bool = False


# Subcommands import their modules lazily so that `mt3u --help` stays instant
# (TensorFlow and JAX take seconds to import).
COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    help_text: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    *,
    runs_xla: bool = False,
):
    """Register the decorated function as subcommand ``name``'s runner, with the function
    that adds the subcommand's flags."""

    def register(run: Callable[[argparse.Namespace], int]):
        COMMANDS[name] = Command(add_arguments, run, help_text, runs_xla)
        return run

    return register


def _read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split()


# --------------------------------------------------------------------- lmx
def _lmx_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("score", type=Path)
    p.add_argument("--part", help="part id (e.g. P1) or 0-based index; required for multi-part")
    p.add_argument("-o", "--output", type=Path, help="write the tokens here instead of stdout")


@command("lmx", "linearize a MusicXML score (.musicxml, .xml, .mxl) into LMX tokens", _lmx_args)
def run_lmx(args) -> int:
    from mt3_unified.vocab.lmx import musicxml_to_lmx

    part = int(args.part) if args.part and args.part.isdigit() else args.part
    text = " ".join(musicxml_to_lmx(args.score, part=part))
    _emit(text, args.output)
    return 0


# ---------------------------------------------------------------- musicxml
def _musicxml_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("lmx_file", type=Path)
    p.add_argument("-o", "--output", type=Path, help="write the MusicXML here instead of stdout")


@command(
    "musicxml",
    "turn LMX tokens (a text file) back into MusicXML, repairing what it must",
    _musicxml_args,
)
def run_musicxml(args) -> int:
    from mt3_unified.vocab.lmx import lmx_to_musicxml

    xml, report = lmx_to_musicxml(_read_lines(args.lmx_file), return_report=True)
    _emit(xml, args.output)
    if report.total:
        print(f"{args.lmx_file}: repaired {report.summary()}", file=sys.stderr)
    return 0


# -------------------------------------------------------------- midi events
def _midi_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("midi", type=Path)
    p.add_argument("--segment-seconds", type=float, default=None)
    p.add_argument("-o", "--output", type=Path, help="write one segment per line here")


@command("midi-events", "encode a MIDI file into segments of MT3-style event tokens", _midi_args)
def run_midi_events(args) -> int:
    import dataclasses

    from mt3_unified.vocab import midi_events
    from mt3_unified.vocab.midi_io import load_midi

    config = midi_events.MidiEventConfig()
    if args.segment_seconds:
        config = dataclasses.replace(config, segment_seconds=args.segment_seconds)
    codec = midi_events.EventCodec(config)
    names = codec.token_strings()
    segments = midi_events.encode_note_sequence(load_midi(args.midi), config)
    _emit("\n".join(" ".join(names[i] for i in seg) for seg in segments), args.output)
    return 0


# ---------------------------------------------------------------------- ser
def _ser_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("references", type=Path, help="folder of <name>.lmx files")
    p.add_argument("predictions", type=Path, help="folder of <name>.lmx files")


@command(
    "ser", "symbol error rate between reference and predicted LMX files, matched by name", _ser_args
)
def run_ser(args) -> int:
    from mt3_unified.metrics.ser import ser_metrics

    refs = {p.stem: p for p in sorted(args.references.glob("*.lmx"))}
    if not refs:
        raise _usage(f"{args.references}: no .lmx files")
    missing = [n for n in refs if not (args.predictions / f"{n}.lmx").exists()]
    for name in missing:
        # A missing prediction counts as empty: every reference token is an error.
        print(f"{args.predictions / name}.lmx: missing, scored as empty", file=sys.stderr)
    hyps = [[] if n in missing else _read_lines(args.predictions / f"{n}.lmx") for n in refs]
    metrics = ser_metrics([_read_lines(p) for p in refs.values()], hyps)
    print(json.dumps({"examples": len(refs), **metrics}, indent=2))
    return 0


# --------------------------------------------------------------- note f1
def _f1_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", type=Path)
    p.add_argument("estimate", type=Path)


@command(
    "note-f1",
    "note onset and onset+offset F1 of a transcription against a reference MIDI",
    _f1_args,
)
def run_note_f1(args) -> int:
    from mt3_unified.metrics.transcription import transcription_metrics

    print(json.dumps(transcription_metrics(args.reference, args.estimate), indent=2))
    return 0


# -------------------------------------------------------------------- vocab
def _vocab_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image-codebooks", type=int, default=DEFAULT_CODEBOOKS)
    p.add_argument("--audio-codebooks", type=int, default=DEFAULT_CODEBOOKS)
    p.add_argument("--codebook-size", type=int, default=DEFAULT_CODEBOOK_SIZE)


@command("vocab", "print the unified vocabulary's id layout", _vocab_args)
def run_vocab(args) -> int:
    from mt3_unified.vocab.unified import UnifiedVocabulary, VocabularyConfig, describe_layout

    config = VocabularyConfig(
        image_codebooks=args.image_codebooks,
        image_codebook_size=args.codebook_size,
        audio_codebooks=args.audio_codebooks,
        audio_codebook_size=args.codebook_size,
    )
    print(describe_layout(UnifiedVocabulary(config)))
    return 0


# -------------------------------------------------------------------- build
def _build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("corpus", choices=["synthetic"], help="which corpus builder")
    p.add_argument(
        "--config",
        default="tiny",
        help="tiny (tests), demo, chorales, chorales3, music21, full or paper "
        "(corpus/synthetic.py)",
    )
    p.add_argument("--data-dir", type=Path, default=Path("data"))
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--no-pieces", action="store_true", help="skip the whole-piece dataset")
    p.add_argument("--beam", action="store_true", help="run as an Apache Beam pipeline")


@command(
    "build",
    "build a paired corpus as a TFDS dataset (resumable; skips bad items with reasons)",
    _build_args,
)
def run_build(args) -> int:
    import contextlib

    from mt3_unified.corpus.builders.synthetic_scores import build_synthetic

    # TFDS prints progress to stdout; keep stdout for the JSON summary alone.
    with contextlib.redirect_stdout(sys.stderr):
        summary = build_synthetic(
            args.config,
            args.data_dir,
            num_workers=args.workers,
            pieces=not args.no_pieces,
            use_beam=args.beam,
        )
    print(json.dumps(summary, indent=2, default=str))
    return 0


# --------------------------------------------------------------------- bake
def _bake_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", default="synthetic_scores/tiny", help="TFDS name[/config]")
    p.add_argument("--split", default="all", help="a split, comma-separated splits, or all")
    p.add_argument("--data-dir", default=None, help="the corpus's TFDS data dir")
    p.add_argument("--image-workdir", help="the image codec's `mt3u train-codec` workdir")
    p.add_argument("--audio-workdir", help="the audio codec's `mt3u train-codec` workdir")
    p.add_argument(
        "--output-dir", help="write <split>.tfrecord, skipped.tsv, features.json, codecs.json here"
    )
    p.add_argument("--output", help="the TFRecord file to write (one split only)")
    p.add_argument(
        "--report", type=Path, help="also write an HTML page of originals vs decoded codes"
    )
    p.add_argument("--report-split", default="validation", help="the split the report shows")


@command(
    "bake",
    "encode a corpus's splits into RVQ codes with trained codecs (+ shift variants)",
    _bake_args,
    runs_xla=True,
)
def run_bake(args) -> int:
    import contextlib

    from mt3_unified.codecs.bake import bake_corpus
    from mt3_unified.codecs.loading import load_encoders

    # TFDS and TensorFlow print progress to stdout; keep stdout for the JSON summary.
    with contextlib.redirect_stdout(sys.stderr):
        encoders = load_encoders(args.image_workdir, args.audio_workdir)
        splits = None if args.split == "all" else [s for s in args.split.split(",") if s]
        summary = bake_corpus(
            args.corpus,
            splits,
            *encoders,
            data_dir=args.data_dir,
            output_dir=args.output_dir,
            output=args.output,
        )
        if args.report:
            from mt3_unified.report.codecs import codec_report

            summary["report"] = codec_report(
                args.corpus, args.report_split, args.report, *encoders, data_dir=args.data_dir
            )
    print(json.dumps(summary, indent=2, default=str))
    return 0


# -------------------------------------------------------------- train-codec
def _train_codec_args(p: argparse.ArgumentParser) -> None:
    from mt3_unified.codecs.main import add_arguments

    add_arguments(p)


@command(
    "train-codec",
    "train an image or audio codec from gin files (resumes from the workdir's checkpoints)",
    _train_codec_args,
    runs_xla=True,
)
def run_train_codec(args) -> int:
    from mt3_unified.codecs.main import run_train_codec as train

    train(args)
    return 0


# -------------------------------------------------------------------- train
def _train_args(p: argparse.ArgumentParser) -> None:
    from mt3_unified.train.train import add_arguments

    add_arguments(p)


@command(
    "train",
    "train the model from gin files, on one process or many (resumes from the model dir)",
    _train_args,
    runs_xla=True,
)
def run_train(args) -> int:
    from mt3_unified.train.train import run_train as train

    train(args)
    return 0


# ---------------------------------------------------------------- inference
def _register_translations() -> None:
    """One subcommand per translation of `infer.batch.TRANSLATIONS` (omr, amt, ...)."""
    from mt3_unified.infer.translations import TRANSLATIONS

    for name, translation in TRANSLATIONS.items():

        def add_arguments(p, name=name):
            from mt3_unified.infer.flags import add_arguments as add

            add(p, translation=name)

        def run(args, name=name):
            from mt3_unified.infer.infer import run_infer

            return run_infer(args, translation=name)

        command(name, f"{translation.help} (a trained checkpoint)", add_arguments,
                runs_xla=True)(run)  # fmt: skip


_register_translations()


# --------------------------------------------------------------------- eval
def _eval_args(p: argparse.ArgumentParser) -> None:
    from mt3_unified.infer.flags import add_eval_arguments

    add_eval_arguments(p)


@command(
    "eval",
    "the paper's tables (SER, note F1, FAD, EMD) of a checkpoint on a split, with samples",
    _eval_args,
    runs_xla=True,
)
def run_eval(args) -> int:
    from mt3_unified.infer.evaluate import run_evaluate

    return run_evaluate(args)


# ------------------------------------------------------------------- report
def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "what",
        choices=[
            "corpus",
            "eval",
            "compare",
            "mixtures",
            "curves",
            "codec-curve",
            "codec-spectra",
            "step-curve",
        ],
    )
    p.add_argument("eval_dir", nargs="?", type=Path, help="eval: the folder `mt3u eval` wrote")
    p.add_argument("--single-task", action="append", default=[], metavar="EVAL_DIR",
                   help="compare: a single-task mixture's eval dir (repeat)")  # fmt: skip
    p.add_argument("--all-task", action="append", default=[], metavar="EVAL_DIR",
                   help="compare: the all-task mixture's eval dir of a split (repeat)")  # fmt: skip
    p.add_argument("--mixture", action="append", default=[], metavar="LABEL=EVAL_DIR",
                   help="mixtures: a labelled model's eval dir, or a quoted glob of them "
                   "(repeat; a label's dirs of one pair and split are seeds)")  # fmt: skip
    p.add_argument("--run", action="append", default=[], metavar="LABEL=MODEL_DIR",
                   help="curves: a run whose eval metrics during training are drawn")  # fmt: skip
    p.add_argument("--task", help="curves: only the tasks whose name contains this")
    p.add_argument("--point", action="append", default=[], metavar="STEP=EVAL_DIR",
                   help="codec-curve: an AMT eval of the codec's step-STEP checkpoint")  # fmt: skip
    p.add_argument("--eval", action="append", default=[], metavar="EVAL_DIR",
                   help="step-curve: an eval dir of the run at some step (repeat: one per "
                   "checkpoint and seed)")  # fmt: skip
    p.add_argument("--pair", help="step-curve: the pair whose table is drawn (image_to_audio, ...)")
    p.add_argument("--metric", help="step-curve: the table's column (e.g. 'onset F1 @200ms')")
    p.add_argument("--target", type=float,
                   help="step-curve: the metric's target, drawn dashed; the table says the "
                   "step whose model reaches it")  # fmt: skip
    p.add_argument("--codec", action="append", default=[], metavar="LABEL=CODEC",
                   help="codec-spectra: an audio codec workdir (or WORKDIR/checkpoints/STEP) "
                   "whose reconstruction is shown (repeat)")  # fmt: skip
    p.add_argument("--corpus", help="codec-spectra: the TFDS corpus "
                   "(default: synthetic_scores/<config>)")  # fmt: skip
    p.add_argument("--split", default="test", help="codec-spectra: the corpus split")
    p.add_argument("--example", type=int, default=0, help="codec-spectra: the example's index")
    p.add_argument("--config", default="tiny", help="corpus: the synthetic corpus config")
    p.add_argument("--data-dir", type=Path, default=Path("data"))
    p.add_argument("--systems", type=int, default=3, help="corpus: systems shown per split")
    p.add_argument("--model-dir", help="eval: the run whose loss and metric curves are shown")
    p.add_argument("--screenshot", type=Path, help="eval: check it in headless chromium, "
                   "save a screenshot here")  # fmt: skip
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="the report; compare, mixtures: the Markdown table (JSON beside it); "
                   "curves, codec-curve, codec-spectra, step-curve: the PNG (its figures as "
                   "Markdown beside it)")  # fmt: skip


@command(
    "report",
    "write an HTML report of a built corpus or of an evaluation, or the table of "
    "single-task against all-task mixtures (compare), or of any labelled models side by side "
    "(mixtures), several runs' metrics during "
    "training against minutes of training (curves), or what an audio codec keeps of the "
    "notes against its training steps (codec-curve), or the log-mel of a corpus example "
    "above audio codecs' reconstructions of it (codec-spectra), or one pair's model and "
    "random-pairing rows against the model's training steps (step-curve)",
    _report_args,
)
def run_report(args) -> int:
    if args.what == "eval":
        return _eval_report(args)
    if args.what == "compare":
        return _compare_report(args)
    if args.what == "mixtures":
        return _mixtures_report(args)
    if args.what == "curves":
        return _curves_report(args)
    if args.what == "codec-curve":
        return _codec_curve_report(args)
    if args.what == "codec-spectra":
        return _codec_spectra_report(args)
    if args.what == "step-curve":
        return _step_curve_report(args)
    from mt3_unified.report.corpus import corpus_report

    output = args.output or Path("outputs") / f"corpus_{args.config}.html"
    path = corpus_report(args.data_dir, args.config, output, systems_per_split=args.systems)
    print(f"report written to {path}")
    return 0


def _eval_report(args) -> int:
    from mt3_unified.report.evaluation import evaluation_report

    if args.eval_dir is None:
        raise _usage("report eval: name the eval dir (what `mt3u eval -o DIR` wrote)")
    path = evaluation_report(args.eval_dir, model_dir=args.model_dir, output=args.output)
    print(f"report written to {path}")
    if args.screenshot:
        from mt3_unified.report.browser import check_in_browser

        found = check_in_browser(path, args.screenshot)
        print(f"chromium: {found['images']} images, {found['audio']} audio players, "
              f"{len(found['errors'])} errors; screenshot {args.screenshot}")  # fmt: skip
        for error in found["errors"]:
            print(f"  {error}", file=sys.stderr)
        return 1 if found["errors"] else 0
    return 0


def _compare_report(args) -> int:
    from mt3_unified.report.comparison import write_comparison

    if not args.single_task or not args.all_task or args.output is None:
        raise _usage("report compare: give --single-task EVAL_DIR and --all-task EVAL_DIR "
                     "(each repeatable) and -o TABLE.md")  # fmt: skip
    markdown, as_json = write_comparison(args.single_task, args.all_task, args.output)
    print(f"comparison written to {markdown} and {as_json}")
    return 0


def _mixtures_report(args) -> int:
    from mt3_unified.report.mixtures import write_mixtures

    labelled = [word.split("=", 1) for word in args.mixture]
    if (
        not labelled
        or any(len(pair) != 2 or not all(pair) for pair in labelled)
        or (args.output is None)
    ):
        raise _usage("report mixtures: give --mixture LABEL=EVAL_DIR (repeatable; a label "
                     "may name several dirs, or a quoted glob) and -o TABLES.md")  # fmt: skip
    markdown, as_json = write_mixtures(labelled, args.output)
    print(f"tables written to {markdown} and {as_json}")
    return 0


def _curves_report(args) -> int:
    from mt3_unified.report.run_curves import write_run_curves

    runs = _labelled(args.run, args.output, "report curves: give --run LABEL=MODEL_DIR "
                     "(repeatable, labels unique) and -o CURVES.png")  # fmt: skip
    png, table = write_run_curves(runs, args.output, args.task)
    print(f"curves written to {png} and {table}")
    return 0


def _labelled(words: list[str], output: Path | None, usage: str) -> dict[str, str]:
    """{label: path} of LABEL=PATH flag values; the usage error unless every value has a
    label, the labels are unique and an output is named."""
    pairs = dict(word.split("=", 1) for word in words if "=" in word)
    if not pairs or len(pairs) != len(words) or output is None:
        raise _usage(usage)
    return pairs


def _codec_curve_report(args) -> int:
    from mt3_unified.report.codec_curve import write_codec_curve

    points = {}
    for point in args.point:
        step, _, eval_dir = point.partition("=")
        if not step.isdigit() or not eval_dir or int(step) in points:
            raise _usage(f"report codec-curve: {point!r} is not STEP=EVAL_DIR with a new step")
        points[int(step)] = eval_dir
    if not points or args.output is None:
        raise _usage("report codec-curve: give --point STEP=EVAL_DIR (repeatable) and -o CURVE.png")
    png, table = write_codec_curve(points, args.output)
    print(f"codec curve written to {png} and {table}")
    return 0


def _step_curve_report(args) -> int:
    from mt3_unified.infer.eval_context import TITLES
    from mt3_unified.report.step_curve import write_step_curve

    if not args.eval or args.pair not in TITLES or not args.metric or args.output is None:
        raise _usage(f"report step-curve: give --eval EVAL_DIR (repeatable), --pair (one of "
                     f"{', '.join(TITLES)}), --metric COLUMN and -o CURVE.png")  # fmt: skip
    png, table = write_step_curve(args.eval, args.pair, args.metric, args.output, args.target)
    print(f"step curve written to {png} and {table}")
    return 0


def _codec_spectra_report(args) -> int:
    from mt3_unified.report.codec_spectra import write_codec_spectra

    usage = ("report codec-spectra: give --codec LABEL=CODEC_DIR (repeatable, labels unique) "
             "and -o SPECTRA.png")  # fmt: skip
    codecs = _labelled(args.codec, args.output, usage)
    corpus = args.corpus or f"synthetic_scores/{args.config}"
    png, table = write_codec_spectra(
        corpus, args.split, args.example, codecs, args.output, str(args.data_dir)
    )
    print(f"codec spectra written to {png} and {table}")
    return 0


# ------------------------------------------------------------------ plumbing
def _emit(text: str, output: Path | None) -> None:
    if output is None:
        print(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")


def _usage(message: str) -> Mt3UnifiedError:
    return Mt3UnifiedError(message)


def build_parser() -> argparse.ArgumentParser:
    # T5X-style --gin.NAME=VALUE flags reach the commands that take gin bindings.
    parser = GinArgumentParser(prog="mt3u", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, registered in COMMANDS.items():
        parser_of_command = sub.add_parser(name, help=registered.help, description=registered.help)
        registered.add_arguments(parser_of_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    selected = COMMANDS[args.command]
    if argv is None and selected.runs_xla:
        reexec_with_retaining_malloc()
    try:
        return selected.run(args)
    except (Mt3UnifiedError, OSError) as error:
        # Expected failures (bad files, missing folders) get one clear line, not a traceback.
        print(f"mt3u {args.command}: {error}", file=sys.stderr)
        release_frames(error)
        return 2


def release_frames(error: BaseException) -> None:
    """Clears the locals of the frames a failed command left in `error`'s tracebacks, now:
    a tf.data iterator held there (the trainer's, say) would otherwise be destroyed at
    interpreter exit, where its pipeline threads can no longer take the GIL, and the process
    hung after printing the error instead of exiting."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__


if __name__ == "__main__":
    sys.exit(main())
