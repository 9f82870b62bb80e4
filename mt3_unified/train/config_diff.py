"""The gin bindings two runs differ in: what a model dir's config.gin (written by the trainer)
says about a checkpoint that does not fit the config trying to resume from it."""

from __future__ import annotations

import re
from collections.abc import Iterable

from mt3_unified.runtime import files

# The gin config a run wrote into its model dir (gin.config_str()).
CONFIG_FILE = "config.gin"
# Configurables whose bindings shape the parameters (or the vocabulary behind them); a
# difference among them is listed first. MODEL is the macro that names the model.
MODEL_CONFIGURABLES = ("ModelConfig", "UnifiedModel", "VocabularyConfig", "MidiEventConfig")
MODEL_MACROS = ("MODEL",)

_BINDING = re.compile(r"^(?P<name>[A-Za-z_][\w./]*)\s*=\s*(?P<value>.*)$")
_NOT_BINDINGS = ("import ", "from ", "include ")


def parse_bindings(gin_text: str) -> dict[str, str]:
    """{name: value} of a gin config's bindings, ``scope/Configurable.param = value`` and
    macros (``MODEL_DIR = '/runs/x'``) alike, as written (whitespace collapsed): a value gin
    wrapped over continuation lines (a trailing backslash, indented lines) is joined. A name
    bound twice keeps its last value, as gin does."""
    bindings: dict[str, str] = {}
    name, parts = None, []

    def finish():
        if name is not None:
            bindings[name] = " ".join(" ".join(parts).split())

    for line in gin_text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        continues = line[:1].isspace() or (parts and parts[-1].endswith("\\"))
        if continues and name is not None:
            parts[-1] = parts[-1].removesuffix("\\").rstrip()
            parts.append(stripped)
            continue
        finish()
        name, parts = None, []
        match = _BINDING.match(line)
        if match and not stripped.startswith(_NOT_BINDINGS):
            name, parts = match["name"], [match["value"].strip()]
    finish()
    return {key: value.removesuffix("\\").rstrip() for key, value in bindings.items()}


def shapes_model(name: str) -> bool:
    """Whether a binding is of the model's configurables (or the MODEL macro)."""
    if "." not in name:
        return name in MODEL_MACROS
    configurable = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return configurable.rsplit(".", 1)[-1] in MODEL_CONFIGURABLES


def differing_fields(
    old_text: str, new_text: str, ignore: Iterable[str] = ()
) -> list[tuple[str, str | None, str | None]]:
    """(name, old value, new value) of each binding the two gin configs differ in (None:
    not bound there), the model-shaping ones (`shapes_model`) first, each group by name.
    Names in `ignore` are left out."""
    old, new = parse_bindings(old_text), parse_bindings(new_text)
    skipped = set(ignore)
    names = [n for n in set(old) | set(new) if n not in skipped and old.get(n) != new.get(n)]
    names.sort(key=lambda n: (not shapes_model(n), n))
    return [(n, old.get(n), new.get(n)) for n in names]


def describe_differences(
    old_text: str, new_text: str, limit: int = 8, old_label="checkpoint", new_label="this run"
) -> str:
    """The differing fields as one line: ``ModelConfig.emb_dim: 64 (checkpoint) vs 128 (this
    run); ...``, at most `limit` of them and a count of the rest."""
    differ = differing_fields(old_text, new_text)
    if not differ:
        return ""
    shown = [
        f"{name}: {_shown(old)} ({old_label}) vs {_shown(new)} ({new_label})"
        for name, old, new in differ[:limit]
    ]
    more = f"; and {len(differ) - limit} more" if len(differ) > limit else ""
    return "; ".join(shown) + more


def _shown(value: str | None) -> str:
    return "unbound" if value is None else value


def read_saved_config(model_dir: str) -> str | None:
    """The gin config a run wrote into `model_dir`, or None when there is none (or it cannot
    be read)."""
    try:
        return files.read_text(files.join(model_dir, CONFIG_FILE))
    except OSError:
        return None
