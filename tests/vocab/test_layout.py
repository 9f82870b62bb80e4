"""The id layout without TensorFlow: the seqio vocabulary's ids, and a model free of TF."""

import subprocess
import sys

import numpy as np

from mt3_unified.vocab.layout import MODALITIES, VocabularyConfig, VocabularyLayout
from mt3_unified.vocab.unified import UnifiedVocabulary


def test_layout_and_seqio_vocabulary_give_the_same_ids():
    config = VocabularyConfig(image_codebooks=2, image_codebook_size=16)
    layout, vocab = VocabularyLayout(config), UnifiedVocabulary(config)
    # 4 x 1024 audio codes, 2 x 16 image codes and the rest, padded to a multiple of 128.
    assert layout.vocab_size == vocab.vocab_size == 6016
    assert layout == vocab
    for m in MODALITIES:
        assert layout.target_id(m) == vocab.target_id(m)
        for k in range(layout.num_codebooks(m)):
            assert layout.id_range(m, k) == vocab.id_range(m, k)
        np.testing.assert_array_equal(layout.modality_masks[m], vocab.modality_masks[m])
    assert vocab.decode(layout.encode_lmx(["measure", "key:fifths:2"])) == "measure key:fifths:2"


def test_the_model_imports_neither_tensorflow_nor_seqio_nor_note_seq():
    # A GPU host (bench/model_gpu.py) has JAX, Flax, Optax and gin, nothing else.
    code = (
        "import sys, mt3_unified.model.model\n"
        "heavy = {'tensorflow', 'seqio', 'note_seq'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
