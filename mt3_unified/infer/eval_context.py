"""What every `mt3u eval` step shares: the decoded pairs, the run's context, names of tables."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from mt3_unified.errors import Mt3UnifiedError

MODEL, RANDOM, CODEC_ROW, GT_IMAGE, MULTI = (
    "model",
    "random pairing",
    "codec reconstruction",
    "GT image",
    "multi-stage",
)
# The model's outputs scored against another example's reference (the random pairing's
# cycle): a model that ignores its input scores as well there as on its own row.
MODEL_RANDOM = "model, paired at random"
# AMT on log-mel inputs: the model on whole test systems, original and codec-decoded.
GT_AUDIO, CODEC_SYSTEMS = "GT audio, whole systems", "codec reconstruction, whole systems"
# The codec each pair cannot be scored without, and the flag that supplies it.
NEEDS_CODEC = {"midi_to_audio": "audio", "image_to_audio": "audio"}
CODEC_FLAGS = {"image": "--image-codec (image_codec=)", "audio": "--audio-codec (audio_codec=)"}
# EMD pitch / duration: each reading's token histograms against its own target's (as in
# EMD_COLUMNS), which SER's exact alignment hides: whether a reader gets a system's pitches.
SER_COLUMNS = [
    "system",
    "SER (%)",
    "SER w/o tuplets (%)",
    "SER, pitches masked (%)",
    "EMD pitch",
    "EMD duration",
    "examples",
]
NOTE_COLUMNS = [
    "system",
    "onset F1 @50ms",
    "onset-offset F1 @50ms",
    "onset F1 @100ms",
    "onset F1 @200ms",
    "examples",
]
AUDIO_COLUMNS = [
    "system",
    "onset F1 @50ms",
    "onset F1 @100ms",
    "onset F1 @200ms",
    "FAD",
    "examples",
]
EMD_COLUMNS = [
    "system",
    "EMD pitch",
    "EMD duration",
    "set EMD pitch",
    "set EMD duration",
    "read with notes",
    "examples",
]
CODE_COLUMNS = ["system", "code accuracy", "code length ratio", "PSNR (dB)", "examples"]
TITLES = {
    "image_to_lmx": "OMR (image → LMX)",
    "lmx_to_image": "Engraving (LMX → image)",
    "audio_to_midi": "AMT (audio → MIDI)",
    "midi_to_audio": "Synthesis (MIDI → audio)",
    "image_to_audio": "Image → audio",
    "audio_to_image": "Audio → image",
    "lmx_to_midi": "LMX → MIDI",
    "midi_to_lmx": "MIDI → LMX",
}


OUTPUT_MODALITIES = ("lmx", "midi", "image", "audio")


def settings_for(decoding: dict, outputs: Sequence[str], output_modality: str) -> dict:
    """The decoding settings that apply to translations into ``output_modality``: none
    (greedy) unless it is one of ``outputs``; beam search decodes symbolic outputs only,
    so code outputs sample or decode greedily."""
    if output_modality not in outputs:
        return {}
    if output_modality in ("lmx", "midi"):
        return dict(decoding)
    beams_only = ("num_beams", "length_penalty")
    return {key: value for key, value in decoding.items() if key not in beams_only}


class EvaluationError(Mt3UnifiedError, ValueError):
    """An evaluation that cannot start: the message names the flag or folder to fix."""


@dataclasses.dataclass
class Decoded:
    """One pair's eval examples, the model's frames and both postprocessed."""

    task: str
    input_modality: str
    output_modality: str
    examples: list[dict]
    frames: list[np.ndarray]
    targets: list
    predictions: list
    # {example index: {"target": notes, "prediction": notes}} the scoring found (audio
    # outputs: ground truth and the own-AMT transcription) for the samples' piano rolls.
    sample_notes: dict = dataclasses.field(default_factory=dict)

    @property
    def pair(self) -> str:
        return f"{self.input_modality}_to_{self.output_modality}"


@dataclasses.dataclass
class Context:
    """What every pair's scoring shares: the run, codecs (loaded once, on first use)."""

    run: object
    split: str
    max_examples: int
    batch_size: int
    seed: int
    output_dir: Path
    samples_per_task: int
    codec_workdirs: dict[str, str | None]
    embedder: object = None
    # The run whose AMT transcribes generated audio (`evaluate`'s ``transcriber``; None:
    # this run's own) and the audio codec it reads, by workdir.
    transcriber: object = None
    transcriber_codec: str | None = None
    # The run whose OMR reads generated images (`evaluate`'s ``reader``; None: this run's
    # own), on the same image codes.
    reader: object = None
    # How the evaluated model decodes its translations (`model.decoding.DecodingSettings`'
    # fields; empty: greedy). Judges (the AMT or OMR that scores an output) stay greedy.
    decoding: dict = dataclasses.field(default_factory=dict)
    # The output modalities `decoding` applies to; the others decode greedily.
    decoding_outputs: tuple[str, ...] = OUTPUT_MODALITIES
    skipped: dict[str, str] = dataclasses.field(default_factory=dict)  # {task: why}
    _encoders: dict = dataclasses.field(default_factory=dict)  # {workdir: host encoder}
    _embed: tuple | None = None

    def encoder(self, modality: str):
        """The host encoder of the image or audio codec; None when there is none."""
        return self._encoder_at(self.codec_workdirs.get(modality))

    def decoding_for(self, output_modality: str) -> dict:
        """The decoding settings of the model's translations into ``output_modality``."""
        return settings_for(self.decoding, self.decoding_outputs, output_modality)

    def transcriber_encoder(self):
        """The audio codec's host encoder the transcriber reads clips with (the evaluated
        run's, loaded once, when both read the same codec)."""
        if self.transcriber is None:
            return self.encoder("audio")
        return self._encoder_at(self.transcriber_codec)

    def _encoder_at(self, workdir: str | None):
        if workdir not in self._encoders:
            from mt3_unified.codecs.loading import load_code_encoder

            self._encoders[workdir] = load_code_encoder(workdir) if workdir else None
        return self._encoders[workdir]

    def transcriber_label(self) -> str:
        """Who transcribes generated audio, as the tables' notes say it."""
        if self.transcriber is None:
            return "this model's own AMT"
        run = self.transcriber
        return f"the AMT of {run.model_dir} (step {run.step}, `--transcriber`)"

    def reader_label(self) -> str:
        """Who reads generated images, as the tables' notes say it."""
        if self.reader is None:
            return "this model's own OMR"
        run = self.reader
        return f"the OMR of {run.model_dir} (step {run.step}, `--reader`)"

    def embed(self) -> tuple[Callable, str]:
        if self._embed is None:
            from mt3_unified.infer.embedders import load_embedder

            self._embed = load_embedder(self.embedder, self.encoder("audio"))
        return self._embed
