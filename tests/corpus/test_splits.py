"""The one hash split and the one note schema that every corpus builder uses."""

from __future__ import annotations

import numpy as np

from mt3_unified.corpus.notes import NOTE_DTYPES, note_arrays
from mt3_unified.corpus.splits import SPLITS, split_by_hash


def test_the_tiny_chorales_keep_their_splits():
    """The synthetic corpus's assignments, pinned: buckets fill train, validation, test."""
    expected = {
        "bach/bwv66.6.mxl": "train",  # bucket 70
        "bach/bwv153.1.mxl": "train",  # bucket 18
        "bach/bwv86.6.mxl": "validation",  # bucket 81
        "bach/bwv110.7.mxl": "test",  # bucket 99
    }
    assert {piece: split_by_hash(piece) for piece in expected} == expected


def test_percentages_move_only_the_buckets_they_name():
    keys = [f"recording-{i}" for i in range(400)]
    assert {split_by_hash(k, validation=0, test=0) for k in keys} == {"train"}
    no_test = {split_by_hash(k, validation=10, test=0) for k in keys}
    assert no_test == {"train", "validation"}
    assert {split_by_hash(k) for k in keys} == set(SPLITS)


def test_note_arrays_have_the_schema_dtypes_in_row_order():
    arrays = note_arrays([(0.5, 1.0, 64, 80, 0, False), (0.0, 0.5, 60, 70, 1, True)])
    assert list(arrays) == list(NOTE_DTYPES)
    assert {k: v.dtype for k, v in arrays.items()} == {
        k: np.dtype(d) for k, d in NOTE_DTYPES.items()
    }
    assert list(arrays["pitch"]) == [64, 60] and list(arrays["is_drum"]) == [False, True]
    empty = note_arrays([])
    assert all(len(v) == 0 and v.dtype == NOTE_DTYPES[k] for k, v in empty.items())
