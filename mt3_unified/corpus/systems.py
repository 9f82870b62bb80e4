"""Lay a score out in systems with verovio; cut its MusicXML and LMX by each system's measures."""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from mt3_unified.corpus.errors import SkipError

_MEASURE_GROUP = re.compile(r'class="measure[" ]')
# Children of <attributes> in the order the MusicXML schema wants them.
_ATTRIBUTE_ORDER = (
    "divisions",
    "key",
    "time",
    "staves",
    "part-symbol",
    "instruments",
    "clef",
    "staff-details",
    "transpose",
    "directive",
    "measure-style",
)


@dataclass(frozen=True)
class LayoutConfig:
    """Page geometry and engraving for verovio; page_width, staff_unit and the spacing
    change the line breaks. None leaves verovio's default (font Leipzig, spacing 0.25
    linear, 0.6 non-linear)."""

    page_width: int = 2100  # verovio units (tenths of a staff unit at scale 100)
    staff_unit: float = 9  # half the distance between two staff lines (4.5-12)
    margin: int = 50
    font: str | None = None  # a music font verovio bundles: Leipzig, Bravura, Gootville, ...
    spacing_linear: float | None = None
    spacing_non_linear: float | None = None


@dataclass
class SystemLayout:
    """One engraved system: measures [start, end) of the part, and its page's SVG."""

    index: int
    start: int
    end: int
    svg: str


_TOOLKITS: dict[LayoutConfig, object] = {}


def _toolkit(config: LayoutConfig):
    """One verovio toolkit per process and config but its page width (set on every
    layout, so that a page width drawn per piece makes no new toolkit): creating one
    loads its fonts."""
    key = dataclasses.replace(config, page_width=0)
    tk = _TOOLKITS.get(key)
    if tk is None:
        import verovio

        verovio.enableLog(verovio.LOG_OFF)
        tk = verovio.toolkit()
        options = {
            "breaks": "auto",
            "systemMaxPerPage": 1,
            "adjustPageHeight": True,
            "header": "none",
            "footer": "none",
            "pageWidth": config.page_width,
            "unit": config.staff_unit,
            "scale": 40,
            "pageMarginLeft": config.margin,
            "pageMarginRight": config.margin,
            "pageMarginTop": config.margin,
            "pageMarginBottom": config.margin,
            # Fixed ids make the SVG, hence the PNG, the same on every run.
            "xmlIdSeed": 1,
            "mnumInterval": 0,
            # Written order, as the audio plays it: no repeats in the timemap.
            "expandNever": True,
        }
        for option, value in (
            ("font", config.font),
            ("spacingLinear", config.spacing_linear),
            ("spacingNonLinear", config.spacing_non_linear),
        ):
            if value is not None:
                options[option] = value
        if config.font is not None and config.font not in music_fonts():
            raise ValueError(f"verovio has no music font {config.font!r}; one of {music_fonts()}")
        tk.setOptions(options)
        _TOOLKITS[key] = tk
    return tk


def music_fonts() -> list[str]:
    """The music fonts verovio bundles (each a folder and an .xml file in its resources)."""
    import verovio

    root = Path(verovio.toolkit(False).getResourcePath())
    return sorted(p.stem for p in root.glob("*.xml") if (root / p.stem).is_dir())


def layout_systems(
    musicxml: bytes, config: LayoutConfig = LayoutConfig(), source=None, measure_count=None
) -> tuple[list[SystemLayout], list[float]]:
    """Systems of the score (one verovio page each) and verovio's measure starts in quarters.

    ``measure_count``, the MusicXML's number of measures, is counted here when not given.
    """
    tk = _toolkit(config)
    # Reseed so a piece's ids do not depend on the one before.
    tk.setOptions({"xmlIdSeed": 1, "pageWidth": config.page_width})
    text = musicxml.decode("utf-8") if isinstance(musicxml, bytes) else musicxml
    if not tk.loadData(text):
        raise SkipError(source, "verovio cannot load the MusicXML", "layout")
    expected = count_measures(musicxml) if measure_count is None else measure_count
    systems: list[SystemLayout] = []
    start = 0
    for page in range(1, tk.getPageCount() + 1):
        svg = tk.renderToSVG(page)
        n = len(_MEASURE_GROUP.findall(svg))
        if n:
            systems.append(SystemLayout(len(systems), start, start + n, svg))
            start += n
    if start != expected:
        raise SkipError(
            source, f"verovio laid out {start} measures, the MusicXML has {expected}", "layout"
        )
    timemap = tk.renderToTimemap({"includeMeasures": True})
    qstamps = [float(e["qstamp"]) for e in timemap if "measureOn" in e]
    return systems, qstamps


def count_measures(musicxml: bytes | str) -> int:
    return len(_single_part(_parse(musicxml)).findall("measure"))


def _parse(musicxml: bytes | str) -> ET.Element:
    if isinstance(musicxml, str):
        musicxml = musicxml.encode("utf-8")
    try:
        return ET.fromstring(musicxml)
    except ET.ParseError as e:
        raise SkipError(None, f"malformed MusicXML ({e})", "layout") from e


def _single_part(root: ET.Element) -> ET.Element:
    parts = root.findall("part")
    if len(parts) != 1:
        raise SkipError(None, f"expected one <part>, found {len(parts)}", "lmx")
    return parts[0]


class MeasureSlicer:
    """Cuts a one-part score into stand-alone scores of measure ranges.

    Each slice restates divisions, key, staves and clefs in its first measure, as an
    engraved system does (OLiMPiC's convention; a time signature is not restated).
    The score is parsed once for all slices, and a slice shares the unchanged measures
    with the whole score instead of copying them (slices are only read).
    """

    def __init__(self, musicxml: bytes | str):
        self.musicxml = musicxml
        self._trees: dict[bool, _Tree] = {}

    def _tree(self, for_lmx: bool) -> _Tree:
        tree = self._trees.get(for_lmx)
        if tree is None:
            tree = self._trees[for_lmx] = _Tree(self.musicxml, for_lmx)
        return tree

    @property
    def measures(self) -> list[ET.Element]:
        return self._tree(True).measures

    def slice(self, start: int, end: int) -> bytes:
        """A score holding measures [start, end) with the attributes restated."""
        root = self._tree(False).slice(start, end)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def lmx(self, start: int, end: int) -> list[str]:
        """LMX tokens of the slice [start, end): the same as linearizing ``slice``'s bytes,
        without writing and re-reading them (the whole score is read for LMX once)."""
        from mt3_unified.vocab.lmx import first_divisions, linearize_part

        root = self._tree(True).slice(start, end)
        return linearize_part(root.find("part"), divisions=first_divisions(root))


class _Tree:
    """One parse of the score (plain, or pruned the way the LMX reader prunes) and the
    attributes in force at the start of each measure."""

    def __init__(self, musicxml: bytes | str, for_lmx: bool):
        if for_lmx:
            from mt3_unified.errors import MusicXMLError
            from mt3_unified.vocab.lmx import prune_for_lmx, read_score

            try:
                self.root, _ = read_score(
                    musicxml.encode("utf-8") if isinstance(musicxml, str) else musicxml,
                    prune_for_lmx,
                )
            except MusicXMLError as e:
                raise SkipError(None, f"malformed MusicXML ({e.problem})", "lmx") from e
        else:
            self.root = _parse(musicxml)
        self.part = _single_part(self.root)
        self.measures = self.part.findall("measure")
        self._state_before = self._track_attributes()

    def _track_attributes(self) -> list[dict]:
        """The attributes in force at the start of each measure."""
        state: dict = {"divisions": None, "key": None, "staves": None, "clef": {}}
        before = []
        for measure in self.measures:
            before.append({**state, "clef": dict(state["clef"])})
            for attributes in measure.iter("attributes"):
                for tag in ("divisions", "key", "staves"):
                    element = attributes.find(tag)
                    if element is not None:
                        state[tag] = element
                for clef in attributes.findall("clef"):
                    state["clef"][clef.get("number", "1")] = clef
        return before

    def slice(self, start: int, end: int) -> ET.Element:
        if not 0 <= start < end <= len(self.measures):
            raise ValueError(f"measure range [{start}, {end}) outside 0..{len(self.measures)}")
        root = ET.Element(self.root.tag, self.root.attrib)
        for child in self.root:
            if child.tag != "part":
                root.append(child)
        part = ET.SubElement(root, "part", self.part.attrib)
        for i, m in enumerate(self.measures[start:end]):
            if i == 0 or m.find("print") is not None:
                # A new element for a measure that changes; its children stay shared.
                changed = ET.Element(m.tag, m.attrib)
                changed.text, changed.tail = m.text, m.tail
                changed.extend(c for c in m if c.tag != "print")
                if i == 0:
                    _restate(changed, self._state_before[start])
                m = changed
            part.append(m)
        return root


def _restate(measure: ET.Element, state: dict) -> None:
    """Merge the attributes in force into the measure's first <attributes>."""
    first = None
    for child in measure:  # only attributes before the first note count as the measure's head
        if child.tag in ("note", "backup", "forward"):
            break
        if child.tag == "attributes":
            first = child
            break
    own: dict[str, list[ET.Element]] = {}
    if first is not None:
        for child in first:
            own.setdefault(child.tag, []).append(child)
        index = list(measure).index(first)
        measure.remove(first)
    else:
        index = 0
    merged = ET.Element("attributes")
    for tag in _ATTRIBUTE_ORDER:
        if tag in own:
            children = own.pop(tag)
            if tag == "clef":  # a clef restated for a staff the measure does not change
                numbers = {c.get("number", "1") for c in children}
                children += [c for n, c in state["clef"].items() if n not in numbers]
                children.sort(key=lambda c: int(c.get("number", "1")))
            merged.extend(children)
        elif tag == "clef":
            merged.extend(c for _, c in sorted(state["clef"].items()))
        elif tag in state and state[tag] is not None:
            merged.append(state[tag])
    for children in own.values():  # anything the order above does not know keeps its place last
        merged.extend(children)
    if len(merged):
        measure.insert(index, merged)


def system_lmx(slicer: MeasureSlicer, start: int, end: int, source=None) -> list[str]:
    """LMX tokens of measures [start, end); their "measure" count is checked."""
    from mt3_unified.errors import MusicXMLError

    try:
        tokens = slicer.lmx(start, end)
    except MusicXMLError as e:
        raise SkipError(source, f"no LMX for measures {start}-{end}: {e.problem}", "lmx") from e
    found = tokens.count("measure")
    if found != end - start:
        raise SkipError(source, f"LMX of measures {start}-{end} has {found} measure tokens", "lmx")
    return tokens
