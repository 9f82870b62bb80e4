"""Split a score page image into its systems by finding staff lines in the row profile."""

from __future__ import annotations

import os

import numpy as np

from mt3_unified.errors import InputFileError

# A pixel is ink when it is this much darker than the paper (a fraction of the paper's
# gray): low enough to catch a thin anti-aliased staff line, high enough to skip scan noise.
INK_CONTRAST = 0.15
# A staff-line row holds a horizontal ink run at least this long, as a fraction of the
# page's longest run (a short last system still counts) and of the page's width (so
# that a page without any long line yields no staff lines at all).
MIN_RUN_OF_LONGEST = 0.15
MIN_RUN_OF_WIDTH = 0.1
# Rows of a band running at least this fraction of its longest row are its line.
CORE_OF_BAND = 0.8
# A staff's next line may sit this far from where the spacing so far puts it (a fraction
# of the spacing, or one pixel, whichever is more): scans are not engraved exactly.
SPACING_TOLERANCE = 0.2
MIN_SPACING = 3  # pixels: closer lines cannot be told apart from a thick one
# Two staves are one system when some column is ink on this fraction of the rows between
# them: a system's start line (or a barline drawn through) may be chipped in a scan.
JOIN_COVERAGE = 0.9
JOIN_SLACK = 2  # columns either side a slightly skewed vertical line may drift by

Staff = tuple[int, int]


class NoStaffError(InputFileError):
    """An image in which no five-line staff was found."""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as gray float32 [H, W] in [0, 1] (1 = white paper).

    Transparent pixels are laid on white paper and EXIF rotation is applied, so a
    phone photo or a PNG export reads as it is shown.
    """
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as image:
            gray = _to_gray(ImageOps.exif_transpose(image))
    except Exception as e:  # Pillow raises assorted types on malformed files
        raise InputFileError(path, f"cannot read the image ({e})") from e
    if gray.size == 0:
        raise InputFileError(path, "cannot read the image (it has no pixels)")
    return gray


def _to_gray(image) -> np.ndarray:
    from PIL import Image

    if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit gray scans
        return np.asarray(image, dtype=np.float32) / 65535.0
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def split_systems_of_file(path: str | os.PathLike, *, margin: float = 1.0) -> list[np.ndarray]:
    """The systems of the page image at ``path`` (see ``split_systems``)."""
    systems = split_systems(read_image(path), margin=margin)
    if not systems:
        raise NoStaffError(path, "no staff found on the page")
    return systems


def ink_mask(page: np.ndarray) -> np.ndarray:
    """Boolean [H, W]: the page's ink, judged against its paper's gray."""
    page = np.asarray(page, dtype=np.float32)
    if page.ndim != 2:
        raise ValueError(f"expected a gray page [H, W], got shape {page.shape}")
    if page.size == 0:
        return np.zeros(page.shape, dtype=bool)
    # Most of a page is paper, so a high percentile is the paper's gray even on a
    # yellowed scan; a median would fail on a densely engraved page.
    paper = float(np.percentile(page, 90))
    return page < paper * (1.0 - INK_CONTRAST)


def find_staves(page: np.ndarray) -> list[Staff]:
    """(top, bottom) rows of each five-line staff, top to bottom.

    A staff line is a band of adjacent rows each holding a long horizontal ink run
    (a run, unlike a row's ink count, ignores text and note heads); five lines with
    equal spacings, each thinner than half a spacing, are a staff, whatever else
    (beams, text) lies between them.
    """
    return _staves(ink_mask(page))


def find_systems(page: np.ndarray) -> list[Staff]:
    """(top, bottom) rows of each system: top of its first staff, bottom of its last.

    Consecutive staves are one system when a vertical line joins them: some column
    (give or take ``JOIN_SLACK`` pixels of skew) is ink on at least ``JOIN_COVERAGE``
    of the rows between them. Engraving draws that line (the system's start line at
    the left, where a brace or bracket stands) through every staff of a system and
    never between systems, so a staff standing alone, the common single-part case,
    is a system of its own. Unlike comparing gaps, this needs no second system to
    compare with, and a page of equally spaced one-staff systems splits as it should.
    """
    return [(group[0][0], group[-1][1]) for group in _systems(ink_mask(page))]


def split_systems(page: np.ndarray, *, margin: float = 1.0) -> list[np.ndarray]:
    """Crops of each system, top to bottom, as gray float images.

    A crop reaches ``margin`` staff heights above and below the system's staves (for
    ledger lines, notes, dynamics and lyrics) but stops at the midpoint of the gap to
    a neighbouring system, so neighbours share the gap without overlapping. Columns
    without ink at either side are cut off.
    """
    page = np.asarray(page, dtype=np.float32)
    ink = ink_mask(page)
    groups = _systems(ink)
    if not groups:
        return []
    staff_height = float(np.median([bottom - top + 1 for group in groups for top, bottom in group]))
    pad = int(round(margin * staff_height))
    bounds = [(group[0][0], group[-1][1]) for group in groups]
    # Row k of `cuts` ends system k and starts system k + 1: the middle of their gap.
    cuts = [(bounds[k][1] + 1 + bounds[k + 1][0]) // 2 for k in range(len(bounds) - 1)]
    crops = []
    for k, (top, bottom) in enumerate(bounds):
        start = max(top - pad, cuts[k - 1] if k > 0 else 0, 0)
        stop = min(bottom + 1 + pad, cuts[k] if k < len(cuts) else page.shape[0])
        crops.append(_crop_columns(page[start:stop], ink[start:stop]))
    return crops


def _crop_columns(crop: np.ndarray, ink: np.ndarray) -> np.ndarray:
    columns = np.flatnonzero(ink.any(axis=0))
    return crop[:, columns[0] : columns[-1] + 1].copy()  # a system always holds ink


def _systems(ink: np.ndarray) -> list[list[Staff]]:
    groups: list[list[Staff]] = []
    for staff in _staves(ink):
        if groups and _joined(ink, groups[-1][-1], staff):
            groups[-1].append(staff)
        else:
            groups.append([staff])
    return groups


def _joined(ink: np.ndarray, upper: Staff, lower: Staff) -> bool:
    """Whether a vertical line runs from the upper staff's bottom to the lower's top.

    Only columns under both staves count: a scan's dark border or a page frame runs
    past every staff but beside them.
    """
    left_upper, right_upper = _run_span(ink[upper[1]])
    left_lower, right_lower = _run_span(ink[lower[0]])
    left = max(left_upper, left_lower, JOIN_SLACK) - JOIN_SLACK
    right = min(right_upper, right_lower) + JOIN_SLACK + 1
    gap = ink[upper[1] + 1 : lower[0], left:right]
    if gap.shape[0] == 0:
        return True
    if gap.shape[1] == 0:  # the staves stand side by side, not one above the other
        return False
    widened = gap.copy()
    for shift in range(1, JOIN_SLACK + 1):
        widened[:, shift:] |= gap[:, :-shift]
        widened[:, :-shift] |= gap[:, shift:]
    return bool(widened.mean(axis=0).max() >= JOIN_COVERAGE)


def _run_span(row: np.ndarray) -> tuple[int, int]:
    """First and last column of a row's longest ink run (one-pixel breaks bridged)."""
    padded = np.zeros(row.size + 2, dtype=np.int8)
    padded[1:-1] = _bridged(row[None])[0]
    edges = np.diff(padded)
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(stops - starts))
    return int(starts[longest]), int(stops[longest]) - 1


def _staves(ink: np.ndarray) -> list[Staff]:
    lines = _lines(ink)
    staves: list[Staff] = []
    i = 0
    while i < len(lines):
        chain = _staff_from(lines, i)
        if chain:
            staves.append((lines[chain[0]][0], lines[chain[-1]][1]))
            i = chain[-1] + 1
        else:
            i += 1
    return staves


def _staff_from(lines: list[Staff], first: int) -> list[int] | None:
    """Indices of five thin, evenly spaced lines starting at ``first``, or None.

    Lines in between that do not fit (a beam, a long slur's flat top, text) are
    stepped over rather than breaking the staff; the spacing is set by the first
    two lines and refined as the chain grows.
    """
    centers = [(top + bottom) / 2 for top, bottom in lines]
    for second in range(first + 1, min(first + 4, len(lines))):
        spacing = centers[second] - centers[first]
        if spacing < MIN_SPACING or not _thin(lines[first], spacing):
            continue
        chain = [first, second]
        while len(chain) < 5:
            spacing = (centers[chain[-1]] - centers[first]) / (len(chain) - 1)
            target = centers[chain[-1]] + spacing
            tolerance = max(1.0, SPACING_TOLERANCE * spacing)
            fits = []
            for k in range(chain[-1] + 1, len(lines)):
                if centers[k] > target + tolerance:  # lines run top to bottom
                    break
                if abs(centers[k] - target) <= tolerance and _thin(lines[k], spacing):
                    fits.append(k)
            if not fits:
                break
            chain.append(min(fits, key=lambda k: abs(centers[k] - target)))
        if len(chain) == 5 and _thin(lines[second], spacing):
            return chain
    return None


def _thin(line: Staff, spacing: float) -> bool:
    # A staff line leaves most of a space white; a beam or a thick rule does not.
    return line[1] - line[0] + 1 <= spacing / 2


def _lines(ink: np.ndarray) -> list[Staff]:
    """(top, bottom) rows of each band of adjacent staff-line rows."""
    longest = _longest_runs(ink)
    if not longest.size or not longest.max():
        return []
    threshold = max(MIN_RUN_OF_LONGEST * longest.max(), MIN_RUN_OF_WIDTH * ink.shape[1])
    lines = []
    for top, bottom in _bands(longest >= threshold):
        runs = longest[top : bottom + 1]
        # A beam lying on a staff line merges with it into one band; the line's own rows
        # run past the beam, so keeping the band's longest rows keeps the line alone.
        core = runs >= CORE_OF_BAND * runs.max()
        lines += [(top + a, top + b) for a, b in _bands(core)]
    return lines


def _bands(rows: np.ndarray) -> list[Staff]:
    """(first, last) index of each run of True in a 1-D mask."""
    edges = np.diff(np.concatenate([[False], rows, [False]]).astype(np.int8))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(a), int(b) - 1) for a, b in zip(starts, stops, strict=True)]


def _longest_runs(ink: np.ndarray) -> np.ndarray:
    """Length of each row's longest horizontal ink run."""
    height, width = ink.shape
    padded = np.zeros((height, width + 2), dtype=np.int8)
    padded[:, 1:-1] = _bridged(ink)
    edges = np.diff(padded, axis=1)
    # nonzero walks row by row, so the k-th start and the k-th stop bound one run.
    start_rows, start_cols = np.nonzero(edges == 1)
    _, stop_cols = np.nonzero(edges == -1)
    longest = np.zeros(height, dtype=np.int64)
    np.maximum.at(longest, start_rows, stop_cols - start_cols)
    return longest


def _bridged(ink: np.ndarray) -> np.ndarray:
    """Ink with one-pixel horizontal breaks filled: scans and anti-aliasing chip lines."""
    closed = ink.copy()
    closed[:, 1:-1] |= ink[:, :-2] & ink[:, 2:]
    return closed
