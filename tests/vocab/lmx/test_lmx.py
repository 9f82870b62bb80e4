"""Tests of LMX linearization, delinearization with repair, and safe MusicXML reading."""

from __future__ import annotations

import collections
import io
import multiprocessing
import os
import random
import time
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction

import music21
import pytest
import verovio

from mt3_unified.errors import MusicXMLError
from mt3_unified.vocab.lmx import (
    LMX_TOKENS,
    duration_to_types,
    list_parts,
    lmx_to_musicxml,
    musicxml_to_lmx,
    musicxml_to_lmx_parts,
)
from mt3_unified.vocab.lmx.tokens import TYPE_QUARTERS

# ---------------------------------------------------------------- helpers


def score(*measures: str, divisions: int = 2, part_attributes: str = "") -> str:
    """A one-part score-partwise document; the first measure states the divisions."""
    body = "".join(
        f'<measure number="{i + 1}">'
        + (
            f"<attributes><divisions>{divisions}</divisions>{part_attributes}</attributes>"
            if i == 0
            else ""
        )
        + measure
        + "</measure>"
        for i, measure in enumerate(measures)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<score-partwise version="4.0"><part-list>'
        '<score-part id="P1"><part-name>Music</part-name></score-part></part-list>'
        f'<part id="P1">{body}</part></score-partwise>'
    )


def note(
    pitch: str,
    kind: str = "quarter",
    duration: int = 2,
    extra: str = "",
    head: str = "",
    voice: str = "1",
) -> str:
    """A <note>: ``head`` goes before the pitch (<grace/>, <chord/>), ``extra`` after <type>."""
    body = (
        "<rest/>"
        if pitch == "rest"
        else (f"<pitch><step>{pitch[0]}</step><octave>{pitch[1:]}</octave></pitch>")
    )
    return (
        f"<note>{head}{body}<duration>{duration}</duration><voice>{voice}</voice>"
        f"<type>{kind}</type>{extra}</note>"
    )


def lmx(text: str) -> list[str]:
    """A token list written as one space-separated string."""
    return text.split()


def corpus_paths() -> list[str]:
    return sorted(
        str(p)
        for p in music21.corpus.getCorePaths()
        if str(p).endswith((".xml", ".mxl", ".musicxml"))
    )


ATTRIBUTES = (
    "<attributes><key><fifths>-2</fifths><mode>major</mode></key>"
    "<time><beats>3</beats><beat-type>4</beat-type></time>"
    "<clef><sign>G</sign><line>2</line></clef></attributes>"
)


# ---------------------------------------------------------------- exact tokens


def test_measure_with_key_time_clef_stems_and_accidentals():
    xml = score(
        ATTRIBUTES
        + note("B4", extra="<accidental>natural</accidental><stem>down</stem>")
        + note("A4", extra="<stem>down</stem>")
        + note("F4", extra="<accidental>sharp</accidental><stem>up</stem>")
    )
    assert musicxml_to_lmx(xml) == lmx(
        "measure key:fifths:-2 time beats:3 beat-type:4 clef:G2 B4 voice:1 quarter natural "
        "stem:down A4 quarter F4 quarter sharp stem:up"
    )


def test_chord_dots_ties_and_fermata():
    xml = score(
        note("C4", "half", 6, "<dot/><stem>up</stem><notations><tied type='start'/></notations>")
        + note("E4", "half", 6, "<dot/><stem>up</stem><notations><fermata/></notations>",
               head="<chord/>")
    )  # fmt: skip
    assert musicxml_to_lmx(xml) == lmx(
        "measure C4 voice:1 half dot stem:up tied:start chord E4 half dot fermata"
    )


def test_tuplet_and_beams():
    triplet = "<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes></time-modification>"  # noqa: E501
    xml = score(
        note("C5", "eighth", 2, triplet + "<beam number='1'>begin</beam>"
             "<notations><tuplet type='start'/></notations>")
        + note("D5", "eighth", 2, triplet + "<beam number='1'>continue</beam>")
        + note("E5", "eighth", 2, triplet + "<beam number='1'>end</beam>"
               "<notations><tuplet type='stop'/><slur type='stop'/></notations>")
        + note("F5", "16th", 1, "<beam number='1'>begin</beam><beam number='2'>forward hook</beam>")
        + note("G5", "eighth", 3, "<dot/><beam number='1'>end</beam>"),
        divisions=6,
    )  # fmt: skip
    assert musicxml_to_lmx(xml) == lmx(
        "measure C5 voice:1 eighth 3in2 beam:begin tuplet:start D5 eighth 3in2 E5 eighth 3in2 "
        "beam:end tuplet:stop slur:stop F5 16th beam:begin beam:forward-hook G5 eighth dot "
        "beam:end"
    )


def test_grace_notes_and_invisible_rest():
    xml = score(
        '<note><grace slash="yes"/><pitch><step>D</step><octave>5</octave></pitch>'
        "<voice>1</voice><type>eighth</type><stem>up</stem></note>"
        + note("C5", "half", 4)
        + '<note print-object="no"><rest/><duration>4</duration><voice>1</voice>'
        "<type>half</type></note>"
    )
    assert musicxml_to_lmx(xml) == lmx(
        "measure grace grace:slash D5 voice:1 eighth stem:up C5 half print-object:no rest half"
    )


def test_backup_forward_and_two_voices():
    xml = score(
        note("E5", "whole", 8, "<stem>up</stem>")
        + "<backup><duration>8</duration></backup>"
        + "<forward><duration>6</duration><voice>2</voice></forward>"
        + note("C4", "quarter", 2, "<stem>down</stem>", voice="2")
    )
    assert musicxml_to_lmx(xml) == lmx(
        "measure E5 voice:1 whole stem:up backup whole forward half forward quarter C4 voice:2 "
        "quarter stem:down"
    )


def test_two_staves_restate_staff_after_backup():
    clefs = (
        "<staves>2</staves><clef number='1'><sign>G</sign><line>2</line></clef>"
        "<clef number='2'><sign>F</sign><line>4</line></clef>"
    )
    xml = score(
        note("C5", "half", 4, "<staff>1</staff>")
        + note("D5", "half", 4, "<staff>1</staff>")
        + "<backup><duration>8</duration></backup>"
        + note("C3", "whole", 8, "<staff>2</staff>", voice="5"),
        part_attributes=clefs,
    )
    assert musicxml_to_lmx(xml) == lmx(
        "measure clef:G2 staff:1 clef:F4 staff:2 C5 voice:1 half staff:1 D5 half backup whole C3 "
        "voice:5 whole staff:2"
    )


def test_measure_rest_and_single_staff_staff_elements():
    xml = score(
        '<note><rest measure="yes"/><duration>8</duration><voice>1</voice><staff>1</staff></note>',
        note("G4", "whole", 8, "<staff>1</staff>"),
    )
    assert musicxml_to_lmx(xml) == lmx("measure rest voice:1 rest:measure measure G4 voice:1 whole")


def test_note_without_type_is_inferred_from_duration():
    xml = score(
        "<note><pitch><step>C</step><octave>4</octave></pitch><duration>3</duration></note>"
        "<note><pitch><step>D</step><octave>4</octave></pitch><duration>2</duration></note>"
        "<note><rest/><duration>9</duration></note>"
        "<note><pitch><step>E</step><octave>4</octave></pitch><duration>5</duration></note>",
        divisions=6,
    )
    # 5/6 of a quarter is no type, dotted type or inventory tuplet: that note is skipped.
    assert musicxml_to_lmx(xml) == lmx("measure C4 eighth D4 eighth 3in2 rest quarter dot")


def test_percussion_uses_display_position():
    xml = score(
        "<note><unpitched><display-step>E</display-step><display-octave>5</display-octave>"
        "</unpitched><duration>2</duration><voice>1</voice><type>quarter</type></note>"
    )
    assert musicxml_to_lmx(xml) == ["measure", "E5", "voice:1", "quarter"]


def test_unusual_elements_are_skipped_not_fatal():
    xml = score(
        "<attributes><time><beats>3+2</beats><beat-type>8</beat-type></time>"
        "<clef><sign>percussion</sign></clef></attributes>"
        "<note><pitch><step>C</step><octave>12</octave></pitch><duration>2</duration></note>"
        + note("C4")
        + "<backup><duration>oops</duration></backup><direction/><barline/>"
    )
    assert musicxml_to_lmx(xml) == ["measure", "C4", "voice:1", "quarter"]


PRUNE_CASES = {
    "alter_with_attribute": '<pitch><step>F</step><alter id="a">1</alter><octave>4</octave>'
    + "</pitch>",
    "spaces_in_pitch": "<pitch><step> C </step><octave> 4</octave></pitch>",
    "lyric_in_comment": "<pitch><step>D</step><octave>5</octave></pitch><!-- <lyric> -->",
    "cdata": "<pitch><step>E</step><octave>3</octave></pitch>"
    + "<lyric><text><![CDATA[<]]></text></lyric>",
}


@pytest.mark.parametrize("case", sorted(PRUNE_CASES))
def test_pruned_reading_equals_the_plain_reading(case, monkeypatch):
    """prune_for_lmx only saves parsing work: odd layouts read the same with or without it."""
    body = PRUNE_CASES[case]
    lyric = '<lyric number="1"><syllabic>single</syllabic><text>la--></text></lyric>'
    xml = score(
        f"<note>{body}<duration>2</duration><voice>1</voice><type>quarter</type>{lyric}</note>"
        + note("G4", extra=lyric)
    )
    pruned = musicxml_to_lmx(xml)
    utf16 = musicxml_to_lmx(xml.replace('"UTF-8"', '"UTF-16"').encode("utf-16"))
    monkeypatch.setattr("mt3_unified.vocab.lmx.linearize.prune_for_lmx", lambda data: None)
    assert pruned == utf16 == musicxml_to_lmx(xml)
    assert pruned[1] != "G4"  # the first note was read, not skipped


def test_duration_to_types_is_canonical():
    assert duration_to_types(Fraction(7, 2)) == [
        ("half", None),
        ("quarter", None),
        ("eighth", None),
    ]
    assert duration_to_types(Fraction(2, 3)) == [("quarter", "3in2")]
    assert duration_to_types(Fraction(2, 5)) == [("eighth", "5in4")]
    # Every step must read back as itself, or forward/backup would not round-trip.
    for quarters in (Fraction(5, 3), Fraction(7, 1024), Fraction(11, 7), Fraction(65)):
        for note_type, ratio in duration_to_types(quarters):
            step = TYPE_QUARTERS[note_type]
            if ratio:
                actual, normal = map(int, ratio.split("in"))
                step = step * normal / actual
            assert duration_to_types(step) == [(note_type, ratio)]


# ---------------------------------------------------------------- sources and parts


def test_sources_text_bytes_path_and_mxl(tmp_path):
    xml = score(note("C4"))
    expected = musicxml_to_lmx(xml)
    assert musicxml_to_lmx(xml.encode()) == expected
    (tmp_path / "a.musicxml").write_text(xml)
    assert musicxml_to_lmx(tmp_path / "a.musicxml") == expected
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(
            "META-INF/container.xml",
            '<container><rootfiles><rootfile full-path="score/main.xml"/></rootfiles></container>',
        )
        zipped.writestr("score/main.xml", xml)
    (tmp_path / "a.mxl").write_bytes(archive.getvalue())
    assert musicxml_to_lmx(str(tmp_path / "a.mxl")) == expected


def test_timewise_scores_are_converted():
    xml = (
        '<score-timewise><part-list><score-part id="P1"><part-name>x</part-name></score-part>'
        '</part-list><measure number="1"><part id="P1"><attributes><divisions>2</divisions>'
        "</attributes>" + note("C4") + "</part></measure></score-timewise>"
    )
    assert musicxml_to_lmx(xml) == ["measure", "C4", "voice:1", "quarter"]


def test_multi_part_score_needs_a_part():
    bach = str(music21.corpus.getWork("bach/bwv66.6"))
    assert [pid for pid, _ in list_parts(bach)] == ["P1", "P2", "P3", "P4"]
    with pytest.raises(MusicXMLError) as error:
        musicxml_to_lmx(bach)
    message = str(error.value)
    assert "bwv66.6.mxl" in message and "'P1' (Soprano)" in message and "'P4' (Bass)" in message
    assert musicxml_to_lmx(bach, part="P3") == musicxml_to_lmx(bach, part=2)
    assert set(musicxml_to_lmx_parts(bach)) == {"P1", "P2", "P3", "P4"}
    with pytest.raises(MusicXMLError, match="no part 'P9'"):
        musicxml_to_lmx(bach, part="P9")


# ---------------------------------------------------------------- bad input

BOMB = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol0 "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
    + "]>\n<score-partwise><part><measure>&lol9;</measure></part></score-partwise>"
)
EXTERNAL = (
    '<?xml version="1.0"?>\n<!DOCTYPE score-partwise [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<score-partwise><part id="P1"><measure><note>&xxe;</note></measure></part></score-partwise>'
)


def _zip_bytes(members: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, text in members.items():
            zipped.writestr(name, text)
    return archive.getvalue()


BAD_FILES = {
    "malformed.xml": (b"<score-partwise><part><measure>", "malformed XML"),
    "picture.xml": (b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>', "not a MusicXML"),
    "empty.musicxml": (b"", "empty file"),
    "noise.xml": (bytes(random.Random(0).randrange(256) for _ in range(500)), "malformed XML"),
    "broken.mxl": (b"PK\x03\x04not really a zip archive", "corrupt .mxl"),
    "rootless.mxl": (
        _zip_bytes(
            {"META-INF/container.xml": '<container><rootfile full-path="x.xml"/></container>'}
        ),
        "rootfile",
    ),
    "bomb.xml": (BOMB.encode(), "unsafe XML"),
    "external.xml": (EXTERNAL.encode(), "unsafe XML"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_input_raises_naming_the_file(tmp_path, name):
    data, problem = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    start = time.perf_counter()
    with pytest.raises(MusicXMLError) as error:
        musicxml_to_lmx(path)
    assert time.perf_counter() - start < 0.5
    assert name in str(error.value) and problem in str(error.value)


def test_entities_are_refused_in_any_encoding_and_text():
    utf16_bomb = BOMB.replace('version="1.0"?>', 'version="1.0" encoding="UTF-16"?>')
    for source in (utf16_bomb.encode("utf-16"), BOMB, EXTERNAL):
        with pytest.raises(MusicXMLError, match="unsafe XML"):
            musicxml_to_lmx(source)
    utf16_score = score(note("C4")).replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert musicxml_to_lmx(utf16_score.encode("utf-16")) == lmx("measure C4 voice:1 quarter")


def test_missing_file_names_the_file():
    with pytest.raises(MusicXMLError, match="no-such-score.xml"):
        musicxml_to_lmx("/nonexistent/no-such-score.xml")


# ---------------------------------------------------------------- delinearization and repair


def test_round_trip_of_hand_written_sequence():
    tokens = lmx(
        "measure key:fifths:1 time beats:2 beat-type:4 clef:G2 staff:1 clef:F4 staff:2 F5 voice:1 "
        "eighth sharp stem:down staff:1 beam:begin tied:start slur:start chord A5 eighth F5 16th "
        "beam:begin tied:stop G5 16th beam:end beam:end slur:stop grace B4 16th stem:up E5 "
        "quarter 3in2 stem:down tuplet:start staccato D5 eighth 3in2 "
        "backup half C3 voice:5 half stem:up staff:2 "
        "tenuto measure rest voice:1 rest:measure staff:1 backup half rest voice:5 rest:measure "
        "staff:2"
    )
    text, report = lmx_to_musicxml(tokens, return_report=True)
    assert musicxml_to_lmx(text) == tokens
    assert not report.counts
    assert report.notices == {"unclosed_tuplet": 1}


def test_repairs_are_reported():
    tokens = lmx(
        "C4 voice:1 quarter junk measure chord rest quarter stem:up D4 quarter tied:start "
        "tuplet:stop backup whole backup whole E4 eighth beam:begin"
    )
    text, report = lmx_to_musicxml(tokens, return_report=True, close_spanners=True)
    assert report.counts == {
        "missing_measure_token": 1,
        "unknown_token": 1,
        "invalid_chord": 1,
        "unmatched_tuplet_stop": 1,
        "backup_before_measure_start": 2,
        "unclosed_beam": 1,
        "unclosed_tie": 1,
    }
    assert musicxml_to_lmx(text) == lmx(
        "measure C4 voice:1 quarter measure rest quarter stem:up D4 quarter backup half E4 eighth"
    )


def _loads_in_music21_and_verovio(text: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        music21.converter.parseData(text, format="musicxml")
    toolkit = verovio.toolkit()
    assert toolkit.loadData(text)


def test_random_sequences_never_crash_and_load_in_music21():
    verovio.enableLog(verovio.LOG_OFF)
    rng = random.Random(1234)
    junk = lmx(" junk 3in2x beats:99 voice:77 <note> &amp; in 0in0")
    repaired = 0
    for index in range(120):
        length = rng.randrange(0, 160)
        tokens = [
            rng.choice(LMX_TOKENS) if rng.random() < 0.9 else rng.choice(junk)
            for _ in range(length)
        ]
        close = index % 2 == 1
        text, report = lmx_to_musicxml(tokens, return_report=True, close_spanners=close)
        repaired += report.total > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            music21.converter.parseData(text, format="musicxml")
        if index % 12 == 0:
            _loads_in_music21_and_verovio(text)
    assert repaired > 100


def test_empty_and_non_string_sequences():
    for tokens in ([], "", ["measure"], [None, 3, "measure"]):
        text, _ = lmx_to_musicxml(tokens, return_report=True)
        _loads_in_music21_and_verovio(text)


# ---------------------------------------------------------------- corpus round trip


def _round_trip_file(path: str) -> list[tuple[str, str, str]]:
    """(path, part, outcome) for every part; outcome is "ok" or a failure kind."""
    outcomes = []
    for part_id, tokens in musicxml_to_lmx_parts(path).items():
        text, report = lmx_to_musicxml(tokens, return_report=True)
        back = musicxml_to_lmx(text)
        if back == tokens:
            outcomes.append((path, part_id, "ok"))
        else:
            kind = ",".join(sorted(report.counts)) or "token_mismatch"
            outcomes.append((path, part_id, kind))
    return outcomes


def _check_round_trip(paths: list[str], minimum_rate: float) -> None:
    workers = max(1, min(len(paths), os.cpu_count() or 1))
    # Spawned, not forked: earlier tests of the session leave JAX and TensorFlow threads
    # running, and a forked child can inherit one of their locks held (it hung the suite).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        outcomes = [o for result in pool.map(_round_trip_file, paths, chunksize=4) for o in result]
    failures = [o for o in outcomes if o[2] != "ok"]
    rate = 1 - len(failures) / len(outcomes)
    by_kind = collections.Counter(kind for _, _, kind in failures)
    print(f"\nLMX round trip: {len(outcomes) - len(failures)}/{len(outcomes)} parts = {rate:.2%}")
    for kind, count in by_kind.most_common():
        print(f"  {count:4d} {kind}")
    for path, part_id, kind in failures[:20]:
        print(f"  {os.path.basename(path)} {part_id}: {kind}")
    assert rate >= minimum_rate


FAST_SAMPLE = (
    "bach/bwv66.6", "bach/bwv846", "beethoven/opus18no1/movement3",
    "schumann_clara/opus17/movement3", "trecento/PMFC_06-Jacopo-02-Con-Gran-Furor",
    "demos/multiple-verses", "leadSheet/berlinAlexandersRagtime", "monteverdi/madrigal.3.10",
    "mozart/k80/movement1", "joplin/maple_leaf_rag",
)  # fmt: skip


def _fast_paths() -> list[str]:
    paths = corpus_paths()
    chosen = []
    for work in FAST_SAMPLE:
        chosen.extend(p for p in paths if work in p.replace(os.sep, "/"))
    return sorted(set(chosen))[:12]


def test_round_trip_on_a_corpus_sample():
    paths = _fast_paths()
    assert len(paths) >= 8
    _check_round_trip(paths, minimum_rate=1.0)


@pytest.mark.slow
def test_round_trip_on_the_whole_music21_corpus():
    _check_round_trip(corpus_paths(), minimum_rate=0.99)


def test_delinearized_corpus_parts_load_in_music21_and_verovio():
    verovio.enableLog(verovio.LOG_OFF)
    for path in _fast_paths()[:4]:
        tokens = next(iter(musicxml_to_lmx_parts(path).values()))
        text = lmx_to_musicxml(tokens)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = music21.converter.parseData(text, format="musicxml")
        assert len(parsed.flatten().notes) > 0
        toolkit = verovio.toolkit()
        assert toolkit.loadData(text) and toolkit.getPageCount() >= 1
