"""Render engraved SVG to grayscale PNG (librsvg or cairosvg) and notes to audio (fluidsynth)."""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np

from mt3_unified.corpus.errors import SkipError

DEFAULT_SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
# Ticks of 1 ms (500 ticks a quarter at 120 qpm): note times already on a 1 ms grid
# survive the MIDI file exactly, so the stored notes are the rendered ones.
MIDI_RESOLUTION = 500
MIDI_QPM = 120.0

_GLYPH_DEF = re.compile(r'<g id="([^"]+)">\s*(<path[^>]*/>)\s*</g>')
_GLYPH_USE = re.compile(r'<use xlink:href="#([^"]+)" transform="([^"]+)"\s*/>')


def inline_glyphs(svg: str) -> str:
    """Replace verovio's <use> glyph references by the glyph paths themselves.

    cairosvg re-parses the referenced tree for every <use>; inlining makes
    rasterizing about 20% faster and draws the same pixels.
    """
    glyphs = dict(_GLYPH_DEF.findall(svg))

    def expand(match: re.Match) -> str:
        path = glyphs.get(match.group(1))
        return match.group(0) if path is None else f'<g transform="{match.group(2)}">{path}</g>'

    return _GLYPH_USE.sub(expand, svg)


class _Librsvg:
    """librsvg (Debian librsvg2-2) through cffi: about 8x faster than cairosvg here."""

    def __init__(self):
        from cffi import FFI

        self.ffi = FFI()
        self.ffi.cdef(
            """
            typedef struct { double x, y, width, height; } RsvgRectangle;
            void *rsvg_handle_new_from_data(const unsigned char *data, size_t n, void **error);
            int rsvg_handle_get_intrinsic_size_in_pixels(void *handle, double *w, double *h);
            int rsvg_handle_render_document(void *handle, void *cr, const RsvgRectangle *viewport,
                                            void **error);
            void g_object_unref(void *object);
            """
        )
        self.lib = self.ffi.dlopen("librsvg-2.so.2")

    def render(self, svg: bytes, height: int):
        import cairocffi
        from PIL import Image

        ffi, lib = self.ffi, self.lib
        error = ffi.new("void **")
        handle = lib.rsvg_handle_new_from_data(svg, len(svg), error)
        if handle == ffi.NULL:
            raise SkipError(None, "librsvg cannot parse the system's SVG", "png")
        try:
            w, h = ffi.new("double *"), ffi.new("double *")
            if not lib.rsvg_handle_get_intrinsic_size_in_pixels(handle, w, h) or h[0] <= 0:
                raise SkipError(None, "the system's SVG has no size", "png")
            width = max(int(round(w[0] * height / h[0])), 1)
            surface = cairocffi.ImageSurface(cairocffi.FORMAT_RGB24, width, height)
            context = cairocffi.Context(surface)
            context.set_source_rgb(1, 1, 1)
            context.paint()
            # The cairo_t crosses from cairocffi's FFI to ours as a plain address.
            cr = ffi.cast("void *", int(cairocffi.ffi.cast("uintptr_t", context._pointer)))
            viewport = ffi.new(
                "RsvgRectangle *", {"x": 0, "y": 0, "width": width, "height": height}
            )
            if not lib.rsvg_handle_render_document(handle, cr, viewport, error):
                raise SkipError(None, "librsvg cannot render the system", "png")
        finally:
            lib.g_object_unref(handle)
        surface.flush()
        data = bytes(surface.get_data())
        stride = surface.get_stride()
        rgbx = Image.frombuffer("RGBX", (width, height), data, "raw", "BGRX", stride, 1)
        return rgbx.convert("L")


@functools.cache
def _loaded(wrapper: type):
    """The process's one instance of a cffi library wrapper, or None where its shared
    library (or cffi) does not load; the fallback is then the pure-Python path."""
    try:
        return wrapper()
    except (OSError, ImportError):
        return None


def rasterizer() -> str:
    """'librsvg' where the library loads, else 'cairosvg' (pixels differ slightly)."""
    return "librsvg" if _loaded(_Librsvg) else "cairosvg"


def svg_to_image(svg: str, height: int, backend: str | None = None):
    """A grayscale PIL image of the SVG, ``height`` pixels high."""
    from PIL import Image

    backend = backend or rasterizer()
    if backend == "librsvg" and rasterizer() == "librsvg":
        return _loaded(_Librsvg).render(svg.encode("utf-8"), height)
    import cairosvg

    try:
        png = cairosvg.svg2png(
            bytestring=inline_glyphs(svg).encode("utf-8"),
            output_height=height,
            background_color="white",
        )
    except Exception as e:  # cairosvg raises assorted types on malformed SVG
        raise SkipError(None, f"cairosvg cannot render the system ({e})", "png") from e
    return Image.open(io.BytesIO(png)).convert("L")


def svg_to_png(
    svg: str, height: int, width_multiple: int = 16, backend: str | None = None
) -> bytes:
    """Grayscale PNG of exactly ``height`` pixels; width scaled alike, padded with white
    on the right to a multiple of ``width_multiple`` (the image codec's patch size)."""
    from PIL import Image

    image = svg_to_image(svg, height, backend)
    image = _crop_right(image)
    if image.height != height:  # cairosvg rounds the width; the height must be exact
        image = image.resize((image.width, height), Image.Resampling.LANCZOS)
    width = -(-image.width // width_multiple) * width_multiple
    if width != image.width:
        padded = Image.new("L", (width, height), 255)
        padded.paste(image, (0, 0))
        image = padded
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _crop_right(image):
    """Drop the blank right part of a system verovio did not justify (a piece's last),
    keeping a margin of height/8: blank columns would only cost image-codec frames."""
    import numpy as np

    ink = np.flatnonzero((np.asarray(image) < 200).any(axis=0))
    if not len(ink):
        return image
    right = min(int(ink[-1]) + 1 + image.height // 8, image.width)
    return image.crop((0, 0, right, image.height)) if right < image.width else image


def notes_to_midi_bytes(notes: Sequence) -> bytes:
    """A Standard MIDI File of notes (objects with onset, offset, pitch, velocity,
    program, is_drum; times in seconds), one track per (program, is_drum).

    Written directly (pretty_midi's writer took a tenth of a piece's build), in the
    layout pretty_midi writes: a tempo track, then per instrument a program change and
    its notes, note-ons of velocity 0 ending notes, events at one tick ordered by pitch
    and velocity (a note's end before a new start of the pitch), running status.
    """
    tick_seconds = 60.0 / (MIDI_QPM * MIDI_RESOLUTION)
    tempo = int(60e6 / MIDI_QPM)
    tracks = [
        b"\x00\xff\x51\x03"
        + tempo.to_bytes(3, "big")
        + b"\x00\xff\x58\x04\x04\x02\x18\x08"  # 4/4
        + b"\x01\xff\x2f\x00"
    ]
    instruments: dict[tuple[int, bool], list] = {}
    for n in notes:
        instruments.setdefault((int(n.program), bool(n.is_drum)), []).append(n)
    channels = [c for c in range(16) if c != 9]
    for index, key in enumerate(sorted(instruments)):
        program, is_drum = key
        channel = 9 if is_drum else channels[index % len(channels)]
        events = []  # (tick, pitch, velocity); velocity 0 ends a note
        for n in instruments[key]:
            pitch, velocity = int(n.pitch), int(n.velocity)
            events.append((int(round(n.onset / tick_seconds)), pitch, velocity))
            events.append((int(round(n.offset / tick_seconds)), pitch, 0))
        events.sort()
        data = bytearray((0, 0xC0 | channel, program))  # at tick 0
        now = 0
        for i, (tick, pitch, velocity) in enumerate(events):
            data += _variable_length(tick - now)
            if i == 0:  # later note events share this status byte (running status)
                data.append(0x90 | channel)
            data += bytes((pitch, velocity))
            now = tick
        data += _variable_length(1) + b"\xff\x2f\x00"
        tracks.append(bytes(data))
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big")
    header += len(tracks).to_bytes(2, "big") + MIDI_RESOLUTION.to_bytes(2, "big")
    return header + b"".join(b"MTrk" + len(track).to_bytes(4, "big") + track for track in tracks)


def _variable_length(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def fluidsynth_available(soundfont: str = DEFAULT_SOUNDFONT) -> bool:
    if not os.path.exists(soundfont):
        return False
    return synthesizer() == "libfluidsynth" or shutil.which("fluidsynth") is not None


class _LibFluidSynth:
    """libfluidsynth (Debian's fluidsynth package) through cffi: no process to start and
    no WAV file to write and read back for each piece. It plays the MIDI file the way
    ``fluidsynth -F`` does (its player on the sample clock, 64-sample blocks) and keeps
    the float samples. Each render gets a new synthesizer: the player's clock starts
    from the synthesizer's sample count, so a reused one would place events differently
    after another piece."""

    BLOCK = 64  # fluidsynth's default period: the player advances once a block

    def __init__(self):
        from cffi import FFI

        self.ffi = FFI()
        self.ffi.cdef(
            """
            void *new_fluid_settings(void);
            int fluid_settings_setnum(void *settings, const char *name, double value);
            int fluid_settings_setint(void *settings, const char *name, int value);
            int fluid_settings_setstr(void *settings, const char *name, const char *value);
            void *new_fluid_synth(void *settings);
            void delete_fluid_synth(void *synth);
            int fluid_synth_sfload(void *synth, const char *filename, int reset_presets);
            void *new_fluid_player(void *synth);
            int delete_fluid_player(void *player);
            int fluid_player_add_mem(void *player, const void *buffer, size_t length);
            int fluid_player_play(void *player);
            int fluid_synth_write_float(void *synth, int length, void *left, int left_offset,
                                        int left_step, void *right, int right_offset,
                                        int right_step);
            """
        )
        self.lib = self.ffi.dlopen("libfluidsynth.so.3")
        self.settings: dict[tuple, object] = {}  # (rate, gain) -> fluid_settings_t*

    def _settings(self, sample_rate: int, gain: float):
        key = (sample_rate, gain)
        if key not in self.settings:  # kept for the life of the process
            lib = self.lib
            settings = lib.new_fluid_settings()
            lib.fluid_settings_setnum(settings, b"synth.sample-rate", float(sample_rate))
            lib.fluid_settings_setnum(settings, b"synth.gain", float(gain))
            lib.fluid_settings_setint(settings, b"synth.reverb.active", 0)
            lib.fluid_settings_setint(settings, b"synth.chorus.active", 0)
            # Load only the samples a piece plays, not the soundfont's 148 MB.
            lib.fluid_settings_setint(settings, b"synth.dynamic-sample-loading", 1)
            lib.fluid_settings_setint(settings, b"synth.lock-memory", 0)
            lib.fluid_settings_setstr(settings, b"player.timing-source", b"sample")
            self.settings[key] = settings
        return self.settings[key]

    def render(self, midi: bytes, sample_rate: int, num_samples: int, soundfont: str, gain):
        lib, ffi = self.lib, self.ffi
        synth = lib.new_fluid_synth(self._settings(sample_rate, gain))
        if synth == ffi.NULL:
            raise SkipError(None, "fluidsynth cannot start a synthesizer", "audio")
        player = ffi.NULL
        try:
            if lib.fluid_synth_sfload(synth, soundfont.encode(), 1) < 0:
                raise SkipError(None, f"fluidsynth cannot load the soundfont {soundfont}", "audio")
            player = lib.new_fluid_player(synth)
            if player == ffi.NULL or lib.fluid_player_add_mem(player, midi, len(midi)) != 0:
                raise SkipError(None, "fluidsynth cannot read the MIDI file", "audio")
            lib.fluid_player_play(player)
            out = np.empty(num_samples, np.float32)
            chunk = self.BLOCK * 1024
            left, right = np.empty(chunk, np.float32), np.empty(chunk, np.float32)
            pointers = ffi.cast("float *", left.ctypes.data), ffi.cast("float *", right.ctypes.data)
            for begin in range(0, num_samples, chunk):
                n = min(chunk, num_samples - begin)
                n_blocks = -(-n // self.BLOCK) * self.BLOCK  # whole blocks, as -F renders
                if lib.fluid_synth_write_float(
                    synth, n_blocks, pointers[0], 0, 1, pointers[1], 0, 1
                ):
                    raise SkipError(None, "fluidsynth failed to render", "audio")
                np.add(left[:n], right[:n], out=out[begin : begin + n])
            out *= 0.5  # mono: the mean of the two channels
            return out
        finally:
            if player != ffi.NULL:
                lib.delete_fluid_player(player)
            lib.delete_fluid_synth(synth)


def synthesizer() -> str:
    """'libfluidsynth' where the library loads, else the 'fluidsynth' command (whose 16-bit
    WAV output differs from the library's float samples by about 1e-4)."""
    return "libfluidsynth" if _loaded(_LibFluidSynth) else "fluidsynth"


def render_midi(
    midi: bytes,
    sample_rate: int,
    num_samples: int,
    soundfont: str = DEFAULT_SOUNDFONT,
    gain: float = 0.5,
) -> np.ndarray:
    """Mono float32 audio of exactly ``num_samples`` samples, rendered by fluidsynth.

    Reverb and chorus are off: they would smear sound past the notes' ends, and
    the rendering stays deterministic (same MIDI, same samples).
    """
    if not fluidsynth_available(soundfont):
        raise SkipError(None, f"fluidsynth or the soundfont {soundfont} is missing", "audio")
    if synthesizer() == "libfluidsynth":
        return _loaded(_LibFluidSynth).render(midi, sample_rate, num_samples, soundfont, gain)
    return _render_midi_command(midi, sample_rate, num_samples, soundfont, gain)


def _render_midi_command(midi, sample_rate, num_samples, soundfont, gain) -> np.ndarray:
    """The same through the ``fluidsynth`` command, where the library does not load."""
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="mt3u_render_") as tmp:
        mid = os.path.join(tmp, "in.mid")
        wav = os.path.join(tmp, "out.wav")
        with open(mid, "wb") as f:
            f.write(midi)
        command = ["fluidsynth", "-ni", "-q", "-g", str(gain), "-R", "0", "-C", "0"]
        # Load only the samples the MIDI plays, not the soundfont's 148 MB (same samples out).
        command += ["-o", "synth.dynamic-sample-loading=1"]
        command += ["-F", wav, "-r", str(sample_rate), soundfont, mid]
        try:
            subprocess.run(command, check=True, capture_output=True, timeout=600)
            audio, rate = sf.read(wav, dtype="float32", always_2d=True)
        except (subprocess.SubprocessError, OSError, RuntimeError) as e:
            detail = getattr(e, "stderr", b"") or b""
            raise SkipError(
                None, f"fluidsynth failed ({e}; {detail.decode(errors='replace')[-200:]})", "audio"
            ) from e
    if rate != sample_rate:
        raise SkipError(None, f"fluidsynth wrote {rate} Hz, not {sample_rate}", "audio")
    mono = audio.mean(axis=1)
    out = np.zeros(num_samples, np.float32)
    out[: min(num_samples, len(mono))] = mono[:num_samples]
    return out


def to_int16(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).round().astype(np.int16)
