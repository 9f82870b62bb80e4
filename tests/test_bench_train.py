"""bench/train.py's quick path on the tests' tiny model: the table's fields are there."""

import numpy as np

from bench.train import FIELDS, Setting, format_table, measure, random_examples
from tests.model.helpers import tiny_model


def test_random_examples_are_valid_model_batches():
    model = tiny_model()
    examples = random_examples(model, 12, 8)
    batch = {name: np.stack([ex[name] for ex in examples]) for name in examples[0]}
    model.validate_batch(batch)
    assert batch["decoder_target_tokens"].shape == (12, 8, model.k_max)
    assert sorted(batch["task"].tolist()) == list(range(12))


def test_the_quick_path_fills_every_field(tmp_path):
    setting = Setting(batch_size=2, length=8, steps=4, log_every=1, checkpoint_every=2)
    row = measure("tests-tiny", tiny_model(), setting, str(tmp_path))
    assert tuple(row) == FIELDS
    assert row["timed steps"] == 3  # the intervals after the first logged step: 2, 3, 4
    assert row["saves"] == 2  # steps 2 and 4
    assert row["bare step/s"] > 0 and row["loop step/s"] > 0
    assert row["loop / bare"] == row["loop step/s"] / row["bare step/s"]
    table = format_table([row]).splitlines()
    assert table[0] == "| " + " | ".join(FIELDS) + " |"
    assert table[2].startswith("| tests-tiny | 2 | 8 | 2 | 3 | 1 | ")
