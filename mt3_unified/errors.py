"""The project's exception types: each names the offending file and the problem."""

from __future__ import annotations

import os


class Mt3UnifiedError(Exception):
    """Base class of every error this project raises on purpose."""


class InputFileError(Mt3UnifiedError, ValueError):
    """A user-supplied file (or in-memory document) cannot be used.

    The message always starts with the file's name (or a description of the
    in-memory source) so a batch job's log says which item was skipped.
    """

    def __init__(self, source: str | os.PathLike | None, problem: str):
        self.source = describe_source(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class MusicXMLError(InputFileError):
    """Malformed, unsafe, empty or non-MusicXML input."""


class MidiError(InputFileError):
    """A MIDI file that cannot be parsed or holds no usable notes."""


class VocabularyError(Mt3UnifiedError, ValueError):
    """A token or id outside the vocabulary's layout."""


class CheckpointMismatchError(Mt3UnifiedError, ValueError):
    """A checkpoint whose parameters do not fit the config that tries to resume from it."""


class CodebookMismatchError(Mt3UnifiedError, ValueError):
    """A vocabulary whose codebooks differ from those of the codecs that baked the codes."""


def describe_source(source) -> str:
    """A short, human-readable name for a path, bytes or text source."""
    if source is None:
        return "<input>"
    if isinstance(source, (bytes, bytearray)):
        return f"<{len(source)} bytes in memory>"
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    if isinstance(source, str):
        if "\n" in source or source.lstrip().startswith("<"):
            return f"<{len(source)} characters of text>"
        return source
    return repr(source)
