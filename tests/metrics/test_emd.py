"""Hand-made cases for the EMD between pitch and duration histograms."""

import numpy as np
import pytest

from mt3_unified.metrics.emd import histogram_emd, lmx_emd, paired_lmx_emd


def test_identical_sets_have_zero_emd():
    lmx = ["measure C4 quarter E4 half G4 eighth"]
    assert lmx_emd(lmx, lmx) == {"emd_pitch": 0.0, "emd_duration": 0.0}


def test_shifting_every_pitch_by_a_step_costs_one():
    ref = ["measure C4 quarter E4 quarter", "measure G4 half"]
    hyp = ["measure D4 quarter F4 quarter", "measure A4 half"]
    assert lmx_emd(ref, hyp) == {"emd_pitch": pytest.approx(1.0), "emd_duration": 0.0}


def test_duration_mass_moved_by_hand():
    # reference: 2 quarters, 2 halves; hypothesis: 4 quarters.
    # Half of the mass moves one doubling (half -> quarter): EMD = 0.5.
    ref = ["C4 quarter C4 quarter C4 half C4 half"]
    hyp = ["C4 quarter C4 quarter C4 quarter C4 quarter"]
    assert lmx_emd(ref, hyp)["emd_duration"] == pytest.approx(0.5)


def test_histogram_emd_normalizes_counts_and_handles_empty_sets():
    assert histogram_emd(np.array([2, 0, 0]), np.array([0, 0, 5])) == pytest.approx(2.0)
    assert histogram_emd(np.zeros(4), np.zeros(4)) == 0.0
    assert histogram_emd(np.zeros(4), np.array([0, 1, 0, 0])) == 3.0


def test_paired_emd_averages_each_pair_and_counts_out_readings_without_notes():
    refs = [
        "measure C4 quarter E4 quarter",  # against itself: 0, 0
        "measure C4 half",  # read a step higher, as a quarter: pitch 1, duration 1
        "measure G4 whole",  # read as no notes at all: counted out
    ]
    hyps = ["measure C4 quarter E4 quarter", "measure D4 quarter", "measure rest half"]
    assert paired_lmx_emd(refs, hyps) == {
        "emd_pitch": pytest.approx(0.5),
        "emd_duration": pytest.approx(0.5),
        "scored": 2,
    }


def test_paired_emd_differs_from_the_set_emd_when_pairs_are_swapped():
    # Swapping the readings leaves the whole sets' histograms equal (set EMD 0) but puts
    # each reading against the other reference: C4 vs G4 is 4 diatonic steps.
    refs, hyps = ["C4 quarter", "G4 quarter"], ["G4 quarter", "C4 quarter"]
    assert lmx_emd(refs, hyps)["emd_pitch"] == 0.0
    assert paired_lmx_emd(refs, hyps)["emd_pitch"] == pytest.approx(4.0)


def test_paired_emd_without_any_scored_pair_is_none_and_lengths_must_match():
    assert paired_lmx_emd(["C4 quarter"], [""]) == {
        "emd_pitch": None,
        "emd_duration": None,
        "scored": 0,
    }
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        paired_lmx_emd(["C4 quarter", "D4 half"], ["C4 quarter"])
