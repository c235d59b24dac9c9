"""The six Distracting-Control environments: API contract, determinism, splits, randomisation, errors."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import twist_envs
from twist_envs.distracting.env import TASKS, DistractingControlEnv

IDS = twist_envs.DISTRACTING_IDS


@pytest.fixture
def make():
    envs = []

    def _make(env_id="TWIST/CartpoleBalance-Distracting-v0", **kw):
        env = gym.make(env_id, **kw)
        envs.append(env)
        return env

    yield _make
    for e in envs:
        e.close()


@pytest.mark.parametrize("env_id", IDS)
def test_check_env_and_paired_obs(env_id, make):
    env = make(env_id)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state", "pixels"}
    assert obs["pixels"].shape == (64, 64, 3) and obs["pixels"].dtype == np.uint8
    assert obs["state"].dtype == np.float32 and obs["state"].ndim == 1
    assert env.spec.max_episode_steps == 500
    check_env(env.unwrapped, skip_render_check=True)


def test_every_table_one_task_is_registered():
    assert sorted(t.split("/")[1].split("-")[0] for t in IDS) == sorted(TASKS)


@pytest.mark.parametrize("env_id", ["TWIST/CartpoleBalance-Distracting-v0", "TWIST/WalkerWalk-Distracting-v0"])
def test_same_seed_same_trajectory_and_images(env_id, make):
    a, b = make(env_id), make(env_id)
    actions = np.random.default_rng(0).uniform(-1, 1, (10,) + a.action_space.shape).astype(np.float32)
    oa, _ = a.reset(seed=7)
    ob, _ = b.reset(seed=7)
    for act in actions:
        assert np.array_equal(oa["pixels"], ob["pixels"]) and np.array_equal(oa["state"], ob["state"])
        oa, *_ = a.step(act)
        ob, *_ = b.step(act)
    oc, _ = a.reset(seed=8)
    assert not np.array_equal(oc["pixels"], make(env_id).reset(seed=7)[0]["pixels"])


def _split_texture_hashes(env, split):
    m = env.unwrapped.physics.model.ptr
    out = set()
    for bank in env.unwrapped.mujoco_scene.banks.values():
        for tid in bank.ids[split]:
            adr, n = m.tex_adr[tid], m.tex_width[tid] * m.tex_height[tid] * m.tex_nchannel[tid]
            out.add(hash(m.tex_data[adr : adr + n].tobytes()))
    return out


def test_held_out_split_never_reuses_a_training_texture(make):
    env = make()
    train, test = _split_texture_hashes(env, "train"), _split_texture_hashes(env, "test")
    assert len(train) == 2 * 48 and len(test) == 2 * 16  # all distinct within each split
    assert train.isdisjoint(test)


def test_test_split_only_shows_held_out_backgrounds_and_is_fixed_within_an_episode(make):
    env = make(randomization="test")
    scene = env.unwrapped.mujoco_scene
    test_ids = set(scene.banks["skybox"].ids["test"]) | set(scene.banks["floor"].ids["test"])
    for seed in range(5):
        env.reset(seed=seed)
        shown = scene._skybox
        floor = int(scene.model.mat_texid[scene.ids(__import__("mujoco").mjtObj.mjOBJ_MATERIAL, ["grid"])[0], 1])
        assert shown in test_ids and floor in test_ids
        o1, *_ = env.step(env.action_space.sample())
        assert scene._skybox == shown  # once per episode only (the paper's evaluation protocol)


def test_train_split_changes_appearance_every_step_without_changing_dynamics(make):
    dr, plain = make(randomization="train"), make(randomization="none")
    od, _ = dr.reset(seed=3)
    op, _ = plain.reset(seed=3)
    act = np.full(dr.action_space.shape, 0.3, np.float32)
    frames = [od["pixels"]]
    for _ in range(8):
        od, rd, *_ = dr.step(act)
        op, rp, *_ = plain.step(act)
        # Appearance terms must not touch the physics: identical state and reward with and without DR.
        assert np.array_equal(od["state"], op["state"]) and rd == rp
        frames.append(od["pixels"])
    changed = [not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False)]
    assert all(changed)
    assert not np.array_equal(frames[-1], op["pixels"])  # and it really differs from the plain scene


def test_obs_modes_and_image_size(make):
    s = make(obs_mode="state").reset(seed=0)[0]
    p = make(obs_mode="pixels", image_size=32).reset(seed=0)[0]
    assert set(s) == {"state"} and set(p) == {"pixels"} and p["pixels"].shape == (32, 32, 3)


def test_action_repeat_sums_rewards(make):
    one, two = make(action_repeat=1), make(action_repeat=2)
    one.reset(seed=1), two.reset(seed=1)
    a = np.zeros(one.action_space.shape, np.float32)
    r1 = one.step(a)[1] + one.step(a)[1]
    assert two.step(a)[1] == pytest.approx(r1, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(obs_mode="rgb"), "obs_mode"),
        (dict(image_size=0), "image_size"),
        (dict(randomization="sometimes"), "randomization"),
        (dict(action_repeat=0), "action_repeat"),
        (dict(camera=99), "camera"),
        (dict(colour="red"), "colour"),
    ],
)
def test_bad_kwargs_name_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        gym.make("TWIST/CartpoleBalance-Distracting-v0", **kwargs)


def test_unknown_task_names_the_task():
    with pytest.raises(ValueError, match="task"):
        DistractingControlEnv(task="CartpoleSwingupSparse")


@pytest.mark.parametrize(
    "bad", [np.array([np.nan], np.float32), np.array([np.inf], np.float32), np.zeros(3, np.float32)]
)
def test_bad_actions_are_refused_before_any_physics(bad, make):
    env = make()
    env.reset(seed=0)
    t0 = env.unwrapped.physics.data.time
    with pytest.raises(ValueError, match="action"):
        env.step(bad)
    assert env.unwrapped.physics.data.time == t0


@pytest.mark.parametrize("release", ["close", "drop"])
def test_closing_or_dropping_one_env_leaves_another_envs_frames_intact(release, make):
    """mujoco.Renderer.close frees GL objects in the *current* context: done naively, releasing env A after
    env B has rendered deleted B's textures and framebuffer (black or garbage frames from then on)."""
    ref = make(randomization="none", obs_mode="pixels")
    expected = [ref.reset(seed=3)[0]] + [ref.step(np.zeros(1, np.float32))[0] for _ in range(5)]
    a = gym.make("TWIST/CartpoleBalance-Distracting-v0", obs_mode="pixels")
    a.reset(seed=0)
    b = make(randomization="none", obs_mode="pixels")
    frames = [b.reset(seed=3)[0]]  # B's context is now the current one
    if release == "close":
        a.close()
    del a  # "drop": the env is garbage without close(), as after `env = gym.make(...)` twice in a notebook
    frames += [b.step(np.zeros(1, np.float32))[0] for _ in range(5)]
    for got, want in zip(frames, expected, strict=True):
        assert np.array_equal(got["pixels"], want["pixels"])
