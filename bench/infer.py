"""Inference speed: OMR systems per second and the AMT real-time factor, batch 1 against 16.

Run: python bench/infer.py [--quick] [--configs tiny small]. For each config (gin/models/),
in one process:
  - a run is made as a researcher makes one: codecs (the tiny codec architectures, their
    codebooks the config's vocabulary's, randomly initialised: speed does not depend on
    their weights) and the model trained for one step through gin (train.gin +
    records.gin), so that inference restores it from its own config.gin;
  - inputs: a 4-page PDF of a Bach chorale engraved by verovio (12 systems; OMR splits
    pages into systems by staff lines) and a recording of the chorale rendered by
    fluidsynth (AMT cuts MT3's windows);
  - `mt3u omr` and `mt3u amt` (infer.batch.run_batch) each run once to compile, then are
    timed with --batch-size 1 and 16 in the same process. Every output is decoded to
    `max_length` frames (an untrained model seldom stops early; a trained one stops at its
    EOS, so these are upper bounds on time);
  - the share of time outside the model (reading, system splitting, resampling, codec
    encoding, the tasks' chain, writing) comes from the manifest's model_seconds.
Figures: systems/s, AMT real-time factor (seconds of processing per second of audio),
the batch-16/batch-1 speed-up, the share outside the model.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import tempfile
import time
from pathlib import Path

import gin
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.train import random_examples  # noqa: E402
from mt3_unified.runtime.gin_config import parse_gin  # noqa: E402

FIELDS = ("config", "task", "batch", "items", "seconds", "per_second", "rtf", "outside_model")


@dataclasses.dataclass(frozen=True)
class Setting:
    length: int  # input and target feature length
    max_length: int  # frames decoded per output
    pages: int  # PDF pages of 3 systems
    seconds: float  # of the AMT recording


SETTINGS = {
    "tiny": Setting(length=256, max_length=256, pages=4, seconds=20.0),
    "small": Setting(length=256, max_length=256, pages=4, seconds=20.0),
}
QUICK = Setting(length=64, max_length=8, pages=1, seconds=3.0)


def make_codecs(folder: Path, image_books: tuple[int, int], audio_books: tuple[int, int]):
    """Workdirs of randomly initialised tiny codecs (two optimizer steps on noise)."""
    from mt3_unified.codecs.audio import AudioCodecConfig
    from mt3_unified.codecs.rqvae import RQVAEConfig
    from mt3_unified.codecs.rvq import RVQConfig
    from mt3_unified.codecs.train import train_codec

    image = RQVAEConfig(channels=(8, 16, 32), res_blocks=1, latent_dim=32, height=48,
                        rvq=RVQConfig(num_codebooks=image_books[0],
                                      codebook_size=image_books[1]))  # fmt: skip
    audio = AudioCodecConfig(sample_rate=16000, strides=(4, 8, 8), encoder_dim=8,
                             decoder_dim=64, latent_dim=32, dilations=(1, 3),
                             rvq=RVQConfig(num_codebooks=audio_books[0],
                                           codebook_size=audio_books[1], code_dim=8))  # fmt: skip
    rng = np.random.default_rng(0)
    out = {}
    for name, config, shape in (("image", image, (2, 48, 128)), ("audio", audio, (2, 4096))):
        batches = (rng.uniform(-1.0, 1.0, shape).astype(np.float32) for _ in itertools.count())
        train_codec(str(folder / name), config, data=(batches, [next(batches)]), steps=2,
                    eval_every=2, checkpoint_every=2, warmup_steps=1)  # fmt: skip
        out[name] = str(folder / name)
    return out


def make_run(config: str, setting: Setting, folder: Path) -> tuple[str, dict]:
    """(model dir, codec workdirs) of a one-step run of the config."""
    from mt3_unified.model.model import gin_model
    from mt3_unified.train import trainer
    from mt3_unified.train.inputs import write_example_records

    gin.clear_config()
    model = gin_model([f"gin/models/{config}.gin"])
    vocab = model.vocabulary
    books = {m: vocab.config.codebooks(m) for m in ("image", "audio")}
    codecs = make_codecs(folder, books["image"], books["audio"])
    records = str(folder / "train.tfrecord")
    write_example_records(records, random_examples(model, 4, setting.length))
    gin.clear_config()
    bindings = [f"MODEL_DIR='{folder / 'model'}'", f"TRAIN_RECORDS='{records}'", "TRAIN_STEPS=1",
                "BATCH_SIZE=2", "train.progress=False", "train.eval_every=0",
                f"ModelConfig.max_input_len={setting.length}",
                f"ModelConfig.max_target_len={setting.length}"]  # fmt: skip
    parse_gin([f"gin/models/{config}.gin", "gin/train.gin", "gin/records.gin"], bindings)
    trainer.train(model=gin.query_parameter("%MODEL").scoped_configurable_fn())
    gin.clear_config()
    return str(folder / "model"), codecs


def make_inputs(setting: Setting, folder: Path) -> dict[str, Path]:
    """A PDF of `pages` pages of 3 systems and a fluidsynth recording of the chorale."""
    import music21
    import verovio

    from mt3_unified.corpus.render import render_midi, svg_to_image
    from mt3_unified.infer.audio_io import write_wav

    score = music21.corpus.parse("bach/bwv66.6")
    score.parts[0].write("musicxml", folder / "soprano.musicxml")
    tk = verovio.toolkit()
    tk.setOptions({"pageWidth": 1500, "pageHeight": 2000, "scale": 40, "breaks": "auto",
                   "header": "none", "footer": "none"})  # fmt: skip
    tk.loadData((folder / "soprano.musicxml").read_text())
    page = svg_to_image(tk.renderToSVG(1), 800).convert("L")
    pages = [page.copy() for _ in range(setting.pages)]
    pages[0].save(folder / "score.pdf", "PDF", save_all=True, append_images=pages[1:])
    score.write("midi", folder / "chorale.mid")
    rate = 16000
    audio = render_midi((folder / "chorale.mid").read_bytes(), rate, int(setting.seconds * rate))
    write_wav(folder / "chorale.wav", audio, rate)
    return {"omr": folder / "score.pdf", "amt": folder / "chorale.wav"}


def timed(run, codecs, task: str, path: Path, out: Path, batch: int, max_length: int) -> dict:
    from mt3_unified.infer.batch import run_batch
    from mt3_unified.infer.translations import TRANSLATIONS

    begin = time.perf_counter()
    items = run_batch(run, TRANSLATIONS[task], [path], out, codecs, batch_size=batch,
                      settings={"max_length": max_length}, overwrite=True,
                      progress=False)  # fmt: skip
    seconds = time.perf_counter() - begin
    item = items[0]
    assert item.status == "ok", item.error
    return {"seconds": seconds, "segments": item.segments,
            "outside_model": 1.0 - item.model_seconds / max(item.seconds, 1e-9)}  # fmt: skip


def measure(config: str, setting: Setting, folder: Path) -> list[dict]:
    from mt3_unified.infer.batch import load_codecs
    from mt3_unified.infer.restore import restore_run
    from mt3_unified.infer.translations import TRANSLATIONS

    model_dir, workdirs = make_run(config, setting, folder)
    inputs = make_inputs(setting, folder)
    run = restore_run(model_dir)
    rows = []
    for task in ("omr", "amt"):
        codecs = load_codecs(run, TRANSLATIONS[task], workdirs)
        for batch in (1, 16):
            timed(run, codecs, task, inputs[task], folder / "warm", batch, setting.max_length)
            got = timed(run, codecs, task, inputs[task], folder / task, batch, setting.max_length)
            rows.append({
                "config": config, "task": task, "batch": batch, "items": got["segments"],
                "seconds": got["seconds"], "per_second": got["segments"] / got["seconds"],
                "rtf": got["seconds"] / setting.seconds if task == "amt" else None,
                "outside_model": got["outside_model"],
            })  # fmt: skip
    return rows


def format_table(rows: list[dict]) -> str:
    def cell(value):
        if value is None:
            return "-"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(FIELDS) + " |", "|" + "---|" * len(FIELDS)]
    lines += ["| " + " | ".join(cell(row[f]) for f in FIELDS) + " |" for row in rows]
    by = {(r["config"], r["task"], r["batch"]): r["seconds"] for r in rows}
    for config, task in dict.fromkeys((r["config"], r["task"]) for r in rows):
        if (config, task, 1) in by and (config, task, 16) in by:
            speedup = by[(config, task, 1)] / by[(config, task, 16)]
            lines.append(f"{config} {task}: batch 16 / batch 1 speed-up {speedup:.2f}x")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"])
    parser.add_argument("--quick", action="store_true", help="a smoke run (tiny, short)")
    args = parser.parse_args(argv)
    rows = []
    for config in ["tiny"] if args.quick else args.configs:
        with tempfile.TemporaryDirectory() as folder:
            setting = QUICK if args.quick else SETTINGS[config]
            rows += measure(config, setting, Path(folder))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
