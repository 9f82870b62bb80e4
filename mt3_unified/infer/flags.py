"""The inference flags (kebab-case), shared by `python -m mt3_unified.infer.infer` and the
`mt3u` translation subcommands; light to import (`mt3u --help` builds every parser)."""

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
    parser.add_argument("--temperature", type=float, help="0: greedy")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--beams", type=int, help="beam search (symbolic outputs)")
    parser.add_argument("--max-length", type=int, help="frames to decode (default: targets')")
    parser.add_argument(
        "--overwrite", action="store_true", default=None, help="redo outputs already there"
    )
    parser.add_argument("--image-codec", help="image codec workdir (default: the bake's)")
    parser.add_argument("--audio-codec", help="audio codec workdir (default: the bake's)")
    parser.add_argument("--no-progress", action="store_true")
    add_gin_arguments(parser, "decoding settings (e.g. gin/infer.gin)", required=False)
