"""The model dir's file layer on local folders and on a remote filesystem (TensorFlow's
in-memory ram://, which stands in for gs:// without a network)."""

import uuid

import pytest

from mt3_unified.runtime import files
from mt3_unified.runtime.checkpoints import checkpoint_dir


@pytest.fixture(params=["local", "ram"])
def folder(request, tmp_path):
    if request.param == "local":
        return str(tmp_path / "run")
    return f"ram://{uuid.uuid4().hex}/run"  # a fresh name: ram:// lives as long as the process


def test_paths_local_and_remote():
    assert files.is_remote("gs://bucket/run") and files.is_remote("ram://x")
    assert not files.is_remote("/runs/x") and not files.is_remote("runs/x")
    assert files.absolute("gs://bucket/run") == "gs://bucket/run"
    assert files.absolute("runs/x").startswith("/")
    assert files.join("gs://bucket/run", "checkpoints") == "gs://bucket/run/checkpoints"
    assert files.parent("gs://bucket/run/checkpoints/") == "gs://bucket/run"
    assert checkpoint_dir("gs://bucket/run") == "gs://bucket/run/checkpoints"  # not made local


def test_files_are_written_appended_read_listed_and_moved(folder):
    files.makedirs(folder)
    files.makedirs(folder)  # an existing folder is fine
    files.check_writable(folder)
    assert files.listdir(folder) == []  # the check leaves nothing behind
    text = files.join(folder, "config.gin")
    files.write_text(text, "a = 1\n")
    files.append_text(text, "b = 2\n")
    assert files.read_text(text) == "a = 1\nb = 2\n"
    files.write_text(text, "c = 3\n")  # replaced whole (ram:// keeps a longer file's tail
    assert files.read_text(text) == "c = 3\n"  # when written over in place)
    files.write_bytes(files.join(folder, "x.png"), b"\x89PNG")
    files.makedirs(files.join(folder, "checkpoints", "4"))
    files.write_text(files.join(folder, "checkpoints", "4", "data"), "4")
    assert sorted(files.listdir(folder)) == ["checkpoints", "config.gin", "x.png"]
    assert files.isfile(text) and not files.isdir(text)
    assert files.isdir(files.join(folder, "checkpoints")) and not files.exists(folder + "/nope")

    target = files.join(folder, "corrupt_checkpoints", "4")
    files.makedirs(files.parent(target))
    files.move(files.join(folder, "checkpoints", "4"), target)
    assert files.listdir(files.join(folder, "checkpoints")) == []
    assert files.read_text(files.join(target, "data")) == "4"


def test_errors_are_oserrors(folder, tmp_path):
    with pytest.raises(FileNotFoundError, match="config.gin"):
        files.read_text(files.join(folder, "config.gin"))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(OSError):  # a folder inside a file
        files.makedirs(str(blocker / "run"))
