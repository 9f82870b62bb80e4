"""Tasks on a hand-made baked corpus: sources, variants, codebook checks, model batches."""

from __future__ import annotations

import numpy as np
import pytest
import seqio
import tensorflow as tf

from mt3_unified.errors import CodebookMismatchError
from mt3_unified.model.features import MODEL_FEATURES
from mt3_unified.preprocessors.feature_converter import UnifiedFeatureConverter
from mt3_unified.tasks.registry import get_task_or_mixture, task_name
from mt3_unified.tasks.sources import BakedRawSource, Corpus
from mt3_unified.vocab.unified import MODALITIES, TASKS, unified_vocabulary
from tests.model.helpers import tiny_model
from tests.tasks.conftest import (
    AUDIO_BOOKS,
    FRAME_RATE,
    HANDMADE,
    IMAGE_BOOKS,
    UNITS,
    VARIANTS,
    gin_bindings,
    unit_codes,
    write_handmade,
)

LENGTHS = {"inputs": 32, "targets": 40}


def _examples(name, split="train", seed=7, lengths=LENGTHS, **kwargs):
    task = get_task_or_mixture(name)
    ds = task.get_dataset(lengths, split=split, shuffle=False, seed=seed, **kwargs)
    return list(ds.as_numpy_iterator())


def test_baked_source_yields_raw_examples_with_codes_and_frame_rate(handmade_gin):
    source = BakedRawSource(Corpus(HANDMADE, splits=("train", "test")))
    raw = list(source.get_dataset("test", shuffle=False).as_numpy_iterator())
    assert [int(r["variant"]) for r in raw] == list(range(VARIANTS))
    first = raw[0]
    assert first["piece_id"] == b"c" and first["unit_index"] == 0
    np.testing.assert_array_equal(first["image_codes"], unit_codes(6, IMAGE_BOOKS, 0, 0))
    np.testing.assert_array_equal(first["audio_codes"], unit_codes(25, AUDIO_BOOKS, 0, 0))
    assert first["audio_frame_rate"] == FRAME_RATE
    np.testing.assert_array_equal(first["notes/pitch"], [65])
    assert first["lmx"].decode().split()[0] == "measure"
    assert first["image"].shape == (0, 0) and first["audio"].shape == (0,)
    assert source.num_input_examples("train") == 3 and source.num_variants() == VARIANTS


def test_train_picks_seeded_variants_and_eval_the_unshifted_one(handmade_gin):
    train = task_name(HANDMADE, "image", "audio")
    evaluation = task_name(HANDMADE, "image", "audio", "eval")
    picked = {}
    for seed in range(6):
        for ex in _examples(train, seed=seed):
            key = (ex["piece_id"], ex["inputs"].shape[0])
            # The variant shows in the first code: (salt + variant) mod 16, salt 0, 3, 6.
            picked.setdefault(key, set()).add(int(ex["inputs"][0, 0]))
    assert len(picked) == 3 and any(len(v) > 1 for v in picked.values())
    again = [ex["inputs"] for ex in _examples(train, seed=3)]
    np.testing.assert_array_equal(again[0], _examples(train, seed=3)[0]["inputs"])
    vocab = unified_vocabulary()
    image_lo = vocab.id_range("image", 0)[0]
    evaluated = _examples(evaluation)
    assert sorted(int(ex["inputs"][0, 0]) - image_lo for ex in evaluated) == [0, 3, 6]
    ex = evaluated[0]
    assert ex["task"] == TASKS.index("image_to_audio")
    assert ex["input_modality"] == MODALITIES.index("image")
    assert ex["target_modality"] == MODALITIES.index("audio")


def _variants_by_unit(examples) -> dict:
    """{(piece, image frames): [first input code of each pass]}: the code tells the variant."""
    seen = {}
    for ex in examples:
        seen.setdefault((ex["piece_id"], ex["inputs"].shape[0]), []).append(int(ex["inputs"][0, 0]))
    return seen


def test_each_pass_picks_the_variants_again_the_same_for_the_same_seed(handmade_gin):
    train = task_name(HANDMADE, "image", "audio")
    passes = 8
    drawn = _examples(train, seed=3, num_epochs=passes)
    assert all("epoch" not in ex for ex in drawn)  # the pass number ends at to_frames
    again = _examples(train, seed=3, num_epochs=passes)
    assert len(drawn) == len(again) == 3 * passes
    for ex, ex_again in zip(drawn, again, strict=True):
        np.testing.assert_array_equal(ex["inputs"], ex_again["inputs"])
    by_unit = _variants_by_unit(drawn)
    # Each of the 3 units, baked with 4 variants, meets more than one in 8 passes.
    assert len(by_unit) == 3 and all(len(set(codes)) > 1 for codes in by_unit.values())
    # The first pass is what one pass (num_epochs=1) picks.
    one_pass = _variants_by_unit(_examples(train, seed=3))
    assert {unit: codes[:1] for unit, codes in by_unit.items()} == one_pass
    # Evaluation stays on variant 0, whatever the passes.
    evaluation = task_name(HANDMADE, "image", "audio", "eval")
    image_lo = unified_vocabulary().id_range("image", 0)[0]
    evaluated = [int(ex["inputs"][0, 0]) - image_lo for ex in _examples(evaluation, num_epochs=3)]
    assert sorted(evaluated) == [0, 0, 0, 3, 3, 3, 6, 6, 6]  # (3 * unit + variant 0) mod 16


def test_each_pass_crops_the_audio_windows_again(handmade_gin):
    # Windows of 4 frames at 50 frames a second: 17, 27 and 7 offsets in the 3 units.
    lengths = {"inputs": 5, "targets": 40}
    name = task_name(HANDMADE, "audio", "midi")
    drawn = _examples(name, lengths=lengths, seed=3, num_epochs=8)
    assert drawn and all("epoch" not in ex for ex in drawn)
    starts = {}
    for ex in drawn:  # units a/0 and b/0 start at 0 s, a/1 at 2 s
        unit = (ex["piece_id"], int(ex["start_time"] // 2))
        starts.setdefault(unit, []).append(round(float(ex["start_time"]), 2))
    assert len(starts) == 3 and all(len(v) == 8 for v in starts.values())
    assert all(len(set(v)) > 1 for v in starts.values())
    again = _examples(name, lengths=lengths, seed=3, num_epochs=8)
    assert [float(ex["start_time"]) for ex in again] == [float(ex["start_time"]) for ex in drawn]


def test_a_restored_training_input_continues_through_the_passes(handmade_gin, tmp_path):
    name = task_name(HANDMADE, "image", "audio")
    converter = UnifiedFeatureConverter(unified_vocabulary())

    def batches():
        ds = get_task_or_mixture(name).get_dataset(
            LENGTHS, split="train", shuffle=True, seed=5, num_epochs=None
        )
        return converter(ds, LENGTHS).batch(2)

    uninterrupted = [b["encoder_input_tokens"] for b in batches().take(12).as_numpy_iterator()]
    iterator = iter(batches())
    first = next(iterator)
    assert set(first) <= set(MODEL_FEATURES)  # no pass number in the model's batch
    for _ in range(4):  # 10 examples: in the fourth pass of 3 units
        next(iterator)
    path = tf.train.Checkpoint(ds=iterator).save(str(tmp_path / "input"))
    restored = iter(batches())
    tf.train.Checkpoint(ds=restored).restore(path)
    for expected in uninterrupted[5:]:
        np.testing.assert_array_equal(next(restored)["encoder_input_tokens"], expected)


def test_the_training_input_of_a_mixture_is_the_same_per_seed_and_resumes(handmade_gin, tmp_path):
    from mt3_unified.tasks.mixtures import add_mixture
    from mt3_unified.train.inputs import next_host_batch, seqio_dataset

    mixture = add_mixture("handmade_passes", [HANDMADE], ["image_to_audio", "audio_to_midi"])

    def batches(seed):
        # seqio's in-memory cache as well: each pass reads it again through the repeat.
        return seqio_dataset(
            mixture_or_task_name=mixture,
            task_feature_lengths=LENGTHS,
            batch_size=2,
            seed=seed,
            memory_cache=True,
        )

    first = iter(batches(1))
    uninterrupted = [next_host_batch(first) for _ in range(12)]
    assert all(set(batch) <= set(MODEL_FEATURES) for batch in uninterrupted)
    again = iter(batches(1))
    for batch in uninterrupted[:3]:
        np.testing.assert_array_equal(
            next(again)["encoder_input_tokens"], batch["encoder_input_tokens"]
        )
    iterator = iter(batches(1))
    for _ in range(5):
        next(iterator)
    path = tf.train.Checkpoint(ds=iterator).save(str(tmp_path / "input"))
    restored = iter(batches(1))
    tf.train.Checkpoint(ds=restored).restore(path)
    for batch in uninterrupted[5:]:
        np.testing.assert_array_equal(
            next(restored)["encoder_input_tokens"], batch["encoder_input_tokens"]
        )


def test_codebook_mismatch_is_an_error_naming_both_before_any_batch(handmade_dir, tmp_path):
    write_handmade(tmp_path / "baked" / HANDMADE, books=(4, AUDIO_BOOKS))
    gin_bindings(tmp_path, tmp_path / "baked")
    task = get_task_or_mixture(task_name(HANDMADE, "image", "audio"))
    with pytest.raises(CodebookMismatchError) as error:
        task.get_dataset(LENGTHS, split="train", shuffle=False)
    message = str(error.value)
    assert "vocabulary has 2 image codebooks of 16 codes" in message
    assert "has 4 of 16" in message and str(tmp_path / "baked" / HANDMADE) in message


def test_audio_to_midi_eval_covers_each_unit_in_windows_with_start_times(handmade_gin):
    # 9 frames a window (10 less the EOS frame) at 50 frames a second: 0.18 s each.
    lengths = {"inputs": 10, "targets": 40}
    name = task_name(HANDMADE, "audio", "midi", "eval")
    windows = _examples(name, split="test", lengths=lengths)
    got = [(ex["piece_id"].decode(), round(float(ex["start_time"]), 2)) for ex in windows]
    assert got == [("c", 0.0), ("c", 0.18), ("c", 0.36)]  # 25 frames: 9 + 9 + 7
    assert [ex["inputs"].shape[0] for ex in windows] == [10, 10, 8]


@pytest.mark.parametrize(
    ("pair", "side"), [(("lmx", "image"), "targets"), (("image", "audio"), "inputs")]
)
@pytest.mark.parametrize("num_epochs", [1, 3])
def test_two_shards_together_give_the_examples_of_one(handmade_gin, pair, side, num_epochs):
    name = task_name(HANDMADE, *pair)

    def keys(**kwargs):
        examples = _examples(name, num_epochs=num_epochs, **kwargs)
        return sorted((ex["piece_id"], ex[side].tobytes()) for ex in examples)

    shards = [keys(shard_info=seqio.ShardInfo(i, 2)) for i in range(2)]
    assert sorted(shards[0] + shards[1]) == keys() and all(shards)


@pytest.mark.parametrize(
    "pair", [("image", "audio"), ("audio", "image"), ("audio", "midi"), ("lmx", "image")]
)
def test_batches_of_baked_tasks_go_into_the_model_loss(handmade_gin, pair):
    import jax

    name = task_name(HANDMADE, *pair)
    task = get_task_or_mixture(name)
    lengths = {"inputs": 16, "targets": 16}
    ds = task.get_dataset(lengths, split="train", shuffle=False, seed=1)
    converter = UnifiedFeatureConverter(unified_vocabulary())
    batch = next(converter(ds, lengths).batch(2).as_numpy_iterator())
    model = tiny_model()
    assert model.vocabulary.config == unified_vocabulary().config
    loss, metrics = model.loss_fn(model.init(jax.random.key(0)), batch)
    assert np.isfinite(float(loss))
    assert batch["task"].tolist() == [TASKS.index("_to_".join(pair))] * len(batch["task"])


def test_units_of_the_handmade_corpus_fit_their_lengths():
    assert sum(len(units) for units in UNITS.values()) == 4
