"""Uniform sampler of fixed-length sequences from an :class:`~twist_agents.data.store.EpisodeStore`.

A sequence starts at a uniformly random row of the stored data (episodes weighted by length). When
it runs past the end of its episode it continues with the start of the next stored episode, exactly
as DreamerV3's replay does; ``is_first`` marks the seam and the RSSM resets its state there. Episodes
are read from disk on demand and kept in a bounded LRU cache in RAM. An episode file that fails to load is
set aside by the store (:meth:`~twist_agents.data.store.EpisodeStore.set_aside`) and the batch is drawn
again from the remaining episodes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from twist_agents.data.store import EPISODE_LOAD_ERRORS, EpisodeStore, load_episode


class _SetAside(Exception):
    """An episode failed to load and was set aside; the current batch must be drawn again."""


class SequenceSampler:
    """Sample batches ``(B, L, ...)`` of length-``L`` sequences.

    Example:
        >>> import tempfile
        >>> store = EpisodeStore(tempfile.mkdtemp())
        >>> for _ in range(2):
        ...     _ = store.add({"state": np.arange(10, dtype=np.float32)[:, None],
        ...                    "action": np.zeros((10, 1), np.float32), "reward": np.zeros(10, np.float32),
        ...                    "is_first": np.arange(10) == 0, "is_last": np.arange(10) == 9,
        ...                    "is_terminal": np.zeros(10, bool)})
        >>> sampler = SequenceSampler(store, seq_len=4, seed=0)
        >>> batch = sampler.sample(3)
        >>> batch["state"].shape, batch["is_first"].shape
        ((3, 4, 1), (3, 4))

    Args:
        store: the episode store (rescanned before every batch, so new episodes are seen).
        seq_len: ``L`` (the paper's distillation uses 50).
        keys: keys to return (``None``: every key of the episodes).
        cache_size: most episodes kept in RAM (least recently used are dropped).
        seed: seed of the sampler's own generator (or pass ``rng``).
        rng: a numpy ``Generator`` to draw from (its state is what a checkpoint should save).
        recent_fraction: share of sequences drawn from the newest ``recent_episodes`` episodes (0: uniform).
        recent_episodes: how many of the newest episodes count as recent.

    :meth:`focus` names another subset of episodes that a share of the sequences is drawn from.
    """

    def __init__(
        self,
        store: EpisodeStore,
        seq_len: int = 50,
        keys: Sequence[str] | None = None,
        cache_size: int = 200,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        recent_fraction: float = 0.0,
        recent_episodes: int = 10,
    ) -> None:
        if seq_len < 1:
            raise ValueError(f"SequenceSampler: seq_len must be >= 1, got {seq_len}")
        self.store = store
        self.seq_len = seq_len
        self.keys = tuple(keys) if keys is not None else None
        self.cache_size = max(1, cache_size)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self.recent_fraction = recent_fraction
        self.recent_episodes = recent_episodes
        self._cache: OrderedDict[Path, dict[str, np.ndarray]] = OrderedDict()
        self._focus: frozenset[Path] = frozenset()
        self._focus_fraction = 0.0

    def focus(self, paths: Sequence[Path], fraction: float) -> None:
        """Draw a share ``fraction`` of the sequences from the episodes ``paths``, the rest as before.

        A sequence drawn so starts in one of them (weighted by length). ``paths`` no longer in the store are skipped;
        when none is left, every sequence is drawn as before.

        Raises:
            ValueError: ``fraction`` outside [0, 1].
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"SequenceSampler.focus: fraction must be in [0, 1], got {fraction}")
        self._focus = frozenset(Path(p) for p in paths)
        self._focus_fraction = float(fraction)

    def _episode(self, path: Path) -> dict[str, np.ndarray]:
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        try:
            ep = load_episode(path, self.keys)
        except EPISODE_LOAD_ERRORS as e:
            self.store.set_aside(path, e)
            raise _SetAside(str(path)) from e
        self._cache[path] = ep
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return ep

    def _one(self, paths: list[Path], lengths: np.ndarray, recent: bool, focus: np.ndarray) -> dict[str, np.ndarray]:
        if len(focus) and self._focus_fraction and self.rng.random() < self._focus_fraction:
            w = lengths[focus] / lengths[focus].sum()
            i = int(focus[self.rng.choice(len(w), p=w)])
        elif recent:
            first = max(0, len(paths) - self.recent_episodes)
            w = lengths[first:] / lengths[first:].sum()
            i = first + int(self.rng.choice(len(w), p=w))
        else:
            i = int(self.rng.choice(len(paths), p=lengths / lengths.sum()))
        start = int(self.rng.integers(lengths[i]))
        parts: list[dict[str, np.ndarray]] = []
        need = self.seq_len
        while need > 0:
            ep = self._episode(paths[i])
            chunk = {k: v[start : start + need] for k, v in ep.items()}
            n = len(next(iter(chunk.values())))
            parts.append(chunk)
            need -= n
            i, start = (i + 1) % len(paths), 0
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def clear_cache(self) -> None:
        """Free the episodes held in RAM (the next samples load them again)."""
        self._cache.clear()

    def share_cache(self, other: SequenceSampler) -> None:
        """Read episodes through ``other``'s cache (one copy in RAM for two samplers of the same store).

        The cache keeps ``other``'s bound, so the larger ``cache_size`` of the two is the one that evicts.

        Raises:
            ValueError: ``other`` samples another store or other keys (its cached episodes would not fit).
        """
        if other.store is not self.store or other.keys != self.keys:
            raise ValueError("SequenceSampler.share_cache: the samplers must read the same store with the same keys")
        self._cache = other._cache
        self.cache_size = other.cache_size = max(self.cache_size, other.cache_size)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """Return ``{key: (batch_size, L, ...)}``.

        The first row of a sequence has ``is_first`` set only if it is an episode start (the RSSM
        starts from its initial state either way).

        Raises:
            RuntimeError: if the store is empty.
        """
        while True:  # ends: every retry follows a file leaving the store, and an empty store raises
            self.store.refresh()
            paths = self.store.paths
            if not paths:
                raise RuntimeError("SequenceSampler.sample: the episode store is empty")
            lengths = np.array([self.store.length(p) for p in paths], np.float64)
            focus = np.flatnonzero([p in self._focus for p in paths]) if self._focus else np.zeros(0, np.int64)
            try:
                seqs = [
                    self._one(paths, lengths, bool(self.rng.random() < self.recent_fraction), focus)
                    for _ in range(batch_size)
                ]
            except _SetAside:
                continue
            return {k: np.stack([s[k] for s in seqs]) for k in seqs[0]}
