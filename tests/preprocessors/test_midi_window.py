"""The pure-TF window encoder writes exactly the Python event codec's tokens."""

import numpy as np
import pytest

from mt3_unified.preprocessors.midi_window import OPEN, midi_window_ids
from mt3_unified.preprocessors.tokenize import note_events
from mt3_unified.vocab.midi_events import encode_note_sequence
from tests.preprocessors.helpers import midi, vocab
from tests.vocab.midi_helpers import make_ns


def window(notes, start, end):
    rows = [(on, off, p, v, g, d) for p, v, on, off, g, d in notes]
    arrays = {
        name: np.asarray([r[i] for r in rows])
        for i, name in enumerate(("onset", "offset", "pitch", "velocity", "program", "is_drum"))
    }
    events, spans = note_events(arrays, vocab())
    return midi_window_ids(events, spans, start, end, vocab()).numpy().tolist()


def test_tie_section_of_a_note_held_over_the_boundary():
    v = vocab()
    # (pitch, velocity, start, end, program, is_drum): 60 sounds across step 100.
    notes = [(60, 127, 0.5, 1.5, 0, False), (64, 63, 1.2, 1.3, 0, False)]
    first = window(notes, 0, 100)
    second = window(notes, 100, OPEN)
    assert first == midi(v, ("tie",), ("shift", 50), ("program", 0), ("velocity", 4), ("pitch", 60))
    assert second == midi(
        v,
        ("program", 0),
        ("pitch", 60),
        ("tie",),
        ("shift", 20),
        ("velocity", 2),
        ("pitch", 64),
        ("shift", 30),
        ("velocity", 0),
        ("pitch", 64),
        ("shift", 50),
        ("pitch", 60),
    )


def test_empty_window_is_the_tie_marker_alone():
    assert window([], 0, OPEN) == midi(vocab(), ("tie",))


@pytest.mark.parametrize("seed", range(6))
def test_matches_python_codec_on_random_notes(seed):
    rng = np.random.default_rng(seed)
    notes = []
    for _ in range(40):
        start = float(rng.uniform(0, 6))
        notes.append(
            (
                int(rng.integers(40, 50)),
                int(rng.integers(1, 128)),
                start,
                start + float(rng.uniform(0.005, 2.5)),
                int(rng.integers(0, 3)),
                bool(rng.random() < 0.15),
            )
        )
    starts = [0.0, 0.7, 1.0, 2.5, 4.99]
    expected = encode_note_sequence(make_ns(notes), vocab().config.midi, segment_starts=starts)
    steps = [vocab().config.midi.quantize(t) for t in starts]
    ends = steps[1:] + [OPEN]
    for tokens, start, end in zip(expected, steps, ends, strict=True):
        assert window(notes, start, end) == vocab().encode_midi(tokens)
