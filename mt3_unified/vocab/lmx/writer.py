"""LMX token lists back to MusicXML, repairing what a model's malformed output gets wrong.

The token grammar and its repairs live in grammar.py, the writing of one measure in
measure.py and what carries across barlines in part_state.py; this module assembles the
part and the document.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from mt3_unified.vocab.lmx.grammar import Item, RepairReport, group_measures
from mt3_unified.vocab.lmx.measure import MeasureWriter, sub_element
from mt3_unified.vocab.lmx.part_state import PartState

__all__ = ["RepairReport", "lmx_to_musicxml"]


def lmx_to_musicxml(
    tokens: Iterable[str] | str, *, return_report: bool = False, close_spanners: bool = False
):
    """A one-part score-partwise MusicXML document for an LMX token sequence.

    Never raises on token content: unknown or misplaced tokens are dropped, impossible
    chords and backups fixed, and every change is counted in the RepairReport. Open
    beams, tuplets, ties and slurs are legal MusicXML and kept (so that LMX read from
    real scores round-trips exactly) unless close_spanners is set: then beams and
    tuplets are closed at the barline and dangling ties, slurs and stops are removed.
    """
    report = RepairReport()
    if isinstance(tokens, str):
        tokens = tokens.split()
    measures = group_measures(list(tokens), report)
    writer = PartWriter(report, close_spanners)
    for number, items in enumerate(measures, start=1):
        writer.write_measure(items, number)
    text = writer.finish()
    return (text, report) if return_report else text


class PartWriter:
    """Builds the part measure by measure; keeps what LMX carries across barlines."""

    def __init__(self, report: RepairReport, close_spanners: bool):
        self.report = report
        self.state = PartState(report, close_spanners)
        self.part = ET.Element("part", id="P1")

    def write_measure(self, items: list[Item], number: int) -> None:
        measure = sub_element(self.part, "measure", number=str(number))
        MeasureWriter(self.state, measure).write(items)

    def finish(self) -> str:
        if not len(self.part):
            self.report.add("empty_sequence")
            sub_element(self.part, "measure", number="1")
        self._drop_unclosed_spanners()
        self._write_divisions()
        score = ET.Element("score-partwise", version="4.0")
        score_part = sub_element(sub_element(score, "part-list"), "score-part", id="P1")
        sub_element(score_part, "part-name", "Music")
        score.append(self.part)
        ET.indent(score, space=" ")
        body = ET.tostring(score, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"

    def _drop_unclosed_spanners(self) -> None:
        """A tie or slur still open at the end has nothing to end on: remove its start."""
        if not self.state.close_spanners:
            self.report.notice("unclosed_tie", len(self.state.open_ties))
            self.report.notice("unclosed_slur", len(self.state.open_slurs))
            return
        for note, notations in self.state.open_ties:
            self.report.add("unclosed_tie")
            for tie in note.findall("tie"):
                if tie.get("type") == "start":
                    note.remove(tie)
                    break
            for tied in notations.findall("tied"):
                if tied.get("type") == "start":
                    notations.remove(tied)
                    break
        for number in self.state.open_slurs:
            self.report.add("unclosed_slur")
            notations, slur = self.state.slur_elements[number]
            notations.remove(slur)

    def _write_divisions(self) -> None:
        """Divisions: the smallest count per quarter that makes every duration whole."""
        divisions = 1
        for _, quarters in self.state.durations:
            divisions = math.lcm(divisions, quarters.denominator)
        for element, quarters in self.state.durations:
            element.text = str(int(quarters * divisions))
        first = self.part[0]
        attributes = first[0] if len(first) and first[0].tag == "attributes" else None
        if attributes is None:
            attributes = ET.Element("attributes")
            first.insert(0, attributes)
        divisions_element = ET.Element("divisions")
        divisions_element.text = str(divisions)
        attributes.insert(0, divisions_element)
        if attributes.find("time") is None:
            # music21 cannot measure a bar of grace notes without a metre: state an invisible
            # 4/4, which LMX does not encode since nothing is printed.
            time = ET.Element("time", {"print-object": "no"})
            sub_element(time, "beats", "4")
            sub_element(time, "beat-type", "4")
            attributes.insert(1 + len(attributes.findall("key")), time)
        if self.state.staves >= 2:
            staves = ET.Element("staves")
            staves.text = str(self.state.staves)
            clefs = [i for i, child in enumerate(attributes) if child.tag == "clef"]
            attributes.insert(clefs[0] if clefs else len(attributes), staves)
