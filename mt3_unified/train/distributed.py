"""Joining a multi-process run: `jax.distributed.initialize` from flags or the environment."""

from __future__ import annotations

import argparse

from mt3_unified.errors import Mt3UnifiedError


def add_distributed_arguments(parser: argparse.ArgumentParser) -> None:
    """The multi-host flags of an entry point (none of them: a single-process run)."""
    group = parser.add_argument_group(
        "multi-host", "give all three, or --multihost alone on a TPU pod or under SLURM"
    )
    group.add_argument(
        "--coordinator-address", metavar="HOST:PORT", help="where process 0 coordinates the run"
    )
    group.add_argument("--num-processes", type=int, metavar="N", help="processes in the run")
    group.add_argument("--process-id", type=int, metavar="I", help="this process's index, 0..N-1")
    group.add_argument(
        "--multihost", action="store_true",
        help="join with what JAX detects itself (TPU pod workers, SLURM tasks)",
    )  # fmt: skip


def initialize_from_args(args: argparse.Namespace) -> bool:
    """Joins the run the flags name; returns whether this is a multi-process run."""
    return initialize(
        coordinator_address=args.coordinator_address,
        num_processes=args.num_processes,
        process_id=args.process_id,
        detect=args.multihost,
    )


def initialize(
    *,
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    detect: bool = False,
) -> bool:
    """Calls `jax.distributed.initialize` before any device is used.

    With all three values given, they are passed as they are (a set SLURM_JOB_ID would
    otherwise make JAX read SLURM's variables instead); with `detect` alone, the bare call
    lets JAX find a TPU pod's or SLURM's. With nothing, nothing happens.
    """
    given = [coordinator_address, num_processes, process_id]
    if all(value is None for value in given) and not detect:
        return False
    if any(value is None for value in given) and not detect:
        raise Mt3UnifiedError(
            "--coordinator-address, --num-processes and --process-id go together "
            "(or --multihost alone, where JAX detects them)"
        )
    import jax

    # Arrays on CPU devices of several processes need a collectives library; accelerators
    # bring their own, so this touches only CPU runs (and tests).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
    )
    return True
