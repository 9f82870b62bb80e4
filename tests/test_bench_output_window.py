"""bench/output_window.py: its baseline is the rectangular window, with the same loss."""

import jax
import numpy as np

from bench.output_window import mixed_batch, rectangular, with_rectangular_windows
from mt3_unified.vocab.layout import MODALITIES
from tests.model.helpers import tiny_model


def test_the_rectangular_window_is_one_group_of_the_whole_window():
    window = tiny_model().output_window(range(len(MODALITIES)))
    assert len(window.groups) > 1
    (group,) = rectangular(window).groups
    assert group.start == 0 and group.columns is window.columns
    assert group.positions is window.positions


def test_the_baseline_computes_the_same_loss_on_a_batch_that_mixes_tasks():
    model = tiny_model()
    batch = mixed_batch(model, 4, 8)
    assert sorted(np.unique(batch["target_modality"])) == [
        MODALITIES.index("lmx"),
        MODALITIES.index("audio"),
    ]
    params = model.init(jax.random.key(0))
    rect = with_rectangular_windows(model)
    assert len(rect.output_window([0, 1, 2, 3]).groups) == 1
    (loss, metrics), (ref, ref_metrics) = (jax.jit(m.loss_fn)(params, batch) for m in (model, rect))
    np.testing.assert_allclose(loss, ref, rtol=1e-6)
    np.testing.assert_allclose(metrics["accuracy"], ref_metrics["accuracy"])
