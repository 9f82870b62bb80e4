"""Gin flags and parsing shared by every entry point."""

import gin

from mt3_unified.runtime.gin_config import (
    GinArgumentParser,
    add_gin_arguments,
    as_gin_options,
    parse_gin,
)


def test_t5x_bindings_become_gin_options():
    assert as_gin_options(["--workdir=w", "--gin.A.b=1"]) == ["--workdir=w", "--gin", "A.b=1"]


def test_parser_reads_files_search_paths_and_both_binding_spellings():
    parser = GinArgumentParser()
    add_gin_arguments(parser, "a test")
    args = parser.parse_args(
        ["--gin-file=a.gin", "--gin_file", "b.gin", "--gin_search_paths", "/x",
         "--gin.f.a=1", "--gin", "f.b=2"]
    )  # fmt: skip
    assert args.gin_file == ["a.gin", "b.gin"]
    assert args.gin_search_paths == ["/x"]
    assert args.gin_bindings == ["f.a=1", "f.b=2"]


def test_parse_gin_finds_includes_under_a_search_path(tmp_path, monkeypatch):
    @gin.configurable
    def _probe(value=0):
        return value

    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "base.gin").write_text("_probe.value = 3\n")
    (tmp_path / "conf" / "top.gin").write_text("include 'conf/base.gin'\n")
    monkeypatch.chdir("/")
    try:
        parse_gin(["conf/top.gin"], ["_probe.value = 4"], [str(tmp_path)])
        assert _probe() == 4
        parse_gin(["conf/top.gin"], search_paths=[str(tmp_path)])
        assert _probe() == 3
    finally:
        gin.clear_config()
