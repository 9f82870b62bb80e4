"""An HTML report of trained codecs on a corpus split: originals beside their decoded codes
(audio also as the log-mel AMT sees it)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from mt3_unified.report.codec_spectra import amt_view, spectra_png
from mt3_unified.report.html import HtmlReport


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    pixels = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def image_psnr(reconstruction: np.ndarray, reference: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1]."""
    mse = float(np.mean((np.asarray(reconstruction) - np.asarray(reference)) ** 2))
    return 10.0 * float(np.log10(1.0 / max(mse, 1e-10)))


def codec_report(
    corpus: str,
    split: str,
    output: str | os.PathLike,
    image_encoder=None,
    audio_encoder=None,
    *,
    data_dir: str | None = None,
    shown: int = 3,
) -> dict:
    """Encodes and decodes every example of a split; writes the page and returns the metrics.

    Metrics are means over the split's examples: image PSNR (dB) beside the PSNR
    of a flat image at each original's mean gray (the level a codec that learned
    nothing else reaches), audio mel distance (the codec's multi-scale log-mel L1)
    and SI-SNR (dB); the page shows
    the first ``shown`` examples as original vs decoded image and audio.
    """
    from mt3_unified.codecs.audio import host_audio_distances
    from mt3_unified.codecs.data import example_name, load_corpus
    from mt3_unified.codecs.inputs import CodecInputError

    report = HtmlReport(f"codecs on {corpus} / {split}")
    psnrs, flat_psnrs, mels, snrs, skipped, sections = [], [], [], [], [], []
    for i, example in enumerate(load_corpus(corpus, split, data_dir, image_bytes=True)):
        name = example_name(example, i)
        section = {"name": name}
        try:
            if image_encoder is not None and "image" in example:
                image = image_encoder.prepare(example["image"], name)
                frames, rows = image_encoder(image)
                decoded = image_encoder.decode(frames, rows, image.shape[1])
                psnrs.append(image_psnr(decoded, image))
                # What a codec that learned only the mean gray would score: a score is
                # ~92% white paper, so PSNR alone flatters a blurred reconstruction.
                flat_psnrs.append(image_psnr(np.full_like(image, image.mean()), image))
                section["image"] = (image, decoded, frames.shape, psnrs[-1])
            if audio_encoder is not None and "audio" in example:
                audio = audio_encoder.prepare(example["audio"], example.get("sample_rate"), name)
                codes = audio_encoder(audio)
                decoded_audio = audio_encoder.decode(codes, audio.shape[0])
                mel, snr = host_audio_distances(decoded_audio, audio, audio_encoder.model.config)
                mels.append(mel)
                snrs.append(snr)
                section["audio"] = (audio, decoded_audio, codes.shape, mels[-1], snrs[-1])
        except CodecInputError as error:
            skipped.append(f"{name}: {error.problem}")
            continue
        if len(sections) < shown:
            sections.append(section)
    metrics = {"split": split, "examples": len(psnrs) or len(mels)}
    if psnrs:
        metrics["image_psnr_db"] = float(np.mean(psnrs))
        metrics["image_psnr_flat_gray_db"] = float(np.mean(flat_psnrs))
    if mels:
        metrics["audio_mel_distance"] = float(np.mean(mels))
        metrics["audio_si_snr_db"] = float(np.mean(snrs))
    report.heading("Metrics")
    report.table(["metric", "value"], [[k, v] for k, v in metrics.items()])
    if skipped:
        report.heading("Skipped")
        report.code("\n".join(skipped))
    for section in sections:
        name = section["name"]
        report.heading(name, 3)
        if "image" in section:
            image, decoded, shape, psnr = section["image"]
            report.text(f"image: {shape[0]} frames x {shape[1]} codes; PSNR {psnr:.2f} dB")
            report.image(_png(image), alt=f"{name} original image")
            report.image(_png(decoded), alt=f"{name} decoded image")
        if "audio" in section:
            audio, decoded_audio, shape, mel, snr = section["audio"]
            rate = audio_encoder.model.config.sample_rate
            report.text(
                f"audio: {shape[0]} frames x {shape[1]} codes; mel distance {mel:.3f}, "
                f"SI-SNR {snr:.1f} dB (original, then decoded)"
            )
            report.audio(audio, rate)
            report.audio(decoded_audio, rate)
            panels = [
                ("original", amt_view(audio, rate)),
                ("decoded", amt_view(decoded_audio, rate)),
            ]
            report.image(spectra_png(panels, rate), alt=f"{name} log-mel, original and decoded")
    metrics["file"] = str(report.write(Path(output)))
    return metrics
