"""Layout and measure slicing: ranges from verovio, attributes restated, times that agree."""

from __future__ import annotations

import pytest

from mt3_unified.corpus.errors import SkipError
from mt3_unified.corpus.reduce import load_score, reduce_score
from mt3_unified.corpus.systems import LayoutConfig, MeasureSlicer, layout_systems, system_lmx

SCORE = """<?xml version="1.0" encoding="UTF-8"?>
<score-partwise version="4.0">
  <part-list><score-part id="P1"><part-name>Piano</part-name></score-part></part-list>
  <part id="P1">
    <measure number="1">
      <attributes><divisions>1</divisions><key><fifths>2</fifths></key>
        <time><beats>4</beats><beat-type>4</beat-type></time><staves>2</staves>
        <clef number="1"><sign>G</sign><line>2</line></clef>
        <clef number="2"><sign>F</sign><line>4</line></clef></attributes>
      <note><pitch><step>D</step><octave>5</octave></pitch><duration>4</duration>
        <voice>1</voice><type>whole</type><staff>1</staff></note>
    </measure>
    <measure number="2">
      <attributes><clef number="2"><sign>G</sign><line>2</line></clef></attributes>
      <note><pitch><step>A</step><octave>4</octave></pitch><duration>4</duration>
        <voice>1</voice><type>whole</type><staff>1</staff></note>
    </measure>
    <measure number="3">
      <note><pitch><step>F</step><alter>1</alter><octave>4</octave></pitch><duration>4</duration>
        <voice>1</voice><type>whole</type><staff>1</staff></note>
    </measure>
  </part>
</score-partwise>
"""


def test_a_slice_restates_divisions_key_staves_and_the_clefs_in_force():
    slicer = MeasureSlicer(SCORE)
    tokens = system_lmx(slicer, 2, 3)
    assert tokens.count("measure") == 1
    head = tokens[: tokens.index("F4")]  # the key gives the sharp: no accidental token
    assert "key:fifths:2" in head
    assert head.count("clef:G2") == 2  # staff 2 changed to treble in measure 2
    assert not any(t.startswith("beats:") for t in head)  # time is not restated
    whole = system_lmx(slicer, 0, 3)
    assert whole.count("measure") == 3


def test_a_slice_outside_the_part_is_refused():
    with pytest.raises(ValueError):
        MeasureSlicer(SCORE).slice(2, 5)


def test_layout_ranges_cover_the_score_and_times_agree_with_music21(chorale_path):
    reduced = reduce_score(load_score(chorale_path), chorale_path)
    systems, qstamps = layout_systems(reduced.musicxml, LayoutConfig(page_width=1500))
    assert [s.index for s in systems] == list(range(len(systems)))
    assert systems[0].start == 0 and systems[-1].end == len(reduced.measure_offsets)
    assert qstamps == reduced.measure_offsets
    wider, _ = layout_systems(reduced.musicxml, LayoutConfig(page_width=3000))
    assert len(wider) < len(systems)  # the page width drives the line breaks


def test_repeats_are_not_unfolded_in_the_measure_times():
    from mt3_unified.corpus.synthetic import music21_corpus_dir

    path = music21_corpus_dir() / "bach/bwv86.6.mxl"  # has a repeated first section
    reduced = reduce_score(load_score(path), path)
    _, qstamps = layout_systems(reduced.musicxml, LayoutConfig(page_width=1500))
    assert qstamps == reduced.measure_offsets


def test_unreadable_musicxml_is_a_layout_skip():
    with pytest.raises(SkipError) as caught:
        layout_systems(b"<score-partwise><part id='P1'>", LayoutConfig())
    assert caught.value.stage == "layout"


def test_slice_lmx_equals_the_lmx_of_the_written_slice(chorale_path):
    from mt3_unified.vocab.lmx import musicxml_to_lmx

    reduced = reduce_score(load_score(chorale_path), chorale_path)
    for musicxml in (SCORE, reduced.musicxml):
        slicer = MeasureSlicer(musicxml)
        count = len(slicer.measures)
        for start, end in [(0, count), (0, 1), (1, count), (count - 1, count), (2, 3)]:
            assert slicer.lmx(start, end) == musicxml_to_lmx(slicer.slice(start, end))
    assert slicer.slice(0, 1) == MeasureSlicer(reduced.musicxml).slice(
        0, 1
    )  # nothing shared changed
