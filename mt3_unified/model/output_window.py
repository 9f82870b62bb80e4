"""Which vocabulary columns a batch's logits need: per depth slot, the ids its targets may emit."""

from __future__ import annotations

import dataclasses

import numpy as np

from mt3_unified.vocab.layout import PAD_ID


@dataclasses.dataclass(frozen=True, eq=False)
class OutputWindow:
    """The output layer's columns for a set of target modalities.

    Every id a modality may not emit in a slot has its logit masked to
    NEG_INF: it adds exactly 0 to the softmax and gets a zero gradient, so
    leaving its column out changes the loss only by summation order. One
    window serves a batch that mixes the modalities: each example's own
    mask, restricted to the window, still applies.

    columns [S, N]: slot s's valid ids in increasing order, then PAD (which no
    modality may emit) up to N; N leaves at least one PAD column in every
    slot. positions [S, V]: each id's column in its slot; ids outside the
    window go to a PAD column, whose masked logit gives a target there the
    same ~1e9 loss the full vocabulary gives an invalid id.
    """

    modalities: tuple[int, ...]
    columns: np.ndarray
    positions: np.ndarray

    @property
    def slots(self) -> int:
        return len(self.columns)


def output_window(logit_masks: np.ndarray, modalities: tuple[int, ...], slots: int) -> OutputWindow:
    """The window of the first `slots` slots of `modalities` (indices into logit_masks
    [num_modalities, K, V])."""
    if logit_masks[..., PAD_ID].any():
        raise ValueError("PAD must be valid for no modality: it pads the windows")
    valid = logit_masks[list(modalities), :slots].any(axis=0)  # [S, V]
    width = int(valid.sum(axis=-1).max()) + 1
    columns = np.full((slots, width), PAD_ID, np.int32)
    positions = np.full(valid.shape, width - 1, np.int32)
    for s, row in enumerate(valid):
        ids = np.flatnonzero(row)
        columns[s, : ids.size] = ids
        positions[s, ids] = np.arange(ids.size)
    return OutputWindow(tuple(modalities), columns, positions)


def restrict_masks(logit_masks: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """[M, K, V] logit masks -> [M, S, N], slot s read at columns[s] (S = len(columns))."""
    return np.take_along_axis(logit_masks[:, : len(columns)], np.asarray(columns)[None], axis=-1)
