"""TFDS builder `synthetic_scores`: music21's scores as paired system examples, and whole pieces."""

from __future__ import annotations

import io
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from mt3_unified.corpus import synthetic
from mt3_unified.corpus.builders import common
from mt3_unified.corpus.errors import SkipError
from mt3_unified.corpus.piece import PieceResult, build_piece
from mt3_unified.corpus.styles import DEFAULT_STYLE


@dataclass
class SyntheticScoresConfig(tfds.core.BuilderConfig):
    """`corpus` names a synthetic.CONFIGS entry; `level` is "system" or "piece"."""

    corpus: str = "tiny"
    level: str = "system"


def _configs() -> list[SyntheticScoresConfig]:
    out = []
    for name, corpus in synthetic.CONFIGS.items():
        out.append(SyntheticScoresConfig(name=name, description=corpus.description, corpus=name))
        out.append(
            SyntheticScoresConfig(
                name=f"{name}_pieces",
                description=f"Whole pieces of `{name}` (for long-audio tasks).",
                corpus=name,
                level="piece",
            )
        )
    return out


class SyntheticScores(tfds.core.GeneratorBasedBuilder):
    """One example per score system (configs tiny/full/paper/demo) or per piece (*_pieces).

    Splits train/validation/test by a hash of the piece id; a config with a held-out
    rendering style (demo) adds `test_heldout`: its test pieces again, in that style.
    Each example names its rendering style (`style`; "default" in unstyled configs).

    Pieces are built once into a cache under ``<data_dir>/synthetic_scores_work``
    (see mt3_unified.corpus.synthetic.prepare, which does it on several cores); the
    builder reads that cache and builds in-process whatever is missing.
    """

    VERSION = tfds.core.Version("1.3.0")
    RELEASE_NOTES = common.release_notes("1.3.0")
    BUILDER_CONFIGS = _configs()
    DEFAULT_CONFIG_NAME = "tiny"

    def __init__(self, *, use_beam: bool = False, sources=None, **kwargs):
        """``sources``: (piece id, path) pairs to build instead of the config's own list
        (a sample, for benchmarks)."""
        self._use_beam = use_beam
        self._sources = None if sources is None else list(sources)
        super().__init__(**kwargs)

    @property
    def _corpus(self) -> synthetic.SyntheticConfig:
        return synthetic.CONFIGS[self.builder_config.corpus]

    def _info(self) -> tfds.core.DatasetInfo:
        piece = self._corpus.piece
        features = {
            "piece_id": tfds.features.Text(),
            "source": tfds.features.Text(),
            "style": tfds.features.Text(doc="the rendering style (corpus.styles)"),
            "lmx": tfds.features.Text(doc="LMX tokens joined by single spaces"),
            "notes": common.notes_feature(),  # times from the start of the system (or piece)
            "audio": common.audio_feature(piece.sample_rate),  # int16 samples as raw bytes
            "sample_rate": np.int32,
        }
        if self.builder_config.level == "system":
            features.update(
                {
                    "system_index": np.int32,
                    "measure_start": np.int32,  # measures [start, end) of the piece
                    "measure_end": np.int32,
                    "image": common.image_feature(piece.image_height),
                    "start_time": np.float32,  # the system's start in the piece's audio
                    "duration": np.float32,  # audio holds duration + tail_seconds
                }
            )
        else:
            features.update(
                {
                    "num_measures": np.int32,
                    "system_measure_starts": tfds.features.Sequence(np.int32),
                    "system_start_times": tfds.features.Sequence(np.float32),
                }
            )
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(features),
            homepage="https://github.com/cuthbertLab/music21",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # everything is local: music21 ships the scores
        corpus = self._corpus
        sources = self._sources
        if sources is None:
            sources = synthetic.list_sources(corpus)
        sources = synthetic.renderings(
            corpus, sources
        )  # + further renderings (synthetic.renderings)
        if not self._use_beam:
            # TFDS refuses an empty split: drop pieces that yield no example first
            # (this builds, in this process, any piece the cache lacks).
            level = self.builder_config.level
            usable = synthetic.usable_pieces(corpus, self._data_dir_root, sources, level)
            sources = [s for s in sources if s[0] in usable]
        splits = {}
        for split in corpus.splits:
            chosen = [s for s in sources if synthetic.split_of(corpus, s[0]) == split]
            if chosen:
                splits[split] = self._generate_examples(chosen)
        return splits

    def _generate_examples(self, sources):
        data_dir = self._data_dir_root
        corpus, level = self._corpus, self.builder_config.level
        if self._use_beam:
            import apache_beam as beam

            # Beam workers build each piece themselves (no shared cache on a cluster).
            jobs = [(corpus.name, level, pid, os.fspath(p)) for pid, p in sources]
            return beam.Create(jobs) | beam.FlatMap(_beam_piece_examples)
        return self._local_examples(corpus, data_dir, level, sources)

    @staticmethod
    def _local_examples(corpus, data_dir, level, sources):
        for key, result in synthetic.iter_results(corpus, data_dir, sources):
            yield from result_examples(key, result, level)


def piece_examples(corpus_name: str, level: str, piece_id: str, path: str, data_dir=None):
    """(key, example) pairs of one piece: the per-piece function both build paths share.

    ``piece_id`` is a rendering's key (synthetic.renderings). With ``data_dir`` the
    piece goes through the local cache; without, it is built here and then (a Beam
    worker's way). A skipped piece yields nothing.
    """
    corpus = synthetic.CONFIGS[corpus_name]
    if data_dir is not None:
        for pid, result in synthetic.iter_results(corpus, data_dir, [(piece_id, path)]):
            yield from result_examples(pid, result, level)
        return
    try:
        result = build_piece(path, *synthetic.rendering(corpus, piece_id))
    except SkipError as e:
        _count_skip(e.stage)
        return
    for _ in result.skipped:
        _count_skip("system")
    yield from result_examples(piece_id, result, level)


def _beam_piece_examples(job):
    return list(piece_examples(*job))


def _count_skip(stage: str) -> None:
    import apache_beam as beam

    beam.metrics.Metrics.counter("synthetic_scores", f"skipped_{stage}").inc()


def result_examples(key: str, result: PieceResult, level: str):
    """(TFDS key, example) of a rendering's result; ``key`` is the rendering's (the piece
    id, or "<piece id>@<style>" for a further rendering), `piece_id` the piece's."""
    piece = result.piece
    piece_id = piece["piece_id"]
    style = piece.get("style", DEFAULT_STYLE)
    if level == "piece":
        example = {k: piece[k] for k in _PIECE_KEYS}
        example["source"] = piece_id  # not the absolute path: builds agree across machines
        example["style"] = style
        yield key, example
        return
    for system in result.systems:
        example = {k: system[k] for k in _SYSTEM_KEYS}
        example["image"] = io.BytesIO(system["image"])
        example.update(piece_id=piece_id, source=piece_id, style=style)
        yield f"{key}#{system['system_index']:04d}", example


_PIECE_KEYS = (
    "piece_id",
    "source",
    "lmx",
    "notes",
    "audio",
    "sample_rate",
    "num_measures",
    "system_measure_starts",
    "system_start_times",
)
_SYSTEM_KEYS = (
    "system_index",
    "measure_start",
    "measure_end",
    "image",
    "lmx",
    "notes",
    "audio",
    "sample_rate",
    "start_time",
    "duration",
)


def build_synthetic(
    config_name: str,
    data_dir: str | os.PathLike,
    num_workers: int = 2,
    *,
    pieces: bool = True,
    progress: bool = True,
    use_beam: bool = False,
    beam_runner=None,
    sources: list[tuple[str, Path]] | None = None,
) -> dict:
    """Build `synthetic_scores/<config_name>` (and `<config_name>_pieces`) into data_dir.

    Resumable: pieces already in the cache are not rebuilt, and a prepared TFDS
    dataset is left as it is. Returns counts, stage timings and the path of the
    skipped.tsv file that says what was left out and why, and the CPU seconds of each
    step (``step_cpu_seconds``: prepare, which fills the cache or only checks it when
    full, then each dataset's write). ``sources`` builds only those pieces (a sample)
    instead of the config's list.
    """
    if config_name not in synthetic.CONFIGS:
        raise ValueError(f"unknown config {config_name!r}; one of {sorted(synthetic.CONFIGS)}")
    corpus = synthetic.CONFIGS[config_name]
    if use_beam:  # the pipeline builds every piece on its workers; no local cache
        summary: dict = {}
    else:
        cpu = synthetic.cpu_seconds()
        summary = synthetic.prepare(
            corpus, data_dir, num_workers=num_workers, progress=progress, sources=sources
        )
        summary["step_cpu_seconds"] = {"prepare": round(synthetic.cpu_seconds() - cpu, 2)}
    names = [config_name] + ([f"{config_name}_pieces"] if pieces else [])
    download_config = None
    if use_beam:
        import apache_beam as beam

        runner = beam_runner or beam.runners.DirectRunner()
        download_config = tfds.download.DownloadConfig(beam_runner=runner)
    summary["datasets"] = {}
    steps = summary.setdefault("step_cpu_seconds", {})
    if use_beam or num_workers < 2 or len(names) < 2:
        for name in names:
            cpu = synthetic.cpu_seconds()
            summary["datasets"][name] = _prepare_dataset(
                name, os.fspath(data_dir), sources, use_beam, download_config
            )
            steps[name] = round(synthetic.cpu_seconds() - cpu, 2)
        return summary
    # Each dataset is written by one process (TFDS writes a dataset in one): write them
    # side by side. spawn: the parent may hold TensorFlow, which does not survive a fork.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(num_workers, len(names)), mp_context=context) as pool:
        jobs = {
            name: pool.submit(_write_dataset, name, os.fspath(data_dir), sources, progress)
            for name in names
        }
        for name, job in jobs.items():
            summary["datasets"][name], steps[name] = job.result()
    return summary


def _write_dataset(name: str, data_dir: str, sources, progress: bool) -> tuple[str, float]:
    """Prepare one config in this (spawned) process: its data_dir and this process's CPU."""
    import contextlib
    import sys

    if not progress:
        tfds.disable_progress_bar()
    # TFDS prints to stdout, which the CLI keeps for its JSON summary.
    with contextlib.redirect_stdout(sys.stderr):
        path = _prepare_dataset(name, data_dir, sources)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return path, round(usage.ru_utime + usage.ru_stime, 2)


def _prepare_dataset(name: str, data_dir: str, sources, use_beam=False, download_config=None):
    """Prepare one config of the builder into data_dir; returns the dataset's folder."""
    builder = SyntheticScores(config=name, data_dir=data_dir, use_beam=use_beam, sources=sources)
    builder.download_and_prepare(download_config=download_config)
    return builder.data_dir
