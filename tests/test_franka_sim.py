"""Franka BlockPush / BlockLift in MuJoCo: API, safety limits, determinism, solvability (issue 5)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import twist_envs  # noqa: F401  (registers the ids)
from twist_envs.franka.scene import DEFAULT_WORKSPACE
from twist_envs.franka.scripted import ScriptedPolicy
from twist_envs.franka.sim import STATE_DIM, STATE_LAYOUT, STATE_SLICES, FrankaSimEnv, readout_from_state
from twist_envs.franka.tasks import (
    BLOCK_SIZE,
    TABLE_HEIGHT,
    BlockLiftTask,
    BlockPushTask,
    TaskReadout,
    make_task,
    scale_action,
)

IDS = {"push": "TWIST/BlockPush-Sim-v0", "lift": "TWIST/BlockLift-Sim-v0"}
TASKS = ("push", "lift")


@pytest.mark.parametrize("task", TASKS)
def test_check_env_and_spaces(task: str) -> None:
    env = gym.make(IDS[task])
    assert env.spec.max_episode_steps == 150
    obs, info = env.reset(seed=0)
    assert obs["state"].shape == (STATE_DIM,) and obs["state"].dtype == np.float32
    assert obs["pixels"].shape == (64, 64, 3) and obs["pixels"].dtype == np.uint8
    assert env.action_space.shape == ((3,) if task == "push" else (4,))
    for key in ("success", "ee_pos", "block_pos", "goal_pos"):
        assert key in info
    env.close()
    check_env(gym.make(IDS[task]).unwrapped, skip_render_check=True)


def _rollout(env: gym.Env, seed: int, actions: np.ndarray) -> list[dict[str, np.ndarray]]:
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for a in actions:
        out.append(env.step(a)[0])
    return out


def test_same_seed_same_trajectory_and_images() -> None:
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (6, 4)).astype(np.float32)
    a, b = (gym.make(IDS["lift"], randomization="train") for _ in range(2))
    ra, rb = _rollout(a, 7, actions), _rollout(b, 7, actions)
    for oa, ob in zip(ra, rb, strict=True):
        np.testing.assert_array_equal(oa["state"], ob["state"])
        np.testing.assert_array_equal(oa["pixels"], ob["pixels"])
    # A different seed changes the scene (block/goal placement and appearance).
    rc = _rollout(a, 8, actions)
    assert not np.array_equal(rc[0]["state"], ra[0]["state"])
    assert not np.array_equal(rc[0]["pixels"], ra[0]["pixels"])
    # Training randomisation changes the appearance between steps.
    assert not np.array_equal(ra[1]["pixels"], ra[2]["pixels"])
    a.close(), b.close()


def _scripted_successes(task: str, seeds: range) -> list[bool]:
    env = gym.make(IDS[task], obs_mode="state", randomization="train")
    policy = ScriptedPolicy(task)
    results = []
    for seed in seeds:
        obs, info = env.reset(seed=seed)
        policy.reset()
        truncated = False
        while not truncated:
            obs, _, terminated, truncated, info = env.step(policy.act(readout_from_state(obs["state"])))
            assert not terminated
        results.append(bool(info["success"]))  # judged at the end of the episode, as in the paper
    env.close()
    return results


@pytest.mark.parametrize("task", TASKS)
def test_scripted_controller_solves_task(task: str) -> None:
    results = _scripted_successes(task, range(10))
    assert sum(results) >= 8, f"scripted {task} succeeded on {sum(results)}/10 seeds"


@pytest.mark.parametrize("task", TASKS)
def test_random_policy_mostly_fails(task: str) -> None:
    env = gym.make(IDS[task], obs_mode="state", randomization="train")
    env.action_space.seed(0)
    wins = 0
    for seed in range(5):
        env.reset(seed=100 + seed)
        truncated = False
        while not truncated:
            _, _, _, truncated, info = env.step(env.action_space.sample())
        wins += bool(info["success"])
    env.close()
    assert wins <= 1, f"a random policy solved {task} on {wins}/5 seeds"


@pytest.mark.parametrize("task", TASKS)
def test_extreme_actions_respect_step_limit_and_workspace(task: str) -> None:
    env = gym.make(IDS[task], obs_mode="state", randomization="train", max_episode_steps=120)
    rng = np.random.default_rng(1)
    _, info = env.reset(seed=3)
    prev = info["ee_pos"]
    ws = DEFAULT_WORKSPACE
    worst = 0.0
    for t in range(120):
        # Saturated +-1 actions, and far-out-of-range ones every other step (the env must clip them).
        a = np.sign(rng.uniform(-1, 1, env.action_space.shape)) * (1.0 if t % 2 else 50.0)
        _, _, _, _, info = env.step(a.astype(np.float32))
        ee = info["ee_pos"]
        worst = max(worst, float(np.max(np.abs(ee - prev))))
        assert ws.contains(ee, tol=0.003), f"EE {ee} left the workspace {ws}"
        prev = ee
    assert worst <= 0.0205, f"EE moved {worst * 100:.2f} cm on one axis in one step"
    assert worst > 0.015  # the arm really moves at full speed
    env.close()


@pytest.mark.parametrize("bad", [np.array([np.nan, 0.0, 0.0]), np.array([0.0, np.inf, 0.0]), np.zeros(4)])
def test_bad_action_raises_and_does_not_move(bad: np.ndarray) -> None:
    env = gym.make(IDS["push"], obs_mode="state", randomization="none")
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="action"):
        env.step(bad.astype(np.float32))
    np.testing.assert_array_equal(env.unwrapped.state(), obs["state"])
    env.close()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"obs_mode": "rgb"}, "obs_mode"),
        ({"randomization": "always"}, "randomization"),
        ({"image_size": 0}, "image_size"),
        ({"camera": (1.0, 0.0, 1.0)}, "camera"),
        ({"render_mode": "ansi"}, "render_mode"),
        ({"task": "stack"}, "task"),
        ({"train_textures": 0}, "train_textures"),
        ({"train_textures": 2.5}, "train_textures"),
    ],
)
def test_bad_kwargs_name_the_parameter(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        FrankaSimEnv(**kwargs)


def test_obs_modes() -> None:
    env = gym.make(IDS["push"], obs_mode="pixels", image_size=48)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"pixels"} and obs["pixels"].shape == (48, 48, 3)
    env.close()
    env = gym.make(IDS["push"], obs_mode="state")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state"}
    env.close()


def test_task_success_and_action_scaling() -> None:
    push, lift = make_task("push"), make_task("lift")
    assert isinstance(push, BlockPushTask) and isinstance(lift, BlockLiftTask)
    goal = np.array([0.5, 0.0, TABLE_HEIGHT])
    block_z = TABLE_HEIGHT + BLOCK_SIZE / 2

    def readout(block: np.ndarray) -> TaskReadout:
        return TaskReadout(np.zeros(3), block, goal, 0.0)

    assert push.success(readout(np.array([0.5, 0.049, block_z])))
    assert not push.success(readout(np.array([0.5, 0.051, block_z])))
    assert lift.success(readout(np.array([0.5, 0.0, block_z + 0.101])))
    assert not lift.success(readout(np.array([0.5, 0.0, block_z + 0.099])))
    # Dense rewards grow towards the goal.
    assert push.reward(readout(np.array([0.5, 0.02, block_z]))) > push.reward(readout(np.array([0.5, 0.2, block_z])))
    delta, grip = scale_action(np.array([3.0, -0.5, 1.0]), push)
    np.testing.assert_allclose(delta, [0.02, -0.01, 0.02])
    assert grip is None
    _, grip = scale_action(np.array([0.0, 0.0, 0.0, -1.0]), lift)
    assert grip == pytest.approx(0.08)
    with pytest.raises(ValueError, match="make_task|task"):
        make_task("stack")
    rng = np.random.default_rng(0)
    for _ in range(20):
        b, g = push.sample_initial(rng)
        assert np.linalg.norm(b - g) >= push.min_goal_distance


def test_push_reward_pulls_the_peg_behind_the_cube_from_where_it_starts() -> None:
    """The shaped reward must change noticeably per 2 cm step at the start distance (19-25 cm), favour the side
    of the cube a push towards the goal starts from, and the way there over the cube."""
    push = make_task("push")
    z = TABLE_HEIGHT + BLOCK_SIZE / 2
    block, goal = np.array([0.5, 0.0, z]), np.array([0.65, 0.0, TABLE_HEIGHT])
    start = push.push_start(TaskReadout(np.zeros(3), block, goal, 0.0))
    np.testing.assert_allclose(start, [0.5 - push.push_standoff, 0.0, z])

    def reward(ee: np.ndarray) -> float:
        return push.reward(TaskReadout(ee, block, goal, 0.0))

    for dist in (0.19, 0.25):  # a 2 cm step towards the push start, from straight above it
        far, near = start + [0, 0, dist], start + [0, 0, dist - 0.02]
        assert reward(near) - reward(far) > 0.005, dist
    # Behind the cube (away from the goal) pays more than the same distance on the goal side.
    assert reward(start) > reward(block + [push.push_standoff, 0, 0])
    # Beyond the cube the peg is paid to rise and come over it, not to sweep through it at its height.
    goal_side = block + [push.push_standoff, 0, 0]
    assert reward(goal_side + [0, 0, push.approach_clearance]) > reward(goal_side)
    # With the cube on the goal the reward is at its top wherever the peg is.
    for ee in (start, goal + [0.1, 0.1, 0.1]):
        on_goal = TaskReadout(ee, np.array([0.65, 0.0, z]), goal, 0.0)
        assert push.success(on_goal) and push.reward(on_goal) == pytest.approx(1.0, abs=1e-9)


def test_test_split_uses_held_out_textures_once_per_episode() -> None:
    import mujoco

    rgb = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
    env = FrankaSimEnv("push", obs_mode="pixels", randomization="test")
    model, banks = env.physics.model, env.mujoco_scene.banks
    table = model.material("table").id
    env.reset(seed=0)
    texid, colors = int(model.mat_texid[table, rgb]), model.mat_rgba.copy()
    assert texid in banks["floor"].ids["test"] and texid not in banks["floor"].ids["train"]
    for _ in range(3):
        env.step(np.zeros(3, np.float32))
        assert int(model.mat_texid[table, rgb]) == texid  # no per-step randomisation at test time
        np.testing.assert_array_equal(model.mat_rgba, colors)
    env.close()
    train = FrankaSimEnv("push", obs_mode="pixels", randomization="train")
    train.reset(seed=0)
    train.step(np.zeros(3, np.float32))
    assert int(train.physics.model.mat_texid[table, rgb]) in banks["floor"].ids["train"]
    train.close()


def test_train_textures_sets_how_many_training_looks_each_bank_holds_and_steps_draw_from_all() -> None:
    import mujoco

    rgb = int(mujoco.mjtTextureRole.mjTEXROLE_RGB)
    env = FrankaSimEnv("push", obs_mode="pixels", randomization="train", train_textures=64)
    banks, model = env.mujoco_scene.banks, env.physics.model
    assert {name: len(bank.ids["train"]) for name, bank in banks.items()} == {"skybox": 64, "floor": 64}
    assert all(len(bank.ids["test"]) == 12 for bank in banks.values())  # the held-out banks do not change
    table = model.material("table").id
    env.reset(seed=0)
    seen = set()
    for _ in range(60):
        env.step(np.zeros(3, np.float32))
        seen.add(banks["floor"].ids["train"].index(int(model.mat_texid[table, rgb])))
    assert max(seen) >= 32  # beyond the default bank's 32
    env.close()


def test_hardware_doc_states_the_sim_cameras_pose():
    """docs/hardware.md tells a robot owner where to mount the camera: its numbers must be DEFAULT_CAMERA's."""
    import re
    from pathlib import Path

    from twist_envs.franka.scene import DEFAULT_CAMERA

    doc = (Path(__file__).resolve().parents[1] / "docs" / "hardware.md").read_text()
    m = re.search(r"position \(([^)]*)\) m, looking at \(([^)]*)\) m, vertical field of view\s+([\d.]+) deg", doc)
    assert m is not None, "docs/hardware.md no longer states the camera pose in the expected words"
    pos, lookat = ([float(v) for v in g.split(",")] for g in m.groups()[:2])
    np.testing.assert_allclose(pos, DEFAULT_CAMERA.pos)
    np.testing.assert_allclose(lookat, DEFAULT_CAMERA.lookat)
    assert float(m.group(3)) == DEFAULT_CAMERA.fovy


@pytest.mark.parametrize("task", ["push", "lift"])
def test_expert_action_is_the_scripted_controller_restarted_by_reset(task: str) -> None:
    env = gym.make(f"TWIST/Block{task.capitalize()}-Sim-v0", obs_mode="state", randomization="none")
    policy = ScriptedPolicy(task)
    try:
        for seed in (0, 1):  # the second episode checks that reset restarted the controller's phase
            obs, _ = env.reset(seed=seed)
            policy.reset()
            for _ in range(150):
                expected = policy.act(readout_from_state(obs["state"]))
                action = env.unwrapped.expert_action()
                np.testing.assert_allclose(action, expected, atol=1e-4)  # the state is float32
                obs, _, _, truncated, info = env.step(action)
                if truncated:
                    break
            assert info["success"]
    finally:
        env.close()


def test_loop_prefill_with_the_expert_stores_demonstrations_and_needs_an_expert(tmp_path) -> None:
    import dataclasses

    import torch

    from twist_agents.dreamer import DreamerAgent, dreamer_config
    from twist_agents.training.loop import LOOP_PRESETS, train

    torch.set_num_threads(1)
    env = gym.make("TWIST/BlockPush-Sim-v0", obs_mode="state", randomization="none", max_episode_steps=150)
    cfg = dataclasses.replace(
        LOOP_PRESETS["debug"], steps=300, prefill=300, eval_every=0, progress=False, tensorboard=False
    )
    agent = DreamerAgent(dreamer_config("debug"), env.observation_space, env.action_space)
    try:
        train(agent, env, tmp_path / "random", cfg)
        train(agent, env, tmp_path / "demo", dataclasses.replace(cfg, prefill_expert=1.0, prefill_expert_noise=0.0))

        # The same two reset seeds: the scripted pushes end solved, the random ones do not (judged from the
        # stored state, so the test does not depend on the shaped reward's scale).
        def solved(run: str) -> list[bool]:
            files = sorted((tmp_path / run).glob("episodes/*.npz"))
            return [make_task("push").success(readout_from_state(np.load(f)["state"][-1])) for f in files]

        assert solved("demo") == [True, True] and solved("random") == [False, False]
    finally:
        env.close()

    cartpole = gym.make("TWIST/CartpoleBalance-Distracting-v0", obs_mode="state")
    try:
        with pytest.raises(ValueError, match="needs an env with an expert_action"):
            train(agent, cartpole, tmp_path / "cartpole", dataclasses.replace(cfg, prefill_expert=0.5))
        with pytest.raises(ValueError, match=r"prefill_expert must be a share in \[0, 1\]"):
            train(agent, env, tmp_path / "bad", dataclasses.replace(cfg, prefill_expert=1.5))
    finally:
        cartpole.close()
    assert not (tmp_path / "cartpole").exists() and not (tmp_path / "bad").exists()


def test_contact_force_is_reported_and_a_limit_ends_the_episode_like_the_arms_reflex() -> None:
    """Pressing the peg down onto the block: the sim reports the force the real arm's reflex would react to, and
    ``contact_force_limit`` turns that into the end of the episode (off by default: the paper's task)."""
    forces = {}
    for limit in (None, 30.0):
        env = gym.make(IDS["push"], obs_mode="state", randomization="none", contact_force_limit=limit)
        _, info = env.reset(seed=0)
        physics = env.unwrapped.physics
        assert info["contact_force"] == pytest.approx(0.0, abs=1.0)  # nothing touches the arm at home
        physics.place(physics.ee_pos()[:2], info["goal_pos"][:2])  # the block right under the peg
        seen, terminated = [], False
        while not terminated and len(seen) < 20:
            _, _, terminated, truncated, info = env.step(np.array([0.0, 0.0, -1.0], np.float32))
            seen.append(info["contact_force"])
            assert info["reflex"] == terminated and not truncated
        forces[limit] = seen
        env.close()
    assert len(forces[None]) == 20 and max(forces[None]) > 100  # no limit: the sim lets it press on
    assert len(forces[30.0]) < 20 and forces[30.0][-1] > 30 and max(forces[30.0][:-1]) <= 30
    for bad in (-1.0, 0, float("nan"), True, "30"):
        with pytest.raises(ValueError, match="contact_force_limit"):
            FrankaSimEnv(contact_force_limit=bad)


def test_state_slices_tile_the_state_in_layout_order():
    assert list(STATE_SLICES) == [name for name, _ in STATE_LAYOUT]
    covered = [i for where in STATE_SLICES.values() for i in range(where.start, where.stop)]
    assert covered == list(range(STATE_DIM))
    assert [where.stop - where.start for where in STATE_SLICES.values()] == [n for _, n in STATE_LAYOUT]


def test_render_states_draws_a_stored_episode_again_under_another_randomisation() -> None:
    """``FrankaSimEnv.render_states``: without randomisation it gives back the frames a push episode showed (up to
    one intensity level); in the train split, new appearances every step, the same for the same seed; without the
    camera jitter (``franka_terms(camera_jitter=False)``) the table stays where an unrandomised camera sees it;
    bad input is refused with a message naming it."""
    from twist_envs.franka.sim import franka_terms

    env = gym.make("TWIST/BlockPush-Sim-v0", obs_mode="paired", randomization="none")
    obs, _ = env.reset(seed=3)
    states, frames = [obs["state"]], [obs["pixels"]]
    for _ in range(12):
        obs, *_ = env.step(env.unwrapped.expert_action())
        states.append(obs["state"])
        frames.append(obs["pixels"])
    states_arr = np.stack(states)  # (13, 34)
    again = env.unwrapped.render_states(states_arr, seed=0)
    assert again.shape == (13, 64, 64, 3) and again.dtype == np.uint8
    assert np.abs(again.astype(int) - np.stack(frames).astype(int)).max() <= 1
    with pytest.raises(ValueError, match=r"states must be \(T, 34\)"):
        env.unwrapped.render_states(states_arr[:, :10])
    env.close()

    train = gym.make(
        "TWIST/BlockPush-Sim-v0", obs_mode="paired", randomization="train", terms=franka_terms(camera_jitter=False)
    )
    a = train.unwrapped.render_states(states_arr, seed=1)
    b = train.unwrapped.render_states(states_arr, seed=1)
    c = train.unwrapped.render_states(states_arr, seed=2)
    train.close()
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert all(not np.array_equal(a[t], a[t + 1]) for t in range(len(a) - 1))  # appearance every step
    # The goal marker (red, never randomised) is drawn where the unrandomised frames have it: the camera did not move.
    red = (again[0, ..., 0] > 150) & (again[0, ..., 1] < 60) & (again[0, ..., 2] < 60)
    assert red.sum() >= 3 and (a[0][red, 0] > 120).mean() > 0.8
    state_only = gym.make("TWIST/BlockPush-Sim-v0", obs_mode="state", randomization="none")
    with pytest.raises(ValueError, match="draws no images"):
        state_only.unwrapped.render_states(states_arr)
    state_only.close()
