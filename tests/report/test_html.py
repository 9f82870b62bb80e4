"""The HTML report embeds what it is given and escapes text."""

import base64
import io
import re

import numpy as np
import soundfile
from PIL import Image

from mt3_unified.report.html import HtmlReport
from mt3_unified.report.plots import curves_png, piano_roll_png


def _embedded(html_text: str, mime: str) -> list[bytes]:
    return [
        base64.b64decode(m) for m in re.findall(rf"data:{mime};base64,([A-Za-z0-9+/=]+)", html_text)
    ]


def test_report_embeds_image_audio_and_escapes_text(tmp_path):
    roll = piano_roll_png([(0.0, 0.5, 60), (0.5, 1.0, 64)], reference=[(0.0, 1.0, 60)])
    tone = 0.1 * np.sin(np.linspace(0, 2 * np.pi * 440, 8000))
    path = (
        HtmlReport("demo <1>")
        .heading("notes")
        .table(["name", "value"], [["f1", 0.98765], ["<b>", 3]])
        .image(roll, alt="roll")
        .audio(tone, 8000)
        .write(tmp_path / "r.html")
    )
    text = path.read_text()
    assert "<title>demo &lt;1&gt;</title>" in text
    assert "<td>0.9877</td>" in text and "<td>&lt;b&gt;</td>" in text
    (png,) = _embedded(text, "image/png")
    assert Image.open(io.BytesIO(png)).format == "PNG"
    (wav,) = _embedded(text, "audio/wav")
    samples, rate = soundfile.read(io.BytesIO(wav))
    assert rate == 8000 and len(samples) == 8000


def test_a_note_shows_its_code_spans_as_code_and_escapes_the_rest(tmp_path):
    note = "transcribed by `runs/a<b>/model`; `x` and <i>, one ` alone"
    text = HtmlReport("n").note(note).write(tmp_path / "n.html").read_text()
    assert (
        "<p>transcribed by <code>runs/a&lt;b&gt;/model</code>; <code>x</code> and "
        "&lt;i&gt;, one ` alone</p>"
    ) in text


def test_curves_png_is_an_image():
    png = curves_png({"train": ([0, 1, 2], [3.0, 2.0, 1.5])}, ylabel="loss")
    assert Image.open(io.BytesIO(png)).size[0] > 100
