"""as_text: the string features tf.data yields, as Python text."""

import numpy as np
import pytest

from mt3_unified.text import as_text


@pytest.mark.parametrize(
    "value",
    [b"bach/bwv66.6", np.asarray(b"bach/bwv66.6"), "bach/bwv66.6", np.asarray("bach/bwv66.6")],
)
def test_a_piece_id_reads_the_same_however_tf_data_gives_it(value):
    assert as_text(value) == "bach/bwv66.6"


def test_utf8_bytes_are_decoded_and_other_values_printed():
    assert as_text("Dvořák".encode()) == "Dvořák"
    assert as_text(np.asarray(7)) == "7"
