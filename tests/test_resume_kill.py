"""A Dreamer training run killed with SIGKILL resumes from its checkpoint and loses no stored episode."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from twist_agents.data import EpisodeStore, load_episode
from twist_agents.dreamer import DreamerAgent, dreamer_config
from twist_agents.training.checkpoints import latest_checkpoint
from twist_agents.training.loop import LOOP_PRESETS, train

torch.set_num_threads(1)  # 2 shared cores: intra-op threads only add contention
ENV_ID = "TWIST/CartpoleBalance-Distracting-v0"
EPISODE = 50  # env steps per episode (max_episode_steps)


def _cli(run_dir: Path, steps: int) -> list[str]:
    # The real entry point of `twist train`; resuming is its default when a checkpoint exists.
    return [
        sys.executable,
        "-m",
        "twist_agents.runner.cli",
        "train",
        "--agent",
        "oracle",
        "--env",
        ENV_ID,
        "--preset",
        "debug",
        "--steps",
        str(steps),
        "--max-episode-steps",
        str(EPISODE),
        "--run-dir",
        str(run_dir),
    ]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_sigkill_then_resume_keeps_every_episode_and_continues_counters(tmp_path):
    run_dir = tmp_path / "run"
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "OMP_NUM_THREADS": "1"}
    # 16 episodes planned; the runner's debug settings checkpoint at half the budget (step 400).
    proc = subprocess.Popen(_cli(run_dir, 16 * EPISODE), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    episodes_dir = run_dir / "episodes"
    deadline = time.time() + 150
    ckpt = None
    try:
        while time.time() < deadline:
            ckpt = latest_checkpoint(run_dir)
            stored = sorted(episodes_dir.glob("*.npz")) if episodes_dir.exists() else []
            # Kill once a checkpoint exists AND at least one episode was stored after it.
            if ckpt is not None and len(stored) >= int(ckpt.name.split("-")[1]) // EPISODE + 1:
                break
            assert proc.poll() is None, f"training exited early: {proc.stderr.read().decode()[-2000:]}"
            time.sleep(0.1)
        else:
            pytest.fail("no checkpoint + new episode within the deadline")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"

    before = {p.name: _digest(p) for p in episodes_dir.glob("*.npz")}
    ckpt = latest_checkpoint(run_dir)
    assert ckpt is not None
    counters = torch.load(ckpt / "loop.pt", weights_only=False)["counters"]
    assert counters["env_steps"] > 0
    assert len(before) * EPISODE > counters["env_steps"]  # episodes exist beyond the checkpoint

    resumed_steps = (len(before) + 2) * EPISODE
    done = subprocess.run(_cli(run_dir, resumed_steps), env=env, capture_output=True, timeout=150)
    assert done.returncode == 0, done.stderr.decode()[-3000:]

    # Every episode present before the kill is still there, unchanged and loadable.
    for name, digest in before.items():
        path = episodes_dir / name
        assert path.exists(), name
        assert _digest(path) == digest, name
        ep = load_episode(path)
        assert ep["is_first"][0] and ep["is_last"][-1] and len(ep["reward"]) == EPISODE + 1
        assert "pixels" in ep and "state" in ep  # the Oracle's run keeps the paired images
    store = EpisodeStore(episodes_dir)
    assert len(store) == len(before) + 2
    assert not list(episodes_dir.glob(".*.tmp"))
    # Counters continued from the checkpoint and the stored episodes instead of restarting at zero.
    final = latest_checkpoint(run_dir)
    final_counters = torch.load(final / "loop.pt", weights_only=False)["counters"]
    assert final_counters["env_steps"] == resumed_steps == store.num_steps
    assert final_counters["episodes"] == len(before) + 2
    assert final_counters["updates"] > counters["updates"]
    agent = DreamerAgent.from_checkpoint(final / "agent.pt")
    assert agent.updates == final_counters["updates"]


def test_resume_false_refuses_a_used_run_dir_and_resume_without_checkpoint_keeps_episodes(tmp_path):
    import twist_envs  # noqa: F401

    env = gym.make(ENV_ID, obs_mode="state", max_episode_steps=20)
    cfg = dreamer_config("debug")
    loop = dict(steps=40, prefill=40, eval_every=0, checkpoint_every=10_000, progress=False, tensorboard=False)
    import dataclasses

    loop_cfg = dataclasses.replace(LOOP_PRESETS["debug"], **loop)
    agent = DreamerAgent(cfg, env.observation_space, env.action_space)
    summary = train(agent, env, tmp_path, loop_cfg)
    assert summary["env_steps"] == 40 and summary["episodes"] == 2
    with pytest.raises(FileExistsError, match="resume"):
        train(agent, env, tmp_path, loop_cfg)
    # Resuming with more steps continues at step 40 (from the final checkpoint) and adds one episode.
    more = dataclasses.replace(loop_cfg, steps=60)
    summary = train(DreamerAgent(cfg, env.observation_space, env.action_space), env, tmp_path, more, resume=True)
    assert summary["env_steps"] == 60 and summary["episodes"] == 3
    eps = list(EpisodeStore(tmp_path / "episodes"))
    assert [len(e["reward"]) for e in eps] == [21, 21, 21]
    assert all(np.abs(e["action"]).max() <= 1.0 for e in eps)
    env.close()
