"""The inference and evaluation flags (kebab-case), shared by the `python -m` entry points
and the `mt3u` subcommands; light to import (`mt3u --help` builds every parser)."""

from __future__ import annotations

import argparse

from mt3_unified.infer.translations import TRANSLATIONS
from mt3_unified.runtime.gin_config import add_gin_arguments


# Flags left out take gin's bindings (gin/infer.gin), then `infer`'s defaults.
def add_arguments(parser: argparse.ArgumentParser, translation: str | None = None) -> None:
    """The inference flags (kebab-case), for the module's parser or a `mt3u` subcommand."""
    if translation is None:
        parser.add_argument("--translation", required=True, choices=sorted(TRANSLATIONS))
    parser.add_argument("inputs", nargs="+", help="files, folders or globs")
    parser.add_argument("-o", "--output", required=True,
                        help="output folder (score2audio: the .wav file)")  # fmt: skip
    parser.add_argument("--checkpoint", required=True, help="the model dir of a training run")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--batch-size", type=int)
    add_decoding_arguments(parser)
    parser.add_argument("--max-length", type=int, help="frames to decode (default: targets')")
    parser.add_argument(
        "--overwrite", action="store_true", default=None, help="redo outputs already there"
    )
    parser.add_argument("--image-codec", help="image codec workdir (default: the bake's)")
    parser.add_argument("--audio-codec", help="audio codec workdir (default: the bake's)")
    parser.add_argument("--no-progress", action="store_true")
    add_gin_arguments(parser, "decoding settings (e.g. gin/infer.gin)", required=False)


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """How the model decodes: greedy unless a temperature (with top-k / top-p) or beams."""
    parser.add_argument("--temperature", type=float, help="0: greedy")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--beams", type=int, help="beam search (symbolic outputs)")
    parser.add_argument("--length-penalty", type=float, help="beam search's alpha: scores "
                        "divided by ((5 + length) / 6) ** alpha (default 0.6)")  # fmt: skip


def decoding_settings(args: argparse.Namespace) -> dict:
    """The decoding flags given, as `model.decoding.DecodingSettings`' field names."""
    given = {"temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p,
             "num_beams": args.beams, "length_penalty": args.length_penalty}  # fmt: skip
    return {key: value for key, value in given.items() if value is not None}


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """`mt3u eval`'s flags (and ``python -m mt3_unified.infer.evaluate``'s); flags left out
    take gin's bindings (gin/eval.gin), then `evaluate`'s defaults."""
    parser.add_argument("--checkpoint", required=True, help="the model dir of a training run")
    parser.add_argument("-o", "--output", required=True, help="the eval dir to write")
    parser.add_argument("--step", type=int, help="checkpoint step (default: the latest)")
    parser.add_argument("--split", help="the split to evaluate (default: test)")
    parser.add_argument("--dataset", help="dataset of the tasks (default: the run's)")
    parser.add_argument("--max-examples", type=int, help="examples per task (default 64)")
    parser.add_argument("--pairs", help="the modality pairs to evaluate, comma-separated, "
                        "e.g. image_to_lmx,audio_to_midi (default: all)")  # fmt: skip
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--samples", type=int, help="items per task kept for the report")
    parser.add_argument("--image-codec", help="image codec workdir (default: the bake's)")
    parser.add_argument("--audio-codec", help="audio codec workdir (default: the bake's)")
    parser.add_argument("--embedder", help="FAD embedder: codec (default) or module:function")
    parser.add_argument("--transcriber", metavar="MODEL_DIR", help="the run whose AMT "
                        "transcribes generated audio (default: the evaluated run's)")  # fmt: skip
    parser.add_argument("--reader", metavar="MODEL_DIR", help="the run whose OMR reads "
                        "generated images, on the same image codes (default: the evaluated "
                        "run's)")  # fmt: skip
    add_decoding_arguments(parser)  # the evaluated model's; judges stay greedy
    parser.add_argument("--decoding-outputs", metavar="MODALITIES", help="the output "
                        "modalities the decoding flags apply to, comma-separated, e.g. "
                        "audio (default: all; the others greedy)")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true")
    add_gin_arguments(parser, "evaluation settings (e.g. gin/eval.gin)", required=False)
