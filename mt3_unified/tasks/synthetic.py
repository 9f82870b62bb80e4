"""Tasks of the synthetic corpus: every pair the paper trains, for each corpus config.

`synthetic_scores/<config>` (tiny, full, paper) registers as the dataset
``synthetic_<config>``: e.g. ``synthetic_tiny_image_to_lmx_train``. Its paired
mixtures are ``synthetic_<config>_omr``, ``..._amt_a2i_engrave``, ``..._all``.
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


def synthetic_dataset(config: str) -> str:
    """The dataset name of a synthetic corpus config: ``synthetic_<config>``."""
    return f"synthetic_{config}"


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
