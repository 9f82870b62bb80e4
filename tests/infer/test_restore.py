"""`infer.restore.config_of`: gin holds a second run's config while it decodes, then the first's."""

from __future__ import annotations

import gin
import pytest

from mt3_unified.infer.restore import RestoredRun, config_of
from mt3_unified.tasks.chain import ContinuousInputs


def _run(name: str, gin_text: str, bindings=()) -> RestoredRun:
    return RestoredRun(
        model_dir=name, step=0, model=None, params={}, gin_text=gin_text,
        task_feature_lengths={}, mixture_or_task_name=None, bindings=tuple(bindings),
    )  # fmt: skip


def test_config_of_switches_gin_to_the_run_and_back_even_on_error():
    evaluated = _run(
        "codes", "ContinuousInputs.modalities = ()", ["ContinuousInputs.patch_size = 4"]
    )
    transcriber = _run("mel", "ContinuousInputs.modalities = ('audio',)")
    try:
        evaluated.activate()
        assert ContinuousInputs() == ContinuousInputs(modalities=(), patch_size=4)
        with config_of(transcriber, then=evaluated) as run:
            assert run is transcriber
            assert ContinuousInputs() == ContinuousInputs(modalities=("audio",))
        assert ContinuousInputs() == ContinuousInputs(modalities=(), patch_size=4)
        with pytest.raises(RuntimeError), config_of(transcriber, then=evaluated):
            raise RuntimeError("decoding failed")
        assert ContinuousInputs().modalities == ()
        # The evaluated run itself: gin is left alone (nothing parsed again).
        gin.parse_config("ContinuousInputs.fft_size = 512")
        with config_of(evaluated, then=evaluated):
            assert ContinuousInputs().fft_size == 512
    finally:
        gin.clear_config()
