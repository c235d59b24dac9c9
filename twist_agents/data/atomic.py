"""Atomic writes: the one way this project replaces a file or a folder on disk.

Every writer (episodes, checkpoints, metrics and returns CSVs, ``run.json``, SAC's model and replay buffer)
goes through these helpers, so a run killed mid-write leaves either the old content or the complete new
content, never a torn file, plus at most one stray temp entry (named ``.<name>.*.tmp`` for a file and
``.tmp-<name>-<pid>`` for a folder) beside it.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_text(d / "run.json", '{"seed": 0}')
    >>> atomic_write(d / "blob.bin", lambda f: f.write(b"abc"))
    >>> with atomic_directory(d / "ckpt") as tmp:
    ...     _ = (tmp / "a.txt").write_text("x")
    >>> sorted(p.name for p in d.iterdir())
    ['blob.bin', 'ckpt', 'run.json']
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(file)`` on a temp file beside ``path``, fsync it, then rename it over ``path``.

    A reader (or a run killed mid-write) sees either the old file or the complete new one, never a torn one.
    The temp file is removed if ``write`` raises. The parent folder is created if missing.

    Args:
        path: the file to (re)place.
        write: writes the content to the binary file object it is given; it must not close it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write` of its encoded bytes)."""
    data = text.encode(encoding)
    atomic_write(path, lambda f: f.write(data))


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temp folder beside ``path`` to fill; on success fsync it and rename it to ``path``.

    An existing ``path`` is replaced (removed right before the rename: ``os.replace`` cannot rename a folder
    over a non-empty one). If the block raises, the temp folder is removed and ``path`` is left as it was.
    The temp name carries the process id, so two processes writing the same folder never share one.

    Args:
        path: the folder to (re)place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".tmp-{path.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)  # left by an earlier process with the same pid
    tmp.mkdir()
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
