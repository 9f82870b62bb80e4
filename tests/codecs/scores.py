"""Real-ish test data: one-staff score systems (verovio) and synthesized audio (fluidsynth)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
VEROVIO_OPTIONS = {
    "breaks": "auto",
    "systemMaxPerPage": 1,
    "adjustPageHeight": True,
    "header": "none",
    "footer": "none",
    "scale": 20,
    "pageWidth": 2400,
    "pageMarginTop": 0,
    "pageMarginBottom": 0,
}


def render_systems(piece: str, workdir: Path, height: int) -> list[np.ndarray]:
    """Every part of a music21 corpus piece as one-staff systems, [height, W] arrays in [0, 1]."""
    import cairosvg
    import music21
    import verovio
    from PIL import Image

    score = music21.corpus.parse(piece)
    systems = []
    for i, part in enumerate(score.parts):
        path = workdir / f"{piece.replace('/', '_')}_{i}.musicxml"
        part.write("musicxml", fp=path)
        toolkit = verovio.toolkit()
        toolkit.setOptions(VEROVIO_OPTIONS)
        toolkit.loadData(path.read_text())
        for page in range(1, toolkit.getPageCount() + 1):
            png = cairosvg.svg2png(
                bytestring=toolkit.renderToSVG(page).encode(), background_color="white"
            )
            image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), np.float32) / 255.0
            systems.append(_fit_height(image, height))
    return systems


def _fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """Crops white rows around the ink, then centres the staff in ``height`` rows."""
    ink = np.where(image.min(axis=1) < 0.5)[0]
    image = image[ink[0] : ink[-1] + 1] if len(ink) else image
    if image.shape[0] > height:
        top = (image.shape[0] - height) // 2
        return image[top : top + height]
    top = (height - image.shape[0]) // 2
    return np.pad(image, ((top, height - image.shape[0] - top), (0, 0)), constant_values=1.0)


def render_audio(piece: str, workdir: Path, sample_rate: int) -> np.ndarray:
    """A music21 corpus piece synthesized with fluidsynth: mono float32 at ``sample_rate``."""
    import music21
    import soundfile as sf

    if shutil.which("fluidsynth") is None or not Path(SOUNDFONT).exists():
        raise FileNotFoundError("fluidsynth and the Fluid R3 GM soundfont are needed")
    stem = workdir / piece.replace("/", "_")
    music21.corpus.parse(piece).write("midi", fp=f"{stem}.mid")
    subprocess.run(
        ["fluidsynth", "-ni", "-g", "0.5", "-F", f"{stem}.wav", "-r", str(sample_rate),
         SOUNDFONT, f"{stem}.mid"],
        check=True, capture_output=True,
    )  # fmt: skip
    audio, _ = sf.read(f"{stem}.wav", dtype="float32", always_2d=True)
    audio = audio.mean(1)
    loud = np.where(np.abs(audio) > 1e-3)[0]  # trim the silent tail the synth leaves
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio
