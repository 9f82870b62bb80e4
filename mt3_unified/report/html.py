"""A self-contained HTML report: headings, tables, text, images and audio, all inline."""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #ddd; }
pre { background: #f7f7f7; padding: 0.5em; white-space: pre-wrap; word-break: break-word; }
.bad { color: #a00; }
.row { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.row figure { flex: 1 1 300px; }
figure { margin: 0.5em 0; }
figcaption { font-size: 0.9em; color: #555; }
"""


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode('ascii')}"


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples in [-1, 1] as 16-bit PCM WAV bytes."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.asarray(samples, dtype=np.float32), sample_rate, format="WAV")
    return buffer.getvalue()


class HtmlReport:
    """Collects sections in order and writes one HTML file with everything embedded.

    Embedding (rather than linking) keeps a report valid when it is copied off
    the machine that made it, which is how results get shared.
    """

    def __init__(self, title: str):
        self.title = title
        self._parts: list[str] = []

    def heading(self, text: str, level: int = 2) -> HtmlReport:
        self._parts.append(f"<h{level}>{html.escape(text)}</h{level}>")
        return self

    def text(self, text: str, *, css_class: str | None = None) -> HtmlReport:
        attr = f' class="{css_class}"' if css_class else ""
        self._parts.append(f"<p{attr}>{html.escape(text)}</p>")
        return self

    def note(self, text: str) -> HtmlReport:
        """A paragraph of Markdown-like text (a table's note): its `code spans` as code."""
        marked = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
        self._parts.append(f"<p>{marked}</p>")
        return self

    def code(self, text: str) -> HtmlReport:
        self._parts.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def table(self, header: Sequence[str], rows: Iterable[Sequence[object]]) -> HtmlReport:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        self._parts.append(f"<table><tr>{head}</tr>{body}</table>")
        return self

    def image(self, png: bytes, alt: str = "") -> HtmlReport:
        self._parts.append(f'<img src="{_data_uri("image/png", png)}" alt="{html.escape(alt)}">')
        return self

    def image_row(self, images: Sequence[tuple[bytes, str]]) -> HtmlReport:
        """Captioned PNGs side by side (wrapping on narrow pages), e.g. target beside prediction."""
        figures = "".join(
            f'<figure><img src="{_data_uri("image/png", png)}" alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            for png, caption in images
        )
        self._parts.append(f'<div class="row">{figures}</div>')
        return self

    def audio(self, samples: np.ndarray, sample_rate: int) -> HtmlReport:
        return self.audio_file(wav_bytes(samples, sample_rate))

    def audio_file(self, wav: bytes, label: str = "") -> HtmlReport:
        """A WAV file embedded byte for byte: no decoding, so what plays is what was written."""
        player = f'<audio controls src="{_data_uri("audio/wav", wav)}"></audio>'
        if label:
            player = f"<figure><figcaption>{html.escape(label)}</figcaption>{player}</figure>"
        self._parts.append(player)
        return self

    def render(self) -> str:
        title = html.escape(self.title)
        return (
            f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{_STYLE}</style></head><body><h1>{title}</h1>\n"
            + "\n".join(self._parts)
            + "\n</body></html>\n"
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.render(), encoding="utf-8")
        return path


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))
