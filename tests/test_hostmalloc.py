"""The retaining-malloc environment: when it changes GLIBC_TUNABLES and to what."""

import os
import subprocess
import sys
import textwrap

from mt3_unified.hostmalloc import RETAINING_TUNABLES, retaining_environment

ALL = ":".join(RETAINING_TUNABLES)


def test_adds_every_tunable_to_an_empty_environment():
    env = retaining_environment({"PATH": "/bin"}, "glibc")
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": ALL}


def test_keeps_the_users_tunables_and_their_values():
    env = retaining_environment(
        {"GLIBC_TUNABLES": "glibc.malloc.arena_max=4:glibc.malloc.tcache_count=0"}, "glibc"
    )
    assert env["GLIBC_TUNABLES"] == (
        "glibc.malloc.arena_max=4:glibc.malloc.tcache_count=0:"
        "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
    )


def test_nothing_to_do_when_set_opted_out_or_not_glibc():
    assert retaining_environment({"GLIBC_TUNABLES": ALL}, "glibc") is None
    assert retaining_environment({"MT3U_MALLOC": "system"}, "glibc") is None
    assert retaining_environment({}, "") is None


def test_reexec_runs_the_same_command_once_with_the_tunables():
    script = textwrap.dedent(
        """
        import os, sys
        from mt3_unified.hostmalloc import reexec_with_retaining_malloc
        print("start", sys.argv[1:], flush=True)
        reexec_with_retaining_malloc()
        print("tunables", os.environ.get("GLIBC_TUNABLES"))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "MT3U_MALLOC")}
    out = subprocess.run(
        [sys.executable, "-c", script, "a b"], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["start ['a b']", "start ['a b']", f"tunables {ALL}"]
