"""Inference command: ``python -m mt3_unified.infer.infer`` or ``mt3u omr|amt|synth|engrave|
i2a|a2i|score2audio`` (the same flags).

``infer(...)`` is keyword-only and configurable by gin (gin/infer.gin names its macros),
so a test or a notebook calls it directly. The model comes from the checkpoint's own
saved gin config (`infer.restore`), never from a config typed again.
Exit code: 0 when every item succeeded or was already there, 1 when any failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import gin

from mt3_unified.hostmalloc import reexec_with_retaining_malloc
from mt3_unified.infer.batch import MANIFEST_FILE, Item, expand_inputs, load_codecs, run_batch
from mt3_unified.infer.flags import add_arguments, decoding_settings
from mt3_unified.infer.translations import TRANSLATIONS
from mt3_unified.runtime.gin_config import GinArgumentParser, parse_gin


@gin.configurable
def infer(
    *,
    model_dir: str = gin.REQUIRED,
    translation: str = gin.REQUIRED,
    inputs: Sequence[str] = gin.REQUIRED,
    output_dir: str = gin.REQUIRED,
    checkpoint_step: int | None = None,
    batch_size: int = 8,
    temperature: float = 0.0,
    top_k: int = 0,
    top_p: float = 1.0,
    num_beams: int = 1,
    length_penalty: float = 0.6,
    max_length: int | None = None,
    overwrite: bool = False,
    image_codec: str | None = None,
    audio_codec: str | None = None,
    output_file: str | None = None,
    progress: bool = True,
    bindings: Sequence[str] = (),
) -> list[Item]:
    """Translates ``inputs`` (files, folders, globs) with the run in ``model_dir`` and writes
    the outputs and ``manifest.json`` to ``output_dir`` (`infer.batch`).

    ``translation`` is one of `batch.TRANSLATIONS`; decoding is greedy unless a
    temperature (with top-k / top-p) or beams are given; ``image_codec``/``audio_codec``
    override the codecs that baked the run's corpus; ``output_file`` names the single
    output of a single input (score2audio's ``-o OUT.wav``); ``bindings`` are gin bindings
    applied over the run's own config (e.g. ``DataPaths.baked_dir`` of a moved corpus).
    """
    from mt3_unified.infer.restore import restore_run

    if translation not in TRANSLATIONS:
        raise ValueError(f"unknown translation {translation!r}; one of {', '.join(TRANSLATIONS)}")
    chosen = TRANSLATIONS[translation]
    out_dir, stems = Path(output_dir), None
    paths = expand_inputs(inputs, chosen.suffixes)
    if output_file:
        if len(paths) != 1:
            raise ValueError(f"one output file names the output of one input, got {len(paths)}")
        out_dir, stems = Path(output_file).parent, {paths[0]: Path(output_file).stem}
    from mt3_unified.infer.batch import check_output_dir

    check_output_dir(out_dir)  # before the model is loaded: nothing may be wasted
    run = restore_run(model_dir, checkpoint_step, bindings=bindings)
    codecs = load_codecs(run, chosen, {"image": image_codec, "audio": audio_codec})
    settings = dict(temperature=temperature, top_k=top_k, top_p=top_p, num_beams=num_beams,
                    length_penalty=length_penalty)  # fmt: skip
    if max_length:
        settings["max_length"] = max_length
    return run_batch(run, chosen, paths, out_dir, codecs, batch_size=batch_size,
                     settings=settings, overwrite=overwrite, progress=progress,
                     stems=stems)  # fmt: skip


def run_infer(args: argparse.Namespace, translation: str | None = None) -> int:
    """Runs the flags' inference; prints a summary line; 1 when any item failed."""
    import mt3_unified.tasks  # noqa: F401  (bindings may name DataPaths and the like)

    parse_gin(args.gin_file, args.gin_bindings, args.gin_search_paths)
    name = translation or args.translation
    single_file = name == "score2audio" and args.output.lower().endswith(".wav")
    given = {
        "checkpoint_step": args.step, "batch_size": args.batch_size,
        **decoding_settings(args), "max_length": args.max_length, "overwrite": args.overwrite,
        "image_codec": args.image_codec, "audio_codec": args.audio_codec,
    }  # fmt: skip
    out_dir = Path(args.output).parent if single_file else Path(args.output)
    items = infer(
        model_dir=args.checkpoint,
        translation=name,
        inputs=args.inputs,
        output_dir=str(out_dir),
        output_file=args.output if single_file else None,
        progress=not args.no_progress,
        # Again after the run's config.gin replaces gin's state (infer.restore).
        bindings=args.gin_bindings,
        **{key: value for key, value in given.items() if value is not None},
    )
    counts = {s: sum(i.status == s for i in items) for s in ("ok", "exists", "failed")}
    print(f"{name}: {counts['ok']} written, {counts['exists']} already there, "
          f"{counts['failed']} failed; manifest in {out_dir / MANIFEST_FILE}")  # fmt: skip
    return 1 if counts["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = GinArgumentParser(prog="python -m mt3_unified.infer.infer", description=__doc__)
    add_arguments(parser)
    return run_infer(parser.parse_args(argv))


if __name__ == "__main__":
    reexec_with_retaining_malloc()
    sys.exit(main())
