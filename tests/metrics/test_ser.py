"""Hand-made cases for the symbol error rate."""

import pytest

from mt3_unified.metrics.ser import edit_distance, ser_metrics, symbol_error_rate


def test_identical_sets_have_zero_ser():
    refs = [["measure", "C4", "quarter"], "measure rest whole"]
    assert symbol_error_rate(refs, refs) == 0.0


def test_edit_distance_counts_substitution_insertion_deletion():
    ref = ["measure", "C4", "quarter", "D4", "quarter"]
    # one substitution (C4 -> E4), one deletion (last quarter), one insertion (dot)
    hyp = ["measure", "E4", "quarter", "dot", "D4"]
    assert edit_distance(ref, hyp) == 3


def test_ser_sums_errors_before_dividing():
    refs = [["a"] * 10, ["b"] * 30]
    hyps = [["a"] * 5, ["b"] * 30]  # 5 deletions in the short example only
    # pooled: 5 / 40 = 12.5 %, not the mean of per-example rates (25 %)
    assert symbol_error_rate(refs, hyps) == pytest.approx(12.5)


def test_tuplet_free_variant_ignores_time_modifications():
    ref = "measure C4 eighth 3in2 tuplet:start D4 eighth 3in2 E4 eighth 3in2 tuplet:stop"
    hyp = "measure C4 eighth D4 eighth E4 eighth"
    metrics = ser_metrics([ref], [hyp])
    assert metrics["ser"] == pytest.approx(100 * 5 / 12)
    assert metrics["ser_no_tuplets"] == 0.0


def test_masked_pitches_cost_nothing_when_wrong_but_missing_notes_still_count():
    ref = "measure C4 quarter E4 quarter sharp G4 half"
    # E4 -> F4 and G4 -> A4 are wrong pitches; the sharp and the last note's half are gone.
    hyp = "measure C4 quarter F4 quarter A4"
    metrics = ser_metrics([ref], [hyp])
    assert metrics["ser"] == pytest.approx(100 * 4 / 8)
    assert metrics["ser_pitch_masked"] == pytest.approx(100 * 2 / 8)
    # Rests and other non-pitch tokens are never masked.
    assert symbol_error_rate(["rest quarter"], ["rest half"], mask_pitches=True) == 50.0


def test_mismatched_set_sizes_and_empty_references_are_refused():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        symbol_error_rate([["a"], ["b"]], [["a"]])
    with pytest.raises(ValueError, match="undefined"):
        symbol_error_rate([[]], [["a"]])
