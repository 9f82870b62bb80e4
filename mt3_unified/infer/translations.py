"""The translations inference offers (one `mt3u` subcommand each) and the files each takes.

Kept free of heavy imports: `mt3u --help` lists them without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
PDF_SUFFIXES = (".pdf",)
MUSICXML_SUFFIXES = (".musicxml", ".xml", ".mxl")
SCORE_SUFFIXES = MUSICXML_SUFFIXES + (".lmx",)
MIDI_SUFFIXES = (".mid", ".midi")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
PAGE_SUFFIXES = IMAGE_SUFFIXES + PDF_SUFFIXES


@dataclasses.dataclass(frozen=True)
class Translation:
    """What a subcommand translates, and which input files it takes."""

    name: str
    input_modality: str
    output_modality: str
    suffixes: tuple[str, ...]
    help: str


TRANSLATIONS = {
    t.name: t
    for t in (
        Translation("omr", "image", "lmx", PAGE_SUFFIXES, "score images or PDFs -> LMX, MusicXML"),
        Translation("amt", "audio", "midi", AUDIO_SUFFIXES, "recordings -> MIDI"),
        Translation("synth", "midi", "audio", MIDI_SUFFIXES, "MIDI -> WAV"),
        Translation(
            "engrave", "lmx", "image", SCORE_SUFFIXES, "MusicXML or LMX -> score-system images"
        ),  # fmt: skip
        Translation("i2a", "image", "audio", PAGE_SUFFIXES, "score images or PDFs -> WAV"),
        Translation("a2i", "audio", "image", AUDIO_SUFFIXES, "recordings -> score images"),
        Translation(
            "score2audio",
            "image",
            "audio",
            MUSICXML_SUFFIXES + PAGE_SUFFIXES,
            "a whole score (MusicXML, PDF or page images) -> one performance",
        ),  # fmt: skip
    )
}
