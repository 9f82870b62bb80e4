"""mt3-unified: translate music between score images, LMX, MIDI and audio with one model."""

__version__ = "0.1.0"
