"""A glibc malloc that keeps freed memory, for the processes that run XLA on CPU.

XLA's CPU runtime allocates each step's temporary buffers (gigabytes for a
training step) with malloc and frees them when the step ends. glibc serves
blocks that large with mmap and unmaps them on free, so every step the kernel
faults in and zeroes all of that memory afresh: 1.2-1.7 million page faults
and about 15 % of a T5-small training step's CPU time on this project's 2-core
machine (bench/model.py measures the step both ways). Turning mmap off, using
one arena (threads' own arenas map their heaps too) and never trimming the
heap lets the second step reuse the first one's pages: no faults after warm-up.
The price is that the process keeps its peak memory, as an accelerator's
allocator does.

glibc reads GLIBC_TUNABLES only when a process starts, so an entry point calls
`reexec_with_retaining_malloc()` first thing: it re-executes the same command
line once with the tunables added. `MT3U_MALLOC=system` keeps glibc's defaults.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping

# trim_threshold: 64 GiB, i.e. never give the heap's top back to the system.
RETAINING_TUNABLES = (
    "glibc.malloc.mmap_max=0",
    "glibc.malloc.arena_max=1",
    "glibc.malloc.trim_threshold=68719476736",
)
OPT_OUT_VARIABLE = "MT3U_MALLOC"


def retaining_environment(environ: Mapping[str, str], libc: str) -> dict[str, str] | None:
    """The environment to re-execute with, or None when nothing should change.

    Nothing changes off glibc, when the user opted out, or when GLIBC_TUNABLES
    already holds every setting (which also stops a second re-execution).
    """
    if libc != "glibc" or environ.get(OPT_OUT_VARIABLE, "").lower() == "system":
        return None
    current = [t for t in environ.get("GLIBC_TUNABLES", "").split(":") if t]
    names = {t.split("=", 1)[0] for t in current}
    missing = [t for t in RETAINING_TUNABLES if t.split("=", 1)[0] not in names]
    if not missing:
        return None
    return {**environ, "GLIBC_TUNABLES": ":".join(current + missing)}


def reexec_with_retaining_malloc() -> None:
    """Re-executes this process's command line with the retaining tunables (or returns)."""
    env = retaining_environment(os.environ, platform.libc_ver()[0])
    if env is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)
    except OSError as error:  # an odd interpreter path: run on with glibc's defaults
        print(f"mt3u: could not re-execute with the retaining malloc ({error})", file=sys.stderr)
