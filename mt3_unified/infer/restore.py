"""A trained run rebuilt from its model dir: the model from the run's own saved gin config,
the parameters of one checkpoint, and the codecs that baked the run's corpus.

Inference never builds the model from a config typed again by hand (MT3's Colab did,
and drifted): `restore_run` parses the ``config.gin`` the trainer wrote into the model
dir, builds gin's ``MODEL`` from it, checks that the checkpoint's arrays fit that model
and only then reads them. Every problem is found before a parameter is loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence

import gin
import jax
import numpy as np

from mt3_unified.errors import CheckpointMismatchError, Mt3UnifiedError
from mt3_unified.runtime import files
from mt3_unified.vocab.layout import CODE_MODALITIES

CONFIG_FILE = "config.gin"  # what train/trainer.py writes (its CONFIG_FILE)
CODECS_FILE = "codecs.json"  # what a bake writes beside its records


class RunNotFoundError(Mt3UnifiedError, FileNotFoundError):
    """A model dir with no saved config or no checkpoint; the message names the folder."""


@dataclasses.dataclass
class RestoredRun:
    """One checkpoint of a run, ready to decode."""

    model_dir: str
    step: int
    model: object  # model.UnifiedModel
    params: dict
    gin_text: str
    task_feature_lengths: dict[str, int]
    mixture_or_task_name: str | None
    bindings: tuple[str, ...] = ()  # the gin bindings given over the run's config

    def activate(self) -> None:
        """Makes gin hold this run's config (and bindings) again: the chain reads gin when
        it builds a dataset, and restoring another run replaced it."""
        _parse_config(self.gin_text, self.model_dir, self.bindings)

    def codec_workdirs(self) -> dict[str, str]:
        """{modality: codec workdir} of the codecs that baked the run's corpora (their
        ``codecs.json``), for the code modalities they name; {} when none is found."""
        return baked_codec_workdirs(self.mixture_or_task_name)


def check_model_dir(model_dir: str) -> None:
    """Raises RunNotFoundError unless ``model_dir`` holds a saved config and a checkpoint."""
    if not files.isdir(model_dir):
        raise RunNotFoundError(f"{model_dir}: no such model dir")
    if not files.isfile(files.join(model_dir, CONFIG_FILE)):
        raise RunNotFoundError(
            f"{model_dir}: no {CONFIG_FILE} (not a model dir written by `mt3u train`)"
        )
    if not _checkpoint_steps(model_dir):
        raise RunNotFoundError(f"{model_dir}: no checkpoint (the run saved none yet)")


def _checkpoint_steps(model_dir: str) -> list[int]:
    folder = files.join(model_dir, "checkpoints")
    if not files.isdir(folder):
        return []
    return sorted(int(name) for name in files.listdir(folder) if name.isdigit())


def parse_run_config(model_dir: str, bindings: Sequence[str] = ()) -> str:
    """Clears gin and parses the run's saved config (the modules it names are imported),
    then ``bindings`` over it; returns the config's text."""
    import mt3_unified.tasks  # noqa: F401  (registers the tasks the config's mixture names)

    text = files.read_text(files.join(model_dir, CONFIG_FILE))
    _parse_config(text, model_dir, bindings)
    return text


def _parse_config(text: str, model_dir: str, bindings: Sequence[str]) -> None:
    gin.clear_config()
    try:
        gin.parse_config(text)
    except (ValueError, ImportError) as err:
        raise Mt3UnifiedError(f"{model_dir}/{CONFIG_FILE}: cannot be parsed ({err})") from err
    if bindings:
        gin.parse_config(list(bindings))


@contextlib.contextmanager
def config_of(run: RestoredRun, then: RestoredRun) -> Iterator[RestoredRun]:
    """gin holds ``run``'s config inside the block (decoding with a second run, such as
    `mt3u eval`'s transcriber) and ``then``'s again after it, however the block ends."""
    if run is then:
        yield run
        return
    run.activate()
    try:
        yield run
    finally:
        then.activate()


def _macro(name: str, default=None):
    try:
        return gin.query_parameter(f"%{name}")
    except ValueError:
        return default


def restore_run(model_dir: str, step: int | None = None, bindings=()) -> RestoredRun:
    """The run's model (from its own ``config.gin``, plus gin ``bindings``) and the
    parameters of checkpoint ``step`` (the latest by default)."""
    from mt3_unified.train.checkpoints import saved_params

    check_model_dir(model_dir)
    steps = _checkpoint_steps(model_dir)
    if step is not None and step not in steps:
        raise RunNotFoundError(f"{model_dir}: no checkpoint of step {step}; it has {steps}")
    text = parse_run_config(model_dir, bindings)
    model = gin.query_parameter("%MODEL").scoped_configurable_fn()
    abstract = jax.eval_shape(model.init, jax.random.key(0))
    step, params = saved_params(model_dir, step)
    _check_fits(model_dir, step, abstract, params)
    lengths = dict(_macro("TASK_FEATURE_LENGTHS") or {})
    if not lengths:
        config = model.config
        lengths = {"inputs": config.max_input_len, "targets": config.max_target_len}
    return RestoredRun(
        model_dir=model_dir,
        step=int(step),
        model=model,
        params=jax.tree.map(np.asarray, params),
        gin_text=text,
        task_feature_lengths=lengths,
        mixture_or_task_name=_macro("MIXTURE_OR_TASK_NAME"),
        bindings=tuple(bindings),
    )


def _check_fits(model_dir: str, step: int, abstract, params) -> None:
    from mt3_unified.runtime.checkpoints import array_shapes, shape_differences

    differ = shape_differences(array_shapes(params), array_shapes(abstract), ("saved", "config"))
    if differ:
        raise CheckpointMismatchError(
            f"{model_dir}: checkpoint {step} does not fit the model its {CONFIG_FILE} builds "
            f"(the config was overwritten by another run?): {'; '.join(differ[:6])}"
        )


def baked_codec_workdirs(mixture_or_task_name: str | None) -> dict[str, str]:
    """{modality: workdir} from the ``codecs.json`` of each corpus bake the run's tasks
    read (the first that names a modality wins)."""
    if not mixture_or_task_name:
        return {}
    import seqio

    from mt3_unified.tasks.registry import get_task_or_mixture
    from mt3_unified.tasks.sources import baked_dir_of

    try:
        found = get_task_or_mixture(mixture_or_task_name)
    except KeyError:
        return {}
    tasks = found.tasks if isinstance(found, seqio.Mixture) else [found]
    out: dict[str, str] = {}
    for task in tasks:
        corpus = getattr(task.source, "corpus", None)
        if corpus is None:
            continue
        out = {**_codecs_json_workdirs(baked_dir_of(corpus)), **out}
    return out


def _codecs_json_workdirs(folder: str) -> dict[str, str]:
    path = os.path.join(folder, CODECS_FILE)
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        described: Mapping = json.load(f)
    return {
        modality: entry["workdir"]
        for modality, entry in described.items()
        if modality in CODE_MODALITIES and entry.get("workdir")
    }
