"""Rasterize the pages of a PDF score to gray images with PDFium (pypdfium2)."""

from __future__ import annotations

import os

import numpy as np

from mt3_unified.errors import InputFileError

POINTS_PER_INCH = 72  # a PDF page's size is in points


def pdf_pages(path: str | os.PathLike, dpi: int = 150) -> list[np.ndarray]:
    """Each page of the PDF at ``path`` as gray float32 [H, W] in [0, 1] (1 = white).

    150 dpi puts an ordinary score's staff spacing near 10 pixels, well above what
    staff finding needs, at a few megapixels a page.
    """
    import pypdfium2 as pdfium

    # pypdfium2's own error for a missing file says nothing but the path.
    if not os.path.exists(path):
        raise InputFileError(path, "not a readable PDF (no such file)")
    if not os.path.isfile(path):
        raise InputFileError(path, "not a readable PDF (not a file)")
    try:
        document = pdfium.PdfDocument(os.fspath(path))
    except (pdfium.PdfiumError, OSError) as e:
        raise InputFileError(path, f"not a readable PDF ({e})") from e
    try:
        if len(document) == 0:
            raise InputFileError(path, "not a readable PDF (it has no pages)")
        return [_render(document, index, dpi) for index in range(len(document))]
    except pdfium.PdfiumError as e:
        raise InputFileError(path, f"not a readable PDF ({e})") from e
    finally:
        document.close()


def _render(document, index: int, dpi: int) -> np.ndarray:
    page = document[index]
    try:
        # PDFium fills the bitmap white first, so a page without a background is paper.
        bitmap = page.render(scale=dpi / POINTS_PER_INCH, grayscale=True)
        try:
            # A float copy: the PIL image shares the bitmap's buffer, freed by close().
            gray = np.asarray(bitmap.to_pil().convert("L"), dtype=np.float32) / 255.0
        finally:
            bitmap.close()
    finally:
        page.close()
    return gray
