"""Splitting score pages into systems: engraved chorales, drawn pages, bad images and PDFs."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from mt3_unified.errors import InputFileError
from mt3_unified.infer.pages import (
    NoStaffError,
    find_staves,
    find_systems,
    read_image,
    split_systems,
    split_systems_of_file,
)
from mt3_unified.infer.pdf import pdf_pages

SVG = "{http://www.w3.org/2000/svg}"
A4_RATIO = 2970 / 2100
PAGE_ROWS = 1754  # an A4 page at 150 dpi
LINE_WIDTH = 13  # verovio's staff-line stroke, in its SVG units


# --- pages engraved by verovio --------------------------------------------------------------


@pytest.fixture(scope="module")
def chorale_scores() -> dict[str, bytes]:
    """bwv66.6 as MusicXML: reduced to the project's grand staff, its soprano alone as
    one staff, and its four parts on four staves."""
    import music21
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    from mt3_unified.corpus.reduce import reduce_score

    chorale = music21.corpus.parse("bach/bwv66.6")
    four_staves = GeneralObjectExporter(chorale).parse()
    soprano = music21.stream.Score()
    soprano.insert(0, copy.deepcopy(chorale.parts[0]))
    one_staff = reduce_score(soprano).musicxml
    # Last: reducing several parts moves their notes out of the chorale.
    grand_staff = reduce_score(chorale).musicxml
    return {"grand staff": grand_staff, "one staff": one_staff, "four staves": four_staves}


def engrave_page(musicxml: bytes, page_width: int) -> str:
    """Page 1's SVG, an A4-shaped page filled with as many systems as fit."""
    import verovio

    from mt3_unified.corpus.systems import LayoutConfig, _toolkit

    # A toolkit of its own with the project's engraving options: the cached one lays out
    # one system a page, and other tests rely on it staying so.
    tk = verovio.toolkit()
    tk.setOptions(_toolkit(LayoutConfig()).getOptions())
    tk.setOptions(
        {
            "breaks": "auto",
            "systemMaxPerPage": 0,
            "adjustPageHeight": False,
            "pageWidth": page_width,
            "pageHeight": round(page_width * A4_RATIO),
        }
    )
    assert tk.loadData(musicxml.decode("utf-8"))
    return tk.renderToSVG(1)


def staves_in_svg(svg: str, rows: int) -> list[list[tuple[float, float]]]:
    """Each system's staves as (top, bottom) pixel rows of an image ``rows`` high, from
    the y of their outer staff lines in the SVG."""
    root = ET.fromstring(svg)
    canvas = root.find(f"{SVG}svg")
    scale = rows / float(canvas.get("viewBox").split()[3])
    margin = root.find(f".//{SVG}g[@class='page-margin']")
    offset = float(re.match(r"translate\(([-\d.]+), ([-\d.]+)\)", margin.get("transform"))[2])
    systems = []
    for system in root.iter(f"{SVG}g"):
        if system.get("class") != "system":
            continue
        staves = set()
        for staff in system.iter(f"{SVG}g"):
            if staff.get("class") == "staff":
                ys = [float(p.get("d").split()[1]) for p in staff.findall(f"{SVG}path")[:5]]
                top, bottom = min(ys) - LINE_WIDTH / 2, max(ys) + LINE_WIDTH / 2
                staves.add(((top + offset) * scale, (bottom + offset) * scale))
        systems.append(sorted(staves))
    return systems


def rasterize(svg: str, rows: int = PAGE_ROWS) -> np.ndarray:
    from mt3_unified.corpus.render import svg_to_image

    return np.asarray(svg_to_image(svg, rows), dtype=np.float32) / 255.0


# (score, page width in verovio units, systems on page 1, staves per system)
ENGRAVINGS = [
    ("grand staff", 1000, 3, 2),
    ("grand staff", 2100, 2, 2),  # the project's page width
    ("one staff", 1000, 4, 1),
    ("four staves", 1500, 2, 4),
]


@pytest.fixture(scope="module")
def engraved(chorale_scores) -> dict[tuple[str, int], tuple[str, np.ndarray]]:
    pages = {}
    for name, width, _, _ in ENGRAVINGS:
        svg = engrave_page(chorale_scores[name], width)
        pages[name, width] = svg, rasterize(svg)
    return pages


@pytest.mark.parametrize(("name", "width", "systems", "staves"), ENGRAVINGS)
def test_an_engraved_page_splits_into_the_systems_verovio_laid_out(
    engraved, name, width, systems, staves
):
    svg, page = engraved[name, width]
    expected = staves_in_svg(svg, page.shape[0])
    # The layout itself: the counts the rest of the test stands on.
    assert len(re.findall(r'<g [^>]*class="system"', svg)) == systems
    assert [len(s) for s in expected] == [staves] * systems

    found = find_staves(page)
    flat = [staff for system in expected for staff in system]
    assert len(found) == len(flat)
    for (top, bottom), (want_top, want_bottom) in zip(found, flat, strict=True):
        # Row r spans [r, r + 1). An edge row a seventh covered by an anti-aliased line
        # counts as ink, and the rasterizer snaps strokes: within a pixel and a half.
        assert abs(top - want_top) <= 1.5 and abs(bottom + 1 - want_bottom) <= 1.5

    found_systems = find_systems(page)
    assert found_systems == [
        (found[k * staves][0], found[k * staves + staves - 1][1]) for k in range(systems)
    ]


@pytest.mark.parametrize(("name", "width", "systems", "staves"), ENGRAVINGS)
def test_each_crop_holds_exactly_its_own_systems_staves(engraved, name, width, systems, staves):
    _, page = engraved[name, width]
    crops = split_systems(page)
    assert len(crops) == systems
    for crop in crops:
        assert crop.dtype == np.float32 and crop.ndim == 2
        assert len(find_staves(crop)) == staves
        assert find_systems(crop) == [(find_staves(crop)[0][0], find_staves(crop)[-1][1])]
        # Cropped to the ink: the first and last columns hold some.
        assert crop[:, 0].min() < 0.85 and crop[:, -1].min() < 0.85
    # Neighbours meet at the middle of their gap: no row is in two crops.
    assert sum(crop.shape[0] for crop in crops) <= page.shape[0]


def test_a_lower_resolution_page_splits_the_same(engraved):
    svg, _ = engraved["grand staff", 1000]
    page = rasterize(svg, 500)  # staff lines 6.4 pixels apart, a third of a pixel thick
    assert len(find_staves(page)) == 6
    assert len(find_systems(page)) == 3


def test_an_engraved_page_read_back_from_a_pdf_splits_the_same(engraved, tmp_path):
    _, page = engraved["four staves", 1500]
    path = tmp_path / "chorale.pdf"
    Image.fromarray(np.round(page * 255).astype(np.uint8)).save(path, "PDF", resolution=150)
    (from_pdf,) = pdf_pages(path, dpi=150)
    assert abs(from_pdf.shape[0] - page.shape[0]) <= 1
    assert len(find_systems(from_pdf)) == 2
    assert len(split_systems(from_pdf)) == 2


def test_a_png_file_splits_into_its_systems(engraved, tmp_path):
    _, page = engraved["one staff", 1000]
    path = tmp_path / "page.png"
    Image.fromarray(np.round(page * 255).astype(np.uint8)).save(path)
    crops = split_systems_of_file(path)
    assert len(crops) == 4
    assert all(len(find_staves(crop)) == 1 for crop in crops)


# --- pages drawn by hand ----------------------------------------------------------------


def drawn_page(join_first_two: bool = False, border: bool = False) -> np.ndarray:
    """300 x 400 white page with three staves (lines 8 rows apart, across columns
    30..369), the middle one with 2-row lines, and some notes, beams and text."""
    page = np.ones((300, 400), dtype=np.float32)
    for top, thickness in ((40, 1), (120, 2), (200, 1)):
        for line in range(5):
            row = top + 8 * line
            page[row : row + thickness, 30:370] = 0.0
    for top in (40, 120, 200):
        for column in range(60, 360, 37):  # note heads on spaces and lines, with stems
            head = top + (column % 5) * 4
            page[head : head + 5, column : column + 7] = 0.1
            page[head - 24 : head + 2, column + 6] = 0.1
    page[100:104, 60:110] = 0.0  # a beam, thick and short
    # Long beams in the last staff: one between two lines, one lying on its 4th line.
    page[211:214, 100:200] = 0.0
    page[224:228, 100:200] = 0.0
    page[270:280, 40:60] = 0.2  # a word
    page[270:280, 64:100] = 0.2
    if join_first_two:  # the system's start line, through the gap
        page[40:154, 30] = 0.0
    if border:  # a scanner's dark edge, down the whole page
        page[:, :3] = 0.05
    return page


def test_the_staves_of_a_drawn_page_are_found_to_the_row():
    assert find_staves(drawn_page()) == [(40, 72), (120, 153), (200, 232)]


def test_unjoined_staves_are_one_system_each():
    assert find_systems(drawn_page()) == [(40, 72), (120, 153), (200, 232)]


def test_staves_joined_by_a_start_line_are_one_system():
    assert find_systems(drawn_page(join_first_two=True)) == [(40, 153), (200, 232)]


def test_a_dark_scan_border_joins_no_staves():
    assert find_systems(drawn_page(border=True)) == [(40, 72), (120, 153), (200, 232)]


def test_crops_reach_a_staff_height_out_but_stop_halfway_to_the_neighbour():
    crops = split_systems(drawn_page(join_first_two=True))
    page = drawn_page(join_first_two=True)
    # Staff height 33 (median of 33, 34, 33): the first system keeps rows 7..176 (the
    # gap 154..199 is cut at 177), the second 177..265; the ink spans columns 30..369.
    assert [crop.shape for crop in crops] == [(170, 340), (89, 340)]
    np.testing.assert_array_equal(crops[0], page[7:177, 30:370])
    np.testing.assert_array_equal(crops[1], page[177:266, 30:370])


def test_a_zero_margin_crops_to_the_outer_staff_lines():
    crops = split_systems(drawn_page(), margin=0.0)
    assert [crop.shape[0] for crop in crops] == [33, 34, 33]


def test_a_page_without_staves_has_no_systems():
    page = np.ones((200, 300), dtype=np.float32)
    page[50:60, 20:280] = 0.0  # one thick rule is no staff
    assert find_staves(page) == []
    assert split_systems(page) == []


# --- files --------------------------------------------------------------------------------


def test_a_blank_page_raises_no_staff_error_naming_the_file(tmp_path):
    path = tmp_path / "blank.png"
    Image.new("L", (400, 300), 255).save(path)
    with pytest.raises(NoStaffError) as error:
        split_systems_of_file(path)
    assert isinstance(error.value, InputFileError)
    assert str(error.value) == f"{path}: no staff found on the page"


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20, b""],
    ids=["corrupt", "empty"],
)
def test_an_unreadable_image_raises_input_file_error_naming_it(tmp_path, content):
    path = tmp_path / "page.png"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as error:
        split_systems_of_file(path)
    assert not isinstance(error.value, NoStaffError)
    assert str(error.value).startswith(f"{path}: cannot read the image (")


def test_a_truncated_png_raises_input_file_error(tmp_path):
    whole = tmp_path / "whole.png"
    Image.fromarray(np.round(drawn_page() * 255).astype(np.uint8)).save(whole)
    path = tmp_path / "cut.png"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InputFileError, match="cannot read the image"):
        read_image(path)


def test_read_image_gives_gray_in_0_1_with_transparency_on_white(tmp_path):
    rgba = np.zeros((2, 3, 4), dtype=np.uint8)  # transparent black
    rgba[0, 0] = (0, 0, 0, 255)  # opaque black
    rgba[1, 2] = (102, 102, 102, 255)  # opaque gray 0.4
    path = tmp_path / "ink.png"
    Image.fromarray(rgba, "RGBA").save(path)
    gray = read_image(path)
    assert gray.dtype == np.float32
    np.testing.assert_allclose(gray, [[0.0, 1.0, 1.0], [1.0, 1.0, 0.4]], atol=1e-6)


def test_read_image_reads_jpeg(tmp_path):
    path = tmp_path / "page.jpg"
    Image.fromarray(np.round(drawn_page() * 255).astype(np.uint8)).save(path, quality=95)
    assert find_staves(read_image(path)) == [(40, 72), (120, 153), (200, 232)]


def test_pdf_pages_gives_each_page_at_the_asked_resolution(tmp_path):
    path = tmp_path / "two.pdf"
    first = Image.new("L", (300, 400), 255)  # 300 x 400 points at 72 dpi
    second = Image.fromarray(np.round(drawn_page() * 255).astype(np.uint8))
    second = second.resize((300, 400))
    first.save(path, "PDF", resolution=72, save_all=True, append_images=[second])
    pages = pdf_pages(path, dpi=144)
    assert [page.shape for page in pages] == [(800, 600), (800, 600)]
    assert all(page.dtype == np.float32 for page in pages)
    assert pages[0].min() == 1.0
    assert pages[1].min() == 0.0 and pages[1].max() == 1.0


def test_a_garbage_pdf_raises_input_file_error_naming_it(tmp_path):
    path = tmp_path / "score.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 4)
    with pytest.raises(InputFileError) as error:
        pdf_pages(path)
    assert str(error.value).startswith(f"{path}: not a readable PDF (")


def test_a_missing_pdf_raises_input_file_error_naming_it(tmp_path):
    path = tmp_path / "absent.pdf"
    with pytest.raises(InputFileError) as error:
        pdf_pages(path)
    assert str(error.value) == f"{path}: not a readable PDF (no such file)"
