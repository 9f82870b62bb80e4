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

    groups: the slots in runs of equal width, each run as narrow as its own
    slots need. A window that mixes symbolic and code targets needs slot 0 for
    every symbolic id and the first codebooks, slots 1.. for the later
    codebooks only (1,088 of 2,705 columns with 1,024-code audio): computing
    each run at its own width leaves out PAD columns, so the training loss
    reads these (see UnifiedModel._window_statistics); decoding reads one slot at a time.
    """

    modalities: tuple[int, ...]
    columns: np.ndarray
    positions: np.ndarray
    groups: tuple[WindowGroup, ...] = ()

    @property
    def slots(self) -> int:
        return len(self.columns)


@dataclasses.dataclass(frozen=True, eq=False)
class WindowGroup:
    """Consecutive slots [start, start + S_g) of a window at their own width N_g:
    columns [S_g, N_g] and positions [S_g, V] as OutputWindow's, cut to N_g."""

    start: int
    columns: np.ndarray
    positions: np.ndarray


def output_window(logit_masks: np.ndarray, modalities: tuple[int, ...], slots: int) -> OutputWindow:
    """The window of the first `slots` slots of `modalities` (indices into logit_masks
    [num_modalities, K, V])."""
    if logit_masks[..., PAD_ID].any():
        raise ValueError("PAD must be valid for no modality: it pads the windows")
    valid = logit_masks[list(modalities), :slots].any(axis=0)  # [S, V]
    columns, positions = _columns_and_positions(valid)
    widths = valid.sum(axis=-1) + 1
    groups, start = [], 0
    for end in range(1, slots + 1):
        if end == slots or widths[end] != widths[start]:
            groups.append(WindowGroup(start, *_columns_and_positions(valid[start:end])))
            start = end
    return OutputWindow(tuple(modalities), columns, positions, tuple(groups))


def _columns_and_positions(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """columns [S, N] and positions [S, V] of valid [S, V], N one more than the most
    valid ids of a slot (see OutputWindow)."""
    width = int(valid.sum(axis=-1).max()) + 1
    columns = np.full((len(valid), width), PAD_ID, np.int32)
    positions = np.full(valid.shape, width - 1, np.int32)
    for s, row in enumerate(valid):
        ids = np.flatnonzero(row)
        columns[s, : ids.size] = ids
        positions[s, ids] = np.arange(ids.size)
    return columns, positions


def restrict_masks(logit_masks: np.ndarray, columns: np.ndarray, start: int = 0) -> np.ndarray:
    """[M, K, V] logit masks -> [M, S, N], slot start + s read at columns[s] (S = len(columns))."""
    masks = logit_masks[:, start : start + len(columns)]
    return np.take_along_axis(masks, np.asarray(columns)[None], axis=-1)
