"""Codec training command: ``python -m mt3_unified.codecs.main --gin_file=F --workdir=D``."""

from __future__ import annotations

import argparse
import logging

import gin

from mt3_unified.hostmalloc import reexec_with_retaining_malloc


def parse_gin(gin_files: list[str], bindings: list[str]) -> None:
    """Loads gin files, then T5X-style ``--gin.NAME=VALUE`` overrides."""
    import mt3_unified.codecs.train  # noqa: F401  (registers the configurables)

    gin.parse_config_files_and_bindings(gin_files, bindings)


def main(argv: list[str] | None = None) -> dict:
    """Trains the codec a gin file describes; prints the first and last validation metrics."""
    from mt3_unified.codecs.train import train_codec

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--gin_file", action="append", default=[], required=True)
    parser.add_argument("--workdir", required=True)
    args, rest = parser.parse_known_args(argv)
    bindings = [arg[len("--gin.") :] for arg in rest if arg.startswith("--gin.")]
    unknown = [arg for arg in rest if not arg.startswith("--gin.")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(level=logging.INFO)
    parse_gin(args.gin_file, bindings)
    result = train_codec(args.workdir)
    if result["first"] is None:
        print("resumed from a checkpoint in the workdir (no step-0 validation)")
    else:
        print("first validation:", _compact(result["first"]))
    print("last validation:", _compact(result["last"]))
    return result


def _compact(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.4g}" for name, value in sorted(metrics.items()))


if __name__ == "__main__":
    reexec_with_retaining_malloc()
    main()
