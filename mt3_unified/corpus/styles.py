"""Rendering styles: how a piece looks (music font, staff size, spacing, page width, light
image degradations) and sounds (GM piano program, velocity curve, reverb, gain, noise).

A corpus config lists its training styles; each piece gets one of them by a seeded hash
of its id, so the same piece always looks and sounds alike. A config may also hold one
style out: the test pieces are rendered a second time in it, as the split `test_heldout`,
and no training or validation example ever uses it.

Every random draw here (page width, each system's degradation, the room's response,
the noise) is seeded by hashes of the style's name, the piece id and the system, so a
build is the same bytes on every run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass

import numpy as np

# The style name that examples of a config without styles carry.
DEFAULT_STYLE = "default"


@dataclass(frozen=True)
class RenderingStyle:
    """One way to engrave and play a piece. Degradation fields are maxima: each system
    draws its own strength in [0, max] (rotation in [-max, max])."""

    name: str
    # How it looks. None keeps the config's LayoutConfig value (or verovio's default).
    font: str | None = None  # a verovio music font (systems.music_fonts())
    staff_unit: float | None = None  # verovio's unit: smaller fits more measures a system
    margin: int | None = None  # page margin: a larger one draws the staff smaller in the image
    spacing_linear: float | None = None
    spacing_non_linear: float | None = None
    page_width_jitter: float = 0.0  # each piece's page width x (1 + U(-j, j))
    blur: float = 0.0  # Gaussian blur radius in pixels
    pixel_noise: float = 0.0  # standard deviation of Gaussian pixel noise (0-255 scale)
    rotation: float = 0.0  # degrees
    contrast: float = 0.0  # fraction by which ink lightens and paper darkens
    # How it sounds.
    program: int = 0  # General MIDI program (0-7: the piano family)
    velocity_exponent: float = 1.0  # velocity -> 127 * (velocity / 127) ** exponent
    reverb: float = 0.0  # level of the reverberated signal added to the dry one
    reverb_seconds: float = 1.0  # the room's decay to -60 dB
    gain_db: float = 0.0
    noise_db: float | None = None  # RMS of white background noise in dB full scale

    @property
    def degrades_image(self) -> bool:
        return any((self.blur, self.pixel_noise, self.rotation, self.contrast))

    @property
    def changes_audio(self) -> bool:
        return bool(self.reverb or self.gain_db or self.noise_db is not None)


# Training styles: the five fonts verovio bundles but Petaluma, the piano family of General
# MIDI but program 4, and settings from clean and dry to slightly degraded and roomy.
TRAINING_STYLES = (
    RenderingStyle("leipzig_grand", font="Leipzig", program=0, page_width_jitter=0.08),
    RenderingStyle(
        "bravura_bright",
        font="Bravura",
        staff_unit=8.5,
        spacing_linear=0.3,
        page_width_jitter=0.1,
        blur=0.7,
        pixel_noise=6.0,
        rotation=0.3,
        contrast=0.15,
        program=1,
        velocity_exponent=0.8,
        reverb=0.15,
        reverb_seconds=0.8,
        gain_db=-2.0,
        noise_db=-62.0,
    ),
    RenderingStyle(
        "leland_electric_grand",
        font="Leland",
        margin=80,
        spacing_non_linear=0.55,
        page_width_jitter=0.1,
        blur=0.5,
        contrast=0.2,
        program=2,
        velocity_exponent=1.2,
        reverb=0.25,
        reverb_seconds=1.2,
        gain_db=-4.0,
    ),
    RenderingStyle(
        "gootville_honky_tonk",
        font="Gootville",
        staff_unit=9.5,
        spacing_linear=0.22,
        page_width_jitter=0.1,
        pixel_noise=10.0,
        rotation=0.4,
        program=3,
        velocity_exponent=0.9,
        reverb=0.1,
        reverb_seconds=0.6,
        noise_db=-55.0,
    ),
    RenderingStyle(
        "bravura_electric_piano",
        font="Bravura",
        margin=70,
        page_width_jitter=0.08,
        blur=0.9,
        contrast=0.25,
        program=5,
        velocity_exponent=1.1,
        reverb=0.3,
        reverb_seconds=1.5,
        gain_db=-3.0,
        noise_db=-65.0,
    ),
    RenderingStyle(
        "leland_harpsichord",
        font="Leland",
        staff_unit=8.5,
        spacing_non_linear=0.65,
        page_width_jitter=0.1,
        pixel_noise=5.0,
        rotation=0.2,
        program=6,
        reverb=0.2,
        reverb_seconds=1.0,
        gain_db=-5.0,
    ),
    RenderingStyle(
        "leipzig_clavinet",
        font="Leipzig",
        margin=65,
        spacing_linear=0.28,
        page_width_jitter=0.1,
        blur=0.6,
        pixel_noise=8.0,
        contrast=0.2,
        program=7,
        velocity_exponent=0.85,
        gain_db=-3.0,
        noise_db=-58.0,
    ),
)

# Held out of training: a font and a program no training style uses, and its own setting
# (a handwritten-looking font, a Rhodes-like electric piano in a larger room).
HELDOUT_STYLE = RenderingStyle(
    "petaluma_rhodes",
    font="Petaluma",
    staff_unit=9.0,
    margin=60,
    spacing_linear=0.27,
    page_width_jitter=0.1,
    blur=0.6,
    pixel_noise=6.0,
    rotation=0.3,
    contrast=0.2,
    program=4,
    velocity_exponent=0.95,
    reverb=0.35,
    reverb_seconds=1.8,
    gain_db=-2.0,
    noise_db=-60.0,
)


def seed_of(*parts) -> int:
    """A 64-bit seed from a hash of the parts (the same on every machine and run)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def choose_style(
    styles: tuple[RenderingStyle, ...], piece_id: str, seed: int = 0
) -> RenderingStyle | None:
    """The piece's style among ``styles`` by a seeded hash of its id (None when empty)."""
    if not styles:
        return None
    return styles[seed_of("style", seed, piece_id) % len(styles)]


def styled_piece_config(base, style: RenderingStyle, piece_id: str):
    """``base`` (a PieceConfig) with the style's layout, program and effects, and the
    piece's own page width (base width jittered by a hash of the style and piece)."""
    layout = base.layout
    width = layout.page_width
    if style.page_width_jitter:
        u = np.random.default_rng(seed_of("page", style.name, piece_id)).uniform(-1.0, 1.0)
        width = int(round(width * (1.0 + style.page_width_jitter * u) / 10.0)) * 10
    changes = {"page_width": width}
    for field in ("font", "staff_unit", "margin", "spacing_linear", "spacing_non_linear"):
        value = getattr(style, field)
        if value is not None:
            changes[field] = value
    return dataclasses.replace(
        base,
        layout=dataclasses.replace(layout, **changes),
        performance=dataclasses.replace(base.performance, program=style.program),
        style=style,
    )


def curve_velocity(velocity: int, exponent: float) -> int:
    """A velocity through the style's curve: exponents below 1 play louder, above softer."""
    if exponent == 1.0:
        return int(velocity)
    return int(np.clip(round(127.0 * (velocity / 127.0) ** exponent), 1, 127))


def degrade_png(png: bytes, style: RenderingStyle, seed: int) -> bytes:
    """The PNG slightly rotated, blurred, lowered in contrast and noised (each strength
    drawn from ``seed`` up to the style's maximum); same size, grayscale 0-255."""
    if not style.degrades_image:
        return png
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    angle, radius, contrast, noise = (
        rng.uniform(-style.rotation, style.rotation),
        rng.uniform(0.0, style.blur),
        rng.uniform(0.0, style.contrast),
        rng.uniform(0.0, style.pixel_noise),
    )
    image = Image.open(io.BytesIO(png)).convert("L")
    if style.rotation:
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    if radius > 0.05:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    pixels = np.asarray(image, np.float32)
    if contrast:
        paper, ink = 255.0 * (1.0 - 0.25 * contrast), 255.0 * 0.6 * contrast
        pixels = ink + (paper - ink) * pixels / 255.0
    if noise:
        pixels = pixels + rng.normal(0.0, noise, pixels.shape)
    out = io.BytesIO()
    Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), "L").save(
        out, format="PNG", optimize=False
    )
    return out.getvalue()


def room_response(style: RenderingStyle, sample_rate: int) -> np.ndarray:
    """A synthetic room's impulse response: 12 ms of pre-delay, then exponentially
    decaying noise, darkened by a one-pole low-pass, of unit energy (seeded by the
    style's name)."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed_of("room", style.name))
    length = int(style.reverb_seconds * sample_rate)
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-6.91 * t / style.reverb_seconds)
    tail = lfilter([0.3], [1.0, -0.7], tail)
    response = np.concatenate([np.zeros(int(0.012 * sample_rate)), tail])
    return (response / np.sqrt(np.sum(response**2))).astype(np.float32)


def apply_audio_style(
    audio: np.ndarray, style: RenderingStyle, sample_rate: int, seed: int
) -> np.ndarray:
    """Float audio with the style's reverb (cut at the audio's end), gain and noise."""
    if not style.changes_audio:
        return audio
    out = audio.astype(np.float32)
    if style.reverb:
        from scipy.signal import oaconvolve

        wet = oaconvolve(out, room_response(style, sample_rate))[: len(out)]
        out = out + np.float32(style.reverb) * wet.astype(np.float32)
    if style.gain_db:
        out = out * np.float32(10.0 ** (style.gain_db / 20.0))
    if style.noise_db is not None:
        level = 10.0 ** (style.noise_db / 20.0)
        rng = np.random.default_rng(seed)
        out = out + (level * rng.standard_normal(len(out))).astype(np.float32)
    return out.astype(np.float32)
