"""Variant choice (seeded, per unit and pass) and symbolic tokenization, with exact values."""

import numpy as np
import pytest
import tensorflow as tf

from mt3_unified.preprocessors.tokenize import tokenize_symbolic
from mt3_unified.preprocessors.variants import EPOCH, number_passes, select_variant, unit_choice
from mt3_unified.vocab.layout import UNK_ID
from tests.preprocessors.helpers import dataset_of, listed, raw_example, vocab


def baked(units=12, variants=3):
    return dataset_of(
        *[
            raw_example(piece_id=f"p{u // 4}", unit_index=u % 4, variant=v)
            for u in range(units)
            for v in range(variants)
        ]
    )


def picks(ds):
    return [(e["piece_id"].decode(), int(e["unit_index"]), int(e["variant"])) for e in listed(ds)]


def test_evaluation_keeps_variant_zero():
    kept = picks(select_variant(baked(), training=False, num_variants=3))
    assert [v for *_, v in kept] == [0] * 12
    assert len({(p, u) for p, u, _ in kept}) == 12


def test_training_keeps_one_seeded_variant_per_unit():
    first = picks(select_variant(baked(), training=True, num_variants=3, seed=7))
    again = picks(select_variant(baked(), training=True, num_variants=3, seed=7))
    other = picks(select_variant(baked(), training=True, num_variants=3, seed=8))
    assert first == again
    assert [(p, u) for p, u, _ in first] == [(f"p{u // 4}", u % 4) for u in range(12)]
    assert len({v for *_, v in first}) > 1  # a mix, not one variant everywhere
    assert [v for *_, v in first] != [v for *_, v in other]


def test_choice_ignores_order_and_sharding():
    examples = list(baked().as_numpy_iterator())
    reordered = dataset_of(
        *[
            raw_example(**{k: e[k] for k in ("piece_id", "unit_index", "variant")})
            for e in reversed(examples)
        ]
    )
    forward = picks(select_variant(baked(), training=True, num_variants=3, seed=7))
    backward = picks(select_variant(reordered, training=True, num_variants=3, seed=7))
    assert sorted(forward) == sorted(backward)


def test_number_passes_numbers_the_passes_of_a_repeat():
    ds = tf.data.Dataset.range(3).map(lambda i: {"i": i})
    assert [int(e[EPOCH]) for e in listed(number_passes(ds))] == [0, 0, 0]
    numbered = listed(number_passes(ds.repeat(3)))
    assert [(int(e["i"]), int(e[EPOCH])) for e in numbered] == [
        (i, epoch) for epoch in range(3) for i in range(3)
    ]
    endless = listed(number_passes(ds.repeat()).take(10))
    assert [int(e[EPOCH]) for e in endless] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    with pytest.raises(ValueError, match="not a repeat"):
        number_passes(ds.repeat().map(lambda e: e))


def test_each_pass_draws_the_variants_again_the_same_for_the_same_seed():
    passes, variants = 8, 4

    def drawn(seed):
        ds = number_passes(baked(variants=variants).repeat(passes))
        ds = select_variant(ds, training=True, num_variants=variants, seed=seed)
        return [(*pick, int(e[EPOCH])) for pick, e in zip(picks(ds), listed(ds), strict=True)]

    first = drawn(7)
    assert first == drawn(7)
    # One record per unit and pass: the variant the keyed hash of (unit, pass, seed) picks.
    assert len(first) == 12 * passes
    for piece, unit, variant, epoch in first:
        key = {"piece_id": tf.constant(piece), "unit_index": tf.constant(unit), EPOCH: epoch}
        assert variant == int(unit_choice(key, variants, seed=7, salt="variant"))
    seen = {}
    for piece, unit, variant, _ in first:
        seen.setdefault((piece, unit), set()).add(variant)
    assert len(seen) == 12 and all(len(v) > 1 for v in seen.values())  # not one for ever
    # The first pass is a single pass's choice (no repeat: pass 0).
    one_pass = number_passes(baked(variants=variants))
    single = picks(select_variant(one_pass, training=True, num_variants=variants, seed=7))
    assert single == [p[:3] for p in first[:12]]


def test_tokenize_lmx_and_note_events():
    v = vocab()
    lo = v.id_range("lmx")[0]
    example = raw_example(
        lmx="measure key:fifths:-6 nonsense",
        notes=[(0.5, 1.5, 60, 127, 0, False), (0.2, 0.3, 36, 100, 0, True)],
    )
    (out,) = listed(tokenize_symbolic(dataset_of(example), vocabulary=v))
    assert out["lmx_ids"].tolist() == [lo, lo + 2, UNK_ID]
    # (step, kind, program, velocity bin, pitch): the drum hit, then the note's on and off.
    np.testing.assert_array_equal(
        out["midi_events"], [[20, 2, 0, 4, 36], [50, 1, 0, 4, 60], [150, 0, 0, 0, 60]]
    )
    np.testing.assert_array_equal(out["midi_spans"], [[50, 150, 0, 60]])


def test_tokenize_without_notes():
    (out,) = listed(tokenize_symbolic(dataset_of(raw_example()), vocabulary=vocab()))
    assert out["lmx_ids"].shape == (0,)
    assert out["midi_events"].shape == (0, 5) and out["midi_spans"].shape == (0, 4)
