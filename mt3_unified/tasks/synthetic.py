"""Tasks of the synthetic corpus: every pair the paper trains, for each corpus config.

`synthetic_scores/<config>` (tiny, full, paper, demo) registers as the dataset
``synthetic_<config>``: e.g. ``synthetic_tiny_image_to_lmx_train``. Its paired
mixtures are ``synthetic_<config>_omr``, ``..._amt_a2i_engrave``, ``..._all``.

`synthetic_scores/<config>_pieces` (whole pieces: audio, notes, LMX, no images)
registers as ``synthetic_<config>_pieces`` with the pairs that cut anywhere in
time: AMT and synthesis (`PIECE_PAIRS`). Training draws one window a piece per
pass; evaluation covers each piece from its start to its end, window after window,
each carrying the piece id and its start time, and `stitch_midi` joins the decoded
windows back into whole pieces (MT3's full-recording evaluation). LMX is cut by whole
measures at the system level (``synthetic_<config>``): a system restates its clef,
key and time signature, which a cut through the piece's LMX would lose.
"""

from __future__ import annotations

from mt3_unified.corpus.synthetic import CONFIGS
from mt3_unified.tasks.mixtures import add_paper_mixtures
from mt3_unified.tasks.registry import add_translation_task
from mt3_unified.tasks.sources import Corpus

# The paper's eight translations: near-modal (OMR, engraving, AMT, synthesis, LMX <-> MIDI)
# and far-modal (image <-> audio).
PAPER_PAIRS = (
    ("image", "lmx"),
    ("lmx", "image"),
    ("audio", "midi"),
    ("midi", "audio"),
    ("image", "audio"),
    ("audio", "image"),
    ("lmx", "midi"),
    ("midi", "lmx"),
)
# The pairs of whole pieces: audio and MIDI, cut into time windows of any length.
PIECE_PAIRS = (("audio", "midi"), ("midi", "audio"))


def synthetic_dataset(config: str) -> str:
    """The dataset name of a synthetic corpus config: ``synthetic_<config>``."""
    return f"synthetic_{config}"


def synthetic_pieces_dataset(config: str) -> str:
    """The dataset of a synthetic corpus config's whole pieces: ``synthetic_<config>_pieces``."""
    return f"synthetic_{config}_pieces"


for _config in CONFIGS:
    # Configs with a held-out rendering style have its split too (`test_heldout`).
    _corpus = Corpus(f"synthetic_scores/{_config}", splits=CONFIGS[_config].splits)
    add_translation_task(synthetic_dataset(_config), "image", "lmx", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "lmx", "image", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "audio", "midi", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "midi", "audio", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "image", "audio", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "audio", "image", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "lmx", "midi", source=_corpus)
    add_translation_task(synthetic_dataset(_config), "midi", "lmx", source=_corpus)
    add_paper_mixtures(synthetic_dataset(_config), [synthetic_dataset(_config)])
    _pieces = Corpus(f"synthetic_scores/{_config}_pieces", splits=CONFIGS[_config].splits)
    for _input, _output in PIECE_PAIRS:
        add_translation_task(synthetic_pieces_dataset(_config), _input, _output, source=_pieces)
