"""The note schema every corpus example shares: its fields' dtypes, and arrays from note rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# Field -> dtype of the `notes` feature; times are seconds from the example's start.
NOTE_DTYPES = {
    "pitch": np.int32,
    "onset": np.float32,
    "offset": np.float32,
    "velocity": np.int32,
    "program": np.int32,
    "is_drum": np.bool_,
}
# The order of a note row: PerformedNote's field order.
ROW_FIELDS = ("onset", "offset", "pitch", "velocity", "program", "is_drum")


def note_arrays(rows: Iterable[Sequence]) -> dict[str, np.ndarray]:
    """One array per note field from (onset, offset, pitch, velocity, program, is_drum) rows,
    in the rows' order."""
    rows = list(rows)
    columns = zip(*rows, strict=True) if rows else [()] * len(ROW_FIELDS)
    by_field = dict(zip(ROW_FIELDS, columns, strict=True))
    return {field: np.asarray(by_field[field], dtype) for field, dtype in NOTE_DTYPES.items()}
