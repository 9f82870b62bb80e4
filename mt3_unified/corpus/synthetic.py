"""The synthetic paired corpus from music21's scores: configs, their pieces, a resumable cache."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pickle
import resource
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mt3_unified.corpus.errors import SkipError
from mt3_unified.corpus.piece import PieceConfig, PieceResult, build_piece
from mt3_unified.corpus.splits import HELDOUT_SPLIT, SPLITS, split_by_hash
from mt3_unified.corpus.styles import (
    DEFAULT_STYLE,
    HELDOUT_STYLE,
    TRAINING_STYLES,
    RenderingStyle,
    choose_style,
    styled_piece_config,
)
from mt3_unified.corpus.systems import LayoutConfig

SOURCE_EXTENSIONS = (".mxl", ".xml", ".musicxml", ".krn")
# Short Bach chorales for the tiny config, picked so that every split gets a piece.
TINY_CANDIDATES = tuple(
    f"bach/{name}.mxl" for name in ("bwv66.6", "bwv26.6", "bwv153.1", "bwv86.6", "bwv110.7")
)


# A piece's further renderings (in the held-out style, or a training piece in more
# styles) are cached and keyed as "<piece id>@<style name>".
STYLE_MARK = "@"


@dataclass(frozen=True)
class SyntheticConfig:
    """A named corpus: which pieces, rendered how.

    With ``styles``, each piece is rendered in one of them, chosen by a seeded hash of
    its id (styles.choose_style); without, every piece is rendered by ``piece`` as is.
    With ``renderings_per_piece`` n > 1, each training piece is rendered again in the
    n - 1 styles after its own (in ``styles``' order): n times the training systems from
    the same scores, while validation and test keep one rendering each, so their figures
    compare with the one-rendering config's. With ``heldout_style``, each test piece is
    rendered a second time in that style as the split ``test_heldout``; no other split
    uses it.
    """

    name: str
    piece: PieceConfig
    tiny: bool = False  # a handful of chorales, for tests and demos
    description: str = ""
    styles: tuple[RenderingStyle, ...] = ()
    heldout_style: RenderingStyle | None = None
    # Pieces: the files matching this glob inside music21's corpus ("": every score),
    # sorted by path, then every n-th.
    source_glob: str = ""
    source_every: int = 1
    renderings_per_piece: int = 1

    def __post_init__(self):
        held = self.heldout_style
        if held is not None and any(s.name == held.name or s == held for s in self.styles):
            raise ValueError(f"the held-out style {held.name!r} is also a training style")
        if not 1 <= self.renderings_per_piece <= max(1, len(self.styles)):
            raise ValueError(
                f"renderings_per_piece={self.renderings_per_piece}: each training piece can "
                f"be rendered in 1 to {max(1, len(self.styles))} styles (the config's own)"
            )

    @property
    def splits(self) -> tuple[str, ...]:
        return SPLITS + ((HELDOUT_SPLIT,) if self.heldout_style is not None else ())


DEMO = SyntheticConfig(
    "demo",
    PieceConfig(image_height=128, sample_rate=16000, layout=LayoutConfig(page_width=1000)),
    description="136 Bach chorales (every third), systems of a few measures, in 7 "
    "rendering styles (fonts, GM pianos, degradations, reverb); the test pieces again "
    "in a held-out style as test_heldout; 128 px, 16 kHz. Builds in minutes on 2 cores.",
    styles=TRAINING_STYLES,
    heldout_style=HELDOUT_STYLE,
    source_glob="bach/bwv*.mxl",
    source_every=3,
)
CONFIGS = {
    c.name: c
    for c in (
        SyntheticConfig(
            "tiny",
            PieceConfig(image_height=128, sample_rate=16000, layout=LayoutConfig(page_width=1500)),
            tiny=True,
            description="4 Bach chorales (2 train, 1 validation, 1 test), 128 px, 16 kHz.",
        ),
        SyntheticConfig(
            "full",
            PieceConfig(image_height=128, sample_rate=16000, layout=LayoutConfig(page_width=1500)),
            description="Every usable MusicXML/Humdrum score of music21, 128 px, 16 kHz.",
        ),
        SyntheticConfig(
            "paper",
            PieceConfig(image_height=416, sample_rate=44100, layout=LayoutConfig(page_width=2100)),
            description="Every usable score at the paper's resolution: 416 px, 44.1 kHz.",
        ),
        DEMO,
        dataclasses.replace(
            DEMO,
            name="chorales",
            source_every=1,
            description="Every Bach chorale of music21 (408), otherwise as `demo`: three "
            "times its pieces, the same styles, splits and held-out style (a piece keeps its "
            "split and style in both), to measure what corpus size does at the demo's budget.",
        ),
        dataclasses.replace(
            DEMO,
            name="chorales3",
            source_every=1,
            renderings_per_piece=3,
            description="`chorales` with each training piece rendered in three of the "
            "training styles (its own and the next two): three times the training systems "
            "from the same scores; validation, test and test_heldout as in `chorales`, to "
            "measure what more renderings of the same music do for OMR.",
        ),
        dataclasses.replace(
            DEMO,
            name="music21",
            source_glob="",
            source_every=1,
            description="Every usable MusicXML/Humdrum score of music21, otherwise as `demo` "
            "(styles, splits, held-out style; a chorale keeps its split and style): about 14 "
            "times the chorales, to measure what corpus size does for OMR beyond them.",
        ),
    )
}


def music21_corpus_dir() -> Path:
    from music21 import common

    return Path(common.getCorpusFilePath())


def list_sources(config: SyntheticConfig, root: Path | None = None) -> list[tuple[str, Path]]:
    """(piece id, path) of the config's pieces; the id is the path inside music21's corpus."""
    root = root or music21_corpus_dir()
    if config.tiny:
        wanted = {"train": 2, "validation": 1, "test": 1}
        chosen = []
        for piece_id in TINY_CANDIDATES:
            split = split_by_hash(piece_id)
            if wanted[split] and (root / piece_id).exists():
                wanted[split] -= 1
                chosen.append(piece_id)
        return [(p, root / p) for p in chosen]
    found = []
    for path in sorted(root.glob(config.source_glob) if config.source_glob else root.rglob("*")):
        if path.suffix.lower() in SOURCE_EXTENSIONS and path.is_file():
            found.append((path.relative_to(root).as_posix(), path))
    return found[:: config.source_every]


def renderings(config: SyntheticConfig, sources: Iterable[tuple[str, Path]]) -> list:
    """(key, path) of everything the config renders: each source in its own style (key:
    the piece id), then each training piece in its further styles and each test piece
    again in the held-out style (key: "<piece id>@<style name>")."""
    sources = list(sources)
    extra = [
        (f"{p}{STYLE_MARK}{s.name}", path) for p, path in sources for s in more_styles(config, p)
    ]
    held = config.heldout_style
    if held is not None:
        extra += [(f"{p}{STYLE_MARK}{held.name}", path) for p, path in sources if is_test(p)]
    return sources + extra


def is_test(piece_id: str) -> bool:
    return split_by_hash(piece_id) == "test"


def more_styles(config: SyntheticConfig, piece_id: str) -> tuple[RenderingStyle, ...]:
    """The styles a training piece is rendered in beside its own: the
    ``renderings_per_piece - 1`` after it in ``config.styles`` (none for other splits)."""
    more = config.renderings_per_piece - 1
    if more <= 0 or split_by_hash(piece_id) != "train":
        return ()
    styles = config.styles
    own = styles.index(choose_style(styles, piece_id, config.piece.seed))
    return tuple(styles[(own + k) % len(styles)] for k in range(1, more + 1))


def _marked(config: SyntheticConfig, key: str) -> tuple[str, RenderingStyle] | None:
    """(piece id, style) of a further rendering's key "<piece id>@<style name>" (the
    held-out style of a test piece, or a further style of a training piece), else None."""
    piece_id, mark, name = key.rpartition(STYLE_MARK)
    if not mark:
        return None
    held = config.heldout_style
    if held is not None and name == held.name and is_test(piece_id):
        return piece_id, held
    return next(((piece_id, s) for s in more_styles(config, piece_id) if s.name == name), None)


def split_of(config: SyntheticConfig, key: str) -> str:
    """The split of a rendering: test_heldout for a held-out one, else its piece's hash split."""
    return _split_of_marked(config, key, _marked(config, key))


def _split_of_marked(
    config: SyntheticConfig, key: str, marked: tuple[str, RenderingStyle] | None
) -> str:
    """split_of for a key already parsed by _marked."""
    if marked is None:
        return split_by_hash(key)
    piece_id, style = marked
    return HELDOUT_SPLIT if style == config.heldout_style else split_by_hash(piece_id)


def rendering(config: SyntheticConfig, key: str) -> tuple[str, PieceConfig]:
    """(piece id, the PieceConfig it is built with) of a rendering's key."""
    marked = _marked(config, key)
    if marked is not None:
        piece_id, style = marked
    else:
        piece_id, style = key, choose_style(config.styles, key, config.piece.seed)
    if style is None:
        return piece_id, config.piece
    return piece_id, styled_piece_config(config.piece, style, piece_id)


def style_name(config: SyntheticConfig, key: str) -> str:
    style = rendering(config, key)[1].style
    return DEFAULT_STYLE if style is None else style.name


@functools.cache
def fingerprint(config: SyntheticConfig) -> str:
    """Changes whenever anything that changes the examples' bytes may change: the config,
    the rasterizer and synthesizer, the code that makes a piece (and LMX), verovio's and
    music21's versions."""
    import music21
    import verovio

    from mt3_unified.corpus.render import rasterizer, synthesizer

    here = Path(__file__).parent
    code = sorted(here.glob("*.py")) + sorted((here.parent / "vocab").glob("lmx*.py"))
    digest = hashlib.sha256()
    for path in code:
        digest.update(path.read_bytes())
    text = repr(
        (
            dataclasses.asdict(config.piece),
            [dataclasses.asdict(s) for s in config.styles],
            config.heldout_style and dataclasses.asdict(config.heldout_style),
            config.renderings_per_piece,
            rasterizer(),
            synthesizer(),
            verovio.toolkit().getVersion(),
            music21.__version__,
            digest.hexdigest(),
        )
    )
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def work_dir(config: SyntheticConfig, data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / "synthetic_scores_work" / f"{config.name}-{fingerprint(config)}"


def _cache_path(work: Path, piece_id: str) -> Path:
    name = hashlib.sha256(piece_id.encode()).hexdigest()[:20]
    return work / "pieces" / f"{name}.pkl"


def build_cached(config: SyntheticConfig, piece_id: str, path, work: Path) -> dict:
    """Build one piece unless its cache file exists; returns a small summary row.
    ``piece_id`` is a rendering's key (see ``renderings``): the piece id, or for a
    held-out rendering "<piece id>@<style name>".

    Beside each piece's ``.pkl`` a ``.json`` sidecar holds that row, so that counting
    and choosing pieces reads no pickle. Both are written under temporary names and
    renamed, the sidecar first: an interrupted build never leaves half a piece (a
    sidecar without its piece is rewritten when the piece is built), and the next
    build redoes only what is missing.
    """
    target = _cache_path(work, piece_id)
    if target.exists():
        return cached_summary(target)
    record = {"piece_id": piece_id, "style": style_name(config, piece_id)}
    try:
        record["result"] = build_piece(path, *rendering(config, piece_id))
    except SkipError as e:
        record["skip"] = (piece_id, e.stage, e.problem)
    except Exception as e:  # one bad piece must not end the build
        record["skip"] = (piece_id, "error", f"{type(e).__name__}: {e}")
    row = summarize(record)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(_summary_path(target), lambda f: f.write(json.dumps(row).encode()))
    _write_atomic(target, lambda f: pickle.dump(record, f, protocol=pickle.HIGHEST_PROTOCOL))
    return row


def cached_summary(target: Path) -> dict:
    """The summary row of a cached piece, from its sidecar; a piece cached without one
    (an older build) is read once and given one."""
    sidecar = _summary_path(target)
    try:
        with open(sidecar, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        pass
    row = json.loads(json.dumps(summarize(load_cached(target))))  # as the sidecar will read
    _write_atomic(sidecar, lambda f: f.write(json.dumps(row).encode()))
    return row


def _summary_path(target: Path) -> Path:
    return target.with_suffix(".json")


def _write_atomic(target: Path, write) -> None:
    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, target)


def load_cached(path: Path) -> dict:
    # The cache holds only what this module wrote under the build's own data_dir.
    with open(path, "rb") as f:
        return pickle.load(f)


def summarize(record: dict) -> dict:
    result: PieceResult | None = record.get("result")
    return {
        "piece_id": record["piece_id"],
        "systems": len(result.systems) if result else 0,
        "skipped": [record["skip"]] if result is None else list(result.skipped),
        "piece_skipped": result is None,
        "seconds": dict(result.seconds) if result else {},
        "style": record.get("style", DEFAULT_STYLE),
    }


def _build_star(args) -> dict:
    return build_cached(*args)


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (pool workers, which
    waited for their own fluidsynth runs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def prepare(
    config: SyntheticConfig,
    data_dir: str | os.PathLike,
    num_workers: int = 1,
    progress: bool = True,
    sources: list[tuple[str, Path]] | None = None,
) -> dict:
    """Fill the cache with every rendering of the config's pieces (``renderings``); write
    skipped.tsv; return counts."""
    work = work_dir(config, data_dir)
    work.mkdir(parents=True, exist_ok=True)
    sources = renderings(config, list_sources(config) if sources is None else sources)
    bar = _progress(len(sources), f"synthetic_scores/{config.name}", progress)
    # Pieces already cached are counted from their sidecars here; the rest go to workers,
    # longest first: a long mass started last would leave the other core idle at the end.
    rows: list[dict] = []
    jobs = []
    for piece_id, path in sorted(sources, key=_cost):
        target = _cache_path(work, piece_id)
        if target.exists():
            rows.append(cached_summary(target))
            bar.update(1)
        else:
            jobs.append((config, piece_id, path, work))
    if num_workers > 1 and len(jobs) > 1:
        import multiprocessing

        # spawn: the parent may hold TensorFlow, which does not survive a fork.
        # A fresh worker costs seconds of imports (music21, verovio); 200 pieces a worker
        # keep that small while bounding what a long-lived music21 process accumulates.
        with multiprocessing.get_context("spawn").Pool(num_workers, maxtasksperchild=200) as pool:
            for row in pool.imap_unordered(_build_star, jobs, chunksize=1):
                rows.append(row)
                bar.update(1)
    else:
        for job in jobs:
            rows.append(_build_star(job))
            bar.update(1)
    bar.close()
    return _write_summary(work, rows, config)


def _cost(source: tuple[str, Path]) -> tuple[float, str]:
    """Sort key, most work first: the file's size as uncompressed MusicXML would have it
    (Humdrum and .mxl hold about ten times fewer bytes a note)."""
    piece_id, path = source
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0
    if str(path).lower().endswith((".krn", ".mxl")):
        size *= 10
    return -size, piece_id


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="piece", disable=not enabled)


def _write_summary(work: Path, rows: list[dict], config: SyntheticConfig) -> dict:
    """Counts of the rows; ``pieces`` counts pieces, not their further renderings."""
    rows.sort(key=lambda r: r["piece_id"])
    skipped = [s for r in rows for s in r["skipped"]]
    with open(work / "skipped.tsv", "w", encoding="utf-8") as f:
        f.write("item\tstage\treason\n")
        for item, stage, reason in skipped:
            f.write(f"{item}\t{stage}\t{' '.join(str(reason).split())}\n")
    seconds: Counter = Counter()
    by_split: Counter = Counter()
    by_style: Counter = Counter()
    marks = [_marked(config, r["piece_id"]) for r in rows]
    splits = [_split_of_marked(config, r["piece_id"], m) for r, m in zip(rows, marks, strict=True)]
    for r, split in zip(rows, splits, strict=True):
        seconds.update(r["seconds"])
        by_split[split] += r["systems"]
        by_style[r.get("style", DEFAULT_STYLE)] += r["systems"]
    held = [split == HELDOUT_SPLIT for split in splits]
    own = [m is None for m in marks]  # a piece's first rendering
    out = {
        "pieces": sum(not r["piece_skipped"] for r, o in zip(rows, own, strict=True) if o),
        "pieces_skipped": sum(r["piece_skipped"] for r, o in zip(rows, own, strict=True) if o),
        "systems": sum(r["systems"] for r in rows),
        "systems_skipped": sum(len(r["skipped"]) for r in rows if not r["piece_skipped"]),
        "skipped_by_stage": dict(Counter(stage for _, stage, _ in skipped)),
        "stage_seconds": dict(seconds),
        "skipped_file": str(work / "skipped.tsv"),
        "systems_by_split": {k: by_split[k] for k in config.splits if by_split[k]},
        "systems_by_style": dict(sorted(by_style.items())),
    }
    if config.renderings_per_piece > 1:
        out["renderings"] = sum(not r["piece_skipped"] for r in rows)
    if config.heldout_style is not None:
        out["heldout_pieces"] = sum(
            not r["piece_skipped"] for r, h in zip(rows, held, strict=True) if h
        )
    return out


def iter_results(
    config: SyntheticConfig, data_dir, sources: Iterable[tuple[str, Path]]
) -> Iterator[tuple[str, PieceResult]]:
    """(key, result) for each usable rendering, building any not yet cached (the sources'
    keys: piece ids, or further renderings' "<piece id>@<style name>")."""
    work = work_dir(config, data_dir)
    for piece_id, path in sources:
        if build_cached(config, piece_id, path, work)["piece_skipped"]:
            continue  # known from the sidecar: no need to read the piece
        yield piece_id, load_cached(_cache_path(work, piece_id))["result"]


def usable_pieces(config: SyntheticConfig, data_dir, sources, level: str = "system") -> set[str]:
    """Keys of the renderings (piece ids) that give at least one example at this level
    (from the cache's sidecars; builds, in this process, any piece the cache lacks)."""
    work = work_dir(config, data_dir)
    usable = set()
    for piece_id, path in sources:
        row = build_cached(config, piece_id, path, work)
        if not row["piece_skipped"] and (level == "piece" or row["systems"]):
            usable.add(piece_id)
    return usable
