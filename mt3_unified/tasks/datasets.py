"""Tasks of the paper's real datasets: the pairs each one's data holds.

Registering reads nothing: each builder reads the user's local copy when its
corpus is built (`mt3_unified/corpus/README.md`), and a task reads the built
corpus, or its bake, only when a dataset is made. BPSD holds only a test split
(the paper evaluates on it); OLiMPiC's scanned systems hold validation and test.
The ``paper_*`` mixtures put the synthetic `paper` corpus and these datasets together.
"""

from __future__ import annotations

from mt3_unified.tasks.mixtures import add_paper_mixtures
from mt3_unified.tasks.registry import add_translation_task
from mt3_unified.tasks.sources import Corpus

OLIMPIC = Corpus("olimpic/synthetic")
OLIMPIC_SCANNED = Corpus("olimpic/scanned", splits=("validation", "test"))
MAESTRO = Corpus("maestro_v3/16k")
MUSICNET_EM = Corpus("musicnet_em/16k")
BPSD = Corpus("bpsd/systems", splits=("test",))
YTSV = Corpus("ytsv/416px_16k")
# BPSD's systems hold all four modalities: every ordered pair.
BPSD_PAIRS = tuple(
    (a, b)
    for a in ("image", "lmx", "midi", "audio")
    for b in ("image", "lmx", "midi", "audio")
    if a != b
)
# Datasets with train splits, mixed with the synthetic corpus in the paper's mixtures.
PAPER_DATASETS = ("synthetic_paper", "olimpic", "maestro", "musicnet_em", "ytsv")

add_translation_task("olimpic", "image", "lmx", source=OLIMPIC)
add_translation_task("olimpic", "lmx", "image", source=OLIMPIC)
add_translation_task("olimpic_scanned", "image", "lmx", source=OLIMPIC_SCANNED)
add_translation_task("maestro", "audio", "midi", source=MAESTRO)
add_translation_task("maestro", "midi", "audio", source=MAESTRO)
add_translation_task("musicnet_em", "audio", "midi", source=MUSICNET_EM)
add_translation_task("musicnet_em", "midi", "audio", source=MUSICNET_EM)
for _input, _output in BPSD_PAIRS:
    add_translation_task("bpsd", _input, _output, source=BPSD)
add_translation_task("ytsv", "image", "audio", source=YTSV)
add_translation_task("ytsv", "audio", "image", source=YTSV)
add_paper_mixtures("paper", PAPER_DATASETS)
