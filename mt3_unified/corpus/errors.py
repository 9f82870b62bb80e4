"""Why a corpus item (a piece or a system) was skipped."""

from __future__ import annotations

from mt3_unified.errors import InputFileError


class SkipError(InputFileError):
    """An item the corpus leaves out; the message names the item and the reason.

    ``stage`` says which step gave up (read, reduce, layout, lmx, notes, audio),
    so the build's summary can count reasons by stage.
    """

    def __init__(self, source, problem: str, stage: str = "other"):
        self.stage = stage
        super().__init__(source, problem)


class DatasetLayoutError(InputFileError):
    """A manual_dir that is missing or not laid out as the dataset's builder expects."""
