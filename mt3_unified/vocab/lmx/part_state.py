"""What LMX carries across barlines while a part is written: the state measure writers share."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction

from mt3_unified.vocab.lmx.grammar import RepairReport


@dataclass
class PartState:
    """Owned by the part writer; each measure writer reads and changes it.

    Key, metre and staves hold until restated; ties and slurs may stay open over
    barlines; durations wait here until the part's divisions are known.
    """

    report: RepairReport
    close_spanners: bool
    fifths: int = 0
    measure_quarters: Fraction = Fraction(4)
    staves: int = 1
    durations: list[tuple[ET.Element, Fraction]] = field(default_factory=list)
    tie_alters: dict[str, int] = field(default_factory=dict)
    open_ties: list[tuple[ET.Element, ET.Element]] = field(default_factory=list)
    open_slurs: list[int] = field(default_factory=list)
    slur_elements: dict[int, tuple[ET.Element, ET.Element]] = field(default_factory=dict)

    def duration(self, element: ET.Element, quarters: Fraction) -> None:
        """Records a <duration> to fill in once the part's divisions are known."""
        self.durations.append((element, quarters))

    def close_tie(self, note: ET.Element) -> None:
        """Ends the latest open tie of the note's pitch."""
        pitch = pitch_name(note)
        for index in range(len(self.open_ties) - 1, -1, -1):
            if pitch_name(self.open_ties[index][0]) == pitch:
                del self.open_ties[index]
                return

    def number_slurs(self, tokens: list[str]) -> list[int | None]:
        return self.number_spanners(tokens, self.open_slurs, "slur")

    def number_spanners(
        self, tokens: list[str], open_numbers: list[int], name: str
    ) -> list[int | None]:
        """MusicXML numbers for start/stop tokens in order; None drops an unmatched stop."""
        numbers: list[int | None] = []
        for token in tokens:
            if token.endswith(":start"):
                numbers.append(_lowest_free(open_numbers))
                open_numbers.append(numbers[-1])
            elif open_numbers:
                numbers.append(open_numbers.pop())
            elif self.close_spanners:
                self.report.add(f"unmatched_{name}_stop")
                numbers.append(None)
            else:
                self.report.notice(f"unmatched_{name}_stop")
                numbers.append(1)
        return numbers


def pitch_name(note: ET.Element) -> str:
    return (note.findtext("pitch/step") or "") + (note.findtext("pitch/octave") or "")


def _lowest_free(numbers: list[int]) -> int:
    number = 1
    while number in numbers:
        number += 1
    return number
