"""On-disk episode store: one compressed ``.npz`` per finished episode, written atomically.

An episode is a dict of arrays with the same leading length ``T + 1`` (``T`` env steps plus the
reset observation). Row ``t`` holds the observation ``o_t`` and the transition that *led into* it::

    row t:        0          1            2          ...   T
    obs keys:     o_0        o_1          o_2              o_T       ("state", "pixels", ...)
    action:       0          a_0          a_1              a_{T-1}   (in [-1, 1]; zeros at reset)
    reward:       0          r_0          r_1              r_{T-1}
    is_first:     True       False        False            False
    is_last:      False      False        False            True      (episode ended: terminal or truncated)
    is_terminal:  False      False        False            True only if the MDP terminated

``a_t`` is chosen after observing ``o_t`` (the same convention as :mod:`twist_agents.dreamer.rssm`).
Files are named ``{index:06d}-{length}.npz`` so the order and size of every episode are known
without opening it. A write goes to a temp file in the same folder that is fsynced and then
``os.replace``-d (:func:`~twist_agents.data.atomic.atomic_write`), so a killed process leaves either the
whole episode or nothing (plus at most one stray ``*.tmp`` file, which the store ignores and cleans up).

A file damaged after it was written (a disk error, a truncated copy) is *set aside*, never deleted: the
store moves it into ``corrupt/`` beside the episodes, logs a warning that names it, and goes on with the
rest. Opening the store checks each file's zip directory (cheap: no decompression), which catches
truncation; damage inside a file surfaces when the sampler reads it, and is set aside the same way.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from twist_agents.data.atomic import atomic_write
from twist_agents.errors import describe

EPISODE_KEYS = ("state", "pixels", "action", "reward", "is_first", "is_last", "is_terminal")
"""The keys every agent can rely on (observation keys an env does not have are absent)."""

_NAME = re.compile(r"^(\d{6,})-(\d+)\.npz$")
CORRUPT_DIR = "corrupt"
"""Sub-folder of the episode folder that receives files that fail to load."""
EPISODE_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
)
"""What reading a damaged ``.npz`` raises (numpy reads through :mod:`zipfile` and :mod:`zlib`)."""

log = logging.getLogger(__name__)


def _damage(path: Path) -> str | None:
    """Why ``path`` is not a readable ``.npz`` (its zip directory is read, nothing decompressed), or ``None``."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        return describe(e)
    return None if any(n.endswith(".npy") for n in names) else "no arrays in the file"


def save_episode(path: str | Path, episode: Mapping[str, np.ndarray]) -> None:
    """Write ``episode`` as a compressed ``.npz`` at ``path`` atomically (:func:`atomic_write`)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **{k: np.asarray(v) for k, v in episode.items()})
    atomic_write(path, lambda f: f.write(buf.getvalue()))


def load_episode(path: str | Path, keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read an episode file into a dict of arrays (only ``keys`` if given; absent keys are skipped)."""
    with np.load(path) as data:
        names = data.files if keys is None else [k for k in keys if k in data.files]
        return {k: data[k] for k in names}


def move_aside(path: str | Path, folder: str | Path) -> Path | None:
    """Move a damaged run file or folder into ``folder`` (created; renamed ``name.1`` ... if taken), never delete it.

    Returns:
        Its new path, or ``None`` if it could not be moved (a read-only disk, the file is already gone).
    """
    path, folder = Path(path), Path(folder)
    dest = folder / path.name
    k = 1
    while dest.exists():  # an earlier file of the same name was set aside before
        dest, k = folder / f"{path.stem}.{k}{path.suffix}", k + 1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    except OSError:
        return None
    return dest


class EpisodeStore:
    """A folder of episodes. Safe to reopen after a crash: it rescans the folder.

    Example:
        >>> import tempfile
        >>> store = EpisodeStore(tempfile.mkdtemp())
        >>> ep = {"state": np.zeros((4, 3), np.float32), "action": np.zeros((4, 1), np.float32),
        ...       "reward": np.zeros(4, np.float32), "is_first": np.eye(1, 4, dtype=bool)[0],
        ...       "is_last": np.eye(1, 4, 3, dtype=bool)[0], "is_terminal": np.zeros(4, bool)}
        >>> path = store.add(ep)
        >>> len(store), store.num_steps, path.name
        (1, 3, '000000-4.npz')

    Args:
        directory: folder of the ``.npz`` files (created if missing).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stray in self.directory.glob(".*.tmp"):
            stray.unlink(missing_ok=True)  # left by a killed writer; never a complete episode
        self._lengths: dict[Path, int] = {}
        self._skipped: set[Path] = set()  # damaged files that could not be moved aside: warn once
        self.refresh()

    def refresh(self) -> None:
        """Rescan the folder (picks up episodes written by another process); set aside unreadable files."""
        for p in sorted(self.directory.iterdir()):
            m = _NAME.match(p.name)
            if m and p not in self._lengths and p not in self._skipped:
                reason = _damage(p)
                if reason is None:
                    self._lengths[p] = int(m.group(2))
                else:
                    self.set_aside(p, reason)

    def set_aside(self, path: str | Path, reason: object) -> Path | None:
        """Move a damaged episode file into ``corrupt/`` (never delete it), forget it, and log a warning.

        Args:
            path: the episode file.
            reason: why it failed to load (an exception or a message), for the warning.

        Returns:
            Where the file went, or ``None`` if it could not be moved (then it is only forgotten).
        """
        path = Path(path)
        self._lengths.pop(path, None)
        if isinstance(reason, BaseException):
            reason = describe(reason)
        dest = move_aside(path, self.directory / CORRUPT_DIR)
        if dest is None:
            log.warning("episode file %s does not load (%s) and cannot be moved; skipping it", path, reason)
            self._skipped.add(path)
            return None
        log.warning(
            "episode file %s does not load (%s); moved it to %s and going on with the other %d episodes",
            path,
            reason,
            dest,
            len(self._lengths),
        )
        return dest

    @property
    def paths(self) -> list[Path]:
        """Episode files in write order."""
        return sorted(self._lengths)

    def length(self, path: Path) -> int:
        """Number of rows (``T + 1``) of the episode at ``path``."""
        return self._lengths[path]

    def __len__(self) -> int:
        return len(self._lengths)

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        """Load every episode in order."""
        for p in self.paths:
            yield load_episode(p)

    @property
    def num_steps(self) -> int:
        """Env steps in all stored episodes (rows minus the reset row of each)."""
        return sum(n - 1 for n in self._lengths.values())

    def add(self, episode: Mapping[str, np.ndarray]) -> Path:
        """Validate and write one episode; return its path.

        Raises:
            ValueError: if a required key is missing or the arrays differ in length.
        """
        required = ("action", "reward", "is_first", "is_last", "is_terminal")
        missing = [k for k in required if k not in episode]
        if missing:
            raise ValueError(f"EpisodeStore.add: episode lacks keys {missing}")
        lengths = {k: len(v) for k, v in episode.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"EpisodeStore.add: arrays differ in length: {lengths}")
        n = next(iter(lengths.values()))
        index = (int(_NAME.match(self.paths[-1].name).group(1)) + 1) if self._lengths else 0  # type: ignore[union-attr]
        path = self.directory / f"{index:06d}-{n}.npz"
        save_episode(path, episode)
        self._lengths[path] = n
        return path

    def load(self, path: str | Path) -> dict[str, np.ndarray]:
        """Load one episode."""
        return load_episode(path)
