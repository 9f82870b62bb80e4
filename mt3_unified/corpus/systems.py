"""Lay a score out in systems with verovio; cut its MusicXML and LMX by each system's measures."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

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
    """Page geometry for verovio; only page_width / staff_unit changes the line breaks."""

    page_width: int = 2100  # verovio units (tenths of a staff unit at scale 100)
    staff_unit: int = 9  # half the distance between two staff lines
    margin: int = 50


@dataclass
class SystemLayout:
    """One engraved system: measures [start, end) of the part, and its page's SVG."""

    index: int
    start: int
    end: int
    svg: str


_TOOLKITS: dict[LayoutConfig, object] = {}


def _toolkit(config: LayoutConfig):
    """One verovio toolkit per process and config: creating one loads its fonts."""
    tk = _TOOLKITS.get(config)
    if tk is None:
        import verovio

        verovio.enableLog(verovio.LOG_OFF)
        tk = verovio.toolkit()
        tk.setOptions(
            {
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
        )
        _TOOLKITS[config] = tk
    return tk


def layout_systems(
    musicxml: bytes, config: LayoutConfig = LayoutConfig(), source=None
) -> tuple[list[SystemLayout], list[float]]:
    """Systems of the score (one verovio page each) and verovio's measure starts in quarters."""
    tk = _toolkit(config)
    tk.setOptions({"xmlIdSeed": 1})  # reseed so a piece's ids do not depend on the one before
    text = musicxml.decode("utf-8") if isinstance(musicxml, bytes) else musicxml
    if not tk.loadData(text):
        raise SkipError(source, "verovio cannot load the MusicXML", "layout")
    expected = count_measures(musicxml)
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
    """

    def __init__(self, musicxml: bytes | str):
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

    def slice(self, start: int, end: int) -> bytes:
        """A score holding measures [start, end) with the attributes restated."""
        if not 0 <= start < end <= len(self.measures):
            raise ValueError(f"measure range [{start}, {end}) outside 0..{len(self.measures)}")
        root = ET.Element(self.root.tag, self.root.attrib)
        for child in self.root:
            if child.tag != "part":
                root.append(child)
        part = ET.SubElement(root, "part", self.part.attrib)
        measures = [copy.deepcopy(m) for m in self.measures[start:end]]
        _restate(measures[0], self._state_before[start])
        for m in measures:
            for printed in m.findall("print"):
                m.remove(printed)
            part.append(m)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)


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
            merged.extend(copy.deepcopy(c) for c in children)
        elif tag == "clef":
            merged.extend(copy.deepcopy(c) for _, c in sorted(state["clef"].items()))
        elif tag in state and state[tag] is not None:
            merged.append(copy.deepcopy(state[tag]))
    for children in own.values():  # anything the order above does not know keeps its place last
        merged.extend(children)
    if len(merged):
        measure.insert(index, merged)


def system_lmx(slicer: MeasureSlicer, start: int, end: int, source=None) -> list[str]:
    """LMX tokens of measures [start, end); their "measure" count is checked."""
    from mt3_unified.errors import MusicXMLError
    from mt3_unified.vocab.lmx import musicxml_to_lmx

    try:
        tokens = musicxml_to_lmx(slicer.slice(start, end))
    except MusicXMLError as e:
        raise SkipError(source, f"no LMX for measures {start}-{end}: {e.problem}", "lmx") from e
    found = tokens.count("measure")
    if found != end - start:
        raise SkipError(source, f"LMX of measures {start}-{end} has {found} measure tokens", "lmx")
    return tokens
