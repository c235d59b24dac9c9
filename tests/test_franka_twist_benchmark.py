"""``benchmarks/franka_twist.py --seed-list``: seeds added in a later call keep the earlier rows of the same grid."""

from __future__ import annotations

import argparse
import importlib.util
from dataclasses import asdict
from pathlib import Path

import pytest

from twist_agents.runner.recipes import recipe_for
from twist_envs.franka.tasks import REWARD_VERSION

ROOT = Path(__file__).resolve().parents[1]


def load_probe(monkeypatch: pytest.MonkeyPatch):
    """``benchmarks/franka_distill_probe.py`` as a module (its ``franka_twist`` imports resolve)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("distill_probe", ROOT / "benchmarks" / "franka_distill_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    return probe


def debug_teacher(env_id: str):
    """An untrained ``debug`` Dreamer teacher for ``env_id``'s paired observations, and those shapes."""
    from twist_agents.dreamer.agent import DreamerAgent
    from twist_agents.dreamer.config import dreamer_config
    from twist_agents.training.envs import make_env

    env = make_env(env_id, 0, obs_mode="paired", randomization="none", max_episode_steps=3)
    shapes = {k: env.observation_space[k].shape for k in ("state", "pixels")}
    teacher = DreamerAgent(dreamer_config("debug"), shapes, env.action_space, seed=0)
    env.close()
    return teacher, shapes


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("franka_twist_bench", ROOT / "benchmarks" / "franka_twist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _earlier(runs_dir: str) -> dict:
    return {
        "runs_dir": runs_dir,
        "reward_version": REWARD_VERSION,
        "task_recipe": {"push": asdict(recipe_for("TWIST/BlockPush-Sim-v0"))},
        "commit": "abc123",
        "rows": [
            {"task": "push", "seed": 0, "teacher_state": 0.95},
            {"task": "push", "seed": 2, "teacher_state": 0.5},  # this call re-evaluates seed 2: replaced
        ],
        "curves": {"twist TWIST/BlockPush-Sim-v0 0": [[1.0, 2.0]], "twist TWIST/BlockPush-Sim-v0 2": [[9.0, 9.0]]},
    }


def test_seed_list_keeps_the_other_seeds_rows_of_the_same_grid(bench, capsys):
    args = argparse.Namespace(runs_dir=Path("runs/grid"), tasks=["push"])
    new = {
        "rows": [{"task": "push", "seed": 2, "teacher_state": 0.1}, {"task": "push", "seed": 3, "teacher_state": 0.0}],
        "curves": {"twist TWIST/BlockPush-Sim-v0 2": [[3.0, 4.0]]},
    }
    merged = bench.keep_earlier_rows(_earlier("runs/grid"), new, args)
    assert [(r["seed"], r["teacher_state"]) for r in merged["rows"]] == [(0, 0.95), (2, 0.1), (3, 0.0)]
    assert merged["rows"][0]["from_commit"] == "abc123" and "from_commit" not in merged["rows"][1]
    assert merged["curves"]["twist TWIST/BlockPush-Sim-v0 2"] == [[3.0, 4.0]]  # this call's curve wins
    assert "twist TWIST/BlockPush-Sim-v0 0" in merged["curves"]
    # Another grid's rows (other runs dir, so possibly another reward or recipe) are never mixed in.
    alone = bench.keep_earlier_rows(_earlier("runs/other"), new, args)
    assert alone is new
    assert "not kept" in capsys.readouterr().out


def test_cpu_model_names_the_cpu_count(bench):
    assert bench.cpu_model().endswith(" cpus")


def test_readout_slices_and_the_probes_fit_on_d_read_the_cube_and_the_tip(bench, tmp_path, monkeypatch):
    """``readout_parts`` are the cube's and the tip's x, y in a real env's state; ``aux_fit_on_d`` reads D's own
    frames with the state_aux head, only the dimensions it regresses (a zero head answers D's mean: error =
    spread)."""
    import numpy as np
    import torch

    from twist_agents.dreamer.agent import DreamerAgent
    from twist_agents.dreamer.config import dreamer_config
    from twist_agents.training.envs import make_env
    from twist_agents.twist.agent import TwistAgent
    from twist_agents.twist.config import distill_config

    env = make_env("TWIST/BlockPush-Sim-v0", 0, obs_mode="paired", randomization="none", max_episode_steps=3)
    obs, _ = env.reset(seed=3)
    parts = bench.readout_parts()
    np.testing.assert_allclose(obs["state"][parts["cube"]], env.unwrapped.physics.block_pos()[:2], atol=1e-6)
    np.testing.assert_allclose(obs["state"][parts["tip"]], env.unwrapped.physics.ee_pos()[:2], atol=1e-6)
    shapes = {k: env.observation_space[k].shape for k in ("state", "pixels")}
    teacher = DreamerAgent(dreamer_config("debug"), shapes, env.action_space, seed=0)
    env.close()

    probe = load_probe(monkeypatch)
    tip, cube = parts["tip"].start, parts["cube"].start
    assert probe.POSITIONS == (tip, tip + 1, tip + 2, cube, cube + 1, cube + 2)  # ee_pos comes before block_pos
    cfg = distill_config("debug", state_aux=1.0, state_aux_dims=probe.POSITIONS)
    agent = TwistAgent(teacher, {"pixels": shapes["pixels"]}, cfg, seed=0)
    rng = np.random.default_rng(0)
    states = []
    for i in range(3):
        state = rng.normal(size=(5, shapes["state"][0])).astype(np.float32)
        pixels = rng.integers(0, 256, (5, *shapes["pixels"]), dtype=np.uint8)
        np.savez(tmp_path / f"{i:06d}-5.npz", state=state, pixels=pixels)
        states.append(state)
    true = np.concatenate(states)
    agent.student.state_aux_norm.update(torch.as_tensor(true[:, list(probe.POSITIONS)]))
    with torch.no_grad():
        agent.student.state_head.weight.zero_()
        agent.student.state_head.bias.zero_()
    fit = probe.aux_fit_on_d(agent, tmp_path, episodes=10)
    assert fit["episodes"] == 3 and fit["frames"] == 15
    for part in ("cube", "tip"):
        assert fit[f"{part}_xy_error_cm"] == pytest.approx(fit[f"{part}_xy_spread_cm"], abs=0.02)
        xy = true[:, parts[part]]
        assert fit[f"{part}_xy_spread_cm"] == pytest.approx(
            100 * np.sqrt(((xy - xy.mean(0)) ** 2).sum(1).mean()), abs=0.01
        )
    paper = TwistAgent(teacher, {"pixels": shapes["pixels"]}, distill_config("debug"), seed=0)
    assert probe.aux_fit_on_d(paper, tmp_path) is None  # no state_aux head: nothing to read


def test_dagger_run_adds_episodes_the_student_drove_to_a_linked_copy_of_d(tmp_path, monkeypatch):
    """``franka_distill_probe.dagger_run``: the copy holds the base run's student and D (hard links) plus episodes
    its student drove (paired rows: state and pixels); the base run and its D are untouched; a finished round is
    not collected again; a base without a finished student is refused."""
    import json
    import os

    import numpy as np

    from twist_agents.data import EpisodeStore
    from twist_agents.twist.agent import TwistAgent
    from twist_agents.twist.config import distill_config

    probe = load_probe(monkeypatch)
    teacher, shapes = debug_teacher(probe.ENV)
    teacher_dir = tmp_path / "teacher_run" / "teacher"
    store = EpisodeStore(teacher_dir / "episodes")
    rng = np.random.default_rng(0)
    for _ in range(2):
        n = 6
        store.add(
            {
                "state": rng.normal(size=(n, *shapes["state"])).astype(np.float32),
                "pixels": rng.integers(0, 256, (n, *shapes["pixels"]), dtype=np.uint8),
                "action": np.zeros((n, *teacher.action_space.shape), np.float32),
                "reward": np.zeros(n, np.float32),
                "is_first": np.arange(n) == 0,
                "is_last": np.arange(n) == n - 1,
                "is_terminal": np.zeros(n, bool),
            }
        )
    (teacher_dir / "DONE").write_text("teacher finished\n")
    base, run = tmp_path / "base_s0", tmp_path / "base_dagger5_s0"
    with pytest.raises(SystemExit, match="no finished student"):
        probe.dagger_run(base, run, teacher_dir, 5, seed=0)
    (base / "student").mkdir(parents=True)
    (base / "student" / "ckpt.pt").write_bytes(b"student checkpoint")
    (base / "summary.json").write_text(json.dumps({"teacher_s": 1.0}))
    TwistAgent(teacher, {"pixels": shapes["pixels"]}, distill_config("debug"), seed=0).save(base / "twist_agent.pt")
    probe.dagger_run(base, run, teacher_dir, 5, seed=0)
    assert (run / "teacher" / "DONE").exists() and (run / "student" / "ckpt.pt").read_bytes() == b"student checkpoint"
    assert json.loads((run / "summary.json").read_text()) == {"teacher_s": 1.0}
    copy, original = EpisodeStore(run / "teacher" / "episodes"), EpisodeStore(teacher_dir / "episodes")
    assert len(original) == 2 and len(copy) >= 3 and copy.num_steps >= original.num_steps + 5
    for a, b in zip(original.paths, copy.paths[:2], strict=True):
        assert os.path.samefile(a, b)  # D is linked, not copied
    driven = copy.load(copy.paths[2])
    assert driven["pixels"].shape[1:] == shapes["pixels"] and driven["state"].shape[1:] == shapes["state"]
    assert not (base / "teacher").exists() and sorted(p.name for p in base.iterdir()) == [
        "student",
        "summary.json",
        "twist_agent.pt",
    ]
    before = copy.paths
    probe.dagger_run(base, run, teacher_dir, 500, seed=0)  # finished: nothing more is collected
    assert EpisodeStore(run / "teacher" / "episodes").paths == before


def test_misread_cube_moves_only_the_cubes_xy_by_the_asked_error(monkeypatch):
    """``franka_cube_noise.misread_cube``: ``offset`` displaces the observed cube xy by exactly e for a whole episode
    (a new direction each episode), ``jitter`` by fresh noise each step; every other float is the true state."""
    import numpy as np

    from twist_agents.training.envs import make_env
    from twist_envs.franka.sim import STATE_SLICES

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("cube_noise", ROOT / "benchmarks" / "franka_cube_noise.py")
    noise = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noise)
    xy = slice(STATE_SLICES["block_pos"].start, STATE_SLICES["block_pos"].start + 2)
    rest = np.ones(34, bool)
    rest[xy] = False

    def as_state(obs):  # the env's observation: {"state": (34,)}
        return obs["state"] if isinstance(obs, dict) else obs

    def deltas(mode: str, episodes: int = 2, steps: int = 3) -> list[list[np.ndarray]]:
        env = noise.misread_cube(
            make_env(noise.ENV, 0, obs_mode="state", randomization="none", max_episode_steps=steps), 4.0, mode, 0
        )
        out = []
        for ep in range(episodes):
            obs = as_state(env.reset(seed=ep)[0])
            true = env.unwrapped.physics.block_pos()[:2]
            rows = [obs[xy] - true]
            np.testing.assert_allclose(obs[rest], env.unwrapped.state()[rest], atol=1e-6)
            for _ in range(steps):
                obs = as_state(env.step(env.action_space.sample())[0])
                rows.append(obs[xy] - env.unwrapped.physics.block_pos()[:2])
            out.append(rows)
        env.close()
        return out

    offset = deltas("offset")
    for rows in offset:
        for d in rows:
            assert np.linalg.norm(d) == pytest.approx(0.04, abs=1e-5)
            np.testing.assert_allclose(d, rows[0], atol=1e-6)  # held for the episode
    assert not np.allclose(offset[0][0], offset[1][0])  # a new direction next episode
    jitter = deltas("jitter")[0]
    assert not np.allclose(jitter[0], jitter[1])
    with pytest.raises(ValueError, match="mode"):
        noise.misread_cube(None, 1.0, "bias", 0)


def test_perception_error_splits_into_a_bias_held_per_episode_and_what_varies_within_it(monkeypatch):
    """``franka_perception.xy_errors_cm`` with ``episodes``: a constant offset per episode is all bias, zero-mean
    noise within episodes all residual, and the squares of the two add up to the error's."""
    import numpy as np

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("perception_probe", ROOT / "benchmarks" / "franka_perception.py")
    fp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fp)
    rng = np.random.default_rng(0)
    true = rng.normal(0.5, 0.1, (3 * 40, 5))  # 3 episodes of 40 frames: cube xy, tip xyz (m)
    offset = np.repeat(np.array([[0.03, 0.0], [0.0, -0.03], [-0.03, 0.0]]), 40, 0)  # 3 cm, held per episode
    pred = true.copy()
    pred[:, :2] += offset
    out = fp.xy_errors_cm(pred, true, episodes=3)
    assert out["cube_xy_error_cm"] == out["cube_xy_bias_cm"] == 3.0 and out["cube_xy_resid_cm"] == 0.0
    assert out["tip_xy_error_cm"] == 0.0 and "cube_xy_bias_cm" not in fp.xy_errors_cm(pred, true)
    noise = rng.normal(0, 0.02, (3, 40, 2))
    pred[:, :2] = true[:, :2] + offset + (noise - noise.mean(1, keepdims=True)).reshape(-1, 2)
    out = fp.xy_errors_cm(pred, true, episodes=3)
    assert out["cube_xy_bias_cm"] == 3.0 and 2.0 < out["cube_xy_resid_cm"] < 3.5
    assert abs(out["cube_xy_error_cm"] ** 2 - out["cube_xy_bias_cm"] ** 2 - out["cube_xy_resid_cm"] ** 2) < 0.1


def test_rerendered_teacher_draws_d_again_without_the_camera_jitter_with_wide_textures_or_held_looks(
    tmp_path, monkeypatch
):
    """``franka_distill_probe.rerendered_teacher``: the copy's episodes keep every array but the images, which are
    drawn anew from the states (the frames of the scene each state describes, not noise); the source is untouched;
    ``DONE`` comes last and a finished copy is not drawn again."""
    import json

    import gymnasium as gym
    import numpy as np

    from twist_agents.data import EpisodeStore

    probe = load_probe(monkeypatch)
    env = gym.make(probe.ENV, obs_mode="paired", randomization="none")
    obs, _ = env.reset(seed=0)
    states, plain = [obs["state"]], obs["pixels"]  # plain: the first frame, unrandomised
    for _ in range(4):
        states.append(env.step(env.unwrapped.expert_action())[0]["state"])
    env.close()
    n = len(states)
    source = tmp_path / "teacher140m_s0"
    store = EpisodeStore(source / "teacher" / "episodes")
    noise = np.random.default_rng(0).integers(0, 256, (n, 64, 64, 3), dtype=np.uint8)
    episode = {
        "state": np.stack(states),
        "pixels": noise,
        "action": np.ones((n, 3), np.float32),
        "reward": np.arange(n, dtype=np.float32),
        "is_first": np.arange(n) == 0,
        "is_last": np.arange(n) == n - 1,
        "is_terminal": np.zeros(n, bool),
    }
    store.add(episode)
    (source / "teacher" / "config.json").write_text("{}")
    (source / "teacher" / "DONE").write_text("teacher finished\n")
    (source / "summary.json").write_text(json.dumps({"teacher_s": 5.0}))
    copy = probe.rerendered_teacher(source, tmp_path / "teacher140m_nocam_s0", seed=0)
    assert (copy / "teacher" / "DONE").exists() and (copy / "teacher" / "config.json").read_text() == "{}"
    assert json.loads((copy / "summary.json").read_text()) == {"teacher_s": 5.0}
    drawn = EpisodeStore(copy / "teacher" / "episodes")
    assert len(drawn) == 1
    new = drawn.load(drawn.paths[0])
    for key in ("state", "action", "reward", "is_first", "is_last", "is_terminal"):
        assert np.array_equal(new[key], episode[key])
    assert new["pixels"].shape == noise.shape and not np.array_equal(new["pixels"], noise)
    # A drawn scene is smooth where noise is not: neighbouring pixels differ far less than in the stored noise.
    smooth = np.abs(np.diff(new["pixels"].astype(int), axis=2)).mean()
    assert smooth < 0.5 * np.abs(np.diff(noise.astype(int), axis=2)).mean()
    # The red goal marker (never randomised) is where the unrandomised frame has it: the camera was not jittered.
    red = (plain[..., 0] > 150) & (plain[..., 1] < 60) & (plain[..., 2] < 60)
    assert red.sum() >= 3 and (new["pixels"][0][red, 0] > 120).mean() > 0.8
    assert np.array_equal(store.load(store.paths[0])["pixels"], noise)  # the source is untouched
    before = drawn.paths[0].stat().st_mtime_ns
    probe.rerendered_teacher(source, tmp_path / "teacher140m_nocam_s0", seed=0)
    assert drawn.paths[0].stat().st_mtime_ns == before
    # Wide textures (a bank of 40): the same states and seed drawn with nine families: other pixels, the goal in place.
    wide = probe.rerendered_teacher(source, tmp_path / "teacher140m_nocam_wide_s0", seed=0, wide_textures=True, bank=40)
    assert "wide textures, 40 training textures per bank" in (wide / "teacher" / "DONE").read_text()
    wide_store = EpisodeStore(wide / "teacher" / "episodes")
    wide_pixels = wide_store.load(wide_store.paths[0])["pixels"]
    assert not np.array_equal(wide_pixels, new["pixels"])
    assert (wide_pixels[0][red, 0] > 120).mean() > 0.8
    # Collage textures: the env's source is the collage set, and the drawn frames differ from the wide ones.
    looks = probe.d_looks(bank=40, collage=True)
    assert looks["train_textures"] == 40 and "collage" in looks["texture_source"].families("train")
    coll = probe.rerendered_teacher(source, tmp_path / "teacher140m_nocam_collage_s0", seed=0, collage=True, bank=40)
    assert "collage textures" in (coll / "teacher" / "DONE").read_text()
    coll_store = EpisodeStore(coll / "teacher" / "episodes")
    assert not np.array_equal(coll_store.load(coll_store.paths[0])["pixels"], wide_pixels)
    # Held for the episode: the appearance stays, so later frames differ from each other far less than when it is
    # redrawn every step (only the arm moves between them).
    held = probe.rerendered_teacher(source, tmp_path / "teacher140m_nocam_held1_s0", seed=0, held_fraction=1.0)
    assert "1 episodes held" in (held / "teacher" / "DONE").read_text()
    held_store = EpisodeStore(held / "teacher" / "episodes")
    held_pixels = held_store.load(held_store.paths[0])["pixels"].astype(int)

    def change(frames):
        return np.abs(np.diff(frames.astype(int), axis=0)).mean()

    assert change(held_pixels) < 0.3 * change(new["pixels"])


def test_looks_swapped_takes_the_held_out_trials_two_differences_from_d_one_at_a_time(monkeypatch):
    """``franka_distill_probe.looks_swapped``: training textures on the held-out schedule, held-out textures on the
    training schedule; the camera jitter stays as the caller's terms have it."""
    import numpy as np

    from twist_envs.franka.sim import franka_terms
    from wrappers.textures import ProceduralTextures

    probe = load_probe(monkeypatch)
    plain = ProceduralTextures()
    assert np.array_equal(probe.SwappedSplit("train").texture("test", 3, (16, 16)), plain.texture("train", 3, (16, 16)))
    assert np.array_equal(probe.SwappedSplit("test").texture("train", 5, (16, 16)), plain.texture("test", 5, (16, 16)))
    calls = []
    monkeypatch.setattr(probe, "heldout_success", lambda agent, split, **kw: calls.append((split, kw)) or {"ok": 1})
    for terms, jitter in ((None, True), (franka_terms(camera_jitter=False), False)):
        calls.clear()
        out = probe.looks_swapped("agent", **({} if terms is None else {"terms": terms}))
        assert list(out) == ["train_families_once_per_episode", "test_families_every_step"]
        assert [(split, kw["texture_source"].looks) for split, kw in calls] == [("test", "train"), ("train", "test")]
        for _, kw in calls:
            assert any(t.name == "camera_pose" for t in kw["terms"]) == jitter


def test_held_parts_hold_textures_or_colours_and_light_or_all_on_ds_own_looks(monkeypatch):
    """``franka_distill_probe.held_parts``: on the train split with D's looks, each case holds exactly its parts for
    the episode (``when="reset"``) and leaves the rest as D drew them."""
    probe = load_probe(monkeypatch)
    calls = {}
    monkeypatch.setattr(probe, "heldout_success", lambda agent, split, **kw: calls.setdefault(len(calls), (split, kw)))
    out = probe.held_parts("agent", camera_jitter=True, train_textures=64)
    assert list(out) == ["own_every_step", "textures_held", "colours_light_held", "all_held"]
    held = []
    for split, kw in calls.values():
        assert split == "train" and kw["train_textures"] == 64
        assert any(t.name == "camera_pose" for t in kw["terms"])  # the caller's jitter stays
        held.append({t.name for t in kw["terms"] if t.when == "reset"} - {"friction", "body_mass", "camera_pose"})
    appearance = {"light_brightness", "background", "floor_texture", "material_colors"}
    assert held == [set(), {"background", "floor_texture"}, {"light_brightness", "material_colors"}, appearance]


def test_heldout_success_with_more_trials_keeps_each_trial_and_the_default_keeps_two_fields(monkeypatch):
    """``franka_distill_probe.heldout_success(trials=N)``: N episodes from reset seed 50000 (so the first 20 are the
    default's), each trial's success kept; the default entry's shape is unchanged. ``--heldout-trials`` below 20 is
    refused with one line."""
    import types

    import twist_agents.training.evaluate as ev

    probe = load_probe(monkeypatch)

    calls = []

    class Env:
        def close(self):
            calls.append("closed")

    def fake_evaluate(agent, env, keys, episodes, seed, progress):
        calls.append((episodes, seed))
        return types.SimpleNamespace(successes=[i % 4 == 0 for i in range(episodes)], returns=[1.0] * episodes)

    monkeypatch.setattr(ev, "make_eval_env", lambda *a, **kw: Env())
    monkeypatch.setattr(ev, "evaluate", fake_evaluate)
    assert probe.heldout_success("agent") == {"success": 0.25, "mean_return": 1.0}
    more = probe.heldout_success("agent", trials=100)
    assert calls == [(20, 50_000), "closed", (100, 50_000), "closed"]
    assert more["trials"] == 100 and more["success"] == 0.25 and more["successes"][:5] == [1, 0, 0, 0, 1]
    monkeypatch.setattr("sys.argv", ["franka_distill_probe.py", "--heldout-trials", "10"])
    with pytest.raises(SystemExit, match="--heldout-trials must be >= 20, got 10"):
        probe.main()


def test_head_cube_hands_the_teacher_the_heads_cube_and_the_rest_of_the_true_state(monkeypatch):
    """``franka_distill_probe.HeadCube``: the teacher acts on the true state with only ``block_pos`` replaced by
    the student's ``state_aux`` head (in metres, through its standardiser); ``replace=False`` passes the state
    untouched; the head's error is kept per step. ``head_cube_success`` runs both on the same trials, and a student
    whose head does not read the cube is refused."""
    import numpy as np
    import torch

    from twist_agents.dreamer.agent import DreamerAgent
    from twist_agents.dreamer.config import dreamer_config
    from twist_agents.training.envs import make_env
    from twist_agents.twist.agent import TwistAgent
    from twist_agents.twist.config import distill_config
    from twist_envs.franka.sim import STATE_SLICES

    probe = load_probe(monkeypatch)
    env = make_env(probe.ENV, 0, obs_mode="paired", randomization="none", max_episode_steps=3)
    obs, _ = env.reset(seed=3)
    shapes = {k: env.observation_space[k].shape for k in ("state", "pixels")}
    teacher = DreamerAgent(dreamer_config("debug"), shapes, env.action_space, seed=0)
    env.close()
    cfg = distill_config("debug", state_aux=1.0, state_aux_dims=probe.POSITIONS)
    agent = TwistAgent(teacher, {"pixels": shapes["pixels"]}, cfg, seed=0)
    # A head that always answers the standardiser's mean: the read-out is that mean, whatever the frame.
    mean = np.array([0.1, 0.2, 0.3, 0.45, -0.05, 0.02], np.float32)  # ee_pos, then block_pos (m)
    agent.student.state_aux_norm.update(torch.as_tensor(mean[None] + np.array([[0.0], [0.0]], np.float32)))
    with torch.no_grad():
        agent.student.state_head.weight.zero_()
        agent.student.state_head.bias.zero_()
    read = agent.student.state_aux_norm.inverse(torch.zeros(1, 6))[0].numpy()
    seen = []
    monkeypatch.setattr(teacher, "act", lambda o, s, e: (seen.append(o["state"].copy()), (np.zeros(4), "h"))[1])
    block = STATE_SLICES["block_pos"]
    for replace in (True, False):
        policy = probe.HeadCube(agent, replace=replace)
        assert policy.act(obs, None, False)[1] == "h"
        policy.act(obs, "h", False)
        expect = obs["state"].copy()
        if replace:
            expect[block] = read[3:]
        np.testing.assert_allclose(seen[-1], expect, atol=1e-6)
        assert policy.starts == [0] and len(policy.errors) == 2
        np.testing.assert_allclose(policy.errors[0], read[3:] - obs["state"][block], atol=1e-6)
        goal = obs["state"][STATE_SLICES["goal_pos"]]
        assert policy.goal_dists[0] == pytest.approx(float(np.hypot(*(obs["state"][block][:2] - goal[:2]))))
    monkeypatch.undo()  # the real teacher again, for the end-to-end call
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    out = probe.head_cube_success(agent, trials=2, max_episode_steps=3)
    assert out["trials"] == 2 and out["split"] == "test"
    for name in ("teacher_true_state", "teacher_cube_from_head"):
        assert len(out[name]["successes"]) == 2
        # A constant read-out of a cube that does not move in 3 steps: the error is its bias.
        assert out[name]["head_cube_xy_error_cm"] == pytest.approx(out[name]["head_cube_xy_bias_cm"], rel=0.05)
        assert len(out[name]["head_cube_xy_bias_episodes_cm"]) == 2
        # Every step lies on one side of NEAR_GOAL: the split's two parts recompose the whole error.
        near, away, share = (
            out[name][k] for k in ("head_cube_xy_error_near_goal_cm", "head_cube_xy_error_away_cm", "near_goal_steps")
        )
        whole = np.sqrt(share * (near or 0.0) ** 2 + (1 - share) * (away or 0.0) ** 2)
        assert whole == pytest.approx(out[name]["head_cube_xy_error_cm"], rel=0.02)
    tip_only = distill_config("debug", state_aux=1.0, state_aux_dims=probe.POSITIONS[:3])
    with pytest.raises(ValueError, match="does not read the cube's position"):
        probe.HeadCube(TwistAgent(teacher, {"pixels": shapes["pixels"]}, tip_only, seed=0))


def test_a_probe_student_made_deployable_runs_through_the_real_env_path(tmp_path, monkeypatch):
    """``franka_distill_probe.make_deployable``: the probe's run directory gains the grid run's ``run.json`` keys, so
    ``twist eval --env TWIST/BlockPush-Real-v0`` loads its own student (sim twins here); ``real_path_entry`` asks for
    the path with and without the real-run view jitter; ``write_entry(merge=True)`` keeps the entry's other fields."""
    import json

    import numpy as np

    from twist_agents.runner.runs import eval_run, load_run_agent
    from twist_agents.twist.agent import TwistAgent
    from twist_agents.twist.config import distill_config

    probe = load_probe(monkeypatch)
    teacher, shapes = debug_teacher(probe.ENV)
    cfg = distill_config("debug", state_aux=1.0, state_aux_dims=probe.POSITIONS, readout_feed=True)
    source, run = tmp_path / "grid", tmp_path / "probe"
    source.mkdir()
    run.mkdir()
    grid = {"agent": "twist", "env_id": probe.ENV, "preset": "cpu", "seed": 4, "train_s": 9.0, "training": {}}
    (source / "run.json").write_text(json.dumps({**grid, "run_dir": str(source), "max_episode_steps": None}))
    TwistAgent(teacher, {"pixels": shapes["pixels"]}, cfg, seed=0).save(run / "twist_agent.pt")
    probe.make_deployable(run, source, "v_nocam_seed4")
    written = json.loads((run / "run.json").read_text())
    assert written["run_dir"] == str(run) and written["seed"] == 4 and "train_s" not in written
    assert written["written_by"].endswith("v_nocam_seed4")
    agent, keys = load_run_agent(run)
    assert keys == ("pixels",) and agent.config.readout_feed  # its own config, not the preset's
    res = eval_run(
        run, split=None, episodes=1, seed=0, video_episodes=0, progress=False, max_episode_steps=3,
        env_id="TWIST/BlockPush-Real-v0", env_kwargs="robot=sim,camera=sim",
    )  # fmt: skip
    assert len(res.returns) == 1 and np.isfinite(res.returns).all()

    asked = []

    def fake(run_dir, env_id, trials, env_kwargs, cache):
        asked.append((env_kwargs, cache))
        return {"success": [1.0, 0.0], "returns": [3.0, 1.0], "aborted": [], "wall_s": 2.0}

    import franka_twist

    monkeypatch.setattr(franka_twist, "real_path_success", fake)
    entry = probe.real_path_entry(run, 2)
    assert [a[0] for a in asked] == ["robot=sim,camera=sim", "robot=sim,camera=sim,view_randomization=false"]
    assert len({a[1] for a in asked}) == 2  # cached apart
    (run / "summary.json").write_text(json.dumps({"distill_updates_done": 7}))
    probe.real_path_entry(run, 2)
    assert len({a[1] for a in asked}) == 4  # a student trained on is not read from the earlier cache
    assert entry["real_path"]["success"] == 0.5 and entry["real_path_canonical_view"]["mean_return"] == 2.0
    out = tmp_path / "probe.json"
    probe.write_entry(out, "k", {"heldout": 1})
    probe.write_entry(out, "k", entry, merge=True)
    assert set(json.loads(out.read_text())["runs"]["k"]) == {"heldout", "real_path", "real_path_canonical_view"}
