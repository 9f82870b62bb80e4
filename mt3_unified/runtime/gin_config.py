"""Gin for every entry point: T5X-style flags, the repository's gin search path, parsing."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from pathlib import Path

import gin

# The repository's root: gin files are named from it, on command lines as in includes
# (include 'gin/models/base.gin'), so they resolve from the root as they are, and from
# anywhere else through gin's search path (parse_gin adds it).
REPO_ROOT = Path(__file__).resolve().parents[2]
GIN_BINDING_PREFIX = "--gin."
# T5X's spellings of the gin flags, accepted beside the project's kebab-case ones.
T5X_FLAG_ALIASES = {"--gin-file": "--gin_file", "--gin-search-path": "--gin_search_paths"}


def as_gin_options(argv: Sequence[str]) -> list[str]:
    """T5X-style ``--gin.NAME=VALUE`` arguments rewritten as ``--gin NAME=VALUE``."""
    out = []
    for arg in argv:
        if arg.startswith(GIN_BINDING_PREFIX):
            out += ["--gin", arg[len(GIN_BINDING_PREFIX) :]]
        else:
            out.append(arg)
    return out


class GinArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser that also reads T5X's ``--gin.NAME=VALUE`` flags.

    argparse cannot declare a family of options (--gin.*), so the arguments are
    rewritten into the declared ``--gin`` option first; subcommand parsers made by
    ``add_subparsers`` are of this class too.
    """

    def parse_known_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        return super().parse_known_args(as_gin_options(args), namespace)


def add_gin_arguments(parser: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    """The gin flags of an entry point: files (``required`` or not), search paths and
    bindings."""
    parser.add_argument(
        "--gin-file", T5X_FLAG_ALIASES["--gin-file"], dest="gin_file", action="append",
        required=required, default=None if required else [],
        help=f"a gin file describing {what}; repeatable",
    )  # fmt: skip
    parser.add_argument(
        "--gin-search-path", T5X_FLAG_ALIASES["--gin-search-path"], dest="gin_search_paths",
        action="append", default=[],
        help="a folder where gin files and their includes are looked up too",
    )  # fmt: skip
    parser.add_argument(
        "--gin", dest="gin_bindings", action="append", default=[], metavar="NAME=VALUE",
        help="a gin binding, applied after the files; also written --gin.NAME=VALUE",
    )  # fmt: skip


def parse_gin(
    gin_files: Sequence[str], bindings: Sequence[str] = (), search_paths: Sequence[str] = ()
) -> None:
    """Parses gin files, then bindings, into the process's gin config (as T5X's entry
    points do). Files and includes are found as given or under REPO_ROOT and
    `search_paths`, whatever the working directory."""
    for path in (str(REPO_ROOT), *search_paths):
        _add_search_path(path)
    gin.parse_config_files_and_bindings(list(gin_files), list(bindings), finalize_config=False)


@functools.cache
def _add_search_path(path: str) -> None:
    """Adds a folder to gin's search paths once a process (gin keeps every duplicate)."""
    gin.add_config_file_search_path(path)
