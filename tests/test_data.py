"""Episode store (atomic .npz per episode) and sequence sampler."""

from __future__ import annotations

import numpy as np
import pytest

from twist_agents.data import EpisodeStore, SequenceSampler, load_episode


def make_episode(n_steps: int, offset: float = 0.0, pixels: bool = True) -> dict[str, np.ndarray]:
    rows = n_steps + 1
    ep = {
        "state": (np.arange(rows, dtype=np.float32)[:, None] + offset).repeat(3, 1),
        "action": np.zeros((rows, 2), np.float32),
        "reward": np.arange(rows, dtype=np.float32),
        "is_first": np.arange(rows) == 0,
        "is_last": np.arange(rows) == rows - 1,
        "is_terminal": np.zeros(rows, bool),
    }
    if pixels:
        ep["pixels"] = np.full((rows, 64, 64, 3), 7, np.uint8)
    return ep


def test_store_roundtrip_names_and_reopen(tmp_path):
    store = EpisodeStore(tmp_path)
    p0 = store.add(make_episode(10))
    p1 = store.add(make_episode(5, offset=100))
    assert [p.name for p in store.paths] == ["000000-11.npz", "000001-6.npz"]
    assert store.num_steps == 15 and len(store) == 2
    back = load_episode(p1)
    np.testing.assert_array_equal(back["state"], make_episode(5, offset=100)["state"])
    assert back["pixels"].dtype == np.uint8 and back["pixels"].shape == (6, 64, 64, 3)
    assert set(back) == {"state", "pixels", "action", "reward", "is_first", "is_last", "is_terminal"}
    # A killed writer leaves at most a hidden temp file; a reopened store ignores and removes it.
    (tmp_path / ".000002-4.abc.tmp").write_bytes(b"partial")
    reopened = EpisodeStore(tmp_path)
    assert reopened.paths == [p0, p1]
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert reopened.add(make_episode(3)).name == "000002-4.npz"
    assert load_episode(p0, keys=("reward", "nope")).keys() == {"reward"}


def test_store_rejects_bad_episodes(tmp_path):
    store = EpisodeStore(tmp_path)
    ep = make_episode(4)
    del ep["is_terminal"]
    with pytest.raises(ValueError, match="is_terminal"):
        store.add(ep)
    ep = make_episode(4)
    ep["reward"] = ep["reward"][:-1]
    with pytest.raises(ValueError, match="differ in length"):
        store.add(ep)
    assert len(store) == 0 and not list(tmp_path.iterdir())


def test_sampler_shapes_keys_and_episode_seams(tmp_path):
    store = EpisodeStore(tmp_path)
    store.add(make_episode(3, offset=0))  # 4 rows: shorter than the sequence length
    store.add(make_episode(3, offset=100))
    sampler = SequenceSampler(store, seq_len=6, keys=("state", "is_first", "reward"), seed=0)
    batch = sampler.sample(32)
    assert set(batch) == {"state", "is_first", "reward"}
    assert batch["state"].shape == (32, 6, 3) and batch["is_first"].shape == (32, 6)
    for seq in range(32):
        state, first = batch["state"][seq, :, 0], batch["is_first"][seq]
        for t in range(1, 6):
            # Inside an episode the state counts up by one; a jump only happens where is_first is set.
            assert (state[t] == state[t - 1] + 1) != first[t]
    assert batch["is_first"][:, 1:].any()  # sequences did cross into the next episode


def test_sampler_cache_is_bounded_and_sees_new_episodes(tmp_path):
    store = EpisodeStore(tmp_path)
    for i in range(6):
        store.add(make_episode(20, offset=1000 * i, pixels=False))
    sampler = SequenceSampler(store, seq_len=5, cache_size=2, seed=1)
    for _ in range(10):
        sampler.sample(4)
        assert len(sampler._cache) <= 2
    # Episodes written later (e.g. by the training loop) are picked up.
    EpisodeStore(tmp_path).add(make_episode(20, offset=9000, pixels=False))
    seen = np.concatenate([sampler.sample(16)["state"][:, :, 0].ravel() for _ in range(20)])
    assert (seen >= 9000).any()
    with pytest.raises(RuntimeError, match="empty"):
        SequenceSampler(EpisodeStore(tmp_path / "empty"), seq_len=5).sample(1)


def test_sampler_is_reproducible_from_seed(tmp_path):
    store = EpisodeStore(tmp_path)
    for i in range(3):
        store.add(make_episode(30, offset=100 * i, pixels=False))
    a = SequenceSampler(store, seq_len=8, seed=3).sample(5)["state"]
    b = SequenceSampler(store, seq_len=8, seed=3).sample(5)["state"]
    np.testing.assert_array_equal(a, b)


def test_samplers_sharing_a_cache_load_each_episode_once(tmp_path, monkeypatch):
    import twist_agents.data.sampler as sampler_mod

    store = EpisodeStore(tmp_path)
    for i in range(4):
        store.add(make_episode(20, offset=100 * i, pixels=False))
    loads: list[str] = []
    real_load = sampler_mod.load_episode

    def counting_load(path, keys=None):
        loads.append(path.name)
        return real_load(path, keys)

    monkeypatch.setattr(sampler_mod, "load_episode", counting_load)
    frames = SequenceSampler(store, seq_len=1, cache_size=10, seed=0)
    seqs = SequenceSampler(store, seq_len=5, cache_size=2, seed=1)
    seqs.share_cache(frames)
    for _ in range(20):
        frames.sample(8)
    assert sorted(set(loads)) == sorted(p.name for p in store.paths) and len(loads) == 4
    for _ in range(20):
        seqs.sample(8)
    assert len(loads) == 4  # the sequences read what the frames loaded; the larger bound (10) kept all 4
    assert seqs.cache_size == frames.cache_size == 10
    with pytest.raises(ValueError, match="same store with the same keys"):
        SequenceSampler(store, seq_len=5, keys=("state",)).share_cache(frames)
    with pytest.raises(ValueError, match="same store"):
        SequenceSampler(EpisodeStore(tmp_path / "other"), seq_len=5).share_cache(frames)


def test_sampler_focus_draws_its_share_from_the_named_episodes(tmp_path):
    """``focus(paths, fraction)``: that share of the sequences starts in ``paths``; 0 (or no such path left in the
    store) leaves the draws exactly as without it; a share outside [0, 1] is refused."""
    store = EpisodeStore(tmp_path)
    for i in range(8):
        store.add(make_episode(20, offset=1000 * i, pixels=False))
    picked = store.paths[5:7]  # states 5000.. and 6000..

    def share_in_focus(sampler: SequenceSampler) -> float:
        start = np.concatenate([sampler.sample(50)["state"][:, 0, 0] for _ in range(20)])  # (1000,)
        return float(np.isin(start // 1000, [5, 6]).mean())

    full = SequenceSampler(store, seq_len=4, seed=0)
    full.focus(picked, 1.0)
    assert share_in_focus(full) == 1.0
    half = SequenceSampler(store, seq_len=4, seed=0)
    half.focus(picked, 0.5)
    assert 0.5 < share_in_focus(half) < 0.7  # half from the focus, a quarter of the rest lands there too
    plain = SequenceSampler(store, seq_len=4, seed=0)
    assert 0.15 < share_in_focus(plain) < 0.35
    for fraction, paths in ((0.0, picked), (1.0, [tmp_path / "gone.npz"])):
        same = SequenceSampler(store, seq_len=4, seed=2)
        same.focus(paths, fraction)
        np.testing.assert_array_equal(
            same.sample(16)["state"], SequenceSampler(store, seq_len=4, seed=2).sample(16)["state"]
        )
    with pytest.raises(ValueError, match="fraction"):
        full.focus(picked, 1.5)
