"""The unified vocabulary's id layout, pinned with literal ids, and its codecs."""

import gin
import numpy as np
import pytest
import tensorflow as tf

from mt3_unified.errors import VocabularyError
from mt3_unified.vocab.layout import DEFAULT_CODEBOOKS
from mt3_unified.vocab.lmx.tokens import LMX_TOKENS
from mt3_unified.vocab.midi_events import MidiEventConfig
from mt3_unified.vocab.unified import (
    EOS_ID,
    MODALITIES,
    SEP_ID,
    UNK_ID,
    UnifiedVocabulary,
    VocabularyConfig,
    unified_vocabulary,
)

SMALL = VocabularyConfig(
    image_codebooks=2,
    image_codebook_size=8,
    audio_codebooks=3,
    audio_codebook_size=4,
    midi=MidiEventConfig(max_shift_seconds=1.0, num_velocity_bins=1),
)


@pytest.fixture(scope="module")
def paper():
    return UnifiedVocabulary()


@pytest.fixture(scope="module")
def small():
    return UnifiedVocabulary(SMALL)


def test_default_layout_literal_ids(paper):
    assert [paper.token_name(i) for i in range(4)] == ["<pad>", "</s>", "<unk>", "<sep>"]
    assert paper.task_id("image_to_lmx") == 4
    assert paper.task_id("omr") == 4
    assert paper.task_id("audio_to_midi") == 15
    assert paper.task_id("amt") == 15
    assert paper.target_id("image") == 16
    assert paper.target_id("audio") == 19
    assert paper.id_range("lmx") == (20, 247)
    assert paper.id_range("midi") == (247, 247 + paper.midi_codec.num_classes)
    midi_hi = paper.id_range("midi")[1]
    assert paper.id_range("image", 0) == (midi_hi, midi_hi + 1024)
    assert paper.id_range("image", 3) == (midi_hi + 3072, midi_hi + 4096)
    assert paper.id_range("audio", 0) == (midi_hi + 4096, midi_hi + 5120)
    assert paper.id_range("audio", 3)[1] == paper.num_real_tokens
    assert paper.vocab_size % 128 == 0
    assert 0 <= paper.vocab_size - paper.num_real_tokens < 128


def test_small_layout_is_fully_literal(small):
    # 4 specials + 12 tasks + 4 targets, 227 LMX tokens (224 published + 3),
    # then MIDI events: 101 shifts (1 s at 10 ms), 128 pitches, 2 velocity
    # bins (off/on), 1 tie, 128 programs, 128 drums = 488 ids.
    assert small.midi_codec.num_classes == 488
    assert small.id_range("midi") == (247, 735)
    assert small.id_range("image", 0) == (735, 743)
    assert small.id_range("image", 1) == (743, 751)
    assert small.id_range("audio", 0) == (751, 755)
    assert small.id_range("audio", 2) == (759, 763)
    assert small.num_real_tokens == 763
    assert small.vocab_size == 768
    assert small.encode("measure C4 quarter img1:3 aud2:0 nonsense") == [20, 104, 169, 746, 759, 2]


def test_lmx_round_trip_and_unknown_tokens(paper):
    tokens = ["measure", "key:fifths:-2", "clef:F4", "B-1", "A3", "half", "dot"]
    ids = paper.encode_lmx(tokens)
    assert ids[0] == 20 and ids[1] == 20 + LMX_TOKENS.index("key:fifths:-2")
    assert ids[3] == UNK_ID
    assert paper.decode_lmx(ids) == [t for t in tokens if t != "B-1"]
    assert paper.decode_lmx([*ids[:2], EOS_ID, *ids[2:]]) == tokens[:2]


def test_midi_offsets(small):
    lo, hi = small.id_range("midi")
    assert small.encode_midi([0, 5, 487]) == [lo, lo + 5, hi - 1]
    assert small.decode_midi([lo, 20, lo + 7, EOS_ID, lo + 9]) == [0, 7]
    with pytest.raises(VocabularyError):
        small.encode_midi([488])


def test_code_frames_round_trip_and_stop_at_eos(small):
    codes = np.array([[0, 7], [3, 1], [5, 5]])
    ids = small.encode_codes("image", codes)
    assert ids.tolist() == [[735, 750], [738, 744], [740, 748]]
    with_eos = np.concatenate([ids, [[EOS_ID, 0]], ids])
    np.testing.assert_array_equal(small.decode_codes("image", with_eos), codes)
    with pytest.raises(VocabularyError, match=r"\[T, 3\]"):
        small.encode_codes("audio", codes)
    with pytest.raises(VocabularyError, match="lie in"):
        small.encode_codes("image", np.array([[8, 0]]))


def test_logit_masks_select_exactly_one_range(small):
    for modality in MODALITIES:
        for k in range(small.num_codebooks(modality)):
            mask = small.logit_mask(modality, k)
            lo, hi = small.id_range(modality, k)
            assert mask[lo:hi].all()
            assert mask.sum() == (hi - lo) + (k == 0)
            assert mask[EOS_ID] == (k == 0)
    stack = small.modality_masks["lmx"]
    assert stack.shape == (3, small.vocab_size)
    assert not stack[1:].any()


def test_tf_encode_decode_match_python(small):
    text = "<task:image_to_lmx> measure G4 eighth midi:pitch:60 aud1:2"
    ids = small.encode_tf(tf.constant(text))
    assert ids.numpy().tolist() == small.encode(text)
    padded = tf.concat([ids, [EOS_ID, 20, 0]], axis=0)
    assert small.decode_tf(padded).numpy().decode() == text
    assert small.decode(padded.numpy().tolist()) == text


def test_bad_names_raise(small):
    with pytest.raises(VocabularyError, match="unknown task"):
        small.task_id("dance")
    with pytest.raises(VocabularyError, match="no id range"):
        small.id_range("lmx", 1)
    with pytest.raises(VocabularyError, match="outside"):
        small.token_name(small.vocab_size)


def test_gin_factory_caches_one_instance():
    assert unified_vocabulary() is unified_vocabulary()
    assert unified_vocabulary(VocabularyConfig(image_codebooks=2)).num_codebooks("image") == 2


def test_gin_bindings_reach_the_default_vocabulary():
    gin.parse_config(
        ["VocabularyConfig.image_codebooks = 2", "MidiEventConfig.num_velocity_bins = 1"]
    )
    try:
        vocab = unified_vocabulary()
        assert vocab.num_codebooks("image") == 2
        assert vocab.config.midi.num_velocity_bins == 1
    finally:
        gin.clear_config()
    assert unified_vocabulary().num_codebooks("image") == DEFAULT_CODEBOOKS


def test_tf_lookups_first_made_inside_a_dataset_map_serve_later_pipelines():
    vocab = UnifiedVocabulary()
    words = tf.data.Dataset.from_tensors(tf.constant("<sep> </s>"))
    first = list(words.map(vocab.encode_tf).as_numpy_iterator())
    second = list(words.map(vocab.encode_tf).as_numpy_iterator())
    assert [list(x) for x in first] == [list(x) for x in second] == [[SEP_ID, EOS_ID]]
