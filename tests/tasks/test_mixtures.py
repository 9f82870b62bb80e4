"""Mixtures: the paper's recipes by name, rates by example count, and start steps."""

from __future__ import annotations

import gin
import numpy as np
import pytest
import seqio
import tensorflow as tf

from mt3_unified.tasks import mixtures
from mt3_unified.tasks.registry import get_task_or_mixture, task_name

# Two tasks of 300 and 100 examples: at temperature 2 the rates are sqrt(300) and sqrt(100).
SIZES = {"mix_test_big": 300, "mix_test_small": 100}
FEATURES = {"marker": seqio.Feature(seqio.PassThroughVocabulary(1), add_eos=False, rank=0)}


def _register(name: str, size: int, marker: int) -> None:
    def dataset_fn(split, shuffle_files, seed=None):
        return tf.data.Dataset.from_tensors({"marker": tf.constant(marker, tf.int32)}).repeat(size)

    source = seqio.FunctionDataSource(
        dataset_fn, splits=["train"], num_input_examples={"train": size}
    )
    seqio.TaskRegistry.remove(name)
    seqio.TaskRegistry.add(name, source=source, output_features=FEATURES)


@pytest.fixture
def mixture():
    for marker, (name, size) in enumerate(SIZES.items()):
        _register(name, size, marker)
    seqio.MixtureRegistry.remove("mix_test")
    seqio.MixtureRegistry.add(
        "mix_test", list(SIZES), default_rate=mixtures.mixing_rate,
        mixture_cls=mixtures.CurriculumMixture,
    )  # fmt: skip
    gin.clear_config()
    gin.bind_parameter("mixing_rate.temperature", 2.0)
    yield seqio.MixtureRegistry.get("mix_test")
    gin.clear_config()


def _markers(mixture, count: int) -> np.ndarray:
    ds = mixture.get_dataset(None, split="train", shuffle=False, seed=5, num_epochs=None)
    return np.array([int(ex["marker"]) for ex in ds.take(count).as_numpy_iterator()])


def test_rates_follow_example_counts_with_a_temperature(mixture):
    share = 10.0 / (np.sqrt(300) + 10.0)  # 0.366...
    markers = _markers(mixture, 4000)
    sigma = np.sqrt(share * (1 - share) / len(markers))
    assert abs(np.mean(markers == 1) - share) < 4 * sigma


def test_a_task_contributes_nothing_before_its_start_step(mixture):
    gin.bind_parameter("Curriculum.start_steps", {"mix_test_small": 25})
    gin.bind_parameter("Curriculum.examples_per_step", 8)
    markers = _markers(mixture, 200 + 4000)
    assert not np.any(markers[:200] == 1)  # steps 0..24: 8 examples each
    after = markers[200:]
    share = 10.0 / (np.sqrt(300) + 10.0)
    sigma = np.sqrt(share * (1 - share) / len(after))
    assert abs(np.mean(after == 1) - share) < 4 * sigma


def test_a_weight_multiplies_a_tasks_rate(mixture):
    gin.bind_parameter("mixing_rate.weights", {"mix_test_small": 3.0})
    gin.bind_parameter("mixing_rate.temperature", 1.0)
    rates = {task.name: mixtures.mixing_rate(task) for task in mixture.tasks}
    assert rates == {"mix_test_big": 300.0, "mix_test_small": 300.0}
    markers = _markers(mixture, 4000)
    sigma = np.sqrt(0.25 / len(markers))
    assert abs(np.mean(markers == 1) - 0.5) < 4 * sigma


def test_values_by_task_name_pair_or_alias():
    name = task_name("synthetic_tiny", "image", "lmx")
    assert mixtures.for_task({"omr": 3.0}, name) == 3.0
    assert mixtures.for_task({"image_to_lmx": 2.0, name: 4.0}, name) == 4.0
    assert mixtures.for_task({"amt": 3.0}, name) is None
    assert mixtures.for_task({"omr": 3.0}, "mix_test_big") is None


def test_start_steps_match_task_names_pairs_and_aliases():
    name = task_name("synthetic_tiny", "image", "audio")
    assert mixtures.Curriculum({"i2a": 7}).start_step(name) == 7
    assert mixtures.Curriculum({"image_to_audio": 8}).start_step(name) == 8
    assert mixtures.Curriculum({name: 9, "i2a": 7}).start_step(name) == 9
    assert mixtures.Curriculum({"omr": 5}).start_step(name) == 0
    with pytest.raises(ValueError, match="some task must start at step 0"):
        mixtures.curriculum_weights([1.0, 1.0], [3, 4], 2)


def test_the_paper_mixtures_hold_their_pairs():
    def pairs(name):
        return sorted(t.name for t in get_task_or_mixture(name).tasks)

    def names(*pairs):
        return sorted(task_name("synthetic_tiny", *p.split("_to_")) for p in pairs)

    assert pairs("synthetic_tiny_omr") == names("image_to_lmx")
    assert pairs("synthetic_tiny_omr_i2a_synth") == names(
        "image_to_lmx", "image_to_audio", "midi_to_audio"
    )
    assert pairs("synthetic_tiny_amt_a2i_engrave") == names(
        "audio_to_midi", "audio_to_image", "lmx_to_image"
    )
    assert len(pairs("synthetic_tiny_all")) == 8
    # The paper's OMR mixture: the synthetic corpus's OMR beside OLiMPiC's.
    assert pairs("paper_omr") == sorted(
        [task_name("synthetic_paper", "image", "lmx"), task_name("olimpic", "image", "lmx")]
    )
