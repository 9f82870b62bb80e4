"""Training command: ``python -m mt3_unified.train.train`` or ``mt3u train`` (the same flags).

Flags as T5X writes them: ``--gin_file`` (repeatable: a model size, then a run such as
gin/train.gin or gin/local_cpu.gin), ``--gin.NAME=VALUE`` bindings, ``--gin_search_paths``
(or kebab-case: ``--gin-file``, ``--gin NAME=VALUE``, ``--gin-search-path``). For a run over
several processes, ``--coordinator-address``, ``--num-processes`` and ``--process-id``, or
``--multihost`` alone on a TPU pod or under SLURM, where JAX finds them (launch/*.sh).
Exits 0 when the run ends or was stopped by SIGTERM after saving.
"""

from __future__ import annotations

import argparse
import logging
import sys

from mt3_unified.hostmalloc import reexec_with_retaining_malloc
from mt3_unified.runtime.gin_config import GinArgumentParser, add_gin_arguments, parse_gin
from mt3_unified.train.distributed import add_distributed_arguments, initialize_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training flags, on the module's own parser or on `mt3u train`'s."""
    add_gin_arguments(parser, "the model and the run (e.g. gin/models/tiny.gin gin/train.gin)")
    add_distributed_arguments(parser)


def run_train(args: argparse.Namespace):
    """Joins the multi-process run the flags name, parses the gin files and bindings, builds
    MODEL, and runs `trainer.train`."""
    # First: no device may be used before a process joins (and bad flags fail at once).
    initialize_from_args(args)
    import gin

    # Importing registers the configurables the gin files name.
    from mt3_unified.train import inputs, trainer  # noqa: F401

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    parse_gin(args.gin_file, args.gin_bindings, args.gin_search_paths)
    model = gin.query_parameter("%MODEL").scoped_configurable_fn()
    result = trainer.train(model=model)
    how = "stopped early (SIGTERM)" if result.stopped_early else "finished"
    loss = result.metrics.get("loss", float("nan"))
    print(f"{how} at step {int(result.state.step)}; loss {loss:.4f}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = GinArgumentParser(prog="python -m mt3_unified.train.train", description=__doc__)
    add_arguments(parser)
    run_train(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    reexec_with_retaining_malloc()
    sys.exit(main())
