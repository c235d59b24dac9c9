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

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("distill_probe", ROOT / "benchmarks" / "franka_distill_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
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
