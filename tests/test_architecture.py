"""The package's layering: imports run only downward, in the order README.md writes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mt3_unified"


def layer_order(readme: str) -> list[str]:
    """Top-level parts of the package in the README's architecture map, lowest first."""
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    block = section.split(f"{PACKAGE}/\n", 1)[1]
    names = []
    for line in block.splitlines():
        if line.strip() and not line.startswith("      "):
            break  # the map of the package ends where the indentation does
        found = re.match(r"^ {6}(\w+)(?:/|\.py)\s", line + " ")
        if found:
            names.append(found.group(1))
    return names


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every mt3_unified module a file imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            # `from pkg import mod` imports the module pkg.mod when there is one.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] == PACKAGE}


def package_modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (a package counts as its __init__)."""
    modules = package_modules(root)
    return {
        name: {m for m in imported_modules(path, root) if m in modules and m != name}
        for name, path in modules.items()
    }


def upward_imports(graph: dict[str, set[str]], order: list[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(order)}
    return [
        f"{module} ({layer_of(module)}) imports {target} ({layer_of(target)})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(module) in rank
        and layer_of(target) in rank
        and rank[layer_of(target)] > rank[layer_of(module)]
    ]


def mutual_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{a} <-> {b}" for a, targets in graph.items() for b in targets if a < b and a in graph[b]
    )


def test_readme_names_every_part_of_the_package():
    order = layer_order((ROOT / "README.md").read_text())
    parts = {layer_of(m) for m in package_modules()} - {None}
    assert sorted(parts - set(order)) == [], "README's architecture map misses these parts"
    assert sorted(set(order) - parts) == [], "README's architecture map names parts that are gone"


def test_no_module_imports_a_layer_above_it():
    order = layer_order((ROOT / "README.md").read_text())
    assert upward_imports(import_graph(), order) == []


def test_no_two_modules_import_each_other():
    assert mutual_imports(import_graph()) == []


@pytest.mark.parametrize(
    "readme, expected",
    [
        (
            "## Architecture\n\n    mt3_unified/\n      errors.py   x\n      vocab/      y\n"
            "                  more about vocab\n      cli.py      z\n    gin/   configs\n",
            ["errors", "vocab", "cli"],
        ),
    ],
)
def test_layer_order_reads_the_map(readme, expected):
    assert layer_order(readme) == expected


def test_checks_catch_an_upward_import_and_a_loop(tmp_path):
    package = tmp_path / PACKAGE
    for folder in (package, package / "low", package / "high"):
        folder.mkdir(exist_ok=True)
        (folder / "__init__.py").write_text("")
    # The upward import hides inside a function, where it still closes a loop.
    (package / "low" / "a.py").write_text("def f():\n    from mt3_unified.high import b\n")
    (package / "high" / "b.py").write_text("from ..low import a\n")
    graph = import_graph(tmp_path)
    assert graph["mt3_unified.low.a"] == {"mt3_unified.high", "mt3_unified.high.b"}
    assert graph["mt3_unified.high.b"] == {"mt3_unified.low", "mt3_unified.low.a"}
    assert upward_imports(graph, ["low", "high"]) == [
        "mt3_unified.low.a (low) imports mt3_unified.high (high)",
        "mt3_unified.low.a (low) imports mt3_unified.high.b (high)",
    ]
    assert mutual_imports(graph) == ["mt3_unified.high.b <-> mt3_unified.low.a"]
