"""Fixtures of the trainer tests."""

import pytest

from tests.train.helpers import write_records


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    """A TFRecord file of tiny examples of every task (helpers.write_records)."""
    path = str(tmp_path_factory.mktemp("data") / "train.tfrecord")
    write_records(path)
    return path
