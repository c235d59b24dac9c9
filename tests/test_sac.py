"""Asymmetric SAC: the actor reads only pixels, the critics only state; protocol round trips."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces

from twist_agents.protocol import Agent
from twist_agents.sac import AsymmetricSACAgent, sac_preset


class PairedToy(gym.Env):
    """Paired-observation stand-in: state is a random walk, pixels are noise (fast to step)."""

    observation_space = spaces.Dict(
        {
            "state": spaces.Box(-np.inf, np.inf, (4,), np.float32),
            "pixels": spaces.Box(0, 255, (64, 64, 3), np.uint8),
        }
    )
    action_space = spaces.Box(-1, 1, (2,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def _obs(self):
        return {
            "state": self.np_random.normal(size=4).astype(np.float32),
            "pixels": self.np_random.integers(0, 256, (64, 64, 3), dtype=np.uint8),
        }

    def step(self, action):
        self.t += 1
        return self._obs(), float(-np.sum(np.square(action))), False, self.t >= 20, {}


@pytest.fixture(scope="module")
def agent() -> AsymmetricSACAgent:
    torch.set_num_threads(1)
    return AsymmetricSACAgent(PairedToy(), sac_preset("debug"), seed=0)


def _obs_tensors(agent, pixels, state):
    px = agent._pixels_tensor(pixels)  # (B, 3, 64, 64) uint8
    return {"pixels": px, "state": torch.as_tensor(state, dtype=torch.float32)}


def test_is_agent(agent):
    assert isinstance(agent, Agent)


def test_actor_never_reads_state(agent):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    clean = _obs_tensors(agent, pixels, np.zeros((5, 4)))
    poisoned = _obs_tensors(agent, pixels, np.full((5, 4), np.nan))
    with torch.no_grad():
        a_clean = agent.policy.actor(clean, deterministic=True)
        a_poisoned = agent.policy.actor(poisoned, deterministic=True)
        a_absent = agent.policy.actor({"pixels": clean["pixels"]}, deterministic=True)
    assert torch.isfinite(a_poisoned).all()
    torch.testing.assert_close(a_clean, a_poisoned)
    torch.testing.assert_close(a_clean, a_absent)
    # The deployable path: an observation WITHOUT "state" (or with NaN state) acts, identically.
    act_absent, _ = agent.act({"pixels": pixels[0]}, None, explore=False)
    act_nan, _ = agent.act({"pixels": pixels[0], "state": np.full(4, np.nan, np.float32)}, None, False)
    assert np.isfinite(act_absent).all() and act_absent.shape == (2,)
    np.testing.assert_allclose(act_absent, act_nan)
    # No actor parameter is connected to the state input.
    state = clean["state"].clone().requires_grad_(True)
    out = agent.policy.actor({"pixels": clean["pixels"], "state": state}, deterministic=True)
    (grad,) = torch.autograd.grad(out.sum(), state, allow_unused=True)
    assert grad is None


def test_critics_read_state_not_pixels(agent):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    actions = torch.zeros(3, 2)
    base = _obs_tensors(agent, pixels, np.zeros((3, 4)))
    other_state = _obs_tensors(agent, pixels, np.ones((3, 4)))
    other_pixels = _obs_tensors(agent, 255 - pixels, np.zeros((3, 4)))
    with torch.no_grad():
        for critic in (agent.policy.critic, agent.policy.critic_target):
            q = torch.cat(critic(base, actions), dim=1)
            assert not torch.allclose(q, torch.cat(critic(other_state, actions), dim=1))
            torch.testing.assert_close(q, torch.cat(critic(other_pixels, actions), dim=1))
            with pytest.raises(KeyError):
                critic({"pixels": base["pixels"]}, actions)


def test_update_on_stored_sequences_and_save_load(agent, tmp_path):
    rng = np.random.default_rng(2)
    b, t = 3, 6
    batch = {
        "pixels": rng.integers(0, 256, (b, t, 64, 64, 3), dtype=np.uint8),
        "state": rng.normal(size=(b, t, 4)).astype(np.float32),
        "action": rng.uniform(-1, 1, (b, t, 2)).astype(np.float32),
        "reward": rng.normal(size=(b, t)).astype(np.float32),
        "is_first": np.zeros((b, t), bool),
        "is_terminal": np.zeros((b, t), bool),
    }
    batch["is_first"][:, 0] = True
    before = [p.detach().clone() for p in agent.policy.critic.parameters()]
    metrics = agent.update(batch)
    assert {"actor_loss", "critic_loss", "ent_coef"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    assert any(not torch.equal(p0, p1) for p0, p1 in zip(before, agent.policy.critic.parameters(), strict=True))

    obs = {"pixels": batch["pixels"][0, 0]}
    expected, _ = agent.act(obs, None, explore=False)
    agent.save(tmp_path / "sac.zip")
    fresh = AsymmetricSACAgent(PairedToy(), sac_preset("debug"), seed=1)
    assert not np.allclose(fresh.act(obs, None, False)[0], expected)
    fresh.load(tmp_path / "sac.zip")
    np.testing.assert_allclose(fresh.act(obs, None, False)[0], expected, rtol=1e-6)
    deployed = AsymmetricSACAgent.from_file(tmp_path / "sac.zip", sac_preset("debug"))
    np.testing.assert_allclose(deployed.act(obs, None, False)[0], expected, rtol=1e-6)


def test_learn_tiny_budget(tmp_path):
    torch.set_num_threads(1)
    agent = AsymmetricSACAgent(PairedToy(), sac_preset("debug"), seed=0)
    agent.model.learn(total_timesteps=80)
    assert agent.model.num_timesteps == 80
    assert agent.model.replay_buffer.size() == 80
    assert agent.model.replay_buffer.buffer_size == sac_preset("debug").buffer_size


def test_replay_memory_is_bounded_as_documented(agent):
    buf = agent.model.replay_buffer
    cfg = sac_preset("debug")
    assert buf.buffer_size == cfg.buffer_size
    pixel_bytes = buf.observations["pixels"].nbytes + buf.next_observations["pixels"].nbytes
    assert pixel_bytes == cfg.buffer_size * 2 * 64 * 64 * 3
    assert pixel_bytes / 1e6 == pytest.approx(cfg.replay_memory_mb(64))
    assert sac_preset("paper").replay_memory_mb(64) == pytest.approx(2457.6)
