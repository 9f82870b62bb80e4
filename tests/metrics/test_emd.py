"""Hand-made cases for the EMD between pitch and duration histograms."""

import numpy as np
import pytest

from mt3_unified.metrics.emd import histogram_emd, lmx_emd


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
