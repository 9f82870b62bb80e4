"""Codec training command: ``mt3u train-codec`` or ``python -m mt3_unified.codecs.main``.

Both take ``--gin-file F`` (repeatable; ``--gin_file`` too, as T5X writes it),
``--workdir W`` and gin bindings as ``--gin.NAME=VALUE`` (or ``--gin NAME=VALUE``).
"""

from __future__ import annotations

import argparse
import logging

from mt3_unified.hostmalloc import reexec_with_retaining_malloc
from mt3_unified.runtime.gin_config import GinArgumentParser, add_gin_arguments, parse_gin


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The codec training flags, on the module's own parser or on `mt3u train-codec`'s."""
    add_gin_arguments(parser, "the codec (e.g. gin/codecs/rqvae_tiny.gin)")
    parser.add_argument("--workdir", required=True, help="checkpoints, summaries, codec config")


def run_train_codec(args: argparse.Namespace) -> dict:
    """Trains the codec the gin files describe; prints the first and last validation metrics."""
    # Importing the trainer registers the codec configurables before gin parses.
    from mt3_unified.codecs.train import train_codec

    logging.basicConfig(level=logging.INFO)
    parse_gin(args.gin_file, args.gin_bindings, args.gin_search_paths)
    result = train_codec(args.workdir)
    if result["first"] is None:
        print("resumed from a checkpoint in the workdir (no step-0 validation)")
    else:
        print("first validation:", _compact(result["first"]))
    print("last validation:", _compact(result["last"]))
    return result


def main(argv: list[str] | None = None) -> dict:
    """``python -m mt3_unified.codecs.main``: parses the flags and runs `run_train_codec`."""
    parser = GinArgumentParser(description=run_train_codec.__doc__)
    add_arguments(parser)
    return run_train_codec(parser.parse_args(argv))


def _compact(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in sorted(metrics.items()))


if __name__ == "__main__":
    reexec_with_retaining_malloc()
    main()
