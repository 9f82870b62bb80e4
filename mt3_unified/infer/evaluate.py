"""The paper's evaluation tables of one checkpoint on one split, with samples, in an eval dir.

`evaluate` decodes each registered pair's ``_eval`` task (greedy, the first
``max_examples`` of the split, read as `train.evaluation.TaskMetricEvaluator` reads
them), scores them as the paper does and writes ``results.json`` (the format
`report.evaluation` reads), ``results.md`` and ``samples/<task>/<i>/`` files:

- image -> LMX (OMR), MIDI -> LMX: SER and SER without tuplets;
- audio -> MIDI (AMT), LMX -> MIDI: note onset and onset-offset F1 (mir_eval); AMT on
  log-mel frames also on whole test systems, original and decoded by the audio codec
  (the paper's codec upper bound);
- MIDI -> audio, image -> audio: the generated audio is transcribed by the model's own
  AMT, or by another run's (``transcriber``: a model that transcribes better judges the
  audio and not the judge), decoded and re-encoded by the audio codec that AMT reads,
  and scored against the ground-truth notes (image -> audio after DTW alignment,
  `metrics.alignment`, in every row); FAD against the decoded ground-truth codes; the
  random pairing is the same judge's transcription of another example's ground-truth
  audio, so it scores an unrelated real performance, not a perfect judge;
- audio -> image: EMD of pitch and duration token histograms of the model's own OMR of
  each generated image, or another run's (``reader``: an OMR that reads pitches judges the
  images and not the judge), against its ground-truth LMX, averaged over the examples;
- LMX -> image: code accuracy and PSNR of the decoded images.

Every table has a "random pairing" floor (targets scored against a seeded permutation
of the targets) where the metric pairs examples; the far-modal and synthesis pairs also
score the model's outputs against the other examples' references ("model, paired at
random"), which an output that ignores its input scores as well as its own row; other
reference rows are named in each table's note. A row that could not be computed is left
out and the note says why.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from pathlib import Path

import gin

from mt3_unified.infer.batch import check_output_dir
from mt3_unified.infer.eval_audio import score_amt, score_audio
from mt3_unified.infer.eval_context import (
    CODEC_FLAGS,
    NEEDS_CODEC,
    OUTPUT_MODALITIES,
    Context,
    EvaluationError,
)
from mt3_unified.infer.eval_decode import decode_pair, pair_tasks, run_dataset
from mt3_unified.infer.eval_results import RESULTS_JSON, markdown, write_results
from mt3_unified.infer.eval_samples import write_samples
from mt3_unified.infer.eval_tables import score_codes, score_emd, score_notes, score_ser

SCORERS = {
    "image_to_lmx": score_ser,
    "midi_to_lmx": score_ser,
    "audio_to_midi": score_amt,
    "lmx_to_midi": score_notes,
    "lmx_to_image": score_codes,
    "midi_to_audio": score_audio,
    "image_to_audio": score_audio,
    "audio_to_image": score_emd,
}


def check_codecs(pairs: Sequence[str], workdirs: dict[str, str | None]) -> None:
    """Raises EvaluationError naming the flag when a pair's codec is missing or not a folder."""
    for pair in pairs:
        modality = NEEDS_CODEC.get(pair)
        if modality and not workdirs.get(modality):
            raise EvaluationError(
                f"{pair} is scored on decoded {modality}: pass the {modality} codec's workdir "
                f"with {CODEC_FLAGS[modality]} (the run's corpus names none)"
            )
        workdir = workdirs.get(modality) if modality else None
        if workdir and not os.path.isdir(workdir):
            raise EvaluationError(f"{workdir}: no such {modality} codec workdir")


def check_reader_codec(reader: str, read: str | None, evaluated: str | None) -> None:
    """Raises EvaluationError when the ``reader`` run's image codes are another codec's than
    the evaluated run's: its OMR would read codes that mean other pixels."""
    if read and evaluated and os.path.realpath(read) != os.path.realpath(evaluated):
        raise EvaluationError(
            f"--reader {reader}: its OMR reads the image codes of {read}, this evaluation's "
            f"images are codes of {evaluated}; pick a reader trained on the same bake"
        )


def select_pairs(found: dict[str, str], pairs: Sequence[str] | None, where: str) -> dict[str, str]:
    """The ``found`` {pair: eval task} of ``pairs`` (None: all of them), in ``found``'s
    order; a pair not found raises EvaluationError naming ``where`` and those found."""
    if pairs is None:
        return found
    unknown = [pair for pair in pairs if pair not in found]
    if unknown or not pairs:
        raise EvaluationError(
            f"{where}: no pair {', '.join(unknown) or '(none given)'} to evaluate; "
            f"the pairs are {', '.join(found) or '(none)'}"
        )
    return {pair: name for pair, name in found.items() if pair in pairs}


def non_greedy(**settings) -> dict:
    """The decoding settings that differ from `model.decoding.DecodingSettings`' defaults
    (greedy decoding: none), what results.json records."""
    import dataclasses

    from mt3_unified.model.decoding import DecodingSettings

    defaults = {f.name: f.default for f in dataclasses.fields(DecodingSettings)}
    return {key: value for key, value in settings.items() if value != defaults[key]}


# ------------------------------------------------------------------ entry point
@gin.configurable
def evaluate(
    *,
    model_dir: str = gin.REQUIRED,
    output_dir: str = gin.REQUIRED,
    split: str = "test",
    dataset: str | None = None,
    checkpoint_step: int | None = None,
    max_examples: int = 64,
    batch_size: int = 8,
    samples_per_task: int = 2,
    image_codec: str | None = None,
    audio_codec: str | None = None,
    embedder=None,
    pairs: Sequence[str] | None = None,
    transcriber: str | None = None,
    reader: str | None = None,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    num_beams: int = 1,
    length_penalty: float = 0.6,
    decoding_outputs: Sequence[str] | None = None,
    seed: int = 0,
    progress: bool = True,
    bindings: Sequence[str] = (),
) -> dict:
    """Evaluates checkpoint ``checkpoint_step`` (latest) of ``model_dir`` on ``split`` of
    ``dataset`` (the run's) into ``output_dir``; returns the results.json dict.

    ``pairs``: the modality pairs to evaluate (e.g. ``["image_to_lmx"]``; default all);
    ``image_codec``/``audio_codec``: codec workdirs (default: those that baked the run's
    corpus); ``embedder``: FAD's (`infer.embedders.load_embedder`); ``transcriber``: the
    model dir of a run whose AMT transcribes generated audio (latest checkpoint; default:
    this run's); ``reader``: the model dir of a run whose OMR reads generated images (latest
    checkpoint, the same image codec; default: this run's); ``temperature``, ``top_k``,
    ``top_p``, ``num_beams``, ``length_penalty``: how the model decodes its translations
    (default greedy; beams for symbolic outputs only; judges stay greedy), sampling seeded
    by ``seed``; ``decoding_outputs``: the output modalities they apply to (e.g.
    ``["audio"]``; default all, the others greedy);
    ``bindings``: gin bindings added to each run's config (e.g. ``DataPaths.baked_dir``).
    """
    from tqdm import tqdm

    from mt3_unified.infer.restore import restore_run

    if max_examples < 1 or batch_size < 1:
        raise EvaluationError(f"max_examples and batch_size must be >= 1, got "
                              f"{max_examples}, {batch_size}")  # fmt: skip
    decoding_outputs = tuple(decoding_outputs or OUTPUT_MODALITIES)
    if unknown := set(decoding_outputs) - set(OUTPUT_MODALITIES):
        raise EvaluationError(f"--decoding-outputs: unknown modality {sorted(unknown)}; "
                              f"one of {', '.join(OUTPUT_MODALITIES)}")  # fmt: skip
    output = Path(output_dir)
    check_output_dir(output)
    # The transcriber first: restoring a run leaves gin holding its config, and the
    # evaluated run's must hold everywhere but inside the transcriber's decoding.
    judge = restore_run(transcriber, bindings=bindings) if transcriber else None
    judge_codec = judge.codec_workdirs().get("audio") if judge else None
    image_judge = restore_run(reader, bindings=bindings) if reader else None
    run = restore_run(model_dir, checkpoint_step, bindings=bindings)
    dataset = dataset or run_dataset(run.mixture_or_task_name)
    found = pair_tasks(dataset, split)
    if not found:
        raise EvaluationError(f"{dataset}: no registered pair has a {split!r} split")
    pairs = select_pairs(found, pairs, f"{dataset} ({split})")
    baked = run.codec_workdirs()
    workdirs = {
        "image": image_codec or baked.get("image"),
        "audio": audio_codec or baked.get("audio"),
    }
    check_codecs(list(pairs), workdirs)
    if image_judge:
        check_reader_codec(reader, image_judge.codec_workdirs().get("image"), workdirs["image"])
    ctx = Context(
        run, split, max_examples, batch_size, seed, output, samples_per_task, workdirs, embedder,
        transcriber=judge, transcriber_codec=judge_codec or workdirs["audio"], reader=image_judge,
        decoding=non_greedy(temperature=temperature, top_k=top_k, top_p=top_p,
                            num_beams=num_beams, length_penalty=length_penalty),
        decoding_outputs=decoding_outputs,
    )  # fmt: skip
    tables, samples = [], []
    for pair, name in tqdm(pairs.items(), desc="evaluate", unit="task", disable=not progress):
        decoded = decode_pair(ctx, pair, name)
        if decoded is None:
            continue
        tables.append(SCORERS[pair](ctx, decoded))
        samples += write_samples(ctx, decoded)
    results = {
        "model_dir": str(model_dir),
        "mixture": run.mixture_or_task_name,
        "step": run.step,
        "split": split,
        "dataset": dataset,
        "pairs": list(pairs),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "tables": tables,
        "samples": samples,
        "skipped": ctx.skipped,
        "transcriber": judge and {"model_dir": str(transcriber), "step": judge.step},
        "reader": image_judge and {"model_dir": str(reader), "step": image_judge.step},
        "decoding": ctx.decoding,
        "decoding_outputs": list(decoding_outputs),
    }
    write_results(output, results)
    return results


# ------------------------------------------------------------------ command line
def run_evaluate(args) -> int:
    """Runs the flags' evaluation and prints the Markdown tables and where they are."""
    import mt3_unified.tasks  # noqa: F401  (bindings may name DataPaths and the like)
    from mt3_unified.infer.flags import decoding_settings
    from mt3_unified.runtime.gin_config import parse_gin

    parse_gin(args.gin_file, args.gin_bindings, args.gin_search_paths)
    given = {
        "checkpoint_step": args.step, "split": args.split, "dataset": args.dataset,
        "max_examples": args.max_examples, "batch_size": args.batch_size,
        "samples_per_task": args.samples, "image_codec": args.image_codec,
        "audio_codec": args.audio_codec, "embedder": args.embedder,
        "pairs": args.pairs and [pair for pair in args.pairs.split(",") if pair],
        "transcriber": args.transcriber, "reader": args.reader, **decoding_settings(args),
        "decoding_outputs": args.decoding_outputs and args.decoding_outputs.split(","),
    }  # fmt: skip
    results = evaluate(
        model_dir=args.checkpoint,
        output_dir=args.output,
        progress=not args.no_progress,
        # Again after the run's config.gin replaces gin's state (infer.restore).
        bindings=list(args.gin_bindings),
        **{key: value for key, value in given.items() if value is not None},
    )
    print(markdown(results))
    print(f"results in {Path(args.output) / RESULTS_JSON}; HTML: mt3u report eval {args.output}")
    return 0


def main(argv=None) -> int:
    from mt3_unified.infer.flags import add_eval_arguments
    from mt3_unified.runtime.gin_config import GinArgumentParser

    parser = GinArgumentParser(prog="python -m mt3_unified.infer.evaluate", description=__doc__)
    add_eval_arguments(parser)
    return run_evaluate(parser.parse_args(argv))


if __name__ == "__main__":
    import sys

    from mt3_unified.hostmalloc import reexec_with_retaining_malloc

    reexec_with_retaining_malloc()
    sys.exit(main())
