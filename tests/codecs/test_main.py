"""Codec training's flags: one definition for `mt3u train-codec` and the module entry."""

from mt3_unified import cli


def test_train_codec_takes_gin_files_and_t5x_style_bindings():
    args = cli.build_parser().parse_args(
        ["train-codec", "--gin-file=a.gin", "--gin_file", "b.gin", "--workdir", "runs/x",
         "--gin.train_codec.steps=2", "--gin", "corpus_data.data_dir='data'"]
    )  # fmt: skip
    assert args.gin_file == ["a.gin", "b.gin"] and args.workdir == "runs/x"
    assert args.gin_bindings == ["train_codec.steps=2", "corpus_data.data_dir='data'"]
    assert cli.COMMANDS["train-codec"].runs_xla
