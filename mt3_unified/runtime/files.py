"""A model dir's own files, local or remote (gs://, and ram:// in tests): one layer over
`tf.io.gfile`.

Orbax and clu's metric writers reach remote paths by themselves; everything else the trainer
and inference read or write in a model dir (config.gin, the loss history and curves, the
checkpoint listing) goes through these functions, so a ``gs://bucket/run`` model dir works
like a local folder. TensorFlow's errors come out as OSError (FileNotFoundError,
PermissionError), the errors the callers handle for local files. (tf.io.gfile rather than
etils.epath, which Orbax uses: epath does not know the in-memory ram://, so tests without a
network could not reach its remote code.)
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_remote(path) -> bool:
    """Whether `path` names a filesystem by a scheme (gs://, s3://, ram://)."""
    return bool(_SCHEME.match(os.fspath(path)))


def absolute(path) -> str:
    """A local path made absolute (Orbax requires it); a remote one as it is."""
    path = os.fspath(path)
    return path if is_remote(path) else os.path.abspath(path)


def join(*parts) -> str:
    """Path parts joined with "/" (a URL's too)."""
    return os.path.join(*(os.fspath(p) for p in parts))


def parent(path) -> str:
    """The folder that holds `path` (a trailing "/" ignored)."""
    return os.path.dirname(os.fspath(path).rstrip("/"))


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


@contextlib.contextmanager
def _as_os_errors(path):
    """TensorFlow's file errors raised as the OSError a local open() would raise."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.NotFoundError as err:
        raise FileNotFoundError(f"{path}: {err.message}") from err
    except tf.errors.PermissionDeniedError as err:
        raise PermissionError(f"{path}: {err.message}") from err
    except tf.errors.OpError as err:
        raise OSError(f"{path}: {err.message}") from err


def exists(path) -> bool:
    with _as_os_errors(path):
        return _gfile().exists(os.fspath(path))


def isdir(path) -> bool:
    with _as_os_errors(path):
        return _gfile().isdir(os.fspath(path))


def isfile(path) -> bool:
    return exists(path) and not isdir(path)


def listdir(path) -> list[str]:
    """The names in a folder (without a remote listing's trailing "/" of subfolders)."""
    with _as_os_errors(path):
        return [name.rstrip("/") for name in _gfile().listdir(os.fspath(path))]


def makedirs(path) -> None:
    """Creates a folder and its parents; one that exists is fine."""
    with _as_os_errors(path):
        _gfile().makedirs(os.fspath(path))


def read_text(path) -> str:
    with _as_os_errors(path), _gfile().GFile(os.fspath(path), "r") as f:
        return f.read()


def write_text(path, text: str) -> None:
    """Replaces the file's contents with `text` (see `write_bytes`)."""
    write_bytes(path, text.encode())


def append_text(path, text: str) -> None:
    """Adds `text` at the file's end (creating it). On GCS an append rewrites the object."""
    with _as_os_errors(path), _gfile().GFile(os.fspath(path), "a") as f:
        f.write(text)


def write_bytes(path, data: bytes) -> None:
    """Replaces the file's contents with `data`: written beside it, then renamed over it, so
    a reader (or a crash) never meets half a file."""
    path = os.fspath(path)
    partial = f"{path}.partial-{uuid.uuid4().hex}"
    with _as_os_errors(path):
        try:
            with _gfile().GFile(partial, "wb") as f:
                f.write(data)
            _gfile().rename(partial, path, overwrite=True)
        finally:
            if _gfile().exists(partial):
                _gfile().remove(partial)


def remove(path) -> None:
    with _as_os_errors(path):
        _gfile().remove(os.fspath(path))


def move(source, target) -> None:
    """Moves a file or folder to `target` (which must not exist); local paths as shutil.move
    does (across devices too)."""
    source, target = os.fspath(source), os.fspath(target)
    if not is_remote(source) and not is_remote(target):
        shutil.move(source, target)
        return
    gfile = _gfile()
    with _as_os_errors(source):
        if not gfile.isdir(source):
            gfile.rename(source, target, overwrite=False)
            return
        # File by file: object stores (and ram://) have no folders to rename.
        for folder, _, names in gfile.walk(source):
            below = os.path.relpath(folder, source)
            inside = target if below == "." else join(target, below)
            gfile.makedirs(inside)
            for name in names:
                gfile.rename(join(folder, name), join(inside, name), overwrite=False)
        gfile.rmtree(source)


def check_writable(folder) -> None:
    """Raises OSError unless a file can be written (and removed) in `folder`."""
    probe = join(folder, f".write_check_{uuid.uuid4().hex}")
    write_text(probe, "")
    remove(probe)
